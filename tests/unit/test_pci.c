// SPDX-License-Identifier: MIT
/*
 * Tests of the PCI host bridge (src/pci/pci.c) on a fake machine, driven
 * the way a guest drives it: configuration mechanism #1 through ports
 * 0xcf8/0xcfc, ECAM through MMIO, BARs through the windows. Dummy devices
 * record what reaches their BAR ops and their bar_moved() callbacks.
 */
#include "unit/fake.h"
#include "unit/test.h"

#include <errno.h>
#include <stdlib.h>

#include "arch/x86_64/layout.h"
#include "devices/reset.h"
#include "pci/pci.h"

#define CF8 0xcf8
#define CFC 0xcfc

struct env {
	struct fake_vm *f;
	struct pci_host *h;
};

static bool env_init(struct env *e)
{
	int rc;

	e->f = fake_vm_new(NULL);
	rc = pci_host_init(&e->h, &e->f->host);
	CHECK_EQ(rc, 0);
	if (rc) {
		fake_vm_free(e->f);
		return false;
	}
	e->f->host.pci = e->h;
	return true;
}

static void env_fini(struct env *e)
{
	pci_host_destroy(e->h);
	fake_vm_free(e->f);
}

/* A dummy device: records BAR accesses and BAR moves. */
#define MAX_MOVES 16

struct dummy {
	struct pci_device pci;
	unsigned int reads, writes;
	uint64_t last_off, last_val;
	unsigned int last_size;
	struct move {
		unsigned int bar;
		bool mapped;
		uint64_t addr;
	} moves[MAX_MOVES];
	unsigned int nr_moves;
};

static uint64_t dummy_read(void *opaque, uint64_t off, unsigned int size)
{
	struct dummy *d = opaque;

	d->reads++;
	d->last_off = off;
	d->last_size = size;
	return 0xa5a5a5a500000000ull | off;
}

static void dummy_write(void *opaque, uint64_t off, unsigned int size,
			uint64_t v)
{
	struct dummy *d = opaque;

	d->writes++;
	d->last_off = off;
	d->last_size = size;
	d->last_val = v;
}

static const struct bus_ops dummy_ops = {
	.read = dummy_read,
	.write = dummy_write,
};

static void dummy_moved(void *opaque, unsigned int bar, bool mapped,
			uint64_t addr)
{
	struct dummy *d = opaque;

	if (d->nr_moves < MAX_MOVES)
		d->moves[d->nr_moves] = (struct move){ .bar = bar,
						       .mapped = mapped,
						       .addr = addr };
	d->nr_moves++;
}

/* BAR0 4 KiB memory (prefetchable), BAR1 32 bytes I/O, BAR2 64 KiB. */
static struct pci_device_info dummy_info(struct dummy *d)
{
	return (struct pci_device_info){
		.name = "dummy",
		.vendor_id = 0x1234,
		.device_id = 0x5678,
		.subsys_vendor_id = 0x1af4,
		.subsys_id = 0x1100,
		.revision = 3,
		.class_code = 0xff0001,
		.intx = true,
		.bars = {
			[0] = { .size = 4096, .prefetchable = true,
				.ops = &dummy_ops, .opaque = d },
			[1] = { .size = 32, .io = true, .ops = &dummy_ops,
				.opaque = d },
			[2] = { .size = 65536, .ops = &dummy_ops, .opaque = d },
		},
		.bar_moved = dummy_moved,
		.opaque = d,
	};
}

static struct dummy *dummy_new(struct env *e)
{
	struct dummy *d = calloc(1, sizeof(*d));
	struct pci_device_info info;

	if (!d)
		abort();
	info = dummy_info(d);
	CHECK_EQ(pci_device_register(e->h, &d->pci, &info), 0);
	return d;
}

static void dummy_free(struct dummy *d)
{
	pci_device_unregister(&d->pci);
	free(d);
}

static uint32_t cf8_addr(unsigned int bus, unsigned int slot, unsigned int fn,
			 unsigned int reg)
{
	return 0x80000000u | bus << 16 | slot << 11 | fn << 8 | (reg & 0xfc);
}

/* A configuration read through CF8/CFC: any width, offset inside a dword. */
static uint32_t cf8_read(struct env *e, unsigned int slot, unsigned int reg,
			 unsigned int size)
{
	fake_out(e->f, CF8, 4, cf8_addr(0, slot, 0, reg));
	return (uint32_t)fake_in(e->f, (uint16_t)(CFC + (reg & 3)), size);
}

static void cf8_write(struct env *e, unsigned int slot, unsigned int reg,
		      unsigned int size, uint32_t v)
{
	fake_out(e->f, CF8, 4, cf8_addr(0, slot, 0, reg));
	fake_out(e->f, (uint16_t)(CFC + (reg & 3)), size, v);
}

static uint64_t ecam_addr(unsigned int slot, unsigned int fn, unsigned int reg)
{
	return LAYOUT_PCI_ECAM + ((uint64_t)slot << 15 | fn << 12 | reg);
}

static uint64_t ecam_read(struct env *e, unsigned int slot, unsigned int fn,
			  unsigned int reg, unsigned int size)
{
	uint64_t v = 0;

	CHECK(bus_read(&e->f->mmio, ecam_addr(slot, fn, reg), size, &v));
	return v;
}

