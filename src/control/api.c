// SPDX-License-Identifier: MIT
/*
 * The control API of one VMM (see api.h, docs/api-vmm.md): routing and
 * validation of requests (api_handle, independent of HTTP), and the HTTP
 * server, libmicrohttpd in its "external select" epoll mode, driven by the
 * main thread's loop.
 *
 * Why the main loop and not MHD's own thread: every action (pause, reboot,
 * stop) is on the VM that the main thread alone builds and tears down; a
 * request handled there needs no lock against that, and costs no thread.
 * A handler must therefore be quick: all are, pause included (it waits
 * only until each vCPU has left KVM_RUN).
 *
 * Client-controlled: the request line, headers and body. The body is read
 * up to API_BODY_MAX bytes (413 past it, decided from Content-Length when
 * there is one; a chunked body that goes on past 4 * API_BODY_MAX gets the
 * connection closed), parsed by jansson with duplicate keys rejected, and
 * every field is checked for presence, type and value. Text from the
 * request quoted in an error is reduced to printable ASCII.
 */
#include "control/api.h"

#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

#define QUOTE_MAX 64 /* bytes of client text quoted in an error */

/* ---- replies ---------------------------------------------------------- */

static void reply_json(struct httpd_reply *r, unsigned int status, json_t *j)
{
	r->status = status;
	r->body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!r->body)
		r->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
}

static void reply_error(struct httpd_reply *r, unsigned int status,
			const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void reply_error(struct httpd_reply *r, unsigned int status,
			const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	reply_json(r, status, json_pack("{s:s}", "error", msg));
}

/* Client text for a message: printable ASCII, at most QUOTE_MAX bytes. */
static const char *quote(char *buf, size_t size, const char *s)
{
	size_t i;

	for (i = 0; s[i] && i + 4 < size && i < QUOTE_MAX; i++)
		buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	if (s[i]) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

/* An action failed for a reason other than the VM's state. */
static void reply_rc(struct httpd_reply *r, int rc, const char *what)
{
	if (rc == -ESRCH)
		reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "%s: there is no VM to act on now: mica is "
			    "restarting or stopping it",
			    what);
	else
		reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s failed: %s",
			    what, strerror(-rc));
}

/* ---- bodies ----------------------------------------------------------- */

static bool blank(const char *body, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!strchr(" \t\r\n", body[i]) || !body[i])
			return false;
	return true;
}

/*
 * Parses a body that must be a JSON object. Returns it, or NULL with a 400
 * reply made. An empty body is an empty object.
 */
static json_t *parse_object(const char *body, size_t len, struct httpd_reply *r)
{
	json_error_t e;
	json_t *j;

	if (blank(body, len))
		return json_object();
	j = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
	if (!j) {
		reply_error(r, MHD_HTTP_BAD_REQUEST,
			    "malformed JSON at line %d, column %d: %s", e.line,
			    e.column, e.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		reply_error(r, MHD_HTTP_BAD_REQUEST,
			    "the body must be a JSON object");
		return NULL;
	}
	return j;
}

/* The first member of obj not in fields[] (NULL-terminated), or NULL. */
static const char *unknown_field(json_t *obj, const char *const *fields)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
	{
		const char *const *f;

		(void)v;
		for (f = fields; *f && strcmp(*f, key); f++)
			;
		if (!*f)
			return key;
	}
	return NULL;
}

/* For requests that take no fields: an empty body, or {}. */
static bool no_fields(const char *body, size_t len, struct httpd_reply *r)
{
	static const char *const none[] = { NULL };
	json_t *j = parse_object(body, len, r);
	const char *key;
	char q[QUOTE_MAX + 8];

	if (!j)
		return false;
	key = unknown_field(j, none);
	if (key)
		reply_error(r, MHD_HTTP_BAD_REQUEST,
			    "unknown field '%s': this request takes none",
			    quote(q, sizeof(q), key));
	json_decref(j);
	return !key;
}

/* ---- handlers --------------------------------------------------------- */

typedef void (*handler_fn)(const struct api_ops *ops, void *opaque,
			   const char *body, size_t len, struct httpd_reply *r);

static const char *state_name(enum api_vm_state st)
{
	return st == API_VM_PAUSED ? "paused" : "running";
}

