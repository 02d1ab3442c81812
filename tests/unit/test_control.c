// SPDX-License-Identifier: MIT
/*
 * Tests of the control API (control/api.c) and the console socket
 * (backends/socket.c), without KVM: the API against a fake VM (struct
 * api_ops), first through api_handle() directly, then over a real UNIX
 * socket with a raw HTTP/1.1 client; the console socket with real clients,
 * a fake device frontend, and the main loop on its own thread. Also the
 * command-line options that enable them.
 *
 * Waits are for events (bytes on a socket, a callback) with a generous
 * upper bound that only turns a hang into a failure; nothing is timed.
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "backends/socket.h"
#include "config/cli.h"
#include "control/api.h"
#include "unit/test.h"
#include "util/log.h"
#include "util/loop.h"

#define WAIT_MS 10000 /* a bound on every wait, never reached when passing */

/* ---- helpers ----------------------------------------------------------- */

/* A fresh path in the run's temporary directory (nothing there yet). */
static const char *tmp_path(const char *name, char *buf, size_t size)
{
	const char *p = test_tmpfile(name, NULL, 0);

	if (!p) {
		test_fail(__FILE__, __LINE__, "no temporary file %s", name);
		snprintf(buf, size, "/nonexistent/%s", name);
		return buf;
	}
	snprintf(buf, size, "%s", p);
	unlink(buf);
	return buf;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static int connect_to(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = WAIT_MS / 1000 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	/* SO_SNDTIMEO also bounds a connect() to a full backlog. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);

		if (w <= 0)
			return false;
		p += w;
		len -= (size_t)w;
	}
	return true;
}

/* Reads exactly len bytes (false on EOF, error or the time bound). */
static bool recv_exact(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t r = recv(fd, p, len, 0);

		if (r <= 0)
			return false;
		p += r;
		len -= (size_t)r;
	}
	return true;
}

/* Reads until EOF into buf (NUL-terminated); returns the length or -1. */
static ssize_t recv_all(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	for (;;) {
		ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);

		if (r == 0)
			break;
		if (r < 0)
			return -1;
		n += (size_t)r;
		if (n == cap - 1)
			break;
	}
	buf[n] = '\0';
	return (ssize_t)n;
}

/* The main loop on its own thread, stopped through an eventfd. */
struct loop_thread {
	struct loop loop;
	pthread_t thread;
	int quit_fd;
	bool running;
	void (*at_end)(void *arg); /* run on the loop thread after the loop */
	void *arg;
};

static void on_quit(void *opaque, uint32_t events)
{
	struct loop_thread *lt = opaque;

	(void)events;
	event_drain(lt->quit_fd);
	loop_quit(&lt->loop);
}

static void *loop_main(void *arg)
{
	struct loop_thread *lt = arg;

	loop_run(&lt->loop);
	if (lt->at_end)
		lt->at_end(lt->arg);
	return NULL;
}

static void lt_init(struct loop_thread *lt)
{
	memset(lt, 0, sizeof(*lt));
	CHECK_EQ(loop_init(&lt->loop), 0);
	lt->quit_fd = event_new();
	CHECK(lt->quit_fd >= 0);
	CHECK_EQ(loop_add(&lt->loop, lt->quit_fd, EPOLLIN, on_quit, lt), 0);
}

/* After everything is added to the loop: loop_add is not thread-safe. */
static void lt_start(struct loop_thread *lt)
{
	CHECK_EQ(pthread_create(&lt->thread, NULL, loop_main, lt), 0);
	lt->running = true;
}

static void lt_join(struct loop_thread *lt)
{
	if (!lt->running)
		return;
	event_signal(lt->quit_fd);
	pthread_join(lt->thread, NULL);
	lt->running = false;
}

static void lt_fini(struct loop_thread *lt)
{
	lt_join(lt);
	loop_del(&lt->loop, lt->quit_fd);
	close(lt->quit_fd);
	loop_destroy(&lt->loop);
}

/* ---- a fake VM behind the API ------------------------------------------ */

enum fake_op {
	OP_INFO,
	OP_PAUSE,
	OP_RESUME,
	OP_BUTTON,
	OP_REBOOT,
	OP_STOP,
	OP_STATS,
	NR_OPS
};

struct fake_vm_api {
	atomic_bool paused;
	atomic_uint calls[NR_OPS];
	int fail; /* returned by every op when set */
	struct loop *quit_loop; /* stop quits it, as main.c's does */
};

static int fake_info(void *opaque, struct api_vm_info *out)
{
	struct fake_vm_api *f = opaque;

	atomic_fetch_add(&f->calls[OP_INFO], 1);
	if (f->fail)
		return f->fail;
	*out = (struct api_vm_info){
		.state = atomic_load(&f->paused) ? API_VM_PAUSED :
						   API_VM_RUNNING,
		.pid = 4242,
		.vcpus = 2,
		.memory_mib = 512,
		.uptime_ms = 1234,
		.console = "virtio",
	};
	return 0;
}

static int fake_pause(void *opaque)
{
	struct fake_vm_api *f = opaque;

	atomic_fetch_add(&f->calls[OP_PAUSE], 1);
	if (f->fail)
		return f->fail;
	return atomic_exchange(&f->paused, true) ? -EALREADY : 0;
}

static int fake_resume(void *opaque)
{
	struct fake_vm_api *f = opaque;

	atomic_fetch_add(&f->calls[OP_RESUME], 1);
	if (f->fail)
		return f->fail;
	return atomic_exchange(&f->paused, false) ? 0 : -EALREADY;
}

static int fake_button(void *opaque)
{
	struct fake_vm_api *f = opaque;

	atomic_fetch_add(&f->calls[OP_BUTTON], 1);
	return f->fail;
}

static int fake_reboot(void *opaque)
{
	struct fake_vm_api *f = opaque;

	atomic_fetch_add(&f->calls[OP_REBOOT], 1);
	return f->fail;
}

static int fake_stop(void *opaque)
{
	struct fake_vm_api *f = opaque;

	atomic_fetch_add(&f->calls[OP_STOP], 1);
	if (f->quit_loop)
		loop_quit(f->quit_loop);
	return f->fail;
}

