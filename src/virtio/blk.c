// SPDX-License-Identifier: MIT
/*
 * virtio-blk (virtio 1.x, section 5.2) over the modern PCI transport: one
 * device per --disk, with 1..16 request queues, serving a raw image through
 * the asynchronous block backend (backends/block.c).
 *
 * Offered: SIZE_MAX, SEG_MAX, BLK_SIZE, FLUSH, MQ (with queues > 1), RO
 * (readonly=on), DISCARD and WRITE_ZEROES (read-write disks), and the
 * transport features INDIRECT_DESC and EVENT_IDX. Requests: IN, OUT, FLUSH,
 * GET_ID, DISCARD, WRITE_ZEROES; any other type is UNSUPP.
 *
 * Guest-controlled: everything in a request (the header, the layout of the
 * chain, the data, the discard/write-zeroes segments) and the order and
 * number of requests. The header and the segments are copied out of guest
 * memory once, then checked: the header must be in the device-readable
 * part, the status byte is the last device-writable byte, data lengths are
 * whole blocks, sector ranges lie inside the disk (overflow-safe), data
 * goes the right way, segment counts and sizes stay within what the config
 * space announces, and a read-only disk refuses every write (IOERR) before
 * the backend sees it (which refuses it again). A request that breaks a rule
 * fails with IOERR, or UNSUPP for what the spec says is unsupported; a
 * chain without a status byte cannot be answered, so the device asks for a
 * reset. The data itself goes between the guest's buffers and the image,
 * never interpreted.
 *
 * Threads: everything but config_read() runs on the device's I/O thread
 * (queue notifications, backend completions through the backend's eventfd,
 * activate, reset), so the request state needs no lock; config_read() reads
 * bytes fixed at realize. At most queue-size requests per queue are in
 * flight: past that the device stops taking requests from the ring until
 * one completes, so a guest cannot make it allocate without bound. reset()
 * waits for every request in flight (block_drain) and drops their answers,
 * so no I/O touches guest memory once reset() has returned.
 */
#include "virtio/blk.h"

#include <endian.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>

#include "config/config.h"
#include "util/log.h"
#include "virtio/virtio.h"

#define PCI_CLASS_STORAGE_OTHER 0x018000

struct blk_dev;

struct blk_vq {
	struct blk_dev *dev;
	unsigned int index;
	unsigned int inflight;
	bool stalled; /* stopped taking requests at the depth limit */
	bool pushed; /* used elements not yet signalled */
};

struct blk_dev {
	char name[24];
	const struct disk_config *disk;
	struct virtio_device_ops ops;
	struct virtio_device *vdev;
	struct block *blk;
	struct virtio_blk_limits lim;
	uint8_t config[VIRTIO_BLK_CFG_SIZE];
	char id[VIRTIO_BLK_ID_BYTES];
	bool active; /* between activate() and reset() */
	unsigned int nr_queues;
	struct blk_vq vqs[CONFIG_MAX_DISK_QUEUES];
	/* Written by the I/O thread alone; see count(). */
	_Atomic uint64_t read_bytes, write_bytes, read_ops, write_ops, flushes;
};

struct blk_req {
	struct blk_vq *vq;
	struct virtq_elem *elem;
	uint32_t type;
	uint64_t len;
	struct block_req breq;
	struct block_range ranges[VIRTIO_BLK_MAX_RANGES];
	struct iovec iov[]; /* data segments */
};

struct virtio_blk_state {
	struct blk_dev *devs[CONFIG_MAX_DISKS];
	unsigned int nr;
};

/* ---- the request parser ---- */

