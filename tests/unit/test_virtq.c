// SPDX-License-Identifier: MIT
/*
 * Unit tests of virtqueue.c in normal operation: a well-behaved driver
 * (tests/unit/vring.c) and the device side in the same thread. Chains,
 * indirect tables, copying, the used ring, index wrap-around and both
 * directions of notification suppression (virtio 1.x, 2.7).
 */
#include <errno.h>
#include <string.h>

#include "unit/test.h"
#include "unit/vring.h"
#include "virtio/virtqueue.h"

struct rig {
	struct guest_mem gm;
	struct vring vr;
	struct virtq vq;
};

static void rig_up(struct rig *r, uint16_t size, bool event_idx)
{
	memset(r, 0, sizeof(*r));
	CHECK_EQ(vring_mem_alloc(&r->gm), 0);
	CHECK_EQ(vring_init(&r->vr, &r->gm, VRING_RING_GPA, size,
			    VRING_DATA_GPA, VRING_DATA_SIZE),
		 0);
	r->vr.event_idx = event_idx;
	vring_to_virtq(&r->vr, &r->vq);
	r->vq.indirect = true;
	CHECK_EQ(virtq_init(&r->vq), 0);
}

static void rig_down(struct rig *r)
{
	gm_free(&r->gm);
}

static uint8_t *host(struct rig *r, gpa_t gpa, uint64_t len)
{
	uint8_t *p = gm_ptr(&r->gm, gpa, len);

	CHECK(p != NULL);
	return p;
}

static void test_empty_ring(void)
{
	struct rig r;
	struct virtq_elem *e = (void *)1;

	rig_up(&r, 16, false);
	CHECK_EQ(virtq_pop(&r.vq, &e), 0);
	CHECK(e == NULL);
	CHECK(!r.vq.broken);
	rig_down(&r);
}

static void test_single_out(void)
{
	struct virtq_elem *e;
	char buf[16] = { 0 };
	uint32_t id, len;
	struct rig r;
	int head;

	rig_up(&r, 16, false);
	head = vring_post_buf(&r.vr, "hello, device", 13, 0, NULL);
	CHECK(head >= 0);
	CHECK_EQ(virtq_pop(&r.vq, &e), 1);
	CHECK_EQ(e->head, head);
	CHECK_EQ(e->nr_out, 1);
	CHECK_EQ(e->nr_in, 0);
	CHECK_EQ(e->out_len, 13);
	CHECK_EQ(e->in_len, 0);
	CHECK_EQ(virtq_copy_from(e, 0, buf, sizeof(buf)), 13);
	CHECK_STR(buf, "hello, device");
	virtq_push(&r.vq, e, 0);
	CHECK_EQ(vring_used_idx(&r.vr), 1);
	CHECK(vring_get_used(&r.vr, &id, &len));
	CHECK_EQ(id, head);
	CHECK_EQ(len, 0);
	CHECK(!vring_get_used(&r.vr, &id, &len));
	CHECK_EQ(virtq_pop(&r.vq, &e), 0);
	rig_down(&r);
}

static void test_single_in(void)
{
	struct virtq_elem *e;
	uint32_t id, len;
	gpa_t in;
	struct rig r;
	int head;

	rig_up(&r, 16, false);
	head = vring_post_buf(&r.vr, NULL, 0, 32, &in);
	CHECK(head >= 0);
	CHECK_EQ(virtq_pop(&r.vq, &e), 1);
	CHECK_EQ(e->nr_out, 0);
	CHECK_EQ(e->nr_in, 1);
	CHECK_EQ(e->in_len, 32);
	CHECK_EQ(virtq_copy_to(e, 0, "reply", 5), 5);
	virtq_push(&r.vq, e, 5);
	CHECK(!memcmp(host(&r, in, 5), "reply", 5));
	CHECK(vring_get_used(&r.vr, &id, &len));
	CHECK_EQ(id, head);
	CHECK_EQ(len, 5);
	rig_down(&r);
}

/* Segments of 3, 5 and 7 bytes out, then 4 and 6 bytes in. */
static void post_split_chain(struct rig *r, bool indirect, gpa_t *in)
{
	static const char text[] = "abcdefghijklmno";
	struct vring_seg s[5];
	unsigned int i, off = 0;
	static const uint32_t lens[5] = { 3, 5, 7, 4, 6 };

	for (i = 0; i < 5; i++) {
		s[i] = (struct vring_seg){
			.addr = vring_alloc(&r->vr, lens[i]),
			.len = lens[i],
			.write = i >= 3,
		};
		if (i < 3) {
			memcpy(host(r, s[i].addr, lens[i]), text + off,
			       lens[i]);
			off += lens[i];
		} else {
			in[i - 3] = s[i].addr;
		}
	}
	if (indirect)
		CHECK(vring_post_indirect(&r->vr, s, 5) >= 0);
	else
		CHECK(vring_post(&r->vr, s, 5) >= 0);
}