static int fake_stats(void *opaque, struct vm_stats *out)
{
	struct fake_vm_api *f = opaque;

	atomic_fetch_add(&f->calls[OP_STATS], 1);
	if (f->fail)
		return f->fail;
	out->nr_vcpus = 2;
	out->vcpus[0] = (struct vcpu_stats){
		.exits = 10, .io_exits = 7, .mmio_exits = 3, .cpu_ns = 99
	};
	out->vcpus[1] = (struct vcpu_stats){ .exits = 1, .hlt_exits = 1 };
	out->rss_bytes = 1 << 20;
	out->nr_disks = 1;
	out->disks[0] = (struct vm_disk_stats){ .name = "virtio-blk0",
						.read_bytes = 4096,
						.write_bytes = 512,
						.read_ops = 2,
						.write_ops = 1,
						.flushes = 3 };
	out->nr_nets = 1;
	out->nets[0] = (struct vm_net_stats){ .name = "virtio-net0",
					      .rx_bytes = 60,
					      .tx_bytes = 1500,
					      .rx_packets = 1,
					      .tx_packets = 2,
					      .dropped = 5 };
	return 0;
}

static const struct api_ops fake_ops = {
	.info = fake_info,
	.pause = fake_pause,
	.resume = fake_resume,
	.power_button = fake_button,
	.reboot = fake_reboot,
	.stop = fake_stop,
	.stats = fake_stats,
};

/* One request through api_handle; the reply's body parsed (NULL if not). */
static json_t *call(struct fake_vm_api *f, const char *method, const char *path,
		    const char *body, unsigned int *status,
		    struct httpd_reply *out)
{
	struct httpd_reply r;
	json_t *j = NULL;

	api_handle(&fake_ops, f, method, path, body ? body : "",
		   body ? strlen(body) : 0, &r);
	*status = r.status;
	if (r.body)
		j = json_loads(r.body, 0, NULL);
	else
		test_fail(__FILE__, __LINE__, "%s %s: no body", method, path);
	if (out)
		*out = r;
	free(r.body);
	if (out)
		out->body = NULL;
	return j;
}

/* An error reply: exactly {"error": "..."} with text mentioning want. */
static void check_error(int line, json_t *j, const char *want)
{
	json_t *e = j ? json_object_get(j, "error") : NULL;

	if (!e || !json_is_string(e) || json_object_size(j) != 1) {
		test_fail(__FILE__, line, "not an error object");
		return;
	}
	if (want && !strstr(json_string_value(e), want))
		test_fail(__FILE__, line, "error '%s' does not mention '%s'",
			  json_string_value(e), want);
}
#define CHECK_ERROR(j, want) check_error(__LINE__, j, want)

static const char *str(json_t *j, const char *key)
{
	json_t *v = json_object_get(j, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static long long num(json_t *j, const char *key)
{
	json_t *v = json_object_get(j, key);

	return json_is_integer(v) ? json_integer_value(v) : -1;
}

/* ---- api_handle: routing and validation -------------------------------- */

static void api_get_vm_shape(void)
{
	struct fake_vm_api f = { .paused = false };
	unsigned int st;
	json_t *j = call(&f, "GET", "/v1/vm", NULL, &st, NULL);

	CHECK_EQ(st, 200);
	CHECK_STR(str(j, "state"), "running");
	CHECK_EQ(num(j, "pid"), 4242);
	CHECK_EQ(num(j, "vcpus"), 2);
	CHECK_EQ(num(j, "memory_mib"), 512);
	CHECK_EQ(num(j, "uptime_ms"), 1234);
	CHECK_STR(str(j, "console"), "virtio");
	CHECK_EQ(json_object_size(j), 6);
	json_decref(j);
	atomic_store(&f.paused, true);
	j = call(&f, "GET", "/v1/vm", NULL, &st, NULL);
	CHECK_STR(str(j, "state"), "paused");
	json_decref(j);
}

static void api_unknown_path_and_method(void)
{
	static const char *const paths[] = { "/",	"/v1",
					     "/v1/vm/", "/v1/vm/nope",
					     "/v2/vm",	"/v1/vm/pause/x" };
	struct fake_vm_api f = { .paused = false };
	struct httpd_reply r;
	unsigned int st, i;
	json_t *j;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		j = call(&f, "GET", paths[i], NULL, &st, NULL);
		CHECK_EQ(st, 404);
		CHECK_ERROR(j, "no such resource");
		json_decref(j);
	}
	j = call(&f, "GET", "/v1/vm/pause", NULL, &st, &r);
	CHECK_EQ(st, 405);
	CHECK_STR(r.allow, "PUT");
	CHECK_ERROR(j, "not allowed");
	json_decref(j);
	j = call(&f, "DELETE", "/v1/vm", NULL, &st, &r);
	CHECK_EQ(st, 405);
	CHECK_STR(r.allow, "GET, PATCH");
	json_decref(j);
	j = call(&f, "POST", "/v1/vm/stats", NULL, &st, &r);
	CHECK_EQ(st, 405);
	CHECK_STR(r.allow, "GET");
	json_decref(j);
	/* Client text in messages is printable ASCII only. */
	j = call(&f, "GET", "/v1/\x01\xff", NULL, &st, NULL);
	CHECK_EQ(st, 404);
	CHECK_ERROR(j, "/v1/??");
	json_decref(j);
	/* Nothing was done to the VM. */
	for (i = 0; i < NR_OPS; i++)
		CHECK_EQ(atomic_load(&f.calls[i]), 0);
}

static void api_pause_resume_conflicts(void)
{
	struct fake_vm_api f = { .paused = false };
	unsigned int st;
	json_t *j;

	j = call(&f, "PUT", "/v1/vm/pause", NULL, &st, NULL);
	CHECK_EQ(st, 200);
	CHECK_STR(str(j, "state"), "paused");
	json_decref(j);
	CHECK(atomic_load(&f.paused));
	j = call(&f, "PUT", "/v1/vm/pause", NULL, &st, NULL);
	CHECK_EQ(st, 409);
	CHECK_ERROR(j, "already paused");
	json_decref(j);
	j = call(&f, "PUT", "/v1/vm/resume", "{}", &st, NULL);
	CHECK_EQ(st, 200);
	CHECK_STR(str(j, "state"), "running");
	json_decref(j);
	j = call(&f, "PUT", "/v1/vm/resume", " \r\n", &st, NULL);
	CHECK_EQ(st, 409);
	CHECK_ERROR(j, "not paused");
	json_decref(j);
	CHECK(!atomic_load(&f.paused));
}

static void api_bad_bodies(void)
{
	static const struct {
		const char *body, *want;
	} cases[] = {
		{ "{", "malformed JSON" },
		{ "{\"a\":}", "malformed JSON" },
		{ "nul", "malformed JSON" },
		{ "{} {}", "malformed JSON" },
		{ "[]", "JSON object" },
		{ "42", "JSON object" },
		{ "\"paused\"", "JSON object" },
		{ "{\"force\":true}", "unknown field 'force'" },
		{ "{\"a\":1,\"a\":2}", "malformed JSON" }, /* duplicate key */
		{ "{\"\\u0001x\":1}", "unknown field '?x'" },
	};
	struct fake_vm_api f = { .paused = false };
	unsigned int st, i;
	json_t *j;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		j = call(&f, "PUT", "/v1/vm/pause", cases[i].body, &st, NULL);
		CHECK_EQ(st, 400);
		CHECK_ERROR(j, cases[i].want);
		json_decref(j);
	}
	/* A NUL inside the body is malformed, not a truncated "{}". */
	{
		struct httpd_reply r;

		api_handle(&fake_ops, &f, "PUT", "/v1/vm/stop", "{}\0x", 4, &r);
		CHECK_EQ(r.status, 400);
		free(r.body);
	}
	CHECK_EQ(atomic_load(&f.calls[OP_PAUSE]), 0);
	CHECK_EQ(atomic_load(&f.calls[OP_STOP]), 0);
}

