// SPDX-License-Identifier: MIT
/*
 * The MC146818 RTC through the port-I/O bus. Most tests inject the time
 * with rtc_set_clock(); one uses the real clock to see the timer thread
 * raise IRQ 8 on its own.
 */
#include "unit/test.h"

#include <stdatomic.h>
#include <time.h>

#include "arch/x86_64/layout.h"
#include "bus/bus.h"
#include "devices/rtc.h"
#include "unit/fake.h"
#include "util/log.h"

#define INDEX PORT_RTC
#define DATA (PORT_RTC + 1)
#define NS 1000000000ll

static int64_t fake_clock(void *opaque)
{
	struct fake_vm *f = opaque;

	return atomic_load(&f->now);
}

/* 2024-02-29 13:45:56 UTC, a Thursday, plus ns. */
static int64_t leap_day(int64_t ns)
{
	struct tm tm = {
		.tm_year = 124,
		.tm_mon = 1,
		.tm_mday = 29,
		.tm_hour = 13,
		.tm_min = 45,
		.tm_sec = 56,
	};

	return (int64_t)timegm(&tm) * NS + ns;
}

static struct fake_vm *fake_new_mem(uint64_t memory)
{
	struct fake_vm *f = fake_vm_new(NULL);

	f->cfg.memory = memory;
	fake_vm_realize(f, &rtc_type);
	atomic_store(&f->now, leap_day(0));
	rtc_set_clock(f->state, fake_clock, f);
	return f;
}

static struct fake_vm *fake_new(void)
{
	return fake_new_mem(FAKE_MEMORY);
}

static void advance(struct fake_vm *f, int64_t ns)
{
	atomic_fetch_add(&f->now, ns);
}

static uint8_t cmos(struct fake_vm *f, uint8_t idx)
{
	uint64_t v = 0;

	bus_write(&f->pio, INDEX, 1, idx);
	if (!bus_read(&f->pio, DATA, 1, &v))
		test_fail(__FILE__, __LINE__, "no RTC data port");
	return (uint8_t)v;
}

static void cmos_set(struct fake_vm *f, uint8_t idx, uint8_t v)
{
	bus_write(&f->pio, INDEX, 1, idx);
	if (!bus_write(&f->pio, DATA, 1, v))
		test_fail(__FILE__, __LINE__, "no RTC data port");
}

static void bcd_read(void)
{
	struct fake_vm *f = fake_new();

	CHECK_EQ(cmos(f, 0x0b), 0x02); /* 24 h, BCD */
	CHECK_EQ(cmos(f, 0x00), 0x56);
	CHECK_EQ(cmos(f, 0x02), 0x45);
	CHECK_EQ(cmos(f, 0x04), 0x13);
	CHECK_EQ(cmos(f, 0x06), 0x05); /* Thursday; Sunday is 1 */
	CHECK_EQ(cmos(f, 0x07), 0x29);
	CHECK_EQ(cmos(f, 0x08), 0x02);
	CHECK_EQ(cmos(f, 0x09), 0x24);
	CHECK_EQ(cmos(f, RTC_REG_CENTURY), 0x20);
	advance(f, 4 * NS);
	CHECK_EQ(cmos(f, 0x00), 0x00);
	CHECK_EQ(cmos(f, 0x02), 0x46);
	fake_vm_free(f);
}

