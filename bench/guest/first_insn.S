/* SPDX-License-Identifier: MIT */
/*
 * Benchmark guest: its very first instruction writes 0 to the debug-exit
 * port (0xf4), so the VMM's wall time from exec to exit bounds "start to
 * first guest instruction" from above. A PVH ELF, entered in 32-bit mode.
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
	xor %eax, %eax
	out %al, $0xf4
1:	cli
	hlt
	jmp 1b
