// SPDX-License-Identifier: MIT
/*
 * Tests of the bzImage loader (src/arch/x86_64/bzimage.c) on fake kernels
 * built here: a boot sector and setup header laid out per
 * Documentation/arch/x86/boot.rst, followed by a patterned "protected-mode
 * kernel". Checks what lands in guest memory (payload at 1 MiB, boot_params,
 * command line, initrd), the entry state, every documented rejection with
 * its message, and a fixed-seed mutation loop over the header that must
 * never crash or touch memory outside the guest (ASan and the guard pages
 * around guest RAM catch that).
 */
#include "unit/fake.h"
#include "unit/test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "arch/x86_64/boot.h"
#include "arch/x86_64/bootparam.h"
#include "arch/x86_64/layout.h"

#define MiB (1ull << 20)
#define GUEST_MEM FAKE_BOOT_MEM
#define SETUP_SECTS 4
#define SETUP_BYTES ((SETUP_SECTS + 1) * 512)
#define PAYLOAD (64 * 1024)
#define RSDP LAYOUT_ACPI
#define XLF_CAN_BE_LOADED_ABOVE_4G 0x0002

static uint8_t payload_byte(size_t i)
{
	return (uint8_t)(i * 37 + (i >> 8) + 1);
}

static void default_hdr(struct setup_header *h)
{
	memset(h, 0, sizeof(*h));
	h->setup_sects = SETUP_SECTS;
	h->syssize = PAYLOAD / 16;
	h->boot_flag = SETUP_BOOT_FLAG;
	h->jump = 0x66eb;
	h->header = SETUP_HDRS_MAGIC;
	h->version = 0x020f;
	h->loadflags = LOADFLAGS_LOADED_HIGH;
	h->code32_start = 0x100000;
	h->initrd_addr_max = 0x7fffffff;
	h->kernel_alignment = 0x200000;
	h->relocatable_kernel = 1;
	h->min_alignment = 21;
	h->xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G;
	h->cmdline_size = 2047;
	h->pref_address = 0x1000000;
	h->init_size = 4 * MiB;
}

/* A bzImage of setup_sects from h and payload bytes of kernel. */
static uint8_t *make_image(const struct setup_header *h, size_t payload,
			   size_t *size)
{
	size_t setup =
		((size_t)(h->setup_sects ? h->setup_sects : 4) + 1) * 512;
	uint8_t *buf = malloc(setup + payload);
	size_t i;

	if (!buf)
		return NULL;
	memset(buf, 0xf4, setup); /* "setup code" */
	memcpy(buf + SETUP_HEADER_OFFSET, h, sizeof(*h));
	for (i = 0; i < payload; i++)
		buf[setup + i] = payload_byte(i);
	*size = setup + payload;
	return buf;
}

static void env_init(struct fake_boot *e, const char *cmdline)
{
	fake_boot_init(e, cmdline);
	/* Stale data where boot_params goes. */
	memset(e->gm.regions[0].host + LAYOUT_ZERO_PAGE, 0xaa, BP_SIZE);
}

static uint8_t *host(struct fake_boot *e, gpa_t gpa)
{
	return e->gm.regions[0].host + gpa;
}

/* Loads h with payload bytes of kernel; returns the loader's result. */
static int load_hdr(struct fake_boot *e, const struct setup_header *h,
		    size_t payload)
{
	size_t size;
	uint8_t *k = make_image(h, payload, &size);
	int rc;

	if (!k)
		return -ENOMEM;
	e->img.kernel = k;
	e->img.kernel_size = size;
	rc = boot_load_kernel(&e->gm, &e->img, &e->entry);
	e->img.kernel = NULL;
	free(k);
	return rc;
}

static void read_bp_hdr(struct fake_boot *e, struct setup_header *h)
{
	memcpy(h, host(e, LAYOUT_ZERO_PAGE + BP_HDR), sizeof(*h));
}

