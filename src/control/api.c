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
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/dynlib.h"
#include "util/log.h"

#define QUOTE_MAX 64 /* bytes of client text quoted in an error */

/* ---- replies ---------------------------------------------------------- */

static void reply_json(struct api_reply *r, unsigned int status, json_t *j)
{
	r->status = status;
	r->body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!r->body)
		r->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
}

static void reply_error(struct api_reply *r, unsigned int status,
			const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void reply_error(struct api_reply *r, unsigned int status,
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
static void reply_rc(struct api_reply *r, int rc, const char *what)
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
static json_t *parse_object(const char *body, size_t len, struct api_reply *r)
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
static bool no_fields(const char *body, size_t len, struct api_reply *r)
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
			   const char *body, size_t len, struct api_reply *r);

static const char *state_name(enum api_vm_state st)
{
	return st == API_VM_PAUSED ? "paused" : "running";
}

static void reply_info(const struct api_ops *ops, void *opaque,
		       unsigned int status, struct api_reply *r)
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
		   size_t len, struct api_reply *r)
{
	(void)body;
	(void)len;
	reply_info(ops, opaque, MHD_HTTP_OK, r);
}

/* PATCH /v1/vm {"state": "paused"|"running"}: idempotent. */
static void patch_vm(const struct api_ops *ops, void *opaque, const char *body,
		     size_t len, struct api_reply *r)
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
		      size_t len, struct api_reply *r)
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
		       const char *body, size_t len, struct api_reply *r)
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
		   struct api_reply *r)
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
			     const char *body, size_t len, struct api_reply *r)
{
	action(ops->power_button, opaque, "pressing the power button",
	       "power button pressed", body, len, r);
}

static void put_reboot(const struct api_ops *ops, void *opaque,
		       const char *body, size_t len, struct api_reply *r)
{
	action(ops->reboot, opaque, "rebooting", "rebooting", body, len, r);
}

static void put_stop(const struct api_ops *ops, void *opaque, const char *body,
		     size_t len, struct api_reply *r)
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
		      size_t len, struct api_reply *r)
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
		struct api_reply *r)
{
	const struct route *match = NULL;
	char qm[QUOTE_MAX + 8], qp[QUOTE_MAX + 8];
	unsigned int i;

	*r = (struct api_reply){ .status = 0 };
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

/*
 * libmicrohttpd is loaded when an API server is first opened, not linked:
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

static int mhd_load(char *err, size_t errlen)
{
	static const struct dynlib_sym syms[] = {
		MHD_SYM(start_daemon),
		MHD_SYM(stop_daemon),
		MHD_SYM(get_daemon_info),
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
	rc = dynlib_load("--api-socket", MHD_SONAME, "libmicrohttpd12", syms,
			 sizeof(syms) / sizeof(syms[0]), &mhd, err, errlen);
	mhd.loaded = rc == 0;
	return rc;
}

/* One request in progress: its body so far. */
struct api_request {
	char *body;
	size_t len, cap;
	size_t discarded; /* bytes past API_BODY_MAX */
	bool too_large;
	bool replied; /* counted in api_server.replying */
};

static enum MHD_Result send_reply(struct api_server *s,
				  struct MHD_Connection *c,
				  struct api_request *rq, struct api_reply *r)
{
	static const char oom[] = "{\"error\":\"mica is out of memory\"}";
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
		resp = mhd.create_response_from_buffer(
			sizeof(oom) - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
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
		s->replying++;
	}
	return ret;
}

static bool content_length_too_big(struct MHD_Connection *c)
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
	return end != cl && (errno == ERANGE || n > API_BODY_MAX);
}

static void reply_too_large(struct api_reply *r)
{
	*r = (struct api_reply){ .status = 0 };
	reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE,
		    "the request body is larger than %u bytes", API_BODY_MAX);
}