static void binary_and_12h(void)
{
	struct fake_vm *f = fake_new();

	cmos_set(f, 0x0b, 0x06); /* binary, 24 h */
	CHECK_EQ(cmos(f, 0x00), 56);
	CHECK_EQ(cmos(f, 0x02), 45);
	CHECK_EQ(cmos(f, 0x04), 13);
	CHECK_EQ(cmos(f, 0x07), 29);
	CHECK_EQ(cmos(f, 0x09), 24);
	CHECK_EQ(cmos(f, RTC_REG_CENTURY), 20);
	cmos_set(f, 0x0b, 0x04); /* binary, 12 h */
	CHECK_EQ(cmos(f, 0x04), 0x81); /* 1 PM */
	cmos_set(f, 0x0b, 0x00); /* BCD, 12 h */
	CHECK_EQ(cmos(f, 0x04), 0x81);
	/* Midnight is 12 AM, noon 12 PM, 11 PM is 0x91 in BCD. */
	advance(f, (10 * 3600 + 14 * 60 + 4) * NS); /* 00:00:00 */
	CHECK_EQ(cmos(f, 0x04), 0x12);
	CHECK_EQ(cmos(f, 0x07), 0x01); /* March 1st */
	CHECK_EQ(cmos(f, 0x08), 0x03);
	advance(f, 12 * 3600 * NS);
	CHECK_EQ(cmos(f, 0x04), 0x92);
	advance(f, 11 * 3600 * NS);
	CHECK_EQ(cmos(f, 0x04), 0x91);
	fake_vm_free(f);
}

static void set_time(void)
{
	struct fake_vm *f = fake_new();

	cmos_set(f, 0x0b, 0x82); /* SET */
	cmos_set(f, 0x00, 0x58);
	cmos_set(f, 0x02, 0x59);
	cmos_set(f, 0x04, 0x23);
	cmos_set(f, 0x07, 0x31);
	cmos_set(f, 0x08, 0x12);
	cmos_set(f, 0x09, 0x30);
	/* Held while SET is: reads return what was written. */
	advance(f, 5 * NS);
	CHECK_EQ(cmos(f, 0x00), 0x58);
	CHECK_EQ(cmos(f, RTC_REG_CENTURY), 0x20); /* latched, not written */
	CHECK_EQ(cmos(f, 0x0a) & 0x80, 0); /* SET clears UIP */
	cmos_set(f, 0x0b, 0x02);
	CHECK_EQ(cmos(f, 0x00), 0x58);
	CHECK_EQ(cmos(f, 0x04), 0x23);
	CHECK_EQ(cmos(f, 0x08), 0x12);
	advance(f, 3 * NS);
	CHECK_EQ(cmos(f, 0x00), 0x01);
	CHECK_EQ(cmos(f, 0x02), 0x00);
	CHECK_EQ(cmos(f, 0x04), 0x00);
	CHECK_EQ(cmos(f, 0x06), 0x04); /* 2031-01-01: Wednesday */
	CHECK_EQ(cmos(f, 0x07), 0x01);
	CHECK_EQ(cmos(f, 0x08), 0x01);
	CHECK_EQ(cmos(f, 0x09), 0x31);
	CHECK_EQ(cmos(f, RTC_REG_CENTURY), 0x20);
	/* The offset sticks as host time goes on. */
	advance(f, 3600 * NS);
	CHECK_EQ(cmos(f, 0x04), 0x01);
	CHECK_EQ(cmos(f, 0x09), 0x31);

	/* Binary, 12 h: 2099-12-31 11:59:59 PM. */
	cmos_set(f, 0x0b, 0x84);
	cmos_set(f, 0x00, 59);
	cmos_set(f, 0x02, 59);
	cmos_set(f, 0x04, 0x80 | 11);
	cmos_set(f, 0x07, 31);
	cmos_set(f, 0x08, 12);
	cmos_set(f, 0x09, 99);
	cmos_set(f, RTC_REG_CENTURY, 20);
	cmos_set(f, 0x0b, 0x04);
	CHECK_EQ(cmos(f, 0x04), 0x8b);
	cmos_set(f, 0x0b, 0x02);
	CHECK_EQ(cmos(f, 0x04), 0x23);
	CHECK_EQ(cmos(f, 0x06), 0x05); /* Thursday */
	advance(f, NS);
	CHECK_EQ(cmos(f, 0x09), 0x00);
	CHECK_EQ(cmos(f, RTC_REG_CENTURY), 0x21);
	fake_vm_free(f);
}

