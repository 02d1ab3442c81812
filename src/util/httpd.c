// SPDX-License-Identifier: MIT
/*
 * The HTTP server shared by mica's control API and micad's API (see
 * httpd.h): libmicrohttpd through a table of functions loaded with
 * dlopen(), request bodies with their size cap, replies, the connection
 * cap and MHD's timers.
 */
#include "util/httpd.h"

#include <errno.h>
#include <microhttpd.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/dynlib.h"

/*
 * libmicrohttpd is loaded when a server is first opened, not linked:
 * Debian's build pulls in GnuTLS and eight more libraries, which would add
 * about 2 ms of start-up and 3 MiB of resident memory to every mica run,
 * with or without --api-socket. The soname pins the ABI of microhttpd.h.
 * The library stays loaded until exit.
 */
#define MHD_SONAME "libmicrohttpd.so.12"

static struct mhd_lib {
	bool loaded;
	__typeof__(MHD_start_daemon) *start_daemon;
	__typeof__(MHD_stop_daemon) *stop_daemon;
	__typeof__(MHD_get_daemon_info) *get_daemon_info;
	__typeof__(MHD_get_connection_info) *get_connection_info;
	__typeof__(MHD_run) *run;
	__typeof__(MHD_get_timeout) *get_timeout;
	__typeof__(MHD_add_connection) *add_connection;
	__typeof__(MHD_lookup_connection_value) *lookup_connection_value;
	__typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
	__typeof__(MHD_add_response_header) *add_response_header;
	__typeof__(MHD_queue_response) *queue_response;
	__typeof__(MHD_destroy_response) *destroy_response;
} mhd;

#define MHD_SYM(field) DYNLIB_SYM(struct mhd_lib, field, "MHD_" #field)

int httpd_load(const char *what, char *err, size_t errlen)
{
	static const struct dynlib_sym syms[] = {
		MHD_SYM(start_daemon),
		MHD_SYM(stop_daemon),
		MHD_SYM(get_daemon_info),
		MHD_SYM(get_connection_info),
		MHD_SYM(run),
		MHD_SYM(get_timeout),
		MHD_SYM(add_connection),
		MHD_SYM(lookup_connection_value),
		MHD_SYM(create_response_from_buffer),
		MHD_SYM(add_response_header),
		MHD_SYM(queue_response),
		MHD_SYM(destroy_response),
	};
	int rc;

	if (mhd.loaded)
		return 0;
	rc = dynlib_load(what, MHD_SONAME, "libmicrohttpd12", syms,
			 sizeof(syms) / sizeof(syms[0]), &mhd, err, errlen);
	mhd.loaded = rc == 0;
	return rc;
}

/* One request in progress: its body so far. */
struct httpd_request {
	char *body;
	size_t len, cap;
	size_t discarded; /* bytes past body_max */
	bool too_large;
	bool replied; /* counted in httpd.replying */
};

static enum MHD_Result send_reply(struct httpd *h, struct MHD_Connection *c,
				  struct httpd_request *rq,
				  struct httpd_reply *r)
{
	const char *oom = h->cfg->oom;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	unsigned int status = r->status;

	if (r->body) {
		resp = mhd.create_response_from_buffer(strlen(r->body), r->body,
						       MHD_RESPMEM_MUST_FREE);
		if (!resp)
			free(r->body);
	} else {
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		resp = mhd.create_response_from_buffer(strlen(oom), (void *)oom,
						       MHD_RESPMEM_PERSISTENT);
	}
	r->body = NULL;
	if (!resp)
		return MHD_NO; /* MHD closes the connection */
	mhd.add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				"application/json");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED && r->allow)
		mhd.add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	ret = mhd.queue_response(c, status, resp);
	mhd.destroy_response(resp);
	if (ret == MHD_YES) {
		rq->replied = true;
		h->replying++;
	}
	return ret;
}

