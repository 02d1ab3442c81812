// SPDX-License-Identifier: MIT
/*
 * Hostile-driver tests of virtqueue.c (virtio 1.x, 2.7; the rules of
 * docs/design.md "Guest input is hostile"). Each case builds one bad ring
 * or request on a victim queue and checks that virtq_init() or virtq_pop()
 * fails as documented (-EINVAL, -EIO and a broken queue, or a request that
 * is safely accepted), that the sanitizers stay quiet, and that a second,
 * healthy queue on the same guest memory keeps working.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "unit/test.h"
#include "unit/vring.h"
#include "virtio/virtqueue.h"

#define SIZE 16

struct rig {
	struct guest_mem gm;
	struct vring bad, good; /* the victim queue, the bystander */
	struct virtq bq, gq;
};

static void rig_up_size(struct rig *r, uint16_t size)
{
	memset(r, 0, sizeof(*r));
	CHECK_EQ(vring_mem_alloc(&r->gm), 0);
	CHECK_EQ(vring_init(&r->bad, &r->gm, VRING_RING_GPA, size,
			    VRING_DATA_GPA, VRING_DATA_SIZE),
		 0);
	CHECK_EQ(vring_init(&r->good, &r->gm,
			    VRING_RING_GPA + VRING_RING_STRIDE, 64,
			    VRING_DATA_GPA + VRING_DATA_SIZE, VRING_DATA_SIZE),
		 0);
	vring_to_virtq(&r->bad, &r->bq);
	vring_to_virtq(&r->good, &r->gq);
	r->bq.indirect = r->gq.indirect = true;
	CHECK_EQ(virtq_init(&r->bq), 0);
	CHECK_EQ(virtq_init(&r->gq), 0);
}

static void rig_up(struct rig *r)
{
	rig_up_size(r, SIZE);
}

/* The bystander queue still carries a request both ways. */
static void check_healthy(struct rig *r)
{
	struct virtq_elem *e;
	uint32_t id, len;
	char buf[8] = { 0 };
	gpa_t in;
	int head;

	vring_free_data(&r->good);
	head = vring_post_buf(&r->good, "ping", 4, 4, &in);
	CHECK(head >= 0);
	if (virtq_pop(&r->gq, &e) != 1) {
		CHECK(!"healthy queue failed");
		return;
	}
	CHECK_EQ(virtq_copy_from(e, 0, buf, sizeof(buf)), 4);
	CHECK_STR(buf, "ping");
	CHECK_EQ(virtq_copy_to(e, 0, "pong", 4), 4);
	virtq_push(&r->gq, e, 4);
	CHECK(vring_get_used(&r->good, &id, &len));
	CHECK_EQ(id, head);
	CHECK_EQ(len, 4);
	CHECK(!memcmp(gm_ptr(&r->gm, in, 4), "pong", 4));
}

/* The victim is broken: -EIO now and on every later pop. */
static void check_broken(struct rig *r)
{
	struct virtq_elem *e = (void *)1;

	CHECK(r->bq.broken);
	CHECK_EQ(virtq_pop(&r->bq, &e), -EIO);
	CHECK(e == NULL);
}

/* Pops once and expects the queue to break; then checks the bystander. */
static void expect_break(struct rig *r)
{
	struct virtq_elem *e = (void *)1;
	uint16_t used = vring_used_idx(&r->bad);

	CHECK_EQ(virtq_pop(&r->bq, &e), -EIO);
	CHECK(e == NULL);
	check_broken(r);
	CHECK_EQ(vring_used_idx(&r->bad), used); /* nothing completed */
	check_healthy(r);
	gm_free(&r->gm);
}

/* Posts one descriptor as a chain head by hand. */
static void post_raw(struct rig *r, uint64_t addr, uint32_t len, uint16_t flags)
{
	vring_write_desc(&r->bad, r->bad.desc, 0, addr, len, flags, 0);
	vring_put_avail(&r->bad, 0);
}

static void expect_buffer_rejected(uint64_t addr, uint32_t len)
{
	struct rig r;

	rig_up(&r);
	post_raw(&r, addr, len, VIRTQ_DESC_F_WRITE);
	expect_break(&r);
}

/* --- descriptor loops and indices --------------------------------------- */

