// SPDX-License-Identifier: MIT
/*
 * Guest "hello": the PVH boot path end to end. Tests that the VMM loads a
 * 32-bit PVH ELF at its p_paddr, enters it per the PVH ABI with EBX at a
 * valid hvm_start_info, passes the command line through cmdline_paddr, and
 * that the 16550 console and the debug-exit port work. Also prints the PVH
 * memory map and checks the RSDP pointer, when the start info has them.
 * Exits 0 on success.
 */
#include "lib/guest.h"

int main(struct hvm_start_info *si)
{
	guest_name = "hello";
	printf("hello from mica guest\n");
	if (si->magic != HVM_START_MAGIC)
		fail("hvm_start_info magic %x at %p", si->magic, si);
	printf("start info at %p, version %u\n", si, si->version);
	printf("cmdline: '%s'\n", pvh_cmdline(si));

	if (si->version >= 1 && si->memmap_paddr && si->memmap_entries) {
		const struct hvm_memmap_entry *e =
			(const void *)(uptr)si->memmap_paddr;
		int ram_at_1m = 0;

		for (u32 i = 0; i < si->memmap_entries && i < 64; i++) {
			printf("memmap: %016llx-%016llx type %u\n", e[i].addr,
			       e[i].addr + e[i].size - 1, e[i].type);
			if (e[i].type == 1 && e[i].addr <= 0x100000 &&
			    e[i].addr + e[i].size > 0x200000)
				ram_at_1m = 1;
		}
		check(ram_at_1m, "memmap has RAM covering 1 MiB..2 MiB");
	}
	if (si->rsdp_paddr) {
		const char *rsdp = (const char *)(uptr)si->rsdp_paddr;
		printf("rsdp at %llx\n", si->rsdp_paddr);
		check(!strncmp(rsdp, "RSD PTR ", 8), "RSDP signature");
	}
	finish();
}
