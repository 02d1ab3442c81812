// SPDX-License-Identifier: MIT
/*
 * 16550A UART through the port-I/O bus, with a fake irqchip and a fake
 * console backend whose buffer can be filled to test backpressure.
 */
#include "unit/test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "arch/x86_64/layout.h"
#include "bus/bus.h"
#include "devices/uart16550.h"
#include "unit/fake.h"

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

static struct fake_vm *fake_new(bool console)
{
	struct fake_vm *f = fake_vm_new(NULL);

	if (!console)
		f->host.console = NULL;
	fake_vm_realize(f, &uart16550_type);
	return f;
}

static void reset_values(void)
{
	struct fake_vm *f = fake_new(true);

	CHECK(f->console.chr.fe != NULL);
	CHECK_EQ(fake_in8(f, IER), 0);
	CHECK_EQ(fake_in8(f, IIR), 0x01);
	CHECK_EQ(fake_in8(f, LCR), 0);
	CHECK_EQ(fake_in8(f, MCR), 0);
	CHECK_EQ(fake_in8(f, LSR), 0x60);
	CHECK_EQ(fake_in8(f, MSR), 0xb0); /* CTS, DSR, DCD; no deltas */
	CHECK(!fake_irq_level(f, IRQ_COM1));
	fake_vm_free(f);
}

static void scratch_and_ier(void)
{
	struct fake_vm *f = fake_new(true);

	fake_out8(f, SCR, 0x5a);
	CHECK_EQ(fake_in8(f, SCR), 0x5a);
	/* Linux's 8250 probe: IER has 4 writable bits. */
	fake_out8(f, IER, 0);
	CHECK_EQ(fake_in8(f, IER), 0);
	fake_out8(f, IER, 0xff);
	CHECK_EQ(fake_in8(f, IER), 0x0f);
	fake_out8(f, IER, 0x40); /* XScale UUE bit: not a 16550A bit */
	CHECK_EQ(fake_in8(f, IER), 0);
	fake_vm_free(f);
}

static void dlab(void)
{
	struct fake_vm *f = fake_new(true);

	fake_out8(f, LCR, 0x83);
	fake_out8(f, DLL, 0x0c);
	fake_out8(f, DLM, 0x01);
	CHECK_EQ(fake_in8(f, DLL), 0x0c);
	CHECK_EQ(fake_in8(f, DLM), 0x01);
	CHECK_EQ(fake_console_out_len(f), 0); /* THR not written */
	CHECK_EQ(fake_in8(f, LCR), 0x83);
	fake_out8(f, LCR, 0x03);
	CHECK_EQ(fake_in8(f, IER), 0);
	fake_out8(f, THR, 'x');
	CHECK_EQ(fake_console_out_len(f), 1);
	CHECK_EQ(f->console.out[0], 'x');
	fake_out8(f, LCR, 0x83);
	CHECK_EQ(fake_in8(f, DLL), 0x0c); /* kept */
	fake_vm_free(f);
}

static void fifo_identification(void)
{
	struct fake_vm *f = fake_new(true);

	fake_out8(f, FCR, 0x01);
	CHECK_EQ(fake_in8(f, IIR) & 0xc0, 0xc0); /* Linux: 16550A */
	fake_out8(f, FCR, 0xe7);
	CHECK_EQ(fake_in8(f, IIR), 0xc1); /* no 64-byte FIFO bit */
	fake_out8(f, FCR, 0x00);
	CHECK_EQ(fake_in8(f, IIR), 0x01);
	fake_vm_free(f);
}

