// SPDX-License-Identifier: MIT
/*
 * PVH direct boot of an ELF kernel (Xen's PVH boot ABI, docs/misc/pvh.pandoc,
 * and xen/include/public/arch-x86/hvm/start_info.h; the ELF note
 * XEN_ELFNOTE_PHYS32_ENTRY from xen/include/public/elfnote.h). PT_LOAD
 * segments are copied to their physical addresses, a struct hvm_start_info
 * describes the command line, the initrd (as module 0), the memory map and
 * the RSDP, and the boot CPU enters the PHYS32 entry point in 32-bit
 * protected mode with paging off and EBX pointing at the start info.
 *
 * Input: the user's kernel file. Every header, offset and size is checked
 * against the file and against guest RAM before use.
 */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86_64/boot.h"
#include "arch/x86_64/layout.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC 0x336ec578u
#define MAX_PHDRS 64
#define MAX_NOTE_BYTES (1u << 20)

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "start_info layout");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "modlist layout");
_Static_assert(sizeof(struct hvm_memmap_entry) == 24, "memmap layout");

#define LAYOUT_PVH_MODLIST (LAYOUT_PVH_START_INFO + 0x40)

/* One program header, widened to 64 bits whatever the ELF class. */
struct phdr {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz;
};

struct elf_info {
	bool is64;
	unsigned int nr_phdrs;
	struct phdr phdrs[MAX_PHDRS];
};

static bool in_file(size_t file_size, uint64_t off, uint64_t len)
{
	return off <= file_size && len <= file_size - off;
}

static int parse_elf(const uint8_t *image, size_t size, struct elf_info *info,
		     char *err, size_t errlen)
{
	uint64_t phoff;
	unsigned int phentsize, phnum, i;
	uint16_t machine;

	if (size < EI_NIDENT || memcmp(image, ELFMAG, SELFMAG)) {
		snprintf(err, errlen, "not an ELF file");
		return -ENOEXEC;
	}
	if (image[EI_DATA] != ELFDATA2LSB) {
		snprintf(err, errlen,
			 "not a little-endian ELF: not an x86 "
			 "kernel");
		return -ENOEXEC;
	}
	info->is64 = image[EI_CLASS] == ELFCLASS64;
	if (info->is64) {
		Elf64_Ehdr eh;

		if (size < sizeof(eh))
			goto truncated;
		memcpy(&eh, image, sizeof(eh));
		machine = eh.e_machine;
		phoff = eh.e_phoff;
		phentsize = eh.e_phentsize;
		phnum = eh.e_phnum;
		if (phentsize != sizeof(Elf64_Phdr))
			goto bad;
	} else if (image[EI_CLASS] == ELFCLASS32) {
		Elf32_Ehdr eh;

		if (size < sizeof(eh))
			goto truncated;
		memcpy(&eh, image, sizeof(eh));
		machine = eh.e_machine;
		phoff = eh.e_phoff;
		phentsize = eh.e_phentsize;
		phnum = eh.e_phnum;
		if (phentsize != sizeof(Elf32_Phdr))
			goto bad;
	} else {
		goto bad;
	}
	if (machine != EM_X86_64 && machine != EM_386) {
		snprintf(err, errlen,
			 "ELF for the wrong architecture (e_machine %u); mica "
			 "runs x86-64 kernels",
			 machine);
		return -ENOEXEC;
	}
	if (phnum == 0 || phnum > MAX_PHDRS)
		goto bad;
	if (!in_file(size, phoff, (uint64_t)phnum * phentsize))
		goto truncated;
	for (i = 0; i < phnum; i++) {
		const uint8_t *p = image + phoff + (uint64_t)i * phentsize;
		struct phdr *ph = &info->phdrs[i];

		if (info->is64) {
			Elf64_Phdr e;

			memcpy(&e, p, sizeof(e));
			*ph = (struct phdr){ e.p_type, e.p_offset, e.p_paddr,
					     e.p_filesz, e.p_memsz };
		} else {
			Elf32_Phdr e;

			memcpy(&e, p, sizeof(e));
			*ph = (struct phdr){ e.p_type, e.p_offset, e.p_paddr,
					     e.p_filesz, e.p_memsz };
		}
		if ((ph->type == PT_LOAD || ph->type == PT_NOTE) &&
		    !in_file(size, ph->offset, ph->filesz))
			goto truncated;
		if (ph->type == PT_LOAD && ph->filesz > ph->memsz)
			goto bad;
	}
	info->nr_phdrs = phnum;
	return 0;
truncated:
	snprintf(err, errlen, "ELF file is truncated");
	return -ENOEXEC;
bad:
	snprintf(err, errlen, "malformed ELF headers");
	return -ENOEXEC;
}

static uint64_t align4(uint64_t v)
{
	return (v + 3) & ~3ull;
}

