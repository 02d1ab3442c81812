// SPDX-License-Identifier: MIT
/*
 * virtio-rng, the entropy device (virtio 1.x, section 5.4): one requestq
 * whose device-writable buffers are filled with bytes from the host's
 * getrandom(). No feature bits, no configuration space. The device exists
 * when cfg->rng_rate (bytes per second) is not 0.
 *
 * Guest-controlled: the request chains (virtqueue.c checks their layout),
 * how often the driver asks. A request with device-readable buffers breaks
 * the spec's "the driver MUST NOT place driver-readable buffers", and one
 * with no writable byte cannot get the "one or more random bytes" the
 * device must place: both put the device in NEEDS_RESET. One request gets
 * at most VIRTIO_RNG_REQ_MAX bytes, however large its buffers (the spec
 * lets the device use less than the whole buffer).
 *
 * Rate limit: a token bucket that fills at cfg->rng_rate bytes per second
 * and holds one second's worth (at most VIRTIO_RNG_BURST_MAX). A request
 * is completed when the bucket holds its size (capped by REQ_MAX and by the
 * bucket's size); until then it is held, the requests behind it stay in
 * the ring, and a timerfd watched on the I/O thread fires when enough has
 * accrued. The bucket is kept in byte-nanoseconds so that no fraction of a
 * byte is lost to rounding, and it survives a device reset (a reset earns
 * a driver nothing).
 *
 * Everything runs on the device's I/O thread; there is no lock.
 */
#include "virtio/rng.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "util/log.h"
#include "virtio/virtio.h"
#include "virtio/virtqueue.h"

/* PCI class: other (no defined class fits). */
#define RNG_PCI_CLASS 0xff0000u
#define NSEC_PER_SEC 1000000000ull
/* Retry delay after the host's getrandom() failed. */
#define RNG_RETRY_NS (100ull * 1000 * 1000)

typedef unsigned __int128 u128;

struct virtio_rng {
	bool present; /* realized with rng_rate > 0, or made by _new */
	struct virtio_device *vdev; /* NULL without a transport */
	int timer; /* timerfd: the bucket holds enough again */
	virtio_rng_clock_fn clock;
	void *clock_opaque;

	bool active; /* between activate() and reset() */
	bool broken; /* NEEDS_RESET was set; nothing runs until reset */
	struct virtq *vq;
	struct virtq_elem *pending; /* waits for the bucket, or NULL */

	uint64_t rate; /* bytes per second */
	uint64_t burst; /* bucket size, bytes */
	u128 level; /* bucket content, byte-nanoseconds */
	int64_t last_ns; /* when level was last brought up to date */
};

static int64_t real_clock(void *opaque)
{
	(void)opaque;
	return (int64_t)clock_ns();
}

/* The transport names the device in its message; why does not. */
static void rng_fail(struct virtio_rng *r, const char *why)
{
	r->broken = true;
	if (r->vdev)
		virtio_set_needs_reset(r->vdev, why);
	else
		log_guest("virtio-rng: %s", why);
}

static void rng_refill(struct virtio_rng *r)
{
	int64_t now = r->clock(r->clock_opaque);
	u128 cap = (u128)r->burst * NSEC_PER_SEC;
	uint64_t elapsed;

	if (now <= r->last_ns) {
		r->last_ns = now; /* a clock that went back earns nothing */
		return;
	}
	elapsed = (uint64_t)(now - r->last_ns);
	r->last_ns = now;
	/* burst <= rate: one second fills the bucket from empty */
	if (elapsed >= NSEC_PER_SEC) {
		r->level = cap;
		return;
	}
	r->level += (u128)elapsed * r->rate;
	if (r->level > cap)
		r->level = cap;
}

static void rng_arm(struct virtio_rng *r, uint64_t ns)
{
	struct itimerspec its = {
		.it_value = {
			.tv_sec = (time_t)(ns / NSEC_PER_SEC),
			.tv_nsec = (long)(ns % NSEC_PER_SEC),
		},
	};

	if (!ns)
		its.it_value.tv_nsec = 1; /* 0 would disarm */
	if (timerfd_settime(r->timer, 0, &its, NULL)) {
		static struct log_ratelimit rl;

		if (log_ratelimit_ok(&rl))
			log_warn("virtio-rng: cannot arm the rate timer: %s",
				 strerror(errno));
	}
}

static void rng_disarm(struct virtio_rng *r)
{
	struct itimerspec its = { .it_value = { .tv_sec = 0 } };

	if (r->timer >= 0)
		timerfd_settime(r->timer, 0, &its, NULL);
}