static void loopback(void)
{
	struct fake_vm *f = fake_new(true);

	/* Linux's probe: MSR & 0xf0 == 0x90 with MCR = LOOP | OUT2 | RTS. */
	fake_out8(f, MCR, 0x1a);
	CHECK_EQ(fake_in8(f, MSR) & 0xf0, 0x90);
	fake_out8(f, MCR, 0x1f);
	CHECK_EQ(fake_in8(f, MSR) & 0xf0, 0xf0);
	fake_out8(f, THR, 'L');
	CHECK_EQ(fake_console_out_len(f), 0);
	CHECK_EQ(fake_in8(f, LSR) & 0x61, 0x61);
	CHECK_EQ(fake_in8(f, RBR), 'L');
	CHECK_EQ(fake_in8(f, LSR) & 0x01, 0);
	/* In loopback the pin is off even with OUT2 and an interrupt. */
	fake_out8(f, IER, 0x01);
	fake_out8(f, THR, 'M');
	CHECK_EQ(fake_in8(f, IIR), 0x04);
	CHECK(!fake_irq_level(f, IRQ_COM1));
	CHECK_EQ(fake_in8(f, RBR), 'M');
	fake_out8(f, IER, 0);
	/* Back to normal: output goes to the backend again. */
	fake_out8(f, MCR, 0x0b);
	CHECK_EQ(fake_in8(f, MSR) & 0xf0, 0xb0);
	fake_out8(f, THR, 'N');
	CHECK_EQ(fake_console_out_len(f), 1);
	CHECK_EQ(f->console.out[0], 'N');
	fake_vm_free(f);
}

static void msr_deltas(void)
{
	struct fake_vm *f = fake_new(true);

	fake_out8(f, MCR, 0x10); /* loopback, all outputs off */
	fake_in8(f, MSR);
	fake_out8(f, MCR, 0x11); /* DTR -> DSR */
	CHECK_EQ(fake_in8(f, MSR), 0x22); /* DSR, DDSR */
	CHECK_EQ(fake_in8(f, MSR), 0x20); /* deltas cleared by the read */
	fake_out8(f, MCR, 0x14); /* OUT1 -> RI; DTR off */
	CHECK_EQ(fake_in8(f, MSR), 0x42); /* RI, DDSR; no TERI on the rise */
	fake_out8(f, MCR, 0x10);
	CHECK_EQ(fake_in8(f, MSR), 0x04); /* TERI on RI's trailing edge */
	/* Modem status interrupt, lowest priority, id 0. */
	fake_out8(f, IER, 0x08);
	fake_out8(f, MCR, 0x12);
	CHECK_EQ(fake_in8(f, IIR), 0x00);
	fake_in8(f, MSR);
	CHECK_EQ(fake_in8(f, IIR), 0x01);
	fake_vm_free(f);
}

static void fifo_overrun(void)
{
	struct fake_vm *f = fake_new(true);
	unsigned int i;

	fake_out8(f, FCR, 0x07);
	fake_out8(f, MCR, 0x10);
	for (i = 0; i < UART_FIFO_LEN + 1; i++)
		fake_out8(f, THR, (uint8_t)('a' + i));
	CHECK_EQ(fake_in8(f, LSR) & 0x03, 0x03);
	CHECK_EQ(fake_in8(f, LSR) & 0x03, 0x01); /* OE cleared by reading LSR */
	for (i = 0; i < UART_FIFO_LEN; i++)
		CHECK_EQ(fake_in8(f, RBR), 'a' + i);
	CHECK_EQ(fake_in8(f, LSR) & 0x01, 0);

	/* 16450 mode: one byte; the next one overwrites it. */
	fake_out8(f, FCR, 0x00);
	fake_out8(f, THR, '1');
	fake_out8(f, THR, '2');
	CHECK_EQ(fake_in8(f, LSR) & 0x03, 0x03);
	CHECK_EQ(fake_in8(f, RBR), '2');

	/* Line status interrupt outranks received data. */
	fake_out8(f, IER, 0x05);
	fake_out8(f, THR, '3');
	fake_out8(f, THR, '4');
	CHECK_EQ(fake_in8(f, IIR), 0x06);
	fake_in8(f, LSR);
	CHECK_EQ(fake_in8(f, IIR), 0x04);
	fake_vm_free(f);
}

