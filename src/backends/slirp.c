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
 * (libslirp parses it); the sizes are checked here first, and the frame is
 * copied out of the guest's buffers before libslirp sees it.
 *
 * Threads: libslirp is not thread safe, and it runs on the device's I/O
 * thread, like QEMU runs it in its main loop: a frame the guest sends goes
 * straight into slirp_input() from send(), and the frames slirp makes (the
 * ACKs of a TCP stream, data for the guest) wait in a ring until the device
 * takes them with recv(). No frame crosses threads, so a TCP segment and its
 * ACK cost no thread wake-up (an earlier version ran slirp on a thread of
 * its own and paid two wake-ups per round trip).
 *
 * The I/O thread watches two descriptors of ours:
 *  - epfd, an epoll set that mirrors what slirp_pollfds_fill() last asked
 *    for (its sockets and events) plus a timerfd for slirp's timers and
 *    timeouts: readable when one of them is ready;
 *  - kick_fd, an eventfd we signal ourselves to run a round soon and hand
 *    waiting frames to the device: after frames from the guest (they may
 *    open or close sockets and make answers), when the guest took frames
 *    and slirp may read its sockets again, or when libslirp asks (notify).
 * A round polls the sockets of the last fill without blocking, runs the
 * timers, calls slirp_pollfds_poll(), then fills again and brings the epoll
 * set and the timer up to date (epoll_ctl only for what changed).
 *
 * rx flow control: above SLIRP_RX_HIGH frames waiting for the guest, the
 * fill asks for no socket input (TCP flow control then holds the host's
 * senders), below SLIRP_RX_LOW it asks again. Frames slirp makes by itself
 * (ARP, DHCP, ACKs) when the ring is full are dropped and counted, as
 * libslirp allows.
 */
#include "backends/slirp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <slirp/libslirp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "util/dynlib.h"
#include "util/log.h"
#include "util/loop.h"

/*
 * libslirp, loaded on first use (util/dynlib.h): it brings GLib, which a VM
 * without --net user should not pay for at start-up.
 */
static struct libslirp {
	Slirp *(*new_)(const SlirpConfig *cfg, const SlirpCb *callbacks,
		       void *opaque);
	void (*cleanup)(Slirp *slirp);
	void (*input)(Slirp *slirp, const uint8_t *pkt, int len);
	void (*pollfds_fill)(Slirp *slirp, uint32_t *timeout,
			     SlirpAddPollCb add_poll, void *opaque);
	void (*pollfds_poll)(Slirp *slirp, int select_error,
			     SlirpGetREventsCb get_revents, void *opaque);
	int (*add_hostfwd)(Slirp *slirp, int is_udp, struct in_addr host_addr,
			   int host_port, struct in_addr guest_addr,
			   int guest_port);
	void (*handle_timer)(Slirp *slirp, SlirpTimerId id, void *cb_opaque);
} libslirp;

static int libslirp_load(char *err, size_t errlen)
{
	static const struct dynlib_sym syms[] = {
		DYNLIB_SYM(struct libslirp, new_, "slirp_new"),
		DYNLIB_SYM(struct libslirp, cleanup, "slirp_cleanup"),
		DYNLIB_SYM(struct libslirp, input, "slirp_input"),
		DYNLIB_SYM(struct libslirp, pollfds_fill, "slirp_pollfds_fill"),
		DYNLIB_SYM(struct libslirp, pollfds_poll, "slirp_pollfds_poll"),
		DYNLIB_SYM(struct libslirp, add_hostfwd, "slirp_add_hostfwd"),
		DYNLIB_SYM(struct libslirp, handle_timer, "slirp_handle_timer"),
	};
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static bool loaded;
	int r = 0;

	pthread_mutex_lock(&lock);
	if (!loaded) {
		r = dynlib_load("--net user", "libslirp.so.0", "libslirp0",
				syms, sizeof(syms) / sizeof(syms[0]), &libslirp,
				err, errlen);
		loaded = r == 0;
	}
	pthread_mutex_unlock(&lock);
	return r;
}

