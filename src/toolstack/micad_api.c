// SPDX-License-Identifier: MIT
/*
 * micad's HTTP/JSON API: routes, validation, quotas and the server.
 *
 * Untrusted here: everything an API client sends (method, path, query,
 * body). Bodies are capped at MICAD_API_BODY_MAX (413, from Content-Length
 * before the body is read), requests at MICAD_API_TIMEOUT_S (libmicrohttpd's
 * connection timeout), connections at MICAD_API_MAX_CONNECTIONS (further
 * clients wait in the listen backlog), and each client uid (SO_PEERCRED) to
 * a token bucket of MICAD_RATE_PER_S requests per second with a burst of
 * MICAD_RATE_BURST (429). Text taken from a request is reduced to printable
 * ASCII before it appears in a message.
 *
 * The server runs on micad's loop thread: libmicrohttpd in external-epoll
 * mode (MHD_USE_EPOLL, no listening socket of its own; micad accepts and
 * hands connections over with MHD_add_connection). Handlers therefore run
 * on the same thread as the supervisor and need no locks.
 */
#include "toolstack/micad_api.h"

#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/log.h"

#define MSG_MAX 1024

/* ---- replies ---- */

static void reply_json(struct micad_reply *r, unsigned int status, json_t *o)
{
	r->status = status;
	r->body = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)) :
		      NULL;
	if (!r->body)
		r->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	json_decref(o);
}

static void reply_error(struct micad_reply *r, unsigned int status,
			const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void reply_error(struct micad_reply *r, unsigned int status,
			const char *fmt, ...)
{
	char msg[MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	reply_json(r, status, json_pack("{s:s}", "error", msg));
}

/* Request text in a message: printable ASCII, at most 64 characters. */
static const char *clean(const char *in, char *buf, size_t len)
{
	size_t i;

	for (i = 0; in[i] && i + 4 < len && i < 64; i++)
		buf[i] = isprint((unsigned char)in[i]) ? in[i] : '?';
	if (in[i] && i + 4 <= len) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

static unsigned int errno_status(int rc)
{
	switch (rc) {
	case -ENOENT:
		return MHD_HTTP_NOT_FOUND;
	case -EEXIST:
	case -EBUSY:
		return MHD_HTTP_CONFLICT;
	case -EINVAL:
		return MHD_HTTP_BAD_REQUEST;
	default:
		return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
}

/* The result of an ops call: *out with status ok, or the error. */
static void reply_result(struct micad_reply *r, int rc, unsigned int ok,
			 json_t *out, const char *err)
{
	if (rc) {
		json_decref(out);
		reply_error(r, errno_status(rc), "%s",
			    *err ? err : strerror(-rc));
		return;
	}
	reply_json(r, ok, out);
}

void micad_api_too_large(struct micad_reply *r)
{
	*r = (struct micad_reply){ .status = 0 };
	reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE,
		    "the request body is larger than %u bytes (1 MiB)",
		    MICAD_API_BODY_MAX);
}

/* ---- the rate limit ---- */

static uint64_t default_now(void)
{
	return clock_ns();
}

void micad_api_init(struct micad_api *api, const struct micad_ops *ops,
		    void *opaque)
{
	memset(api, 0, sizeof(*api));
	api->ops = ops;
	api->opaque = opaque;
	api->now_ns = default_now;
	api->listen_w.fd = api->mhd_w.fd = api->timer_w.fd = -1;
}

/* Takes a token from uid's bucket; false when it is empty. */
static bool rate_ok(struct micad_api *api, uid_t uid)
{
	uint64_t now = api->now_ns();
	struct micad_rate *b = NULL, *lru = &api->rate[0];
	unsigned int i;

	for (i = 0; i < MICAD_RATE_CLIENTS; i++) {
		struct micad_rate *e = &api->rate[i];

		if (e->used && e->uid == uid) {
			b = e;
			break;
		}
		if (!e->used || (lru->used && e->last_ns < lru->last_ns))
			lru = e;
	}
	if (!b) {
		b = lru;
		*b = (struct micad_rate){
			.uid = uid,
			.used = true,
			.tokens = MICAD_RATE_BURST,
			.last_ns = now,
		};
	}
	if (now > b->last_ns) {
		b->tokens +=
			(double)(now - b->last_ns) * MICAD_RATE_PER_S / 1e9;
		if (b->tokens > MICAD_RATE_BURST)
			b->tokens = MICAD_RATE_BURST;
	}
	b->last_ns = now;
	if (b->tokens < 1.0)
		return false;
	b->tokens -= 1.0;
	return true;
}

/* ---- request bodies ---- */

/*
 * Parses a body that must be a JSON object (empty means {}). Returns the
 * object, or NULL with the 400 reply made.
 */
static json_t *parse_body(const char *body, size_t len, struct micad_reply *r)
{
	json_error_t e;
	json_t *o;

	if (!len)
		return json_object();
	o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
	if (!o) {
		char t[96];

		reply_error(r, MHD_HTTP_BAD_REQUEST,
			    "malformed JSON at line %d, column %d: %s", e.line,
			    e.column, clean(e.text, t, sizeof(t)));
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		reply_error(r, MHD_HTTP_BAD_REQUEST,
			    "the request body must be a JSON object");
		return NULL;
	}
	return o;
}

/* Refuses a member not in allowed (NULL-terminated). */
static bool only_fields(json_t *o, const char *const *allowed,
			struct micad_reply *r)
{
	const char *key;
	json_t *v;

	json_object_foreach(o, key, v)
	{
		const char *const *a;
		char t[96];

		for (a = allowed; *a; a++)
			if (!strcmp(*a, key))
				break;
		if (!*a) {
			reply_error(r, MHD_HTTP_BAD_REQUEST,
				    "unknown field '%s' in the request body",
				    clean(key, t, sizeof(t)));
			return false;
		}
	}
	return true;
}

/* ---- routes ---- */

/*
 * A domain name in a path: what domcfg accepts. Anything else cannot be a
 * domain, so it is a 404 (with the name cleaned for the message).
 */
static bool valid_name(const char *s, size_t n)
{
	size_t i;
	bool digits = true;

	if (!n || n > DOMCFG_NAME_MAX || s[0] == '.' || s[0] == '-')
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && c != '_' && c != '.' && c != '-')
			return false;
		if (!isdigit(c))
			digits = false;
	}
	return !digits;
}

static bool method_is(const char *method, const char *want)
{
	return !strcmp(method, want);
}

static void not_allowed(struct micad_reply *r, const char *method,
			const char *path, const char *allow)
{
	char t[96], m[32];

	reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "%s is not allowed on %s (allowed: %s)",
		    clean(method, m, sizeof(m)), clean(path, t, sizeof(t)),
		    allow);
	r->allow = allow;
}

