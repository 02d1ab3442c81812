// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the PCI host (src/pci/pci.c, msix.c): the input is
 * a sequence of guest accesses, replayed against a fresh host with two
 * dummy devices that have memory and I/O BARs, MSI-X (table and PBA in
 * BAR 0), a vendor capability and INTx. Each record is
 *
 *   op (1 byte), then per op: size selector (1), address (4), value (8)
 *
 *   op % 8 = 0  CONFIG_ADDRESS/ports 0xcf8-0xcff: port write
 *            1  ports 0xcf8-0xcff: port read
 *            2  ECAM write        3  ECAM read
 *            4  PCI memory window access (read or write by a value bit)
 *            5  PCI I/O window access
 *            6  pci_msix_notify(device, vector) / pci_set_intx
 *            7  a BAR access through pci_bar_read/pci_bar_write
 *
 * Addresses are folded into the window they target, so most accesses
 * reach real registers. Invariants checked after every access: a BAR the
 * host calls mapped lies inside its window; BAR ops see only accesses
 * inside the BAR; a shared INTx line is high exactly when some device
 * contributes to it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "bus/bus.h"
#include "devices/device.h"
#include "pci/pci.h"

#define NR_DEV 2
#define BAR0_SIZE 0x4000 /* MSI-X table at 0x2000, PBA at 0x3000 */
#define BAR1_SIZE 0x40 /* I/O */
#define BAR2_SIZE 0x1000
#define NR_VEC 9

struct fuzz_dev {
	struct pci_device pci;
	unsigned int bar;
	uint64_t size;
};

struct fuzz_state {
	struct bus pio, mmio;
	struct pci_host *h;
	struct fuzz_dev dev[NR_DEV];
	/* one per BAR, so the ops know which BAR they serve */
	struct fuzz_dev bars[NR_DEV][3];
	bool line[24];
	unsigned int routes;
};

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static uint64_t bar_read(void *opaque, uint64_t off, unsigned int size)
{
	const struct fuzz_dev *b = opaque;

	check(size <= b->size && off <= b->size - size);
	return off * 0x0101010101010101ull;
}

static void bar_write(void *opaque, uint64_t off, unsigned int size, uint64_t v)
{
	const struct fuzz_dev *b = opaque;

	(void)v;
	check(size <= b->size && off <= b->size - size);
}

static const struct bus_ops bar_ops = { .read = bar_read, .write = bar_write };

static void moved(void *opaque, unsigned int bar, bool mapped, uint64_t addr)
{
	const struct fuzz_dev *d = opaque;
	const struct pci_bar_info *b = &d->pci.info.bars[bar];

	check(bar < PCI_NUM_BARS && b->size);
	if (mapped && b->io)
		check(addr >= PORT_PCI_IO &&
		      addr + b->size <= PORT_PCI_IO + PORT_PCI_IO_SIZE);
	else if (mapped)
		check(addr >= LAYOUT_PCI_MMIO &&
		      addr + b->size <= LAYOUT_PCI_MMIO + LAYOUT_PCI_MMIO_SIZE);
}

static void set_level(void *opaque, unsigned int gsi, bool level)
{
	struct fuzz_state *s = opaque;

	check(gsi >= 16 && gsi < 24);
	check(s->line[gsi] != level); /* the host reports changes only */
	s->line[gsi] = level;
}

static int route_add(void *opaque, uint64_t addr, uint32_t data, int fd)
{
	struct fuzz_state *s = opaque;

	(void)addr;
	(void)data;
	check(fd >= 0);
	if (s->routes >= 64)
		return -28; /* -ENOSPC: exercise the failure path */
	return (int)(24 + s->routes++);
}

static int route_update(void *opaque, unsigned int gsi, uint64_t addr,
			uint32_t data)
{
	(void)opaque;
	(void)addr;
	(void)data;
	check(gsi >= 24);
	return 0;
}

static void route_del(void *opaque, unsigned int gsi, int fd)
{
	(void)opaque;
	check(gsi >= 24 && fd >= 0);
}