static void check_split_chain(struct rig *r, const gpa_t *in)
{
	struct virtq_elem *e;
	char buf[20] = { 0 };
	uint32_t id, len;

	CHECK_EQ(virtq_pop(&r->vq, &e), 1);
	CHECK_EQ(e->nr_out, 3);
	CHECK_EQ(e->nr_in, 2);
	CHECK_EQ(e->out_len, 15);
	CHECK_EQ(e->in_len, 10);
	CHECK_EQ(e->iov[0].iov_len, 3);
	CHECK_EQ(e->iov[4].iov_len, 6);
	CHECK_EQ(virtq_copy_from(e, 0, buf, sizeof(buf)), 15);
	CHECK_STR(buf, "abcdefghijklmno");
	/* Across segment boundaries, from an offset. */
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(virtq_copy_from(e, 2, buf, 8), 8);
	CHECK_STR(buf, "cdefghij");
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(virtq_copy_from(e, 8, buf, 100), 7);
	CHECK_STR(buf, "ijklmno");
	CHECK_EQ(virtq_copy_to(e, 0, "0123456789", 10), 10);
	CHECK(!memcmp(host(r, in[0], 4), "0123", 4));
	CHECK(!memcmp(host(r, in[1], 6), "456789", 6));
	CHECK_EQ(virtq_copy_to(e, 3, "XYZ", 3), 3);
	CHECK(!memcmp(host(r, in[0], 4), "012X", 4));
	CHECK(!memcmp(host(r, in[1], 6), "YZ6789", 6));
	virtq_push(&r->vq, e, 10);
	CHECK(vring_get_used(&r->vr, &id, &len));
	CHECK_EQ(len, 10);
}

static void test_chain_in_out(void)
{
	struct rig r;
	gpa_t in[2];

	rig_up(&r, 16, false);
	post_split_chain(&r, false, in);
	check_split_chain(&r, in);
	CHECK_EQ(r.vr.nr_free, 16);
	rig_down(&r);
}

static void test_indirect(void)
{
	struct rig r;
	gpa_t in[2];

	rig_up(&r, 16, false);
	post_split_chain(&r, true, in);
	CHECK_EQ(r.vr.nr_free, 15); /* one ring descriptor for 5 buffers */
	check_split_chain(&r, in);
	CHECK_EQ(r.vr.nr_free, 16);
	rig_down(&r);
}

static void test_indirect_max_table(void)
{
	static struct vring_seg s[VIRTQ_MAX_SIZE];
	struct virtq_elem *e;
	struct rig r;
	gpa_t buf;
	unsigned int i;

	rig_up(&r, 8, false);
	buf = vring_alloc(&r.vr, 64);
	for (i = 0; i < VIRTQ_MAX_SIZE; i++)
		s[i] = (struct vring_seg){ .addr = buf, .len = 64 };
	CHECK(vring_post_indirect(&r.vr, s, VIRTQ_MAX_SIZE) >= 0);
	CHECK_EQ(virtq_pop(&r.vq, &e), 1);
	CHECK_EQ(e->nr_out, VIRTQ_MAX_SIZE);
	CHECK_EQ(e->out_len, 64ull * VIRTQ_MAX_SIZE);
	virtq_push(&r.vq, e, 0);
	rig_down(&r);
}

static void test_zero_length_skipped(void)
{
	struct vring_seg s[4];
	struct virtq_elem *e;
	struct rig r;

	rig_up(&r, 16, false);
	s[0] = (struct vring_seg){ .addr = vring_alloc(&r.vr, 8), .len = 8 };
	s[1] = (struct vring_seg){ .addr = 0, .len = 0 };
	s[2] = (struct vring_seg){ .addr = 0, .len = 0, .write = true };
	s[3] = (struct vring_seg){ .addr = vring_alloc(&r.vr, 8),
				   .len = 8,
				   .write = true };
	CHECK(vring_post(&r.vr, s, 4) >= 0);
	CHECK_EQ(virtq_pop(&r.vq, &e), 1);
	CHECK_EQ(e->nr_out, 1);
	CHECK_EQ(e->nr_in, 1);
	CHECK_EQ(e->out_len, 8);
	CHECK_EQ(e->in_len, 8);
	virtq_push(&r.vq, e, 8);
	rig_down(&r);
}

