/* SPDX-License-Identifier: MIT */
/*
 * The host side of a virtio-net device: a network backend. slirp.c is
 * user-mode networking (libslirp), tap.c a tap device. Backends never hold
 * guest pointers beyond one call: the device lends them iovecs (which may
 * point into guest RAM, translated by virtqueue.c) for the duration of
 * send() or recv().
 *
 * Frames cross this interface with the virtio-net header in front, struct
 * virtio_net_hdr_v1 (virtio 1.x, 5.1.6): 12 bytes, little-endian, then the
 * Ethernet frame (destination MAC first, no FCS).
 *
 * Threads: every call below, and every callback through struct net_port,
 * happens on the device's I/O thread, except net_*_new() and destroy(),
 * which run on the thread that builds and tears down the VM while the I/O
 * thread is stopped or not yet using the backend. A backend that needs a
 * thread of its own hides it behind this interface.
 *
 * Flow control:
 *  - tx: send() returns -EAGAIN when the backend cannot take the frame now;
 *    the device keeps it and calls send() again after the backend called
 *    port->tx_ready().
 *  - rx: while enabled (rx_enable(true)), the backend calls port->rx_ready()
 *    when frames may be waiting; the device then calls recv() until it
 *    returns -EAGAIN or the guest runs out of buffers. With rx disabled the
 *    backend stops reading from the host (a tap fd is no longer polled,
 *    slirp stops reading its sockets once its small queue is full): the
 *    host's own buffers and TCP flow control hold the rest.
 */
#ifndef MICA_BACKENDS_NET_H
#define MICA_BACKENDS_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "util/loop.h"

/* struct virtio_net_hdr_v1: all fields little-endian. */
struct virtio_net_hdr_v1 {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
} __attribute__((packed));

#define NET_HDR_LEN 12u

#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2

#define VIRTIO_NET_HDR_GSO_NONE 0
#define VIRTIO_NET_HDR_GSO_TCPV4 1
#define VIRTIO_NET_HDR_GSO_UDP 3
#define VIRTIO_NET_HDR_GSO_TCPV6 4
#define VIRTIO_NET_HDR_GSO_ECN 0x80

#define NET_ETH_HLEN 14u
#define NET_VLAN_HLEN 4u
/*
 * Largest frame either way: a 64 KiB GSO packet behind an Ethernet header
 * with one VLAN tag. Larger frames are dropped.
 */
#define NET_MAX_FRAME (65536u + NET_ETH_HLEN + NET_VLAN_HLEN)
#define NET_MIN_FRAME NET_ETH_HLEN

/*
 * Offloads for frames towards the guest (set_offloads()): which the guest
 * accepts. Frames from the guest may carry partial checksums and GSO when
 * the backend has `offloads` at all; the device only forwards what it
 * negotiated.
 */
#define NET_OFFLOAD_CSUM (1u << 0) /* partial checksums (NEEDS_CSUM) */
#define NET_OFFLOAD_TSO4 (1u << 1)
#define NET_OFFLOAD_TSO6 (1u << 2)
#define NET_OFFLOAD_ECN (1u << 3) /* TSO with the ECN bit */

/* What a backend may ask of the device it serves; on the I/O thread. */
struct net_port {
	/* Watch fd with fn on the device's I/O thread. Returns 0 or -errno. */
	int (*watch)(void *opaque, int fd, uint32_t events, loop_fn fn,
		     void *fn_opaque);
	void (*unwatch)(void *opaque, int fd);
	/* Frames may be waiting for recv(). */
	void (*rx_ready)(void *opaque);
	/* send() may succeed again after -EAGAIN. */
	void (*tx_ready)(void *opaque);
	void *opaque;
};

struct netbe;

