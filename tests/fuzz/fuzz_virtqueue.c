// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for virtqueue.c: split rings (virtio 1.x, 2.7) that a
 * hostile driver lays out in guest memory, fed to virtq_init, virtq_pop,
 * virtq_push and the notification calls.
 *
 * The guest: three RAM regions, A (64 KiB at 0x10000, not at 0), B (64 KiB
 * at 1 MiB) and T (64 KiB at 2^64 - 2 MiB), with holes around each.
 * Everything in the input is guest-controlled:
 *
 *   offset  0  le16 queue size (anything: init must refuse the bad ones)
 *           2  u8   bit 0 EVENT_IDX, bit 1 INDIRECT_DESC negotiated
 *           3  u8   unused
 *           4  le32 descriptor table, 8 le32 avail ring, 12 le32 used ring:
 *                   bit 31 set: B + bits 0-30, else A + the value
 *          16  64 bytes of operations, one byte each (below)
 *          80  the initial contents of A, then of B, then of T; short
 *                   inputs leave the rest zero
 *
 * Operations (low 3 bits; some take argument bytes from the stream):
 *   0 pop one element      1 push the oldest in flight   2 push the newest
 *   3 should_notify        4 set_notification(bit 3)
 *   5 poke: le16 offset, u8 value into A (the driver rewriting its rings
 *     between two pops)    6 pop and push until empty or broken
 *   7 reset: virtq_init again (in-flight elements are pushed first)
 * At the end the queue is drained and every element pushed.
 *
 * Checks beyond the sanitizers: every iovec of an element lies inside one
 * RAM region; the segment counts and byte totals add up; totals stay under
 * VIRTQ_MAX_ELEM_BYTES; a broken queue stays broken.
 *
 * Seeds: MICA_FUZZ_VIRTQUEUE_SEEDS=DIR build/fuzz/fuzz_virtqueue writes
 * the generator's valid rings (below) to DIR and exits; they are committed
 * in tests/fuzz/corpus/fuzz_virtqueue/.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "virtio/virtqueue.h"
#include "vm/guest_mem.h"

#define REGION_SIZE 0x10000ull
#define A_BASE 0x10000ull
#define B_BASE 0x100000ull
#define T_BASE 0xffffffffffe00000ull
#define HDR_SIZE 16
#define OPS_SIZE 64
#define IMG_OFF (HDR_SIZE + OPS_SIZE)
#define MAX_INFLIGHT 16
#define COPY_MAX 0x20000ull /* bytes copied per element, each way */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct guest_mem gm;
static uint8_t copybuf[COPY_MAX];

struct run {
	struct virtq vq;
	struct virtq_elem *inflight[MAX_INFLIGHT];
	unsigned int nr_inflight;
};

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static gpa_t ring_gpa(uint32_t v)
{
	return v & 0x80000000u ? B_BASE + (v & 0x7fffffffu) : A_BASE + v;
}

static bool in_one_region(const struct iovec *iov)
{
	unsigned int i;

	for (i = 0; i < gm.nr_regions; i++) {
		const struct gm_region *r = &gm.regions[i];
		uintptr_t b = (uintptr_t)iov->iov_base;
		uintptr_t start = (uintptr_t)r->host;

		if (b >= start && iov->iov_len <= r->size &&
		    b - start <= r->size - iov->iov_len)
			return true;
	}
	return false;
}

static void check_elem(const struct virtq_elem *e)
{
	uint64_t out = 0, in = 0;
	unsigned int i;

	for (i = 0; i < e->nr_out + e->nr_in; i++) {
		if (!in_one_region(&e->iov[i]) || e->iov[i].iov_len == 0)
			__builtin_trap();
		if (i < e->nr_out)
			out += e->iov[i].iov_len;
		else
			in += e->iov[i].iov_len;
	}
	if (out != e->out_len || in != e->in_len ||
	    out + in > VIRTQ_MAX_ELEM_BYTES)
		__builtin_trap();
}

/* What a device does with a request: read it all, write a reply. */
static void use_elem(struct virtq_elem *e)
{
	uint64_t n = e->out_len < COPY_MAX ? e->out_len : COPY_MAX;
	uint64_t got;

	check_elem(e);
	got = virtq_copy_from(e, 0, copybuf, n);
	if (got != n)
		__builtin_trap();
	if (e->out_len > 3 && virtq_copy_from(e, 3, copybuf, 1) != 1)
		__builtin_trap();
	n = e->in_len < COPY_MAX ? e->in_len : COPY_MAX;
	if (virtq_copy_to(e, 0, copybuf, n) != n)
		__builtin_trap();
}

static int pop(struct run *r)
{
	struct virtq_elem *e = NULL;
	bool was_broken = r->vq.broken;
	int ret;

	if (r->nr_inflight == MAX_INFLIGHT)
		return 0;
	ret = virtq_pop(&r->vq, &e);
	if (ret == 1) {
		if (was_broken || !e)
			__builtin_trap();
		use_elem(e);
		r->inflight[r->nr_inflight++] = e;
	} else if (e || (ret != 0 && ret != -EIO) ||
		   (ret == -EIO) != r->vq.broken) {
		__builtin_trap();
	}
	return ret;
}

