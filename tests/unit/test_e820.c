// SPDX-License-Identifier: MIT
/*
 * Tests of the guest RAM layout and e820 map (src/arch/x86_64/e820.c) for
 * sizes around the 3 GiB start of the MMIO hole: the ranges backing RAM, and
 * a map that is sorted, non-overlapping, covers exactly the RAM asked for,
 * keeps the BIOS area reserved and never claims RAM in the MMIO hole, and
 * reserves the PCIe ECAM (Linux ignores an MCFG whose region is not).
 */
#include "unit/test.h"

#include <errno.h>

#include "arch/x86_64/e820.h"
#include "arch/x86_64/layout.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)

static bool inside(uint64_t addr, uint64_t size, const struct gm_range *r,
		   unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		if (addr >= r[i].gpa && size <= r[i].size &&
		    addr - r[i].gpa <= r[i].size - size)
			return true;
	return false;
}

/* Builds the layout for mem and checks everything a guest relies on. */
static void check_layout(int line, uint64_t mem, unsigned int want_ranges)
{
	struct gm_range ram[2];
	struct e820_entry map[E820_MAX_ENTRIES + 1];
	unsigned int nr = e820_ram_ranges(mem, ram), i, ecam = 0;
	uint64_t ram_total = 0, reserved_low = 0, range_total = 0;
	int n;

	if (nr != want_ranges) {
		test_fail(__FILE__, line, "%u ranges, want %u", nr,
			  want_ranges);
		return;
	}
	for (i = 0; i < nr; i++)
		range_total += ram[i].size;
	if (range_total != mem)
		test_fail(__FILE__, line,
			  "ranges hold 0x%llx bytes, not 0x%llx",
			  (unsigned long long)range_total,
			  (unsigned long long)mem);
	if (ram[0].gpa != 0)
		test_fail(__FILE__, line, "RAM does not start at 0");
	if (ram[0].size > LAYOUT_MMIO_HOLE)
		test_fail(__FILE__, line, "low RAM runs into the MMIO hole");
	if (nr == 2 &&
	    (ram[0].size != LAYOUT_MMIO_HOLE || ram[1].gpa != LAYOUT_4G))
		test_fail(__FILE__, line, "high RAM not split at 3 GiB/4 GiB");

	memset(map, 0xa5, sizeof(map));
	n = e820_build(ram, nr, map);
	if (n < 1 || n > E820_MAX_ENTRIES) {
		test_fail(__FILE__, line, "e820_build = %d", n);
		return;
	}
	for (i = 0; i < (unsigned int)n; i++) {
		const struct e820_entry *e = &map[i];

		if (e->size == 0 || e->addr + e->size < e->addr)
			test_fail(__FILE__, line, "entry %u empty or wraps", i);
		if (i && map[i - 1].addr + map[i - 1].size > e->addr)
			test_fail(__FILE__, line,
				  "entry %u unsorted or overlapping", i);
		if (e->type == E820_RAM) {
			ram_total += e->size;
			/* RAM in the map is backed by guest memory. */
			if (!inside(e->addr, e->size, ram, nr))
				test_fail(__FILE__, line,
					  "RAM entry %u [0x%llx+0x%llx] not "
					  "backed",
					  i, (unsigned long long)e->addr,
					  (unsigned long long)e->size);
			/* ... and never inside [3 GiB, 4 GiB). */
			if (e->addr < LAYOUT_4G &&
			    e->addr + e->size > LAYOUT_MMIO_HOLE)
				test_fail(__FILE__, line,
					  "RAM entry %u in the MMIO hole", i);
		} else if (e->type == E820_RESERVED) {
			if (e->addr + e->size <= LAYOUT_HIGH_MEM)
				reserved_low += e->size;
			if (e->addr == LAYOUT_PCI_ECAM &&
			    e->size == LAYOUT_PCI_ECAM_SIZE)
				ecam++;
		} else {
			test_fail(__FILE__, line, "entry %u type %u", i,
				  e->type);
		}
	}
	/* The words past the returned count are untouched. */
	if (map[n].type != 0xa5a5a5a5u)
		test_fail(__FILE__, line, "wrote beyond entry %d", n);

	/*
	 * All of the requested memory is accounted for: RAM, plus the BIOS
	 * area below 1 MiB that is backed but reserved.
	 */
	if (ram_total + reserved_low != mem)
		test_fail(__FILE__, line,
			  "RAM 0x%llx + reserved 0x%llx != 0x%llx",
			  (unsigned long long)ram_total,
			  (unsigned long long)reserved_low,
			  (unsigned long long)mem);
	if (reserved_low != LAYOUT_HIGH_MEM - LAYOUT_EBDA)
		test_fail(__FILE__, line, "reserved low 0x%llx",
			  (unsigned long long)reserved_low);

	/* The first map entries are what Linux and the loaders rely on. */
	if (map[0].addr != 0 || map[0].type != E820_RAM ||
	    map[0].size != LAYOUT_EBDA)
		test_fail(__FILE__, line, "entry 0 is not [0, EBDA) RAM");
	if (map[1].addr != LAYOUT_EBDA || map[1].type != E820_RESERVED ||
	    map[1].addr + map[1].size != LAYOUT_HIGH_MEM)
		test_fail(__FILE__, line, "entry 1 is not [EBDA, 1M) reserved");
	if (map[2].addr != LAYOUT_HIGH_MEM || map[2].type != E820_RAM ||
	    map[2].addr + map[2].size != ram[0].size)
		test_fail(__FILE__, line, "entry 2 is not [1M, low end) RAM");
	/* The ACPI tables lie in the reserved part. */
	if (LAYOUT_ACPI < map[1].addr ||
	    LAYOUT_ACPI + LAYOUT_ACPI_SIZE > map[1].addr + map[1].size)
		test_fail(__FILE__, line, "ACPI tables not in reserved area");
	if (ecam != 1)
		test_fail(__FILE__, line, "ECAM reserved %u times", ecam);
	/* The ECAM lies in the hole, clear of RAM (checked above too). */
	if (LAYOUT_PCI_ECAM < LAYOUT_MMIO_HOLE ||
	    LAYOUT_PCI_ECAM + LAYOUT_PCI_ECAM_SIZE > LAYOUT_4G)
		test_fail(__FILE__, line, "ECAM outside the MMIO hole");
	if ((unsigned int)n != nr + 3)
		test_fail(__FILE__, line, "%d entries for %u ranges", n, nr);
}