static void fifo_reset(void)
{
	struct fake_vm *f = fake_new(true);

	fake_out8(f, FCR, 0x01);
	CHECK_EQ(fake_console_rx(f, "abc"), 3);
	fake_out8(f, FCR, 0x03);
	CHECK_EQ(fake_in8(f, LSR) & 0x01, 0);
	CHECK_EQ(fake_console_rx(f, "d"), 1);
	fake_out8(f, FCR, 0x00); /* turning the FIFO off clears it too */
	CHECK_EQ(fake_in8(f, LSR) & 0x01, 0);
	fake_vm_free(f);
}

static void thre_interrupt(void)
{
	struct fake_vm *f = fake_new(true);
	unsigned int rises;

	fake_out8(f, MCR, 0x08); /* OUT2 */
	fake_out8(f, IER, 0x02);
	CHECK_EQ(fake_in8(f, IIR), 0x02);
	/* The IIR read cleared it. */
	CHECK_EQ(fake_in8(f, IIR), 0x01);
	CHECK(!fake_irq_level(f, IRQ_COM1));
	/* Re-armed when ETBEI goes 0 -> 1 with THR empty. */
	fake_out8(f, IER, 0x00);
	fake_out8(f, IER, 0x02);
	CHECK(fake_irq_level(f, IRQ_COM1));
	CHECK_EQ(fake_in8(f, IIR), 0x02);
	CHECK(!fake_irq_level(f, IRQ_COM1));
	/* A THR write empties at once and raises THRE again: an edge. */
	rises = fake_irq_rises(f, IRQ_COM1);
	fake_out8(f, THR, 'z');
	CHECK(fake_irq_level(f, IRQ_COM1));
	CHECK_EQ(fake_irq_rises(f, IRQ_COM1), rises + 1);
	/* Writing THR clears the pending THRE before re-raising it. */
	fake_out8(f, IER, 0x00);
	CHECK(!fake_irq_level(f, IRQ_COM1));
	fake_vm_free(f);
}

static void out2_gates_irq(void)
{
	struct fake_vm *f = fake_new(true);

	fake_out8(f, IER, 0x01);
	CHECK_EQ(fake_console_rx(f, "x"), 1);
	CHECK_EQ(fake_in8(f, IIR), 0x04);
	CHECK(!fake_irq_level(f, IRQ_COM1));
	fake_out8(f, MCR, 0x08);
	CHECK(fake_irq_level(f, IRQ_COM1));
	fake_out8(f, MCR, 0x00);
	CHECK(!fake_irq_level(f, IRQ_COM1));
	fake_out8(f, MCR, 0x08);
	CHECK_EQ(fake_in8(f, RBR), 'x');
	CHECK(!fake_irq_level(f, IRQ_COM1));
	fake_vm_free(f);
}

static void rx_interrupt_priority(void)
{
	struct fake_vm *f = fake_new(true);

	fake_out8(f, MCR, 0x08);
	fake_out8(f, IER, 0x03);
	CHECK_EQ(fake_console_rx(f, "q"), 1);
	CHECK(fake_irq_level(f, IRQ_COM1));
	CHECK_EQ(fake_in8(f, IIR), 0x04); /* data outranks THRE */
	CHECK_EQ(fake_in8(f, RBR), 'q');
	CHECK_EQ(fake_in8(f, IIR), 0x02);
	CHECK_EQ(fake_in8(f, IIR), 0x01);
	CHECK(!fake_irq_level(f, IRQ_COM1));

	/* FIFO, trigger level 4: below it, a character timeout. */
	fake_out8(f, FCR, 0x41);
	CHECK_EQ(fake_console_rx(f, "ab"), 2);
	CHECK_EQ(fake_in8(f, IIR), 0xcc);
	CHECK_EQ(fake_console_rx(f, "cd"), 2);
	CHECK_EQ(fake_in8(f, IIR), 0xc4);
	CHECK_EQ(fake_in8(f, RBR), 'a');
	CHECK_EQ(fake_in8(f, IIR), 0xcc);
	fake_in8(f, RBR);
	fake_in8(f, RBR);
	fake_in8(f, RBR);
	CHECK_EQ(fake_in8(f, IIR), 0xc1);
	CHECK(!fake_irq_level(f, IRQ_COM1));
	fake_vm_free(f);
}