static void create(struct micad_api *api, const char *body, size_t len,
		   struct micad_reply *r)
{
	static const char *const fields[] = { "config", "start", NULL };
	struct domain_config cfg;
	struct domcfg_msgs msgs;
	char err[MSG_MAX] = "";
	json_t *o, *c, *s, *out = NULL;
	bool start = true;
	int rc;

	o = parse_body(body, len, r);
	if (!o)
		return;
	if (!only_fields(o, fields, r))
		goto out;
	c = json_object_get(o, "config");
	s = json_object_get(o, "start");
	if (!c) {
		reply_error(r, MHD_HTTP_BAD_REQUEST,
			    "field 'config' is required: the domain's "
			    "configuration as a JSON object");
		goto out;
	}
	if (!json_is_object(c)) {
		reply_error(r, MHD_HTTP_BAD_REQUEST,
			    "field 'config' must be a JSON object");
		goto out;
	}
	if (s && !json_is_boolean(s)) {
		reply_error(r, MHD_HTTP_BAD_REQUEST,
			    "field 'start' must be true or false");
		goto out;
	}
	if (s)
		start = json_is_true(s);
	memset(&msgs, 0, sizeof(msgs));
	rc = domcfg_from_json(c, "config", &cfg, &msgs);
	if (rc) {
		reply_error(r,
			    rc == -ENOMEM ? MHD_HTTP_INTERNAL_SERVER_ERROR :
					    MHD_HTTP_BAD_REQUEST,
			    "%s", msgs.error[0] ? msgs.error : strerror(-rc));
		goto out;
	}
	rc = api->ops->create(api->opaque, &cfg, start, &out, err, sizeof(err));
	reply_result(r, rc, MHD_HTTP_CREATED, out, err);
out:
	json_decref(o);
}