static void test_push_clamps_written(void)
{
	struct virtq_elem *e;
	uint32_t id, len;
	struct rig r;

	rig_up(&r, 16, false);
	CHECK(vring_post_buf(&r.vr, "x", 1, 16, NULL) >= 0);
	CHECK_EQ(virtq_pop(&r.vq, &e), 1);
	virtq_push(&r.vq, e, 1000);
	CHECK(vring_get_used(&r.vr, &id, &len));
	CHECK_EQ(len, 16);
	rig_down(&r);
}

static void test_copy_bounds(void)
{
	struct virtq_elem *e;
	char buf[8];
	struct rig r;

	rig_up(&r, 16, false);
	CHECK(vring_post_buf(&r.vr, "abcd", 4, 4, NULL) >= 0);
	CHECK_EQ(virtq_pop(&r.vq, &e), 1);
	CHECK_EQ(virtq_copy_from(e, 4, buf, 8), 0);
	CHECK_EQ(virtq_copy_from(e, ~0ull, buf, 8), 0);
	CHECK_EQ(virtq_copy_from(e, 3, buf, 8), 1);
	CHECK_EQ(buf[0], 'd');
	CHECK_EQ(virtq_copy_to(e, 0, "12345678", 8), 4);
	CHECK_EQ(virtq_copy_to(e, 4, "1", 1), 0);
	CHECK_EQ(virtq_copy_from(e, 0, buf, 0), 0);
	virtq_push(&r.vq, e, 4);
	rig_down(&r);
}

/* Posts, pops and completes n single-buffer requests one by one. */
static void cycle(struct rig *r, unsigned int n)
{
	struct virtq_elem *e;
	uint32_t id, len, v;
	unsigned int i;
	int head;

	for (i = 0; i < n; i++) {
		v = i;
		vring_free_data(&r->vr);
		head = vring_post_buf(&r->vr, &v, 4, 4, NULL);
		if (head < 0 || virtq_pop(&r->vq, &e) != 1) {
			CHECK(!"post/pop failed");
			return;
		}
		CHECK_EQ(e->head, head);
		v = 0;
		virtq_copy_from(e, 0, &v, 4);
		CHECK_EQ(v, i);
		virtq_push(&r->vq, e, 4);
		CHECK(vring_get_used(&r->vr, &id, &len));
		CHECK_EQ(id, head);
	}
}

static void test_wrap_around_start_near_65535(void)
{
	struct rig r;

	rig_up(&r, 16, false);
	vring_start_at(&r.vr, &r.vq, 65530);
	cycle(&r, 20);
	CHECK_EQ(vring_used_idx(&r.vr), (uint16_t)(65530 + 20));
	CHECK_EQ(r.vq.last_avail, 14);
	CHECK_EQ(r.vq.used_idx, 14);
	CHECK(!r.vq.broken);
	rig_down(&r);
}

static void test_wrap_around_full_ring_at_65535(void)
{
	struct virtq_elem *e[8], *x;
	uint32_t id, len;
	struct rig r;
	unsigned int i;

	/* A full ring whose entries straddle the 16-bit wrap. */
	rig_up(&r, 8, false);
	vring_start_at(&r.vr, &r.vq, 65532);
	for (i = 0; i < 8; i++)
		CHECK(vring_post_buf(&r.vr, &i, 4, 0, NULL) >= 0);
	CHECK_EQ(vring_post_buf(&r.vr, &i, 4, 0, NULL), -ENOSPC);
	for (i = 0; i < 8; i++)
		CHECK_EQ(virtq_pop(&r.vq, &e[i]), 1);
	CHECK_EQ(virtq_pop(&r.vq, &x), 0);
	for (i = 0; i < 8; i++)
		virtq_push(&r.vq, e[i], 0);
	for (i = 0; i < 8; i++)
		CHECK(vring_get_used(&r.vr, &id, &len));
	CHECK_EQ(vring_used_idx(&r.vr), 4);
	rig_down(&r);
}