static void api_patch_state(void)
{
	static const struct {
		const char *body, *want;
	} bad[] = {
		{ "{}", "'state' is required" },
		{ "{\"state\":1}", "must be a string" },
		{ "{\"state\":null}", "must be a string" },
		{ "{\"state\":[\"paused\"]}", "must be a string" },
		{ "{\"state\":\"Paused\"}", "'Paused' is not" },
		{ "{\"state\":\"paused\",\"x\":1}", "unknown field 'x'" },
		{ "[]", "JSON object" },
		{ "{\"state\":", "malformed JSON" },
	};
	struct fake_vm_api f = { .paused = false };
	unsigned int st, i;
	json_t *j;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = call(&f, "PATCH", "/v1/vm", bad[i].body, &st, NULL);
		CHECK_EQ(st, 400);
		CHECK_ERROR(j, bad[i].want);
		json_decref(j);
	}
	CHECK_EQ(atomic_load(&f.calls[OP_PAUSE]), 0);
	/* Declarative: asking twice for the same state is fine. */
	for (i = 0; i < 2; i++) {
		j = call(&f, "PATCH", "/v1/vm", "{\"state\":\"paused\"}", &st,
			 NULL);
		CHECK_EQ(st, 200);
		CHECK_STR(str(j, "state"), "paused");
		CHECK_EQ(num(j, "vcpus"), 2);
		json_decref(j);
	}
	j = call(&f, "PATCH", "/v1/vm", "{\"state\":\"running\"}", &st, NULL);
	CHECK_EQ(st, 200);
	CHECK_STR(str(j, "state"), "running");
	json_decref(j);
}

static void api_actions(void)
{
	static const struct {
		const char *path, *result;
		enum fake_op op;
	} cases[] = {
		{ "/v1/vm/power-button", "power button pressed", OP_BUTTON },
		{ "/v1/vm/reboot", "rebooting", OP_REBOOT },
		{ "/v1/vm/stop", "stopping", OP_STOP },
	};
	struct fake_vm_api f = { .paused = false };
	unsigned int st, i;
	json_t *j;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		j = call(&f, "PUT", cases[i].path, NULL, &st, NULL);
		CHECK_EQ(st, 202);
		CHECK_STR(str(j, "result"), cases[i].result);
		CHECK_EQ(atomic_load(&f.calls[cases[i].op]), 1);
		json_decref(j);
		j = call(&f, "GET", cases[i].path, NULL, &st, NULL);
		CHECK_EQ(st, 405);
		json_decref(j);
		j = call(&f, "PUT", cases[i].path, "{\"now\":1}", &st, NULL);
		CHECK_EQ(st, 400);
		json_decref(j);
		CHECK_EQ(atomic_load(&f.calls[cases[i].op]), 1);
	}
}

static void api_stats_shape(void)
{
	struct fake_vm_api f = { .paused = false };
	json_t *j, *a, *v;
	unsigned int st;

	j = call(&f, "GET", "/v1/vm/stats", NULL, &st, NULL);
	CHECK_EQ(st, 200);
	CHECK_EQ(num(j, "rss_bytes"), 1 << 20);
	a = json_object_get(j, "vcpus");
	CHECK(json_is_array(a) && json_array_size(a) == 2);
	v = json_array_get(a, 0);
	CHECK_EQ(num(v, "id"), 0);
	CHECK_EQ(num(v, "exits"), 10);
	CHECK_EQ(num(v, "io_exits"), 7);
	CHECK_EQ(num(v, "mmio_exits"), 3);
	CHECK_EQ(num(v, "hlt_exits"), 0);
	CHECK_EQ(num(v, "cpu_ns"), 99);
	CHECK_EQ(num(json_array_get(a, 1), "id"), 1);
	CHECK_EQ(num(json_array_get(a, 1), "hlt_exits"), 1);
	a = json_object_get(j, "disks");
	CHECK(json_is_array(a) && json_array_size(a) == 1);
	v = json_array_get(a, 0);
	CHECK_STR(str(v, "name"), "virtio-blk0");
	CHECK_EQ(num(v, "read_bytes"), 4096);
	CHECK_EQ(num(v, "write_bytes"), 512);
	CHECK_EQ(num(v, "read_ops"), 2);
	CHECK_EQ(num(v, "write_ops"), 1);
	CHECK_EQ(num(v, "flushes"), 3);
	a = json_object_get(j, "nets");
	CHECK(json_is_array(a) && json_array_size(a) == 1);
	v = json_array_get(a, 0);
	CHECK_STR(str(v, "name"), "virtio-net0");
	CHECK_EQ(num(v, "rx_bytes"), 60);
	CHECK_EQ(num(v, "tx_bytes"), 1500);
	CHECK_EQ(num(v, "rx_packets"), 1);
	CHECK_EQ(num(v, "tx_packets"), 2);
	CHECK_EQ(num(v, "dropped"), 5);
	json_decref(j);
}

static void api_vm_errors(void)
{
	static const char *const reqs[][2] = {
		{ "GET", "/v1/vm" },	    { "PUT", "/v1/vm/pause" },
		{ "PUT", "/v1/vm/resume" }, { "PUT", "/v1/vm/power-button" },
		{ "PUT", "/v1/vm/reboot" }, { "PUT", "/v1/vm/stop" },
		{ "GET", "/v1/vm/stats" },
	};
	struct fake_vm_api f = { .fail = -ESRCH };
	unsigned int st, i;
	json_t *j;

	for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		f.fail = -ESRCH;
		j = call(&f, reqs[i][0], reqs[i][1], NULL, &st, NULL);
		CHECK_EQ(st, 503);
		CHECK_ERROR(j, "restarting or stopping");
		json_decref(j);
		f.fail = -EIO;
		j = call(&f, reqs[i][0], reqs[i][1], NULL, &st, NULL);
		CHECK_EQ(st, 500);
		CHECK_ERROR(j, strerror(EIO));
		json_decref(j);
	}
}

