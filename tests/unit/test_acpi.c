// SPDX-License-Identifier: MIT
/*
 * Tests of the ACPI table builder. They read the tables the way an OS does:
 * RSDP -> XSDT -> FADT -> DSDT/FACS and MADT, checking every checksum and
 * length, and walk the DSDT's AML with a small decoder written here (not
 * shared with the builder) for the subset mica emits.
 */
#include "unit/fake.h"
#include "unit/test.h"

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/layout.h"

#include <errno.h>
#include <stdlib.h>

#define CANARY 0xa5

static uint8_t image[LAYOUT_ACPI_SIZE];

static uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	for (size_t i = 0; i < n; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

/* The tables of one build, found by following pointers from the RSDP. */
struct tables {
	const uint8_t *buf;
	size_t used;
	uint64_t base;
	const uint8_t *xsdt, *fadt, *facs, *dsdt, *madt, *mcfg;
	uint64_t xsdt_gpa, fadt_gpa, facs_gpa, dsdt_gpa, madt_gpa, mcfg_gpa;
	uint32_t xsdt_len, fadt_len, dsdt_len, madt_len, mcfg_len;
};

/* The image's bytes at guest-physical [gpa, gpa + len), or NULL. */
static const uint8_t *at(const struct tables *t, uint64_t gpa, size_t len)
{
	uint64_t off;

	if (gpa < t->base)
		return NULL;
	off = gpa - t->base;
	if (off > t->used || len > t->used - off)
		return NULL;
	return t->buf + off;
}

/* A system description table at gpa, checked as a consumer would. */
static const uint8_t *sdt_at(const struct tables *t, uint64_t gpa,
			     const char *sig, uint32_t *len)
{
	const uint8_t *h = at(t, gpa, 36);
	const uint8_t *tbl;
	uint32_t l;

	CHECK(h);
	if (!h)
		return NULL;
	CHECK(!memcmp(h, sig, 4));
	l = fake_rd32(h + 4);
	CHECK(l >= 36);
	tbl = at(t, gpa, l);
	CHECK(tbl);
	if (l < 36 || !tbl)
		return NULL;
	CHECK_EQ(sum8(tbl, l), 0);
	CHECK(!memcmp(h + 10, "MICA  ", 6));
	CHECK(!memcmp(h + 16, "MICAVM  ", 8));
	CHECK(!memcmp(h + 28, "MICA", 4));
	CHECK(gpa % 8 == 0);
	*len = l;
	return tbl;
}

static bool parse(struct tables *t)
{
	const uint8_t *rsdp = t->buf;
	uint32_t n;

	CHECK(!memcmp(rsdp, "RSD PTR ", 8));
	CHECK_EQ(sum8(rsdp, 20), 0);
	CHECK_EQ(rsdp[15], 2); /* revision */
	CHECK_EQ(fake_rd32(rsdp + 20), 36); /* length */
	CHECK_EQ(sum8(rsdp, 36), 0);
	CHECK(!memcmp(rsdp + 9, "MICA  ", 6));
	CHECK_EQ(fake_rd32(rsdp + 16), 0); /* no RSDT */

	t->xsdt_gpa = fake_rd64(rsdp + 24);
	t->xsdt = sdt_at(t, t->xsdt_gpa, "XSDT", &t->xsdt_len);
	if (!t->xsdt)
		return false;
	CHECK_EQ(t->xsdt[8], 1);
	CHECK_EQ((t->xsdt_len - 36) % 8, 0);
	n = (t->xsdt_len - 36) / 8;
	CHECK_EQ(n, 3);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t gpa = fake_rd64(t->xsdt + 36 + 8 * i);
		const uint8_t *h = at(t, gpa, 4);

		CHECK(h);
		if (!h)
			return false;
		if (!memcmp(h, "FACP", 4) && !t->fadt) {
			t->fadt_gpa = gpa;
			t->fadt = sdt_at(t, gpa, "FACP", &t->fadt_len);
		} else if (!memcmp(h, "APIC", 4) && !t->madt) {
			t->madt_gpa = gpa;
			t->madt = sdt_at(t, gpa, "APIC", &t->madt_len);
		} else if (!memcmp(h, "MCFG", 4) && !t->mcfg) {
			t->mcfg_gpa = gpa;
			t->mcfg = sdt_at(t, gpa, "MCFG", &t->mcfg_len);
		} else {
			test_fail(__FILE__, __LINE__,
				  "unexpected or repeated table %.4s", h);
		}
	}
	CHECK(t->fadt && t->madt && t->mcfg);
	if (!t->fadt || !t->madt || !t->mcfg)
		return false;
	CHECK_EQ(t->fadt_len, 276);
	CHECK_EQ(t->fadt[8], 6);
	CHECK_EQ(t->madt[8], 5);

	t->dsdt_gpa = fake_rd64(t->fadt + 140);
	t->dsdt = sdt_at(t, t->dsdt_gpa, "DSDT", &t->dsdt_len);
	if (!t->dsdt)
		return false;
	CHECK_EQ(t->dsdt[8], 2);

	t->facs_gpa = fake_rd64(t->fadt + 132);
	t->facs = at(t, t->facs_gpa, 64);
	CHECK(t->facs);
	if (!t->facs)
		return false;
	CHECK(!memcmp(t->facs, "FACS", 4));
	CHECK_EQ(fake_rd32(t->facs + 4), 64);
	return true;
}

/* Builds into image (filled with CANARY first) and parses the result. */
static bool build(struct tables *t, unsigned int nr_cpus, uint64_t base)
{
	const struct acpi_config cfg = { .nr_cpus = nr_cpus, .base_gpa = base };
	size_t used = 0;
	int rc;

	memset(image, CANARY, sizeof(image));
	rc = acpi_build(&cfg, image, sizeof(image), &used);
	CHECK_EQ(rc, 0);
	if (rc)
		return false;
	CHECK(used >= 36 && used <= sizeof(image));
	for (size_t i = used; i < sizeof(image); i++) {
		if (image[i] != CANARY) {
			test_fail(__FILE__, __LINE__, "byte %zu past used", i);
			break;
		}
	}
	*t = (struct tables){ .buf = image, .used = used, .base = base };
	return parse(t);
}