struct blk_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct blk_seg {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

static void refuse(struct virtio_blk_parsed *p, uint8_t status, const char *why)
{
	p->status = status;
	log_guest("virtio-blk: request type %u: %s", p->type, why);
}

/*
 * Copies the part [skip, skip + len) of the segments src[0..n) to dst,
 * leaving out empty pieces. Returns the number of entries.
 */
static unsigned int slice_iov(const struct iovec *src, unsigned int n,
			      uint64_t skip, uint64_t len, struct iovec *dst)
{
	unsigned int i, out = 0;

	for (i = 0; i < n && len; i++) {
		uint64_t seg = src[i].iov_len, take;

		if (skip >= seg) {
			skip -= seg;
			continue;
		}
		take = seg - skip < len ? seg - skip : len;
		dst[out++] = (struct iovec){
			.iov_base = (uint8_t *)src[i].iov_base + skip,
			.iov_len = take,
		};
		len -= take;
		skip = 0;
	}
	return out;
}

static bool check_rw(const struct virtio_blk_limits *lim,
		     struct virtio_blk_parsed *p, uint64_t sector,
		     const struct iovec *iov)
{
	unsigned int i;

	if (p->len % lim->blk_size) {
		refuse(p, VIRTIO_BLK_S_IOERR,
		       "data length is not a whole number of blocks");
		return false;
	}
	if (sector > lim->capacity ||
	    p->len / BLOCK_SECTOR > lim->capacity - sector) {
		refuse(p, VIRTIO_BLK_S_IOERR, "sectors beyond the disk's end");
		return false;
	}
	if ((sector * BLOCK_SECTOR) % lim->blk_size) {
		refuse(p, VIRTIO_BLK_S_IOERR, "sector not block-aligned");
		return false;
	}
	if (p->nr_iov > VIRTIO_BLK_SEG_MAX) {
		refuse(p, VIRTIO_BLK_S_IOERR, "more segments than seg_max");
		return false;
	}
	for (i = 0; i < p->nr_iov; i++) {
		if (iov[i].iov_len > VIRTIO_BLK_SIZE_MAX) {
			refuse(p, VIRTIO_BLK_S_IOERR,
			       "a segment larger than size_max");
			return false;
		}
	}
	p->offset = sector * BLOCK_SECTOR;
	return true;
}

static bool parse_ranges(const struct virtio_blk_limits *lim,
			 const struct virtq_elem *elem,
			 struct virtio_blk_parsed *p)
{
	uint64_t bytes = elem->out_len - VIRTIO_BLK_HDR_SIZE, n, i;
	uint32_t sectors_per_block = lim->blk_size / BLOCK_SECTOR;
	struct blk_seg seg;

	n = bytes / VIRTIO_BLK_SEG_SIZE;
	if (bytes % VIRTIO_BLK_SEG_SIZE || n == 0 ||
	    n > VIRTIO_BLK_MAX_RANGES) {
		refuse(p, VIRTIO_BLK_S_IOERR, "bad number of segments");
		return false;
	}
	for (i = 0; i < n; i++) {
		uint64_t sector, count;
		uint32_t flags;

		virtq_copy_from(elem, VIRTIO_BLK_HDR_SIZE + i * sizeof(seg),
				&seg, sizeof(seg));
		sector = le64toh(seg.sector);
		count = le32toh(seg.num_sectors);
		flags = le32toh(seg.flags);
		if (flags & ~VIRTIO_BLK_WZ_FLAG_UNMAP ||
		    (p->type == VIRTIO_BLK_T_DISCARD &&
		     (flags & VIRTIO_BLK_WZ_FLAG_UNMAP))) {
			/* 5.2.6.2: unknown flags, or unmap on a discard. */
			refuse(p, VIRTIO_BLK_S_UNSUPP, "unsupported flags");
			return false;
		}
		if (count > VIRTIO_BLK_MAX_RANGE_SECTORS) {
			refuse(p, VIRTIO_BLK_S_IOERR,
			       "more sectors than the maximum");
			return false;
		}
		if (sector > lim->capacity || count > lim->capacity - sector) {
			refuse(p, VIRTIO_BLK_S_IOERR,
			       "sectors beyond the disk's end");
			return false;
		}
		if (sector % sectors_per_block || count % sectors_per_block) {
			refuse(p, VIRTIO_BLK_S_IOERR,
			       "range not block-aligned");
			return false;
		}
		p->ranges[i] = (struct block_range){
			.offset = sector * BLOCK_SECTOR,
			.len = count * BLOCK_SECTOR,
			.unmap = flags & VIRTIO_BLK_WZ_FLAG_UNMAP,
		};
	}
	p->nr_ranges = (unsigned int)n;
	return true;
}

int virtio_blk_parse(const struct virtio_blk_limits *lim,
		     const struct virtq_elem *elem, struct iovec *iov,
		     struct virtio_blk_parsed *p)
{
	uint64_t data_in, data_out, sector;
	struct blk_hdr hdr;

