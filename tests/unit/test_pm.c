// SPDX-License-Identifier: MIT
/*
 * ACPI fixed hardware (PM1a event/control, PM timer, SCI) and the 0xcf9
 * reset register, through the port-I/O bus.
 */
#include "unit/test.h"

#include <stdatomic.h>

#include "arch/x86_64/layout.h"
#include "bus/bus.h"
#include "devices/pm.h"
#include "devices/reset.h"
#include "unit/fake.h"
#include "util/log.h"

#define PM1_STS (PORT_PM1A_EVT + 0)
#define PM1_EN (PORT_PM1A_EVT + 2)
#define PM1_CNT PORT_PM1A_CNT
#define PM_TMR PORT_PM_TMR

#define PWRBTN 0x0100
#define SLP_EN 0x2000
#define NS 1000000000ull

static uint64_t fake_clock(void *opaque)
{
	struct fake_vm *f = opaque;

	return (uint64_t)atomic_load(&f->now);
}

static void control_register(void)
{
	struct fake_vm *f = fake_vm_new(&pm_type);

	CHECK_EQ(fake_in(f, PM1_CNT, 2), 0x0001); /* SCI_EN: always ACPI mode */
	fake_out(f, PM1_CNT, 2, 0x0000);
	CHECK_EQ(fake_in(f, PM1_CNT, 2), 0x0001);
	fake_out(f, PM1_CNT, 2, 3 << 10 | 0x0002); /* SLP_TYP 3, BM_RLD */
	CHECK_EQ(fake_in(f, PM1_CNT, 2), 3 << 10 | 0x0003);
	CHECK_EQ(f->ctl.nr, 0);
	fake_vm_free(f);
}

static void s5_poweroff(void)
{
	struct fake_vm *f = fake_vm_new(&pm_type);
	enum log_level saved = log_threshold;

	fake_out(f, PM1_CNT, 2, PM_SLP_TYP_S5 << 10 | SLP_EN | 0x0001);
	CHECK_EQ(f->ctl.nr, 1);
	CHECK_EQ(f->ctl.req[0], VM_REQ_POWEROFF);
	CHECK_EQ(fake_in(f, PM1_CNT, 2) & SLP_EN, 0); /* write-only */

	/* The same as two byte writes, low byte first. */
	fake_out(f, PM1_CNT, 1, 0x01);
	fake_out(f, PM1_CNT + 1, 1, (PM_SLP_TYP_S5 << 10 | SLP_EN) >> 8);
	CHECK_EQ(f->ctl.nr, 2);
	CHECK_EQ(f->ctl.req[1], VM_REQ_POWEROFF);

	/* SLP_TYP set first, SLP_EN later (ACPICA does this). */
	fake_out(f, PM1_CNT, 2, PM_SLP_TYP_S5 << 10);
	CHECK_EQ(f->ctl.nr, 2);
	fake_out(f, PM1_CNT, 2, PM_SLP_TYP_S5 << 10 | SLP_EN);
	CHECK_EQ(f->ctl.nr, 3);

	/* Other sleep types are ignored. */
	log_threshold = LOG_ERROR;
	fake_out(f, PM1_CNT, 2, 3 << 10 | SLP_EN);
	fake_out(f, PM1_CNT, 2, 0 << 10 | SLP_EN);
	fake_out(f, PM1_CNT, 2, 7 << 10 | SLP_EN);
	log_threshold = saved;
	CHECK_EQ(f->ctl.nr, 3);
	fake_vm_free(f);
}

