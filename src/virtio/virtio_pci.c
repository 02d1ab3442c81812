// SPDX-License-Identifier: MIT
/*
 * The virtio 1.x modern PCI transport (virtio 1.x, section 4.1): the PCI
 * function of a virtio device, its vendor capabilities (common, notify, ISR,
 * device and PCI configuration access), feature negotiation, the device
 * status state machine, queue setup, interrupts (MSI-X, or ISR + INTx) and
 * the device's I/O thread. Register layout: virtio_pci.h.
 *
 * Guest-controlled: every register of BAR 0 (offsets, widths and values),
 * the PCI_CFG window's bar/offset/length, the ring addresses and sizes, the
 * MSI-X vector numbers, the order in which the driver does things. Bad
 * register accesses are ignored and logged (rate-limited); a driver that
 * breaks the rules in a way the device cannot follow gets NEEDS_RESET.
 *
 * Threads: register accesses come from vCPU threads, concurrently. Queue
 * notifications (ioeventfds, or the notify register's MMIO handler
 * signalling the same eventfd) are handled on the device's I/O thread,
 * which alone calls the device's activate(), queue_notify() and reset().
 * A vCPU that writes DRIVER_OK or 0 to device_status waits until the I/O
 * thread has run activate() or reset(), so that a status of 0 is read only
 * after the reset completed (2.4). A notification for a queue that is not
 * enabled, or after NEEDS_RESET, is ignored (and logged); one for an
 * enabled queue before DRIVER_OK is delivered once the device started.
 *
 * Lock order (outermost first):
 *   ctrl_lock  serialises status changes that wait for the I/O thread
 *              (vCPUs, destroy). The I/O thread never takes it.
 *   lock       transport state: features, status, queue setup. Never held
 *              while waiting for the I/O thread or calling into the PCI
 *              host, the device or KVM.
 *   isr_lock   the ISR byte and the INTx level, held across pci_set_intx()
 *              so the level always matches the ISR.
 *   ioev_lock  where the ioeventfds are registered; held across the
 *              host's ioeventfd hook (from bar_moved()).
 * lock, isr_lock and ioev_lock are never nested in each other.
 */
#include "virtio/virtio.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/device.h"
#include "pci/pci.h"
#include "util/log.h"
#include "virtio/iothread.h"
#include "virtio/virtio_pci.h"

#define DRIVER_STATUS_BITS                                     \
	(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |    \
	 VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK | \
	 VIRTIO_STATUS_FAILED)

struct vqueue {
	struct virtio_device *vdev;
	unsigned int index;
	int evfd; /* notifications: ioeventfd or the notify register */
	/* Set up by the driver, under vdev->lock. */
	uint16_t size;
	uint16_t msix_vector;
	bool enabled;
	uint64_t desc, driver, device;
	/* The ring: the I/O thread's, between activate() and reset(). */
	struct virtq vq;
	/* I/O thread: notified while enabled but before DRIVER_OK. */
	bool early_kick;
};

struct virtio_device {
	char name[32];
	struct device_host host;
	const struct virtio_device_ops *ops;
	void *opaque;
	unsigned int nr_queues;
	unsigned int nr_vectors;
	uint64_t offered;
	struct pci_device pci;
	struct iothread *io;
	unsigned int pcicfg_cap; /* offset of the PCI_CFG capability */

	pthread_mutex_t ctrl_lock;

	pthread_mutex_t lock;
	uint32_t dfselect, gfselect;
	uint64_t driver_features;
	bool bad_features; /* the driver wrote bits beyond 64 */
	uint8_t status;
	uint8_t generation;
	uint16_t config_vector;
	uint16_t queue_select;
	bool activated; /* activate() was called, reset() not yet */
	bool live; /* queue notifications go to the device */

	pthread_mutex_t isr_lock;
	uint8_t isr;

	pthread_mutex_t ioev_lock;
	bool ioev_on;
	uint64_t ioev_base;

	struct vqueue q[];
};

