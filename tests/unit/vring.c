// SPDX-License-Identifier: MIT
/*
 * vring: the driver side of a split virtqueue (virtio 1.x, 2.7) in fake
 * guest memory, for unit tests of virtqueue.c and of virtio devices. See
 * vring.h. Nothing here is guest-controlled: this file is the guest.
 */
#include "unit/vring.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "unit/test.h"

#define AVAIL_FLAGS 0
#define AVAIL_IDX 2
#define AVAIL_RING 4
#define USED_FLAGS 0
#define USED_IDX 2
#define USED_RING 4

int vring_mem_alloc(struct guest_mem *gm)
{
	static const struct gm_range ram[] = {
		{ .gpa = VRING_RAM_LOW, .size = VRING_RAM_LOW_SIZE },
		{ .gpa = VRING_RAM_BELOW_HOLE,
		  .size = VRING_RAM_BELOW_HOLE_SIZE },
		{ .gpa = VRING_RAM_HIGH, .size = VRING_RAM_HIGH_SIZE },
		{ .gpa = VRING_RAM_TOP, .size = VRING_RAM_TOP_SIZE },
	};

	return gm_alloc(gm, ram, sizeof(ram) / sizeof(ram[0]));
}

/* A pointer to a ring field the test laid out itself; NULL fails the test. */
static void *ptr(const struct vring *vr, gpa_t gpa, uint64_t len)
{
	void *p = gm_ptr(vr->mem, gpa, len);

	if (!p)
		test_fail(__FILE__, __LINE__, "vring: 0x%llx+0x%llx not in RAM",
			  (unsigned long long)gpa, (unsigned long long)len);
	return p;
}

static _Atomic uint16_t *field16(const struct vring *vr, gpa_t gpa)
{
	return ptr(vr, gpa, 2);
}

static uint16_t load16(const struct vring *vr, gpa_t gpa, memory_order mo)
{
	_Atomic uint16_t *p = field16(vr, gpa);

	return p ? atomic_load_explicit(p, mo) : 0;
}

static void store16(const struct vring *vr, gpa_t gpa, uint16_t v,
		    memory_order mo)
{
	_Atomic uint16_t *p = field16(vr, gpa);

	if (p)
		atomic_store_explicit(p, v, mo);
}

static void write_bytes(const struct vring *vr, gpa_t gpa, const void *src,
			uint64_t len)
{
	void *p = ptr(vr, gpa, len);

	if (p)
		memcpy(p, src, len);
}

int vring_init(struct vring *vr, const struct guest_mem *mem, gpa_t ring_gpa,
	       uint16_t size, gpa_t data, uint64_t data_len)
{
	uint64_t used_end;
	void *p;
	unsigned int i;

	memset(vr, 0, sizeof(*vr));
	vr->mem = mem;
	vr->size = size;
	vr->desc = ring_gpa;
	vr->avail = ring_gpa + virtq_desc_bytes(size);
	vr->used = (vr->avail + virtq_avail_bytes(size) + 3) & ~3ull;
	used_end = vr->used + virtq_used_bytes(size);
	vr->data = vr->data_next = data;
	vr->data_end = data + data_len;
	if (size == 0 || size > VIRTQ_MAX_SIZE) {
		test_fail(__FILE__, __LINE__, "vring: size %u", size);
		return -EINVAL;
	}
	p = ptr(vr, ring_gpa, used_end - ring_gpa);
	if (!p)
		return -EINVAL;
	memset(p, 0, used_end - ring_gpa);
	for (i = 0; i < size; i++)
		vr->next_free[i] = (uint16_t)(i + 1);
	vr->free_head = 0;
	vr->nr_free = size;
	return 0;
}

void vring_to_virtq(const struct vring *vr, struct virtq *vq)
{
	vq->mem = vr->mem;
	vq->size = vr->size;
	vq->desc = vr->desc;
	vq->avail = vr->avail;
	vq->used = vr->used;
	vq->event_idx = vr->event_idx;
}