static void loads_payload_and_entry(void)
{
	struct setup_header h, bph;
	struct fake_boot e;
	size_t i, bad = 0;

	env_init(&e, "console=ttyS0 earlyprintk");
	default_hdr(&h);
	CHECK_EQ(load_hdr(&e, &h, PAYLOAD), 0);
	CHECK_STR(e.img.err, "");

	for (i = 0; i < PAYLOAD; i++)
		bad += host(&e, LAYOUT_HIGH_MEM)[i] != payload_byte(i);
	CHECK_EQ(bad, 0);
	/* The setup code is not copied; nothing after the payload is. */
	CHECK_EQ(host(&e, LAYOUT_HIGH_MEM)[PAYLOAD], 0);
	CHECK_EQ(host(&e, LAYOUT_HIGH_MEM)[-1], 0);

	CHECK_EQ(e.entry.mode, BOOT_MODE_LONG64);
	CHECK_EQ(e.entry.rip, 0x100200);
	CHECK_EQ(e.entry.rsi, LAYOUT_ZERO_PAGE);
	CHECK_STR((const char *)host(&e, LAYOUT_CMDLINE),
		  "console=ttyS0 earlyprintk");

	read_bp_hdr(&e, &bph);
	CHECK_EQ(bph.header, SETUP_HDRS_MAGIC);
	CHECK_EQ(bph.boot_flag, SETUP_BOOT_FLAG);
	CHECK_EQ(bph.version, 0x020f);
	CHECK_EQ(bph.setup_sects, SETUP_SECTS);
	CHECK_EQ(bph.syssize, PAYLOAD / 16);
	CHECK_EQ(bph.init_size, 4 * MiB);
	CHECK_EQ(bph.pref_address, 0x1000000);
	CHECK_EQ(bph.xloadflags, h.xloadflags);
	CHECK_EQ(bph.type_of_loader, 0xff);
	CHECK(bph.loadflags & LOADFLAGS_LOADED_HIGH);
	CHECK(bph.loadflags & LOADFLAGS_CAN_USE_HEAP);
	CHECK_EQ(bph.cmd_line_ptr, LAYOUT_CMDLINE);
	CHECK_EQ(bph.ramdisk_image, 0);
	CHECK_EQ(bph.ramdisk_size, 0);
	CHECK_EQ(bph.hardware_subarch, 0);
	gm_free(&e.gm);
}

static void boot_params_tables(void)
{
	struct setup_header h;
	struct fake_boot e;
	const uint8_t *bp;
	unsigned int i, bad = 0;

	env_init(&e, "");
	default_hdr(&h);
	CHECK_EQ(load_hdr(&e, &h, PAYLOAD), 0);
	bp = host(&e, LAYOUT_ZERO_PAGE);

	CHECK_EQ(fake_rd64(bp + BP_ACPI_RSDP_ADDR), RSDP);
	CHECK_EQ(bp[BP_E820_ENTRIES], e.nr_e820);
	for (i = 0; i < (unsigned int)e.nr_e820; i++) {
		const uint8_t *t = bp + BP_E820_TABLE + i * 20;

		CHECK_EQ(fake_rd64(t), e.e820[i].addr);
		CHECK_EQ(fake_rd64(t + 8), e.e820[i].size);
		CHECK_EQ(fake_rd32(t + 16), e.e820[i].type);
	}
	/* The rest of the table, and the 64-bit extensions, are zero. */
	for (i = BP_E820_TABLE + (unsigned int)e.nr_e820 * 20;
	     i < BP_E820_TABLE + BP_E820_MAX * 20; i++)
		bad += bp[i] != 0;
	CHECK_EQ(bad, 0);
	CHECK_EQ(fake_rd32(bp + BP_EXT_RAMDISK_IMAGE), 0);
	CHECK_EQ(fake_rd32(bp + BP_EXT_RAMDISK_SIZE), 0);
	CHECK_EQ(fake_rd32(bp + BP_EXT_CMD_LINE_PTR), 0);
	/* Nothing of the stale page survives below the header ... */
	for (i = 0; i < BP_HDR; i++)
		if (i < BP_ACPI_RSDP_ADDR || i >= BP_ACPI_RSDP_ADDR + 8)
			if (i != BP_E820_ENTRIES)
				bad += bp[i] != 0;
	/* ... nor after the header up to the e820 table, nor at the end. */
	for (i = BP_HDR + sizeof(h); i < BP_E820_TABLE; i++)
		bad += bp[i] != 0;
	for (i = BP_E820_TABLE + BP_E820_MAX * 20; i < BP_SIZE; i++)
		bad += bp[i] != 0;
	CHECK_EQ(bad, 0);
	CHECK_EQ(((const char *)host(&e, LAYOUT_CMDLINE))[0], '\0');
	gm_free(&e.gm);
}

