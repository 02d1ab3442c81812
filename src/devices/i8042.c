// SPDX-License-Identifier: MIT
/*
 * An 8042 PS/2 controller at ports 0x60 (data) and 0x64 (status/command),
 * after the IBM PC AT / PS/2 technical references for the keyboard
 * controller: status register, the controller's 32 bytes of RAM (byte 0 is
 * the configuration byte: IRQ 1 / IRQ 12 enables, system flag, port
 * disables, translation), self test (0xAA -> 0x55), interface tests
 * (0xAB, 0xA9 -> 0x00), port enable/disable (0xA7/0xA8/0xAD/0xAE), output
 * port read/write (0xD0/0xD1; bit 0 clear resets the machine), write to
 * the keyboard/aux output buffer (0xD2/0xD3), write to the aux device
 * (0xD4) and the pulse-output-line commands 0xF0-0xFF (0xFE pulses reset).
 *
 * No keyboard or mouse is attached. A byte sent to either device gets what a
 * controller reports when nothing answers: 0xFE in the output buffer with
 * the timeout bit (status bit 6) set. Linux's atkbd/psmouse take that as a
 * NAK and give up at once instead of waiting out their timeouts.
 *
 * Commands complete synchronously, so the input-buffer-full bit (status
 * bit 1) always reads 0: Linux's reboot=k path polls it before writing 0xFE.
 *
 * Guest-controlled: every byte written to either port, the order, and how
 * fast responses are read. A guest that queues more than I8042_QUEUE_LEN
 * responses without reading them loses the excess (logged).
 *
 * Interrupts: IRQ 1 is high while the byte at the head of the output queue
 * came from the keyboard side (or the controller) and config bit 0 is set;
 * IRQ 12 likewise for aux bytes and config bit 1. After each read of port
 * 0x60 the line is dropped and raised again if more bytes wait, so an
 * edge-triggered IOAPIC pin sees one edge per byte, as Linux's handler
 * (one byte per interrupt) expects.
 *
 * Locking: s->lock covers all state; irq_set() is called under it (the
 * irqchip never calls back), vm_ctl_request() after dropping it.
 */
#include "devices/i8042.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "bus/bus.h"
#include "util/log.h"

#define STS_OBF 0x01
#define STS_IBF 0x02
#define STS_SYS 0x04
#define STS_CMD 0x08 /* last write went to the command port */
#define STS_UNLOCKED 0x10 /* keyboard inhibit switch off */
#define STS_AUXB 0x20
#define STS_TIMEOUT 0x40

#define CFG_KBD_INT 0x01
#define CFG_AUX_INT 0x02
#define CFG_SYS 0x04
#define CFG_KBD_DISABLE 0x10
#define CFG_AUX_DISABLE 0x20
#define CFG_XLATE 0x40

#define OUT_RESET 0x01 /* active low */
#define OUT_A20 0x02

/* What the controller powers up with once firmware has run. */
#define CFG_DEFAULT (CFG_KBD_INT | CFG_SYS | CFG_XLATE)
#define OUT_DEFAULT (OUT_RESET | OUT_A20)

#define NO_DEVICE 0xfe /* the byte put in the buffer when a device times out */

enum { ENTRY_AUX = 0x1, ENTRY_TIMEOUT = 0x2 };

struct i8042_entry {
	uint8_t data;
	uint8_t flags;
};

struct i8042 {
	pthread_mutex_t lock;
	bool lock_ok;
	struct irq_line kbd_irq, aux_irq;
	bool kbd_level, aux_level;
	struct vm_ctl ctl;

	uint8_t ram[32]; /* ram[0]: configuration byte */
	uint8_t outport;
	bool last_was_cmd;
	uint8_t pending; /* command waiting for its data byte; 0: none */
	uint8_t last_data;

	struct i8042_entry q[I8042_QUEUE_LEN];
	unsigned int q_head, q_count;
};

static void update_irqs(struct i8042 *s)
{
	const struct i8042_entry *e = &s->q[s->q_head];
	bool kbd = false, aux = false;

	if (s->q_count) {
		if (e->flags & ENTRY_AUX)
			aux = s->ram[0] & CFG_AUX_INT;
		else
			kbd = s->ram[0] & CFG_KBD_INT;
	}
	if (kbd != s->kbd_level) {
		s->kbd_level = kbd;
		irq_set(&s->kbd_irq, kbd);
	}
	if (aux != s->aux_level) {
		s->aux_level = aux;
		irq_set(&s->aux_irq, aux);
	}
}

