// SPDX-License-Identifier: MIT
/*
 * ACPI tables for a mica x86-64 machine: what a PC BIOS would leave in the
 * legacy BIOS area for the OS to find. Built to ACPI 6.3:
 *
 *   RSDP   5.2.5  revision 2, at offset 0 (16-byte aligned, so Linux's scan
 *                 of 0xe0000..0xfffff finds it); RsdtAddress is 0 and no RSDT
 *                 is built: ACPI 2.0+ OSes must use the XSDT, and our FADT
 *                 needs its 64-bit fields anyway
 *   XSDT   5.2.8  -> FADT, MADT, MCFG
 *   FADT   5.2.9  revision 6.3, full-size (276 bytes), not hardware-reduced:
 *                 PM1a event/control blocks and the PM timer of the PM device
 *                 (layout.h), SCI on IRQ 9, no SMI_CMD (always in ACPI mode),
 *                 no GPE blocks, fixed power button, reset register 0xcf9
 *   FACS   5.2.10 64 bytes, 64-byte aligned in guest-physical memory
 *   DSDT   5.2.11.1, AML (chapter 20): \_S5 and, under \_SB, the legacy
 *                 devices (COM1, RTC, i8042 keyboard and mouse) for Linux's
 *                 PNP layer, the PCI host bridge PCI0 (PNP0A08: segment 0,
 *                 bus 0, its windows in _CRS, INTx routing in _PRT), a
 *                 PNP0C02 device reserving the ECAM, and one ACPI0007
 *                 processor device per CPU
 *   MADT   5.2.12 local APIC per CPU, one I/O APIC, ISA overrides
 *                 (IRQ0 -> GSI2, SCI level/high), LINT1 NMI for all CPUs
 *   MCFG   PCI Firmware Specification 3.2, 4.1.2: the ECAM of segment 0,
 *                 buses LAYOUT_PCI_BUS_MIN..MAX
 *
 * Nothing here is guest-controlled: the tables are built from mica's
 * configuration and written once before the guest runs. The guest may later
 * write the FACS (global lock, waking vector); mica never reads it back.
 */
#include "arch/x86_64/acpi.h"
#include "arch/x86_64/layout.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ACPI tables are little-endian; the packed structs assume the host is"
#endif

#define ACPI_OEM_ID "MICA  "
#define ACPI_OEM_TABLE_ID "MICAVM  "
#define ACPI_CREATOR_ID "MICA"
#define ACPI_OEM_REVISION 1u
#define ACPI_CREATOR_REVISION 1u

/* Table revisions of ACPI 6.3. */
#define ACPI_RSDP_REVISION 2
#define ACPI_XSDT_REVISION 1
#define ACPI_FADT_REVISION 6
#define ACPI_FADT_MINOR_REVISION 3
#define ACPI_FACS_VERSION 2
#define ACPI_MADT_REVISION 5
#define ACPI_DSDT_REVISION 2 /* 2 and up: AML integers are 64-bit */
#define ACPI_MCFG_REVISION 1

#define ACPI_TABLE_ALIGN 16
#define ACPI_FACS_ALIGN 64 /* 5.2.10 */

/* Generic Address Structure (5.2.3.2). */
#define ACPI_GAS_SYSTEM_IO 1
#define ACPI_GAS_ACCESS_BYTE 1
#define ACPI_GAS_ACCESS_WORD 2
#define ACPI_GAS_ACCESS_DWORD 3

/* FADT Flags (5.2.9, table 5-35). */
#define FADT_F_WBINVD (1u << 0)
#define FADT_F_PROC_C1 (1u << 2)
#define FADT_F_PWR_BUTTON (1u << 4) /* clear: fixed power button */
#define FADT_F_SLP_BUTTON (1u << 5) /* set: no fixed sleep button */
#define FADT_F_TMR_VAL_EXT (1u << 8) /* clear: the PM timer is 24-bit */
#define FADT_F_RESET_REG_SUP (1u << 10)
#define FADT_F_HW_REDUCED_ACPI (1u << 20)

/* FADT IAPC_BOOT_ARCH (5.2.9.3). */
#define FADT_BOOT_LEGACY_DEVICES (1u << 0)
#define FADT_BOOT_8042 (1u << 1)

/* A P_LVLx_LAT above these says the C state is not supported (5.2.9). */
#define FADT_NO_C2_LATENCY 101
#define FADT_NO_C3_LATENCY 1001

#define FADT_RESET_VALUE 0x06 /* full reset through port 0xcf9 */
#define CMOS_CENTURY_INDEX 0x32

/* The PM device's register blocks (see layout.h). */
#define PM1_EVT_LEN 4 /* PM1_STS and PM1_EN, 16 bits each */
#define PM1_CNT_LEN 2
#define PM_TMR_LEN 4
_Static_assert(PORT_PM1A_EVT + PM1_EVT_LEN <= PORT_PM1A_CNT,
	       "PM1a event block overlaps the control block");
_Static_assert(PORT_PM1A_CNT + PM1_CNT_LEN <= PORT_PM_TMR,
	       "PM1a control block overlaps the PM timer");
_Static_assert(PORT_PM_TMR + PM_TMR_LEN <= PORT_PM_BASE + PORT_PM_LEN,
	       "PM timer lies outside the PM device's ports");

/* MADT (5.2.12). */
#define MADT_PCAT_COMPAT (1u << 0)
#define MADT_TYPE_LAPIC 0
#define MADT_TYPE_IOAPIC 1
#define MADT_TYPE_ISO 2
#define MADT_TYPE_LAPIC_NMI 4
#define MADT_LAPIC_ENABLED (1u << 0)
#define MADT_ISA_BUS 0
#define MADT_ALL_PROCESSORS 0xff
/* MPS INTI flags (table 5-50). */
#define MPS_INTI_CONFORMS 0x0
#define MPS_INTI_ACTIVE_HIGH 0x1
#define MPS_INTI_LEVEL (0x3 << 2)