static void test_desc_self_loop(void)
{
	struct rig r;

	rig_up(&r);
	vring_write_desc(&r.bad, r.bad.desc, 3, VRING_DATA_GPA, 16,
			 VIRTQ_DESC_F_NEXT, 3);
	vring_put_avail(&r.bad, 3);
	expect_break(&r);
}

static void test_desc_two_cycle(void)
{
	struct rig r;

	rig_up(&r);
	vring_write_desc(&r.bad, r.bad.desc, 0, VRING_DATA_GPA, 16,
			 VIRTQ_DESC_F_NEXT, 1);
	vring_write_desc(&r.bad, r.bad.desc, 1, VRING_DATA_GPA, 16,
			 VIRTQ_DESC_F_NEXT, 0);
	vring_put_avail(&r.bad, 0);
	expect_break(&r);
}

static void test_desc_long_cycle(void)
{
	struct rig r;
	unsigned int i;

	/* 0 -> 1 -> ... -> 15 -> 5: a tail into a cycle through all. */
	rig_up(&r);
	for (i = 0; i < SIZE; i++)
		vring_write_desc(&r.bad, r.bad.desc, i, VRING_DATA_GPA, 16,
				 VIRTQ_DESC_F_NEXT,
				 (uint16_t)(i + 1 < SIZE ? i + 1 : 5));
	vring_put_avail(&r.bad, 0);
	expect_break(&r);
}

static void test_chain_of_exactly_size_is_fine(void)
{
	struct virtq_elem *e;
	struct rig r;
	unsigned int i;

	/* The bound is not off by one: a chain of size descriptors. */
	rig_up(&r);
	for (i = 0; i < SIZE; i++)
		vring_write_desc(&r.bad, r.bad.desc, i, VRING_DATA_GPA, 16,
				 i + 1 < SIZE ? VIRTQ_DESC_F_NEXT : 0,
				 (uint16_t)(i + 1));
	vring_put_avail(&r.bad, 0);
	CHECK_EQ(virtq_pop(&r.bq, &e), 1);
	CHECK_EQ(e->nr_out, SIZE);
	virtq_push(&r.bq, e, 0);
	check_healthy(&r);
	gm_free(&r.gm);
}

static void test_next_out_of_range(void)
{
	struct rig r;

	rig_up(&r);
	vring_write_desc(&r.bad, r.bad.desc, 0, VRING_DATA_GPA, 16,
			 VIRTQ_DESC_F_NEXT, SIZE);
	vring_put_avail(&r.bad, 0);
	expect_break(&r);
}

static void test_next_out_of_range_max(void)
{
	struct rig r;

	rig_up(&r);
	vring_write_desc(&r.bad, r.bad.desc, 0, VRING_DATA_GPA, 16,
			 VIRTQ_DESC_F_NEXT, 0xffff);
	vring_put_avail(&r.bad, 0);
	expect_break(&r);
}

static void test_head_out_of_range(void)
{
	struct rig r;

	rig_up(&r);
	vring_put_avail(&r.bad, SIZE);
	expect_break(&r);
}

static void test_head_out_of_range_max(void)
{
	struct rig r;

	rig_up(&r);
	vring_put_avail(&r.bad, 0xffff);
	expect_break(&r);
}

static void test_avail_idx_jump_beyond_size(void)
{
	struct rig r;

	rig_up(&r);
	vring_write_desc(&r.bad, r.bad.desc, 0, VRING_DATA_GPA, 16, 0, 0);
	vring_set_avail_idx(&r.bad, SIZE + 1);
	expect_break(&r);
}

static void test_avail_idx_exactly_size_is_fine(void)
{
	struct virtq_elem *e;
	struct rig r;
	unsigned int i;

	rig_up(&r);
	vring_write_desc(&r.bad, r.bad.desc, 0, VRING_DATA_GPA, 16, 0, 0);
	/* Every slot names head 0: odd but legal, all in range. */
	vring_set_avail_idx(&r.bad, SIZE);
	for (i = 0; i < SIZE; i++) {
		CHECK_EQ(virtq_pop(&r.bq, &e), 1);
		virtq_push(&r.bq, e, 0);
	}
	CHECK_EQ(virtq_pop(&r.bq, &e), 0);
	CHECK(!r.bq.broken);
	check_healthy(&r);
	gm_free(&r.gm);
}

