/* SPDX-License-Identifier: MIT */
/*
 * One virtual machine: KVM, guest memory, buses, platform devices, vCPUs.
 *
 * Threads: the main thread creates, starts, stops and destroys the VM; each
 * vCPU runs on its own thread (vcpu.c). Any thread may request a stop; the
 * first request wins and the main thread is woken through stop_event.
 */
#ifndef MICA_VM_VM_H
#define MICA_VM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "bus/bus.h"
#include "config/config.h"
#include "vm/guest_mem.h"
#include "vm/kvm.h"
#include "vm/vcpu.h"

struct chardev;
struct pci_host;

enum vm_stop {
	VM_STOP_NONE,
	VM_STOP_POWEROFF, /* the guest powered off */
	VM_STOP_RESET, /* the guest asked for a reset */
	VM_STOP_CRASH, /* triple fault, KVM internal or entry error */
	VM_STOP_DEBUG_EXIT, /* test device; stop_code is the status */
	VM_STOP_HOST_ERROR, /* KVM_RUN failed for a host reason */
	VM_STOP_USER, /* mica was told to stop (escape key, signal) */
};

struct vm {
	const struct vm_config *cfg;
	struct kvm kvm;
	struct guest_mem mem;
	struct bus pio;
	struct bus mmio;
	struct kvm_cpuid2 *supported_cpuid;
	struct vcpu *vcpus;
	unsigned int nr_vcpus; /* created so far */
	void **devices; /* state of each platform device, or NULL */
	struct chardev *console;
	struct pci_host *pci; /* created before the devices, destroyed after */

	/*
	 * The GSI routing table as KVM has it, since KVM_SET_GSI_ROUTING
	 * replaces the whole table: the default irqchip routes of GSIs 0-23
	 * first (added with the first MSI route), then the MSI routes that
	 * devices asked for (device_host msi_route_*), each on its own GSI
	 * from 24 up. Under route_lock (a leaf).
	 */
	pthread_mutex_t route_lock;
	struct kvm_irq_routing_entry *routes;
	unsigned int nr_routes, routes_cap;
	unsigned int gsi_count; /* KVM's limit: GSIs below it */

	pthread_mutex_t stop_lock;
	enum vm_stop stop;
	int stop_code;
	atomic_bool stopping;
	int stop_event; /* eventfd, signalled on the first stop request */

	/*
	 * Pause (vm_pause): vCPU threads park between two KVM_RUNs until
	 * vm_resume() or a stop. paused is read without the lock by vCPU
	 * threads; the counts and the waits are under pause_lock (a leaf).
	 */
	pthread_mutex_t pause_lock;
	pthread_cond_t parked_cond; /* a vCPU parked or ended */
	pthread_cond_t resume_cond; /* resumed, or stopping */
	atomic_bool paused;
	unsigned int nr_parked; /* vCPU threads parked now */
	unsigned int nr_ended; /* vCPU threads that left their loop */
	uint64_t start_ns; /* clock_ns() at vm_start */
};

#define VM_DEV_NAME 24

/* Counters of a running VM, for the control API. */
struct vm_stats {
	unsigned int nr_vcpus;
	struct vcpu_stats vcpus[CONFIG_MAX_CPUS];
	uint64_t rss_bytes; /* of the whole mica process */
	unsigned int nr_disks;
	struct vm_disk_stats {
		char name[VM_DEV_NAME];
		uint64_t read_bytes, write_bytes, read_ops, write_ops, flushes;
	} disks[CONFIG_MAX_DISKS];
	unsigned int nr_nets;
	struct vm_net_stats {
		char name[VM_DEV_NAME];
		uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets, dropped;
	} nets[CONFIG_MAX_NETS];
};

/*
 * Builds the VM from a validated configuration and loads the kernel. On
 * failure returns -errno with a message for the user in err (naming the
 * thing and the reason); vm is then torn down already.
 */
int vm_create(struct vm *vm, const struct vm_config *cfg,
	      struct chardev *console, char *err, size_t errlen);
/* Starts the vCPU threads. */
int vm_start(struct vm *vm, char *err, size_t errlen);
/* From any thread. The first request's reason is kept. */
void vm_request_stop(struct vm *vm, enum vm_stop reason, int code);
/* Kicks every vCPU out of the guest (waking paused ones) and joins it. */
void vm_join(struct vm *vm);

/*
 * The control API's actions, on the main thread while the VM runs.
 * vm_pause() returns once every vCPU thread has left the guest; device I/O
 * threads keep running (requests in flight complete). Both return 0,
 * -EALREADY when the VM is already in that state, or -ESRCH when it is
 * stopping.
 */
int vm_pause(struct vm *vm);
int vm_resume(struct vm *vm);
bool vm_is_paused(struct vm *vm);
/* Presses the ACPI power button (devices/pm.c). 0 or -ENODEV. */
int vm_power_button(struct vm *vm);
/* Nanoseconds since vm_start(). */
uint64_t vm_uptime_ns(struct vm *vm);
void vm_get_stats(struct vm *vm, struct vm_stats *out);
void vm_destroy(struct vm *vm);

#endif
