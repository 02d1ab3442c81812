// SPDX-License-Identifier: MIT
/*
 * Raw disk images for virtio-blk: open and lock the image, then run reads,
 * writes, flushes, discards and write-zeroes asynchronously through
 * io_uring (liburing), one ring per queue, completions signalled on one
 * eventfd. See block.h for the interface.
 *
 * Nothing here is guest memory by itself, but the requests come from a
 * guest: every request is checked against the image (inside it, aligned,
 * not a write to a read-only image) before a system call sees it, so a bug
 * in the device above cannot turn into a write outside the image.
 *
 * A request may take several sub-operations, run one after the other: the
 * rest of a short read or write, each range of a discard, write-zeroes
 * falling back from punching a hole to FALLOC_FL_ZERO_RANGE to writing
 * zeroes when the file system refuses, and copies through a bounce buffer
 * when cache=none (O_DIRECT) meets buffers that are not aligned in memory.
 * So each request has at most one sub-operation in flight, and a ring of
 * depth entries never overflows.
 *
 * cache modes: writeback (default) goes through the host page cache and
 * FLUSH is fdatasync (writes into the page cache run inline on the I/O
 * thread: see try_inline()); none opens with O_DIRECT (FLUSH is still
 * fdatasync, for the device's own cache and metadata); unsafe completes
 * FLUSH at once.
 * A FLUSH completes successfully only after fdatasync succeeded; after one
 * failed, every later FLUSH fails until block_clear_flush_error() (a device
 * reset), since the kernel may have dropped the dirty pages it could not
 * write.
 *
 * Without io_uring (an old kernel, a seccomp filter, or the
 * kernel.io_uring_disabled sysctl), io_uring_queue_init() fails: the
 * backend then warns once and runs each request synchronously with
 * preadv/pwritev/fdatasync/fallocate on the caller's thread, which is the
 * device's I/O thread, so vCPUs keep running and only the disk's own queue
 * processing waits. Completions still go through the eventfd and
 * block_poll(), so the device above sees no difference.
 */
#include "backends/block.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

#define BLOCK_MAX_DEPTH 4096u
/* Largest sub-operation through a bounce buffer or from the zero buffer. */
#define BOUNCE_CHUNK (64u << 10)
#define ZERO_CHUNK (1u << 20)
#define MAX_ALIGN (64u << 10)
/* Largest buffered write done inline (see try_inline()). */
#define INLINE_MAX (1u << 20)

enum zero_method {
	ZERO_UNSET,
	ZERO_PUNCH, /* FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE */
	ZERO_RANGE, /* FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE */
	ZERO_WRITE, /* pwritev from a buffer of zeroes */
};

enum sub_kind { SUB_READV, SUB_WRITEV, SUB_FSYNC, SUB_FALLOC };

struct subop {
	enum sub_kind kind;
	const struct iovec *iov;
	unsigned int iovcnt;
	uint64_t off, len; /* len: FALLOC only */
	int mode; /* FALLOC only */
};

struct block_queue {
	struct block *b;
	struct io_uring ring;
	bool has_ring;
	unsigned int inflight; /* accepted, done() not called yet */
	unsigned int ios; /* sub-operations in the ring, not reaped */
	unsigned int unsubmitted; /* prepared since the last submit */
	struct block_req *done_head, **done_tail;
};

