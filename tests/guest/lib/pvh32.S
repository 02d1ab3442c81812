/* SPDX-License-Identifier: MIT */
/*
 * Entry of the 32-bit PVH test guests, and their interrupt stubs.
 *
 * Tests the PVH boot ABI as the guest sees it: the "Xen" ELF note of type
 * XEN_ELFNOTE_PHYS32_ENTRY (18) names _start; the VMM enters it in 32-bit
 * protected mode, paging off, with EBX = the hvm_start_info. The guest then
 * loads its own flat GDT (same selectors as the ABI: CS 0x10, DS 0x18),
 * zeroes .bss, installs an IDT and calls main(start_info); main's return
 * value leaves through the debug-exit port.
 */
#define CODE32 0x10
#define DATA32 0x18

	.section .note.Xen, "a"
	.p2align 2
	.long 4			/* namesz: "Xen\0" */
	.long 4			/* descsz */
	.long 18		/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.p2align 2
	.long _start

	.section .text.entry, "ax"
	.code32
	.globl _start
_start:
	cli
	cld
	mov %ebx, %esi		/* hvm_start_info */
	lgdt gdt_desc
	ljmp $CODE32, $1f
1:	mov $DATA32, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov $stack_top, %esp
	mov $__bss_start, %edi
	mov $__bss_end, %ecx
	sub %edi, %ecx
	xor %eax, %eax
	rep stosb
	push %esi
	call idt_install
	call main
	push %eax
	call guest_exit
2:	cli
	hlt
	jmp 2b

/*
 * One 16-byte stub per vector: push a zero error code where the CPU pushes
 * none, push the vector, join isr_common. irq32.c points the IDT at them.
 */
	.p2align 4
	.globl isr_stubs
isr_stubs:
	.set vec, 0
	.rept 256
	.p2align 4
	.if vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21 || vec == 29 || vec == 30
	.else
	push $0
	.endif
	push $vec
	jmp isr_common
	.set vec, vec + 1
	.endr

isr_common:
	pusha
	cld
	lea 32(%esp), %eax	/* struct irq_frame: vector, error, eip, ... */
	push %eax
	call irq_dispatch
	add $4, %esp
	popa
	add $8, %esp		/* vector and error code */
	/*
	 * Return without IRET: this host's KVM emulates CPL0 code, and its
	 * emulator implements IRET in real mode only (anything else is an
	 * internal error). Same privilege, same flat CS, so "popf; ret" does
	 * the same: rewrite [EIP, CS, EFLAGS] into [EFLAGS, EIP]. An
	 * interrupt taken between popf and ret nests harmlessly.
	 */
	push %eax
	mov 4(%esp), %eax	/* EIP */
	xchg %eax, 12(%esp)	/* EIP over EFLAGS; EAX = EFLAGS */
	mov %eax, 8(%esp)	/* EFLAGS over CS */
	pop %eax
	add $4, %esp
	popf
	ret

	.section .data
	.p2align 3
	.globl gdt
gdt:
	.quad 0
	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x10: code, flat 4 GiB, 32-bit */
	.quad 0x00cf92000000ffff	/* 0x18: data, flat 4 GiB */
gdt_end:
	.p2align 2
	.word 0
	.globl gdt_desc
gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt

	.section .note.GNU-stack, "", @progbits
