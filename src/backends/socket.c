// SPDX-License-Identifier: MIT
/*
 * The console over a UNIX socket, with a history ring (see socket.h), and
 * the listening-socket helpers of the control API. Host side only: the
 * bytes the guest writes are stored and forwarded, never interpreted; the
 * bytes a client sends are handed to the guest's console device as they
 * are (no escape keys: the control API stops mica).
 *
 * The ring keeps the last `size` bytes of output; `total` counts every byte
 * written, so the oldest byte kept is at total - min(total, size). An
 * attached client has its own position `sent`; a write never overwrites
 * [sent, total), which is what keeps an attached client lossless and lets
 * the main thread read those bytes without the lock while it sends them.
 */
#include "backends/socket.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/log.h"

#define LISTEN_BACKLOG 8
#define FLUSH_ROUNDS 64 /* sends per wake-up before yielding to the loop */
#define CLOSE_FLUSH_MS 2000 /* at exit, for a client still reading */

static const char takeover_notice[] =
	"\r\n[mica: another client attached to this console]\r\n";

/* ---- listening sockets ------------------------------------------------ */

static int listen_fail(char *err, size_t errlen, int rc, const char *what,
		       const char *path, const char *why)
{
	snprintf(err, errlen, "%s '%s': %s", what, path, why);
	return rc;
}

/* Is somebody accepting connections at this socket file? */
static int probe_in_use(const struct sockaddr_un *a)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rc;

	if (fd < 0)
		return -errno;
	rc = connect(fd, (const struct sockaddr *)a, sizeof(*a));
	if (rc == 0 || errno == EAGAIN || errno == EINPROGRESS)
		rc = -EADDRINUSE; /* accepted, or a full backlog: alive */
	else if (errno == ECONNREFUSED)
		rc = 0; /* a socket file nobody listens on: stale */
	else
		rc = -errno;
	close(fd);
	return rc;
}

int socket_listen(struct socket_listener *l, const char *what, const char *path,
		  char *err, size_t errlen)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	struct stat st;
	mode_t old;
	int fd, rc;

	l->fd = -1;
	l->path[0] = '\0';
	if (!len)
		return listen_fail(err, errlen, -EINVAL, what, path,
				   "empty path");
	if (len >= sizeof(a.sun_path)) {
		snprintf(err, errlen,
			 "%s: path of %zu bytes is too long for a UNIX socket "
			 "(at most %zu)",
			 what, len, sizeof(a.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(a.sun_path, path, len + 1);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return listen_fail(err, errlen, -EEXIST, what, path,
					   "exists and is not a socket");
		rc = probe_in_use(&a);
		if (rc == -EADDRINUSE)
			return listen_fail(err, errlen, rc, what, path,
					   "in use: a server is listening "
					   "there (another mica?)");
		if (rc)
			return listen_fail(err, errlen, rc, what, path,
					   strerror(-rc));
		if (unlink(path) && errno != ENOENT)
			return listen_fail(err, errlen, -errno, what, path,
					   "cannot remove the stale socket");
	} else if (errno != ENOENT) {
		return listen_fail(err, errlen, -errno, what, path,
				   strerror(errno));
	}

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return listen_fail(err, errlen, -errno, what, path,
				   strerror(errno));
	/* Owner only from the start: no window with a wider mode. */
	old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&a, sizeof(a)) ? -errno : 0;
	umask(old);
	if (!rc && listen(fd, LISTEN_BACKLOG))
		rc = -errno;
	if (!rc && lstat(path, &st))
		rc = -errno;
	if (rc) {
		close(fd);
		return listen_fail(err, errlen, rc, what, path, strerror(-rc));
	}
	l->fd = fd;
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	memcpy(l->path, path, len + 1);
	return 0;
}

