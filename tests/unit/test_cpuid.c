// SPDX-License-Identifier: MIT
/*
 * Tests of CPUID filtering (src/arch/x86_64/cpuid.c) on a synthetic
 * KVM_GET_SUPPORTED_CPUID table: for several (cpu, nr_cpus) pairs the
 * topology leaves (1, 4, 0xB, AMD 0x80000008/0x8000001E) must describe one
 * package of nr_cpus single-threaded cores with APIC ID = cpu, consistently
 * across leaves (Intel SDM vol. 2A "CPUID"; AMD APM vol. 3 appendix E); the
 * PMU leaf is hidden, 0x1F dropped, KVM's leaves and everything else kept.
 */
#include "unit/test.h"

#include <errno.h>
#include <stdlib.h>

#include "arch/x86_64/cpuid.h"

#define HYPERVISOR_BIT (1u << 31)
#define HTT_BIT (1u << 28)
#define CMP_LEGACY_BIT (1u << 1)

static struct kvm_cpuid2 *alloc_cpuid(unsigned int nent)
{
	struct kvm_cpuid2 *c =
		calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));

	if (c)
		c->nent = nent;
	return c;
}

static void put(struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx, bool sig,
		uint32_t eax, uint32_t ebx, uint32_t ecx, uint32_t edx)
{
	c->entries[c->nent++] = (struct kvm_cpuid_entry2){
		.function = fn,
		.index = idx,
		.flags = sig ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0,
		.eax = eax,
		.ebx = ebx,
		.ecx = ecx,
		.edx = edx,
	};
}

/* Leaf 4 EAX: type, level, and host sharing fields set to junk. */
static uint32_t cache_eax(unsigned int type, unsigned int level)
{
	return type | level << 5 | 1u << 8 /* self-initialising */ |
	       0x3fu << 26 | 0xfffu << 14;
}

#define EAX1 0x000906eau
#define EBX1 0xaa100842u /* APIC ID 0xaa, 16 IDs, CLFLUSH 8, brand 0x42 */
#define ECX1 0x7ffafbffu /* no hypervisor bit */
#define EDX1 0xbfebfbffu /* HTT set */

/* Something like an Intel host's table, with a few AMD leaves. */
static struct kvm_cpuid2 *host_table(uint32_t max_basic)
{
	struct kvm_cpuid2 *c = alloc_cpuid(40);

	if (!c)
		return NULL;
	c->nent = 0;
	put(c, 0, 0, false, max_basic, 0x756e6547, 0x6c65746e, 0x49656e69);
	put(c, 1, 0, false, EAX1, EBX1, ECX1, EDX1);
	put(c, 4, 0, true, cache_eax(1, 1), 0x01c0003f, 0x3f, 0);
	put(c, 4, 1, true, cache_eax(2, 1), 0x01c0003f, 0x3f, 0);
	put(c, 4, 2, true, cache_eax(3, 2), 0x03c0003f, 0x3ff, 0);
	put(c, 4, 3, true, cache_eax(3, 3) | 1u << 9, 0x03c0003f, 0x3fff, 6);
	put(c, 4, 4, true, 0, 0, 0, 0);
	put(c, 7, 0, true, 0, 0x029c6fbf, 0x40000000, 0xbc000400);
	put(c, 0xa, 0, false, 0x07300404, 0, 0, 0x603);
	put(c, 0xb, 0, true, 1, 2, 0x100, 0x55);
	put(c, 0xb, 1, true, 4, 12, 0x201, 0x55);
	put(c, 0xb, 2, true, 0, 0, 2, 0x55);
	put(c, 0xd, 0, true, 0x7, 0x340, 0x340, 0);
	put(c, 0xd, 1, true, 0xf, 0x340, 0, 0);
	put(c, 0x1f, 0, true, 1, 2, 0x100, 0x55);
	put(c, 0x1f, 1, true, 4, 12, 0x201, 0x55);
	put(c, 0x1f, 2, true, 0, 0, 2, 0x55);
	put(c, 0x40000000, 0, false, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d);
	put(c, 0x40000001, 0, false, 0x01007afb, 0, 0, 0x1);
	put(c, 0x80000000, 0, false, 0x8000001e, 0, 0, 0);
	put(c, 0x80000001, 0, false, 0, 0, 0x00000121 | CMP_LEGACY_BIT,
	    0x2c100800);
	put(c, 0x80000008, 0, false, 0x3030, 0x1000, 0x0003f0ff, 0);
	put(c, 0x8000001e, 0, false, 0xdead, 0xbeef, 0x0305, 0x1234);
	return c;
}

static const struct kvm_cpuid_entry2 *find(const struct kvm_cpuid2 *c,
					   uint32_t fn, uint32_t idx)
{
	unsigned int i;

	for (i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn &&
		    (c->entries[i].index == idx ||
		     !(c->entries[i].flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX)))
			return &c->entries[i];
	return NULL;
}