struct netbe_ops {
	/*
	 * Connects the backend to its device (once, before the first other
	 * call). port is the device's and outlives the backend's use of it.
	 */
	int (*attach)(struct netbe *be, const struct net_port *port);
	/*
	 * Sends one frame: the iovecs hold the header and the frame, in that
	 * order (the header may be split across iovecs). Returns 0 when the
	 * frame went out or was dropped on purpose (counted), -EAGAIN when
	 * the device must keep it and retry after tx_ready(), other -errno
	 * when the backend rejected it (the device counts it and drops it).
	 */
	int (*send)(struct netbe *be, const struct iovec *iov,
		    unsigned int iovcnt);
	/*
	 * Receives the next frame into iov: the header, then the frame. The
	 * header's num_buffers is left to the device. Returns the bytes
	 * written (header included), -EAGAIN when there is none, -EMSGSIZE
	 * when it does not fit (it stays first in line; peek() tells its
	 * size). iov NULL, iovcnt 0: drops the next frame and returns its
	 * length.
	 */
	ssize_t (*recv)(struct netbe *be, const struct iovec *iov,
			unsigned int iovcnt);
	/* Bytes the next frame needs (header included), or -EAGAIN. */
	ssize_t (*peek)(struct netbe *be);
	/* Starts or stops reading from the host (see flow control above). */
	void (*rx_enable)(struct netbe *be, bool on);
	/* NET_OFFLOAD_* the guest accepts; 0 unless `offloads`. */
	int (*set_offloads)(struct netbe *be, uint32_t offloads);
	/*
	 * Device reset: forgets frames waiting for the guest, stops rx, and
	 * drops a pending tx_ready().
	 */
	void (*reset)(struct netbe *be);
	/* Frees everything; the port is not called any more. */
	void (*destroy)(struct netbe *be);
};

struct netbe_stats {
	uint64_t tx_frames, tx_dropped; /* guest to host */
	uint64_t rx_frames, rx_dropped; /* host to guest */
};

struct netbe {
	const struct netbe_ops *ops;
	const char *kind; /* "user" or "tap", for messages */
	/*
	 * Accepts partial checksums and GSO from the guest (tx) and can be
	 * told with set_offloads() to deliver them (rx). Without it frames
	 * must be complete, with valid checksums, both ways.
	 */
	bool offloads;
	uint16_t mtu; /* the link's MTU to advertise; 0: none */
	const struct net_port *port; /* set by attach() */
	/* Counted by the backend; read on the I/O thread or when stopped. */
	struct netbe_stats stats;
};

/* Total bytes of an iovec array. */
static inline size_t net_iov_len(const struct iovec *iov, unsigned int n)
{
	size_t len = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		len += iov[i].iov_len;
	return len;
}

/*
 * Copies len bytes between buf and an iovec array from byte offset off of
 * the array, into the iovecs if to_iov. Returns the bytes copied (fewer
 * when the iovecs end first). buf is only read when to_iov.
 */
static inline size_t net_iov_copy(const struct iovec *iov, unsigned int n,
				  size_t off, void *buf, size_t len,
				  bool to_iov)
{
	size_t done = 0;
	unsigned int i;

	for (i = 0; i < n && done < len; i++) {
		size_t seg = iov[i].iov_len, chunk;
		uint8_t *p;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		p = (uint8_t *)iov[i].iov_base + off;
		chunk = seg - off < len - done ? seg - off : len - done;
		if (to_iov)
			memcpy(p, (uint8_t *)buf + done, chunk);
		else
			memcpy((uint8_t *)buf + done, p, chunk);
		done += chunk;
		off = 0;
	}
	return done;
}

static inline size_t net_iov_to_buf(const struct iovec *iov, unsigned int n,
				    size_t off, void *buf, size_t len)
{
	return net_iov_copy(iov, n, off, buf, len, false);
}

static inline size_t net_buf_to_iov(const struct iovec *iov, unsigned int n,
				    size_t off, const void *buf, size_t len)
{
	return net_iov_copy(iov, n, off, (void *)buf, len, true);
}

#endif