static void test_avail_idx_goes_backwards(void)
{
	struct virtq_elem *e;
	struct rig r;
	unsigned int i;

	rig_up(&r);
	for (i = 0; i < 3; i++) {
		CHECK(vring_post_buf(&r.bad, "x", 1, 0, NULL) >= 0);
		CHECK_EQ(virtq_pop(&r.bq, &e), 1);
		virtq_push(&r.bq, e, 0);
	}
	/* 3 -> 1: 65534 entries "ahead" of the device. */
	vring_set_avail_idx(&r.bad, 1);
	expect_break(&r);
}

static void test_avail_idx_garbage_after_wrap(void)
{
	struct rig r;

	rig_up(&r);
	vring_start_at(&r.bad, &r.bq, 65530);
	vring_set_avail_idx(&r.bad, 0x8000);
	expect_break(&r);
}

/* --- lengths ------------------------------------------------------------ */

static void test_zero_length_buffer_accepted(void)
{
	struct virtq_elem *e;
	uint32_t id, len;
	struct rig r;

	/* Zero-length descriptors are skipped, even at a wild address. */
	rig_up(&r);
	post_raw(&r, 0xfffffffffffffff0ull, 0, VIRTQ_DESC_F_WRITE);
	CHECK_EQ(virtq_pop(&r.bq, &e), 1);
	CHECK_EQ(e->nr_out + e->nr_in, 0);
	CHECK_EQ(e->in_len, 0);
	CHECK_EQ(virtq_copy_to(e, 0, "x", 1), 0);
	virtq_push(&r.bq, e, 100);
	CHECK(vring_get_used(&r.bad, &id, &len));
	CHECK_EQ(len, 0);
	CHECK(!r.bq.broken);
	check_healthy(&r);
	gm_free(&r.gm);
}

static void test_huge_length_buffer(void)
{
	expect_buffer_rejected(VRING_DATA_GPA, 0xffffffffu);
}

static void test_total_length_over_cap(void)
{
	struct rig r;
	unsigned int i, n = VIRTQ_MAX_ELEM_BYTES / VRING_RAM_LOW_SIZE + 1;

	/* 65 buffers of all 4 MiB of low RAM: 260 MiB > the 256 MiB cap. */
	rig_up_size(&r, 128);
	for (i = 0; i < n; i++)
		vring_write_desc(&r.bad, r.bad.desc, i, VRING_RAM_LOW,
				 (uint32_t)VRING_RAM_LOW_SIZE,
				 i + 1 < n ? VIRTQ_DESC_F_NEXT : 0,
				 (uint16_t)(i + 1));
	vring_put_avail(&r.bad, 0);
	expect_break(&r);
}

static void test_total_length_at_cap_is_fine(void)
{
	struct virtq_elem *e;
	struct rig r;
	unsigned int i, n = VIRTQ_MAX_ELEM_BYTES / VRING_RAM_LOW_SIZE;

	rig_up_size(&r, 128);
	for (i = 0; i < n; i++)
		vring_write_desc(&r.bad, r.bad.desc, i, VRING_RAM_LOW,
				 (uint32_t)VRING_RAM_LOW_SIZE,
				 i + 1 < n ? VIRTQ_DESC_F_NEXT : 0,
				 (uint16_t)(i + 1));
	vring_put_avail(&r.bad, 0);
	CHECK_EQ(virtq_pop(&r.bq, &e), 1);
	CHECK_EQ(e->out_len, VIRTQ_MAX_ELEM_BYTES);
	virtq_push(&r.bq, e, 0);
	check_healthy(&r);
	gm_free(&r.gm);
}

static void test_total_length_32bit_overflow(void)
{
	struct rig r;

	/* 0x80000000 + 0x80000000 wraps a 32-bit sum to 0. */
	rig_up(&r);
	vring_write_desc(&r.bad, r.bad.desc, 0, VRING_DATA_GPA, 0x80000000u,
			 VIRTQ_DESC_F_NEXT, 1);
	vring_write_desc(&r.bad, r.bad.desc, 1, VRING_DATA_GPA, 0x80000000u, 0,
			 0);
	vring_put_avail(&r.bad, 0);
	expect_break(&r);
}

/* --- addresses ---------------------------------------------------------- */

static void test_addr_near_2_64(void)
{
	expect_buffer_rejected(0xfffffffffffff000ull, 0x1000);
}