struct block {
	char *path; /* for messages */
	int fd;
	int efd;
	bool readonly;
	enum disk_cache cache;
	bool async;
	uint64_t size;
	uint32_t align, mem_align, io_size;
	unsigned int depth, nr_queues;
	struct block_queue *queues;
	void *zeroes; /* ZERO_CHUNK bytes, allocated on first need */
	bool cancel; /* block_drain(): stop multi-part requests */
	bool flush_failed;
	bool no_punch, no_zero_range;
	bool no_nowait; /* pwritev2(RWF_NOWAIT) said EOPNOTSUPP */
	bool fail_flush; /* fault injection */
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* ---- iovec helpers (over the entries not yet consumed) ---- */

static void iov_consume(struct block_req *req, uint64_t n)
{
	while (n && req->iov_idx < req->iovcnt) {
		struct iovec *v = &req->iov[req->iov_idx];

		if (n < v->iov_len) {
			v->iov_base = (uint8_t *)v->iov_base + n;
			v->iov_len -= n;
			return;
		}
		n -= v->iov_len;
		v->iov_len = 0;
		req->iov_idx++;
	}
}

/* Copies len bytes between buf and the unconsumed iovecs. */
static void iov_copy(struct block_req *req, void *buf, uint64_t len,
		     bool to_iov)
{
	uint8_t *p = buf;
	unsigned int i;

	for (i = req->iov_idx; len && i < req->iovcnt; i++) {
		uint64_t n = req->iov[i].iov_len < len ? req->iov[i].iov_len :
							 len;

		if (to_iov)
			memcpy(req->iov[i].iov_base, p, n);
		else
			memcpy(p, req->iov[i].iov_base, n);
		p += n;
		len -= n;
	}
}

static void iov_zero_rest(struct block_req *req)
{
	unsigned int i;

	for (i = req->iov_idx; i < req->iovcnt; i++)
		memset(req->iov[i].iov_base, 0, req->iov[i].iov_len);
	req->iov_idx = req->iovcnt;
}

/* Whether O_DIRECT can use the buffers as they are. */
static bool iov_aligned(const struct block *b, const struct block_req *req)
{
	unsigned int i;

	for (i = req->iov_idx; i < req->iovcnt; i++) {
		if ((uintptr_t)req->iov[i].iov_base % b->mem_align ||
		    req->iov[i].iov_len % b->align)
			return false;
	}
	return true;
}

/* ---- the request state machine, shared by io_uring and the fallback ---- */

static void finish(struct block_queue *q, struct block_req *req, int result)
{
	req->result = result;
	free(req->bounce);
	req->bounce = NULL;
	req->next = NULL;
	*q->done_tail = req;
	q->done_tail = &req->next;
}

/* A buffer for O_DIRECT: aligned to the page or mem_align if larger. */
static void *alloc_io_buf(const struct block *b, size_t len)
{
	void *p;

	if (posix_memalign(&p, b->mem_align > 4096 ? b->mem_align : 4096, len))
		return NULL;
	return p;
}

static bool ensure_zeroes(struct block *b)
{
	if (!b->zeroes) {
		b->zeroes = alloc_io_buf(b, ZERO_CHUNK);
		if (!b->zeroes)
			return false;
		memset(b->zeroes, 0, ZERO_CHUNK);
	}
	return true;
}

/*
 * Describes the next sub-operation of req in *s. Returns 1 if there is one,
 * 0 when the request is complete, -errno when it failed.
 */
static int next_subop(struct block *b, struct block_req *req, struct subop *s)
{
	const struct block_range *r;
	uint64_t left;

	switch (req->op) {
	case BLOCK_READ:
	case BLOCK_WRITE:
		if (req->pos >= req->total)
			return 0;
		left = req->total - req->pos;
		s->kind = req->op == BLOCK_READ ? SUB_READV : SUB_WRITEV;
		s->off = req->offset + req->pos;
		/* Once bounced, the rest of the request is too. */
		if (req->bounce ||
		    (b->cache == DISK_CACHE_NONE && !iov_aligned(b, req))) {
			if (!req->bounce)
				req->bounce = alloc_io_buf(b, BOUNCE_CHUNK);
			if (!req->bounce)
				return -ENOMEM;
			req->chunk = left < BOUNCE_CHUNK ? left : BOUNCE_CHUNK;
			if (req->op == BLOCK_WRITE)
				iov_copy(req, req->bounce, req->chunk, false);
			req->one.iov_base = req->bounce;
			req->one.iov_len = req->chunk;
			s->iov = &req->one;
			s->iovcnt = 1;
		} else {
			req->chunk = left;
			s->iov = &req->iov[req->iov_idx];
			s->iovcnt = req->iovcnt - req->iov_idx;
		}
		return 1;
	case BLOCK_FLUSH:
		if (req->pos)
			return 0;
		s->kind = SUB_FSYNC;
		return 1;
	case BLOCK_DISCARD:
	case BLOCK_WRITE_ZEROES:
		break;
	}

	for (;;) {
		if (req->range_idx >= req->nr_ranges)
			return 0;
		r = &req->ranges[req->range_idx];
		if (req->pos < r->len &&
		    !(req->op == BLOCK_DISCARD && b->no_punch))
			break;
		req->range_idx++;
		req->pos = 0;
		req->zero_method = ZERO_UNSET;
	}
	left = r->len - req->pos;
	s->off = r->offset + req->pos;
	s->len = left;
	s->kind = SUB_FALLOC;
	if (req->op == BLOCK_DISCARD) {
		s->mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		return 1;
	}
	if (req->zero_method == ZERO_UNSET) {
		if (r->unmap && !b->no_punch)
			req->zero_method = ZERO_PUNCH;
		else if (!b->no_zero_range)
			req->zero_method = ZERO_RANGE;
		else
			req->zero_method = ZERO_WRITE;
	}
	switch (req->zero_method) {
	case ZERO_PUNCH:
		s->mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		return 1;
	case ZERO_RANGE:
		s->mode = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
		return 1;
	default:
		break;
	}
	if (!ensure_zeroes(b))
		return -ENOMEM;
	req->chunk = left < ZERO_CHUNK ? left : ZERO_CHUNK;
	req->one.iov_base = b->zeroes;
	req->one.iov_len = req->chunk;
	s->kind = SUB_WRITEV;
	s->iov = &req->one;
	s->iovcnt = 1;
	return 1;
}

static bool complete(const struct block_req *req)
{
	if (req->op == BLOCK_READ || req->op == BLOCK_WRITE)
		return req->pos >= req->total;
	return req->range_idx >= req->nr_ranges;
}

static bool fs_refused(int res)
{
	return res == -EOPNOTSUPP || res == -ENOSYS || res == -EINVAL ||
	       res == -ENOTTY;
}

/*
 * Accounts the result of req's last sub-operation. Returns 1 when the
 * request goes on, 0 when it is complete, -errno when it failed.
 */
static int handle_result(struct block *b, struct block_req *req, int res)
{
	const struct block_range *r;

	if (res == -EINTR || res == -EAGAIN)
		return b->cancel ? -ECANCELED : 1; /* same sub-operation */

	if (req->op == BLOCK_FLUSH && b->fail_flush)
		res = -EIO;

	switch (req->op) {
	case BLOCK_READ:
	case BLOCK_WRITE:
		if (res < 0)
			return res;
		if ((uint64_t)res > req->chunk)
			return -EIO; /* cannot happen; do not trust it */
		if (res == 0) {
			if (req->op == BLOCK_WRITE)
				return -EIO;
			/* End of file (it shrank): the rest reads as zeroes. */
			iov_zero_rest(req);
			req->pos = req->total;
			return 0;
		}
		if (req->op == BLOCK_READ && req->bounce)
			iov_copy(req, req->bounce, (uint64_t)res, true);
		iov_consume(req, (uint64_t)res);
		req->pos += (uint64_t)res;
		break;
	case BLOCK_FLUSH:
		if (res < 0) {
			b->flush_failed = true;
			return res;
		}
		req->pos = 1;
		return 0;
	case BLOCK_DISCARD:
		if (res < 0 && !fs_refused(res))
			return res;
		if (res < 0)
			b->no_punch = true; /* discard is only a hint */
		req->range_idx++;
		req->pos = 0;
		break;
	case BLOCK_WRITE_ZEROES:
		r = &req->ranges[req->range_idx];
		if (req->zero_method == ZERO_WRITE) {
			if (res < 0)
				return res;
			if (res == 0 || (uint64_t)res > req->chunk)
				return -EIO;
			req->pos += (uint64_t)res;
		} else if (res < 0) {
			if (!fs_refused(res))
				return res;
			if (req->zero_method == ZERO_PUNCH) {
				b->no_punch = true;
				req->zero_method = b->no_zero_range ?
							   ZERO_WRITE :
							   ZERO_RANGE;
			} else {
				b->no_zero_range = true;
				req->zero_method = ZERO_WRITE;
			}
		} else {
			req->pos = r->len;
		}
		if (req->pos >= r->len) {
			req->range_idx++;
			req->pos = 0;
			req->zero_method = ZERO_UNSET;
		}
		break;
	}
	if (b->cancel && !complete(req))
		return -ECANCELED;
	return 1;
}

static int run_sync(struct block *b, const struct subop *s)
{
	ssize_t n;

	switch (s->kind) {
	case SUB_READV:
		n = preadv(b->fd, s->iov, (int)s->iovcnt, (off_t)s->off);
		break;
	case SUB_WRITEV:
		n = pwritev(b->fd, s->iov, (int)s->iovcnt, (off_t)s->off);
		break;
	case SUB_FSYNC:
		n = fdatasync(b->fd);
		break;
	case SUB_FALLOC:
	default:
		n = fallocate(b->fd, s->mode, (off_t)s->off, (off_t)s->len);
		break;
	}
	if (n < 0)
		return -errno;
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

static int prep_uring(struct block_queue *q, struct block_req *req,
		      const struct subop *s)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);