static bool content_length_too_big(struct httpd *h, struct MHD_Connection *c)
{
	const char *cl = mhd.lookup_connection_value(
		c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned long long n;
	char *end;

	if (!cl)
		return false;
	errno = 0;
	n = strtoull(cl, &end, 10);
	/* MHD itself refuses a malformed Content-Length. */
	return end != cl && (errno == ERANGE || n > h->cfg->body_max);
}

static bool append(struct httpd *h, struct httpd_request *rq, const char *data,
		   size_t n)
{
	if (rq->len + n > rq->cap) {
		size_t cap = rq->cap ? rq->cap : h->cfg->body_first;
		char *p;

		while (cap < rq->len + n)
			cap *= 2;
		if (cap > h->cfg->body_max)
			cap = h->cfg->body_max;
		p = realloc(rq->body, cap);
		if (!p)
			return false;
		rq->body = p;
		rq->cap = cap;
	}
	memcpy(rq->body + rq->len, data, n);
	rq->len += n;
	return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct httpd *h = cls;
	struct httpd_request *rq = *con_cls;
	struct httpd_reply r;

	(void)version;
	if (!rq) {
		/* The headers are in: a body too large is refused at once. */
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		*con_cls = rq;
		if (!content_length_too_big(h, c))
			return MHD_YES;
		h->cfg->handle(h->opaque, c, method, url, NULL, 0, &r);
		return send_reply(h, c, rq, &r);
	}
	if (*upload_size) {
		size_t n = *upload_size;

		*upload_size = 0;
		if (!rq->too_large && n <= h->cfg->body_max - rq->len)
			return append(h, rq, upload, n) ? MHD_YES : MHD_NO;
		/* Chunked and too long: read on a little, then hang up. */
		rq->too_large = true;
		rq->discarded += n;
		return rq->discarded > h->cfg->discard_max ? MHD_NO : MHD_YES;
	}
	if (rq->too_large)
		h->cfg->handle(h->opaque, c, method, url, NULL, 0, &r);
	else
		h->cfg->handle(h->opaque, c, method, url,
			       rq->body ? rq->body : "", rq->len, &r);
	return send_reply(h, c, rq, &r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct httpd *h = cls;
	struct httpd_request *rq = *con_cls;

	(void)c;
	(void)toe;
	if (!rq)
		return;
	if (rq->replied && h->replying)
		h->replying--;
	free(rq->body);
	free(rq);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct httpd *h = cls;
	char msg[256];
	size_t n;

	if ((h->cfg->debug_log && log_threshold < LOG_DEBUG) ||
	    !log_ratelimit_ok(&h->rl))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	log_msg(h->cfg->debug_log ? LOG_DEBUG : LOG_INFO, "%s: %s",
		h->cfg->name, msg);
}

void httpd_run(struct httpd *h)
{
	struct itimerspec its = { .it_value = { 0 } };
	MHD_UNSIGNED_LONG_LONG ms = 0;
	bool timeout = false;
	unsigned int i;

	for (i = 0; i < 8; i++) {
		mhd.run(h->mhd);
		timeout = mhd.get_timeout(h->mhd, &ms) == MHD_YES;
		if (!timeout || ms)
			break;
	}
	if (timeout) {
		if (!ms)
			ms = 1; /* still busy: come back after the loop */
		its.it_value.tv_sec = (time_t)(ms / 1000);
		its.it_value.tv_nsec = (long)(ms % 1000) * 1000000;
	}
	timerfd_settime(h->timer_fd, 0, &its, NULL);
}

/* Counts connections, to stop accepting at max_connections. */
static void on_connection(void *cls, struct MHD_Connection *c,
			  void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct httpd *h = cls;

	(void)c;
	(void)socket_context;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		h->connections++;
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED && h->connections) {
		h->connections--;
		/* Room again: take the next waiting client. */
		if (h->accept_paused && h->listen_fd >= 0 &&
		    h->cfg->listen_mod(h->opaque, EPOLLIN) == 0)
			h->accept_paused = false;
	}
}

/*
 * The owner accepts, and hands the connection to MHD: at the cap, clients
 * wait in the listen backlog instead (MHD's own handling of a listening
 * socket at its connection limit can leave it unwatched).
 */
void httpd_accept(struct httpd *h)
{
	unsigned int i;

	for (i = 0; i < h->cfg->max_connections; i++) {
		struct sockaddr_un addr;
		socklen_t len = sizeof(addr);
		int fd;

		if (h->connections >= h->cfg->max_connections) {
			if (h->cfg->listen_mod(h->opaque, 0) == 0)
				h->accept_paused = true;
			break;
		}
		fd = accept4(h->listen_fd, (struct sockaddr *)&addr, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			break;
		/* On failure MHD closes fd itself. */
		if (mhd.add_connection(h->mhd, fd, (struct sockaddr *)&addr,
				       len) != MHD_YES)
			log_info("%s: a connection was refused", h->cfg->name);
	}
	httpd_run(h);
}

void httpd_init(struct httpd *h, const struct httpd_config *cfg, void *opaque)
{
	*h = (struct httpd){
		.cfg = cfg,
		.opaque = opaque,
		.listen_fd = -1,
		.mhd_fd = -1,
		.timer_fd = -1,
	};
}

int httpd_start(struct httpd *h)
{
	const union MHD_DaemonInfo *info;

	h->timer_fd =
		timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (h->timer_fd < 0)
		return -errno;
	/* Without strict, MHD_OPTION_END ends the list before it. */
	h->mhd = mhd.start_daemon(
		MHD_USE_EPOLL | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ERROR_LOG, 0,
		NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
		h, MHD_OPTION_CONNECTION_LIMIT, h->cfg->max_connections,
		MHD_OPTION_CONNECTION_TIMEOUT, h->cfg->timeout_s,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
		h->cfg->strict ? MHD_OPTION_STRICT_FOR_CLIENT : MHD_OPTION_END,
		(int)1, MHD_OPTION_END);
	if (!h->mhd)
		return -EIO;
	info = mhd.get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info)
		return -EIO;
	h->mhd_fd = info->epoll_fd;
	return 0;
}

/* Lets queued responses go out, for at most drain_ms. */
static void drain(struct httpd *h, unsigned int drain_ms)
{
	uint64_t deadline = clock_ns() + drain_ms * 1000000ull;

	mhd.run(h->mhd);
	while (h->replying) {
		struct pollfd p = { .fd = h->mhd_fd, .events = POLLIN };
		MHD_UNSIGNED_LONG_LONG ms = 0;
		uint64_t now = clock_ns();
		int wait;

		if (now >= deadline)
			break;
		wait = (int)((deadline - now) / 1000000 + 1);
		if (mhd.get_timeout(h->mhd, &ms) == MHD_YES &&
		    ms < (MHD_UNSIGNED_LONG_LONG)wait)
			wait = (int)ms;
		if (wait && poll(&p, 1, wait) < 0 && errno != EINTR)
			break;
		mhd.run(h->mhd);
	}
}

void httpd_stop(struct httpd *h, unsigned int drain_ms)
{
	if (h->mhd) {
		if (!drain_ms)
			mhd.run(h->mhd); /* what is ready goes out */
		else if (h->mhd_fd >= 0)
			drain(h, drain_ms);
		mhd.stop_daemon(h->mhd); /* calls on_completed for the rest */
		h->mhd = NULL;
	}
	h->mhd_fd = -1;
	if (h->timer_fd >= 0)
		close(h->timer_fd);
	h->timer_fd = -1;
}

const char *httpd_query(struct MHD_Connection *c, const char *key)
{
	return mhd.lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
}

uid_t httpd_peer_uid(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		mhd.get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (!ci ||
	    getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return (uid_t)-1;
	return cred.uid;
}