/* Fills the writable part of e with len random bytes; returns how many. */
static uint64_t rng_fill(const struct virtq_elem *e, uint64_t len)
{
	uint8_t buf[4096];
	uint64_t done = 0;

	while (done < len) {
		size_t n = sizeof(buf);
		ssize_t got;

		if (n > len - done)
			n = len - done;
		got = getrandom(buf, n, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			static struct log_ratelimit rl;

			if (log_ratelimit_ok(&rl))
				log_warn("virtio-rng: getrandom: %s",
					 got ? strerror(errno) : "no bytes");
			break;
		}
		if (virtq_copy_to(e, done, buf, (uint64_t)got) != (uint64_t)got)
			break; /* cannot happen: len <= in_len */
		done += (uint64_t)got;
	}
	return done;
}

/*
 * Takes the next request into r->pending. Returns 1 if there is one, 0 if
 * the ring is empty (notifications re-armed), -1 to stop (NEEDS_RESET, or
 * no host memory).
 */
static int rng_take(struct virtio_rng *r)
{
	struct virtq_elem *e;
	int rc;

	rc = virtq_pop(r->vq, &e);
	if (rc == 0) {
		virtq_set_notification(r->vq, true);
		rc = virtq_pop(r->vq, &e);
	}
	if (rc == 0)
		return 0;
	if (rc < 0) {
		if (rc == -EIO) {
			rng_fail(r, "virtqueue broken");
		} else {
			static struct log_ratelimit rl;

			if (log_ratelimit_ok(&rl))
				log_warn("virtio-rng: cannot take a request: "
					 "%s",
					 strerror(-rc));
		}
		return -1;
	}
	if (e->nr_out || !e->in_len) {
		const char *why =
			e->nr_out ? "request with device-readable buffers" :
				    "request with no device-writable bytes";

		virtq_elem_free(e);
		rng_fail(r, why);
		return -1;
	}
	r->pending = e;
	return 1;
}

/* I/O thread: complete requests while the bucket allows. */
static void rng_pump(struct virtio_rng *r)
{
	unsigned int done = 0;
	bool pushed = false;

	if (!r->active || r->broken || !r->vq)
		return;
	for (;;) {
		uint64_t want, got;
		u128 need;

		if (!r->pending) {
			if (done == VIRTIO_RNG_QUEUE_SIZE) {
				rng_arm(r, 0); /* the rest after other work */
				break;
			}
			if (rng_take(r) <= 0)
				break;
		}
		want = r->pending->in_len;
		if (want > VIRTIO_RNG_REQ_MAX)
			want = VIRTIO_RNG_REQ_MAX;
		if (want > r->burst)
			want = r->burst;
		rng_refill(r);
		need = (u128)want * NSEC_PER_SEC;
		if (r->level < need) {
			/* ceil((need - level) / rate) ns; < 1 s as want <= burst */
			rng_arm(r, (uint64_t)((need - r->level + r->rate - 1) /
					      r->rate));
			break;
		}
		got = rng_fill(r->pending, want);
		if (!got) {
			rng_arm(r, RNG_RETRY_NS); /* host trouble: retry */
			break;
		}
		r->level -= (u128)got * NSEC_PER_SEC;
		/* got <= VIRTIO_RNG_REQ_MAX */
		virtq_push(r->vq, r->pending, (uint32_t)got);
		r->pending = NULL;
		pushed = true;
		done++;
	}
	if (pushed && r->vdev)
		virtio_notify(r->vdev, 0);
}

static void rng_on_timer(void *opaque, uint32_t events)
{
	struct virtio_rng *r = opaque;
	uint64_t expirations;

	(void)events;
	if (read(r->timer, &expirations, sizeof(expirations)) < 0 &&
	    errno != EAGAIN) {
		static struct log_ratelimit rl;

		if (log_ratelimit_ok(&rl))
			log_warn("virtio-rng: reading the rate timer: %s",
				 strerror(errno));
	}
	rng_pump(r);
}

int virtio_rng_start(struct virtio_rng *r, struct virtq *vq)
{
	r->vq = vq;
	r->active = true;
	r->broken = false;
	rng_pump(r);
	return 0;
}

void virtio_rng_stop(struct virtio_rng *r)
{
	if (r->pending) {
		virtq_elem_free(r->pending);
		r->pending = NULL;
	}
	rng_disarm(r);
	r->active = false;
	r->broken = false;
	r->vq = NULL;
}

void virtio_rng_kick(struct virtio_rng *r)
{
	rng_pump(r);
}

void virtio_rng_poll(struct virtio_rng *r)
{
	rng_on_timer(r, EPOLLIN);
}