static void reply_info(const struct api_ops *ops, void *opaque,
		       unsigned int status, struct httpd_reply *r)
{
	struct api_vm_info i = { .console = "serial" };
	int rc = ops->info(opaque, &i);

	if (rc) {
		reply_rc(r, rc, "reading the VM's state");
		return;
	}
	reply_json(r, status,
		   json_pack("{s:s, s:I, s:I, s:I, s:I, s:s}", "state",
			     state_name(i.state), "pid", (json_int_t)i.pid,
			     "vcpus", (json_int_t)i.vcpus, "memory_mib",
			     (json_int_t)i.memory_mib, "uptime_ms",
			     (json_int_t)i.uptime_ms, "console",
			     i.console ? i.console : "serial"));
}

static void get_vm(const struct api_ops *ops, void *opaque, const char *body,
		   size_t len, struct httpd_reply *r)
{
	(void)body;
	(void)len;
	reply_info(ops, opaque, MHD_HTTP_OK, r);
}

/* PATCH /v1/vm {"state": "paused"|"running"}: idempotent. */
static void patch_vm(const struct api_ops *ops, void *opaque, const char *body,
		     size_t len, struct httpd_reply *r)
{
	static const char *const fields[] = { "state", NULL };
	json_t *j = parse_object(body, len, r), *st;
	const char *key, *want;
	char q[QUOTE_MAX + 8];
	int rc;

	if (!j)
		return;
	key = unknown_field(j, fields);
	if (key) {
		reply_error(r, MHD_HTTP_BAD_REQUEST,
			    "unknown field '%s' (the fields are: state)",
			    quote(q, sizeof(q), key));
		goto out;
	}
	st = json_object_get(j, "state");
	if (!st) {
		reply_error(r, MHD_HTTP_BAD_REQUEST,
			    "field 'state' is required: \"paused\" or "
			    "\"running\"");
		goto out;
	}
	if (!json_is_string(st)) {
		reply_error(r, MHD_HTTP_BAD_REQUEST,
			    "field 'state' must be a string: \"paused\" or "
			    "\"running\"");
		goto out;
	}
	want = json_string_value(st);
	if (!strcmp(want, "paused")) {
		rc = ops->pause(opaque);
	} else if (!strcmp(want, "running")) {
		rc = ops->resume(opaque);
	} else {
		reply_error(r, MHD_HTTP_BAD_REQUEST,
			    "field 'state': '%s' is not \"paused\" or "
			    "\"running\"",
			    quote(q, sizeof(q), want));
		goto out;
	}
	if (rc && rc != -EALREADY)
		reply_rc(r, rc, want[0] == 'p' ? "pausing" : "resuming");
	else
		reply_info(ops, opaque, MHD_HTTP_OK, r);
out:
	json_decref(j);
}

static void put_pause(const struct api_ops *ops, void *opaque, const char *body,
		      size_t len, struct httpd_reply *r)
{
	int rc;

	if (!no_fields(body, len, r))
		return;
	rc = ops->pause(opaque);
	if (rc == -EALREADY)
		reply_error(r, MHD_HTTP_CONFLICT, "the VM is already paused");
	else if (rc)
		reply_rc(r, rc, "pausing");
	else
		reply_json(r, MHD_HTTP_OK,
			   json_pack("{s:s}", "state", "paused"));
}

static void put_resume(const struct api_ops *ops, void *opaque,
		       const char *body, size_t len, struct httpd_reply *r)
{
	int rc;

	if (!no_fields(body, len, r))
		return;
	rc = ops->resume(opaque);
	if (rc == -EALREADY)
		reply_error(r, MHD_HTTP_CONFLICT,
			    "the VM is not paused: it is running");
	else if (rc)
		reply_rc(r, rc, "resuming");
	else
		reply_json(r, MHD_HTTP_OK,
			   json_pack("{s:s}", "state", "running"));
}

/* The actions that only start something: 202 and what was started. */
static void action(int (*fn)(void *), void *opaque, const char *what,
		   const char *started, const char *body, size_t len,
		   struct httpd_reply *r)
{
	int rc;

	if (!no_fields(body, len, r))
		return;
	rc = fn(opaque);
	if (rc)
		reply_rc(r, rc, what);
	else
		reply_json(r, MHD_HTTP_ACCEPTED,
			   json_pack("{s:s}", "result", started));
}

static void put_power_button(const struct api_ops *ops, void *opaque,
			     const char *body, size_t len,
			     struct httpd_reply *r)
{
	action(ops->power_button, opaque, "pressing the power button",
	       "power button pressed", body, len, r);
}

static void put_reboot(const struct api_ops *ops, void *opaque,
		       const char *body, size_t len, struct httpd_reply *r)
{
	action(ops->reboot, opaque, "rebooting", "rebooting", body, len, r);
}

