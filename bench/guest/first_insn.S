/* SPDX-License-Identifier: MIT */
/*
 * Benchmark guest: its first instructions write '!' to COM1 (without
 * initialising the UART, which needs no setup to transmit), then 0 to the
 * debug-exit port (0xf4). The time until '!' reaches the VMM's stdout is
 * "start to first guest instruction". A PVH ELF, entered in 32-bit mode.
 */
	.code32
	.section .note.Xen, "a"
	.balign 4
	.long 4, 4, 18		/* namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long _start

	.text
	.globl _start
_start:
	mov $0x3f8, %dx
	mov $'!', %al
	out %al, %dx
	xor %eax, %eax
	out %al, $0xf4
1:	cli
	hlt
	jmp 1b
