// SPDX-License-Identifier: MIT
/*
 * Tests of MSI-X (src/pci/msix.c through the pci.h API): the capability,
 * the table and PBA in a memory BAR, enable and function mask, per-vector
 * masking with pending bits, and delivery through eventfds bound to MSI
 * routes. The routes come from fake device_host hooks that record what
 * the VM would tell KVM; without hooks the eventfds are read directly.
 */
#include "unit/fake.h"
#include "unit/test.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "arch/x86_64/layout.h"
#include "pci/pci.h"

#define NR_VEC 5
#define TABLE_OFF 0x2000
#define PBA_OFF 0x3000
#define BAR_SIZE 0x4000

#define MSIX_ADDR 0xfee00000u

/* The VM's side of routes: what was added, updated and deleted. */
#define MAX_ROUTES 16

struct fake_routes {
	unsigned int adds, updates, dels;
	int fail_add; /* -errno to fail the next add */
	struct route {
		bool live;
		uint64_t addr;
		uint32_t data;
		int fd;
	} r[MAX_ROUTES]; /* index = gsi - 24 */
};

static int route_add(void *opaque, uint64_t addr, uint32_t data, int fd)
{
	struct fake_routes *fr = opaque;

	fr->adds++;
	if (fr->fail_add) {
		int rc = fr->fail_add;

		fr->fail_add = 0;
		return rc;
	}
	for (unsigned int i = 0; i < MAX_ROUTES; i++) {
		if (fr->r[i].live)
			continue;
		fr->r[i] = (struct route){
			.live = true, .addr = addr, .data = data, .fd = fd
		};
		return (int)(24 + i);
	}
	return -ENOSPC;
}

static int route_update(void *opaque, unsigned int gsi, uint64_t addr,
			uint32_t data)
{
	struct fake_routes *fr = opaque;

	fr->updates++;
	if (gsi < 24 || gsi >= 24 + MAX_ROUTES || !fr->r[gsi - 24].live)
		return -ENOENT;
	fr->r[gsi - 24].addr = addr;
	fr->r[gsi - 24].data = data;
	return 0;
}

static void route_del(void *opaque, unsigned int gsi, int fd)
{
	struct fake_routes *fr = opaque;

	fr->dels++;
	if (gsi >= 24 && gsi < 24 + MAX_ROUTES && fr->r[gsi - 24].fd == fd)
		fr->r[gsi - 24].live = false;
}

struct env {
	struct fake_vm *f;
	struct pci_host *h;
	struct fake_routes routes;
	struct pci_device dev;
	unsigned int cap;
	unsigned int bar_reads;
};

static uint64_t bar_read(void *opaque, uint64_t off, unsigned int size)
{
	struct env *e = opaque;

	(void)size;
	e->bar_reads++;
	return off;
}

static const struct bus_ops bar_ops = { .read = bar_read };

/* A device with one memory BAR holding the table and the PBA. */
static struct env *env_new(bool hooks)
{
	struct env *e = calloc(1, sizeof(*e));
	struct pci_device_info info = {
		.name = "msix-test",
		.vendor_id = 0x1af4,
		.device_id = 0x1041,
		.bars = { [1] = { .size = BAR_SIZE, .ops = &bar_ops } },
	};
	int rc;

	if (!e)
		abort();
	info.bars[1].opaque = e;
	e->f = fake_vm_new(NULL);
	if (hooks) {
		e->f->host.msi_route_add = route_add;
		e->f->host.msi_route_update = route_update;
		e->f->host.msi_route_del = route_del;
		e->f->host.kvm_opaque = &e->routes;
	}
	rc = pci_host_init(&e->h, &e->f->host);
	CHECK_EQ(rc, 0);
	CHECK_EQ(pci_device_register(e->h, &e->dev, &info), 0);
	CHECK_EQ(pci_msix_init(&e->dev, 1, TABLE_OFF, PBA_OFF, NR_VEC), 0);
	e->cap = e->dev.cfg[0x34];
	return e;
}

static void env_free(struct env *e)
{
	pci_device_unregister(&e->dev);
	pci_host_destroy(e->h);
	fake_vm_free(e->f);
	free(e);
}

static uint64_t ecam(unsigned int reg)
{
	return LAYOUT_PCI_ECAM + (1u << 15) + reg;
}

