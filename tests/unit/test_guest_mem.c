// SPDX-License-Identifier: MIT
/*
 * Tests of the guest-physical translator (src/vm/guest_mem.c): which ranges
 * gm_alloc() accepts, that every byte of a region is usable, that gm_ptr(),
 * gm_read() and gm_write() accept exactly the ranges inside one region and
 * nothing else (holes, region ends, gaps, wrap-around near 2^64, huge
 * lengths), and that the host guard regions around a region are really
 * inaccessible. The guards are checked in /proc/self/maps rather than by
 * touching them, which would be fatal under ASan.
 */
#include "unit/test.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "vm/guest_mem.h"

#define MiB (1ull << 20)

/* Two regions with a hole between them, and a third directly after. */
static const struct gm_range layout3[] = {
	{ .gpa = 0, .size = 2 * MiB },
	{ .gpa = 4 * MiB, .size = 1 * MiB },
	{ .gpa = 5 * MiB, .size = 64 * 1024 },
};

static int alloc(struct guest_mem *gm, const struct gm_range *r,
		 unsigned int nr)
{
	/* Poison, so a failed alloc that leaves state behind is noticed. */
	memset(gm, 0xa5, sizeof(*gm));
	return gm_alloc(gm, r, nr);
}

static void expect_reject(const struct gm_range *r, unsigned int nr, int rc)
{
	struct guest_mem gm;

	CHECK_EQ(alloc(&gm, r, nr), rc);
	CHECK_EQ(gm.nr_regions, 0);
	CHECK(gm.reservation == NULL);
	CHECK(gm_ptr(&gm, 0, 1) == NULL);
	gm_free(&gm); /* must be harmless after a failed alloc */
}

static void alloc_rejects_bad_ranges(void)
{
	const uint64_t top = UINT64_MAX & ~0xfffull;
	struct gm_range unaligned_gpa[] = { { 0x800, 0x1000 } };
	struct gm_range unaligned_size[] = { { 0, 0x1800 } };
	struct gm_range zero[] = { { 0x1000, 0 } };
	struct gm_range zero_second[] = { { 0, 0x1000 }, { 0x2000, 0 } };
	struct gm_range overlap[] = { { 0, 0x2000 }, { 0x1000, 0x1000 } };
	struct gm_range same[] = { { 0x1000, 0x1000 }, { 0x1000, 0x1000 } };
	struct gm_range unsorted[] = { { 0x10000, 0x1000 }, { 0, 0x1000 } };
	struct gm_range wrap[] = { { top, 0x2000 } };
	struct gm_range wrap_big[] = { { 0x1000, top } };
	struct gm_range third_overlaps_first[] = { { 0x10000, 0x1000 },
						   { 0x20000, 0x1000 },
						   { 0x10000, 0x1000 } };
	struct gm_range many[GM_MAX_REGIONS + 1];
	unsigned int i;

	expect_reject(unaligned_gpa, 1, -EINVAL);
	expect_reject(unaligned_size, 1, -EINVAL);
	expect_reject(zero, 1, -EINVAL);
	expect_reject(zero_second, 2, -EINVAL);
	expect_reject(overlap, 2, -EINVAL);
	expect_reject(same, 2, -EINVAL);
	expect_reject(unsorted, 2, -EINVAL);
	expect_reject(third_overlaps_first, 3, -EINVAL);
	expect_reject(wrap, 1, -EINVAL);
	expect_reject(wrap_big, 1, -EINVAL);
	expect_reject(layout3, 0, -EINVAL);

	for (i = 0; i < GM_MAX_REGIONS + 1; i++)
		many[i] = (struct gm_range){ .gpa = i * 0x10000ull,
					     .size = 0x1000 };
	expect_reject(many, GM_MAX_REGIONS + 1, -EINVAL);
}

static void alloc_rejects_impossible_sizes(void)
{
	/* Larger than the host address space: an error, not a crash. */
	struct gm_range huge[] = { { 0, UINT64_MAX & ~0xfffull } };
	struct gm_range two_huge[] = { { 0, 1ull << 62 },
				       { 1ull << 62, 1ull << 62 } };
	struct guest_mem gm;

	CHECK_EQ(alloc(&gm, huge, 1), -ENOMEM);
	CHECK_EQ(gm.nr_regions, 0);
	CHECK(alloc(&gm, two_huge, 2) < 0);
	CHECK_EQ(gm.nr_regions, 0);
	gm_free(&gm);
}

