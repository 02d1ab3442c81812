// SPDX-License-Identifier: MIT
/*
 * A 16550A UART at COM1 (ports 0x3f8-0x3ff, IRQ 4), following the National
 * Semiconductor / TI PC16550D datasheet: RBR/THR, IER, IIR/FCR, LCR, MCR,
 * LSR, MSR, SCR and the divisor latch, a 16-byte receive FIFO with trigger
 * levels, loopback, and the four interrupt sources at their datasheet
 * priorities (line status > received data / character timeout > THR empty >
 * modem status). OUT2 gates the interrupt pin, as on PCs; in loopback the
 * pin is off because the datasheet forces OUT2 inactive there.
 *
 * Guest-controlled: every register write, the order of accesses and their
 * width (a wide access is split into byte accesses at consecutive offsets,
 * as an 8-bit ISA device sees it), how fast the guest drains the FIFO.
 *
 * What is modelled differently from silicon, and why:
 *  - Bytes leave at once; there is no baud-rate timing. A byte written to
 *    THR goes to the console backend; if the backend is full the byte is
 *    held (up to UART_TX_BUF bytes) and THRE/TEMT read clear until the
 *    backend's tx_ready() lets it go, then the THRE interrupt is raised. A
 *    held byte counts as already on the wire: an FCR transmit-FIFO reset
 *    does not discard it (the datasheet leaves the shift register alone
 *    too), so console output is never lost to a guest's FIFO reset.
 *  - The character timeout interrupt (IIR 0x0c) fires as soon as the FIFO
 *    holds fewer bytes than the trigger level, instead of after four
 *    character times: input arrives in host-sized bursts and waiting buys
 *    nothing.
 *  - Host input is flow-controlled, never dropped: receive() takes only what
 *    fits (1 byte in 16450 mode, 16 with the FIFO on, none in loopback,
 *    where the datasheet disconnects the serial input). When the guest has
 *    emptied the FIFO, chardev_rx_ready() restarts the backend. Overrun (OE)
 *    can therefore only happen in loopback.
 *  - Modem inputs: CTS, DSR and DCD read asserted outside loopback, as with
 *    a null-modem cable to a ready terminal (Linux's 8250 driver wants
 *    that); in loopback they follow RTS, DTR, OUT1 and OUT2.
 *  - The THRE interrupt is re-armed when a write to IER turns ETBEI on while
 *    the transmitter is empty (the 0 -> 1 edge), which is what Linux's 8250
 *    driver relies on (its UART_BUG_TXEN/THRE probes) and what 16550s do.
 *
 * Locking. All state is under u->lock, taken by vCPU threads (bus
 * callbacks) and by the console backend's thread (receive, tx_ready). The
 * lock is never held while calling into the backend (chardev_write,
 * chardev_rx_ready), so the backend may call receive()/tx_ready() from
 * anywhere, including from inside those calls. irq_set() is called with
 * the lock held so that the level the irqchip sees is always the last one
 * computed; this is safe because the irqchip never calls back into a
 * device. Lock order: backend locks -> u->lock -> irqchip. Only one thread
 * at a time pushes held bytes to the backend (tx_flushing), so bytes keep
 * their order when vCPUs write THR concurrently.
 */
#include "devices/uart16550.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "backends/chardev.h"
#include "bus/bus.h"
#include "config/config.h"
#include "util/log.h"

/* Register offsets. */
#define REG_RBR 0 /* read, DLAB=0; THR on write; DLL with DLAB=1 */
#define REG_IER 1 /* DLM with DLAB=1 */
#define REG_IIR 2 /* read; FCR on write */
#define REG_LCR 3
#define REG_MCR 4
#define REG_LSR 5
#define REG_MSR 6
#define REG_SCR 7

#define IER_ERBFI 0x01 /* received data available */
#define IER_ETBEI 0x02 /* transmitter holding register empty */
#define IER_ELSI 0x04 /* receiver line status */
#define IER_EDSSI 0x08 /* modem status */
#define IER_MASK 0x0f

#define IIR_NO_INT 0x01
#define IIR_MSI 0x00
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_RLSI 0x06
#define IIR_TIMEOUT 0x0c
#define IIR_FIFO_ON 0xc0

#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04
#define FCR_DMA 0x08
#define FCR_TRIGGER 0xc0

#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_DELTA 0x0f
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

/* Work to do after dropping the lock. */
#define AFTER_FLUSH 0x1u
#define AFTER_RX_READY 0x2u

struct uart {
	pthread_mutex_t lock;
	bool lock_ok;
	struct irq_line irq;
	struct chardev *chr; /* NULL: no console, output is discarded */
	bool attached;

