// SPDX-License-Identifier: MIT
/*
 * User-mode networking (--net user): libslirp plays the network behind the
 * guest's NIC. The guest sees 10.0.2.0/24 with a gateway at 10.0.2.2 that
 * is the host (connections to 10.0.2.2 reach the host's loopback), a DNS
 * server at 10.0.2.3 that forwards to the host's resolver, and DHCP leases
 * from 10.0.2.15; IPv6 on fec0::/64 by router advertisements (gateway
 * fec0::2, DNS fec0::3). Outgoing TCP and UDP become host sockets owned by
 * mica, so no privilege is needed; hostfwd rules listen on host ports and
 * forward connections to the guest. Frames are full Ethernet frames with
 * valid checksums both ways (no offloads), of at most NET_SLIRP_MTU bytes
 * of payload.
 *
 * Guest-controlled: every frame the guest sends, which goes to slirp_input()
 * (libslirp parses it); the sizes are checked here first.
 *
 * Threads: libslirp is not thread safe, so one thread, "slirp", owns the
 * Slirp instance: it polls slirp's sockets, runs its timers and feeds it
 * the guest's frames. Frames cross between that thread and the device's
 * I/O thread through two bounded rings under one lock, each with an eventfd
 * signalled when a ring goes from empty to non-empty:
 *
 *  - tx (guest -> slirp): send() copies the frame into the ring and wakes
 *    the slirp thread; a full ring answers -EAGAIN, and the slirp thread
 *    calls tx_ready() (through dev_fd) once it has drained the ring.
 *  - rx (slirp -> guest): slirp's send_packet copies into the ring and
 *    wakes the device (dev_fd -> rx_ready()); recv() takes frames out. When
 *    the guest does not take them, the ring fills: above SLIRP_RX_HIGH the
 *    slirp thread stops polling its sockets for input (TCP flow control
 *    then holds the host's senders), and below SLIRP_RX_LOW it starts again.
 *    Frames slirp makes by itself (ARP, DHCP, ACKs) when the ring is full
 *    are dropped and counted, as libslirp allows.
 *
 * Lock order: the ring lock is a leaf; neither thread calls out (slirp,
 * the port) while holding it.
 */
#include "backends/slirp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <slirp/libslirp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "util/log.h"
#include "util/loop.h"

/* One ring slot: an MTU-sized frame with an Ethernet header and a VLAN tag. */
#define SLIRP_SLOT (NET_SLIRP_MTU + NET_ETH_HLEN + NET_VLAN_HLEN)
#define SLIRP_RX_SLOTS 512u
#define SLIRP_RX_HIGH 384u /* stop reading slirp's sockets */
#define SLIRP_RX_LOW 128u /* and start again */
#define SLIRP_TX_SLOTS 256u
#define SLIRP_MAX_POLLFDS 65536u

struct frame_ring {
	uint8_t (*buf)[SLIRP_SLOT];
	uint16_t *len;
	unsigned int size, head, count;
};

/* A libslirp timer; only the slirp thread touches the list. */
struct slirp_timer {
	struct slirp_timer *next;
	int64_t expire_ms; /* on clock_ns() / 1e6; -1: not armed */
	bool by_id; /* fire with slirp_handle_timer(id), else cb */
	SlirpTimerId id;
	SlirpTimerCb cb;
	void *cb_opaque;
};

struct slirp_be {
	struct netbe be; /* first: ops get a struct netbe * */
	Slirp *slirp;
	int wake_fd; /* wakes the slirp thread: tx frames, rx space, stop */
	int dev_fd; /* wakes the device: rx frames, tx space */
	pthread_t thread;
	bool thread_started;

	pthread_mutex_t lock; /* the rings, the flags below, be.stats */
	struct frame_ring rx, tx;
	bool stop;
	bool tx_waiting; /* the device got -EAGAIN */
	bool tx_wake; /* ... and may send again: tell it */
	bool throttled; /* the slirp thread ignores socket input */

