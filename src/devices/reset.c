// SPDX-License-Identifier: MIT
/*
 * The reset control register at port 0xcf9, as in Intel's PCH datasheets
 * ("Reset Control Register", RST_CNT): bit 1 SYS_RST (hard reset) and bit 3
 * FULL_RST are stored and read back; writing bit 2 (RST_CPU) set starts the
 * reset, here a VM_REQ_RESET. The FADT's RESET_REG points here with value
 * 0x06, and Linux's reboot=pci writes 0x02 then 0x06, so both end up here.
 *
 * Guest-controlled: the byte written. Only 1-byte accesses reach the
 * register: with a PCI host (the VM always has one) the host decodes
 * 0xcf8-0xcff and forwards byte accesses at 0xcf9 here
 * (pci_host_set_cf9); without one (unit tests of this device alone) the
 * register claims its one port on the bus itself.
 *
 * Locking: r->lock orders stores of the register between vCPUs;
 * vm_ctl_request() is called after dropping it.
 */
#include "devices/reset.h"

#include <pthread.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "bus/bus.h"
#include "pci/pci.h"

#define RST_SYS 0x02
#define RST_CPU 0x04
#define RST_FULL 0x08
#define RST_STORED (RST_SYS | RST_FULL)

struct reset {
	pthread_mutex_t lock;
	bool lock_ok;
	struct vm_ctl ctl;
	struct pci_host *pci; /* forwards 0xcf9 to us, or NULL */
	uint8_t value;
};

static uint64_t reset_pio_read(void *opaque, uint64_t offset, unsigned int size)
{
	struct reset *r = opaque;
	uint8_t v;

	(void)offset;
	(void)size;
	pthread_mutex_lock(&r->lock);
	v = r->value;
	pthread_mutex_unlock(&r->lock);
	return v;
}

static void reset_pio_write(void *opaque, uint64_t offset, unsigned int size,
			    uint64_t value)
{
	struct reset *r = opaque;

	(void)offset;
	(void)size;
	pthread_mutex_lock(&r->lock);
	r->value = (uint8_t)(value & RST_STORED);
	pthread_mutex_unlock(&r->lock);
	if (value & RST_CPU)
		vm_ctl_request(&r->ctl, VM_REQ_RESET, 0);
}

static const struct bus_ops reset_pio_ops = {
	.read = reset_pio_read,
	.write = reset_pio_write,
};

static int reset_realize(void *state, const struct device_host *host)
{
	struct reset *r = state;
	int rc;

	memset(r, 0, sizeof(*r));
	r->ctl = host->ctl;
	rc = pthread_mutex_init(&r->lock, NULL);
	if (rc)
		return -rc;
	r->lock_ok = true;
	if (host->pci) {
		r->pci = host->pci;
		pci_host_set_cf9(r->pci, &reset_pio_ops, r);
		return 0;
	}
	rc = bus_register(host->pio, PORT_RESET, 1, &reset_pio_ops, r, "reset");
	if (rc) {
		pthread_mutex_destroy(&r->lock);
		r->lock_ok = false;
		return rc;
	}
	return 0;
}

static void reset_unrealize(void *state)
{
	struct reset *r = state;

	if (r->pci) {
		pci_host_set_cf9(r->pci, NULL, NULL);
		r->pci = NULL;
	}
	if (r->lock_ok) {
		pthread_mutex_destroy(&r->lock);
		r->lock_ok = false;
	}
}

const struct device_type reset_type = {
	.name = "reset",
	.state_size = sizeof(struct reset),
	.realize = reset_realize,
	.unrealize = reset_unrealize,
};