#define ISA_IRQ_PIT 0
#define GSI_PIT 2

/*
 * SLP_TYP for S5. The PM device powers off on a PM1a_CNT write with SLP_EN
 * and SLP_TYP = 5; \_S5 gives 5 for both PM1a and PM1b (there is no PM1b, so
 * OSPM ignores the second value).
 */
#define SLP_TYP_S5 5

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_header) == 36, "SDT header");

#define ACPI_CHECKSUM_OFFSET 9

struct acpi_rsdp {
	char signature[8];
	uint8_t checksum; /* bytes 0..19 */
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t extended_checksum; /* the whole structure */
	uint8_t reserved[3];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP");

#define ACPI_RSDP_V1_LEN 20

struct acpi_gas {
	uint8_t space_id;
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS");

struct acpi_fadt {
	struct acpi_header header;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable;
	uint8_t acpi_disable;
	uint8_t s4bios_req;
	uint8_t pstate_cnt;
	uint32_t pm1a_evt_blk;
	uint32_t pm1b_evt_blk;
	uint32_t pm1a_cnt_blk;
	uint32_t pm1b_cnt_blk;
	uint32_t pm2_cnt_blk;
	uint32_t pm_tmr_blk;
	uint32_t gpe0_blk;
	uint32_t gpe1_blk;
	uint8_t pm1_evt_len;
	uint8_t pm1_cnt_len;
	uint8_t pm2_cnt_len;
	uint8_t pm_tmr_len;
	uint8_t gpe0_blk_len;
	uint8_t gpe1_blk_len;
	uint8_t gpe1_base;
	uint8_t cst_cnt;
	uint16_t p_lvl2_lat;
	uint16_t p_lvl3_lat;
	uint16_t flush_size;
	uint16_t flush_stride;
	uint8_t duty_offset;
	uint8_t duty_width;
	uint8_t day_alrm;
	uint8_t mon_alrm;
	uint8_t century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk;
	struct acpi_gas x_pm1b_evt_blk;
	struct acpi_gas x_pm1a_cnt_blk;
	struct acpi_gas x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk;
	struct acpi_gas x_pm_tmr_blk;
	struct acpi_gas x_gpe0_blk;
	struct acpi_gas x_gpe1_blk;
	struct acpi_gas sleep_control_reg;
	struct acpi_gas sleep_status_reg;
	char hypervisor_vendor_identity[8];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT revision 6");

struct acpi_facs {
	char signature[4];
	uint32_t length;
	uint32_t hardware_signature;
	uint32_t firmware_waking_vector;
	uint32_t global_lock;
	uint32_t flags;
	uint64_t x_firmware_waking_vector;
	uint8_t version;
	uint8_t reserved0[3];
	uint32_t ospm_flags;
	uint8_t reserved1[24];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_facs) == 64, "FACS");

struct acpi_madt {
	struct acpi_header header;
	uint32_t lapic_address;
	uint32_t flags;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_madt) == 44, "MADT");

struct madt_lapic {
	uint8_t type;
	uint8_t length;
	uint8_t acpi_processor_uid;
	uint8_t apic_id;
	uint32_t flags;
} __attribute__((packed));
_Static_assert(sizeof(struct madt_lapic) == 8, "MADT local APIC");

struct madt_ioapic {
	uint8_t type;
	uint8_t length;
	uint8_t ioapic_id;
	uint8_t reserved;
	uint32_t address;
	uint32_t gsi_base;
} __attribute__((packed));
_Static_assert(sizeof(struct madt_ioapic) == 12, "MADT I/O APIC");

struct madt_iso {
	uint8_t type;
	uint8_t length;
	uint8_t bus;
	uint8_t source;
	uint32_t gsi;
	uint16_t flags;
} __attribute__((packed));
_Static_assert(sizeof(struct madt_iso) == 10, "MADT interrupt source override");

struct madt_lapic_nmi {
	uint8_t type;
	uint8_t length;
	uint8_t acpi_processor_uid;
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));
_Static_assert(sizeof(struct madt_lapic_nmi) == 6, "MADT local APIC NMI");

_Static_assert(LAYOUT_LAPIC <= UINT32_MAX && LAYOUT_IOAPIC <= UINT32_MAX,
	       "MADT holds 32-bit APIC addresses");

/* MCFG (PCI Firmware 3.2, table 4-2): one allocation for segment 0. */
struct acpi_mcfg {
	struct acpi_header header;
	uint8_t reserved[8];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_mcfg) == 44, "MCFG");

struct mcfg_allocation {
	uint64_t base;
	uint16_t segment;
	uint8_t start_bus;
	uint8_t end_bus;
	uint32_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct mcfg_allocation) == 16, "MCFG allocation");

/* The ECAM window holds exactly the buses the MCFG announces. */
_Static_assert(LAYOUT_PCI_ECAM_SIZE ==
		       (LAYOUT_PCI_BUS_MAX - LAYOUT_PCI_BUS_MIN + 1) << 20,
	       "ECAM size does not match the bus range");
_Static_assert(LAYOUT_PCI_MMIO + LAYOUT_PCI_MMIO_SIZE <= LAYOUT_PCI_ECAM &&
		       LAYOUT_PCI_ECAM + LAYOUT_PCI_ECAM_SIZE <=
			       LAYOUT_TESTDEV_MMIO,
	       "PCI windows overlap");
_Static_assert(PORT_PCI_IO + PORT_PCI_IO_SIZE <= 0x10000,
	       "PCI I/O window past 64K");