	uint8_t ier, lcr, mcr, scr, dll, dlm;
	uint8_t fcr; /* FCR_ENABLE, FCR_DMA, FCR_TRIGGER as last programmed */
	uint8_t msr; /* modem inputs in bits 7-4, deltas in bits 3-0 */
	bool oe;
	bool thri_pending;
	bool irq_level;

	uint8_t rx[UART_FIFO_LEN];
	unsigned int rx_head, rx_count;
	bool rx_wanted; /* receive() came up short: owe the backend rx_ready */

	uint8_t tx[UART_TX_BUF];
	unsigned int tx_head, tx_count;
	bool tx_flushing; /* one thread is pushing tx[] to the backend */
	bool tx_again; /* tx_ready() arrived while it was */
};

static bool fifo_on(const struct uart *u)
{
	return u->fcr & FCR_ENABLE;
}

static unsigned int rx_capacity(const struct uart *u)
{
	return fifo_on(u) ? UART_FIFO_LEN : 1;
}

static unsigned int rx_trigger(const struct uart *u)
{
	static const unsigned int levels[4] = { 1, 4, 8, 14 };

	return fifo_on(u) ? levels[(u->fcr & FCR_TRIGGER) >> 6] : 1;
}

static void rx_push(struct uart *u, uint8_t b)
{
	u->rx[(u->rx_head + u->rx_count) % UART_FIFO_LEN] = b;
	u->rx_count++;
}

static uint8_t rx_pop(struct uart *u)
{
	uint8_t b = u->rx[u->rx_head];

	u->rx_head = (u->rx_head + 1) % UART_FIFO_LEN;
	u->rx_count--;
	return b;
}

static void rx_clear(struct uart *u)
{
	u->rx_head = 0;
	u->rx_count = 0;
}

/* The backend is owed an rx_ready() once the guest has emptied the FIFO. */
static unsigned int rx_maybe_ready(struct uart *u)
{
	if (!u->rx_wanted || u->rx_count || (u->mcr & MCR_LOOP))
		return 0;
	u->rx_wanted = false;
	return AFTER_RX_READY;
}

/* The highest-priority pending interrupt, as IIR bits 3-0. */
static uint8_t pending_id(const struct uart *u)
{
	if ((u->ier & IER_ELSI) && u->oe)
		return IIR_RLSI;
	if ((u->ier & IER_ERBFI) && u->rx_count)
		return u->rx_count >= rx_trigger(u) ? IIR_RDI : IIR_TIMEOUT;
	if ((u->ier & IER_ETBEI) && u->thri_pending)
		return IIR_THRI;
	if ((u->ier & IER_EDSSI) && (u->msr & MSR_DELTA))
		return IIR_MSI;
	return IIR_NO_INT;
}

static void update_irq(struct uart *u)
{
	bool level = pending_id(u) != IIR_NO_INT && (u->mcr & MCR_OUT2) &&
		     !(u->mcr & MCR_LOOP);

	if (level != u->irq_level) {
		u->irq_level = level;
		irq_set(&u->irq, level);
	}
}

static uint8_t modem_inputs(const struct uart *u)
{
	uint8_t in = 0;

	if (!(u->mcr & MCR_LOOP))
		return MSR_CTS | MSR_DSR | MSR_DCD;
	if (u->mcr & MCR_RTS)
		in |= MSR_CTS;
	if (u->mcr & MCR_DTR)
		in |= MSR_DSR;
	if (u->mcr & MCR_OUT1)
		in |= MSR_RI;
	if (u->mcr & MCR_OUT2)
		in |= MSR_DCD;
	return in;
}

static void set_modem_inputs(struct uart *u, uint8_t in)
{
	uint8_t old = u->msr & 0xf0, changed = old ^ in;
	uint8_t delta = u->msr & MSR_DELTA;

	if (changed & MSR_CTS)
		delta |= MSR_DCTS;
	if (changed & MSR_DSR)
		delta |= MSR_DDSR;
	if (changed & MSR_DCD)
		delta |= MSR_DDCD;
	if ((old & MSR_RI) && !(in & MSR_RI)) /* trailing edge only */
		delta |= MSR_TERI;
	u->msr = (uint8_t)(in | delta);
}

/* Loopback: the transmitted byte arrives at the receiver. */
static void loop_receive(struct uart *u, uint8_t b)
{
	if (u->rx_count < rx_capacity(u)) {
		rx_push(u, b);
		return;
	}
	u->oe = true;
	/*
	 * 16450 mode: the new character overwrites the unread one. FIFO mode:
	 * the character in the shift register is lost and the FIFO is kept.
	 */
	if (!fifo_on(u))
		u->rx[u->rx_head] = b;
}