void vring_start_at(struct vring *vr, struct virtq *vq, uint16_t idx)
{
	vr->avail_idx = vr->kicked_idx = vr->last_used = idx;
	store16(vr, vr->avail + AVAIL_IDX, idx, memory_order_release);
	store16(vr, vr->used + USED_IDX, idx, memory_order_release);
	vq->last_avail = idx;
	vq->used_idx = idx;
	vq->signalled_used = idx;
	vq->signalled_used_valid = false;
}

gpa_t vring_alloc(struct vring *vr, uint64_t len)
{
	gpa_t at = vr->data_next;

	if (len > vr->data_end - at) {
		test_fail(__FILE__, __LINE__,
			  "vring: data area exhausted (0x%llx bytes asked)",
			  (unsigned long long)len);
		return vr->data;
	}
	vr->data_next = (at + len + 15) & ~15ull;
	if (vr->data_next > vr->data_end)
		vr->data_next = vr->data_end;
	return at;
}

void vring_free_data(struct vring *vr)
{
	vr->data_next = vr->data;
}

void vring_write_desc(struct vring *vr, gpa_t table, unsigned int i,
		      uint64_t addr, uint32_t len, uint16_t flags,
		      uint16_t next)
{
	uint8_t raw[16];

	/* Little-endian fields, as on x86-64 hosts (the only ones mica has). */
	memcpy(raw, &addr, 8);
	memcpy(raw + 8, &len, 4);
	memcpy(raw + 12, &flags, 2);
	memcpy(raw + 14, &next, 2);
	write_bytes(vr, table + 16ull * i, raw, sizeof(raw));
}

void vring_set_avail_slot(struct vring *vr, uint16_t slot, uint16_t head)
{
	store16(vr, vr->avail + AVAIL_RING + 2ull * (slot % vr->size), head,
		memory_order_relaxed);
}

void vring_put_avail(struct vring *vr, uint16_t head)
{
	vring_set_avail_slot(vr, vr->avail_idx, head);
	vr->avail_idx++;
	/* The entry (and the chain) before the index: release. */
	store16(vr, vr->avail + AVAIL_IDX, vr->avail_idx, memory_order_release);
}

void vring_set_avail_idx(struct vring *vr, uint16_t idx)
{
	vr->avail_idx = idx;
	store16(vr, vr->avail + AVAIL_IDX, idx, memory_order_release);
}