static uint32_t cfg_rd(struct env *e, unsigned int reg, unsigned int size)
{
	uint64_t v = 0;

	CHECK(bus_read(&e->f->mmio, ecam(reg), size, &v));
	return (uint32_t)v;
}

static void cfg_wr(struct env *e, unsigned int reg, unsigned int size,
		   uint32_t v)
{
	CHECK(bus_write(&e->f->mmio, ecam(reg), size, v));
}

static void msgctl(struct env *e, uint16_t v)
{
	cfg_wr(e, e->cap + 2, 2, v);
}

static uint64_t bar(struct env *e, uint64_t off)
{
	return e->dev.bar_addr[1] + off;
}

static uint32_t mmio_rd(struct env *e, uint64_t addr, unsigned int size)
{
	uint64_t v = 0;

	bus_read(&e->f->mmio, addr, size, &v);
	return (uint32_t)v;
}

static void mmio_wr(struct env *e, uint64_t addr, unsigned int size, uint64_t v)
{
	bus_write(&e->f->mmio, addr, size, v);
}

static uint64_t entry(unsigned int v, unsigned int field)
{
	return TABLE_OFF + 16u * v + field;
}

/* Programs vector v's message; leaves its mask bit alone. */
static void program(struct env *e, unsigned int v, uint32_t data)
{
	mmio_wr(e, bar(e, entry(v, 0)), 4, MSIX_ADDR | (v << 12));
	mmio_wr(e, bar(e, entry(v, 4)), 4, 0);
	mmio_wr(e, bar(e, entry(v, 8)), 4, data);
}

static void set_mask(struct env *e, unsigned int v, bool masked)
{
	mmio_wr(e, bar(e, entry(v, 12)), 4, masked);
}

static uint64_t pba(struct env *e)
{
	uint64_t v = 0;

	bus_read(&e->f->mmio, bar(e, PBA_OFF), 8, &v);
	return v;
}

/* How many times the vector's eventfd fired since the last look. */
static uint64_t fired(struct env *e, unsigned int v)
{
	int fd = pci_msix_vector_fd(&e->dev, v);
	uint64_t n = 0;

	if (fd < 0)
		return 0;
	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return 0; /* EAGAIN: nothing */
	return n;
}

/* ---- Tests ---- */

static void capability_layout(void)
{
	struct env *e = env_new(true);

	CHECK(e->cap >= 0x40);
	CHECK_EQ(cfg_rd(e, 6, 2) & 0x10, 0x10);
	CHECK_EQ(cfg_rd(e, e->cap, 1), 0x11);
	CHECK_EQ(cfg_rd(e, e->cap + 1, 1), 0); /* last in the list */
	CHECK_EQ(cfg_rd(e, e->cap + 2, 2), NR_VEC - 1);
	CHECK_EQ(cfg_rd(e, e->cap + 4, 4), TABLE_OFF | 1);
	CHECK_EQ(cfg_rd(e, e->cap + 8, 4), PBA_OFF | 1);
	/* Only Enable and Function Mask are writable. */
	msgctl(e, 0xffff);
	CHECK_EQ(cfg_rd(e, e->cap + 2, 2), 0xc000 | (NR_VEC - 1));
	CHECK(pci_msix_enabled(&e->dev));
	cfg_wr(e, e->cap + 4, 4, 0);
	cfg_wr(e, e->cap + 8, 4, 0);
	CHECK_EQ(cfg_rd(e, e->cap + 4, 4), TABLE_OFF | 1);
	CHECK_EQ(cfg_rd(e, e->cap + 8, 4), PBA_OFF | 1);
	/* A byte write to the high byte alone works too. */
	cfg_wr(e, e->cap + 3, 1, 0x00);
	CHECK(!pci_msix_enabled(&e->dev));
	env_free(e);
}

