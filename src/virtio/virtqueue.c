// SPDX-License-Identifier: MIT
/*
 * Split virtqueues, the device side (virtio 1.x, section 2.7): the
 * descriptor table, the available ring (driver -> device) and the used ring
 * (device -> driver), with indirect descriptors (2.7.5.3), event index
 * notification suppression (2.7.7, 2.7.10) and the ring flags.
 *
 * Guest-controlled: everything in the three rings and in indirect tables,
 * at any time (a driver on another vCPU may rewrite them while we read),
 * and the ring addresses and size the transport hands to virtq_init().
 *
 * How this file keeps the rules of docs/design.md:
 *  - virtq_init() translates each ring as a whole with gm_ptr(); later
 *    accesses are offsets inside those checked ranges, from indices reduced
 *    modulo the (power of two) size. Buffers and indirect tables are each
 *    translated whole by gm_ptr(), so a buffer lies inside one RAM region:
 *    never across a hole, into MMIO (device registers) or past 2^64.
 *  - avail->idx is read once per pop (acquire) and checked: it may run at
 *    most size entries ahead of us. A descriptor is copied out of guest
 *    memory before any of its fields is looked at (no double fetch).
 *  - A chain walk is bounded by the queue size, an indirect table by its
 *    own length (at most VIRTQ_MAX_SIZE entries). Indirect tables may not
 *    nest, and an INDIRECT descriptor may only be the head of a chain and
 *    may not carry NEXT (2.7.5.3.1). Its WRITE flag is ignored (spec).
 *  - Byte totals are summed with an overflow-free check against
 *    VIRTQ_MAX_ELEM_BYTES; the host memory one element takes is its iovec
 *    array, at most VIRTQ_MAX_SIZE entries.
 *  - Device-readable descriptors must come before device-writable ones.
 *  - Zero-length descriptors are accepted and skipped: they take no iovec
 *    entry and their address is not looked at (nothing is ever accessed
 *    through them), but they count against the chain bound and the
 *    readable-before-writable rule.
 *  - Any violation logs the reason (rate-limited, log_guest) and breaks
 *    the queue: from then on virtq_pop() returns -EIO until virtq_init().
 *
 * Memory ordering (the driver runs concurrently on another CPU): avail->idx
 * is loaded with acquire before the ring entries and descriptors it
 * publishes are read; used elements are written before used->idx is
 * published with release; a full fence separates publishing used->idx
 * from reading the driver's flags/used_event, and publishing avail_event
 * (or clearing NO_NOTIFY) from re-reading avail->idx.
 */
#include "virtio/virtqueue.h"

#include <endian.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* Offsets inside the rings (2.7.6, 2.7.8). */
#define AVAIL_FLAGS 0
#define AVAIL_IDX 2
#define AVAIL_RING 4
#define USED_FLAGS 0
#define USED_IDX 2
#define USED_RING 4
#define DESC_SIZE 16

/* A descriptor copied out of guest memory, in host byte order. */
struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* The segments of the chain being walked, before the element exists. */
struct chain {
	unsigned int nr, nr_out, nr_in;
	uint64_t out_len, in_len;
	bool seen_write;
};

/*
 * The walk collects segments here, so that one pass over the guest's
 * descriptors suffices (a second pass would be a double fetch) and the
 * element is allocated at its exact size. A queue is used by one thread at
 * a time, and a walk never sleeps.
 */
static _Thread_local struct iovec scratch[VIRTQ_MAX_SIZE];

