// SPDX-License-Identifier: MIT
/*
 * Tests of the mica CLI verbs (toolstack/cli_verbs.c), their output
 * (cli_format.c), the micad client (client.c, libcurl loaded for real) and
 * the console relay (cli_console.c), without micad: a fake HTTP server on
 * a thread answers canned replies on a UNIX socket in the run's temporary
 * directory and records what it was asked.
 *
 * Waits are for events with a generous bound that only turns a hang into a
 * failure; nothing is timed.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "toolstack/cli_console.h"
#include "toolstack/cli_format.h"
#include "toolstack/cli_verbs.h"
#include "toolstack/client.h"
#include "unit/test.h"

#define MAX_REPLIES 8
#define WAIT_MS 10000

/* ---- a fake micad ------------------------------------------------------ */

struct fake_req {
	char method[16];
	char path[512];
	char body[8192];
};

struct fake_micad {
	char path[108];
	int lfd;
	pthread_t thread;
	bool running;
	struct {
		int status;
		const char *body;
	} replies[MAX_REPLIES];
	unsigned int nr_replies;
	struct fake_req reqs[MAX_REPLIES];
	unsigned int nr_reqs;
};

/* Reads one request: headers up to the blank line, then Content-Length. */
static bool read_request(int fd, struct fake_req *rq)
{
	char buf[16384];
	size_t len = 0, clen = 0, hdr_len;
	char *end, *cl;

	for (;;) {
		ssize_t n;

		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end)
			break;
		if (len + 1 >= sizeof(buf))
			return false;
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return false;
		len += (size_t)n;
	}
	hdr_len = (size_t)(end - buf) + 4;
	cl = strcasestr(buf, "\r\ncontent-length:");
	if (cl && cl < end)
		clen = strtoul(cl + 17, NULL, 10);
	if (hdr_len + clen >= sizeof(buf))
		return false;
	while (len < hdr_len + clen) {
		ssize_t n = read(fd, buf + len, hdr_len + clen - len);

		if (n <= 0)
			return false;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (sscanf(buf, "%15s %511s", rq->method, rq->path) != 2)
		return false;
	snprintf(rq->body, sizeof(rq->body), "%s", buf + hdr_len);
	return true;
}

static void *fake_thread(void *opaque)
{
	struct fake_micad *f = opaque;

	while (f->nr_reqs < f->nr_replies) {
		int fd = accept(f->lfd, NULL, NULL);
		struct fake_req *rq = &f->reqs[f->nr_reqs];
		char head[256];
		const char *body;
		int n;

		if (fd < 0)
			break; /* shut down by fake_stop() */
		if (!read_request(fd, rq)) {
			close(fd);
			continue;
		}
		body = f->replies[f->nr_reqs].body;
		n = snprintf(head, sizeof(head),
			     "HTTP/1.1 %d X\r\nContent-Type: application/json"
			     "\r\nContent-Length: %zu\r\nConnection: close"
			     "\r\n\r\n",
			     f->replies[f->nr_reqs].status, strlen(body));
		f->nr_reqs++;
		/* The client may hang up first (a reply it refuses). */
		if (send(fd, head, (size_t)n, MSG_NOSIGNAL) == n)
			send(fd, body, strlen(body), MSG_NOSIGNAL);
		close(fd);
	}
	return NULL;
}

static const char *tmp_path(const char *name, char *buf, size_t size)
{
	const char *p = test_tmpfile(name, NULL, 0);

	snprintf(buf, size, "%s", p ? p : "/nonexistent/x");
	unlink(buf);
	return buf;
}

/* Starts a fake micad that gives the replies in order, one per request. */
static void fake_start(struct fake_micad *f, unsigned int nr, ...)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	va_list ap;
	unsigned int i;

	memset(f, 0, sizeof(*f));
	va_start(ap, nr);
	for (i = 0; i < nr && i < MAX_REPLIES; i++) {
		f->replies[i].status = va_arg(ap, int);
		f->replies[i].body = va_arg(ap, const char *);
	}
	va_end(ap);
	f->nr_replies = i;
	tmp_path("micad.sock", f->path, sizeof(f->path));
	memcpy(addr.sun_path, f->path, strlen(f->path) + 1);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->lfd < 0 ||
	    bind(f->lfd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(f->lfd, 8)) {
		test_fail(__FILE__, __LINE__, "fake micad: %s",
			  strerror(errno));
		return;
	}
	f->running = !pthread_create(&f->thread, NULL, fake_thread, f);
}

static void fake_stop(struct fake_micad *f)
{
	if (f->lfd >= 0)
		shutdown(f->lfd, SHUT_RDWR); /* wakes accept() */
	if (f->running)
		pthread_join(f->thread, NULL);
	if (f->lfd >= 0)
		close(f->lfd);
	unlink(f->path);
	f->lfd = -1;
	f->running = false;
}