static bool append(struct api_request *rq, const char *data, size_t n)
{
	if (rq->len + n > rq->cap) {
		size_t cap = rq->cap ? rq->cap : 1024;
		char *p;

		while (cap < rq->len + n)
			cap *= 2;
		if (cap > API_BODY_MAX)
			cap = API_BODY_MAX;
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
	struct api_server *s = cls;
	struct api_request *rq = *con_cls;
	struct api_reply r;

	(void)version;
	if (!rq) {
		/* The headers are in: a body too large is refused at once. */
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		*con_cls = rq;
		if (!content_length_too_big(c))
			return MHD_YES;
		reply_too_large(&r);
		return send_reply(s, c, rq, &r);
	}
	if (*upload_size) {
		size_t n = *upload_size;

		*upload_size = 0;
		if (!rq->too_large && n <= API_BODY_MAX - rq->len) {
			if (!append(rq, upload, n))
				return MHD_NO;
			return MHD_YES;
		}
		/* Chunked and too long: read on a little, then hang up. */
		rq->too_large = true;
		rq->discarded += n;
		return rq->discarded > 4 * (size_t)API_BODY_MAX ? MHD_NO :
								  MHD_YES;
	}
	if (rq->too_large)
		reply_too_large(&r);
	else
		api_handle(s->ops, s->opaque, method, url,
			   rq->body ? rq->body : "", rq->len, &r);
	return send_reply(s, c, rq, &r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct api_server *s = cls;
	struct api_request *rq = *con_cls;

	(void)c;
	(void)toe;
	if (!rq)
		return;
	if (rq->replied && s->replying)
		s->replying--;
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
	if (!log_ratelimit_ok(&rl))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	log_info("control API: %s", msg);
}

/* Runs MHD until it has nothing ready, then arms the timer for it. */
static void run_mhd(struct api_server *s)
{
	struct itimerspec its = { .it_value = { 0 } };
	MHD_UNSIGNED_LONG_LONG ms = 0;
	bool timeout = false;
	unsigned int i;

	for (i = 0; i < 8; i++) {
		mhd.run(s->mhd);
		timeout = mhd.get_timeout(s->mhd, &ms) == MHD_YES;
		if (!timeout || ms)
			break;
	}
	if (timeout) {
		if (!ms)
			ms = 1; /* still busy: come back after the loop */
		its.it_value.tv_sec = (time_t)(ms / 1000);
		its.it_value.tv_nsec = (long)(ms % 1000) * 1000000;
	}
	timerfd_settime(s->timer_fd, 0, &its, NULL);
}

/* Counts connections, to stop accepting at API_MAX_CONNECTIONS. */
static void on_connection(void *cls, struct MHD_Connection *c,
			  void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct api_server *s = cls;

	(void)c;
	(void)socket_context;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		s->connections++;
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED && s->connections) {
		s->connections--;
		/* Room again: take the next waiting client. */
		if (s->accept_paused && s->listener.fd >= 0 &&
		    loop_mod(s->loop, s->listener.fd, EPOLLIN) == 0)
			s->accept_paused = false;
	}
}

/*
 * A client connects. mica accepts, and hands the connection to MHD: at
 * the cap, clients wait in the listen backlog instead (MHD's own handling
 * of a listening socket at its connection limit can leave it unwatched).
 */
static void on_accept(void *opaque, uint32_t events)
{
	struct api_server *s = opaque;
	unsigned int i;

	(void)events;
	for (i = 0; i < API_MAX_CONNECTIONS; i++) {
		struct sockaddr_un addr;
		socklen_t len = sizeof(addr);
		int fd;

		if (s->connections >= API_MAX_CONNECTIONS) {
			if (loop_mod(s->loop, s->listener.fd, 0) == 0)
				s->accept_paused = true;
			break;
		}
		fd = accept4(s->listener.fd, (struct sockaddr *)&addr, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			break;
		/* On failure MHD closes fd itself. */
		if (mhd.add_connection(s->mhd, fd, (struct sockaddr *)&addr,
				       len) != MHD_YES)
			log_info("control API: a connection was refused");
	}
	run_mhd(s);
}

static void on_mhd(void *opaque, uint32_t events)
{
	(void)events;
	run_mhd(opaque);
}

static void on_timer(void *opaque, uint32_t events)
{
	struct api_server *s = opaque;
	uint64_t n;

	(void)events;
	if (read(s->timer_fd, &n, sizeof(n)) < 0)
		log_debug("control API: timerfd read: %s", strerror(errno));
	run_mhd(s);
}

int api_server_open(struct api_server *s, struct loop *loop, const char *path,
		    const struct api_ops *ops, void *opaque, char *err,
		    size_t errlen)
{
	const union MHD_DaemonInfo *info;
	int rc;

	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->ops = ops;
	s->opaque = opaque;
	s->mhd_fd = s->timer_fd = -1;
	s->listener.fd = -1;
	rc = mhd_load(err, errlen);
	if (rc)
		return rc;
	rc = socket_listen(&s->listener, "--api-socket", path, err, errlen);
	if (rc)
		return rc;
	s->timer_fd =
		timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->timer_fd < 0) {
		rc = -errno;
		goto fail;
	}
	s->mhd = mhd.start_daemon(
		MHD_USE_EPOLL | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ERROR_LOG, 0,
		NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
		s, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned int)API_MAX_CONNECTIONS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)API_CONN_TIMEOUT_S,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
		MHD_OPTION_STRICT_FOR_CLIENT, (int)1, MHD_OPTION_END);
	if (!s->mhd) {
		rc = -EIO;
		snprintf(err, errlen,
			 "--api-socket '%s': cannot start the HTTP server "
			 "(libmicrohttpd)",
			 path);
		goto out;
	}
	info = mhd.get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info) {
		rc = -EIO;
		goto fail;
	}
	s->mhd_fd = info->epoll_fd;
	rc = loop_add(loop, s->mhd_fd, EPOLLIN, on_mhd, s);
	if (!rc)
		rc = loop_add(loop, s->timer_fd, EPOLLIN, on_timer, s);
	if (!rc)
		rc = loop_add(loop, s->listener.fd, EPOLLIN, on_accept, s);
	if (rc)
		goto fail;
	run_mhd(s);
	return 0;

