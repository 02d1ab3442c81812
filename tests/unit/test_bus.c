// SPDX-License-Identifier: MIT
/*
 * Tests of port-I/O / MMIO range dispatch (src/bus/bus.c): registration and
 * overlap rules, dispatch with base-relative offsets, rejection of accesses
 * that straddle a range end or have a bad size, all-ones reads where nothing
 * answers, unregistration, many ranges in random order, and ranges at the
 * very top of the 64-bit space.
 */
#include "unit/test.h"

#include <errno.h>

#include "bus/bus.h"

/* A device that records its last access. */
struct rec {
	unsigned int id;
	unsigned int reads, writes;
	uint64_t offset;
	unsigned int size;
	uint64_t value;
};

static uint64_t rec_read(void *opaque, uint64_t offset, unsigned int size)
{
	struct rec *r = opaque;

	r->reads++;
	r->offset = offset;
	r->size = size;
	/* Tells the device and offset apart in the value read. */
	return ((uint64_t)r->id << 32) | offset;
}

static void rec_write(void *opaque, uint64_t offset, unsigned int size,
		      uint64_t value)
{
	struct rec *r = opaque;

	r->writes++;
	r->offset = offset;
	r->size = size;
	r->value = value;
}

static const struct bus_ops rec_ops = {
	.read = rec_read,
	.write = rec_write,
};

static const struct bus_ops write_only_ops = {
	.write = rec_write,
};

static unsigned int calls(const struct rec *r)
{
	return r->reads + r->writes;
}

static void register_and_overlap_rules(void)
{
	struct bus bus;
	struct rec a = { .id = 1 }, b = { .id = 2 };

	bus_init(&bus, "pio");
	CHECK_EQ(bus_register(&bus, 0x100, 0x10, &rec_ops, &a, "a"), 0);

	/* Overlapping at either edge, inside, around, identical. */
	CHECK_EQ(bus_register(&bus, 0x10f, 2, &rec_ops, &b, "b"), -EEXIST);
	CHECK_EQ(bus_register(&bus, 0x10f, 1, &rec_ops, &b, "b"), -EEXIST);
	CHECK_EQ(bus_register(&bus, 0xf0, 0x11, &rec_ops, &b, "b"), -EEXIST);
	CHECK_EQ(bus_register(&bus, 0x100, 1, &rec_ops, &b, "b"), -EEXIST);
	CHECK_EQ(bus_register(&bus, 0x104, 4, &rec_ops, &b, "b"), -EEXIST);
	CHECK_EQ(bus_register(&bus, 0, 0x1000, &rec_ops, &b, "b"), -EEXIST);
	CHECK_EQ(bus_register(&bus, 0x100, 0x10, &rec_ops, &b, "b"), -EEXIST);
	CHECK_EQ(bus_register(&bus, 0, UINT64_MAX, &rec_ops, &b, "b"), -EEXIST);
	CHECK_EQ(bus.nr, 1);

	/* Touching is not overlapping. */
	CHECK_EQ(bus_register(&bus, 0x110, 0x10, &rec_ops, &b, "b"), 0);
	CHECK_EQ(bus_register(&bus, 0xf0, 0x10, &rec_ops, &b, "c"), 0);
	CHECK_EQ(bus.nr, 3);
	/* Now a one-byte gap at 0x120 only. */
	CHECK_EQ(bus_register(&bus, 0x11f, 2, &rec_ops, &b, "d"), -EEXIST);
	CHECK_EQ(bus_register(&bus, 0x120, 1, &rec_ops, &b, "d"), 0);
	CHECK_EQ(bus.nr, 4);
	CHECK_EQ(bus.ranges[0].base, 0xf0);
	CHECK_EQ(bus.ranges[1].base, 0x100);
	CHECK_EQ(bus.ranges[2].base, 0x110);
	CHECK_EQ(bus.ranges[3].base, 0x120);
	CHECK_STR(bus.ranges[1].name, "a");
	CHECK(bus.ranges[1].opaque == &a);
	bus_destroy(&bus);
}