/* ---- running a command line -------------------------------------------- */

struct run {
	int rc;
	char *out, *err;
	size_t out_len, err_len;
};

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* Runs "mica ARGS..." (NULL-terminated) against socket (or none). */
static struct run run_cli(const char *socket, ...)
{
	char *argv[32];
	struct run r = { 0 };
	FILE *out = open_memstream(&r.out, &r.out_len);
	FILE *err = open_memstream(&r.err, &r.err_len);
	va_list ap;
	int argc = 0;
	const char *a;

	argv[argc++] = (char *)"mica";
	if (socket) {
		argv[argc++] = (char *)"--socket";
		argv[argc++] = (char *)socket;
	}
	va_start(ap, socket);
	while ((a = va_arg(ap, const char *)) && argc < 31)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	r.rc = cli_verbs_run(argc, argv, out, err);
	fclose(out);
	fclose(err);
	return r;
}

#define CHECK_HAS(hay, needle)                                                \
	do {                                                                  \
		const char *h_ = (hay), *n_ = (needle);                       \
		if (!h_ || !strstr(h_, n_))                                   \
			test_fail(__FILE__, __LINE__, "\"%s\" not in \"%s\"", \
				  n_, h_ ? h_ : "");                          \
	} while (0)

static const char domains_reply[] =
	"{\"domains\":[{\"name\":\"web1\",\"uuid\":\"6f3c2a1e-5b7d-4e2f-"
	"9a10-3c4d5e6f7a8b\",\"state\":\"running\",\"pid\":4242,\"vcpus\":2,"
	"\"memory_mib\":1024,\"autostart\":false,\"created\":"
	"\"2024-05-01T12:00:00Z\",\"started\":\"2024-05-01T12:00:00Z\","
	"\"console_socket\":\"/run/mica/web1.console\"},"
	"{\"name\":\"db\",\"state\":\"shutoff\",\"pid\":null,\"vcpus\":1,"
	"\"memory_mib\":256}]}";

/* ---- argument parsing --------------------------------------------------- */

static void test_unknown_verb(void)
{
	struct run r = run_cli(NULL, "frobnicate", NULL);

	CHECK_EQ(r.rc, 1);
	CHECK_HAS(r.err, "unknown command 'frobnicate'");
	run_free(&r);
	r = run_cli("/nonexistent.sock", NULL);
	CHECK_EQ(r.rc, 1);
	CHECK_HAS(r.err, "which command?");
	run_free(&r);
}

static void test_handles(void)
{
	char *list[] = { (char *)"mica", (char *)"list", NULL };
	char *run[] = { (char *)"mica", (char *)"run", (char *)"--kernel",
			(char *)"x", NULL };
	char *sock[] = { (char *)"mica", (char *)"--socket", (char *)"S",
			 (char *)"list", NULL };
	char *help[] = { (char *)"mica", (char *)"--help", NULL };
	char *none[] = { (char *)"mica", NULL };

	CHECK(cli_verbs_handles(2, list));
	CHECK(!cli_verbs_handles(4, run));
	CHECK(cli_verbs_handles(4, sock));
	CHECK(!cli_verbs_handles(2, help));
	CHECK(!cli_verbs_handles(1, none));
}

static void test_missing_domain(void)
{
	static const char *const verbs[] = { "info",	"console",  "pause",
					     "unpause", "shutdown", "reboot",
					     "destroy" };
	unsigned int i;
	struct run r;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		char want[64];

		r = run_cli(NULL, verbs[i], NULL);
		CHECK_EQ(r.rc, 1);
		snprintf(want, sizeof(want), "mica %s: which domain?",
			 verbs[i]);
		CHECK_HAS(r.err, want);
		CHECK_EQ(r.out_len, 0);
		run_free(&r);
	}
	r = run_cli(NULL, "create", NULL);
	CHECK_EQ(r.rc, 1);
	CHECK_HAS(r.err, "mica create: which config file?");
	run_free(&r);
}