	bool rx_on; /* I/O thread only */

	/* The slirp thread's. */
	struct pollfd *pfd;
	unsigned int nr_pfd, cap_pfd;
	bool pfd_overflow;
	bool poll_throttled; /* throttled, as of this poll round */
	struct slirp_timer *timers;
	uint8_t frame[SLIRP_SLOT];
};

static struct slirp_be *to_slirp(struct netbe *be)
{
	return (struct slirp_be *)be;
}

static int ring_init(struct frame_ring *r, unsigned int size)
{
	r->buf = malloc((size_t)size * SLIRP_SLOT);
	r->len = calloc(size, sizeof(*r->len));
	r->size = size;
	r->head = r->count = 0;
	return r->buf && r->len ? 0 : -ENOMEM;
}

static void ring_free(struct frame_ring *r)
{
	free(r->buf);
	free(r->len);
	r->buf = NULL;
	r->len = NULL;
}

/* The slot the next frame goes into; the ring is not full. */
static unsigned int ring_tail(const struct frame_ring *r)
{
	return (r->head + r->count) % r->size;
}

static void ring_pop(struct frame_ring *r)
{
	r->head = (r->head + 1) % r->size;
	r->count--;
}

/* ---- slirp thread: callbacks from libslirp ---- */

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct slirp_be *s = opaque;
	bool wake = false;

	pthread_mutex_lock(&s->lock);
	if (len > SLIRP_SLOT || s->rx.count == s->rx.size) {
		s->be.stats.rx_dropped++;
	} else {
		unsigned int slot = ring_tail(&s->rx);

		memcpy(s->rx.buf[slot], buf, len);
		s->rx.len[slot] = (uint16_t)len;
		wake = ++s->rx.count == 1;
	}
	pthread_mutex_unlock(&s->lock);
	if (wake)
		event_signal(s->dev_fd);
	return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
	(void)opaque;
	log_guest("virtio-net (user): %s", msg);
}

static int64_t cb_clock_get_ns(void *opaque)
{
	(void)opaque;
	return (int64_t)clock_ns();
}

static struct slirp_timer *timer_add(struct slirp_be *s)
{
	struct slirp_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->expire_ms = -1;
	t->next = s->timers;
	s->timers = t;
	return t;
}

static void *cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct slirp_timer *t = timer_add(opaque);

	if (t) {
		t->cb = cb;
		t->cb_opaque = cb_opaque;
	}
	return t;
}

static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	struct slirp_timer *t = timer_add(opaque);

	if (t) {
		t->by_id = true;
		t->id = id;
		t->cb_opaque = cb_opaque;
	}
	return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
	struct slirp_be *s = opaque;
	struct slirp_timer **p;

	for (p = &s->timers; *p; p = &(*p)->next) {
		if (*p == timer) {
			*p = (*p)->next;
			free(timer);
			return;
		}
	}
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct slirp_timer *t = timer;

	(void)opaque;
	if (t)
		t->expire_ms = expire_ms < 0 ? 0 : expire_ms;
}

static void cb_register_poll_fd(int fd, void *opaque)
{
	(void)fd;
	(void)opaque;
}

static void cb_unregister_poll_fd(int fd, void *opaque)
{
	(void)fd;
	(void)opaque;
}

static void cb_notify(void *opaque)
{
	struct slirp_be *s = opaque;

	event_signal(s->wake_fd);
}

static const SlirpCb slirp_callbacks = {
	.send_packet = cb_send_packet,
	.guest_error = cb_guest_error,
	.clock_get_ns = cb_clock_get_ns,
	.timer_new = cb_timer_new,
	.timer_free = cb_timer_free,
	.timer_mod = cb_timer_mod,
	.register_poll_fd = cb_register_poll_fd,
	.unregister_poll_fd = cb_unregister_poll_fd,
	.notify = cb_notify,
	.timer_new_opaque = cb_timer_new_opaque,
};

/* ---- slirp thread: the poll loop ---- */