static void put_le(uint8_t *p, uint64_t v, unsigned int len)
{
	unsigned int i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned int len)
{
	uint64_t v = 0;
	unsigned int i;

	for (i = 0; i < len; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

/* ---- interrupts ---- */

static void raise_isr(struct virtio_device *vdev, uint8_t bit, bool intx)
{
	pthread_mutex_lock(&vdev->isr_lock);
	vdev->isr |= bit;
	if (intx)
		pci_set_intx(&vdev->pci, true);
	pthread_mutex_unlock(&vdev->isr_lock);
}

static uint8_t read_clear_isr(struct virtio_device *vdev)
{
	uint8_t v;

	pthread_mutex_lock(&vdev->isr_lock);
	v = vdev->isr;
	vdev->isr = 0;
	pci_set_intx(&vdev->pci, false);
	pthread_mutex_unlock(&vdev->isr_lock);
	return v;
}

/* A configuration change interrupt, if a driver is there to take it. */
static void config_irq(struct virtio_device *vdev)
{
	uint16_t vector;
	uint8_t status;
	bool msix;

	pthread_mutex_lock(&vdev->lock);
	vector = vdev->config_vector;
	status = vdev->status;
	pthread_mutex_unlock(&vdev->lock);
	if (!status)
		return;
	msix = pci_msix_enabled(&vdev->pci);
	/* 4.1.4.5.1: the config bit is set whether or not MSI-X is on. */
	raise_isr(vdev, VIRTIO_ISR_CONFIG, !msix);
	if (msix && vector != VIRTIO_MSI_NO_VECTOR)
		pci_msix_notify(&vdev->pci, vector);
}

void virtio_notify(struct virtio_device *vdev, unsigned int q)
{
	uint16_t vector;

	if (q >= vdev->nr_queues || !virtq_should_notify(&vdev->q[q].vq))
		return;
	pthread_mutex_lock(&vdev->lock);
	vector = vdev->q[q].msix_vector;
	pthread_mutex_unlock(&vdev->lock);
	if (pci_msix_enabled(&vdev->pci)) {
		if (vector != VIRTIO_MSI_NO_VECTOR)
			pci_msix_notify(&vdev->pci, vector);
		return;
	}
	raise_isr(vdev, VIRTIO_ISR_QUEUE, true);
}

void virtio_config_changed(struct virtio_device *vdev)
{
	pthread_mutex_lock(&vdev->lock);
	vdev->generation++;
	pthread_mutex_unlock(&vdev->lock);
	config_irq(vdev);
}

void virtio_set_needs_reset(struct virtio_device *vdev, const char *why)
{
	pthread_mutex_lock(&vdev->lock);
	if (vdev->status & VIRTIO_STATUS_NEEDS_RESET) {
		pthread_mutex_unlock(&vdev->lock);
		return;
	}
	vdev->status |= VIRTIO_STATUS_NEEDS_RESET;
	vdev->live = false;
	pthread_mutex_unlock(&vdev->lock);
	log_guest("%s: %s; the device needs a reset", vdev->name, why);
	/* 2.1.2: NEEDS_RESET comes with a configuration change notice. */
	config_irq(vdev);
}

/* ---- the I/O thread's side ---- */

static void on_notify(void *opaque, uint32_t events)
{
	struct vqueue *vq = opaque;
	struct virtio_device *vdev = vq->vdev;
	bool ok, early;

	(void)events;
	event_drain(vq->evfd);
	pthread_mutex_lock(&vdev->lock);
	ok = vdev->live && vq->enabled;
	/*
	 * Not live yet, but enabled: before DRIVER_OK, or DRIVER_OK was just
	 * written and io_activate() is queued behind this notification.
	 */
	early = !ok && vq->enabled &&
		!(vdev->status & VIRTIO_STATUS_NEEDS_RESET);
	pthread_mutex_unlock(&vdev->lock);
	if (early) {
		/*
		 * 3.1.1 says a driver does not notify before DRIVER_OK; some
		 * do. The device looks at the ring once it has started (a
		 * spurious look at an empty ring is harmless).
		 */
		vq->early_kick = true;
		return;
	}
	if (!ok) {
		log_guest("%s: notification for queue %u, which is not ready; "
			  "ignored",
			  vdev->name, vq->index);
		return;
	}
	vdev->ops->queue_notify(vdev->opaque, vq->index);
	if (vq->vq.broken)
		virtio_set_needs_reset(vdev, "a virtqueue is broken");
}

/* DRIVER_OK: initialise the enabled queues, then activate the device. */
static void io_activate(void *opaque)
{
	struct virtio_device *vdev = opaque;
	uint64_t features;
	unsigned int i;
	bool enabled[VIRTIO_MAX_QUEUES];
	int rc;

	pthread_mutex_lock(&vdev->lock);
	features = vdev->driver_features;
	for (i = 0; i < vdev->nr_queues; i++) {
		struct vqueue *q = &vdev->q[i];

		enabled[i] = q->enabled;
		q->vq = (struct virtq){
			.mem = vdev->host.mem,
			.size = q->size,
			.desc = q->desc,
			.avail = q->driver,
			.used = q->device,
			.event_idx = features & (1ull << VIRTIO_F_EVENT_IDX),
			.indirect = features & (1ull << VIRTIO_F_INDIRECT_DESC),
		};
	}
	pthread_mutex_unlock(&vdev->lock);

	for (i = 0; i < vdev->nr_queues; i++) {
		if (!enabled[i])
			continue;
		if (virtq_init(&vdev->q[i].vq)) {
			char why[64];

			snprintf(why, sizeof(why),
				 "queue %u's rings are not in guest RAM", i);
			virtio_set_needs_reset(vdev, why);
			return;
		}
	}

	pthread_mutex_lock(&vdev->lock);
	vdev->activated = true;
	pthread_mutex_unlock(&vdev->lock);
	rc = vdev->ops->activate(vdev->opaque, features);
	if (rc) {
		log_warn("%s: activating the device failed: %s", vdev->name,
			 strerror(-rc));
		virtio_set_needs_reset(vdev, "the device could not start");
		return;
	}
	pthread_mutex_lock(&vdev->lock);
	vdev->live = !(vdev->status & VIRTIO_STATUS_NEEDS_RESET);
	pthread_mutex_unlock(&vdev->lock);
	for (i = 0; i < vdev->nr_queues; i++) {
		struct vqueue *q = &vdev->q[i];

		if (!q->early_kick || !enabled[i])
			continue;
		q->early_kick = false;
		event_signal(q->evfd); /* handled like any notification */
	}
}

/* Device reset, and at teardown: the device forgets the queues. */
static void io_reset(void *opaque)
{
	struct virtio_device *vdev = opaque;
	bool was;
	unsigned int i;

	pthread_mutex_lock(&vdev->lock);
	was = vdev->activated;
	vdev->activated = false;
	vdev->live = false;
	pthread_mutex_unlock(&vdev->lock);
	if (was)
		vdev->ops->reset(vdev->opaque);
	for (i = 0; i < vdev->nr_queues; i++) {
		memset(&vdev->q[i].vq, 0, sizeof(vdev->q[i].vq));
		vdev->q[i].early_kick = false;
	}
}

/* ---- common configuration ---- */

/* The transport's reset state (4.1.4.3); vdev->lock held, or no threads. */
static void reset_state(struct virtio_device *vdev)
{
	unsigned int i;

	vdev->dfselect = 0;
	vdev->gfselect = 0;
	vdev->driver_features = 0;
	vdev->bad_features = false;
	vdev->status = 0;
	vdev->config_vector = VIRTIO_MSI_NO_VECTOR;
	vdev->queue_select = 0;
	for (i = 0; i < vdev->nr_queues; i++) {
		struct vqueue *q = &vdev->q[i];

		q->size = vdev->ops->queue_max_size;
		q->msix_vector = VIRTIO_MSI_NO_VECTOR;
		q->enabled = false;
		q->desc = q->driver = q->device = 0;
	}
}

static void device_reset(struct virtio_device *vdev)
{
	pthread_mutex_lock(&vdev->lock);
	vdev->live = false;
	pthread_mutex_unlock(&vdev->lock);
	iothread_call(vdev->io, io_reset, vdev);
	pthread_mutex_lock(&vdev->lock);
	reset_state(vdev);
	pthread_mutex_unlock(&vdev->lock);
	read_clear_isr(vdev);
}

/* FEATURES_OK may be set: a subset of the offer, with VERSION_1. */
static bool features_ok(const struct virtio_device *vdev)
{
	if (vdev->bad_features) {
		log_guest("%s: driver accepted features beyond bit 63",
			  vdev->name);
		return false;
	}
	if (vdev->driver_features & ~vdev->offered) {
		log_guest("%s: driver accepted features %#llx it was not "
			  "offered",
			  vdev->name,
			  (unsigned long long)(vdev->driver_features &
					       ~vdev->offered));
		return false;
	}
	if (!(vdev->driver_features & (1ull << VIRTIO_F_VERSION_1))) {
		log_guest("%s: driver did not accept VIRTIO_F_VERSION_1",
			  vdev->name);
		return false;
	}
	return true;
}

static void write_status(struct virtio_device *vdev, uint8_t val)
{
	const char *broken = NULL;
	uint8_t old, set;
	bool activate;

	pthread_mutex_lock(&vdev->ctrl_lock);
	if (!val) {
		device_reset(vdev);
		pthread_mutex_unlock(&vdev->ctrl_lock);
		return;
	}
	pthread_mutex_lock(&vdev->lock);
	old = vdev->status;
	if (old & ~val & DRIVER_STATUS_BITS)
		log_guest("%s: driver cleared status bits %#x without a reset; "
			  "ignored",
			  vdev->name, old & ~val & DRIVER_STATUS_BITS);
	set = val & ~old & DRIVER_STATUS_BITS;
	if ((set & VIRTIO_STATUS_FEATURES_OK) && !features_ok(vdev))
		set &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	vdev->status = old | set;
	activate = false;
	if (set & VIRTIO_STATUS_DRIVER_OK) {
		if (!(vdev->status & VIRTIO_STATUS_FEATURES_OK))
			broken = "DRIVER_OK without FEATURES_OK";
		else
			activate = !(vdev->status & VIRTIO_STATUS_NEEDS_RESET);
	}
	pthread_mutex_unlock(&vdev->lock);
	if (broken)
		virtio_set_needs_reset(vdev, broken);
	if (activate)
		iothread_call(vdev->io, io_activate, vdev);
	pthread_mutex_unlock(&vdev->ctrl_lock);
}

/* The common configuration as the driver reads it; vdev->lock held. */
static void common_snapshot(const struct virtio_device *vdev, uint8_t *buf)
{
	uint32_t df = 0, gf = 0;

	memset(buf, 0, VIRTIO_PCI_COMMON_SIZE);
	if (vdev->dfselect < 2)
		df = (uint32_t)(vdev->offered >> (32 * vdev->dfselect));
	if (vdev->gfselect < 2)
		gf = (uint32_t)(vdev->driver_features >> (32 * vdev->gfselect));
	put_le(buf + VIRTIO_PCI_COMMON_DFSELECT, vdev->dfselect, 4);
	put_le(buf + VIRTIO_PCI_COMMON_DF, df, 4);
	put_le(buf + VIRTIO_PCI_COMMON_GFSELECT, vdev->gfselect, 4);
	put_le(buf + VIRTIO_PCI_COMMON_GF, gf, 4);
	put_le(buf + VIRTIO_PCI_COMMON_MSIX, vdev->config_vector, 2);
	put_le(buf + VIRTIO_PCI_COMMON_NUMQ, vdev->nr_queues, 2);
	buf[VIRTIO_PCI_COMMON_STATUS] = vdev->status;
	buf[VIRTIO_PCI_COMMON_CFGGEN] = vdev->generation;
	put_le(buf + VIRTIO_PCI_COMMON_Q_SELECT, vdev->queue_select, 2);
	if (vdev->queue_select < vdev->nr_queues) {
		const struct vqueue *q = &vdev->q[vdev->queue_select];

		/* Absent queues read as size 0: "not available". */
		put_le(buf + VIRTIO_PCI_COMMON_Q_SIZE, q->size, 2);
		put_le(buf + VIRTIO_PCI_COMMON_Q_MSIX, q->msix_vector, 2);
		put_le(buf + VIRTIO_PCI_COMMON_Q_ENABLE, q->enabled, 2);
		put_le(buf + VIRTIO_PCI_COMMON_Q_NOFF, vdev->queue_select, 2);
		put_le(buf + VIRTIO_PCI_COMMON_Q_DESCLO, q->desc, 8);
		put_le(buf + VIRTIO_PCI_COMMON_Q_AVAILLO, q->driver, 8);
		put_le(buf + VIRTIO_PCI_COMMON_Q_USEDLO, q->device, 8);
	} else {
		put_le(buf + VIRTIO_PCI_COMMON_Q_MSIX, VIRTIO_MSI_NO_VECTOR, 2);
	}
}

static uint64_t common_read(struct virtio_device *vdev, uint64_t off,
			    unsigned int size)
{
	uint8_t buf[VIRTIO_PCI_COMMON_SIZE + 8] = { 0 };

	if (off >= VIRTIO_PCI_COMMON_SIZE)
		return 0;
	pthread_mutex_lock(&vdev->lock);
	common_snapshot(vdev, buf);
	pthread_mutex_unlock(&vdev->lock);
	/* Any width at any offset reads the bytes there; past the end, 0. */
	return get_le(buf + off, size);
}

static uint16_t valid_vector(const struct virtio_device *vdev, uint64_t v)
{
	return v < vdev->nr_vectors ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
}

/* A 32- or 64-bit write to one of the ring addresses; lock held. */
static void write_ring_addr(struct vqueue *q, uint64_t off, unsigned int size,
			    uint64_t val)
{
	uint64_t *field;
	unsigned int half;

	off -= VIRTIO_PCI_COMMON_Q_DESCLO;
	field = off < 8 ? &q->desc : off < 16 ? &q->driver : &q->device;
	half = (off % 8) / 4;
	if (size == 8) {
		*field = val;
		return;
	}
	*field &= ~(0xffffffffull << (32 * half));
	*field |= (val & 0xffffffffull) << (32 * half);
}

/* A queue field write; lock held. Returns why NEEDS_RESET, or NULL. */
static const char *write_queue(struct virtio_device *vdev, uint64_t off,
			       unsigned int size, uint64_t val)
{
	unsigned int qs = vdev->queue_select;
	struct vqueue *q;

	if (qs >= vdev->nr_queues) {
		log_guest("%s: write to queue %u, which does not exist; "
			  "ignored",
			  vdev->name, qs);
		return NULL;
	}
	q = &vdev->q[qs];
	if (q->enabled || (vdev->status & VIRTIO_STATUS_DRIVER_OK)) {
		log_guest("%s: write to queue %u's setup after it was "
			  "enabled; ignored",
			  vdev->name, qs);
		return NULL;
	}
	switch (off) {
	case VIRTIO_PCI_COMMON_Q_SIZE:
		/*
		 * A split queue's size is a power of two (2.7); a bad size is
		 * ignored, so the queue keeps a valid one.
		 */
		if (!is_pow2((uint32_t)val) ||
		    val > vdev->ops->queue_max_size) {
			log_guest("%s: queue %u size %u is not a power of two "
				  "up to %u; ignored",
				  vdev->name, qs, (unsigned int)val,
				  vdev->ops->queue_max_size);
			return NULL;
		}
		q->size = (uint16_t)val;
		return NULL;
	case VIRTIO_PCI_COMMON_Q_MSIX:
		q->msix_vector = valid_vector(vdev, val);
		return NULL;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		if (val != 1) {
			log_guest("%s: queue %u enable written with %u; "
				  "ignored",
				  vdev->name, qs, (unsigned int)val);
			return NULL;
		}
		/*
		 * Address 0 is what an unconfigured queue holds; no driver
		 * puts a ring in the first page, so this is a driver bug.
		 */
		if (!q->desc || !q->driver || !q->device)
			return "queue enabled with a ring address of 0";
		q->enabled = true;
		return NULL;
	default:
		write_ring_addr(q, off, size, val);
		return NULL;
	}
}

static void common_write(struct virtio_device *vdev, uint64_t off,
			 unsigned int size, uint64_t val)
{
	const char *broken = NULL;
	bool natural;

	/* Fields are written at their natural width (4.1.3.1). */
	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
	case VIRTIO_PCI_COMMON_GFSELECT:
	case VIRTIO_PCI_COMMON_GF:
		natural = size == 4;
		break;
	case VIRTIO_PCI_COMMON_MSIX:
	case VIRTIO_PCI_COMMON_Q_SELECT:
	case VIRTIO_PCI_COMMON_Q_SIZE:
	case VIRTIO_PCI_COMMON_Q_MSIX:
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		natural = size == 2;
		break;
	case VIRTIO_PCI_COMMON_STATUS:
		natural = size == 1;
		break;
	case VIRTIO_PCI_COMMON_Q_DESCLO:
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
	case VIRTIO_PCI_COMMON_Q_USEDLO:
		natural = size == 4 || size == 8;
		break;
	case VIRTIO_PCI_COMMON_Q_DESCHI:
	case VIRTIO_PCI_COMMON_Q_AVAILHI:
	case VIRTIO_PCI_COMMON_Q_USEDHI:
		natural = size == 4;
		break;
	default:
		natural = false; /* read-only fields, odd offsets */
		break;
	}
	if (!natural) {
		log_guest("%s: common config write of %u bytes at %#x; "
			  "ignored",
			  vdev->name, size, (unsigned int)off);
		return;
	}
	if (off == VIRTIO_PCI_COMMON_STATUS) {
		write_status(vdev, (uint8_t)val);
		return;
	}

	pthread_mutex_lock(&vdev->lock);
	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		vdev->dfselect = (uint32_t)val;
		break;
	case VIRTIO_PCI_COMMON_GFSELECT:
		vdev->gfselect = (uint32_t)val;
		break;
	case VIRTIO_PCI_COMMON_GF:
		if (vdev->status & VIRTIO_STATUS_FEATURES_OK) {
			log_guest("%s: features written after FEATURES_OK; "
				  "ignored",
				  vdev->name);
		} else if (vdev->gfselect < 2) {
			unsigned int sh = 32 * vdev->gfselect;

			vdev->driver_features &= ~(0xffffffffull << sh);
			vdev->driver_features |= (val & 0xffffffffull) << sh;
		} else if (val) {
			vdev->bad_features = true;
		}
		break;
	case VIRTIO_PCI_COMMON_MSIX:
		vdev->config_vector = valid_vector(vdev, val);
		break;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		vdev->queue_select = (uint16_t)val;
		break;
	default:
		broken = write_queue(vdev, off, size, val);
		break;
	}
	pthread_mutex_unlock(&vdev->lock);
	if (broken)
		virtio_set_needs_reset(vdev, broken);
}

