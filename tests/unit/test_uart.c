// SPDX-License-Identifier: MIT
/*
 * 16550A UART through the port-I/O bus, with a fake irqchip and a fake
 * console backend whose buffer can be filled to test backpressure.
 */
#include "unit/test.h"

#include <pthread.h>
#include <stdlib.h>

#include "arch/x86_64/layout.h"
#include "backends/chardev.h"
#include "bus/bus.h"
#include "config/config.h"
#include "devices/uart16550.h"

#define RBR (PORT_COM1 + 0)
#define THR (PORT_COM1 + 0)
#define DLL (PORT_COM1 + 0)
#define IER (PORT_COM1 + 1)
#define DLM (PORT_COM1 + 1)
#define IIR (PORT_COM1 + 2)
#define FCR (PORT_COM1 + 2)
#define LCR (PORT_COM1 + 3)
#define MCR (PORT_COM1 + 4)
#define LSR (PORT_COM1 + 5)
#define MSR (PORT_COM1 + 6)
#define SCR (PORT_COM1 + 7)

/* A console backend that accepts at most `space` more bytes. */
struct fake_chr {
	struct chardev chr;
	pthread_mutex_t lock;
	uint8_t out[8192];
	size_t out_len;
	size_t space;
	unsigned int rx_ready_calls;
};

static size_t fchr_write(struct chardev *chr, const uint8_t *buf, size_t len)
{
	struct fake_chr *c = (struct fake_chr *)chr;
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = len < c->space ? len : c->space;
	if (n > sizeof(c->out) - c->out_len)
		n = sizeof(c->out) - c->out_len;
	memcpy(c->out + c->out_len, buf, n);
	c->out_len += n;
	c->space -= n;
	pthread_mutex_unlock(&c->lock);
	return n;
}

static void fchr_rx_ready(struct chardev *chr)
{
	struct fake_chr *c = (struct fake_chr *)chr;

	pthread_mutex_lock(&c->lock);
	c->rx_ready_calls++;
	pthread_mutex_unlock(&c->lock);
}

static const struct chardev_ops fchr_ops = {
	.write = fchr_write,
	.rx_ready = fchr_rx_ready,
};

struct fake {
	struct bus pio, mmio;
	struct vm_config cfg;
	struct device_host host;
	struct fake_chr chr;
	pthread_mutex_t lock;
	bool level[32];
	unsigned int rises[32];
	void *state;
};

static void fake_irq(void *opaque, unsigned int gsi, bool level)
{
	struct fake *f = opaque;

	if (gsi >= 32)
		return;
	pthread_mutex_lock(&f->lock);
	if (level && !f->level[gsi])
		f->rises[gsi]++;
	f->level[gsi] = level;
	pthread_mutex_unlock(&f->lock);
}

static bool irq_level(struct fake *f, unsigned int gsi)
{
	bool l;

	pthread_mutex_lock(&f->lock);
	l = f->level[gsi];
	pthread_mutex_unlock(&f->lock);
	return l;
}

static struct fake *fake_new(bool console)
{
	struct fake *f = calloc(1, sizeof(*f));

	bus_init(&f->pio, "pio");
	bus_init(&f->mmio, "mmio");
	pthread_mutex_init(&f->lock, NULL);
	pthread_mutex_init(&f->chr.lock, NULL);
	f->chr.chr.ops = &fchr_ops;
	f->chr.space = 1 << 20;
	f->cfg.memory = 256ull << 20;
	f->cfg.cmdline = "";
	f->host = (struct device_host){
		.pio = &f->pio,
		.mmio = &f->mmio,
		.cfg = &f->cfg,
		.irq_set_level = fake_irq,
		.irq_opaque = f,
		.console = console ? &f->chr.chr : NULL,
	};
	f->state = calloc(1, uart16550_type.state_size);
	if (uart16550_type.realize(f->state, &f->host))
		test_fail(__FILE__, __LINE__, "uart realize failed");
	return f;
}