static void test_wrap_around_70000_requests(void)
{
	struct rig r;

	rig_up(&r, 4, false);
	cycle(&r, 70000);
	CHECK_EQ(r.vq.last_avail, (uint16_t)70000);
	CHECK_EQ(vring_used_idx(&r.vr), (uint16_t)70000);
	rig_down(&r);
}

static void test_many_in_flight(void)
{
	static struct virtq_elem *e[256];
	static uint16_t heads[256];
	struct virtq_elem *x;
	uint32_t id, len, v;
	struct rig r;
	unsigned int i;

	rig_up(&r, 256, false);
	for (i = 0; i < 256; i++)
		CHECK(vring_post_buf(&r.vr, &i, 4, 0, NULL) >= 0);
	CHECK_EQ(vring_post_buf(&r.vr, &i, 4, 0, NULL), -ENOSPC);
	for (i = 0; i < 256; i++) {
		CHECK_EQ(virtq_pop(&r.vq, &e[i]), 1);
		v = ~0u;
		virtq_copy_from(e[i], 0, &v, 4);
		CHECK_EQ(v, i);
		heads[i] = e[i]->head;
	}
	CHECK_EQ(virtq_pop(&r.vq, &x), 0);
	/* Complete odd ones first, then even ones. */
	for (i = 1; i < 256; i += 2)
		virtq_push(&r.vq, e[i], i);
	for (i = 0; i < 256; i += 2)
		virtq_push(&r.vq, e[i], 0);
	for (i = 0; i < 256; i++) {
		CHECK(vring_get_used(&r.vr, &id, &len));
		CHECK_EQ(id, heads[i < 128 ? 2 * i + 1 : 2 * (i - 128)]);
	}
	CHECK_EQ(r.vr.nr_free, 256);
	rig_down(&r);
}

static void test_out_of_order_completion(void)
{
	struct virtq_elem *e[8];
	int heads[8];
	uint32_t id, len, v;
	struct rig r;
	unsigned int i, round;

	rig_up(&r, 16, false);
	for (round = 0; round < 3; round++) {
		vring_free_data(&r.vr);
		for (i = 0; i < 8; i++) {
			v = round * 100 + i;
			heads[i] = vring_post_buf(&r.vr, &v, 4, 8, NULL);
			CHECK(heads[i] >= 0);
		}
		for (i = 0; i < 8; i++) {
			CHECK_EQ(virtq_pop(&r.vq, &e[i]), 1);
			CHECK_EQ(e[i]->head, heads[i]);
			v = 0;
			virtq_copy_from(e[i], 0, &v, 4);
			CHECK_EQ(v, round * 100 + i);
		}
		/* Complete in reverse, with the index as the length. */
		for (i = 8; i-- > 0;)
			virtq_push(&r.vq, e[i], i);
		for (i = 8; i-- > 0;) {
			CHECK(vring_get_used(&r.vr, &id, &len));
			CHECK_EQ(id, heads[i]);
			CHECK_EQ(len, i);
		}
		CHECK_EQ(r.vr.nr_free, 16);
	}
	rig_down(&r);
}

static void test_used_ring_contents(void)
{
	struct virtq_elem *e[3];
	uint32_t id, len;
	struct rig r;
	unsigned int i;
	int heads[3];

	rig_up(&r, 4, false);
	for (i = 0; i < 3; i++)
		heads[i] = vring_post_buf(&r.vr, NULL, 0, 100, NULL);
	for (i = 0; i < 3; i++)
		CHECK_EQ(virtq_pop(&r.vq, &e[i]), 1);
	virtq_push(&r.vq, e[1], 11);
	virtq_push(&r.vq, e[2], 22);
	virtq_push(&r.vq, e[0], 33);
	CHECK_EQ(vring_used_idx(&r.vr), 3);
	vring_used_elem(&r.vr, 0, &id, &len);
	CHECK_EQ(id, heads[1]);
	CHECK_EQ(len, 11);
	vring_used_elem(&r.vr, 1, &id, &len);
	CHECK_EQ(id, heads[2]);
	CHECK_EQ(len, 22);
	vring_used_elem(&r.vr, 2, &id, &len);
	CHECK_EQ(id, heads[0]);
	CHECK_EQ(len, 33);
	CHECK_EQ(vring_used_flags(&r.vr), 0);
	rig_down(&r);
}

static void push_one(struct rig *r)
{
	struct virtq_elem *e;

	vring_free_data(&r->vr);
	CHECK(vring_post_buf(&r->vr, "a", 1, 0, NULL) >= 0);
	CHECK_EQ(virtq_pop(&r->vq, &e), 1);
	virtq_push(&r->vq, e, 0);
}

