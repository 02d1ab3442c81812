// SPDX-License-Identifier: MIT
/*
 * Tests of the boot CPU state and common boot steps
 * (src/arch/x86_64/boot.c): the GDT and identity page tables are read back
 * and walked as the CPU would, the segment registers are checked against the
 * GDT they claim to come from, and the command line, initrd placement and
 * kernel-format detection are checked for their limits and messages.
 */
#include "unit/test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "arch/x86_64/boot.h"
#include "arch/x86_64/layout.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)

static int make_gm(struct guest_mem *gm, uint64_t size)
{
	struct gm_range r = { .gpa = 0, .size = size };

	return gm_alloc(gm, &r, 1);
}

static uint64_t rd64(const struct guest_mem *gm, gpa_t gpa)
{
	uint64_t v = 0xdeadbeefdeadbeefull;

	if (gm_read(gm, gpa, &v, sizeof(v)))
		test_fail(__FILE__, __LINE__, "cannot read gpa 0x%llx",
			  (unsigned long long)gpa);
	return v;
}

/* A GDT descriptor, decoded (Intel SDM vol. 3A 3.4.5). */
struct desc {
	uint32_t base, limit;
	unsigned int type, s, dpl, p, avl, l, db, g;
};

static struct desc decode(uint64_t d)
{
	return (struct desc){
		.limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000)),
		.base = (uint32_t)(((d >> 16) & 0xffffff) |
				   ((d >> 32) & 0xff000000)),
		.type = (unsigned int)(d >> 40) & 0xf,
		.s = (unsigned int)(d >> 44) & 1,
		.dpl = (unsigned int)(d >> 45) & 3,
		.p = (unsigned int)(d >> 47) & 1,
		.avl = (unsigned int)(d >> 52) & 1,
		.l = (unsigned int)(d >> 53) & 1,
		.db = (unsigned int)(d >> 54) & 1,
		.g = (unsigned int)(d >> 55) & 1,
	};
}

/* The cached segment state must be what loading the selector would give. */
static void check_seg_matches_gdt(int line, const struct guest_mem *gm,
				  const struct kvm_segment *seg)
{
	struct desc d = decode(rd64(gm, LAYOUT_GDT + (seg->selector & ~7u)));
	uint32_t limit = d.g ? (d.limit << 12) | 0xfff : d.limit;

	if (seg->selector & 7)
		test_fail(__FILE__, line, "selector 0x%x has TI/RPL bits",
			  seg->selector);
	/* KVM and the CPU keep the accessed bit set in the cache. */
	if (seg->base != d.base || seg->limit != limit ||
	    (seg->type | 1) != (d.type | 1) || seg->s != d.s ||
	    seg->dpl != d.dpl || seg->present != d.p || seg->l != d.l ||
	    seg->db != d.db || seg->g != d.g)
		test_fail(__FILE__, line,
			  "segment 0x%x differs from its GDT descriptor",
			  seg->selector);
}

static void gdt_for_mode(enum boot_mode mode)
{
	struct guest_mem gm;
	struct desc code, data;

	CHECK_EQ(make_gm(&gm, 16 * MiB), 0);
	memset(gm.regions[0].host + LAYOUT_GDT, 0xcc, 64);
	CHECK_EQ(boot_write_cpu_tables(&gm, mode), 0);

	CHECK_EQ(rd64(&gm, LAYOUT_GDT + 0), 0);
	CHECK_EQ(rd64(&gm, LAYOUT_GDT + 8), 0);
	code = decode(rd64(&gm, LAYOUT_GDT + 0x10));
	data = decode(rd64(&gm, LAYOUT_GDT + 0x18));

	/* Flat 4 GiB code: execute/read, present, ring 0, 4 KiB units. */
	CHECK_EQ(code.base, 0);
	CHECK_EQ(code.limit, 0xfffff);
	CHECK_EQ(code.g, 1);
	CHECK_EQ(code.type & 0xa, 0xa);
	CHECK_EQ(code.s, 1);
	CHECK_EQ(code.dpl, 0);
	CHECK_EQ(code.p, 1);
	if (mode == BOOT_MODE_LONG64) {
		CHECK_EQ(code.l, 1);
		CHECK_EQ(code.db, 0); /* L=1 requires D=0 */
	} else {
		CHECK_EQ(code.l, 0);
		CHECK_EQ(code.db, 1);
	}
	/* Flat 4 GiB data: read/write, 32-bit. */
	CHECK_EQ(data.base, 0);
	CHECK_EQ(data.limit, 0xfffff);
	CHECK_EQ(data.g, 1);
	CHECK_EQ(data.type & 0xa, 0x2);
	CHECK_EQ(data.s, 1);
	CHECK_EQ(data.dpl, 0);
	CHECK_EQ(data.p, 1);
	CHECK_EQ(data.l, 0);
	CHECK_EQ(data.db, 1);
	/* Nothing written after the four descriptors. */
	CHECK_EQ(rd64(&gm, LAYOUT_GDT + 0x20), 0xccccccccccccccccull);
	gm_free(&gm);
}