static void set_field_without_set_bit(void)
{
	struct fake_vm *f = fake_new();

	cmos_set(f, 0x02, 0x10); /* minutes, SET clear: at once */
	CHECK_EQ(cmos(f, 0x02), 0x10);
	CHECK_EQ(cmos(f, 0x04), 0x13);
	advance(f, 60 * NS);
	CHECK_EQ(cmos(f, 0x02), 0x11);
	fake_vm_free(f);
}

static void invalid_time_rejected(void)
{
	struct fake_vm *f = fake_new();
	enum log_level saved = log_threshold;

	log_threshold = LOG_ERROR;
	cmos_set(f, 0x0b, 0x82);
	cmos_set(f, 0x08, 0x13); /* month 13 */
	cmos_set(f, 0x0b, 0x02);
	CHECK_EQ(cmos(f, 0x08), 0x02);
	CHECK_EQ(cmos(f, 0x02), 0x45);
	cmos_set(f, 0x0b, 0x82);
	cmos_set(f, 0x00, 0xff); /* not BCD */
	cmos_set(f, 0x0b, 0x02);
	CHECK_EQ(cmos(f, 0x00), 0x56);
	cmos_set(f, 0x0b, 0x80); /* 12 h mode, where hour 0 does not exist */
	cmos_set(f, 0x04, 0x00);
	cmos_set(f, 0x0b, 0x00);
	CHECK_EQ(cmos(f, 0x04), 0x81);
	cmos_set(f, 0x0b, 0x02);
	cmos_set(f, 0x0b, 0x82); /* year 1900 */
	cmos_set(f, RTC_REG_CENTURY, 0x19);
	cmos_set(f, 0x09, 0x00);
	cmos_set(f, 0x0b, 0x02);
	CHECK_EQ(cmos(f, 0x09), 0x24);
	log_threshold = saved;
	fake_vm_free(f);
}

static void uip(void)
{
	struct fake_vm *f = fake_new();

	atomic_store(&f->now, leap_day(999755999));
	CHECK_EQ(cmos(f, 0x0a), 0x26);
	atomic_store(&f->now, leap_day(999756000));
	CHECK_EQ(cmos(f, 0x0a), 0xa6);
	CHECK_EQ(cmos(f, 0x00), 0x56); /* not updated yet */
	atomic_store(&f->now, leap_day(NS));
	CHECK_EQ(cmos(f, 0x0a), 0x26);
	CHECK_EQ(cmos(f, 0x00), 0x57);
	/* Register A's UIP bit is read-only. */
	cmos_set(f, 0x0a, 0xa6);
	CHECK_EQ(cmos(f, 0x0a), 0x26);
	fake_vm_free(f);
}

static void update_interrupt(void)
{
	struct fake_vm *f = fake_new();

	cmos_set(f, 0x0a, 0x20); /* no periodic flag in the way */
	cmos(f, 0x0c);
	cmos_set(f, 0x0b, 0x12); /* UIE */
	CHECK(!fake_irq_level(f, IRQ_RTC));
	advance(f, NS / 2);
	CHECK_EQ(cmos(f, 0x0d), 0x80); /* VRT; any access catches up */
	CHECK(!fake_irq_level(f, IRQ_RTC));
	advance(f, NS / 2);
	cmos(f, 0x0d);
	CHECK(fake_irq_level(f, IRQ_RTC));
	CHECK_EQ(cmos(f, 0x0c), 0x90);
	CHECK(!fake_irq_level(f, IRQ_RTC));
	CHECK_EQ(cmos(f, 0x0c), 0x00);
	/* Without UIE the flag is set but there is no interrupt. */
	cmos_set(f, 0x0b, 0x02);
	advance(f, NS);
	cmos(f, 0x0d);
	CHECK(!fake_irq_level(f, IRQ_RTC));
	CHECK_EQ(cmos(f, 0x0c), 0x10);
	/* SET going high clears UIE, and no updates happen under it. */
	cmos_set(f, 0x0b, 0x12);
	cmos_set(f, 0x0b, 0x92);
	CHECK_EQ(cmos(f, 0x0b), 0x82);
	cmos(f, 0x0c);
	advance(f, NS);
	CHECK_EQ(cmos(f, 0x0c), 0x00);
	fake_vm_free(f);
}