/* ---- A decoder for the AML subset the builder emits. ---- */

/*
 * Decodes a PkgLength at p: its value (which counts its own bytes) and size.
 * Also checks it is the shortest encoding and reserved bits are clear.
 */
static bool pkglength_decode(const uint8_t *p, size_t avail, size_t *value,
			     size_t *nbytes)
{
	unsigned int follow;
	size_t v;

	if (!avail)
		return false;
	follow = p[0] >> 6;
	if (!follow) {
		*value = p[0] & 0x3f;
		*nbytes = 1;
		return true;
	}
	if ((p[0] & 0x30) || avail < follow + 1)
		return false;
	v = p[0] & 0xf;
	for (unsigned int i = 1; i <= follow; i++)
		v |= (size_t)p[i] << (4 + 8 * (i - 1));
	/* Shortest form: the value must not fit in one byte fewer. */
	if (v <= (follow == 1 ? 0x3fu : (1u << (4 + 8 * (follow - 1))) - 1))
		return false;
	*value = v;
	*nbytes = follow + 1;
	return true;
}

struct reader {
	const uint8_t *p;
	size_t end; /* p[0..end) is readable */
	size_t pos;
	bool ok;
	size_t max_pkglength_bytes;
};

static uint8_t r_byte(struct reader *r)
{
	if (!r->ok || r->pos >= r->end) {
		r->ok = false;
		return 0;
	}
	return r->p[r->pos++];
}

/* Reads a PkgLength and returns the end of the object it measures. */
static size_t r_pkg_end(struct reader *r)
{
	size_t start = r->pos, value, nbytes;

	if (!r->ok ||
	    !pkglength_decode(r->p + r->pos, r->end - r->pos, &value,
			      &nbytes) ||
	    value > r->end - start) {
		r->ok = false;
		return r->pos;
	}
	if (nbytes > r->max_pkglength_bytes)
		r->max_pkglength_bytes = nbytes;
	r->pos += nbytes;
	return start + value;
}

static void r_nameseg(struct reader *r, char out[5])
{
	for (int i = 0; i < 4; i++) {
		char c = (char)r_byte(r);

		if (!((c >= 'A' && c <= 'Z') || c == '_' ||
		      (i > 0 && c >= '0' && c <= '9')))
			r->ok = false;
		out[i] = c;
	}
	out[4] = '\0';
}

static bool r_integer(struct reader *r, uint64_t *v)
{
	unsigned int n;

	switch (r_byte(r)) {
	case 0x00:
		*v = 0;
		return r->ok;
	case 0x01:
		*v = 1;
		return r->ok;
	case 0x0a:
		n = 1;
		break;
	case 0x0b:
		n = 2;
		break;
	case 0x0c:
		n = 4;
		break;
	case 0x0e:
		n = 8;
		break;
	default:
		r->ok = false;
		return false;
	}
	*v = 0;
	for (unsigned int i = 0; i < n; i++)
		*v |= (uint64_t)r_byte(r) << (8 * i);
	return r->ok;
}

struct aml_device {
	char name[5];
	bool hid_is_int;
	uint32_t hid_int;
	char hid_str[16];
	bool has_uid;
	uint64_t uid;
	bool has_cid, has_seg, has_bbn;
	uint64_t cid, seg, bbn;
	const uint8_t *crs;
	size_t crs_len;
	const uint8_t *prt; /* _PRT's NumElements, then its elements */
	size_t prt_len;
};

#define MAX_DEVICES (ACPI_MAX_CPUS + 8)

struct dsdt_info {
	bool has_s5;
	uint64_t s5[8];
	unsigned int s5_count;
	struct aml_device dev[MAX_DEVICES];
	unsigned int nr_dev;
	size_t max_pkglength_bytes;
};

/* Name(seg, object) inside a device: Integer, String or Buffer. */
static void r_device_name(struct reader *r, struct aml_device *d)
{
	char seg[5];
	uint8_t op;
	uint64_t v = 0;

	r_nameseg(r, seg);
	if (!r->ok)
		return;
	op = r->p[r->pos];
	if (op == 0x0d) { /* String */
		size_t i = 0;
		char c;

		r->pos++;
		while ((c = (char)r_byte(r)) != '\0' && r->ok) {
			if (!strcmp(seg, "_HID") && i + 1 < sizeof(d->hid_str))
				d->hid_str[i++] = c;
		}
		if (!strcmp(seg, "_HID"))
			d->hid_str[i] = '\0';
	} else if (op == 0x12) { /* Package: only _PRT */
		size_t end;

		r->pos++;
		end = r_pkg_end(r);
		if (strcmp(seg, "_PRT")) {
			r->ok = false;
			return;
		}
		d->prt = r->p + r->pos;
		d->prt_len = end - r->pos;
		r->pos = end;
	} else if (op == 0x11) { /* Buffer */
		size_t end;
		uint64_t size;

		r->pos++;
		end = r_pkg_end(r);
		if (!r_integer(r, &size) || size != end - r->pos) {
			r->ok = false;
			return;
		}
		if (!strcmp(seg, "_CRS")) {
			d->crs = r->p + r->pos;
			d->crs_len = (size_t)size;
		}
		r->pos = end;
	} else if (r_integer(r, &v)) {
		if (!strcmp(seg, "_HID")) {
			d->hid_is_int = true;
			d->hid_int = (uint32_t)v;
		} else if (!strcmp(seg, "_UID")) {
			d->has_uid = true;
			d->uid = v;
		} else if (!strcmp(seg, "_CID")) {
			d->has_cid = true;
			d->cid = v;
		} else if (!strcmp(seg, "_SEG")) {
			d->has_seg = true;
			d->seg = v;
		} else if (!strcmp(seg, "_BBN")) {
			d->has_bbn = true;
			d->bbn = v;
		}
	}
}

