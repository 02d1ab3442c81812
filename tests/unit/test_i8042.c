// SPDX-License-Identifier: MIT
/* The i8042 controller through the port-I/O bus, with fake irqchip and VM. */
#include "unit/test.h"

#include <stdlib.h>

#include "arch/x86_64/layout.h"
#include "bus/bus.h"
#include "config/config.h"
#include "devices/i8042.h"
#include "util/log.h"

#define DATA PORT_I8042_DATA
#define CMD PORT_I8042_CMD

#define STS_OBF 0x01
#define STS_IBF 0x02
#define STS_SYS 0x04
#define STS_CMD 0x08
#define STS_AUXB 0x20
#define STS_TIMEOUT 0x40

struct fake {
	struct bus pio, mmio;
	struct vm_config cfg;
	struct device_host host;
	bool level[32];
	unsigned int rises[32];
	unsigned int nr_req;
	enum vm_request req[8];
	void *state;
};

static void fake_irq(void *opaque, unsigned int gsi, bool level)
{
	struct fake *f = opaque;

	if (gsi >= 32)
		return;
	if (level && !f->level[gsi])
		f->rises[gsi]++;
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

static struct fake *fake_new(void)
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
	f->state = calloc(1, i8042_type.state_size);
	if (i8042_type.realize(f->state, &f->host))
		test_fail(__FILE__, __LINE__, "i8042 realize failed");
	return f;
}

static void fake_free(struct fake *f)
{
	i8042_type.unrealize(f->state);
	free(f->state);
	bus_destroy(&f->pio);
	bus_destroy(&f->mmio);
	free(f);
}

static uint8_t in8(struct fake *f, uint16_t port)
{
	uint64_t v = 0;

	if (!bus_read(&f->pio, port, 1, &v))
		test_fail(__FILE__, __LINE__, "no device at port 0x%x", port);
	return (uint8_t)v;
}

static void out8(struct fake *f, uint16_t port, uint8_t v)
{
	if (!bus_write(&f->pio, port, 1, v))
		test_fail(__FILE__, __LINE__, "no device at port 0x%x", port);
}

/* Like Linux's i8042_command(): a command, then one result byte. */
static int command_result(struct fake *f, uint8_t cmd)
{
	out8(f, CMD, cmd);
	if (!(in8(f, CMD) & STS_OBF))
		return -1;
	return in8(f, DATA);
}

static void self_test(void)
{
	struct fake *f = fake_new();

	CHECK_EQ(in8(f, CMD) & (STS_OBF | STS_IBF), 0);
	CHECK_EQ(command_result(f, 0xaa), 0x55);
	CHECK(in8(f, CMD) & STS_SYS);
	CHECK_EQ(in8(f, CMD) & STS_OBF, 0);
	CHECK_EQ(command_result(f, 0xab), 0x00);
	CHECK_EQ(command_result(f, 0xa9), 0x00);
	CHECK_EQ(command_result(f, 0xa4), 0xf1);
	CHECK(in8(f, CMD) & STS_CMD);
	CHECK_EQ(f->nr_req, 0);
	fake_free(f);
}

static void config_byte(void)
{
	struct fake *f = fake_new();
	int ctr = command_result(f, 0x20);

	CHECK(ctr >= 0);
	CHECK_EQ(ctr & 0x04, 0x04); /* system flag */
	out8(f, CMD, 0x60);
	out8(f, DATA, 0x30);
	CHECK_EQ(in8(f, CMD) & STS_CMD, 0);
	CHECK_EQ(command_result(f, 0x20), 0x30);
	CHECK_EQ(in8(f, CMD) & STS_SYS, 0); /* follows config bit 2 */
	/* Port enable/disable commands edit the same byte. */
	out8(f, CMD, 0xae);
	out8(f, CMD, 0xa8);
	CHECK_EQ(command_result(f, 0x20), 0x00);
	out8(f, CMD, 0xad);
	out8(f, CMD, 0xa7);
	CHECK_EQ(command_result(f, 0x20), 0x30);
	/* The other RAM bytes. */
	out8(f, CMD, 0x65);
	out8(f, DATA, 0x99);
	CHECK_EQ(command_result(f, 0x25), 0x99);
	fake_free(f);
}

static void reset_line(void)
{
	struct fake *f = fake_new();

	/* reboot=k: poll IBF clear, then pulse the reset line. */
	CHECK_EQ(in8(f, CMD) & STS_IBF, 0);
	out8(f, CMD, 0xfe);
	CHECK_EQ(f->nr_req, 1);
	CHECK_EQ(f->req[0], VM_REQ_RESET);
	out8(f, CMD, 0xff); /* pulses nothing */
	CHECK_EQ(f->nr_req, 1);
	out8(f, CMD, 0xf0); /* pulses all four lines, reset among them */
	CHECK_EQ(f->nr_req, 2);

	/* Output port: bit 0 clear is reset. */
	out8(f, CMD, 0xd1);
	out8(f, DATA, 0x03);
	CHECK_EQ(f->nr_req, 2);
	CHECK_EQ(command_result(f, 0xd0), 0x03);
	out8(f, CMD, 0xdd);
	CHECK_EQ(command_result(f, 0xd0), 0x01);
	out8(f, CMD, 0xd1);
	out8(f, DATA, 0x02);
	CHECK_EQ(f->nr_req, 3);
	CHECK_EQ(f->req[2], VM_REQ_RESET);
	fake_free(f);
}