/*
 * A tiny AML emitter (ACPI 6.3 chapter 20). A writer with buf == NULL only
 * counts, which is how the PkgLength of a nested object is found before the
 * object is written. A writer never stores past cap; it keeps counting, so a
 * caller sees pos > cap and knows the output is incomplete.
 */
#define AML_ZERO_OP 0x00
#define AML_ONE_OP 0x01
#define AML_NAME_OP 0x08
#define AML_BYTE_PREFIX 0x0a
#define AML_WORD_PREFIX 0x0b
#define AML_DWORD_PREFIX 0x0c
#define AML_STRING_PREFIX 0x0d
#define AML_QWORD_PREFIX 0x0e
#define AML_SCOPE_OP 0x10
#define AML_BUFFER_OP 0x11
#define AML_PACKAGE_OP 0x12
#define AML_EXT_OP_PREFIX 0x5b
#define AML_DEVICE_OP 0x82 /* after AML_EXT_OP_PREFIX */
#define AML_ROOT_CHAR 0x5c

#define AML_PKGLENGTH_MAX 0x0fffffffu /* 28 bits */

/* Small resource data types (6.4.2). */
#define RES_IRQ_NO_FLAGS 0x22 /* IRQ descriptor, 2 bytes: edge, high */
#define RES_IO 0x47 /* I/O port descriptor, 7 bytes */
#define RES_IO_DECODE16 0x01
#define RES_END_TAG 0x79 /* end tag, 1 byte: checksum */

/* Large resource data types (6.4.3): tag, then a 16-bit length. */
#define RES_MEMORY32_FIXED 0x86 /* 9 bytes */
#define RES_DWORD_ADDRESS 0x87 /* 23 bytes */
#define RES_WORD_ADDRESS 0x88 /* 13 bytes */
#define RES_MEM_READ_WRITE 0x01
#define RES_ADDR_TYPE_MEMORY 0
#define RES_ADDR_TYPE_IO 1
#define RES_ADDR_TYPE_BUS 2
/* General flags: producer, positive decode, _MIF and _MAF fixed. */
#define RES_ADDR_PRODUCER_FIXED 0x0c
#define RES_IO_ENTIRE_RANGE 0x03 /* ISA and non-ISA ports */
#define RES_MEM_NON_CACHEABLE_RW 0x01

#define AML_PACKAGE_MAX 255 /* NumElements is one byte */

struct aml {
	uint8_t *buf; /* NULL: only count */
	size_t cap;
	size_t pos;
	int err;
};

static void aml_fail(struct aml *a, int err)
{
	if (!a->err)
		a->err = err;
}

static void aml_bytes(struct aml *a, const void *src, size_t n)
{
	if (a->buf && n <= a->cap && a->pos <= a->cap - n)
		memcpy(a->buf + a->pos, src, n);
	a->pos += n;
}

static void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void aml_le(struct aml *a, uint64_t v, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		aml_byte(a, (uint8_t)(v >> (8 * i)));
}

int acpi_aml_pkglength(size_t body_len, uint8_t out[4])
{
	/* The encoded value counts the PkgLength bytes themselves. */
	if (body_len > AML_PKGLENGTH_MAX - 4)
		return -EOVERFLOW;
	if (body_len + 1 <= 0x3f) {
		out[0] = (uint8_t)(body_len + 1);
		return 1;
	}
	for (unsigned int n = 2; n <= 4; n++) {
		/* A lead nibble, then n - 1 whole bytes. */
		size_t total = body_len + n;

		if (total >= (size_t)1 << (4 + 8 * (n - 1)))
			continue;
		out[0] = (uint8_t)(((n - 1) << 6) | (total & 0xf));
		for (unsigned int i = 1; i < n; i++)
			out[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
		return (int)n;
	}
	return -EOVERFLOW; /* not reached: body_len was checked above */
}

static void aml_pkglength(struct aml *a, size_t body_len)
{
	uint8_t enc[4];
	int n = acpi_aml_pkglength(body_len, enc);

	if (n < 0) {
		aml_fail(a, n);
		return;
	}
	aml_bytes(a, enc, (size_t)n);
}

typedef void aml_body_fn(struct aml *a, const void *ctx);

/*
 * Emits a PkgLength covering everything body() emits, then the body. The
 * body runs once on a counting writer first; nesting multiplies the work by
 * two per level, which is nothing at the depths a DSDT has.
 */
static void aml_pkg(struct aml *a, aml_body_fn *body, const void *ctx)
{
	struct aml count = { .buf = NULL };

	body(&count, ctx);
	if (count.err) {
		aml_fail(a, count.err);
		return;
	}
	aml_pkglength(a, count.pos);
	body(a, ctx);
}

/* A NameSeg: four characters of [A-Z0-9_], the first not a digit. */
static void aml_nameseg(struct aml *a, const char seg[4])
{
	aml_bytes(a, seg, 4);
}

static void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		aml_byte(a, AML_ZERO_OP);
	} else if (v == 1) {
		aml_byte(a, AML_ONE_OP);
	} else if (v <= UINT8_MAX) {
		aml_byte(a, AML_BYTE_PREFIX);
		aml_le(a, v, 1);
	} else if (v <= UINT16_MAX) {
		aml_byte(a, AML_WORD_PREFIX);
		aml_le(a, v, 2);
	} else if (v <= UINT32_MAX) {
		aml_byte(a, AML_DWORD_PREFIX);
		aml_le(a, v, 4);
	} else {
		aml_byte(a, AML_QWORD_PREFIX);
		aml_le(a, v, 8);
	}
}

static void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

static unsigned int hex_digit_value(char c)
{
	return c <= '9' ? (unsigned int)(c - '0') :
			  (unsigned int)(c - 'A' + 10);
}