static void table_defaults_and_masks(void)
{
	struct env *e = env_new(true);

	for (unsigned int v = 0; v < NR_VEC; v++) {
		CHECK_EQ(mmio_rd(e, bar(e, entry(v, 0)), 4), 0);
		CHECK_EQ(mmio_rd(e, bar(e, entry(v, 12)), 4), 1); /* masked */
	}
	program(e, 2, 0x4041);
	CHECK_EQ(mmio_rd(e, bar(e, entry(2, 0)), 4), MSIX_ADDR | 0x2000);
	CHECK_EQ(mmio_rd(e, bar(e, entry(2, 8)), 4), 0x4041);
	/* Address bits 1:0 and vector control bits 31:1 are not stored. */
	mmio_wr(e, bar(e, entry(3, 0)), 4, 0xfee00003);
	CHECK_EQ(mmio_rd(e, bar(e, entry(3, 0)), 4), 0xfee00000);
	mmio_wr(e, bar(e, entry(3, 12)), 4, 0xfffffffe);
	CHECK_EQ(mmio_rd(e, bar(e, entry(3, 12)), 4), 0);
	/* A qword write of address low/high, and a qword read back. */
	mmio_wr(e, bar(e, entry(4, 0)), 8, 0x00000001fee01000ull);
	CHECK_EQ(mmio_rd(e, bar(e, entry(4, 4)), 4), 1);
	/* The PBA is read-only. */
	mmio_wr(e, bar(e, PBA_OFF), 8, ~0ull);
	CHECK_EQ(pba(e), 0);
	/* The rest of the BAR still reaches the device. */
	CHECK_EQ(mmio_rd(e, bar(e, 0x10), 4), 0x10);
	CHECK_EQ(e->bar_reads, 1);
	/* Straddling the table's end: all ones, nobody else sees it. */
	CHECK_EQ(mmio_rd(e, bar(e, TABLE_OFF + 16 * NR_VEC - 2), 4),
		 0xffffffff);
	CHECK_EQ(mmio_rd(e, bar(e, TABLE_OFF - 2), 4), 0xffffffff);
	CHECK_EQ(e->bar_reads, 1);
	/* Past the table, before the PBA: the device's again. */
	CHECK_EQ(mmio_rd(e, bar(e, TABLE_OFF + 16 * NR_VEC), 4),
		 TABLE_OFF + 16 * NR_VEC);
	env_free(e);
}

static void deliver_when_unmasked(void)
{
	struct env *e = env_new(true);

	program(e, 1, 0x4031);
	msgctl(e, 0x8000);
	/* Still masked: no route yet, the notification is pending. */
	CHECK_EQ(e->routes.adds, 0);
	pci_msix_notify(&e->dev, 1);
	CHECK_EQ(pba(e), 1u << 1);
	CHECK_EQ(pci_msix_vector_fd(&e->dev, 1), -1);
	/* Unmask: a route with the message, and the pending one delivered. */
	set_mask(e, 1, false);
	CHECK_EQ(e->routes.adds, 1);
	CHECK(e->routes.r[0].live);
	CHECK_EQ(e->routes.r[0].addr, MSIX_ADDR | 0x1000);
	CHECK_EQ(e->routes.r[0].data, 0x4031);
	CHECK_EQ(e->routes.r[0].fd, pci_msix_vector_fd(&e->dev, 1));
	CHECK_EQ(pba(e), 0);
	CHECK_EQ(fired(e, 1), 1);
	/* Now each notification fires once, no more route calls. */
	pci_msix_notify(&e->dev, 1);
	pci_msix_notify(&e->dev, 1);
	CHECK_EQ(fired(e, 1), 2);
	CHECK_EQ(e->routes.adds, 1);
	CHECK_EQ(e->routes.updates, 0);
	/* Pending bits of several vectors coexist. */
	pci_msix_notify(&e->dev, 0);
	pci_msix_notify(&e->dev, 4);
	CHECK_EQ(pba(e), 0x11);
	env_free(e);
}

static void function_mask_and_disable(void)
{
	struct env *e = env_new(true);

	program(e, 0, 0x4021);
	set_mask(e, 0, false);
	/* MSI-X disabled: notifications are dropped, not pending. */
	pci_msix_notify(&e->dev, 0);
	CHECK_EQ(pba(e), 0);
	CHECK_EQ(e->routes.adds, 0);
	/* Enabled with the function masked: pending. */
	msgctl(e, 0xc000);
	pci_msix_notify(&e->dev, 0);
	CHECK_EQ(pba(e), 1);
	CHECK_EQ(e->routes.adds, 0);
	/* Function unmasked: routed and delivered. */
	msgctl(e, 0x8000);
	CHECK_EQ(e->routes.adds, 1);
	CHECK_EQ(pba(e), 0);
	CHECK_EQ(fired(e, 0), 1);
	/* Disable again: dropped; enable: nothing stale arrives. */
	msgctl(e, 0x0000);
	CHECK(!pci_msix_enabled(&e->dev));
	pci_msix_notify(&e->dev, 0);
	msgctl(e, 0x8000);
	CHECK_EQ(pba(e), 0);
	CHECK_EQ(fired(e, 0), 0);
	CHECK_EQ(e->routes.adds, 1); /* the route is kept */
	env_free(e);
}

