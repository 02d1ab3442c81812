/* SPDX-License-Identifier: MIT */
/*
 * Application-processor start-up code of the "smp" guest (see smp.c).
 *
 * tramp_start..tramp_end is copied by the BSP to a page below 1 MiB whose
 * number is the SIPI vector; an AP starts there in real mode at CS:0000
 * with CS = vector << 8. It loads the guest's GDT (the pseudo-descriptor
 * travels with the copy, addressed CS-relative), enters protected mode and
 * far-jumps to ap_entry32 in the image at 1 MiB, which takes the next free
 * 4 KiB stack and calls ap_main().
 */
#define CODE32 0x10
#define DATA32 0x18
#define AP_STACK_SIZE 4096

	.text
	.code16
	.globl tramp_start, tramp_end
tramp_start:
	cli
	cld
	mov %cs, %ax
	mov %ax, %ds
	lgdtl tramp_gdtr - tramp_start
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $CODE32, $ap_entry32
	.p2align 2
	.word 0
tramp_gdtr:
	.word 31		/* four descriptors, see pvh32.S */
	.long gdt
tramp_end:

	.code32
ap_entry32:
	mov $DATA32, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov $1, %eax
	lock xadd %eax, ap_stack_next
	cmp $SMP_MAX_APS, %eax
	jae 9f			/* more APs than stacks: park this one */
	inc %eax
	shl $12, %eax
	add $ap_stacks, %eax
	mov %eax, %esp
	call ap_main
9:	cli
	hlt
	jmp 9b

	.bss
	.p2align 2
	.globl ap_stack_next
ap_stack_next:
	.long 0

	.section .noinit, "aw", @nobits
	.p2align 12
ap_stacks:
	.skip SMP_MAX_APS * AP_STACK_SIZE

	.section .note.GNU-stack, "", @progbits