static void power_button_sci(void)
{
	struct fake_vm *f = fake_vm_new(&pm_type);

	CHECK(!fake_irq_level(f, IRQ_SCI));
	/* Not enabled: status only. */
	pm_power_button(f->state);
	CHECK_EQ(fake_in(f, PM1_STS, 2) & PWRBTN, PWRBTN);
	CHECK(!fake_irq_level(f, IRQ_SCI));
	/* Enabling with the status set raises the SCI. */
	fake_out(f, PM1_EN, 2, PWRBTN);
	CHECK_EQ(fake_in(f, PM1_EN, 2), PWRBTN);
	CHECK(fake_irq_level(f, IRQ_SCI));
	/* Write 1 to clear; writing 0 leaves it. */
	fake_out(f, PM1_STS, 2, 0x0000);
	CHECK(fake_irq_level(f, IRQ_SCI));
	fake_out(f, PM1_STS, 2, PWRBTN);
	CHECK(!fake_irq_level(f, IRQ_SCI));
	CHECK_EQ(fake_in(f, PM1_STS, 2) & PWRBTN, 0);
	/* Enabled: the button raises the SCI at once. */
	pm_power_button(f->state);
	CHECK(fake_irq_level(f, IRQ_SCI));
	/* Clearing via a 1-byte write to the high half. */
	fake_out(f, PM1_STS + 1, 1, PWRBTN >> 8);
	CHECK(!fake_irq_level(f, IRQ_SCI));
	/* Disabling drops the SCI even with the status set. */
	pm_power_button(f->state);
	CHECK(fake_irq_level(f, IRQ_SCI));
	fake_out(f, PM1_EN, 2, 0);
	CHECK(!fake_irq_level(f, IRQ_SCI));
	/* Undefined enable bits do not stick. */
	fake_out(f, PM1_EN, 2, 0xffff);
	CHECK_EQ(fake_in(f, PM1_EN, 2), 0x4721);
	fake_vm_free(f);
}

static void timer(void)
{
	struct fake_vm *f = fake_vm_new(&pm_type);
	uint64_t v;

	pm_set_clock(f->state, fake_clock, f);
	CHECK_EQ(fake_in(f, PM_TMR, 4), 0);
	atomic_store(&f->now, NS);
	CHECK_EQ(fake_in(f, PM_TMR, 4), PM_TIMER_HZ);
	atomic_store(&f->now, NS / 2);
	CHECK_EQ(fake_in(f, PM_TMR, 4), PM_TIMER_HZ / 2);
	/* 24-bit wrap: 2^24 ticks is about 4.687 s. */
	atomic_store(&f->now, 4686900000ull); /* 16776969 ticks */
	v = fake_in(f, PM_TMR, 4);
	CHECK_EQ(v, 16776969);
	atomic_store(&f->now, 4688000000ull); /* 16780906 ticks */
	v = fake_in(f, PM_TMR, 4);
	CHECK_EQ(v, 16780906 - (1u << 24));
	CHECK(v < 0x1000000);
	/* Bytes of the counter, and an 8-byte read spanning CNT to TMR. */
	CHECK_EQ(fake_in(f, PM_TMR, 1), v & 0xff);
	CHECK_EQ(fake_in(f, PM_TMR + 1, 1), (v >> 8) & 0xff);
	CHECK_EQ(fake_in(f, PM_TMR + 2, 2), v >> 16);
	CHECK_EQ(fake_in(f, PM_TMR + 3, 1), 0);
	CHECK_EQ(fake_in(f, PM1_CNT, 8), v << 32 | 0x0001);
	/* Read-only. */
	fake_out(f, PM_TMR, 4, 0x12345678);
	CHECK_EQ(fake_in(f, PM_TMR, 4), v);
	/* Very long uptimes do not overflow: 200 days. */
	atomic_store(&f->now, 200ull * 86400 * NS);
	CHECK_EQ(fake_in(f, PM_TMR, 4),
		 (200ull * 86400 * PM_TIMER_HZ) & 0xffffff);
	fake_vm_free(f);
}

static void timer_monotonic(void)
{
	struct fake_vm *f = fake_vm_new(&pm_type);
	uint32_t prev = (uint32_t)fake_in(f, PM_TMR, 4), wraps = 0;
	unsigned int i;

	for (i = 0; i < 100000; i++) {
		uint32_t v = (uint32_t)fake_in(f, PM_TMR, 4);

		CHECK(v < 0x1000000);
		if (v < prev)
			wraps++;
		prev = v;
	}
	CHECK(wraps <= 1);
	fake_vm_free(f);
}

