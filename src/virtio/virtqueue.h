/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueues (virtio 1.x, section 2.7): all parsing of guest rings
 * lives in virtqueue.c.
 *
 * The rings are guest memory and hostile. Indices are read once, then
 * checked; descriptors are copied out before they are checked; a chain walk
 * is bounded by the queue size; indirect tables may not nest; lengths are
 * summed with overflow checks; every buffer is translated by gm_ptr(), so it
 * lies wholly inside guest RAM. A queue that breaks these rules is marked
 * broken and returns -EIO from then on; the transport puts the device in
 * NEEDS_RESET.
 *
 * Policies (details at the top of virtqueue.c): zero-length descriptors
 * are accepted and skipped (no iovec entry); an INDIRECT descriptor must be
 * the head of its chain, without NEXT, and its table 16 to
 * 16 * VIRTQ_MAX_SIZE bytes; device-readable descriptors come before
 * device-writable ones; each buffer lies inside one RAM region.
 *
 * A virtqueue is used by one thread at a time (its device's I/O thread);
 * the transport owns its setup fields and changes them only while the
 * device is stopped.
 */
#ifndef MICA_VIRTIO_VIRTQUEUE_H
#define MICA_VIRTIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vm/guest_mem.h"

#define VIRTQ_MAX_SIZE 1024 /* largest queue mica offers */
/* Upper bound on the bytes one element may describe (both directions). */
#define VIRTQ_MAX_ELEM_BYTES (256ull << 20)

/* Ring layout (virtio 1.x, 2.7): flags of descriptors and rings. */
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

/* Required alignment of each ring's guest address. */
#define VIRTQ_DESC_ALIGN 16
#define VIRTQ_AVAIL_ALIGN 2
#define VIRTQ_USED_ALIGN 4

/* Bytes of each ring for a queue of size entries, event fields included. */
static inline uint64_t virtq_desc_bytes(unsigned int size)
{
	return 16ull * size;
}

static inline uint64_t virtq_avail_bytes(unsigned int size)
{
	return 6ull + 2ull * size;
}

static inline uint64_t virtq_used_bytes(unsigned int size)
{
	return 6ull + 8ull * size;
}

struct virtq {
	/* Set by the transport from the common configuration. */
	const struct guest_mem *mem;
	uint16_t size; /* a power of two, <= VIRTQ_MAX_SIZE */
	gpa_t desc, avail, used;
	bool event_idx; /* VIRTIO_F_RING_EVENT_IDX negotiated */
	bool indirect; /* VIRTIO_F_INDIRECT_DESC negotiated */

	/* Device state (virtqueue.c). */
	uint16_t last_avail; /* next avail entry to take */
	uint16_t used_idx; /* our copy of used->idx */
	uint16_t signalled_used; /* used_idx at the last interrupt */
	bool signalled_used_valid;
	bool broken;
	bool no_notify; /* the device asked not to be notified */
	/* Host views of the rings, set by virtq_init once they are checked. */
	void *desc_hva, *avail_hva, *used_hva;
};

/*
 * One request: the device-readable segments (out) first, then the
 * device-writable ones (in), each a host pointer into guest RAM.
 */
struct virtq_elem {
	uint16_t head; /* returned in the used ring */
	unsigned int nr_out, nr_in;
	uint64_t out_len, in_len; /* byte totals */
	struct iovec iov[]; /* nr_out + nr_in entries */
};

/*
 * Checks the ring addresses and size and resets the device state. Returns
 * 0, or -EINVAL if the rings do not lie in guest RAM or the size is not a
 * power of two (then the queue is broken).
 */
int virtq_init(struct virtq *vq);

/*
 * Takes the next available element. Returns 1 with *out set (free it with
 * virtq_elem_free), 0 when the ring is empty, -EIO when the ring is broken
 * (the reason has been logged, rate-limited), -ENOMEM on host allocation
 * failure.
 */
int virtq_pop(struct virtq *vq, struct virtq_elem **out);
void virtq_elem_free(struct virtq_elem *elem);

/*
 * Returns elem to the driver with written bytes in its device-writable
 * part, and frees it.
 */
void virtq_push(struct virtq *vq, struct virtq_elem *elem, uint32_t written);

/*
 * After one or more pushes: whether the driver wants an interrupt now
 * (VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event with EVENT_IDX).
 */
bool virtq_should_notify(struct virtq *vq);

/*
 * Asks the driver for (enable) or against (disable) notifications of new
 * buffers (VIRTQ_USED_F_NO_NOTIFY, or avail_event with EVENT_IDX). After
 * enabling, the caller checks the ring once more (virtq_pop) to close the
 * race with the driver.
 */
void virtq_set_notification(struct virtq *vq, bool enable);

/* Copy to/from an element's segments, from byte offset off. Return bytes. */
uint64_t virtq_copy_from(const struct virtq_elem *elem, uint64_t off, void *dst,
			 uint64_t len); /* from the out segments */
uint64_t virtq_copy_to(const struct virtq_elem *elem, uint64_t off,
		       const void *src, uint64_t len); /* to the in segments */

#endif