static void r_device(struct reader *r, struct dsdt_info *info)
{
	struct aml_device *d;
	size_t end;

	if (r_byte(r) != 0x5b || r_byte(r) != 0x82 ||
	    info->nr_dev >= MAX_DEVICES) {
		r->ok = false;
		return;
	}
	d = &info->dev[info->nr_dev++];
	end = r_pkg_end(r);
	r_nameseg(r, d->name);
	while (r->ok && r->pos < end) {
		if (r_byte(r) != 0x08) { /* only Name() objects in devices */
			r->ok = false;
			return;
		}
		r_device_name(r, d);
	}
	if (r->pos != end)
		r->ok = false;
}

static void r_s5(struct reader *r, struct dsdt_info *info)
{
	size_t end;
	unsigned int n;

	if (r_byte(r) != 0x12) { /* Package */
		r->ok = false;
		return;
	}
	end = r_pkg_end(r);
	n = r_byte(r);
	info->s5_count = n;
	for (unsigned int i = 0; i < n && r->ok; i++) {
		uint64_t v = 0;

		r_integer(r, &v);
		if (i < 8)
			info->s5[i] = v;
	}
	if (r->pos != end)
		r->ok = false;
	info->has_s5 = r->ok;
}

/* Walks the whole DSDT; false if any byte of it is not understood. */
static bool dsdt_decode(const struct tables *t, struct dsdt_info *info)
{
	struct reader r = {
		.p = t->dsdt, .end = t->dsdt_len, .pos = 36, .ok = true
	};

	memset(info, 0, sizeof(*info));
	while (r.ok && r.pos < r.end) {
		uint8_t op = r_byte(&r);
		char seg[5];

		if (op == 0x08) { /* Name */
			r_nameseg(&r, seg);
			if (!strcmp(seg, "_S5_"))
				r_s5(&r, info);
			else
				r.ok = false;
		} else if (op == 0x10) { /* Scope(\_SB_) */
			size_t end = r_pkg_end(&r);

			if (r_byte(&r) != 0x5c)
				r.ok = false;
			r_nameseg(&r, seg);
			if (strcmp(seg, "_SB_"))
				r.ok = false;
			while (r.ok && r.pos < end)
				r_device(&r, info);
			if (r.pos != end)
				r.ok = false;
		} else {
			r.ok = false;
		}
	}
	info->max_pkglength_bytes = r.max_pkglength_bytes;
	CHECK(r.ok);
	CHECK_EQ(r.pos, t->dsdt_len);
	return r.ok && r.pos == t->dsdt_len;
}

static const struct aml_device *find_device(const struct dsdt_info *info,
					    const char *name)
{
	for (unsigned int i = 0; i < info->nr_dev; i++)
		if (!strcmp(info->dev[i].name, name))
			return &info->dev[i];
	return NULL;
}

/* What a _CRS resource template holds, decoded (small items only). */
struct resources {
	unsigned int nr_io;
	struct {
		uint16_t min, max;
		uint8_t align, len;
	} io[4];
	uint16_t irq_mask;
	bool ends;
};

static bool crs_decode(const uint8_t *p, size_t len, struct resources *res)
{
	size_t i = 0;

	memset(res, 0, sizeof(*res));
	while (i < len && !res->ends) {
		uint8_t tag = p[i];
		unsigned int type = (tag >> 3) & 0xf, n = tag & 7;

		if ((tag & 0x80) || i + 1 + n > len)
			return false;
		if (type == 0x8 && n == 7 && res->nr_io < 4) { /* I/O port */
			if (p[i + 1] != 0x01) /* 16-bit decode */
				return false;
			res->io[res->nr_io].min = fake_rd16(p + i + 2);
			res->io[res->nr_io].max = fake_rd16(p + i + 4);
			res->io[res->nr_io].align = p[i + 6];
			res->io[res->nr_io].len = p[i + 7];
			res->nr_io++;
		} else if (type == 0x4 && n == 2) { /* IRQ, no flags */
			res->irq_mask = fake_rd16(p + i + 1);
		} else if (type == 0xf && n == 1) { /* end tag */
			res->ends = true;
		} else {
			return false;
		}
		i += 1 + n;
	}
	return res->ends && i == len;
}

/* ---- Tests ---- */

static void rsdp_found_and_checksummed(void)
{
	struct tables t;

	CHECK(build(&t, 1, LAYOUT_ACPI));
	/* Where Linux's legacy scan looks: 16-byte aligned in 0xe0000.. */
	CHECK(!memcmp(image, "RSD PTR ", 8));
	CHECK_EQ(LAYOUT_ACPI % 16, 0);
	CHECK_EQ(sum8(image, 20), 0);
	CHECK_EQ(sum8(image, 36), 0);
	CHECK_EQ(image[15], 2);
	CHECK(t.xsdt_gpa >= LAYOUT_ACPI + 36);
}

static void xsdt_lists_fadt_and_madt(void)
{
	static const uint64_t bases[] = { LAYOUT_ACPI, 0x10, 0xe0030 };

	for (size_t b = 0; b < sizeof(bases) / sizeof(bases[0]); b++) {
		struct tables t;
		struct span {
			uint64_t gpa, len;
		} spans[7];
		size_t n = 0;

		if (!build(&t, 4, bases[b]))
			continue;
		spans[n++] = (struct span){ bases[b], 36 };
		spans[n++] = (struct span){ t.xsdt_gpa, t.xsdt_len };
		spans[n++] = (struct span){ t.fadt_gpa, t.fadt_len };
		spans[n++] = (struct span){ t.facs_gpa, 64 };
		spans[n++] = (struct span){ t.dsdt_gpa, t.dsdt_len };
		spans[n++] = (struct span){ t.madt_gpa, t.madt_len };
		spans[n++] = (struct span){ t.mcfg_gpa, t.mcfg_len };
		/* No two tables overlap. */
		for (size_t i = 0; i < n; i++)
			for (size_t j = i + 1; j < n; j++)
				CHECK(spans[i].gpa + spans[i].len <=
					      spans[j].gpa ||
				      spans[j].gpa + spans[j].len <=
					      spans[i].gpa);
		/* The last one ends where the builder said. */
		CHECK_EQ(t.mcfg_gpa + t.mcfg_len, bases[b] + t.used);
	}
}