/* One ring slot: an MTU-sized frame with an Ethernet header and a VLAN tag. */
#define SLIRP_SLOT (NET_SLIRP_MTU + NET_ETH_HLEN + NET_VLAN_HLEN)
#define SLIRP_RX_SLOTS 512u
#define SLIRP_RX_HIGH 384u /* stop reading slirp's sockets */
#define SLIRP_RX_LOW 128u /* and start again */
#define SLIRP_MAX_POLLFDS 65536u
#define SLIRP_MAX_FD (1 << 20) /* descriptors we can put in the epoll set */
#define REG_ON (1u << 31) /* in struct slirp_be.reg: registered */

struct frame_ring {
	uint8_t (*buf)[SLIRP_SLOT];
	uint16_t *len;
	unsigned int size, head, count;
};

/* A libslirp timer. */
struct slirp_timer {
	struct slirp_timer *next;
	int64_t expire_ms; /* on clock_ns() / 1e6; -1: not armed */
	bool by_id; /* fire with slirp_handle_timer(id), else cb */
	SlirpTimerId id;
	SlirpTimerCb cb;
	void *cb_opaque;
};

/* Everything below is the I/O thread's (or the builder's, before attach). */
struct slirp_be {
	struct netbe be; /* first: ops get a struct netbe * */
	Slirp *slirp;
	int epfd; /* slirp's sockets and timer_fd */
	int timer_fd;
	int kick_fd;
	bool kicked; /* kick_fd signalled and not handled yet */
	bool in_round;

	struct frame_ring rx;
	bool rx_on;
	bool throttled; /* the last fill asked for no socket input */

	/* The last fill: slirp's socket indices point into this. */
	struct pollfd *pfd;
	unsigned int nr_pfd, cap_pfd;
	bool pfd_overflow, warned_overflow;
	/* Per descriptor: REG_ON | the epoll events registered, or 0. */
	uint32_t *reg;
	uint32_t *reg_seen; /* the fill that last asked for it */
	unsigned int cap_reg, max_reg; /* max_reg: highest registered + 1 */
	uint32_t fill_no;
	int64_t armed_ms; /* timer_fd's deadline, -1: disarmed */

	struct slirp_timer *timers;
	uint8_t frame[SLIRP_SLOT];
};

static struct slirp_be *to_slirp(struct netbe *be)
{
	return (struct slirp_be *)be;
}

static int64_t now_ms(void)
{
	return (int64_t)(clock_ns() / 1000000);
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

/* Asks for a round (and a look at the rx ring) on the next loop turn. */
static void kick(struct slirp_be *s)
{
	if (s->kicked)
		return;
	s->kicked = true;
	event_signal(s->kick_fd);
}

/* ---- callbacks from libslirp ---- */

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct slirp_be *s = opaque;
	unsigned int slot;

	if (len > SLIRP_SLOT || s->rx.count == s->rx.size) {
		s->be.stats.rx_dropped++;
		return (ssize_t)len;
	}
	slot = ring_tail(&s->rx);
	memcpy(s->rx.buf[slot], buf, len);
	s->rx.len[slot] = (uint16_t)len;
	/* A round tells the device when it ends; from send(), the kick does. */
	if (++s->rx.count == 1 && !s->in_round)
		kick(s);
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
	struct slirp_be *s = opaque;
	struct slirp_timer *t = timer;

	if (!t)
		return;
	t->expire_ms = expire_ms < 0 ? 0 : expire_ms;
	/* The timerfd is armed when a round ends. */
	if (!s->in_round && s->kick_fd >= 0)
		kick(s);
}

/*
 * A descriptor number slirp opens or closes: whatever we registered under
 * it belongs to a closed file (epoll dropped it, or is about to).
 */
static void reg_forget(struct slirp_be *s, int fd, bool del)
{
	if (fd < 0 || (unsigned int)fd >= s->cap_reg || !s->reg[fd])
		return;
	if (del)
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
	s->reg[fd] = 0;
}

static void cb_register_poll_fd(int fd, void *opaque)
{
	reg_forget(opaque, fd, false);
}

static void cb_unregister_poll_fd(int fd, void *opaque)
{
	reg_forget(opaque, fd, true);
}