static void timer_status(void)
{
	struct fake_vm *f = fake_vm_new(&pm_type);

	pm_set_clock(f->state, fake_clock, f);
	fake_out(f, PM1_STS, 2, 0xffff);
	CHECK_EQ(fake_in(f, PM1_STS, 2), 0);
	atomic_store(&f->now, 2 * NS); /* below bit 23: 7159090 ticks */
	CHECK_EQ(fake_in(f, PM1_STS, 2) & 1, 0);
	atomic_store(&f->now, 3 * NS); /* 10738635: bit 23 set */
	CHECK_EQ(fake_in(f, PM1_STS, 2) & 1, 1);
	CHECK(!fake_irq_level(f, IRQ_SCI));
	fake_out(f, PM1_EN, 2, 0x0001); /* TMR_EN */
	CHECK(fake_irq_level(f, IRQ_SCI));
	fake_out(f, PM1_STS, 2, 0x0001);
	CHECK(!fake_irq_level(f, IRQ_SCI));
	fake_vm_free(f);
}

static void odd_widths(void)
{
	struct fake_vm *f = fake_vm_new(&pm_type);
	unsigned int off, size;
	uint64_t v;

	pm_set_clock(f->state, fake_clock, f); /* no TMR_STS surprises */
	pm_power_button(f->state);
	fake_out(f, PM1_EN, 2, 0x0120);
	/* A 2-byte read of PM1_STS and 1-byte reads of each half agree. */
	v = fake_in(f, PM1_STS, 2);
	CHECK_EQ(v, PWRBTN);
	CHECK_EQ(fake_in(f, PM1_STS, 1), v & 0xff);
	CHECK_EQ(fake_in(f, PM1_STS + 1, 1), v >> 8);
	/* A 4-byte read at +0: status and enable. */
	CHECK_EQ(fake_in(f, PM1_STS, 4), 0x0120ull << 16 | PWRBTN);
	/* A 4-byte write at +0 clears status and sets enable. */
	fake_out(f, PM1_STS, 4, 0x00000100);
	CHECK_EQ(fake_in(f, PM1_STS, 4), 0);
	/* Reserved bytes +6/+7 read 0 and ignore writes. */
	fake_out(f, PORT_PM_BASE + 6, 2, 0xffff);
	CHECK_EQ(fake_in(f, PORT_PM_BASE + 6, 2), 0);
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
	CHECK_EQ(f->ctl.nr, 0); /* 0xc3 has SLP_EN clear */
	fake_vm_free(f);
}

static void reset_register(void)
{
	struct fake_vm *f = fake_vm_new(&reset_type);
	uint64_t v;

	CHECK_EQ(fake_in(f, PORT_RESET, 1), 0);
	fake_out(f, PORT_RESET, 1, 0x02); /* Linux reboot=pci: SYS_RST first */
	CHECK_EQ(f->ctl.nr, 0);
	CHECK_EQ(fake_in(f, PORT_RESET, 1), 0x02);
	fake_out(f, PORT_RESET, 1, 0x06); /* then RST_CPU: go */
	CHECK_EQ(f->ctl.nr, 1);
	CHECK_EQ(f->ctl.req[0], VM_REQ_RESET);
	CHECK_EQ(fake_in(f, PORT_RESET, 1), 0x02);
	fake_out(f, PORT_RESET, 1, 0xfb); /* everything but RST_CPU */
	CHECK_EQ(f->ctl.nr, 1);
	CHECK_EQ(fake_in(f, PORT_RESET, 1), 0x0a);
	fake_out(f, PORT_RESET, 1, 0x04);
	CHECK_EQ(f->ctl.nr, 2);
	CHECK_EQ(fake_in(f, PORT_RESET, 1), 0x00);
	/* Wider accesses at 0xcf8-0xcfb are not this device's. */
	CHECK(!bus_read(&f->pio, 0xcf8, 4, &v));
	CHECK(!bus_write(&f->pio, PORT_RESET, 2, 0x0606));
	CHECK_EQ(f->ctl.nr, 2);
	fake_vm_free(f);
}

TEST_SUITE(pm, TEST_CASE(control_register), TEST_CASE(s5_poweroff),
	   TEST_CASE(power_button_sci), TEST_CASE(timer),
	   TEST_CASE(timer_monotonic), TEST_CASE(timer_status),
	   TEST_CASE(odd_widths), TEST_CASE(reset_register));