	memset(p, 0, sizeof(*p));
	if (elem->in_len == 0)
		return -EINVAL;
	p->status = VIRTIO_BLK_S_IOERR;
	if (elem->out_len < VIRTIO_BLK_HDR_SIZE) {
		log_guest("virtio-blk: request without a full header");
		return 0;
	}
	virtq_copy_from(elem, 0, &hdr, sizeof(hdr));
	p->type = le32toh(hdr.type);
	sector = le64toh(hdr.sector);
	data_in = elem->in_len - 1;
	data_out = elem->out_len - VIRTIO_BLK_HDR_SIZE;
	p->status = VIRTIO_BLK_S_OK;

	switch (p->type) {
	case VIRTIO_BLK_T_IN:
		if (data_out) {
			refuse(p, VIRTIO_BLK_S_IOERR,
			       "read with data to write");
			break;
		}
		p->len = data_in;
		p->nr_iov = slice_iov(elem->iov + elem->nr_out, elem->nr_in, 0,
				      data_in, iov);
		check_rw(lim, p, sector, iov);
		break;
	case VIRTIO_BLK_T_OUT:
		if (lim->readonly) {
			refuse(p, VIRTIO_BLK_S_IOERR,
			       "write to a read-only disk");
			break;
		}
		if (data_in) {
			refuse(p, VIRTIO_BLK_S_IOERR,
			       "write with room for data");
			break;
		}
		p->len = data_out;
		p->nr_iov = slice_iov(elem->iov, elem->nr_out,
				      VIRTIO_BLK_HDR_SIZE, data_out, iov);
		check_rw(lim, p, sector, iov);
		break;
	case VIRTIO_BLK_T_FLUSH:
		if (data_in || data_out)
			refuse(p, VIRTIO_BLK_S_IOERR, "flush with data");
		break;
	case VIRTIO_BLK_T_GET_ID:
		if (data_out || !data_in)
			refuse(p, VIRTIO_BLK_S_IOERR, "bad buffer for the ID");
		p->len = data_in < VIRTIO_BLK_ID_BYTES ? data_in :
							 VIRTIO_BLK_ID_BYTES;
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		/* Writes: IOERR on a read-only disk, which does not offer them. */
		if (lim->readonly) {
			refuse(p, VIRTIO_BLK_S_IOERR,
			       "write to a read-only disk");
			break;
		}
		if (!(lim->features &
		      (1ull << (p->type == VIRTIO_BLK_T_DISCARD ?
					VIRTIO_BLK_F_DISCARD :
					VIRTIO_BLK_F_WRITE_ZEROES)))) {
			refuse(p, VIRTIO_BLK_S_UNSUPP,
			       "feature not negotiated");
			break;
		}
		if (data_in) {
			refuse(p, VIRTIO_BLK_S_IOERR, "room for data");
			break;
		}
		parse_ranges(lim, elem, p);
		break;
	default:
		refuse(p, VIRTIO_BLK_S_UNSUPP, "unknown type");
		break;
	}
	return 0;
}

/* ---- requests ---- */

static void complete(struct blk_vq *vq, struct virtq_elem *elem, uint8_t status,
		     uint32_t written)
{
	struct virtq *q = virtio_queue(vq->dev->vdev, vq->index);

	virtq_copy_to(elem, elem->in_len - 1, &status, 1);
	virtq_push(q, elem, written);
	vq->pushed = true;
}

static void log_io_error(struct blk_dev *dev, const struct blk_req *req,
			 int result)
{
	static struct log_ratelimit rl;
	const char *what;

	switch (req->type) {
	case VIRTIO_BLK_T_IN:
		what = "read";
		break;
	case VIRTIO_BLK_T_OUT:
		what = "write";
		break;
	case VIRTIO_BLK_T_FLUSH:
		what = "flush";
		break;
	case VIRTIO_BLK_T_DISCARD:
		what = "discard";
		break;
	default:
		what = "write-zeroes";
		break;
	}
	if (log_ratelimit_ok(&rl))
		log_warn("%s: disk '%s': %s failed: %s", dev->name,
			 dev->disk->path, what, strerror(-result));
}

/* One writer (the I/O thread): a relaxed load and store, no locked add. */
static void count(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c,
			      atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

static void count_done(struct blk_dev *dev, const struct blk_req *req)
{
	switch (req->type) {
	case VIRTIO_BLK_T_IN:
		count(&dev->read_ops, 1);
		count(&dev->read_bytes, req->len);
		break;
	case VIRTIO_BLK_T_OUT:
		count(&dev->write_ops, 1);
		count(&dev->write_bytes, req->len);
		break;
	case VIRTIO_BLK_T_FLUSH:
		count(&dev->flushes, 1);
		break;
	default:
		break;
	}
}

static void req_done(struct block_req *breq, int result)
{
	struct blk_req *req = breq->opaque;
	struct blk_vq *vq = req->vq;
	struct blk_dev *dev = vq->dev;
	uint32_t written = 1;

	vq->inflight--;
	if (!dev->active) {
		/* Reset: the driver forgot this request; so do we. */
		virtq_elem_free(req->elem);
		free(req);
		return;
	}
	if (result)
		log_io_error(dev, req, result);
	else
		count_done(dev, req);
	if (!result && req->type == VIRTIO_BLK_T_IN)
		written = (uint32_t)req->len + 1; /* <= 256 MiB + 1 */
	complete(vq, req->elem, result ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK,
		 written);
	free(req);
}

static void handle(struct blk_vq *vq, struct virtq_elem *elem)
{
	struct blk_dev *dev = vq->dev;
	struct virtio_blk_parsed p;
	struct blk_req *req;
	int r;

	req = malloc(sizeof(*req) +
		     (elem->nr_out + elem->nr_in) * sizeof(struct iovec));
	if (!req) {
		if (elem->in_len)
			complete(vq, elem, VIRTIO_BLK_S_IOERR, 1);
		else
			virtq_push(virtio_queue(dev->vdev, vq->index), elem, 0);
		vq->pushed = true;
		return;
	}
	if (virtio_blk_parse(&dev->lim, elem, req->iov, &p)) {
		free(req);
		virtq_push(virtio_queue(dev->vdev, vq->index), elem, 0);
		vq->pushed = true;
		virtio_set_needs_reset(dev->vdev,
				       "a request without a status byte");
		return;
	}
	if (p.status != VIRTIO_BLK_S_OK) {
		free(req);
		complete(vq, elem, p.status, 1);
		return;
	}
	if (p.type == VIRTIO_BLK_T_GET_ID) {
		free(req);
		virtq_copy_to(elem, 0, dev->id, p.len);
		complete(vq, elem, VIRTIO_BLK_S_OK, (uint32_t)p.len + 1);
		return;
	}

	req->vq = vq;
	req->elem = elem;
	req->type = p.type;
	req->len = p.len;
	req->breq = (struct block_req){
		.offset = p.offset,
		.iov = req->iov,
		.iovcnt = p.nr_iov,
		.ranges = req->ranges,
		.nr_ranges = p.nr_ranges,
		.done = req_done,
		.opaque = req,
	};
	memcpy(req->ranges, p.ranges, p.nr_ranges * sizeof(p.ranges[0]));
	switch (p.type) {
	case VIRTIO_BLK_T_IN:
		req->breq.op = BLOCK_READ;
		break;
	case VIRTIO_BLK_T_OUT:
		req->breq.op = BLOCK_WRITE;
		break;
	case VIRTIO_BLK_T_FLUSH:
		req->breq.op = BLOCK_FLUSH;
		break;
	case VIRTIO_BLK_T_DISCARD:
		req->breq.op = BLOCK_DISCARD;
		break;
	default:
		req->breq.op = BLOCK_WRITE_ZEROES;
		break;
	}
	r = block_submit(dev->blk, vq->index, &req->breq);
	if (r) {
		/* The parser let through what the backend refuses: a bug. */
		log_warn("%s: backend refused a checked request: %s", dev->name,
			 strerror(-r));
		free(req);
		complete(vq, elem, VIRTIO_BLK_S_IOERR, 1);
		return;
	}
	vq->inflight++;
}

/* Takes requests from queue q until it is empty or the depth is reached. */
static void process(struct blk_vq *vq)
{
	struct blk_dev *dev = vq->dev;
	struct virtq *q = virtio_queue(dev->vdev, vq->index);
	struct virtq_elem *elem;
	int r;

	vq->stalled = false;
	while (dev->active) {
		if (vq->inflight >= VIRTIO_BLK_QUEUE_SIZE) {
			vq->stalled = true;
			break;
		}
		r = virtq_pop(q, &elem);
		if (r == 0)
			break;
		if (r < 0) {
			if (r == -EIO)
				virtio_set_needs_reset(dev->vdev,
						       "a virtqueue is broken");
			else
				log_warn("%s: queue %u: %s", dev->name,
					 vq->index, strerror(-r));
			break;
		}
		handle(vq, elem);
	}
	block_kick(dev->blk, vq->index);
}

static void signal_used(struct blk_dev *dev)
{
	unsigned int i;

	for (i = 0; i < dev->nr_queues; i++) {
		if (dev->vqs[i].pushed) {
			dev->vqs[i].pushed = false;
			virtio_notify(dev->vdev, i);
		}
	}
}

/* The backend's eventfd: requests finished. On the I/O thread. */
static void on_io(void *opaque, uint32_t events)
{
	struct blk_dev *dev = opaque;
	unsigned int i;

	(void)events;
	block_poll(dev->blk);
	for (i = 0; i < dev->nr_queues; i++)
		if (dev->active && dev->vqs[i].stalled)
			process(&dev->vqs[i]);
	signal_used(dev);
}

/* ---- transport callbacks ---- */

static void blk_config_read(void *opaque, uint32_t off, void *buf, uint32_t len)
{
	struct blk_dev *dev = opaque;

	/* The transport checked [off, off + len) against config_size. */
	memcpy(buf, dev->config + off, len);
}

static int blk_activate(void *opaque, uint64_t features)
{
	struct blk_dev *dev = opaque;
	unsigned int i;

	dev->lim.features = features;
	dev->active = true;
	/* A driver may have queued requests before DRIVER_OK. */
	for (i = 0; i < dev->nr_queues; i++)
		if (virtio_queue_enabled(dev->vdev, i))
			process(&dev->vqs[i]);
	signal_used(dev);
	return 0;
}

static void blk_queue_notify(void *opaque, unsigned int q)
{
	struct blk_dev *dev = opaque;

	if (q >= dev->nr_queues)
		return;
	process(&dev->vqs[q]);
	signal_used(dev);
}

static void blk_reset(void *opaque)
{
	struct blk_dev *dev = opaque;
	unsigned int i;

	dev->active = false;
	block_drain(dev->blk); /* req_done() drops what completes */
	block_clear_flush_error(dev->blk);
	dev->lim.features = 0;
	for (i = 0; i < dev->nr_queues; i++) {
		dev->vqs[i].inflight = 0;
		dev->vqs[i].stalled = false;
		dev->vqs[i].pushed = false;
	}
}

/* ---- realize ---- */

static void put_le16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, sizeof(v));
}