static void fadt_fields(void)
{
	struct tables t;
	const uint8_t *f;
	uint32_t flags;

	if (!build(&t, 2, LAYOUT_ACPI))
		return;
	f = t.fadt;
	CHECK_EQ(f[131], 3); /* minor version: 6.3 */
	CHECK_EQ(fake_rd32(f + 36), 0); /* FIRMWARE_CTRL: X_ only, 5.2.9 */
	CHECK_EQ(fake_rd64(f + 132), t.facs_gpa);
	CHECK_EQ(fake_rd32(f + 40), t.dsdt_gpa); /* DSDT below 4 GiB: both */
	CHECK_EQ(fake_rd64(f + 140), t.dsdt_gpa);
	CHECK_EQ(fake_rd16(f + 46), IRQ_SCI);
	CHECK_EQ(fake_rd32(f + 48), 0); /* SMI_CMD: always in ACPI mode */
	CHECK_EQ(f[52], 0);
	CHECK_EQ(f[53], 0);

	CHECK_EQ(fake_rd32(f + 56), PORT_PM1A_EVT);
	CHECK_EQ(fake_rd32(f + 60), 0); /* PM1b_EVT */
	CHECK_EQ(fake_rd32(f + 64), PORT_PM1A_CNT);
	CHECK_EQ(fake_rd32(f + 68), 0); /* PM1b_CNT */
	CHECK_EQ(fake_rd32(f + 72), 0); /* PM2_CNT */
	CHECK_EQ(fake_rd32(f + 76), PORT_PM_TMR);
	CHECK_EQ(fake_rd32(f + 80), 0); /* GPE0 */
	CHECK_EQ(fake_rd32(f + 84), 0); /* GPE1 */
	CHECK_EQ(f[88], 4); /* PM1_EVT_LEN */
	CHECK_EQ(f[89], 2); /* PM1_CNT_LEN */
	CHECK_EQ(f[90], 0); /* PM2_CNT_LEN */
	CHECK_EQ(f[91], 4); /* PM_TMR_LEN */
	CHECK_EQ(f[92], 0); /* GPE0_BLK_LEN */
	CHECK_EQ(f[93], 0); /* GPE1_BLK_LEN */
	CHECK(fake_rd16(f + 96) > 100); /* no C2 */
	CHECK(fake_rd16(f + 98) > 1000); /* no C3 */
	CHECK_EQ(f[108], 0x32); /* CENTURY */
	CHECK_EQ(fake_rd16(f + 109), 0x3); /* LEGACY_DEVICES | 8042, has RTC */

	flags = fake_rd32(f + 112);
	CHECK(flags & (1u << 0)); /* WBINVD */
	CHECK(flags & (1u << 2)); /* PROC_C1 */
	CHECK(!(flags & (1u << 4))); /* power button: fixed feature */
	CHECK(flags & (1u << 5)); /* no sleep button */
	CHECK(!(flags & (1u << 8))); /* 24-bit PM timer */
	CHECK(flags & (1u << 10)); /* RESET_REG_SUP */
	CHECK(!(flags & (1u << 20))); /* not hardware-reduced */

	/* RESET_REG: system I/O, 8 bits at 0xcf9, byte access; value 6 */
	CHECK_EQ(f[116], 1);
	CHECK_EQ(f[117], 8);
	CHECK_EQ(f[118], 0);
	CHECK_EQ(f[119], 1);
	CHECK_EQ(fake_rd64(f + 120), PORT_RESET);
	CHECK_EQ(f[128], 0x06);

	/* X_ blocks agree with the legacy ones. */
	CHECK_EQ(f[148], 1);
	CHECK_EQ(f[149], 32);
	CHECK_EQ(fake_rd64(f + 152), PORT_PM1A_EVT);
	CHECK_EQ(fake_rd64(f + 164), 0); /* X_PM1b_EVT */
	CHECK_EQ(f[172], 1);
	CHECK_EQ(f[173], 16);
	CHECK_EQ(fake_rd64(f + 176), PORT_PM1A_CNT);
	CHECK_EQ(fake_rd64(f + 188), 0); /* X_PM1b_CNT */
	CHECK_EQ(fake_rd64(f + 200), 0); /* X_PM2_CNT */
	CHECK_EQ(f[208], 1);
	CHECK_EQ(f[209], 32);
	CHECK_EQ(f[211], 3); /* dword access */
	CHECK_EQ(fake_rd64(f + 212), PORT_PM_TMR);
	CHECK_EQ(fake_rd64(f + 224), 0); /* X_GPE0 */
	CHECK_EQ(fake_rd64(f + 236), 0); /* X_GPE1 */
	CHECK_EQ(fake_rd64(f + 248), 0); /* SLEEP_CONTROL_REG */
	CHECK_EQ(fake_rd64(f + 260), 0); /* SLEEP_STATUS_REG */
}

static void facs_aligned(void)
{
	static const uint64_t bases[] = { LAYOUT_ACPI, 0xe0010, 0xe0030,
					  0x1000000f0ull };

	for (size_t b = 0; b < sizeof(bases) / sizeof(bases[0]); b++) {
		struct tables t;

		if (!build(&t, 1, bases[b]))
			continue;
		CHECK_EQ(t.facs_gpa % 64, 0);
		CHECK_EQ(t.facs[32], 2); /* version */
		CHECK_EQ(fake_rd32(t.facs + 8), 0); /* hardware signature */
		CHECK_EQ(fake_rd32(t.facs + 16), 0); /* global lock free */
	}
}

