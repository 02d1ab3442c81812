// SPDX-License-Identifier: MIT
/*
 * The mica CLI verbs (cli_verbs.h, docs/cli.md): argument parsing, one
 * request or a few to micad (client.h), and the output (cli_format.h).
 *
 * Arguments are parsed by a small table-driven parser of our own rather
 * than getopt: it is reentrant (the unit tests run many command lines in
 * one process) and every message names the verb, the option and the
 * reason. Options and the DOMAIN argument may come in any order; "--"
 * ends the options.
 *
 * Every failure prints one line on err, "mica: WHAT: REASON", where WHAT
 * is the domain, the config file or the verb, and REASON is micad's own
 * error text when micad answered with one; the exit status is then 1.
 */
#include "toolstack/cli_verbs.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "toolstack/cli_console.h"
#include "toolstack/cli_format.h"
#include "toolstack/client.h"

#define MAX_POS 4
#define ERR_MAX 1024
#define NAME_ARG_MAX 255 /* a longer DOMAIN argument is refused here */
#define TOP_MAX_DOMAINS 256
#define WAIT_POLL_MS 250
#define WAIT_GRACE_S 10 /* --wait: beyond --timeout, micad's SIGKILL etc. */
#define SHUTDOWN_DEFAULT_TIMEOUT_S 60

const char cli_verbs_usage[] =
	"\n"
	"Domains managed by micad (docs/cli.md; micad must be running):\n"
	"  mica create CONFIG [-c]     create and start a domain from an xl-style\n"
	"                              or JSON config; -c attaches its console\n"
	"  mica list [--json]          the domains and their state\n"
	"  mica info DOMAIN [--json]   a domain's details, config and events\n"
	"  mica console DOMAIN         attach to its console (Ctrl-] detaches)\n"
	"  mica pause DOMAIN           stop its vCPUs\n"
	"  mica unpause DOMAIN         resume them\n"
	"  mica shutdown DOMAIN [--timeout S] [--wait]\n"
	"                              ACPI power button; destroyed after S s\n"
	"  mica reboot DOMAIN          reset it\n"
	"  mica destroy DOMAIN         kill it and remove it\n"
	"  mica top [--once] [--json] [--interval S]\n"
	"                              CPU, memory, exits, disk and net I/O\n"
	"  Every verb takes --socket PATH (default $MICA_SOCKET, else "
	"" CLIENT_DEFAULT_SOCKET ")\n"
	"  and --help.\n";

/* ---- argument parsing ------------------------------------------------ */

struct opt {
	const char *name; /* long name, without "--" */
	char short_name; /* or 0 */
	bool has_arg;
};

enum { OPT_SOCKET, OPT_HELP, OPT_FIRST_OWN };

#define COMMON_OPTS                                                          \
	[OPT_SOCKET] = { .name = "socket", .has_arg = true }, [OPT_HELP] = { \
		.name = "help", .short_name = 'h'                            \
	}

struct ctx {
	FILE *out, *err;
	const char *verb;
	const char *vals[8]; /* per option: its value, "" for a flag */
	const char *pos[MAX_POS];
	int nr_pos;
	struct client client;
};

struct verb {
	const char *name;
	const char *args; /* usage after the verb */
	const char *help;
	const struct opt *opts;
	unsigned int nr_opts;
	int min_pos, max_pos;
	int (*fn)(struct ctx *c);
};

static int fail(struct ctx *c, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct ctx *c, const char *what, const char *fmt, ...)
{
	va_list ap;

	fprintf(c->err, "mica: %s: ", what);
	va_start(ap, fmt);
	vfprintf(c->err, fmt, ap);
	va_end(ap);
	fputc('\n', c->err);
	return 1;
}

static int usage_error(struct ctx *c, const struct verb *v, const char *fmt,
		       ...) __attribute__((format(printf, 3, 4)));

static int usage_error(struct ctx *c, const struct verb *v, const char *fmt,
		       ...)
{
	va_list ap;

	fprintf(c->err, "mica %s: ", v->name);
	va_start(ap, fmt);
	vfprintf(c->err, fmt, ap);
	va_end(ap);
	fprintf(c->err, " (usage: mica %s %s; mica %s --help)\n", v->name,
		v->args, v->name);
	return 1;
}