static void interrupts(void)
{
	struct fake *f = fake_new();
	unsigned int rises;

	out8(f, CMD, 0x60);
	out8(f, DATA, 0x03); /* IRQ 1 and IRQ 12 on */
	CHECK(!f->level[IRQ_I8042_KBD]);
	out8(f, CMD, 0xd2);
	out8(f, DATA, 0x42);
	CHECK(f->level[IRQ_I8042_KBD]);
	CHECK(!f->level[IRQ_I8042_AUX]);
	CHECK_EQ(in8(f, CMD) & (STS_OBF | STS_AUXB), STS_OBF);
	CHECK_EQ(in8(f, DATA), 0x42);
	CHECK(!f->level[IRQ_I8042_KBD]);

	/* Linux's AUX IRQ test: 0xd3 loops a byte back as aux data. */
	out8(f, CMD, 0xd3);
	out8(f, DATA, 0xa5);
	CHECK(f->level[IRQ_I8042_AUX]);
	CHECK(!f->level[IRQ_I8042_KBD]);
	CHECK_EQ(in8(f, CMD) & (STS_OBF | STS_AUXB), STS_OBF | STS_AUXB);
	CHECK_EQ(in8(f, DATA), 0xa5);
	CHECK(!f->level[IRQ_I8042_AUX]);

	/* Two bytes queued: one edge each. */
	rises = f->rises[IRQ_I8042_KBD];
	out8(f, CMD, 0xd2);
	out8(f, DATA, 0x01);
	out8(f, CMD, 0xd2);
	out8(f, DATA, 0x02);
	CHECK_EQ(f->rises[IRQ_I8042_KBD], rises + 1);
	CHECK_EQ(in8(f, DATA), 0x01);
	CHECK_EQ(f->rises[IRQ_I8042_KBD], rises + 2);
	CHECK(f->level[IRQ_I8042_KBD]);
	CHECK_EQ(in8(f, DATA), 0x02);
	CHECK(!f->level[IRQ_I8042_KBD]);

	/* Disabled in the config byte: no interrupt, data still there. */
	out8(f, CMD, 0x60);
	out8(f, DATA, 0x00);
	out8(f, CMD, 0xd2);
	out8(f, DATA, 0x77);
	CHECK(!f->level[IRQ_I8042_KBD]);
	CHECK_EQ(in8(f, CMD) & STS_OBF, STS_OBF);
	/* Enabling it with data waiting raises the line. */
	out8(f, CMD, 0x60);
	out8(f, DATA, 0x01);
	CHECK(f->level[IRQ_I8042_KBD]);
	CHECK_EQ(in8(f, DATA), 0x77);
	CHECK(!f->level[IRQ_I8042_KBD]);
	fake_free(f);
}

static void no_devices(void)
{
	struct fake *f = fake_new();
	uint8_t st;

	/* A keyboard reset to nothing: 0xfe with the timeout bit. */
	out8(f, DATA, 0xff);
	st = in8(f, CMD);
	CHECK_EQ(st & (STS_OBF | STS_TIMEOUT | STS_AUXB),
		 STS_OBF | STS_TIMEOUT);
	CHECK_EQ(in8(f, DATA), 0xfe);
	CHECK_EQ(in8(f, CMD) & (STS_OBF | STS_TIMEOUT), 0);
	/* To the mouse: the same, from the aux side. */
	out8(f, CMD, 0xd4);
	out8(f, DATA, 0xf2);
	st = in8(f, CMD);
	CHECK_EQ(st & (STS_OBF | STS_TIMEOUT | STS_AUXB),
		 STS_OBF | STS_TIMEOUT | STS_AUXB);
	CHECK_EQ(in8(f, DATA), 0xfe);
	/* Reading an empty buffer repeats the last byte. */
	CHECK_EQ(in8(f, DATA), 0xfe);
	CHECK_EQ(in8(f, CMD) & STS_OBF, 0);
	fake_free(f);
}

static void hostile_input(void)
{
	struct fake *f = fake_new();
	enum log_level saved = log_threshold;
	uint64_t v;
	unsigned int i, n = 0;

	log_threshold = LOG_ERROR; /* the guest: warnings are expected */

	/* More results than the queue holds: the excess is dropped. */
	for (i = 0; i < 3 * I8042_QUEUE_LEN; i++)
		out8(f, CMD, 0x20);
	while ((in8(f, CMD) & STS_OBF) && n < 100) {
		in8(f, DATA);
		n++;
	}
	CHECK_EQ(n, I8042_QUEUE_LEN);
	/* Every command byte, each followed by a data byte. */
	for (i = 0; i < 256; i++) {
		if ((i & 0xf1) == 0xf0 || i == 0xd1)
			continue; /* reset requests, tested elsewhere */
		out8(f, CMD, (uint8_t)i);
		out8(f, DATA, 0x5a);
	}
	CHECK_EQ(f->nr_req, 0);
	/* Wider accesses straddle the 1-byte ports: not dispatched. */
	CHECK(!bus_read(&f->pio, DATA, 2, &v));
	CHECK(!bus_write(&f->pio, CMD, 4, 0xfe));
	CHECK_EQ(f->nr_req, 0);
	log_threshold = saved;
	fake_free(f);
}

TEST_SUITE(i8042, TEST_CASE(self_test), TEST_CASE(config_byte),
	   TEST_CASE(reset_line), TEST_CASE(interrupts), TEST_CASE(no_devices),
	   TEST_CASE(hostile_input));
