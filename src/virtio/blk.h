/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk (virtio 1.x, section 5.2): one PCI device per --disk, served
 * by the block backend (backends/block.h). See blk.c.
 *
 * The request parser is exported for the unit tests and the fuzzer: it
 * turns one guest request (a virtq_elem) into a checked description of the
 * work, or a status to complete it with.
 */
#ifndef MICA_VIRTIO_BLK_H
#define MICA_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "backends/block.h"
#include "devices/device.h"
#include "virtio/virtqueue.h"

extern const struct device_type virtio_blk_type;

/* Feature bits (5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_GEOMETRY 4
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_TOPOLOGY 10
#define VIRTIO_BLK_F_CONFIG_WCE 11
#define VIRTIO_BLK_F_MQ 12
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* struct virtio_blk_config (5.2.4): byte offsets of the fields mica fills. */
#define VIRTIO_BLK_CFG_CAPACITY 0 /* le64, in 512-byte sectors */
#define VIRTIO_BLK_CFG_SIZE_MAX 8 /* le32 */
#define VIRTIO_BLK_CFG_SEG_MAX 12 /* le32 */
#define VIRTIO_BLK_CFG_GEOMETRY 16 /* le16 cylinders, u8 heads, sectors */
#define VIRTIO_BLK_CFG_BLK_SIZE 20 /* le32 */
#define VIRTIO_BLK_CFG_TOPOLOGY 24 /* 8 bytes */
#define VIRTIO_BLK_CFG_WRITEBACK 32 /* u8 */
#define VIRTIO_BLK_CFG_NUM_QUEUES 34 /* le16 */
#define VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS 36 /* le32 */
#define VIRTIO_BLK_CFG_MAX_DISCARD_SEG 40 /* le32 */
#define VIRTIO_BLK_CFG_DISCARD_ALIGN 44 /* le32, sectors */
#define VIRTIO_BLK_CFG_MAX_WZ_SECTORS 48 /* le32 */
#define VIRTIO_BLK_CFG_MAX_WZ_SEG 52 /* le32 */
#define VIRTIO_BLK_CFG_WZ_MAY_UNMAP 56 /* u8 */
#define VIRTIO_BLK_CFG_SIZE 60

/* Request types and status values (5.2.6). */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_HDR_SIZE 16 /* le32 type, le32 reserved, le64 sector */
#define VIRTIO_BLK_SEG_SIZE 16 /* le64 sector, le32 num_sectors, le32 flags */
#define VIRTIO_BLK_WZ_FLAG_UNMAP 1u
#define VIRTIO_BLK_ID_BYTES 20

/* What mica offers; the parser enforces the same limits. */
#define VIRTIO_BLK_QUEUE_SIZE 256
#define VIRTIO_BLK_SEG_MAX (VIRTIO_BLK_QUEUE_SIZE - 2) /* + header, status */
#define VIRTIO_BLK_SIZE_MAX (1u << 20)
#define VIRTIO_BLK_MAX_RANGES 32 /* max_discard_seg, max_write_zeroes_seg */
#define VIRTIO_BLK_MAX_RANGE_SECTORS (1u << 21) /* 1 GiB per range */

/*
 * Requests that completed successfully, per disk: counted by the disk's I/O
 * thread, read from any thread (the control API's stats).
 */
struct virtio_blk_stats {
	uint64_t read_bytes, write_bytes, read_ops, write_ops, flushes;
};

/*
 * Disk i of a realized virtio_blk_type state: its name ("virtio-blk0")
 * and counters. Returns 0, or -ENOENT past the last disk. Any thread.
 */
int virtio_blk_get_stats(void *state, unsigned int i, const char **name,
			 struct virtio_blk_stats *out);

/* What a request is checked against. */
struct virtio_blk_limits {
	uint64_t capacity; /* 512-byte sectors */
	uint32_t blk_size; /* bytes; offsets and lengths are multiples */
	bool readonly;
	uint64_t features; /* negotiated: DISCARD, WRITE_ZEROES */
};

struct virtio_blk_parsed {
	uint32_t type; /* VIRTIO_BLK_T_*, as the guest wrote it */
	/* VIRTIO_BLK_S_OK: do the work below; else complete with this. */
	uint8_t status;
	uint64_t offset; /* IN/OUT: byte offset in the disk */
	/* IN/OUT: data bytes (in iov[]); GET_ID: bytes of ID to write */
	uint64_t len;
	unsigned int nr_iov;
	unsigned int nr_ranges; /* DISCARD/WRITE_ZEROES */
	struct block_range ranges[VIRTIO_BLK_MAX_RANGES];
};

/*
 * Parses and checks one request. iov must have room for elem->nr_out +
 * elem->nr_in entries; the data segments of an IN or OUT request go there
 * (the header and the status byte cut off). Returns 0 with p->status set,
 * or -EINVAL when the chain has no device-writable byte for the status
 * (the request cannot even be failed: the device needs a reset).
 */
int virtio_blk_parse(const struct virtio_blk_limits *lim,
		     const struct virtq_elem *elem, struct iovec *iov,
		     struct virtio_blk_parsed *p);

#endif
