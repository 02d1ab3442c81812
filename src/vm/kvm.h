/* SPDX-License-Identifier: MIT */
/*
 * The only code in mica that issues KVM ioctls. Everything else asks this
 * file, so the kernel interface can be read (and audited, and confined by a
 * seccomp filter) in one place.
 */
#ifndef MICA_VM_KVM_H
#define MICA_VM_KVM_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "vm/guest_mem.h"

struct kvm {
	int sys_fd; /* /dev/kvm */
	int vm_fd;
	int vcpu_mmap_size;
};

struct kvm_vcpu_handle {
	int fd;
	struct kvm_run *run; /* shared with the kernel, vcpu_mmap_size bytes */
	int run_size;
};

/*
 * Opens the KVM device (MICA_KVM_DEVICE in the environment, for tests, or
 * /dev/kvm), checks the API version and every capability mica relies on,
 * and creates a VM. On failure prints nothing and returns -errno; *what
 * names what was missing, for the caller's message.
 */
int kvm_open(struct kvm *kvm, const char **what);
void kvm_close(struct kvm *kvm);
const char *kvm_device_path(void);

int kvm_set_memory_region(struct kvm *kvm, uint32_t slot, gpa_t gpa,
			  uint64_t size, void *host);
/* TSS and identity-map pages, in-kernel PIC/IOAPIC/LAPIC and PIT. */
int kvm_create_platform(struct kvm *kvm, gpa_t tss, gpa_t identity_map);
int kvm_irq_line(struct kvm *kvm, unsigned int gsi, bool level);

/* How many GSIs KVM routes (KVM_CAP_IRQ_ROUTING): valid GSIs are below. */
int kvm_gsi_count(struct kvm *kvm);
/*
 * KVM_SET_GSI_ROUTING: replaces the whole routing table (the default
 * irqchip routes included) with entries[0..nr). Returns 0 or -errno.
 */
int kvm_set_gsi_routing(struct kvm *kvm,
			const struct kvm_irq_routing_entry *entries,
			unsigned int nr);
/* KVM_IRQFD: signalling fd injects GSI gsi; assign=false unbinds. */
int kvm_irqfd(struct kvm *kvm, int fd, unsigned int gsi, bool assign);
/*
 * KVM_IOEVENTFD: a guest write of len bytes (0: any width, MMIO only) at
 * addr, in MMIO or (!mmio) port I/O space, signals fd instead of exiting.
 * assign=false removes the same registration.
 */
int kvm_ioeventfd(struct kvm *kvm, bool mmio, uint64_t addr, unsigned int len,
		  int fd, bool assign);

/* CPUID leaves KVM can virtualize on this host. Caller frees. */
int kvm_get_supported_cpuid(struct kvm *kvm, struct kvm_cpuid2 **out);

int kvm_create_vcpu(struct kvm *kvm, unsigned int id,
		    struct kvm_vcpu_handle *vcpu);
void kvm_destroy_vcpu(struct kvm_vcpu_handle *vcpu);
int kvm_vcpu_set_cpuid(struct kvm_vcpu_handle *vcpu,
		       const struct kvm_cpuid2 *cpuid);
int kvm_vcpu_get_regs(struct kvm_vcpu_handle *vcpu, struct kvm_regs *regs);
int kvm_vcpu_set_regs(struct kvm_vcpu_handle *vcpu,
		      const struct kvm_regs *regs);
int kvm_vcpu_get_sregs(struct kvm_vcpu_handle *vcpu, struct kvm_sregs *sregs);
int kvm_vcpu_set_sregs(struct kvm_vcpu_handle *vcpu,
		       const struct kvm_sregs *sregs);
int kvm_vcpu_set_fpu(struct kvm_vcpu_handle *vcpu, const struct kvm_fpu *fpu);
/* Sets nr MSRs; returns 0 only if all were accepted. */
int kvm_vcpu_set_msrs(struct kvm_vcpu_handle *vcpu,
		      const struct kvm_msr_entry *entries, unsigned int nr);
int kvm_vcpu_get_lapic(struct kvm_vcpu_handle *vcpu,
		       struct kvm_lapic_state *lapic);
int kvm_vcpu_set_lapic(struct kvm_vcpu_handle *vcpu,
		       const struct kvm_lapic_state *lapic);
/*
 * KVM_KVMCLOCK_CTRL: tells a paused vCPU's guest (through kvmclock) that
 * the host stopped it. -EINVAL when the guest does not use kvmclock.
 */
int kvm_vcpu_kvmclock_ctrl(struct kvm_vcpu_handle *vcpu);
/* One KVM_RUN. Returns 0, or -errno (-EINTR when kicked by a signal). */
int kvm_vcpu_run(struct kvm_vcpu_handle *vcpu);

#endif
