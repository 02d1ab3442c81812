// SPDX-License-Identifier: MIT
/*
 * The block backend (backends/block.c) against scratch image files: reads,
 * writes, flushes, discards and write-zeroes through io_uring and through
 * the synchronous fallback, cache=none with aligned and unaligned buffers,
 * the OFD lock, read-only images and the user's error messages.
 */
#include "backends/block.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit/test.h"

#define IMG_SIZE (64u << 10)

struct done_rec {
	int calls;
	int result;
};

static void rec_done(struct block_req *req, int result)
{
	struct done_rec *d = req->opaque;

	d->calls++;
	d->result = result;
}

/* Polls until every record in recs[0..n) has been completed once. */
static bool wait_all(struct block *b, struct done_rec *recs, unsigned int n)
{
	struct pollfd pfd = { .fd = block_event_fd(b), .events = POLLIN };
	unsigned int i, tries;

	for (tries = 0; tries < 200; tries++) {
		bool all = true;

		for (i = 0; i < n; i++)
			if (!recs[i].calls)
				all = false;
		if (all)
			return true;
		poll(&pfd, 1, 100);
		block_poll(b);
	}
	return false;
}

static const char *make_image(const char *name, size_t size, uint8_t seed)
{
	uint8_t *data = malloc(size ? size : 1);
	const char *path;
	size_t i;

	if (!data)
		return NULL;
	for (i = 0; i < size; i++)
		data[i] = (uint8_t)(seed + i * 7 + (i >> 9));
	path = test_tmpfile(name, data, size);
	free(data);
	return path;
}

static struct block *open_img(const char *path, bool ro, enum disk_cache cache,
			      bool sync, unsigned int queues,
			      unsigned int depth)
{
	struct block_opts o = {
		.path = path,
		.readonly = ro,
		.cache = cache,
		.nr_queues = queues,
		.depth = depth,
		.force_sync = sync,
	};
	struct block *b = NULL;
	char err[256] = "";
	int r = block_open(&b, &o, err, sizeof(err));

	if (r)
		test_fail(__FILE__, __LINE__, "block_open(%s): %d %s", path, r,
			  err);
	return b;
}

/* One synchronous-looking request through the asynchronous interface. */
static int do_rw(struct block *b, unsigned int q, enum block_op op,
		 uint64_t off, struct iovec *iov, unsigned int cnt)
{
	struct done_rec d = { 0 };
	struct block_req req = {
		.op = op,
		.offset = off,
		.iov = iov,
		.iovcnt = cnt,
		.done = rec_done,
		.opaque = &d,
	};
	int r = block_submit(b, q, &req);

	if (r)
		return r;
	block_kick(b, q);
	if (!wait_all(b, &d, 1))
		return -ETIMEDOUT;
	CHECK_EQ(d.calls, 1);
	return d.result;
}

static int do_ranges(struct block *b, enum block_op op,
		     const struct block_range *ranges, unsigned int n)
{
	struct done_rec d = { 0 };
	struct block_req req = {
		.op = op,
		.ranges = ranges,
		.nr_ranges = n,
		.done = rec_done,
		.opaque = &d,
	};
	int r = block_submit(b, 0, &req);

	if (r)
		return r;
	block_kick(b, 0);
	if (!wait_all(b, &d, 1))
		return -ETIMEDOUT;
	return d.result;
}

