// SPDX-License-Identifier: MIT
/*
 * Tests of PVH direct boot (src/arch/x86_64/pvh.c) on small ELF64 and ELF32
 * kernels built here with <elf.h> types: PT_LOAD segments above 1 MiB and a
 * PT_NOTE holding a Xen PHYS32_ENTRY note (xen/include/public/elfnote.h).
 * Checks the copied segments and zeroed bss, the 32-bit entry state, the
 * hvm_start_info and its memory map and module list (as laid out in Xen's
 * xen/include/public/arch-x86/hvm/start_info.h, re-declared here), every
 * rejection with its message, and a fixed-seed mutation loop that must never
 * crash or read outside the file (every image is an exact-size allocation,
 * so ASan sees overreads).
 */
#include "unit/fake.h"
#include "unit/test.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "arch/x86_64/boot.h"
#include "arch/x86_64/layout.h"

#define MiB (1ull << 20)
#define GUEST_MEM FAKE_BOOT_MEM
#define RSDP LAYOUT_ACPI

#define NOTE_TYPE_PHYS32_ENTRY 18
#define NOTE_TYPE_ENTRY 1
#define START_MAGIC 0x336ec578u

/* As in Xen's start_info.h, version 1. */
struct t_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};

struct t_mod {
	uint64_t paddr, size, cmdline_paddr, reserved;
};

struct t_memmap {
	uint64_t addr, size;
	uint32_t type, reserved;
};

/* File layout of the test kernels. */
#define OFF_PHDRS 0x40
#define OFF_NOTES 0x200
#define NOTES_MAX 0x200
#define OFF_SEG_A 0x400
#define SEG_A_FILESZ 0x800
#define SEG_A_MEMSZ 0x3000
#define SEG_A_PADDR 0x1000000ull
#define OFF_SEG_B 0xc00
#define SEG_B_FILESZ 0x100
#define SEG_B_PADDR 0x1400000ull
#define FILE_SIZE 0xd00
#define ENTRY 0x1000100ull

struct t_phdr {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz;
};

struct spec {
	bool is64;
	uint8_t data; /* EI_DATA */
	uint16_t machine;
	unsigned int nr_phdrs;
	struct t_phdr ph[6];
	uint8_t notes[NOTES_MAX];
	size_t notes_len;
	size_t file_size;
	uint64_t phoff;
};

static uint8_t seg_byte(size_t off)
{
	return (uint8_t)(off * 13 + 7);
}

static void add_note(struct spec *s, const char *name, uint32_t namesz,
		     uint32_t type, const void *desc, uint32_t descsz)
{
	Elf64_Nhdr nh = { .n_namesz = namesz,
			  .n_descsz = descsz,
			  .n_type = type };
	size_t p = s->notes_len;

	memcpy(s->notes + p, &nh, sizeof(nh));
	p += sizeof(nh);
	memcpy(s->notes + p, name, namesz);
	p += (namesz + 3) & ~3u;
	memcpy(s->notes + p, desc, descsz);
	p += (descsz + 3) & ~3u;
	s->notes_len = p;
}

/* The entry, little-endian, in a descriptor of descsz (up to 16) bytes. */
static void add_pvh_note(struct spec *s, uint64_t entry, uint32_t descsz)
{
	uint8_t desc[16] = { 0 };

	memcpy(desc, &entry, sizeof(entry));
	add_note(s, "Xen", 4, NOTE_TYPE_PHYS32_ENTRY, desc, descsz);
}