static void put_stop(const struct api_ops *ops, void *opaque, const char *body,
		     size_t len, struct httpd_reply *r)
{
	action(ops->stop, opaque, "stopping", "stopping", body, len, r);
}

static json_t *stats_json(const struct vm_stats *st)
{
	json_t *vcpus = json_array(), *disks = json_array();
	json_t *nets = json_array();
	unsigned int i;
	int bad = !vcpus || !disks || !nets;

	for (i = 0; !bad && i < st->nr_vcpus && i < CONFIG_MAX_CPUS; i++) {
		const struct vcpu_stats *v = &st->vcpus[i];

		bad |= json_array_append_new(
			vcpus,
			json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "id",
				  (json_int_t)i, "exits", (json_int_t)v->exits,
				  "io_exits", (json_int_t)v->io_exits,
				  "mmio_exits", (json_int_t)v->mmio_exits,
				  "hlt_exits", (json_int_t)v->hlt_exits,
				  "cpu_ns", (json_int_t)v->cpu_ns));
	}
	for (i = 0; !bad && i < st->nr_disks && i < CONFIG_MAX_DISKS; i++) {
		const struct vm_disk_stats *d = &st->disks[i];

		bad |= json_array_append_new(
			disks,
			json_pack("{s:s%, s:I, s:I, s:I, s:I, s:I}", "name",
				  d->name, strnlen(d->name, sizeof(d->name)),
				  "read_bytes", (json_int_t)d->read_bytes,
				  "write_bytes", (json_int_t)d->write_bytes,
				  "read_ops", (json_int_t)d->read_ops,
				  "write_ops", (json_int_t)d->write_ops,
				  "flushes", (json_int_t)d->flushes));
	}
	for (i = 0; !bad && i < st->nr_nets && i < CONFIG_MAX_NETS; i++) {
		const struct vm_net_stats *n = &st->nets[i];

		bad |= json_array_append_new(
			nets,
			json_pack("{s:s%, s:I, s:I, s:I, s:I, s:I}", "name",
				  n->name, strnlen(n->name, sizeof(n->name)),
				  "rx_bytes", (json_int_t)n->rx_bytes,
				  "tx_bytes", (json_int_t)n->tx_bytes,
				  "rx_packets", (json_int_t)n->rx_packets,
				  "tx_packets", (json_int_t)n->tx_packets,
				  "dropped", (json_int_t)n->dropped));
	}
	if (bad) {
		json_decref(vcpus);
		json_decref(disks);
		json_decref(nets);
		return NULL;
	}
	/* "o" takes the references. */
	return json_pack("{s:o, s:I, s:o, s:o}", "vcpus", vcpus, "rss_bytes",
			 (json_int_t)st->rss_bytes, "disks", disks, "nets",
			 nets);
}

static void get_stats(const struct api_ops *ops, void *opaque, const char *body,
		      size_t len, struct httpd_reply *r)
{
	struct vm_stats *st = calloc(1, sizeof(*st));
	int rc;

	(void)body;
	(void)len;
	if (!st) {
		reply_rc(r, -ENOMEM, "reading the statistics");
		return;
	}
	rc = ops->stats(opaque, st);
	if (rc)
		reply_rc(r, rc, "reading the statistics");
	else
		reply_json(r, MHD_HTTP_OK, stats_json(st));
	free(st);
}

static const struct route {
	const char *path;
	const char *method;
	handler_fn fn;
	const char *allow; /* every method of this path */
} routes[] = {
	{ "/v1/vm", "GET", get_vm, "GET, PATCH" },
	{ "/v1/vm", "PATCH", patch_vm, "GET, PATCH" },
	{ "/v1/vm/pause", "PUT", put_pause, "PUT" },
	{ "/v1/vm/resume", "PUT", put_resume, "PUT" },
	{ "/v1/vm/power-button", "PUT", put_power_button, "PUT" },
	{ "/v1/vm/reboot", "PUT", put_reboot, "PUT" },
	{ "/v1/vm/stop", "PUT", put_stop, "PUT" },
	{ "/v1/vm/stats", "GET", get_stats, "GET" },
};

void api_handle(const struct api_ops *ops, void *opaque, const char *method,
		const char *path, const char *body, size_t len,
		struct httpd_reply *r)
{
	const struct route *match = NULL;
	char qm[QUOTE_MAX + 8], qp[QUOTE_MAX + 8];
	unsigned int i;

