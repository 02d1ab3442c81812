/* SPDX-License-Identifier: MIT */
/*
 * A vCPU and its thread: KVM_RUN, and the exits it hands to the buses.
 */
#ifndef MICA_VM_VCPU_H
#define MICA_VM_VCPU_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "arch/x86_64/boot.h"
#include "vm/kvm.h"

struct vm;

/* The signal that kicks a vCPU thread out of KVM_RUN. */
#define VCPU_KICK_SIGNAL SIGUSR1

/* A snapshot of one vCPU's counters (the control API's stats). */
struct vcpu_stats {
	uint64_t exits; /* KVM_RUN returns with an exit to handle */
	uint64_t io_exits; /* of which port I/O */
	uint64_t mmio_exits; /* of which MMIO */
	uint64_t hlt_exits; /* of which HLT (none with the in-kernel LAPIC) */
	uint64_t cpu_ns; /* CPU time of the vCPU thread */
};

struct vcpu {
	struct vm *vm;
	unsigned int id;
	struct kvm_vcpu_handle kvm;
	pthread_t thread;
	bool running;
	/* Written by the vCPU thread alone (relaxed), read by any. */
	_Atomic uint64_t nr_exits, nr_io_exits, nr_mmio_exits, nr_hlt_exits;
	_Atomic uint64_t cpu_ns_at_end; /* the thread's CPU time as it ended */
	atomic_bool ended;
};

/* Creates the KVM vCPU and sets its CPUID, MSRs, FPU and local APIC. */
int vcpu_init(struct vcpu *vcpu, struct vm *vm, unsigned int id);
/* Puts the boot CPU at the kernel's entry point. */
int vcpu_set_boot_state(struct vcpu *vcpu, const struct boot_entry *entry);
int vcpu_start(struct vcpu *vcpu);
/*
 * Makes the vCPU leave KVM_RUN (immediate_exit and VCPU_KICK_SIGNAL); its
 * thread then stops if the VM is stopping, or parks if it is paused.
 */
void vcpu_kick(struct vcpu *vcpu);
/* Its counters; any thread, while the struct vcpu exists. */
void vcpu_get_stats(struct vcpu *vcpu, struct vcpu_stats *out);
void vcpu_join(struct vcpu *vcpu);
void vcpu_destroy(struct vcpu *vcpu);
/* Installs the (empty) handler for VCPU_KICK_SIGNAL; once per process. */
int vcpu_install_kick_handler(void);

#endif