/* Finds the PHYS32 entry in the PT_NOTE segments. Returns 0 if found. */
static int find_pvh_entry(const uint8_t *image, const struct elf_info *info,
			  uint64_t *entry)
{
	unsigned int i;

	for (i = 0; i < info->nr_phdrs; i++) {
		const struct phdr *ph = &info->phdrs[i];
		uint64_t off = 0, len = ph->filesz;

		if (ph->type != PT_NOTE || len > MAX_NOTE_BYTES)
			continue;
		/* Elf32_Nhdr and Elf64_Nhdr have the same layout. */
		while (len - off >= sizeof(Elf32_Nhdr)) {
			Elf32_Nhdr nh;
			uint64_t name_off, desc_off, next;

			memcpy(&nh, image + ph->offset + off, sizeof(nh));
			name_off = off + sizeof(nh);
			desc_off = name_off + align4(nh.n_namesz);
			next = desc_off + align4(nh.n_descsz);
			if (next > len)
				break;
			if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY &&
			    nh.n_namesz == 4 &&
			    !memcmp(image + ph->offset + name_off, "Xen", 4) &&
			    (nh.n_descsz == 4 || nh.n_descsz == 8)) {
				uint64_t v = 0;

				memcpy(&v, image + ph->offset + desc_off,
				       nh.n_descsz);
				*entry = v;
				return 0;
			}
			off = next;
		}
	}
	return -ENOENT;
}

static int write_start_info(const struct guest_mem *gm, struct boot_image *img,
			    gpa_t initrd)
{
	struct hvm_memmap_entry map[E820_MAX_ENTRIES];
	struct hvm_start_info si = {
		.magic = HVM_START_MAGIC,
		.version = 1,
		.cmdline_paddr = LAYOUT_CMDLINE,
		.rsdp_paddr = img->rsdp,
		.memmap_paddr = LAYOUT_PVH_MEMMAP,
		.memmap_entries = img->nr_e820,
	};
	unsigned int i;

	if (img->nr_e820 > E820_MAX_ENTRIES)
		return -EINVAL;
	for (i = 0; i < img->nr_e820; i++)
		map[i] = (struct hvm_memmap_entry){
			.addr = img->e820[i].addr,
			.size = img->e820[i].size,
			.type = img->e820[i].type,
		};
	if (img->initrd_fd >= 0) {
		struct hvm_modlist_entry mod = {
			.paddr = initrd,
			.size = img->initrd_size,
		};

		si.nr_modules = 1;
		si.modlist_paddr = LAYOUT_PVH_MODLIST;
		if (gm_write(gm, LAYOUT_PVH_MODLIST, &mod, sizeof(mod)))
			return -EFAULT;
	}
	if (gm_write(gm, LAYOUT_PVH_MEMMAP, map, img->nr_e820 * sizeof(map[0])))
		return -EFAULT;
	return gm_write(gm, LAYOUT_PVH_START_INFO, &si, sizeof(si));
}

int pvh_load(const struct guest_mem *gm, struct boot_image *img,
	     struct boot_entry *entry)
{
	struct elf_info info;
	uint64_t pvh_entry, end = 0;
	gpa_t initrd = 0;
	unsigned int i;
	int rc;

	rc = parse_elf(img->kernel, img->kernel_size, &info, img->err,
		       sizeof(img->err));
	if (rc)
		return rc;
	if (find_pvh_entry(img->kernel, &info, &pvh_entry))
		return boot_fail(img, -ENOEXEC,
				 "ELF kernel without a PVH entry point (Xen "
				 "note PHYS32_ENTRY); build it with "
				 "CONFIG_PVH, or use its bzImage");
	if (pvh_entry >= LAYOUT_MMIO_HOLE)
		return boot_fail(img, -ENOEXEC, "PVH entry point above 3 GiB");

	for (i = 0; i < info.nr_phdrs; i++) {
		const struct phdr *ph = &info.phdrs[i];
		uint8_t *dst;

		if (ph->type != PT_LOAD || ph->memsz == 0)
			continue;
		/* Boot data lives below 1 MiB; segments must stay above. */
		if (ph->paddr < LAYOUT_HIGH_MEM)
			return boot_fail(
				img, -ENOEXEC,
				"ELF segment at 0x%llx is below 1 MiB, "
				"where mica keeps boot data",
				(unsigned long long)ph->paddr);
		dst = gm_ptr(gm, ph->paddr, ph->memsz);
		if (!dst)
			return boot_fail(
				img, -E2BIG,
				"ELF segment at 0x%llx (%llu KiB) does "
				"not fit in guest RAM above 1 MiB; give "
				"the guest more --memory",
				(unsigned long long)ph->paddr,
				(unsigned long long)(ph->memsz >> 10));
		memcpy(dst, img->kernel + ph->offset, ph->filesz);
		memset(dst + ph->filesz, 0, ph->memsz - ph->filesz);
		if (ph->paddr + ph->memsz > end)
			end = ph->paddr + ph->memsz;
	}
	if (end == 0)
		return boot_fail(img, -ENOEXEC, "ELF file has nothing to load");

	rc = boot_write_cmdline(gm, img, LAYOUT_CMDLINE_MAX - 1);
	if (rc)
		return rc;
	if (img->initrd_fd >= 0) {
		/* Linux's PVH path maps the initrd through its direct map. */
		rc = boot_load_initrd(gm, img, (end + 0xfff) & ~0xfffull,
				      LAYOUT_MMIO_HOLE, &initrd);
		if (rc)
			return rc;
	}
	if (write_start_info(gm, img, initrd))
		return boot_fail(img, -EFAULT,
				 "no guest RAM for the start info");

	*entry = (struct boot_entry){
		.mode = BOOT_MODE_PROT32,
		.rip = pvh_entry,
		.rbx = LAYOUT_PVH_START_INFO,
	};
	return 0;
}