static void rx_flow_control(void)
{
	struct fake_vm *f = fake_new(true);
	const char *msg = "0123456789abcdefghij";
	unsigned int i;

	/* 16450 mode holds one byte. */
	CHECK_EQ(fake_console_rx(f, "xy"), 1);
	CHECK_EQ(f->console.rx_ready_calls, 0);
	CHECK_EQ(fake_in8(f, RBR), 'x');
	CHECK_EQ(f->console.rx_ready_calls, 1);
	CHECK_EQ(fake_console_rx(f, "y"), 1);
	CHECK_EQ(fake_in8(f, RBR), 'y');
	CHECK_EQ(f->console.rx_ready_calls, 1); /* nothing was refused */

	fake_out8(f, FCR, 0x07);
	CHECK_EQ(fake_console_rx(f, msg), UART_FIFO_LEN);
	for (i = 0; i < UART_FIFO_LEN - 1; i++)
		CHECK_EQ(fake_in8(f, RBR), msg[i]);
	CHECK_EQ(f->console.rx_ready_calls, 1);
	CHECK_EQ(fake_in8(f, RBR), msg[UART_FIFO_LEN - 1]);
	CHECK_EQ(f->console.rx_ready_calls, 2);
	CHECK_EQ(fake_in8(f, LSR) & 0x02, 0); /* never an overrun */
	CHECK_EQ(fake_console_rx(f, msg + UART_FIFO_LEN), 4);
	for (i = UART_FIFO_LEN; i < 20; i++)
		CHECK_EQ(fake_in8(f, RBR), msg[i]);

	/* Loopback disconnects the input; leaving it asks for more. */
	fake_out8(f, MCR, 0x10);
	CHECK_EQ(fake_console_rx(f, "k"), 0);
	fake_out8(f, MCR, 0x00);
	CHECK_EQ(f->console.rx_ready_calls, 3);
	CHECK_EQ(fake_console_rx(f, "k"), 1);
	CHECK_EQ(fake_in8(f, RBR), 'k');
	fake_vm_free(f);
}

static void tx_backpressure(void)
{
	struct fake_vm *f = fake_new(true);
	unsigned int i;

	fake_out8(f, MCR, 0x08);
	fake_console_space(f, 0);
	fake_out8(f, THR, 'a');
	CHECK_EQ(fake_in8(f, LSR) & 0x60, 0); /* THRE and TEMT clear */
	/* A guest ignoring THRE still loses nothing (up to UART_TX_BUF). */
	fake_out8(f, THR, 'b');
	fake_out8(f, THR, 'c');
	fake_out8(f, IER, 0x02);
	CHECK_EQ(fake_in8(f, IIR), 0x01); /* no THRE while held */
	CHECK(!fake_irq_level(f, IRQ_COM1));
	CHECK_EQ(fake_console_out_len(f), 0);

	/* Room for one: the backend takes 'a', then stalls again. */
	fake_console_space(f, 1);
	fake_console_tx_ready(f);
	CHECK_EQ(fake_console_out_len(f), 1);
	CHECK_EQ(fake_in8(f, LSR) & 0x60, 0);
	CHECK(!fake_irq_level(f, IRQ_COM1));

	fake_console_space(f, 100);
	fake_console_tx_ready(f);
	CHECK_EQ(fake_console_out_len(f), 3);
	CHECK(!memcmp(f->console.out, "abc", 3));
	CHECK_EQ(fake_in8(f, LSR) & 0x60, 0x60);
	CHECK(fake_irq_level(f, IRQ_COM1));
	CHECK_EQ(fake_in8(f, IIR), 0x02);
	CHECK(!fake_irq_level(f, IRQ_COM1));

	/* A spurious tx_ready with nothing held does nothing. */
	fake_console_tx_ready(f);
	CHECK_EQ(fake_in8(f, IIR), 0x01);

	/* FIFO reset does not discard held bytes. */
	fake_console_space(f, 0);
	fake_out8(f, FCR, 0x07);
	for (i = 0; i < 40; i++)
		fake_out8(f, THR, (uint8_t)('A' + i));
	fake_out8(f, FCR, 0x07);
	fake_console_space(f, 1000);
	fake_console_tx_ready(f);
	CHECK_EQ(fake_console_out_len(f), 43);
	for (i = 0; i < 40; i++)
		CHECK_EQ(f->console.out[3 + i], 'A' + i);
	fake_vm_free(f);
}