static void check_madt(unsigned int nr_cpus)
{
	struct tables t;
	const uint8_t *m;
	unsigned int lapics = 0, ioapics = 0, isos = 0, nmis = 0;
	bool irq0 = false, irq9 = false;
	size_t off = 44;

	if (!build(&t, nr_cpus, LAYOUT_ACPI))
		return;
	m = t.madt;
	CHECK_EQ(fake_rd32(m + 36), LAYOUT_LAPIC);
	CHECK_EQ(fake_rd32(m + 40), 1); /* PCAT_COMPAT */
	while (off + 2 <= t.madt_len) {
		const uint8_t *e = m + off;
		uint8_t type = e[0], len = e[1];

		if (len < 2 || off + len > t.madt_len) {
			test_fail(__FILE__, __LINE__, "bad MADT entry at %zu",
				  off);
			return;
		}
		switch (type) {
		case 0:
			CHECK_EQ(len, 8);
			CHECK_EQ(e[2], lapics); /* ACPI processor UID */
			CHECK_EQ(e[3], lapics); /* APIC ID */
			CHECK_EQ(fake_rd32(e + 4), 1); /* enabled */
			lapics++;
			break;
		case 1:
			CHECK_EQ(len, 12);
			CHECK_EQ(e[2], nr_cpus);
			CHECK_EQ(fake_rd32(e + 4), LAYOUT_IOAPIC);
			CHECK_EQ(fake_rd32(e + 8), 0);
			ioapics++;
			break;
		case 2:
			CHECK_EQ(len, 10);
			CHECK_EQ(e[2], 0); /* ISA */
			if (e[3] == 0) {
				CHECK_EQ(fake_rd32(e + 4), 2);
				CHECK_EQ(fake_rd16(e + 8), 0);
				irq0 = true;
			} else if (e[3] == 9) {
				CHECK_EQ(fake_rd32(e + 4), 9);
				CHECK_EQ(fake_rd16(e + 8),
					 0xd); /* level, high */
				irq9 = true;
			}
			isos++;
			break;
		case 4:
			CHECK_EQ(len, 6);
			CHECK_EQ(e[2], 0xff);
			CHECK_EQ(e[5], 1); /* LINT1 */
			nmis++;
			break;
		default:
			test_fail(__FILE__, __LINE__, "MADT entry type %u",
				  type);
		}
		off += len;
	}
	CHECK_EQ(off, t.madt_len);
	CHECK_EQ(lapics, nr_cpus);
	CHECK_EQ(ioapics, 1);
	CHECK_EQ(isos, 2);
	CHECK(irq0 && irq9);
	CHECK_EQ(nmis, 1);
}

static void madt_cpus_ioapic_overrides(void)
{
	check_madt(1);
	check_madt(2);
	check_madt(16);
	check_madt(ACPI_MAX_CPUS);
}

static void dsdt_s5_package(void)
{
	struct tables t;
	struct dsdt_info *info = calloc(1, sizeof(*info));
	const uint8_t *s5 = NULL;

	CHECK(info);
	if (!info || !build(&t, 1, LAYOUT_ACPI))
		goto out;
	/* The raw bytes: Name(_S5_, Package(4) { 5, 5, 0, 0 }) */
	for (size_t i = 36; i + 4 <= t.dsdt_len; i++)
		if (!memcmp(t.dsdt + i, "_S5_", 4))
			s5 = t.dsdt + i;
	CHECK(s5);
	if (s5) {
		/* NameOp _S5_ PackageOp PkgLength NumElements 5 5 0 0 */
		static const char want[] = "\x08_S5_\x12\x08\x04"
					   "\x0a\x05\x0a\x05\x00\x00";

		CHECK(s5 - 1 + sizeof(want) - 1 <= t.dsdt + t.dsdt_len);
		CHECK(!memcmp(s5 - 1, want, sizeof(want) - 1));
	}
	/* And as a decoder sees it. */
	if (!dsdt_decode(&t, info))
		goto out;
	CHECK(info->has_s5);
	CHECK_EQ(info->s5_count, 4);
	CHECK_EQ(info->s5[0], 5); /* SLP_TYPa */
	CHECK_EQ(info->s5[1], 5); /* SLP_TYPb */
out:
	free(info);
}

static void check_resources(const struct aml_device *d, uint16_t io0,
			    uint8_t len0, uint16_t io1, uint8_t len1,
			    unsigned int nr_io, unsigned int irq)
{
	struct resources res;

	CHECK(d->crs);
	if (!d->crs)
		return;
	CHECK(crs_decode(d->crs, d->crs_len, &res));
	CHECK_EQ(res.nr_io, nr_io);
	if (nr_io > 0) {
		CHECK_EQ(res.io[0].min, io0);
		CHECK_EQ(res.io[0].max, io0);
		CHECK_EQ(res.io[0].len, len0);
		CHECK(res.io[0].align >= 1);
	}
	if (nr_io > 1) {
		CHECK_EQ(res.io[1].min, io1);
		CHECK_EQ(res.io[1].max, io1);
		CHECK_EQ(res.io[1].len, len1);
	}
	CHECK_EQ(res.irq_mask, 1u << irq);
}

static void dsdt_pnp_devices(void)
{
	/* EISAID("PNPxxxx") as stored: "PNP" compresses to 41 d0. */
	static const struct {
		const char *name;
		uint32_t eisaid;
	} want[] = {
		{ "COM1", 0x0105d041 }, /* PNP0501 */
		{ "RTC_", 0x000bd041 }, /* PNP0B00 */
		{ "KBD_", 0x0303d041 }, /* PNP0303 */
		{ "MOU_", 0x130fd041 }, /* PNP0F13 */
	};
	struct dsdt_info *info = calloc(1, sizeof(*info));
	struct tables t;

	CHECK(info);
	if (!info || !build(&t, 1, LAYOUT_ACPI) || !dsdt_decode(&t, info))
		goto out;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct aml_device *d = find_device(info, want[i].name);

		CHECK(d);
		if (!d)
			continue;
		CHECK(d->hid_is_int);
		CHECK_EQ(d->hid_int, want[i].eisaid);
		CHECK(d->has_uid);
	}
	check_resources(find_device(info, "COM1"), PORT_COM1, 8, 0, 0, 1,
			IRQ_COM1);
	check_resources(find_device(info, "RTC_"), PORT_RTC, 2, 0, 0, 1,
			IRQ_RTC);
	check_resources(find_device(info, "KBD_"), PORT_I8042_DATA, 1,
			PORT_I8042_CMD, 1, 2, IRQ_I8042_KBD);
	check_resources(find_device(info, "MOU_"), 0, 0, 0, 0, 0,
			IRQ_I8042_AUX);