	if (!sqe) {
		/* Cannot happen with one sub-operation per request. */
		io_uring_submit(&q->ring);
		q->unsubmitted = 0;
		sqe = io_uring_get_sqe(&q->ring);
		if (!sqe)
			return -EBUSY;
	}
	switch (s->kind) {
	case SUB_READV:
		io_uring_prep_readv(sqe, q->b->fd, s->iov, s->iovcnt, s->off);
		break;
	case SUB_WRITEV:
		io_uring_prep_writev(sqe, q->b->fd, s->iov, s->iovcnt, s->off);
		break;
	case SUB_FSYNC:
		io_uring_prep_fsync(sqe, q->b->fd, IORING_FSYNC_DATASYNC);
		break;
	case SUB_FALLOC:
		io_uring_prep_fallocate(sqe, q->b->fd, s->mode, (off_t)s->off,
					(off_t)s->len);
		break;
	}
	io_uring_sqe_set_data(sqe, req);
	q->ios++;
	q->unsubmitted++;
	return 0;
}

/*
 * A write through the page cache (cache=writeback or unsafe) runs on the
 * calling thread, the device's I/O thread, instead of in io_uring: io_uring
 * cannot do a buffered write without blocking on most file systems (tmpfs,
 * and any without FMODE_BUF_WASYNC), so it hands each one to an io-wq
 * worker thread and the request pays two thread wake-ups. In the nested
 * benchmark host (Linux 6.1, image on tmpfs) a 4 KiB write took 0.7-3.5 ms
 * that way and 19 us inline. pwritev2(RWF_NOWAIT) goes first, where the
 * file system has it, so that a write that would wait for I/O (dirty
 * throttling, a page to read in) still goes to io_uring; where it has not
 * (EOPNOTSUPP, remembered), a plain pwritev() of at most INLINE_MAX bytes
 * only copies into the page cache. cache=none (O_DIRECT) and reads stay
 * in io_uring, which completes page-cache reads without a worker.
 * Returns true when the write ran, with its result in *res.
 */
