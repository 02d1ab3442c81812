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
#include <sys/un.h>
#include <unistd.h>

#include "util/log.h"

#define MSG_MAX 1024

static const struct httpd_config micad_httpd;

/* ---- replies ---- */

static void reply_json(struct httpd_reply *r, unsigned int status, json_t *o)
{
	r->status = status;
	r->body = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)) :
		      NULL;
	if (!r->body)
		r->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	json_decref(o);
}

static void reply_error(struct httpd_reply *r, unsigned int status,
			const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void reply_error(struct httpd_reply *r, unsigned int status,
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
static void reply_result(struct httpd_reply *r, int rc, unsigned int ok,
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

void micad_api_too_large(struct httpd_reply *r)
{
	*r = (struct httpd_reply){ .status = 0 };
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
	httpd_init(&api->http, &micad_httpd, api);
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
static json_t *parse_body(const char *body, size_t len, struct httpd_reply *r)
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
			struct httpd_reply *r)
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

static void not_allowed(struct httpd_reply *r, const char *method,
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
		   struct httpd_reply *r)
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
		   struct httpd_reply *r)
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
			struct httpd_reply *r)
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
			 struct httpd_reply *r)
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
		      size_t len, uid_t uid, struct httpd_reply *r)
{
	static const char prefix[] = "/v1/domains";
	char name[DOMCFG_NAME_MAX + 1], t[96];
	const char *rest, *slash;
	size_t n;

	*r = (struct httpd_reply){ .status = 0 };
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

/* A request from util/httpd.c; body NULL: too large. */
static void on_http(void *opaque, struct MHD_Connection *c, const char *method,
		    const char *url, const char *body, size_t len,
		    struct httpd_reply *out)
{
	struct micad_api *api = opaque;

	if (!body)
		micad_api_too_large(out);
	else
		micad_api_handle(api, method, url, httpd_query(c, "limit"),
				 body, len, httpd_peer_uid(c), out);
}

static int listen_mod(void *opaque, uint32_t events)
{
	struct micad_api *api = opaque;

	return micad_watch_mod(api->loop, &api->listen_w, events);
}

static const struct httpd_config micad_httpd = {
	.name = "API",
	.oom = "{\"error\":\"micad is out of memory\"}",
	.body_max = MICAD_API_BODY_MAX,
	.body_first = 4096,
	.discard_max = 2 * (size_t)MICAD_API_BODY_MAX,
	.max_connections = MICAD_API_MAX_CONNECTIONS,
	.timeout_s = MICAD_API_TIMEOUT_S,
	.debug_log = true,
	.handle = on_http,
	.listen_mod = listen_mod,
};

static void on_accept(struct micad_watch *w, uint32_t events)
{
	struct micad_api *api =
		(struct micad_api *)((char *)w -
				     offsetof(struct micad_api, listen_w));

	(void)events;
	httpd_accept(&api->http);
}

static void on_mhd(struct micad_watch *w, uint32_t events)
{
	struct micad_api *api =
		(struct micad_api *)((char *)w -
				     offsetof(struct micad_api, mhd_w));

	(void)events;
	httpd_run(&api->http);
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
	httpd_run(&api->http);
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
	int rc;

	api->loop = loop;
	snprintf(api->path, sizeof(api->path), "%s", path);
	api->listen_w = (struct micad_watch){ .fd = -1, .fn = on_accept };
	api->mhd_w = (struct micad_watch){ .fd = -1, .fn = on_mhd };
	api->timer_w = (struct micad_watch){ .fd = -1, .fn = on_timer };
	rc = httpd_load("--socket", err, errlen);
	if (rc)
		return rc;
	rc = listen_unix(path, gid, err, errlen);
	if (rc < 0)
		return rc;
	api->listen_w.fd = api->http.listen_fd = rc;
	rc = httpd_start(&api->http);
	if (rc)
		goto fail;
	api->mhd_w.fd = api->http.mhd_fd;
	api->timer_w.fd = api->http.timer_fd;
	rc = micad_watch_add(loop, &api->mhd_w, EPOLLIN);
	if (!rc)
		rc = micad_watch_add(loop, &api->timer_w, EPOLLIN);
	if (!rc)
		rc = micad_watch_add(loop, &api->listen_w, EPOLLIN);
	if (rc)
		goto fail;
	httpd_run(&api->http);
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
	api->listen_w.fd = api->http.listen_fd = -1;
	if (api->mhd_w.fd >= 0)
		micad_watch_del(api->loop, &api->mhd_w);
	api->mhd_w.fd = -1;
	if (api->timer_w.fd >= 0)
		micad_watch_del(api->loop, &api->timer_w);
	api->timer_w.fd = -1;
	httpd_stop(&api->http, 0); /* what is ready goes out */
}
