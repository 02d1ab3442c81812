// SPDX-License-Identifier: MIT
/*
 * virtio_harness: a fake virtio driver and machine for device tests; see
 * virtio_harness.h. Nothing here is guest-controlled: this file is the
 * guest (and the fake KVM under it).
 */
#include "unit/virtio_harness.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86_64/layout.h"
#include "pci/pci.h"
#include "unit/test.h"

#define PCI_CAP_ID_MSIX_ 0x11
#define MSIX_DATA_BASE 0x1000 /* MSI data: dev index << 12 | vector */
#define ROUTE_GSI_BASE 64 /* fake GSIs, above the fake irqchip's */

/* ---- the fake KVM hooks ---- */

static int fake_route_add(void *opaque, uint64_t addr, uint32_t data, int fd)
{
	struct vh_host *h = opaque;
	int i, gsi = -ENOSPC;

	pthread_mutex_lock(&h->lock);
	for (i = 0; i < VH_MAX_ROUTES; i++) {
		if (h->routes[i].used)
			continue;
		h->routes[i] = (struct vh_route){
			.used = true,
			.addr = addr,
			.data = data,
			.fd = fd,
		};
		gsi = ROUTE_GSI_BASE + i;
		break;
	}
	pthread_mutex_unlock(&h->lock);
	return gsi;
}

static struct vh_route *route_of(struct vh_host *h, unsigned int gsi)
{
	if (gsi < ROUTE_GSI_BASE || gsi >= ROUTE_GSI_BASE + VH_MAX_ROUTES)
		return NULL;
	return &h->routes[gsi - ROUTE_GSI_BASE];
}

static int fake_route_update(void *opaque, unsigned int gsi, uint64_t addr,
			     uint32_t data)
{
	struct vh_host *h = opaque;
	struct vh_route *r;
	int rc = -ENOENT;

	pthread_mutex_lock(&h->lock);
	r = route_of(h, gsi);
	if (r && r->used) {
		r->addr = addr;
		r->data = data;
		rc = 0;
	}
	pthread_mutex_unlock(&h->lock);
	return rc;
}

static void fake_route_del(void *opaque, unsigned int gsi, int fd)
{
	struct vh_host *h = opaque;
	struct vh_route *r;

	(void)fd;
	pthread_mutex_lock(&h->lock);
	r = route_of(h, gsi);
	if (r)
		r->used = false;
	pthread_mutex_unlock(&h->lock);
}

static int fake_ioeventfd(void *opaque, bool mmio, uint64_t addr,
			  unsigned int len, int fd, bool assign)
{
	struct vh_host *h = opaque;
	int i, rc = assign ? -ENOSPC : -ENOENT;

	if (!mmio)
		return -EINVAL;
	pthread_mutex_lock(&h->lock);
	for (i = 0; i < VH_MAX_ROUTES; i++) {
		struct vh_ioeventfd *e = &h->ioeventfds[i];

		if (assign && !e->used) {
			*e = (struct vh_ioeventfd){ true, addr, len, fd };
			rc = 0;
			break;
		}
		if (!assign && e->used && e->addr == addr && e->fd == fd) {
			e->used = false;
			rc = 0;
			break;
		}
		if (assign && e->used && e->addr == addr && e->len == len) {
			rc = -EEXIST; /* KVM refuses a second one there */
			break;
		}
	}
	pthread_mutex_unlock(&h->lock);
	return rc;
}

bool vh_ioeventfd_at(struct vh_host *h, uint64_t addr)
{
	bool found = false;
	int i;

	pthread_mutex_lock(&h->lock);
	for (i = 0; i < VH_MAX_ROUTES; i++)
		if (h->ioeventfds[i].used && h->ioeventfds[i].addr == addr)
			found = true;
	pthread_mutex_unlock(&h->lock);
	return found;
}

/* ---- the machine ---- */

struct vh_host *vh_host_new(void)
{
	static const struct gm_range ram[] = {
		{ .gpa = VH_RAM_GPA, .size = VH_RAM_SIZE },
		{ .gpa = VH_RAM_TOP_GPA, .size = VH_RAM_TOP_SIZE },
	};
	struct vh_host *h = calloc(1, sizeof(*h));