	*r = (struct httpd_reply){ .status = 0 };
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(routes[i].path, path))
			continue;
		match = &routes[i];
		if (!strcmp(routes[i].method, method)) {
			routes[i].fn(ops, opaque, body, len, r);
			return;
		}
	}
	if (match) {
		r->allow = match->allow;
		reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED,
			    "%s is not allowed on %s (allowed: %s)",
			    quote(qm, sizeof(qm), method), match->path,
			    match->allow);
		return;
	}
	reply_error(r, MHD_HTTP_NOT_FOUND,
		    "no such resource: '%s' (see docs/api-vmm.md; paths "
		    "start with /v1/vm)",
		    quote(qp, sizeof(qp), path));
}

/* ---- the HTTP server -------------------------------------------------- */
static void reply_too_large(struct httpd_reply *r)
{
	*r = (struct httpd_reply){ .status = 0 };
	reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE,
		    "the request body is larger than %u bytes", API_BODY_MAX);
}

/* A request from util/httpd.c; body NULL: too large. */
static void on_http(void *opaque, struct MHD_Connection *c, const char *method,
		    const char *url, const char *body, size_t len,
		    struct httpd_reply *out)
{
	struct api_server *s = opaque;

	(void)c;
	if (!body)
		reply_too_large(out);
	else
		api_handle(s->ops, s->opaque, method, url, body, len, out);
}

static int listen_mod(void *opaque, uint32_t events)
{
	struct api_server *s = opaque;

	return loop_mod(s->loop, s->listener.fd, events);
}

static const struct httpd_config api_httpd = {
	.name = "control API",
	.oom = "{\"error\":\"mica is out of memory\"}",
	.body_max = API_BODY_MAX,
	.body_first = 1024,
	.discard_max = 4 * (size_t)API_BODY_MAX,
	.max_connections = API_MAX_CONNECTIONS,
	.timeout_s = API_CONN_TIMEOUT_S,
	.strict = true,
	.handle = on_http,
	.listen_mod = listen_mod,
};

/* A client connects. */
static void on_accept(void *opaque, uint32_t events)
{
	struct api_server *s = opaque;

	(void)events;
	httpd_accept(&s->http);
}

static void on_mhd(void *opaque, uint32_t events)
{
	struct api_server *s = opaque;

	(void)events;
	httpd_run(&s->http);
}

static void on_timer(void *opaque, uint32_t events)
{
	struct api_server *s = opaque;
	uint64_t n;

	(void)events;
	if (read(s->http.timer_fd, &n, sizeof(n)) < 0)
		log_debug("control API: timerfd read: %s", strerror(errno));
	httpd_run(&s->http);
}

int api_server_open(struct api_server *s, struct loop *loop, const char *path,
		    const struct api_ops *ops, void *opaque, char *err,
		    size_t errlen)
{
	int rc;

	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->ops = ops;
	s->opaque = opaque;
	httpd_init(&s->http, &api_httpd, s);
	s->listener.fd = -1;
	rc = httpd_load("--api-socket", err, errlen);
	if (rc)
		return rc;
	rc = socket_listen(&s->listener, "--api-socket", path, err, errlen);
	if (rc)
		return rc;
	s->http.listen_fd = s->listener.fd;
	rc = httpd_start(&s->http);
	if (rc == -EIO && !s->http.mhd) {
		snprintf(err, errlen,
			 "--api-socket '%s': cannot start the HTTP server "
			 "(libmicrohttpd)",
			 path);
		goto out;
	}
	if (rc)
		goto fail;
	rc = loop_add(loop, s->http.mhd_fd, EPOLLIN, on_mhd, s);
	if (!rc)
		rc = loop_add(loop, s->http.timer_fd, EPOLLIN, on_timer, s);
	if (!rc)
		rc = loop_add(loop, s->listener.fd, EPOLLIN, on_accept, s);
	if (rc)
		goto fail;
	httpd_run(&s->http);
	return 0;

fail:
	snprintf(err, errlen, "--api-socket '%s': %s", path, strerror(-rc));
out:
	api_server_close(s);
	return rc;
}

void api_server_close(struct api_server *s)
{
	if (s->listener.fd >= 0)
		loop_del(s->loop, s->listener.fd); /* no new connections */
	if (s->http.mhd_fd >= 0)
		loop_del(s->loop, s->http.mhd_fd);
	if (s->http.timer_fd >= 0)
		loop_del(s->loop, s->http.timer_fd);
	httpd_stop(&s->http, API_DRAIN_MS); /* on_completed for the rest */
	socket_unlisten(&s->listener);
}