static void old_protocol_has_no_rsdp_field(void)
{
	struct setup_header h;
	struct fake_boot e;

	env_init(&e, "");
	default_hdr(&h);
	h.version = 0x020c;
	CHECK_EQ(load_hdr(&e, &h, PAYLOAD), 0);
	CHECK_EQ(fake_rd64(host(&e, LAYOUT_ZERO_PAGE + BP_ACPI_RSDP_ADDR)), 0);
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
		(*data)[i] = (uint8_t)(i ^ (i >> 9) ^ 0x3c);
	path = test_tmpfile("bz-initrd", *data, size);
	return path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
}

static void initrd_loaded_high(void)
{
	const size_t isize = 10000;
	struct setup_header h, bph;
	struct fake_boot e;
	uint8_t *data;
	int fd = open_initrd(isize, &data);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	env_init(&e, "root=/dev/ram0");
	e.img.initrd_fd = fd;
	e.img.initrd_size = isize;
	default_hdr(&h);
	CHECK_EQ(load_hdr(&e, &h, PAYLOAD), 0);
	read_bp_hdr(&e, &bph);
	CHECK_EQ(bph.ramdisk_size, isize);
	CHECK_EQ(bph.ramdisk_image & 0xfff, 0);
	/* Above what the kernel decompresses into, at the top of RAM. */
	CHECK(bph.ramdisk_image >= 0x1000000 + 4 * MiB);
	CHECK(bph.ramdisk_image + isize <= GUEST_MEM);
	CHECK(bph.ramdisk_image + isize > GUEST_MEM - 4096);
	CHECK(!memcmp(host(&e, bph.ramdisk_image), data, isize));
	gm_free(&e.gm);

	/* The kernel's initrd_addr_max is respected. */
	env_init(&e, "");
	e.img.initrd_fd = fd;
	e.img.initrd_size = isize;
	default_hdr(&h);
	h.initrd_addr_max = 48 * MiB - 1;
	CHECK_EQ(load_hdr(&e, &h, PAYLOAD), 0);
	read_bp_hdr(&e, &bph);
	CHECK(bph.ramdisk_image + isize <= 48 * MiB);
	CHECK(bph.ramdisk_image + isize > 48 * MiB - 4096);
	CHECK(!memcmp(host(&e, bph.ramdisk_image), data, isize));
	gm_free(&e.gm);

	/* A bigger payload than init_size: the initrd stays above it. */
	env_init(&e, "");
	e.img.initrd_fd = fd;
	e.img.initrd_size = isize;
	default_hdr(&h);
	h.pref_address = 0;
	h.init_size = 0x1000;
	CHECK_EQ(load_hdr(&e, &h, PAYLOAD), 0);
	read_bp_hdr(&e, &bph);
	CHECK(bph.ramdisk_image >= LAYOUT_HIGH_MEM + PAYLOAD);
	gm_free(&e.gm);
	close(fd);
	free(data);
}