static void ecam_write(struct env *e, unsigned int slot, unsigned int reg,
		       unsigned int size, uint64_t v)
{
	CHECK(bus_write(&e->f->mmio, ecam_addr(slot, 0, reg), size, v));
}

static uint64_t mmio_read(struct env *e, uint64_t addr, unsigned int size)
{
	uint64_t v = 0;

	bus_read(&e->f->mmio, addr, size, &v);
	return v;
}

/* ---- Enumeration ---- */

static void host_bridge_found(void)
{
	struct env e;

	if (!env_init(&e))
		return;
	CHECK_EQ(cf8_read(&e, 0, 0, 4), 0x00081b36);
	CHECK_EQ(cf8_read(&e, 0, 8, 4) >> 8, 0x060000);
	CHECK_EQ(cf8_read(&e, 0, 0x0e, 1), 0); /* header type 0 */
	/* No BARs: sizing reads 0. */
	for (unsigned int b = 0; b < 6; b++) {
		cf8_write(&e, 0, 0x10 + 4 * b, 4, 0xffffffff);
		CHECK_EQ(cf8_read(&e, 0, 0x10 + 4 * b, 4), 0);
	}
	CHECK_EQ(ecam_read(&e, 0, 0, 0, 4), 0x00081b36);
	CHECK_EQ(ecam_read(&e, 0, 0, 0x0a, 2), 0x0600);
	env_fini(&e);
}

static void cf8_and_ecam_agree(void)
{
	struct env e;
	struct dummy *d1, *d2;

	if (!env_init(&e))
		return;
	d1 = dummy_new(&e);
	d2 = dummy_new(&e);
	CHECK_EQ(d1->pci.slot, 1);
	CHECK_EQ(d2->pci.slot, 2);
	for (unsigned int slot = 0; slot < 32; slot++) {
		for (unsigned int reg = 0; reg < 0x100; reg += 4) {
			uint32_t a = cf8_read(&e, slot, reg, 4);
			uint32_t b = (uint32_t)ecam_read(&e, slot, 0, reg, 4);

			if (a != b) {
				test_fail(
					__FILE__, __LINE__,
					"slot %u reg 0x%x: cf8 %08x ecam %08x",
					slot, reg, a, b);
				slot = 32;
				break;
			}
		}
	}
	CHECK_EQ(cf8_read(&e, 1, 0, 4), 0x56781234);
	CHECK_EQ(cf8_read(&e, 1, 8, 4), 0xff000103);
	CHECK_EQ(cf8_read(&e, 1, 0x2c, 4), 0x11001af4);
	/* A write through one mechanism is seen through the other. */
	cf8_write(&e, 2, 0x3c, 1, 0x5a);
	CHECK_EQ(ecam_read(&e, 2, 0, 0x3c, 1), 0x5a);
	ecam_write(&e, 2, 0x0c, 1, 0x10);
	CHECK_EQ(cf8_read(&e, 2, 0x0c, 1), 0x10);
	dummy_free(d1);
	dummy_free(d2);
	env_fini(&e);
}

static void absent_reads_all_ones(void)
{
	struct env e;

	if (!env_init(&e))
		return;
	CHECK_EQ(cf8_read(&e, 5, 0, 4), 0xffffffff);
	CHECK_EQ(cf8_read(&e, 5, 2, 2), 0xffff);
	CHECK_EQ(cf8_read(&e, 31, 3, 1), 0xff);
	CHECK_EQ(ecam_read(&e, 7, 0, 0, 4), 0xffffffff);
	CHECK_EQ(ecam_read(&e, 31, 7, 0xffc, 4), 0xffffffff);
	/* Functions 1-7 of a present device, and other buses. */
	CHECK_EQ(ecam_read(&e, 0, 1, 0, 4), 0xffffffff);
	fake_out(e.f, CF8, 4, cf8_addr(0, 0, 3, 0));
	CHECK_EQ(fake_in(e.f, CFC, 4), 0xffffffff);
	fake_out(e.f, CF8, 4, cf8_addr(1, 0, 0, 0));
	CHECK_EQ(fake_in(e.f, CFC, 4), 0xffffffff);
	/* Without the enable bit, CONFIG_DATA reads all ones. */
	fake_out(e.f, CF8, 4, 0x00000000);
	CHECK_EQ(fake_in(e.f, CFC, 4), 0xffffffff);
	/* Writes to absent devices go nowhere (and do not crash). */
	ecam_write(&e, 9, 0x04, 2, 0xffff);
	cf8_write(&e, 9, 0x10, 4, 0xffffffff);
	CHECK_EQ(cf8_read(&e, 9, 0x10, 4), 0xffffffff);
	env_fini(&e);
}