static bool file_bytes(const char *path, uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = pread(fd, buf, len, (off_t)off) == (ssize_t)len;
	close(fd);
	return ok;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

static void rw_roundtrip(bool sync, enum disk_cache cache)
{
	const char *path = make_image("rw.img", IMG_SIZE, 1);
	uint8_t *w, *r, file[4096];
	struct iovec iov[2];
	struct block *b;

	if (!path)
		return test_fail(__FILE__, __LINE__, "no scratch file");
	b = open_img(path, false, cache, sync, 2, 8);
	if (!b)
		return;
	CHECK_EQ(block_size(b), IMG_SIZE);
	CHECK_EQ(block_async(b), !sync);
	if (posix_memalign((void **)&w, 4096, 8192) ||
	    posix_memalign((void **)&r, 4096, 8192))
		return test_fail(__FILE__, __LINE__, "no memory");
	memset(w, 0xa5, 4096);
	memset(w + 4096, 0x5a, 4096);

	/* Two segments, written at sector 8 through queue 1. */
	iov[0] = (struct iovec){ .iov_base = w, .iov_len = 1024 };
	iov[1] = (struct iovec){ .iov_base = w + 4096, .iov_len = 3072 };
	CHECK_EQ(do_rw(b, 1, BLOCK_WRITE, 8 * 512, iov, 2), 0);
	/* The backend consumed the entries as the transfer went. */
	CHECK(file_bytes(path, 8 * 512, file, 4096));
	CHECK(!memcmp(file, w, 1024));
	CHECK(!memcmp(file + 1024, w + 4096, 3072));

	memset(r, 0, 8192);
	iov[0] = (struct iovec){ .iov_base = r, .iov_len = 4096 };
	CHECK_EQ(do_rw(b, 0, BLOCK_READ, 8 * 512, iov, 1), 0);
	CHECK(!memcmp(r, file, 4096));

	/* FLUSH after the write. */
	CHECK_EQ(do_rw(b, 0, BLOCK_FLUSH, 0, NULL, 0), 0);
	block_close(b);
	free(w);
	free(r);
}

static void rw_async(void)
{
	rw_roundtrip(false, DISK_CACHE_WRITEBACK);
}

static void rw_sync_fallback(void)
{
	rw_roundtrip(true, DISK_CACHE_WRITEBACK);
}

static void rw_cache_none(void)
{
	rw_roundtrip(false, DISK_CACHE_NONE);
}

static void rw_cache_unsafe(void)
{
	rw_roundtrip(false, DISK_CACHE_UNSAFE);
}

/* cache=none with buffers O_DIRECT cannot use: copied through a bounce. */
static void cache_none_unaligned_buffers(void)
{
	const char *path = make_image("dio.img", 512u << 10, 3);
	uint8_t *mem, *file;
	struct iovec iov[3];
	struct block *b;
	size_t len = 200u << 10; /* more than one bounce chunk */
	size_t i;

	if (!path)
		return test_fail(__FILE__, __LINE__, "no scratch file");
	b = open_img(path, false, DISK_CACHE_NONE, false, 1, 4);
	mem = malloc(len + 64);
	file = malloc(len);
	if (!b || !mem || !file)
		goto out;
	for (i = 0; i < len; i++)
		mem[i + 3] = (uint8_t)(i * 13 + 1);
	/* Odd addresses, and segments that are not whole sectors. */
	iov[0] = (struct iovec){ .iov_base = mem + 3, .iov_len = 100 };
	iov[1] = (struct iovec){ .iov_base = mem + 103, .iov_len = 412 };
	iov[2] = (struct iovec){ .iov_base = mem + 515, .iov_len = len - 512 };
	CHECK_EQ(do_rw(b, 0, BLOCK_WRITE, 4096, iov, 3), 0);
	CHECK(file_bytes(path, 4096, file, len));
	CHECK(!memcmp(file, mem + 3, len));

	memset(mem, 0, len + 64);
	iov[0] = (struct iovec){ .iov_base = mem + 1, .iov_len = 7 };
	iov[1] = (struct iovec){ .iov_base = mem + 8, .iov_len = len - 7 };
	CHECK_EQ(do_rw(b, 0, BLOCK_READ, 4096, iov, 2), 0);
	CHECK(!memcmp(mem + 1, file, len));
out:
	block_close(b);
	free(mem);
	free(file);
}

static void discard_and_write_zeroes_one(bool sync)
{
	const char *path = make_image("zero.img", IMG_SIZE, 9);
	struct block_range ranges[2];
	uint8_t buf[8192];
	struct stat st;
	struct block *b;

	if (!path)
		return test_fail(__FILE__, __LINE__, "no scratch file");
	b = open_img(path, false, DISK_CACHE_WRITEBACK, sync, 1, 4);
	if (!b)
		return;

	/* Write-zeroes without unmap, then with unmap, two ranges each. */
	ranges[0] = (struct block_range){ .offset = 0, .len = 1024 };
	ranges[1] = (struct block_range){ .offset = 8192, .len = 4096 };
	CHECK_EQ(do_ranges(b, BLOCK_WRITE_ZEROES, ranges, 2), 0);
	CHECK(file_bytes(path, 0, buf, 1024) && all_zero(buf, 1024));
	CHECK(file_bytes(path, 1024, buf, 512) && !all_zero(buf, 512));
	CHECK(file_bytes(path, 8192, buf, 4096) && all_zero(buf, 4096));
	CHECK(file_bytes(path, 12288, buf, 512) && !all_zero(buf, 512));

	ranges[0] = (struct block_range){ .offset = 16384,
					  .len = 8192,
					  .unmap = true };
	CHECK_EQ(do_ranges(b, BLOCK_WRITE_ZEROES, ranges, 1), 0);
	CHECK(file_bytes(path, 16384, buf, 8192) && all_zero(buf, 8192));

	/* Discard: a hint, but on ext4 and tmpfs it punches a hole. */
	ranges[0] = (struct block_range){ .offset = 32768, .len = 8192 };
	CHECK_EQ(do_ranges(b, BLOCK_DISCARD, ranges, 1), 0);
	CHECK(file_bytes(path, 32768, buf, 8192) && all_zero(buf, 8192));
	CHECK(file_bytes(path, 40960, buf, 512) && !all_zero(buf, 512));

	/* Zero-length ranges do nothing; the size is kept. */
	ranges[0] = (struct block_range){ .offset = IMG_SIZE, .len = 0 };
	CHECK_EQ(do_ranges(b, BLOCK_DISCARD, ranges, 1), 0);
	CHECK(stat(path, &st) == 0 && st.st_size == IMG_SIZE);
	block_close(b);
}

static void discard_and_write_zeroes(void)
{
	discard_and_write_zeroes_one(false);
}

static void discard_and_write_zeroes_sync(void)
{
	discard_and_write_zeroes_one(true);
}

/* A file system without fallocate: write-zeroes writes zeroes. */
static void write_zeroes_without_fallocate(void)
{
	const char *path = make_image("nofalloc.img", 4u << 20, 8);
	struct block_opts o = {
		.nr_queues = 1,
		.depth = 4,
		.no_fallocate = true,
	};
	struct block_range ranges[2];
	static uint8_t buf[3u << 20];
	struct block *b = NULL;
	char err[256];

	if (!path)
		return test_fail(__FILE__, __LINE__, "no scratch file");
	o.path = path;
	CHECK_EQ(block_open(&b, &o, err, sizeof(err)), 0);
	if (!b)
		return;
	/* Larger than the zero buffer, with and without unmap. */
	ranges[0] = (struct block_range){ .offset = 512,
					  .len = (3u << 20) - 1024,
					  .unmap = true };
	ranges[1] = (struct block_range){ .offset = 3u << 20, .len = 512 };
	CHECK_EQ(do_ranges(b, BLOCK_WRITE_ZEROES, ranges, 2), 0);
	CHECK(file_bytes(path, 0, buf, 512) && !all_zero(buf, 512));
	CHECK(file_bytes(path, 512, buf, (3u << 20) - 1024) &&
	      all_zero(buf, (3u << 20) - 1024));
	CHECK(file_bytes(path, (3u << 20) - 512, buf, 512) &&
	      !all_zero(buf, 512));
	CHECK(file_bytes(path, 3u << 20, buf, 512) && all_zero(buf, 512));
	CHECK(file_bytes(path, (3u << 20) + 512, buf, 512) &&
	      !all_zero(buf, 512));
	/* Discard is only a hint: it succeeds and changes nothing. */
	ranges[0] = (struct block_range){ .offset = 0, .len = 512 };
	CHECK_EQ(do_ranges(b, BLOCK_DISCARD, ranges, 1), 0);
	CHECK(file_bytes(path, 0, buf, 512) && !all_zero(buf, 512));
	block_close(b);
}

/* After a failed fdatasync, FLUSH keeps failing until the device reset. */
static void flush_error_is_sticky(void)
{
	const char *path = make_image("flush.img", IMG_SIZE, 8);
	struct block_opts o = {
		.nr_queues = 1,
		.depth = 4,
		.fail_flush = true,
	};
	struct block *b = NULL;
	char err[256];

	if (!path)
		return test_fail(__FILE__, __LINE__, "no scratch file");
	o.path = path;
	CHECK_EQ(block_open(&b, &o, err, sizeof(err)), 0);
	if (!b)
		return;
	CHECK_EQ(do_rw(b, 0, BLOCK_FLUSH, 0, NULL, 0), -EIO);
	CHECK_EQ(do_rw(b, 0, BLOCK_FLUSH, 0, NULL, 0), -EIO);
	block_clear_flush_error(b);
	CHECK_EQ(do_rw(b, 0, BLOCK_FLUSH, 0, NULL, 0), -EIO); /* injected */
	block_close(b);

	/* The sticky error, not the injection, fails the second flush. */
	o.fail_flush = false;
	o.cache = DISK_CACHE_UNSAFE;
	CHECK_EQ(block_open(&b, &o, err, sizeof(err)), 0);
	if (!b)
		return;
	CHECK_EQ(do_rw(b, 0, BLOCK_FLUSH, 0, NULL, 0), 0);
	block_close(b);
}

static void ofd_lock_conflicts(void)
{
	const char *p = make_image("lock.img", IMG_SIZE, 0);
	struct block_opts o = { .nr_queues = 1, .depth = 4 };
	struct block *a = NULL, *b = NULL, *c = NULL;
	char path[4096], err[512];

	if (!p)
		return test_fail(__FILE__, __LINE__, "no scratch file");
	snprintf(path, sizeof(path), "%s", p);
	o.path = path;

	CHECK_EQ(block_open(&a, &o, err, sizeof(err)), 0);
	/* A second writer: the OFD locks conflict even in one process. */
	err[0] = 0;
	CHECK_EQ(block_open(&b, &o, err, sizeof(err)), -EAGAIN);
	CHECK(b == NULL);
	CHECK(strstr(err, "is in use by another process (its lock is held)"));
	CHECK(strstr(err, path));
	/* A reader conflicts with the writer too. */
	o.readonly = true;
	CHECK(block_open(&b, &o, err, sizeof(err)) < 0);
	block_close(a);
	a = NULL;

	/* Two readers share the image; a writer is then refused. */
	CHECK_EQ(block_open(&b, &o, err, sizeof(err)), 0);
	CHECK_EQ(block_open(&c, &o, err, sizeof(err)), 0);
	o.readonly = false;
	err[0] = 0;
	CHECK(block_open(&a, &o, err, sizeof(err)) < 0);
	CHECK(strstr(err, "is in use by another process"));
	block_close(b);
	block_close(c);
	/* Closing released the locks. */
	CHECK_EQ(block_open(&a, &o, err, sizeof(err)), 0);
	block_close(a);
}

static void readonly_refuses_writes(void)
{
	const char *path = make_image("ro.img", IMG_SIZE, 5);
	struct block_range range = { .offset = 0, .len = 4096 };
	uint8_t before[IMG_SIZE], after[IMG_SIZE], buf[4096];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct block *b;

	if (!path)
		return test_fail(__FILE__, __LINE__, "no scratch file");
	CHECK(file_bytes(path, 0, before, IMG_SIZE));
	b = open_img(path, true, DISK_CACHE_WRITEBACK, false, 1, 4);
	if (!b)
		return;
	CHECK(block_readonly(b));
	memset(buf, 0xff, sizeof(buf));
	CHECK_EQ(do_rw(b, 0, BLOCK_WRITE, 0, &iov, 1), -EROFS);
	CHECK_EQ(do_ranges(b, BLOCK_DISCARD, &range, 1), -EROFS);
	CHECK_EQ(do_ranges(b, BLOCK_WRITE_ZEROES, &range, 1), -EROFS);
	/* Reads and flushes work. */
	CHECK_EQ(do_rw(b, 0, BLOCK_READ, 0, &iov, 1), 0);
	CHECK(!memcmp(buf, before, sizeof(buf)));
	CHECK_EQ(do_rw(b, 0, BLOCK_FLUSH, 0, NULL, 0), 0);
	block_close(b);
	CHECK(file_bytes(path, 0, after, IMG_SIZE));
	CHECK(!memcmp(before, after, IMG_SIZE));
}

static void bad_requests(void)
{
	const char *path = make_image("bad.img", IMG_SIZE, 2);
	struct block_range range = { .offset = IMG_SIZE - 512, .len = 1024 };
	uint8_t buf[1024];
	struct iovec iov = { .iov_base = buf, .iov_len = 512 };
	struct block *b;

	if (!path)
		return test_fail(__FILE__, __LINE__, "no scratch file");
	b = open_img(path, false, DISK_CACHE_WRITEBACK, false, 1, 4);
	if (!b)
		return;
	/* Past the end, at the end, misaligned, overflowing, bad queue. */
	CHECK_EQ(do_rw(b, 0, BLOCK_READ, IMG_SIZE, &iov, 1), -EINVAL);
	CHECK_EQ(do_rw(b, 0, BLOCK_READ, IMG_SIZE - 512, &iov, 1), 0);
	CHECK_EQ(do_rw(b, 0, BLOCK_READ, 100, &iov, 1), -EINVAL);
	iov.iov_len = 100;
	CHECK_EQ(do_rw(b, 0, BLOCK_WRITE, 0, &iov, 1), -EINVAL);
	iov.iov_len = 512;
	CHECK_EQ(do_rw(b, 0, BLOCK_READ, UINT64_MAX - 511, &iov, 1), -EINVAL);
	CHECK_EQ(do_rw(b, 1, BLOCK_READ, 0, &iov, 1), -EINVAL);
	CHECK_EQ(do_ranges(b, BLOCK_DISCARD, &range, 1), -EINVAL);
	range = (struct block_range){ .offset = UINT64_MAX - 511, .len = 1024 };
	CHECK_EQ(do_ranges(b, BLOCK_WRITE_ZEROES, &range, 1), -EINVAL);
	/* A zero-length read completes at once. */
	CHECK_EQ(do_rw(b, 0, BLOCK_READ, 0, &iov, 0), 0);
	block_close(b);
}

static void open_errors(void)
{
	struct block_opts o = { .nr_queues = 1, .depth = 4 };
	const char *p = make_image("x.img", 512, 0);
	struct block *b = NULL;
	char dir[4096], err[512];

	if (!p)
		return test_fail(__FILE__, __LINE__, "no scratch file");
	snprintf(dir, sizeof(dir), "%s", p);
	*strrchr(dir, '/') = 0;

	o.path = "/nonexistent/mica-disk.img";
	CHECK_EQ(block_open(&b, &o, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "disk '/nonexistent/mica-disk.img'"));
	CHECK(strstr(err, strerror(ENOENT)));

	o.path = dir;
	o.readonly = true;
	CHECK_EQ(block_open(&b, &o, err, sizeof(err)), -EISDIR);
	CHECK(strstr(err, "is a directory"));
	CHECK(strstr(err, dir));

	o.path = "/dev/null";
	CHECK_EQ(block_open(&b, &o, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "neither a regular file nor a block device"));
	CHECK(b == NULL);

	o.path = "";
	CHECK(block_open(&b, &o, err, sizeof(err)) < 0);
	o.path = dir;
	o.nr_queues = 0;
	CHECK_EQ(block_open(&b, &o, err, sizeof(err)), -EINVAL);
}

/* A size that is not whole sectors: rounded down, the tail unused. */
static void odd_size_rounds_down(void)
{
	const char *path = make_image("odd.img", 4096 + 100, 4);
	struct block *b;

	if (!path)
		return test_fail(__FILE__, __LINE__, "no scratch file");
	b = open_img(path, false, DISK_CACHE_WRITEBACK, false, 1, 4);
	if (!b)
		return;
	CHECK_EQ(block_size(b), 4096);
	CHECK_EQ(block_align(b), 512);
	block_close(b);
}

/* The file shrinks under the disk: short reads, then zeroes past EOF. */
static void short_read_zero_fills(void)
{
	const char *path = make_image("short.img", IMG_SIZE, 6);
	uint8_t buf[2048], file[612];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct block *b;
	int fd;

	if (!path)
		return test_fail(__FILE__, __LINE__, "no scratch file");
	b = open_img(path, false, DISK_CACHE_WRITEBACK, false, 1, 4);
	if (!b)
		return;
	CHECK(file_bytes(path, 0, file, sizeof(file)));
	fd = open(path, O_WRONLY | O_CLOEXEC);
	CHECK(fd >= 0 && ftruncate(fd, 612) == 0);
	if (fd >= 0)
		close(fd);
	memset(buf, 0xee, sizeof(buf));
	CHECK_EQ(do_rw(b, 0, BLOCK_READ, 0, &iov, 1), 0);
	CHECK(!memcmp(buf, file, sizeof(file)));
	CHECK(all_zero(buf + sizeof(file), sizeof(buf) - sizeof(file)));
	block_close(b);
}

/* At most depth requests per queue; block_drain waits for all of them. */
static void depth_and_drain(void)
{
	const char *path = make_image("depth.img", IMG_SIZE, 7);
	struct done_rec d[4] = { { 0 } };
	uint8_t buf[4][4096];
	struct iovec iov[4];
	struct block_req req[4];
	struct block *b;
	unsigned int i;

	if (!path)
		return test_fail(__FILE__, __LINE__, "no scratch file");
	b = open_img(path, false, DISK_CACHE_WRITEBACK, false, 2, 3);
	if (!b)
		return;
	for (i = 0; i < 4; i++) {
		iov[i] = (struct iovec){ .iov_base = buf[i], .iov_len = 4096 };
		req[i] = (struct block_req){
			.op = BLOCK_READ,
			.offset = 4096ull * i,
			.iov = &iov[i],
			.iovcnt = 1,
			.done = rec_done,
			.opaque = &d[i],
		};
	}
	for (i = 0; i < 3; i++)
		CHECK_EQ(block_submit(b, 0, &req[i]), 0);
	CHECK_EQ(block_inflight(b, 0), 3);
	CHECK_EQ(block_submit(b, 0, &req[3]), -EBUSY);
	/* Another queue has its own depth. */
	CHECK_EQ(block_submit(b, 1, &req[3]), 0);
	block_kick(b, 0);
	block_kick(b, 1);
	block_drain(b);
	for (i = 0; i < 4; i++) {
		CHECK_EQ(d[i].calls, 1);
		CHECK_EQ(d[i].result, 0);
	}
	CHECK_EQ(block_inflight(b, 0), 0);
	CHECK_EQ(block_inflight(b, 1), 0);
	/* Submitted but never kicked: drain starts and finishes it. */
	d[0].calls = 0;
	iov[0] = (struct iovec){ .iov_base = buf[0], .iov_len = 4096 };
	CHECK_EQ(block_submit(b, 0, &req[0]), 0);
	block_drain(b);
	CHECK_EQ(d[0].calls, 1);
	block_close(b);
}

TEST_SUITE(block, TEST_CASE(rw_async), TEST_CASE(rw_sync_fallback),
	   TEST_CASE(rw_cache_none), TEST_CASE(rw_cache_unsafe),
	   TEST_CASE(cache_none_unaligned_buffers),
	   TEST_CASE(discard_and_write_zeroes),
	   TEST_CASE(discard_and_write_zeroes_sync),
	   TEST_CASE(write_zeroes_without_fallocate),
	   TEST_CASE(flush_error_is_sticky), TEST_CASE(ofd_lock_conflicts),
	   TEST_CASE(readonly_refuses_writes), TEST_CASE(bad_requests),
	   TEST_CASE(open_errors), TEST_CASE(odd_size_rounds_down),
	   TEST_CASE(short_read_zero_fills), TEST_CASE(depth_and_drain));