/*
 * EISAID("PNP0501"): three letters of 5 bits each ('A' = 1) and four hex
 * digits, packed big-endian into 32 bits and stored as a DWordConst, so the
 * bytes in AML run in that big-endian order (PNP0303 -> 41 d0 03 03).
 */
static void aml_eisaid(struct aml *a, const char id[7])
{
	uint32_t v = (uint32_t)(id[0] & 0x1f) << 26 |
		     (uint32_t)(id[1] & 0x1f) << 21 |
		     (uint32_t)(id[2] & 0x1f) << 16;

	for (unsigned int i = 3; i < 7; i++)
		v |= hex_digit_value(id[i]) << (4 * (6 - i));
	aml_byte(a, AML_DWORD_PREFIX);
	aml_byte(a, (uint8_t)(v >> 24));
	aml_byte(a, (uint8_t)(v >> 16));
	aml_byte(a, (uint8_t)(v >> 8));
	aml_byte(a, (uint8_t)v);
}

static void aml_name_integer(struct aml *a, const char seg[4], uint64_t v)
{
	aml_byte(a, AML_NAME_OP);
	aml_nameseg(a, seg);
	aml_integer(a, v);
}

/* Package(n) { values... } of integers. */
static void aml_package(struct aml *a, const uint64_t *values, uint8_t n)
{
	struct aml count = { .buf = NULL };

	for (unsigned int i = 0; i < n; i++)
		aml_integer(&count, values[i]);
	aml_byte(a, AML_PACKAGE_OP);
	aml_pkglength(a, 1 + count.pos);
	aml_byte(a, n); /* NumElements */
	for (unsigned int i = 0; i < n; i++)
		aml_integer(a, values[i]);
}

/* Buffer(n) { bytes } */
static void aml_buffer(struct aml *a, const uint8_t *data, size_t n)
{
	struct aml count = { .buf = NULL };

	aml_integer(&count, n); /* BufferSize */
	aml_byte(a, AML_BUFFER_OP);
	aml_pkglength(a, count.pos + n);
	aml_integer(a, n);
	aml_bytes(a, data, n);
}

/* A device of the DSDT, under \_SB. */
#define PNP_MAX_IO 2

struct dsdt_device {
	char name[4]; /* NameSeg */
	const char *hid;
	bool hid_is_eisaid; /* EISAID("PNP0501") rather than a string */
	unsigned int uid;
	/* _CRS, if nr_io or has_irq: I/O ranges, then one ISA IRQ. */
	unsigned int nr_io;
	struct {
		uint16_t base;
		uint8_t len;
	} io[PNP_MAX_IO];
	bool has_irq;
	uint8_t irq;
};

/* The largest _CRS template, PCI0's, with room to spare. */
#define CRS_MAX 96

/*
 * Name (_CRS, ResourceTemplate () { ... }): fill() emits the resource
 * descriptors into a scratch buffer, this adds the end tag and wraps the
 * template in a Buffer.
 */
static void aml_name_crs(struct aml *a, aml_body_fn *fill, const void *ctx)
{
	uint8_t crs[CRS_MAX];
	struct aml r = { .buf = crs, .cap = sizeof(crs) };

	fill(&r, ctx);
	aml_byte(&r, RES_END_TAG);
	aml_byte(&r, 0); /* checksum 0: "the template is valid" (6.4.2.9) */
	if (r.pos > r.cap) {
		aml_fail(a, -EOVERFLOW);
		return;
	}
	aml_byte(a, AML_NAME_OP);
	aml_nameseg(a, "_CRS");
	aml_buffer(a, crs, r.pos);
}

/* IO: a fixed range, _MIN = _MAX, alignment 1. */
static void res_io_fixed(struct aml *a, uint16_t base, uint8_t len)
{
	aml_byte(a, RES_IO);
	aml_byte(a, RES_IO_DECODE16);
	aml_le(a, base, 2);
	aml_le(a, base, 2);
	aml_byte(a, 1);
	aml_byte(a, len);
}

/* Device (name) { body }: body emits the NameSeg, then the objects. */
static void aml_device(struct aml *a, aml_body_fn *body, const void *ctx)
{
	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_DEVICE_OP);
	aml_pkg(a, body, ctx);
}

static void dsdt_crs(struct aml *a, const void *ctx)
{
	const struct dsdt_device *d = ctx;

	for (unsigned int i = 0; i < d->nr_io; i++)
		res_io_fixed(a, d->io[i].base, d->io[i].len);
	if (d->has_irq) {
		aml_byte(a, RES_IRQ_NO_FLAGS);
		aml_le(a, 1u << d->irq, 2);
	}
}

static void dsdt_device_body(struct aml *a, const void *ctx)
{
	const struct dsdt_device *d = ctx;

	aml_nameseg(a, d->name);

	aml_byte(a, AML_NAME_OP);
	aml_nameseg(a, "_HID");
	if (d->hid_is_eisaid)
		aml_eisaid(a, d->hid);
	else
		aml_string(a, d->hid);

	aml_name_integer(a, "_UID", d->uid);

	if (d->nr_io || d->has_irq)
		aml_name_crs(a, dsdt_crs, d);
}

/* Device (name) { _HID, _UID, _CRS } */
static void dsdt_device(struct aml *a, const struct dsdt_device *d)
{
	aml_device(a, dsdt_device_body, d);
}