/* Linux's pci_check_type1: outb(0x01, 0xcfb), then dword round trips. */
static void config_address_dword_only(void)
{
	struct env e;

	if (!env_init(&e))
		return;
	fake_out8(e.f, 0xcfb, 0x01);
	fake_out(e.f, CF8, 4, 0x80000000);
	CHECK_EQ(fake_in(e.f, CF8, 4), 0x80000000);
	/* Reserved and low bits read 0. */
	fake_out(e.f, CF8, 4, 0xffffffff);
	CHECK_EQ(fake_in(e.f, CF8, 4), 0x80fffffc);
	/* Byte and word accesses do not touch CONFIG_ADDRESS. */
	fake_out8(e.f, 0xcf8, 0x00);
	fake_out(e.f, 0xcfa, 2, 0);
	fake_out8(e.f, 0xcfb, 0x01);
	CHECK_EQ(fake_in(e.f, CF8, 4), 0x80fffffc);
	CHECK_EQ(fake_in8(e.f, 0xcf8), 0xff);
	CHECK_EQ(fake_in(e.f, 0xcfa, 2), 0xffff);
	env_fini(&e);
}

static void cf9_still_resets(void)
{
	struct env e;
	void *rst;

	if (!env_init(&e))
		return;
	rst = calloc(1, reset_type.state_size);
	CHECK(rst);
	if (!rst || reset_type.realize(rst, &e.f->host)) {
		test_fail(__FILE__, __LINE__, "reset realize failed");
		free(rst);
		env_fini(&e);
		return;
	}
	/* The reset register keeps its byte; the host its dword. */
	fake_out(e.f, CF8, 4, 0x80000800);
	fake_out8(e.f, 0xcf9, 0x02);
	CHECK_EQ(fake_in8(e.f, 0xcf9), 0x02);
	CHECK_EQ(fake_in(e.f, CF8, 4), 0x80000800);
	CHECK_EQ(e.f->ctl.nr, 0);
	/* Dword writes at 0xcf8 with bit 10 set do not reset. */
	fake_out(e.f, CF8, 4, 0x80000400);
	CHECK_EQ(e.f->ctl.nr, 0);
	fake_out8(e.f, 0xcf9, 0x06);
	CHECK_EQ(e.f->ctl.nr, 1);
	CHECK_EQ(e.f->ctl.last_req, VM_REQ_RESET);
	reset_type.unrealize(rst);
	free(rst);
	/* Detached: the byte reads all ones and resets nothing. */
	fake_out8(e.f, 0xcf9, 0x06);
	CHECK_EQ(fake_in8(e.f, 0xcf9), 0xff);
	CHECK_EQ(e.f->ctl.nr, 1);
	env_fini(&e);
}

/* ---- BARs ---- */

static void bar_sizing(void)
{
	struct env e;
	struct dummy *d;
	uint32_t orig;

	if (!env_init(&e))
		return;
	d = dummy_new(&e);
	orig = cf8_read(&e, 1, 0x10, 4);
	CHECK_EQ(orig & 0xf, 0x8); /* memory, 32-bit, prefetchable */
	cf8_write(&e, 1, 0x10, 4, 0xffffffff);
	CHECK_EQ(cf8_read(&e, 1, 0x10, 4), 0xfffff008);
	cf8_write(&e, 1, 0x10, 4, orig);
	CHECK_EQ(cf8_read(&e, 1, 0x10, 4), orig);

	orig = cf8_read(&e, 1, 0x14, 4);
	CHECK_EQ(orig & 0x3, 0x1); /* I/O */
	cf8_write(&e, 1, 0x14, 4, 0xffffffff);
	CHECK_EQ(cf8_read(&e, 1, 0x14, 4), 0x0000ffe1);
	cf8_write(&e, 1, 0x14, 4, orig);

	ecam_write(&e, 1, 0x18, 4, 0xffffffff);
	CHECK_EQ(ecam_read(&e, 1, 0, 0x18, 4), 0xffff0000);
	/* Unused BARs and the ROM BAR are not implemented. */
	for (unsigned int reg = 0x1c; reg <= 0x30; reg += 4) {
		if (reg == 0x2c)
			continue; /* subsystem IDs */
		ecam_write(&e, 1, reg, 4, 0xffffffff);
		CHECK_EQ(ecam_read(&e, 1, 0, reg, 4), 0);
	}
	dummy_free(d);
	env_fini(&e);
}