/* ---- BAR 0 ---- */

static bool device_cfg_range(const struct virtio_device *vdev, uint64_t off,
			     unsigned int size)
{
	return off < vdev->ops->config_size &&
	       size <= vdev->ops->config_size - off;
}

static uint64_t bar_read(void *opaque, uint64_t offset, unsigned int size)
{
	struct virtio_device *vdev = opaque;
	uint8_t buf[8] = { 0 };

	if (size > 8)
		return 0;
	if (offset < VIRTIO_PCI_COMMON_OFF + VIRTIO_PCI_COMMON_SIZE)
		return common_read(vdev, offset - VIRTIO_PCI_COMMON_OFF, size);
	if (offset == VIRTIO_PCI_ISR_OFF)
		return read_clear_isr(vdev);
	if (offset >= VIRTIO_PCI_DEVICE_OFF &&
	    offset < VIRTIO_PCI_DEVICE_OFF + VIRTIO_PCI_DEVICE_MAX) {
		offset -= VIRTIO_PCI_DEVICE_OFF;
		if (!device_cfg_range(vdev, offset, size)) {
			log_guest("%s: device config read of %u bytes at %#x "
				  "is out of range",
				  vdev->name, size, (unsigned int)offset);
			return 0;
		}
		vdev->ops->config_read(vdev->opaque, (uint32_t)offset, buf,
				       size);
		return get_le(buf, size);
	}
	/* Elsewhere (notify region, gaps) reads as 0. */
	return 0;
}