static void route_follows_message(void)
{
	struct env *e = env_new(true);
	struct fake_routes *fr = &e->routes;

	program(e, 2, 0x4051);
	msgctl(e, 0x8000);
	set_mask(e, 2, false);
	CHECK_EQ(fr->adds, 1);
	/* Rewritten while masked (Linux's way): one update at unmask. */
	set_mask(e, 2, true);
	program(e, 2, 0x4052);
	CHECK_EQ(fr->updates, 0);
	set_mask(e, 2, false);
	CHECK_EQ(fr->updates, 1);
	CHECK_EQ(fr->r[0].data, 0x4052);
	/* Rewritten while unmasked: each changing write updates. */
	mmio_wr(e, bar(e, entry(2, 8)), 4, 0x4053);
	CHECK_EQ(fr->updates, 2);
	CHECK_EQ(fr->r[0].data, 0x4053);
	mmio_wr(e, bar(e, entry(2, 8)), 4, 0x4053); /* same: no update */
	CHECK_EQ(fr->updates, 2);
	/* Unplug: the route goes away with its eventfd. */
	pci_device_unregister(&e->dev);
	CHECK_EQ(fr->dels, 1);
	CHECK(!fr->r[0].live);
	pci_host_destroy(e->h);
	fake_vm_free(e->f);
	free(e);
}

static void route_failure_retried(void)
{
	struct env *e = env_new(true);

	program(e, 0, 0x4061);
	msgctl(e, 0x8000);
	e->routes.fail_add = -ENOSPC;
	set_mask(e, 0, false);
	CHECK_EQ(e->routes.adds, 1);
	CHECK(!e->routes.r[0].live);
	/* The next notification tries again and gets through. */
	pci_msix_notify(&e->dev, 0);
	CHECK_EQ(e->routes.adds, 2);
	CHECK(e->routes.r[0].live);
	CHECK_EQ(fired(e, 0), 1);
	env_free(e);
}

static void hostile_vectors(void)
{
	struct env *e = env_new(true);

	msgctl(e, 0x8000);
	/* Out of range (the guest picks virtio's vectors): ignored. */
	pci_msix_notify(&e->dev, NR_VEC);
	pci_msix_notify(&e->dev, 0xffff);
	pci_msix_notify(&e->dev, ~0u);
	CHECK_EQ(pba(e), 0);
	CHECK_EQ(pci_msix_vector_fd(&e->dev, NR_VEC), -1);
	/* Unmasked with a zero message: routed as is, nothing crashes. */
	set_mask(e, 3, false);
	pci_msix_notify(&e->dev, 3);
	CHECK_EQ(fired(e, 3), 1);
	/* Every width at every offset of the table and PBA. */
	for (uint64_t off = TABLE_OFF - 8; off < PBA_OFF + 16; off++) {
		for (unsigned int size = 1; size <= 8; size *= 2) {
			uint64_t v = 0;

			bus_read(&e->f->mmio, bar(e, off), size, &v);
			bus_write(&e->f->mmio, bar(e, off), size, ~0ull);
		}
		if (off == TABLE_OFF + 16 * NR_VEC + 8)
			off = PBA_OFF - 8;
	}
	/* All ones everywhere: every entry masked again, none pending. */
	for (unsigned int v = 0; v < NR_VEC; v++)
		CHECK_EQ(mmio_rd(e, bar(e, entry(v, 12)), 4), 1);
	pci_msix_notify(&e->dev, 3);
	CHECK_EQ(pba(e), 1u << 3);
	env_free(e);
}

static void without_hooks_eventfd(void)
{
	struct env *e = env_new(false);

	program(e, 0, 0x4071);
	msgctl(e, 0x8000);
	pci_msix_notify(&e->dev, 0);
	CHECK_EQ(pba(e), 1);
	set_mask(e, 0, false);
	CHECK(pci_msix_vector_fd(&e->dev, 0) >= 0);
	CHECK_EQ(fired(e, 0), 1);
	pci_msix_notify(&e->dev, 0);
	CHECK_EQ(fired(e, 0), 1);
	CHECK_EQ(fired(e, 0), 0);
	env_free(e);
}