static unsigned int count(const struct kvm_cpuid2 *c, uint32_t fn)
{
	unsigned int i, n = 0;

	for (i = 0; i < c->nent; i++)
		n += c->entries[i].function == fn;
	return n;
}

static unsigned int order_of(unsigned int n)
{
	unsigned int s = 0;

	while ((1u << s) < n)
		s++;
	return s;
}

static bool same_regs(const struct kvm_cpuid_entry2 *a,
		      const struct kvm_cpuid_entry2 *b)
{
	return a->eax == b->eax && a->ebx == b->ebx && a->ecx == b->ecx &&
	       a->edx == b->edx;
}

/* Builds for (cpu, n) into an exactly sized table and checks it all. */
static void check_topology(int line, unsigned int cpu, unsigned int n)
{
	struct kvm_cpuid2 *in = host_table(0xd), *out;
	const struct kvm_cpuid_entry2 *e, *h;
	unsigned int cap, i, shift = order_of(n);
	int rc;

#define T_FAIL(...) test_fail(__FILE__, line, __VA_ARGS__)
	if (!in)
		return;
	cap = in->nent + CPUID_EXTRA_ENTRIES;
	out = alloc_cpuid(cap);
	if (!out) {
		free(in);
		return;
	}
	rc = cpuid_build(in, cpu, n, out);
	if (rc) {
		T_FAIL("cpu %u of %u: cpuid_build = %d", cpu, n, rc);
		goto out;
	}
	if (out->nent > cap)
		T_FAIL("%u entries, room for %u", out->nent, cap);

	/* Leaf 1: APIC ID, logical count, hypervisor, HTT. */
	e = find(out, 1, 0);
	if (!e) {
		T_FAIL("no leaf 1");
		goto out;
	}
	if (e->ebx >> 24 != cpu)
		T_FAIL("leaf 1 APIC ID %u, want %u", e->ebx >> 24, cpu);
	{
		unsigned int ids = (e->ebx >> 16) & 0xff;

		/* Enough IDs for every CPU, the same order of two. */
		if (ids < n || (ids != 0xff && ids != 1u << shift))
			T_FAIL("leaf 1 EBX[23:16] = %u for %u CPUs", ids, n);
	}
	if ((e->ebx & 0xffff) != (EBX1 & 0xffff))
		T_FAIL("leaf 1 EBX[15:0] 0x%x", e->ebx & 0xffff);
	if (e->eax != EAX1 || e->ecx != (ECX1 | HYPERVISOR_BIT))
		T_FAIL("leaf 1 EAX 0x%x ECX 0x%x", e->eax, e->ecx);
	if (e->edx != (n > 1 ? EDX1 : EDX1 & ~HTT_BIT))
		T_FAIL("leaf 1 EDX 0x%x for %u CPUs", e->edx, n);

	/* Leaf 4: cores per package; L3 shared by all, L1/L2 per core. */
	for (i = 0; i < 5; i++) {
		const struct kvm_cpuid_entry2 *hi = find(in, 4, i);
		unsigned int want_cores = (1u << shift) - 1, sharing;

		e = find(out, 4, i);
		if (!e || !hi || e->index != i) {
			T_FAIL("leaf 4.%u missing", i);
			continue;
		}
		if (!(hi->eax & 0x1f)) {
			if (!same_regs(e, hi))
				T_FAIL("null leaf 4.%u changed", i);
			continue;
		}
		if (want_cores > 63)
			want_cores = 63;
		sharing = ((hi->eax >> 5) & 7) == 3 ? n - 1 : 0;
		if (e->eax >> 26 != want_cores)
			T_FAIL("leaf 4.%u cores-1 = %u, want %u", i,
			       e->eax >> 26, want_cores);
		if (((e->eax >> 14) & 0xfff) != sharing)
			T_FAIL("leaf 4.%u sharing-1 = %u, want %u", i,
			       (e->eax >> 14) & 0xfff, sharing);
		if ((e->eax & 0x3fff) != (hi->eax & 0x3fff) ||
		    e->ebx != hi->ebx || e->ecx != hi->ecx || e->edx != hi->edx)
			T_FAIL("leaf 4.%u cache description changed", i);
	}

	/* Leaf 0xB: SMT then core level, then the terminator. */
	if (count(out, 0x1f))
		T_FAIL("leaf 0x1f not removed");
	if (count(out, 0xb) != 3)
		T_FAIL("%u leaf 0xb entries", count(out, 0xb));
	for (i = 0; i < 3; i++) {
		e = find(out, 0xb, i);
		if (!e || e->index != i) {
			T_FAIL("leaf 0xb.%u missing", i);
			continue;
		}
		if (!(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX))
			T_FAIL("leaf 0xb.%u not indexed", i);
		if (e->edx != cpu)
			T_FAIL("leaf 0xb.%u x2APIC ID %u", i, e->edx);
		if ((e->ecx & 0xff) != i)
			T_FAIL("leaf 0xb.%u ECX[7:0] %u", i, e->ecx & 0xff);
	}
	e = find(out, 0xb, 0);
	if (e && ((e->eax & 0x1f) != 0 || (e->ebx & 0xffff) != 1 ||
		  ((e->ecx >> 8) & 0xff) != 1))
		T_FAIL("leaf 0xb.0 (SMT) eax %u ebx %u type %u", e->eax, e->ebx,
		       (e->ecx >> 8) & 0xff);
	e = find(out, 0xb, 1);
	if (e) {
		unsigned int sh = e->eax & 0x1f;

		if (sh != shift || (e->ebx & 0xffff) != n ||
		    ((e->ecx >> 8) & 0xff) != 2)
			T_FAIL("leaf 0xb.1 (core) shift %u count %u type %u",
			       sh, e->ebx & 0xffff, (e->ecx >> 8) & 0xff);
		/* Every APIC ID is below the shift: all in package 0. */
		if (sh < 32 && (n - 1) >> sh)
			T_FAIL("shift %u too small for %u CPUs", sh, n);
	}
	e = find(out, 0xb, 2);
	if (e && (e->eax || (e->ebx & 0xffff) || ((e->ecx >> 8) & 0xff)))
		T_FAIL("leaf 0xb.2 is not the terminator");

	/* PMU hidden. */
	e = find(out, 0xa, 0);
	if (!e || e->eax || e->ebx || e->ecx || e->edx)
		T_FAIL("leaf 0xa not zeroed");

	/* KVM's leaves and unrelated leaves unchanged. */
	{
		static const uint32_t same[][2] = {
			{ 0, 0 },	   { 7, 0 },	      { 0xd, 0 },
			{ 0xd, 1 },	   { 0x40000000, 0 }, { 0x40000001, 0 },
			{ 0x80000000, 0 },
		};

		for (i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
			e = find(out, same[i][0], same[i][1]);
			h = find(in, same[i][0], same[i][1]);
			if (!e || !h || memcmp(e, h, sizeof(*e)))
				T_FAIL("leaf 0x%x.%u changed", same[i][0],
				       same[i][1]);
		}
	}

	/* AMD: CmpLegacy, core count, extended APIC ID. */
	e = find(out, 0x80000001, 0);
	h = find(in, 0x80000001, 0);
	if (!e || !h ||
	    e->ecx != (n > 1 ? h->ecx | CMP_LEGACY_BIT :
			       h->ecx & ~CMP_LEGACY_BIT) ||
	    e->edx != h->edx)
		T_FAIL("leaf 0x80000001 ECX 0x%x", e ? e->ecx : 0);
	e = find(out, 0x80000008, 0);
	h = find(in, 0x80000008, 0);
	if (!e || !h || (e->ecx & 0xff) != n - 1 ||
	    ((e->ecx >> 12) & 0xf) != shift ||
	    (e->ecx & ~0xf0ffu) != (h->ecx & ~0xf0ffu) || e->eax != h->eax ||
	    e->ebx != h->ebx)
		T_FAIL("leaf 0x80000008 ECX 0x%x", e ? e->ecx : 0);
	e = find(out, 0x8000001e, 0);
	if (!e || e->eax != cpu || (e->ebx & 0xff) != (cpu & 0xff) ||
	    ((e->ebx >> 8) & 0xff) != 0 || (e->ecx & 0x7ff) != 0)
		T_FAIL("leaf 0x8000001e eax 0x%x ebx 0x%x ecx 0x%x",
		       e ? e->eax : 0, e ? e->ebx : 0, e ? e->ecx : 0);

	/* Nothing appears twice. */
	for (i = 0; i < out->nent; i++) {
		unsigned int j;

		for (j = i + 1; j < out->nent; j++)
			if (out->entries[i].function ==
				    out->entries[j].function &&
			    out->entries[i].index == out->entries[j].index)
				T_FAIL("leaf 0x%x.%u twice",
				       out->entries[i].function,
				       out->entries[i].index);
	}
out:
	free(in);
	free(out);
#undef T_FAIL
}