static void action(struct micad_api *api, const char *name,
		   enum micad_action act, const char *body, size_t len,
		   struct micad_reply *r)
{
	static const char *const none[] = { NULL };
	static const char *const shutdown[] = { "timeout_s", NULL };
	unsigned int timeout = MICAD_SHUTDOWN_TIMEOUT_DEFAULT;
	char err[MSG_MAX] = "";
	json_t *o, *t, *out = NULL;
	int rc;

	o = parse_body(body, len, r);
	if (!o)
		return;
	if (!only_fields(o, act == MICAD_SHUTDOWN ? shutdown : none, r))
		goto out;
	t = json_object_get(o, "timeout_s");
	if (t) {
		json_int_t v = json_is_integer(t) ? json_integer_value(t) : -1;

		if (v < 1 || v > MICAD_SHUTDOWN_TIMEOUT_MAX) {
			reply_error(r, MHD_HTTP_BAD_REQUEST,
				    "field 'timeout_s' must be a whole number "
				    "of seconds from 1 to %u",
				    MICAD_SHUTDOWN_TIMEOUT_MAX);
			goto out;
		}
		timeout = (unsigned int)v;
	}
	rc = api->ops->action(api->opaque, name, act, timeout, &out, err,
			      sizeof(err));
	reply_result(r, rc,
		     act == MICAD_SHUTDOWN ? MHD_HTTP_ACCEPTED : MHD_HTTP_OK,
		     out, err);
out:
	json_decref(o);
}

static bool parse_limit(const char *arg, unsigned int *limit,
			struct micad_reply *r)
{
	unsigned long v;
	char *end, t[96];

	if (!arg) {
		*limit = MICAD_EVENTS_DEFAULT;
		return true;
	}
	errno = 0;
	v = strtoul(arg, &end, 10);
	if (!isdigit((unsigned char)*arg) || *end || errno || v < 1 ||
	    v > 1000) {
		reply_error(r, MHD_HTTP_BAD_REQUEST,
			    "query 'limit=%s': expected a number from 1 to "
			    "1000",
			    clean(arg, t, sizeof(t)));
		return false;
	}
	*limit = (unsigned int)v;
	return true;
}

/* /v1/domains/NAME[/SUB] */
static void domain_route(struct micad_api *api, const char *method,
			 const char *path, const char *name, const char *sub,
			 const char *limit_arg, const char *body, size_t len,
			 struct micad_reply *r)
{
	static const struct {
		const char *sub;
		enum micad_action act;
	} actions[] = {
		{ "pause", MICAD_PAUSE },
		{ "unpause", MICAD_UNPAUSE },
		{ "reboot", MICAD_REBOOT },
		{ "shutdown", MICAD_SHUTDOWN },
	};
	char err[MSG_MAX] = "";
	json_t *out = NULL;
	unsigned int i, limit;
	int rc;

	if (!sub) {
		if (method_is(method, "GET")) {
			rc = api->ops->get(api->opaque, name, &out, err,
					   sizeof(err));
			reply_result(r, rc, MHD_HTTP_OK, out, err);
		} else if (method_is(method, "DELETE")) {
			rc = api->ops->destroy(api->opaque, name, err,
					       sizeof(err));
			reply_result(r, rc, MHD_HTTP_OK,
				     rc ? NULL :
					  json_pack("{s:s}", "destroyed", name),
				     err);
		} else {
			not_allowed(r, method, path, "GET, DELETE");
		}
		return;
	}
	for (i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		if (strcmp(sub, actions[i].sub))
			continue;
		if (!method_is(method, "POST"))
			not_allowed(r, method, path, "POST");
		else
			action(api, name, actions[i].act, body, len, r);
		return;
	}
	if (!strcmp(sub, "stats") || !strcmp(sub, "events") ||
	    !strcmp(sub, "console")) {
		if (!method_is(method, "GET")) {
			not_allowed(r, method, path, "GET");
			return;
		}
		if (!strcmp(sub, "stats")) {
			rc = api->ops->stats(api->opaque, name, &out, err,
					     sizeof(err));
		} else if (!strcmp(sub, "events")) {
			if (!parse_limit(limit_arg, &limit, r))
				return;
			rc = api->ops->events(api->opaque, name, limit, &out,
					      err, sizeof(err));
		} else {
			rc = api->ops->console(api->opaque, name, &out, err,
					       sizeof(err));
		}
		reply_result(r, rc, MHD_HTTP_OK, out, err);
		return;
	}
	{
		char t[96];

		reply_error(r, MHD_HTTP_NOT_FOUND,
			    "no such resource: '%s' (see docs/api.md)",
			    clean(path, t, sizeof(t)));
	}
}