static void notify_write(struct virtio_device *vdev, uint64_t off)
{
	uint64_t q = off / VIRTIO_PCI_NOTIFY_MULT;

	if (off % VIRTIO_PCI_NOTIFY_MULT || q >= vdev->nr_queues) {
		log_guest("%s: notification at %#x matches no queue; "
			  "ignored",
			  vdev->name, (unsigned int)off);
		return;
	}
	/* No ioeventfd took it: hand it to the I/O thread the same way. */
	event_signal(vdev->q[q].evfd);
}

static void bar_write(void *opaque, uint64_t offset, unsigned int size,
		      uint64_t value)
{
	struct virtio_device *vdev = opaque;
	uint8_t buf[8];

	if (size > 8)
		return;
	if (offset < VIRTIO_PCI_COMMON_OFF + VIRTIO_PCI_COMMON_SIZE) {
		common_write(vdev, offset - VIRTIO_PCI_COMMON_OFF, size, value);
		return;
	}
	if (offset >= VIRTIO_PCI_DEVICE_OFF &&
	    offset < VIRTIO_PCI_DEVICE_OFF + VIRTIO_PCI_DEVICE_MAX) {
		offset -= VIRTIO_PCI_DEVICE_OFF;
		if (!device_cfg_range(vdev, offset, size) ||
		    !vdev->ops->config_write) {
			log_guest("%s: device config write of %u bytes at %#x "
				  "ignored",
				  vdev->name, size, (unsigned int)offset);
			return;
		}
		put_le(buf, value, size);
		vdev->ops->config_write(vdev->opaque, (uint32_t)offset, buf,
					size);
		return;
	}
	if (offset >= VIRTIO_PCI_NOTIFY_OFF &&
	    offset < VIRTIO_PCI_NOTIFY_OFF + 0x1000) {
		notify_write(vdev, offset - VIRTIO_PCI_NOTIFY_OFF);
		return;
	}
	log_guest("%s: write of %u bytes at BAR offset %#x ignored", vdev->name,
		  size, (unsigned int)offset);
}

