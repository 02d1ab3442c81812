/* SPDX-License-Identifier: MIT */
/*
 * The bzImage wrapping of the "long64" guest (see long64.c): the real-mode
 * setup sectors with a Linux boot-protocol 2.15 header, and the three
 * entries a Linux kernel has.
 *
 *  - 64-bit entry, code32_start + 0x200 (what mica uses): long mode, the
 *    VMM's identity map, RSI = boot_params. Sets a stack, zeroes .bss and
 *    calls main64(boot_params).
 *  - 32-bit entry, code32_start (0x100000): flat protected mode, ESI =
 *    boot_params. Builds its own identity map of 4 GiB with 2 MiB pages,
 *    enables long mode and jumps to the 64-bit entry. It marks
 *    entered_via_32 so the guest can tell which entry it came through.
 *  - real-mode entry, setup + 0x200 (what QEMU's linuxboot ROM uses):
 *    CS = setup segment + 0x20; enters protected mode and jumps to the
 *    32-bit entry with ESI = the setup segment's base (its boot_params).
 *
 * The setup part is linked at VMA 0 so that its labels are offsets from the
 * start of the image; bzimage.ld places it at LMA 1 MiB - 1 KiB so that
 * "objcopy -O binary" gives setup + protected-mode part back to back.
 */
#define CODE32 0x10
#define DATA32 0x18
#define CODE64 0x20

	.section .setup, "ax"
	.code16
setup_base:
	.org 0x1f1
	.byte 1				/* 0x1f1 setup_sects: 1 + boot sector */
	.word 0				/* 0x1f2 root_flags */
	.long SYSSIZE			/* 0x1f4 syssize, 16-byte units */
	.word 0				/* 0x1f8 ram_size */
	.word 0xffff			/* 0x1fa vid_mode: normal */
	.word 0				/* 0x1fc root_dev */
	.word 0xaa55			/* 0x1fe boot_flag */
	.byte 0xeb			/* 0x200 jump: jmp start_of_setup */
	.byte start_of_setup - 1f
1:	.ascii "HdrS"			/* 0x202 header */
	.word 0x020f			/* 0x206 version */
	.long 0				/* 0x208 realmode_swtch */
	.word 0x1000			/* 0x20c start_sys_seg */
	.word kernel_version - 0x200	/* 0x20e kernel_version */
	.byte 0				/* 0x210 type_of_loader */
	.byte 0x01			/* 0x211 loadflags: LOADED_HIGH */
	.word 0x8000			/* 0x212 setup_move_size */
	.long 0x100000			/* 0x214 code32_start */
	.long 0				/* 0x218 ramdisk_image */
	.long 0				/* 0x21c ramdisk_size */
	.long 0				/* 0x220 bootsect_kludge */
	.word 0				/* 0x224 heap_end_ptr */
	.byte 0				/* 0x226 ext_loader_ver */
	.byte 0				/* 0x227 ext_loader_type */
	.long 0				/* 0x228 cmd_line_ptr */
	.long 0x7fffffff		/* 0x22c initrd_addr_max */
	.long 0x100000			/* 0x230 kernel_alignment */
	.byte 0				/* 0x234 relocatable_kernel */
	.byte 12			/* 0x235 min_alignment (log2) */
	.word 0x0001			/* 0x236 xloadflags: XLF_KERNEL_64 */
	.long 4095			/* 0x238 cmdline_size */
	.long 0				/* 0x23c hardware_subarch */
	.quad 0				/* 0x240 hardware_subarch_data */
	.long 0				/* 0x248 payload_offset */
	.long 0				/* 0x24c payload_length */
	.quad 0				/* 0x250 setup_data */
	.quad 0x100000			/* 0x258 pref_address */
	.long INIT_SIZE			/* 0x260 init_size */
	.long 0				/* 0x264 handover_offset */
	.long 0				/* 0x268 kernel_info_offset */
	.globl setup_hdr_end
setup_hdr_end:				/* bzimage.ld checks it is 0x26c */

start_of_setup:
	cli
	cld
	mov %cs, %ax
	sub $0x20, %ax
	mov %ax, %ds
	movzwl %ax, %esi
	shll $4, %esi			/* boot_params: the setup itself */
	lgdtl setup_gdtr
	mov %cr0, %eax
	orb $1, %al
	mov %eax, %cr0
	ljmpl $CODE32, $startup_32

	.p2align 2
	.word 0
setup_gdtr:
	.word 39			/* five descriptors */
	.long gdt
kernel_version:
	.asciz "mica long64 test guest"

	.section .text.head, "ax"
	.code32
	.globl startup_32
startup_32:
	cli
	cld
	mov $DATA32, %eax		/* flat data first: lgdt reads via DS */
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	lgdt gdt_desc
	ljmp $CODE32, $1f
1:
	movl $1, entered_via_32
	mov $pt_pml4, %edi		/* PML4 and PDPT pages */
	mov $2048, %ecx
	xor %eax, %eax
	rep stosl
	mov $pt_pdpt + 3, %eax
	mov %eax, pt_pml4
	mov $pt_pd + 3, %eax
	mov %eax, pt_pdpt
	add $4096, %eax
	mov %eax, pt_pdpt + 8
	add $4096, %eax
	mov %eax, pt_pdpt + 16
	add $4096, %eax
	mov %eax, pt_pdpt + 24
	mov $pt_pd, %edi		/* 2048 x 2 MiB = 4 GiB */
	mov $0x83, %eax			/* present, writable, large */
	mov $2048, %ecx
2:	mov %eax, (%edi)
	movl $0, 4(%edi)
	add $0x200000, %eax
	add $8, %edi
	loop 2b
	mov %cr4, %eax
	or $0x20, %eax			/* PAE */
	mov %eax, %cr4
	mov $pt_pml4, %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx		/* EFER.LME */
	rdmsr
	or $0x100, %eax
	wrmsr
	mov %cr0, %eax
	or $0x80000000, %eax		/* PG */
	mov %eax, %cr0
	ljmp $CODE64, $startup_64

	.org 0x200
	.code64
	.globl startup_64
startup_64:
	mov $stack_top, %esp		/* the entry ABI gives no stack */
	pushfq
	pop %rax
	mov %rax, entry_rflags		/* before cli: IF must be clear */
	cli
	cld
	mov %rsi, %rbx
	mov $__bss_start, %edi
	mov $__bss_end, %ecx
	sub %edi, %ecx
	xor %eax, %eax
	rep stosb
	mov %rbx, %rdi
	call main64
	mov %eax, %edi
	call guest_exit
3:	cli
	hlt
	jmp 3b

	.data
	.globl entered_via_32, entry_rflags
entered_via_32:
	.long 0
	.p2align 3
entry_rflags:
	.quad 0
	.p2align 3
gdt:
	.quad 0
	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x10: code, 32-bit */
	.quad 0x00cf92000000ffff	/* 0x18: data */
	.quad 0x00af9a000000ffff	/* 0x20: code, 64-bit */
gdt_end:
	.p2align 2
	.word 0
gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt

	.section .noinit, "aw", @nobits
	.p2align 12
pt_pml4:
	.skip 4096
pt_pdpt:
	.skip 4096
pt_pd:
	.skip 4 * 4096

	.section .note.GNU-stack, "", @progbits
