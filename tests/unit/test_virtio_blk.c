// SPDX-License-Identifier: MIT
/*
 * virtio-blk (virtio/blk.c): the request parser on hand-made elements, and
 * the whole device behind the PCI transport through the fake driver
 * (virtio_harness.h) against scratch images: configuration space, every
 * request type, read-only disks, malformed and hostile requests, several
 * queues, reset with requests in flight, and the image lock.
 */
#include "virtio/blk.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit/test.h"
#include "unit/virtio_harness.h"

#define IMG_SECTORS 256u
#define IMG_SIZE (IMG_SECTORS * 512u)

#define F(bit) (1ull << (bit))
#define ALL_FEATURES (~0ull)

/* ---- the parser alone ---- */

struct elem_buf {
	struct virtq_elem e;
	struct iovec iov[8];
};

static void put_hdr(uint8_t *p, uint32_t type, uint64_t sector)
{
	uint32_t t = htole32(type), r = 0;
	uint64_t s = htole64(sector);

	memcpy(p, &t, 4);
	memcpy(p + 4, &r, 4);
	memcpy(p + 8, &s, 8);
}

static void put_seg(uint8_t *p, uint64_t sector, uint32_t n, uint32_t flags)
{
	uint64_t s = htole64(sector);
	uint32_t c = htole32(n), f = htole32(flags);

	memcpy(p, &s, 8);
	memcpy(p + 8, &c, 4);
	memcpy(p + 12, &f, 4);
}

/* Builds an element from segment lengths over one backing buffer. */
static void mk_elem(struct elem_buf *eb, uint8_t *mem, const uint32_t *out,
		    unsigned int nr_out, const uint32_t *in, unsigned int nr_in)
{
	unsigned int i;

	memset(eb, 0, sizeof(*eb));
	for (i = 0; i < nr_out; i++) {
		eb->e.iov[i] =
			(struct iovec){ .iov_base = mem, .iov_len = out[i] };
		mem += out[i];
		eb->e.out_len += out[i];
	}
	for (i = 0; i < nr_in; i++) {
		eb->e.iov[nr_out + i] =
			(struct iovec){ .iov_base = mem, .iov_len = in[i] };
		mem += in[i];
		eb->e.in_len += in[i];
	}
	eb->e.nr_out = nr_out;
	eb->e.nr_in = nr_in;
}

static const struct virtio_blk_limits lim_rw = {
	.capacity = IMG_SECTORS,
	.blk_size = 512,
	.features = F(VIRTIO_BLK_F_DISCARD) | F(VIRTIO_BLK_F_WRITE_ZEROES),
};

static void parse_layouts(void)
{
	static uint8_t mem[8192];
	struct virtio_blk_parsed p;
	struct iovec iov[8];
	struct elem_buf eb;

	/* A read whose last segment holds data and the status byte. */
	put_hdr(mem, VIRTIO_BLK_T_IN, 4);
	mk_elem(&eb, mem, (uint32_t[]){ 16 }, 1, (uint32_t[]){ 512, 513 }, 2);
	CHECK_EQ(virtio_blk_parse(&lim_rw, &eb.e, iov, &p), 0);
	CHECK_EQ(p.status, VIRTIO_BLK_S_OK);
	CHECK_EQ(p.offset, 4 * 512);
	CHECK_EQ(p.len, 1024);
	CHECK_EQ(p.nr_iov, 2);
	CHECK_EQ(iov[1].iov_len, 512);
	CHECK(iov[0].iov_base == mem + 16);

	/* A write with the header split over two segments and data after. */
	put_hdr(mem, VIRTIO_BLK_T_OUT, 1);
	mk_elem(&eb, mem, (uint32_t[]){ 5, 11 + 512, 0, 512 }, 4,
		(uint32_t[]){ 1 }, 1);
	CHECK_EQ(virtio_blk_parse(&lim_rw, &eb.e, iov, &p), 0);
	CHECK_EQ(p.status, VIRTIO_BLK_S_OK);
	CHECK_EQ(p.len, 1024);
	CHECK_EQ(p.nr_iov, 2); /* the empty segment is left out */
	CHECK(iov[0].iov_base == mem + 16);

	/* No status byte at all: the device needs a reset. */
	mk_elem(&eb, mem, (uint32_t[]){ 16 }, 1, NULL, 0);
	CHECK_EQ(virtio_blk_parse(&lim_rw, &eb.e, iov, &p), -EINVAL);
	/* Only zero-length writable segments: the same. */
	mk_elem(&eb, mem, (uint32_t[]){ 16 }, 1, (uint32_t[]){ 0, 0 }, 2);
	CHECK_EQ(virtio_blk_parse(&lim_rw, &eb.e, iov, &p), -EINVAL);
	/* A short header: IOERR. */
	mk_elem(&eb, mem, (uint32_t[]){ 15 }, 1, (uint32_t[]){ 1 }, 1);
	CHECK_EQ(virtio_blk_parse(&lim_rw, &eb.e, iov, &p), 0);
	CHECK_EQ(p.status, VIRTIO_BLK_S_IOERR);
}

