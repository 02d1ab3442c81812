// SPDX-License-Identifier: MIT
/*
 * Guest "pio_mmio": port-I/O and MMIO dispatch. Tests
 *  - a claimed port read back (the 16550 scratch register, 0x3ff);
 *  - unclaimed ports read as all ones at widths 1, 2 and 4;
 *  - string I/O: "rep outsb" of a line to the UART THR, "rep insb" from the
 *    scratch register and from an unclaimed port;
 *  - MMIO to the test device at 0xfebff000 at widths 1, 2 and 4, each
 *    write storing exactly its bytes (checked by reading back at other
 *    widths and offsets), including the last dword of the page;
 *  - unclaimed MMIO reads as all ones, and writes to it are ignored.
 * (8-byte MMIO is tested by the 64-bit guest long64.) With "qemu" on the
 * command line the parts that need mica's test device are skipped.
 */
#include "lib/guest.h"

#define UNCLAIMED_PORT 0x2a0 /* nothing on the ISA bus here */
#define UNCLAIMED_MMIO 0xd0000000u /* in the PCI hole, no BAR there */
#define TD TESTDEV_MMIO

static void rep_outsb(u16 port, const char *s, u32 n)
{
	__asm__ volatile("rep outsb" : "+S"(s), "+c"(n) : "d"(port) : "memory");
}

static void rep_insb(u16 port, u8 *buf, u32 n)
{
	__asm__ volatile("rep insb"
			 : "+D"(buf), "+c"(n)
			 : "d"(port)
			 : "memory");
}

static void test_pio(void)
{
	static const char line[] = "pio_mmio: rep outsb reached the UART\r\n";
	u8 buf[4];

	outb(COM1 + UART_SCR, 0x5a);
	check(inb(COM1 + UART_SCR) == 0x5a, "UART scratch reads back 0x5a");
	outb(COM1 + UART_SCR, 0xa5);
	check(inb(COM1 + UART_SCR) == 0xa5, "UART scratch reads back 0xa5");

	check(inb(UNCLAIMED_PORT) == 0xff, "unclaimed port inb == 0xff");
	check(inw(UNCLAIMED_PORT) == 0xffff, "unclaimed port inw == 0xffff");
	check(inl(UNCLAIMED_PORT) == 0xffffffffu,
	      "unclaimed port inl == 0xffffffff");
	outb(UNCLAIMED_PORT, 0);
	outl(UNCLAIMED_PORT, 0);
	check(inb(UNCLAIMED_PORT) == 0xff, "unclaimed port ignores writes");

	for (int i = 0; i < 1000; i++) /* let THR drain before the burst */
		if (inb(COM1 + UART_LSR) & LSR_THRE)
			break;
	rep_outsb(COM1 + UART_THR, line, sizeof(line) - 1);

	outb(COM1 + UART_SCR, 0x42);
	memset(buf, 0, sizeof(buf));
	rep_insb(COM1 + UART_SCR, buf, sizeof(buf));
	check(buf[0] == 0x42 && buf[1] == 0x42 && buf[2] == 0x42 &&
		      buf[3] == 0x42,
	      "rep insb from the UART scratch register");
	memset(buf, 0, sizeof(buf));
	rep_insb(UNCLAIMED_PORT, buf, sizeof(buf));
	check(buf[0] == 0xff && buf[1] == 0xff && buf[2] == 0xff &&
		      buf[3] == 0xff,
	      "rep insb from an unclaimed port gives 0xff");
}

static void test_mmio(void)
{
	mmio_w8(TD + 0x10, 0x11);
	mmio_w8(TD + 0x11, 0x22);
	mmio_w16(TD + 0x12, 0x4433);
	mmio_w32(TD + 0x14, 0x88776655);
	printf("testdev dwords: %08x %08x\n", mmio_r32(TD + 0x10),
	       mmio_r32(TD + 0x14));
	check(mmio_r8(TD + 0x10) == 0x11 && mmio_r8(TD + 0x11) == 0x22,
	      "testdev 1-byte writes read back");
	check(mmio_r16(TD + 0x12) == 0x4433, "testdev 2-byte write reads back");
	check(mmio_r32(TD + 0x14) == 0x88776655,
	      "testdev 4-byte write reads back");
	check(mmio_r32(TD + 0x10) == 0x44332211,
	      "testdev 1+1+2-byte writes compose a little-endian dword");
	check(mmio_r16(TD + 0x16) == 0x8877 && mmio_r8(TD + 0x15) == 0x66,
	      "testdev narrow reads inside a dword");

	/* A narrow write changes only its own bytes. */
	mmio_w8(TD + 0x15, 0xaa);
	check(mmio_r32(TD + 0x14) == 0x8877aa55,
	      "testdev 1-byte write leaves its neighbours");
	mmio_w32(TD + 0xffc, 0xdeadbeef);
	check(mmio_r32(TD + 0xffc) == 0xdeadbeef,
	      "testdev last dword of the page");
	check(mmio_r8(TD + 0xfff) == 0xde, "testdev last byte of the page");

	check(mmio_r8(UNCLAIMED_MMIO) == 0xff, "unclaimed MMIO 1-byte == 0xff");
	check(mmio_r16(UNCLAIMED_MMIO + 2) == 0xffff,
	      "unclaimed MMIO 2-byte == 0xffff");
	check(mmio_r32(UNCLAIMED_MMIO + 4) == 0xffffffffu,
	      "unclaimed MMIO 4-byte == 0xffffffff");
	mmio_w32(UNCLAIMED_MMIO + 8, 0);
	check(mmio_r32(UNCLAIMED_MMIO + 8) == 0xffffffffu,
	      "unclaimed MMIO ignores writes");
}

int main(struct hvm_start_info *si)
{
	const char *cmdline = pvh_cmdline(si);

	guest_name = "pio_mmio";
	printf("pio_mmio: port I/O\n");
	test_pio();
	if (cmdline_has(cmdline, "qemu")) {
		printf("pio_mmio: MMIO checks skipped (qemu)\n");
	} else {
		printf("pio_mmio: MMIO\n");
		test_mmio();
	}
	finish();
}