	if (!h)
		abort(); /* a test machine without memory: nothing to test */
	fake_vm_init(&h->vm);
	pthread_mutex_init(&h->lock, NULL);
	if (gm_alloc(&h->mem, ram, 2))
		abort();
	h->alloc_next = VH_RAM_GPA;
	h->vm.host.mem = &h->mem;
	h->vm.host.msi_route_add = fake_route_add;
	h->vm.host.msi_route_update = fake_route_update;
	h->vm.host.msi_route_del = fake_route_del;
	h->vm.host.ioeventfd = fake_ioeventfd;
	h->vm.host.kvm_opaque = h;
	if (pci_host_init(&h->pci, &h->vm.host))
		abort();
	h->vm.host.pci = h->pci;
	return h;
}

void vh_host_free(struct vh_host *h)
{
	unsigned int i;

	if (!h)
		return;
	if (h->vm.type) {
		h->vm.type->unrealize(h->vm.state);
		free(h->vm.state);
		h->vm.type = NULL;
		h->vm.state = NULL;
	}
	for (i = 0; i < h->nr_created; i++)
		virtio_pci_destroy(h->created[i]);
	pci_host_destroy(h->pci);
	fake_vm_fini(&h->vm);
	gm_free(&h->mem);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

struct virtio_device *vh_create(struct vh_host *h, const char *name,
				const struct virtio_device_ops *ops,
				void *opaque)
{
	struct virtio_device *vdev;
	char err[256];

	if (h->nr_created == VH_MAX_DEVS) {
		test_fail(__FILE__, __LINE__, "vh_create: too many devices");
		return NULL;
	}
	vdev = virtio_pci_create(&h->vm.host, name, ops, opaque, err,
				 sizeof(err));
	if (!vdev) {
		test_fail(__FILE__, __LINE__, "vh_create: %s", err);
		return NULL;
	}
	h->created[h->nr_created++] = vdev;
	return vdev;
}

gpa_t vh_alloc(struct vh_host *h, uint64_t len, uint64_t align)
{
	gpa_t at = (h->alloc_next + align - 1) & ~(align - 1);
	void *p;

	if (at + len > VH_RAM_GPA + VH_RAM_SIZE) {
		test_fail(__FILE__, __LINE__, "vh_alloc: guest RAM exhausted");
		return 0;
	}
	h->alloc_next = at + len;
	p = gm_ptr(&h->mem, at, len);
	if (p)
		memset(p, 0, len);
	return at;
}

void *vh_ptr(struct vh_host *h, gpa_t gpa, uint64_t len)
{
	return gm_ptr(&h->mem, gpa, len);
}

/* ---- PCI and MMIO ---- */

static void cf8(struct vh_host *h, unsigned int slot, unsigned int off)
{
	uint32_t a = 0x80000000u | (slot & 31) << 11 | (off & 0xfc);

	bus_write(&h->vm.pio, PORT_PCI_CONFIG, 4, a);
}

uint32_t vh_pci_read(struct vh_host *h, unsigned int slot, unsigned int off,
		     unsigned int size)
{
	uint64_t v = ~0ull;

	cf8(h, slot, off);
	bus_read(&h->vm.pio, PORT_PCI_CONFIG + 4 + (off & 3), size, &v);
	return (uint32_t)v;
}

void vh_pci_write(struct vh_host *h, unsigned int slot, unsigned int off,
		  unsigned int size, uint32_t v)
{
	cf8(h, slot, off);
	bus_write(&h->vm.pio, PORT_PCI_CONFIG + 4 + (off & 3), size, v);
}

uint64_t vh_mmio_read(struct vh_host *h, uint64_t addr, unsigned int size)
{
	uint64_t v = ~0ull;

	bus_read(&h->vm.mmio, addr, size, &v);
	return v;
}

void vh_mmio_write(struct vh_host *h, uint64_t addr, unsigned int size,
		   uint64_t v)
{
	bus_write(&h->vm.mmio, addr, size, v);
}

/* ---- finding a device ---- */

static int walk_caps(struct vh_dev *d)
{
	struct vh_host *h = d->h;
	unsigned int off, n = 0;

	if (!(vh_pci_read(h, d->slot, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST))
		return -EINVAL;
	off = vh_pci_read(h, d->slot, PCI_CAPABILITY_LIST, 1) & 0xfc;
	while (off && n++ < 48) {
		unsigned int id = vh_pci_read(h, d->slot, off, 1);
		unsigned int type, bar;
		uint32_t boff, blen;

		if (id == PCI_CAP_ID_MSIX_)
			d->cap_msix = off;
		if (id != VIRTIO_PCI_CAP_ID)
			goto next;
		type = vh_pci_read(h, d->slot, off + VIRTIO_PCI_CAP_TYPE_OFF,
				   1);
		bar = vh_pci_read(h, d->slot, off + VIRTIO_PCI_CAP_BAR_OFF, 1);
		boff = vh_pci_read(h, d->slot, off + VIRTIO_PCI_CAP_OFFSET_OFF,
				   4);
		blen = vh_pci_read(h, d->slot, off + VIRTIO_PCI_CAP_LENGTH_OFF,
				   4);
		if (type < 1 || type > VIRTIO_PCI_CAP_PCI_CFG)
			goto next;
		/* The first capability of each type is the preferred one. */
		if (d->cap[type])
			goto next;
		d->cap[type] = off;
		if (type == VIRTIO_PCI_CAP_PCI_CFG)
			goto next;
		if (bar != 0 || (uint64_t)boff + blen > VIRTIO_PCI_BAR_SIZE) {
			test_fail(__FILE__, __LINE__,
				  "cap type %u: bar %u offset 0x%x len 0x%x",
				  type, bar, boff, blen);
			return -EINVAL;
		}
		switch (type) {
		case VIRTIO_PCI_CAP_COMMON_CFG:
			d->common = boff;
			d->common_len = blen;
			break;
		case VIRTIO_PCI_CAP_NOTIFY_CFG:
			d->notify = boff;
			d->notify_len = blen;
			d->notify_mult = vh_pci_read(
				h, d->slot, off + VIRTIO_PCI_CAP_MULT_OFF, 4);
			break;
		case VIRTIO_PCI_CAP_ISR_CFG:
			d->isr = boff;
			d->isr_len = blen;
			break;
		case VIRTIO_PCI_CAP_DEVICE_CFG:
			d->device = boff;
			d->device_len = blen;
			break;
		}
next:
		off = vh_pci_read(h, d->slot, off + 1, 1) & 0xfc;
	}
	if (!d->cap[VIRTIO_PCI_CAP_COMMON_CFG] ||
	    !d->cap[VIRTIO_PCI_CAP_NOTIFY_CFG] ||
	    !d->cap[VIRTIO_PCI_CAP_ISR_CFG] ||
	    d->common_len < VIRTIO_PCI_COMMON_SIZE) {
		test_fail(__FILE__, __LINE__, "virtio capabilities missing");
		return -EINVAL;
	}
	return 0;
}

int vh_dev_find(struct vh_host *h, struct vh_dev *d, uint16_t id,
		unsigned int nth)
{
	unsigned int slot, seen = 0;
	uint32_t want = VIRTIO_PCI_VENDOR |
			(uint32_t)(VIRTIO_PCI_DEVICE_BASE + id) << 16;
	int rc;

	memset(d, 0, sizeof(*d));
	d->h = h;
	for (slot = 0; slot < PCI_MAX_SLOTS; slot++) {
		if (vh_pci_read(h, slot, PCI_VENDOR_ID, 4) != want)
			continue;
		if (seen++ == nth)
			break;
	}
	if (slot == PCI_MAX_SLOTS)
		return -ENODEV;
	d->slot = slot;
	d->device_id = id;
	d->index = h->nr_devs++;
	d->bar = vh_pci_read(h, slot, PCI_BASE_ADDRESS_0, 4) & ~0xfull;
	rc = walk_caps(d);
	if (rc)
		return rc;
	d->nr_queues =
		(unsigned int)vh_common_read(d, VIRTIO_PCI_COMMON_NUMQ, 2);
	d->q = calloc(d->nr_queues ? d->nr_queues : 1, sizeof(*d->q));
	if (!d->q)
		abort();
	return 0;
}

void vh_dev_free(struct vh_dev *d)
{
	free(d->q);
	d->q = NULL;
}

/* ---- registers ---- */

uint64_t vh_common_read(struct vh_dev *d, uint32_t off, unsigned int size)
{
	return vh_mmio_read(d->h, d->bar + d->common + off, size);
}

void vh_common_write(struct vh_dev *d, uint32_t off, unsigned int size,
		     uint64_t v)
{
	vh_mmio_write(d->h, d->bar + d->common + off, size, v);
}

uint64_t vh_cfg_read(struct vh_dev *d, uint32_t off, unsigned int size)
{
	return vh_mmio_read(d->h, d->bar + d->device + off, size);
}

void vh_cfg_write(struct vh_dev *d, uint32_t off, unsigned int size, uint64_t v)
{
	vh_mmio_write(d->h, d->bar + d->device + off, size, v);
}

uint8_t vh_isr_read(struct vh_dev *d)
{
	return (uint8_t)vh_mmio_read(d->h, d->bar + d->isr, 1);
}

uint64_t vh_queue_read(struct vh_dev *d, unsigned int q, uint32_t off,
		       unsigned int size)
{
	vh_common_write(d, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
	return vh_common_read(d, off, size);
}

void vh_queue_write(struct vh_dev *d, unsigned int q, uint32_t off,
		    unsigned int size, uint64_t v)
{
	vh_common_write(d, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
	vh_common_write(d, off, size, v);
}

uint8_t vh_status(struct vh_dev *d)
{
	return (uint8_t)vh_common_read(d, VIRTIO_PCI_COMMON_STATUS, 1);
}

void vh_set_status(struct vh_dev *d, uint8_t bits)
{
	vh_common_write(d, VIRTIO_PCI_COMMON_STATUS, 1, vh_status(d) | bits);
}

/* ---- bring-up ---- */

int vh_reset(struct vh_dev *d)
{
	unsigned int i;

	vh_common_write(d, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	for (i = 0; i < d->nr_queues; i++)
		d->q[i].ready = false;
	d->features = 0;
	return vh_status(d) ? -EIO : 0;
}

uint64_t vh_device_features(struct vh_dev *d)
{
	uint64_t lo, hi;

	vh_common_write(d, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
	lo = vh_common_read(d, VIRTIO_PCI_COMMON_DF, 4);
	vh_common_write(d, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
	hi = vh_common_read(d, VIRTIO_PCI_COMMON_DF, 4);
	d->offered = lo | hi << 32;
	return d->offered;
}

int vh_negotiate(struct vh_dev *d, uint64_t features)
{
	vh_common_write(d, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	vh_common_write(d, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)features);
	vh_common_write(d, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	vh_common_write(d, VIRTIO_PCI_COMMON_GF, 4, features >> 32);
	vh_set_status(d, VIRTIO_STATUS_FEATURES_OK);
	if (!(vh_status(d) & VIRTIO_STATUS_FEATURES_OK))
		return -EIO;
	d->features = features;
	return 0;
}

static uint32_t msi_data(const struct vh_dev *d, unsigned int vector)
{
	return MSIX_DATA_BASE * (d->index + 1) + vector;
}

void vh_msix_setup(struct vh_dev *d)
{
	unsigned int nr, v, ctrl;
	uint32_t table;
	uint64_t base;

	if (!d->cap_msix) {
		test_fail(__FILE__, __LINE__, "no MSI-X capability");
		return;
	}
	ctrl = vh_pci_read(d->h, d->slot, d->cap_msix + 2, 2);
	nr = (ctrl & 0x7ff) + 1;
	table = vh_pci_read(d->h, d->slot, d->cap_msix + 4, 4);
	if (table & 7) {
		test_fail(__FILE__, __LINE__, "MSI-X table not in BAR 0");
		return;
	}
	base = d->bar + table;
	for (v = 0; v < nr; v++) {
		vh_mmio_write(d->h, base + 16 * v, 4, 0xfee00000u);
		vh_mmio_write(d->h, base + 16 * v + 4, 4, 0);
		vh_mmio_write(d->h, base + 16 * v + 8, 4, msi_data(d, v));
		vh_mmio_write(d->h, base + 16 * v + 12, 4, 0); /* unmask */
	}
	vh_pci_write(d->h, d->slot, d->cap_msix + 2, 2, 0x8000);
	d->msix = true;
	vh_common_write(d, VIRTIO_PCI_COMMON_MSIX, 2, d->nr_queues);
}

int vh_queue_setup(struct vh_dev *d, unsigned int q, uint16_t size)
{
	struct vh_queue *vq;
	uint16_t max;
	gpa_t rings, data;

	if (q >= d->nr_queues) {
		test_fail(__FILE__, __LINE__, "vh_queue_setup: queue %u", q);
		return -EINVAL;
	}
	vq = &d->q[q];
	max = (uint16_t)vh_queue_read(d, q, VIRTIO_PCI_COMMON_Q_SIZE, 2);
	if (!size)
		size = max;
	/* Each queue's areas are allocated once, reused after a reset. */
	if (!vq->ring_area) {
		vq->ring_area = vh_alloc(d->h, 0x10000, 4096);
		vq->data_area = vh_alloc(d->h, VH_QUEUE_DATA, 4096);
	}
	rings = vq->ring_area;
	data = vq->data_area;
	if (!rings || !data)
		return -ENOMEM;
	if (vring_init(&vq->vr, &d->h->mem, rings, size, data, VH_QUEUE_DATA))
		return -EINVAL;
	vq->vr.event_idx = d->features & (1ull << VIRTIO_F_EVENT_IDX);
	vq->size = size;
	vh_common_write(d, VIRTIO_PCI_COMMON_Q_SIZE, 2, size);
	if (d->msix)
		vh_common_write(d, VIRTIO_PCI_COMMON_Q_MSIX, 2, q);
	vh_common_write(d, VIRTIO_PCI_COMMON_Q_DESCLO, 8, vq->vr.desc);
	vh_common_write(d, VIRTIO_PCI_COMMON_Q_AVAILLO, 8, vq->vr.avail);
	vh_common_write(d, VIRTIO_PCI_COMMON_Q_USEDLO, 8, vq->vr.used);
	vh_common_write(d, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	if (vh_common_read(d, VIRTIO_PCI_COMMON_Q_ENABLE, 2) != 1)
		return -EIO;
	vq->ready = true;
	return 0;
}

int vh_driver_ok(struct vh_dev *d)
{
	uint8_t st;

	vh_set_status(d, VIRTIO_STATUS_DRIVER_OK);
	st = vh_status(d);
	if (st & VIRTIO_STATUS_NEEDS_RESET || !(st & VIRTIO_STATUS_DRIVER_OK))
		return -EIO;
	return 0;
}

int vh_dev_start(struct vh_dev *d, uint64_t wanted)
{
	unsigned int q;
	int rc;

	rc = vh_reset(d);
	if (rc)
		return rc;
	vh_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE);
	vh_set_status(d, VIRTIO_STATUS_DRIVER);
	vh_device_features(d);
	rc = vh_negotiate(d,
			  (wanted & d->offered) | 1ull << VIRTIO_F_VERSION_1);
	if (rc)
		return rc;
	vh_msix_setup(d);
	for (q = 0; q < d->nr_queues; q++) {
		rc = vh_queue_setup(d, q, 0);
		if (rc)
			return rc;
	}
	return vh_driver_ok(d);
}

/* ---- requests ---- */

static struct vh_queue *queue(struct vh_dev *d, unsigned int q)
{
	if (q >= d->nr_queues || !d->q[q].ready) {
		test_fail(__FILE__, __LINE__, "queue %u is not set up", q);
		return NULL;
	}
	return &d->q[q];
}

int vh_post(struct vh_dev *d, unsigned int q, const struct vh_buf *out,
	    unsigned int nr_out, const uint32_t *in_sizes, unsigned int nr_in)
{
	struct vh_queue *vq = queue(d, q);
	struct vring_seg *segs;
	uint64_t in_total = 0;
	unsigned int i, n = nr_out + nr_in;
	gpa_t in;
	int head;

	if (!vq)
		return -EINVAL;
	if (!n || n > vq->size)
		return -EINVAL;
	if (vq->vr.nr_free < n)
		return -ENOSPC;
	/* Nothing in flight: the data area starts over. */
	if (vq->vr.nr_free == vq->size)
		vring_free_data(&vq->vr);
	segs = calloc(n, sizeof(*segs));
	if (!segs)
		abort();
	for (i = 0; i < nr_out; i++) {
		void *p;

		segs[i].addr = vring_alloc(&vq->vr, out[i].len);
		segs[i].len = out[i].len;
		p = vh_ptr(d->h, segs[i].addr, out[i].len);
		if (p && out[i].len)
			memcpy(p, out[i].data, out[i].len);
	}
	for (i = 0; i < nr_in; i++)
		in_total += in_sizes[i];
	in = in_total ? vring_alloc(&vq->vr, in_total) : 0;
	if (in_total) {
		void *p = vh_ptr(d->h, in, in_total);

		if (p)
			memset(p, 0, in_total);
	}
	for (i = 0; i < nr_in; i++) {
		segs[nr_out + i] = (struct vring_seg){
			.addr = in,
			.len = in_sizes[i],
			.write = true,
		};
		in += in_sizes[i];
	}
	head = vring_post(&vq->vr, segs, n);
	if (head >= 0) {
		vq->in_gpa[head] = in - in_total;
		vq->in_len[head] = (uint32_t)in_total;
	}
	free(segs);
	return head;
}

int vh_post_raw(struct vh_dev *d, unsigned int q, const struct vring_seg *segs,
		unsigned int n)
{
	struct vh_queue *vq = queue(d, q);
	int head;

	if (!vq)
		return -EINVAL;
	head = vring_post(&vq->vr, segs, n);
	if (head >= 0) {
		vq->in_gpa[head] = 0;
		vq->in_len[head] = 0;
	}
	return head;
}

void vh_kick(struct vh_dev *d, unsigned int q)
{
	vh_mmio_write(d->h, d->bar + d->notify + (uint64_t)q * d->notify_mult,
		      2, q);
}

bool vh_poll_used(struct vh_dev *d, unsigned int q, uint32_t *id, uint32_t *len)
{
	struct vh_queue *vq = queue(d, q);

	return vq && vring_get_used(&vq->vr, id, len);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void pause_a_bit(void)
{
	struct timespec ts = { .tv_nsec = 100000 };

	nanosleep(&ts, NULL);
}

int vh_wait_used(struct vh_dev *d, unsigned int q, uint32_t *id, uint32_t *len)
{
	uint64_t end = now_ms() + VH_TIMEOUT_MS;

	if (!queue(d, q))
		return -EINVAL;
	while (!vh_poll_used(d, q, id, len)) {
		if (now_ms() > end)
			return -ETIMEDOUT;
		pause_a_bit();
	}
	return 0;
}

int vh_request(struct vh_dev *d, unsigned int q, const struct vh_buf *out,
	       unsigned int nr_out, const uint32_t *in_sizes,
	       unsigned int nr_in, int *head)
{
	uint32_t id, len;
	int h, rc;

	h = vh_post(d, q, out, nr_out, in_sizes, nr_in);
	if (head)
		*head = h;
	if (h < 0)
		return h;
	vh_kick(d, q);
	rc = vh_wait_used(d, q, &id, &len);
	if (rc)
		return rc;
	if (id != (uint32_t)h) {
		test_fail(__FILE__, __LINE__, "used id %u, posted %d", id, h);
		return -EIO;
	}
	return len > INT32_MAX ? -EOVERFLOW : (int)len;
}

uint64_t vh_read_in(struct vh_dev *d, unsigned int q, int head, uint64_t off,
		    void *dst, uint64_t len)
{
	struct vh_queue *vq = queue(d, q);
	void *p;

	if (!vq || head < 0 || head >= vq->size || off >= vq->in_len[head])
		return 0;
	if (len > vq->in_len[head] - off)
		len = vq->in_len[head] - off;
	p = vh_ptr(d->h, vq->in_gpa[head] + off, len);
	if (!p)
		return 0;
	memcpy(dst, p, len);
	return len;
}

void *vh_in_ptr(struct vh_dev *d, unsigned int q, int head)
{
	struct vh_queue *vq = queue(d, q);

	if (!vq || head < 0 || head >= vq->size || !vq->in_len[head])
		return NULL;
	return vh_ptr(d->h, vq->in_gpa[head], vq->in_len[head]);
}

/* ---- interrupts ---- */

static int vector_fd(struct vh_dev *d, unsigned int vector)
{
	uint32_t data = msi_data(d, vector);
	int i, fd = -1;

	pthread_mutex_lock(&d->h->lock);
	for (i = 0; i < VH_MAX_ROUTES; i++)
		if (d->h->routes[i].used && d->h->routes[i].data == data)
			fd = d->h->routes[i].fd;
	pthread_mutex_unlock(&d->h->lock);
	return fd;
}

/* Reads an eventfd's counter if it is readable within timeout_ms. */
static unsigned int drain_fd(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t v;

	if (fd < 0 || poll(&p, 1, timeout_ms) != 1)
		return 0;
	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return (unsigned int)v;
}

unsigned int vh_msix_count(struct vh_dev *d, unsigned int vector)
{
	return drain_fd(vector_fd(d, vector), 0);
}

int vh_wait_msix(struct vh_dev *d, unsigned int vector)
{
	int fd = vector_fd(d, vector);

	if (fd < 0)
		return -ENOENT;
	return drain_fd(fd, VH_TIMEOUT_MS) ? 0 : -ETIMEDOUT;
}

bool vh_intx_level(struct vh_dev *d)
{
	return fake_irq_level(&d->h->vm,
			      PCI_INTX_GSI_BASE + d->slot % PCI_INTX_GSI_COUNT);
}

int vh_wait_status(struct vh_dev *d, uint8_t bits)
{
	uint64_t end = now_ms() + VH_TIMEOUT_MS;

	while ((vh_status(d) & bits) != bits) {
		if (now_ms() > end)
			return -ETIMEDOUT;
		pause_a_bit();
	}
	return 0;
}