/* ---- the API over its socket ------------------------------------------- */

struct api_fixture {
	struct loop_thread lt;
	struct api_server srv;
	struct fake_vm_api vm;
	char path[256];
};

static void api_close_at_end(void *arg)
{
	struct api_fixture *fx = arg;

	api_server_close(&fx->srv);
}

/* Opens the server; with close_on_loop, the loop thread closes it. */
static bool api_setup(struct api_fixture *fx, bool close_on_loop)
{
	char err[256];
	int rc;

	memset(fx, 0, sizeof(*fx));
	lt_init(&fx->lt);
	tmp_path("api.sock", fx->path, sizeof(fx->path));
	rc = api_server_open(&fx->srv, &fx->lt.loop, fx->path, &fake_ops,
			     &fx->vm, err, sizeof(err));
	if (rc) {
		test_fail(__FILE__, __LINE__, "api_server_open: %s", err);
		lt_fini(&fx->lt);
		return false;
	}
	if (close_on_loop) {
		fx->lt.at_end = api_close_at_end;
		fx->lt.arg = fx;
	}
	fx->vm.quit_loop = &fx->lt.loop;
	lt_start(&fx->lt);
	return true;
}

static void api_teardown(struct api_fixture *fx, bool closed_on_loop)
{
	lt_join(&fx->lt);
	if (!closed_on_loop)
		api_server_close(&fx->srv);
	lt_fini(&fx->lt);
}

/*
 * Sends a raw request and reads the response to EOF (the request says
 * Connection: close). Returns the status, or 0; resp holds it all.
 */
static unsigned int http(const char *sock, const char *req, size_t len,
			 char *resp, size_t cap)
{
	int fd = connect_to(sock);
	unsigned int status = 0;

	resp[0] = '\0';
	if (fd < 0)
		return 0;
	if (send_all(fd, req, len) && recv_all(fd, resp, cap) > 0 &&
	    sscanf(resp, "HTTP/1.1 %u", &status) != 1)
		status = 0;
	close(fd);
	return status;
}

static json_t *http_json(const char *resp)
{
	const char *body = strstr(resp, "\r\n\r\n");

	return body ? json_loads(body + 4, 0, NULL) : NULL;
}

static bool has_header(const char *resp, const char *line)
{
	const char *end = strstr(resp, "\r\n\r\n");
	const char *h = strcasestr(resp, line);

	return h && end && h < end;
}

static void http_basic(void)
{
	struct api_fixture fx;
	static char resp[16384];
	struct stat st;
	json_t *j;

	if (!api_setup(&fx, false))
		return;
	CHECK_EQ(stat(fx.path, &st), 0);
	CHECK(S_ISSOCK(st.st_mode));
	CHECK_EQ(st.st_mode & 0777, 0600);
#define REQ(s) s, sizeof(s) - 1
	CHECK_EQ(http(fx.path,
		      REQ("GET /v1/vm HTTP/1.1\r\nHost: mica\r\n"
			  "Connection: close\r\n\r\n"),
		      resp, sizeof(resp)),
		 200);
	CHECK(has_header(resp, "Content-Type: application/json"));
	j = http_json(resp);
	CHECK_STR(str(j, "state"), "running");
	json_decref(j);
	CHECK_EQ(http(fx.path,
		      REQ("PUT /v1/vm/pause HTTP/1.1\r\nHost: mica\r\n"
			  "Connection: close\r\nContent-Type: "
			  "application/json\r\nContent-Length: 2\r\n\r\n{}"),
		      resp, sizeof(resp)),
		 200);
	CHECK_EQ(http(fx.path,
		      REQ("PUT /v1/vm/pause HTTP/1.1\r\nHost: mica\r\n"
			  "Connection: close\r\n\r\n"),
		      resp, sizeof(resp)),
		 409);
	j = http_json(resp);
	CHECK_ERROR(j, "already paused");
	json_decref(j);
	CHECK_EQ(http(fx.path,
		      REQ("GET /v1/vm/pause HTTP/1.1\r\nHost: mica\r\n"
			  "Connection: close\r\n\r\n"),
		      resp, sizeof(resp)),
		 405);
	CHECK(has_header(resp, "Allow: PUT"));
	CHECK_EQ(http(fx.path,
		      REQ("GET /v1/nothing?x=1 HTTP/1.1\r\nHost: mica\r\n"
			  "Connection: close\r\n\r\n"),
		      resp, sizeof(resp)),
		 404);
	j = http_json(resp);
	CHECK_ERROR(j, "/v1/nothing");
	json_decref(j);
	CHECK_EQ(http(fx.path,
		      REQ("PATCH /v1/vm HTTP/1.1\r\nHost: mica\r\n"
			  "Connection: close\r\nContent-Length: 14\r\n\r\n"
			  "{\"state\":true}"),
		      resp, sizeof(resp)),
		 400);
	j = http_json(resp);
	CHECK_ERROR(j, "must be a string");
	json_decref(j);
	CHECK_EQ(http(fx.path,
		      REQ("GET /v1/vm/stats HTTP/1.1\r\nHost: mica\r\n"
			  "Connection: close\r\n\r\n"),
		      resp, sizeof(resp)),
		 200);
	j = http_json(resp);
	CHECK(json_is_array(json_object_get(j, "vcpus")));
	json_decref(j);
	api_teardown(&fx, false);
	/* The socket file is gone with the server. */
	CHECK(stat(fx.path, &st) != 0 && errno == ENOENT);
}

/* Two requests on one connection (keep-alive), then a bad request line. */
static void http_keepalive_and_garbage(void)
{
	static const char two[] = "GET /v1/vm HTTP/1.1\r\nHost: m\r\n\r\n"
				  "GET /v1/vm/stats HTTP/1.1\r\nHost: m\r\n"
				  "Connection: close\r\n\r\n";
	struct api_fixture fx;
	static char resp[32768];
	const char *second;

	if (!api_setup(&fx, false))
		return;
	CHECK_EQ(http(fx.path, two, sizeof(two) - 1, resp, sizeof(resp)), 200);
	second = strstr(resp + 1, "HTTP/1.1 200");
	CHECK(second != NULL);
	CHECK(second && strstr(second, "\"rss_bytes\""));
	/* Not HTTP: MHD answers or hangs up; the server lives on. */
	http(fx.path, REQ("\x01\x02 nonsense\r\n\r\n"), resp, sizeof(resp));
	CHECK_EQ(http(fx.path,
		      REQ("GET /v1/vm HTTP/1.1\r\nHost: m\r\n"
			  "Connection: close\r\n\r\n"),
		      resp, sizeof(resp)),
		 200);
	api_teardown(&fx, false);
}