static void alloc_accepts_good_layouts(void)
{
	struct gm_range adjacent[] = { { 0, 0x1000 }, { 0x1000, 0x1000 } };
	struct gm_range max[GM_MAX_REGIONS];
	struct guest_mem gm;
	unsigned int i;

	CHECK_EQ(alloc(&gm, adjacent, 2), 0);
	CHECK_EQ(gm.nr_regions, 2);
	gm_free(&gm);

	for (i = 0; i < GM_MAX_REGIONS; i++)
		max[i] = (struct gm_range){ .gpa = (uint64_t)i << 32,
					    .size = 0x1000ull << i };
	CHECK_EQ(alloc(&gm, max, GM_MAX_REGIONS), 0);
	CHECK_EQ(gm.nr_regions, GM_MAX_REGIONS);
	for (i = 0; i < GM_MAX_REGIONS; i++) {
		CHECK_EQ(gm.regions[i].gpa, max[i].gpa);
		CHECK_EQ(gm.regions[i].size, max[i].size);
		CHECK(gm_ptr(&gm, max[i].gpa, max[i].size) != NULL);
	}
	gm_free(&gm);

	/* A region high in the guest-physical space, far from the rest. */
	{
		struct gm_range high[] = {
			{ 0, 0x1000 },
			{ 0xfffffffff0000000ull, 0x10000 },
		};

		CHECK_EQ(alloc(&gm, high, 2), 0);
		CHECK(gm_ptr(&gm, 0xfffffffff0000000ull, 0x10000) != NULL);
		CHECK(gm_ptr(&gm, 0xfffffffff000fff0ull, 0x10) != NULL);
		CHECK(gm_ptr(&gm, 0xfffffffff000fff0ull, 0x11) == NULL);
		CHECK(gm_ptr(&gm, 0xfffffffff0008000ull, UINT64_MAX) == NULL);
		CHECK(gm_ptr(&gm, 0xfffffffff0008000ull, 0x10000000ull) ==
		      NULL);
		CHECK(gm_ptr(&gm, UINT64_MAX, 1) == NULL);
		gm_free(&gm);
	}
}

static void regions_are_zeroed_readable_writable(void)
{
	struct guest_mem gm;
	unsigned int i;

	CHECK_EQ(alloc(&gm, layout3, 3), 0);
	CHECK_EQ(gm.nr_regions, 3);
	for (i = 0; i < 3; i++) {
		const struct gm_region *r = &gm.regions[i];
		uint8_t *p = gm_ptr(&gm, layout3[i].gpa, layout3[i].size);
		uint64_t j, bad = 0;

		CHECK(p != NULL);
		CHECK(p == r->host);
		if (!p)
			continue;
		for (j = 0; j < r->size; j += 512)
			bad += p[j] != 0;
		CHECK_EQ(bad, 0);
		/* Touch every byte, with a pattern that tells regions apart. */
		for (j = 0; j < r->size; j++)
			p[j] = (uint8_t)(j * 7 + i);
	}
	/* Regions do not alias each other. */
	for (i = 0; i < 3; i++) {
		const uint8_t *p = gm.regions[i].host;
		uint64_t j, bad = 0;

		for (j = 0; j < gm.regions[i].size; j++)
			bad += p[j] != (uint8_t)(j * 7 + i);
		CHECK_EQ(bad, 0);
	}
	gm_free(&gm);
	CHECK_EQ(gm.nr_regions, 0);
	CHECK(gm.reservation == NULL);
	gm_free(&gm); /* twice is harmless */
}

