/* SPDX-License-Identifier: MIT */
/*
 * The block backend: a raw disk image (a regular file or a block device)
 * with asynchronous I/O through io_uring. Host side only: it never sees a
 * guest address, only the iovecs its user hands it.
 *
 * One backend serves one disk and has nr_queues submission queues (one
 * io_uring each), so that each virtqueue of a multi-queue disk submits and
 * completes on its own ring. All queues signal one eventfd
 * (block_event_fd()), which the user watches on its I/O thread and answers
 * with block_poll(). Everything here runs on that one thread; no locks.
 *
 * The image is locked with an open file description lock (F_OFD_SETLK):
 * a write lock for a read-write disk, a read lock for a read-only one. A
 * second mica, or a second open of the same image in this process, then
 * fails with a message naming the file, instead of two writers corrupting
 * the image.
 */
#ifndef MICA_BACKENDS_BLOCK_H
#define MICA_BACKENDS_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "config/config.h"

#define BLOCK_SECTOR 512u

enum block_op {
	BLOCK_READ, /* preadv into iov */
	BLOCK_WRITE, /* pwritev from iov */
	BLOCK_FLUSH, /* fdatasync (no-op with cache=unsafe) */
	BLOCK_DISCARD, /* punch holes; advisory */
	BLOCK_WRITE_ZEROES, /* ranges read back as zeroes afterwards */
};

/* A byte range of BLOCK_DISCARD or BLOCK_WRITE_ZEROES. */
struct block_range {
	uint64_t offset, len;
	bool unmap; /* WRITE_ZEROES: may deallocate (punch a hole) */
};

struct block_queue;

/*
 * One request. The caller fills in the first part and keeps the request,
 * its iovecs and its ranges alive until done() is called.
 */
struct block_req {
	enum block_op op;
	uint64_t offset; /* READ/WRITE: byte offset in the image */
	/*
	 * READ/WRITE buffers. The backend advances the entries in place
	 * (iov_base, iov_len) as parts of the transfer complete.
	 */
	struct iovec *iov;
	unsigned int iovcnt;
	const struct block_range *ranges; /* DISCARD/WRITE_ZEROES */
	unsigned int nr_ranges;
	/*
	 * Called from block_poll() or block_drain() (never from inside
	 * block_submit()) with 0 or -errno. A request cancelled by
	 * block_drain() may end with -ECANCELED.
	 */
	void (*done)(struct block_req *req, int result);
	void *opaque; /* the caller's */

	/* Backend state. */
	struct block_queue *q;
	uint64_t total; /* READ/WRITE: bytes in iov */
	uint64_t pos; /* bytes done (READ/WRITE) or of the current range */
	unsigned int iov_idx; /* first iov entry not yet consumed */
	unsigned int range_idx;
	int zero_method; /* WRITE_ZEROES: see block.c */
	uint64_t chunk; /* bytes asked for by the sub-operation in flight */
	void *bounce; /* cache=none: aligned copy of unaligned buffers */
	struct iovec one; /* the sub-operation's iovec (bounce, zeroes) */
	int result;
	struct block_req *next; /* finished, waiting for block_poll */
};

struct block_opts {
	const char *path;
	bool readonly;
	enum disk_cache cache;
	unsigned int nr_queues; /* 1..CONFIG_MAX_DISK_QUEUES */
	unsigned int depth; /* requests in flight per queue, <= 4096 */
	/* Fault injection, for tests. */
	bool force_sync; /* use the synchronous fallback */
	bool no_fallocate; /* act as if the file system refused fallocate */
	bool fail_flush; /* fdatasync fails with EIO */
};

struct block;

/*
 * Opens and locks the image. Returns 0, or -errno with a message naming
 * the file in err.
 */
int block_open(struct block **out, const struct block_opts *opts, char *err,
	       size_t errlen);
/* Waits for everything in flight (done() is called), then closes. */
void block_close(struct block *b);

/* Usable size in bytes: the file's, rounded down to block_align(). */
uint64_t block_size(const struct block *b);
/*
 * Granularity of offsets and lengths: 512, or with cache=none the larger
 * direct-I/O alignment the file system asks for.
 */
uint32_t block_align(const struct block *b);
/* The file system's preferred I/O size (st_blksize), a power of two. */
uint32_t block_io_size(const struct block *b);
bool block_readonly(const struct block *b);
/* Whether I/O goes through io_uring (false: the synchronous fallback). */
bool block_async(const struct block *b);

/* Readable when requests finished: watch it and call block_poll(). */
int block_event_fd(const struct block *b);

/*
 * Queues req on queue q. Returns 0 (done() will be called), or without
 * calling done(): -EBUSY when q already has depth requests in flight,
 * -EROFS for a write to a read-only image, -EINVAL for a request outside
 * the image, misaligned or with too many iovecs. The work starts at the
 * next block_kick().
 */
int block_submit(struct block *b, unsigned int q, struct block_req *req);
/* Starts the requests queued on q since the last kick. */
void block_kick(struct block *b, unsigned int q);
/* Requests in flight on queue q. */
unsigned int block_inflight(const struct block *b, unsigned int q);

/*
 * Reports finished requests through their done(), and starts the next
 * part of requests that need several (short transfers, several ranges,
 * bounce buffers). done() may call block_submit() and block_kick().
 */
void block_poll(struct block *b);

/*
 * Stops multi-part requests after their current part and waits for every
 * request in flight on every queue, calling done(). Afterwards no I/O of
 * this backend touches any buffer it was given.
 */
void block_drain(struct block *b);

/*
 * After a failed fdatasync every later FLUSH fails too (the kernel may have
 * dropped the dirty data), until the device is reset and calls this.
 */
void block_clear_flush_error(struct block *b);

#endif