static void http_body_too_large(void)
{
	struct api_fixture fx;
	static char resp[16384];
	char req[512], chunk[8200];
	unsigned int i;
	json_t *j;
	int fd, n;

	if (!api_setup(&fx, false))
		return;
	/* Declared too large: refused before any of it is read. */
	n = snprintf(req, sizeof(req),
		     "PUT /v1/vm/pause HTTP/1.1\r\nHost: m\r\n"
		     "Connection: close\r\nContent-Length: %u\r\n\r\n",
		     API_BODY_MAX + 1);
	CHECK_EQ(http(fx.path, req, (size_t)n, resp, sizeof(resp)), 413);
	j = http_json(resp);
	CHECK_ERROR(j, "larger than");
	json_decref(j);
	/* Chunked, past the limit: 413 at its end. */
	fd = connect_to(fx.path);
	CHECK(fd >= 0);
	n = snprintf(req, sizeof(req),
		     "PUT /v1/vm/pause HTTP/1.1\r\nHost: m\r\n"
		     "Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n");
	CHECK(send_all(fd, req, (size_t)n));
	memset(chunk, ' ', sizeof(chunk));
	memcpy(chunk, "2000\r\n", 6); /* 8192 bytes of spaces */
	memcpy(chunk + 6 + 8192, "\r\n", 2);
	for (i = 0; i < 9; i++) /* 72 KiB */
		CHECK(send_all(fd, chunk, 6 + 8192 + 2));
	CHECK(send_all(fd, "0\r\n\r\n", 5));
	CHECK(recv_all(fd, resp, sizeof(resp)) > 0);
	CHECK(strncmp(resp, "HTTP/1.1 413", 12) == 0);
	close(fd);
	/* At the limit exactly: accepted (and a blank body is no field). */
	{
		size_t hdr, len;
		char *big = malloc(API_BODY_MAX + 256);

		CHECK(big != NULL);
		if (big) {
			hdr = (size_t)snprintf(
				big, 256,
				"PUT /v1/vm/resume HTTP/1.1\r\nHost: m\r\n"
				"Connection: close\r\nContent-Length: %u\r\n"
				"\r\n",
				API_BODY_MAX);
			memset(big + hdr, '\n', API_BODY_MAX);
			len = hdr + API_BODY_MAX;
			/* Running already: 409, so the body was taken. */
			CHECK_EQ(http(fx.path, big, len, resp, sizeof(resp)),
				 409);
			free(big);
		}
	}
	CHECK_EQ(atomic_load(&fx.vm.calls[OP_PAUSE]), 0);
	api_teardown(&fx, false);
}

/* A stop answered while the server shuts down: the reply still goes out. */
static void http_stop_reply_drained(void)
{
	struct api_fixture fx;
	static char resp[4096];
	json_t *j;

	if (!api_setup(&fx, true))
		return;
	CHECK_EQ(http(fx.path,
		      REQ("PUT /v1/vm/stop HTTP/1.1\r\nHost: m\r\n"
			  "Connection: close\r\n\r\n"),
		      resp, sizeof(resp)),
		 202);
	j = http_json(resp);
	CHECK_STR(str(j, "result"), "stopping");
	json_decref(j);
	api_teardown(&fx, true);
	CHECK_EQ(atomic_load(&fx.vm.calls[OP_STOP]), 1);
	CHECK(access(fx.path, F_OK) != 0);
}

/* Connections beyond the cap wait or are refused; none breaks the server. */
static void http_many_connections(void)
{
	struct api_fixture fx;
	static char resp[4096];
	int fds[API_MAX_CONNECTIONS + 8];
	unsigned int i;

	if (!api_setup(&fx, false))
		return;
	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		fds[i] = connect_to(fx.path);
	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	CHECK_EQ(http(fx.path,
		      REQ("GET /v1/vm HTTP/1.1\r\nHost: m\r\n"
			  "Connection: close\r\n\r\n"),
		      resp, sizeof(resp)),
		 200);
	api_teardown(&fx, false);
}

/* ---- listening sockets -------------------------------------------------- */

static void listen_paths(void)
{
	struct socket_listener a, b;
	char path[256], err[256], longp[200];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	tmp_path("listen.sock", path, sizeof(path));
	CHECK_EQ(socket_listen(&a, "--x", path, err, sizeof(err)), 0);
	CHECK_EQ(stat(path, &st), 0);
	CHECK_EQ(st.st_mode & 0777, 0600);
	/* In use by a live listener. */
	CHECK_EQ(socket_listen(&b, "--x", path, err, sizeof(err)), -EADDRINUSE);
	CHECK(strstr(err, "in use") && strstr(err, path) && strstr(err, "--x"));
	socket_unlisten(&a);
	CHECK(stat(path, &st) != 0);

	/* Stale: a socket file nobody listens on is replaced. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strnlen(path, sizeof(sa.sun_path) - 1));
	CHECK_EQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	CHECK_EQ(stat(path, &st), 0);
	CHECK_EQ(socket_listen(&a, "--x", path, err, sizeof(err)), 0);
	/* A replaced file is not removed by the old owner. */
	unlink(path);
	CHECK(test_tmpfile("listen.sock", "x", 1) != NULL);
	socket_unlisten(&a);
	CHECK_EQ(stat(path, &st), 0);
	CHECK(S_ISREG(st.st_mode));
	/* Not a socket: an error, and the file is left alone. */
	CHECK_EQ(socket_listen(&a, "--x", path, err, sizeof(err)), -EEXIST);
	CHECK(strstr(err, "not a socket") != NULL);
	CHECK_EQ(stat(path, &st), 0);
	unlink(path);
	/* Too long for sun_path; empty. */
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	longp[0] = '/';
	CHECK_EQ(socket_listen(&a, "--x", longp, err, sizeof(err)),
		 -ENAMETOOLONG);
	CHECK(strstr(err, "too long") != NULL);
	CHECK_EQ(socket_listen(&a, "--x", "", err, sizeof(err)), -EINVAL);
	/* A directory that does not exist. */
	CHECK(socket_listen(&a, "--x", "/nonexistent-dir/s", err, sizeof(err)) <
	      0);
	CHECK(strstr(err, "/nonexistent-dir/s") != NULL);
}

/* ---- the console socket ------------------------------------------------- */

/* The device side: takes input up to a budget the test sets. */
struct fake_fe {
	pthread_mutex_t lock;
	uint8_t in[8192];
	size_t in_len;
	size_t budget;
	unsigned int tx_ready_calls;
};

