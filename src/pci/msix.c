// SPDX-License-Identifier: MIT
/*
 * MSI-X (PCI Local Bus 3.0, 6.8.2 "MSI-X Capability and Table Structure").
 *
 * Guest-controlled: every byte of the vector table (message address, data,
 * vector control), the function's enable and mask bits, and which vectors
 * a device signals (virtio lets the driver pick them). The PBA is read-only.
 *
 * Delivery: each vector that the guest made deliverable (MSI-X enabled,
 * function not masked, entry not masked) gets an eventfd and, through the
 * device_host hooks, a KVM GSI route carrying its message with the eventfd
 * bound as an irqfd; pci_msix_notify() writes the eventfd and KVM injects
 * the message without a trip through mica. The route follows the entry:
 * it is synced when the vector becomes deliverable and when its message
 * changes while it is deliverable (Linux rewrites entries while they are
 * masked, so that is one update per unmask). A notification while the
 * vector or the function is masked sets the vector's pending bit; it is
 * delivered (and the bit cleared) when the vector becomes deliverable. A
 * notification while MSI-X is disabled is dropped: the function then uses
 * INTx, which the device drives itself.
 *
 * Without route hooks (unit tests) the eventfds exist all the same and are
 * signalled; pci_msix_vector_fd() lets a test read them.
 *
 * Locking: m->lock guards everything here; the route hooks and eventfd
 * writes are called under it (the VM's route lock is a leaf).
 */
#include "pci/msix.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/device.h"
#include "pci/pci.h"
#include "util/log.h"
#include "util/loop.h"

struct msix_vector {
	int fd; /* eventfd, -1 until first deliverable */
	int gsi; /* KVM route, -1 if none */
	uint64_t addr; /* the message the route carries */
	uint32_t data;
};

struct msix {
	pthread_mutex_t lock;
	const struct device_host *host;
	const char *name;
	unsigned int nr;
	unsigned int bar;
	uint32_t table_off, pba_off;
	bool enabled, mask_all;
	uint8_t *table; /* nr entries, little-endian as the guest sees it */
	uint64_t *pba;
	struct msix_vector *vec;
};

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

int msix_create(struct msix **out, const struct device_host *host,
		const char *name, unsigned int nr, unsigned int bar,
		uint32_t table_off, uint32_t pba_off)
{
	struct msix *m;
	unsigned int i;
	int rc;

	*out = NULL;
	if (nr < 1 || nr > PCI_MSIX_MAX_VECTORS || bar >= PCI_NUM_BARS)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->table = calloc(nr, MSIX_ENTRY_SIZE);
	m->pba = calloc(msix_pba_len(nr) / 8, sizeof(*m->pba));
	m->vec = calloc(nr, sizeof(*m->vec));
	if (!m->table || !m->pba || !m->vec) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = -pthread_mutex_init(&m->lock, NULL);
	if (rc)
		goto fail;
	m->host = host;
	m->name = name ? name : "pci";
	m->nr = nr;
	m->bar = bar;
	m->table_off = table_off;
	m->pba_off = pba_off;
	for (i = 0; i < nr; i++) {
		/* Every entry starts masked (6.8.2.9). */
		m->table[i * MSIX_ENTRY_SIZE + MSIX_ENTRY_CTRL] =
			MSIX_ENTRY_CTRL_MASKED;
		m->vec[i] = (struct msix_vector){ .fd = -1, .gsi = -1 };
	}
	*out = m;
	return 0;
fail:
	free(m->vec);
	free(m->pba);
	free(m->table);
	free(m);
	return rc;
}

void msix_destroy(struct msix *m)
{
	unsigned int i;

	if (!m)
		return;
	for (i = 0; i < m->nr; i++) {
		struct msix_vector *v = &m->vec[i];

		if (v->gsi >= 0 && m->host->msi_route_del)
			m->host->msi_route_del(m->host->kvm_opaque,
					       (unsigned int)v->gsi, v->fd);
		if (v->fd >= 0)
			close(v->fd);
	}
	pthread_mutex_destroy(&m->lock);
	free(m->vec);
	free(m->pba);
	free(m->table);
	free(m);
}

static const uint8_t *entry(const struct msix *m, unsigned int v)
{
	return m->table + (size_t)v * MSIX_ENTRY_SIZE;
}

static bool deliverable(const struct msix *m, unsigned int v)
{
	return m->enabled && !m->mask_all &&
	       !(entry(m, v)[MSIX_ENTRY_CTRL] & MSIX_ENTRY_CTRL_MASKED);
}

static bool pending(const struct msix *m, unsigned int v)
{
	return m->pba[v / 64] >> (v % 64) & 1;
}

static void set_pending(struct msix *m, unsigned int v, bool on)
{
	if (on)
		m->pba[v / 64] |= 1ull << (v % 64);
	else
		m->pba[v / 64] &= ~(1ull << (v % 64));
}

/*
 * Gives a deliverable vector its eventfd and a route carrying its current
 * message. Returns false if it has no way to deliver (logged).
 */