bool virtio_rng_broken(const struct virtio_rng *r)
{
	return r->broken;
}

bool virtio_rng_waiting(const struct virtio_rng *r)
{
	return r->pending != NULL;
}

void virtio_rng_set_clock(void *state, virtio_rng_clock_fn now_ns, void *opaque)
{
	struct virtio_rng *r = state;

	r->clock = now_ns ? now_ns : real_clock;
	r->clock_opaque = now_ns ? opaque : NULL;
	r->last_ns = r->clock(r->clock_opaque);
}

/* --- transport ops (I/O thread) -------------------------------------------- */

static int rng_activate(void *opaque, uint64_t features)
{
	struct virtio_rng *r = opaque;

	(void)features;
	return virtio_rng_start(r, virtio_queue_enabled(r->vdev, 0) ?
					   virtio_queue(r->vdev, 0) :
					   NULL);
}

static void rng_queue_notify(void *opaque, unsigned int q)
{
	(void)q; /* the transport only notifies queue 0 */
	rng_pump(opaque);
}

static void rng_reset(void *opaque)
{
	virtio_rng_stop(opaque);
}

static const struct virtio_device_ops rng_ops = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.pci_class = RNG_PCI_CLASS,
	.nr_queues = 1,
	.queue_max_size = VIRTIO_RNG_QUEUE_SIZE,
	.features = (1ull << VIRTIO_F_INDIRECT_DESC) |
		    (1ull << VIRTIO_F_EVENT_IDX),
	.config_size = 0,
	.activate = rng_activate,
	.queue_notify = rng_queue_notify,
	.reset = rng_reset,
};

/* Everything but the transport; r is zeroed. */
static int rng_init(struct virtio_rng *r, uint64_t rate)
{
	r->timer = -1;
	r->rate = rate ? rate : 1;
	r->burst = r->rate < VIRTIO_RNG_BURST_MAX ? r->rate :
						    VIRTIO_RNG_BURST_MAX;
	r->level = (u128)r->burst * NSEC_PER_SEC; /* starts full */
	virtio_rng_set_clock(r, NULL, NULL);
	r->timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (r->timer < 0)
		return -errno;
	r->present = true;
	return 0;
}

static void rng_fini(struct virtio_rng *r)
{
	if (r->vdev) {
		virtio_pci_destroy(r->vdev); /* stops the I/O thread: reset() */
		r->vdev = NULL;
	}
	virtio_rng_stop(r);
	if (r->timer >= 0) {
		close(r->timer);
		r->timer = -1;
	}
	r->present = false;
}

struct virtio_rng *virtio_rng_new(uint64_t rate)
{
	struct virtio_rng *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	if (rng_init(r, rate)) {
		rng_fini(r);
		free(r);
		return NULL;
	}
	return r;
}

void virtio_rng_free(struct virtio_rng *r)
{
	if (!r)
		return;
	rng_fini(r);
	free(r);
}

static int virtio_rng_realize(void *state, const struct device_host *host)
{
	struct virtio_rng *r = state;
	uint8_t probe;
	char err[256];
	int rc;

	if (!host->cfg || !host->cfg->rng_rate)
		return 0; /* no --rng */
	if (getrandom(&probe, 1, GRND_NONBLOCK) < 0 && errno == ENOSYS) {
		return device_fail(host, -ENOSYS,
				   "virtio-rng: the host kernel has no "
				   "getrandom()");
	}
	rc = rng_init(r, host->cfg->rng_rate);
	if (rc) {
		device_fail(host, rc, "virtio-rng: cannot create a timerfd: %s",
			    strerror(-rc));
		goto fail;
	}
	r->vdev = virtio_pci_create(host, "virtio-rng0", &rng_ops, r, err,
				    sizeof(err));
	if (!r->vdev) {
		rc = device_fail(host, -ENODEV, "%s", err);
		goto fail;
	}
	rc = virtio_watch(r->vdev, r->timer, EPOLLIN, rng_on_timer, r);
	if (rc) {
		device_fail(host, rc, "virtio-rng: watching the rate timer: %s",
			    strerror(-rc));
		goto fail;
	}
	return 0;

fail:
	rng_fini(r);
	return rc;
}

static void virtio_rng_unrealize(void *state)
{
	struct virtio_rng *r = state;

	if (r->present)
		rng_fini(r);
}

const struct device_type virtio_rng_type = {
	.name = "virtio-rng",
	.state_size = sizeof(struct virtio_rng),
	.realize = virtio_rng_realize,
	.unrealize = virtio_rng_unrealize,
};