/* A valid kernel: two PT_LOADs, notes with the PVH entry last. */
static void default_spec(struct spec *s, bool is64, uint32_t descsz)
{
	static const uint8_t build_id[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	uint64_t xen_entry = 0xffffffff81000000ull;

	memset(s, 0, sizeof(*s));
	s->is64 = is64;
	s->data = ELFDATA2LSB;
	s->machine = is64 ? EM_X86_64 : EM_386;
	s->file_size = FILE_SIZE;
	s->phoff = OFF_PHDRS;
	add_note(s, "GNU", 4, NT_GNU_BUILD_ID, build_id, sizeof(build_id));
	add_note(s, "Xen", 4, NOTE_TYPE_ENTRY, &xen_entry, 8);
	add_pvh_note(s, ENTRY, descsz);
	s->nr_phdrs = 3;
	s->ph[0] = (struct t_phdr){ PT_LOAD, OFF_SEG_A, SEG_A_PADDR,
				    SEG_A_FILESZ, SEG_A_MEMSZ };
	s->ph[1] = (struct t_phdr){ PT_NOTE, OFF_NOTES, 0, s->notes_len,
				    s->notes_len };
	s->ph[2] = (struct t_phdr){ PT_LOAD, OFF_SEG_B, SEG_B_PADDR,
				    SEG_B_FILESZ, SEG_B_FILESZ };
}

static void fix_note_phdr(struct spec *s)
{
	s->ph[1].filesz = s->ph[1].memsz = s->notes_len;
}

/* Serialises s into an exactly sized allocation. */
static uint8_t *build(const struct spec *s, size_t *size)
{
	size_t full = FILE_SIZE, i;
	uint8_t *f = calloc(1, full), *out;

	if (!f)
		return NULL;
	memcpy(f, ELFMAG, SELFMAG);
	f[EI_CLASS] = s->is64 ? ELFCLASS64 : ELFCLASS32;
	f[EI_DATA] = s->data;
	f[EI_VERSION] = EV_CURRENT;
	if (s->is64) {
		Elf64_Ehdr eh = { 0 };

		memcpy(eh.e_ident, f, EI_NIDENT);
		eh.e_type = ET_EXEC;
		eh.e_machine = s->machine;
		eh.e_version = EV_CURRENT;
		eh.e_entry = 0xffffffff81000000ull;
		eh.e_phoff = s->phoff;
		eh.e_ehsize = sizeof(eh);
		eh.e_phentsize = sizeof(Elf64_Phdr);
		eh.e_phnum = (uint16_t)s->nr_phdrs;
		memcpy(f, &eh, sizeof(eh));
		for (i = 0; i < s->nr_phdrs; i++) {
			Elf64_Phdr ph = {
				.p_type = s->ph[i].type,
				.p_offset = s->ph[i].offset,
				.p_vaddr = s->ph[i].paddr + 0xffffffff80000000,
				.p_paddr = s->ph[i].paddr,
				.p_filesz = s->ph[i].filesz,
				.p_memsz = s->ph[i].memsz,
				.p_align = 4,
			};

			memcpy(f + OFF_PHDRS + i * sizeof(ph), &ph, sizeof(ph));
		}
	} else {
		Elf32_Ehdr eh = { 0 };

		memcpy(eh.e_ident, f, EI_NIDENT);
		eh.e_type = ET_EXEC;
		eh.e_machine = s->machine;
		eh.e_version = EV_CURRENT;
		eh.e_entry = 0xc1000000u;
		eh.e_phoff = (uint32_t)s->phoff;
		eh.e_ehsize = sizeof(eh);
		eh.e_phentsize = sizeof(Elf32_Phdr);
		eh.e_phnum = (uint16_t)s->nr_phdrs;
		memcpy(f, &eh, sizeof(eh));
		for (i = 0; i < s->nr_phdrs; i++) {
			Elf32_Phdr ph = {
				.p_type = s->ph[i].type,
				.p_offset = (uint32_t)s->ph[i].offset,
				.p_vaddr = (uint32_t)s->ph[i].paddr,
				.p_paddr = (uint32_t)s->ph[i].paddr,
				.p_filesz = (uint32_t)s->ph[i].filesz,
				.p_memsz = (uint32_t)s->ph[i].memsz,
				.p_align = 4,
			};

			memcpy(f + OFF_PHDRS + i * sizeof(ph), &ph, sizeof(ph));
		}
	}
	memcpy(f + OFF_NOTES, s->notes, s->notes_len);
	for (i = OFF_SEG_A; i < FILE_SIZE; i++)
		f[i] = seg_byte(i);

	*size = s->file_size;
	out = malloc(*size ? *size : 1);
	if (out)
		memcpy(out, f, *size < full ? *size : full);
	free(f);
	return out;
}

static uint8_t *host(struct fake_boot *e, gpa_t gpa)
{
	return e->gm.regions[0].host + gpa;
}

static void env_init(struct fake_boot *e, const char *cmdline)
{
	fake_boot_init(e, cmdline);
	/* Stale data where the boot data and segments go. */
	memset(host(e, 0x1000), 0xaa, 0x1000);
	memset(host(e, SEG_A_PADDR), 0xaa, 0x4000);
}

static int load(struct fake_boot *e, const struct spec *s)
{
	size_t size;
	uint8_t *k = build(s, &size);
	int rc;

	if (!k)
		return -ENOMEM;
	memset(&e->entry, 0x5a, sizeof(e->entry));
	e->img.kernel = k;
	e->img.kernel_size = size;
	rc = boot_load_kernel(&e->gm, &e->img, &e->entry);
	e->img.kernel = NULL;
	free(k);
	return rc;
}

static void check_loaded(int line, struct fake_boot *e)
{
	unsigned int i, bad = 0;

	for (i = 0; i < SEG_A_FILESZ; i++)
		bad += host(e, SEG_A_PADDR)[i] != seg_byte(OFF_SEG_A + i);
	for (i = SEG_A_FILESZ; i < SEG_A_MEMSZ; i++)
		bad += host(e, SEG_A_PADDR)[i] != 0; /* bss */
	/* Right after memsz, the old contents. */
	bad += host(e, SEG_A_PADDR)[SEG_A_MEMSZ] != 0xaa;
	for (i = 0; i < SEG_B_FILESZ; i++)
		bad += host(e, SEG_B_PADDR)[i] != seg_byte(OFF_SEG_B + i);
	bad += host(e, SEG_B_PADDR)[SEG_B_FILESZ] != 0;
	if (bad)
		test_fail(__FILE__, line, "%u bytes of segments wrong", bad);
	if (e->entry.mode != BOOT_MODE_PROT32 || e->entry.rip != ENTRY ||
	    e->entry.rbx != LAYOUT_PVH_START_INFO)
		test_fail(__FILE__, line, "entry mode %d rip 0x%llx rbx 0x%llx",
			  e->entry.mode, (unsigned long long)e->entry.rip,
			  (unsigned long long)e->entry.rbx);
}

static void check_start_info(int line, struct fake_boot *e,
			     unsigned int nr_mods)
{
	struct t_start_info si;
	unsigned int i;

	memcpy(&si, host(e, LAYOUT_PVH_START_INFO), sizeof(si));
	if (si.magic != START_MAGIC || si.version != 1 || si.flags != 0)
		test_fail(__FILE__, line, "magic 0x%x version %u flags 0x%x",
			  si.magic, si.version, si.flags);
	if (si.cmdline_paddr != LAYOUT_CMDLINE || si.rsdp_paddr != RSDP)
		test_fail(__FILE__, line, "cmdline 0x%llx rsdp 0x%llx",
			  (unsigned long long)si.cmdline_paddr,
			  (unsigned long long)si.rsdp_paddr);
	if (si.nr_modules != nr_mods || (!nr_mods && si.modlist_paddr))
		test_fail(__FILE__, line, "%u modules at 0x%llx", si.nr_modules,
			  (unsigned long long)si.modlist_paddr);
	if (si.memmap_entries != (uint32_t)e->nr_e820)
		test_fail(__FILE__, line, "%u memmap entries",
			  si.memmap_entries);
	/* The map does not overlap the start info or the module list. */
	if (si.memmap_paddr < LAYOUT_PVH_START_INFO + sizeof(si) ||
	    si.memmap_paddr + si.memmap_entries * sizeof(struct t_memmap) >
		    LAYOUT_ZERO_PAGE)
		test_fail(__FILE__, line, "memmap at 0x%llx",
			  (unsigned long long)si.memmap_paddr);
	if (nr_mods &&
	    (si.modlist_paddr < LAYOUT_PVH_START_INFO + sizeof(si) ||
	     (si.modlist_paddr <
		      si.memmap_paddr +
			      si.memmap_entries * sizeof(struct t_memmap) &&
	      si.modlist_paddr + nr_mods * sizeof(struct t_mod) >
		      si.memmap_paddr)))
		test_fail(__FILE__, line, "modlist at 0x%llx overlaps",
			  (unsigned long long)si.modlist_paddr);
	for (i = 0; i < si.memmap_entries && i < E820_MAX_ENTRIES; i++) {
		struct t_memmap m;

		memcpy(&m, host(e, si.memmap_paddr + i * sizeof(m)), sizeof(m));
		if (m.addr != e->e820[i].addr || m.size != e->e820[i].size ||
		    m.type != e->e820[i].type || m.reserved)
			test_fail(__FILE__, line, "memmap entry %u differs", i);
	}
}

static void loads_elf(bool is64, uint32_t descsz)
{
	struct spec s;
	struct fake_boot e;

	env_init(&e, "console=hvc0 pvh");
	default_spec(&s, is64, descsz);
	CHECK_EQ(load(&e, &s), 0);
	CHECK_STR(e.img.err, "");
	check_loaded(__LINE__, &e);
	check_start_info(__LINE__, &e, 0);
	CHECK_STR((const char *)host(&e, LAYOUT_CMDLINE), "console=hvc0 pvh");
	gm_free(&e.gm);
}

static void elf64_desc4(void)
{
	loads_elf(true, 4);
}

static void elf64_desc8(void)
{
	loads_elf(true, 8);
}

static void elf32_desc4(void)
{
	loads_elf(false, 4);
}

static void elf32_desc8(void)
{
	loads_elf(false, 8);
}

static void pvh_note_among_others(void)
{
	struct spec s;
	struct fake_boot e;

	/* PVH note in a second PT_NOTE, after an empty one. */
	env_init(&e, "");
	default_spec(&s, true, 4);
	s.ph[3] = s.ph[1];
	s.ph[1].filesz = s.ph[1].memsz = 0;
	s.nr_phdrs = 4;
	CHECK_EQ(load(&e, &s), 0);
	check_loaded(__LINE__, &e);
	gm_free(&e.gm);

	/* A malformed PVH note (descsz 2) first, a good one after it. */
	env_init(&e, "");
	default_spec(&s, true, 4);
	s.notes_len = 0;
	add_note(&s, "Xen", 4, NOTE_TYPE_PHYS32_ENTRY, "\x01\x02", 2);
	add_note(&s, "Xe", 3, NOTE_TYPE_PHYS32_ENTRY, "\x01\x02\x03\x04", 4);
	add_note(&s, "Linux", 6, NOTE_TYPE_PHYS32_ENTRY, "\x01\x02\x03\x04", 4);
	add_pvh_note(&s, ENTRY, 8);
	fix_note_phdr(&s);
	CHECK_EQ(load(&e, &s), 0);
	check_loaded(__LINE__, &e);
	gm_free(&e.gm);
}

static int open_initrd(size_t size, uint8_t **data)
{
	const char *path;
	size_t i;

	*data = malloc(size);
	if (!*data)
		return -1;
	for (i = 0; i < size; i++)
		(*data)[i] = (uint8_t)(i * 7 ^ 0x96);
	path = test_tmpfile("pvh-initrd", *data, size);
	return path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
}

static void initrd_as_module(void)
{
	const size_t isize = 5000;
	struct t_start_info si;
	struct t_mod mod;
	struct spec s;
	struct fake_boot e;
	uint8_t *data;
	int fd = open_initrd(isize, &data);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	env_init(&e, "");
	e.img.initrd_fd = fd;
	e.img.initrd_size = isize;
	default_spec(&s, false, 4);
	CHECK_EQ(load(&e, &s), 0);
	check_loaded(__LINE__, &e);
	check_start_info(__LINE__, &e, 1);
	memcpy(&si, host(&e, LAYOUT_PVH_START_INFO), sizeof(si));
	memcpy(&mod, host(&e, si.modlist_paddr), sizeof(mod));
	CHECK_EQ(mod.size, isize);
	CHECK_EQ(mod.cmdline_paddr, 0);
	CHECK_EQ(mod.reserved, 0);
	CHECK_EQ(mod.paddr & 0xfff, 0);
	/* Above the kernel, at the top of RAM. */
	CHECK(mod.paddr >= SEG_B_PADDR + SEG_B_FILESZ);
	CHECK(mod.paddr + isize <= GUEST_MEM);
	CHECK(mod.paddr + isize > GUEST_MEM - 4096);
	CHECK(!memcmp(host(&e, mod.paddr), data, isize));

	/* An initrd bigger than the room above the kernel. */
	e.img.initrd_size = GUEST_MEM - SEG_B_PADDR;
	CHECK_EQ(load(&e, &s), -E2BIG);
	CHECK(!strncmp(e.img.err, "initrd", 6));
	CHECK_EQ(e.entry.rip, 0x5a5a5a5a5a5a5a5aull);
	gm_free(&e.gm);
	close(fd);
	free(data);
}

#define EXPECT_ERR(e, s, rc, word)                                             \
	do {                                                                   \
		int r_ = load(e, s);                                           \
		if (r_ != (rc))                                                \
			test_fail(__FILE__, __LINE__, "load = %d, want %d",    \
				  r_, (rc));                                   \
		if (!strstr((e)->img.err, word))                               \
			test_fail(__FILE__, __LINE__,                          \
				  "message \"%s\" lacks \"%s\"", (e)->img.err, \
				  word);                                       \
		if ((e)->entry.rip != 0x5a5a5a5a5a5a5a5aull)                   \
			test_fail(__FILE__, __LINE__, "entry written");        \
	} while (0)

static void rejects_missing_pvh_note(void)
{
	static const uint8_t id[8] = { 0 };
	struct spec s;
	struct fake_boot e;

	env_init(&e, "");
	/* Notes, but not the PVH one. */
	default_spec(&s, true, 4);
	s.notes_len = 0;
	add_note(&s, "GNU", 4, NT_GNU_BUILD_ID, id, sizeof(id));
	add_note(&s, "Xen", 4, NOTE_TYPE_ENTRY, id, 8);
	fix_note_phdr(&s);
	EXPECT_ERR(&e, &s, -ENOEXEC, "PVH");
	/* No PT_NOTE at all. */
	default_spec(&s, true, 4);
	s.ph[1].type = PT_NULL;
	EXPECT_ERR(&e, &s, -ENOEXEC, "PVH");
	/* The right type and name, but a descriptor of a bad size. */
	default_spec(&s, false, 4);
	s.notes_len = 0;
	add_pvh_note(&s, ENTRY, 2);
	add_pvh_note(&s, ENTRY, 16);
	fix_note_phdr(&s);
	EXPECT_ERR(&e, &s, -ENOEXEC, "PVH");
	gm_free(&e.gm);
}

static void rejects_hostile_notes(void)
{
	static const uint32_t huge[] = { 0xffffffffu, 0xfffffffdu, 0xfffffffcu,
					 0x80000000u, 0x201 };
	uint32_t v = (uint32_t)ENTRY;
	struct spec s;
	struct fake_boot e;
	unsigned int i;

	env_init(&e, "");
	for (i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		Elf64_Nhdr nh = { .n_namesz = huge[i],
				  .n_descsz = 4,
				  .n_type = NOTE_TYPE_PHYS32_ENTRY };

		/* A huge namesz, and nothing after it to parse. */
		default_spec(&s, true, 4);
		s.notes_len = 0;
		memcpy(s.notes, &nh, sizeof(nh));
		memcpy(s.notes + sizeof(nh), "Xen", 4);
		memcpy(s.notes + sizeof(nh) + 4, &v, 4);
		s.notes_len = sizeof(nh) + 8;
		fix_note_phdr(&s);
		EXPECT_ERR(&e, &s, -ENOEXEC, "PVH");

		/* A huge descsz. */
		nh.n_namesz = 4;
		nh.n_descsz = huge[i];
		memcpy(s.notes, &nh, sizeof(nh));
		EXPECT_ERR(&e, &s, -ENOEXEC, "PVH");
	}

	/* The note segment ends mid-header, at the very end of the file. */
	default_spec(&s, true, 4);
	s.ph[1].offset = FILE_SIZE - 6;
	s.ph[1].filesz = 6;
	EXPECT_ERR(&e, &s, -ENOEXEC, "PVH");
	/* The PVH note's descriptor runs past the note segment. */
	default_spec(&s, true, 8);
	s.ph[1].filesz = s.notes_len - 4;
	EXPECT_ERR(&e, &s, -ENOEXEC, "PVH");
	/* A note segment too large to be believed. */
	default_spec(&s, true, 8);
	s.ph[1].offset = 0;
	s.ph[1].filesz = FILE_SIZE + 1;
	EXPECT_ERR(&e, &s, -ENOEXEC, "truncated");
	gm_free(&e.gm);
}

static void rejects_wrong_elf(void)
{
	struct spec s;
	struct fake_boot e;

	env_init(&e, "");
	default_spec(&s, true, 4);
	s.machine = EM_AARCH64;
	EXPECT_ERR(&e, &s, -ENOEXEC, "architecture");
	default_spec(&s, false, 4);
	s.machine = EM_ARM;
	EXPECT_ERR(&e, &s, -ENOEXEC, "architecture");

	default_spec(&s, true, 4);
	s.data = ELFDATA2MSB;
	EXPECT_ERR(&e, &s, -ENOEXEC, "not a little-endian ELF");
	default_spec(&s, true, 4);
	s.data = ELFDATANONE;
	EXPECT_ERR(&e, &s, -ENOEXEC, "ELF");

	/* Only the ELF magic, nothing more. */
	default_spec(&s, true, 4);
	s.file_size = 4;
	EXPECT_ERR(&e, &s, -ENOEXEC, "ELF");
	s.file_size = EI_NIDENT + 1;
	EXPECT_ERR(&e, &s, -ENOEXEC, "truncated");
	default_spec(&s, false, 4);
	s.file_size = sizeof(Elf32_Ehdr) - 1;
	EXPECT_ERR(&e, &s, -ENOEXEC, "truncated");
	gm_free(&e.gm);
}

static void rejects_bad_phdrs(void)
{
	struct spec s;
	struct fake_boot e;
	uint8_t *k;
	size_t size;

	env_init(&e, "");
	/* The file ends inside the program headers. */
	default_spec(&s, true, 4);
	s.file_size = OFF_PHDRS + sizeof(Elf64_Phdr) + 8;
	EXPECT_ERR(&e, &s, -ENOEXEC, "truncated");
	default_spec(&s, false, 4);
	s.file_size = OFF_PHDRS + 2 * sizeof(Elf32_Phdr);
	EXPECT_ERR(&e, &s, -ENOEXEC, "truncated");
	/* e_phoff beyond the file, or near 2^64. */
	default_spec(&s, true, 4);
	s.phoff = FILE_SIZE - 8;
	EXPECT_ERR(&e, &s, -ENOEXEC, "truncated");
	s.phoff = 0xffffffffffffff00ull;
	EXPECT_ERR(&e, &s, -ENOEXEC, "truncated");
	/* No program headers; too many. */
	default_spec(&s, true, 4);
	s.nr_phdrs = 0;
	EXPECT_ERR(&e, &s, -ENOEXEC, "ELF");

	/* e_phnum 0xffff and a wrong e_phentsize, patched in the file. */
	default_spec(&s, true, 4);
	k = build(&s, &size);
	if (k) {
		Elf64_Ehdr eh;

		memcpy(&eh, k, sizeof(eh));
		eh.e_phnum = 0xffff;
		memcpy(k, &eh, sizeof(eh));
		e.img.kernel = k;
		e.img.kernel_size = size;
		CHECK_EQ(boot_load_kernel(&e.gm, &e.img, &e.entry), -ENOEXEC);
		CHECK(strstr(e.img.err, "ELF") != NULL);
		eh.e_phnum = 3;
		eh.e_phentsize = sizeof(Elf32_Phdr);
		memcpy(k, &eh, sizeof(eh));
		CHECK_EQ(boot_load_kernel(&e.gm, &e.img, &e.entry), -ENOEXEC);
		CHECK(strstr(e.img.err, "malformed") != NULL);
		k[EI_CLASS] = ELFCLASSNONE;
		CHECK_EQ(boot_load_kernel(&e.gm, &e.img, &e.entry), -ENOEXEC);
		CHECK(strstr(e.img.err, "malformed") != NULL);
		free(k);
	}

	/* Segment contents beyond the end of the file. */
	default_spec(&s, true, 4);
	s.ph[2].offset = FILE_SIZE - SEG_B_FILESZ + 1;
	EXPECT_ERR(&e, &s, -ENOEXEC, "truncated");
	s.ph[2].offset = UINT64_MAX;
	s.ph[2].filesz = 2;
	s.ph[2].memsz = 2;
	EXPECT_ERR(&e, &s, -ENOEXEC, "truncated");
	s.ph[2].offset = 0x10;
	s.ph[2].filesz = UINT64_MAX - 8;
	s.ph[2].memsz = UINT64_MAX - 8;
	EXPECT_ERR(&e, &s, -ENOEXEC, "truncated");
	default_spec(&s, false, 4);
	s.ph[0].filesz = FILE_SIZE;
	s.ph[0].memsz = FILE_SIZE;
	EXPECT_ERR(&e, &s, -ENOEXEC, "truncated");

	/* More in the file than in memory. */
	default_spec(&s, true, 4);
	s.ph[0].memsz = SEG_A_FILESZ - 1;
	EXPECT_ERR(&e, &s, -ENOEXEC, "malformed");

	/* Nothing to load. */
	default_spec(&s, true, 4);
	s.ph[0].type = PT_NULL;
	s.ph[2].memsz = s.ph[2].filesz = 0;
	EXPECT_ERR(&e, &s, -ENOEXEC, "nothing to load");
	gm_free(&e.gm);
}

static void rejects_segments_outside_ram(void)
{
	struct spec s;
	struct fake_boot e;

	env_init(&e, "");
	default_spec(&s, true, 4);
	s.ph[2].paddr = 128 * MiB;
	EXPECT_ERR(&e, &s, -E2BIG, "does not fit");
	CHECK(strstr(e.img.err, "--memory") != NULL);
	/* Below 1 MiB, where the boot data lives: more memory won't help. */
	s.ph[2].paddr = LAYOUT_ZERO_PAGE;
	EXPECT_ERR(&e, &s, -ENOEXEC, "below 1 MiB");
	CHECK(strstr(e.img.err, "--memory") == NULL);
	s.ph[2].paddr = LAYOUT_HIGH_MEM - 0x80;
	EXPECT_ERR(&e, &s, -ENOEXEC, "below 1 MiB");
	/* Crossing the end of RAM; its bss alone crossing it. */
	s.ph[2].paddr = GUEST_MEM - 0x80;
	EXPECT_ERR(&e, &s, -E2BIG, "does not fit");
	s.ph[2].paddr = GUEST_MEM - 0x1000;
	s.ph[2].memsz = 0x1001;
	EXPECT_ERR(&e, &s, -E2BIG, "does not fit");
	/* Wrapping past 2^64; in the MMIO hole. */
	s.ph[2].paddr = UINT64_MAX - 0x7f;
	s.ph[2].memsz = 0x2000;
	EXPECT_ERR(&e, &s, -E2BIG, "does not fit");
	s.ph[2].paddr = LAYOUT_MMIO_HOLE;
	s.ph[2].memsz = SEG_B_FILESZ;
	EXPECT_ERR(&e, &s, -E2BIG, "does not fit");
	/* A huge bss. */
	default_spec(&s, false, 4);
	s.ph[0].memsz = 0xfffff000u;
	EXPECT_ERR(&e, &s, -E2BIG, "does not fit");

	/* The last byte of RAM is fine. */
	default_spec(&s, true, 4);
	s.ph[2].paddr = GUEST_MEM - SEG_B_FILESZ;
	CHECK_EQ(load(&e, &s), 0);
	gm_free(&e.gm);
}

static void rejects_bad_entry_and_cmdline(void)
{
	const size_t max = LAYOUT_CMDLINE_MAX - 1;
	char *line = malloc(max + 2);
	struct spec s;
	struct fake_boot e;

	env_init(&e, "");
	default_spec(&s, true, 8);
	s.notes_len = 0;
	add_pvh_note(&s, LAYOUT_MMIO_HOLE, 8);
	fix_note_phdr(&s);
	EXPECT_ERR(&e, &s, -ENOEXEC, "entry");
	s.notes_len = 0;
	add_pvh_note(&s, 1ull << 40, 8);
	fix_note_phdr(&s);
	EXPECT_ERR(&e, &s, -ENOEXEC, "entry");
	gm_free(&e.gm);

	if (!line)
		return;
	memset(line, 'p', max + 1);
	line[max + 1] = '\0';
	env_init(&e, line);
	default_spec(&s, true, 4);
	EXPECT_ERR(&e, &s, -E2BIG, "command line");
	line[max] = '\0';
	CHECK_EQ(load(&e, &s), 0);
	CHECK_EQ(strlen((const char *)host(&e, LAYOUT_CMDLINE)), max);
	gm_free(&e.gm);
	free(line);
}

static uint64_t edge64(void)
{
	static const uint64_t v[] = {
		0,	    1,
		4,	    0x100000,
		0x1000000,  0x3fff000,
		0x4000000,  0x7fffffff,
		0xffffffff, 0x100000000,
		UINT64_MAX, UINT64_MAX - 0xfff,
		FILE_SIZE,  FILE_SIZE - 1,
		0x80000000, 0xc0000000,
	};

	return fake_rng() % 2 ? v[fake_rng() % (sizeof(v) / sizeof(v[0]))] :
				((uint64_t)fake_rng() << 32 | fake_rng());
}

static void fuzz_mutations(void)
{
	static const size_t fields64[] = { 8, 16, 24, 32, 40 };
	struct fake_boot e;
	struct spec s;
	uint8_t *base[2], *k;
	size_t size[2];
	unsigned int iter, ok = 0, bad_err = 0, bad_entry = 0, which;
	uint8_t *data;
	int fd = open_initrd(4096, &data);

	env_init(&e, "console=hvc0");
	default_spec(&s, true, 8);
	base[0] = build(&s, &size[0]);
	default_spec(&s, false, 4);
	base[1] = build(&s, &size[1]);
	CHECK(base[0] && base[1]);
	if (!base[0] || !base[1])
		return;
	fake_rng_seed(0x707668);
	for (iter = 0; iter < 2000; iter++) {
		size_t ksize, m, nmut = 1 + fake_rng() % 4;

		which = iter & 1;
		ksize = size[which];
		k = malloc(ksize);
		memcpy(k, base[which], ksize);
		for (m = 0; m < nmut; m++) {
			unsigned int kind = fake_rng() % 4;

			if (kind == 0) {
				/* Any byte of the headers and notes. */
				k[fake_rng() % OFF_SEG_A] = (uint8_t)fake_rng();
			} else if (kind == 1 && which == 0) {
				/* A 64-bit phdr field of one of the phdrs. */
				uint64_t v = edge64();
				size_t off =
					OFF_PHDRS +
					(fake_rng() % 4) * sizeof(Elf64_Phdr) +
					fields64[fake_rng() % 5];

				memcpy(k + off, &v, 8);
			} else if (kind == 1) {
				uint32_t v = (uint32_t)edge64();
				size_t off =
					OFF_PHDRS +
					(fake_rng() % 4) * sizeof(Elf32_Phdr) +
					4 * (1 + fake_rng() % 5);

				memcpy(k + off, &v, 4);
			} else if (kind == 2) {
				/* A word of the note area. */
				uint32_t v = (uint32_t)edge64();

				memcpy(k + OFF_NOTES + 4 * (fake_rng() % 16),
				       &v, 4);
			} else {
				/* An ELF header field. */
				uint16_t v = (uint16_t)fake_rng();

				memcpy(k + 16 + 2 * (fake_rng() % 24), &v, 2);
			}
		}
		if (fake_rng() % 5 == 0) {
			/* Truncated, still exact-size. */
			ksize = fake_rng() % (ksize + 1);
			k = realloc(k, ksize ? ksize : 1);
		}
		e.img.kernel = k;
		e.img.kernel_size = ksize;
		e.img.initrd_fd = fd >= 0 && fake_rng() % 2 ? fd : -1;
		e.img.initrd_size = fake_rng() % 2 ? 4096 : edge64();
		memset(&e.entry, 0x5a, sizeof(e.entry));
		if (boot_load_kernel(&e.gm, &e.img, &e.entry) == 0) {
			ok++;
			if (e.entry.mode != BOOT_MODE_PROT32 ||
			    e.entry.rbx != LAYOUT_PVH_START_INFO ||
			    e.entry.rip >= LAYOUT_MMIO_HOLE)
				bad_entry++;
		} else if (!e.img.err[0]) {
			bad_err++;
		}
		free(k);
	}
	CHECK_EQ(bad_err, 0);
	CHECK_EQ(bad_entry, 0);
	CHECK(ok > 0);
	CHECK(ok < 2000);
	free(base[0]);
	free(base[1]);
	if (fd >= 0)
		close(fd);
	free(data);
	gm_free(&e.gm);
}

TEST_SUITE(pvh, TEST_CASE(elf64_desc4), TEST_CASE(elf64_desc8),
	   TEST_CASE(elf32_desc4), TEST_CASE(elf32_desc8),
	   TEST_CASE(pvh_note_among_others), TEST_CASE(initrd_as_module),
	   TEST_CASE(rejects_missing_pvh_note),
	   TEST_CASE(rejects_hostile_notes), TEST_CASE(rejects_wrong_elf),
	   TEST_CASE(rejects_bad_phdrs),
	   TEST_CASE(rejects_segments_outside_ram),
	   TEST_CASE(rejects_bad_entry_and_cmdline), TEST_CASE(fuzz_mutations));