static bool sync_route(struct msix *m, unsigned int i)
{
	struct msix_vector *v = &m->vec[i];
	const struct device_host *h = m->host;
	const uint8_t *e = entry(m, i);
	uint64_t addr = (uint64_t)rd32(e + MSIX_ENTRY_ADDR_HI) << 32 |
			rd32(e + MSIX_ENTRY_ADDR_LO);
	uint32_t data = rd32(e + MSIX_ENTRY_DATA);
	int rc;

	if (v->fd < 0) {
		rc = event_new();
		if (rc < 0) {
			log_warn("%s: MSI-X vector %u: eventfd: %s", m->name, i,
				 strerror(-rc));
			return false;
		}
		v->fd = rc;
	}
	if (!h->msi_route_add)
		return true; /* unit tests: the eventfd is the interrupt */
	if (v->gsi < 0) {
		rc = h->msi_route_add(h->kvm_opaque, addr, data, v->fd);
		if (rc < 0) {
			log_guest("%s: MSI-X vector %u: no route: %s", m->name,
				  i, strerror(-rc));
			return false;
		}
		v->gsi = rc;
	} else if (v->addr != addr || v->data != data) {
		rc = h->msi_route_update ?
			     h->msi_route_update(h->kvm_opaque,
						 (unsigned int)v->gsi, addr,
						 data) :
			     -ENOTSUP;
		if (rc < 0) {
			log_guest("%s: MSI-X vector %u: route update: %s",
				  m->name, i, strerror(-rc));
			return false;
		}
	}
	v->addr = addr;
	v->data = data;
	return true;
}

/* After anything that may have made vector i deliverable. */
static void vector_changed(struct msix *m, unsigned int i)
{
	if (!deliverable(m, i))
		return;
	if (!sync_route(m, i))
		return;
	if (pending(m, i)) {
		set_pending(m, i, false);
		event_signal(m->vec[i].fd);
	}
}

static bool overlaps(uint64_t off, unsigned int size, uint32_t start,
		     uint32_t len)
{
	return off < (uint64_t)start + len && start < off + size;
}

static bool inside(uint64_t off, unsigned int size, uint32_t start,
		   uint32_t len)
{
	return off >= start && off + size <= (uint64_t)start + len;
}

static void table_write(struct msix *m, uint32_t toff, unsigned int size,
			uint64_t value)
{
	unsigned int first = toff / MSIX_ENTRY_SIZE;
	unsigned int last = (toff + size - 1) / MSIX_ENTRY_SIZE;

	for (unsigned int i = 0; i < size; i++) {
		uint32_t b = toff + i;
		uint8_t byte = (uint8_t)(value >> (8 * i));

		switch (b % MSIX_ENTRY_SIZE) {
		case MSIX_ENTRY_ADDR_LO:
			/* Messages are dword-aligned: bits 1:0 read 0. */
			m->table[b] = byte & 0xfc;
			break;
		case MSIX_ENTRY_CTRL:
			/* Only the mask bit; the rest is reserved. */
			m->table[b] = byte & MSIX_ENTRY_CTRL_MASKED;
			break;
		case MSIX_ENTRY_CTRL + 1:
		case MSIX_ENTRY_CTRL + 2:
		case MSIX_ENTRY_CTRL + 3:
			break;
		default:
			m->table[b] = byte;
			break;
		}
	}
	for (unsigned int v = first; v <= last; v++)
		vector_changed(m, v);
}

bool msix_bar_access(struct msix *m, unsigned int bar, uint64_t off,
		     unsigned int size, uint64_t *value, bool write)
{
	uint32_t tlen = msix_table_len(m->nr), plen = msix_pba_len(m->nr);
	uint64_t v = 0;

	if (bar != m->bar || (!overlaps(off, size, m->table_off, tlen) &&
			      !overlaps(off, size, m->pba_off, plen)))
		return false;
	pthread_mutex_lock(&m->lock);
	if (inside(off, size, m->table_off, tlen)) {
		uint32_t toff = (uint32_t)(off - m->table_off);

		if (write) {
			table_write(m, toff, size, *value);
		} else {
			for (unsigned int i = 0; i < size; i++)
				v |= (uint64_t)m->table[toff + i] << (8 * i);
		}
	} else if (inside(off, size, m->pba_off, plen)) {
		uint32_t poff = (uint32_t)(off - m->pba_off);

		/* Read-only: pending bits change only by delivery. */
		for (unsigned int i = 0; !write && i < size; i++) {
			uint32_t b = poff + i;

			v |= (m->pba[b / 8] >> (8 * (b % 8)) & 0xff) << (8 * i);
		}
	} else {
		log_guest("%s: MSI-X access of %u bytes at BAR%u+0x%llx "
			  "straddles the table or PBA",
			  m->name, size, bar, (unsigned long long)off);
		v = ~0ull;
	}
	pthread_mutex_unlock(&m->lock);
	if (!write)
		*value = size >= 8 ? v : v & ((1ull << (8 * size)) - 1);
	return true;
}

void msix_set_control(struct msix *m, bool enable, bool mask_all)
{
	pthread_mutex_lock(&m->lock);
	if (m->enabled != enable || m->mask_all != mask_all) {
		m->enabled = enable;
		m->mask_all = mask_all;
		for (unsigned int i = 0; i < m->nr; i++)
			vector_changed(m, i);
	}
	pthread_mutex_unlock(&m->lock);
}

void msix_notify(struct msix *m, unsigned int i)
{
	if (i >= m->nr)
		return;
	pthread_mutex_lock(&m->lock);
	if (!m->enabled) {
		/* Dropped: without MSI-X the function signals INTx. */
	} else if (!deliverable(m, i)) {
		set_pending(m, i, true);
	} else if (sync_route(m, i)) {
		/* Synced already unless routing failed at unmask time. */
		event_signal(m->vec[i].fd);
	}
	pthread_mutex_unlock(&m->lock);
}

bool msix_enabled(struct msix *m)
{
	bool on;

	pthread_mutex_lock(&m->lock);
	on = m->enabled;
	pthread_mutex_unlock(&m->lock);
	return on;
}

int msix_vector_fd(struct msix *m, unsigned int i)
{
	int fd = -1;

	if (i >= m->nr)
		return -1;
	pthread_mutex_lock(&m->lock);
	if (deliverable(m, i))
		fd = m->vec[i].fd;
	pthread_mutex_unlock(&m->lock);
	return fd;
}