static void test_bad_flags(void)
{
	struct run r;

	r = run_cli(NULL, "list", "--bogus", NULL);
	CHECK_EQ(r.rc, 1);
	CHECK_HAS(r.err, "mica list: unknown option '--bogus'");
	CHECK_HAS(r.err, "usage: mica list [--json]");
	run_free(&r);

	r = run_cli(NULL, "info", "web1", "--json=yes", NULL);
	CHECK_EQ(r.rc, 1);
	CHECK_HAS(r.err, "option '--json' takes no value");
	run_free(&r);

	r = run_cli(NULL, "shutdown", "web1", "--timeout", NULL);
	CHECK_EQ(r.rc, 1);
	CHECK_HAS(r.err, "option '--timeout' needs a value");
	run_free(&r);

	r = run_cli("/nonexistent.sock", "shutdown", "web1", "--timeout", "0",
		    NULL);
	CHECK_EQ(r.rc, 1);
	CHECK_HAS(r.err, "--timeout '0': not a whole number of seconds");
	run_free(&r);

	r = run_cli("/nonexistent.sock", "top", "--interval", "0", NULL);
	CHECK_EQ(r.rc, 1);
	CHECK_HAS(r.err, "--interval '0'");
	run_free(&r);

	r = run_cli(NULL, "pause", "a", "b", NULL);
	CHECK_EQ(r.rc, 1);
	CHECK_HAS(r.err, "mica pause: unexpected argument 'b'");
	run_free(&r);

	r = run_cli(NULL, "create", "-cx", "f.cfg", NULL);
	CHECK_EQ(r.rc, 1);
	CHECK_HAS(r.err, "unknown option '-cx'");
	run_free(&r);

	r = run_cli(NULL, "top", "-q", NULL);
	CHECK_EQ(r.rc, 1);
	CHECK_HAS(r.err, "mica top: unknown option '-q'");
	run_free(&r);
}

static void test_help(void)
{
	struct run r = run_cli(NULL, "shutdown", "--help", NULL);

	CHECK_EQ(r.rc, 0);
	CHECK_HAS(r.out, "Usage: mica shutdown DOMAIN [--timeout S] [--wait]");
	CHECK_HAS(r.out, "--socket PATH");
	run_free(&r);
	CHECK_HAS(cli_verbs_usage, "mica top");
}

/* ---- formatting ---------------------------------------------------------- */

static char *capture(void (*fn)(FILE *, const json_t *, time_t),
		     const char *json, time_t now)
{
	json_t *j = json_loads(json, 0, NULL);
	char *buf = NULL;
	size_t len;
	FILE *f = open_memstream(&buf, &len);

	CHECK(j != NULL);
	fn(f, j, now);
	fclose(f);
	json_decref(j);
	return buf;
}

static void test_format_list(void)
{
	/* 2024-05-01T12:00:00Z + 90 s */
	char *s = capture(cli_format_list, domains_reply, 1714564890);
	char *line2, *line3;

	CHECK(!strncmp(s, "Name      ID    Mem VCPUs State", 31));
	line2 = strchr(s, '\n') + 1;
	CHECK(!strncmp(line2,
		       "web1    4242   1024     2 running              90\n",
		       50));
	line3 = strchr(line2, '\n') + 1;
	CHECK(!strncmp(line3,
		       "db         -    256     1 shutoff               -\n",
		       50));
	free(s);

	/* Hostile or odd fields: control characters, wrong types. */
	s = capture(cli_format_list,
		    "{\"domains\":[{\"name\":\"x\\u001b[2Jy\",\"state\":7,"
		    "\"pid\":-3,\"vcpus\":\"2\"},5]}",
		    0);
	CHECK_HAS(s, "x?[2Jy");
	CHECK(!strchr(s, 0x1b));
	CHECK_HAS(s, "      -      -     - -");
	free(s);

	/* No domains: the header alone. */
	s = capture(cli_format_list, "{\"domains\":[]}", 0);
	CHECK_STR(s, "Name      ID    Mem VCPUs State           Time(s)\n");
	free(s);
}

static void test_format_info(void)
{
	char *s = capture(
		cli_format_info,
		"{\"name\":\"web1\",\"uuid\":\"u-1\",\"state\":\"paused\","
		"\"pid\":7,\"vcpus\":1,\"memory_mib\":128,\"autostart\":true,"
		"\"started\":\"2024-05-01T12:00:00+02:00\","
		"\"console_socket\":\"/run/mica/web1.console\","
		"\"config\":{\"kernel\":\"/boot/vmlinuz\",\"disk\":[\"a\",\"b\"],"
		"\"vif\":[],\"on_crash\":\"preserve\",\"memory\":128},"
		"\"events\":[{\"time\":\"2024-05-01T10:00:00Z\",\"kind\":"
		"\"created\"},{\"time\":\"2024-05-01T10:00:01Z\",\"kind\":"
		"\"paused\",\"detail\":\"by uid 0\"}]}",
		1714557610);

	CHECK_HAS(s, "Name:         web1\n");
	CHECK_HAS(s, "State:        paused\n");
	CHECK_HAS(s, "Uptime:       10 s\n");
	CHECK_HAS(s, "Memory:       128 MiB\n");
	CHECK_HAS(s, "Autostart:    yes\n");
	CHECK_HAS(s, "  kernel      /boot/vmlinuz\n");
	CHECK_HAS(s, "  disk        a\n              b\n");
	CHECK(!strstr(s, "vif"));
	CHECK_HAS(s, "  on_crash    preserve\n");
	CHECK_HAS(s, "Recent events:\n");
	CHECK_HAS(s, "paused               by uid 0\n");
	free(s);
}

