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

struct chardev;
struct pci_host;
struct vcpu;

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
	 * MSI routes that devices asked for (device_host msi_route_*), each
	 * on its own GSI from 24 up; committed to KVM together with the
	 * default irqchip routes of GSIs 0-23, since KVM_SET_GSI_ROUTING
	 * replaces the whole table. Under route_lock (a leaf).
	 */
	pthread_mutex_t route_lock;
	struct kvm_irq_routing_entry *msi_routes;
	unsigned int nr_msi_routes, msi_routes_cap;
	unsigned int gsi_count; /* KVM's limit: GSIs below it */

	pthread_mutex_t stop_lock;
	enum vm_stop stop;
	int stop_code;
	atomic_bool stopping;
	int stop_event; /* eventfd, signalled on the first stop request */
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
/* Kicks every vCPU out of the guest and joins its thread. */
void vm_join(struct vm *vm);
void vm_destroy(struct vm *vm);

#endif
