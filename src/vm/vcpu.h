/* SPDX-License-Identifier: MIT */
/*
 * A vCPU and its thread: KVM_RUN, and the exits it hands to the buses.
 */
#ifndef MICA_VM_VCPU_H
#define MICA_VM_VCPU_H

#include <pthread.h>
#include <stdbool.h>

#include "arch/x86_64/boot.h"
#include "vm/kvm.h"

struct vm;

/* The signal that kicks a vCPU thread out of KVM_RUN. */
#define VCPU_KICK_SIGNAL SIGUSR1

struct vcpu {
	struct vm *vm;
	unsigned int id;
	struct kvm_vcpu_handle kvm;
	pthread_t thread;
	bool running;
};

/* Creates the KVM vCPU and sets its CPUID, MSRs, FPU and local APIC. */
int vcpu_init(struct vcpu *vcpu, struct vm *vm, unsigned int id);
/* Puts the boot CPU at the kernel's entry point. */
int vcpu_set_boot_state(struct vcpu *vcpu, const struct boot_entry *entry);
int vcpu_start(struct vcpu *vcpu);
void vcpu_kick(struct vcpu *vcpu);
void vcpu_join(struct vcpu *vcpu);
void vcpu_destroy(struct vcpu *vcpu);
/* Installs the (empty) handler for VCPU_KICK_SIGNAL; once per process. */
int vcpu_install_kick_handler(void);

#endif