static void layout_16m(void)
{
	struct gm_range ram[2];

	check_layout(__LINE__, 16 * MiB, 1);
	CHECK_EQ(e820_ram_ranges(16 * MiB, ram), 1);
	CHECK_EQ(ram[0].size, 16 * MiB);
}

static void layout_512m(void)
{
	check_layout(__LINE__, 512 * MiB, 1);
}

static void layout_exactly_3g(void)
{
	struct gm_range ram[2];

	check_layout(__LINE__, 3 * GiB, 1);
	CHECK_EQ(e820_ram_ranges(3 * GiB, ram), 1);
	CHECK_EQ(ram[0].size, 3 * GiB);
}

static void layout_3g_plus_2m(void)
{
	struct gm_range ram[2];

	check_layout(__LINE__, 3 * GiB + 2 * MiB, 2);
	CHECK_EQ(e820_ram_ranges(3 * GiB + 2 * MiB, ram), 2);
	CHECK_EQ(ram[0].size, 3 * GiB);
	CHECK_EQ(ram[1].gpa, 4 * GiB);
	CHECK_EQ(ram[1].size, 2 * MiB);
}

static void layout_8g(void)
{
	struct gm_range ram[2];
	struct e820_entry map[E820_MAX_ENTRIES];

	check_layout(__LINE__, 8 * GiB, 2);
	CHECK_EQ(e820_ram_ranges(8 * GiB, ram), 2);
	CHECK_EQ(ram[1].gpa, 4 * GiB);
	CHECK_EQ(ram[1].size, 5 * GiB);
	CHECK_EQ(e820_build(ram, 2, map), 5);
	CHECK_EQ(map[3].addr, LAYOUT_PCI_ECAM);
	CHECK_EQ(map[3].type, E820_RESERVED);
	CHECK_EQ(map[4].addr, 4 * GiB);
	CHECK_EQ(map[4].size, 5 * GiB);
	CHECK_EQ(map[4].type, E820_RAM);
}