static void test_addr_wrapping_past_2_64(void)
{
	/* addr + len wraps to 0x800, which a naive end check would like. */
	expect_buffer_rejected(0xfffffffffffff800ull, 0x1000);
}

static void test_addr_wrapping_from_top_ram(void)
{
	/* Starts in RAM just below 2^64 and runs past its end. */
	expect_buffer_rejected(VRING_RAM_TOP + VRING_RAM_TOP_SIZE - 0x10, 0x20);
}

static void test_buffer_at_gpa_zero(void)
{
	expect_buffer_rejected(0, 16);
}

static void test_buffer_spanning_end_of_ram(void)
{
	expect_buffer_rejected(VRING_RAM_LOW + VRING_RAM_LOW_SIZE - 8, 16);
}

static void test_buffer_into_mmio_hole(void)
{
	expect_buffer_rejected(LAYOUT_MMIO_HOLE - 8, 16);
}

static void test_buffer_across_3g_hole(void)
{
	/* From the last MiB below the hole to the first above 4 GiB. */
	expect_buffer_rejected(
		VRING_RAM_BELOW_HOLE,
		(uint32_t)(LAYOUT_4G - VRING_RAM_BELOW_HOLE + 0x1000));
}

static void test_buffer_at_device_registers(void)
{
	static const uint64_t mmio[] = {
		LAYOUT_MMIO_HOLE, /* where PCI BARs live */
		LAYOUT_TESTDEV_MMIO,
		LAYOUT_IOAPIC,
		LAYOUT_LAPIC,
	};
	unsigned int i;

	for (i = 0; i < sizeof(mmio) / sizeof(mmio[0]); i++)
		expect_buffer_rejected(mmio[i], 4);
}

static void test_buffer_in_ram_above_4g_is_fine(void)
{
	struct virtq_elem *e;
	struct rig r;

	rig_up(&r);
	post_raw(&r, VRING_RAM_HIGH + VRING_RAM_HIGH_SIZE - 16, 16,
		 VIRTQ_DESC_F_WRITE);
	CHECK_EQ(virtq_pop(&r.bq, &e), 1);
	CHECK_EQ(virtq_copy_to(e, 0, "0123456789abcdef", 16), 16);
	virtq_push(&r.bq, e, 16);
	check_healthy(&r);
	gm_free(&r.gm);
}

/* --- indirect tables ---------------------------------------------------- */

static void post_indirect_raw(struct rig *r, uint32_t table_len, uint16_t flags)
{
	gpa_t table = vring_alloc(&r->bad, 0x10000);

	vring_write_desc(&r->bad, table, 0, VRING_DATA_GPA, 16, 0, 0);
	post_raw(r, table, table_len, flags);
}

static void test_indirect_size_zero(void)
{
	struct rig r;

	rig_up(&r);
	post_indirect_raw(&r, 0, VIRTQ_DESC_F_INDIRECT);
	expect_break(&r);
}

static void test_indirect_size_not_multiple_of_16(void)
{
	struct rig r;

	rig_up(&r);
	post_indirect_raw(&r, 24, VIRTQ_DESC_F_INDIRECT);
	expect_break(&r);
}

static void test_indirect_size_too_large(void)
{
	struct rig r;

	rig_up(&r);
	post_indirect_raw(&r, 16 * (VIRTQ_MAX_SIZE + 1), VIRTQ_DESC_F_INDIRECT);
	expect_break(&r);
}

static void test_indirect_table_outside_ram(void)
{
	struct rig r;

	rig_up(&r);
	post_raw(&r, LAYOUT_MMIO_HOLE - 16, 32, VIRTQ_DESC_F_INDIRECT);
	expect_break(&r);
}

static void test_indirect_nested(void)
{
	struct rig r;
	gpa_t t1, t2;

	rig_up(&r);
	t1 = vring_alloc(&r.bad, 32);
	t2 = vring_alloc(&r.bad, 16);
	vring_write_desc(&r.bad, t2, 0, VRING_DATA_GPA, 16, 0, 0);
	vring_write_desc(&r.bad, t1, 0, VRING_DATA_GPA, 16, VIRTQ_DESC_F_NEXT,
			 1);
	vring_write_desc(&r.bad, t1, 1, t2, 16, VIRTQ_DESC_F_INDIRECT, 0);
	post_raw(&r, t1, 32, VIRTQ_DESC_F_INDIRECT);
	expect_break(&r);
}