#define EXPECT_ERR(e, h, payload, rc, word)                                    \
	do {                                                                   \
		int r_;                                                        \
		memset(&(e)->entry, 0x5a, sizeof((e)->entry));                 \
		r_ = load_hdr(e, h, payload);                                  \
		if (r_ != (rc))                                                \
			test_fail(__FILE__, __LINE__, "load = %d, want %d",    \
				  r_, (rc));                                   \
		if (!strstr((e)->img.err, word))                               \
			test_fail(__FILE__, __LINE__,                          \
				  "message \"%s\" lacks \"%s\"", (e)->img.err, \
				  word);                                       \
		if ((e)->entry.rip != 0x5a5a5a5a5a5a5a5aull)                   \
			test_fail(__FILE__, __LINE__, "entry written");        \
		/* Blame falls on --initrd exactly for initrd messages. */     \
		if ((e)->img.err_initrd !=                                     \
		    !strncmp((e)->img.err, "initrd", 6))                       \
			test_fail(__FILE__, __LINE__,                          \
				  "err_initrd is %d for "                      \
				  "\"%s\"",                                    \
				  (e)->img.err_initrd, (e)->img.err);          \
	} while (0)

static void rejects_truncated(void)
{
	struct setup_header h;
	struct fake_boot e;
	struct boot_image *img = &e.img;
	uint8_t *k;
	size_t size;

	env_init(&e, "");
	default_hdr(&h);
	k = make_image(&h, PAYLOAD, &size);
	CHECK(k != NULL);
	if (!k)
		return;
	/* Smaller than the boot sector plus header, sized exactly. */
	{
		uint8_t *small = malloc(1023);

		if (small) {
			memcpy(small, k, 1023);
			img->kernel = small;
			img->kernel_size = 1023;
			CHECK_EQ(bzimage_load(&e.gm, img, &e.entry), -ENOEXEC);
			CHECK(strstr(img->err, "truncated") != NULL);
			CHECK_EQ(boot_load_kernel(&e.gm, img, &e.entry),
				 -ENOEXEC);
			CHECK(strstr(img->err, "truncated") != NULL);
			free(small);
		}
	}
	free(k);

	/* The header promises more than the file holds. */
	h.syssize = PAYLOAD / 16 + 1;
	EXPECT_ERR(&e, &h, PAYLOAD, -ENOEXEC, "truncated");
	default_hdr(&h);
	EXPECT_ERR(&e, &h, PAYLOAD - 1, -ENOEXEC, "truncated");
	/* No kernel at all after the setup code. */
	EXPECT_ERR(&e, &h, 0, -ENOEXEC, "truncated");
	/* setup_sects pointing past the end of the file. */
	k = make_image(&h, PAYLOAD, &size);
	if (k) {
		k[SETUP_HEADER_OFFSET] = 255; /* setup_sects */
		img->kernel = k;
		img->kernel_size = size;
		CHECK_EQ(boot_load_kernel(&e.gm, img, &e.entry), -ENOEXEC);
		CHECK(strstr(img->err, "truncated") != NULL);
		free(k);
	}
	gm_free(&e.gm);
}

static void rejects_bad_headers(void)
{
	struct setup_header h;
	struct fake_boot e;

	env_init(&e, "");
	default_hdr(&h);
	h.boot_flag = 0;
	EXPECT_ERR(&e, &h, PAYLOAD, -ENOEXEC, "not a bzImage");
	default_hdr(&h);
	h.header = 0x53726449; /* "IdrS": then it is not even detected */
	EXPECT_ERR(&e, &h, PAYLOAD, -ENOEXEC, "bzImage");
	{
		size_t size;
		uint8_t *k = make_image(&h, PAYLOAD, &size);

		e.img.kernel = k;
		e.img.kernel_size = size;
		CHECK_EQ(bzimage_load(&e.gm, &e.img, &e.entry), -ENOEXEC);
		CHECK(strstr(e.img.err, "not a bzImage") != NULL);
		free(k);
	}

	default_hdr(&h);
	h.version = 0x020b;
	EXPECT_ERR(&e, &h, PAYLOAD, -ENOEXEC, "2.12");
	h.version = 0x0200;
	EXPECT_ERR(&e, &h, PAYLOAD, -ENOEXEC, "2.12");

	default_hdr(&h);
	h.xloadflags = XLF_CAN_BE_LOADED_ABOVE_4G;
	EXPECT_ERR(&e, &h, PAYLOAD, -ENOEXEC, "64-bit");

	default_hdr(&h);
	h.loadflags = 0;
	EXPECT_ERR(&e, &h, PAYLOAD, -ENOEXEC, "zImage");
	gm_free(&e.gm);
}