static bool try_inline(struct block *b, const struct block_req *req,
		       const struct subop *s, int *res)
{
	ssize_t n;

	if (s->kind != SUB_WRITEV || b->cache == DISK_CACHE_NONE ||
	    req->chunk > INLINE_MAX)
		return false;
	if (!b->no_nowait) {
		n = pwritev2(b->fd, s->iov, (int)s->iovcnt, (off_t)s->off,
			     RWF_NOWAIT);
		if (n < 0 && errno == EAGAIN)
			return false;
		if (n >= 0 || errno != EOPNOTSUPP) {
			*res = n < 0 ? -errno :
				       (n > INT32_MAX ? INT32_MAX : (int)n);
			return true;
		}
		b->no_nowait = true;
	}
	*res = run_sync(b, s);
	return true;
}

/* Starts req's next sub-operation, or finishes it. */
static void advance(struct block_queue *q, struct block_req *req)
{
	struct block *b = q->b;
	struct subop s = { 0 };
	int r, res;

	for (;;) {
		r = next_subop(b, req, &s);
		if (r <= 0) {
			finish(q, req, r);
			return;
		}
		if (!q->has_ring) {
			res = run_sync(b, &s);
		} else if (!try_inline(b, req, &s, &res)) {
			r = prep_uring(q, req, &s);
			if (r)
				finish(q, req, r);
			return;
		}
		r = handle_result(b, req, res);
		if (r <= 0) {
			finish(q, req, r);
			return;
		}
	}
}