static void test_parse_time(void)
{
	json_t *j;

#define T(text, want)                                       \
	do {                                                \
		j = json_string(text);                      \
		CHECK_EQ(cli_format_parse_time(j), (want)); \
		json_decref(j);                             \
	} while (0)
	T("2024-05-01T12:00:00Z", 1714564800LL);
	T("2024-05-01T12:00:00.123456Z", 1714564800LL);
	T("2024-05-01T14:00:00+02:00", 1714564800LL);
	T("2024-05-01T10:00:00-02:00", 1714564800LL);
	T("2024-05-01 12:00:00", -1LL);
	T("2024-13-01T12:00:00Z", -1LL);
	T("2024-05-01T12:00:00Zjunk", -1LL);
	T("", -1LL);
#undef T
	j = json_integer(1714564800);
	CHECK_EQ(cli_format_parse_time(j), 1714564800LL);
	json_decref(j);
	CHECK_EQ(cli_format_parse_time(NULL), -1LL);
}

static void test_top_rates(void)
{
	json_t *d =
		json_loads("{\"name\":\"a\",\"state\":\"running\"}", 0, NULL);
	json_t *s1 = json_loads(
		"{\"cpu_percent\":12.5,\"rss_bytes\":1048576,\"vcpus\":[{"
		"\"exits\":100},{\"exits\":50}],\"disks\":[{\"read_bytes\":"
		"1000,\"write_bytes\":0},{\"read_bytes\":24}],\"nets\":[{"
		"\"rx_bytes\":10,\"tx_bytes\":20}]}",
		0, NULL);
	json_t *s2 = json_loads(
		"{\"cpu_percent\":50,\"rss_bytes\":2097152,\"exits\":350,"
		"\"disks\":[{\"read_bytes\":3048,\"write_bytes\":4096}],"
		"\"nets\":[{\"rx_bytes\":210,\"tx_bytes\":20}]}",
		0, NULL);
	struct cli_top_sample a, b;
	struct cli_top_rates r;
	char *buf = NULL;
	size_t len;
	FILE *f;
	json_t *arr = json_array();

	cli_top_sample_fill(&a, d, s1);
	CHECK_EQ(a.exits, 150);
	CHECK_EQ(a.disk_read, 1024);
	cli_top_sample_fill(&b, d, s2);
	CHECK_EQ(b.exits, 350);
	cli_top_rates(&a, &b, 2.0, &r);
	CHECK(r.valid);
	CHECK_EQ((long)r.exits, 100);
	CHECK_EQ((long)r.disk_read, 1012);
	CHECK_EQ((long)r.disk_write, 2048);
	CHECK_EQ((long)r.net_rx, 100);
	CHECK_EQ((long)r.net_tx, 0);
	/* Counters that went backwards (a reboot): no rates. */
	cli_top_rates(&b, &a, 2.0, &r);
	CHECK(!r.valid);

	f = open_memstream(&buf, &len);
	cli_format_top_header(f);
	cli_top_rates(&a, &b, 2.0, &r);
	cli_format_top_row(f, &b, &r);
	cli_top_sample_fill(&a, d, NULL);
	cli_format_top_row(f, &a, NULL);
	fclose(f);
	CHECK_HAS(buf, "NAME");
	CHECK_HAS(buf, "a                    running         50.0    2.0M "
		       "      100    1012B     2.0K     100B       0B\n");
	CHECK_HAS(buf, "a                    running            -       - "
		       "        -        -        -        -        -\n");
	free(buf);

	CHECK_EQ(cli_format_top_json(arr, &b, &r), 0);
	buf = json_dumps(arr, JSON_COMPACT | JSON_SORT_KEYS);
	CHECK_HAS(buf, "\"exits_per_s\":100.0");
	CHECK_HAS(buf, "\"rss_bytes\":2097152");
	CHECK_HAS(buf, "\"cpu_percent\":50.0");
	free(buf);
	json_decref(arr);
	json_decref(d);
	json_decref(s1);
	json_decref(s2);
}

static void test_format_bytes(void)
{
	char b[16];

	cli_format_bytes(b, sizeof(b), 0);
	CHECK_STR(b, "0B");
	cli_format_bytes(b, sizeof(b), 1536);
	CHECK_STR(b, "1.5K");
	cli_format_bytes(b, sizeof(b), 300.0 * 1024 * 1024);
	CHECK_STR(b, "300M");
	cli_format_bytes(b, sizeof(b), -5);
	CHECK_STR(b, "0B");
}

/* ---- paths -------------------------------------------------------------- */