static unsigned int transmit(struct uart *u, uint8_t b)
{
	u->thri_pending = false;
	if (u->mcr & MCR_LOOP) {
		loop_receive(u, b);
		u->thri_pending = true;
		return 0;
	}
	if (!u->chr) {
		u->thri_pending = true;
		return 0;
	}
	if (u->tx_count == UART_TX_BUF) {
		log_guest("uart16550: THR written while the transmitter was "
			  "full; byte 0x%02x dropped",
			  b);
		return AFTER_FLUSH;
	}
	u->tx[(u->tx_head + u->tx_count) % UART_TX_BUF] = b;
	u->tx_count++;
	return AFTER_FLUSH;
}

static unsigned int write_ier(struct uart *u, uint8_t v)
{
	v &= IER_MASK;
	if ((v & IER_ETBEI) && !(u->ier & IER_ETBEI) && !u->tx_count)
		u->thri_pending = true;
	u->ier = v;
	return 0;
}

static unsigned int write_fcr(struct uart *u, uint8_t v)
{
	bool was_on = fifo_on(u);

	/* FCR bits other than FCR0 are only programmed while FCR0 is 1. */
	if (!(v & FCR_ENABLE)) {
		u->fcr = 0;
		if (was_on)
			rx_clear(u);
		return rx_maybe_ready(u);
	}
	u->fcr = v & (FCR_ENABLE | FCR_DMA | FCR_TRIGGER);
	if (!was_on || (v & FCR_CLEAR_RX))
		rx_clear(u);
	/*
	 * FCR_CLEAR_TX: held bytes are already on the wire (see above), so
	 * there is nothing to discard.
	 */
	return rx_maybe_ready(u);
}

static unsigned int write_mcr(struct uart *u, uint8_t v)
{
	u->mcr = v & MCR_MASK;
	set_modem_inputs(u, modem_inputs(u));
	return rx_maybe_ready(u);
}

static unsigned int write_reg(struct uart *u, unsigned int reg, uint8_t v)
{
	bool dlab = u->lcr & LCR_DLAB;

	switch (reg) {
	case REG_RBR:
		if (dlab) {
			u->dll = v;
			return 0;
		}
		return transmit(u, v);
	case REG_IER:
		if (dlab) {
			u->dlm = v;
			return 0;
		}
		return write_ier(u, v);
	case REG_IIR:
		return write_fcr(u, v);
	case REG_LCR:
		u->lcr = v;
		return 0;
	case REG_MCR:
		return write_mcr(u, v);
	case REG_SCR:
		u->scr = v;
		return 0;
	default:
		/* LSR and MSR: factory test on silicon, ignored here. */
		return 0;
	}
}

static uint8_t read_lsr(struct uart *u)
{
	uint8_t lsr = 0;

	if (u->rx_count)
		lsr |= LSR_DR;
	if (u->oe)
		lsr |= LSR_OE;
	if (!u->tx_count)
		lsr |= LSR_THRE | LSR_TEMT;
	u->oe = false;
	return lsr;
}

static uint8_t read_reg(struct uart *u, unsigned int reg, unsigned int *after)
{
	bool dlab = u->lcr & LCR_DLAB;
	uint8_t v;

	switch (reg) {
	case REG_RBR:
		if (dlab)
			return u->dll;
		if (!u->rx_count)
			return 0;
		v = rx_pop(u);
		*after |= rx_maybe_ready(u);
		return v;
	case REG_IER:
		return dlab ? u->dlm : u->ier;
	case REG_IIR:
		v = pending_id(u);
		if (v == IIR_THRI)
			u->thri_pending = false;
		return fifo_on(u) ? (uint8_t)(v | IIR_FIFO_ON) : v;
	case REG_LCR:
		return u->lcr;
	case REG_MCR:
		return u->mcr;
	case REG_LSR:
		return read_lsr(u);
	case REG_MSR:
		v = u->msr;
		u->msr &= (uint8_t)~MSR_DELTA;
		return v;
	case REG_SCR:
		return u->scr;
	default:
		return 0xff;
	}
}

/*
 * Push held bytes to the backend. Called without u->lock; takes it, and drops
 * it around each chardev_write().
 */