static const struct dsdt_device dsdt_pnp_devices[] = {
	{
		.name = "COM1",
		.hid = "PNP0501", /* 16550A-compatible COM port */
		.hid_is_eisaid = true,
		.uid = 1,
		.nr_io = 1,
		.io = { { .base = PORT_COM1, .len = 8 } },
		.has_irq = true,
		.irq = IRQ_COM1,
	},
	{
		.name = "RTC_",
		.hid = "PNP0B00", /* AT real-time clock */
		.hid_is_eisaid = true,
		.uid = 0,
		.nr_io = 1,
		.io = { { .base = PORT_RTC, .len = 2 } },
		.has_irq = true,
		.irq = IRQ_RTC,
	},
	{
		.name = "KBD_",
		.hid = "PNP0303", /* IBM enhanced keyboard (i8042) */
		.hid_is_eisaid = true,
		.uid = 0,
		.nr_io = 2,
		/* data port first, then command/status: Linux's order */
		.io = { { .base = PORT_I8042_DATA, .len = 1 },
			{ .base = PORT_I8042_CMD, .len = 1 } },
		.has_irq = true,
		.irq = IRQ_I8042_KBD,
	},
	{
		.name = "MOU_",
		.hid = "PNP0F13", /* PS/2 mouse, on the i8042 aux port */
		.hid_is_eisaid = true,
		.uid = 0,
		.has_irq = true,
		.irq = IRQ_I8042_AUX,
	},
};

/* WordIO / WordBusNumber: a producer range [min, max], fixed. */
static void res_word_range(struct aml *a, uint8_t type, uint8_t type_flags,
			   uint16_t min, uint16_t max)
{
	aml_byte(a, RES_WORD_ADDRESS);
	aml_le(a, 13, 2);
	aml_byte(a, type);
	aml_byte(a, RES_ADDR_PRODUCER_FIXED);
	aml_byte(a, type_flags);
	aml_le(a, 0, 2); /* granularity */
	aml_le(a, min, 2);
	aml_le(a, max, 2);
	aml_le(a, 0, 2); /* translation */
	aml_le(a, (uint32_t)max - min + 1, 2);
}

/* DWordMemory: a producer range [min, min + len), fixed. */
static void res_dword_memory(struct aml *a, uint32_t min, uint32_t len)
{
	aml_byte(a, RES_DWORD_ADDRESS);
	aml_le(a, 23, 2);
	aml_byte(a, RES_ADDR_TYPE_MEMORY);
	aml_byte(a, RES_ADDR_PRODUCER_FIXED);
	aml_byte(a, RES_MEM_NON_CACHEABLE_RW);
	aml_le(a, 0, 4); /* granularity */
	aml_le(a, min, 4);
	aml_le(a, min + (len - 1), 4);
	aml_le(a, 0, 4); /* translation */
	aml_le(a, len, 4);
}

/*
 * PCI0's _CRS: the bus range, the configuration ports it consumes, and
 * the windows it forwards to bus 0: I/O below the configuration ports
 * (where the legacy devices live), the PCI I/O window and the 32-bit
 * memory window. The ECAM is not a window; MRES reserves it.
 */
static void pci0_crs(struct aml *a, const void *ctx)
{
	(void)ctx;
	res_word_range(a, RES_ADDR_TYPE_BUS, 0, LAYOUT_PCI_BUS_MIN,
		       LAYOUT_PCI_BUS_MAX);
	res_io_fixed(a, PORT_PCI_CONFIG, PORT_PCI_CONFIG_LEN);
	res_word_range(a, RES_ADDR_TYPE_IO, RES_IO_ENTIRE_RANGE, 0,
		       PORT_PCI_CONFIG - 1);
	res_word_range(a, RES_ADDR_TYPE_IO, RES_IO_ENTIRE_RANGE, PORT_PCI_IO,
		       (uint16_t)(PORT_PCI_IO + PORT_PCI_IO_SIZE - 1));
	res_dword_memory(a, (uint32_t)LAYOUT_PCI_MMIO,
			 (uint32_t)LAYOUT_PCI_MMIO_SIZE);
}

#define PRT_FIRST_SLOT 1 /* slot 0 is the host bridge: no INTx */
#define PRT_SLOTS 32 /* device numbers on bus 0 */
#define PRT_PINS 4
#define PRT_ENTRIES ((PRT_SLOTS - PRT_FIRST_SLOT) * PRT_PINS)
_Static_assert(PRT_ENTRIES <= AML_PACKAGE_MAX, "_PRT too long");

/*
 * _PRT (6.2.13): Package { Address (slot << 16 | 0xffff: any function),
 * Pin (0 = INTA), Source 0 (a GSI, no link device), Source Index (GSI) }
 * for every pin of slots 1-31, with mica's fixed swizzle (layout.h).
 */
static void prt_body(struct aml *a, const void *ctx)
{
	(void)ctx;
	aml_byte(a, PRT_ENTRIES);
	for (unsigned int slot = PRT_FIRST_SLOT; slot < PRT_SLOTS; slot++) {
		for (unsigned int pin = 0; pin < PRT_PINS; pin++) {
			const uint64_t e[4] = {
				(uint64_t)slot << 16 | 0xffff,
				pin,
				0,
				PCI_INTX_GSI_BASE +
					(slot + pin) % PCI_INTX_GSI_COUNT,
			};

			aml_package(a, e, 4);
		}
	}
}

static void pci0_body(struct aml *a, const void *ctx)
{
	(void)ctx;
	aml_nameseg(a, "PCI0");
	aml_byte(a, AML_NAME_OP);
	aml_nameseg(a, "_HID");
	aml_eisaid(a, "PNP0A08"); /* PCI Express root bridge */
	aml_byte(a, AML_NAME_OP);
	aml_nameseg(a, "_CID");
	aml_eisaid(a, "PNP0A03"); /* PCI root bridge */
	aml_name_integer(a, "_SEG", 0);
	aml_name_integer(a, "_BBN", LAYOUT_PCI_BUS_MIN);
	aml_name_integer(a, "_UID", 0);
	aml_name_crs(a, pci0_crs, NULL);
	aml_byte(a, AML_NAME_OP);
	aml_nameseg(a, "_PRT");
	aml_byte(a, AML_PACKAGE_OP);
	aml_pkg(a, prt_body, NULL);
}

