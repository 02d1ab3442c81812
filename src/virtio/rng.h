/* SPDX-License-Identifier: MIT */
/*
 * virtio-rng: random bytes from the host's getrandom(), at most
 * cfg->rng_rate bytes per second. See rng.c.
 */
#ifndef MICA_VIRTIO_RNG_H
#define MICA_VIRTIO_RNG_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/device.h"

#define VIRTIO_RNG_QUEUE_SIZE 64
/* Most bytes one request gets, however large its buffers. */
#define VIRTIO_RNG_REQ_MAX (64u << 10)
/* Most bytes the token bucket holds (it holds one second's worth). */
#define VIRTIO_RNG_BURST_MAX (1u << 20)

extern const struct device_type virtio_rng_type;

/* Nanoseconds of a monotonic clock; the default is CLOCK_MONOTONIC. */
typedef int64_t (*virtio_rng_clock_fn)(void *opaque);

/*
 * Replace the clock of the rate limit (a test hook; NULL: the real clock).
 * state is a realized virtio_rng_type, or a struct virtio_rng from
 * virtio_rng_new(). Call it before the driver's first request.
 */
void virtio_rng_set_clock(void *state, virtio_rng_clock_fn now_ns,
			  void *opaque);

/*
 * The device without its PCI transport, for unit tests and the fuzzer: the
 * caller hands it the queue and runs, on one thread, what the transport's
 * I/O thread would. The VMM itself only uses virtio_rng_type.
 */
struct virtio_rng;
struct virtq;

/* rate: bytes per second, > 0. */
struct virtio_rng *virtio_rng_new(uint64_t rate);
void virtio_rng_free(struct virtio_rng *r);
/* The driver set DRIVER_OK with this (initialised) queue; NULL: off. */
int virtio_rng_start(struct virtio_rng *r, struct virtq *vq);
/* The driver notified the queue. */
void virtio_rng_kick(struct virtio_rng *r);
/* What the rate limit's timer does when it fires. */
void virtio_rng_poll(struct virtio_rng *r);
/* Device reset. */
void virtio_rng_stop(struct virtio_rng *r);
/* Whether the device put itself in NEEDS_RESET since the last start. */
bool virtio_rng_broken(const struct virtio_rng *r);
/* Whether a request waits for the rate limit. */
bool virtio_rng_waiting(const struct virtio_rng *r);

#endif