void socket_unlisten(struct socket_listener *l)
{
	struct stat st;

	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	/* Only the file mica made: somebody may have replaced it since. */
	if (l->path[0] && lstat(l->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == l->dev && st.st_ino == l->ino)
		unlink(l->path);
	l->path[0] = '\0';
}

/* ---- output (any thread) ---------------------------------------------- */

static size_t sock_write(struct chardev *chr, const uint8_t *buf, size_t len)
{
	struct socket_chardev *s = (struct socket_chardev *)chr;
	size_t n = len, keep, at, first;
	bool wake = false;

	pthread_mutex_lock(&s->ring_lock);
	if (s->attached) {
		size_t room = s->size - (size_t)(s->total - s->sent);

		if (n > room)
			n = room;
	}
	/* Detached, a long write keeps only its last `size` bytes. */
	keep = n < s->size ? n : s->size;
	at = (size_t)((s->total + (n - keep)) % s->size);
	first = keep < s->size - at ? keep : s->size - at;
	memcpy(s->ring + at, buf + (n - keep), first);
	memcpy(s->ring, buf + (n - keep) + first, keep - first);
	s->total += n;
	if (n < len)
		s->fe_waiting = true;
	if (s->attached && n && !s->out_signalled) {
		s->out_signalled = true;
		wake = true;
	}
	pthread_mutex_unlock(&s->ring_lock);
	if (wake)
		event_signal(s->out_event);
	return n;
}

/* ---- the client (main thread) ----------------------------------------- */

static void set_watch(struct socket_chardev *s, bool want_out)
{
	uint32_t ev = 0;

	if (s->client < 0)
		return;
	if (!s->in_eof && s->in_pos == s->in_len)
		ev |= EPOLLIN;
	if (want_out)
		ev |= EPOLLOUT;
	if (ev != s->client_events && loop_mod(s->loop, s->client, ev) == 0)
		s->client_events = ev;
}

static bool watching_out(const struct socket_chardev *s)
{
	return s->client_events & EPOLLOUT;
}

static void detach(struct socket_chardev *s, bool takeover)
{
	bool notify;

	if (s->client < 0)
		return;
	if (takeover &&
	    send(s->client, takeover_notice, sizeof(takeover_notice) - 1,
		 MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("console socket: takeover notice not sent");
	loop_del(s->loop, s->client);
	close(s->client);
	s->client = -1;
	s->client_events = 0;
	s->in_eof = false;
	pthread_mutex_lock(&s->ring_lock);
	s->attached = false;
	s->out_signalled = false;
	notify = s->fe_waiting;
	s->fe_waiting = false;
	pthread_mutex_unlock(&s->ring_lock);
	/* Nobody to wait for any more: the guest may write again. */
	if (notify)
		chardev_fe_tx_ready(&s->chr);
	log_info("console socket: client detached");
}

/*
 * The next contiguous run of [sent, total) in the ring: its offset in *at
 * and its length (0: caught up). Under ring_lock while devices may write.
 */
static size_t pending_run(const struct socket_chardev *s, size_t *at)
{
	uint64_t pending = s->total - s->sent;

	*at = (size_t)(s->sent % s->size);
	return pending < s->size - *at ? (size_t)pending : s->size - *at;
}

/* Sends what the client has not had yet, until caught up or it blocks. */
static void flush_out(struct socket_chardev *s)
{
	unsigned int round;

	pthread_mutex_lock(&s->ring_lock);
	s->out_signalled = false;
	pthread_mutex_unlock(&s->ring_lock);
	for (round = 0; round < FLUSH_ROUNDS && s->client >= 0; round++) {
		size_t at, chunk;
		ssize_t w;
		bool notify;

		pthread_mutex_lock(&s->ring_lock);
		chunk = pending_run(s, &at);
		pthread_mutex_unlock(&s->ring_lock);
		if (!chunk) {
			set_watch(s, false);
			return;
		}
		/* [sent, total) is never overwritten while attached. */
		w = send(s->client, s->ring + at, chunk,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			set_watch(s, true);
			return;
		}
		if (w <= 0) {
			detach(s, false); /* gone (EPIPE, ECONNRESET) */
			return;
		}
		pthread_mutex_lock(&s->ring_lock);
		s->sent += (uint64_t)w;
		notify = s->fe_waiting;
		s->fe_waiting = false;
		pthread_mutex_unlock(&s->ring_lock);
		if (notify)
			chardev_fe_tx_ready(&s->chr);
	}
	/* More to send: come back after the loop's other work. */
	if (s->client >= 0) {
		pthread_mutex_lock(&s->ring_lock);
		s->out_signalled = true;
		pthread_mutex_unlock(&s->ring_lock);
		event_signal(s->out_event);
	}
}

/* Hands held bytes to the frontend. Returns true if all were taken. */
static bool deliver(struct socket_chardev *s)
{
	if (s->in_pos == s->in_len)
		return true;
	s->in_pos += chardev_fe_receive(&s->chr, s->in_buf + s->in_pos,
					s->in_len - s->in_pos);
	if (s->in_pos < s->in_len)
		return false;
	s->in_pos = s->in_len = 0;
	return true;
}

/* Reads one buffer of input; false if the client is gone. */
static bool read_input(struct socket_chardev *s)
{
	ssize_t n = recv(s->client, s->in_buf, sizeof(s->in_buf), MSG_DONTWAIT);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n < 0)
		return false;
	if (n == 0) {
		/* Half-closed: no more input, but output may still go. */
		s->in_eof = true;
		return true;
	}
	s->in_pos = 0;
	s->in_len = (size_t)n;
	return true;
}

static void on_client(void *opaque, uint32_t events)
{
	struct socket_chardev *s = opaque;

	if ((events & EPOLLIN) && s->in_pos == s->in_len && !s->in_eof) {
		if (!read_input(s)) {
			detach(s, false);
			return;
		}
		deliver(s);
	}
	if (events & (EPOLLHUP | EPOLLERR)) {
		detach(s, false);
		return;
	}
	if (events & EPOLLOUT)
		flush_out(s);
	set_watch(s, watching_out(s));
}

static void on_accept(void *opaque, uint32_t events)
{
	struct socket_chardev *s = opaque;
	uint64_t kept;
	int fd, rc;

	(void)events;
	fd = accept4(s->listener.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	detach(s, true); /* the newest client takes over */
	rc = loop_add(s->loop, fd, 0, on_client, s); /* HUP, ERR */
	if (rc) {
		log_warn("console socket: cannot watch a new client: %s",
			 strerror(-rc));
		close(fd);
		return;
	}
	s->client = fd;
	s->client_events = 0;
	s->in_eof = false;
	pthread_mutex_lock(&s->ring_lock);
	kept = s->total < s->size ? s->total : s->size;
	s->sent = s->total - kept; /* the history first */
	s->attached = true;
	pthread_mutex_unlock(&s->ring_lock);
	log_info("console socket: client attached");
	flush_out(s);
	set_watch(s, watching_out(s));
}

static void on_out_event(void *opaque, uint32_t events)
{
	struct socket_chardev *s = opaque;

	(void)events;
	event_drain(s->out_event);
	if (s->client >= 0) {
		flush_out(s);
		return;
	}
	pthread_mutex_lock(&s->ring_lock);
	s->out_signalled = false;
	pthread_mutex_unlock(&s->ring_lock);
}

static void on_rx_event(void *opaque, uint32_t events)
{
	struct socket_chardev *s = opaque;

	(void)events;
	event_drain(s->rx_event);
	deliver(s);
	set_watch(s, watching_out(s));
}

static void sock_rx_ready(struct chardev *chr)
{
	struct socket_chardev *s = (struct socket_chardev *)chr;

	event_signal(s->rx_event);
}

static const struct chardev_ops socket_ops = {
	.write = sock_write,
	.rx_ready = sock_rx_ready,
};

/* ---- setup and teardown ----------------------------------------------- */

size_t socket_chardev_history_len(struct socket_chardev *s)
{
	size_t n;

	pthread_mutex_lock(&s->ring_lock);
	n = s->total < s->size ? (size_t)s->total : s->size;
	pthread_mutex_unlock(&s->ring_lock);
	return n;
}

bool socket_chardev_attached(struct socket_chardev *s)
{
	bool a;

	pthread_mutex_lock(&s->ring_lock);
	a = s->attached;
	pthread_mutex_unlock(&s->ring_lock);
	return a;
}

int socket_chardev_open(struct socket_chardev *s, struct loop *loop,
			const char *path, size_t history, char *err,
			size_t errlen)
{
	int rc;

	memset(s, 0, sizeof(*s));
	s->chr.ops = &socket_ops;
	pthread_mutex_init(&s->chr.fe_lock, NULL);
	pthread_mutex_init(&s->ring_lock, NULL);
	s->loop = loop;
	s->client = s->out_event = s->rx_event = -1;
	s->listener.fd = -1;
	if (history < SOCKET_HISTORY_MIN || history > SOCKET_HISTORY_MAX) {
		snprintf(err, errlen,
			 "--console-history: %zu bytes is out of range (%u to "
			 "%u)",
			 history, SOCKET_HISTORY_MIN, SOCKET_HISTORY_MAX);
		return -EINVAL;
	}
	s->size = history;
	s->ring = malloc(history);
	if (!s->ring) {
		snprintf(err, errlen, "--console-history: out of memory");
		return -ENOMEM;
	}
	rc = socket_listen(&s->listener, "--console-socket", path, err, errlen);
	if (rc)
		goto fail;
	rc = event_new();
	if (rc < 0)
		goto fail_loop;
	s->out_event = rc;
	rc = event_new();
	if (rc < 0)
		goto fail_loop;
	s->rx_event = rc;
	rc = loop_add(loop, s->listener.fd, EPOLLIN, on_accept, s);
	if (!rc)
		rc = loop_add(loop, s->out_event, EPOLLIN, on_out_event, s);
	if (!rc)
		rc = loop_add(loop, s->rx_event, EPOLLIN, on_rx_event, s);
	if (rc)
		goto fail_loop;
	return 0;

fail_loop:
	snprintf(err, errlen, "--console-socket '%s': %s", path, strerror(-rc));
fail:
	socket_chardev_close(s);
	return rc;
}

/* At exit: give an attached client what it has not read, for a while. */
static void final_flush(struct socket_chardev *s)
{
	uint64_t deadline = clock_ns() + CLOSE_FLUSH_MS * 1000000ull;

	while (s->sent != s->total) {
		size_t at, chunk = pending_run(s, &at);
		uint64_t now;
		struct pollfd p = { .fd = s->client, .events = POLLOUT };
		ssize_t w = send(s->client, s->ring + at, chunk,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w > 0) {
			s->sent += (uint64_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return;
		now = clock_ns();
		if (now >= deadline)
			return;
		if (poll(&p, 1, (int)((deadline - now) / 1000000 + 1)) < 0 &&
		    errno != EINTR)
			return;
	}
}

void socket_chardev_close(struct socket_chardev *s)
{
	if (s->client >= 0) {
		/* The devices are gone: nothing writes to the ring now. */
		final_flush(s);
		detach(s, false);
	}
	if (s->listener.fd >= 0)
		loop_del(s->loop, s->listener.fd);
	socket_unlisten(&s->listener);
	if (s->out_event >= 0) {
		loop_del(s->loop, s->out_event);
		close(s->out_event);
		s->out_event = -1;
	}
	if (s->rx_event >= 0) {
		loop_del(s->loop, s->rx_event);
		close(s->rx_event);
		s->rx_event = -1;
	}
	free(s->ring);
	s->ring = NULL;
}