/*
 * Motherboard resources (PNP0C02): the ECAM, which Linux wants reserved
 * here (or in e820) before it trusts the MCFG.
 */
static void mres_crs(struct aml *a, const void *ctx)
{
	(void)ctx;
	aml_byte(a, RES_MEMORY32_FIXED);
	aml_le(a, 9, 2);
	aml_byte(a, RES_MEM_READ_WRITE);
	aml_le(a, LAYOUT_PCI_ECAM, 4);
	aml_le(a, LAYOUT_PCI_ECAM_SIZE, 4);
}

static void mres_body(struct aml *a, const void *ctx)
{
	(void)ctx;
	aml_nameseg(a, "MRES");
	aml_byte(a, AML_NAME_OP);
	aml_nameseg(a, "_HID");
	aml_eisaid(a, "PNP0C02");
	aml_name_integer(a, "_UID", 0);
	aml_name_crs(a, mres_crs, NULL);
}

static void dsdt_sb_body(struct aml *a, const void *ctx)
{
	static const char hex[] = "0123456789ABCDEF";
	const struct acpi_config *cfg = ctx;

	aml_byte(a, AML_ROOT_CHAR);
	aml_nameseg(a, "_SB_");

	for (size_t i = 0;
	     i < sizeof(dsdt_pnp_devices) / sizeof(dsdt_pnp_devices[0]); i++)
		dsdt_device(a, &dsdt_pnp_devices[i]);
	aml_device(a, pci0_body, NULL);
	aml_device(a, mres_body, NULL);

	/*
	 * Processor devices (ACPI 6.3 8.4): Linux matches _UID against the
	 * ACPI processor UID of the MADT's local APIC entries.
	 */
	for (unsigned int i = 0; i < cfg->nr_cpus; i++) {
		const struct dsdt_device cpu = {
			.name = { 'C', 'P', hex[(i >> 4) & 0xf], hex[i & 0xf] },
			.hid = "ACPI0007",
			.uid = i,
		};

		dsdt_device(a, &cpu);
	}
}

/* The DSDT's definition block, after the header. */
static void dsdt_body(struct aml *a, const struct acpi_config *cfg)
{
	/* Package { SLP_TYPa, SLP_TYPb, reserved, reserved } (7.4.2) */
	static const uint64_t s5[] = { SLP_TYP_S5, SLP_TYP_S5, 0, 0 };

	aml_byte(a, AML_NAME_OP);
	aml_nameseg(a, "_S5_");
	aml_package(a, s5, 4);

	aml_byte(a, AML_SCOPE_OP);
	aml_pkg(a, dsdt_sb_body, cfg);
}

/* Where each table goes, as offsets into the output buffer. */
struct acpi_layout {
	size_t xsdt, fadt, facs, dsdt, madt, mcfg, end;
	size_t xsdt_len, dsdt_len, madt_len, mcfg_len;
};

#define XSDT_ENTRIES 3 /* FADT, MADT, MCFG */

static size_t madt_len(unsigned int nr_cpus)
{
	return sizeof(struct acpi_madt) + nr_cpus * sizeof(struct madt_lapic) +
	       sizeof(struct madt_ioapic) + 2 * sizeof(struct madt_iso) +
	       sizeof(struct madt_lapic_nmi);
}

/*
 * The offset at or after off whose guest-physical address is a multiple of
 * align (a power of two). Unsigned wrap-around keeps this right even for a
 * base near 2^64; the caller rejects layouts that do not fit.
 */
static size_t place(uint64_t base, size_t off, size_t align)
{
	uint64_t gpa = base + off;

	return off + (size_t)((align - (gpa & (align - 1))) & (align - 1));
}

static int acpi_layout(const struct acpi_config *cfg, struct acpi_layout *l)
{
	struct aml count = { .buf = NULL };
	uint64_t base = cfg->base_gpa;

	dsdt_body(&count, cfg);
	if (count.err)
		return count.err;

	l->xsdt_len = sizeof(struct acpi_header) + XSDT_ENTRIES * 8;
	l->dsdt_len = sizeof(struct acpi_header) + count.pos;
	l->madt_len = madt_len(cfg->nr_cpus);

	l->xsdt = place(base, sizeof(struct acpi_rsdp), ACPI_TABLE_ALIGN);
	l->fadt = place(base, l->xsdt + l->xsdt_len, ACPI_TABLE_ALIGN);
	l->facs = place(base, l->fadt + sizeof(struct acpi_fadt),
			ACPI_FACS_ALIGN);
	l->dsdt = place(base, l->facs + sizeof(struct acpi_facs),
			ACPI_TABLE_ALIGN);
	l->mcfg_len = sizeof(struct acpi_mcfg) + sizeof(struct mcfg_allocation);
	l->madt = place(base, l->dsdt + l->dsdt_len, ACPI_TABLE_ALIGN);
	l->mcfg = place(base, l->madt + l->madt_len, ACPI_TABLE_ALIGN);
	l->end = l->mcfg + l->mcfg_len;
	return 0;
}

static struct acpi_header sdt_header(const char signature[4], size_t length,
				     uint8_t revision)
{
	struct acpi_header h = {
		.length = (uint32_t)length,
		.revision = revision,
		.oem_revision = ACPI_OEM_REVISION,
		.creator_revision = ACPI_CREATOR_REVISION,
	};

	memcpy(h.signature, signature, sizeof(h.signature));
	memcpy(h.oem_id, ACPI_OEM_ID, sizeof(h.oem_id));
	memcpy(h.oem_table_id, ACPI_OEM_TABLE_ID, sizeof(h.oem_table_id));
	memcpy(h.creator_id, ACPI_CREATOR_ID, sizeof(h.creator_id));
	return h;
}

