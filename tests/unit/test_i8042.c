// SPDX-License-Identifier: MIT
/* The i8042 controller through the port-I/O bus, with fake irqchip and VM. */
#include "unit/test.h"

#include "arch/x86_64/layout.h"
#include "bus/bus.h"
#include "devices/i8042.h"
#include "unit/fake.h"
#include "util/log.h"

#define DATA PORT_I8042_DATA
#define CMD PORT_I8042_CMD

#define STS_OBF 0x01
#define STS_IBF 0x02
#define STS_SYS 0x04
#define STS_CMD 0x08
#define STS_AUXB 0x20
#define STS_TIMEOUT 0x40

/* Like Linux's i8042_command(): a command, then one result byte. */
static int command_result(struct fake_vm *f, uint8_t cmd)
{
	fake_out8(f, CMD, cmd);
	if (!(fake_in8(f, CMD) & STS_OBF))
		return -1;
	return fake_in8(f, DATA);
}

static void self_test(void)
{
	struct fake_vm *f = fake_vm_new(&i8042_type);

	CHECK_EQ(fake_in8(f, CMD) & (STS_OBF | STS_IBF), 0);
	CHECK_EQ(command_result(f, 0xaa), 0x55);
	CHECK(fake_in8(f, CMD) & STS_SYS);
	CHECK_EQ(fake_in8(f, CMD) & STS_OBF, 0);
	CHECK_EQ(command_result(f, 0xab), 0x00);
	CHECK_EQ(command_result(f, 0xa9), 0x00);
	CHECK_EQ(command_result(f, 0xa4), 0xf1);
	CHECK(fake_in8(f, CMD) & STS_CMD);
	CHECK_EQ(f->ctl.nr, 0);
	fake_vm_free(f);
}

static void config_byte(void)
{
	struct fake_vm *f = fake_vm_new(&i8042_type);
	int ctr = command_result(f, 0x20);

	CHECK(ctr >= 0);
	CHECK_EQ(ctr & 0x04, 0x04); /* system flag */
	fake_out8(f, CMD, 0x60);
	fake_out8(f, DATA, 0x30);
	CHECK_EQ(fake_in8(f, CMD) & STS_CMD, 0);
	CHECK_EQ(command_result(f, 0x20), 0x30);
	CHECK_EQ(fake_in8(f, CMD) & STS_SYS, 0); /* follows config bit 2 */
	/* Port enable/disable commands edit the same byte. */
	fake_out8(f, CMD, 0xae);
	fake_out8(f, CMD, 0xa8);
	CHECK_EQ(command_result(f, 0x20), 0x00);
	fake_out8(f, CMD, 0xad);
	fake_out8(f, CMD, 0xa7);
	CHECK_EQ(command_result(f, 0x20), 0x30);
	/* The other RAM bytes. */
	fake_out8(f, CMD, 0x65);
	fake_out8(f, DATA, 0x99);
	CHECK_EQ(command_result(f, 0x25), 0x99);
	fake_vm_free(f);
}

static void reset_line(void)
{
	struct fake_vm *f = fake_vm_new(&i8042_type);

	/* reboot=k: poll IBF clear, then pulse the reset line. */
	CHECK_EQ(fake_in8(f, CMD) & STS_IBF, 0);
	fake_out8(f, CMD, 0xfe);
	CHECK_EQ(f->ctl.nr, 1);
	CHECK_EQ(f->ctl.req[0], VM_REQ_RESET);
	fake_out8(f, CMD, 0xff); /* pulses nothing */
	CHECK_EQ(f->ctl.nr, 1);
	fake_out8(f, CMD, 0xf0); /* pulses all four lines, reset among them */
	CHECK_EQ(f->ctl.nr, 2);

	/* Output port: bit 0 clear is reset. */
	fake_out8(f, CMD, 0xd1);
	fake_out8(f, DATA, 0x03);
	CHECK_EQ(f->ctl.nr, 2);
	CHECK_EQ(command_result(f, 0xd0), 0x03);
	fake_out8(f, CMD, 0xdd);
	CHECK_EQ(command_result(f, 0xd0), 0x01);
	fake_out8(f, CMD, 0xd1);
	fake_out8(f, DATA, 0x02);
	CHECK_EQ(f->ctl.nr, 3);
	CHECK_EQ(f->ctl.req[2], VM_REQ_RESET);
	fake_vm_free(f);
}