static int parse_args(struct ctx *c, const struct verb *v, int argc,
		      char **argv)
{
	bool opts_done = false;
	int i;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		unsigned int k, found = v->nr_opts;
		size_t nlen;

		if (opts_done || a[0] != '-' || !a[1]) {
			if (c->nr_pos >= v->max_pos)
				return usage_error(
					c, v, "unexpected argument '%s'", a);
			c->pos[c->nr_pos++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			opts_done = true;
			continue;
		}
		if (a[1] == '-') {
			const char *eq = strchr(a + 2, '=');

			nlen = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
			for (k = 0; k < v->nr_opts; k++)
				if (v->opts[k].name &&
				    strlen(v->opts[k].name) == nlen &&
				    !strncmp(v->opts[k].name, a + 2, nlen))
					found = k;
			if (found == v->nr_opts)
				return usage_error(c, v,
						   "unknown option '%.*s'",
						   (int)nlen + 2, a);
			if (eq && !v->opts[found].has_arg)
				return usage_error(
					c, v, "option '--%s' takes no value",
					v->opts[found].name);
			val = eq ? eq + 1 : NULL;
		} else {
			if (a[2])
				return usage_error(c, v,
						   "unknown option '%s' (one "
						   "letter per option)",
						   a);
			for (k = 0; k < v->nr_opts; k++)
				if (v->opts[k].short_name == a[1])
					found = k;
			if (found == v->nr_opts)
				return usage_error(c, v, "unknown option '%s'",
						   a);
		}
		if (v->opts[found].has_arg && !val) {
			if (i + 1 >= argc)
				return usage_error(
					c, v, "option '--%s' needs a value",
					v->opts[found].name);
			val = argv[++i];
		}
		c->vals[found] = v->opts[found].has_arg ? val : "";
	}
	if (c->vals[OPT_HELP])
		return 0;
	if (c->nr_pos < v->min_pos)
		return usage_error(c, v, "which %s?",
				   !strcmp(v->name, "create") ? "config file" :
								"domain");
	return 0;
}

/* ---- requests -------------------------------------------------------- */

/*
 * One request; on a reply with a 2xx status returns 0 with *r filled.
 * Otherwise prints "mica: WHAT: REASON" and returns 1.
 */
static int call(struct ctx *c, const char *what, const char *method,
		const char *path, const json_t *body, struct client_reply *r)
{
	char err[ERR_MAX];
	int rc;

	rc = client_request(&c->client, method, path, body, r, err,
			    sizeof(err));
	if (rc)
		return fail(c, what, "%s", err);
	if (r->status < 200 || r->status > 299) {
		client_reply_error(r, err, sizeof(err));
		client_reply_free(r);
		return fail(c, what, "%s", err);
	}
	if (!json_is_object(r->json)) {
		client_reply_free(r);
		return fail(c, what, "micad's reply is not a JSON object");
	}
	return 0;
}

/* "/v1/domains/NAME" + suffix, with NAME escaped. */
static int domain_path(struct ctx *c, const char *name, const char *suffix,
		       char *buf, size_t len)
{
	char esc[3 * NAME_ARG_MAX + 1];

	if (!*name || strlen(name) > NAME_ARG_MAX ||
	    client_escape(name, esc, sizeof(esc)))
		return fail(c, c->verb, "bad domain name '%.64s'%s", name,
			    *name ? " (too long)" : " (empty)");
	snprintf(buf, len, "/v1/domains/%s%s", esc, suffix);
	return 0;
}

static int print_json(struct ctx *c, const json_t *j)
{
	if (cli_format_json(c->out, j))
		return fail(c, c->verb, "writing the output failed");
	return 0;
}

/* ---- verbs ----------------------------------------------------------- */

static int verb_list(struct ctx *c)
{
	struct client_reply r;
	int rc;

	if (call(c, "list", "GET", "/v1/domains", NULL, &r))
		return 1;
	if (!json_is_array(json_object_get(r.json, "domains"))) {
		client_reply_free(&r);
		return fail(c, "list", "micad's reply has no 'domains' list");
	}
	if (c->vals[OPT_FIRST_OWN]) {
		rc = print_json(c, r.json);
	} else {
		cli_format_list(c->out, r.json, time(NULL));
		rc = 0;
	}
	client_reply_free(&r);
	return rc;
}

static int verb_info(struct ctx *c)
{
	const char *name = c->pos[0];
	struct client_reply r;
	char path[1024];
	int rc;

	if (domain_path(c, name, "", path, sizeof(path)))
		return 1;
	if (call(c, name, "GET", path, NULL, &r))
		return 1;
	if (c->vals[OPT_FIRST_OWN]) {
		rc = print_json(c, r.json);
	} else {
		cli_format_info(c->out, r.json, time(NULL));
		rc = 0;
	}
	client_reply_free(&r);
	return rc;
}