static void tx_flush(struct uart *u)
{
	uint8_t buf[256];
	bool had_bytes;

	pthread_mutex_lock(&u->lock);
	if (u->tx_flushing) {
		/* The flushing thread will retry before it gives up. */
		u->tx_again = true;
		pthread_mutex_unlock(&u->lock);
		return;
	}
	u->tx_flushing = true;
	had_bytes = u->tx_count;
	while (u->tx_count) {
		size_t n = u->tx_count, done;

		if (n > UART_TX_BUF - u->tx_head)
			n = UART_TX_BUF - u->tx_head;
		if (n > sizeof(buf))
			n = sizeof(buf);
		memcpy(buf, &u->tx[u->tx_head], n);
		u->tx_again = false;
		pthread_mutex_unlock(&u->lock);
		done = chardev_write(u->chr, buf, n);
		pthread_mutex_lock(&u->lock);
		if (done > n)
			done = n;
		u->tx_head = (unsigned int)((u->tx_head + done) % UART_TX_BUF);
		u->tx_count -= (unsigned int)done;
		/* Short write: wait for tx_ready(), unless it came already. */
		if (done < n && !u->tx_again)
			break;
	}
	u->tx_flushing = false;
	if (had_bytes && !u->tx_count)
		u->thri_pending = true;
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

static void run_after(struct uart *u, unsigned int after)
{
	if ((after & AFTER_RX_READY) && u->chr)
		chardev_rx_ready(u->chr);
	if (after & AFTER_FLUSH)
		tx_flush(u);
}

static uint64_t uart_pio_read(void *opaque, uint64_t offset, unsigned int size)
{
	struct uart *u = opaque;
	unsigned int after = 0, i;
	uint64_t v = 0;

	pthread_mutex_lock(&u->lock);
	for (i = 0; i < size && i < 8; i++) {
		uint64_t reg = offset + i;
		uint8_t b = 0xff;

		if (reg < UART_NR_PORTS)
			b = read_reg(u, (unsigned int)reg, &after);
		v |= (uint64_t)b << (8 * i);
	}
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	run_after(u, after);
	return v;
}

static void uart_pio_write(void *opaque, uint64_t offset, unsigned int size,
			   uint64_t value)
{
	struct uart *u = opaque;
	unsigned int after = 0, i;

	pthread_mutex_lock(&u->lock);
	for (i = 0; i < size && i < 8; i++) {
		uint64_t reg = offset + i;

		if (reg < UART_NR_PORTS)
			after |= write_reg(u, (unsigned int)reg,
					   (uint8_t)(value >> (8 * i)));
	}
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	run_after(u, after);
}

/* Backend thread: host input. */
static size_t uart_receive(void *opaque, const uint8_t *buf, size_t len)
{
	struct uart *u = opaque;
	size_t taken = 0;

	pthread_mutex_lock(&u->lock);
	if (!(u->mcr & MCR_LOOP)) {
		while (taken < len && u->rx_count < rx_capacity(u))
			rx_push(u, buf[taken++]);
	}
	if (taken < len)
		u->rx_wanted = true;
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return taken;
}

/* Backend thread: room for output again. */
static void uart_tx_ready(void *opaque)
{
	tx_flush(opaque);
}

static const struct chardev_frontend uart_frontend = {
	.receive = uart_receive,
	.tx_ready = uart_tx_ready,
};

static const struct bus_ops uart_pio_ops = {
	.read = uart_pio_read,
	.write = uart_pio_write,
};

static int uart16550_realize(void *state, const struct device_host *host)
{
	struct uart *u = state;
	int rc;

	memset(u, 0, sizeof(*u));
	u->irq = device_irq(host, IRQ_COM1);
	/*
	 * With --console virtio the terminal belongs to virtio-console: the
	 * UART stays (guests probe it) but its output is discarded and it
	 * gets no input.
	 */
	u->chr = host->cfg && host->cfg->console == CONSOLE_VIRTIO ?
			 NULL :
			 host->console;
	u->dll = 0x01; /* 115200 baud; guests program their own */
	u->msr = modem_inputs(u);
	rc = pthread_mutex_init(&u->lock, NULL);
	if (rc)
		return -rc;
	u->lock_ok = true;
	irq_set(&u->irq, false);
	rc = bus_register(host->pio, PORT_COM1, UART_NR_PORTS, &uart_pio_ops, u,
			  "uart16550");
	if (rc)
		goto out_lock;
	if (u->chr) {
		chardev_attach(u->chr, &uart_frontend, u);
		u->attached = true;
	}
	return 0;

out_lock:
	pthread_mutex_destroy(&u->lock);
	u->lock_ok = false;
	return rc;
}

/*
 * Detaching takes the backend's fe_lock, so it waits for a receive() or
 * tx_ready() in progress; after it no callback can reach this state. The
 * backend must outlive the device.
 */
static void uart16550_unrealize(void *state)
{
	struct uart *u = state;

	if (u->attached) {
		chardev_attach(u->chr, NULL, NULL);
		u->attached = false;
	}
	if (u->lock_ok) {
		pthread_mutex_destroy(&u->lock);
		u->lock_ok = false;
	}
}

const struct device_type uart16550_type = {
	.name = "uart16550",
	.state_size = sizeof(struct uart),
	.realize = uart16550_realize,
	.unrealize = uart16550_unrealize,
};
