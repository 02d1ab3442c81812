/* SPDX-License-Identifier: MIT */
/*
 * Guest RAM layout and the e820 memory map given to the guest (in Linux
 * boot_params, or as the PVH memory map).
 */
#ifndef MICA_ARCH_X86_64_E820_H
#define MICA_ARCH_X86_64_E820_H

#include <stdint.h>

#include "vm/guest_mem.h"

#define E820_RAM 1
#define E820_RESERVED 2
#define E820_ACPI 3

#define E820_MAX_ENTRIES 8

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

/*
 * Splits a RAM size into guest-physical ranges: below the 32-bit MMIO hole,
 * and the rest above 4 GiB. Returns the number of ranges (1 or 2).
 */
unsigned int e820_ram_ranges(uint64_t mem_size, struct gm_range out[2]);

/*
 * Builds the map for RAM ranges as made by e820_ram_ranges(). Returns the
 * number of entries, or -EINVAL if the ranges are not such a layout.
 */
int e820_build(const struct gm_range *ram, unsigned int nr_ram,
	       struct e820_entry out[E820_MAX_ENTRIES]);

#endif