/*
 * The checksum byte for p[0..len), computed while the checksum field in it
 * is still 0: storing it makes the bytes sum to zero.
 */
static uint8_t acpi_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + b[i]);
	return (uint8_t)(0x100 - sum);
}

/* A table already copied to buf: fill in its header checksum. */
static void acpi_seal(uint8_t *table, size_t len)
{
	table[ACPI_CHECKSUM_OFFSET] = 0;
	table[ACPI_CHECKSUM_OFFSET] = acpi_checksum(table, len);
}

/* A 32-bit copy of a pointer, or 0 if the table does not lie below 4 GiB. */
static uint32_t low_address(uint64_t gpa, size_t len)
{
	return gpa + len <= LAYOUT_4G ? (uint32_t)gpa : 0;
}

static struct acpi_gas gas_io(uint16_t port, unsigned int bytes,
			      uint8_t access_size)
{
	return (struct acpi_gas){
		.space_id = ACPI_GAS_SYSTEM_IO,
		.bit_width = (uint8_t)(8 * bytes),
		.access_size = access_size,
		.address = port,
	};
}

static void write_rsdp(uint8_t *buf, uint64_t base, const struct acpi_layout *l)
{
	struct acpi_rsdp rsdp = {
		.signature = "RSD PTR ",
		.oem_id = ACPI_OEM_ID,
		.revision = ACPI_RSDP_REVISION,
		.rsdt_address = 0,
		.length = sizeof(rsdp),
		.xsdt_address = base + l->xsdt,
	};

	rsdp.checksum = acpi_checksum(&rsdp, ACPI_RSDP_V1_LEN);
	rsdp.extended_checksum = acpi_checksum(&rsdp, sizeof(rsdp));
	memcpy(buf, &rsdp, sizeof(rsdp));
}

static void write_xsdt(uint8_t *buf, uint64_t base, const struct acpi_layout *l)
{
	const uint64_t entries[XSDT_ENTRIES] = { base + l->fadt, base + l->madt,
						 base + l->mcfg };
	struct acpi_header h =
		sdt_header("XSDT", l->xsdt_len, ACPI_XSDT_REVISION);
	uint8_t *t = buf + l->xsdt;

	memcpy(t, &h, sizeof(h));
	memcpy(t + sizeof(h), entries, sizeof(entries));
	acpi_seal(t, l->xsdt_len);
}

static void write_fadt(uint8_t *buf, uint64_t base, const struct acpi_layout *l)
{
	struct acpi_fadt f = {
		.header = sdt_header("FACP", sizeof(f), ACPI_FADT_REVISION),
		/*
		 * 5.2.9: at most one of FIRMWARE_CTRL and X_FIRMWARE_CTRL
		 * may be non-zero; we give the 64-bit one.
		 */
		.firmware_ctrl = 0,
		.dsdt = low_address(base + l->dsdt, l->dsdt_len),
		.preferred_pm_profile = 0, /* unspecified */
		.sci_int = IRQ_SCI,
		.smi_cmd = 0, /* no SMM: the machine is always in ACPI mode */
		.pm1a_evt_blk = PORT_PM1A_EVT,
		.pm1a_cnt_blk = PORT_PM1A_CNT,
		.pm_tmr_blk = PORT_PM_TMR,
		.pm1_evt_len = PM1_EVT_LEN,
		.pm1_cnt_len = PM1_CNT_LEN,
		.pm_tmr_len = PM_TMR_LEN,
		.p_lvl2_lat = FADT_NO_C2_LATENCY,
		.p_lvl3_lat = FADT_NO_C3_LATENCY,
		.century = CMOS_CENTURY_INDEX,
		.iapc_boot_arch = FADT_BOOT_LEGACY_DEVICES | FADT_BOOT_8042,
		.flags = FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_SLP_BUTTON |
			 FADT_F_RESET_REG_SUP,
		.reset_reg = gas_io(PORT_RESET, 1, ACPI_GAS_ACCESS_BYTE),
		.reset_value = FADT_RESET_VALUE,
		.minor_version = ACPI_FADT_MINOR_REVISION,
		.x_firmware_ctrl = base + l->facs,
		.x_dsdt = base + l->dsdt,
		/* PM1_STS and PM1_EN are 16-bit registers. */
		.x_pm1a_evt_blk = gas_io(PORT_PM1A_EVT, PM1_EVT_LEN,
					 ACPI_GAS_ACCESS_WORD),
		.x_pm1a_cnt_blk = gas_io(PORT_PM1A_CNT, PM1_CNT_LEN,
					 ACPI_GAS_ACCESS_WORD),
		.x_pm_tmr_blk =
			gas_io(PORT_PM_TMR, PM_TMR_LEN, ACPI_GAS_ACCESS_DWORD),
		.hypervisor_vendor_identity = "MICA",
	};

	_Static_assert(!((FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_SLP_BUTTON |
			  FADT_F_RESET_REG_SUP) &
			 (FADT_F_PWR_BUTTON | FADT_F_TMR_VAL_EXT |
			  FADT_F_HW_REDUCED_ACPI)),
		       "fixed power button, 24-bit timer, full ACPI hardware");

	memcpy(buf + l->fadt, &f, sizeof(f));
	acpi_seal(buf + l->fadt, sizeof(f));
}

static void write_facs(uint8_t *buf, const struct acpi_layout *l)
{
	/* No checksum: the FACS is not an SDT. */
	const struct acpi_facs facs = {
		.signature = "FACS",
		.length = sizeof(facs),
		.version = ACPI_FACS_VERSION,
	};

	memcpy(buf + l->facs, &facs, sizeof(facs));
}