out:
	free(info);
}

static void check_cpu_devices(unsigned int nr_cpus)
{
	struct dsdt_info *info = calloc(1, sizeof(*info));
	struct tables t;
	unsigned int cpus = 0;

	CHECK(info);
	if (!info || !build(&t, nr_cpus, LAYOUT_ACPI) || !dsdt_decode(&t, info))
		goto out;
	CHECK_EQ(info->nr_dev, 6 + nr_cpus); /* + PCI0, MRES */
	for (unsigned int i = 0; i < info->nr_dev; i++) {
		const struct aml_device *d = &info->dev[i];

		if (d->hid_is_int)
			continue;
		CHECK_STR(d->hid_str, "ACPI0007");
		CHECK(d->has_uid);
		/* _UID is the MADT's ACPI processor UID, i.e. the index. */
		CHECK_EQ(d->uid, cpus);
		CHECK(!d->crs);
		cpus++;
	}
	CHECK_EQ(cpus, nr_cpus);
	/* Enough CPUs push \_SB past 4095 bytes: a 3-byte PkgLength. */
	if (nr_cpus == ACPI_MAX_CPUS)
		CHECK_EQ(info->max_pkglength_bytes, 3);
out:
	free(info);
}

static void dsdt_cpu_devices(void)
{
	check_cpu_devices(1);
	check_cpu_devices(3);
	check_cpu_devices(ACPI_MAX_CPUS);
}

static void pkglength_boundaries(void)
{
	/* body length -> encoded size and bytes */
	static const struct {
		size_t body;
		int n;
		uint8_t enc[4];
	} cases[] = {
		{ 0, 1, { 0x01 } },
		{ 62, 1, { 0x3f } }, /* value 63: the largest 1-byte form */
		{ 63, 2, { 0x41, 0x04 } }, /* 64 will not fit: value 65 */
		{ 64, 2, { 0x42, 0x04 } },
		{ 4093, 2, { 0x4f, 0xff } }, /* value 4095: largest 2-byte */
		{ 4094, 3, { 0x81, 0x00, 0x01 } }, /* value 4097 */
		{ 4095, 3, { 0x82, 0x00, 0x01 } },
		{ 4096, 3, { 0x83, 0x00, 0x01 } },
		{ 0xffffc, 3, { 0x8f, 0xff, 0xff } }, /* value 2^20 - 1 */
		{ 0xffffd, 4, { 0xc1, 0x00, 0x00, 0x01 } },
		{ 0xffffffb, 4, { 0xcf, 0xff, 0xff, 0xff } }, /* 2^28 - 1 */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t out[4] = { 0 };
		size_t value = 0, nbytes = 0;
		int n = acpi_aml_pkglength(cases[i].body, out);

		CHECK_EQ(n, cases[i].n);
		if (n != cases[i].n)
			continue;
		CHECK(!memcmp(out, cases[i].enc, (size_t)n));
		CHECK(pkglength_decode(out, (size_t)n, &value, &nbytes));
		CHECK_EQ(nbytes, (size_t)n);
		CHECK_EQ(value, cases[i].body + (size_t)n);
	}
	{
		uint8_t out[4];

		CHECK_EQ(acpi_aml_pkglength(0xffffffc, out), -EOVERFLOW);
		CHECK_EQ(acpi_aml_pkglength(SIZE_MAX, out), -EOVERFLOW);
	}
	/* Every length up to 2^13: shortest form, and it decodes back. */
	for (size_t body = 0; body < 8192; body++) {
		uint8_t out[4];
		size_t value = 0, nbytes = 0;
		int n = acpi_aml_pkglength(body, out);

		if (n < 1 ||
		    !pkglength_decode(out, (size_t)n, &value, &nbytes) ||
		    value != body + (size_t)n) {
			test_fail(__FILE__, __LINE__, "body %zu", body);
			break;
		}
	}
}

static void enospc_never_writes_past_len(void)
{
	const struct acpi_config cfg = { .nr_cpus = 2,
					 .base_gpa = LAYOUT_ACPI };
	size_t need = 0, used;
	uint8_t *b;

	CHECK_EQ(acpi_build(&cfg, image, sizeof(image), &need), 0);
	b = malloc(need + 64);
	CHECK(b);
	if (!b)
		return;
	/* Every size short of what is needed fails and writes nothing. */
	for (size_t len = 0; len < need; len++) {
		bool clean = true;

		memset(b, CANARY, need + 64);
		used = 0;
		CHECK_EQ(acpi_build(&cfg, b, len, &used), -ENOSPC);
		CHECK_EQ(used, need);
		for (size_t i = 0; i < need + 64; i++)
			clean = clean && b[i] == CANARY;
		if (!clean) {
			test_fail(__FILE__, __LINE__, "len %zu: buffer written",
				  len);
			break;
		}
	}
	/* An exact fit works and leaves the canary after it alone. */
	memset(b, CANARY, need + 64);
	CHECK_EQ(acpi_build(&cfg, b, need, &used), 0);
	CHECK_EQ(used, need);
	CHECK(!memcmp(b, image, need));
	for (size_t i = need; i < need + 64; i++)
		CHECK_EQ(b[i], CANARY);
	free(b);
}