static void one_cpu(void)
{
	check_topology(__LINE__, 0, 1);
}

static void two_cpus(void)
{
	check_topology(__LINE__, 0, 2);
	check_topology(__LINE__, 1, 2);
}

static void odd_counts(void)
{
	check_topology(__LINE__, 0, 3);
	check_topology(__LINE__, 2, 3);
	check_topology(__LINE__, 4, 5);
	check_topology(__LINE__, 6, 7);
	check_topology(__LINE__, 3, 8);
	check_topology(__LINE__, 8, 9);
}

static void large_counts(void)
{
	check_topology(__LINE__, 63, 64);
	check_topology(__LINE__, 64, 65);
	check_topology(__LINE__, 100, 128);
	check_topology(__LINE__, 128, 129);
	check_topology(__LINE__, 0, 255);
	check_topology(__LINE__, 254, 255);
}

static void every_cpu_of_sixteen(void)
{
	unsigned int cpu;

	for (cpu = 0; cpu < 16; cpu++)
		check_topology(__LINE__, cpu, 16);
}

static void bad_arguments(void)
{
	struct kvm_cpuid2 *in = host_table(0xd);
	struct kvm_cpuid2 *out =
		in ? alloc_cpuid(in->nent + CPUID_EXTRA_ENTRIES) : NULL;

	CHECK(in && out);
	if (!in || !out) {
		free(in);
		return;
	}
	CHECK_EQ(cpuid_build(in, 0, 0, out), -EINVAL);
	CHECK_EQ(cpuid_build(in, 1, 1, out), -EINVAL);
	CHECK_EQ(cpuid_build(in, 4, 4, out), -EINVAL);
	CHECK_EQ(cpuid_build(in, 5, 4, out), -EINVAL);
	CHECK_EQ(cpuid_build(in, 0, 256, out), -EINVAL);
	CHECK_EQ(cpuid_build(in, 255, 256, out), -EINVAL);
	CHECK_EQ(cpuid_build(in, 0, UINT32_MAX, out), -EINVAL);
	CHECK_EQ(cpuid_build(in, 255, 255, out), -EINVAL);
	CHECK_EQ(cpuid_build(in, 0, 255, out), 0);
	free(in);
	free(out);
}