static void interrupts(void)
{
	struct fake_vm *f = fake_vm_new(&i8042_type);
	unsigned int rises;

	fake_out8(f, CMD, 0x60);
	fake_out8(f, DATA, 0x03); /* IRQ 1 and IRQ 12 on */
	CHECK(!fake_irq_level(f, IRQ_I8042_KBD));
	fake_out8(f, CMD, 0xd2);
	fake_out8(f, DATA, 0x42);
	CHECK(fake_irq_level(f, IRQ_I8042_KBD));
	CHECK(!fake_irq_level(f, IRQ_I8042_AUX));
	CHECK_EQ(fake_in8(f, CMD) & (STS_OBF | STS_AUXB), STS_OBF);
	CHECK_EQ(fake_in8(f, DATA), 0x42);
	CHECK(!fake_irq_level(f, IRQ_I8042_KBD));

	/* Linux's AUX IRQ test: 0xd3 loops a byte back as aux data. */
	fake_out8(f, CMD, 0xd3);
	fake_out8(f, DATA, 0xa5);
	CHECK(fake_irq_level(f, IRQ_I8042_AUX));
	CHECK(!fake_irq_level(f, IRQ_I8042_KBD));
	CHECK_EQ(fake_in8(f, CMD) & (STS_OBF | STS_AUXB), STS_OBF | STS_AUXB);
	CHECK_EQ(fake_in8(f, DATA), 0xa5);
	CHECK(!fake_irq_level(f, IRQ_I8042_AUX));

	/* Two bytes queued: one edge each. */
	rises = fake_irq_rises(f, IRQ_I8042_KBD);
	fake_out8(f, CMD, 0xd2);
	fake_out8(f, DATA, 0x01);
	fake_out8(f, CMD, 0xd2);
	fake_out8(f, DATA, 0x02);
	CHECK_EQ(fake_irq_rises(f, IRQ_I8042_KBD), rises + 1);
	CHECK_EQ(fake_in8(f, DATA), 0x01);
	CHECK_EQ(fake_irq_rises(f, IRQ_I8042_KBD), rises + 2);
	CHECK(fake_irq_level(f, IRQ_I8042_KBD));
	CHECK_EQ(fake_in8(f, DATA), 0x02);
	CHECK(!fake_irq_level(f, IRQ_I8042_KBD));

	/* Disabled in the config byte: no interrupt, data still there. */
	fake_out8(f, CMD, 0x60);
	fake_out8(f, DATA, 0x00);
	fake_out8(f, CMD, 0xd2);
	fake_out8(f, DATA, 0x77);
	CHECK(!fake_irq_level(f, IRQ_I8042_KBD));
	CHECK_EQ(fake_in8(f, CMD) & STS_OBF, STS_OBF);
	/* Enabling it with data waiting raises the line. */
	fake_out8(f, CMD, 0x60);
	fake_out8(f, DATA, 0x01);
	CHECK(fake_irq_level(f, IRQ_I8042_KBD));
	CHECK_EQ(fake_in8(f, DATA), 0x77);
	CHECK(!fake_irq_level(f, IRQ_I8042_KBD));
	fake_vm_free(f);
}

static void no_devices(void)
{
	struct fake_vm *f = fake_vm_new(&i8042_type);
	uint8_t st;

	/* A keyboard reset to nothing: 0xfe with the timeout bit. */
	fake_out8(f, DATA, 0xff);
	st = fake_in8(f, CMD);
	CHECK_EQ(st & (STS_OBF | STS_TIMEOUT | STS_AUXB),
		 STS_OBF | STS_TIMEOUT);
	CHECK_EQ(fake_in8(f, DATA), 0xfe);
	CHECK_EQ(fake_in8(f, CMD) & (STS_OBF | STS_TIMEOUT), 0);
	/* To the mouse: the same, from the aux side. */
	fake_out8(f, CMD, 0xd4);
	fake_out8(f, DATA, 0xf2);
	st = fake_in8(f, CMD);
	CHECK_EQ(st & (STS_OBF | STS_TIMEOUT | STS_AUXB),
		 STS_OBF | STS_TIMEOUT | STS_AUXB);
	CHECK_EQ(fake_in8(f, DATA), 0xfe);
	/* Reading an empty buffer repeats the last byte. */
	CHECK_EQ(fake_in8(f, DATA), 0xfe);
	CHECK_EQ(fake_in8(f, CMD) & STS_OBF, 0);
	fake_vm_free(f);
}

static void hostile_input(void)
{
	struct fake_vm *f = fake_vm_new(&i8042_type);
	enum log_level saved = log_threshold;
	uint64_t v;
	unsigned int i, n = 0;

	log_threshold = LOG_ERROR; /* the guest: warnings are expected */

	/* More results than the queue holds: the excess is dropped. */
	for (i = 0; i < 3 * I8042_QUEUE_LEN; i++)
		fake_out8(f, CMD, 0x20);
	while ((fake_in8(f, CMD) & STS_OBF) && n < 100) {
		fake_in8(f, DATA);
		n++;
	}
	CHECK_EQ(n, I8042_QUEUE_LEN);
	/* Every command byte, each followed by a data byte. */
	for (i = 0; i < 256; i++) {
		if ((i & 0xf1) == 0xf0 || i == 0xd1)
			continue; /* reset requests, tested elsewhere */
		fake_out8(f, CMD, (uint8_t)i);
		fake_out8(f, DATA, 0x5a);
	}
	CHECK_EQ(f->ctl.nr, 0);
	/* Wider accesses straddle the 1-byte ports: not dispatched. */
	CHECK(!bus_read(&f->pio, DATA, 2, &v));
	CHECK(!bus_write(&f->pio, CMD, 4, 0xfe));
	CHECK_EQ(f->ctl.nr, 0);
	log_threshold = saved;
	fake_vm_free(f);
}

TEST_SUITE(i8042, TEST_CASE(self_test), TEST_CASE(config_byte),
	   TEST_CASE(reset_line), TEST_CASE(interrupts), TEST_CASE(no_devices),
	   TEST_CASE(hostile_input));
