/* SPDX-License-Identifier: MIT */
/*
 * Benchmark guest: touches TOUCH_MIB MiB of RAM from 2 MiB up (one write per
 * 4 KiB page), prints "ready" on COM1 and halts with interrupts off, so the
 * VMM's memory can be measured with a known amount of guest memory in use.
 * A PVH ELF, entered in 32-bit mode with paging off.
 */
#define TOUCH_MIB 16
	.code32
	.section .note.Xen, "a"
	.balign 4
	.long 4, 4, 18
	.asciz "Xen"
	.long _start

	.text
	.globl _start
_start:
	mov $0x200000, %edi
	mov $(TOUCH_MIB * 256), %ecx
1:	movl $1, (%edi)
	add $4096, %edi
	loop 1b
	mov $msg, %esi
	mov $0x3f8, %dx
2:	lodsb
	test %al, %al
	jz 3f
	out %al, %dx
	jmp 2b
3:	cli
	hlt
	jmp 3b
msg:	.asciz "ready\r\n"
