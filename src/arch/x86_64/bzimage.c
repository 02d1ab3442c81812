// SPDX-License-Identifier: MIT
/*
 * Linux bzImage loader for the 64-bit boot protocol
 * (Documentation/arch/x86/boot.rst): the protected-mode kernel is copied to
 * 1 MiB, boot_params is filled from the image's setup header, and the boot
 * CPU enters at load address + 0x200 in long mode. The kernel decompresses
 * itself, so every compression the kernel supports works.
 *
 * Input: the user's kernel file, untrusted in the sense that it may be
 * truncated or not a kernel: every field is checked before use.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86_64/boot.h"
#include "arch/x86_64/bootparam.h"
#include "arch/x86_64/layout.h"

#define MIN_PROTOCOL 0x020c /* xloadflags and the 64-bit entry */

static int write_boot_params(const struct guest_mem *gm, struct boot_image *img,
			     const struct setup_header *hdr, gpa_t initrd)
{
	uint8_t *bp = gm_ptr(gm, LAYOUT_ZERO_PAGE, BP_SIZE);
	struct setup_header h = *hdr;
	uint8_t n = 0;
	unsigned int i;

	if (!bp)
		return -EFAULT;
	memset(bp, 0, BP_SIZE);

	h.type_of_loader = 0xff; /* "undefined" boot loader */
	h.loadflags = (uint8_t)((h.loadflags | LOADFLAGS_CAN_USE_HEAP) &
				~0x20 /* QUIET_FLAG: let it print */);
	h.heap_end_ptr = 0xfe00;
	h.vid_mode = 0xffff; /* "normal" */
	h.cmd_line_ptr = (uint32_t)LAYOUT_CMDLINE;
	h.ramdisk_image = (uint32_t)initrd;
	h.ramdisk_size = img->initrd_fd >= 0 ? (uint32_t)img->initrd_size : 0;
	h.hardware_subarch = 0; /* a normal PC */
	memcpy(bp + BP_HDR, &h, sizeof(h));

	if (h.version >= 0x020e) {
		uint64_t rsdp = img->rsdp;

		memcpy(bp + BP_ACPI_RSDP_ADDR, &rsdp, sizeof(rsdp));
	}
	for (i = 0; i < img->nr_e820 && i < BP_E820_MAX; i++) {
		struct boot_e820_entry e = {
			.addr = img->e820[i].addr,
			.size = img->e820[i].size,
			.type = img->e820[i].type,
		};

		memcpy(bp + BP_E820_TABLE + i * sizeof(e), &e, sizeof(e));
		n++;
	}
	bp[BP_E820_ENTRIES] = n;
	return 0;
}

int bzimage_load(const struct guest_mem *gm, struct boot_image *img,
		 struct boot_entry *entry)
{
	struct setup_header hdr;
	uint64_t setup_size, payload_size, load = LAYOUT_HIGH_MEM, need;
	gpa_t initrd = 0;
	void *dst;
	int rc;

	if (img->kernel_size < 1024)
		return boot_fail(img, -ENOEXEC,
				 "bzImage is truncated (smaller than its boot "
				 "sector and setup header)");
	memcpy(&hdr, img->kernel + SETUP_HEADER_OFFSET, sizeof(hdr));
	if (hdr.header != SETUP_HDRS_MAGIC || hdr.boot_flag != SETUP_BOOT_FLAG)
		return boot_fail(
			img, -ENOEXEC,
			"not a bzImage: bad boot flag or header magic");
	if (hdr.version < MIN_PROTOCOL)
		return boot_fail(
			img, -ENOEXEC,
			"boot protocol older than 2.12: this kernel has "
			"no 64-bit entry point");
	if (!(hdr.xloadflags & XLF_KERNEL_64))
		return boot_fail(img, -ENOEXEC,
				 "not a 64-bit kernel (XLF_KERNEL_64 not set): "
				 "mica boots x86-64 kernels");
	if (!(hdr.loadflags & LOADFLAGS_LOADED_HIGH))
		return boot_fail(
			img, -ENOEXEC,
			"zImage (loaded low) kernels are not supported");

	setup_size =
		((uint64_t)(hdr.setup_sects ? hdr.setup_sects : 4) + 1) * 512;
	if (setup_size >= img->kernel_size)
		return boot_fail(img, -ENOEXEC,
				 "bzImage is truncated: no kernel after the "
				 "setup code");
	payload_size = img->kernel_size - setup_size;
	if (payload_size < (uint64_t)hdr.syssize * 16)
		return boot_fail(
			img, -ENOEXEC,
			"bzImage is truncated: shorter than its header "
			"says");

	/*
	 * The kernel decompresses in place up to init_size bytes from where
	 * it runs, which is the larger of the load address and its preferred
	 * address (it moves itself there when relocatable). Checked first so
	 * that need cannot wrap, and because more --memory would not help.
	 */
	if (hdr.pref_address > LAYOUT_MMIO_HOLE)
		return boot_fail(img, -E2BIG,
				 "bzImage's preferred load address is above "
				 "3 GiB, where guest RAM cannot be");
	need = (hdr.pref_address > load ? hdr.pref_address : load) +
	       (hdr.init_size > payload_size ? hdr.init_size : payload_size);
	if (need > img->low_ram_end)
		return boot_fail(img, -E2BIG,
				 "this kernel needs at least %llu MiB of guest "
				 "memory",
				 (unsigned long long)((need + (1 << 20) - 1) >>
						      20));
	dst = gm_ptr(gm, load, payload_size);
	if (!dst)
		return boot_fail(img, -E2BIG,
				 "kernel does not fit in guest RAM");
	memcpy(dst, img->kernel + setup_size, payload_size);

	rc = boot_write_cmdline(gm, img,
				hdr.cmdline_size ? hdr.cmdline_size : 255);
	if (rc)
		return rc;
	if (img->initrd_fd >= 0) {
		/* Protocols before 2.03 leave it 0, meaning 0x37ffffff. */
		uint64_t limit = hdr.initrd_addr_max ?
					 (uint64_t)hdr.initrd_addr_max + 1 :
					 0x38000000ull;

		if (img->initrd_size > UINT32_MAX) {
			img->err_initrd = true;
			return boot_fail(img, -E2BIG,
					 "initrd is larger than 4 GiB");
		}
		rc = boot_load_initrd(gm, img, need, limit, &initrd);
		if (rc)
			return rc;
	}
	rc = write_boot_params(gm, img, &hdr, initrd);
	if (rc)
		return boot_fail(img, rc, "no guest RAM for boot_params");

	*entry = (struct boot_entry){
		.mode = BOOT_MODE_LONG64,
		.rip = load + 0x200,
		.rsi = LAYOUT_ZERO_PAGE,
	};
	return 0;
}