static void gdt_long64(void)
{
	gdt_for_mode(BOOT_MODE_LONG64);
}

static void gdt_prot32(void)
{
	gdt_for_mode(BOOT_MODE_PROT32);
}

#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_US 0x4ull
#define PTE_PS 0x80ull
#define PTE_ADDR 0x000ffffffffff000ull

/*
 * Translates va through the 4-level tables at cr3 like the CPU does.
 * Returns false for a non-present entry or a reserved bit set.
 */
static bool walk(const struct guest_mem *gm, uint64_t cr3, uint64_t va,
		 uint64_t *pa)
{
	uint64_t pml4e, pdpte, pde;

	pml4e = rd64(gm, (cr3 & PTE_ADDR) + ((va >> 39) & 511) * 8);
	if (!(pml4e & PTE_P) || !(pml4e & PTE_RW) || (pml4e & PTE_PS))
		return false;
	pdpte = rd64(gm, (pml4e & PTE_ADDR) + ((va >> 30) & 511) * 8);
	if (!(pdpte & PTE_P) || !(pdpte & PTE_RW) || (pdpte & PTE_PS))
		return false;
	pde = rd64(gm, (pdpte & PTE_ADDR) + ((va >> 21) & 511) * 8);
	if (!(pde & PTE_P) || !(pde & PTE_RW))
		return false;
	/* 2 MiB pages only; bits 20:13 are reserved in a 2 MiB PDE. */
	if (!(pde & PTE_PS) || (pde & 0x1fe000ull))
		return false;
	/* Supervisor-only, and no bits above a 4 GiB physical address. */
	if ((pml4e | pdpte | pde) & PTE_US)
		return false;
	*pa = (pde & 0x000fffffffe00000ull) | (va & 0x1fffffull);
	return true;
}

static void page_tables_identity_map_4g(void)
{
	static const uint64_t addrs[] = {
		0,	    0x7000,	0x100200,   0x1234567,	0x3fffffff,
		0x40000000, 0x7fffffff, 0xbfffffff, 0xc0000000, 0xc0012345,
		0xfebff000, 0xfee00300, 0xfffffff8, 0xffffffff,
	};
	struct kvm_sregs sregs;
	struct guest_mem gm;
	uint64_t pa, va;
	unsigned int i, bad = 0;

	CHECK_EQ(make_gm(&gm, 16 * MiB), 0);
	/* Stale data where the tables go must not survive. */
	memset(gm.regions[0].host + LAYOUT_PML4, 0xff, 0x6000);
	CHECK_EQ(boot_write_cpu_tables(&gm, BOOT_MODE_LONG64), 0);
	memset(&sregs, 0, sizeof(sregs));
	boot_setup_sregs(&sregs, BOOT_MODE_LONG64);
	CHECK_EQ(sregs.cr3, LAYOUT_PML4);

	for (i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		if (!walk(&gm, sregs.cr3, addrs[i], &pa) || pa != addrs[i]) {
			test_fail(__FILE__, __LINE__,
				  "va 0x%llx does not map to itself",
				  (unsigned long long)addrs[i]);
			bad++;
		}
	}
	/* Every 2 MiB page of the first 4 GiB, mid-page. */
	for (va = 0x1000; va < LAYOUT_4G; va += 2 * MiB)
		if (!walk(&gm, sregs.cr3, va, &pa) || pa != va)
			bad++;
	CHECK_EQ(bad, 0);

	/* Nothing above 4 GiB, nor in the upper half. */
	CHECK(!walk(&gm, sregs.cr3, LAYOUT_4G, &pa));
	CHECK(!walk(&gm, sregs.cr3, 511ull << 30, &pa));
	CHECK(!walk(&gm, sregs.cr3, 1ull << 39, &pa));
	CHECK(!walk(&gm, sregs.cr3, 0xffffffff80000000ull, &pa));

	/* The tables and the GDT do not overlap each other. */
	CHECK(LAYOUT_GDT + 32 <= LAYOUT_PML4);
	CHECK(LAYOUT_PD + 4 * 4096 <= LAYOUT_CMDLINE);
	gm_free(&gm);
}