static void bars_placed_and_decoding(void)
{
	struct env e;
	struct dummy *d1, *d2;

	if (!env_init(&e))
		return;
	d1 = dummy_new(&e);
	d2 = dummy_new(&e);
	for (unsigned int b = 0; b < 3; b++) {
		struct dummy *d = b ? d1 : d2;

		CHECK(d->pci.bar_mapped[b]);
		CHECK_EQ(d->pci.bar_addr[b] % d->pci.info.bars[b].size, 0);
	}
	CHECK(d1->pci.bar_addr[0] >= LAYOUT_PCI_MMIO);
	CHECK(d1->pci.bar_addr[2] + 65536 <= LAYOUT_PCI_MMIO + 0x20000000);
	CHECK(d1->pci.bar_addr[1] >= PORT_PCI_IO);
	CHECK(!d1->pci.bar_mapped[3]);
	/* Distinct devices never share a page. */
	CHECK(d1->pci.bar_addr[0] / 4096 != d2->pci.bar_addr[0] / 4096);
	CHECK(d1->pci.bar_addr[1] != d2->pci.bar_addr[1]);
	/* Command: decoding on, bus master off. */
	CHECK_EQ(cf8_read(&e, 1, 4, 2), 0x0003);
	CHECK_EQ(cf8_read(&e, 1, 0x10, 4) & ~0xfu, d1->pci.bar_addr[0]);

	/* The windows reach the right device at the right offset. */
	CHECK_EQ(mmio_read(&e, d2->pci.bar_addr[0] + 0x10, 4), 0x10);
	CHECK_EQ(d2->reads, 1);
	CHECK_EQ(d2->last_off, 0x10);
	CHECK_EQ(d2->last_size, 4);
	CHECK(bus_write(&e.f->mmio, d1->pci.bar_addr[2] + 0xfff8, 8,
			0x1122334455667788ull));
	CHECK_EQ(d1->last_off, 0xfff8);
	CHECK_EQ(d1->last_val, 0x1122334455667788ull);
	fake_out(e.f, (uint16_t)(d1->pci.bar_addr[1] + 2), 2, 0xbeef);
	CHECK_EQ(d1->last_off, 2);
	CHECK_EQ(d1->last_val, 0xbeef);
	CHECK_EQ(fake_in(e.f, (uint16_t)(d1->pci.bar_addr[1] + 4), 1), 0x04);
	/* An access running past the end of a BAR reaches nobody. */
	d1->reads = 0;
	CHECK_EQ(mmio_read(&e, d1->pci.bar_addr[0] + 4094, 4), 0xffffffff);
	CHECK_EQ(d1->reads, 0);
	/* Unused window space reads all ones. */
	CHECK_EQ(mmio_read(&e, LAYOUT_PCI_MMIO + 0x10000000, 4), 0xffffffff);
	CHECK_EQ(d1->nr_moves, 0); /* placement reports nothing */
	dummy_free(d1);
	dummy_free(d2);
	env_fini(&e);
}

static void bar_move_and_decode_toggle(void)
{
	struct env e;
	struct dummy *d;
	uint64_t old, newa = LAYOUT_PCI_MMIO + 0x1000000;

	if (!env_init(&e))
		return;
	d = dummy_new(&e);
	old = d->pci.bar_addr[0];

	/* Move BAR0 while decoding: unmapped at old, mapped at new. */
	cf8_write(&e, 1, 0x10, 4, (uint32_t)newa);
	CHECK_EQ(d->nr_moves, 2);
	CHECK(d->moves[0].bar == 0 && !d->moves[0].mapped &&
	      d->moves[0].addr == old);
	CHECK(d->moves[1].bar == 0 && d->moves[1].mapped &&
	      d->moves[1].addr == newa);
	CHECK_EQ(d->pci.bar_addr[0], newa);
	d->reads = 0;
	CHECK_EQ(mmio_read(&e, old, 4), 0xffffffff);
	CHECK_EQ(d->reads, 0);
	CHECK_EQ(mmio_read(&e, newa + 8, 4), 8);
	CHECK_EQ(d->reads, 1);

	/* Memory decode off: every memory BAR stops; I/O stays. */
	d->nr_moves = 0;
	cf8_write(&e, 1, 4, 2, 0x0001);
	CHECK_EQ(d->nr_moves, 2);
	CHECK(!d->moves[0].mapped && !d->moves[1].mapped);
	CHECK(!d->pci.bar_mapped[0] && !d->pci.bar_mapped[2]);
	CHECK(d->pci.bar_mapped[1]);
	CHECK_EQ(mmio_read(&e, newa, 4), 0xffffffff);

	/* Sizing while decode is off moves nothing. */
	d->nr_moves = 0;
	cf8_write(&e, 1, 0x10, 4, 0xffffffff);
	cf8_write(&e, 1, 0x10, 4, (uint32_t)newa);
	CHECK_EQ(d->nr_moves, 0);

	/* Decode back on: both memory BARs come back where they are. */
	cf8_write(&e, 1, 4, 2, 0x0003);
	CHECK_EQ(d->nr_moves, 2);
	CHECK(d->moves[0].mapped && d->moves[1].mapped);
	CHECK_EQ(d->moves[0].addr, newa);
	CHECK_EQ(mmio_read(&e, newa, 4), 0);

	/* Moved out of the window (into RAM, or onto the ECAM): no decode. */
	d->nr_moves = 0;
	cf8_write(&e, 1, 0x10, 4, 0x00100000);
	CHECK_EQ(d->nr_moves, 1);
	CHECK(!d->moves[0].mapped);
	CHECK(!d->pci.bar_mapped[0]);
	cf8_write(&e, 1, 0x10, 4, (uint32_t)LAYOUT_PCI_ECAM);
	CHECK(!d->pci.bar_mapped[0]);
	CHECK_EQ(ecam_read(&e, 1, 0, 0, 4), 0x56781234);
	/* The last 4 KiB of the window still fit. */
	cf8_write(&e, 1, 0x10, 4, (uint32_t)(LAYOUT_PCI_ECAM - 4096));
	CHECK(d->pci.bar_mapped[0]);

	/* Byte-wise BAR writes work too (each one remaps). */
	d->nr_moves = 0;
	cf8_write(&e, 1, 0x12, 1, 0x20);
	CHECK_EQ(d->pci.bar_addr[0], 0xdf20f000);
	CHECK(d->pci.bar_mapped[0]);

	/* I/O decode off. */
	d->nr_moves = 0;
	cf8_write(&e, 1, 4, 2, 0x0002);
	CHECK(!d->pci.bar_mapped[1]);
	CHECK_EQ(d->nr_moves, 1);
	CHECK_EQ(d->moves[0].bar, 1);
	dummy_free(d);
	env_fini(&e);
}