static void cb_notify(void *opaque)
{
	struct slirp_be *s = opaque;

	if (!s->in_round && s->kick_fd >= 0)
		kick(s);
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

/* ---- rounds: polling slirp's sockets from the I/O thread ---- */

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
	if ((events & SLIRP_POLL_IN) && !s->throttled)
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
static int64_t timers_next_ms(struct slirp_be *s, int64_t now)
{
	int64_t best = -1;
	struct slirp_timer *t;

	for (t = s->timers; t; t = t->next) {
		int64_t left;

		if (t->expire_ms < 0)
			continue;
		left = t->expire_ms > now ? t->expire_ms - now : 0;
		if (best < 0 || left < best)
			best = left;
	}
	return best;
}

static void timers_run(struct slirp_be *s)
{
	int64_t now = now_ms();
	unsigned int fired;

	/* A callback may free or re-arm timers: restart after each one. */
	for (fired = 0; fired < 16; fired++) {
		struct slirp_timer *t;

		for (t = s->timers; t; t = t->next)
			if (t->expire_ms >= 0 && t->expire_ms <= now)
				break;
		if (!t)
			return;
		t->expire_ms = -1;
		if (t->by_id)
			libslirp.handle_timer(s->slirp, t->id, t->cb_opaque);
		else if (t->cb)
			t->cb(t->cb_opaque);
	}
}

static uint32_t to_epoll(short ev)
{
	return (ev & POLLIN ? (uint32_t)EPOLLIN : 0) |
	       (ev & POLLOUT ? (uint32_t)EPOLLOUT : 0) |
	       (ev & POLLPRI ? (uint32_t)EPOLLPRI : 0);
}

static bool reg_grow(struct slirp_be *s, int fd)
{
	unsigned int cap = s->cap_reg ? s->cap_reg : 64;
	uint32_t *r, *seen;

	while (cap <= (unsigned int)fd)
		cap *= 2;
	r = realloc(s->reg, cap * sizeof(*r));
	if (!r)
		return false;
	s->reg = r;
	seen = realloc(s->reg_seen, cap * sizeof(*seen));
	if (!seen)
		return false;
	s->reg_seen = seen;
	memset(s->reg + s->cap_reg, 0, (cap - s->cap_reg) * sizeof(*r));
	memset(s->reg_seen + s->cap_reg, 0, (cap - s->cap_reg) * sizeof(*r));
	s->cap_reg = cap;
	return true;
}

/* Makes the epoll set hold fd with the events of poll entry p. */
static void reg_sync_one(struct slirp_be *s, const struct pollfd *p)
{
	struct epoll_event ev = { .events = to_epoll(p->events),
				  .data.fd = p->fd };
	int fd = p->fd;

	if (fd < 0 || fd >= SLIRP_MAX_FD ||
	    ((unsigned int)fd >= s->cap_reg && !reg_grow(s, fd))) {
		s->pfd_overflow = true;
		return;
	}
	s->reg_seen[fd] = s->fill_no;
	if (s->reg[fd] == (REG_ON | ev.events))
		return;
	if (s->reg[fd] && !epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev)) {
		s->reg[fd] = REG_ON | ev.events;
		return;
	}
	/* Not registered, or a new file under an old number. */
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) &&
	    (errno != EEXIST || epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev))) {
		s->reg[fd] = 0;
		s->pfd_overflow = true;
		return;
	}
	s->reg[fd] = REG_ON | ev.events;
	if ((unsigned int)fd >= s->max_reg)
		s->max_reg = (unsigned int)fd + 1;
}