static const struct bus_ops bar_ops = {
	.read = bar_read,
	.write = bar_write,
};

/* ---- the PCI configuration access window (4.1.4.8) ---- */

/*
 * Whether the window's bar/offset/length select an access the device
 * performs: BAR 0, 1, 2 or 4 bytes, aligned, inside the BAR.
 */
static bool pcicfg_target(const struct virtio_device *vdev, uint32_t *off,
			  unsigned int *len)
{
	const uint8_t *cap = vdev->pci.cfg + vdev->pcicfg_cap;

	*off = (uint32_t)get_le(cap + VIRTIO_PCI_CAP_OFFSET_OFF, 4);
	*len = (unsigned int)get_le(cap + VIRTIO_PCI_CAP_LENGTH_OFF, 4);
	if (cap[VIRTIO_PCI_CAP_BAR_OFF] != VIRTIO_PCI_BAR ||
	    (*len != 1 && *len != 2 && *len != 4) || *off % *len ||
	    *off >= VIRTIO_PCI_BAR_SIZE) {
		log_guest("%s: PCI_CFG window access to bar %u offset %#x "
			  "length %u ignored",
			  vdev->name, cap[VIRTIO_PCI_CAP_BAR_OFF], *off, *len);
		return false;
	}
	return true;
}

/* Whether a configuration access touches pci_cfg_data. */
static bool pcicfg_hit(const struct virtio_device *vdev, unsigned int off,
		       unsigned int len)
{
	unsigned int data = vdev->pcicfg_cap + VIRTIO_PCI_CAP_DATA_OFF;

	return vdev->pcicfg_cap && off < data + 4 && data < off + len;
}

