/* SPDX-License-Identifier: MIT */
/*
 * Booting a kernel: loading it into guest memory (bzimage.c, pvh.c), the
 * initrd, and the boot CPU's state at the entry point.
 */
#ifndef MICA_ARCH_X86_64_BOOT_H
#define MICA_ARCH_X86_64_BOOT_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/e820.h"
#include "vm/guest_mem.h"

enum boot_mode {
	BOOT_MODE_LONG64, /* Linux 64-bit boot protocol: paging on */
	BOOT_MODE_PROT32, /* PVH: 32-bit protected mode, paging off */
};

struct boot_entry {
	enum boot_mode mode;
	uint64_t rip;
	uint64_t rsi; /* LONG64: boot_params */
	uint64_t rbx; /* PROT32: hvm_start_info */
};

/* What a loader needs; filled by the VM. Holds no guest pointers. */
struct boot_image {
	const uint8_t *kernel; /* the whole kernel file */
	size_t kernel_size;
	int initrd_fd; /* -1 for none */
	uint64_t initrd_size;
	const char *cmdline;
	const struct e820_entry *e820;
	unsigned int nr_e820;
	uint64_t low_ram_end; /* end of RAM below 4 GiB */
	gpa_t rsdp;
	char err[256]; /* why loading failed, for the user */
	bool err_initrd; /* err is about the initrd, not the kernel */
};

/* Stores the message in img->err and returns rc. */
int boot_fail(struct boot_image *img, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Loads a bzImage or a PVH ELF. Returns 0, or -errno with img->err set. */
int boot_load_kernel(const struct guest_mem *gm, struct boot_image *img,
		     struct boot_entry *entry);

/* Format-specific loaders, used by boot_load_kernel(). */
int bzimage_load(const struct guest_mem *gm, struct boot_image *img,
		 struct boot_entry *entry);
int pvh_load(const struct guest_mem *gm, struct boot_image *img,
	     struct boot_entry *entry);

/*
 * Places the initrd at the highest page-aligned address such that it ends at
 * or below limit and starts at or above floor, and reads it there.
 * Returns 0 with *gpa set, or -errno with img->err set.
 */
int boot_load_initrd(const struct guest_mem *gm, struct boot_image *img,
		     gpa_t floor, gpa_t limit, gpa_t *gpa);

/* Writes the kernel command line at LAYOUT_CMDLINE. */
int boot_write_cmdline(const struct guest_mem *gm, struct boot_image *img,
		       uint64_t max_len);

/* GDT and (for LONG64) identity page tables, written into guest memory. */
int boot_write_cpu_tables(const struct guest_mem *gm, enum boot_mode mode);
/* Boot CPU registers for the entry; sregs must hold KVM's reset state. */
void boot_setup_sregs(struct kvm_sregs *sregs, enum boot_mode mode);
void boot_setup_regs(struct kvm_regs *regs, const struct boot_entry *entry);

#endif