static void overlapping_bars_first_wins(void)
{
	struct env e;
	struct dummy *d1, *d2;

	if (!env_init(&e))
		return;
	d1 = dummy_new(&e);
	d2 = dummy_new(&e);
	/* d2's BAR2 (64K) over d1's BAR0 (4K): d1, in slot order, wins. */
	cf8_write(&e, 2, 0x18, 4, (uint32_t)d1->pci.bar_addr[2]);
	cf8_write(&e, 1, 0x10, 4, (uint32_t)d1->pci.bar_addr[2]);
	CHECK(d1->pci.bar_mapped[0] && d1->pci.bar_mapped[2] &&
	      d2->pci.bar_mapped[2]);
	d1->reads = d2->reads = 0;
	mmio_read(&e, d1->pci.bar_addr[2] + 0x100, 4);
	CHECK_EQ(d1->reads, 1);
	CHECK_EQ(d2->reads, 0);
	/* Past d1's BAR0 but inside both 64K BARs: d1's BAR2 again. */
	mmio_read(&e, d1->pci.bar_addr[2] + 0x8000, 4);
	CHECK_EQ(d1->reads, 2);
	CHECK_EQ(d2->reads, 0);
	/* Unplugging d1 leaves d2 decoding there. */
	pci_device_unregister(&d1->pci);
	mmio_read(&e, d2->pci.bar_addr[2] + 0x100, 4);
	CHECK_EQ(d2->reads, 1);
	CHECK_EQ(cf8_read(&e, 1, 0, 4), 0xffffffff);
	free(d1);
	dummy_free(d2);
	env_fini(&e);
}

static void register_errors(void)
{
	struct env e;
	struct dummy *d[32] = { NULL };
	struct pci_device_info info;
	struct pci_device *p = calloc(1, sizeof(*p));
	unsigned int i;

	if (!p || !env_init(&e)) {
		free(p);
		return;
	}
	info = (struct pci_device_info){ .name = "bad" };
	info.bars[0].size = 3000; /* not a power of two */
	CHECK_EQ(pci_device_register(e.h, p, &info), -EINVAL);
	info.bars[0].size = 8; /* memory BARs are 16 bytes at least */
	CHECK_EQ(pci_device_register(e.h, p, &info), -EINVAL);
	info.bars[0] = (struct pci_bar_info){ .size = 512, .io = true };
	CHECK_EQ(pci_device_register(e.h, p, &info), -EINVAL);
	info.bars[0] = (struct pci_bar_info){ .size = 1ull << 30 };
	CHECK_EQ(pci_device_register(e.h, p, &info), -EINVAL);
	/* Bigger than what is left of the window: -ENOSPC. */
	info.bars[0] = (struct pci_bar_info){ .size = 256u << 20 };
	CHECK_EQ(pci_device_register(e.h, p, &info), 0);
	CHECK_EQ(pci_device_register(e.h, p, &info), -EBUSY);
	{
		struct pci_device *q = calloc(1, sizeof(*q));

		CHECK(q);
		if (q) {
			info.bars[0].size = 512u << 20;
			CHECK_EQ(pci_device_register(e.h, q, &info), -ENOSPC);
			/* The failure placed nothing: 256 MiB still fits. */
			info.bars[0].size = 256u << 20;
			CHECK_EQ(pci_device_register(e.h, q, &info), 0);
			pci_device_unregister(q);
			free(q);
		}
	}
	pci_device_unregister(p);
	/* 31 slots for devices; the 32nd finds the bus full. */
	info = (struct pci_device_info){ .name = "small" };
	for (i = 0; i < 31; i++) {
		d[i] = calloc(1, sizeof(*d[i]));
		CHECK(d[i]);
		if (!d[i])
			break;
		CHECK_EQ(pci_device_register(e.h, &d[i]->pci, &info), 0);
	}
	CHECK_EQ(pci_device_register(e.h, p, &info), -ENOSPC);
	for (i = 0; i < 31; i++)
		if (d[i])
			dummy_free(d[i]);
	free(p);
	env_fini(&e);
}

/* ---- Registers ---- */