static void rejects_long_cmdline(void)
{
	struct setup_header h;
	struct fake_boot e;
	char line[300];

	env_init(&e, "console=ttyS0");
	default_hdr(&h);
	h.cmdline_size = 12;
	EXPECT_ERR(&e, &h, PAYLOAD, -E2BIG, "command line");
	CHECK(strstr(e.img.err, "13") != NULL);
	h.cmdline_size = 13;
	CHECK_EQ(load_hdr(&e, &h, PAYLOAD), 0);
	gm_free(&e.gm);

	/* cmdline_size 0 (before protocol 2.06) means 255. */
	memset(line, 'x', 256);
	line[256] = '\0';
	env_init(&e, line);
	default_hdr(&h);
	h.cmdline_size = 0;
	EXPECT_ERR(&e, &h, PAYLOAD, -E2BIG, "255");
	line[255] = '\0';
	CHECK_EQ(load_hdr(&e, &h, PAYLOAD), 0);
	CHECK_EQ(strlen((const char *)host(&e, LAYOUT_CMDLINE)), 255);
	gm_free(&e.gm);
}

static void rejects_kernel_too_big_for_guest(void)
{
	struct setup_header h;
	struct fake_boot e;

	env_init(&e, "");
	default_hdr(&h);
	/* Runs at 16 MiB and needs 60 MiB there: 76 MiB in all. */
	h.init_size = 60 * MiB;
	EXPECT_ERR(&e, &h, PAYLOAD, -E2BIG, "76 MiB");
	/* Exactly fits: 16 + 48 = 64 MiB. */
	h.init_size = 48 * MiB;
	CHECK_EQ(load_hdr(&e, &h, PAYLOAD), 0);

	/* Not relocated: runs at 1 MiB. */
	default_hdr(&h);
	h.pref_address = 0;
	h.init_size = 63 * MiB + 1;
	EXPECT_ERR(&e, &h, PAYLOAD, -E2BIG, "65 MiB");
	h.init_size = 63 * MiB;
	CHECK_EQ(load_hdr(&e, &h, PAYLOAD), 0);

	/* Preferred address beyond RAM: more memory would help. */
	default_hdr(&h);
	h.pref_address = 128 * MiB;
	EXPECT_ERR(&e, &h, PAYLOAD, -E2BIG, "132 MiB");
	/*
	 * In the MMIO hole or near 2^64, where no amount of memory helps:
	 * the message must not suggest a (wrapped-around) size.
	 */
	h.pref_address = LAYOUT_MMIO_HOLE + 0x200000;
	EXPECT_ERR(&e, &h, PAYLOAD, -E2BIG, "address");
	h.pref_address = 0xffffffffffe00000ull;
	EXPECT_ERR(&e, &h, PAYLOAD, -E2BIG, "address");
	h.pref_address = UINT64_MAX;
	h.init_size = UINT32_MAX;
	EXPECT_ERR(&e, &h, PAYLOAD, -E2BIG, "address");
	gm_free(&e.gm);
}

static void rejects_initrd_that_does_not_fit(void)
{
	struct setup_header h;
	struct fake_boot e;
	uint8_t *data;
	int fd = open_initrd(4096, &data);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	env_init(&e, "");
	e.img.initrd_fd = fd;
	/* 64 MiB guest, kernel needs up to 20 MiB: 44 MiB are left. */
	e.img.initrd_size = 45 * MiB;
	default_hdr(&h);
	EXPECT_ERR(&e, &h, PAYLOAD, -E2BIG, "initrd");
	CHECK(!strncmp(e.img.err, "initrd", 6));
	CHECK(e.img.err_initrd);
	/* Below a low initrd_addr_max there is even less room. */
	e.img.initrd_size = 1 * MiB;
	h.initrd_addr_max = 20 * MiB;
	EXPECT_ERR(&e, &h, PAYLOAD, -E2BIG, "initrd");
	CHECK(!strncmp(e.img.err, "initrd", 6));
	CHECK(e.img.err_initrd);
	/* More than the 32-bit ramdisk_size field holds. */
	default_hdr(&h);
	e.img.initrd_size = 1ull << 32;
	EXPECT_ERR(&e, &h, PAYLOAD, -E2BIG, "initrd");
	CHECK(!strncmp(e.img.err, "initrd", 6));
	CHECK(e.img.err_initrd);
	gm_free(&e.gm);
	close(fd);
	free(data);
}