static void periodic_interrupt(void)
{
	struct fake_vm *f = fake_new();

	cmos(f, 0x0c);
	cmos_set(f, 0x0b, 0x42); /* PIE; A = 0x26: 1024 Hz */
	advance(f, 500000);
	cmos(f, 0x0d);
	CHECK(!fake_irq_level(f, IRQ_RTC));
	advance(f, 500000); /* 1 ms > 976.5625 us */
	cmos(f, 0x0d);
	CHECK(fake_irq_level(f, IRQ_RTC));
	CHECK_EQ(cmos(f, 0x0c), 0xc0);
	CHECK(!fake_irq_level(f, IRQ_RTC));
	/* Rate 15: 2 Hz. */
	cmos_set(f, 0x0a, 0x2f);
	cmos(f, 0x0c);
	advance(f, 400000000);
	CHECK_EQ(cmos(f, 0x0c), 0x00);
	advance(f, 200000000);
	CHECK_EQ(cmos(f, 0x0c), 0xc0);
	/* RS = 0: no periodic flag at all. */
	cmos_set(f, 0x0a, 0x20);
	cmos_set(f, 0x0b, 0x02);
	cmos(f, 0x0c);
	advance(f, 10 * 1000000);
	CHECK_EQ(cmos(f, 0x0c) & 0x40, 0);
	fake_vm_free(f);
}

static void alarm_interrupt(void)
{
	struct fake_vm *f = fake_new();

	cmos_set(f, 0x0a, 0x20); /* no periodic flag in the way */
	cmos_set(f, 0x01, 0x58); /* 13:45:58 */
	cmos_set(f, 0x03, 0x45);
	cmos_set(f, 0x05, 0x13);
	cmos(f, 0x0c);
	cmos_set(f, 0x0b, 0x22); /* AIE */
	advance(f, NS);
	CHECK_EQ(cmos(f, 0x0c), 0x10); /* UF only */
	CHECK(!fake_irq_level(f, IRQ_RTC));
	advance(f, NS);
	cmos(f, 0x0d);
	CHECK(fake_irq_level(f, IRQ_RTC));
	CHECK_EQ(cmos(f, 0x0c), 0xb0);
	CHECK(!fake_irq_level(f, IRQ_RTC));
	advance(f, NS);
	CHECK_EQ(cmos(f, 0x0c) & 0x20, 0);
	/* Caught up over a long gap: the alarm time passed in between. */
	cmos_set(f, 0x03, 0x00);
	cmos_set(f, 0x01, 0x00);
	cmos_set(f, 0x05, 0x15); /* 15:00:00 */
	advance(f, 2 * 3600 * NS);
	CHECK_EQ(cmos(f, 0x0c), 0xb0);
	/* Don't-care values: every second. */
	cmos_set(f, 0x01, 0xc0);
	cmos_set(f, 0x03, 0xff);
	cmos_set(f, 0x05, 0xc0);
	advance(f, NS);
	CHECK_EQ(cmos(f, 0x0c), 0xb0);
	fake_vm_free(f);
}