static void put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

static void fill_config(struct blk_dev *dev)
{
	uint8_t *c = dev->config;
	uint32_t align_sectors = block_io_size(dev->blk) / BLOCK_SECTOR;

	if (dev->lim.blk_size / BLOCK_SECTOR > align_sectors)
		align_sectors = dev->lim.blk_size / BLOCK_SECTOR;
	memset(c, 0, sizeof(dev->config));
	put_le64(c + VIRTIO_BLK_CFG_CAPACITY, dev->lim.capacity);
	put_le32(c + VIRTIO_BLK_CFG_SIZE_MAX, VIRTIO_BLK_SIZE_MAX);
	put_le32(c + VIRTIO_BLK_CFG_SEG_MAX, VIRTIO_BLK_SEG_MAX);
	put_le32(c + VIRTIO_BLK_CFG_BLK_SIZE, dev->lim.blk_size);
	put_le16(c + VIRTIO_BLK_CFG_NUM_QUEUES, (uint16_t)dev->nr_queues);
	if (!dev->lim.readonly) {
		put_le32(c + VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS,
			 VIRTIO_BLK_MAX_RANGE_SECTORS);
		put_le32(c + VIRTIO_BLK_CFG_MAX_DISCARD_SEG,
			 VIRTIO_BLK_MAX_RANGES);
		put_le32(c + VIRTIO_BLK_CFG_DISCARD_ALIGN, align_sectors);
		put_le32(c + VIRTIO_BLK_CFG_MAX_WZ_SECTORS,
			 VIRTIO_BLK_MAX_RANGE_SECTORS);
		put_le32(c + VIRTIO_BLK_CFG_MAX_WZ_SEG, VIRTIO_BLK_MAX_RANGES);
		c[VIRTIO_BLK_CFG_WZ_MAY_UNMAP] = 1;
	}
}

