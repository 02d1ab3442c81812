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