static void readonly_and_writable_registers(void)
{
	struct env e;
	struct dummy *d;
	uint8_t before[0x40];

	if (!env_init(&e))
		return;
	d = dummy_new(&e);
	for (unsigned int i = 0; i < 0x40; i++)
		before[i] = (uint8_t)cf8_read(&e, 1, i, 1);
	/* IDs, class, revision, header type, subsystem, pin: read-only. */
	static const unsigned int ro[] = { 0x00, 0x02, 0x08, 0x0a,
					   0x0e, 0x2c, 0x2e };
	for (unsigned int i = 0; i < sizeof(ro) / sizeof(ro[0]); i++)
		cf8_write(&e, 1, ro[i], 2, 0x0000);
	cf8_write(&e, 1, 0x3d, 1, 0x04);
	cf8_write(&e, 1, 0x34, 1, 0x80);
	CHECK_EQ(cf8_read(&e, 1, 0, 4), 0x56781234);
	CHECK_EQ(cf8_read(&e, 1, 8, 4), 0xff000103);
	CHECK_EQ(cf8_read(&e, 1, 0x2c, 4), 0x11001af4);
	CHECK_EQ(cf8_read(&e, 1, 0x3d, 1), 1); /* INTA */
	CHECK_EQ(cf8_read(&e, 1, 0x34, 1), before[0x34]);
	/* Interrupt line and cache line size are the guest's. */
	cf8_write(&e, 1, 0x3c, 1, 0x0b);
	CHECK_EQ(cf8_read(&e, 1, 0x3c, 1), 0x0b);
	cf8_write(&e, 1, 0x0c, 1, 0x10);
	CHECK_EQ(cf8_read(&e, 1, 0x0c, 1), 0x10);
	/* Command: only the implemented bits stick. */
	cf8_write(&e, 1, 4, 2, 0xffff);
	CHECK_EQ(cf8_read(&e, 1, 4, 2), 0x0547);
	/* Extended space: zero, read-only, and it ends the list at once. */
	for (unsigned int reg = 0x100; reg < 0x1000; reg += 0x1fc) {
		ecam_write(&e, 1, reg, 4, 0xffffffff);
		CHECK_EQ(ecam_read(&e, 1, 0, reg, 4), 0);
	}
	CHECK_EQ(ecam_read(&e, 1, 0, 0xffc, 4), 0);
	dummy_free(d);
	env_fini(&e);
}

static void status_write_one_to_clear(void)
{
	struct env e;
	struct dummy *d;

	if (!env_init(&e))
		return;
	d = dummy_new(&e);
	/* As if the device had seen a master abort and a parity error. */
	d->pci.cfg[7] |= 0xa0;
	CHECK_EQ(cf8_read(&e, 1, 6, 2) & 0xf900, 0xa000);
	cf8_write(&e, 1, 6, 2, 0x0000); /* zeros clear nothing */
	CHECK_EQ(cf8_read(&e, 1, 6, 2) & 0xf900, 0xa000);
	cf8_write(&e, 1, 6, 2, 0x2000);
	CHECK_EQ(cf8_read(&e, 1, 6, 2) & 0xf900, 0x8000);
	/* A dword write of command + status: command set, status cleared. */
	cf8_write(&e, 1, 4, 4, 0xffff0007);
	CHECK_EQ(cf8_read(&e, 1, 6, 2) & 0xf900, 0);
	CHECK_EQ(cf8_read(&e, 1, 4, 2), 0x0007);
	/* Read-only status bits do not move. */
	d->pci.cfg[6] |= 0x10;
	cf8_write(&e, 1, 6, 2, 0xffff);
	CHECK_EQ(cf8_read(&e, 1, 6, 2) & 0x10, 0x10);
	dummy_free(d);
	env_fini(&e);
}