fail:
	snprintf(err, errlen, "--api-socket '%s': %s", path, strerror(-rc));
out:
	api_server_close(s);
	return rc;
}

/* Lets queued responses go out, for at most API_DRAIN_MS. */
static void drain(struct api_server *s)
{
	uint64_t deadline = clock_ns() + API_DRAIN_MS * 1000000ull;

	mhd.run(s->mhd);
	while (s->replying) {
		struct pollfd p = { .fd = s->mhd_fd, .events = POLLIN };
		MHD_UNSIGNED_LONG_LONG ms = 0;
		uint64_t now = clock_ns();
		int wait;

		if (now >= deadline)
			break;
		wait = (int)((deadline - now) / 1000000 + 1);
		if (mhd.get_timeout(s->mhd, &ms) == MHD_YES &&
		    ms < (MHD_UNSIGNED_LONG_LONG)wait)
			wait = (int)ms;
		if (wait && poll(&p, 1, wait) < 0 && errno != EINTR)
			break;
		mhd.run(s->mhd);
	}
}

void api_server_close(struct api_server *s)
{
	if (s->listener.fd >= 0)
		loop_del(s->loop, s->listener.fd); /* no new connections */
	if (s->mhd) {
		if (s->mhd_fd >= 0) {
			loop_del(s->loop, s->mhd_fd);
			drain(s);
		}
		mhd.stop_daemon(s->mhd); /* calls on_completed for the rest */
		s->mhd = NULL;
	}
	s->mhd_fd = -1;
	if (s->timer_fd >= 0) {
		loop_del(s->loop, s->timer_fd);
		close(s->timer_fd);
	}
	s->timer_fd = -1;
	socket_unlisten(&s->listener);
}