static uint8_t parse_status(const struct virtio_blk_limits *lim, uint32_t type,
			    uint64_t sector, uint32_t out_data,
			    uint32_t in_data)
{
	static uint8_t mem[1u << 20];
	struct virtio_blk_parsed p;
	struct iovec iov[8];
	struct elem_buf eb;

	put_hdr(mem, type, sector);
	mk_elem(&eb, mem, (uint32_t[]){ 16, out_data }, out_data ? 2 : 1,
		(uint32_t[]){ in_data + 1 }, 1);
	if (virtio_blk_parse(lim, &eb.e, iov, &p))
		return 0xff;
	return p.status;
}

static void parse_checks(void)
{
	struct virtio_blk_limits ro = lim_rw;
	struct virtio_blk_limits big = lim_rw;

	ro.readonly = true;
	CHECK_EQ(parse_status(&lim_rw, VIRTIO_BLK_T_IN, 0, 0, 512), 0);
	CHECK_EQ(parse_status(&lim_rw, VIRTIO_BLK_T_IN, IMG_SECTORS - 1, 0,
			      512),
		 0);
	/* Past the end, overflowing, partial sectors, wrong direction. */
	CHECK_EQ(parse_status(&lim_rw, VIRTIO_BLK_T_IN, IMG_SECTORS, 0, 512),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(parse_status(&lim_rw, VIRTIO_BLK_T_IN, IMG_SECTORS - 1, 0,
			      1024),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(parse_status(&lim_rw, VIRTIO_BLK_T_IN, UINT64_MAX, 0, 512),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(parse_status(&lim_rw, VIRTIO_BLK_T_IN, 0, 0, 100),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(parse_status(&lim_rw, VIRTIO_BLK_T_IN, 0, 512, 512),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(parse_status(&lim_rw, VIRTIO_BLK_T_OUT, 0, 512, 0), 0);
	CHECK_EQ(parse_status(&lim_rw, VIRTIO_BLK_T_OUT, 0, 511, 0),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(parse_status(&lim_rw, VIRTIO_BLK_T_OUT, 0, 512, 512),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(parse_status(&ro, VIRTIO_BLK_T_OUT, 0, 512, 0),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(parse_status(&lim_rw, VIRTIO_BLK_T_FLUSH, 12345, 0, 0), 0);
	CHECK_EQ(parse_status(&lim_rw, VIRTIO_BLK_T_FLUSH, 0, 0, 512),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(parse_status(&lim_rw, VIRTIO_BLK_T_GET_ID, 0, 0, 20), 0);
	CHECK_EQ(parse_status(&lim_rw, VIRTIO_BLK_T_GET_ID, 0, 0, 0),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(parse_status(&lim_rw, 2, 0, 0, 0), VIRTIO_BLK_S_UNSUPP);
	CHECK_EQ(parse_status(&lim_rw, 0xffffffffu, 0, 0, 0),
		 VIRTIO_BLK_S_UNSUPP);
	/* One segment over size_max. */
	big.capacity = 1u << 20;
	CHECK_EQ(parse_status(&big, VIRTIO_BLK_T_OUT, 0,
			      VIRTIO_BLK_SIZE_MAX + 512, 0),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(parse_status(&big, VIRTIO_BLK_T_OUT, 0, VIRTIO_BLK_SIZE_MAX,
			      0),
		 0);
	/* 4 KiB blocks: 512-byte granularity is refused. */
	big.blk_size = 4096;
	CHECK_EQ(parse_status(&big, VIRTIO_BLK_T_IN, 8, 0, 4096), 0);
	CHECK_EQ(parse_status(&big, VIRTIO_BLK_T_IN, 1, 0, 4096),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(parse_status(&big, VIRTIO_BLK_T_IN, 8, 0, 512),
		 VIRTIO_BLK_S_IOERR);
}

static uint8_t parse_ranges_status(const struct virtio_blk_limits *lim,
				   uint32_t type, const uint64_t *segs,
				   unsigned int n, struct virtio_blk_parsed *p)
{
	static uint8_t mem[16 + 16 * 64 + 1];
	struct iovec iov[8];
	struct elem_buf eb;
	unsigned int i;

	put_hdr(mem, type, 0);
	for (i = 0; i < n; i++)
		put_seg(mem + 16 + 16 * i, segs[3 * i],
			(uint32_t)segs[3 * i + 1], (uint32_t)segs[3 * i + 2]);
	mk_elem(&eb, mem, (uint32_t[]){ 16 + 16 * n }, 1, (uint32_t[]){ 1 }, 1);
	if (virtio_blk_parse(lim, &eb.e, iov, p))
		return 0xff;
	return p->status;
}

static void parse_discard(void)
{
	struct virtio_blk_limits lim = lim_rw, ro = lim_rw;
	struct virtio_blk_parsed p;
	uint64_t many[3 * 33];
	unsigned int i;

	ro.readonly = true;
	CHECK_EQ(parse_ranges_status(&lim, VIRTIO_BLK_T_DISCARD,
				     (uint64_t[]){ 8, 8, 0, 100, 4, 0 }, 2, &p),
		 0);
	CHECK_EQ(p.nr_ranges, 2);
	CHECK_EQ(p.ranges[1].offset, 100 * 512);
	CHECK_EQ(p.ranges[1].len, 4 * 512);
	CHECK(!p.ranges[0].unmap);
	/* Unmap on a discard, unknown flags: UNSUPP (5.2.6.2). */
	CHECK_EQ(parse_ranges_status(&lim, VIRTIO_BLK_T_DISCARD,
				     (uint64_t[]){ 8, 8, 1 }, 1, &p),
		 VIRTIO_BLK_S_UNSUPP);
	CHECK_EQ(parse_ranges_status(&lim, VIRTIO_BLK_T_WRITE_ZEROES,
				     (uint64_t[]){ 8, 8, 2 }, 1, &p),
		 VIRTIO_BLK_S_UNSUPP);
	CHECK_EQ(parse_ranges_status(&lim, VIRTIO_BLK_T_WRITE_ZEROES,
				     (uint64_t[]){ 8, 8, 1 }, 1, &p),
		 0);
	CHECK(p.ranges[0].unmap);
	/* Outside the disk, overflowing, too long, none, too many. */
	CHECK_EQ(parse_ranges_status(&lim, VIRTIO_BLK_T_WRITE_ZEROES,
				     (uint64_t[]){ IMG_SECTORS - 1, 2, 0 }, 1,
				     &p),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(parse_ranges_status(&lim, VIRTIO_BLK_T_DISCARD,
				     (uint64_t[]){ UINT64_MAX - 1, 4, 0 }, 1,
				     &p),
		 VIRTIO_BLK_S_IOERR);
	lim.capacity = UINT64_MAX / 512;
	CHECK_EQ(parse_ranges_status(
			 &lim, VIRTIO_BLK_T_DISCARD,
			 (uint64_t[]){ 0, VIRTIO_BLK_MAX_RANGE_SECTORS + 1, 0 },
			 1, &p),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(parse_ranges_status(&lim, VIRTIO_BLK_T_DISCARD, NULL, 0, &p),
		 VIRTIO_BLK_S_IOERR);
	for (i = 0; i < 33; i++) {
		many[3 * i] = i;
		many[3 * i + 1] = 1;
		many[3 * i + 2] = 0;
	}
	CHECK_EQ(parse_ranges_status(&lim, VIRTIO_BLK_T_DISCARD, many, 33, &p),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(parse_ranges_status(&lim, VIRTIO_BLK_T_DISCARD, many, 32, &p),
		 0);
	/* Not negotiated: UNSUPP; read-only: IOERR. */
	lim.features = 0;
	CHECK_EQ(parse_ranges_status(&lim, VIRTIO_BLK_T_DISCARD,
				     (uint64_t[]){ 8, 8, 0 }, 1, &p),
		 VIRTIO_BLK_S_UNSUPP);
	CHECK_EQ(parse_ranges_status(&ro, VIRTIO_BLK_T_WRITE_ZEROES,
				     (uint64_t[]){ 8, 8, 0 }, 1, &p),
		 VIRTIO_BLK_S_IOERR);
}

/* ---- the device, through the transport ---- */

static const char *make_image(const char *name)
{
	static uint8_t data[IMG_SIZE];
	size_t i;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i / 512 + 1 + (i & 0xf));
	return test_tmpfile(name, data, sizeof(data));
}

static bool image_bytes(const char *path, uint64_t off, void *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = pread(fd, buf, n, (off_t)off) == (ssize_t)n;
	close(fd);
	return ok;
}

struct blk_t {
	struct vh_host *h;
	struct vh_dev d;
	char path[4096];
	bool found;
};

/* A machine with one disk on a fresh image, started with wanted. */
static bool blk_start(struct blk_t *t, const char *img, bool ro,
		      unsigned int queues, const char *serial, uint64_t wanted)
{
	struct disk_config *dc;
	const char *path = make_image(img);

	memset(t, 0, sizeof(*t));
	if (!path) {
		test_fail(__FILE__, __LINE__, "no scratch image");
		return false;
	}
	snprintf(t->path, sizeof(t->path), "%s", path);
	t->h = vh_host_new();
	dc = &t->h->vm.cfg.disks[0];
	snprintf(dc->path, sizeof(dc->path), "%s", t->path);
	dc->readonly = ro;
	dc->queues = queues;
	dc->cache = DISK_CACHE_WRITEBACK;
	snprintf(dc->serial, sizeof(dc->serial), "%s", serial ? serial : "");
	t->h->vm.cfg.nr_disks = 1;
	fake_vm_realize(&t->h->vm, &virtio_blk_type);
	if (vh_dev_find(t->h, &t->d, VIRTIO_ID_BLOCK, 0)) {
		test_fail(__FILE__, __LINE__, "no virtio-blk device");
		return false;
	}
	t->found = true;
	if (vh_dev_start(&t->d, wanted)) {
		test_fail(__FILE__, __LINE__, "the device did not start");
		return false;
	}
	return true;
}

static void blk_stop(struct blk_t *t)
{
	if (t->found)
		vh_dev_free(&t->d);
	if (t->h)
		vh_host_free(t->h);
}

/*
 * One request: header, out_len bytes of out, in_len bytes of room, then
 * the status byte. Returns the status (or 0xff on a harness error); the
 * read data lands in in, the used length in *used.
 */
static uint8_t blk_rq(struct blk_t *t, unsigned int q, uint32_t type,
		      uint64_t sector, const void *out, uint32_t out_len,
		      void *in, uint32_t in_len, uint32_t *used)
{
	uint8_t hdr[16], status = 0xff;
	struct vh_buf bufs[2] = {
		{ .data = hdr, .len = 16 },
		{ .data = out, .len = out_len },
	};
	uint32_t in_sizes[2] = { in_len, 1 };
	int head, len;

	put_hdr(hdr, type, sector);
	if (in_len)
		len = vh_request(&t->d, q, bufs, out_len ? 2 : 1, in_sizes, 2,
				 &head);
	else
		len = vh_request(&t->d, q, bufs, out_len ? 2 : 1, in_sizes + 1,
				 1, &head);
	if (len < 0) {
		test_fail(__FILE__, __LINE__, "request: %d", len);
		return 0xff;
	}
	if (used)
		*used = (uint32_t)len;
	if (in_len && in)
		vh_read_in(&t->d, q, head, 0, in, in_len);
	vh_read_in(&t->d, q, head, in_len, &status, 1);
	return status;
}

static void config_space(void)
{
	struct blk_t t;
	uint64_t f;

	if (!blk_start(&t, "cfg.img", false, 4, NULL, ALL_FEATURES))
		return blk_stop(&t);
	f = t.d.offered;
	CHECK(f & F(VIRTIO_BLK_F_SIZE_MAX));
	CHECK(f & F(VIRTIO_BLK_F_SEG_MAX));
	CHECK(f & F(VIRTIO_BLK_F_BLK_SIZE));
	CHECK(f & F(VIRTIO_BLK_F_FLUSH));
	CHECK(f & F(VIRTIO_BLK_F_MQ));
	CHECK(f & F(VIRTIO_BLK_F_DISCARD));
	CHECK(f & F(VIRTIO_BLK_F_WRITE_ZEROES));
	CHECK(f & F(VIRTIO_F_INDIRECT_DESC));
	CHECK(f & F(VIRTIO_F_EVENT_IDX));
	CHECK(!(f & F(VIRTIO_BLK_F_RO)));
	CHECK(!(f & F(VIRTIO_BLK_F_CONFIG_WCE)));
	CHECK_EQ(t.d.nr_queues, 4);
	CHECK(t.d.device_len >= VIRTIO_BLK_CFG_SIZE);

	CHECK_EQ(vh_cfg_read(&t.d, VIRTIO_BLK_CFG_CAPACITY, 8), IMG_SECTORS);
	CHECK_EQ(vh_cfg_read(&t.d, VIRTIO_BLK_CFG_CAPACITY, 4), IMG_SECTORS);
	CHECK_EQ(vh_cfg_read(&t.d, VIRTIO_BLK_CFG_CAPACITY + 4, 4), 0);
	CHECK_EQ(vh_cfg_read(&t.d, VIRTIO_BLK_CFG_SIZE_MAX, 4),
		 VIRTIO_BLK_SIZE_MAX);
	CHECK_EQ(vh_cfg_read(&t.d, VIRTIO_BLK_CFG_SEG_MAX, 4),
		 VIRTIO_BLK_SEG_MAX);
	CHECK_EQ(vh_cfg_read(&t.d, VIRTIO_BLK_CFG_BLK_SIZE, 4), 512);
	CHECK_EQ(vh_cfg_read(&t.d, VIRTIO_BLK_CFG_NUM_QUEUES, 2), 4);
	CHECK_EQ(vh_cfg_read(&t.d, VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, 4),
		 VIRTIO_BLK_MAX_RANGE_SECTORS);
	CHECK_EQ(vh_cfg_read(&t.d, VIRTIO_BLK_CFG_MAX_DISCARD_SEG, 4),
		 VIRTIO_BLK_MAX_RANGES);
	CHECK(vh_cfg_read(&t.d, VIRTIO_BLK_CFG_DISCARD_ALIGN, 4) >= 1);
	CHECK_EQ(vh_cfg_read(&t.d, VIRTIO_BLK_CFG_MAX_WZ_SECTORS, 4),
		 VIRTIO_BLK_MAX_RANGE_SECTORS);
	CHECK_EQ(vh_cfg_read(&t.d, VIRTIO_BLK_CFG_MAX_WZ_SEG, 4),
		 VIRTIO_BLK_MAX_RANGES);
	CHECK_EQ(vh_cfg_read(&t.d, VIRTIO_BLK_CFG_WZ_MAY_UNMAP, 1), 1);
	/* The space is read-only: a write changes nothing. */
	vh_cfg_write(&t.d, VIRTIO_BLK_CFG_CAPACITY, 4, 1);
	CHECK_EQ(vh_cfg_read(&t.d, VIRTIO_BLK_CFG_CAPACITY, 8), IMG_SECTORS);
	blk_stop(&t);
}

static void read_write_flush(void)
{
	uint8_t w[1024], r[1024], file[1024];
	uint32_t used = 0;
	struct blk_t t;

	if (!blk_start(&t, "rw.img", false, 1, NULL, ALL_FEATURES))
		return blk_stop(&t);
	memset(w, 0x3c, 512);
	memset(w + 512, 0xc3, 512);
	CHECK_EQ(blk_rq(&t, 0, VIRTIO_BLK_T_OUT, 10, w, sizeof(w), NULL, 0,
			&used),
		 VIRTIO_BLK_S_OK);
	CHECK_EQ(used, 1);
	CHECK(image_bytes(t.path, 10 * 512, file, sizeof(file)));
	CHECK(!memcmp(file, w, sizeof(w)));

	memset(r, 0, sizeof(r));
	CHECK_EQ(blk_rq(&t, 0, VIRTIO_BLK_T_IN, 10, NULL, 0, r, sizeof(r),
			&used),
		 VIRTIO_BLK_S_OK);
	CHECK_EQ(used, sizeof(r) + 1);
	CHECK(!memcmp(r, w, sizeof(r)));
	/* The last sector, read as it was made. */
	CHECK_EQ(blk_rq(&t, 0, VIRTIO_BLK_T_IN, IMG_SECTORS - 1, NULL, 0, r,
			512, NULL),
		 VIRTIO_BLK_S_OK);
	CHECK(image_bytes(t.path, (IMG_SECTORS - 1) * 512, file, 512));
	CHECK(!memcmp(r, file, 512));

	CHECK_EQ(blk_rq(&t, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL, 0, &used),
		 VIRTIO_BLK_S_OK);
	CHECK_EQ(used, 1);
	/* The control API's counters: completed requests. */
	{
		struct virtio_blk_stats st;
		const char *name = NULL;

		CHECK_EQ(virtio_blk_get_stats(t.h->vm.state, 0, &name, &st), 0);
		CHECK_STR(name, "virtio-blk0");
		CHECK_EQ(st.write_ops, 1);
		CHECK_EQ(st.write_bytes, sizeof(w));
		CHECK_EQ(st.read_ops, 2);
		CHECK_EQ(st.read_bytes, sizeof(r) + 512);
		CHECK_EQ(st.flushes, 1);
		CHECK_EQ(virtio_blk_get_stats(t.h->vm.state, 1, &name, &st),
			 -ENOENT);
	}
	blk_stop(&t);
}

static void get_id(void)
{
	char id[20];
	uint32_t used;
	struct blk_t t;

	if (!blk_start(&t, "id.img", false, 1, "mica-disk-7", ALL_FEATURES))
		return blk_stop(&t);
	memset(id, 0x55, sizeof(id));
	CHECK_EQ(blk_rq(&t, 0, VIRTIO_BLK_T_GET_ID, 0, NULL, 0, id, 20, &used),
		 VIRTIO_BLK_S_OK);
	CHECK_EQ(used, 21);
	CHECK(!memcmp(id, "mica-disk-7", 11));
	CHECK(!memcmp(id + 11, "\0\0\0\0\0\0\0\0\0", 9));
	blk_stop(&t);

	/* Twenty characters: no NUL. */
	if (!blk_start(&t, "id2.img", false, 1, "ABCDEFGHIJKLMNOPQRST",
		       ALL_FEATURES))
		return blk_stop(&t);
	CHECK_EQ(blk_rq(&t, 0, VIRTIO_BLK_T_GET_ID, 0, NULL, 0, id, 20, NULL),
		 VIRTIO_BLK_S_OK);
	CHECK(!memcmp(id, "ABCDEFGHIJKLMNOPQRST", 20));
	blk_stop(&t);
}

static void discard_write_zeroes(void)
{
	uint8_t segs[32], buf[4096], zero[4096] = { 0 };
	struct blk_t t;

	if (!blk_start(&t, "dz.img", false, 1, NULL, ALL_FEATURES))
		return blk_stop(&t);
	CHECK(t.d.features & F(VIRTIO_BLK_F_DISCARD));
	/* Write-zeroes of sectors 8..15 (with unmap) and 32..33. */
	put_seg(segs, 8, 8, VIRTIO_BLK_WZ_FLAG_UNMAP);
	put_seg(segs + 16, 32, 2, 0);
	CHECK_EQ(blk_rq(&t, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, segs, 32, NULL, 0,
			NULL),
		 VIRTIO_BLK_S_OK);
	CHECK(image_bytes(t.path, 8 * 512, buf, 4096));
	CHECK(!memcmp(buf, zero, 4096));
	CHECK(image_bytes(t.path, 32 * 512, buf, 1024));
	CHECK(!memcmp(buf, zero, 1024));
	CHECK(image_bytes(t.path, 34 * 512, buf, 512));
	CHECK(memcmp(buf, zero, 512));
	CHECK(image_bytes(t.path, 7 * 512, buf, 512));
	CHECK(memcmp(buf, zero, 512));

	/* Discard of sectors 64..71: reads back as zeroes on ext4/tmpfs. */
	put_seg(segs, 64, 8, 0);
	CHECK_EQ(blk_rq(&t, 0, VIRTIO_BLK_T_DISCARD, 0, segs, 16, NULL, 0,
			NULL),
		 VIRTIO_BLK_S_OK);
	CHECK(image_bytes(t.path, 64 * 512, buf, 4096));
	CHECK(!memcmp(buf, zero, 4096));
	/* Unmap on a discard: UNSUPP; beyond the end: IOERR. */
	put_seg(segs, 64, 8, VIRTIO_BLK_WZ_FLAG_UNMAP);
	CHECK_EQ(blk_rq(&t, 0, VIRTIO_BLK_T_DISCARD, 0, segs, 16, NULL, 0,
			NULL),
		 VIRTIO_BLK_S_UNSUPP);
	put_seg(segs, IMG_SECTORS - 4, 8, 0);
	CHECK_EQ(blk_rq(&t, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, segs, 16, NULL, 0,
			NULL),
		 VIRTIO_BLK_S_IOERR);
	blk_stop(&t);

	/* A driver that did not negotiate them gets UNSUPP. */
	if (!blk_start(&t, "dz2.img", false, 1, NULL,
		       ALL_FEATURES & ~F(VIRTIO_BLK_F_DISCARD) &
			       ~F(VIRTIO_BLK_F_WRITE_ZEROES)))
		return blk_stop(&t);
	put_seg(segs, 8, 8, 0);
	CHECK_EQ(blk_rq(&t, 0, VIRTIO_BLK_T_DISCARD, 0, segs, 16, NULL, 0,
			NULL),
		 VIRTIO_BLK_S_UNSUPP);
	CHECK_EQ(blk_rq(&t, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, segs, 16, NULL, 0,
			NULL),
		 VIRTIO_BLK_S_UNSUPP);
	CHECK(image_bytes(t.path, 8 * 512, buf, 512));
	CHECK(memcmp(buf, zero, 512));
	blk_stop(&t);
}

static void readonly_disk(void)
{
	static uint8_t before[IMG_SIZE], after[IMG_SIZE];
	uint8_t w[512], segs[16], r[512];
	struct blk_t t;

	if (!blk_start(&t, "ro.img", true, 1, NULL, ALL_FEATURES))
		return blk_stop(&t);
	CHECK(t.d.offered & F(VIRTIO_BLK_F_RO));
	CHECK(!(t.d.offered & F(VIRTIO_BLK_F_DISCARD)));
	CHECK(!(t.d.offered & F(VIRTIO_BLK_F_WRITE_ZEROES)));
	CHECK(image_bytes(t.path, 0, before, IMG_SIZE));
	memset(w, 0xee, sizeof(w));
	CHECK_EQ(blk_rq(&t, 0, VIRTIO_BLK_T_OUT, 0, w, 512, NULL, 0, NULL),
		 VIRTIO_BLK_S_IOERR);
	put_seg(segs, 0, 8, 0);
	CHECK_EQ(blk_rq(&t, 0, VIRTIO_BLK_T_DISCARD, 0, segs, 16, NULL, 0,
			NULL),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(blk_rq(&t, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, segs, 16, NULL, 0,
			NULL),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(blk_rq(&t, 0, VIRTIO_BLK_T_IN, 0, NULL, 0, r, 512, NULL),
		 VIRTIO_BLK_S_OK);
	CHECK(!memcmp(r, before, 512));
	CHECK_EQ(blk_rq(&t, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL, 0, NULL),
		 VIRTIO_BLK_S_OK);
	CHECK(image_bytes(t.path, 0, after, IMG_SIZE));
	CHECK(!memcmp(before, after, IMG_SIZE));
	blk_stop(&t);
}

static void bad_requests(void)
{
	uint8_t buf[1024] = { 0 }, hdr[16];
	struct vh_buf out = { .data = hdr, .len = 8 };
	uint32_t one = 1;
	uint8_t status = 0xff;
	struct blk_t t;
	int head;

	if (!blk_start(&t, "bad.img", false, 1, NULL, ALL_FEATURES))
		return blk_stop(&t);
	CHECK_EQ(blk_rq(&t, 0, VIRTIO_BLK_T_IN, IMG_SECTORS, NULL, 0, buf, 512,
			NULL),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(blk_rq(&t, 0, VIRTIO_BLK_T_IN, IMG_SECTORS - 1, NULL, 0, buf,
			1024, NULL),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(blk_rq(&t, 0, VIRTIO_BLK_T_IN, UINT64_MAX, NULL, 0, buf, 512,
			NULL),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(blk_rq(&t, 0, VIRTIO_BLK_T_OUT, 1ull << 55, buf, 512, NULL, 0,
			NULL),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(blk_rq(&t, 0, VIRTIO_BLK_T_IN, 0, NULL, 0, buf, 100, NULL),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(blk_rq(&t, 0, VIRTIO_BLK_T_OUT, 0, buf, 700, NULL, 0, NULL),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(blk_rq(&t, 0, 77, 0, NULL, 0, NULL, 0, NULL),
		 VIRTIO_BLK_S_UNSUPP);
	/* A header cut short: IOERR, and the device goes on. */
	put_hdr(hdr, VIRTIO_BLK_T_IN, 0);
	CHECK(vh_request(&t.d, 0, &out, 1, &one, 1, &head) == 1);
	vh_read_in(&t.d, 0, head, 0, &status, 1);
	CHECK_EQ(status, VIRTIO_BLK_S_IOERR);
	CHECK_EQ(blk_rq(&t, 0, VIRTIO_BLK_T_IN, 0, NULL, 0, buf, 512, NULL),
		 VIRTIO_BLK_S_OK);
	CHECK(!(vh_status(&t.d) & VIRTIO_STATUS_NEEDS_RESET));
	blk_stop(&t);
}

/* No writable byte for the status: the device asks for a reset. */
static void missing_status_byte(void)
{
	uint8_t hdr[16], buf[512];
	struct vh_buf out = { .data = hdr, .len = 16 };
	struct blk_t t;
	int head;

	if (!blk_start(&t, "nostatus.img", false, 1, NULL, ALL_FEATURES))
		return blk_stop(&t);
	put_hdr(hdr, VIRTIO_BLK_T_FLUSH, 0);
	head = vh_post(&t.d, 0, &out, 1, NULL, 0);
	CHECK(head >= 0);
	vh_kick(&t.d, 0);
	CHECK_EQ(vh_wait_status(&t.d, VIRTIO_STATUS_NEEDS_RESET), 0);
	/* A reset brings it back. */
	CHECK_EQ(vh_dev_start(&t.d, ALL_FEATURES), 0);
	CHECK_EQ(blk_rq(&t, 0, VIRTIO_BLK_T_IN, 0, NULL, 0, buf, 512, NULL),
		 VIRTIO_BLK_S_OK);
	blk_stop(&t);
}

static void indirect_chain(void)
{
	uint8_t hdr[16], data[1024], status = 0xff, file[1024];
	struct vh_queue *vq;
	struct vring_seg segs[4];
	gpa_t g;
	uint32_t id, len;
	struct blk_t t;
	int head;

	if (!blk_start(&t, "ind.img", false, 1, NULL, ALL_FEATURES))
		return blk_stop(&t);
	CHECK(t.d.features & F(VIRTIO_F_INDIRECT_DESC));
	vq = &t.d.q[0];
	put_hdr(hdr, VIRTIO_BLK_T_OUT, 20);
	memset(data, 0x77, sizeof(data));
	g = vring_alloc(&vq->vr, 16 + 1024 + 1);
	memcpy(vh_ptr(t.h, g, 16), hdr, 16);
	memcpy(vh_ptr(t.h, g + 16, 1024), data, 1024);
	*(uint8_t *)vh_ptr(t.h, g + 1040, 1) = 0xff;
	segs[0] = (struct vring_seg){ .addr = g, .len = 16 };
	segs[1] = (struct vring_seg){ .addr = g + 16, .len = 512 };
	segs[2] = (struct vring_seg){ .addr = g + 528, .len = 512 };
	segs[3] = (struct vring_seg){ .addr = g + 1040, .len = 1, .write = 1 };
	head = vring_post_indirect(&vq->vr, segs, 4);
	CHECK(head >= 0);
	vh_kick(&t.d, 0);
	CHECK_EQ(vh_wait_used(&t.d, 0, &id, &len), 0);
	CHECK_EQ(id, (uint32_t)head);
	status = *(uint8_t *)vh_ptr(t.h, g + 1040, 1);
	CHECK_EQ(status, VIRTIO_BLK_S_OK);
	CHECK(image_bytes(t.path, 20 * 512, file, 1024));
	CHECK(!memcmp(file, data, 1024));
	blk_stop(&t);
}

static void multi_queue(void)
{
	uint8_t w[512], r[512];
	unsigned int q;
	struct blk_t t;

	if (!blk_start(&t, "mq.img", false, 3, NULL, ALL_FEATURES))
		return blk_stop(&t);
	CHECK(t.d.features & F(VIRTIO_BLK_F_MQ));
	for (q = 0; q < 3; q++) {
		memset(w, (int)(0x10 + q), sizeof(w));
		CHECK_EQ(blk_rq(&t, q, VIRTIO_BLK_T_OUT, 40 + q, w, 512, NULL,
				0, NULL),
			 VIRTIO_BLK_S_OK);
	}
	for (q = 0; q < 3; q++) {
		memset(w, (int)(0x10 + q), sizeof(w));
		CHECK_EQ(blk_rq(&t, 2 - q, VIRTIO_BLK_T_IN, 40 + q, NULL, 0, r,
				512, NULL),
			 VIRTIO_BLK_S_OK);
		CHECK(!memcmp(r, w, 512));
	}
	CHECK_EQ(blk_rq(&t, 1, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL, 0, NULL),
		 VIRTIO_BLK_S_OK);
	blk_stop(&t);
}

/* Many requests in flight, then a reset; the device works afterwards. */
static void reset_in_flight(void)
{
	static uint8_t hdr[64][16];
	uint8_t r[512];
	struct vh_buf out;
	uint32_t sizes[2] = { 4096, 1 };
	unsigned int i, posted = 0;
	struct blk_t t;

	if (!blk_start(&t, "reset.img", false, 1, NULL, ALL_FEATURES))
		return blk_stop(&t);
	for (i = 0; i < 64; i++) {
		put_hdr(hdr[i], i & 1 ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_FLUSH,
			(i * 8) % (IMG_SECTORS - 8));
		out = (struct vh_buf){ .data = hdr[i], .len = 16 };
		if (vh_post(&t.d, 0, &out, 1, i & 1 ? sizes : sizes + 1,
			    i & 1 ? 2 : 1) >= 0)
			posted++;
	}
	CHECK(posted > 0);
	vh_kick(&t.d, 0);
	CHECK_EQ(vh_reset(&t.d), 0);
	CHECK_EQ(vh_dev_start(&t.d, ALL_FEATURES), 0);
	CHECK_EQ(blk_rq(&t, 0, VIRTIO_BLK_T_IN, 0, NULL, 0, r, 512, NULL),
		 VIRTIO_BLK_S_OK);
	blk_stop(&t);
}

/* Two disks on one writable image: the second is refused. */
static void image_lock(void)
{
	struct vh_host *h = vh_host_new();
	const char *p = make_image("lock.img");
	void *state;
	int r;

	if (!p) {
		vh_host_free(h);
		return test_fail(__FILE__, __LINE__, "no scratch image");
	}
	snprintf(h->vm.cfg.disks[0].path, CONFIG_PATH_MAX, "%s", p);
	snprintf(h->vm.cfg.disks[1].path, CONFIG_PATH_MAX, "%s", p);
	h->vm.cfg.disks[0].queues = 1;
	h->vm.cfg.disks[1].queues = 1;
	h->vm.cfg.nr_disks = 2;
	state = calloc(1, virtio_blk_type.state_size);
	CHECK(state);
	if (state) {
		r = virtio_blk_type.realize(state, &h->vm.host);
		CHECK_EQ(r, -EBUSY);
		free(state);
	}
	/* Both read-only: shared. */
	h->vm.cfg.disks[0].readonly = true;
	h->vm.cfg.disks[1].readonly = true;
	state = calloc(1, virtio_blk_type.state_size);
	if (state) {
		CHECK_EQ(virtio_blk_type.realize(state, &h->vm.host), 0);
		virtio_blk_type.unrealize(state);
		free(state);
	}
	vh_host_free(h);
}

TEST_SUITE(virtio_blk, TEST_CASE(parse_layouts), TEST_CASE(parse_checks),
	   TEST_CASE(parse_discard), TEST_CASE(config_space),
	   TEST_CASE(read_write_flush), TEST_CASE(get_id),
	   TEST_CASE(discard_write_zeroes), TEST_CASE(readonly_disk),
	   TEST_CASE(bad_requests), TEST_CASE(missing_status_byte),
	   TEST_CASE(indirect_chain), TEST_CASE(multi_queue),
	   TEST_CASE(reset_in_flight), TEST_CASE(image_lock));