static void register_rejects_empty_and_wrapping(void)
{
	struct bus bus;
	struct rec a = { .id = 1 };

	bus_init(&bus, "mmio");
	CHECK_EQ(bus_register(&bus, 0x100, 0, &rec_ops, &a, "a"), -EINVAL);
	CHECK_EQ(bus_register(&bus, 0, 0, &rec_ops, &a, "a"), -EINVAL);
	CHECK_EQ(bus_register(&bus, UINT64_MAX, 2, &rec_ops, &a, "a"), -EINVAL);
	CHECK_EQ(bus_register(&bus, 0xfffffffffffff000ull, 0x1001, &rec_ops, &a,
			      "a"),
		 -EINVAL);
	CHECK_EQ(bus_register(&bus, 2, UINT64_MAX, &rec_ops, &a, "a"), -EINVAL);
	CHECK_EQ(bus.nr, 0);
	/* Ending exactly at 2^64 is legal, as is almost the whole space. */
	CHECK_EQ(bus_register(&bus, 1, UINT64_MAX, &rec_ops, &a, "a"), 0);
	CHECK_EQ(bus_unregister(&bus, 1), 0);
	CHECK_EQ(bus_register(&bus, 0, UINT64_MAX, &rec_ops, &a, "a"), 0);
	bus_destroy(&bus);
}

static void dispatch_offsets_are_relative(void)
{
	struct bus bus;
	struct rec a = { .id = 1 }, b = { .id = 2 };
	uint64_t v;

	bus_init(&bus, "pio");
	CHECK_EQ(bus_register(&bus, 0x3f8, 8, &rec_ops, &a, "uart"), 0);
	CHECK_EQ(bus_register(&bus, 0xfee00000ull, 0x1000, &rec_ops, &b,
			      "lapic"),
		 0);

	CHECK(bus_write(&bus, 0x3fb, 1, 0x83));
	CHECK_EQ(a.writes, 1);
	CHECK_EQ(a.offset, 3);
	CHECK_EQ(a.size, 1);
	CHECK_EQ(a.value, 0x83);

	CHECK(bus_read(&bus, 0x3f8, 1, &v));
	CHECK_EQ(a.reads, 1);
	CHECK_EQ(a.offset, 0);
	CHECK_EQ(v, 1ull << 32);

	CHECK(bus_read(&bus, 0x3ff, 1, &v));
	CHECK_EQ(a.offset, 7);
	CHECK_EQ(v, (1ull << 32) | 7);

	CHECK(bus_write(&bus, 0xfee00ff8ull, 8, 0x0123456789abcdefull));
	CHECK_EQ(b.offset, 0xff8);
	CHECK_EQ(b.size, 8);
	CHECK_EQ(b.value, 0x0123456789abcdefull);
	CHECK(bus_read(&bus, 0xfee000f0ull, 4, &v));
	CHECK_EQ(b.offset, 0xf0);
	CHECK_EQ(b.size, 4);
	CHECK_EQ(v, (2ull << 32) | 0xf0);
	CHECK_EQ(calls(&a), 3);
	CHECK_EQ(calls(&b), 2);
	bus_destroy(&bus);
}

static void straddling_accesses_not_dispatched(void)
{
	struct bus bus;
	struct rec a = { .id = 1 }, b = { .id = 2 };
	uint64_t v;

	bus_init(&bus, "mmio");
	CHECK_EQ(bus_register(&bus, 0x100, 8, &rec_ops, &a, "a"), 0);
	CHECK_EQ(bus_register(&bus, 0x108, 4, &rec_ops, &b, "b"), 0);

	/* Last fitting accesses of each size. */
	CHECK(bus_read(&bus, 0x100, 8, &v));
	CHECK(bus_read(&bus, 0x104, 4, &v));
	CHECK(bus_read(&bus, 0x106, 2, &v));
	CHECK(bus_read(&bus, 0x107, 1, &v));
	CHECK(bus_read(&bus, 0x108, 4, &v));
	CHECK_EQ(calls(&a), 4);
	CHECK_EQ(calls(&b), 1);

	/* Straddling a's end into b, and b's end into nothing. */
	v = 0;
	CHECK(!bus_read(&bus, 0x106, 4, &v));
	CHECK_EQ(v, 0xffffffffull);
	CHECK(!bus_read(&bus, 0x101, 8, &v));
	CHECK_EQ(v, UINT64_MAX);
	CHECK(!bus_read(&bus, 0x107, 2, &v));
	CHECK_EQ(v, 0xffff);
	CHECK(!bus_write(&bus, 0x104, 8, 0));
	CHECK(!bus_write(&bus, 0x10a, 4, 0));
	CHECK(!bus_read(&bus, 0x10b, 2, &v));
	CHECK(!bus_read(&bus, 0x108, 8, &v));
	/* Starting below a range and ending inside it. */
	CHECK(!bus_read(&bus, 0xfe, 4, &v));
	CHECK(!bus_write(&bus, 0xfc, 8, 0));
	CHECK_EQ(calls(&a), 4);
	CHECK_EQ(calls(&b), 1);
	bus_destroy(&bus);
}