/*
 * The PCI host calls these around configuration accesses: before a read
 * of pci_cfg_data, the device reads the BAR into it; after a write, it
 * writes the BAR. The MSI-X table and PBA are reached too (pci_bar_*).
 * Under the host's configuration lock; a status write through the window
 * waits for the I/O thread, which never takes that lock.
 */
static void pcicfg_read(void *opaque, struct pci_device *dev, unsigned int off,
			unsigned int len)
{
	struct virtio_device *vdev = opaque;
	uint8_t *data = dev->cfg + vdev->pcicfg_cap + VIRTIO_PCI_CAP_DATA_OFF;
	unsigned int n;
	uint32_t boff;
	uint64_t v;

	if (!pcicfg_hit(vdev, off, len) || !pcicfg_target(vdev, &boff, &n))
		return;
	pci_bar_read(dev, VIRTIO_PCI_BAR, boff, n, &v);
	put_le(data, v, n);
}

static void pcicfg_write(void *opaque, struct pci_device *dev, unsigned int off,
			 unsigned int len)
{
	struct virtio_device *vdev = opaque;
	const uint8_t *data =
		dev->cfg + vdev->pcicfg_cap + VIRTIO_PCI_CAP_DATA_OFF;
	unsigned int n;
	uint32_t boff;

	if (!pcicfg_hit(vdev, off, len) || !pcicfg_target(vdev, &boff, &n))
		return;
	pci_bar_write(dev, VIRTIO_PCI_BAR, boff, n, get_le(data, n));
}

/* ---- ioeventfds ---- */

/* ioev_lock held. */
static void ioev_assign(struct virtio_device *vdev, uint64_t base, bool assign)
{
	unsigned int i;
	int rc;

	for (i = 0; i < vdev->nr_queues; i++) {
		uint64_t addr = base + VIRTIO_PCI_NOTIFY_OFF +
				(uint64_t)i * VIRTIO_PCI_NOTIFY_MULT;

		rc = vdev->host.ioeventfd(vdev->host.kvm_opaque, true, addr, 2,
					  vdev->q[i].evfd, assign);
		if (rc && assign)
			/* The MMIO handler still takes the notification. */
			log_warn("%s: ioeventfd for queue %u at %#llx: %s",
				 vdev->name, i, (unsigned long long)addr,
				 strerror(-rc));
	}
}