static void test_indirect_with_next(void)
{
	struct rig r;

	rig_up(&r);
	post_indirect_raw(&r, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT);
	expect_break(&r);
}

static void test_indirect_not_negotiated(void)
{
	struct rig r;

	rig_up(&r);
	r.bq.indirect = false;
	post_indirect_raw(&r, 16, VIRTQ_DESC_F_INDIRECT);
	expect_break(&r);
}

static void test_indirect_inside_chain(void)
{
	struct rig r;
	gpa_t t = 0;

	rig_up(&r);
	t = vring_alloc(&r.bad, 16);
	vring_write_desc(&r.bad, t, 0, VRING_DATA_GPA, 16, 0, 0);
	vring_write_desc(&r.bad, r.bad.desc, 0, VRING_DATA_GPA, 16,
			 VIRTQ_DESC_F_NEXT, 1);
	vring_write_desc(&r.bad, r.bad.desc, 1, t, 16, VIRTQ_DESC_F_INDIRECT,
			 0);
	vring_put_avail(&r.bad, 0);
	expect_break(&r);
}

static void test_indirect_loop(void)
{
	struct rig r;
	gpa_t t;

	rig_up(&r);
	t = vring_alloc(&r.bad, 48);
	vring_write_desc(&r.bad, t, 0, VRING_DATA_GPA, 16, VIRTQ_DESC_F_NEXT,
			 1);
	vring_write_desc(&r.bad, t, 1, VRING_DATA_GPA, 16, VIRTQ_DESC_F_NEXT,
			 2);
	vring_write_desc(&r.bad, t, 2, VRING_DATA_GPA, 16, VIRTQ_DESC_F_NEXT,
			 0);
	post_raw(&r, t, 48, VIRTQ_DESC_F_INDIRECT);
	expect_break(&r);
}

static void test_indirect_next_beyond_table(void)
{
	struct rig r;
	gpa_t t;

	/* next 2 < queue size, but the table has 2 entries. */
	rig_up(&r);
	t = vring_alloc(&r.bad, 32);
	vring_write_desc(&r.bad, t, 0, VRING_DATA_GPA, 16, VIRTQ_DESC_F_NEXT,
			 1);
	vring_write_desc(&r.bad, t, 1, VRING_DATA_GPA, 16, VIRTQ_DESC_F_NEXT,
			 2);
	post_raw(&r, t, 32, VIRTQ_DESC_F_INDIRECT);
	expect_break(&r);
}

/* --- directions --------------------------------------------------------- */

static void test_readable_after_writable(void)
{
	struct vring_seg s[2];
	struct rig r;

	rig_up(&r);
	s[0] = (struct vring_seg){ .addr = VRING_DATA_GPA,
				   .len = 8,
				   .write = true };
	s[1] = (struct vring_seg){ .addr = VRING_DATA_GPA + 8, .len = 8 };
	CHECK(vring_post(&r.bad, s, 2) >= 0);
	expect_break(&r);
}

static void test_readable_after_writable_indirect(void)
{
	struct vring_seg s[3];
	struct rig r;

	rig_up(&r);
	s[0] = (struct vring_seg){ .addr = VRING_DATA_GPA, .len = 8 };
	s[1] = (struct vring_seg){ .addr = VRING_DATA_GPA,
				   .len = 8,
				   .write = true };
	s[2] = (struct vring_seg){ .addr = VRING_DATA_GPA, .len = 8 };
	CHECK(vring_post_indirect(&r.bad, s, 3) >= 0);
	expect_break(&r);
}

/* --- virtq_init --------------------------------------------------------- */

/* virtq_init must refuse vq; then pops fail, the bystander works. */
static void expect_init_refused(struct rig *r)
{
	struct virtq_elem *e;

	CHECK_EQ(virtq_init(&r->bq), -EINVAL);
	CHECK(r->bq.broken);
	CHECK_EQ(virtq_pop(&r->bq, &e), -EIO);
	CHECK(!virtq_should_notify(&r->bq));
	virtq_set_notification(&r->bq, true);
	check_healthy(r);
	gm_free(&r->gm);
}