/* POST /v1/domains/NAME/ACTION: pause, unpause, reboot. */
static int simple_action(struct ctx *c, const char *action)
{
	const char *name = c->pos[0];
	struct client_reply r;
	char path[1024];

	char suffix[32];

	snprintf(suffix, sizeof(suffix), "/%s", action);
	if (domain_path(c, name, suffix, path, sizeof(path)))
		return 1;
	if (call(c, name, "POST", path, NULL, &r))
		return 1;
	client_reply_free(&r);
	return 0;
}

static int verb_pause(struct ctx *c)
{
	return simple_action(c, "pause");
}

static int verb_unpause(struct ctx *c)
{
	return simple_action(c, "unpause");
}

static int verb_reboot(struct ctx *c)
{
	return simple_action(c, "reboot");
}

static int verb_destroy(struct ctx *c)
{
	const char *name = c->pos[0];
	struct client_reply r;
	char path[1024];

	if (domain_path(c, name, "", path, sizeof(path)))
		return 1;
	if (call(c, name, "DELETE", path, NULL, &r))
		return 1;
	client_reply_free(&r);
	return 0;
}

/* The console socket of a domain, from micad; NULL after a message. */
static char *console_socket(struct ctx *c, const char *name)
{
	struct client_reply r;
	char path[1024], *sock = NULL;
	const char *s;

	if (domain_path(c, name, "/console", path, sizeof(path)))
		return NULL;
	if (call(c, name, "GET", path, NULL, &r))
		return NULL;
	s = json_string_value(json_object_get(r.json, "socket"));
	if (!s || !*s)
		fail(c, name, "micad's reply names no console socket");
	else if (!(sock = strdup(s)))
		fail(c, name, "out of memory");
	client_reply_free(&r);
	return sock;
}

static int verb_console(struct ctx *c)
{
	char *sock = console_socket(c, c->pos[0]);
	int rc;

	if (!sock)
		return 1;
	fflush(c->out);
	rc = cli_console_attach(c->pos[0], sock, c->err);
	free(sock);
	return rc;
}