static void low_max_leaf_gets_no_leaf_b(void)
{
	struct kvm_cpuid2 *in = host_table(0x7), *out;
	unsigned int i;

	if (!in)
		return;
	/* A host without leaves 0xb and up. */
	for (i = 0; i < in->nent;) {
		uint32_t fn = in->entries[i].function;

		if (fn >= 0xb && fn < 0x40000000) {
			in->entries[i] = in->entries[--in->nent];
			continue;
		}
		i++;
	}
	out = alloc_cpuid(in->nent + CPUID_EXTRA_ENTRIES);
	CHECK(out != NULL);
	if (out) {
		CHECK_EQ(cpuid_build(in, 1, 2, out), 0);
		CHECK_EQ(count(out, 0xb), 0);
		CHECK_EQ(out->nent, in->nent);
		CHECK(find(out, 1, 0) && find(out, 1, 0)->ebx >> 24 == 1);
	}
	free(in);
	free(out);
}

static void minimal_and_full_tables_fit(void)
{
	struct kvm_cpuid2 *in = alloc_cpuid(1), *out;
	unsigned int i;

	if (!in)
		return;
	/* Only leaf 0: the added 0xB entries still fit the promised room. */
	in->nent = 0;
	put(in, 0, 0, false, 0x1f, 0, 0, 0);
	out = alloc_cpuid(in->nent + CPUID_EXTRA_ENTRIES);
	if (out) {
		CHECK_EQ(cpuid_build(in, 3, 4, out), 0);
		CHECK(out->nent <= in->nent + CPUID_EXTRA_ENTRIES);
		CHECK_EQ(count(out, 0xb), 3);
		CHECK(find(out, 0xb, 1) && find(out, 0xb, 1)->ebx == 4);
	}
	free(in);
	free(out);

	/* A table KVM could return: 0xB and 0x1F with many subleaves. */
	in = alloc_cpuid(64);
	if (!in)
		return;
	in->nent = 0;
	put(in, 0, 0, false, 0x1f, 0, 0, 0);
	for (i = 0; i < 30; i++)
		put(in, 0xb, i, true, i, i, i, i);
	for (i = 0; i < 30; i++)
		put(in, 0x1f, i, true, i, i, i, i);
	out = alloc_cpuid(in->nent + CPUID_EXTRA_ENTRIES);
	if (out) {
		CHECK_EQ(cpuid_build(in, 0, 1, out), 0);
		CHECK_EQ(out->nent, 4);
		CHECK_EQ(count(out, 0xb), 3);
		CHECK_EQ(count(out, 0x1f), 0);
	}
	free(in);
	free(out);
}

TEST_SUITE(cpuid, TEST_CASE(one_cpu), TEST_CASE(two_cpus),
	   TEST_CASE(odd_counts), TEST_CASE(large_counts),
	   TEST_CASE(every_cpu_of_sixteen), TEST_CASE(bad_arguments),
	   TEST_CASE(low_max_leaf_gets_no_leaf_b),
	   TEST_CASE(minimal_and_full_tables_fit));
