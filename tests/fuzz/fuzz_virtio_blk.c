// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: virtio-blk requests (virtio/blk.c's parser) and the
 * block backend that runs what the parser accepts.
 *
 * Input: byte 0 chooses the disk (bit 0 read-only, bit 1 DISCARD and bit 2
 * WRITE_ZEROES negotiated, bit 3 4 KiB blocks), byte 1 the number of
 * device-readable segments (mod 5), byte 2 of device-writable ones (mod 5),
 * then one little-endian 16-bit length per segment (mod 4097), then the
 * bytes of the readable segments (header, data, discard segments), short
 * input padded with zeroes. Each segment is its own heap allocation, so
 * ASan sees any access outside one.
 *
 * Checked beyond "no crash": the parser's answer is consistent (a chain
 * without a writable byte is the only one refused outright; an accepted
 * request lies inside the disk, block-aligned, its data iovecs inside the
 * guest's segments and adding up to its length), and the backend, run
 * synchronously on a 64 KiB scratch image, never refuses what the parser
 * accepted (so nothing the parser lets through is out of range, and a
 * write never reaches a read-only image).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/block.h"
#include "util/log.h"
#include "virtio/blk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define IMG_SIZE (64u << 10)
#define MAX_SEGS 4
#define MAX_SEG_LEN 4096

static struct block *disks[2]; /* read-write, read-only */

#define BUG() __builtin_trap()

static struct block *open_scratch(bool ro)
{
	char path[] = "/tmp/mica-fuzz-blk-XXXXXX";
	struct block_opts o = {
		.path = path,
		.readonly = ro,
		.cache = DISK_CACHE_UNSAFE,
		.nr_queues = 1,
		.depth = 4,
		.force_sync = true,
	};
	struct block *b = NULL;
	char err[256];
	int fd = mkstemp(path);

	if (fd < 0 || ftruncate(fd, IMG_SIZE))
		abort();
	close(fd);
	if (block_open(&b, &o, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	unlink(path);
	return b;
}

static void done(struct block_req *req, int result)
{
	(void)result;
	*(int *)req->opaque = 1;
}

static bool inside(const struct iovec *v, const struct virtq_elem *e)
{
	unsigned int i;

	for (i = 0; i < e->nr_out + e->nr_in; i++) {
		const uint8_t *b = e->iov[i].iov_base;

		if ((const uint8_t *)v->iov_base >= b &&
		    v->iov_len <= e->iov[i].iov_len &&
		    (const uint8_t *)v->iov_base - b <=
			    (ptrdiff_t)(e->iov[i].iov_len - v->iov_len))
			return true;
	}
	return false;
}

static void run(struct block *b, const struct virtio_blk_limits *lim,
		const struct virtq_elem *e, struct iovec *iov,
		const struct virtio_blk_parsed *p)
{
	struct block_req req = { 0 };
	uint64_t total = 0;
	unsigned int i;
	int finished = 0, r;

	switch (p->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		if (p->offset % lim->blk_size || p->len % lim->blk_size ||
		    p->offset > lim->capacity * 512 ||
		    p->len > lim->capacity * 512 - p->offset)
			BUG();
		if (p->nr_iov > e->nr_out + e->nr_in)
			BUG();
		for (i = 0; i < p->nr_iov; i++) {
			if (!inside(&iov[i], e))
				BUG();
			total += iov[i].iov_len;
		}
		if (total != p->len)
			BUG();
		req.op = p->type == VIRTIO_BLK_T_IN ? BLOCK_READ : BLOCK_WRITE;
		req.offset = p->offset;
		req.iov = iov;
		req.iovcnt = p->nr_iov;
		break;
	case VIRTIO_BLK_T_FLUSH:
		req.op = BLOCK_FLUSH;
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (!p->nr_ranges || p->nr_ranges > VIRTIO_BLK_MAX_RANGES)
			BUG();
		for (i = 0; i < p->nr_ranges; i++)
			if (p->ranges[i].offset > lim->capacity * 512 ||
			    p->ranges[i].len >
				    lim->capacity * 512 - p->ranges[i].offset)
				BUG();
		req.op = p->type == VIRTIO_BLK_T_DISCARD ? BLOCK_DISCARD :
							   BLOCK_WRITE_ZEROES;
		req.ranges = p->ranges;
		req.nr_ranges = p->nr_ranges;
		break;
	case VIRTIO_BLK_T_GET_ID:
		if (p->len > VIRTIO_BLK_ID_BYTES || p->len > e->in_len - 1)
			BUG();
		return;
	default:
		BUG(); /* an unknown type was accepted */
	}
	if (lim->readonly && req.op != BLOCK_READ && req.op != BLOCK_FLUSH)
		BUG();
	req.done = done;
	req.opaque = &finished;
	r = block_submit(b, 0, &req);
	if (r)
		BUG(); /* the backend refused what the parser accepted */
	for (i = 0; i < 4 && !finished; i++)
		block_poll(b);
	if (!finished)
		BUG();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_blk_limits lim;
	struct virtio_blk_parsed p;
	struct virtq_elem *e;
	struct iovec iov[2 * MAX_SEGS];
	unsigned int nr_out, nr_in, i, n;
	size_t pos = 3;
	struct block *b;
	int r;

	if (!disks[0]) {
		log_threshold = LOG_ERROR; /* guest warnings are expected */
		disks[0] = open_scratch(false);
		disks[1] = open_scratch(true);
	}
	if (size < 3)
		return 0;
	b = disks[data[0] & 1];
	lim = (struct virtio_blk_limits){
		.capacity = block_size(b) / 512,
		.blk_size = data[0] & 8 ? 4096 : 512,
		.readonly = data[0] & 1,
		.features =
			(data[0] & 2 ? 1ull << VIRTIO_BLK_F_DISCARD : 0) |
			(data[0] & 4 ? 1ull << VIRTIO_BLK_F_WRITE_ZEROES : 0),
	};
	nr_out = data[1] % (MAX_SEGS + 1);
	nr_in = data[2] % (MAX_SEGS + 1);
	n = nr_out + nr_in;
	e = calloc(1, sizeof(*e) + n * sizeof(e->iov[0]));
	if (!e)
		abort();
	for (i = 0; i < n; i++) {
		size_t len = 0;
		uint8_t *seg;

		if (pos + 2 <= size)
			len = (data[pos] | (size_t)data[pos + 1] << 8) %
			      (MAX_SEG_LEN + 1);
		pos += 2;
		seg = malloc(len ? len : 1);
		if (!seg)
			abort();
		memset(seg, 0, len);
		e->iov[i] = (struct iovec){ .iov_base = seg, .iov_len = len };
		if (i < nr_out)
			e->out_len += len;
		else
			e->in_len += len;
	}
	e->nr_out = nr_out;
	e->nr_in = nr_in;
	for (i = 0; i < nr_out && pos < size; i++) {
		size_t take = e->iov[i].iov_len;

		if (take > size - pos)
			take = size - pos;
		memcpy(e->iov[i].iov_base, data + pos, take);
		pos += take;
	}

	r = virtio_blk_parse(&lim, e, iov, &p);
	if (r) {
		if (r != -EINVAL || e->in_len != 0)
			BUG();
	} else if (p.status == VIRTIO_BLK_S_OK) {
		/* The backend checks against the image, not lim.blk_size. */
		run(b, &lim, e, iov, &p);
	} else if (p.status != VIRTIO_BLK_S_IOERR &&
		   p.status != VIRTIO_BLK_S_UNSUPP) {
		BUG();
	}
	for (i = 0; i < n; i++)
		free(e->iov[i].iov_base);
	free(e);
	return 0;
}