static void prot32_writes_no_page_tables(void)
{
	struct guest_mem gm;
	unsigned int i, bad = 0;

	CHECK_EQ(make_gm(&gm, 16 * MiB), 0);
	CHECK_EQ(boot_write_cpu_tables(&gm, BOOT_MODE_PROT32), 0);
	for (i = 0; i < 6 * 4096; i++)
		bad += gm.regions[0].host[LAYOUT_PML4 + i] != 0;
	CHECK_EQ(bad, 0);
	gm_free(&gm);
}

static void cpu_tables_need_low_ram(void)
{
	struct gm_range high = { .gpa = 1 * MiB, .size = 16 * MiB };
	struct gm_range tiny = { .gpa = 0, .size = 0xa000 };
	struct guest_mem gm;

	CHECK_EQ(gm_alloc(&gm, &high, 1), 0);
	CHECK_EQ(boot_write_cpu_tables(&gm, BOOT_MODE_LONG64), -EFAULT);
	CHECK_EQ(boot_write_cpu_tables(&gm, BOOT_MODE_PROT32), -EFAULT);
	gm_free(&gm);
	/* Room for the GDT and PML4 but not the PDs. */
	CHECK_EQ(gm_alloc(&gm, &tiny, 1), 0);
	CHECK_EQ(boot_write_cpu_tables(&gm, BOOT_MODE_LONG64), -EFAULT);
	CHECK_EQ(boot_write_cpu_tables(&gm, BOOT_MODE_PROT32), 0);
	gm_free(&gm);
}

/* Something like KVM's reset state, with recognisable TR and LDT. */
static void reset_sregs(struct kvm_sregs *s)
{
	memset(s, 0, sizeof(*s));
	s->cs = (struct kvm_segment){ .base = 0xffff0000,
				      .limit = 0xffff,
				      .selector = 0xf000,
				      .type = 0xb,
				      .present = 1,
				      .s = 1 };
	s->tr = (struct kvm_segment){
		.limit = 0xffff, .type = 0xb, .present = 1, .selector = 0x1234
	};
	s->ldt = (struct kvm_segment){
		.limit = 0xffff, .type = 0x2, .present = 1, .selector = 0x4321
	};
	s->cr0 = 0x60000010;
	s->apic_base = 0xfee00900;
}

