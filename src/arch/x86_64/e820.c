// SPDX-License-Identifier: MIT
/*
 * The e820 map of a mica guest (ACPI spec, "System Address Map Interfaces";
 * Linux Documentation/arch/x86/zero-page.rst). Nothing here is
 * guest-controlled.
 *
 *   [0, EBDA)                  RAM
 *   [EBDA, 1 MiB)              reserved: EBDA, VGA hole, BIOS area, ACPI
 *   [1 MiB, min(size, 3 GiB))  RAM
 *   [ECAM, ECAM + 1 MiB)       reserved: PCIe ECAM (Linux uses the MCFG
 *                              only if its region is reserved here or in
 *                              ACPI motherboard resources)
 *   [4 GiB, ...)               RAM, the part of the size above 3 GiB
 */
#include "arch/x86_64/e820.h"

#include <errno.h>

#include "arch/x86_64/layout.h"

unsigned int e820_ram_ranges(uint64_t mem_size, struct gm_range out[2])
{
	uint64_t low = mem_size < LAYOUT_MMIO_HOLE ? mem_size :
						     LAYOUT_MMIO_HOLE;

	out[0] = (struct gm_range){ .gpa = 0, .size = low };
	if (mem_size <= LAYOUT_MMIO_HOLE)
		return 1;
	out[1] = (struct gm_range){ .gpa = LAYOUT_4G,
				    .size = mem_size - LAYOUT_MMIO_HOLE };
	return 2;
}

int e820_build(const struct gm_range *ram, unsigned int nr_ram,
	       struct e820_entry out[E820_MAX_ENTRIES])
{
	int n = 0;

	if (nr_ram < 1 || nr_ram > 2 || ram[0].gpa != 0 ||
	    ram[0].size <= LAYOUT_HIGH_MEM || ram[0].size > LAYOUT_MMIO_HOLE)
		return -EINVAL;
	/* High RAM continues low RAM that fills everything below the hole. */
	if (nr_ram == 2 &&
	    (ram[0].size != LAYOUT_MMIO_HOLE || ram[1].gpa < LAYOUT_4G ||
	     ram[1].size == 0 || ram[1].gpa + ram[1].size < ram[1].gpa))
		return -EINVAL;

	out[n++] = (struct e820_entry){ 0, LAYOUT_EBDA, E820_RAM };
	out[n++] = (struct e820_entry){ LAYOUT_EBDA,
					LAYOUT_HIGH_MEM - LAYOUT_EBDA,
					E820_RESERVED };
	out[n++] = (struct e820_entry){ LAYOUT_HIGH_MEM,
					ram[0].size - LAYOUT_HIGH_MEM,
					E820_RAM };
	out[n++] = (struct e820_entry){ LAYOUT_PCI_ECAM, LAYOUT_PCI_ECAM_SIZE,
					E820_RESERVED };
	if (nr_ram == 2)
		out[n++] = (struct e820_entry){ ram[1].gpa, ram[1].size,
						E820_RAM };
	return n;
}