/* A whole number of seconds in [min, max], for --timeout. */
static int parse_seconds(struct ctx *c, const char *opt, const char *s,
			 long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return fail(c, c->verb,
			    "--%s '%s': not a whole number of seconds from "
			    "%ld to %ld",
			    opt, s, min, max);
	*out = v;
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * shutdown --wait: polls until the domain is gone (on_poweroff=destroy),
 * stopped (preserve), or running again from a new start (restart).
 */
static int wait_shutdown(struct ctx *c, const char *name, const char *path,
			 long timeout_s, long long started)
{
	time_t deadline = time(NULL) + timeout_s + WAIT_GRACE_S;
	char err[ERR_MAX];

	for (;;) {
		struct client_reply r;
		const char *state;
		long long now_started;
		int rc;

		rc = client_request(&c->client, "GET", path, NULL, &r, err,
				    sizeof(err));
		if (rc)
			return fail(c, name, "%s", err);
		if (r.status == 404) {
			client_reply_free(&r);
			fprintf(c->out, "Domain '%s' shut down.\n", name);
			return 0;
		}
		if (r.status != 200 || !json_is_object(r.json)) {
			client_reply_error(&r, err, sizeof(err));
			client_reply_free(&r);
			return fail(c, name, "%s", err);
		}
		state = json_string_value(json_object_get(r.json, "state"));
		now_started = cli_format_parse_time(
			json_object_get(r.json, "started"));
		if (state && !strcmp(state, "shutoff")) {
			client_reply_free(&r);
			fprintf(c->out,
				"Domain '%s' shut down (kept: shutoff).\n",
				name);
			return 0;
		}
		if (state && !strcmp(state, "crashed")) {
			client_reply_free(&r);
			return fail(c, name, "crashed while shutting down");
		}
		if (state && strcmp(state, "shutting-down") &&
		    now_started != started) {
			client_reply_free(&r);
			fprintf(c->out,
				"Domain '%s' shut down and was started again "
				"(on_poweroff=restart).\n",
				name);
			return 0;
		}
		client_reply_free(&r);
		if (time(NULL) >= deadline)
			return fail(c, name,
				    "still %s %ld s after the shutdown request",
				    state ? state : "present",
				    timeout_s + WAIT_GRACE_S);
		sleep_ms(WAIT_POLL_MS);
	}
}

enum { SHUT_TIMEOUT = OPT_FIRST_OWN, SHUT_WAIT };

static int verb_shutdown(struct ctx *c)
{
	const char *name = c->pos[0];
	long timeout = SHUTDOWN_DEFAULT_TIMEOUT_S;
	struct client_reply r;
	char path[1024], dpath[1024];
	long long started;
	json_t *body;
	int rc;

	if (c->vals[SHUT_TIMEOUT] &&
	    parse_seconds(c, "timeout", c->vals[SHUT_TIMEOUT], 1, 86400,
			  &timeout))
		return 1;
	if (domain_path(c, name, "/shutdown", path, sizeof(path)) ||
	    domain_path(c, name, "", dpath, sizeof(dpath)))
		return 1;
	body = c->vals[SHUT_TIMEOUT] ?
		       json_pack("{sI}", "timeout_s", (json_int_t)timeout) :
		       json_object();
	if (!body)
		return fail(c, name, "out of memory");
	rc = call(c, name, "POST", path, body, &r);
	json_decref(body);
	if (rc)
		return 1;
	started = cli_format_parse_time(json_object_get(r.json, "started"));
	client_reply_free(&r);
	if (!c->vals[SHUT_WAIT])
		return 0;
	return wait_shutdown(c, name, dpath, timeout, started);
}

int cli_verbs_absolute_paths(struct domain_config *cfg, const char *cwd,
			     char *err, size_t errlen)
{
	char **files[] = { &cfg->kernel, &cfg->ramdisk };
	const char *names[] = { "kernel", "ramdisk" };
	unsigned int i;

	for (i = 0; i < 2; i++) {
		char *p = *files[i], *abs;

		if (!p || !*p || p[0] == '/')
			continue;
		if (asprintf(&abs, "%s/%s", cwd, p) < 0) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		if (strlen(abs) >= CONFIG_PATH_MAX) {
			snprintf(err, errlen,
				 "%s '%s': path too long once made absolute "
				 "(at most %d bytes)",
				 names[i], p, CONFIG_PATH_MAX - 1);
			free(abs);
			return -ENAMETOOLONG;
		}
		free(p);
		*files[i] = abs;
	}
	cfg->vm.kernel = cfg->kernel;
	cfg->vm.initrd = cfg->ramdisk;
	for (i = 0; i < cfg->vm.nr_disks; i++) {
		char *p = cfg->vm.disks[i].path, buf[CONFIG_PATH_MAX];

		if (!*p || p[0] == '/')
			continue;
		if ((size_t)snprintf(buf, sizeof(buf), "%s/%s", cwd, p) >=
		    sizeof(buf)) {
			snprintf(err, errlen,
				 "disk %u '%s': path too long once made "
				 "absolute (at most %d bytes)",
				 i, p, CONFIG_PATH_MAX - 1);
			return -ENAMETOOLONG;
		}
		memcpy(p, buf, strlen(buf) + 1);
	}
	return 0;
}

/* The files a domain needs must exist: say so now, naming the file. */
static int check_files(struct ctx *c, const struct domain_config *cfg,
		       const char *config_path)
{
	struct stat st;
	unsigned int i;

	if (cfg->kernel && stat(cfg->kernel, &st))
		return fail(c, config_path, "kernel '%s': %s", cfg->kernel,
			    strerror(errno));
	if (cfg->ramdisk && stat(cfg->ramdisk, &st))
		return fail(c, config_path, "ramdisk '%s': %s", cfg->ramdisk,
			    strerror(errno));
	for (i = 0; i < cfg->vm.nr_disks; i++)
		if (stat(cfg->vm.disks[i].path, &st))
			return fail(c, config_path, "disk '%s': %s",
				    cfg->vm.disks[i].path, strerror(errno));
	return 0;
}

enum { CREATE_CONSOLE = OPT_FIRST_OWN };

static int verb_create(struct ctx *c)
{
	const char *file = c->pos[0];
	struct domain_config cfg;
	struct domcfg_msgs *msgs;
	struct client_reply r;
	char err[ERR_MAX], cwd[PATH_MAX], pid[32];
	json_t *conf, *body;
	const char *sock;
	unsigned int i;
	int rc;

	msgs = calloc(1, sizeof(*msgs)); /* 16 KiB: not on the stack */
	if (!msgs)
		return fail(c, file, "out of memory");
	rc = domcfg_load(file, &cfg, msgs);
	for (i = 0; i < msgs->nr_warnings; i++)
		fprintf(c->err, "mica: warning: %s\n", msgs->warnings[i]);
	if (msgs->dropped_warnings)
		fprintf(c->err, "mica: warning: %s: %u more warnings\n", file,
			msgs->dropped_warnings);
	if (rc) {
		if (msgs->error[0])
			fprintf(c->err, "mica: %s\n", msgs->error);
		else
			fprintf(c->err, "mica: %s: %s\n", file, strerror(-rc));
		free(msgs);
		return 1;
	}
	free(msgs);
	if (!getcwd(cwd, sizeof(cwd))) {
		rc = fail(c, file, "cannot get the working directory: %s",
			  strerror(errno));
		goto out_cfg;
	}
	if (cli_verbs_absolute_paths(&cfg, cwd, err, sizeof(err))) {
		rc = fail(c, file, "%s", err);
		goto out_cfg;
	}
	rc = check_files(c, &cfg, file);
	if (rc)
		goto out_cfg;
	conf = domcfg_to_json(&cfg);
	body = conf ? json_pack("{sosb}", "config", conf, "start", 1) : NULL;
	if (!body) {
		rc = fail(c, file, "out of memory");
		goto out_cfg;
	}
	rc = call(c, cfg.name, "POST", "/v1/domains", body, &r);
	json_decref(body);
	if (rc)
		goto out_cfg;
	if (json_is_integer(json_object_get(r.json, "pid")))
		snprintf(pid, sizeof(pid), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(json_object_get(r.json, "pid")));
	else
		snprintf(pid, sizeof(pid), "-");
	fprintf(c->out, "Domain '%s' created (pid %s).\n", cfg.name, pid);
	sock = json_string_value(json_object_get(r.json, "console_socket"));
	if (c->vals[CREATE_CONSOLE]) {
		char *s = sock && *sock ? strdup(sock) :
					  console_socket(c, cfg.name);

		client_reply_free(&r);
		if (!s) {
			rc = 1;
			goto out_cfg;
		}
		fflush(c->out);
		rc = cli_console_attach(cfg.name, s, c->err);
		free(s);
		goto out_cfg;
	}
	client_reply_free(&r);
	rc = 0;
out_cfg:
	domcfg_free(&cfg);
	return rc;
}

/* ---- top ------------------------------------------------------------- */

enum { TOP_ONCE = OPT_FIRST_OWN, TOP_JSON, TOP_INTERVAL };

static volatile sig_atomic_t top_signal;

static void on_top_signal(int sig)
{
	top_signal = sig;
}

struct top_state {
	struct cli_top_sample *prev, *cur;
	unsigned int nr_prev, nr_cur;
	struct timespec prev_time;
};

/* Takes one sample of every domain into st->cur. */
static int top_sample(struct ctx *c, struct top_state *st)
{
	struct client_reply r;
	const json_t *d;
	size_t i;

	if (call(c, "top", "GET", "/v1/domains", NULL, &r))
		return 1;
	st->nr_cur = 0;
	json_array_foreach(json_object_get(r.json, "domains"), i, d)
	{
		struct cli_top_sample *s;
		struct client_reply sr = { 0 };
		const char *name, *state;
		char path[1024], esc[3 * NAME_ARG_MAX + 1], err[ERR_MAX];
		bool got = false;

		if (st->nr_cur >= TOP_MAX_DOMAINS)
			break;
		name = json_string_value(json_object_get(d, "name"));
		state = json_string_value(json_object_get(d, "state"));
		if (!name || client_escape(name, esc, sizeof(esc)))
			continue;
		if (state &&
		    (!strcmp(state, "running") || !strcmp(state, "paused") ||
		     !strcmp(state, "shutting-down"))) {
			snprintf(path, sizeof(path), "/v1/domains/%s/stats",
				 esc);
			/* A domain that just went away: no stats, no error. */
			got = !client_request(&c->client, "GET", path, NULL,
					      &sr, err, sizeof(err)) &&
			      sr.status == 200 && json_is_object(sr.json);
		}
		s = &st->cur[st->nr_cur++];
		cli_top_sample_fill(s, d, got ? sr.json : NULL);
		client_reply_free(&sr);
	}
	client_reply_free(&r);
	return 0;
}

static const struct cli_top_sample *top_find(const struct top_state *st,
					     const char *name)
{
	unsigned int i;

	for (i = 0; i < st->nr_prev; i++)
		if (!strcmp(st->prev[i].name, name))
			return &st->prev[i];
	return NULL;
}

static int top_print(struct ctx *c, struct top_state *st, double dt, bool json,
		     bool clear)
{
	struct cli_top_rates rates;
	unsigned int i;

	if (json) {
		char t[32];
		time_t now = time(NULL);
		struct tm tm;
		json_t *line, *arr = json_array();

		gmtime_r(&now, &tm);
		strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm);
		for (i = 0; arr && i < st->nr_cur; i++) {
			cli_top_rates(top_find(st, st->cur[i].name),
				      &st->cur[i], dt, &rates);
			if (cli_format_top_json(arr, &st->cur[i], &rates))
				break;
		}
		line = arr ? json_pack("{ssso}", "time", t, "domains", arr) :
			     NULL;
		if (!line ||
		    json_dumpf(line, c->out,
			       JSON_COMPACT | JSON_REAL_PRECISION(12))) {
			json_decref(line);
			return fail(c, "top", "out of memory");
		}
		json_decref(line);
		fputc('\n', c->out);
	} else {
		if (clear)
			fputs("\033[H\033[2J", c->out);
		cli_format_top_header(c->out);
		for (i = 0; i < st->nr_cur; i++) {
			cli_top_rates(top_find(st, st->cur[i].name),
				      &st->cur[i], dt, &rates);
			cli_format_top_row(c->out, &st->cur[i], &rates);
		}
		if (clear)
			fputs("\n(q quits)\n", c->out);
	}
	fflush(c->out);
	return 0;
}