static void push(struct i8042 *s, uint8_t data, uint8_t flags)
{
	if (s->q_count == I8042_QUEUE_LEN) {
		log_guest("i8042: output buffer overflow, byte 0x%02x dropped "
			  "(guest does not read port 0x60)",
			  data);
		return;
	}
	s->q[(s->q_head + s->q_count) % I8042_QUEUE_LEN] = (struct i8042_entry){
		.data = data,
		.flags = flags,
	};
	s->q_count++;
}

static uint8_t read_status(const struct i8042 *s)
{
	const struct i8042_entry *e = &s->q[s->q_head];
	uint8_t st = STS_UNLOCKED;

	if (s->q_count) {
		st |= STS_OBF;
		if (e->flags & ENTRY_AUX)
			st |= STS_AUXB;
		if (e->flags & ENTRY_TIMEOUT)
			st |= STS_TIMEOUT;
	}
	if (s->ram[0] & CFG_SYS)
		st |= STS_SYS;
	if (s->last_was_cmd)
		st |= STS_CMD;
	return st;
}

static uint8_t read_data(struct i8042 *s)
{
	if (s->q_count) {
		s->last_data = s->q[s->q_head].data;
		s->q_head = (s->q_head + 1) % I8042_QUEUE_LEN;
		s->q_count--;
		/* One edge per byte: drop the line; update_irqs() re-raises. */
		if (s->kbd_level) {
			s->kbd_level = false;
			irq_set(&s->kbd_irq, false);
		}
		if (s->aux_level) {
			s->aux_level = false;
			irq_set(&s->aux_irq, false);
		}
	}
	return s->last_data;
}

/* Returns true if the guest asked for a machine reset. */
static bool write_command(struct i8042 *s, uint8_t cmd)
{
	s->last_was_cmd = true;
	s->pending = 0;
	if (cmd >= 0x20 && cmd <= 0x3f) {
		push(s, s->ram[cmd & 0x1f], 0);
		return false;
	}
	if (cmd >= 0x60 && cmd <= 0x7f) {
		s->pending = cmd;
		return false;
	}
	if (cmd >= 0xf0)
		/* Pulse the output lines whose mask bit is 0; line 0: reset. */
		return !(cmd & 0x01);
	switch (cmd) {
	case 0xa4: /* password installed? */
		push(s, 0xf1, 0); /* no */
		break;
	case 0xa7:
		s->ram[0] |= CFG_AUX_DISABLE;
		break;
	case 0xa8:
		s->ram[0] &= (uint8_t)~CFG_AUX_DISABLE;
		break;
	case 0xa9: /* aux interface test */
	case 0xab: /* keyboard interface test */
		push(s, 0x00, 0);
		break;
	case 0xaa: /* controller self test */
		s->ram[0] |= CFG_SYS;
		push(s, 0x55, 0);
		break;
	case 0xad:
		s->ram[0] |= CFG_KBD_DISABLE;
		break;
	case 0xae:
		s->ram[0] &= (uint8_t)~CFG_KBD_DISABLE;
		break;
	case 0xc0: /* input port: keyboard not inhibited */
		push(s, 0x80, 0);
		break;
	case 0xd0:
		push(s, s->outport, 0);
		break;
	case 0xd1:
	case 0xd2:
	case 0xd3:
	case 0xd4:
		s->pending = cmd;
		break;
	case 0xdd: /* A20 off: KVM has no A20 gate; remembered only */
		s->outport &= (uint8_t)~OUT_A20;
		break;
	case 0xdf:
		s->outport |= OUT_A20;
		break;
	case 0xe0: /* test inputs */
		push(s, 0x00, 0);
		break;
	default:
		log_guest("i8042: unknown controller command 0x%02x ignored",
			  cmd);
		break;
	}
	return false;
}