void micad_api_handle(struct micad_api *api, const char *method,
		      const char *path, const char *limit_arg, const char *body,
		      size_t len, uid_t uid, struct micad_reply *r)
{
	static const char prefix[] = "/v1/domains";
	char name[DOMCFG_NAME_MAX + 1], t[96];
	const char *rest, *slash;
	size_t n;

	*r = (struct micad_reply){ .status = 0 };
	if (!rate_ok(api, uid)) {
		reply_error(r, MHD_HTTP_TOO_MANY_REQUESTS,
			    "too many requests from uid %u: at most %u per "
			    "second (bursts of %u); retry later",
			    (unsigned int)uid, MICAD_RATE_PER_S,
			    MICAD_RATE_BURST);
		return;
	}
	if (strncmp(path, prefix, sizeof(prefix) - 1) ||
	    (path[sizeof(prefix) - 1] && path[sizeof(prefix) - 1] != '/')) {
		reply_error(r, MHD_HTTP_NOT_FOUND,
			    "no such resource: '%s' (see docs/api.md; paths "
			    "start with /v1/domains)",
			    clean(path, t, sizeof(t)));
		return;
	}
	rest = path + sizeof(prefix) - 1;
	if (!*rest || !strcmp(rest, "/")) {
		if (method_is(method, "GET")) {
			char err[MSG_MAX] = "";
			json_t *out = NULL;
			int rc = api->ops->list(api->opaque, &out, err,
						sizeof(err));

			reply_result(r, rc, MHD_HTTP_OK, out, err);
		} else if (method_is(method, "POST")) {
			create(api, body, len, r);
		} else {
			not_allowed(r, method, path, "GET, POST");
		}
		return;
	}
	rest++;
	slash = strchr(rest, '/');
	n = slash ? (size_t)(slash - rest) : strlen(rest);
	if (!valid_name(rest, n)) {
		reply_error(r, MHD_HTTP_NOT_FOUND,
			    "no domain '%s': not a valid domain name",
			    clean(rest, t, sizeof(t)));
		return;
	}
	memcpy(name, rest, n);
	name[n] = '\0';
	if (slash && (!slash[1] || strchr(slash + 1, '/'))) {
		reply_error(r, MHD_HTTP_NOT_FOUND,
			    "no such resource: '%s' (see docs/api.md)",
			    clean(path, t, sizeof(t)));
		return;
	}
	domain_route(api, method, path, name, slash ? slash + 1 : NULL,
		     limit_arg, body, len, r);
}

/* ---- the HTTP server ---- */

struct request {
	char *body;
	size_t len, cap;
	size_t discarded;
	bool too_large;
};