static void test_init_rings_outside_ram(void)
{
	static const struct {
		gpa_t desc, avail, used;
	} bad[] = {
		{ 0, VRING_RAM_LOW + 0x1000, VRING_RAM_LOW + 0x2000 },
		{ VRING_RAM_LOW, VRING_RAM_LOW + VRING_RAM_LOW_SIZE - 6,
		  VRING_RAM_LOW + 0x2000 },
		{ VRING_RAM_LOW, VRING_RAM_LOW + 0x1000, LAYOUT_MMIO_HOLE },
		{ LAYOUT_LAPIC, VRING_RAM_LOW + 0x1000,
		  VRING_RAM_LOW + 0x2000 },
		{ VRING_RAM_LOW, VRING_RAM_LOW + 0x1000,
		  VRING_RAM_BELOW_HOLE + VRING_RAM_BELOW_HOLE_SIZE - 8 },
		{ 0xfffffffffffffff0ull, VRING_RAM_LOW + 0x1000,
		  VRING_RAM_LOW + 0x2000 },
	};
	struct rig r;
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rig_up(&r);
		r.bq.desc = bad[i].desc;
		r.bq.avail = bad[i].avail;
		r.bq.used = bad[i].used;
		expect_init_refused(&r);
	}
}

static void test_init_rings_misaligned(void)
{
	struct rig r;

	rig_up(&r);
	r.bq.desc += 8;
	expect_init_refused(&r);
	rig_up(&r);
	r.bq.avail += 1;
	expect_init_refused(&r);
	rig_up(&r);
	r.bq.used += 2;
	expect_init_refused(&r);
}

static void test_init_bad_sizes(void)
{
	static const uint16_t sizes[] = { 0, 3, 1000, 2048, 0xffff };
	struct rig r;
	unsigned int i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		rig_up(&r);
		r.bq.size = sizes[i];
		expect_init_refused(&r);
	}
}

static void test_init_without_memory(void)
{
	struct rig r;

	rig_up(&r);
	r.bq.mem = NULL;
	expect_init_refused(&r);
}

static void test_pop_on_never_initialised_queue(void)
{
	struct virtq vq = { .size = 16 };
	struct virtq_elem *e;

	CHECK_EQ(virtq_pop(&vq, &e), -EIO);
	CHECK(!virtq_should_notify(&vq));
	virtq_set_notification(&vq, true);
}

/* --- event indices and the used ring ------------------------------------ */

static void test_used_event_garbage(void)
{
	struct virtq_elem *e;
	uint32_t id, len;
	struct rig r;
	unsigned int i;

	rig_up(&r);
	r.bq.event_idx = true;
	CHECK_EQ(virtq_init(&r.bq), 0);
	for (i = 0; i < 200; i++) {
		vring_set_used_event(&r.bad, (uint16_t)(i * 7919u));
		vring_free_data(&r.bad);
		CHECK(vring_post_buf(&r.bad, "x", 1, 0, NULL) >= 0);
		CHECK_EQ(virtq_pop(&r.bq, &e), 1);
		virtq_push(&r.bq, e, 0);
		(void)virtq_should_notify(&r.bq);
		CHECK(vring_get_used(&r.bad, &id, &len));
	}
	CHECK(!r.bq.broken);
	check_healthy(&r);
	gm_free(&r.gm);
}

static void test_used_ring_scribbled_by_driver(void)
{
	struct virtq_elem *e;
	struct rig r;
	void *used;

	/* The driver overwrites the device's used ring and avail_event. */
	rig_up(&r);
	r.bq.event_idx = true;
	CHECK_EQ(virtq_init(&r.bq), 0);
	CHECK(vring_post_buf(&r.bad, "x", 1, 0, NULL) >= 0);
	CHECK_EQ(virtq_pop(&r.bq, &e), 1);
	used = gm_ptr(&r.gm, r.bad.used, virtq_used_bytes(SIZE));
	memset(used, 0xff, virtq_used_bytes(SIZE));
	virtq_push(&r.bq, e, 0);
	/* The device keeps its own index. */
	CHECK_EQ(vring_used_idx(&r.bad), 1);
	CHECK_EQ(virtq_pop(&r.bq, &e), 0);
	CHECK(!r.bq.broken);
	check_healthy(&r);
	gm_free(&r.gm);
}

/* --- descriptors changing under the device ------------------------------ */

