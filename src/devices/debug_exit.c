// SPDX-License-Identifier: MIT
/*
 * A test-only device, present only with --debug-exit (cfg->debug_exit), for
 * the tiny test guests. mica's own design, after no datasheet:
 *  - ports PORT_DEBUG_EXIT..+3: a write of value v at any width and offset
 *    asks the VM to stop with exit status v & 0xff (VM_REQ_DEBUG_EXIT);
 *    reads return 0;
 *  - MMIO at LAYOUT_TESTDEV_MMIO, LAYOUT_TESTDEV_MMIO_SIZE bytes of scratch
 *    registers: a write of 1/2/4/8 bytes stores those bytes (little endian)
 *    and a read of any width returns what is stored, so a guest can check
 *    MMIO dispatch at every width. Starts zeroed.
 *
 * Guest-controlled: values, offsets and widths. The bus only dispatches
 * accesses that lie wholly inside the range; the device checks again.
 *
 * Locking: d->lock makes each scratch access atomic against other vCPUs;
 * vm_ctl_request() is called without it.
 */
#include "devices/debug_exit.h"

#include <pthread.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "bus/bus.h"
#include "config/config.h"

struct debug_exit {
	pthread_mutex_t lock;
	bool lock_ok;
	struct vm_ctl ctl;
	uint8_t scratch[LAYOUT_TESTDEV_MMIO_SIZE];
};

static bool in_scratch(uint64_t offset, unsigned int size)
{
	return size <= 8 && offset <= LAYOUT_TESTDEV_MMIO_SIZE - size;
}

static uint64_t debug_exit_pio_read(void *opaque, uint64_t offset,
				    unsigned int size)
{
	(void)opaque;
	(void)offset;
	(void)size;
	return 0;
}

static void debug_exit_pio_write(void *opaque, uint64_t offset,
				 unsigned int size, uint64_t value)
{
	struct debug_exit *d = opaque;

	(void)offset;
	(void)size;
	vm_ctl_request(&d->ctl, VM_REQ_DEBUG_EXIT, (int)(value & 0xff));
}

static uint64_t debug_exit_mmio_read(void *opaque, uint64_t offset,
				     unsigned int size)
{
	struct debug_exit *d = opaque;
	uint64_t v = 0;
	unsigned int i;

	if (!in_scratch(offset, size))
		return ~0ull;
	pthread_mutex_lock(&d->lock);
	for (i = 0; i < size; i++)
		v |= (uint64_t)d->scratch[offset + i] << (8 * i);
	pthread_mutex_unlock(&d->lock);
	return v;
}

static void debug_exit_mmio_write(void *opaque, uint64_t offset,
				  unsigned int size, uint64_t value)
{
	struct debug_exit *d = opaque;
	unsigned int i;

	if (!in_scratch(offset, size))
		return;
	pthread_mutex_lock(&d->lock);
	for (i = 0; i < size; i++)
		d->scratch[offset + i] = (uint8_t)(value >> (8 * i));
	pthread_mutex_unlock(&d->lock);
}

static const struct bus_ops debug_exit_pio_ops = {
	.read = debug_exit_pio_read,
	.write = debug_exit_pio_write,
};

static const struct bus_ops debug_exit_mmio_ops = {
	.read = debug_exit_mmio_read,
	.write = debug_exit_mmio_write,
};

static int debug_exit_realize(void *state, const struct device_host *host)
{
	struct debug_exit *d = state;
	int rc;

	memset(d, 0, sizeof(*d));
	if (!host->cfg || !host->cfg->debug_exit)
		return 0;
	d->ctl = host->ctl;
	rc = pthread_mutex_init(&d->lock, NULL);
	if (rc)
		return -rc;
	d->lock_ok = true;
	rc = bus_register(host->pio, PORT_DEBUG_EXIT, DEBUG_EXIT_NR_PORTS,
			  &debug_exit_pio_ops, d, "debug-exit");
	if (rc)
		goto out_lock;
	rc = bus_register(host->mmio, LAYOUT_TESTDEV_MMIO,
			  LAYOUT_TESTDEV_MMIO_SIZE, &debug_exit_mmio_ops, d,
			  "debug-exit");
	if (rc)
		goto out_pio;
	return 0;

out_pio:
	bus_unregister(host->pio, PORT_DEBUG_EXIT);
out_lock:
	pthread_mutex_destroy(&d->lock);
	d->lock_ok = false;
	return rc;
}

static void debug_exit_unrealize(void *state)
{
	struct debug_exit *d = state;

	if (d->lock_ok) {
		pthread_mutex_destroy(&d->lock);
		d->lock_ok = false;
	}
}

const struct device_type debug_exit_type = {
	.name = "debug-exit",
	.state_size = sizeof(struct debug_exit),
	.realize = debug_exit_realize,
	.unrealize = debug_exit_unrealize,
};
