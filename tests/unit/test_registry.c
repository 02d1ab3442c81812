// SPDX-License-Identifier: MIT
/*
 * The platform device table, all devices realized together, and the
 * test-only debug-exit device (which has no suite of its own).
 */
#include "unit/test.h"

#include <errno.h>
#include <stdlib.h>

#include "arch/x86_64/layout.h"
#include "bus/bus.h"
#include "devices/debug_exit.h"
#include "devices/device.h"
#include "devices/i8042.h"
#include "devices/pm.h"
#include "devices/reset.h"
#include "devices/rtc.h"
#include "devices/uart16550.h"
#include "unit/fake.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/net.h"
#include "virtio/rng.h"

/*
 * Every device header's type. A new device adds its line here, and this
 * test then fails until it is in platform_devices[] as well.
 */
static const struct device_type *const expected[] = {
	&uart16550_type,  &i8042_type,	    &rtc_type,
	&pm_type,	  &reset_type,	    &debug_exit_type,
	&virtio_blk_type, &virtio_net_type, &virtio_console_type,
	&virtio_rng_type,
};

#define NR_EXPECTED (sizeof(expected) / sizeof(expected[0]))

static void types_complete(void)
{
	unsigned int i;

	CHECK(nr_platform_devices > 0);
	for (i = 0; i < nr_platform_devices; i++) {
		const struct device_type *t = platform_devices[i];

		CHECK(t != NULL);
		if (!t)
			continue;
		CHECK(t->name && t->name[0]);
		CHECK(t->realize != NULL);
		CHECK(t->unrealize != NULL);
		CHECK(t->state_size > 0);
	}
}

static void names_unique(void)
{
	unsigned int i, j;

	for (i = 0; i < nr_platform_devices; i++)
		for (j = i + 1; j < nr_platform_devices; j++)
			if (!strcmp(platform_devices[i]->name,
				    platform_devices[j]->name))
				test_fail(__FILE__, __LINE__,
					  "device name \"%s\" appears twice",
					  platform_devices[i]->name);
}

static void every_device_registered(void)
{
	unsigned int i, j;

	for (i = 0; i < NR_EXPECTED; i++) {
		bool found = false;

		for (j = 0; j < nr_platform_devices; j++)
			if (platform_devices[j] == expected[i])
				found = true;
		if (!found)
			test_fail(__FILE__, __LINE__,
				  "%s is not in platform_devices[]",
				  expected[i]->name);
	}
	CHECK_EQ(nr_platform_devices, NR_EXPECTED);
}

/* All devices on one pair of buses: no overlaps, and unrealize is clean. */
static void realize_all(void)
{
	struct fake_vm f;
	void *states[32] = { 0 };
	unsigned int i, n = nr_platform_devices < 32 ? nr_platform_devices : 32;
	void *again;
	uint64_t v;

	fake_vm_init(&f);
	f.cfg.memory = 1ull << 30;
	f.cfg.debug_exit = true;
	for (i = 0; i < n; i++) {
		int rc;

		states[i] = calloc(1, platform_devices[i]->state_size);
		rc = platform_devices[i]->realize(states[i], &f.host);
		if (rc)
			test_fail(__FILE__, __LINE__, "%s: realize: %d",
				  platform_devices[i]->name, rc);
	}
	CHECK(bus_read(&f.pio, PORT_COM1 + 5, 1, &v));
	CHECK(bus_read(&f.pio, PORT_I8042_CMD, 1, &v));
	CHECK(bus_read(&f.pio, PORT_RTC + 1, 1, &v));
	CHECK(bus_read(&f.pio, PORT_PM_TMR, 4, &v));
	CHECK(bus_read(&f.pio, PORT_RESET, 1, &v));
	CHECK(bus_read(&f.pio, PORT_DEBUG_EXIT, 1, &v));
	CHECK(bus_read(&f.mmio, LAYOUT_TESTDEV_MMIO, 4, &v));
	/* A second instance of a device collides and says so... */
	again = calloc(1, uart16550_type.state_size);
	CHECK_EQ(uart16550_type.realize(again, &f.host), -EEXIST);
	uart16550_type.unrealize(again);
	/* ...without stealing the console from the first. */
	CHECK(f.console.chr.fe_opaque != NULL &&
	      f.console.chr.fe_opaque != again);
	free(again);
	for (i = n; i-- > 0;) {
		platform_devices[i]->unrealize(states[i]);
		free(states[i]);
	}
	fake_vm_fini(&f);
}

static void debug_exit_new(struct fake_vm *f, bool enabled)
{
	fake_vm_init(f);
	f->cfg.memory = 1ull << 30;
	f->cfg.debug_exit = enabled;
	fake_vm_realize(f, &debug_exit_type);
}

