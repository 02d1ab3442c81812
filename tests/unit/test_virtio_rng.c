// SPDX-License-Identifier: MIT
/*
 * virtio-rng: requests filled from getrandom(), the token bucket with an
 * injected clock, hostile requests and reset, against a driver played by
 * tests/unit/vring.c, all on the test's thread (the device without its
 * transport: virtio_rng_new/start/kick/poll; poll is the rate timer
 * firing); then the device behind the PCI transport, where the rate timer
 * is a real timerfd on the device's I/O thread
 * (tests/unit/virtio_harness.h).
 */
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "unit/fake.h"
#include "unit/test.h"
#include "unit/virtio_harness.h"
#include "unit/vring.h"
#include "virtio/rng.h"
#include "virtio/virtio_pci.h"
#include "virtio/virtqueue.h"

#define NS 1000000000ll

struct rig {
	struct guest_mem gm;
	struct vring vr;
	struct virtq vq;
	struct virtio_rng *r;
	_Atomic int64_t now;
};

static int64_t rig_clock(void *opaque)
{
	struct rig *r = opaque;

	return atomic_load(&r->now);
}

static void queue_up(struct rig *r)
{
	CHECK_EQ(vring_init(&r->vr, &r->gm, VRING_RING_GPA, 16, VRING_DATA_GPA,
			    3 * VRING_DATA_SIZE),
		 0);
	memset(&r->vq, 0, sizeof(r->vq));
	vring_to_virtq(&r->vr, &r->vq);
	r->vq.indirect = true;
	CHECK_EQ(virtq_init(&r->vq), 0);
}

/* A device at rate bytes/s on a clock that moves only when told. */
static void rig_up(struct rig *r, uint64_t rate)
{
	memset(r, 0, sizeof(*r));
	atomic_store(&r->now, 1000 * NS);
	CHECK_EQ(vring_mem_alloc(&r->gm), 0);
	queue_up(r);
	r->r = virtio_rng_new(rate);
	CHECK(r->r != NULL);
	virtio_rng_set_clock(r->r, rig_clock, r);
	CHECK_EQ(virtio_rng_start(r->r, &r->vq), 0);
}

static void rig_down(struct rig *r)
{
	virtio_rng_free(r->r);
	gm_free(&r->gm);
}

static uint8_t *host(struct rig *r, gpa_t gpa, uint64_t len)
{
	uint8_t *p = gm_ptr(&r->gm, gpa, len);

	CHECK(p != NULL);
	return p;
}