static void layout_other_sizes(void)
{
	check_layout(__LINE__, 1 * GiB, 1);
	check_layout(__LINE__, 3 * GiB - 2 * MiB, 1);
	check_layout(__LINE__, 4 * GiB, 2);
	check_layout(__LINE__, 1ull << 40, 2);
}

static void bad_inputs_einval(void)
{
	struct e820_entry map[E820_MAX_ENTRIES];
	struct gm_range good[2] = { { 0, 3 * GiB }, { 4 * GiB, 1 * GiB } };
	struct gm_range r[3];

	CHECK_EQ(e820_build(good, 0, map), -EINVAL);
	memcpy(r, good, sizeof(good));
	r[2] = (struct gm_range){ 8 * GiB, 1 * GiB };
	CHECK_EQ(e820_build(r, 3, map), -EINVAL);

	/* Low RAM not at 0, too small to hold a kernel, or too big. */
	r[0] = (struct gm_range){ 0x1000, 64 * MiB };
	CHECK_EQ(e820_build(r, 1, map), -EINVAL);
	r[0] = (struct gm_range){ 0, 1 * MiB };
	CHECK_EQ(e820_build(r, 1, map), -EINVAL);
	r[0] = (struct gm_range){ 0, 512 * 1024 };
	CHECK_EQ(e820_build(r, 1, map), -EINVAL);
	r[0] = (struct gm_range){ 0, 0 };
	CHECK_EQ(e820_build(r, 1, map), -EINVAL);
	r[0] = (struct gm_range){ 0, 3 * GiB + 4096 };
	CHECK_EQ(e820_build(r, 1, map), -EINVAL);
	r[0] = (struct gm_range){ 0, 4 * GiB };
	CHECK_EQ(e820_build(r, 1, map), -EINVAL);

	/* High RAM below 4 GiB, overlapping low RAM, or in the hole. */
	r[0] = (struct gm_range){ 0, 3 * GiB };
	r[1] = (struct gm_range){ 2 * GiB, 1 * GiB };
	CHECK_EQ(e820_build(r, 2, map), -EINVAL);
	r[1] = (struct gm_range){ 3 * GiB, 1 * GiB };
	CHECK_EQ(e820_build(r, 2, map), -EINVAL);
	r[1] = (struct gm_range){ 4 * GiB - 4096, 1 * GiB };
	CHECK_EQ(e820_build(r, 2, map), -EINVAL);

	/*
	 * Not a layout e820_ram_ranges() makes: high RAM while low RAM
	 * stops short of the hole, empty or wrapping high RAM.
	 */
	r[0] = (struct gm_range){ 0, 1 * GiB };
	r[1] = (struct gm_range){ 4 * GiB, 1 * GiB };
	CHECK_EQ(e820_build(r, 2, map), -EINVAL);
	r[0] = (struct gm_range){ 0, 3 * GiB };
	r[1] = (struct gm_range){ 4 * GiB, 0 };
	CHECK_EQ(e820_build(r, 2, map), -EINVAL);
	r[1] = (struct gm_range){ 4 * GiB, UINT64_MAX - 2 * GiB };
	CHECK_EQ(e820_build(r, 2, map), -EINVAL);

	/* The good layout itself passes. */
	CHECK_EQ(e820_build(good, 2, map), 5);
}

TEST_SUITE(e820, TEST_CASE(layout_16m), TEST_CASE(layout_512m),
	   TEST_CASE(layout_exactly_3g), TEST_CASE(layout_3g_plus_2m),
	   TEST_CASE(layout_8g), TEST_CASE(layout_other_sizes),
	   TEST_CASE(bad_inputs_einval));