static void ioev_move(struct virtio_device *vdev, bool mapped, uint64_t addr)
{
	if (!vdev->host.ioeventfd)
		return;
	pthread_mutex_lock(&vdev->ioev_lock);
	if (vdev->ioev_on)
		ioev_assign(vdev, vdev->ioev_base, false);
	vdev->ioev_on = mapped;
	vdev->ioev_base = addr;
	if (mapped)
		ioev_assign(vdev, addr, true);
	pthread_mutex_unlock(&vdev->ioev_lock);
}

static void bar_moved(void *opaque, unsigned int bar, bool mapped,
		      uint64_t addr)
{
	if (bar == VIRTIO_PCI_BAR)
		ioev_move(opaque, mapped, addr);
}

/* ---- creation and teardown ---- */

static int add_cap(struct virtio_device *vdev, uint8_t type, uint32_t off,
		   uint32_t len, const void *extra, unsigned int extra_len)
{
	uint8_t body[VIRTIO_PCI_CFG_CAP_SIZE - 2] = { 0 };
	unsigned int cap_len = VIRTIO_PCI_CAP_SIZE + extra_len;

	/* The body starts after cap_vndr and cap_next. */
	body[VIRTIO_PCI_CAP_LEN_OFF - 2] = (uint8_t)cap_len;
	body[VIRTIO_PCI_CAP_TYPE_OFF - 2] = type;
	body[VIRTIO_PCI_CAP_BAR_OFF - 2] = VIRTIO_PCI_BAR;
	put_le(body + VIRTIO_PCI_CAP_OFFSET_OFF - 2, off, 4);
	put_le(body + VIRTIO_PCI_CAP_LENGTH_OFF - 2, len, 4);
	if (extra_len)
		memcpy(body + VIRTIO_PCI_CAP_SIZE - 2, extra, extra_len);
	return pci_add_capability(&vdev->pci, VIRTIO_PCI_CAP_ID, body,
				  cap_len - 2);
}

static int add_caps(struct virtio_device *vdev)
{
	uint8_t mult[4], zero[4] = { 0 };
	int rc;

	put_le(mult, VIRTIO_PCI_NOTIFY_MULT, 4);
	rc = add_cap(vdev, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_OFF,
		     VIRTIO_PCI_COMMON_SIZE, NULL, 0);
	if (rc < 0)
		return rc;
	rc = add_cap(vdev, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_OFF,
		     vdev->nr_queues * VIRTIO_PCI_NOTIFY_MULT, mult,
		     sizeof(mult));
	if (rc < 0)
		return rc;
	rc = add_cap(vdev, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_OFF,
		     VIRTIO_PCI_ISR_SIZE, NULL, 0);
	if (rc < 0)
		return rc;
	if (vdev->ops->config_size) {
		rc = add_cap(vdev, VIRTIO_PCI_CAP_DEVICE_CFG,
			     VIRTIO_PCI_DEVICE_OFF, vdev->ops->config_size,
			     NULL, 0);
		if (rc < 0)
			return rc;
	}
	rc = add_cap(vdev, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, zero, sizeof(zero));
	if (rc < 0)
		return rc;
	vdev->pcicfg_cap = (unsigned int)rc;
	/* The driver picks bar, offset and length, and passes data. */
	pci_set_wmask(&vdev->pci, vdev->pcicfg_cap + VIRTIO_PCI_CAP_BAR_OFF, 1);
	pci_set_wmask(&vdev->pci, vdev->pcicfg_cap + VIRTIO_PCI_CAP_OFFSET_OFF,
		      12);
	return 0;
}

static const char *check_ops(const struct virtio_device_ops *ops)
{
	if (!ops->nr_queues || ops->nr_queues > VIRTIO_MAX_QUEUES)
		return "bad number of queues";
	if (!is_pow2(ops->queue_max_size) ||
	    ops->queue_max_size > VIRTQ_MAX_SIZE)
		return "bad queue size";
	if (ops->config_size > VIRTIO_PCI_DEVICE_MAX)
		return "device configuration too large";
	if ((ops->config_size && !ops->config_read) || !ops->activate ||
	    !ops->queue_notify || !ops->reset)
		return "missing device operations";
	return NULL;
}

static void free_vdev(struct virtio_device *vdev)
{
	unsigned int i;

	iothread_free(vdev->io);
	for (i = 0; i < vdev->nr_queues; i++)
		if (vdev->q[i].evfd >= 0)
			close(vdev->q[i].evfd);
	pthread_mutex_destroy(&vdev->ioev_lock);
	pthread_mutex_destroy(&vdev->isr_lock);
	pthread_mutex_destroy(&vdev->lock);
	pthread_mutex_destroy(&vdev->ctrl_lock);
	free(vdev);
}