static void einval_bad_config(void)
{
	struct acpi_config cfg = { .nr_cpus = 0, .base_gpa = LAYOUT_ACPI };
	size_t used = 0;

	CHECK_EQ(acpi_build(&cfg, image, sizeof(image), &used), -EINVAL);
	cfg.nr_cpus = ACPI_MAX_CPUS + 1;
	CHECK_EQ(acpi_build(&cfg, image, sizeof(image), &used), -EINVAL);
	cfg.nr_cpus = 256;
	CHECK_EQ(acpi_build(&cfg, image, sizeof(image), &used), -EINVAL);
	cfg.nr_cpus = ~0u;
	CHECK_EQ(acpi_build(&cfg, image, sizeof(image), &used), -EINVAL);

	cfg.nr_cpus = 1;
	CHECK_EQ(acpi_build(NULL, image, sizeof(image), &used), -EINVAL);
	CHECK_EQ(acpi_build(&cfg, NULL, sizeof(image), &used), -EINVAL);
	CHECK_EQ(acpi_build(&cfg, image, sizeof(image), NULL), -EINVAL);
	cfg.base_gpa = LAYOUT_ACPI + 8; /* the RSDP must be 16-aligned */
	CHECK_EQ(acpi_build(&cfg, image, sizeof(image), &used), -EINVAL);
	cfg.base_gpa = UINT64_MAX - 0xf; /* wraps past 2^64 */
	CHECK_EQ(acpi_build(&cfg, image, sizeof(image), &used), -EINVAL);
}

static void one_and_max_cpus(void)
{
	static const unsigned int counts[] = { 1, ACPI_MAX_CPUS };

	for (size_t i = 0; i < 2; i++) {
		struct dsdt_info *info = calloc(1, sizeof(*info));
		struct tables t;

		CHECK(info);
		if (info && build(&t, counts[i], LAYOUT_ACPI)) {
			CHECK(dsdt_decode(&t, info));
			CHECK(t.used <= LAYOUT_ACPI_SIZE);
		}
		free(info);
	}
}

static void tables_above_4g(void)
{
	struct tables t;

	if (!build(&t, 2, LAYOUT_4G + 0x1000))
		return;
	CHECK(t.xsdt_gpa > LAYOUT_4G);
	CHECK_EQ(fake_rd32(t.fadt + 40), 0); /* no 32-bit DSDT pointer */
	CHECK_EQ(fake_rd64(t.fadt + 140), t.dsdt_gpa);
	CHECK(t.dsdt_gpa > LAYOUT_4G);
	CHECK_EQ(fake_rd32(t.fadt + 36), 0);
	CHECK_EQ(fake_rd64(t.fadt + 132), t.facs_gpa);
}

/* ---- PCI: MCFG, the host bridge and the ECAM reservation ---- */

static void mcfg_ecam(void)
{
	struct tables t;

	if (!build(&t, 2, LAYOUT_ACPI))
		return;
	/* Header, 8 reserved bytes, one 16-byte allocation. */
	CHECK_EQ(t.mcfg_len, 36 + 8 + 16);
	CHECK_EQ(t.mcfg[8], 1); /* revision */
	CHECK_EQ(fake_rd64(t.mcfg + 36), 0);
	CHECK_EQ(fake_rd64(t.mcfg + 44), LAYOUT_PCI_ECAM);
	CHECK_EQ(fake_rd16(t.mcfg + 52), 0); /* segment */
	CHECK_EQ(t.mcfg[54], 0); /* start bus */
	CHECK_EQ(t.mcfg[55], 0); /* end bus: 1 MiB of ECAM */
	CHECK_EQ(fake_rd32(t.mcfg + 56), 0);
	CHECK_EQ(LAYOUT_PCI_ECAM_SIZE, (uint64_t)(t.mcfg[55] + 1) << 20);
	CHECK_EQ(LAYOUT_PCI_ECAM % (1u << 20), 0);
}

/* A _CRS with large items too: address ranges and fixed memory. */
struct ranges {
	unsigned int nr;
	struct range {
		uint8_t kind; /* tag: 0x47 IO, 0x86/0x87/0x88 */
		uint8_t type; /* address space: 0 memory, 1 I/O, 2 bus */
		uint8_t flags; /* general flags */
		uint64_t min, max, len;
	} r[8];
};

static bool crs_decode_ranges(const uint8_t *p, size_t len, struct ranges *rs)
{
	size_t i = 0;

	memset(rs, 0, sizeof(*rs));
	while (i < len) {
		uint8_t tag = p[i];
		struct range *r = &rs->r[rs->nr];
		size_t n;

		if (tag == 0x79) /* end tag */
			return i + 2 == len;
		if (rs->nr >= 8)
			return false;
		if (tag == 0x47) { /* I/O port, small */
			if (i + 8 > len)
				return false;
			*r = (struct range){ .kind = tag,
					     .type = 1,
					     .min = fake_rd16(p + i + 2),
					     .max = fake_rd16(p + i + 4),
					     .len = p[i + 7] };
			i += 8;
			rs->nr++;
			continue;
		}
		if (!(tag & 0x80) || i + 3 > len)
			return false;
		n = fake_rd16(p + i + 1);
		if (i + 3 + n > len)
			return false;
		if (tag == 0x88 && n == 13) { /* Word address space */
			*r = (struct range){ .kind = tag,
					     .type = p[i + 3],
					     .flags = p[i + 4],
					     .min = fake_rd16(p + i + 8),
					     .max = fake_rd16(p + i + 10),
					     .len = fake_rd16(p + i + 14) };
		} else if (tag == 0x87 && n == 23) { /* DWord */
			*r = (struct range){ .kind = tag,
					     .type = p[i + 3],
					     .flags = p[i + 4],
					     .min = fake_rd32(p + i + 10),
					     .max = fake_rd32(p + i + 14),
					     .len = fake_rd32(p + i + 22) };
		} else if (tag == 0x86 && n == 9) { /* Memory32Fixed */
			*r = (struct range){ .kind = tag,
					     .type = 0,
					     .flags = p[i + 3],
					     .min = fake_rd32(p + i + 4),
					     .len = fake_rd32(p + i + 8) };
			r->max = r->min + r->len - 1;
		} else {
			return false;
		}
		i += 3 + n;
		rs->nr++;
	}
	return false;
}