/*
 * Waits ms, or until a signal or 'q' on the terminal. Returns true to go
 * on. Signals are blocked outside ppoll() so none is missed.
 */
static bool top_wait(long ms, bool keys, const sigset_t *mask)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (ms % 1000) * 1000000 };
	struct pollfd p = { .fd = keys ? STDIN_FILENO : -1, .events = POLLIN };
	struct timespec end, now;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += ts.tv_sec;
	end.tv_nsec += ts.tv_nsec;
	if (end.tv_nsec >= 1000000000) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000;
	}
	for (;;) {
		long long left;
		int rc;

		if (top_signal)
			return false;
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (long long)(end.tv_sec - now.tv_sec) * 1000000000LL +
		       (end.tv_nsec - now.tv_nsec);
		if (left <= 0)
			return true;
		ts = (struct timespec){ .tv_sec = (time_t)(left / 1000000000),
					.tv_nsec = (long)(left % 1000000000) };
		rc = ppoll(&p, 1, &ts, mask);
		if (rc > 0 && (p.revents & POLLIN)) {
			char ch;

			if (read(STDIN_FILENO, &ch, 1) <= 0)
				p.fd = -1; /* EOF: no more keys */
			else if (ch == 'q' || ch == 'Q' || ch == 3)
				return false;
		}
	}
}