static bool setup(struct fuzz_state *s)
{
	struct device_host host = {
		.pio = &s->pio,
		.mmio = &s->mmio,
		.irq_set_level = set_level,
		.irq_opaque = s,
		.msi_route_add = route_add,
		.msi_route_update = route_update,
		.msi_route_del = route_del,
		.kvm_opaque = s,
	};
	static const uint8_t vndr[14] = { 16, 1, 0, 0, 0 };

	bus_init(&s->pio, "pio");
	bus_init(&s->mmio, "mmio");
	if (pci_host_init(&s->h, &host))
		return false;
	for (unsigned int i = 0; i < NR_DEV; i++) {
		struct fuzz_dev *d = &s->dev[i];
		struct pci_device_info info = {
			.name = "fuzz",
			.vendor_id = 0x1af4,
			.device_id = (uint16_t)(0x1040 + i),
			.class_code = 0xff0000,
			.intx = true,
			.bar_moved = moved,
			.opaque = d,
		};
		static const uint64_t sizes[3] = { BAR0_SIZE, BAR1_SIZE,
						   BAR2_SIZE };

		for (unsigned int b = 0; b < 3; b++) {
			s->bars[i][b] =
				(struct fuzz_dev){ .bar = b, .size = sizes[b] };
			info.bars[b] = (struct pci_bar_info){
				.size = sizes[b],
				.io = b == 1,
				.ops = &bar_ops,
				.opaque = &s->bars[i][b],
			};
		}
		if (pci_device_register(s->h, &d->pci, &info))
			return false;
		if (pci_add_capability(&d->pci, PCI_CAP_ID_VNDR, vndr,
				       sizeof(vndr)) < 0)
			return false;
		pci_set_wmask(&d->pci, d->pci.cfg[PCI_CAPABILITY_LIST] + 4, 8);
		if (pci_msix_init(&d->pci, 0, 0x2000, 0x3000, NR_VEC))
			return false;
	}
	return true;
}

static void teardown(struct fuzz_state *s)
{
	for (unsigned int i = 0; i < NR_DEV; i++)
		pci_device_unregister(&s->dev[i].pci);
	pci_host_destroy(s->h);
	bus_destroy(&s->pio);
	bus_destroy(&s->mmio);
}

static void check_invariants(struct fuzz_state *s)
{
	bool want[24] = { false };

	for (unsigned int i = 0; i < NR_DEV; i++) {
		const struct pci_device *d = &s->dev[i].pci;

		for (unsigned int b = 0; b < PCI_NUM_BARS; b++) {
			if (!d->bar_mapped[b])
				continue;
			moved(&s->dev[i], b, true, d->bar_addr[b]);
		}
		if (d->intx_asserted)
			want[d->intx_gsi] = true;
		check(d->intx_asserted == (d->intx_level && !d->intx_disabled));
	}
	for (unsigned int g = 16; g < 24; g++)
		check(want[g] == s->line[g]);
}

static uint64_t rd(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

#define RECORD 14

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_state s;

	memset(&s, 0, sizeof(s));
	if (!setup(&s))
		__builtin_trap(); /* not the guest's doing */
	for (; size >= RECORD; data += RECORD, size -= RECORD) {
		unsigned int op = data[0] % 8;
		unsigned int sz = 1u << (data[1] % 4);
		uint32_t addr = (uint32_t)rd(data + 2, 4);
		uint64_t val = rd(data + 6, 8), out = 0;
		struct pci_device *dev = &s.dev[data[1] >> 7].pci;

		switch (op) {
		case 0:
			bus_write(&s.pio, PORT_PCI_CONFIG + addr % 8, sz, val);
			break;
		case 1:
			bus_read(&s.pio, PORT_PCI_CONFIG + addr % 8, sz, &out);
			break;
		case 2:
			bus_write(&s.mmio,
				  LAYOUT_PCI_ECAM + addr % LAYOUT_PCI_ECAM_SIZE,
				  sz, val);
			break;
		case 3:
			bus_read(&s.mmio,
				 LAYOUT_PCI_ECAM + addr % LAYOUT_PCI_ECAM_SIZE,
				 sz, &out);
			break;
		case 4: {
			/* Near a BAR of the device, or anywhere. */
			uint64_t a =
				data[1] & 0x40 ?
					dev->bar_addr[(data[1] >> 4) & 3 ? 2 :
									   0] +
						addr % 0x5000 :
					LAYOUT_PCI_MMIO +
						addr % LAYOUT_PCI_MMIO_SIZE;

			if (data[1] & 0x20)
				bus_write(&s.mmio, a, sz, val);
			else
				bus_read(&s.mmio, a, sz, &out);
			break;
		}
		case 5: {
			uint64_t a = PORT_PCI_IO + addr % PORT_PCI_IO_SIZE;

			if (data[1] & 0x20)
				bus_write(&s.pio, a, sz, val);
			else
				bus_read(&s.pio, a, sz, &out);
			break;
		}
		case 6:
			if (data[1] & 0x20)
				pci_set_intx(dev, val & 1);
			else
				pci_msix_notify(dev, addr % (NR_VEC + 4));
			break;
		case 7:
			if (data[1] & 0x20)
				pci_bar_write(dev, (data[1] >> 2) % 7, addr, sz,
					      val);
			else
				pci_bar_read(dev, (data[1] >> 2) % 7, addr, sz,
					     &out);
			break;
		}
		check_invariants(&s);
	}
	teardown(&s);
	return 0;
}