static void unclaimed_reads_all_ones(void)
{
	struct bus bus;
	struct rec a = { .id = 1 };
	uint64_t v;

	bus_init(&bus, "pio");
	v = 0;
	CHECK(!bus_read(&bus, 0x80, 1, &v));
	CHECK_EQ(v, 0xff);
	CHECK(!bus_read(&bus, 0x80, 2, &v));
	CHECK_EQ(v, 0xffff);
	CHECK(!bus_read(&bus, 0x80, 4, &v));
	CHECK_EQ(v, 0xffffffffull);
	CHECK(!bus_read(&bus, 0x80, 8, &v));
	CHECK_EQ(v, UINT64_MAX);
	CHECK(!bus_write(&bus, 0x80, 1, 0));

	/* In a gap between ranges, and for a device that cannot be read. */
	CHECK_EQ(bus_register(&bus, 0x60, 1, &rec_ops, &a, "a"), 0);
	CHECK_EQ(bus_register(&bus, 0x64, 1, &write_only_ops, &a, "w"), 0);
	CHECK(!bus_read(&bus, 0x62, 1, &v));
	CHECK_EQ(v, 0xff);
	CHECK(!bus_read(&bus, 0x64, 1, &v));
	CHECK_EQ(v, 0xff);
	CHECK_EQ(a.reads, 0);
	CHECK(bus_write(&bus, 0x64, 1, 0xfe));
	CHECK_EQ(a.writes, 1);
	CHECK_EQ(a.value, 0xfe);
	bus_destroy(&bus);
}

static void invalid_sizes_rejected(void)
{
	static const unsigned int bad[] = { 0,	3,	     5,		6,
					    7,	9,	     16,	32,
					    64, 0x80000000u, UINT32_MAX };
	struct bus bus;
	struct rec a = { .id = 1 };
	unsigned int i;
	uint64_t v;

	bus_init(&bus, "mmio");
	CHECK_EQ(bus_register(&bus, 0x1000, 0x1000, &rec_ops, &a, "a"), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(!bus_read(&bus, 0x1000, bad[i], &v));
		CHECK(!bus_write(&bus, 0x1000, bad[i], 0));
	}
	CHECK_EQ(calls(&a), 0);
	bus_destroy(&bus);
}

static void unregister_removes_range(void)
{
	struct bus bus;
	struct rec a = { .id = 1 }, b = { .id = 2 };
	uint64_t v;

	bus_init(&bus, "mmio");
	CHECK_EQ(bus_register(&bus, 0x1000, 0x100, &rec_ops, &a, "a"), 0);
	CHECK_EQ(bus_register(&bus, 0x2000, 0x100, &rec_ops, &b, "b"), 0);

	/* Only the base names a range. */
	CHECK_EQ(bus_unregister(&bus, 0x1001), -ENOENT);
	CHECK_EQ(bus_unregister(&bus, 0x10ff), -ENOENT);
	CHECK_EQ(bus_unregister(&bus, 0x3000), -ENOENT);
	CHECK_EQ(bus.nr, 2);

	CHECK_EQ(bus_unregister(&bus, 0x1000), 0);
	CHECK_EQ(bus.nr, 1);
	CHECK(!bus_read(&bus, 0x1000, 4, &v));
	CHECK_EQ(v, 0xffffffffull);
	CHECK_EQ(calls(&a), 0);
	CHECK(bus_read(&bus, 0x2010, 4, &v));
	CHECK_EQ(b.offset, 0x10);
	CHECK_EQ(bus_unregister(&bus, 0x1000), -ENOENT);

	/* The space is free again: a different, overlapping size fits. */
	CHECK_EQ(bus_register(&bus, 0xf80, 0x100, &rec_ops, &a, "a2"), 0);
	CHECK(bus_read(&bus, 0x1000, 1, &v));
	CHECK_EQ(a.offset, 0x80);
	CHECK_EQ(bus_unregister(&bus, 0x2000), 0);
	CHECK_EQ(bus_unregister(&bus, 0xf80), 0);
	CHECK_EQ(bus.nr, 0);
	CHECK_EQ(bus_unregister(&bus, 0xf80), -ENOENT);
	bus_destroy(&bus);
}

/* A fixed-seed generator, so failures reproduce. */
static uint64_t rng_state;

static uint32_t rng(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng_state >> 33);
}

#define MANY 300