struct virtio_device *virtio_pci_create(const struct device_host *host,
					const char *name,
					const struct virtio_device_ops *ops,
					void *opaque, char *err, size_t errlen)
{
	struct virtio_device *vdev;
	struct pci_device_info info;
	const char *why;
	unsigned int i;
	int rc;

	why = check_ops(ops);
	if (!why && (!host->pci || !host->mem))
		why = "no PCI host or guest memory";
	if (why) {
		snprintf(err, errlen, "%s: %s", name, why);
		return NULL;
	}
	vdev = calloc(1, sizeof(*vdev) + ops->nr_queues * sizeof(vdev->q[0]));
	if (!vdev) {
		snprintf(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	snprintf(vdev->name, sizeof(vdev->name), "%s", name);
	vdev->host = *host;
	vdev->ops = ops;
	vdev->opaque = opaque;
	vdev->nr_queues = ops->nr_queues;
	vdev->nr_vectors = ops->nr_queues + 1;
	vdev->offered = ops->features | 1ull << VIRTIO_F_VERSION_1;
	pthread_mutex_init(&vdev->ctrl_lock, NULL);
	pthread_mutex_init(&vdev->lock, NULL);
	pthread_mutex_init(&vdev->isr_lock, NULL);
	pthread_mutex_init(&vdev->ioev_lock, NULL);
	for (i = 0; i < vdev->nr_queues; i++) {
		vdev->q[i].vdev = vdev;
		vdev->q[i].index = i;
		vdev->q[i].evfd = -1;
	}
	reset_state(vdev);
	for (i = 0; i < vdev->nr_queues; i++) {
		vdev->q[i].evfd = event_new();
		if (vdev->q[i].evfd < 0) {
			rc = vdev->q[i].evfd;
			goto fail;
		}
	}
	rc = iothread_new(&vdev->io, name);
	if (rc)
		goto fail;
	for (i = 0; i < vdev->nr_queues; i++) {
		rc = iothread_watch(vdev->io, vdev->q[i].evfd, EPOLLIN,
				    on_notify, &vdev->q[i]);
		if (rc)
			goto fail;
	}

	info = (struct pci_device_info){
		.name = vdev->name,
		.vendor_id = VIRTIO_PCI_VENDOR,
		.device_id =
			(uint16_t)(VIRTIO_PCI_DEVICE_BASE + ops->device_id),
		.subsys_vendor_id = VIRTIO_PCI_VENDOR,
		.subsys_id =
			(uint16_t)(VIRTIO_PCI_SUBSYS_BASE + ops->device_id),
		.revision = VIRTIO_PCI_REVISION,
		.class_code = ops->pci_class,
		.intx = true,
		.bar_moved = bar_moved,
		.cfg_read = pcicfg_read,
		.cfg_write = pcicfg_write,
		.opaque = vdev,
	};
	info.bars[VIRTIO_PCI_BAR] = (struct pci_bar_info){
		.size = VIRTIO_PCI_BAR_SIZE,
		.ops = &bar_ops,
		.opaque = vdev,
	};
	rc = pci_device_register(host->pci, &vdev->pci, &info);
	if (rc)
		goto fail;
	rc = add_caps(vdev);
	if (rc)
		goto unregister;
	rc = pci_msix_init(&vdev->pci, VIRTIO_PCI_BAR,
			   VIRTIO_PCI_MSIX_TABLE_OFF, VIRTIO_PCI_MSIX_PBA_OFF,
			   vdev->nr_vectors);
	if (rc)
		goto unregister;
	rc = iothread_start(vdev->io);
	if (rc)
		goto unregister;
	/* The initial placement: bar_moved() tells only of later moves. */
	if (vdev->pci.bar_mapped[VIRTIO_PCI_BAR])
		ioev_move(vdev, true, vdev->pci.bar_addr[VIRTIO_PCI_BAR]);
	return vdev;

unregister:
	pci_device_unregister(&vdev->pci);
	if (vdev->ioev_on)
		ioev_move(vdev, false, 0);
fail:
	snprintf(err, errlen, "%s: creating the PCI function: %s", name,
		 strerror(-rc));
	free_vdev(vdev);
	return NULL;
}

void virtio_pci_destroy(struct virtio_device *vdev)
{
	if (!vdev)
		return;
	pthread_mutex_lock(&vdev->ctrl_lock);
	iothread_stop(vdev->io, io_reset, vdev);
	pthread_mutex_unlock(&vdev->ctrl_lock);
	ioev_move(vdev, false, 0);
	pci_device_unregister(&vdev->pci);
	free_vdev(vdev);
}

struct virtq *virtio_queue(struct virtio_device *vdev, unsigned int q)
{
	return q < vdev->nr_queues ? &vdev->q[q].vq : NULL;
}

bool virtio_queue_enabled(struct virtio_device *vdev, unsigned int q)
{
	bool en;

	if (q >= vdev->nr_queues)
		return false;
	pthread_mutex_lock(&vdev->lock);
	en = vdev->q[q].enabled;
	pthread_mutex_unlock(&vdev->lock);
	return en;
}

int virtio_watch(struct virtio_device *vdev, int fd, uint32_t events,
		 loop_fn fn, void *opaque)
{
	return iothread_watch(vdev->io, fd, events, fn, opaque);
}

void virtio_unwatch(struct virtio_device *vdev, int fd)
{
	iothread_unwatch(vdev->io, fd);
}

int virtio_defer(struct virtio_device *vdev, void (*fn)(void *opaque),
		 void *opaque)
{
	return iothread_defer(vdev->io, fn, opaque);
}