static void submit_ring(struct block_queue *q)
{
	static struct log_ratelimit rl;
	unsigned int tries;
	int r;

	if (!q->has_ring || !q->unsubmitted)
		return;
	for (tries = 0; tries < 1000; tries++) {
		r = io_uring_submit(&q->ring);
		if (r >= 0) {
			q->unsubmitted = 0;
			return;
		}
		if (r != -EINTR && r != -EAGAIN && r != -EBUSY)
			break;
	}
	/*
	 * The kernel refused for now (out of memory): the entries stay in
	 * the ring and the next kick or poll submits them again.
	 */
	if (log_ratelimit_ok(&rl))
		log_warn("disk '%s': io_uring_submit: %s", q->b->path,
			 strerror(-r));
}

static void reap(struct block_queue *q)
{
	struct io_uring_cqe *cqe;
	struct block_req *req;
	int res, r;

	while (q->has_ring && io_uring_peek_cqe(&q->ring, &cqe) == 0) {
		req = io_uring_cqe_get_data(cqe);
		res = cqe->res;
		io_uring_cqe_seen(&q->ring, cqe);
		if (!req)
			continue;
		q->ios--;
		r = handle_result(q->b, req, res);
		if (r <= 0)
			finish(q, req, r);
		else
			advance(q, req);
	}
}

static void report_done(struct block_queue *q)
{
	struct block_req *req = q->done_head;

	q->done_head = NULL;
	q->done_tail = &q->done_head;
	while (req) {
		struct block_req *next = req->next;

		q->inflight--;
		req->done(req, req->result);
		req = next;
	}
}

/* ---- interface ---- */

static bool range_ok(const struct block *b, uint64_t off, uint64_t len)
{
	return off % b->align == 0 && len % b->align == 0 && off <= b->size &&
	       len <= b->size - off;
}

int block_submit(struct block *b, unsigned int qi, struct block_req *req)
{
	struct block_queue *q;
	uint64_t total = 0;
	unsigned int i;

	if (qi >= b->nr_queues)
		return -EINVAL;
	q = &b->queues[qi];
	if (q->inflight >= b->depth)
		return -EBUSY;

	switch (req->op) {
	case BLOCK_READ:
	case BLOCK_WRITE:
		if (req->op == BLOCK_WRITE && b->readonly)
			return -EROFS;
		if (req->iovcnt > IOV_MAX || (req->iovcnt && !req->iov))
			return -EINVAL;
		for (i = 0; i < req->iovcnt; i++) {
			if (req->iov[i].iov_len > b->size - total)
				return -EINVAL;
			total += req->iov[i].iov_len;
		}
		if (!range_ok(b, req->offset, total))
			return -EINVAL;
		break;
	case BLOCK_FLUSH:
		break;
	case BLOCK_DISCARD:
	case BLOCK_WRITE_ZEROES:
		if (b->readonly)
			return -EROFS;
		if (req->nr_ranges && !req->ranges)
			return -EINVAL;
		for (i = 0; i < req->nr_ranges; i++)
			if (!range_ok(b, req->ranges[i].offset,
				      req->ranges[i].len))
				return -EINVAL;
		break;
	default:
		return -EINVAL;
	}

	req->q = q;
	req->total = total;
	req->pos = 0;
	req->iov_idx = 0;
	req->range_idx = 0;
	req->zero_method = ZERO_UNSET;
	req->chunk = 0;
	req->bounce = NULL;
	req->one = (struct iovec){ 0 };
	req->result = 0;
	req->next = NULL;
	q->inflight++;

	if (req->op == BLOCK_FLUSH &&
	    (b->flush_failed || b->readonly || b->cache == DISK_CACHE_UNSAFE)) {
		finish(q, req, b->flush_failed ? -EIO : 0);
	} else {
		advance(q, req);
	}
	/* Finished at once (fallback, or nothing to do): report it soon. */
	if (q->done_head)
		eventfd_write(b->efd, 1);
	return 0;
}

