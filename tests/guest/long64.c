// SPDX-License-Identifier: MIT
/*
 * Guest "long64": the Linux boot protocol's 64-bit entry, as a bzImage the
 * build makes (long64_head.S). Tests that the VMM
 *  - accepts the setup header (2.15, XLF_KERNEL_64), loads the
 *    protected-mode part at 1 MiB and enters it at 1 MiB + 0x200 in long
 *    mode with CS 0x10, DS 0x18, interrupts off;
 *  - passes RSI = a boot_params whose header copy carries "HdrS", with
 *    type_of_loader set;
 *  - fills the e820 table (e820_entries at 0x1e8, entries at 0x2d0) with
 *    RAM that covers the kernel, and that RAM at the end of that region is
 *    writable;
 *  - puts the command line at cmd_line_ptr (0x228, high half in 0x0c8);
 *  - dispatches 8-byte MMIO to the test device (and reads all ones from
 *    unclaimed MMIO at 8 bytes).
 * With "qemu" on the command line (QEMU enters through the real-mode and
 * 32-bit entries, without e820 or the test device) those checks are
 * skipped. Exits 0 on success.
 */
#include "lib/guest.h"

#define TD TESTDEV_MMIO
extern u32 entered_via_32;
extern u64 entry_rflags;
extern u8 _end[];

struct e820_entry {
	u64 addr;
	u64 size;
	u32 type;
} __attribute__((packed));

static u16 read_seg(int which)
{
	u16 v;

	if (which)
		__asm__ volatile("mov %%ds, %0" : "=r"(v));
	else
		__asm__ volatile("mov %%cs, %0" : "=r"(v));
	return v;
}

static void test_e820(const u8 *bp, int qemu)
{
	u8 n = bp[0x1e8];
	const struct e820_entry *e = (const void *)(bp + 0x2d0);
	int covers = 0;
	u64 probe = 0;

	printf("long64: %u e820 entries\n", n);
	for (u32 i = 0; i < n && i < 128; i++) {
		printf("e820: %016llx-%016llx type %u\n", e[i].addr,
		       e[i].addr + e[i].size - 1, e[i].type);
		if (e[i].type == 1 && e[i].addr <= 0x100000 &&
		    e[i].addr + e[i].size >= (uptr)_end) {
			covers = 1;
			probe = e[i].addr + e[i].size - 8;
		}
	}
	if (qemu)
		return;
	check(n >= 1 && n <= 128, "e820_entries between 1 and 128");
	check(covers, "an e820 RAM entry covers the kernel at 1 MiB");
	if (covers && probe < (1ull << 32)) {
		volatile u64 *p = (volatile u64 *)(uptr)probe;
		*p = 0x0123456789abcdefull;
		check(*p == 0x0123456789abcdefull,
		      "last qword of that RAM entry is writable");
	}
}

static void test_mmio64(void)
{
	mmio_w64(TD + 0x20, 0x1122334455667788ull);
	printf("long64: testdev qword %016llx\n", mmio_r64(TD + 0x20));
	check(mmio_r64(TD + 0x20) == 0x1122334455667788ull,
	      "testdev 8-byte write reads back");
	check(mmio_r32(TD + 0x20) == 0x55667788 &&
		      mmio_r32(TD + 0x24) == 0x11223344,
	      "testdev 8-byte write is little-endian dwords");
	mmio_w8(TD + 0x27, 0xaa);
	mmio_w16(TD + 0x20, 0xbbcc);
	check(mmio_r64(TD + 0x20) == 0xaa2233445566bbccull,
	      "testdev narrow writes inside a qword");
	mmio_w64(TD + 0xff8, ~0ull - 1);
	check(mmio_r64(TD + 0xff8) == ~0ull - 1,
	      "testdev last qword of the page");
	check(mmio_r64(0xd0000000u) == ~0ull, "unclaimed MMIO 8-byte == ~0");
}

int main64(const u8 *bp);
int main64(const u8 *bp)
{
	const char *cmdline = "";
	u64 flags = entry_rflags;
	int qemu;

	guest_name = "long64";
	printf("long64: entry: %s\n", entered_via_32 ? "32-bit" : "64-bit");
	printf("long64: boot_params at %p\n", bp);
	if (!bp || (uptr)bp >= (1ull << 32))
		fail("RSI does not point at boot_params (%p)", bp);
	if (strncmp((const char *)bp + 0x202, "HdrS", 4))
		fail("no HdrS at boot_params + 0x202");
	u64 cl = *(const u32 *)(bp + 0x228) | (u64) * (const u32 *)(bp + 0x0c8)
						      << 32;
	if (cl && cl < (1ull << 32))
		cmdline = (const char *)(uptr)cl;
	printf("cmdline: '%s'\n", cmdline);
	qemu = cmdline_has(cmdline, "qemu");
	printf("long64: CS %x DS %x entry RFLAGS %llx, protocol %x, loader %x\n",
	       read_seg(0), read_seg(1), flags, *(const u16 *)(bp + 0x206),
	       bp[0x210]);

	check(1, "boot_params header has HdrS");
	if (!qemu) {
		check(!entered_via_32, "entered at the 64-bit entry");
		check(read_seg(0) == 0x10 && read_seg(1) == 0x18,
		      "CS 0x10 and DS 0x18");
		check(!(flags & 0x200), "interrupts off at entry");
		check(bp[0x210] != 0, "type_of_loader set");
		check(cl != 0, "cmd_line_ptr set");
	}
	test_e820(bp, qemu);
	if (!qemu)
		test_mmio64();
	finish();
}