static void sregs_long64(void)
{
	struct kvm_sregs s;
	struct guest_mem gm;

	CHECK_EQ(make_gm(&gm, 16 * MiB), 0);
	CHECK_EQ(boot_write_cpu_tables(&gm, BOOT_MODE_LONG64), 0);
	reset_sregs(&s);
	boot_setup_sregs(&s, BOOT_MODE_LONG64);

	CHECK(s.cr0 & 1); /* PE */
	CHECK(s.cr0 & (1ull << 31)); /* PG */
	CHECK(!(s.cr0 & (3ull << 29))); /* caches on: CD and NW clear */
	CHECK(s.cr4 & (1ull << 5)); /* PAE */
	CHECK_EQ(s.cr3, LAYOUT_PML4);
	CHECK(s.efer & (1ull << 8)); /* LME */
	CHECK(s.efer & (1ull << 10)); /* LMA */
	CHECK_EQ(s.cs.l, 1);
	CHECK_EQ(s.cs.db, 0);
	CHECK_EQ(s.cs.selector, 0x10);
	CHECK_EQ(s.gdt.base, LAYOUT_GDT);
	CHECK_EQ(s.gdt.limit, 31);
	check_seg_matches_gdt(__LINE__, &gm, &s.cs);
	check_seg_matches_gdt(__LINE__, &gm, &s.ds);
	check_seg_matches_gdt(__LINE__, &gm, &s.es);
	check_seg_matches_gdt(__LINE__, &gm, &s.ss);
	check_seg_matches_gdt(__LINE__, &gm, &s.fs);
	check_seg_matches_gdt(__LINE__, &gm, &s.gs);
	CHECK_EQ(s.ds.selector, 0x18);
	CHECK_EQ(s.ss.selector, 0x18);
	/* TR, LDT and the APIC base are KVM's. */
	CHECK_EQ(s.tr.selector, 0x1234);
	CHECK_EQ(s.ldt.selector, 0x4321);
	CHECK_EQ(s.apic_base, 0xfee00900);
	gm_free(&gm);
}

static void sregs_prot32(void)
{
	struct kvm_sregs s;
	struct guest_mem gm;

	CHECK_EQ(make_gm(&gm, 16 * MiB), 0);
	CHECK_EQ(boot_write_cpu_tables(&gm, BOOT_MODE_PROT32), 0);
	reset_sregs(&s);
	/* Leftovers from an earlier 64-bit boot must be cleared. */
	s.cr4 = 1ull << 5;
	s.efer = (1ull << 8) | (1ull << 10);
	s.cr0 |= 1ull << 31;
	boot_setup_sregs(&s, BOOT_MODE_PROT32);

	CHECK_EQ(s.cr0 & 1, 1); /* PE only: no paging */
	CHECK_EQ(s.cr0 & (1ull << 31), 0);
	CHECK(!(s.cr0 & (3ull << 29)));
	CHECK_EQ(s.cr4 & (1ull << 5), 0);
	CHECK_EQ(s.efer & ((1ull << 8) | (1ull << 10)), 0);
	CHECK_EQ(s.cs.l, 0);
	CHECK_EQ(s.cs.db, 1);
	CHECK_EQ(s.cs.selector, 0x10);
	check_seg_matches_gdt(__LINE__, &gm, &s.cs);
	check_seg_matches_gdt(__LINE__, &gm, &s.ds);
	check_seg_matches_gdt(__LINE__, &gm, &s.ss);
	check_seg_matches_gdt(__LINE__, &gm, &s.es);
	check_seg_matches_gdt(__LINE__, &gm, &s.fs);
	check_seg_matches_gdt(__LINE__, &gm, &s.gs);
	CHECK_EQ(s.tr.selector, 0x1234);
	gm_free(&gm);
}

static void regs_from_entry(void)
{
	struct boot_entry e = {
		.mode = BOOT_MODE_LONG64,
		.rip = 0x100200,
		.rsi = LAYOUT_ZERO_PAGE,
		.rbx = 0x1122334455667788ull,
	};
	struct kvm_regs r;

	memset(&r, 0xa5, sizeof(r));
	boot_setup_regs(&r, &e);
	CHECK_EQ(r.rip, 0x100200);
	CHECK_EQ(r.rsi, LAYOUT_ZERO_PAGE);
	CHECK_EQ(r.rbx, 0x1122334455667788ull);
	CHECK_EQ(r.rflags, 0x2); /* bit 1 set; IF, TF, DF clear */
	CHECK_EQ(r.rax, 0);
	CHECK_EQ(r.rcx, 0);
	CHECK_EQ(r.rdx, 0);
	CHECK_EQ(r.rdi, 0);
	CHECK_EQ(r.r8, 0);
	CHECK_EQ(r.r15, 0);
	/* The stack, if any, is in low RAM and below the page tables. */
	CHECK(r.rsp <= LAYOUT_PML4);
	CHECK(r.rsp > LAYOUT_GDT + 32);

	e = (struct boot_entry){ .mode = BOOT_MODE_PROT32,
				 .rip = 0x1000000,
				 .rbx = LAYOUT_PVH_START_INFO };
	boot_setup_regs(&r, &e);
	CHECK_EQ(r.rip, 0x1000000);
	CHECK_EQ(r.rbx, LAYOUT_PVH_START_INFO);
	CHECK_EQ(r.rsi, 0);
	CHECK_EQ(r.rflags, 0x2);
}