void vring_set_avail_flags(struct vring *vr, uint16_t flags)
{
	store16(vr, vr->avail + AVAIL_FLAGS, flags, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
}

void vring_set_used_event(struct vring *vr, uint16_t v)
{
	store16(vr, vr->avail + AVAIL_RING + 2ull * vr->size, v,
		memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
}

uint16_t vring_used_idx(const struct vring *vr)
{
	return load16(vr, vr->used + USED_IDX, memory_order_acquire);
}

uint16_t vring_used_flags(const struct vring *vr)
{
	return load16(vr, vr->used + USED_FLAGS, memory_order_relaxed);
}

uint16_t vring_avail_event(const struct vring *vr)
{
	return load16(vr, vr->used + USED_RING + 8ull * vr->size,
		      memory_order_relaxed);
}

void vring_used_elem(const struct vring *vr, uint16_t slot, uint32_t *id,
		     uint32_t *len)
{
	const uint8_t *p =
		ptr(vr, vr->used + USED_RING + 8ull * (slot % vr->size), 8);

	*id = *len = 0;
	if (p) {
		memcpy(id, p, 4);
		memcpy(len, p + 4, 4);
	}
}

/* Takes n descriptors off the free list; returns the first. */
static int take_descs(struct vring *vr, unsigned int n)
{
	uint16_t head = vr->free_head, i = head;
	unsigned int k;

	if (n == 0)
		return -EINVAL;
	if (n > vr->nr_free)
		return -ENOSPC;
	for (k = 0; k < n; k++)
		i = vr->next_free[i];
	vr->free_head = i;
	vr->nr_free = (uint16_t)(vr->nr_free - n);
	vr->chain_len[head] = (uint16_t)n;
	return head;
}

int vring_post(struct vring *vr, const struct vring_seg *segs, unsigned int n)
{
	int head = take_descs(vr, n);
	uint16_t i, flags;
	unsigned int k;

	if (head < 0)
		return head;
	i = (uint16_t)head;
	for (k = 0; k < n; k++) {
		flags = segs[k].write ? VIRTQ_DESC_F_WRITE : 0;
		if (k + 1 < n)
			flags |= VIRTQ_DESC_F_NEXT;
		vring_write_desc(vr, vr->desc, i, segs[k].addr, segs[k].len,
				 flags, vr->next_free[i]);
		i = vr->next_free[i];
	}
	vring_put_avail(vr, (uint16_t)head);
	return head;
}

int vring_post_indirect(struct vring *vr, const struct vring_seg *segs,
			unsigned int n)
{
	gpa_t table;
	uint16_t flags;
	unsigned int k;
	int head;

	if (n == 0 || n > VIRTQ_MAX_SIZE)
		return -EINVAL;
	head = take_descs(vr, 1);
	if (head < 0)
		return head;
	table = vring_alloc(vr, 16ull * n);
	for (k = 0; k < n; k++) {
		flags = segs[k].write ? VIRTQ_DESC_F_WRITE : 0;
		if (k + 1 < n)
			flags |= VIRTQ_DESC_F_NEXT;
		vring_write_desc(vr, table, k, segs[k].addr, segs[k].len, flags,
				 (uint16_t)(k + 1));
	}
	vring_write_desc(vr, vr->desc, (unsigned int)head, table,
			 (uint32_t)(16 * n), VIRTQ_DESC_F_INDIRECT, 0);
	vring_put_avail(vr, (uint16_t)head);
	return head;
}

int vring_post_buf(struct vring *vr, const void *out, uint32_t out_len,
		   uint32_t in_len, gpa_t *in_gpa)
{
	struct vring_seg segs[2];
	unsigned int n = 0;

	if (out_len) {
		segs[n] = (struct vring_seg){
			.addr = vring_alloc(vr, out_len),
			.len = out_len,
		};
		write_bytes(vr, segs[n].addr, out, out_len);
		n++;
	}
	if (in_len) {
		segs[n] = (struct vring_seg){
			.addr = vring_alloc(vr, in_len),
			.len = in_len,
			.write = true,
		};
		if (in_gpa)
			*in_gpa = segs[n].addr;
		n++;
	}
	return vring_post(vr, segs, n);
}

bool vring_get_used(struct vring *vr, uint32_t *id, uint32_t *len)
{
	uint16_t last, n, k;

	if (vring_used_idx(vr) == vr->last_used)
		return false;
	vring_used_elem(vr, vr->last_used, id, len);
	vr->last_used++;
	if (*id < vr->size && vr->chain_len[*id]) {
		n = vr->chain_len[*id];
		vr->chain_len[*id] = 0;
		last = (uint16_t)*id;
		for (k = 1; k < n; k++)
			last = vr->next_free[last];
		vr->next_free[last] = vr->free_head;
		vr->free_head = (uint16_t)*id;
		vr->nr_free = (uint16_t)(vr->nr_free + n);
	}
	return true;
}

bool vring_need_kick(struct vring *vr)
{
	uint16_t old = vr->kicked_idx, now = vr->avail_idx, event;

	vr->kicked_idx = now;
	/* Our avail->idx store before the device's flags: a full fence. */
	atomic_thread_fence(memory_order_seq_cst);
	if (old == now)
		return false;
	if (!vr->event_idx)
		return !(vring_used_flags(vr) & VIRTQ_USED_F_NO_NOTIFY);
	event = vring_avail_event(vr);
	return (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}