struct tx_thread_arg {
	struct fake_vm *f;
	unsigned int n;
	bool done;
	atomic_bool give_up; /* the test is failing: stop polling */
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
		while (!(lsr & 0x20) && !atomic_load(&a->give_up));
		bus_write(&a->f->pio, THR, 1, (uint8_t)i);
	}
	return NULL;
}

static void tx_threaded_no_loss(void)
{
	struct fake_vm *f = fake_new(true);
	struct tx_thread_arg a = { .f = f, .n = 3000 };
	pthread_t t;
	unsigned int i;
	time_t give_up = time(NULL) + 120; /* only so a bug cannot hang us */

	fake_console_space(f, 0);
	pthread_create(&t, NULL, tx_guest, &a);
	/* The backend frees a little room at a time, from its own thread. */
	while (fake_console_out_len(f) < a.n && time(NULL) < give_up) {
		fake_console_space(f, 7);
		fake_console_tx_ready(f);
	}
	atomic_store(&a.give_up, true);
	pthread_join(t, NULL);
	CHECK_EQ(fake_console_out_len(f), a.n);
	for (i = 0; i < a.n && i < fake_console_out_len(f); i++)
		if (f->console.out[i] != (uint8_t)i) {
			CHECK_EQ(f->console.out[i], (uint8_t)i);
			break;
		}
	fake_vm_free(f);
}

static void no_console(void)
{
	struct fake_vm *f = fake_new(false);

	fake_out8(f, THR, 'x');
	CHECK_EQ(fake_in8(f, LSR) & 0x60, 0x60);
	CHECK_EQ(fake_in8(f, RBR), 0);
	fake_vm_free(f);
}

static void odd_widths(void)
{
	struct fake_vm *f = fake_new(true);
	uint64_t v;

	fake_out8(f, SCR, 0x77);
	/* 2-byte read at MSR: MSR, then SCR. */
	CHECK(bus_read(&f->pio, MSR, 2, &v));
	CHECK_EQ(v, 0x77b0);
	/* 4-byte write at the base: THR, IER, FCR, LCR. */
	CHECK(bus_write(&f->pio, PORT_COM1, 4, 0x03c10041));
	CHECK_EQ(fake_console_out_len(f), 1);
	CHECK_EQ(f->console.out[0], 0x41);
	CHECK_EQ(fake_in8(f, IIR), 0xc1);
	CHECK_EQ(fake_in8(f, LCR), 0x03);
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
	fake_out8(f, LCR, 0x03);
	fake_out8(f, MCR, 0x00);
	CHECK(bus_read(&f->pio, PORT_COM1, 8, &v));
	fake_vm_free(f);
}

TEST_SUITE(uart, TEST_CASE(reset_values), TEST_CASE(scratch_and_ier),
	   TEST_CASE(dlab), TEST_CASE(fifo_identification), TEST_CASE(loopback),
	   TEST_CASE(msr_deltas), TEST_CASE(fifo_overrun),
	   TEST_CASE(fifo_reset), TEST_CASE(thre_interrupt),
	   TEST_CASE(out2_gates_irq), TEST_CASE(rx_interrupt_priority),
	   TEST_CASE(rx_flow_control), TEST_CASE(tx_backpressure),
	   TEST_CASE(tx_threaded_no_loss), TEST_CASE(no_console),
	   TEST_CASE(odd_widths));