static void push(struct run *r, unsigned int i, uint32_t written)
{
	struct virtq_elem *e = r->inflight[i];

	memmove(&r->inflight[i], &r->inflight[i + 1],
		(r->nr_inflight - i - 1) * sizeof(r->inflight[0]));
	r->nr_inflight--;
	virtq_push(&r->vq, e, written);
}

static void push_all(struct run *r)
{
	while (r->nr_inflight)
		push(r, 0, 0xffffffffu);
	(void)virtq_should_notify(&r->vq);
}

static void drain(struct run *r)
{
	unsigned int i;

	/* Bounded: at most size entries are pending, plus a few pokes. */
	for (i = 0; i < 2 * VIRTQ_MAX_SIZE + 8; i++) {
		if (pop(r) != 1)
			break;
		push(r, r->nr_inflight - 1, (uint32_t)i);
	}
	(void)virtq_should_notify(&r->vq);
}

static void fill_region(unsigned int idx, const uint8_t *src, size_t avail)
{
	struct gm_region *reg = &gm.regions[idx];
	size_t n = avail < reg->size ? avail : reg->size;

	if (n)
		memcpy(reg->host, src, n);
	memset(reg->host + n, 0, reg->size - n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *ops = data + HDR_SIZE;
	struct run r = { .nr_inflight = 0 };
	size_t img = size > IMG_OFF ? size - IMG_OFF : 0;
	unsigned int i, k, op;

	if (size < IMG_OFF)
		return 0;
	for (k = 0; k < gm.nr_regions; k++) {
		size_t off = k * REGION_SIZE;

		fill_region(k, data + IMG_OFF + (off < img ? off : img),
			    off < img ? img - off : 0);
	}

	r.vq = (struct virtq){
		.mem = &gm,
		.size = rd16(data),
		.desc = ring_gpa(rd32(data + 4)),
		.avail = ring_gpa(rd32(data + 8)),
		.used = ring_gpa(rd32(data + 12)),
		.event_idx = data[2] & 1,
		.indirect = data[2] & 2,
	};
	if (virtq_init(&r.vq) != 0) {
		struct virtq_elem *e = NULL;

		if (!r.vq.broken || virtq_pop(&r.vq, &e) != -EIO || e)
			__builtin_trap();
		return 0;
	}

	for (i = 0; i < OPS_SIZE; i++) {
		op = ops[i];
		switch (op & 7) {
		case 0:
			pop(&r);
			break;
		case 1:
			if (r.nr_inflight)
				push(&r, 0, (uint32_t)op << 8);
			break;
		case 2:
			if (r.nr_inflight)
				push(&r, r.nr_inflight - 1, op >> 3);
			break;
		case 3:
			(void)virtq_should_notify(&r.vq);
			break;
		case 4:
			virtq_set_notification(&r.vq, op & 8);
			break;
		case 5:
			if (i + 3 < OPS_SIZE) {
				uint16_t off = rd16(ops + i + 1);

				gm.regions[0].host[off % REGION_SIZE] =
					ops[i + 3];
				i += 3;
			}
			break;
		case 6:
			drain(&r);
			break;
		case 7:
			push_all(&r);
			if (virtq_init(&r.vq) != 0)
				__builtin_trap(); /* it passed once */
			break;
		}
	}
	drain(&r);
	push_all(&r);
	return 0;
}

/* --- seed generator ----------------------------------------------------- */

struct seed {
	uint8_t buf[IMG_OFF + 2 * REGION_SIZE];
	size_t len;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* Where guest address gpa of A or B is in the seed image. */
static uint8_t *at(struct seed *s, gpa_t gpa)
{
	size_t off = gpa >= B_BASE ? REGION_SIZE + (gpa - B_BASE) :
				     gpa - A_BASE;

	if (IMG_OFF + off + 16 > s->len)
		s->len = IMG_OFF + off + 16;
	return s->buf + IMG_OFF + off;
}

static void seed_desc(struct seed *s, gpa_t table, unsigned int i,
		      uint64_t addr, uint32_t len, uint16_t flags,
		      uint16_t next)
{
	uint8_t *p = at(s, table + 16ull * i);

	put64(p, addr);
	put32(p + 8, len);
	put16(p + 12, flags);
	put16(p + 14, next);
}

/* Rings of size 16 at A: desc 0x10000, avail 0x10100, used 0x10200. */
static void seed_init(struct seed *s, uint16_t qsize, uint8_t features)
{
	memset(s, 0, sizeof(*s));
	s->len = IMG_OFF;
	put16(s->buf, qsize);
	s->buf[2] = features;
	put32(s->buf + 4, 0);
	put32(s->buf + 8, 0x100 * (qsize / 16));
	put32(s->buf + 12, 0x200 * (qsize / 16));
	memset(s->buf + HDR_SIZE, 6, OPS_SIZE); /* drain */
}

static void seed_avail(struct seed *s, uint16_t qsize, uint16_t idx,
		       const uint16_t *heads)
{
	gpa_t avail = A_BASE + 0x100ull * (qsize / 16);
	unsigned int i;

	put16(at(s, avail + 2), idx);
	for (i = 0; i < idx; i++)
		put16(at(s, avail + 4 + 2 * (i % qsize)), heads[i]);
}

static void seed_write(const char *dir, const char *name, struct seed *s)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(s->buf, 1, s->len, f) != s->len) {
		perror(path);
		exit(1);
	}
	fclose(f);
}

