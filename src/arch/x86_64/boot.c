// SPDX-License-Identifier: MIT
/*
 * Kernel format detection, the initrd and command line, and the boot CPU's
 * entry state: the GDT, the identity page tables of the 64-bit boot protocol
 * (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol") and the 32-bit
 * flat protected mode of the PVH ABI (xen/include/public/arch-x86/
 * hvm/start_info.h). Inputs are the user's files; nothing is guest-controlled.
 */
#include "arch/x86_64/boot.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86_64/bootparam.h"
#include "arch/x86_64/layout.h"

#define SEL_CODE 0x10
#define SEL_DATA 0x18

#define CR0_PE (1ull << 0)
#define CR0_ET (1ull << 4)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)

#define PTE_PRESENT 0x1ull
#define PTE_RW 0x2ull
#define PTE_PS 0x80ull

int boot_fail(struct boot_image *img, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(img->err, sizeof(img->err), fmt, ap);
	va_end(ap);
	return rc;
}

int boot_load_kernel(const struct guest_mem *gm, struct boot_image *img,
		     struct boot_entry *entry)
{
	static const uint8_t elf_magic[4] = { 0x7f, 'E', 'L', 'F' };
	uint32_t hdrs;

	img->err[0] = '\0';
	img->err_initrd = false;
	if (img->kernel_size >= sizeof(elf_magic) &&
	    !memcmp(img->kernel, elf_magic, sizeof(elf_magic)))
		return pvh_load(gm, img, entry);
	if (img->kernel_size >= 0x206) {
		memcpy(&hdrs, img->kernel + 0x202, sizeof(hdrs));
		if (hdrs == SETUP_HDRS_MAGIC)
			return bzimage_load(gm, img, entry);
	}
	return boot_fail(
		img, -ENOEXEC,
		"not a Linux bzImage (no \"HdrS\" boot header) nor an ELF "
		"kernel with a PVH entry point");
}

static int load_initrd(const struct guest_mem *gm, struct boot_image *img,
		       gpa_t floor, gpa_t limit, gpa_t *gpa)
{
	uint64_t size = img->initrd_size, done = 0;
	uint8_t *dst;
	gpa_t start;

	if (limit > img->low_ram_end)
		limit = img->low_ram_end;
	if (size == 0)
		return boot_fail(img, -EINVAL, "initrd is empty");
	if (size > limit || ((limit - size) & ~0xfffull) < floor)
		return boot_fail(
			img, -E2BIG,
			"initrd (%llu MiB) does not fit in guest memory "
			"below %llu MiB beside the kernel; give the guest "
			"more --memory",
			(unsigned long long)(size >> 20),
			(unsigned long long)(limit >> 20));
	start = (limit - size) & ~0xfffull;
	dst = gm_ptr(gm, start, size);
	if (!dst)
		return boot_fail(img, -E2BIG,
				 "initrd does not fit in guest RAM");
	while (done < size) {
		ssize_t n = pread(img->initrd_fd, dst + done,
				  size - done > (1u << 30) ? (1u << 30) :
							     size - done,
				  (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return boot_fail(img, -errno, "reading initrd: %s",
					 strerror(errno));
		if (n == 0)
			return boot_fail(img, -EIO,
					 "initrd shrank while reading it");
		done += (uint64_t)n;
	}
	*gpa = start;
	return 0;
}

int boot_load_initrd(const struct guest_mem *gm, struct boot_image *img,
		     gpa_t floor, gpa_t limit, gpa_t *gpa)
{
	int rc = load_initrd(gm, img, floor, limit, gpa);

	if (rc)
		img->err_initrd = true;
	return rc;
}

int boot_write_cmdline(const struct guest_mem *gm, struct boot_image *img,
		       uint64_t max_len)
{
	size_t len = strlen(img->cmdline);

	if (max_len > LAYOUT_CMDLINE_MAX - 1)
		max_len = LAYOUT_CMDLINE_MAX - 1;
	if (len > max_len)
		return boot_fail(
			img, -E2BIG,
			"command line is %zu bytes, this kernel accepts at "
			"most %llu",
			len, (unsigned long long)max_len);
	if (gm_write(gm, LAYOUT_CMDLINE, img->cmdline, len + 1))
		return boot_fail(img, -EFAULT,
				 "no guest RAM for the command line");
	return 0;
}

int boot_write_cpu_tables(const struct guest_mem *gm, enum boot_mode mode)
{
	/* Flat segments: null, null, code (0x10), data (0x18). */
	const uint64_t gdt[4] = {
		0,
		0,
		mode == BOOT_MODE_LONG64 ? 0x00af9b000000ffffull :
					   0x00cf9b000000ffffull,
		0x00cf93000000ffffull,
	};
	uint64_t *pml4, *pdpt, *pd;
	unsigned int i;

	if (gm_write(gm, LAYOUT_GDT, gdt, sizeof(gdt)))
		return -EFAULT;
	if (mode != BOOT_MODE_LONG64)
		return 0;

	/* Identity map of the first 4 GiB with 2 MiB pages. */
	pml4 = gm_ptr(gm, LAYOUT_PML4, 4096);
	pdpt = gm_ptr(gm, LAYOUT_PDPT, 4096);
	pd = gm_ptr(gm, LAYOUT_PD, 4 * 4096);
	if (!pml4 || !pdpt || !pd)
		return -EFAULT;
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = LAYOUT_PDPT | PTE_PRESENT | PTE_RW;
	for (i = 0; i < 4; i++)
		pdpt[i] = (LAYOUT_PD + i * 4096ull) | PTE_PRESENT | PTE_RW;
	for (i = 0; i < 4 * 512; i++)
		pd[i] = ((uint64_t)i << 21) | PTE_PRESENT | PTE_RW | PTE_PS;
	return 0;
}

static void flat_segment(struct kvm_segment *seg, uint16_t selector,
			 uint8_t type, bool code64)
{
	*seg = (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = selector,
		.type = type,
		.present = 1,
		.dpl = 0,
		.db = code64 ? 0 : 1,
		.s = 1,
		.l = code64 ? 1 : 0,
		.g = 1,
	};
}

void boot_setup_sregs(struct kvm_sregs *sregs, enum boot_mode mode)
{
	bool long64 = mode == BOOT_MODE_LONG64;

	/* TR and LDT keep KVM's reset values, which are valid for entry. */
	flat_segment(&sregs->cs, SEL_CODE, 0xb, long64);
	flat_segment(&sregs->ds, SEL_DATA, 0x3, false);
	sregs->es = sregs->fs = sregs->gs = sregs->ss = sregs->ds;
	sregs->gdt.base = LAYOUT_GDT;
	sregs->gdt.limit = 4 * 8 - 1;
	sregs->idt.base = 0;
	sregs->idt.limit = 0;
	sregs->cr0 = CR0_PE | CR0_ET;
	sregs->cr4 = 0;
	sregs->efer = 0;
	if (long64) {
		sregs->cr0 |= CR0_PG;
		sregs->cr3 = LAYOUT_PML4;
		sregs->cr4 = CR4_PAE;
		sregs->efer = EFER_LME | EFER_LMA;
	}
}

void boot_setup_regs(struct kvm_regs *regs, const struct boot_entry *entry)
{
	memset(regs, 0, sizeof(*regs));
	regs->rflags = 0x2; /* reserved bit 1; interrupts off */
	regs->rip = entry->rip;
	regs->rsi = entry->rsi;
	regs->rbx = entry->rbx;
	/* A small stack below the page tables, for kernels that push early. */
	regs->rsp = LAYOUT_PML4;
	regs->rbp = LAYOUT_PML4;
}