static void debug_exit_code(void)
{
	struct fake_vm f;
	uint64_t v;

	debug_exit_new(&f, true);
	CHECK(bus_write(&f.pio, PORT_DEBUG_EXIT, 1, 0x2a));
	CHECK_EQ(f.ctl.nr, 1);
	CHECK_EQ(f.ctl.last_req, VM_REQ_DEBUG_EXIT);
	CHECK_EQ(f.ctl.last_code, 0x2a);
	CHECK(bus_write(&f.pio, PORT_DEBUG_EXIT, 4, 0x12345601));
	CHECK_EQ(f.ctl.last_code, 0x01);
	CHECK(bus_write(&f.pio, PORT_DEBUG_EXIT + 2, 2, 0xffff));
	CHECK_EQ(f.ctl.last_code, 0xff);
	CHECK(bus_write(&f.pio, PORT_DEBUG_EXIT + 3, 1, 0));
	CHECK_EQ(f.ctl.last_code, 0);
	CHECK_EQ(f.ctl.nr, 4);
	CHECK(bus_read(&f.pio, PORT_DEBUG_EXIT, 4, &v));
	CHECK_EQ(v, 0);
	CHECK(!bus_write(&f.pio, PORT_DEBUG_EXIT + 2, 4, 0));
	CHECK_EQ(f.ctl.nr, 4);
	fake_vm_fini(&f);
}

static void debug_exit_scratch_widths(void)
{
	struct fake_vm f;
	const uint64_t base = LAYOUT_TESTDEV_MMIO;
	uint64_t v;
	unsigned int w;

	debug_exit_new(&f, true);
	/* Starts zeroed. */
	CHECK(bus_read(&f.mmio, base, 8, &v));
	CHECK_EQ(v, 0);
	/* Each width stores exactly its bytes. */
	for (w = 1; w <= 8; w *= 2) {
		uint64_t off = 0x100 + w * 0x10;
		uint64_t pattern = 0x8877665544332211ull;
		uint64_t mask = w == 8 ? ~0ull : (1ull << (8 * w)) - 1;

		CHECK(bus_write(&f.mmio, base + off, 8, ~0ull));
		CHECK(bus_write(&f.mmio, base + off, w, pattern));
		CHECK(bus_read(&f.mmio, base + off, w, &v));
		CHECK_EQ(v, pattern & mask);
		CHECK(bus_read(&f.mmio, base + off, 8, &v));
		CHECK_EQ(v, (pattern & mask) | (~0ull & ~mask));
	}
	/* Narrow reads of a wide write, little endian. */
	CHECK(bus_write(&f.mmio, base + 0x20, 8, 0x1122334455667788ull));
	CHECK(bus_read(&f.mmio, base + 0x20, 1, &v));
	CHECK_EQ(v, 0x88);
	CHECK(bus_read(&f.mmio, base + 0x22, 2, &v));
	CHECK_EQ(v, 0x5566);
	CHECK(bus_read(&f.mmio, base + 0x24, 4, &v));
	CHECK_EQ(v, 0x11223344);
	/* Unaligned. */
	CHECK(bus_write(&f.mmio, base + 0x21, 4, 0xaabbccdd));
	CHECK(bus_read(&f.mmio, base + 0x20, 8, &v));
	CHECK_EQ(v, 0x112233aabbccdd88ull);
	/* The last bytes, and one past them. */
	CHECK(bus_write(&f.mmio, base + LAYOUT_TESTDEV_MMIO_SIZE - 8, 8, 42));
	CHECK(bus_read(&f.mmio, base + LAYOUT_TESTDEV_MMIO_SIZE - 8, 8, &v));
	CHECK_EQ(v, 42);
	CHECK(!bus_write(&f.mmio, base + LAYOUT_TESTDEV_MMIO_SIZE - 4, 8, 0));
	CHECK(!bus_read(&f.mmio, base + LAYOUT_TESTDEV_MMIO_SIZE, 1, &v));
	CHECK_EQ(f.ctl.nr, 0);
	fake_vm_fini(&f);
}

static void debug_exit_absent(void)
{
	struct fake_vm f;
	uint64_t v;

	debug_exit_new(&f, false);
	CHECK(!bus_write(&f.pio, PORT_DEBUG_EXIT, 1, 1));
	CHECK(!bus_read(&f.mmio, LAYOUT_TESTDEV_MMIO, 4, &v));
	CHECK_EQ(f.ctl.nr, 0);
	fake_vm_fini(&f);
}

TEST_SUITE(registry, TEST_CASE(types_complete), TEST_CASE(names_unique),
	   TEST_CASE(every_device_registered), TEST_CASE(realize_all),
	   TEST_CASE(debug_exit_code), TEST_CASE(debug_exit_scratch_widths),
	   TEST_CASE(debug_exit_absent));