static void test_desc_rewritten_after_pop(void)
{
	struct virtq_elem *e;
	char buf[8] = { 0 };
	struct rig r;

	/*
	 * The element is a copy: rewriting the descriptor afterwards does
	 * not move the buffers the device was given.
	 */
	rig_up(&r);
	CHECK(vring_post_buf(&r.bad, "data", 4, 0, NULL) >= 0);
	CHECK_EQ(virtq_pop(&r.bq, &e), 1);
	vring_write_desc(&r.bad, r.bad.desc, 0, 0xfffffffffffff000ull,
			 0xffffffffu, VIRTQ_DESC_F_NEXT, 0);
	CHECK_EQ(e->out_len, 4);
	CHECK_EQ(virtq_copy_from(e, 0, buf, sizeof(buf)), 4);
	CHECK_STR(buf, "data");
	virtq_push(&r.bq, e, 0);
	CHECK(!r.bq.broken);
	check_healthy(&r);
	gm_free(&r.gm);
}

struct flipper {
	uint8_t *desc; /* host view of descriptor 0 */
	atomic_bool stop;
};

static void *flip(void *arg)
{
	struct flipper *f = arg;
	_Atomic uint64_t *addr = (_Atomic uint64_t *)f->desc;
	_Atomic uint32_t *len = (_Atomic uint32_t *)(f->desc + 8);
	uint64_t n = 0;

	while (!atomic_load(&f->stop)) {
		atomic_store_explicit(
			addr, n & 1 ? 0xfffffffffffff000ull : VRING_DATA_GPA,
			memory_order_relaxed);
		atomic_store_explicit(len, n & 2 ? 0xffffffffu : 16,
				      memory_order_relaxed);
		n++;
	}
	return NULL;
}

static void test_desc_flipping_concurrently(void)
{
	struct flipper f;
	struct virtq_elem *e;
	struct rig r;
	pthread_t t;
	uint8_t *data;
	unsigned int i, ok = 0, broken = 0;
	int ret;

	/*
	 * Another vCPU rewrites the descriptor while the device reads it.
	 * Whatever the interleaving, the device sees one consistent copy:
	 * either the good buffer or a rejected one, never a mix.
	 */
	rig_up(&r);
	data = gm_ptr(&r.gm, VRING_DATA_GPA, 16);
	f.desc = gm_ptr(&r.gm, r.bad.desc, 16);
	atomic_init(&f.stop, false);
	vring_write_desc(&r.bad, r.bad.desc, 0, VRING_DATA_GPA, 16, 0, 0);
	CHECK_EQ(pthread_create(&t, NULL, flip, &f), 0);
	for (i = 0; i < 2000; i++) {
		vring_put_avail(&r.bad, 0);
		ret = virtq_pop(&r.bq, &e);
		if (ret == 1) {
			CHECK_EQ(e->nr_out, 1);
			CHECK(e->iov[0].iov_base == data);
			CHECK_EQ(e->iov[0].iov_len, 16);
			virtq_push(&r.bq, e, 0);
			ok++;
		} else {
			CHECK_EQ(ret, -EIO);
			broken++;
			/* The driver resets the queue. */
			vring_set_avail_idx(&r.bad, 0);
			CHECK_EQ(virtq_init(&r.bq), 0);
			r.bad.last_used = 0;
		}
	}
	atomic_store(&f.stop, true);
	pthread_join(t, NULL);
	CHECK_EQ(ok + broken, 2000);
	check_healthy(&r);
	gm_free(&r.gm);
}

/* --- after the break ---------------------------------------------------- */

static void test_many_pops_after_broken(void)
{
	struct virtq_elem *e;
	struct rig r;
	unsigned int i;

	rig_up(&r);
	vring_put_avail(&r.bad, SIZE);
	CHECK_EQ(virtq_pop(&r.bq, &e), -EIO);
	/* The driver even fixes the ring: still broken until init. */
	vring_set_avail_slot(&r.bad, 0, 0);
	vring_write_desc(&r.bad, r.bad.desc, 0, VRING_DATA_GPA, 16, 0, 0);
	for (i = 0; i < 1000; i++) {
		CHECK_EQ(virtq_pop(&r.bq, &e), -EIO);
		check_broken(&r);
	}
	check_healthy(&r);
	/* A reset and a fresh ring bring the queue back. */
	CHECK_EQ(vring_init(&r.bad, &r.gm, VRING_RING_GPA, SIZE, VRING_DATA_GPA,
			    VRING_DATA_SIZE),
		 0);
	CHECK_EQ(virtq_init(&r.bq), 0);
	CHECK(vring_post_buf(&r.bad, "x", 1, 0, NULL) >= 0);
	CHECK_EQ(virtq_pop(&r.bq, &e), 1);
	virtq_push(&r.bq, e, 0);
	CHECK_EQ(vring_used_idx(&r.bad), 1);
	gm_free(&r.gm);
}

