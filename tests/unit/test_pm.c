// SPDX-License-Identifier: MIT
/*
 * ACPI fixed hardware (PM1a event/control, PM timer, SCI) and the 0xcf9
 * reset register, through the port-I/O bus.
 */
#include "unit/test.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "arch/x86_64/layout.h"
#include "bus/bus.h"
#include "config/config.h"
#include "devices/pm.h"
#include "devices/reset.h"
#include "util/log.h"

#define PM1_STS (PORT_PM1A_EVT + 0)
#define PM1_EN (PORT_PM1A_EVT + 2)
#define PM1_CNT PORT_PM1A_CNT
#define PM_TMR PORT_PM_TMR

#define PWRBTN 0x0100
#define SLP_EN 0x2000
#define NS 1000000000ull

struct fake {
	struct bus pio, mmio;
	struct vm_config cfg;
	struct device_host host;
	bool level[32];
	unsigned int nr_req;
	enum vm_request req[8];
	_Atomic uint64_t now;
	void *state;
	const struct device_type *type;
};

static void fake_irq(void *opaque, unsigned int gsi, bool level)
{
	struct fake *f = opaque;

	if (gsi < 32)
		f->level[gsi] = level;
}

static void fake_request(void *opaque, enum vm_request req, int code)
{
	struct fake *f = opaque;

	(void)code;
	if (f->nr_req < 8)
		f->req[f->nr_req] = req;
	f->nr_req++;
}

static uint64_t fake_clock(void *opaque)
{
	struct fake *f = opaque;

	return atomic_load(&f->now);
}

static struct fake *fake_new(const struct device_type *type)
{
	struct fake *f = calloc(1, sizeof(*f));

	bus_init(&f->pio, "pio");
	bus_init(&f->mmio, "mmio");
	f->cfg.memory = 256ull << 20;
	f->cfg.cmdline = "";
	f->host = (struct device_host){
		.pio = &f->pio,
		.mmio = &f->mmio,
		.cfg = &f->cfg,
		.ctl = { .request = fake_request, .opaque = f },
		.irq_set_level = fake_irq,
		.irq_opaque = f,
	};
	f->type = type;
	f->state = calloc(1, type->state_size);
	if (type->realize(f->state, &f->host))
		test_fail(__FILE__, __LINE__, "%s realize failed", type->name);
	return f;
}

static void fake_free(struct fake *f)
{
	f->type->unrealize(f->state);
	free(f->state);
	bus_destroy(&f->pio);
	bus_destroy(&f->mmio);
	free(f);
}

static uint64_t in(struct fake *f, uint16_t port, unsigned int size)
{
	uint64_t v = 0;

	if (!bus_read(&f->pio, port, size, &v))
		test_fail(__FILE__, __LINE__, "no device at port 0x%x", port);
	return v;
}

static void out(struct fake *f, uint16_t port, unsigned int size, uint64_t v)
{
	if (!bus_write(&f->pio, port, size, v))
		test_fail(__FILE__, __LINE__, "no device at port 0x%x", port);
}

static void control_register(void)
{
	struct fake *f = fake_new(&pm_type);

	CHECK_EQ(in(f, PM1_CNT, 2), 0x0001); /* SCI_EN: always ACPI mode */
	out(f, PM1_CNT, 2, 0x0000);
	CHECK_EQ(in(f, PM1_CNT, 2), 0x0001);
	out(f, PM1_CNT, 2, 3 << 10 | 0x0002); /* SLP_TYP 3, BM_RLD */
	CHECK_EQ(in(f, PM1_CNT, 2), 3 << 10 | 0x0003);
	CHECK_EQ(f->nr_req, 0);
	fake_free(f);
}

static void s5_poweroff(void)
{
	struct fake *f = fake_new(&pm_type);
	enum log_level saved = log_threshold;

	out(f, PM1_CNT, 2, PM_SLP_TYP_S5 << 10 | SLP_EN | 0x0001);
	CHECK_EQ(f->nr_req, 1);
	CHECK_EQ(f->req[0], VM_REQ_POWEROFF);
	CHECK_EQ(in(f, PM1_CNT, 2) & SLP_EN, 0); /* write-only */

	/* The same as two byte writes, low byte first. */
	out(f, PM1_CNT, 1, 0x01);
	out(f, PM1_CNT + 1, 1, (PM_SLP_TYP_S5 << 10 | SLP_EN) >> 8);
	CHECK_EQ(f->nr_req, 2);
	CHECK_EQ(f->req[1], VM_REQ_POWEROFF);

	/* SLP_TYP set first, SLP_EN later (ACPICA does this). */
	out(f, PM1_CNT, 2, PM_SLP_TYP_S5 << 10);
	CHECK_EQ(f->nr_req, 2);
	out(f, PM1_CNT, 2, PM_SLP_TYP_S5 << 10 | SLP_EN);
	CHECK_EQ(f->nr_req, 3);

	/* Other sleep types are ignored. */
	log_threshold = LOG_ERROR;
	out(f, PM1_CNT, 2, 3 << 10 | SLP_EN);
	out(f, PM1_CNT, 2, 0 << 10 | SLP_EN);
	out(f, PM1_CNT, 2, 7 << 10 | SLP_EN);
	log_threshold = saved;
	CHECK_EQ(f->nr_req, 3);
	fake_free(f);
}