static void test_no_interrupt_flag(void)
{
	uint32_t id, len;
	struct rig r;

	rig_up(&r, 16, false);
	push_one(&r);
	CHECK(virtq_should_notify(&r.vq));
	/* Nothing new since: no interrupt. */
	CHECK(!virtq_should_notify(&r.vq));
	vring_set_avail_flags(&r.vr, VIRTQ_AVAIL_F_NO_INTERRUPT);
	push_one(&r);
	CHECK(!virtq_should_notify(&r.vq));
	vring_set_avail_flags(&r.vr, 0);
	push_one(&r);
	CHECK(virtq_should_notify(&r.vq));
	while (vring_get_used(&r.vr, &id, &len))
		;
	rig_down(&r);
}

static void test_event_idx_used_event(void)
{
	struct rig r;

	rig_up(&r, 16, true);
	/* The first check after init always interrupts. */
	push_one(&r);
	CHECK(virtq_should_notify(&r.vq)); /* used idx 1 */
	/* The driver wants an interrupt once entry 2 is used (idx 3). */
	vring_set_used_event(&r.vr, 2);
	push_one(&r);
	CHECK(!virtq_should_notify(&r.vq)); /* idx 2 */
	push_one(&r);
	CHECK(virtq_should_notify(&r.vq)); /* idx 3: passed used_event */
	push_one(&r);
	CHECK(!virtq_should_notify(&r.vq)); /* idx 4 */
	/* Two pushes between checks that step over used_event. */
	vring_set_used_event(&r.vr, 4);
	push_one(&r);
	push_one(&r);
	CHECK(virtq_should_notify(&r.vq)); /* idx 6, event 4 in [4, 6) */
	/* The flag means nothing with EVENT_IDX. */
	vring_set_avail_flags(&r.vr, VIRTQ_AVAIL_F_NO_INTERRUPT);
	vring_set_used_event(&r.vr, 6);
	push_one(&r);
	CHECK(virtq_should_notify(&r.vq));
	rig_down(&r);
}

static void test_event_idx_used_event_wraps(void)
{
	struct rig r;

	rig_up(&r, 16, true);
	vring_start_at(&r.vr, &r.vq, 65534);
	push_one(&r);
	CHECK(virtq_should_notify(&r.vq)); /* 65535 */
	vring_set_used_event(&r.vr, 0);
	push_one(&r);
	CHECK(!virtq_should_notify(&r.vq)); /* 0: entry 0 not used yet */
	push_one(&r);
	CHECK(virtq_should_notify(&r.vq)); /* 1 */
	rig_down(&r);
}

static void test_event_idx_avail_event(void)
{
	struct virtq_elem *e;
	struct rig r;

	rig_up(&r, 16, true);
	virtq_set_notification(&r.vq, true);
	CHECK_EQ(vring_avail_event(&r.vr), 0);
	CHECK(vring_post_buf(&r.vr, "a", 1, 0, NULL) >= 0);
	CHECK(vring_need_kick(&r.vr)); /* entry 0 == avail_event */
	CHECK(vring_post_buf(&r.vr, "b", 1, 0, NULL) >= 0);
	CHECK(!vring_need_kick(&r.vr)); /* the device has not caught up */
	CHECK_EQ(virtq_pop(&r.vq, &e), 1);
	virtq_push(&r.vq, e, 0);
	CHECK_EQ(virtq_pop(&r.vq, &e), 1);
	virtq_push(&r.vq, e, 0);
	/* Finding the ring empty asks for the next entry. */
	CHECK_EQ(virtq_pop(&r.vq, &e), 0);
	CHECK_EQ(vring_avail_event(&r.vr), 2);
	CHECK(vring_post_buf(&r.vr, "c", 1, 0, NULL) >= 0);
	CHECK(vring_need_kick(&r.vr));
	/* Disabled: an empty ring does not move avail_event. */
	virtq_set_notification(&r.vq, false);
	CHECK_EQ(virtq_pop(&r.vq, &e), 1);
	virtq_push(&r.vq, e, 0);
	CHECK_EQ(virtq_pop(&r.vq, &e), 0);
	CHECK_EQ(vring_avail_event(&r.vr), 2);
	CHECK(vring_post_buf(&r.vr, "d", 1, 0, NULL) >= 0);
	CHECK(!vring_need_kick(&r.vr));
	/* Enabling asks for the next entry: the driver posted it already,
	 * and the device finds it by popping again. */
	virtq_set_notification(&r.vq, true);
	CHECK_EQ(vring_avail_event(&r.vr), 3);
	CHECK_EQ(virtq_pop(&r.vq, &e), 1);
	virtq_push(&r.vq, e, 0);
	rig_down(&r);
}