static void blk_destroy(struct blk_dev *dev)
{
	if (!dev)
		return;
	virtio_pci_destroy(dev->vdev); /* calls reset(): nothing in flight */
	block_close(dev->blk);
	free(dev);
}

static int blk_create(struct blk_dev **out, const struct device_host *host,
		      const struct disk_config *disk, unsigned int index,
		      char *err, size_t errlen)
{
	struct block_opts bo = {
		.path = disk->path,
		.readonly = disk->readonly,
		.cache = disk->cache,
		.nr_queues = disk->queues ? disk->queues : 1,
		.depth = VIRTIO_BLK_QUEUE_SIZE,
	};
	struct blk_dev *dev;
	uint64_t features;
	unsigned int i;
	int r;

	*out = NULL;
	if (bo.nr_queues > CONFIG_MAX_DISK_QUEUES) {
		snprintf(err, errlen, "disk '%s': too many queues (%u)",
			 disk->path, bo.nr_queues);
		return -EINVAL;
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev) {
		snprintf(err, errlen, "virtio-blk: out of memory");
		return -ENOMEM;
	}
	snprintf(dev->name, sizeof(dev->name), "virtio-blk%u", index);
	dev->disk = disk;
	dev->nr_queues = bo.nr_queues;
	r = block_open(&dev->blk, &bo, err, errlen);
	if (r) {
		free(dev);
		return r;
	}
	for (i = 0; i < dev->nr_queues; i++)
		dev->vqs[i] = (struct blk_vq){ .dev = dev, .index = i };
	dev->lim = (struct virtio_blk_limits){
		.capacity = block_size(dev->blk) / BLOCK_SECTOR,
		.blk_size = block_align(dev->blk),
		.readonly = disk->readonly,
	};
	/* A serial of exactly 20 bytes has no terminating NUL (5.2.6). */
	memcpy(dev->id, disk->serial, strnlen(disk->serial, sizeof(dev->id)));
	fill_config(dev);

	features = 1ull << VIRTIO_BLK_F_SIZE_MAX |
		   1ull << VIRTIO_BLK_F_SEG_MAX |
		   1ull << VIRTIO_BLK_F_BLK_SIZE | 1ull << VIRTIO_BLK_F_FLUSH |
		   1ull << VIRTIO_F_INDIRECT_DESC | 1ull << VIRTIO_F_EVENT_IDX;
	if (disk->readonly)
		features |= 1ull << VIRTIO_BLK_F_RO;
	else
		features |= 1ull << VIRTIO_BLK_F_DISCARD |
			    1ull << VIRTIO_BLK_F_WRITE_ZEROES;
	if (dev->nr_queues > 1)
		features |= 1ull << VIRTIO_BLK_F_MQ;
	dev->ops = (struct virtio_device_ops){
		.name = "virtio-blk",
		.device_id = VIRTIO_ID_BLOCK,
		.pci_class = PCI_CLASS_STORAGE_OTHER,
		.nr_queues = dev->nr_queues,
		.queue_max_size = VIRTIO_BLK_QUEUE_SIZE,
		.features = features,
		.config_size = VIRTIO_BLK_CFG_SIZE,
		.config_read = blk_config_read,
		.activate = blk_activate,
		.queue_notify = blk_queue_notify,
		.reset = blk_reset,
	};
	dev->vdev =
		virtio_pci_create(host, dev->name, &dev->ops, dev, err, errlen);
	if (!dev->vdev) {
		block_close(dev->blk);
		free(dev);
		return -ENODEV;
	}
	r = virtio_watch(dev->vdev, block_event_fd(dev->blk), EPOLLIN, on_io,
			 dev);
	if (r) {
		snprintf(err, errlen, "%s: watching disk I/O: %s", dev->name,
			 strerror(-r));
		blk_destroy(dev);
		return r;
	}
	*out = dev;
	return 0;
}