static void ptr_inside_one_region(void)
{
	struct guest_mem gm;
	unsigned int i;

	CHECK_EQ(alloc(&gm, layout3, 3), 0);
	for (i = 0; i < 3; i++) {
		const struct gm_region *r = &gm.regions[i];
		gpa_t end = r->gpa + r->size;

		CHECK(gm_ptr(&gm, r->gpa, r->size) == r->host);
		CHECK(gm_ptr(&gm, r->gpa, 1) == r->host);
		CHECK(gm_ptr(&gm, end - 1, 1) == r->host + r->size - 1);
		CHECK(gm_ptr(&gm, end - 8, 8) == r->host + r->size - 8);
		CHECK(gm_ptr(&gm, r->gpa + 0x123, 0x456) == r->host + 0x123);
		/* Zero length inside a region is a valid (empty) access. */
		CHECK(gm_ptr(&gm, r->gpa + 0x10, 0) == r->host + 0x10);
		CHECK(gm_ptr(&gm, r->gpa, 0) == r->host);
	}
	gm_free(&gm);
}

static void ptr_rejects_ranges_not_in_one_region(void)
{
	struct guest_mem gm;

	CHECK_EQ(alloc(&gm, layout3, 3), 0);

	/* Crossing the end of a region into a hole. */
	CHECK(gm_ptr(&gm, 2 * MiB - 1, 2) == NULL);
	CHECK(gm_ptr(&gm, 2 * MiB - 8, 9) == NULL);
	CHECK(gm_ptr(&gm, 0, 2 * MiB + 1) == NULL);
	/* Spanning the gap between two regions. */
	CHECK(gm_ptr(&gm, 2 * MiB - 4, 2 * MiB + 8) == NULL);
	CHECK(gm_ptr(&gm, 0, 5 * MiB) == NULL);
	/*
	 * Crossing from one region into the next, adjacent in guest-physical
	 * space but not in host memory (a guard lies between them).
	 */
	CHECK(gm_ptr(&gm, 5 * MiB - 4, 8) == NULL);
	CHECK(gm_ptr(&gm, 4 * MiB, 1 * MiB + 1) == NULL);
	CHECK(gm_ptr(&gm, 4 * MiB, 1 * MiB + 64 * 1024) == NULL);
	/* Starting in a hole, or past all RAM. */
	CHECK(gm_ptr(&gm, 2 * MiB, 1) == NULL);
	CHECK(gm_ptr(&gm, 3 * MiB, 0x100) == NULL);
	CHECK(gm_ptr(&gm, 4 * MiB - 1, 2) == NULL);
	CHECK(gm_ptr(&gm, 5 * MiB + 64 * 1024, 1) == NULL);
	CHECK(gm_ptr(&gm, 1ull << 40, 1) == NULL);
	/*
	 * Zero length is still an address: in a hole, or one past the end
	 * of a region that a hole follows, it is not guest RAM. Rejecting it
	 * keeps a caller from holding a pointer into the guard.
	 */
	CHECK(gm_ptr(&gm, 2 * MiB, 0) == NULL);
	CHECK(gm_ptr(&gm, 3 * MiB, 0) == NULL);
	CHECK(gm_ptr(&gm, 5 * MiB + 64 * 1024, 0) == NULL);
	/* ... but where another region starts, it is that region's. */
	CHECK(gm_ptr(&gm, 5 * MiB, 0) == gm.regions[2].host);
	gm_free(&gm);
}

static void ptr_rejects_wrap_and_huge_lengths(void)
{
	struct guest_mem gm;

	CHECK_EQ(alloc(&gm, layout3, 3), 0);
	/* gpa + len wraps past 2^64 to a small, in-RAM address. */
	CHECK(gm_ptr(&gm, UINT64_MAX, 2) == NULL);
	CHECK(gm_ptr(&gm, UINT64_MAX - 0xf, 0x20) == NULL);
	CHECK(gm_ptr(&gm, 0xfffffffffffff000ull, 0x2000) == NULL);
	CHECK(gm_ptr(&gm, UINT64_MAX, UINT64_MAX) == NULL);
	CHECK(gm_ptr(&gm, UINT64_MAX, 0) == NULL);
	CHECK(gm_ptr(&gm, UINT64_MAX, 1) == NULL);
	/* In-RAM start, length that wraps the sum to exactly 0 or below. */
	CHECK(gm_ptr(&gm, 0x10, UINT64_MAX - 0xf) == NULL);
	CHECK(gm_ptr(&gm, 0x10, UINT64_MAX - 0xe) == NULL);
	CHECK(gm_ptr(&gm, 0x10, UINT64_MAX) == NULL);
	CHECK(gm_ptr(&gm, 4 * MiB + 0x10, UINT64_MAX - 4 * MiB) == NULL);
	/* Huge lengths. */
	CHECK(gm_ptr(&gm, 0, 1ull << 63) == NULL);
	CHECK(gm_ptr(&gm, 0, 1ull << 32) == NULL);
	CHECK(gm_ptr(&gm, 0, UINT64_MAX) == NULL);
	CHECK(gm_ptr(&gm, 5 * MiB, 1ull << 63) == NULL);
	gm_free(&gm);
}