static void test_push_of_inflight_after_broken(void)
{
	struct virtq_elem *e;
	uint32_t id, len;
	struct rig r;

	/* A request in flight when the queue breaks still completes. */
	rig_up(&r);
	CHECK(vring_post_buf(&r.bad, "x", 1, 4, NULL) >= 0);
	CHECK_EQ(virtq_pop(&r.bq, &e), 1);
	vring_put_avail(&r.bad, 0xffff);
	CHECK_EQ(virtq_pop(&r.bq, &(struct virtq_elem *){ NULL }), -EIO);
	virtq_push(&r.bq, e, 4);
	CHECK(vring_get_used(&r.bad, &id, &len));
	CHECK_EQ(len, 4);
	check_broken(&r);
	check_healthy(&r);
	gm_free(&r.gm);
}

TEST_SUITE(virtq_hostile, TEST_CASE(test_desc_self_loop),
	   TEST_CASE(test_desc_two_cycle), TEST_CASE(test_desc_long_cycle),
	   TEST_CASE(test_chain_of_exactly_size_is_fine),
	   TEST_CASE(test_next_out_of_range),
	   TEST_CASE(test_next_out_of_range_max),
	   TEST_CASE(test_head_out_of_range),
	   TEST_CASE(test_head_out_of_range_max),
	   TEST_CASE(test_avail_idx_jump_beyond_size),
	   TEST_CASE(test_avail_idx_exactly_size_is_fine),
	   TEST_CASE(test_avail_idx_goes_backwards),
	   TEST_CASE(test_avail_idx_garbage_after_wrap),
	   TEST_CASE(test_zero_length_buffer_accepted),
	   TEST_CASE(test_huge_length_buffer),
	   TEST_CASE(test_total_length_over_cap),
	   TEST_CASE(test_total_length_at_cap_is_fine),
	   TEST_CASE(test_total_length_32bit_overflow),
	   TEST_CASE(test_addr_near_2_64),
	   TEST_CASE(test_addr_wrapping_past_2_64),
	   TEST_CASE(test_addr_wrapping_from_top_ram),
	   TEST_CASE(test_buffer_at_gpa_zero),
	   TEST_CASE(test_buffer_spanning_end_of_ram),
	   TEST_CASE(test_buffer_into_mmio_hole),
	   TEST_CASE(test_buffer_across_3g_hole),
	   TEST_CASE(test_buffer_at_device_registers),
	   TEST_CASE(test_buffer_in_ram_above_4g_is_fine),
	   TEST_CASE(test_indirect_size_zero),
	   TEST_CASE(test_indirect_size_not_multiple_of_16),
	   TEST_CASE(test_indirect_size_too_large),
	   TEST_CASE(test_indirect_table_outside_ram),
	   TEST_CASE(test_indirect_nested), TEST_CASE(test_indirect_with_next),
	   TEST_CASE(test_indirect_not_negotiated),
	   TEST_CASE(test_indirect_inside_chain), TEST_CASE(test_indirect_loop),
	   TEST_CASE(test_indirect_next_beyond_table),
	   TEST_CASE(test_readable_after_writable),
	   TEST_CASE(test_readable_after_writable_indirect),
	   TEST_CASE(test_init_rings_outside_ram),
	   TEST_CASE(test_init_rings_misaligned),
	   TEST_CASE(test_init_bad_sizes), TEST_CASE(test_init_without_memory),
	   TEST_CASE(test_pop_on_never_initialised_queue),
	   TEST_CASE(test_used_event_garbage),
	   TEST_CASE(test_used_ring_scribbled_by_driver),
	   TEST_CASE(test_desc_rewritten_after_pop),
	   TEST_CASE(test_desc_flipping_concurrently),
	   TEST_CASE(test_many_pops_after_broken),
	   TEST_CASE(test_push_of_inflight_after_broken));