void block_kick(struct block *b, unsigned int qi)
{
	if (qi < b->nr_queues)
		submit_ring(&b->queues[qi]);
}

unsigned int block_inflight(const struct block *b, unsigned int qi)
{
	return qi < b->nr_queues ? b->queues[qi].inflight : 0;
}

void block_poll(struct block *b)
{
	eventfd_t v;
	unsigned int i;

	eventfd_read(b->efd, &v); /* non-blocking; may be 0 already */
	for (i = 0; i < b->nr_queues; i++) {
		reap(&b->queues[i]);
		submit_ring(&b->queues[i]);
	}
	for (i = 0; i < b->nr_queues; i++)
		report_done(&b->queues[i]);
}

void block_drain(struct block *b)
{
	struct io_uring_cqe *cqe;
	bool busy;
	unsigned int i;
	int r;

	b->cancel = true;
	do {
		busy = false;
		for (i = 0; i < b->nr_queues; i++) {
			struct block_queue *q = &b->queues[i];

			if (q->has_ring && q->ios) {
				submit_ring(q);
				r = io_uring_wait_cqe(&q->ring, &cqe);
				if (r < 0 && r != -EINTR && r != -EAGAIN) {
					/* Broken ring: nothing left to wait on. */
					log_err("disk '%s': waiting for I/O: "
						"%s",
						b->path, strerror(-r));
					b->cancel = false;
					return;
				}
				reap(q);
			}
			report_done(q);
			if (q->inflight)
				busy = true;
		}
	} while (busy);
	b->cancel = false;
}

void block_clear_flush_error(struct block *b)
{
	b->flush_failed = false;
}

uint64_t block_size(const struct block *b)
{
	return b->size;
}

uint32_t block_align(const struct block *b)
{
	return b->align;
}

uint32_t block_io_size(const struct block *b)
{
	return b->io_size;
}

bool block_readonly(const struct block *b)
{
	return b->readonly;
}

bool block_async(const struct block *b)
{
	return b->async;
}

int block_event_fd(const struct block *b)
{
	return b->efd;
}

/* ---- open and close ---- */

static int open_image(struct block *b, char *err, size_t errlen)
{
	int flags = O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	int e;

	flags |= b->readonly ? O_RDONLY : O_RDWR;
	if (b->cache == DISK_CACHE_NONE)
		flags |= O_DIRECT;
	b->fd = open(b->path, flags);
	if (b->fd >= 0)
		return 0;
	e = errno;
	if (e == EINVAL && b->cache == DISK_CACHE_NONE)
		set_err(err, errlen,
			"disk '%s': cache=none needs direct I/O (O_DIRECT), "
			"which its file system does not support; use "
			"cache=writeback",
			b->path);
	else if ((e == EROFS || e == EACCES || e == EPERM) && !b->readonly)
		set_err(err, errlen,
			"disk '%s': cannot open it for writing: %s (add "
			"readonly=on for a read-only disk)",
			b->path, strerror(e));
	else
		set_err(err, errlen, "disk '%s': %s", b->path, strerror(e));
	return -e;
}