static int pfd_add(struct slirp_be *s, int fd, short events)
{
	if (s->nr_pfd == s->cap_pfd) {
		unsigned int cap = s->cap_pfd ? 2 * s->cap_pfd : 32;
		struct pollfd *p;

		if (cap > SLIRP_MAX_POLLFDS) {
			s->pfd_overflow = true;
			return -1;
		}
		p = realloc(s->pfd, cap * sizeof(*p));
		if (!p) {
			s->pfd_overflow = true;
			return -1;
		}
		s->pfd = p;
		s->cap_pfd = cap;
	}
	s->pfd[s->nr_pfd] = (struct pollfd){ .fd = fd, .events = events };
	return (int)s->nr_pfd++;
}

static int cb_add_poll(int fd, int events, void *opaque)
{
	struct slirp_be *s = opaque;
	short ev = 0;

	/* Throttled: no socket input until the guest took its frames. */
	if ((events & SLIRP_POLL_IN) && !s->poll_throttled)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	return pfd_add(s, fd, ev);
}

static int cb_get_revents(int idx, void *opaque)
{
	struct slirp_be *s = opaque;
	short re;
	int ev = 0;

	if (idx < 0 || (unsigned int)idx >= s->nr_pfd)
		return 0;
	re = s->pfd[idx].revents;
	if (re & POLLIN)
		ev |= SLIRP_POLL_IN;
	if (re & POLLOUT)
		ev |= SLIRP_POLL_OUT;
	if (re & POLLPRI)
		ev |= SLIRP_POLL_PRI;
	if (re & (POLLERR | POLLNVAL))
		ev |= SLIRP_POLL_ERR;
	if (re & POLLHUP)
		ev |= SLIRP_POLL_HUP;
	return ev;
}

/* Milliseconds until the earliest timer, or -1. */
static int64_t timers_next_ms(struct slirp_be *s, int64_t now_ms)
{
	int64_t best = -1;
	struct slirp_timer *t;

	for (t = s->timers; t; t = t->next) {
		int64_t left;

		if (t->expire_ms < 0)
			continue;
		left = t->expire_ms > now_ms ? t->expire_ms - now_ms : 0;
		if (best < 0 || left < best)
			best = left;
	}
	return best;
}

static void timers_run(struct slirp_be *s)
{
	int64_t now_ms = (int64_t)(clock_ns() / 1000000);
	unsigned int fired;

	/* A callback may free or re-arm timers: restart after each one. */
	for (fired = 0; fired < 16; fired++) {
		struct slirp_timer *t;

		for (t = s->timers; t; t = t->next)
			if (t->expire_ms >= 0 && t->expire_ms <= now_ms)
				break;
		if (!t)
			return;
		t->expire_ms = -1;
		if (t->by_id)
			slirp_handle_timer(s->slirp, t->id, t->cb_opaque);
		else if (t->cb)
			t->cb(t->cb_opaque);
	}
}

/* Feeds the guest's frames to slirp. Returns whether some are left. */
static bool drain_tx(struct slirp_be *s)
{
	unsigned int n;
	bool wake_dev = false, more = false;

	for (n = 0;; n++) {
		uint16_t len;

		pthread_mutex_lock(&s->lock);
		if (!s->tx.count || n == s->tx.size) {
			more = s->tx.count != 0;
			if (!more && s->tx_waiting) {
				s->tx_waiting = false;
				s->tx_wake = true;
				wake_dev = true;
			}
			pthread_mutex_unlock(&s->lock);
			break;
		}
		len = s->tx.len[s->tx.head];
		memcpy(s->frame, s->tx.buf[s->tx.head], len);
		ring_pop(&s->tx);
		pthread_mutex_unlock(&s->lock);
		slirp_input(s->slirp, s->frame, len);
	}
	if (wake_dev)
		event_signal(s->dev_fd);
	return more;
}