static void capability_chain(void)
{
	static const uint8_t body1[] = { 0x0c, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	static const uint8_t body2[] = { 0x10, 0xaa, 0xbb };
	struct env e;
	struct dummy *d;
	unsigned int off, n = 0;
	int c1, c2, rc;

	if (!env_init(&e))
		return;
	d = dummy_new(&e);
	CHECK_EQ(cf8_read(&e, 1, 6, 2) & 0x10, 0);
	c1 = pci_add_capability(&d->pci, 0x09, body1, sizeof(body1));
	c2 = pci_add_capability(&d->pci, 0x09, body2, sizeof(body2));
	CHECK(c1 >= 0x40 && c2 > c1);
	CHECK_EQ(c1 % 4, 0);
	CHECK_EQ(c2 % 4, 0);
	CHECK_EQ(cf8_read(&e, 1, 6, 2) & 0x10, 0x10);
	CHECK_EQ(cf8_read(&e, 1, 0x34, 1), (unsigned int)c1);
	/* Walk it like a driver: bounded, ends with 0. */
	for (off = cf8_read(&e, 1, 0x34, 1); off && n < 48; n++) {
		CHECK_EQ(cf8_read(&e, 1, off, 1), 0x09);
		off = cf8_read(&e, 1, off + 1, 1);
	}
	CHECK_EQ(n, 2);
	CHECK_EQ(cf8_read(&e, 1, (unsigned int)c1, 4),
		 0x010c0009u | (uint32_t)c2 << 8);
	CHECK_EQ(cf8_read(&e, 1, (unsigned int)c1 + 4, 4), 0x05040302);
	CHECK_EQ(ecam_read(&e, 1, 0, (unsigned int)c2 + 2, 2), 0xaa10);
	/* Bodies are read-only, then writable where the device says. */
	cf8_write(&e, 1, (unsigned int)c2 + 3, 1, 0x55);
	CHECK_EQ(cf8_read(&e, 1, (unsigned int)c2 + 3, 1), 0xaa);
	pci_set_wmask(&d->pci, (unsigned int)c2 + 3, 1);
	cf8_write(&e, 1, (unsigned int)c2, 4, 0x55555555);
	/* id and next stay, body[0] stays, body[1] takes the write. */
	CHECK_EQ(cf8_read(&e, 1, (unsigned int)c2, 4), 0x55100009);
	/* Fill the rest: -ENOSPC, and the chain stays intact. */
	do {
		rc = pci_add_capability(&d->pci, 0x09, body1, sizeof(body1));
	} while (rc > 0 && n++ < 64);
	CHECK_EQ(rc, -ENOSPC);
	n = 0;
	for (off = cf8_read(&e, 1, 0x34, 1); off && n < 64; n++)
		off = cf8_read(&e, 1, off + 1, 1);
	CHECK(n < 48);
	CHECK_EQ(pci_add_capability(&d->pci, 0x09, NULL, 0x100), -ENOSPC);
	dummy_free(d);
	env_fini(&e);
}

static void odd_offsets_and_widths(void)
{
	struct env e;
	struct dummy *d;

	if (!env_init(&e))
		return;
	d = dummy_new(&e);
	/* Every offset and width inside a dword agrees with the bytes. */
	for (unsigned int reg = 0; reg < 0x40; reg++) {
		for (unsigned int size = 1; size <= 4; size *= 2) {
			uint64_t want = 0, got;

			if ((reg & 3) + size > 4)
				continue;
			for (unsigned int i = 0; i < size; i++)
				want |= ecam_read(&e, 1, 0, reg + i, 1)
					<< (8 * i);
			got = ecam_read(&e, 1, 0, reg, size);
			CHECK_EQ(got, want);
			CHECK_EQ(cf8_read(&e, 1, reg, size), want);
		}
	}
	/* Crossing a dword: rejected, reads all ones, writes nothing. */
	CHECK_EQ(ecam_read(&e, 1, 0, 0x03, 2), 0xffff);
	CHECK_EQ(ecam_read(&e, 1, 0, 0x02, 4), 0xffffffff);
	CHECK_EQ(ecam_read(&e, 1, 0, 0x3e, 4), 0xffffffff);
	CHECK_EQ(ecam_read(&e, 1, 0, 0x00, 8), ~0ull);
	CHECK_EQ(ecam_read(&e, 1, 0, 0xfff, 2), 0xffff);
	ecam_write(&e, 1, 0x3b, 2, 0xffff);
	ecam_write(&e, 1, 0x0e, 4, 0xffffffff);
	ecam_write(&e, 1, 0x10, 8, 0);
	CHECK_EQ(ecam_read(&e, 1, 0, 0x3c, 1), d->pci.intx_gsi);
	CHECK(d->pci.bar_mapped[0]);
	/* The data port at 0xcfd..0xcff with words and bytes. */
	fake_out(e.f, CF8, 4, cf8_addr(0, 1, 0, 0));
	CHECK_EQ(fake_in(e.f, 0xcfd, 2), 0x7812);
	CHECK_EQ(fake_in(e.f, 0xcfe, 2), 0x5678);
	CHECK_EQ(fake_in(e.f, 0xcff, 1), 0x56);
	/* A dword at 0xcfd would run past the ports: nobody claims it. */
	{
		uint64_t v = 0;

		CHECK(!bus_read(&e.f->pio, 0xcfd, 4, &v));
		CHECK(!bus_write(&e.f->pio, 0xcfe, 4, 0));
	}
	dummy_free(d);
	env_fini(&e);
}

/* ---- INTx ---- */

static void intx_shared_lines_ored(void)
{
	struct env e;
	struct dummy *d[9];
	unsigned int gsi;

	if (!env_init(&e))
		return;
	for (unsigned int i = 0; i < 9; i++)
		d[i] = dummy_new(&e);
	/* Slots 1 and 9 share a GSI under the swizzle. */
	gsi = d[0]->pci.intx_gsi;
	CHECK_EQ(gsi, PCI_INTX_GSI_BASE + 1);
	CHECK_EQ(d[8]->pci.slot, 9);
	CHECK_EQ(d[8]->pci.intx_gsi, gsi);
	CHECK_EQ(d[1]->pci.intx_gsi, gsi + 1);
	CHECK_EQ(cf8_read(&e, 1, 0x3c, 2), 0x0100 | gsi);

	pci_set_intx(&d[0]->pci, true);
	CHECK(fake_irq_level(e.f, gsi));
	CHECK_EQ(cf8_read(&e, 1, 6, 2) & 0x08, 0x08);
	CHECK_EQ(cf8_read(&e, 9, 6, 2) & 0x08, 0);
	pci_set_intx(&d[8]->pci, true);
	pci_set_intx(&d[0]->pci, false);
	CHECK(fake_irq_level(e.f, gsi)); /* slot 9 still holds it */
	CHECK(!fake_irq_level(e.f, gsi + 1));
	pci_set_intx(&d[8]->pci, true); /* repeated: no double count */
	pci_set_intx(&d[8]->pci, false);
	CHECK(!fake_irq_level(e.f, gsi));
	CHECK_EQ(fake_irq_rises(e.f, gsi), 1);

	/* INTx disable masks the pin; status still shows the request. */
	pci_set_intx(&d[0]->pci, true);
	cf8_write(&e, 1, 4, 2, 0x0403);
	CHECK(!fake_irq_level(e.f, gsi));
	CHECK_EQ(cf8_read(&e, 1, 6, 2) & 0x08, 0x08);
	pci_set_intx(&d[0]->pci, false);
	pci_set_intx(&d[0]->pci, true);
	CHECK(!fake_irq_level(e.f, gsi));
	cf8_write(&e, 1, 4, 2, 0x0003);
	CHECK(fake_irq_level(e.f, gsi));
	/* Unplugging a device drops its contribution. */
	pci_device_unregister(&d[0]->pci);
	CHECK(!fake_irq_level(e.f, gsi));
	pci_set_intx(&d[0]->pci, true); /* unplugged: ignored */
	CHECK(!fake_irq_level(e.f, gsi));
	for (unsigned int i = 0; i < 9; i++)
		dummy_free(d[i]);
	env_fini(&e);
}

static void no_intx_without_pin(void)
{
	struct env e;
	struct pci_device *p = calloc(1, sizeof(*p));
	const struct pci_device_info info = { .name = "nopin" };

	if (!p || !env_init(&e)) {
		free(p);
		return;
	}
	CHECK_EQ(pci_device_register(e.h, p, &info), 0);
	CHECK_EQ(cf8_read(&e, 1, 0x3d, 1), 0);
	pci_set_intx(p, true);
	for (unsigned int g = 16; g < 24; g++)
		CHECK(!fake_irq_level(e.f, g));
	pci_device_unregister(p);
	free(p);
	env_fini(&e);
}

/* A device's own configuration window (virtio's PCI_CFG). */
struct cfgwin {
	struct pci_device pci;
	unsigned int reads, writes, last_off, last_len;
};

static void cfgwin_read(void *opaque, struct pci_device *dev, unsigned int off,
			unsigned int len)
{
	struct cfgwin *c = opaque;

	c->reads++;
	c->last_off = off;
	c->last_len = len;
	dev->cfg[0x50] = (uint8_t)c->reads; /* refreshed before the read */
}

static void cfgwin_write(void *opaque, struct pci_device *dev, unsigned int off,
			 unsigned int len)
{
	struct cfgwin *c = opaque;

	(void)dev;
	c->writes++;
	c->last_off = off;
	c->last_len = len;
}

static void device_config_hooks(void)
{
	struct env e;
	struct cfgwin *c = calloc(1, sizeof(*c));
	struct pci_device_info info = { .name = "cfgwin", .vendor_id = 0x1234 };
	uint8_t body[20] = { 0 };
	int off;

	if (!c || !env_init(&e)) {
		free(c);
		return;
	}
	info.cfg_read = cfgwin_read;
	info.cfg_write = cfgwin_write;
	info.opaque = c;
	CHECK_EQ(pci_device_register(e.h, &c->pci, &info), 0);
	off = pci_add_capability(&c->pci, 0x09, body, sizeof(body));
	CHECK_EQ(off, 0x40);
	pci_set_wmask(&c->pci, 0x54, 4);
	/* Header accesses do not reach the hooks. */
	cf8_read(&e, 1, 0, 4);
	cf8_write(&e, 1, 4, 2, 0);
	CHECK_EQ(c->reads + c->writes, 0);
	CHECK_EQ(cf8_read(&e, 1, 0x50, 1), 1);
	CHECK_EQ(c->last_off, 0x50);
	CHECK_EQ(c->last_len, 1);
	cf8_write(&e, 1, 0x54, 4, 0xdeadbeef);
	CHECK_EQ(c->writes, 1);
	CHECK_EQ(c->pci.cfg[0x57], 0xde);
	/* Header bytes stay the host's even through pci_set_wmask. */
	pci_set_wmask(&c->pci, 0, 4);
	cf8_write(&e, 1, 0, 4, 0);
	CHECK_EQ(cf8_read(&e, 1, 0, 2), 0x1234);
	pci_device_unregister(&c->pci);
	free(c);
	env_fini(&e);
}

TEST_SUITE(pci, TEST_CASE(host_bridge_found), TEST_CASE(cf8_and_ecam_agree),
	   TEST_CASE(absent_reads_all_ones),
	   TEST_CASE(config_address_dword_only), TEST_CASE(cf9_still_resets),
	   TEST_CASE(bar_sizing), TEST_CASE(bars_placed_and_decoding),
	   TEST_CASE(bar_move_and_decode_toggle),
	   TEST_CASE(overlapping_bars_first_wins), TEST_CASE(register_errors),
	   TEST_CASE(readonly_and_writable_registers),
	   TEST_CASE(status_write_one_to_clear), TEST_CASE(capability_chain),
	   TEST_CASE(odd_offsets_and_widths), TEST_CASE(intx_shared_lines_ored),
	   TEST_CASE(no_intx_without_pin), TEST_CASE(device_config_hooks));