/* Marks the queue broken and logs why; evaluates to -EIO. */
#define vq_break(vq, fmt, ...)                                            \
	({                                                                \
		log_guest("virtqueue at 0x%llx: " fmt,                    \
			  (unsigned long long)(vq)->desc, ##__VA_ARGS__); \
		(vq)->broken = true;                                      \
		-EIO;                                                     \
	})

/*
 * Ring fields are naturally aligned: virtq_init() checked the rings'
 * alignment, and guest RAM regions are page aligned in host memory too.
 */
static _Atomic uint16_t *field16(void *ring, uint64_t off)
{
	return (_Atomic uint16_t *)((uint8_t *)ring + off);
}

static _Atomic uint32_t *field32(void *ring, uint64_t off)
{
	return (_Atomic uint32_t *)((uint8_t *)ring + off);
}

static uint16_t load16(void *ring, uint64_t off, memory_order mo)
{
	return le16toh(atomic_load_explicit(field16(ring, off), mo));
}

static void store16(void *ring, uint64_t off, uint16_t v, memory_order mo)
{
	atomic_store_explicit(field16(ring, off), htole16(v), mo);
}

static void store32(void *ring, uint64_t off, uint32_t v, memory_order mo)
{
	atomic_store_explicit(field32(ring, off), htole32(v), mo);
}

static uint64_t used_event_off(const struct virtq *vq)
{
	return AVAIL_RING + 2ull * vq->size;
}

static uint64_t avail_event_off(const struct virtq *vq)
{
	return USED_RING + 8ull * vq->size;
}

/*
 * Copies descriptor i of a table the caller translated for at least i + 1
 * entries, reading each byte of guest memory once. Aligned descriptors
 * (always in the ring's table, usually in indirect ones) are read with two
 * 64-bit atomic loads, so a field the driver rewrites is never torn. An
 * unaligned indirect table is copied with memcpy; the compiler barrier
 * keeps the compiler from reading guest memory again in place of the copy.
 */
static void desc_read(const uint8_t *table, unsigned int i, struct desc *d)
{
	const uint8_t *p = table + (size_t)i * DESC_SIZE;
	uint8_t raw[DESC_SIZE];
	uint64_t w[2], addr;
	uint32_t len;
	uint16_t flags, next;

	if (((uintptr_t)p & 7) == 0) {
		w[0] = atomic_load_explicit((_Atomic uint64_t *)p,
					    memory_order_relaxed);
		w[1] = atomic_load_explicit((_Atomic uint64_t *)(p + 8),
					    memory_order_relaxed);
		memcpy(raw, w, sizeof(raw));
	} else {
		memcpy(raw, p, sizeof(raw));
		__asm__ __volatile__("" ::: "memory");
	}
	memcpy(&addr, raw, 8);
	memcpy(&len, raw + 8, 4);
	memcpy(&flags, raw + 12, 2);
	memcpy(&next, raw + 14, 2);
	*d = (struct desc){
		.addr = le64toh(addr),
		.len = le32toh(len),
		.flags = le16toh(flags),
		.next = le16toh(next),
	};
}

static void reset_state(struct virtq *vq)
{
	vq->last_avail = 0;
	vq->used_idx = 0;
	vq->signalled_used = 0;
	vq->signalled_used_valid = false;
	vq->broken = false;
	vq->no_notify = false;
	vq->desc_hva = NULL;
	vq->avail_hva = NULL;
	vq->used_hva = NULL;
}

int virtq_init(struct virtq *vq)
{
	unsigned int size = vq->size;

	reset_state(vq);
	if (!vq->mem) {
		vq->broken = true; /* a transport bug, not the guest's */
		return -EINVAL;
	}
	if (size == 0 || size > VIRTQ_MAX_SIZE || (size & (size - 1))) {
		vq_break(vq, "queue size %u is not a power of two <= %u", size,
			 VIRTQ_MAX_SIZE);
		return -EINVAL;
	}
	if (vq->desc % VIRTQ_DESC_ALIGN || vq->avail % VIRTQ_AVAIL_ALIGN ||
	    vq->used % VIRTQ_USED_ALIGN) {
		vq_break(vq, "misaligned rings (avail 0x%llx, used 0x%llx)",
			 (unsigned long long)vq->avail,
			 (unsigned long long)vq->used);
		return -EINVAL;
	}
	vq->desc_hva = gm_ptr(vq->mem, vq->desc, virtq_desc_bytes(size));
	vq->avail_hva = gm_ptr(vq->mem, vq->avail, virtq_avail_bytes(size));
	vq->used_hva = gm_ptr(vq->mem, vq->used, virtq_used_bytes(size));
	if (!vq->desc_hva || !vq->avail_hva || !vq->used_hva) {
		vq->desc_hva = vq->avail_hva = vq->used_hva = NULL;
		vq_break(vq, "rings outside RAM (avail 0x%llx, used 0x%llx)",
			 (unsigned long long)vq->avail,
			 (unsigned long long)vq->used);
		return -EINVAL;
	}
	/* The used ring is the device's: start it from a known state. */
	store16(vq->used_hva, USED_FLAGS, 0, memory_order_relaxed);
	store16(vq->used_hva, avail_event_off(vq), 0, memory_order_relaxed);
	store16(vq->used_hva, USED_IDX, 0, memory_order_release);
	return 0;
}

/* Appends one direct descriptor's buffer to the chain. */
static int add_segment(struct virtq *vq, struct chain *c, const struct desc *d)
{
	bool write = d->flags & VIRTQ_DESC_F_WRITE;
	void *hva;

	if (write)
		c->seen_write = true;
	else if (c->seen_write)
		return vq_break(vq, "device-readable descriptor after a "
				    "device-writable one");
	if (d->len == 0)
		return 0;
	/* Totals stay <= VIRTQ_MAX_ELEM_BYTES, so the sum cannot wrap. */
	if (d->len > VIRTQ_MAX_ELEM_BYTES - c->out_len - c->in_len)
		return vq_break(vq, "chain longer than %llu bytes",
				VIRTQ_MAX_ELEM_BYTES);
	hva = gm_ptr(vq->mem, d->addr, d->len);
	if (!hva)
		return vq_break(vq, "buffer 0x%llx+0x%x is not in RAM",
				(unsigned long long)d->addr, d->len);
	/* Unreachable: walks are bounded by VIRTQ_MAX_SIZE descriptors. */
	if (c->nr >= VIRTQ_MAX_SIZE)
		return vq_break(vq, "more than %u segments", VIRTQ_MAX_SIZE);
	scratch[c->nr++] = (struct iovec){ .iov_base = hva, .iov_len = d->len };
	if (write) {
		c->nr_in++;
		c->in_len += d->len;
	} else {
		c->nr_out++;
		c->out_len += d->len;
	}
	return 0;
}

/* Switches the walk to the indirect table d points to. */
static int enter_indirect(struct virtq *vq, const struct desc *d, bool is_head,
			  const uint8_t **table, unsigned int *entries)
{
	if (!vq->indirect)
		return vq_break(vq, "indirect descriptor not negotiated");
	if (*table != vq->desc_hva)
		return vq_break(vq, "nested indirect descriptor");
	if (!is_head)
		return vq_break(vq, "indirect descriptor inside a chain");
	if (d->flags & VIRTQ_DESC_F_NEXT)
		return vq_break(vq, "indirect descriptor with NEXT");
	if (d->len == 0 || d->len % DESC_SIZE ||
	    d->len / DESC_SIZE > VIRTQ_MAX_SIZE)
		return vq_break(vq, "indirect table of %u bytes", d->len);
	*table = gm_ptr(vq->mem, d->addr, d->len);
	if (!*table)
		return vq_break(vq, "indirect table 0x%llx+0x%x is not in RAM",
				(unsigned long long)d->addr, d->len);
	*entries = d->len / DESC_SIZE;
	return 0;
}

/* Walks the chain at head into *out; -EIO (broken) or -ENOMEM. */
static int read_chain(struct virtq *vq, uint16_t head, struct virtq_elem **out)
{
	const uint8_t *table = vq->desc_hva;
	unsigned int entries = vq->size, budget = vq->size, i = head;
	struct chain c = { .nr = 0 };
	struct virtq_elem *elem;
	bool is_head = true;
	struct desc d;
	int r;

	if (head >= vq->size)
		return vq_break(vq, "head %u out of range (size %u)", head,
				vq->size);
	for (;;) {
		if (budget == 0)
			return vq_break(vq, "chain longer than its table "
					    "(a loop?)");
		budget--;
		desc_read(table, i, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			r = enter_indirect(vq, &d, is_head, &table, &entries);
			if (r)
				return r;
			budget = entries;
			i = 0;
			is_head = false;
			continue;
		}
		is_head = false;
		r = add_segment(vq, &c, &d);
		if (r)
			return r;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		if (d.next >= entries)
			return vq_break(vq, "next %u out of range (%u entries)",
					d.next, entries);
		i = d.next;
	}

	elem = malloc(sizeof(*elem) + (size_t)c.nr * sizeof(struct iovec));
	if (!elem)
		return -ENOMEM;
	*elem = (struct virtq_elem){
		.head = head,
		.nr_out = c.nr_out,
		.nr_in = c.nr_in,
		.out_len = c.out_len,
		.in_len = c.in_len,
	};
	memcpy(elem->iov, scratch, (size_t)c.nr * sizeof(struct iovec));
	*out = elem;
	return 0;
}

/* Entries the driver has made available; -EIO if avail->idx is insane. */
static int avail_pending(struct virtq *vq, uint16_t *pending)
{
	uint16_t idx = load16(vq->avail_hva, AVAIL_IDX, memory_order_acquire);

	*pending = (uint16_t)(idx - vq->last_avail);
	if (*pending > vq->size)
		return vq_break(vq, "avail idx %u is %u entries ahead of %u",
				idx, *pending, vq->last_avail);
	return 0;
}

int virtq_pop(struct virtq *vq, struct virtq_elem **out)
{
	uint16_t pending, head;
	int r;

	*out = NULL;
	if (vq->broken || !vq->desc_hva)
		return -EIO;
	r = avail_pending(vq, &pending);
	if (r)
		return r;
	if (pending == 0) {
		if (!vq->event_idx || vq->no_notify)
			return 0;
		/*
		 * Empty: ask to be notified of the next entry, then look
		 * again, or a buffer the driver added just now, having read
		 * the old avail_event, would wait for the next notification.
		 */
		store16(vq->used_hva, avail_event_off(vq), vq->last_avail,
			memory_order_relaxed);
		atomic_thread_fence(memory_order_seq_cst);
		r = avail_pending(vq, &pending);
		if (r || pending == 0)
			return r;
	}
	head = load16(vq->avail_hva,
		      AVAIL_RING + 2ull * (vq->last_avail & (vq->size - 1)),
		      memory_order_relaxed);
	r = read_chain(vq, head, out);
	if (r)
		return r;
	vq->last_avail++;
	return 1;
}

void virtq_elem_free(struct virtq_elem *elem)
{
	free(elem);
}

void virtq_push(struct virtq *vq, struct virtq_elem *elem, uint32_t written)
{
	uint64_t slot;

	if (!elem)
		return;
	if (vq->used_hva) {
		/* The driver may trust len: never more than it offered. */
		if (written > elem->in_len)
			written = (uint32_t)elem->in_len;
		slot = USED_RING + 8ull * (vq->used_idx & (vq->size - 1));
		store32(vq->used_hva, slot, elem->head, memory_order_relaxed);
		store32(vq->used_hva, slot + 4, written, memory_order_relaxed);
		vq->used_idx++;
		store16(vq->used_hva, USED_IDX, vq->used_idx,
			memory_order_release);
		/* 2^16 pushes without a check: the old index means nothing. */
		if (vq->used_idx == vq->signalled_used)
			vq->signalled_used_valid = false;
	}
	free(elem);
}

bool virtq_should_notify(struct virtq *vq)
{
	uint16_t old = vq->signalled_used, now = vq->used_idx, event;
	bool valid = vq->signalled_used_valid;

	if (!vq->avail_hva)
		return false;
	/* Our used->idx store must be visible before we read the driver's. */
	atomic_thread_fence(memory_order_seq_cst);
	vq->signalled_used = now;
	vq->signalled_used_valid = true;
	if (valid && old == now)
		return false; /* nothing new since the last interrupt */
	if (!vq->event_idx)
		return !(load16(vq->avail_hva, AVAIL_FLAGS,
				memory_order_relaxed) &
			 VIRTQ_AVAIL_F_NO_INTERRUPT);
	if (!valid)
		return true;
	event = load16(vq->avail_hva, used_event_off(vq), memory_order_relaxed);
	/* vring_need_event(): did used->idx step past used_event? */
	return (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

void virtq_set_notification(struct virtq *vq, bool enable)
{
	if (!vq->used_hva)
		return;
	vq->no_notify = !enable;
	if (vq->event_idx) {
		/* Disabling is a hint; the driver may still notify once. */
		if (enable)
			store16(vq->used_hva, avail_event_off(vq),
				vq->last_avail, memory_order_relaxed);
	} else {
		store16(vq->used_hva, USED_FLAGS,
			enable ? 0 : VIRTQ_USED_F_NO_NOTIFY,
			memory_order_relaxed);
	}
	/* Pairs with the driver's fence between avail->idx and our flags. */
	if (enable)
		atomic_thread_fence(memory_order_seq_cst);
}

static uint64_t copy_iov(const struct iovec *iov, unsigned int nr, uint64_t off,
			 void *buf, uint64_t len, bool to_iov)
{
	uint8_t *p = buf;
	uint64_t done = 0, n;
	unsigned int i;

	for (i = 0; i < nr && done < len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		n = iov[i].iov_len - off;
		if (n > len - done)
			n = len - done;
		if (to_iov)
			memcpy((uint8_t *)iov[i].iov_base + off, p + done, n);
		else
			memcpy(p + done, (uint8_t *)iov[i].iov_base + off, n);
		done += n;
		off = 0;
	}
	return done;
}

uint64_t virtq_copy_from(const struct virtq_elem *elem, uint64_t off, void *dst,
			 uint64_t len)
{
	return copy_iov(elem->iov, elem->nr_out, off, dst, len, false);
}

uint64_t virtq_copy_to(const struct virtq_elem *elem, uint64_t off,
		       const void *src, uint64_t len)
{
	return copy_iov(elem->iov + elem->nr_out, elem->nr_in, off, (void *)src,
			len, true);
}