static void power_button_sci(void)
{
	struct fake *f = fake_new(&pm_type);

	CHECK(!f->level[IRQ_SCI]);
	/* Not enabled: status only. */
	pm_power_button(f->state);
	CHECK_EQ(in(f, PM1_STS, 2) & PWRBTN, PWRBTN);
	CHECK(!f->level[IRQ_SCI]);
	/* Enabling with the status set raises the SCI. */
	out(f, PM1_EN, 2, PWRBTN);
	CHECK_EQ(in(f, PM1_EN, 2), PWRBTN);
	CHECK(f->level[IRQ_SCI]);
	/* Write 1 to clear; writing 0 leaves it. */
	out(f, PM1_STS, 2, 0x0000);
	CHECK(f->level[IRQ_SCI]);
	out(f, PM1_STS, 2, PWRBTN);
	CHECK(!f->level[IRQ_SCI]);
	CHECK_EQ(in(f, PM1_STS, 2) & PWRBTN, 0);
	/* Enabled: the button raises the SCI at once. */
	pm_power_button(f->state);
	CHECK(f->level[IRQ_SCI]);
	/* Clearing via a 1-byte write to the high half. */
	out(f, PM1_STS + 1, 1, PWRBTN >> 8);
	CHECK(!f->level[IRQ_SCI]);
	/* Disabling drops the SCI even with the status set. */
	pm_power_button(f->state);
	CHECK(f->level[IRQ_SCI]);
	out(f, PM1_EN, 2, 0);
	CHECK(!f->level[IRQ_SCI]);
	/* Undefined enable bits do not stick. */
	out(f, PM1_EN, 2, 0xffff);
	CHECK_EQ(in(f, PM1_EN, 2), 0x4721);
	fake_free(f);
}

static void timer(void)
{
	struct fake *f = fake_new(&pm_type);
	uint64_t v;

	pm_set_clock(f->state, fake_clock, f);
	CHECK_EQ(in(f, PM_TMR, 4), 0);
	atomic_store(&f->now, NS);
	CHECK_EQ(in(f, PM_TMR, 4), PM_TIMER_HZ);
	atomic_store(&f->now, NS / 2);
	CHECK_EQ(in(f, PM_TMR, 4), PM_TIMER_HZ / 2);
	/* 24-bit wrap: 2^24 ticks is about 4.687 s. */
	atomic_store(&f->now, 4686900000ull); /* 16776969 ticks */
	v = in(f, PM_TMR, 4);
	CHECK_EQ(v, 16776969);
	atomic_store(&f->now, 4688000000ull); /* 16780906 ticks */
	v = in(f, PM_TMR, 4);
	CHECK_EQ(v, 16780906 - (1u << 24));
	CHECK(v < 0x1000000);
	/* Bytes of the counter, and an 8-byte read spanning CNT to TMR. */
	CHECK_EQ(in(f, PM_TMR, 1), v & 0xff);
	CHECK_EQ(in(f, PM_TMR + 1, 1), (v >> 8) & 0xff);
	CHECK_EQ(in(f, PM_TMR + 2, 2), v >> 16);
	CHECK_EQ(in(f, PM_TMR + 3, 1), 0);
	CHECK_EQ(in(f, PM1_CNT, 8), v << 32 | 0x0001);
	/* Read-only. */
	out(f, PM_TMR, 4, 0x12345678);
	CHECK_EQ(in(f, PM_TMR, 4), v);
	/* Very long uptimes do not overflow: 200 days. */
	atomic_store(&f->now, 200ull * 86400 * NS);
	CHECK_EQ(in(f, PM_TMR, 4), (200ull * 86400 * PM_TIMER_HZ) & 0xffffff);
	fake_free(f);
}

static void timer_monotonic(void)
{
	struct fake *f = fake_new(&pm_type);
	uint32_t prev = (uint32_t)in(f, PM_TMR, 4), wraps = 0;
	unsigned int i;

	for (i = 0; i < 100000; i++) {
		uint32_t v = (uint32_t)in(f, PM_TMR, 4);

		CHECK(v < 0x1000000);
		if (v < prev)
			wraps++;
		prev = v;
	}
	CHECK(wraps <= 1);
	fake_free(f);
}