/* Interesting values for a mutated header field. */
static uint32_t edge_value(void)
{
	static const uint32_t v[] = { 0,	  1,	      0xff,
				      0x100,	  0xffff,     0x10000,
				      0x7fffffff, 0x80000000, 0xfffffffe,
				      0xffffffff, 0x1000000,  0x3ffffff };

	return fake_rng() % 2 ? v[fake_rng() % (sizeof(v) / sizeof(v[0]))] :
				fake_rng();
}

static void fuzz_header_mutations(void)
{
	struct setup_header h;
	struct fake_boot e;
	uint8_t *base, *k, *data;
	size_t size;
	unsigned int iter, ok = 0, bad_err = 0, bad_entry = 0;
	int fd = open_initrd(8192, &data);

	CHECK(fd >= 0);
	env_init(&e, "console=ttyS0");
	default_hdr(&h);
	base = make_image(&h, PAYLOAD, &size);
	CHECK(base != NULL);
	if (!base || fd < 0)
		return;
	fake_rng_seed(0x6d696361);
	for (iter = 0; iter < 2000; iter++) {
		size_t ksize = size, m, nmut = 1 + fake_rng() % 6;

		for (m = 0; m < nmut; m++) {
			size_t off = SETUP_HEADER_OFFSET +
				     fake_rng() % (unsigned int)sizeof(h);

			if (fake_rng() % 3 == 0 && off + 4 <= 0x26c) {
				uint32_t v = edge_value();

				memcpy(base + off, &v, 4);
			} else {
				base[off] = (uint8_t)fake_rng();
			}
		}
		/* Sometimes a truncated file; always an exact-size copy. */
		if (fake_rng() % 4 == 0)
			ksize = fake_rng() % (size + 1);
		k = malloc(ksize ? ksize : 1);
		memcpy(k, base, ksize);

		e.img.kernel = k;
		e.img.kernel_size = ksize;
		e.img.err[0] = '\0';
		e.img.initrd_fd = fake_rng() % 2 ? fd : -1;
		e.img.initrd_size = fake_rng() % 2 ? 8192 : edge_value();
		memset(&e.entry, 0x5a, sizeof(e.entry));
		if (boot_load_kernel(&e.gm, &e.img, &e.entry) == 0) {
			ok++;
			if (e.entry.rip != 0x100200 ||
			    e.entry.mode != BOOT_MODE_LONG64)
				bad_entry++;
		} else if (!e.img.err[0]) {
			bad_err++;
		}
		free(k);
		/* Back to a valid header every few rounds. */
		if (iter % 8 == 7)
			memcpy(base + SETUP_HEADER_OFFSET, &h, sizeof(h));
	}
	CHECK_EQ(bad_err, 0);
	CHECK_EQ(bad_entry, 0);
	/* The loop exercised both outcomes. */
	CHECK(ok > 0);
	CHECK(ok < 2000);
	free(base);
	close(fd);
	free(data);
	gm_free(&e.gm);
}

TEST_SUITE(bzimage, TEST_CASE(loads_payload_and_entry),
	   TEST_CASE(boot_params_tables),
	   TEST_CASE(old_protocol_has_no_rsdp_field),
	   TEST_CASE(initrd_loaded_high), TEST_CASE(rejects_truncated),
	   TEST_CASE(rejects_bad_headers), TEST_CASE(rejects_long_cmdline),
	   TEST_CASE(rejects_kernel_too_big_for_guest),
	   TEST_CASE(rejects_initrd_that_does_not_fit),
	   TEST_CASE(fuzz_header_mutations));