/*
 * Two disks of one VM on one image: the image lock would refuse the second
 * with a message about another process; say what is really wrong.
 */
static int check_shared(const struct vm_config *cfg, unsigned int i, char *err,
			size_t errlen)
{
	const struct disk_config *d = &cfg->disks[i];
	struct stat a, b;
	unsigned int j;

	if (stat(d->path, &a))
		return 0; /* block_open() explains */
	for (j = 0; j < i; j++) {
		const struct disk_config *e = &cfg->disks[j];

		if (stat(e->path, &b) || a.st_dev != b.st_dev ||
		    a.st_ino != b.st_ino || (d->readonly && e->readonly))
			continue;
		snprintf(err, errlen,
			 "disks %u and %u are the same image ('%s'); two disks "
			 "may share an image only if both are readonly=on",
			 j, i, d->path);
		return -EBUSY;
	}
	return 0;
}

static void virtio_blk_unrealize(void *state)
{
	struct virtio_blk_state *s = state;

	while (s->nr)
		blk_destroy(s->devs[--s->nr]);
}

static int virtio_blk_realize(void *state, const struct device_host *host)
{
	struct virtio_blk_state *s = state;
	const struct vm_config *cfg = host->cfg;
	char err[512];
	unsigned int i;
	int r;

	if (!cfg)
		return 0;
	for (i = 0; i < cfg->nr_disks && i < CONFIG_MAX_DISKS; i++) {
		err[0] = 0;
		r = check_shared(cfg, i, err, sizeof(err));
		if (!r)
			r = blk_create(&s->devs[i], host, &cfg->disks[i], i,
				       err, sizeof(err));
		if (r) {
			virtio_blk_unrealize(s);
			return device_fail(host, r, "%s", err);
		}
		s->nr++;
	}
	return 0;
}

int virtio_blk_get_stats(void *state, unsigned int i, const char **name,
			 struct virtio_blk_stats *out)
{
	const struct virtio_blk_state *s = state;
	const struct blk_dev *dev;

	if (i >= s->nr)
		return -ENOENT;
	dev = s->devs[i];
	*name = dev->name;
	*out = (struct virtio_blk_stats){
		.read_bytes = atomic_load_explicit(&dev->read_bytes,
						   memory_order_relaxed),
		.write_bytes = atomic_load_explicit(&dev->write_bytes,
						    memory_order_relaxed),
		.read_ops = atomic_load_explicit(&dev->read_ops,
						 memory_order_relaxed),
		.write_ops = atomic_load_explicit(&dev->write_ops,
						  memory_order_relaxed),
		.flushes = atomic_load_explicit(&dev->flushes,
						memory_order_relaxed),
	};
	return 0;
}

const struct device_type virtio_blk_type = {
	.name = "virtio-blk",
	.state_size = sizeof(struct virtio_blk_state),
	.realize = virtio_blk_realize,
	.unrealize = virtio_blk_unrealize,
};