static void *slirp_thread(void *opaque)
{
	struct slirp_be *s = opaque;

	for (;;) {
		uint32_t timeout = UINT32_MAX;
		int64_t now_ms, next;
		int r, ms;

		pthread_mutex_lock(&s->lock);
		if (s->stop) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		s->throttled = s->rx.count >= SLIRP_RX_HIGH;
		s->poll_throttled = s->throttled;
		pthread_mutex_unlock(&s->lock);

		s->nr_pfd = 0;
		s->pfd_overflow = false;
		pfd_add(s, s->wake_fd, POLLIN);
		slirp_pollfds_fill(s->slirp, &timeout, cb_add_poll, s);
		if (s->pfd_overflow)
			log_warn("virtio-net (user): too many sockets to "
				 "poll");

		now_ms = (int64_t)(clock_ns() / 1000000);
		next = timers_next_ms(s, now_ms);
		if (timeout != UINT32_MAX && (next < 0 || timeout < next))
			next = timeout;
		ms = next < 0 ? -1 : next > INT_MAX ? INT_MAX : (int)next;

		r = s->nr_pfd ? poll(s->pfd, s->nr_pfd, ms) : -1;
		if (r > 0 && (s->pfd[0].revents & POLLIN))
			event_drain(s->wake_fd);
		if (drain_tx(s))
			event_signal(s->wake_fd);
		timers_run(s);
		slirp_pollfds_poll(s->slirp, r < 0, cb_get_revents, s);
	}
	return NULL;
}

/* ---- the device's I/O thread ---- */

static void slirp_dev_event(void *opaque, uint32_t events)
{
	struct slirp_be *s = opaque;
	const struct net_port *port = s->be.port;
	bool tx_wake, rx_pending;

	(void)events;
	event_drain(s->dev_fd);
	pthread_mutex_lock(&s->lock);
	tx_wake = s->tx_wake;
	s->tx_wake = false;
	rx_pending = s->rx.count != 0;
	pthread_mutex_unlock(&s->lock);
	if (tx_wake)
		port->tx_ready(port->opaque);
	if (rx_pending && s->rx_on)
		port->rx_ready(port->opaque);
}

static int slirp_attach(struct netbe *be, const struct net_port *port)
{
	struct slirp_be *s = to_slirp(be);

	be->port = port;
	return port->watch(port->opaque, s->dev_fd, EPOLLIN, slirp_dev_event,
			   s);
}

static int slirp_send(struct netbe *be, const struct iovec *iov,
		      unsigned int iovcnt)
{
	struct slirp_be *s = to_slirp(be);
	size_t total = net_iov_len(iov, iovcnt), len;
	unsigned int slot;
	bool wake;

	/* The header carries nothing for slirp: no offloads were offered. */
	if (total < NET_HDR_LEN + NET_MIN_FRAME ||
	    total - NET_HDR_LEN > SLIRP_SLOT) {
		pthread_mutex_lock(&s->lock);
		be->stats.tx_dropped++;
		pthread_mutex_unlock(&s->lock);
		return -EMSGSIZE;
	}
	len = total - NET_HDR_LEN;
	pthread_mutex_lock(&s->lock);
	if (s->tx.count == s->tx.size) {
		s->tx_waiting = true;
		pthread_mutex_unlock(&s->lock);
		return -EAGAIN;
	}
	slot = ring_tail(&s->tx);
	net_iov_to_buf(iov, iovcnt, NET_HDR_LEN, s->tx.buf[slot], len);
	s->tx.len[slot] = (uint16_t)len;
	wake = ++s->tx.count == 1;
	be->stats.tx_frames++;
	pthread_mutex_unlock(&s->lock);
	if (wake)
		event_signal(s->wake_fd);
	return 0;
}