static void write_seeds(const char *dir)
{
	static struct seed s;
	static const uint16_t heads[] = { 0, 2, 5, 6, 7, 8, 9, 10 };
	unsigned int i;

	/* One request: 2 readable buffers in A, 1 writable in B. */
	seed_init(&s, 16, 0);
	seed_desc(&s, A_BASE, 0, A_BASE + 0x1000, 64, 1, 1);
	seed_desc(&s, A_BASE, 1, A_BASE + 0x2000, 512, 1, 2);
	seed_desc(&s, A_BASE, 2, B_BASE + 0x100, 4096, 2, 0);
	seed_avail(&s, 16, 1, heads);
	seed_write(dir, "chain", &s);

	/* Indirect: one ring descriptor, a table of 3 in B. */
	seed_init(&s, 16, 2);
	seed_desc(&s, A_BASE, 0, B_BASE, 48, 4, 0);
	seed_desc(&s, B_BASE, 0, A_BASE + 0x1000, 16, 1, 1);
	seed_desc(&s, B_BASE, 1, A_BASE + 0x1100, 32, 1 | 2, 2);
	seed_desc(&s, B_BASE, 2, B_BASE + 0x1000, 0x800, 2, 0);
	seed_avail(&s, 16, 1, heads);
	seed_write(dir, "indirect", &s);

	/* Indirect, then an indirect table naming another (nested). */
	seed_init(&s, 16, 2);
	seed_desc(&s, A_BASE, 0, B_BASE, 32, 4, 0);
	seed_desc(&s, A_BASE, 1, B_BASE + 0x100, 16, 4, 0);
	seed_desc(&s, B_BASE, 0, A_BASE + 0x1000, 16, 1, 1);
	seed_desc(&s, B_BASE, 1, B_BASE + 0x100, 16, 4, 0);
	seed_desc(&s, B_BASE + 0x100, 0, A_BASE + 0x1000, 16, 2, 0);
	seed_avail(&s, 16, 2, (const uint16_t[]){ 1, 0 });
	seed_write(dir, "indirect_nested", &s);

	/* EVENT_IDX, several requests, mixed operations. */
	seed_init(&s, 16, 1 | 2);
	for (i = 0; i < 16; i++)
		seed_desc(&s, A_BASE, i, A_BASE + 0x4000 + 0x100 * i, 0x100,
			  i % 3 == 0 ? 1 : (i % 3 == 1 ? 2 : 0),
			  (uint16_t)(i + 1));
	seed_avail(&s, 16, 8, heads);
	put16(at(&s, A_BASE + 0x100 + 4 + 32), 3); /* used_event */
	{
		static const uint8_t ops[] = { 0, 0, 3,	 0, 2, 1, 3, 4,
					       0, 0, 12, 6, 3, 7, 6 };

		memcpy(s.buf + HDR_SIZE, ops, sizeof(ops));
		memset(s.buf + HDR_SIZE + sizeof(ops), 3,
		       OPS_SIZE - sizeof(ops));
	}
	seed_write(dir, "event_idx", &s);

	/* A larger queue, zero-length descriptors, a poke of avail idx. */
	seed_init(&s, 64, 0);
	seed_desc(&s, A_BASE, 0, 0, 0, 1, 1);
	seed_desc(&s, A_BASE, 1, A_BASE + 0x8000, 0x80, 1, 2);
	seed_desc(&s, A_BASE, 2, 0, 0, 2 | 1, 3);
	seed_desc(&s, A_BASE, 3, B_BASE + 0x8000, 0x80, 2, 0);
	seed_avail(&s, 64, 1, heads);
	{
		/* poke avail->idx (A + 0x400 + 2) to 2, then drain. */
		static const uint8_t ops[] = { 0, 5, 0x02, 0x04, 2, 6, 1 };

		memcpy(s.buf + HDR_SIZE, ops, sizeof(ops));
	}
	seed_write(dir, "zero_len", &s);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const struct gm_range ram[] = {
		{ .gpa = A_BASE, .size = REGION_SIZE },
		{ .gpa = B_BASE, .size = REGION_SIZE },
		{ .gpa = T_BASE, .size = REGION_SIZE },
	};
	const char *dir = getenv("MICA_FUZZ_VIRTQUEUE_SEEDS");

	(void)argc;
	(void)argv;
	if (dir) {
		write_seeds(dir);
		exit(0);
	}
	/* The guest is meant to misbehave here: keep stderr for crashes. */
	log_threshold = LOG_ERROR;
	if (gm_alloc(&gm, ram, sizeof(ram) / sizeof(ram[0])) != 0) {
		fprintf(stderr, "fuzz_virtqueue: cannot map guest memory\n");
		exit(1);
	}
	return 0;
}