/* Returns true if the guest asked for a machine reset. */
static bool write_data(struct i8042 *s, uint8_t v)
{
	uint8_t cmd = s->pending;

	s->last_was_cmd = false;
	s->pending = 0;
	if (cmd >= 0x60 && cmd <= 0x7f) {
		s->ram[cmd & 0x1f] = v;
		return false;
	}
	switch (cmd) {
	case 0xd1:
		s->outport = v;
		return !(v & OUT_RESET);
	case 0xd2:
		push(s, v, 0);
		break;
	case 0xd3:
		push(s, v, ENTRY_AUX);
		break;
	case 0xd4: /* to the mouse, which is not there */
		push(s, NO_DEVICE, ENTRY_AUX | ENTRY_TIMEOUT);
		break;
	default: /* to the keyboard, which is not there */
		push(s, NO_DEVICE, ENTRY_TIMEOUT);
		break;
	}
	return false;
}

static uint64_t i8042_data_read(void *opaque, uint64_t offset,
				unsigned int size)
{
	struct i8042 *s = opaque;
	uint8_t v;

	(void)offset;
	(void)size;
	pthread_mutex_lock(&s->lock);
	v = read_data(s);
	update_irqs(s);
	pthread_mutex_unlock(&s->lock);
	return v;
}

/*
 * A write to either port: apply it and update the lines under the lock, then
 * ask for the reset, if the write pulsed it, after dropping the lock.
 */
static void port_write(struct i8042 *s, bool (*apply)(struct i8042 *, uint8_t),
		       uint8_t v)
{
	bool reset;

	pthread_mutex_lock(&s->lock);
	reset = apply(s, v);
	update_irqs(s);
	pthread_mutex_unlock(&s->lock);
	if (reset)
		vm_ctl_request(&s->ctl, VM_REQ_RESET, 0);
}

static void i8042_data_write(void *opaque, uint64_t offset, unsigned int size,
			     uint64_t value)
{
	(void)offset;
	(void)size;
	port_write(opaque, write_data, (uint8_t)value);
}

static uint64_t i8042_cmd_read(void *opaque, uint64_t offset, unsigned int size)
{
	struct i8042 *s = opaque;
	uint8_t v;

	(void)offset;
	(void)size;
	pthread_mutex_lock(&s->lock);
	v = read_status(s);
	pthread_mutex_unlock(&s->lock);
	return v;
}

static void i8042_cmd_write(void *opaque, uint64_t offset, unsigned int size,
			    uint64_t value)
{
	(void)offset;
	(void)size;
	port_write(opaque, write_command, (uint8_t)value);
}

static const struct bus_ops i8042_data_ops = {
	.read = i8042_data_read,
	.write = i8042_data_write,
};

static const struct bus_ops i8042_cmd_ops = {
	.read = i8042_cmd_read,
	.write = i8042_cmd_write,
};

static int i8042_realize(void *state, const struct device_host *host)
{
	struct i8042 *s = state;
	int rc;

	memset(s, 0, sizeof(*s));
	s->kbd_irq = device_irq(host, IRQ_I8042_KBD);
	s->aux_irq = device_irq(host, IRQ_I8042_AUX);
	s->ctl = host->ctl;
	s->ram[0] = CFG_DEFAULT;
	s->outport = OUT_DEFAULT;
	rc = pthread_mutex_init(&s->lock, NULL);
	if (rc)
		return -rc;
	s->lock_ok = true;
	irq_set(&s->kbd_irq, false);
	irq_set(&s->aux_irq, false);
	rc = bus_register(host->pio, PORT_I8042_DATA, 1, &i8042_data_ops, s,
			  "i8042");
	if (rc)
		goto out_lock;
	rc = bus_register(host->pio, PORT_I8042_CMD, 1, &i8042_cmd_ops, s,
			  "i8042");
	if (rc)
		goto out_data;
	return 0;

out_data:
	bus_unregister(host->pio, PORT_I8042_DATA);
out_lock:
	pthread_mutex_destroy(&s->lock);
	s->lock_ok = false;
	return rc;
}

static void i8042_unrealize(void *state)
{
	struct i8042 *s = state;

	if (s->lock_ok) {
		pthread_mutex_destroy(&s->lock);
		s->lock_ok = false;
	}
}

const struct device_type i8042_type = {
	.name = "i8042",
	.state_size = sizeof(struct i8042),
	.realize = i8042_realize,
	.unrealize = i8042_unrealize,
};