static ssize_t slirp_recv(struct netbe *be, const struct iovec *iov,
			  unsigned int iovcnt)
{
	struct slirp_be *s = to_slirp(be);
	const struct virtio_net_hdr_v1 hdr = { .gso_type = 0 };
	bool wake = false;
	size_t len;

	pthread_mutex_lock(&s->lock);
	if (!s->rx.count) {
		pthread_mutex_unlock(&s->lock);
		return -EAGAIN;
	}
	len = s->rx.len[s->rx.head];
	if (iov) {
		if (net_iov_len(iov, iovcnt) < NET_HDR_LEN + len) {
			pthread_mutex_unlock(&s->lock);
			return -EMSGSIZE;
		}
		net_buf_to_iov(iov, iovcnt, 0, &hdr, NET_HDR_LEN);
		net_buf_to_iov(iov, iovcnt, NET_HDR_LEN, s->rx.buf[s->rx.head],
			       len);
		be->stats.rx_frames++;
	} else {
		be->stats.rx_dropped++;
	}
	ring_pop(&s->rx);
	if (s->throttled && s->rx.count <= SLIRP_RX_LOW) {
		s->throttled = false;
		wake = true;
	}
	pthread_mutex_unlock(&s->lock);
	if (wake)
		event_signal(s->wake_fd);
	return (ssize_t)(NET_HDR_LEN + len);
}

static ssize_t slirp_peek(struct netbe *be)
{
	struct slirp_be *s = to_slirp(be);
	ssize_t r = -EAGAIN;

	pthread_mutex_lock(&s->lock);
	if (s->rx.count)
		r = (ssize_t)(NET_HDR_LEN + s->rx.len[s->rx.head]);
	pthread_mutex_unlock(&s->lock);
	return r;
}

static void slirp_rx_enable(struct netbe *be, bool on)
{
	struct slirp_be *s = to_slirp(be);
	bool pending;

	s->rx_on = on;
	if (!on)
		return;
	/* Frames that came while rx was off: tell the device again. */
	pthread_mutex_lock(&s->lock);
	pending = s->rx.count != 0;
	pthread_mutex_unlock(&s->lock);
	if (pending)
		event_signal(s->dev_fd);
}

static int slirp_set_offloads(struct netbe *be, uint32_t offloads)
{
	(void)be;
	return offloads ? -EOPNOTSUPP : 0;
}

static void slirp_reset(struct netbe *be)
{
	struct slirp_be *s = to_slirp(be);
	bool wake;

	s->rx_on = false;
	pthread_mutex_lock(&s->lock);
	s->rx.head = s->rx.count = 0;
	s->tx_waiting = s->tx_wake = false;
	wake = s->throttled;
	s->throttled = false;
	pthread_mutex_unlock(&s->lock);
	if (wake)
		event_signal(s->wake_fd);
}

static void slirp_destroy(struct netbe *be)
{
	struct slirp_be *s = to_slirp(be);
	struct slirp_timer *t;

	if (s->thread_started) {
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_mutex_unlock(&s->lock);
		event_signal(s->wake_fd);
		pthread_join(s->thread, NULL);
	}
	if (s->slirp)
		slirp_cleanup(s->slirp); /* frees its timers through us */
	while ((t = s->timers)) {
		s->timers = t->next;
		free(t);
	}
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	if (s->dev_fd >= 0)
		close(s->dev_fd);
	ring_free(&s->rx);
	ring_free(&s->tx);
	pthread_mutex_destroy(&s->lock);
	free(s->pfd);
	free(s);
}

static const struct netbe_ops slirp_ops = {
	.attach = slirp_attach,
	.send = slirp_send,
	.recv = slirp_recv,
	.peek = slirp_peek,
	.rx_enable = slirp_rx_enable,
	.set_offloads = slirp_set_offloads,
	.reset = slirp_reset,
	.destroy = slirp_destroy,
};

static int add_hostfwd(struct slirp_be *s, const struct net_hostfwd *f,
		       struct in_addr dhcp_start, char *err, size_t errlen)
{
	struct in_addr host = { .s_addr = f->host_addr };
	struct in_addr guest = { .s_addr = f->guest_addr };
	char addr[INET_ADDRSTRLEN + 1] = "";
	int e;

