/* SPDX-License-Identifier: MIT */
/* virtio-net: see net.c. */
#ifndef MICA_VIRTIO_NET_H
#define MICA_VIRTIO_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backends/net.h"
#include "devices/device.h"
#include "virtio/virtio.h"

extern const struct device_type virtio_net_type;

/* Feature bits (virtio 1.x, 5.1.3). */
#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MTU 3
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN 9
#define VIRTIO_NET_F_GUEST_UFO 10
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12
#define VIRTIO_NET_F_HOST_ECN 13
#define VIRTIO_NET_F_HOST_UFO 14
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_F_CTRL_VQ 17

/* Configuration space (5.1.4): mac[6], status, max_virtqueue_pairs, mtu. */
#define VIRTIO_NET_CFG_MAC 0
#define VIRTIO_NET_CFG_STATUS 6
#define VIRTIO_NET_CFG_MAX_PAIRS 8
#define VIRTIO_NET_CFG_MTU 10
#define VIRTIO_NET_CFG_SIZE 12
#define VIRTIO_NET_S_LINK_UP 1

#define VIRTIO_NET_RXQ 0
#define VIRTIO_NET_TXQ 1
#define VIRTIO_NET_NR_QUEUES 2
#define VIRTIO_NET_QUEUE_SIZE 256

/*
 * What the device counted: written by its I/O thread alone (relaxed
 * atomics), read from any thread (the control API's stats).
 */
struct virtio_net_stats {
	_Atomic uint64_t tx_frames; /* handed to the backend */
	/* too large, too small, bad header, refused by the backend */
	_Atomic uint64_t tx_dropped;
	_Atomic uint64_t tx_bad_chains; /* no room for the header: NEEDS_RESET */
	_Atomic uint64_t rx_frames; /* delivered to the guest */
	_Atomic uint64_t rx_dropped; /* larger than the guest's buffers */
	_Atomic uint64_t tx_bytes; /* of frames handed on, without headers */
	_Atomic uint64_t rx_bytes; /* of frames delivered, without headers */
};

/* A snapshot of one interface's counters, for the control API. */
struct virtio_net_counters {
	uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets, dropped;
};

struct virtio_net;

/*
 * Makes a virtio-net PCI function named name (e.g. "virtio-net0") on host
 * with backend be (taken: destroyed with the device, or now on failure).
 * realize() does this for each --net; tests do it with a fake backend.
 * Returns 0, or -errno with a message in err.
 */
int virtio_net_new(struct virtio_net **out, const struct device_host *host,
		   const char *name, struct netbe *be, const uint8_t mac[6],
		   char *err, size_t errlen);
/* Unplugs the function (its I/O thread resets it) and frees everything. */
void virtio_net_destroy(struct virtio_net *n);

/* Link status for the guest (VIRTIO_NET_S_LINK_UP). Any thread. */
void virtio_net_set_link(struct virtio_net *n, bool up);
/* The device's counters; any thread. */
const struct virtio_net_stats *virtio_net_stats(const struct virtio_net *n);
/*
 * Interface i of a realized virtio_net_type state: its name and counters.
 * Returns 0, or -ENOENT past the last one. Any thread.
 */
int virtio_net_get_counters(void *state, unsigned int i, const char **name,
			    struct virtio_net_counters *out);

/*
 * The device without a transport, for the fuzzer: the caller plays the
 * transport. It calls the device's ops (virtio_net_ops(), with the struct
 * virtio_net as opaque) as virtio_pci.c would, on one thread, after
 * filling in queues[]. What the device asks of the transport is recorded
 * here instead; work the device defers runs in virtio_net_run_deferred().
 * Backends that need virtio_watch() (slirp, tap) cannot be used this way.
 * Free it with virtio_net_destroy().
 */
struct virtio_net_detached {
	struct virtq *queues[VIRTIO_NET_NR_QUEUES]; /* NULL: not enabled */
	unsigned int interrupts[VIRTIO_NET_NR_QUEUES];
	unsigned int config_changes;
	bool needs_reset;
};

int virtio_net_new_detached(struct virtio_net **out, struct netbe *be,
			    const uint8_t mac[6],
			    struct virtio_net_detached *d);
const struct virtio_device_ops *virtio_net_ops(const struct virtio_net *n);
/* Runs deferred work until there is none; returns how many runs. */
unsigned int virtio_net_run_deferred(struct virtio_net *n);

#endif