static size_t fe_receive(void *opaque, const uint8_t *buf, size_t len)
{
	struct fake_fe *fe = opaque;
	size_t n;

	pthread_mutex_lock(&fe->lock);
	n = len < fe->budget ? len : fe->budget;
	if (n > sizeof(fe->in) - fe->in_len)
		n = sizeof(fe->in) - fe->in_len;
	memcpy(fe->in + fe->in_len, buf, n);
	fe->in_len += n;
	fe->budget -= n;
	pthread_mutex_unlock(&fe->lock);
	return n;
}

static void fe_tx_ready(void *opaque)
{
	struct fake_fe *fe = opaque;

	pthread_mutex_lock(&fe->lock);
	fe->tx_ready_calls++;
	pthread_mutex_unlock(&fe->lock);
}

static const struct chardev_frontend fake_frontend = {
	.receive = fe_receive,
	.tx_ready = fe_tx_ready,
};

struct con_fixture {
	struct loop_thread lt;
	struct socket_chardev con;
	struct fake_fe fe;
	char path[256];
};

static bool con_setup(struct con_fixture *fx, size_t history)
{
	char err[256];
	int rc;

	memset(fx, 0, sizeof(*fx));
	pthread_mutex_init(&fx->fe.lock, NULL);
	fx->fe.budget = SIZE_MAX;
	lt_init(&fx->lt);
	tmp_path("console.sock", fx->path, sizeof(fx->path));
	rc = socket_chardev_open(&fx->con, &fx->lt.loop, fx->path, history, err,
				 sizeof(err));
	if (rc) {
		test_fail(__FILE__, __LINE__, "socket_chardev_open: %s", err);
		lt_fini(&fx->lt);
		return false;
	}
	chardev_attach(&fx->con.chr, &fake_frontend, &fx->fe);
	lt_start(&fx->lt);
	return true;
}

static void con_teardown(struct con_fixture *fx)
{
	lt_join(&fx->lt);
	chardev_attach(&fx->con.chr, NULL, NULL);
	socket_chardev_close(&fx->con);
	lt_fini(&fx->lt);
	pthread_mutex_destroy(&fx->fe.lock);
}

/* Writes all of buf as a device would (retrying after short writes). */
static void guest_write(struct con_fixture *fx, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		size_t n = chardev_write(&fx->con.chr, p, len);

		p += n;
		len -= n;
		if (len)
			sleep_ms(1);
	}
}

/* Waits for the backend to see the client (attach happens on the loop). */
static bool wait_attached(struct con_fixture *fx, bool want)
{
	unsigned int i;

	for (i = 0; i < WAIT_MS; i++) {
		if (socket_chardev_attached(&fx->con) == want)
			return true;
		sleep_ms(1);
	}
	return false;
}

static void fill_pattern(uint8_t *buf, size_t len, size_t start)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)('a' + (start + i) % 23);
}

static void console_history_wraps(void)
{
	struct con_fixture fx;
	static uint8_t out[10000], got[4096], want[4096];
	int fd;

	if (!con_setup(&fx, 4096))
		return;
	/* Nobody attached: every byte is taken, the oldest dropped. */
	fill_pattern(out, sizeof(out), 0);
	CHECK_EQ(chardev_write(&fx.con.chr, out, 3000), 3000);
	CHECK_EQ(chardev_write(&fx.con.chr, out + 3000, 7000), 7000);
	CHECK_EQ(socket_chardev_history_len(&fx.con), 4096);
	fd = connect_to(fx.path);
	CHECK(fd >= 0);
	CHECK(recv_exact(fd, got, sizeof(got)));
	fill_pattern(want, sizeof(want), sizeof(out) - 4096);
	CHECK(memcmp(got, want, sizeof(want)) == 0);
	close(fd);
	con_teardown(&fx);
}

static void console_replay_then_live(void)
{
	struct con_fixture fx;
	char buf[64];
	int fd;

	if (!con_setup(&fx, 4096))
		return;
	guest_write(&fx, "hello ", 6);
	fd = connect_to(fx.path);
	CHECK(fd >= 0);
	CHECK(recv_exact(fd, buf, 6));
	CHECK(memcmp(buf, "hello ", 6) == 0);
	CHECK(wait_attached(&fx, true));
	guest_write(&fx, "world", 5);
	CHECK(recv_exact(fd, buf, 5));
	CHECK(memcmp(buf, "world", 5) == 0);
	/* Detaching never blocks the guest; output goes to the ring. */
	close(fd);
	CHECK(wait_attached(&fx, false));
	guest_write(&fx, "!", 1);
	fd = connect_to(fx.path);
	CHECK(fd >= 0);
	CHECK(recv_exact(fd, buf, 12));
	CHECK(memcmp(buf, "hello world!", 12) == 0);
	close(fd);
	con_teardown(&fx);
}

/* What was written while detached survives, up to the ring's size. */
static void console_detached_output_kept(void)
{
	struct con_fixture fx;
	static uint8_t out[6000], got[4096];
	int fd;

	if (!con_setup(&fx, 4096))
		return;
	fd = connect_to(fx.path);
	CHECK(fd >= 0);
	CHECK(wait_attached(&fx, true));
	fill_pattern(out, 100, 0);
	guest_write(&fx, out, 100);
	CHECK(recv_exact(fd, got, 100));
	close(fd);
	CHECK(wait_attached(&fx, false));
	/* 3000 more: all of it, and the 100 before, fit in the ring. */
	fill_pattern(out, 3100, 0);
	guest_write(&fx, out + 100, 3000);
	fd = connect_to(fx.path);
	CHECK(recv_exact(fd, got, 3100));
	CHECK(memcmp(got, out, 3100) == 0);
	close(fd);
	CHECK(wait_attached(&fx, false));
	/* 6000 while detached: only the last 4096 can be kept. */
	fill_pattern(out, sizeof(out), 7);
	guest_write(&fx, out, sizeof(out));
	fd = connect_to(fx.path);
	CHECK(recv_exact(fd, got, 4096));
	CHECK(memcmp(got, out + sizeof(out) - 4096, 4096) == 0);
	close(fd);
	con_teardown(&fx);
}

/*
 * An attached client that does not read holds the guest back (short
 * writes, then tx_ready) rather than losing output.
 */