	if (!guest.s_addr)
		guest = dhcp_start;
	errno = 0;
	if (slirp_add_hostfwd(s->slirp, f->udp, host, f->host_port, guest,
			      f->guest_port) == 0)
		return 0;
	/* libslirp keeps bind()'s or listen()'s errno. */
	e = errno ? errno : EADDRINUSE;
	if (host.s_addr) {
		inet_ntop(AF_INET, &host, addr, sizeof(addr) - 1);
		strcat(addr, ":");
	}
	snprintf(err, errlen,
		 "--net hostfwd: cannot listen on %s port %s%u: %s",
		 f->udp ? "UDP" : "TCP", addr, f->host_port, strerror(e));
	return -e;
}

static int slirp_start_thread(struct slirp_be *s)
{
	sigset_t all, old;
	int r;

	/* The thread takes no signals: main handles them with a signalfd. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&s->thread, NULL, slirp_thread, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r)
		return -r;
	pthread_setname_np(s->thread, "slirp");
	s->thread_started = true;
	return 0;
}

int net_slirp_new(struct netbe **out, const struct net_config *cfg, char *err,
		  size_t errlen)
{
	SlirpConfig sc = {
		.version = 4,
		.restricted = 0,
		.in_enabled = true,
		.in6_enabled = true,
		.vprefix_len = 64,
		.if_mtu = NET_SLIRP_MTU,
		.if_mru = NET_SLIRP_MTU,
		.disable_host_loopback = false,
		.enable_emu = false,
	};
	struct slirp_be *s;
	unsigned int i;
	int r;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "--net user: out of memory");
		return -ENOMEM;
	}
	s->be = (struct netbe){
		.ops = &slirp_ops,
		.kind = "user",
		.offloads = false,
		.mtu = NET_SLIRP_MTU,
	};
	s->wake_fd = s->dev_fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	r = ring_init(&s->rx, SLIRP_RX_SLOTS);
	if (!r)
		r = ring_init(&s->tx, SLIRP_TX_SLOTS);
	if (r) {
		snprintf(err, errlen, "--net user: out of memory");
		goto fail;
	}
	s->wake_fd = event_new();
	s->dev_fd = event_new();
	if (s->wake_fd < 0 || s->dev_fd < 0) {
		r = s->wake_fd < 0 ? s->wake_fd : s->dev_fd;
		snprintf(err, errlen, "--net user: eventfd: %s", strerror(-r));
		goto fail;
	}

	inet_pton(AF_INET, NET_SLIRP_NETWORK, &sc.vnetwork);
	inet_pton(AF_INET, NET_SLIRP_NETMASK, &sc.vnetmask);
	inet_pton(AF_INET, NET_SLIRP_HOST, &sc.vhost);
	inet_pton(AF_INET, NET_SLIRP_DHCP_START, &sc.vdhcp_start);
	inet_pton(AF_INET, NET_SLIRP_DNS, &sc.vnameserver);
	inet_pton(AF_INET6, NET_SLIRP_PREFIX6, &sc.vprefix_addr6);
	inet_pton(AF_INET6, NET_SLIRP_HOST6, &sc.vhost6);
	inet_pton(AF_INET6, NET_SLIRP_DNS6, &sc.vnameserver6);
	s->slirp = slirp_new(&sc, &slirp_callbacks, s);
	if (!s->slirp) {
		r = -ENOMEM;
		snprintf(err, errlen, "--net user: cannot start libslirp");
		goto fail;
	}
	for (i = 0; i < cfg->nr_hostfwd && i < CONFIG_MAX_HOSTFWD; i++) {
		r = add_hostfwd(s, &cfg->hostfwd[i], sc.vdhcp_start, err,
				errlen);
		if (r)
			goto fail;
	}
	r = slirp_start_thread(s);
	if (r) {
		snprintf(err, errlen, "--net user: cannot start a thread: %s",
			 strerror(-r));
		goto fail;
	}
	*out = &s->be;
	return 0;

fail:
	slirp_destroy(&s->be);
	return r;
}