static int write_dsdt(uint8_t *buf, const struct acpi_config *cfg,
		      const struct acpi_layout *l)
{
	struct acpi_header h =
		sdt_header("DSDT", l->dsdt_len, ACPI_DSDT_REVISION);
	uint8_t *t = buf + l->dsdt;
	struct aml a = {
		.buf = t + sizeof(h),
		.cap = l->dsdt_len - sizeof(h),
	};

	memcpy(t, &h, sizeof(h));
	dsdt_body(&a, cfg);
	if (a.err)
		return a.err;
	if (a.pos != a.cap)
		return -EOVERFLOW; /* the counting pass disagreed */
	acpi_seal(t, l->dsdt_len);
	return 0;
}

static void put(uint8_t *buf, size_t *off, const void *src, size_t n)
{
	memcpy(buf + *off, src, n);
	*off += n;
}

static void write_madt(uint8_t *buf, const struct acpi_config *cfg,
		       const struct acpi_layout *l)
{
	const struct acpi_madt madt = {
		.header = sdt_header("APIC", l->madt_len, ACPI_MADT_REVISION),
		.lapic_address = (uint32_t)LAYOUT_LAPIC,
		.flags = MADT_PCAT_COMPAT, /* there are 8259s to mask */
	};
	/*
	 * The IOAPIC's ID follows the CPUs' APIC IDs, as on MP-spec machines;
	 * 64-bit Linux only needs it to be unique among IOAPICs.
	 */
	const struct madt_ioapic ioapic = {
		.type = MADT_TYPE_IOAPIC,
		.length = sizeof(ioapic),
		.ioapic_id = (uint8_t)cfg->nr_cpus,
		.address = (uint32_t)LAYOUT_IOAPIC,
		.gsi_base = 0,
	};
	/* ISA IRQs without an override are identity-mapped, edge, high. */
	const struct madt_iso isos[] = {
		{
			.type = MADT_TYPE_ISO,
			.length = sizeof(isos[0]),
			.bus = MADT_ISA_BUS,
			.source = ISA_IRQ_PIT,
			.gsi = GSI_PIT,
			.flags = MPS_INTI_CONFORMS,
		},
		{
			/* The PM device raises the SCI level-triggered, high. */
			.type = MADT_TYPE_ISO,
			.length = sizeof(isos[0]),
			.bus = MADT_ISA_BUS,
			.source = IRQ_SCI,
			.gsi = IRQ_SCI,
			.flags = MPS_INTI_ACTIVE_HIGH | MPS_INTI_LEVEL,
		},
	};
	const struct madt_lapic_nmi nmi = {
		.type = MADT_TYPE_LAPIC_NMI,
		.length = sizeof(nmi),
		.acpi_processor_uid = MADT_ALL_PROCESSORS,
		.flags = MPS_INTI_CONFORMS,
		.lint = 1,
	};
	size_t off = l->madt;

	put(buf, &off, &madt, sizeof(madt));
	/* The boot CPU (APIC ID 0) comes first (5.2.12.1). */
	for (unsigned int i = 0; i < cfg->nr_cpus; i++) {
		const struct madt_lapic lapic = {
			.type = MADT_TYPE_LAPIC,
			.length = sizeof(lapic),
			.acpi_processor_uid = (uint8_t)i,
			.apic_id = (uint8_t)i,
			.flags = MADT_LAPIC_ENABLED,
		};

		put(buf, &off, &lapic, sizeof(lapic));
	}
	put(buf, &off, &ioapic, sizeof(ioapic));
	put(buf, &off, isos, sizeof(isos));
	put(buf, &off, &nmi, sizeof(nmi));
	acpi_seal(buf + l->madt, l->madt_len);
}

static void write_mcfg(uint8_t *buf, const struct acpi_layout *l)
{
	const struct acpi_mcfg mcfg = {
		.header = sdt_header("MCFG", l->mcfg_len, ACPI_MCFG_REVISION),
	};
	const struct mcfg_allocation ecam = {
		.base = LAYOUT_PCI_ECAM,
		.segment = 0,
		.start_bus = LAYOUT_PCI_BUS_MIN,
		.end_bus = LAYOUT_PCI_BUS_MAX,
	};
	size_t off = l->mcfg;

	put(buf, &off, &mcfg, sizeof(mcfg));
	put(buf, &off, &ecam, sizeof(ecam));
	acpi_seal(buf + l->mcfg, l->mcfg_len);
}

int acpi_build(const struct acpi_config *cfg, void *buf, size_t len,
	       size_t *used)
{
	struct acpi_layout l;
	int rc;

	if (!cfg || !buf || !used)
		return -EINVAL;
	if (cfg->nr_cpus < 1 || cfg->nr_cpus > ACPI_MAX_CPUS)
		return -EINVAL;
	/* Linux scans for the RSDP on 16-byte boundaries. */
	if (cfg->base_gpa % 16 || cfg->base_gpa > UINT64_MAX - len)
		return -EINVAL;

	rc = acpi_layout(cfg, &l);
	if (rc)
		return rc;
	if (l.end > len) {
		*used = l.end;
		return -ENOSPC;
	}

	memset(buf, 0, l.end);
	write_rsdp(buf, cfg->base_gpa, &l);
	write_xsdt(buf, cfg->base_gpa, &l);
	write_fadt(buf, cfg->base_gpa, &l);
	write_facs(buf, &l);
	rc = write_dsdt(buf, cfg, &l);
	if (rc)
		return rc;
	write_madt(buf, cfg, &l);
	write_mcfg(buf, &l);
	*used = l.end;
	return 0;
}