static void init_img(struct boot_image *img, const char *cmdline)
{
	memset(img, 0, sizeof(*img));
	img->initrd_fd = -1;
	img->cmdline = cmdline;
	img->low_ram_end = 64 * MiB;
}

static void cmdline_limits(void)
{
	const size_t max = LAYOUT_CMDLINE_MAX - 1;
	char *line = malloc(max + 2);
	struct boot_image img;
	struct guest_mem gm;
	const char *dst;

	CHECK(line != NULL);
	if (!line)
		return;
	CHECK_EQ(make_gm(&gm, 64 * MiB), 0);
	dst = (const char *)gm.regions[0].host + LAYOUT_CMDLINE;

	init_img(&img, "console=ttyS0 root=/dev/vda");
	memset(gm.regions[0].host + LAYOUT_CMDLINE, 'z', 64);
	CHECK_EQ(boot_write_cmdline(&gm, &img, 255), 0);
	CHECK_STR(dst, "console=ttyS0 root=/dev/vda");

	/* Exactly the kernel's limit, then one more. */
	memset(line, 'a', 255);
	line[255] = '\0';
	init_img(&img, line);
	CHECK_EQ(boot_write_cmdline(&gm, &img, 255), 0);
	CHECK_EQ(strlen(dst), 255);
	line[255] = 'b';
	line[256] = '\0';
	CHECK_EQ(boot_write_cmdline(&gm, &img, 255), -E2BIG);
	CHECK(strstr(img.err, "256") != NULL);
	CHECK(strstr(img.err, "255") != NULL);
	CHECK(strstr(img.err, "command line") != NULL);

	/* The empty line, and a kernel that takes none at all. */
	init_img(&img, "");
	CHECK_EQ(boot_write_cmdline(&gm, &img, 0), 0);
	CHECK_EQ(dst[0], '\0');
	init_img(&img, "x");
	CHECK_EQ(boot_write_cmdline(&gm, &img, 0), -E2BIG);

	/* mica's own 64 KiB cap applies whatever the kernel says. */
	memset(line, 'c', max);
	line[max] = '\0';
	init_img(&img, line);
	CHECK_EQ(boot_write_cmdline(&gm, &img, UINT64_MAX), 0);
	CHECK_EQ(strlen(dst), max);
	line[max] = 'c';
	line[max + 1] = '\0';
	CHECK_EQ(boot_write_cmdline(&gm, &img, UINT64_MAX), -E2BIG);
	CHECK_EQ(boot_write_cmdline(&gm, &img, 1ull << 32), -E2BIG);
	gm_free(&gm);

	/* RAM that ends inside the command-line area. */
	{
		struct gm_range r = { 0, LAYOUT_CMDLINE + 0x1000 };

		CHECK_EQ(gm_alloc(&gm, &r, 1), 0);
		memset(line, 'd', 0x1000);
		line[0x1000] = '\0';
		init_img(&img, line);
		CHECK_EQ(boot_write_cmdline(&gm, &img, 0x2000), -EFAULT);
		CHECK(img.err[0] != '\0');
		line[0xfff] = '\0';
		CHECK_EQ(boot_write_cmdline(&gm, &img, 0x2000), 0);
		gm_free(&gm);
	}
	free(line);
}

/* Writes a patterned initrd of size bytes and opens it. */
static int make_initrd(size_t size, uint8_t **data)
{
	const char *path;
	size_t i;
	int fd;

	*data = malloc(size ? size : 1);
	if (!*data)
		return -1;
	for (i = 0; i < size; i++)
		(*data)[i] = (uint8_t)(i * 131 + (i >> 12));
	path = test_tmpfile("initrd.img", *data, size);
	if (!path)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd;
}