static uid_t peer_uid(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (!ci ||
	    getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return (uid_t)-1;
	return cred.uid;
}

static enum MHD_Result send_reply(struct MHD_Connection *c,
				  struct micad_reply *r)
{
	static const char oom[] = "{\"error\":\"micad is out of memory\"}";
	struct MHD_Response *resp;
	enum MHD_Result ret;
	unsigned int status = r->status;

	if (r->body) {
		resp = MHD_create_response_from_buffer(strlen(r->body), r->body,
						       MHD_RESPMEM_MUST_FREE);
		if (!resp)
			free(r->body);
	} else {
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		resp = MHD_create_response_from_buffer(
			sizeof(oom) - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
	}
	r->body = NULL;
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				"application/json");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED && r->allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static bool content_length_too_big(struct MHD_Connection *c)
{
	const char *cl = MHD_lookup_connection_value(
		c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned long long n;
	char *end;

	if (!cl)
		return false;
	errno = 0;
	n = strtoull(cl, &end, 10);
	return end != cl && (errno == ERANGE || n > MICAD_API_BODY_MAX);
}

static bool append(struct request *rq, const char *data, size_t n)
{
	if (rq->len + n > rq->cap) {
		size_t cap = rq->cap ? rq->cap : 4096;
		char *p;

		while (cap < rq->len + n)
			cap *= 2;
		if (cap > MICAD_API_BODY_MAX)
			cap = MICAD_API_BODY_MAX;
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
	struct micad_api *api = cls;
	struct request *rq = *con_cls;
	struct micad_reply r;

	(void)version;
	if (!rq) {
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		*con_cls = rq;
		if (!content_length_too_big(c))
			return MHD_YES;
		micad_api_too_large(&r);
		return send_reply(c, &r);
	}
	if (*upload_size) {
		size_t n = *upload_size;

		*upload_size = 0;
		if (!rq->too_large && n <= MICAD_API_BODY_MAX - rq->len)
			return append(rq, upload, n) ? MHD_YES : MHD_NO;
		/* Chunked and too long: read on a little, then hang up. */
		rq->too_large = true;
		rq->discarded += n;
		return rq->discarded > 2 * (size_t)MICAD_API_BODY_MAX ? MHD_NO :
									MHD_YES;
	}
	if (rq->too_large)
		micad_api_too_large(&r);
	else
		micad_api_handle(api, method, url,
				 MHD_lookup_connection_value(
					 c, MHD_GET_ARGUMENT_KIND, "limit"),
				 rq->body ? rq->body : "", rq->len, peer_uid(c),
				 &r);
	return send_reply(c, &r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct request *rq = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (!rq)
		return;
	free(rq->body);
	free(rq);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	static struct log_ratelimit rl;
	char msg[256];
	size_t n;

	(void)cls;
	if (log_threshold < LOG_DEBUG || !log_ratelimit_ok(&rl))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	log_debug("API: %s", msg);
}

static void run_mhd(struct micad_api *api)
{
	struct itimerspec its = { .it_value = { 0 } };
	MHD_UNSIGNED_LONG_LONG ms = 0;
	bool timeout = false;
	unsigned int i;

	for (i = 0; i < 8; i++) {
		MHD_run(api->mhd);
		timeout = MHD_get_timeout(api->mhd, &ms) == MHD_YES;
		if (!timeout || ms)
			break;
	}
	if (timeout) {
		if (!ms)
			ms = 1;
		its.it_value.tv_sec = (time_t)(ms / 1000);
		its.it_value.tv_nsec = (long)(ms % 1000) * 1000000;
	}
	timerfd_settime(api->timer_w.fd, 0, &its, NULL);
}

static void on_connection(void *cls, struct MHD_Connection *c,
			  void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct micad_api *api = cls;

	(void)c;
	(void)socket_context;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		api->connections++;
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED && api->connections) {
		api->connections--;
		if (api->accept_paused && api->listen_w.fd >= 0 &&
		    micad_watch_mod(api->loop, &api->listen_w, EPOLLIN) == 0)
			api->accept_paused = false;
	}
}

static void on_accept(struct micad_watch *w, uint32_t events)
{
	struct micad_api *api =
		(struct micad_api *)((char *)w -
				     offsetof(struct micad_api, listen_w));
	unsigned int i;

	(void)events;
	for (i = 0; i < MICAD_API_MAX_CONNECTIONS; i++) {
		struct sockaddr_un addr;
		socklen_t len = sizeof(addr);
		int fd;

		if (api->connections >= MICAD_API_MAX_CONNECTIONS) {
			if (micad_watch_mod(api->loop, &api->listen_w, 0) == 0)
				api->accept_paused = true;
			break;
		}
		fd = accept4(api->listen_w.fd, (struct sockaddr *)&addr, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			break;
		if (MHD_add_connection(api->mhd, fd, (struct sockaddr *)&addr,
				       len) != MHD_YES)
			log_info("API: a connection was refused");
	}
	run_mhd(api);
}

static void on_mhd(struct micad_watch *w, uint32_t events)
{
	(void)events;
	run_mhd((struct micad_api *)((char *)w -
				     offsetof(struct micad_api, mhd_w)));
}

static void on_timer(struct micad_watch *w, uint32_t events)
{
	struct micad_api *api =
		(struct micad_api *)((char *)w -
				     offsetof(struct micad_api, timer_w));
	uint64_t n;

	(void)events;
	if (read(w->fd, &n, sizeof(n)) < 0)
		log_debug("API: timerfd: %s", strerror(errno));
	run_mhd(api);
}

/* Binds a UNIX socket at path; a stale socket file is replaced. */
static int listen_unix(const char *path, gid_t gid, char *err, size_t errlen)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, rc;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		snprintf(err, errlen,
			 "--socket '%s': too long for a UNIX socket (at most "
			 "107 bytes)",
			 path);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail_errno;
	if (lstat(path, &st) == 0) {
		int probe;

		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen,
				 "--socket '%s': exists and is not a socket; "
				 "not touching it",
				 path);
			close(fd);
			return -EEXIST;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&addr,
					  sizeof(addr)) == 0) {
			close(probe);
			close(fd);
			snprintf(err, errlen,
				 "--socket '%s': in use: a server is "
				 "listening there (another micad?)",
				 path);
			return -EADDRINUSE;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old);
	if (rc)
		goto fail_errno;
	if (gid != (gid_t)-1 &&
	    (chown(path, (uid_t)-1, gid) || chmod(path, 0660)))
		goto fail_errno;
	if (listen(fd, 64))
		goto fail_errno;
	return fd;

fail_errno:
	rc = -errno;
	snprintf(err, errlen, "--socket '%s': %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return rc;
}

int micad_api_listen(struct micad_api *api, struct micad_loop *loop,
		     const char *path, gid_t gid, char *err, size_t errlen)
{
	const union MHD_DaemonInfo *info;
	int rc;

	api->loop = loop;
	snprintf(api->path, sizeof(api->path), "%s", path);
	api->listen_w = (struct micad_watch){ .fd = -1, .fn = on_accept };
	api->mhd_w = (struct micad_watch){ .fd = -1, .fn = on_mhd };
	api->timer_w = (struct micad_watch){ .fd = -1, .fn = on_timer };
	rc = listen_unix(path, gid, err, errlen);
	if (rc < 0)
		return rc;
	api->listen_w.fd = rc;
	api->timer_w.fd =
		timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (api->timer_w.fd < 0) {
		rc = -errno;
		goto fail;
	}
	api->mhd = MHD_start_daemon(
		MHD_USE_EPOLL | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ERROR_LOG, 0,
		NULL, NULL, on_request, api, MHD_OPTION_EXTERNAL_LOGGER,
		mhd_log, api, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned int)MICAD_API_MAX_CONNECTIONS,
		MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned int)MICAD_API_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED,
		on_completed, api, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
		api, MHD_OPTION_END);
	if (!api->mhd) {
		rc = -EIO;
		goto fail;
	}
	info = MHD_get_daemon_info(api->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info) {
		rc = -EIO;
		goto fail;
	}
	api->mhd_w.fd = info->epoll_fd;
	rc = micad_watch_add(loop, &api->mhd_w, EPOLLIN);
	if (!rc)
		rc = micad_watch_add(loop, &api->timer_w, EPOLLIN);
	if (!rc)
		rc = micad_watch_add(loop, &api->listen_w, EPOLLIN);
	if (rc)
		goto fail;
	run_mhd(api);
	return 0;

fail:
	snprintf(err, errlen, "--socket '%s': starting the HTTP server: %s",
		 path, strerror(-rc));
	micad_api_close(api);
	return rc;
}

void micad_api_close(struct micad_api *api)
{
	if (api->listen_w.fd >= 0) {
		micad_watch_del(api->loop, &api->listen_w);
		close(api->listen_w.fd);
		unlink(api->path);
	}
	api->listen_w.fd = -1;
	if (api->mhd) {
		if (api->mhd_w.fd >= 0)
			micad_watch_del(api->loop, &api->mhd_w);
		MHD_run(api->mhd); /* what is ready goes out */
		MHD_stop_daemon(api->mhd);
	}
	api->mhd = NULL;
	api->mhd_w.fd = -1;
	if (api->timer_w.fd >= 0) {
		micad_watch_del(api->loop, &api->timer_w);
		close(api->timer_w.fd);
	}
	api->timer_w.fd = -1;
}
