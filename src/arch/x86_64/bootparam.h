/* SPDX-License-Identifier: MIT */
/*
 * The Linux x86 boot protocol's setup header and the offsets mica uses in
 * struct boot_params (the "zero page"), after
 * Documentation/arch/x86/boot.rst and zero-page.rst. Written from the
 * documented offsets, checked by _Static_assert.
 */
#ifndef MICA_ARCH_X86_64_BOOTPARAM_H
#define MICA_ARCH_X86_64_BOOTPARAM_H

#include <stddef.h>
#include <stdint.h>

#define SETUP_HEADER_OFFSET 0x1f1
#define SETUP_HDRS_MAGIC 0x53726448u /* "HdrS" */
#define SETUP_BOOT_FLAG 0xaa55

#define LOADFLAGS_LOADED_HIGH 0x01
#define LOADFLAGS_CAN_USE_HEAP 0x80
#define XLF_KERNEL_64 0x0001

struct setup_header {
	uint8_t setup_sects; /* 0x1f1 */
	uint16_t root_flags;
	uint32_t syssize;
	uint16_t ram_size;
	uint16_t vid_mode;
	uint16_t root_dev;
	uint16_t boot_flag; /* 0x1fe */
	uint16_t jump;
	uint32_t header; /* 0x202 */
	uint16_t version; /* 0x206 */
	uint32_t realmode_swtch;
	uint16_t start_sys_seg;
	uint16_t kernel_version;
	uint8_t type_of_loader; /* 0x210 */
	uint8_t loadflags;
	uint16_t setup_move_size;
	uint32_t code32_start; /* 0x214 */
	uint32_t ramdisk_image; /* 0x218 */
	uint32_t ramdisk_size;
	uint32_t bootsect_kludge;
	uint16_t heap_end_ptr; /* 0x224 */
	uint8_t ext_loader_ver;
	uint8_t ext_loader_type;
	uint32_t cmd_line_ptr; /* 0x228 */
	uint32_t initrd_addr_max; /* 0x22c */
	uint32_t kernel_alignment; /* 0x230 */
	uint8_t relocatable_kernel;
	uint8_t min_alignment;
	uint16_t xloadflags; /* 0x236 */
	uint32_t cmdline_size; /* 0x238 */
	uint32_t hardware_subarch;
	uint64_t hardware_subarch_data;
	uint32_t payload_offset; /* 0x248 */
	uint32_t payload_length;
	uint64_t setup_data; /* 0x250 */
	uint64_t pref_address; /* 0x258 */
	uint32_t init_size; /* 0x260 */
	uint32_t handover_offset;
	uint32_t kernel_info_offset; /* 0x268 */
} __attribute__((packed));

_Static_assert(sizeof(struct setup_header) == 0x26c - SETUP_HEADER_OFFSET,
	       "setup_header layout");
_Static_assert(offsetof(struct setup_header, cmdline_size) ==
		       0x238 - SETUP_HEADER_OFFSET,
	       "setup_header layout");

/* Offsets in struct boot_params (4096 bytes). */
#define BP_SIZE 0x1000
#define BP_ACPI_RSDP_ADDR 0x070 /* u64, protocol 2.14+ */
#define BP_EXT_RAMDISK_IMAGE 0x0c0 /* u32 */
#define BP_EXT_RAMDISK_SIZE 0x0c4 /* u32 */
#define BP_EXT_CMD_LINE_PTR 0x0c8 /* u32 */
#define BP_E820_ENTRIES 0x1e8 /* u8 */
#define BP_HDR SETUP_HEADER_OFFSET
#define BP_E820_TABLE 0x2d0 /* 128 x struct boot_e820_entry */
#define BP_E820_MAX 128

struct boot_e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

_Static_assert(sizeof(struct boot_e820_entry) == 20, "e820 entry layout");

#endif