static void read_write_copy_and_check(void)
{
	struct guest_mem gm;
	uint8_t buf[64], out[64];
	unsigned int i;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(0x40 + i);
	CHECK_EQ(alloc(&gm, layout3, 3), 0);

	CHECK_EQ(gm_write(&gm, 0x1000, buf, sizeof(buf)), 0);
	CHECK(!memcmp(gm.regions[0].host + 0x1000, buf, sizeof(buf)));
	memset(out, 0, sizeof(out));
	CHECK_EQ(gm_read(&gm, 0x1000, out, sizeof(out)), 0);
	CHECK(!memcmp(out, buf, sizeof(buf)));

	/* The last bytes of a region. */
	CHECK_EQ(gm_write(&gm, 5 * MiB - sizeof(buf), buf, sizeof(buf)), 0);
	CHECK(!memcmp(gm.regions[1].host + 1 * MiB - sizeof(buf), buf,
		      sizeof(buf)));
	memset(out, 0, sizeof(out));
	CHECK_EQ(gm_read(&gm, 5 * MiB - sizeof(buf), out, sizeof(out)), 0);
	CHECK(!memcmp(out, buf, sizeof(buf)));

	/* Failures copy nothing either way. */
	memset(out, 0x5a, sizeof(out));
	CHECK_EQ(gm_read(&gm, 2 * MiB - 32, out, sizeof(out)), -EFAULT);
	CHECK_EQ(gm_read(&gm, 5 * MiB - 32, out, sizeof(out)), -EFAULT);
	CHECK_EQ(gm_read(&gm, UINT64_MAX - 8, out, sizeof(out)), -EFAULT);
	CHECK_EQ(gm_read(&gm, 3 * MiB, out, 1), -EFAULT);
	for (i = 0; i < sizeof(out); i++)
		if (out[i] != 0x5a)
			break;
	CHECK_EQ(i, sizeof(out));

	memset(gm.regions[0].host + 2 * MiB - 32, 0, 32);
	CHECK_EQ(gm_write(&gm, 2 * MiB - 32, buf, sizeof(buf)), -EFAULT);
	for (i = 0; i < 32; i++)
		if (gm.regions[0].host[2 * MiB - 32 + i])
			break;
	CHECK_EQ(i, 32);
	memset(gm.regions[1].host + 1 * MiB - 32, 0, 32);
	CHECK_EQ(gm_write(&gm, 5 * MiB - 32, buf, sizeof(buf)), -EFAULT);
	for (i = 0; i < 32; i++)
		if (gm.regions[1].host[1 * MiB - 32 + i])
			break;
	CHECK_EQ(i, 32);
	CHECK_EQ(gm_write(&gm, 0x10, buf, UINT64_MAX - 0xf), -EFAULT);
	CHECK_EQ(gm_write(&gm, 0, buf, 1ull << 63), -EFAULT);
	CHECK_EQ(gm_write(&gm, 6 * MiB, buf, 1), -EFAULT);

	/* Zero-length copies inside RAM succeed and touch nothing. */
	CHECK_EQ(gm_read(&gm, 0x1000, out, 0), 0);
	CHECK_EQ(gm_write(&gm, 0x1000, buf, 0), 0);
	gm_free(&gm);
}

/*
 * Finds the mapping holding addr in /proc/self/maps. Returns true with its
 * bounds and permissions ("rw-p", "---p").
 */