static void test_absolute_paths(void)
{
	static const char cfgtext[] =
		"name = \"rel\"\nkernel = \"k/vmlinuz\"\n"
		"ramdisk = \"/abs/initrd\"\n"
		"disk = [ \"img/a.img,raw,xvda,rw\", \"/srv/b.img,raw,xvdb,ro\" ]\n";
	const char *path =
		test_tmpfile("rel.cfg", cfgtext, sizeof(cfgtext) - 1);
	struct domain_config cfg;
	char err[256], longcwd[CONFIG_PATH_MAX + 8];

	CHECK_EQ(domcfg_load(path, &cfg, NULL), 0);
	CHECK_EQ(cli_verbs_absolute_paths(&cfg, "/home/u", err, sizeof(err)),
		 0);
	CHECK_STR(cfg.vm.kernel, "/home/u/k/vmlinuz");
	CHECK_STR(cfg.kernel, "/home/u/k/vmlinuz");
	CHECK_STR(cfg.vm.initrd, "/abs/initrd");
	CHECK_STR(cfg.vm.disks[0].path, "/home/u/img/a.img");
	CHECK_STR(cfg.vm.disks[1].path, "/srv/b.img");
	domcfg_free(&cfg);

	CHECK_EQ(domcfg_load(path, &cfg, NULL), 0);
	memset(longcwd, 'a', sizeof(longcwd) - 1);
	longcwd[0] = '/';
	longcwd[sizeof(longcwd) - 1] = '\0';
	CHECK_EQ(cli_verbs_absolute_paths(&cfg, longcwd, err, sizeof(err)),
		 -ENAMETOOLONG);
	CHECK_HAS(err, "kernel 'k/vmlinuz'");
	CHECK_HAS(err, "path too long");
	domcfg_free(&cfg);
}

static void test_escape(void)
{
	char buf[32];

	CHECK_EQ(client_escape("web-1.a_b~", buf, sizeof(buf)), 0);
	CHECK_STR(buf, "web-1.a_b~");
	CHECK_EQ(client_escape("a b/c?%", buf, sizeof(buf)), 0);
	CHECK_STR(buf, "a%20b%2Fc%3F%25");
	CHECK_EQ(client_escape("abcd", buf, 4), -ENAMETOOLONG);
	CHECK_EQ(client_escape("ab/", buf, 5), -ENAMETOOLONG);
}

/* ---- against a fake micad ---------------------------------------------- */

