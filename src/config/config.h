/* SPDX-License-Identifier: MIT */
/*
 * The typed, validated configuration of one VM. Built from the command line
 * (config/cli.c); every field has been checked by the time a VM sees it.
 */
#ifndef MICA_CONFIG_CONFIG_H
#define MICA_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

enum reboot_action {
	REBOOT_RESTART, /* reset the VM and boot the kernel again (default) */
	REBOOT_EXIT, /* exit mica with MICA_EXIT_REBOOT */
};

#define CONFIG_MAX_CPUS 255 /* xAPIC IDs, 8 bits, 0xff is broadcast */
#define CONFIG_MAX_HOST_CPU 1023 /* CPU_SETSIZE - 1 */
#define CONFIG_MIN_MEMORY (16ull << 20)
#define CONFIG_MAX_MEMORY (1ull << 40)

#define CONFIG_MAX_DISKS 16
#define CONFIG_MAX_NETS 8
#define CONFIG_MAX_HOSTFWD 16
#define CONFIG_DISK_SERIAL_MAX 20 /* VIRTIO_BLK_ID_BYTES */

enum disk_cache {
	DISK_CACHE_WRITEBACK, /* host page cache; FLUSH is fdatasync (default) */
	DISK_CACHE_NONE, /* O_DIRECT; FLUSH is still fdatasync */
	DISK_CACHE_UNSAFE, /* host page cache; FLUSH succeeds without a sync */
};

/* --disk path=FILE[,readonly=on][,serial=ID][,cache=MODE][,queues=N] */
#define CONFIG_PATH_MAX 4096
#define CONFIG_IFNAME_MAX 16 /* IFNAMSIZ, with the NUL */

struct disk_config {
	char path[CONFIG_PATH_MAX];
	bool readonly;
	char serial[CONFIG_DISK_SERIAL_MAX + 1]; /* "" if not given */
	enum disk_cache cache;
	unsigned int queues; /* 1..CONFIG_MAX_DISK_QUEUES (default 1) */
};
#define CONFIG_MAX_DISK_QUEUES 16

/* One hostfwd rule: host addr:port -> guest addr:port. */
struct net_hostfwd {
	bool udp;
	uint32_t host_addr; /* IPv4, network byte order; 0: any */
	uint16_t host_port;
	uint32_t guest_addr; /* IPv4, network byte order; 0: the DHCP address */
	uint16_t guest_port;
};

enum net_backend {
	NET_USER, /* libslirp, user-mode networking */
	NET_TAP, /* an existing or new tap device */
};

/*
 * --net user[,hostfwd=tcp::HOSTPORT-:GUESTPORT]...[,mac=MAC]
 * --net tap=NAME[,mac=MAC]
 */
struct net_config {
	enum net_backend backend;
	char tap[CONFIG_IFNAME_MAX]; /* NET_TAP: interface name */
	uint8_t mac[6]; /* always set: given, or derived from the index */
	struct net_hostfwd hostfwd[CONFIG_MAX_HOSTFWD];
	unsigned int nr_hostfwd;
};

enum console_kind {
	CONSOLE_SERIAL, /* the terminal is COM1 (ttyS0), the default */
	CONSOLE_VIRTIO, /* the terminal is virtio-console port 0 (hvc0) */
};

struct vm_config {
	const char *kernel; /* path */
	const char *initrd; /* path or NULL */
	const char *cmdline; /* never NULL */
	unsigned int cpus;
	uint64_t memory; /* bytes, a whole number of MiB */
	enum reboot_action on_reboot;
	/* vCPU i runs on host CPU vcpu_affinity[i % nr_vcpu_affinity]. */
	unsigned short vcpu_affinity[CONFIG_MAX_CPUS];
	unsigned int nr_vcpu_affinity; /* 0: threads float */
	bool debug_exit; /* test-only: port 0xf4 ends mica with a status */

	struct disk_config disks[CONFIG_MAX_DISKS];
	unsigned int nr_disks;
	struct net_config nets[CONFIG_MAX_NETS];
	unsigned int nr_nets;
	enum console_kind console;
	/* virtio-rng: bytes per second the guest may draw; 0: no device. */
	uint64_t rng_rate;
};

/* Exit statuses of "mica run". */
enum mica_exit {
	MICA_EXIT_POWEROFF = 0, /* guest powered off, or the user quit */
	MICA_EXIT_ERROR = 1, /* bad input or host error, message on stderr */
	MICA_EXIT_REBOOT = 2, /* guest rebooted and --on-reboot=exit */
	MICA_EXIT_CRASH = 3, /* triple fault or KVM internal error */
	MICA_EXIT_SIGNAL = 4, /* SIGTERM, SIGINT or SIGHUP */
};

#endif