static void timer_status(void)
{
	struct fake *f = fake_new(&pm_type);

	pm_set_clock(f->state, fake_clock, f);
	out(f, PM1_STS, 2, 0xffff);
	CHECK_EQ(in(f, PM1_STS, 2), 0);
	atomic_store(&f->now, 2 * NS); /* below bit 23: 7159090 ticks */
	CHECK_EQ(in(f, PM1_STS, 2) & 1, 0);
	atomic_store(&f->now, 3 * NS); /* 10738635: bit 23 set */
	CHECK_EQ(in(f, PM1_STS, 2) & 1, 1);
	CHECK(!f->level[IRQ_SCI]);
	out(f, PM1_EN, 2, 0x0001); /* TMR_EN */
	CHECK(f->level[IRQ_SCI]);
	out(f, PM1_STS, 2, 0x0001);
	CHECK(!f->level[IRQ_SCI]);
	fake_free(f);
}

static void odd_widths(void)
{
	struct fake *f = fake_new(&pm_type);
	unsigned int off, size;
	uint64_t v;

	pm_set_clock(f->state, fake_clock, f); /* no TMR_STS surprises */
	pm_power_button(f->state);
	out(f, PM1_EN, 2, 0x0120);
	/* A 2-byte read of PM1_STS and 1-byte reads of each half agree. */
	v = in(f, PM1_STS, 2);
	CHECK_EQ(v, PWRBTN);
	CHECK_EQ(in(f, PM1_STS, 1), v & 0xff);
	CHECK_EQ(in(f, PM1_STS + 1, 1), v >> 8);
	/* A 4-byte read at +0: status and enable. */
	CHECK_EQ(in(f, PM1_STS, 4), 0x0120ull << 16 | PWRBTN);
	/* A 4-byte write at +0 clears status and sets enable. */
	out(f, PM1_STS, 4, 0x00000100);
	CHECK_EQ(in(f, PM1_STS, 4), 0);
	/* Reserved bytes +6/+7 read 0 and ignore writes. */
	out(f, PORT_PM_BASE + 6, 2, 0xffff);
	CHECK_EQ(in(f, PORT_PM_BASE + 6, 2), 0);
	/* Every offset and width that fits: no crash, no request. */
	for (off = 0; off < PORT_PM_LEN; off++)
		for (size = 1; size <= 8; size *= 2) {
			if (off + size > PORT_PM_LEN) {
				CHECK(!bus_read(&f->pio, PORT_PM_BASE + off,
						size, &v));
				continue;
			}
			bus_read(&f->pio, PORT_PM_BASE + off, size, &v);
			bus_write(&f->pio, PORT_PM_BASE + off, size,
				  0xc3c3c3c3c3c3c3c3ull);
		}
	CHECK_EQ(f->nr_req, 0); /* 0xc3 has SLP_EN clear */
	fake_free(f);
}

static void reset_register(void)
{
	struct fake *f = fake_new(&reset_type);
	uint64_t v;

	CHECK_EQ(in(f, PORT_RESET, 1), 0);
	out(f, PORT_RESET, 1, 0x02); /* Linux reboot=pci: SYS_RST first */
	CHECK_EQ(f->nr_req, 0);
	CHECK_EQ(in(f, PORT_RESET, 1), 0x02);
	out(f, PORT_RESET, 1, 0x06); /* then RST_CPU: go */
	CHECK_EQ(f->nr_req, 1);
	CHECK_EQ(f->req[0], VM_REQ_RESET);
	CHECK_EQ(in(f, PORT_RESET, 1), 0x02);
	out(f, PORT_RESET, 1, 0xfb); /* everything but RST_CPU */
	CHECK_EQ(f->nr_req, 1);
	CHECK_EQ(in(f, PORT_RESET, 1), 0x0a);
	out(f, PORT_RESET, 1, 0x04);
	CHECK_EQ(f->nr_req, 2);
	CHECK_EQ(in(f, PORT_RESET, 1), 0x00);
	/* Wider accesses at 0xcf8-0xcfb are not this device's. */
	CHECK(!bus_read(&f->pio, 0xcf8, 4, &v));
	CHECK(!bus_write(&f->pio, PORT_RESET, 2, 0x0606));
	CHECK_EQ(f->nr_req, 2);
	fake_free(f);
}

TEST_SUITE(pm, TEST_CASE(control_register), TEST_CASE(s5_poweroff),
	   TEST_CASE(power_button_sci), TEST_CASE(timer),
	   TEST_CASE(timer_monotonic), TEST_CASE(timer_status),
	   TEST_CASE(odd_widths), TEST_CASE(reset_register));