static void many_ranges_random_order(void)
{
	static struct rec recs[MANY];
	unsigned int order[MANY], i, bad = 0;
	struct bus bus;
	uint64_t v;

	rng_state = 42;
	for (i = 0; i < MANY; i++) {
		order[i] = i;
		recs[i] = (struct rec){ .id = i };
	}
	for (i = MANY - 1; i > 0; i--) {
		unsigned int j = rng() % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}

	bus_init(&bus, "mmio");
	/* Range i is [i * 32, i * 32 + 8 + i % 8): gaps between them. */
	for (i = 0; i < MANY; i++) {
		unsigned int k = order[i];

		CHECK_EQ(bus_register(&bus, k * 32ull, 8 + k % 8, &rec_ops,
				      &recs[k], "r"),
			 0);
		/* Every other registration also tries an overlap. */
		if (i % 2)
			CHECK_EQ(bus_register(&bus, k * 32ull + 4, 1, &rec_ops,
					      &recs[k], "x"),
				 -EEXIST);
	}
	CHECK_EQ(bus.nr, MANY);
	for (i = 1; i < bus.nr; i++)
		if (bus.ranges[i - 1].base + bus.ranges[i - 1].len >
		    bus.ranges[i].base)
			bad++;
	CHECK_EQ(bad, 0);

	for (i = 0; i < MANY; i++) {
		uint64_t base = i * 32ull, len = 8 + i % 8;

		if (!bus_read(&bus, base, 1, &v) || v != ((uint64_t)i << 32))
			bad++;
		if (!bus_read(&bus, base + len - 1, 1, &v) ||
		    v != (((uint64_t)i << 32) | (len - 1)))
			bad++;
		if (bus_read(&bus, base + len, 1, &v) || v != 0xff)
			bad++;
		if (bus_read(&bus, base + 31, 1, &v))
			bad++;
	}
	CHECK_EQ(bad, 0);

	/* Remove every third range, in the shuffled order. */
	for (i = 0; i < MANY; i++)
		if (order[i] % 3 == 0)
			CHECK_EQ(bus_unregister(&bus, order[i] * 32ull), 0);
	CHECK_EQ(bus.nr, MANY - (MANY + 2) / 3);
	for (i = 0; i < MANY; i++) {
		bool got = bus_read(&bus, i * 32ull + 2, 2, &v);

		if (got != (i % 3 != 0))
			bad++;
		else if (got && v != (((uint64_t)i << 32) | 2))
			bad++;
	}
	CHECK_EQ(bad, 0);
	bus_destroy(&bus);
}

static void range_at_top_of_space(void)
{
	const uint64_t top = 0xfffffffffffff000ull;
	struct bus bus;
	struct rec a = { .id = 1 }, b = { .id = 2 }, c = { .id = 3 };
	uint64_t v;

	bus_init(&bus, "mmio");
	CHECK_EQ(bus_register(&bus, top, 0x1000, &rec_ops, &a, "top"), 0);
	CHECK_EQ(bus_register(&bus, 0, 0x10, &rec_ops, &b, "bottom"), 0);
	CHECK_EQ(bus_register(&bus, UINT64_MAX, 1, &rec_ops, &c, "last"),
		 -EEXIST);

	CHECK(bus_read(&bus, UINT64_MAX - 7, 8, &v));
	CHECK_EQ(a.offset, 0xff8);
	CHECK(bus_read(&bus, UINT64_MAX, 1, &v));
	CHECK_EQ(a.offset, 0xfff);
	CHECK_EQ(v, (1ull << 32) | 0xfff);
	/* Accesses that would wrap around to address 0. */
	CHECK(!bus_read(&bus, UINT64_MAX - 3, 8, &v));
	CHECK_EQ(v, UINT64_MAX);
	CHECK(!bus_read(&bus, UINT64_MAX, 2, &v));
	CHECK(!bus_write(&bus, UINT64_MAX, 8, 0));
	CHECK_EQ(calls(&a), 2);
	CHECK_EQ(calls(&b), 0);
	/* Below the top range. */
	CHECK(!bus_read(&bus, top - 1, 1, &v));
	CHECK(!bus_read(&bus, top - 2, 4, &v));

	CHECK_EQ(bus_unregister(&bus, top), 0);
	CHECK_EQ(bus_register(&bus, UINT64_MAX, 1, &rec_ops, &c, "last"), 0);
	CHECK(bus_read(&bus, UINT64_MAX, 1, &v));
	CHECK_EQ(c.offset, 0);
	CHECK(!bus_read(&bus, UINT64_MAX - 1, 2, &v));
	CHECK_EQ(calls(&c), 1);
	bus_destroy(&bus);
}

TEST_SUITE(bus, TEST_CASE(register_and_overlap_rules),
	   TEST_CASE(register_rejects_empty_and_wrapping),
	   TEST_CASE(dispatch_offsets_are_relative),
	   TEST_CASE(straddling_accesses_not_dispatched),
	   TEST_CASE(unclaimed_reads_all_ones),
	   TEST_CASE(invalid_sizes_rejected),
	   TEST_CASE(unregister_removes_range),
	   TEST_CASE(many_ranges_random_order),
	   TEST_CASE(range_at_top_of_space));