static void test_no_micad(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char path[108], want[256];
	struct run r;
	int fd;

	/* No socket file at all. */
	tmp_path("gone.sock", path, sizeof(path));
	r = run_cli(path, "list", NULL);
	CHECK_EQ(r.rc, 1);
	snprintf(want, sizeof(want),
		 "mica: list: cannot reach micad at %s: No such file or "
		 "directory (is micad running?)\n",
		 path);
	CHECK_STR(r.err, want);
	run_free(&r);

	/* A socket nobody listens on (micad died): refused. */
	tmp_path("dead.sock", path, sizeof(path));
	memcpy(addr.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(fd >= 0 && !bind(fd, (struct sockaddr *)&addr, sizeof(addr)));
	r = run_cli(path, "pause", "web1", NULL);
	CHECK_EQ(r.rc, 1);
	snprintf(want, sizeof(want),
		 "mica: web1: cannot reach micad at %s: Connection refused "
		 "(is micad running?)\n",
		 path);
	CHECK_STR(r.err, want);
	run_free(&r);
	close(fd);
	unlink(path);

	/* MICA_SOCKET is the default when --socket is not given. */
	tmp_path("env.sock", path, sizeof(path));
	setenv("MICA_SOCKET", path, 1);
	r = run_cli(NULL, "list", NULL);
	unsetenv("MICA_SOCKET");
	CHECK_HAS(r.err, path);
	run_free(&r);
}

static void test_list(void)
{
	struct fake_micad f;
	struct run r;
	json_t *j;

	fake_start(&f, 2, 200, domains_reply, 200, domains_reply);
	r = run_cli(f.path, "list", NULL);
	CHECK_EQ(r.rc, 0);
	CHECK_HAS(r.out, "Name      ID    Mem VCPUs State");
	CHECK_HAS(r.out, "web1    4242   1024     2 running");
	CHECK_EQ(r.err_len, 0);
	run_free(&r);

	/* --json: the reply, parseable, sorted keys; --socket after the verb */
	r = run_cli(NULL, "list", "--json", "--socket", f.path, NULL);
	CHECK_EQ(r.rc, 0);
	j = json_loads(r.out, 0, NULL);
	CHECK(j != NULL);
	CHECK_STR(json_string_value(json_object_get(
			  json_array_get(json_object_get(j, "domains"), 0),
			  "name")),
		  "web1");
	json_decref(j);
	CHECK_HAS(r.out, "\"autostart\": false,\n      \"console_socket\"");
	run_free(&r);
	fake_stop(&f);
	CHECK_EQ(f.nr_reqs, 2);
	CHECK_STR(f.reqs[0].method, "GET");
	CHECK_STR(f.reqs[0].path, "/v1/domains");
}

static void test_errors_surface(void)
{
	struct fake_micad f;
	struct run r;

	fake_start(&f, 4, 409,
		   "{\"error\":\"domain 'web1' is already paused\"}", 404,
		   "not json", 500, "{\"error\":\"bad\\u001b[31m\"}", 200,
		   "[1]");
	r = run_cli(f.path, "pause", "web1", NULL);
	CHECK_EQ(r.rc, 1);
	CHECK_STR(r.err, "mica: web1: domain 'web1' is already paused\n");
	CHECK_EQ(r.out_len, 0);
	run_free(&r);
	r = run_cli(f.path, "unpause", "nope", NULL);
	CHECK_EQ(r.rc, 1);
	CHECK_STR(r.err, "mica: nope: micad answered HTTP 404 without an error "
			 "message\n");
	run_free(&r);
	r = run_cli(f.path, "reboot", "x", NULL);
	CHECK_EQ(r.rc, 1);
	CHECK_STR(r.err, "mica: x: bad?[31m\n"); /* no escape to the tty */
	run_free(&r);
	r = run_cli(f.path, "info", "x", NULL);
	CHECK_EQ(r.rc, 1);
	CHECK_HAS(r.err, "mica: x: micad's reply is not a JSON object");
	run_free(&r);
	fake_stop(&f);
	CHECK_STR(f.reqs[0].method, "POST");
	CHECK_STR(f.reqs[0].path, "/v1/domains/web1/pause");
	CHECK_STR(f.reqs[1].path, "/v1/domains/nope/unpause");
	CHECK_STR(f.reqs[2].path, "/v1/domains/x/reboot");
	CHECK_STR(f.reqs[3].method, "GET");
}

static void test_actions(void)
{
	static const char dom[] =
		"{\"name\":\"a b\",\"state\":\"shutting-down\","
		"\"started\":\"2024-05-01T12:00:00Z\"}";
	struct fake_micad f;
	struct run r;

	fake_start(&f, 6, 200, "{\"destroyed\":\"a b\"}", 202, dom, 202, dom,
		   200, dom, 404, "{\"error\":\"no domain 'a b'\"}", 200,
		   "{\"name\":\"a b\",\"state\":\"running\"}");
	r = run_cli(f.path, "destroy", "a b", NULL);
	CHECK_EQ(r.rc, 0);
	CHECK_EQ(r.out_len + r.err_len, 0);
	run_free(&r);
	r = run_cli(f.path, "shutdown", "a b", NULL);
	CHECK_EQ(r.rc, 0);
	run_free(&r);
	/* --wait: shutting-down, then gone (on_poweroff=destroy) */
	r = run_cli(f.path, "shutdown", "--timeout", "5", "--wait", "a b",
		    NULL);
	CHECK_EQ(r.rc, 0);
	CHECK_STR(r.out, "Domain 'a b' shut down.\n");
	run_free(&r);
	r = run_cli(f.path, "info", "a b", "--json", NULL);
	CHECK_EQ(r.rc, 0);
	CHECK_HAS(r.out, "\"state\": \"running\"");
	run_free(&r);
	fake_stop(&f);
	CHECK_STR(f.reqs[0].method, "DELETE");
	CHECK_STR(f.reqs[0].path, "/v1/domains/a%20b");
	CHECK_STR(f.reqs[1].method, "POST");
	CHECK_STR(f.reqs[1].path, "/v1/domains/a%20b/shutdown");
	CHECK_STR(f.reqs[1].body, "{}");
	CHECK_STR(f.reqs[2].body, "{\"timeout_s\":5}");
	CHECK_STR(f.reqs[3].method, "GET");
	CHECK_STR(f.reqs[3].path, "/v1/domains/a%20b");
	CHECK_STR(f.reqs[4].path, "/v1/domains/a%20b");
	CHECK_STR(f.reqs[5].path, "/v1/domains/a%20b");
}

static void test_create(void)
{
	static const char cfgtext[] =
		"name = \"c1\"\nkernel = \"kern\"\nmemory = 64\n"
		"disk = [ \"d.img,raw,xvda,rw\" ]\n";
	char dir[PATH_MAX], old[PATH_MAX], want[PATH_MAX + 64];
	const char *cfg = test_tmpfile("c1.cfg", cfgtext, sizeof(cfgtext) - 1);
	struct fake_micad f;
	json_t *body, *conf;
	struct run r;
	char *slash;

	CHECK(cfg != NULL);
	snprintf(dir, sizeof(dir), "%s", cfg);
	slash = strrchr(dir, '/');
	*slash = '\0';
	test_tmpfile("kern", "k", 1);
	test_tmpfile("d.img", "", 0);
	CHECK(getcwd(old, sizeof(old)) != NULL);
	CHECK_EQ(chdir(dir), 0);

	fake_start(&f, 2, 201,
		   "{\"name\":\"c1\",\"state\":\"running\",\"pid\":99}", 409,
		   "{\"error\":\"a domain named 'c1' already exists\"}");
	r = run_cli(f.path, "create", "c1.cfg", NULL);
	CHECK_EQ(r.rc, 0);
	CHECK_STR(r.out, "Domain 'c1' created (pid 99).\n");
	run_free(&r);
	r = run_cli(f.path, "create", "c1.cfg", NULL);
	CHECK_EQ(r.rc, 1);
	CHECK_HAS(r.err, "mica: c1: a domain named 'c1' already exists\n");
	run_free(&r);
	fake_stop(&f);
	CHECK_STR(f.reqs[0].method, "POST");
	CHECK_STR(f.reqs[0].path, "/v1/domains");
	body = json_loads(f.reqs[0].body, 0, NULL);
	CHECK(json_is_true(json_object_get(body, "start")));
	conf = json_object_get(body, "config");
	snprintf(want, sizeof(want), "%s/kern", dir);
	CHECK_STR(json_string_value(json_object_get(conf, "kernel")), want);
	snprintf(want, sizeof(want), "%s/d.img", dir);
	CHECK_HAS(json_string_value(
			  json_array_get(json_object_get(conf, "disk"), 0)),
		  want);
	CHECK_EQ(json_integer_value(json_object_get(conf, "memory")), 64);
	json_decref(body);

	/* Errors found locally name the file (and line); nothing is sent. */
	test_tmpfile("bad.cfg", "name = \"b\"\nkernel = \"kern\"\nmemroy = 3\n",
		     38);
	r = run_cli("/nonexistent.sock", "create", "bad.cfg", NULL);
	CHECK_EQ(r.rc, 1);
	CHECK_HAS(r.err, "mica: bad.cfg:3: unknown key 'memroy'");
	run_free(&r);
	test_tmpfile("nokern.cfg", "name = \"b\"\nkernel = \"nokern\"\n", 29);
	r = run_cli("/nonexistent.sock", "create", "nokern.cfg", NULL);
	CHECK_EQ(r.rc, 1);
	snprintf(want, sizeof(want),
		 "mica: nokern.cfg: kernel '%s/nokern': No such file", dir);
	CHECK_HAS(r.err, want);
	run_free(&r);
	r = run_cli("/nonexistent.sock", "create", "missing.cfg", NULL);
	CHECK_EQ(r.rc, 1);
	CHECK_HAS(r.err, "missing.cfg");
	CHECK_HAS(r.err, "No such file");
	run_free(&r);
	CHECK_EQ(chdir(old), 0);
}

static void test_reply_too_large(void)
{
	size_t len = CLIENT_REPLY_MAX + 4096;
	char *big = malloc(len + 1);
	struct fake_micad f;
	struct run r;

	CHECK(big != NULL);
	if (!big)
		return;
	memset(big, ' ', len);
	big[len] = '\0';
	fake_start(&f, 1, 200, big);
	r = run_cli(f.path, "list", NULL);
	CHECK_EQ(r.rc, 1);
	CHECK_HAS(r.err, "reply larger than 16 MiB: refused");
	run_free(&r);
	fake_stop(&f);
	free(big);
}

static void test_create_warnings(void)
{
	static const char text[] = "name = \"w\"\nkernel = \"/\"\nvnc = 1\n";
	const char *p = test_tmpfile("w.cfg", text, sizeof(text) - 1);
	char cfg[PATH_MAX];
	struct fake_micad f;
	struct run r;

	snprintf(cfg, sizeof(cfg), "%s", p ? p : "-"); /* p: static storage */

	fake_start(&f, 1, 201, "{\"name\":\"w\",\"pid\":1}");
	r = run_cli(f.path, "create", cfg, NULL);
	CHECK_EQ(r.rc, 0);
	CHECK_HAS(r.err, "mica: warning: ");
	CHECK_HAS(r.err, ":3: 'vnc' is Xen-only");
	CHECK_STR(r.out, "Domain 'w' created (pid 1).\n");
	run_free(&r);
	fake_stop(&f);
}

static void test_top_once(void)
{
	static const char doms[] =
		"{\"domains\":[{\"name\":\"t\",\"state\":\"running\"},"
		"{\"name\":\"off\",\"state\":\"shutoff\"}]}";
	struct fake_micad f;
	struct run r;
	json_t *j, *d;

	fake_start(&f, 4, 200, doms, 200,
		   "{\"cpu_percent\":1.0,\"rss_bytes\":100,\"exits\":10}", 200,
		   doms, 200,
		   "{\"cpu_percent\":3.0,\"rss_bytes\":200,\"exits\":30,"
		   "\"disks\":[{\"read_bytes\":4096}]}");
	r = run_cli(f.path, "top", "--once", "--json", "--interval", "0.1",
		    NULL);
	CHECK_EQ(r.rc, 0);
	j = json_loads(r.out, 0, NULL);
	CHECK(j != NULL);
	CHECK(strchr(r.out, '\n') == r.out + r.out_len - 1); /* one line */
	d = json_array_get(json_object_get(j, "domains"), 0);
	CHECK_STR(json_string_value(json_object_get(d, "name")), "t");
	CHECK_EQ(json_integer_value(json_object_get(d, "exits")), 30);
	CHECK_EQ(json_integer_value(json_object_get(d, "rss_bytes")), 200);
	CHECK(json_is_real(json_object_get(d, "exits_per_s")));
	CHECK(json_real_value(json_object_get(d, "exits_per_s")) > 0);
	CHECK(json_real_value(json_object_get(d, "disk_read_bytes_per_s")) > 0);
	d = json_array_get(json_object_get(j, "domains"), 1);
	CHECK_STR(json_string_value(json_object_get(d, "state")), "shutoff");
	CHECK(json_is_null(json_object_get(d, "exits_per_s")));
	json_decref(j);
	run_free(&r);
	fake_stop(&f);
	CHECK_EQ(f.nr_reqs, 4);
	CHECK_STR(f.reqs[1].path, "/v1/domains/t/stats");
}

/* ---- the console relay -------------------------------------------------- */

static size_t read_avail(int fd, char *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t n = 0;

	while (n + 1 < len && poll(&p, 1, n ? 0 : WAIT_MS) > 0) {
		ssize_t k = read(fd, buf + n, len - 1 - n);

		if (k <= 0)
			break;
		n += (size_t)k;
	}
	buf[n] = '\0';
	return n;
}

static void test_console_relay(void)
{
	static const char input[] = "ls\r\x1dnot sent";
	int sv[2], in[2], out[2];
	char buf[256], err[128];

	CHECK(!socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	CHECK(!pipe(in) && !pipe(out));
	CHECK_EQ(write(sv[1], "login: ", 7), 7);
	CHECK_EQ(write(in[1], input, sizeof(input) - 1),
		 (ssize_t)sizeof(input) - 1);
	/* Ctrl-]: what came before it is sent, then detach. */
	CHECK_EQ(cli_console_relay(in[0], out[1], sv[0], true, 0, err,
				   sizeof(err)),
		 CLI_CONSOLE_DETACHED);
	read_avail(sv[1], buf, sizeof(buf));
	CHECK_STR(buf, "ls\r");
	read_avail(out[0], buf, sizeof(buf));
	CHECK_STR(buf, "login: ");

	/* Not a terminal: Ctrl-] is data; EOF on input detaches. */
	CHECK_EQ(write(in[1], "a\x1d", 2), 2);
	close(in[1]);
	CHECK_EQ(cli_console_relay(in[0], out[1], sv[0], false, 0, err,
				   sizeof(err)),
		 CLI_CONSOLE_INPUT_EOF);
	read_avail(sv[1], buf, sizeof(buf));
	CHECK_STR(buf, "a\x1d");
	close(sv[0]);
	close(in[0]);

	/* The VMM closes the socket: the relay ends with CLOSED. */
	CHECK(!socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	CHECK(!pipe(in));
	CHECK_EQ(write(sv[1], "bye\n", 4), 4);
	close(sv[1]);
	CHECK_EQ(cli_console_relay(in[0], out[1], sv[0], false, 0, err,
				   sizeof(err)),
		 CLI_CONSOLE_CLOSED);
	read_avail(out[0], buf, sizeof(buf));
	CHECK_STR(buf, "bye\n");
	close(sv[0]);
	close(in[0]);
	close(in[1]);
	close(out[0]);
	close(out[1]);
}

static void test_console_connect(void)
{
	char path[108], err[256];

	tmp_path("noconsole.sock", path, sizeof(path));
	CHECK_EQ(cli_console_connect(path, err, sizeof(err)), -ENOENT);
	CHECK_HAS(err, "cannot connect to console socket");
	CHECK_HAS(err, path);
}

TEST_SUITE(cli_verbs, TEST_CASE(test_unknown_verb), TEST_CASE(test_handles),
	   TEST_CASE(test_missing_domain), TEST_CASE(test_bad_flags),
	   TEST_CASE(test_help), TEST_CASE(test_format_list),
	   TEST_CASE(test_format_info), TEST_CASE(test_parse_time),
	   TEST_CASE(test_top_rates), TEST_CASE(test_format_bytes),
	   TEST_CASE(test_absolute_paths), TEST_CASE(test_escape),
	   TEST_CASE(test_no_micad), TEST_CASE(test_list),
	   TEST_CASE(test_errors_surface), TEST_CASE(test_actions),
	   TEST_CASE(test_create), TEST_CASE(test_create_warnings),
	   TEST_CASE(test_reply_too_large), TEST_CASE(test_top_once),
	   TEST_CASE(test_console_relay), TEST_CASE(test_console_connect));
