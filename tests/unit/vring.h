/* SPDX-License-Identifier: MIT */
/*
 * vring: a tiny virtio driver for unit tests. It plays the guest's side of
 * a split virtqueue (virtio 1.x, 2.7) in fake guest memory: it lays out the
 * descriptor table and the available and used rings, posts descriptor
 * chains (direct or through an indirect table), publishes them, and reads
 * back what the device put in the used ring. It also has raw writers for
 * the hostile tests, which need rings no real driver would write.
 *
 * Typical use, against virtqueue.c directly:
 *
 *	struct guest_mem gm;
 *	struct vring vr;
 *	struct virtq vq = { .event_idx = false };
 *
 *	vring_mem_alloc(&gm);                        // the standard test RAM
 *	vring_init(&vr, &gm, VRING_RING_GPA, 16, VRING_DATA_GPA,
 *		   VRING_DATA_SIZE);
 *	vring_to_virtq(&vr, &vq);                    // mem, size, addresses
 *	virtq_init(&vq);
 *	head = vring_post_buf(&vr, "hello", 5, 64, &in_gpa);
 *	virtq_pop(&vq, &elem) ... virtq_push(&vq, elem, n);
 *	vring_get_used(&vr, &id, &len);              // id == head, len == n
 *	gm_free(&gm);
 *
 * Against a device behind the PCI transport (tests/unit/virtio_harness.h):
 * give the transport vr.desc, vr.avail and vr.used as the queue addresses
 * and vr.size as its size, post with vring_post*(), notify the device,
 * then poll vring_get_used(). The posting side and the used side may run
 * on a test thread while the device runs on its I/O thread: the ring
 * indices are published with release and read with acquire, as a driver
 * does. One struct vring is driven by one thread at a time.
 *
 * Misuse by the test itself (ring outside RAM, data area exhausted) is
 * reported with test_fail() and never crashes.
 */
#ifndef MICA_TESTS_UNIT_VRING_H
#define MICA_TESTS_UNIT_VRING_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/virtqueue.h"
#include "vm/guest_mem.h"

/*
 * The standard fake guest memory of vring_mem_alloc(): RAM that does not
 * start at 0 (so address 0 is not RAM), a region that ends where the
 * 32-bit MMIO hole starts, one above 4 GiB, and one just below 2^64 (to
 * test wrap-around with real RAM nearby). Everything else is a hole.
 */
#define VRING_RAM_LOW 0x100000ull /* 1 MiB */
#define VRING_RAM_LOW_SIZE 0x400000ull /* 4 MiB */
#define VRING_RAM_HOLE_END 0xc0000000ull /* LAYOUT_MMIO_HOLE */
#define VRING_RAM_BELOW_HOLE (VRING_RAM_HOLE_END - 0x100000ull)
#define VRING_RAM_BELOW_HOLE_SIZE 0x100000ull
#define VRING_RAM_HIGH 0x100000000ull /* 4 GiB */
#define VRING_RAM_HIGH_SIZE 0x100000ull
#define VRING_RAM_TOP 0xffffffffffe00000ull /* 2^64 - 2 MiB */
#define VRING_RAM_TOP_SIZE 0x100000ull

/* Suggested places in the low region: rings of up to 4 queues, then data. */
#define VRING_RING_GPA VRING_RAM_LOW /* one queue's rings per 64 KiB */
#define VRING_RING_STRIDE 0x10000ull
#define VRING_DATA_GPA (VRING_RAM_LOW + 0x100000ull)
#define VRING_DATA_SIZE 0x100000ull /* 1 MiB per queue */

/* Maps the standard test RAM into *gm. Returns 0 or -errno. */
int vring_mem_alloc(struct guest_mem *gm);

/* One buffer of a chain: device-readable (write false) or -writable. */
struct vring_seg {
	gpa_t addr;
	uint32_t len;
	bool write;
};

struct vring {
	const struct guest_mem *mem;
	uint16_t size;
	gpa_t desc, avail, used; /* ring addresses, as the transport gets */
	bool event_idx; /* the driver uses used_event/avail_event */