static void initrd_placed_at_top(void)
{
	const size_t size = 3 * 4096 + 123;
	struct boot_image img;
	struct guest_mem gm;
	uint8_t *data;
	gpa_t gpa = 0;
	int fd = make_initrd(size, &data);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_EQ(make_gm(&gm, 64 * MiB), 0);
	init_img(&img, "");
	img.initrd_fd = fd;
	img.initrd_size = size;

	/* Limit above RAM: the top of RAM bounds it. */
	CHECK_EQ(boot_load_initrd(&gm, &img, 2 * MiB, 0x38000000, &gpa), 0);
	CHECK_EQ(gpa & 0xfff, 0);
	CHECK(gpa + size <= 64 * MiB);
	CHECK(gpa + size > 64 * MiB - 4096); /* as high as it goes */
	CHECK_EQ(gpa, (64 * MiB - size) & ~0xfffull);
	CHECK(!memcmp(gm.regions[0].host + gpa, data, size));

	/* An unaligned limit inside RAM. */
	memset(gm.regions[0].host, 0, 64 * MiB);
	CHECK_EQ(boot_load_initrd(&gm, &img, 2 * MiB, 32 * MiB + 0x800, &gpa),
		 0);
	CHECK_EQ(gpa & 0xfff, 0);
	CHECK(gpa + size <= 32 * MiB + 0x800);
	CHECK(gpa + size > 32 * MiB + 0x800 - 4096);
	CHECK(!memcmp(gm.regions[0].host + gpa, data, size));
	/* Nothing around it was written. */
	CHECK_EQ(gm.regions[0].host[gpa - 1], 0);
	CHECK_EQ(gm.regions[0].host[gpa + size], 0);

	/* A window exactly as big as the (page-rounded) initrd. */
	CHECK_EQ(boot_load_initrd(&gm, &img, 8 * MiB, 8 * MiB + 4 * 4096, &gpa),
		 0);
	CHECK_EQ(gpa, 8 * MiB);
	CHECK(!memcmp(gm.regions[0].host + gpa, data, size));
	close(fd);
	free(data);
	gm_free(&gm);
}

static void initrd_errors(void)
{
	const size_t size = 2 * 4096;
	struct boot_image img;
	struct guest_mem gm;
	uint8_t *data;
	gpa_t gpa = 0x5a5a;
	int fd = make_initrd(size, &data);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_EQ(make_gm(&gm, 64 * MiB), 0);
	init_img(&img, "");
	img.initrd_fd = fd;

	/* Bigger than the window above the kernel. */
	img.initrd_size = 63 * MiB;
	CHECK(!img.err_initrd);
	CHECK_EQ(boot_load_initrd(&gm, &img, 2 * MiB, 0x38000000, &gpa),
		 -E2BIG);
	CHECK(!strncmp(img.err, "initrd", 6));
	CHECK(img.err_initrd); /* so the VM names --initrd, not --kernel */
	CHECK(strstr(img.err, "--memory") != NULL);
	/* Bigger than the limit itself, or than all of memory. */
	img.err[0] = '\0';
	img.initrd_size = 32 * MiB + 1;
	CHECK_EQ(boot_load_initrd(&gm, &img, 0, 32 * MiB, &gpa), -E2BIG);
	CHECK(!strncmp(img.err, "initrd", 6));
	img.initrd_size = UINT64_MAX;
	CHECK_EQ(boot_load_initrd(&gm, &img, 0, UINT64_MAX, &gpa), -E2BIG);
	CHECK(!strncmp(img.err, "initrd", 6));
	/* One page too many for the window. */
	img.initrd_size = 4 * 4096 + 1;
	CHECK_EQ(boot_load_initrd(&gm, &img, 8 * MiB, 8 * MiB + 4 * 4096, &gpa),
		 -E2BIG);
	/* Floor above the limit. */
	img.initrd_size = size;
	CHECK_EQ(boot_load_initrd(&gm, &img, 40 * MiB, 20 * MiB, &gpa), -E2BIG);
	CHECK(!strncmp(img.err, "initrd", 6));
	CHECK_EQ(gpa, 0x5a5a);

	/* Empty. */
	img.initrd_size = 0;
	CHECK_EQ(boot_load_initrd(&gm, &img, 2 * MiB, 0x38000000, &gpa),
		 -EINVAL);
	CHECK(!strncmp(img.err, "initrd", 6));

	/* The file is shorter than the size given. */
	img.initrd_size = size + 4096;
	CHECK_EQ(boot_load_initrd(&gm, &img, 2 * MiB, 0x38000000, &gpa), -EIO);
	CHECK(!strncmp(img.err, "initrd", 6));
	CHECK_EQ(gpa, 0x5a5a);

	/* A read error is reported with its reason. */
	close(fd);
	img.initrd_size = size;
	CHECK_EQ(boot_load_initrd(&gm, &img, 2 * MiB, 0x38000000, &gpa),
		 -EBADF);
	CHECK(strstr(img.err, "initrd") != NULL);
	CHECK_EQ(gpa, 0x5a5a);
	free(data);
	gm_free(&gm);
}