static void console_attached_lossless(void)
{
	enum { TOTAL = 2u << 20 };
	struct con_fixture fx;
	uint8_t *out = malloc(TOTAL), *got = malloc(TOTAL);
	size_t written = 0, n;
	unsigned int calls, stuck = 0;
	int fd;

	CHECK(out && got);
	if (!out || !got || !con_setup(&fx, 4096)) {
		free(out);
		free(got);
		return;
	}
	fill_pattern(out, TOTAL, 3);
	fd = connect_to(fx.path);
	CHECK(fd >= 0);
	CHECK(wait_attached(&fx, true));
	/*
	 * Until the socket buffer and the ring are full: writes that take
	 * nothing, several times over (how long it takes is not the point;
	 * that nothing written is lost is).
	 */
	while (stuck < 20 && written + 4096 <= TOTAL) {
		n = chardev_write(&fx.con.chr, out + written, 4096);
		written += n;
		if (n) {
			stuck = 0;
			continue;
		}
		stuck++;
		sleep_ms(2);
	}
	CHECK_EQ(stuck, 20); /* held back, not dropped */
	/* The client reads: tx_ready comes, the rest goes through. */
	CHECK(recv_exact(fd, got, written));
	CHECK(memcmp(got, out, written) == 0);
	pthread_mutex_lock(&fx.fe.lock);
	calls = fx.fe.tx_ready_calls;
	pthread_mutex_unlock(&fx.fe.lock);
	CHECK(calls >= 1);
	guest_write(&fx, out + written, 10000);
	CHECK(recv_exact(fd, got + written, 10000));
	CHECK(memcmp(got + written, out + written, 10000) == 0);
	close(fd);
	con_teardown(&fx);
	free(out);
	free(got);
}

/* A blocked guest is released when the slow client goes away. */
static void console_detach_releases_guest(void)
{
	struct con_fixture fx;
	static uint8_t out[4096];
	unsigned int i, calls = 0;
	size_t n;
	int fd;

	if (!con_setup(&fx, 4096))
		return;
	fd = connect_to(fx.path);
	CHECK(wait_attached(&fx, true));
	fill_pattern(out, sizeof(out), 0);
	do
		n = chardev_write(&fx.con.chr, out, sizeof(out));
	while (n == sizeof(out));
	close(fd);
	for (i = 0; i < WAIT_MS && !calls; i++) {
		pthread_mutex_lock(&fx.fe.lock);
		calls = fx.fe.tx_ready_calls;
		pthread_mutex_unlock(&fx.fe.lock);
		if (!calls)
			sleep_ms(1);
	}
	CHECK(calls >= 1);
	CHECK(wait_attached(&fx, false));
	CHECK_EQ(chardev_write(&fx.con.chr, out, sizeof(out)), sizeof(out));
	con_teardown(&fx);
}

static void console_input_flow_control(void)
{
	struct con_fixture fx;
	char in[1000];
	unsigned int i;
	size_t got = 0;
	int fd;

	if (!con_setup(&fx, 4096))
		return;
	pthread_mutex_lock(&fx.fe.lock);
	fx.fe.budget = 0; /* the device's FIFO is full */
	pthread_mutex_unlock(&fx.fe.lock);
	for (i = 0; i < sizeof(in); i++)
		in[i] = (char)('0' + i % 10);
	fd = connect_to(fx.path);
	CHECK(fd >= 0);
	CHECK(send_all(fd, in, sizeof(in)));
	/* The device takes 37 bytes at a time, then says it has room. */
	for (i = 0; i < WAIT_MS && got < sizeof(in); i++) {
		pthread_mutex_lock(&fx.fe.lock);
		got = fx.fe.in_len;
		if (!fx.fe.budget)
			fx.fe.budget = 37;
		pthread_mutex_unlock(&fx.fe.lock);
		chardev_rx_ready(&fx.con.chr);
		sleep_ms(1);
	}
	CHECK_EQ(got, sizeof(in));
	CHECK(memcmp(fx.fe.in, in, sizeof(in)) == 0);
	close(fd);
	con_teardown(&fx);
}

/* Input that arrives with no device attached waits for the next one. */
static void console_input_waits_for_device(void)
{
	struct con_fixture fx;
	unsigned int i;
	size_t got = 0;
	int fd;

	if (!con_setup(&fx, 4096))
		return;
	chardev_attach(&fx.con.chr, NULL, NULL); /* a VM being rebuilt */
	fd = connect_to(fx.path);
	CHECK(send_all(fd, "reboot-proof", 12));
	CHECK(wait_attached(&fx, true));
	chardev_attach(&fx.con.chr, &fake_frontend, &fx.fe);
	for (i = 0; i < WAIT_MS && got < 12; i++) {
		chardev_rx_ready(&fx.con.chr); /* as main.c after vm_create */
		sleep_ms(1);
		pthread_mutex_lock(&fx.fe.lock);
		got = fx.fe.in_len;
		pthread_mutex_unlock(&fx.fe.lock);
	}
	CHECK_EQ(got, 12);
	CHECK(memcmp(fx.fe.in, "reboot-proof", 12) == 0);
	close(fd);
	con_teardown(&fx);
}

/* A second client takes over; the first is told and disconnected. */
static void console_takeover(void)
{
	struct con_fixture fx;
	char buf[256];
	ssize_t n;
	int a, b;

	if (!con_setup(&fx, 4096))
		return;
	guest_write(&fx, "boot\n", 5);
	a = connect_to(fx.path);
	CHECK(recv_exact(a, buf, 5));
	CHECK(wait_attached(&fx, true));
	b = connect_to(fx.path);
	CHECK(recv_exact(b, buf, 5)); /* the new client gets the history */
	CHECK(memcmp(buf, "boot\n", 5) == 0);
	n = recv_all(a, buf, sizeof(buf)); /* then EOF */
	CHECK(n > 0 && strstr(buf, "another client attached"));
	guest_write(&fx, "live", 4);
	CHECK(recv_exact(b, buf, 4));
	CHECK(memcmp(buf, "live", 4) == 0);
	/* Input from the new client reaches the device. */
	CHECK(send_all(b, "k", 1));
	for (unsigned int i = 0; i < WAIT_MS; i++) {
		size_t got;

		pthread_mutex_lock(&fx.fe.lock);
		got = fx.fe.in_len;
		pthread_mutex_unlock(&fx.fe.lock);
		if (got)
			break;
		sleep_ms(1);
	}
	CHECK_EQ(fx.fe.in_len, 1);
	close(a);
	close(b);
	con_teardown(&fx);
}

/* A client that half-closes (no more input) still gets output. */
static void console_half_close(void)
{
	struct con_fixture fx;
	char buf[16];
	int fd;

	if (!con_setup(&fx, 4096))
		return;
	fd = connect_to(fx.path);
	CHECK(send_all(fd, "x", 1));
	shutdown(fd, SHUT_WR);
	CHECK(wait_attached(&fx, true));
	guest_write(&fx, "still here", 10);
	CHECK(recv_exact(fd, buf, 10));
	CHECK(memcmp(buf, "still here", 10) == 0);
	close(fd);
	con_teardown(&fx);
}