static void bar_helpers_reach_table(void)
{
	struct env *e = env_new(true);
	uint64_t v = 0;

	/* pci_bar_write/read: what virtio's PCI_CFG window uses. */
	CHECK(pci_bar_write(&e->dev, 1, entry(1, 8), 4, 0x4081));
	CHECK(pci_bar_read(&e->dev, 1, entry(1, 8), 4, &v));
	CHECK_EQ(v, 0x4081);
	CHECK(pci_bar_read(&e->dev, 1, 0x20, 2, &v));
	CHECK_EQ(v, 0x20);
	/* Outside the BAR, or a BAR that does not exist. */
	CHECK(!pci_bar_read(&e->dev, 1, BAR_SIZE - 2, 4, &v));
	CHECK_EQ(v, 0xffffffff);
	CHECK(!pci_bar_read(&e->dev, 0, 0, 4, &v));
	CHECK(!pci_bar_read(&e->dev, 6, 0, 4, &v));
	CHECK(!pci_bar_write(&e->dev, 1, ~0ull - 1, 4, 0));
	CHECK(!pci_bar_read(&e->dev, 1, 0, 3, &v));
	env_free(e);
}

static void init_errors(void)
{
	struct fake_vm *f = fake_vm_new(NULL);
	struct pci_host *h = NULL;
	struct pci_device *d = calloc(1, sizeof(*d));
	struct pci_device_info info = {
		.name = "bad",
		.bars = { [0] = { .size = 0x1000 },
			  [1] = { .size = 0x20, .io = true } },
	};

	CHECK(d);
	CHECK_EQ(pci_host_init(&h, &f->host), 0);
	if (!d || !h)
		goto out;
	/* Before registering: no host. */
	CHECK_EQ(pci_msix_init(d, 0, 0, 0x800, 4), -EINVAL);
	CHECK_EQ(pci_device_register(h, d, &info), 0);
	CHECK_EQ(pci_msix_init(d, 1, 0, 0x10, 1), -EINVAL); /* I/O BAR */
	CHECK_EQ(pci_msix_init(d, 2, 0, 0x10, 1), -EINVAL); /* no BAR */
	CHECK_EQ(pci_msix_init(d, 6, 0, 0x10, 1), -EINVAL);
	CHECK_EQ(pci_msix_init(d, 0, 0, 0x800, 0), -EINVAL);
	CHECK_EQ(pci_msix_init(d, 0, 0, 0x800, 2049), -EINVAL);
	CHECK_EQ(pci_msix_init(d, 0, 4, 0x800, 4), -EINVAL); /* BIR bits */
	CHECK_EQ(pci_msix_init(d, 0, 0, 0x804, 4), -EINVAL);
	CHECK_EQ(pci_msix_init(d, 0, 0xff8, 0x800, 4), -EINVAL); /* outside */
	CHECK_EQ(pci_msix_init(d, 0, 0, 0xff8, 65), -EINVAL);
	CHECK_EQ(pci_msix_init(d, 0, 0, 0x20, 4), -EINVAL); /* overlap */
	CHECK_EQ(pci_msix_init(d, 0, 0x100, 0x1f8, 16), -EINVAL);
	CHECK(d->msix == NULL);
	CHECK_EQ(pci_msix_init(d, 0, 0, 0x800, 4), 0);
	CHECK_EQ(pci_msix_init(d, 0, 0, 0x800, 4), -EINVAL); /* twice */
	CHECK(!pci_msix_enabled(d));
	pci_device_unregister(d);
out:
	free(d);
	pci_host_destroy(h);
	fake_vm_free(f);
}

TEST_SUITE(msix, TEST_CASE(capability_layout),
	   TEST_CASE(table_defaults_and_masks),
	   TEST_CASE(deliver_when_unmasked),
	   TEST_CASE(function_mask_and_disable),
	   TEST_CASE(route_follows_message), TEST_CASE(route_failure_retried),
	   TEST_CASE(hostile_vectors), TEST_CASE(without_hooks_eventfd),
	   TEST_CASE(bar_helpers_reach_table), TEST_CASE(init_errors));