/* Arms timer_fd for ms from now unless it fires earlier anyway. */
static void timer_arm(struct slirp_be *s, int64_t now, int64_t ms)
{
	struct itimerspec its = { .it_value = { 0 } };
	int64_t at;

	if (ms < 0)
		return; /* a stale deadline only costs a spurious round */
	at = now + ms;
	if (s->armed_ms >= now && s->armed_ms <= at)
		return;
	its.it_value.tv_sec = at / 1000;
	its.it_value.tv_nsec = (long)(at % 1000) * 1000000;
	if (at == 0)
		its.it_value.tv_nsec = 1; /* 0 would disarm */
	if (timerfd_settime(s->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		s->armed_ms = at;
}

/*
 * Asks slirp what to poll and brings the epoll set and the timer up to
 * date: descriptors slirp no longer asks for leave the set.
 */
static void refill(struct slirp_be *s)
{
	uint32_t timeout = UINT32_MAX;
	int64_t now, next;
	unsigned int i;

	s->throttled = s->rx.count >= SLIRP_RX_HIGH;
	s->nr_pfd = 0;
	s->pfd_overflow = false;
	libslirp.pollfds_fill(s->slirp, &timeout, cb_add_poll, s);
	s->fill_no++;
	for (i = 0; i < s->nr_pfd; i++)
		reg_sync_one(s, &s->pfd[i]);
	for (i = 0; i < s->max_reg; i++) {
		if (s->reg[i] && s->reg_seen[i] != s->fill_no) {
			epoll_ctl(s->epfd, EPOLL_CTL_DEL, (int)i, NULL);
			s->reg[i] = 0;
		}
	}
	while (s->max_reg && !s->reg[s->max_reg - 1])
		s->max_reg--;
	if (s->pfd_overflow && !s->warned_overflow) {
		s->warned_overflow = true;
		log_warn("virtio-net (user): too many sockets to poll");
	}
	now = now_ms();
	next = timers_next_ms(s, now);
	if (timeout != UINT32_MAX && (next < 0 || timeout < next))
		next = timeout;
	timer_arm(s, now, next);
}

/* One turn of slirp: what is ready now, its timers, then a new fill. */
static void slirp_round(struct slirp_be *s)
{
	uint64_t expirations;
	int r = 0;

	if (s->in_round)
		return;
	s->in_round = true;
	if (read(s->timer_fd, &expirations, sizeof(expirations)) > 0)
		s->armed_ms = -1;
	if (s->nr_pfd) {
		r = poll(s->pfd, s->nr_pfd, 0);
		if (r < 0) {
			unsigned int i;

			for (i = 0; i < s->nr_pfd; i++)
				s->pfd[i].revents = 0;
		}
	}
	timers_run(s);
	libslirp.pollfds_poll(s->slirp, r < 0, cb_get_revents, s);
	refill(s);
	s->in_round = false;
}

/* ---- the device's I/O thread ---- */

static void deliver(struct slirp_be *s)
{
	const struct net_port *port = s->be.port;

	if (s->rx.count && s->rx_on)
		port->rx_ready(port->opaque);
}

static void slirp_kick_event(void *opaque, uint32_t events)
{
	struct slirp_be *s = opaque;

	(void)events;
	event_drain(s->kick_fd);
	s->kicked = false;
	slirp_round(s);
	deliver(s);
}

static void slirp_poll_event(void *opaque, uint32_t events)
{
	struct slirp_be *s = opaque;

	(void)events;
	slirp_round(s);
	deliver(s);
}

static int slirp_attach(struct netbe *be, const struct net_port *port)
{
	struct slirp_be *s = to_slirp(be);
	int r;

	be->port = port;
	r = port->watch(port->opaque, s->kick_fd, EPOLLIN, slirp_kick_event, s);
	if (r)
		return r;
	r = port->watch(port->opaque, s->epfd, EPOLLIN, slirp_poll_event, s);
	if (r) {
		port->unwatch(port->opaque, s->kick_fd);
		return r;
	}
	/* The first fill (hostfwd listeners) happens on the I/O thread. */
	kick(s);
	return 0;
}

static int slirp_send(struct netbe *be, const struct iovec *iov,
		      unsigned int iovcnt)
{
	struct slirp_be *s = to_slirp(be);
	size_t total = net_iov_len(iov, iovcnt), len;

	/* The header carries nothing for slirp: no offloads were offered. */
	if (total < NET_HDR_LEN + NET_MIN_FRAME ||
	    total - NET_HDR_LEN > SLIRP_SLOT) {
		be->stats.tx_dropped++;
		return -EMSGSIZE;
	}
	len = total - NET_HDR_LEN;
	/* Our copy: the guest cannot change the frame under libslirp. */
	net_iov_to_buf(iov, iovcnt, NET_HDR_LEN, s->frame, len);
	be->stats.tx_frames++;
	libslirp.input(s->slirp, s->frame, (int)len);
	/* Answers wait in the ring, and sockets may have come or gone. */
	kick(s);
	return 0;
}

static ssize_t slirp_recv(struct netbe *be, const struct iovec *iov,
			  unsigned int iovcnt)
{
	struct slirp_be *s = to_slirp(be);
	const struct virtio_net_hdr_v1 hdr = { .gso_type = 0 };
	size_t len;

	if (!s->rx.count)
		return -EAGAIN;
	len = s->rx.len[s->rx.head];
	if (iov) {
		if (net_iov_len(iov, iovcnt) < NET_HDR_LEN + len)
			return -EMSGSIZE;
		net_buf_to_iov(iov, iovcnt, 0, &hdr, NET_HDR_LEN);
		net_buf_to_iov(iov, iovcnt, NET_HDR_LEN, s->rx.buf[s->rx.head],
			       len);
		be->stats.rx_frames++;
	} else {
		be->stats.rx_dropped++;
	}
	ring_pop(&s->rx);
	/* Room again: the next fill asks for socket input. */
	if (s->throttled && s->rx.count <= SLIRP_RX_LOW)
		kick(s);
	return (ssize_t)(NET_HDR_LEN + len);
}

static ssize_t slirp_peek(struct netbe *be)
{
	struct slirp_be *s = to_slirp(be);

	if (!s->rx.count)
		return -EAGAIN;
	return (ssize_t)(NET_HDR_LEN + s->rx.len[s->rx.head]);
}

static void slirp_rx_enable(struct netbe *be, bool on)
{
	struct slirp_be *s = to_slirp(be);

	s->rx_on = on;
	/* Frames that came while rx was off: tell the device again. */
	if (on && s->rx.count)
		kick(s);
}

static int slirp_set_offloads(struct netbe *be, uint32_t offloads)
{
	(void)be;
	return offloads ? -EOPNOTSUPP : 0;
}

static void slirp_reset(struct netbe *be)
{
	struct slirp_be *s = to_slirp(be);

	s->rx_on = false;
	s->rx.head = s->rx.count = 0;
	if (s->throttled)
		kick(s);
}

static void slirp_destroy(struct netbe *be)
{
	struct slirp_be *s = to_slirp(be);
	struct slirp_timer *t;

	if (s->slirp)
		libslirp.cleanup(s->slirp); /* frees its timers through us */
	while ((t = s->timers)) {
		s->timers = t->next;
		free(t);
	}
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->timer_fd >= 0)
		close(s->timer_fd);
	if (s->kick_fd >= 0)
		close(s->kick_fd);
	ring_free(&s->rx);
	free(s->pfd);
	free(s->reg);
	free(s->reg_seen);
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
	if (libslirp.add_hostfwd(s->slirp, f->udp, host, f->host_port, guest,
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
	r = libslirp_load(err, errlen);
	if (r)
		return r;
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
	s->epfd = s->timer_fd = s->kick_fd = -1;
	s->armed_ms = -1;
	r = ring_init(&s->rx, SLIRP_RX_SLOTS);
	if (r) {
		snprintf(err, errlen, "--net user: out of memory");
		goto fail;
	}
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0) {
		r = -errno;
		snprintf(err, errlen, "--net user: epoll_create1: %s",
			 strerror(-r));
		goto fail;
	}
	s->timer_fd =
		timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (s->timer_fd < 0 ||
	    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->timer_fd,
		      &(struct epoll_event){ .events = EPOLLIN,
					     .data.fd = s->timer_fd })) {
		r = -errno;
		snprintf(err, errlen, "--net user: timerfd: %s", strerror(-r));
		goto fail;
	}
	s->kick_fd = event_new();
	if (s->kick_fd < 0) {
		r = s->kick_fd;
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
	s->slirp = libslirp.new_(&sc, &slirp_callbacks, s);
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
	*out = &s->be;
	return 0;

fail:
	slirp_destroy(&s->be);
	return r;
}