static void test_no_notify_flag(void)
{
	struct virtq_elem *e;
	struct rig r;

	rig_up(&r, 16, false);
	CHECK(vring_post_buf(&r.vr, "a", 1, 0, NULL) >= 0);
	CHECK(vring_need_kick(&r.vr));
	virtq_set_notification(&r.vq, false);
	CHECK_EQ(vring_used_flags(&r.vr), VIRTQ_USED_F_NO_NOTIFY);
	CHECK(vring_post_buf(&r.vr, "b", 1, 0, NULL) >= 0);
	CHECK(!vring_need_kick(&r.vr));
	virtq_set_notification(&r.vq, true);
	CHECK_EQ(vring_used_flags(&r.vr), 0);
	CHECK(vring_post_buf(&r.vr, "c", 1, 0, NULL) >= 0);
	CHECK(vring_need_kick(&r.vr));
	while (virtq_pop(&r.vq, &e) == 1)
		virtq_push(&r.vq, e, 0);
	CHECK_EQ(r.vq.last_avail, 3);
	rig_down(&r);
}

static void test_reinit_resets_state(void)
{
	struct virtq_elem *e;
	struct rig r;

	rig_up(&r, 16, false);
	push_one(&r);
	push_one(&r);
	virtq_set_notification(&r.vq, false);
	/* The driver resets and sets the ring up again. */
	CHECK_EQ(vring_init(&r.vr, &r.gm, VRING_RING_GPA, 16, VRING_DATA_GPA,
			    VRING_DATA_SIZE),
		 0);
	CHECK_EQ(virtq_init(&r.vq), 0);
	CHECK_EQ(r.vq.last_avail, 0);
	CHECK_EQ(r.vq.used_idx, 0);
	CHECK_EQ(vring_used_flags(&r.vr), 0);
	CHECK_EQ(virtq_pop(&r.vq, &e), 0);
	push_one(&r);
	CHECK_EQ(vring_used_idx(&r.vr), 1);
	rig_down(&r);
}

static void test_rings_in_high_memory(void)
{
	struct virtq_elem *e;
	struct vring vr;
	struct virtq vq = { .indirect = false };
	struct guest_mem gm;

	CHECK_EQ(vring_mem_alloc(&gm), 0);
	CHECK_EQ(vring_init(&vr, &gm, VRING_RAM_HIGH, 64, VRING_RAM_TOP,
			    VRING_RAM_TOP_SIZE),
		 0);
	vring_to_virtq(&vr, &vq);
	CHECK_EQ(virtq_init(&vq), 0);
	CHECK(vring_post_buf(&vr, "top", 3, 3, NULL) >= 0);
	CHECK_EQ(virtq_pop(&vq, &e), 1);
	CHECK_EQ(virtq_copy_to(e, 0, "TOP", 3), 3);
	virtq_push(&vq, e, 3);
	CHECK_EQ(vring_used_idx(&vr), 1);
	gm_free(&gm);
}

TEST_SUITE(virtq, TEST_CASE(test_empty_ring), TEST_CASE(test_single_out),
	   TEST_CASE(test_single_in), TEST_CASE(test_chain_in_out),
	   TEST_CASE(test_indirect), TEST_CASE(test_indirect_max_table),
	   TEST_CASE(test_zero_length_skipped),
	   TEST_CASE(test_push_clamps_written), TEST_CASE(test_copy_bounds),
	   TEST_CASE(test_wrap_around_start_near_65535),
	   TEST_CASE(test_wrap_around_full_ring_at_65535),
	   TEST_CASE(test_wrap_around_70000_requests),
	   TEST_CASE(test_many_in_flight),
	   TEST_CASE(test_out_of_order_completion),
	   TEST_CASE(test_used_ring_contents),
	   TEST_CASE(test_no_interrupt_flag),
	   TEST_CASE(test_event_idx_used_event),
	   TEST_CASE(test_event_idx_used_event_wraps),
	   TEST_CASE(test_event_idx_avail_event),
	   TEST_CASE(test_no_notify_flag), TEST_CASE(test_reinit_resets_state),
	   TEST_CASE(test_rings_in_high_memory));