/* At close, the attached client gets the rest, then EOF. */
static void console_close_flushes(void)
{
	struct con_fixture fx;
	char buf[64];
	int fd;

	if (!con_setup(&fx, 4096))
		return;
	fd = connect_to(fx.path);
	CHECK(wait_attached(&fx, true));
	lt_join(&fx.lt); /* the loop stops: nothing sent from here on */
	guest_write(&fx, "last words", 10);
	chardev_attach(&fx.con.chr, NULL, NULL);
	socket_chardev_close(&fx.con);
	CHECK_EQ(recv_all(fd, buf, sizeof(buf)), 10);
	CHECK(memcmp(buf, "last words", 10) == 0);
	CHECK(access(fx.path, F_OK) != 0);
	close(fd);
	lt_fini(&fx.lt);
	pthread_mutex_destroy(&fx.fe.lock);
}

static void console_bad_setup(void)
{
	struct socket_chardev con;
	struct loop loop;
	char err[256], path[256];

	CHECK_EQ(loop_init(&loop), 0);
	tmp_path("bad.sock", path, sizeof(path));
	CHECK_EQ(socket_chardev_open(&con, &loop, path, 100, err, sizeof(err)),
		 -EINVAL);
	CHECK(strstr(err, "--console-history") != NULL);
	CHECK_EQ(socket_chardev_open(&con, &loop, "/nonexistent-dir/c", 4096,
				     err, sizeof(err)),
		 -ENOENT);
	CHECK(strstr(err, "--console-socket") != NULL);
	loop_destroy(&loop);
}

/* ---- command line -------------------------------------------------------- */

static int parse(struct cli *cli, char *err, size_t errlen, ...)
{
	char *argv[16];
	va_list ap;
	int argc = 0;

	va_start(ap, errlen);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	return cli_parse(argc, argv, cli, err, errlen);
}

static void cli_options(void)
{
	struct cli cli;
	char err[256];

	CHECK_EQ(parse(&cli, err, sizeof(err), "mica", "run", "--kernel", "k",
		       NULL),
		 0);
	CHECK(cli.api_socket == NULL);
	CHECK(cli.console_socket == NULL);
	CHECK_EQ(cli.console_history, 64 << 10);
	CHECK_EQ(parse(&cli, err, sizeof(err), "mica", "run", "--kernel", "k",
		       "--api-socket", "/run/a.sock", "--console-socket",
		       "/run/c.sock", "--console-history", "1M", NULL),
		 0);
	CHECK_STR(cli.api_socket, "/run/a.sock");
	CHECK_STR(cli.console_socket, "/run/c.sock");
	CHECK_EQ(cli.console_history, 1 << 20);
	CHECK_EQ(parse(&cli, err, sizeof(err), "mica", "run", "--kernel", "k",
		       "--console-socket=c", "--console-history=4K", NULL),
		 0);
	CHECK_EQ(cli.console_history, 4096);
	CHECK_EQ(parse(&cli, err, sizeof(err), "mica", "run", "--kernel", "k",
		       "--console-socket", "c", "--console-history", "16M",
		       NULL),
		 0);

	CHECK_EQ(parse(&cli, err, sizeof(err), "mica", "run", "--kernel", "k",
		       "--console-socket", "c", "--console-history", "2K",
		       NULL),
		 -EINVAL);
	CHECK(strstr(err, "--console-history '2K'") != NULL);
	CHECK_EQ(parse(&cli, err, sizeof(err), "mica", "run", "--kernel", "k",
		       "--console-socket", "c", "--console-history", "17M",
		       NULL),
		 -EINVAL);
	CHECK_EQ(parse(&cli, err, sizeof(err), "mica", "run", "--kernel", "k",
		       "--console-socket", "c", "--console-history", "lots",
		       NULL),
		 -EINVAL);
	CHECK(strstr(err, "not a size") != NULL);
	CHECK_EQ(parse(&cli, err, sizeof(err), "mica", "run", "--kernel", "k",
		       "--console-history", "64K", NULL),
		 -EINVAL);
	CHECK(strstr(err, "--console-socket") != NULL);
	CHECK_EQ(parse(&cli, err, sizeof(err), "mica", "run", "--kernel", "k",
		       "--api-socket", "", NULL),
		 -EINVAL);
	CHECK(strstr(err, "--api-socket: empty") != NULL);
	CHECK_EQ(parse(&cli, err, sizeof(err), "mica", "run", "--kernel", "k",
		       "--api-socket", "s", "--console-socket", "s", NULL),
		 -EINVAL);
	CHECK(strstr(err, "same path") != NULL);
	{
		char longp[120];

		memset(longp, 'x', sizeof(longp) - 1);
		longp[sizeof(longp) - 1] = '\0';
		CHECK_EQ(parse(&cli, err, sizeof(err), "mica", "run",
			       "--kernel", "k", "--console-socket", longp,
			       NULL),
			 -EINVAL);
		CHECK(strstr(err, "too long") != NULL);
	}
	CHECK_EQ(parse(&cli, err, sizeof(err), "mica", "run", "--kernel", "k",
		       "--api-socket", NULL),
		 -EINVAL);
	CHECK(strstr(err, "needs a value") != NULL);
}

TEST_SUITE(control, TEST_CASE(api_get_vm_shape),
	   TEST_CASE(api_unknown_path_and_method),
	   TEST_CASE(api_pause_resume_conflicts), TEST_CASE(api_bad_bodies),
	   TEST_CASE(api_patch_state), TEST_CASE(api_actions),
	   TEST_CASE(api_stats_shape), TEST_CASE(api_vm_errors),
	   TEST_CASE(http_basic), TEST_CASE(http_keepalive_and_garbage),
	   TEST_CASE(http_body_too_large), TEST_CASE(http_stop_reply_drained),
	   TEST_CASE(http_many_connections), TEST_CASE(listen_paths),
	   TEST_CASE(console_history_wraps),
	   TEST_CASE(console_replay_then_live),
	   TEST_CASE(console_detached_output_kept),
	   TEST_CASE(console_attached_lossless),
	   TEST_CASE(console_detach_releases_guest),
	   TEST_CASE(console_input_flow_control),
	   TEST_CASE(console_input_waits_for_device),
	   TEST_CASE(console_takeover), TEST_CASE(console_half_close),
	   TEST_CASE(console_close_flushes), TEST_CASE(console_bad_setup),
	   TEST_CASE(cli_options));
