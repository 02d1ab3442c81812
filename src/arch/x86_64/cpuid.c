// SPDX-License-Identifier: MIT
/*
 * CPUID filtering (Intel SDM vol. 2A "CPUID"; AMD APM vol. 3 appendix E;
 * Linux Documentation/virt/kvm/x86/cpuid.rst for the KVM leaves).
 *
 * Topology: one package, nr_cpus cores, one thread per core, APIC ID = cpu
 * index. Leaf 0xB describes it (0x1F is dropped so the guest uses 0xB), as
 * do the legacy fields of leaves 1 and 4 and AMD's 0x80000008/0x8000001E.
 * The architectural PMU (leaf 0xA) is hidden: mica does not manage PMU
 * state across save/restore. Nothing here is guest-controlled.
 */
#include "arch/x86_64/cpuid.h"

#include <errno.h>
#include <string.h>

#define LEAF1_ECX_HYPERVISOR (1u << 31)
#define LEAF1_EDX_HTT (1u << 28)
#define EXT1_ECX_CMP_LEGACY (1u << 1)

static unsigned int order(unsigned int n)
{
	unsigned int s = 0;

	while ((1u << s) < n)
		s++;
	return s;
}

static void set_bits(uint32_t *reg, unsigned int lo, unsigned int width,
		     uint32_t value)
{
	uint32_t mask = (width >= 32 ? ~0u : ((1u << width) - 1)) << lo;

	*reg = (*reg & ~mask) | ((value << lo) & mask);
}

static struct kvm_cpuid_entry2 *add(struct kvm_cpuid2 *out, unsigned int cap,
				    uint32_t function, uint32_t index)
{
	struct kvm_cpuid_entry2 *e;

	if (out->nent >= cap)
		return NULL;
	e = &out->entries[out->nent++];
	memset(e, 0, sizeof(*e));
	e->function = function;
	e->index = index;
	e->flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
	return e;
}

int cpuid_build(const struct kvm_cpuid2 *supported, unsigned int cpu,
		unsigned int nr_cpus, struct kvm_cpuid2 *out)
{
	unsigned int cap = supported->nent + CPUID_EXTRA_ENTRIES;
	uint32_t max_basic = 0;
	unsigned int i, sub, core_shift;

	if (nr_cpus == 0 || nr_cpus > 255 || cpu >= nr_cpus)
		return -EINVAL;
	core_shift = order(nr_cpus); /* only now: order() needs n <= 2^31 */
	out->nent = 0;
	for (i = 0; i < supported->nent; i++) {
		const struct kvm_cpuid_entry2 *in = &supported->entries[i];
		struct kvm_cpuid_entry2 *e;

		if (in->function == 0xb || in->function == 0x1f)
			continue; /* rebuilt below */
		e = &out->entries[out->nent++];
		*e = *in;
		switch (e->function) {
		case 0:
			max_basic = e->eax;
			break;
		case 1:
			set_bits(&e->ebx, 24, 8, cpu); /* initial APIC ID */
			/* 256 does not fit the 8-bit field: saturate. */
			set_bits(&e->ebx, 16, 8,
				 core_shift < 8 ? 1u << core_shift : 0xff);
			set_bits(&e->ebx, 8, 8, 8); /* CLFLUSH: 64 bytes */
			e->ecx |= LEAF1_ECX_HYPERVISOR;
			if (nr_cpus > 1)
				e->edx |= LEAF1_EDX_HTT;
			else
				e->edx &= ~LEAF1_EDX_HTT;
			break;
		case 4:
			if ((e->eax & 0x1f) == 0)
				break; /* no more caches */
			set_bits(&e->eax, 26, 6, (1u << core_shift) - 1);
			/* L3 shared by the package, others per core. */
			set_bits(&e->eax, 14, 12,
				 ((e->eax >> 5) & 7) >= 3 ? nr_cpus - 1 : 0);
			break;
		case 0xa:
			e->eax = e->ebx = e->ecx = e->edx = 0;
			break;
		case 0x80000001:
			if (nr_cpus > 1)
				e->ecx |= EXT1_ECX_CMP_LEGACY;
			else
				e->ecx &= ~EXT1_ECX_CMP_LEGACY;
			break;
		case 0x80000008:
			set_bits(&e->ecx, 0, 8, nr_cpus - 1);
			set_bits(&e->ecx, 12, 4, core_shift);
			break;
		case 0x8000001e:
			e->eax = cpu; /* extended APIC ID */
			e->ebx = cpu & 0xff; /* core ID, 1 thread per core */
			e->ecx = 0; /* node 0, one node per package */
			e->edx = 0;
			break;
		default:
			break;
		}
	}

	if (max_basic >= 0xb) {
		for (sub = 0; sub < 3; sub++) {
			struct kvm_cpuid_entry2 *e = add(out, cap, 0xb, sub);

			if (!e)
				return -EINVAL;
			e->edx = cpu; /* x2APIC ID */
			e->ecx = sub;
			if (sub == 0) { /* SMT level: one thread */
				e->eax = 0;
				e->ebx = 1;
				e->ecx |= 1u << 8;
			} else if (sub == 1) { /* core level */
				e->eax = core_shift;
				e->ebx = nr_cpus;
				e->ecx |= 2u << 8;
			}
		}
	}
	return 0;
}