static void cmos_ram(void)
{
	struct fake_vm *f = fake_new_mem(5ull << 30);
	unsigned int i;

	for (i = 0x0e; i < RTC_CMOS_SIZE; i++)
		if (i != RTC_REG_CENTURY)
			cmos_set(f, (uint8_t)i, (uint8_t)(i ^ 0xa5));
	for (i = 0x0e; i < RTC_CMOS_SIZE; i++)
		if (i != RTC_REG_CENTURY)
			CHECK_EQ(cmos(f, (uint8_t)i), i ^ 0xa5);
	/* Bit 7 of the index is the NMI mask, not part of the index. */
	CHECK_EQ(cmos(f, 0x80 | 0x40), 0x40 ^ 0xa5);
	/* C and D are read-only; D says the battery is fine. */
	cmos_set(f, 0x0d, 0x00);
	CHECK_EQ(cmos(f, 0x0d), 0x80);
	cmos_set(f, 0x0c, 0xff);
	CHECK_EQ(cmos(f, 0x0c) & 0x80, 0);
	fake_vm_free(f);

	/* Memory size bytes: 5 GiB is 3 GiB low and 2 GiB high. */
	f = fake_new_mem(5ull << 30);
	CHECK_EQ(cmos(f, 0x15) | cmos(f, 0x16) << 8, 640);
	CHECK_EQ(cmos(f, 0x30) | cmos(f, 0x31) << 8, 0xffff);
	CHECK_EQ(cmos(f, 0x34) | cmos(f, 0x35) << 8, (3072 - 16) * 16);
	CHECK_EQ(cmos(f, 0x5b) | cmos(f, 0x5c) << 8 | cmos(f, 0x5d) << 16,
		 2048 * 16);
	fake_vm_free(f);
}

static void odd_widths(void)
{
	struct fake_vm *f = fake_new();
	enum log_level saved = log_threshold;
	uint64_t v, r;

	/* outw to 0x70: index, then data, as on ISA. */
	CHECK(bus_write(&f->pio, INDEX, 2, 0x7740));
	CHECK_EQ(cmos(f, 0x40), 0x77);
	CHECK(bus_read(&f->pio, INDEX, 2, &v));
	CHECK_EQ(v, 0x7740);
	CHECK(!bus_read(&f->pio, INDEX, 4, &v));
	CHECK(!bus_write(&f->pio, DATA, 2, 0));
	/* Every index, many values, time passing. */
	log_threshold = LOG_ERROR;
	for (v = 0; v < 256; v += 7) {
		unsigned int i;

		for (i = 0; i < 256; i++) {
			bus_write(&f->pio, INDEX, 1, i);
			bus_write(&f->pio, DATA, 1, v);
			bus_read(&f->pio, DATA, 1, &r);
		}
		advance(f, 333333333);
	}
	log_threshold = saved;
	fake_vm_free(f);
}

static void timer_thread(void)
{
	struct fake_vm *f = fake_new();
	unsigned int round, ms;

	rtc_set_clock(f->state, NULL, NULL); /* the real clock */
	cmos(f, 0x0c);
	cmos_set(f, 0x0b, 0x42); /* PIE at 1024 Hz */
	for (round = 0; round < 3; round++) {
		for (ms = 0; ms < 1000 && !fake_irq_level(f, IRQ_RTC); ms++) {
			struct timespec ts = { .tv_nsec = 1000000 };

			nanosleep(&ts, NULL);
		}
		CHECK(fake_irq_level(f, IRQ_RTC));
		CHECK_EQ(cmos(f, 0x0c) & 0xc0, 0xc0);
	}
	cmos_set(f, 0x0b, 0x02);
	cmos(f, 0x0c);
	CHECK(!fake_irq_level(f, IRQ_RTC));
	fake_vm_free(f);
}

TEST_SUITE(rtc, TEST_CASE(bcd_read), TEST_CASE(binary_and_12h),
	   TEST_CASE(set_time), TEST_CASE(set_field_without_set_bit),
	   TEST_CASE(invalid_time_rejected), TEST_CASE(uip),
	   TEST_CASE(update_interrupt), TEST_CASE(periodic_interrupt),
	   TEST_CASE(alarm_interrupt), TEST_CASE(cmos_ram),
	   TEST_CASE(odd_widths), TEST_CASE(timer_thread));