static bool find_mapping(const void *addr, uintptr_t *start, uintptr_t *end,
			 char perms[5])
{
	uintptr_t a = (uintptr_t)addr;
	char line[512];
	bool found = false;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		uintptr_t s, e;
		char p[5];

		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %4s", &s, &e, p) !=
		    3)
			continue;
		if (a >= s && a < e) {
			*start = s;
			*end = e;
			memcpy(perms, p, 5);
			found = true;
			break;
		}
	}
	fclose(f);
	return found;
}

/* The whole of [addr, addr + len) is mapped with no access at all. */
static bool inaccessible(const uint8_t *addr, uint64_t len)
{
	const uint8_t *p = addr;

	while (p < addr + len) {
		uintptr_t s, e;
		char perms[5];

		if (!find_mapping(p, &s, &e, perms))
			return false;
		if (perms[0] != '-' || perms[1] != '-' || perms[2] != '-')
			return false;
		p = (const uint8_t *)e;
	}
	return true;
}

static bool accessible_rw(const uint8_t *addr)
{
	uintptr_t s, e;
	char perms[5];

	return find_mapping(addr, &s, &e, perms) && perms[0] == 'r' &&
	       perms[1] == 'w';
}

static void guards_are_inaccessible(void)
{
	struct guest_mem gm;
	unsigned int i;

	CHECK_EQ(alloc(&gm, layout3, 3), 0);
	for (i = 0; i < 3; i++) {
		const struct gm_region *r = &gm.regions[i];

		CHECK(accessible_rw(r->host));
		CHECK(accessible_rw(r->host + r->size - 1));
		/* A full guard before and after, even between regions. */
		CHECK(inaccessible(r->host - GM_GUARD_SIZE, GM_GUARD_SIZE));
		CHECK(inaccessible(r->host + r->size, GM_GUARD_SIZE));
	}
	/* Host mappings of regions are in order, never touching. */
	for (i = 1; i < 3; i++)
		CHECK(gm.regions[i].host >= gm.regions[i - 1].host +
						    gm.regions[i - 1].size +
						    GM_GUARD_SIZE);
	gm_free(&gm);
}

static void ram_size_sums_regions(void)
{
	struct gm_range one[] = { { 0, 16 * MiB } };
	struct guest_mem gm;

	CHECK_EQ(alloc(&gm, layout3, 3), 0);
	CHECK_EQ(gm_ram_size(&gm), 3 * MiB + 64 * 1024);
	gm_free(&gm);
	CHECK_EQ(gm_ram_size(&gm), 0);

	CHECK_EQ(alloc(&gm, one, 1), 0);
	CHECK_EQ(gm_ram_size(&gm), 16 * MiB);
	gm_free(&gm);
}

/* Region starts are 2 MiB aligned in the host, so KVM can use huge pages. */
static void regions_are_huge_page_aligned(void)
{
	const struct gm_range ranges[] = {
		{ .gpa = 0, .size = 17ull << 20 },
		{ .gpa = 1ull << 32, .size = 6ull << 20 },
	};
	struct guest_mem gm;
	unsigned int i;

	CHECK_EQ(gm_alloc(&gm, ranges, 2), 0);
	for (i = 0; i < gm.nr_regions; i++)
		CHECK_EQ((uintptr_t)gm.regions[i].host % GM_ALIGN, 0);
	gm_free(&gm);
}

TEST_SUITE(guest_mem, TEST_CASE(alloc_rejects_bad_ranges),
	   TEST_CASE(alloc_rejects_impossible_sizes),
	   TEST_CASE(alloc_accepts_good_layouts),
	   TEST_CASE(regions_are_zeroed_readable_writable),
	   TEST_CASE(ptr_inside_one_region),
	   TEST_CASE(ptr_rejects_ranges_not_in_one_region),
	   TEST_CASE(ptr_rejects_wrap_and_huge_lengths),
	   TEST_CASE(read_write_copy_and_check),
	   TEST_CASE(guards_are_inaccessible), TEST_CASE(ram_size_sums_regions),
	   TEST_CASE(regions_are_huge_page_aligned));