static int verb_top(struct ctx *c)
{
	bool once = c->vals[TOP_ONCE], json = c->vals[TOP_JSON];
	bool keys = !once && isatty(STDIN_FILENO);
	bool clear = !json && !once && isatty(fileno(c->out));
	struct sigaction sa = { .sa_handler = on_top_signal }, old_sa[3];
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct top_state st = { 0 };
	struct termios saved, tio;
	sigset_t block, old_mask, wait_mask;
	long interval_ms = 1000;
	unsigned int i, n;
	int rc = 0;

	if (c->vals[TOP_INTERVAL]) {
		char *end;
		double s;

		errno = 0;
		s = strtod(c->vals[TOP_INTERVAL], &end);
		if (errno || end == c->vals[TOP_INTERVAL] || *end ||
		    !(s >= 0.1 && s <= 3600))
			return fail(c, "top",
				    "--interval '%s': not a number of seconds "
				    "from 0.1 to 3600",
				    c->vals[TOP_INTERVAL]);
		interval_ms = (long)(s * 1000);
	}
	st.prev = calloc(TOP_MAX_DOMAINS, sizeof(*st.prev));
	st.cur = calloc(TOP_MAX_DOMAINS, sizeof(*st.cur));
	if (!st.prev || !st.cur) {
		free(st.prev);
		free(st.cur);
		return fail(c, "top", "out of memory");
	}

	sigemptyset(&block);
	for (i = 0; i < 3; i++)
		sigaddset(&block, sigs[i]);
	pthread_sigmask(SIG_BLOCK, &block, &old_mask);
	wait_mask = old_mask;
	for (i = 0; i < 3; i++)
		sigdelset(&wait_mask, sigs[i]);
	sigemptyset(&sa.sa_mask);
	top_signal = 0;
	for (i = 0; i < 3; i++)
		sigaction(sigs[i], &sa, &old_sa[i]);
	if (keys && !tcgetattr(STDIN_FILENO, &saved)) {
		tio = saved;
		tio.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		tio.c_cc[VMIN] = 1;
		tio.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &tio);
	} else {
		keys = false;
	}

	/* --once: two samples an interval apart, so the rates mean something. */
	for (n = 0;; n++) {
		struct timespec now;
		double dt;

		clock_gettime(CLOCK_MONOTONIC, &now);
		rc = top_sample(c, &st);
		if (rc)
			break;
		dt = (double)(now.tv_sec - st.prev_time.tv_sec) +
		     (double)(now.tv_nsec - st.prev_time.tv_nsec) / 1e9;
		if (!n)
			dt = 0;
		if (!once || n) {
			rc = top_print(c, &st, dt, json, clear);
			if (rc || once)
				break;
		}
		memcpy(st.prev, st.cur, st.nr_cur * sizeof(*st.cur));
		st.nr_prev = st.nr_cur;
		st.prev_time = now;
		if (!top_wait(interval_ms, keys, &wait_mask))
			break;
	}

	if (keys)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	for (i = 0; i < 3; i++)
		sigaction(sigs[i], &old_sa[i], NULL);
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	free(st.prev);
	free(st.cur);
	return rc;
}