static void fake_free(struct fake *f)
{
	uart16550_type.unrealize(f->state);
	free(f->state);
	bus_destroy(&f->pio);
	bus_destroy(&f->mmio);
	pthread_mutex_destroy(&f->chr.lock);
	pthread_mutex_destroy(&f->lock);
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

static size_t rx(struct fake *f, const char *s)
{
	return f->chr.chr.fe->receive(f->chr.chr.fe_opaque, (const uint8_t *)s,
				      strlen(s));
}

static void set_space(struct fake *f, size_t space)
{
	pthread_mutex_lock(&f->chr.lock);
	f->chr.space = space;
	pthread_mutex_unlock(&f->chr.lock);
}

static size_t out_len(struct fake *f)
{
	size_t n;

	pthread_mutex_lock(&f->chr.lock);
	n = f->chr.out_len;
	pthread_mutex_unlock(&f->chr.lock);
	return n;
}

static void reset_values(void)
{
	struct fake *f = fake_new(true);

	CHECK(f->chr.chr.fe != NULL);
	CHECK_EQ(in8(f, IER), 0);
	CHECK_EQ(in8(f, IIR), 0x01);
	CHECK_EQ(in8(f, LCR), 0);
	CHECK_EQ(in8(f, MCR), 0);
	CHECK_EQ(in8(f, LSR), 0x60);
	CHECK_EQ(in8(f, MSR), 0xb0); /* CTS, DSR, DCD; no deltas */
	CHECK(!irq_level(f, IRQ_COM1));
	fake_free(f);
}

static void scratch_and_ier(void)
{
	struct fake *f = fake_new(true);

	out8(f, SCR, 0x5a);
	CHECK_EQ(in8(f, SCR), 0x5a);
	/* Linux's 8250 probe: IER has 4 writable bits. */
	out8(f, IER, 0);
	CHECK_EQ(in8(f, IER), 0);
	out8(f, IER, 0xff);
	CHECK_EQ(in8(f, IER), 0x0f);
	out8(f, IER, 0x40); /* XScale UUE bit: not a 16550A bit */
	CHECK_EQ(in8(f, IER), 0);
	fake_free(f);
}

static void dlab(void)
{
	struct fake *f = fake_new(true);

	out8(f, LCR, 0x83);
	out8(f, DLL, 0x0c);
	out8(f, DLM, 0x01);
	CHECK_EQ(in8(f, DLL), 0x0c);
	CHECK_EQ(in8(f, DLM), 0x01);
	CHECK_EQ(out_len(f), 0); /* THR not written */
	CHECK_EQ(in8(f, LCR), 0x83);
	out8(f, LCR, 0x03);
	CHECK_EQ(in8(f, IER), 0);
	out8(f, THR, 'x');
	CHECK_EQ(out_len(f), 1);
	CHECK_EQ(f->chr.out[0], 'x');
	out8(f, LCR, 0x83);
	CHECK_EQ(in8(f, DLL), 0x0c); /* kept */
	fake_free(f);
}

static void fifo_identification(void)
{
	struct fake *f = fake_new(true);

	out8(f, FCR, 0x01);
	CHECK_EQ(in8(f, IIR) & 0xc0, 0xc0); /* Linux: 16550A */
	out8(f, FCR, 0xe7);
	CHECK_EQ(in8(f, IIR), 0xc1); /* no 64-byte FIFO bit */
	out8(f, FCR, 0x00);
	CHECK_EQ(in8(f, IIR), 0x01);
	fake_free(f);
}

static void loopback(void)
{
	struct fake *f = fake_new(true);

	/* Linux's probe: MSR & 0xf0 == 0x90 with MCR = LOOP | OUT2 | RTS. */
	out8(f, MCR, 0x1a);
	CHECK_EQ(in8(f, MSR) & 0xf0, 0x90);
	out8(f, MCR, 0x1f);
	CHECK_EQ(in8(f, MSR) & 0xf0, 0xf0);
	out8(f, THR, 'L');
	CHECK_EQ(out_len(f), 0);
	CHECK_EQ(in8(f, LSR) & 0x61, 0x61);
	CHECK_EQ(in8(f, RBR), 'L');
	CHECK_EQ(in8(f, LSR) & 0x01, 0);
	/* In loopback the pin is off even with OUT2 and an interrupt. */
	out8(f, IER, 0x01);
	out8(f, THR, 'M');
	CHECK_EQ(in8(f, IIR), 0x04);
	CHECK(!irq_level(f, IRQ_COM1));
	CHECK_EQ(in8(f, RBR), 'M');
	out8(f, IER, 0);
	/* Back to normal: output goes to the backend again. */
	out8(f, MCR, 0x0b);
	CHECK_EQ(in8(f, MSR) & 0xf0, 0xb0);
	out8(f, THR, 'N');
	CHECK_EQ(out_len(f), 1);
	CHECK_EQ(f->chr.out[0], 'N');
	fake_free(f);
}

static void msr_deltas(void)
{
	struct fake *f = fake_new(true);

	out8(f, MCR, 0x10); /* loopback, all outputs off */
	in8(f, MSR);
	out8(f, MCR, 0x11); /* DTR -> DSR */
	CHECK_EQ(in8(f, MSR), 0x22); /* DSR, DDSR */
	CHECK_EQ(in8(f, MSR), 0x20); /* deltas cleared by the read */
	out8(f, MCR, 0x14); /* OUT1 -> RI; DTR off */
	CHECK_EQ(in8(f, MSR), 0x42); /* RI, DDSR; no TERI on the rise */
	out8(f, MCR, 0x10);
	CHECK_EQ(in8(f, MSR), 0x04); /* TERI on RI's trailing edge */
	/* Modem status interrupt, lowest priority, id 0. */
	out8(f, IER, 0x08);
	out8(f, MCR, 0x12);
	CHECK_EQ(in8(f, IIR), 0x00);
	in8(f, MSR);
	CHECK_EQ(in8(f, IIR), 0x01);
	fake_free(f);
}

static void fifo_overrun(void)
{
	struct fake *f = fake_new(true);
	unsigned int i;

	out8(f, FCR, 0x07);
	out8(f, MCR, 0x10);
	for (i = 0; i < UART_FIFO_LEN + 1; i++)
		out8(f, THR, (uint8_t)('a' + i));
	CHECK_EQ(in8(f, LSR) & 0x03, 0x03);
	CHECK_EQ(in8(f, LSR) & 0x03, 0x01); /* OE cleared by reading LSR */
	for (i = 0; i < UART_FIFO_LEN; i++)
		CHECK_EQ(in8(f, RBR), 'a' + i);
	CHECK_EQ(in8(f, LSR) & 0x01, 0);

	/* 16450 mode: one byte; the next one overwrites it. */
	out8(f, FCR, 0x00);
	out8(f, THR, '1');
	out8(f, THR, '2');
	CHECK_EQ(in8(f, LSR) & 0x03, 0x03);
	CHECK_EQ(in8(f, RBR), '2');

	/* Line status interrupt outranks received data. */
	out8(f, IER, 0x05);
	out8(f, THR, '3');
	out8(f, THR, '4');
	CHECK_EQ(in8(f, IIR), 0x06);
	in8(f, LSR);
	CHECK_EQ(in8(f, IIR), 0x04);
	fake_free(f);
}

static void fifo_reset(void)
{
	struct fake *f = fake_new(true);

	out8(f, FCR, 0x01);
	CHECK_EQ(rx(f, "abc"), 3);
	out8(f, FCR, 0x03);
	CHECK_EQ(in8(f, LSR) & 0x01, 0);
	CHECK_EQ(rx(f, "d"), 1);
	out8(f, FCR, 0x00); /* turning the FIFO off clears it too */
	CHECK_EQ(in8(f, LSR) & 0x01, 0);
	fake_free(f);
}

static void thre_interrupt(void)
{
	struct fake *f = fake_new(true);
	unsigned int rises;

	out8(f, MCR, 0x08); /* OUT2 */
	out8(f, IER, 0x02);
	CHECK_EQ(in8(f, IIR), 0x02);
	/* The IIR read cleared it. */
	CHECK_EQ(in8(f, IIR), 0x01);
	CHECK(!irq_level(f, IRQ_COM1));
	/* Re-armed when ETBEI goes 0 -> 1 with THR empty. */
	out8(f, IER, 0x00);
	out8(f, IER, 0x02);
	CHECK(irq_level(f, IRQ_COM1));
	CHECK_EQ(in8(f, IIR), 0x02);
	CHECK(!irq_level(f, IRQ_COM1));
	/* A THR write empties at once and raises THRE again: an edge. */
	rises = f->rises[IRQ_COM1];
	out8(f, THR, 'z');
	CHECK(irq_level(f, IRQ_COM1));
	CHECK_EQ(f->rises[IRQ_COM1], rises + 1);
	/* Writing THR clears the pending THRE before re-raising it. */
	out8(f, IER, 0x00);
	CHECK(!irq_level(f, IRQ_COM1));
	fake_free(f);
}

static void out2_gates_irq(void)
{
	struct fake *f = fake_new(true);

	out8(f, IER, 0x01);
	CHECK_EQ(rx(f, "x"), 1);
	CHECK_EQ(in8(f, IIR), 0x04);
	CHECK(!irq_level(f, IRQ_COM1));
	out8(f, MCR, 0x08);
	CHECK(irq_level(f, IRQ_COM1));
	out8(f, MCR, 0x00);
	CHECK(!irq_level(f, IRQ_COM1));
	out8(f, MCR, 0x08);
	CHECK_EQ(in8(f, RBR), 'x');
	CHECK(!irq_level(f, IRQ_COM1));
	fake_free(f);
}

static void rx_interrupt_priority(void)
{
	struct fake *f = fake_new(true);

	out8(f, MCR, 0x08);
	out8(f, IER, 0x03);
	CHECK_EQ(rx(f, "q"), 1);
	CHECK(irq_level(f, IRQ_COM1));
	CHECK_EQ(in8(f, IIR), 0x04); /* data outranks THRE */
	CHECK_EQ(in8(f, RBR), 'q');
	CHECK_EQ(in8(f, IIR), 0x02);
	CHECK_EQ(in8(f, IIR), 0x01);
	CHECK(!irq_level(f, IRQ_COM1));

	/* FIFO, trigger level 4: below it, a character timeout. */
	out8(f, FCR, 0x41);
	CHECK_EQ(rx(f, "ab"), 2);
	CHECK_EQ(in8(f, IIR), 0xcc);
	CHECK_EQ(rx(f, "cd"), 2);
	CHECK_EQ(in8(f, IIR), 0xc4);
	CHECK_EQ(in8(f, RBR), 'a');
	CHECK_EQ(in8(f, IIR), 0xcc);
	in8(f, RBR);
	in8(f, RBR);
	in8(f, RBR);
	CHECK_EQ(in8(f, IIR), 0xc1);
	CHECK(!irq_level(f, IRQ_COM1));
	fake_free(f);
}

static void rx_flow_control(void)
{
	struct fake *f = fake_new(true);
	const char *msg = "0123456789abcdefghij";
	unsigned int i;

	/* 16450 mode holds one byte. */
	CHECK_EQ(rx(f, "xy"), 1);
	CHECK_EQ(f->chr.rx_ready_calls, 0);
	CHECK_EQ(in8(f, RBR), 'x');
	CHECK_EQ(f->chr.rx_ready_calls, 1);
	CHECK_EQ(rx(f, "y"), 1);
	CHECK_EQ(in8(f, RBR), 'y');
	CHECK_EQ(f->chr.rx_ready_calls, 1); /* nothing was refused */

	out8(f, FCR, 0x07);
	CHECK_EQ(rx(f, msg), UART_FIFO_LEN);
	for (i = 0; i < UART_FIFO_LEN - 1; i++)
		CHECK_EQ(in8(f, RBR), msg[i]);
	CHECK_EQ(f->chr.rx_ready_calls, 1);
	CHECK_EQ(in8(f, RBR), msg[UART_FIFO_LEN - 1]);
	CHECK_EQ(f->chr.rx_ready_calls, 2);
	CHECK_EQ(in8(f, LSR) & 0x02, 0); /* never an overrun */
	CHECK_EQ(rx(f, msg + UART_FIFO_LEN), 4);
	for (i = UART_FIFO_LEN; i < 20; i++)
		CHECK_EQ(in8(f, RBR), msg[i]);

	/* Loopback disconnects the input; leaving it asks for more. */
	out8(f, MCR, 0x10);
	CHECK_EQ(rx(f, "k"), 0);
	out8(f, MCR, 0x00);
	CHECK_EQ(f->chr.rx_ready_calls, 3);
	CHECK_EQ(rx(f, "k"), 1);
	CHECK_EQ(in8(f, RBR), 'k');
	fake_free(f);
}

static void tx_backpressure(void)
{
	struct fake *f = fake_new(true);
	unsigned int i;

	out8(f, MCR, 0x08);
	set_space(f, 0);
	out8(f, THR, 'a');
	CHECK_EQ(in8(f, LSR) & 0x60, 0); /* THRE and TEMT clear */
	/* A guest ignoring THRE still loses nothing (up to UART_TX_BUF). */
	out8(f, THR, 'b');
	out8(f, THR, 'c');
	out8(f, IER, 0x02);
	CHECK_EQ(in8(f, IIR), 0x01); /* no THRE while held */
	CHECK(!irq_level(f, IRQ_COM1));
	CHECK_EQ(out_len(f), 0);

	/* Room for one: the backend takes 'a', then stalls again. */
	set_space(f, 1);
	f->chr.chr.fe->tx_ready(f->chr.chr.fe_opaque);
	CHECK_EQ(out_len(f), 1);
	CHECK_EQ(in8(f, LSR) & 0x60, 0);
	CHECK(!irq_level(f, IRQ_COM1));

	set_space(f, 100);
	f->chr.chr.fe->tx_ready(f->chr.chr.fe_opaque);
	CHECK_EQ(out_len(f), 3);
	CHECK(!memcmp(f->chr.out, "abc", 3));
	CHECK_EQ(in8(f, LSR) & 0x60, 0x60);
	CHECK(irq_level(f, IRQ_COM1));
	CHECK_EQ(in8(f, IIR), 0x02);
	CHECK(!irq_level(f, IRQ_COM1));

	/* A spurious tx_ready with nothing held does nothing. */
	f->chr.chr.fe->tx_ready(f->chr.chr.fe_opaque);
	CHECK_EQ(in8(f, IIR), 0x01);

	/* FIFO reset does not discard held bytes. */
	set_space(f, 0);
	out8(f, FCR, 0x07);
	for (i = 0; i < 40; i++)
		out8(f, THR, (uint8_t)('A' + i));
	out8(f, FCR, 0x07);
	set_space(f, 1000);
	f->chr.chr.fe->tx_ready(f->chr.chr.fe_opaque);
	CHECK_EQ(out_len(f), 43);
	for (i = 0; i < 40; i++)
		CHECK_EQ(f->chr.out[3 + i], 'A' + i);
	fake_free(f);
}

struct tx_thread_arg {
	struct fake *f;
	unsigned int n;
	bool done;
};

/* A guest that polls THRE before each byte, as Linux's console does. */
static void *tx_guest(void *p)
{
	struct tx_thread_arg *a = p;
	unsigned int i;

	for (i = 0; i < a->n; i++) {
		uint64_t lsr;

		do
			bus_read(&a->f->pio, LSR, 1, &lsr);
		while (!(lsr & 0x20));
		bus_write(&a->f->pio, THR, 1, (uint8_t)i);
	}
	return NULL;
}

static void tx_threaded_no_loss(void)
{
	struct fake *f = fake_new(true);
	struct tx_thread_arg a = { .f = f, .n = 3000 };
	pthread_t t;
	unsigned int i, spins = 0;

	set_space(f, 0);
	pthread_create(&t, NULL, tx_guest, &a);
	/* The backend frees a little room at a time, from its own thread. */
	while (out_len(f) < a.n && spins++ < 10000000) {
		set_space(f, 7);
		f->chr.chr.fe->tx_ready(f->chr.chr.fe_opaque);
	}
	pthread_join(t, NULL);
	CHECK_EQ(out_len(f), a.n);
	for (i = 0; i < a.n && i < out_len(f); i++)
		if (f->chr.out[i] != (uint8_t)i) {
			CHECK_EQ(f->chr.out[i], (uint8_t)i);
			break;
		}
	fake_free(f);
}

static void no_console(void)
{
	struct fake *f = fake_new(false);

	out8(f, THR, 'x');
	CHECK_EQ(in8(f, LSR) & 0x60, 0x60);
	CHECK_EQ(in8(f, RBR), 0);
	fake_free(f);
}

static void odd_widths(void)
{
	struct fake *f = fake_new(true);
	uint64_t v;

	out8(f, SCR, 0x77);
	/* 2-byte read at MSR: MSR, then SCR. */
	CHECK(bus_read(&f->pio, MSR, 2, &v));
	CHECK_EQ(v, 0x77b0);
	/* 4-byte write at the base: THR, IER, FCR, LCR. */
	CHECK(bus_write(&f->pio, PORT_COM1, 4, 0x03c10041));
	CHECK_EQ(out_len(f), 1);
	CHECK_EQ(f->chr.out[0], 0x41);
	CHECK_EQ(in8(f, IIR), 0xc1);
	CHECK_EQ(in8(f, LCR), 0x03);
	/* 8 bytes over the whole range. */
	CHECK(bus_read(&f->pio, PORT_COM1, 8, &v));
	CHECK_EQ(v >> 56, 0x77);
	/* Straddling the end: the bus refuses, the device never sees it. */
	CHECK(!bus_read(&f->pio, PORT_COM1 + 6, 4, &v));
	CHECK(!bus_write(&f->pio, PORT_COM1 + 7, 2, 0));
	/* Garbage in every register does not hurt. */
	for (v = 0; v < 256; v++) {
		uint16_t r;

		for (r = 0; r < 8; r++)
			bus_write(&f->pio, PORT_COM1 + r, 1, v);
	}
	out8(f, LCR, 0x03);
	out8(f, MCR, 0x00);
	CHECK(bus_read(&f->pio, PORT_COM1, 8, &v));
	fake_free(f);
}

TEST_SUITE(uart, TEST_CASE(reset_values), TEST_CASE(scratch_and_ier),
	   TEST_CASE(dlab), TEST_CASE(fifo_identification), TEST_CASE(loopback),
	   TEST_CASE(msr_deltas), TEST_CASE(fifo_overrun),
	   TEST_CASE(fifo_reset), TEST_CASE(thre_interrupt),
	   TEST_CASE(out2_gates_irq), TEST_CASE(rx_interrupt_priority),
	   TEST_CASE(rx_flow_control), TEST_CASE(tx_backpressure),
	   TEST_CASE(tx_threaded_no_loss), TEST_CASE(no_console),
	   TEST_CASE(odd_widths));