static void dsdt_pci_host_bridge(void)
{
	struct dsdt_info *info = calloc(1, sizeof(*info));
	const struct aml_device *d;
	struct ranges rs;
	struct tables t;
	bool seen[32][4] = { { false } };
	unsigned int count;

	CHECK(info);
	if (!info || !build(&t, 2, LAYOUT_ACPI) || !dsdt_decode(&t, info))
		goto out;
	d = find_device(info, "PCI0");
	CHECK(d);
	if (!d)
		goto out;
	CHECK(d->hid_is_int);
	CHECK_EQ(d->hid_int, 0x080ad041); /* PNP0A08, PCI Express */
	CHECK(d->has_cid);
	CHECK_EQ(d->cid, 0x030ad041); /* PNP0A03, PCI */
	CHECK(d->has_seg && d->seg == 0);
	CHECK(d->has_bbn && d->bbn == 0);
	CHECK(d->has_uid);

	CHECK(d->crs && crs_decode_ranges(d->crs, d->crs_len, &rs));
	CHECK_EQ(rs.nr, 5);
	/* Bus 0 only, as the MCFG says. */
	CHECK_EQ(rs.r[0].kind, 0x88);
	CHECK_EQ(rs.r[0].type, 2);
	CHECK_EQ(rs.r[0].min, 0);
	CHECK_EQ(rs.r[0].max, 0);
	CHECK_EQ(rs.r[0].len, 1);
	/* The configuration ports, consumed. */
	CHECK_EQ(rs.r[1].kind, 0x47);
	CHECK_EQ(rs.r[1].min, PORT_PCI_CONFIG);
	CHECK_EQ(rs.r[1].len, 8);
	/* Windows: producers with fixed ends; lengths agree with min/max. */
	for (unsigned int i = 2; i < rs.nr && i < 5; i++) {
		CHECK_EQ(rs.r[i].flags & 0x0d, 0x0c);
		CHECK_EQ(rs.r[i].max - rs.r[i].min + 1, rs.r[i].len);
	}
	CHECK_EQ(rs.r[2].type, 1);
	CHECK_EQ(rs.r[2].min, 0);
	CHECK_EQ(rs.r[2].max, 0xcf7);
	CHECK_EQ(rs.r[3].type, 1);
	CHECK_EQ(rs.r[3].min, PORT_PCI_IO);
	CHECK_EQ(rs.r[3].max, 0xffff);
	CHECK_EQ(rs.r[4].kind, 0x87);
	CHECK_EQ(rs.r[4].type, 0);
	CHECK_EQ(rs.r[4].min, LAYOUT_PCI_MMIO);
	CHECK_EQ(rs.r[4].len, LAYOUT_PCI_MMIO_SIZE);
	/* The memory window stays clear of the ECAM and of RAM. */
	CHECK(rs.r[4].max < LAYOUT_PCI_ECAM);
	CHECK(rs.r[4].min >= LAYOUT_MMIO_HOLE);

	/* _PRT: every pin of slots 1-31 once, on the swizzled GSI. */
	CHECK(d->prt);
	if (!d->prt)
		goto out;
	{
		struct reader r = { .p = d->prt,
				    .end = d->prt_len,
				    .ok = true };

		count = r_byte(&r);
		CHECK_EQ(count, 31 * 4);
		for (unsigned int i = 0; i < count && r.ok; i++) {
			uint64_t addr = 0, pin = 0, src = 1, gsi = 0;
			size_t end;

			if (r_byte(&r) != 0x12) {
				r.ok = false;
				break;
			}
			end = r_pkg_end(&r);
			CHECK_EQ(r_byte(&r), 4);
			r_integer(&r, &addr);
			r_integer(&r, &pin);
			r_integer(&r, &src);
			r_integer(&r, &gsi);
			CHECK_EQ(r.pos, end);
			CHECK_EQ(addr & 0xffff, 0xffff);
			CHECK_EQ(src, 0);
			if ((addr >> 16) < 1 || (addr >> 16) > 31 || pin > 3) {
				test_fail(__FILE__, __LINE__,
					  "_PRT entry %u: %llx pin %llu", i,
					  (unsigned long long)addr,
					  (unsigned long long)pin);
				continue;
			}
			CHECK(!seen[addr >> 16][pin]);
			seen[addr >> 16][pin] = true;
			CHECK_EQ(gsi, PCI_INTX_GSI_BASE +
					      ((addr >> 16) + pin) %
						      PCI_INTX_GSI_COUNT);
			CHECK(gsi >= 16 && gsi <= 23);
		}
		CHECK(r.ok);
		CHECK_EQ(r.pos, r.end);
	}
out:
	free(info);
}

static void dsdt_ecam_reserved(void)
{
	struct dsdt_info *info = calloc(1, sizeof(*info));
	const struct aml_device *d;
	struct ranges rs;
	struct tables t;

	CHECK(info);
	if (!info || !build(&t, 1, LAYOUT_ACPI) || !dsdt_decode(&t, info))
		goto out;
	d = find_device(info, "MRES");
	CHECK(d);
	if (!d)
		goto out;
	CHECK(d->hid_is_int);
	CHECK_EQ(d->hid_int, 0x020cd041); /* PNP0C02 */
	CHECK(d->crs && crs_decode_ranges(d->crs, d->crs_len, &rs));
	CHECK_EQ(rs.nr, 1);
	CHECK_EQ(rs.r[0].kind, 0x86);
	CHECK_EQ(rs.r[0].min, LAYOUT_PCI_ECAM);
	CHECK_EQ(rs.r[0].len, LAYOUT_PCI_ECAM_SIZE);
out:
	free(info);
}

TEST_SUITE(acpi, TEST_CASE(rsdp_found_and_checksummed),
	   TEST_CASE(xsdt_lists_fadt_and_madt), TEST_CASE(fadt_fields),
	   TEST_CASE(facs_aligned), TEST_CASE(madt_cpus_ioapic_overrides),
	   TEST_CASE(dsdt_s5_package), TEST_CASE(dsdt_pnp_devices),
	   TEST_CASE(dsdt_cpu_devices), TEST_CASE(pkglength_boundaries),
	   TEST_CASE(enospc_never_writes_past_len),
	   TEST_CASE(einval_bad_config), TEST_CASE(one_and_max_cpus),
	   TEST_CASE(tables_above_4g), TEST_CASE(mcfg_ecam),
	   TEST_CASE(dsdt_pci_host_bridge), TEST_CASE(dsdt_ecam_reserved));