	/* Driver state; read it, don't change it. */
	uint16_t avail_idx; /* next avail->idx to publish */
	uint16_t kicked_idx; /* avail_idx at the last vring_need_kick() */
	uint16_t last_used; /* next used entry to read */
	uint16_t free_head, nr_free;
	uint16_t next_free[VIRTQ_MAX_SIZE]; /* free list and chain links */
	uint16_t chain_len[VIRTQ_MAX_SIZE]; /* per posted head, 0 if free */
	gpa_t data, data_end, data_next; /* buffer allocator */
};

/*
 * Lays out rings for a queue of size entries at ring_gpa (16-byte aligned;
 * they take < 64 KiB for size <= 1024): the descriptor table, the avail
 * ring right after it, the used ring at the next 4-byte boundary, all
 * zeroed. Buffers come from [data, data + data_len). Returns 0, or -EINVAL
 * (and fails the test) if the rings are not in RAM.
 */
int vring_init(struct vring *vr, const struct guest_mem *mem, gpa_t ring_gpa,
	       uint16_t size, gpa_t data, uint64_t data_len);

/* Fills in vq's transport fields (mem, size, addresses, event_idx). */
void vring_to_virtq(const struct vring *vr, struct virtq *vq);

/*
 * Test trick for 16-bit index wrap-around: after virtq_init(vq), moves the
 * driver's and the device's indices (avail, used, and vq's copies) to idx,
 * as if idx requests had already gone through. The ring must be idle.
 */
void vring_start_at(struct vring *vr, struct virtq *vq, uint16_t idx);

/*
 * Allocates len bytes (16-byte aligned) from the data area; fails the test
 * and returns the data area's start when it is exhausted. vring_free_data()
 * starts the allocator over.
 */
gpa_t vring_alloc(struct vring *vr, uint64_t len);
void vring_free_data(struct vring *vr);

/*
 * Posts a chain of n segments (readable first, then writable) from free
 * descriptors and publishes it. Returns the head, or -ENOSPC if fewer than
 * n descriptors are free, or -EINVAL if n is 0.
 */
int vring_post(struct vring *vr, const struct vring_seg *segs, unsigned int n);
/*
 * The same chain through an indirect table (allocated in the data area);
 * takes one descriptor of the ring.
 */
int vring_post_indirect(struct vring *vr, const struct vring_seg *segs,
			unsigned int n);
/*
 * Convenience: copies out_len bytes of out into a new buffer and adds an
 * in_len-byte writable buffer (its address in *in_gpa if not NULL); either
 * may be 0, not both. Returns the head or -errno.
 */
int vring_post_buf(struct vring *vr, const void *out, uint32_t out_len,
		   uint32_t in_len, gpa_t *in_gpa);

/*
 * Reads the next used element, if the device published one: its id and
 * len; the descriptors of that chain become free again (if id is a head
 * we posted). Returns false when there is none.
 */
bool vring_get_used(struct vring *vr, uint32_t *id, uint32_t *len);

/*
 * Whether the device asked to be notified of what was posted since the
 * last call (VIRTQ_USED_F_NO_NOTIFY, or avail_event with event_idx).
 */
bool vring_need_kick(struct vring *vr);

/* Raw ring access, for checks and for hostile tests. */
void vring_write_desc(struct vring *vr, gpa_t table, unsigned int i,
		      uint64_t addr, uint32_t len, uint16_t flags,
		      uint16_t next);
/* Puts head in the next avail slot and publishes it (no free list). */
void vring_put_avail(struct vring *vr, uint16_t head);
void vring_set_avail_slot(struct vring *vr, uint16_t slot, uint16_t head);
void vring_set_avail_idx(struct vring *vr, uint16_t idx); /* also shadow */
void vring_set_avail_flags(struct vring *vr, uint16_t flags);
void vring_set_used_event(struct vring *vr, uint16_t v);
uint16_t vring_used_idx(const struct vring *vr);
uint16_t vring_used_flags(const struct vring *vr);
uint16_t vring_avail_event(const struct vring *vr);
void vring_used_elem(const struct vring *vr, uint16_t slot, uint32_t *id,
		     uint32_t *len);

#endif