static int lock_image(struct block *b, char *err, size_t errlen)
{
	struct flock fl = {
		.l_type = b->readonly ? F_RDLCK : F_WRLCK,
		.l_whence = SEEK_SET,
		.l_start = 0,
		.l_len = 0, /* the whole file */
	};
	int e;

	if (fcntl(b->fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	e = errno;
	if (e == EAGAIN || e == EACCES)
		set_err(err, errlen,
			"disk '%s' is in use by another process (its lock is "
			"held)%s",
			b->path,
			b->readonly ?
				"; another process has it open for writing" :
				"; stop the other user, or give both "
				"readonly=on");
	else
		set_err(err, errlen, "disk '%s': cannot lock it: %s", b->path,
			strerror(e));
	return -e;
}

/* Size and, with cache=none, the direct-I/O alignment. */
static int probe_image(struct block *b, char *err, size_t errlen)
{
	struct statx stx;
	struct stat st;
	uint64_t size;
	int e, v;

	if (fstat(b->fd, &st)) {
		e = errno;
		set_err(err, errlen, "disk '%s': %s", b->path, strerror(e));
		return -e;
	}
	if (S_ISDIR(st.st_mode)) {
		set_err(err, errlen, "disk '%s' is a directory, not an image",
			b->path);
		return -EISDIR;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		set_err(err, errlen,
			"disk '%s' is neither a regular file nor a block "
			"device",
			b->path);
		return -EINVAL;
	}
	b->io_size = is_pow2((uint64_t)st.st_blksize) &&
				     st.st_blksize >= BLOCK_SECTOR &&
				     st.st_blksize <= MAX_ALIGN ?
			     (uint32_t)st.st_blksize :
			     4096;
	b->align = BLOCK_SECTOR;
	b->mem_align = BLOCK_SECTOR;

	if (S_ISBLK(st.st_mode)) {
		if (ioctl(b->fd, BLKGETSIZE64, &size)) {
			e = errno;
			set_err(err, errlen,
				"disk '%s': cannot get its size: %s", b->path,
				strerror(e));
			return -e;
		}
		if (b->cache == DISK_CACHE_NONE &&
		    ioctl(b->fd, BLKSSZGET, &v) == 0 && v > 0) {
			b->align = (uint32_t)v;
			b->mem_align = (uint32_t)v;
		}
	} else {
		size = (uint64_t)st.st_size;
		if (b->cache == DISK_CACHE_NONE) {
			/*
			 * Linux 6.1+ tells the direct-I/O alignment; before
			 * that, assume 512-byte offsets and page-aligned
			 * memory (requests that break a stricter rule fail
			 * with EINVAL, reported to the guest as IOERR).
			 */
			b->mem_align = 4096;
			if (statx(b->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN,
				  &stx) == 0 &&
			    (stx.stx_mask & STATX_DIOALIGN)) {
				if (!stx.stx_dio_offset_align) {
					set_err(err, errlen,
						"disk '%s': its file system "
						"does not support direct I/O; "
						"use cache=writeback",
						b->path);
					return -EINVAL;
				}
				b->align = stx.stx_dio_offset_align;
				b->mem_align = stx.stx_dio_mem_align ?
						       stx.stx_dio_mem_align :
						       1;
			}
		}
	}
	if (b->align < BLOCK_SECTOR)
		b->align = BLOCK_SECTOR;
	if (!is_pow2(b->align) || b->align > MAX_ALIGN ||
	    !is_pow2(b->mem_align) || b->mem_align > MAX_ALIGN) {
		set_err(err, errlen,
			"disk '%s': unsupported direct-I/O alignment (%u bytes "
			"of offset, %u of memory); use cache=writeback",
			b->path, b->align, b->mem_align);
		return -EINVAL;
	}
	if (size % b->align)
		log_warn("disk '%s': its size (%llu bytes) is not a multiple "
			 "of %u bytes; the last %llu bytes are not used",
			 b->path, (unsigned long long)size, b->align,
			 (unsigned long long)(size % b->align));
	b->size = size - size % b->align;
	return 0;
}

static void close_rings(struct block *b)
{
	unsigned int i;

	for (i = 0; i < b->nr_queues; i++) {
		if (b->queues[i].has_ring) {
			io_uring_queue_exit(&b->queues[i].ring);
			b->queues[i].has_ring = false;
		}
	}
}

static int setup_queues(struct block *b, bool force_sync)
{
	unsigned int i;
	int r = 0;

	b->queues = calloc(b->nr_queues, sizeof(*b->queues));
	if (!b->queues)
		return -ENOMEM;
	for (i = 0; i < b->nr_queues; i++) {
		b->queues[i].b = b;
		b->queues[i].done_tail = &b->queues[i].done_head;
	}
	if (force_sync)
		return 0;
	for (i = 0; i < b->nr_queues; i++) {
		struct block_queue *q = &b->queues[i];

		r = io_uring_queue_init(b->depth, &q->ring, 0);
		if (r)
			break;
		q->has_ring = true;
		r = io_uring_register_eventfd(&q->ring, b->efd);
		if (r)
			break;
	}
	if (r) {
		static bool warned;

		close_rings(b);
		if (!warned)
			log_warn("disk '%s': io_uring is not available (%s); "
				 "disk I/O runs synchronously on each disk's "
				 "I/O thread",
				 b->path, strerror(-r));
		warned = true;
		return 0;
	}
	b->async = true;
	return 0;
}

int block_open(struct block **out, const struct block_opts *opts, char *err,
	       size_t errlen)
{
	struct block *b;
	int r, fl;

	*out = NULL;
	if (!opts->path || !opts->path[0]) {
		set_err(err, errlen, "disk: no path given");
		return -EINVAL;
	}
	if (!opts->nr_queues || opts->nr_queues > CONFIG_MAX_DISK_QUEUES ||
	    !opts->depth || opts->depth > BLOCK_MAX_DEPTH) {
		set_err(err, errlen, "disk '%s': bad queue count or depth",
			opts->path);
		return -EINVAL;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		goto nomem;
	b->fd = -1;
	b->efd = -1;
	b->readonly = opts->readonly;
	b->cache = opts->cache;
	b->nr_queues = opts->nr_queues;
	b->depth = opts->depth;
	b->no_punch = opts->no_fallocate;
	b->no_zero_range = opts->no_fallocate;
	b->fail_flush = opts->fail_flush;
	b->path = strdup(opts->path);
	if (!b->path)
		goto nomem_free;

	r = open_image(b, err, errlen);
	if (r)
		goto fail;
	r = probe_image(b, err, errlen);
	if (r)
		goto fail;
	/* O_NONBLOCK only kept open() from hanging on a FIFO. */
	fl = fcntl(b->fd, F_GETFL);
	if (fl >= 0)
		fcntl(b->fd, F_SETFL, fl & ~O_NONBLOCK);
	r = lock_image(b, err, errlen);
	if (r)
		goto fail;

	b->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->efd < 0) {
		r = -errno;
		set_err(err, errlen, "disk '%s': eventfd: %s", b->path,
			strerror(-r));
		goto fail;
	}
	r = setup_queues(b, opts->force_sync);
	if (r) {
		set_err(err, errlen, "disk '%s': %s", b->path, strerror(-r));
		goto fail;
	}
	*out = b;
	return 0;

nomem_free:
	free(b);
nomem:
	set_err(err, errlen, "disk '%s': out of memory", opts->path);
	return -ENOMEM;
fail:
	block_close(b);
	return r;
}

void block_close(struct block *b)
{
	if (!b)
		return;
	if (b->queues) {
		block_drain(b);
		close_rings(b);
		free(b->queues);
	}
	if (b->efd >= 0)
		close(b->efd);
	if (b->fd >= 0)
		close(b->fd); /* drops the OFD lock */
	free(b->zeroes);
	free(b->path);
	free(b);
}