/* ---- the verb table -------------------------------------------------- */

static const struct opt opts_plain[] = { COMMON_OPTS };
static const struct opt opts_json[] = {
	COMMON_OPTS,
	[OPT_FIRST_OWN] = { .name = "json" },
};
static const struct opt opts_create[] = {
	COMMON_OPTS,
	[CREATE_CONSOLE] = { .name = "console", .short_name = 'c' },
};
static const struct opt opts_shutdown[] = {
	COMMON_OPTS,
	[SHUT_TIMEOUT] = { .name = "timeout", .has_arg = true },
	[SHUT_WAIT] = { .name = "wait", .short_name = 'w' },
};
static const struct opt opts_top[] = {
	COMMON_OPTS,
	[TOP_ONCE] = { .name = "once" },
	[TOP_JSON] = { .name = "json" },
	[TOP_INTERVAL] = { .name = "interval",
			   .short_name = 'd',
			   .has_arg = true },
};

#define OPTS(o) .opts = o, .nr_opts = sizeof(o) / sizeof(o[0])

static const struct verb verbs[] = {
	{ .name = "create",
	  .args = "CONFIG [-c]",
	  .help = "Creates a domain from CONFIG (xl.cfg syntax or JSON; see\n"
		  "docs/config.md) and starts it. The file is checked\n"
		  "here first: errors name the file and line. Relative kernel,\n"
		  "ramdisk and disk paths are taken from this directory.\n"
		  "  -c, --console   attach to the console once started\n",
	  OPTS(opts_create),
	  .min_pos = 1,
	  .max_pos = 1,
	  .fn = verb_create },
	{ .name = "list",
	  .args = "[--json]",
	  .help = "Lists the domains: name, ID (the VMM's pid), memory (MiB),\n"
		  "vCPUs, state and time since started (s).\n"
		  "  --json          micad's JSON: {\"domains\":[...]}\n",
	  OPTS(opts_json),
	  .fn = verb_list },
	{ .name = "info",
	  .args = "DOMAIN [--json]",
	  .help = "Shows a domain's details, configuration and recent events.\n"
		  "  --json          micad's JSON for the domain\n",
	  OPTS(opts_json),
	  .min_pos = 1,
	  .max_pos = 1,
	  .fn = verb_info },
	{ .name = "console",
	  .args = "DOMAIN",
	  .help = "Attaches to a domain's console. On a terminal Ctrl-]\n"
		  "detaches; with stdin not a terminal, EOF on it detaches.\n"
		  "The domain keeps running.\n",
	  OPTS(opts_plain),
	  .min_pos = 1,
	  .max_pos = 1,
	  .fn = verb_console },
	{ .name = "pause",
	  .args = "DOMAIN",
	  .help = "Pauses a domain: its vCPUs stop until unpaused.\n",
	  OPTS(opts_plain),
	  .min_pos = 1,
	  .max_pos = 1,
	  .fn = verb_pause },
	{ .name = "unpause",
	  .args = "DOMAIN",
	  .help = "Resumes a paused domain.\n",
	  OPTS(opts_plain),
	  .min_pos = 1,
	  .max_pos = 1,
	  .fn = verb_unpause },
	{ .name = "shutdown",
	  .args = "DOMAIN [--timeout S] [--wait]",
	  .help = "Presses the domain's ACPI power button. If the guest has\n"
		  "not powered off after S seconds (default 60), micad\n"
		  "destroys it.\n"
		  "  --timeout S     seconds, 1 to 86400\n"
		  "  -w, --wait      wait until the domain is gone or shut off\n",
	  OPTS(opts_shutdown),
	  .min_pos = 1,
	  .max_pos = 1,
	  .fn = verb_shutdown },
	{ .name = "reboot",
	  .args = "DOMAIN",
	  .help = "Resets the domain; its on_reboot action applies.\n",
	  OPTS(opts_plain),
	  .min_pos = 1,
	  .max_pos = 1,
	  .fn = verb_reboot },
	{ .name = "destroy",
	  .args = "DOMAIN",
	  .help = "Kills the domain's VMM at once and removes the domain.\n",
	  OPTS(opts_plain),
	  .min_pos = 1,
	  .max_pos = 1,
	  .fn = verb_destroy },
	{ .name = "top",
	  .args = "[--once] [--json] [--interval S]",
	  .help = "Shows every domain's CPU %, memory, vCPU exits/s and disk\n"
		  "and network bytes/s, refreshed every S seconds (default 1).\n"
		  "q or Ctrl-C quits.\n"
		  "  --once          print one sample (taken over one interval)\n"
		  "  --json          one JSON object per sample and line\n"
		  "  -d, --interval S  seconds between samples, 0.1 to 3600\n",
	  OPTS(opts_top),
	  .fn = verb_top },
};