static uint64_t rng_state;

static uint32_t rng(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng_state >> 33);
}

static void load_kernel_rejects_non_kernels(void)
{
	static const size_t sizes[] = { 0, 1, 3, 4, 0x205, 0x206, 1024, 65536 };
	struct boot_image img;
	struct boot_entry entry;
	struct guest_mem gm;
	uint8_t *buf = malloc(65536);
	unsigned int i, j;

	CHECK(buf != NULL);
	if (!buf)
		return;
	CHECK_EQ(make_gm(&gm, 64 * MiB), 0);
	rng_state = 1;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		/* Exactly sized copies, so ASan sees any overread. */
		uint8_t *k = malloc(sizes[i] ? sizes[i] : 1);

		for (j = 0; j < sizes[i]; j++)
			buf[j] = (uint8_t)rng();
		memcpy(k, buf, sizes[i]);
		init_img(&img, "console=ttyS0");
		img.kernel = k;
		img.kernel_size = sizes[i];
		memset(&entry, 0, sizeof(entry));
		CHECK_EQ(boot_load_kernel(&gm, &img, &entry), -ENOEXEC);
		CHECK(strstr(img.err, "bzImage") != NULL);
		CHECK(strstr(img.err, "ELF") != NULL);
		CHECK_EQ(entry.rip, 0);
		free(k);
	}

	/* An ELF magic sends it to the ELF loader, which says why. */
	memcpy(buf,
	       "\x7f"
	       "ELF",
	       4);
	init_img(&img, "");
	img.kernel = buf;
	img.kernel_size = 64;
	CHECK(boot_load_kernel(&gm, &img, &entry) < 0);
	CHECK(img.err[0] != '\0');

	/* "HdrS" alone sends it to the bzImage loader, which says why. */
	memset(buf, 0, 65536);
	memcpy(buf + 0x202, "HdrS", 4);
	init_img(&img, "");
	img.kernel = buf;
	img.kernel_size = 65536;
	CHECK_EQ(boot_load_kernel(&gm, &img, &entry), -ENOEXEC);
	CHECK(strstr(img.err, "bzImage") != NULL);
	img.kernel_size = 0x206;
	CHECK_EQ(boot_load_kernel(&gm, &img, &entry), -ENOEXEC);
	CHECK(strstr(img.err, "truncated") != NULL);

	free(buf);
	gm_free(&gm);
}

TEST_SUITE(boot, TEST_CASE(gdt_long64), TEST_CASE(gdt_prot32),
	   TEST_CASE(page_tables_identity_map_4g),
	   TEST_CASE(prot32_writes_no_page_tables),
	   TEST_CASE(cpu_tables_need_low_ram), TEST_CASE(sregs_long64),
	   TEST_CASE(sregs_prot32), TEST_CASE(regs_from_entry),
	   TEST_CASE(cmdline_limits), TEST_CASE(initrd_placed_at_top),
	   TEST_CASE(initrd_errors),
	   TEST_CASE(load_kernel_rejects_non_kernels));
