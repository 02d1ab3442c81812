/* SPDX-License-Identifier: MIT */
/*
 * The CPUID a vCPU sees: KVM_GET_SUPPORTED_CPUID, filtered, with the
 * topology of one socket of N single-threaded cores and the KVM paravirt
 * leaves (kvmclock and friends) kept, so the guest runs as a KVM guest.
 */
#ifndef MICA_ARCH_X86_64_CPUID_H
#define MICA_ARCH_X86_64_CPUID_H

#include <linux/kvm.h>
#include <stdint.h>

/* Entries cpuid_build() may add beyond those KVM reports. */
#define CPUID_EXTRA_ENTRIES 8

/*
 * Writes into out (room for supported->nent + CPUID_EXTRA_ENTRIES entries)
 * the CPUID for vCPU cpu (APIC ID cpu) of nr_cpus. Returns 0 or -EINVAL.
 */
int cpuid_build(const struct kvm_cpuid2 *supported, unsigned int cpu,
		unsigned int nr_cpus, struct kvm_cpuid2 *out);

#endif