static const struct verb *find_verb(const char *name)
{
	unsigned int i;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(verbs[i].name, name))
			return &verbs[i];
	return NULL;
}

bool cli_verbs_handles(int argc, char **argv)
{
	if (argc < 2)
		return false;
	if (!strcmp(argv[1], "--socket") || !strncmp(argv[1], "--socket=", 9))
		return true;
	return find_verb(argv[1]) != NULL;
}

int cli_verbs_run(int argc, char **argv, FILE *out, FILE *err)
{
	struct ctx c = { .out = out, .err = err };
	const char *socket = NULL;
	const struct verb *v;
	char msg[ERR_MAX];
	int i = 1, rc;

	/* "mica --socket PATH VERB ...": the global form. */
	if (i < argc && !strncmp(argv[i], "--socket=", 9)) {
		socket = argv[i] + 9;
		i++;
	} else if (i < argc && !strcmp(argv[i], "--socket")) {
		if (i + 1 >= argc) {
			fprintf(err, "mica: option '--socket' needs a value\n");
			return 1;
		}
		socket = argv[i + 1];
		i += 2;
	}
	if (i >= argc) {
		fprintf(err, "mica: which command? (mica --help lists them)\n");
		return 1;
	}
	v = find_verb(argv[i]);
	if (!v) {
		fprintf(err,
			"mica: unknown command '%s' (commands: run, create, "
			"list, info, console, pause, unpause, shutdown, "
			"reboot, destroy, top; mica --help)\n",
			argv[i]);
		return 1;
	}
	c.verb = v->name;
	if (parse_args(&c, v, argc - i - 1, argv + i + 1))
		return 1;
	if (c.vals[OPT_HELP]) {
		fprintf(out, "Usage: mica %s %s\n\n%s", v->name, v->args,
			v->help);
		fprintf(out, "  --socket PATH   micad's socket (default "
			     "$MICA_SOCKET, else " CLIENT_DEFAULT_SOCKET ")\n");
		return 0;
	}
	if (c.vals[OPT_SOCKET])
		socket = c.vals[OPT_SOCKET];
	if (client_init(&c.client, client_socket_path(socket), msg,
			sizeof(msg))) {
		fprintf(err, "mica: %s\n", msg);
		return 1;
	}
	/* A closed pipe (mica list | head) ends us quietly, not by SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	rc = v->fn(&c);
	if (fflush(out) && !rc) {
		fprintf(err, "mica: %s: writing the output: %s\n", v->name,
			strerror(errno));
		rc = 1;
	}
	return rc;
}