static bool all_zero(const uint8_t *p, uint64_t len)
{
	uint64_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static int post(struct rig *r, uint32_t len, gpa_t *gpa)
{
	int head = vring_post_buf(&r->vr, NULL, 0, len, gpa);

	CHECK(head >= 0);
	return head;
}

static void fills_buffers(void)
{
	static const uint32_t sizes[] = { 1, 64, 1000, 4096 };
	gpa_t gpa[4];
	uint32_t id, len;
	struct rig r;
	unsigned int i;
	int head[4];

	rig_up(&r, 1 << 20);
	for (i = 0; i < 4; i++)
		head[i] = post(&r, sizes[i], &gpa[i]);
	virtio_rng_kick(r.r);
	for (i = 0; i < 4; i++) {
		CHECK(vring_get_used(&r.vr, &id, &len));
		CHECK_EQ(id, head[i]);
		CHECK_EQ(len, sizes[i]);
		if (sizes[i] >= 64)
			CHECK(!all_zero(host(&r, gpa[i], sizes[i]), sizes[i]));
	}
	/* Two requests' bytes differ (random, not a pattern). */
	CHECK(memcmp(host(&r, gpa[1], 64), host(&r, gpa[2], 64), 64));
	CHECK(!virtio_rng_waiting(r.r));
	rig_down(&r);
}

/* A request spread over several writable segments gets all of them. */
static void fills_segments(void)
{
	struct vring_seg segs[3];
	uint32_t id, len;
	struct rig r;
	unsigned int i;

	rig_up(&r, 1 << 20);
	for (i = 0; i < 3; i++) {
		segs[i] = (struct vring_seg){
			.addr = vring_alloc(&r.vr, 64),
			.len = 64,
			.write = true,
		};
		memset(host(&r, segs[i].addr, 64), 0, 64);
	}
	CHECK(vring_post_indirect(&r.vr, segs, 3) >= 0);
	virtio_rng_kick(r.r);
	CHECK(vring_get_used(&r.vr, &id, &len));
	CHECK_EQ(len, 192);
	for (i = 0; i < 3; i++)
		CHECK(!all_zero(host(&r, segs[i].addr, 64), 64));
	rig_down(&r);
}

/* A huge buffer gets VIRTIO_RNG_REQ_MAX bytes, the rest is untouched. */
static void huge_request_capped(void)
{
	const uint32_t size = 2u << 20;
	uint32_t id, len;
	struct rig r;
	gpa_t gpa;

	rig_up(&r, 1 << 20);
	gpa = vring_alloc(&r.vr, size);
	memset(host(&r, gpa, size), 0, size);
	CHECK(vring_post(&r.vr,
			 &(struct vring_seg){
				 .addr = gpa, .len = size, .write = true },
			 1) >= 0);
	virtio_rng_kick(r.r);
	CHECK(vring_get_used(&r.vr, &id, &len));
	CHECK_EQ(len, VIRTIO_RNG_REQ_MAX);
	CHECK(!all_zero(host(&r, gpa, VIRTIO_RNG_REQ_MAX), VIRTIO_RNG_REQ_MAX));
	CHECK(all_zero(host(&r, gpa + VIRTIO_RNG_REQ_MAX,
			    size - VIRTIO_RNG_REQ_MAX),
		       size - VIRTIO_RNG_REQ_MAX));
	rig_down(&r);
}

static void rate_limit_holds_then_completes(void)
{
	uint32_t id, len;
	struct rig r;
	int h1, h2, h3;

	/* 1000 bytes/s: the bucket holds 1000 bytes, and starts full. */
	rig_up(&r, 1000);
	h1 = post(&r, 4096, NULL);
	virtio_rng_kick(r.r);
	CHECK(vring_get_used(&r.vr, &id, &len));
	CHECK_EQ(id, h1);
	CHECK_EQ(len, 1000); /* no more than the bucket holds */
	/* Empty bucket: the next request is held, also when kicked again
	 * or when the timer fires while the clock has not moved. */
	h2 = post(&r, 600, NULL);
	h3 = post(&r, 600, NULL);
	virtio_rng_kick(r.r);
	CHECK(!vring_get_used(&r.vr, &id, &len));
	CHECK(virtio_rng_waiting(r.r));
	virtio_rng_poll(r.r);
	virtio_rng_kick(r.r);
	CHECK(!vring_get_used(&r.vr, &id, &len));
	/* Half a second: 500 bytes, not enough for 600. */
	atomic_fetch_add(&r.now, NS / 2);
	virtio_rng_poll(r.r);
	CHECK(!vring_get_used(&r.vr, &id, &len));
	/* 0.1 s more: 600 bytes, the first one goes, the second waits. */
	atomic_fetch_add(&r.now, NS / 10);
	virtio_rng_poll(r.r);
	CHECK(vring_get_used(&r.vr, &id, &len));
	CHECK_EQ(id, h2);
	CHECK_EQ(len, 600);
	CHECK(!vring_get_used(&r.vr, &id, &len));
	/* A long wait fills the bucket only to its size (no hoarding). */
	atomic_fetch_add(&r.now, 100 * NS);
	virtio_rng_poll(r.r);
	CHECK(vring_get_used(&r.vr, &id, &len));
	CHECK_EQ(id, h3);
	CHECK_EQ(len, 600);
	post(&r, 600, NULL);
	virtio_rng_kick(r.r);
	CHECK(!vring_get_used(&r.vr, &id, &len)); /* 400 left */
	rig_down(&r);
}

/* A clock that steps back earns nothing and breaks nothing. */
static void clock_backwards(void)
{
	uint32_t id, len;
	struct rig r;

	rig_up(&r, 100);
	post(&r, 100, NULL);
	virtio_rng_kick(r.r);
	CHECK(vring_get_used(&r.vr, &id, &len));
	post(&r, 100, NULL);
	atomic_fetch_sub(&r.now, 50 * NS);
	virtio_rng_poll(r.r);
	CHECK(!vring_get_used(&r.vr, &id, &len));
	atomic_fetch_add(&r.now, NS);
	virtio_rng_poll(r.r);
	CHECK(vring_get_used(&r.vr, &id, &len));
	CHECK_EQ(len, 100);
	rig_down(&r);
}

static void reset_drops_held_request(void)
{
	uint32_t id, len;
	struct rig r;
	int head;

	rig_up(&r, 100);
	post(&r, 100, NULL);
	post(&r, 100, NULL);
	virtio_rng_kick(r.r);
	CHECK(vring_get_used(&r.vr, &id, &len));
	CHECK(virtio_rng_waiting(r.r));
	virtio_rng_stop(r.r);
	CHECK(!virtio_rng_waiting(r.r));
	atomic_fetch_add(&r.now, NS);
	virtio_rng_poll(r.r); /* the timer after the reset: nothing */
	CHECK(!vring_get_used(&r.vr, &id, &len));
	/* A new queue after the reset; the bucket was not refilled by it
	 * (only by the second that passed). */
	queue_up(&r);
	head = post(&r, 100, NULL);
	CHECK_EQ(virtio_rng_start(r.r, &r.vq), 0);
	CHECK(vring_get_used(&r.vr, &id, &len));
	CHECK_EQ(id, head);
	CHECK_EQ(len, 100);
	post(&r, 100, NULL);
	virtio_rng_kick(r.r);
	CHECK(!vring_get_used(&r.vr, &id, &len));
	rig_down(&r);
}

/* Requests the spec forbids: NEEDS_RESET, then quiet until reset. */
static void hostile_requests(void)
{
	static const struct vring_seg cases[][2] = {
		/* device-readable only */
		{ { .addr = VRING_DATA_GPA, .len = 16 } },
		/* readable, then writable */
		{ { .addr = VRING_DATA_GPA, .len = 16 },
		  { .addr = VRING_DATA_GPA + 64, .len = 16, .write = true } },
		/* a writable buffer of zero bytes */
		{ { .addr = VRING_DATA_GPA, .len = 0, .write = true } },
	};
	static const unsigned int nr[] = { 1, 2, 1 };
	uint32_t id, len;
	unsigned int i;
	struct rig r;

	for (i = 0; i < 3; i++) {
		rig_up(&r, 1 << 20);
		CHECK(vring_post(&r.vr, cases[i], nr[i]) >= 0);
		post(&r, 16, NULL);
		virtio_rng_kick(r.r);
		CHECK(virtio_rng_broken(r.r));
		CHECK(!vring_get_used(&r.vr, &id, &len));
		virtio_rng_poll(r.r);
		virtio_rng_kick(r.r);
		CHECK(!vring_get_used(&r.vr, &id, &len));
		/* The driver resets the device: it works again. */
		virtio_rng_stop(r.r);
		CHECK(!virtio_rng_broken(r.r));
		queue_up(&r);
		post(&r, 16, NULL);
		CHECK_EQ(virtio_rng_start(r.r, &r.vq), 0);
		CHECK(vring_get_used(&r.vr, &id, &len));
		CHECK_EQ(len, 16);
		rig_down(&r);
	}
}

/* A ring the driver broke (a descriptor loop): NEEDS_RESET. */
static void hostile_broken_ring(void)
{
	uint32_t id, len;
	struct rig r;

	rig_up(&r, 1 << 20);
	vring_write_desc(&r.vr, r.vr.desc, 3, VRING_DATA_GPA, 16,
			 VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 3);
	vring_put_avail(&r.vr, 3);
	virtio_rng_kick(r.r);
	CHECK(virtio_rng_broken(r.r));
	CHECK(!vring_get_used(&r.vr, &id, &len));
	rig_down(&r);
}

/* --- behind the PCI transport ------------------------------------------- */

static _Atomic int64_t pci_now;

static int64_t pci_clock(void *opaque)
{
	(void)opaque;
	return atomic_load(&pci_now);
}

/* --rng rate=RATE, on the test clock, the driver up. */
static struct vh_host *pci_up(struct vh_dev *d, uint64_t rate)
{
	struct vh_host *h = vh_host_new();

	h->vm.cfg.rng_rate = rate;
	fake_vm_realize(&h->vm, &virtio_rng_type);
	atomic_store(&pci_now, 1000 * NS);
	virtio_rng_set_clock(h->vm.state, pci_clock, NULL);
	CHECK_EQ(vh_dev_find(h, d, VIRTIO_ID_RNG, 0), 0);
	CHECK_EQ(vh_dev_start(d, ~0ull), 0);
	return h;
}

static void pci_down(struct vh_host *h, struct vh_dev *d)
{
	vh_dev_free(d);
	vh_host_free(h);
}

static void pci_fills(void)
{
	static const uint32_t size = 256;
	struct vh_dev d;
	struct vh_host *h = pci_up(&d, 1 << 20);
	int head;

	CHECK_EQ(d.nr_queues, 1);
	CHECK_EQ(d.offered & 0xffffff, 0); /* no device feature bits */
	CHECK_EQ(vh_request(&d, 0, NULL, 0, &size, 1, &head), 256);
	CHECK(!all_zero(vh_in_ptr(&d, 0, head), 256));
	pci_down(h, &d);
}

/* The rate timer is real here: a held request completes when it fires. */
static void pci_rate_limit(void)
{
	static const uint32_t big = 4096, small = 500;
	struct timespec ms50 = { .tv_nsec = 50 * 1000 * 1000 };
	struct vh_dev d;
	struct vh_host *h = pci_up(&d, 1000);
	uint32_t id, len;
	int head;

	CHECK_EQ(vh_request(&d, 0, NULL, 0, &big, 1, &head), 1000);
	head = vh_post(&d, 0, NULL, 0, &small, 1);
	CHECK(head >= 0);
	vh_kick(&d, 0);
	/* The clock stands still: it cannot complete, however long. */
	nanosleep(&ms50, NULL);
	CHECK(!vh_poll_used(&d, 0, &id, &len));
	atomic_fetch_add(&pci_now, NS);
	CHECK_EQ(vh_wait_used(&d, 0, &id, &len), 0);
	CHECK_EQ(id, head);
	CHECK_EQ(len, 500);
	pci_down(h, &d);
}

static void pci_hostile_request(void)
{
	static const uint32_t size = 16;
	struct vh_buf out = { .data = "seed", .len = 4 };
	struct vh_dev d;
	struct vh_host *h = pci_up(&d, 1 << 20);
	int head;

	CHECK(vh_post(&d, 0, &out, 1, &size, 1) >= 0);
	vh_kick(&d, 0);
	CHECK_EQ(vh_wait_status(&d, VIRTIO_STATUS_NEEDS_RESET), 0);
	CHECK_EQ(vh_reset(&d), 0);
	CHECK_EQ(vh_dev_start(&d, ~0ull), 0);
	CHECK_EQ(vh_request(&d, 0, NULL, 0, &size, 1, &head), 16);
	pci_down(h, &d);
}

/* Without --rng there is no device. */
static void absent_unless_asked(void)
{
	struct fake_vm *f = fake_vm_new(NULL);

	f->cfg.rng_rate = 0;
	fake_vm_realize(f, &virtio_rng_type);
	fake_vm_free(f);
}

TEST_SUITE(virtio_rng, TEST_CASE(fills_buffers), TEST_CASE(fills_segments),
	   TEST_CASE(huge_request_capped),
	   TEST_CASE(rate_limit_holds_then_completes),
	   TEST_CASE(clock_backwards), TEST_CASE(reset_drops_held_request),
	   TEST_CASE(hostile_requests), TEST_CASE(hostile_broken_ring),
	   TEST_CASE(pci_fills), TEST_CASE(pci_rate_limit),
	   TEST_CASE(pci_hostile_request), TEST_CASE(absent_unless_asked));
