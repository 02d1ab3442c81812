// SPDX-License-Identifier: MIT
/*
 * micad's supervisor (see micad_sup.h): one `mica run` per domain, watched
 * through a pidfd, controlled through its API socket, its lifecycle
 * recorded in the state store.
 *
 * Untrusted here: API requests (already validated by micad_api.c and
 * domcfg), and what comes back from a VMM (its API replies, its status
 * file): a VMM runs a guest and is treated as possibly compromised, so its
 * replies are size-capped, parsed defensively and never trusted for more
 * than the numbers they report.
 *
 * Calls to a VMM block micad's loop for at most MICAD_VMM_TIMEOUT_MS; a
 * start waits up to MICAD_START_WAIT_MS for the new VMM's API socket; a
 * destroy waits up to MICAD_KILL_GRACE_MS (+2 s after SIGKILL). These are
 * bounded, and keep every state change on the one thread.
 */
#include "toolstack/micad_sup.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

#define MICAD_TICK_MS 250
#define VMM_REPLY_MAX (256u << 10)
#define ARGV_MAX 96
#define MSG_MAX 1024

enum exit_kind { EXIT_POWEROFF, EXIT_REBOOT, EXIT_CRASH };

struct micad_dom {
	struct micad_dom *next;
	struct micad_sup *sup;
	struct micad_dom_row row;
	struct domain_config cfg;
	struct micad_watch pid_w; /* the VMM's pidfd, or fd -1 */
	bool child; /* started by this micad: waitpid() works */
	bool reaped; /* ended while starting: reaped_status is its status */
	int reaped_status;
	int64_t restart_at_ms; /* state "starting": restart due then */
	int64_t restarts[MICAD_RESTART_MAX]; /* times of the last restarts */
	unsigned int restart_pos;
	uint64_t cpu_last_ns; /* GET stats: the previous sample */
	int64_t cpu_last_ms;
};

/* ---- small helpers ---- */

static int sys_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int sys_pidfd_signal(int fd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
}

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* RUN/NAME.ext; false if it does not fit a UNIX socket address. */
static bool dom_path(const struct micad_dom *d, const char *ext, char *buf,
		     size_t len)
{
	int n = snprintf(buf, len, "%s/%s.%s", d->sup->opts.run_dir,
			 d->row.name, ext);

	return n > 0 && (size_t)n < len && n <= 107;
}

static bool is_live(const struct micad_dom *d)
{
	return d->pid_w.fd >= 0;
}

/* Fields of /proc/PID/stat: start time and CPU time (clock ticks). */
static int proc_stat(long pid, uint64_t *start, uint64_t *cpu)
{
	char path[64], buf[1024];
	unsigned long long v[23] = { 0 };
	const char *p;
	unsigned int field;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	/* The command name may hold spaces and ')': the last ')' ends it. */
	p = strrchr(buf, ')');
	if (!p)
		return -EIO;
	p++;
	/*
	 * A zombie (dead, not yet reaped: its parent is gone and the init of
	 * this container may never reap it) is no VMM.
	 */
	if (p[0] == ' ' && (p[1] == 'Z' || p[1] == 'X'))
		return -ESRCH;
	for (field = 3; field <= 22; field++) {
		while (*p == ' ')
			p++;
		if (!*p)
			return -EIO;
		if (field != 3)
			v[field] = strtoull(p, NULL, 10);
		while (*p && *p != ' ')
			p++;
	}
	if (start)
		*start = v[22];
	if (cpu)
		*cpu = v[14] + v[15];
	return 0;
}

static uint64_t ticks_to_ns(uint64_t ticks)
{
	long hz = sysconf(_SC_CLK_TCK);

	return ticks * (1000000000ull / (uint64_t)(hz > 0 ? hz : 100));
}

/* ---- a VMM's control API (docs/api-vmm.md) ---- */

/*
 * One request with an empty body over the VMM's API socket. Returns 0 with
 * the HTTP status and the parsed body (may be NULL), or -errno.
 */
static int vmm_call(const char *sock, const char *method, const char *path,
		    unsigned int *status, json_t **out)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct timeval tv = {
		.tv_sec = MICAD_VMM_TIMEOUT_MS / 1000,
		.tv_usec = (MICAD_VMM_TIMEOUT_MS % 1000) * 1000,
	};
	char req[256], *buf = NULL, *body;
	size_t len = 0;
	int fd, rc, n;

	*out = NULL;
	if (strlen(sock) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		rc = -errno;
		goto out;
	}
	n = snprintf(req, sizeof(req),
		     "%s %s HTTP/1.1\r\nHost: mica\r\nContent-Length: 0\r\n"
		     "Connection: close\r\n\r\n",
		     method, path);
	if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		rc = -EIO;
		goto out;
	}
	buf = malloc(VMM_REPLY_MAX + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t r = recv(fd, buf + len, VMM_REPLY_MAX - len, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = errno == EAGAIN ? -ETIMEDOUT : -errno;
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len == VMM_REPLY_MAX) {
			rc = -EFBIG;
			goto out;
		}
	}
	buf[len] = '\0';
	if (len < 12 || strncmp(buf, "HTTP/1.", 7) || !isdigit(buf[9])) {
		rc = -EPROTO;
		goto out;
	}
	*status = (unsigned int)strtoul(buf + 9, NULL, 10);
	body = strstr(buf, "\r\n\r\n");
	if (body && body[4])
		*out = json_loads(body + 4, 0, NULL);
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

/* The VMM's error message from a reply, or a generic one. */
static const char *vmm_error(json_t *reply)
{
	const char *m = json_string_value(json_object_get(reply, "error"));

	return m ? m : "no reason given";
}

/* ---- persistence ---- */

static void persist(struct micad_dom *d)
{
	int rc = micad_db_update(d->sup->db, &d->row);

	if (rc)
		log_err("domain '%s': saving its state: %s", d->row.name,
			strerror(-rc));
}

static void event(struct micad_dom *d, const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void event(struct micad_dom *d, const char *kind, const char *fmt, ...)
{
	char detail[MICAD_DETAIL_MAX];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	log_info("domain '%s': %s%s%s", d->row.name, kind, *detail ? ": " : "",
		 detail);
	rc = micad_db_event(d->sup->db, d->row.name, 0, kind, detail);
	if (rc)
		log_err("domain '%s': recording event '%s': %s", d->row.name,
			kind, strerror(-rc));
}

static void set_state(struct micad_dom *d, const char *state)
{
	snprintf(d->row.state, sizeof(d->row.state), "%s", state);
}

static bool state_is(const struct micad_dom *d, const char *state)
{
	return !strcmp(d->row.state, state);
}

/* ---- the domain list ---- */

static struct micad_dom *find(struct micad_sup *sup, const char *name)
{
	struct micad_dom *d;

	for (d = sup->doms; d; d = d->next)
		if (!strcmp(d->row.name, name))
			return d;
	return NULL;
}

static void link_dom(struct micad_sup *sup, struct micad_dom *d)
{
	struct micad_dom **pp = &sup->doms;

	while (*pp && strcmp((*pp)->row.name, d->row.name) < 0)
		pp = &(*pp)->next;
	d->next = *pp;
	*pp = d;
}

static void unwatch(struct micad_dom *d)
{
	if (d->pid_w.fd < 0)
		return;
	micad_watch_del(d->sup->loop, &d->pid_w);
	close(d->pid_w.fd);
	d->pid_w.fd = -1;
}

static void free_dom(struct micad_dom *d)
{
	unwatch(d);
	micad_dom_row_free(&d->row);
	domcfg_free(&d->cfg);
	free(d);
}

/* Takes d off the list and out of the database; its events stay. */
static void remove_dom(struct micad_dom *d, const char *detail)
{
	struct micad_sup *sup = d->sup;
	struct micad_dom **pp;
	int rc;

	for (pp = &sup->doms; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	}
	rc = micad_db_delete(sup->db, d->row.name);
	if (rc && rc != -ENOENT)
		log_err("domain '%s': removing it from the database: %s",
			d->row.name, strerror(-rc));
	event(d, "destroyed", "%s", detail);
	free_dom(d);
}

/* ---- starting a VMM ---- */

struct argv_buf {
	char *v[ARGV_MAX + 1];
	unsigned int n;
	bool oom;
};

static void arg(struct argv_buf *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void arg(struct argv_buf *a, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (a->n >= ARGV_MAX) {
		a->oom = true;
		return;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0) {
		s = NULL;
		a->oom = true;
	}
	va_end(ap);
	a->v[a->n++] = s;
}

static void argv_free(struct argv_buf *a)
{
	unsigned int i;

	for (i = 0; i < a->n; i++)
		free(a->v[i]);
	a->n = 0;
}

static void fmt_addr(char *buf, size_t len, uint32_t addr)
{
	struct in_addr in = { .s_addr = addr };

	if (!addr || !inet_ntop(AF_INET, &in, buf, (socklen_t)len))
		buf[0] = '\0';
}

static const char *cache_name(enum disk_cache c)
{
	switch (c) {
	case DISK_CACHE_NONE:
		return "none";
	case DISK_CACHE_UNSAFE:
		return "unsafe";
	case DISK_CACHE_WRITEBACK:
		break;
	}
	return "writeback";
}

/*
 * The `mica run` command line of a domain. Returns 0, or -EINVAL when the
 * configuration cannot be said on that command line (a ',' in a path).
 */
static int build_argv(const struct micad_dom *d, struct argv_buf *a, char *err,
		      size_t errlen)
{
	const struct vm_config *vm = &d->cfg.vm;
	const char *name = d->row.name;
	char path[128];
	unsigned int i, j;

	memset(a, 0, sizeof(*a));
	arg(a, "%s", d->sup->opts.mica);
	arg(a, "run");
	arg(a, "--kernel=%s", vm->kernel);
	if (vm->initrd)
		arg(a, "--initrd=%s", vm->initrd);
	arg(a, "--cmdline=%s", vm->cmdline ? vm->cmdline : "");
	arg(a, "--cpus=%u", vm->cpus);
	arg(a, "--memory=%lluM", (unsigned long long)(vm->memory >> 20));
	arg(a, "--on-reboot=exit");
	arg(a, "--console=%s",
	    vm->console == CONSOLE_VIRTIO ? "virtio" : "serial");
	if (vm->rng_rate)
		arg(a, "--rng=rate=%llu", (unsigned long long)vm->rng_rate);
	if (vm->nr_vcpu_affinity) {
		char list[CONFIG_MAX_CPUS * 6] = "";
		size_t n = 0;

		for (i = 0; i < vm->nr_vcpu_affinity && n < sizeof(list); i++)
			n += (size_t)snprintf(list + n, sizeof(list) - n,
					      "%s%u", i ? "," : "",
					      vm->vcpu_affinity[i]);
		arg(a, "--vcpu-affinity=%s", list);
	}
	for (i = 0; i < vm->nr_disks; i++) {
		const struct disk_config *dk = &vm->disks[i];

		if (strchr(dk->path, ',') || strchr(dk->serial, ','))
			return fail(err, errlen, -EINVAL,
				    "domain '%s': disk[%u] '%s': a ',' in a "
				    "disk's path or serial cannot be passed "
				    "to mica run --disk; rename the file",
				    name, i, dk->path);
		arg(a, "--disk=path=%s%s%s%s,cache=%s,queues=%u", dk->path,
		    dk->readonly ? ",readonly=on" : "",
		    dk->serial[0] ? ",serial=" : "", dk->serial,
		    cache_name(dk->cache), dk->queues);
	}
	for (i = 0; i < vm->nr_nets; i++) {
		const struct net_config *nc = &vm->nets[i];
		const uint8_t *m = nc->mac;
		char spec[128 + CONFIG_MAX_HOSTFWD * 80];
		size_t n;

		if (nc->backend == NET_TAP)
			n = (size_t)snprintf(spec, sizeof(spec), "tap=%s",
					     nc->tap);
		else
			n = (size_t)snprintf(spec, sizeof(spec), "user");
		n += (size_t)snprintf(spec + n, sizeof(spec) - n,
				      ",mac=%02x:%02x:%02x:%02x:%02x:%02x",
				      m[0], m[1], m[2], m[3], m[4], m[5]);
		for (j = 0; j < nc->nr_hostfwd && n < sizeof(spec); j++) {
			const struct net_hostfwd *f = &nc->hostfwd[j];
			char h[32], g[32];

			fmt_addr(h, sizeof(h), f->host_addr);
			fmt_addr(g, sizeof(g), f->guest_addr);
			n += (size_t)snprintf(spec + n, sizeof(spec) - n,
					      ",hostfwd=%s:%s:%u-%s:%u",
					      f->udp ? "udp" : "tcp", h,
					      f->host_port, g, f->guest_port);
		}
		arg(a, "--net=%s", spec);
	}
	if (!dom_path(d, "console", path, sizeof(path)))
		return fail(err, errlen, -ENAMETOOLONG,
			    "domain '%s': the run directory '%s' is too long "
			    "for its sockets (at most 107 bytes in all)",
			    name, d->sup->opts.run_dir);
	arg(a, "--console-socket=%s", path);
	dom_path(d, "api", path, sizeof(path));
	arg(a, "--api-socket=%s", path);
	arg(a, "--console-history=%lluK",
	    (unsigned long long)(d->sup->opts.console_history >> 10));
	dom_path(d, "status", path, sizeof(path));
	arg(a, "--status-file=%s", path);
	if (a->oom) {
		argv_free(a);
		return fail(err, errlen, -ENOMEM, "domain '%s': out of memory",
			    name);
	}
	a->v[a->n] = NULL;
	return 0;
}

/* The last line of the VMM's log, for a message. */
static void log_tail(const struct micad_dom *d, char *buf, size_t len)
{
	char path[PATH_MAX], tail[512], *line, *end;
	ssize_t n;
	off_t size;
	int fd;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "%s/%s.log", d->sup->opts.run_dir,
		 d->row.name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	if (size > (off_t)sizeof(tail) - 1)
		lseek(fd, size - (off_t)sizeof(tail) + 1, SEEK_SET);
	else
		lseek(fd, 0, SEEK_SET);
	n = read(fd, tail, sizeof(tail) - 1);
	close(fd);
	if (n <= 0)
		return;
	tail[n] = '\0';
	end = tail + n;
	while (end > tail && (end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	line = strrchr(tail, '\n');
	line = line ? line + 1 : tail;
	if (!strncmp(line, "mica: ", 6))
		line += 6;
	if (!strncmp(line, "error: ", 7))
		line += 7;
	for (end = line; *end; end++)
		if (!isprint((unsigned char)*end))
			*end = '?';
	n = (ssize_t)strlen(line);
	if ((size_t)n >= len)
		n = (ssize_t)len - 1;
	memcpy(buf, line, (size_t)n);
	buf[n] = '\0';
}

/* A new VMM's API socket answers. */
static bool api_answers(const struct micad_dom *d)
{
	char path[128];
	unsigned int status = 0;
	json_t *o = NULL;
	int rc;

	if (!dom_path(d, "api", path, sizeof(path)))
		return false;
	rc = vmm_call(path, "GET", "/v1/vm", &status, &o);
	json_decref(o);
	return !rc && status == 200;
}

static void on_pidfd(struct micad_watch *w, uint32_t events);

/*
 * Starts the domain's VMM and waits until its API answers. On success the
 * domain is "running" with its pid recorded. -errno with err on failure:
 * the VMM is gone then.
 */
static int start_vmm(struct micad_dom *d, char *err, size_t errlen)
{
	struct micad_sup *sup = d->sup;
	char path[PATH_MAX], tail[256];
	struct argv_buf a;
	uint64_t start = 0;
	int64_t deadline;
	int logfd, pidfd, rc;
	pid_t pid;

	d->reaped = false;
	rc = build_argv(d, &a, err, errlen);
	if (rc)
		return rc;
	dom_path(d, "status", path, sizeof(path));
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s.log", sup->opts.run_dir,
		 d->row.name);
	logfd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (logfd < 0) {
		rc = -errno;
		argv_free(&a);
		return fail(err, errlen, rc, "domain '%s': log file '%s': %s",
			    d->row.name, path, strerror(-rc));
	}
	pid = fork();
	if (pid == 0) {
		/* Async-signal-safe calls only from here to exec. */
		sigset_t none;
		int null = open("/dev/null", O_RDWR);

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		setsid();
		if (null >= 0)
			dup2(null, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		syscall(SYS_close_range, 3u, ~0u, 0u);
		execv(a.v[0], a.v);
		{
			static const char msg[] = "micad: cannot run mica: ";
			const char *e = strerror(errno);

			if (write(2, msg, sizeof(msg) - 1) < 0 ||
			    write(2, a.v[0], strlen(a.v[0])) < 0 ||
			    write(2, ": ", 2) < 0 ||
			    write(2, e, strlen(e)) < 0 || write(2, "\n", 1) < 0)
				_exit(MICA_EXIT_ERROR);
		}
		_exit(MICA_EXIT_ERROR);
	}
	rc = pid < 0 ? -errno : 0;
	close(logfd);
	argv_free(&a);
	if (rc)
		return fail(err, errlen, rc, "domain '%s': fork: %s",
			    d->row.name, strerror(-rc));
	pidfd = sys_pidfd_open(pid);
	if (pidfd < 0) {
		rc = -errno;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return fail(err, errlen, rc, "domain '%s': pidfd_open: %s",
			    d->row.name, strerror(-rc));
	}
	proc_stat(pid, &start, NULL);

	/* Until its API answers, or it ends. */
	deadline = micad_now_ms() + MICAD_START_WAIT_MS;
	for (;;) {
		struct pollfd p = { .fd = pidfd, .events = POLLIN };
		int status;

		if (poll(&p, 1, 20) > 0) {
			if (waitpid(pid, &status, WNOHANG) == pid &&
			    !(WIFEXITED(status) &&
			      WEXITSTATUS(status) == MICA_EXIT_ERROR)) {
				/*
				 * It ran and ended already (a guest that
				 * powers off at once): an ordinary exit,
				 * which on_pidfd handles from the loop (the
				 * pidfd stays readable).
				 */
				d->reaped = true;
				d->reaped_status = status;
				break;
			}
			close(pidfd);
			log_tail(d, tail, sizeof(tail));
			return fail(err, errlen, -EINVAL,
				    "domain '%s': mica could not start it: %s",
				    d->row.name,
				    *tail ? tail :
					    "exit status 1 (no message)");
		}
		if (api_answers(d))
			break;
		if (micad_now_ms() > deadline) {
			log_warn("domain '%s': the VMM (pid %d) has not opened "
				 "its API socket after %d ms; watching it "
				 "anyway",
				 d->row.name, (int)pid, MICAD_START_WAIT_MS);
			break;
		}
	}
	d->child = true;
	d->row.pid = pid;
	d->row.pid_start = start;
	d->row.started_ms = micad_now_ms();
	d->row.deadline_ms = 0;
	d->restart_at_ms = 0;
	set_state(d, "running");
	d->pid_w = (struct micad_watch){ .fd = pidfd, .fn = on_pidfd };
	rc = micad_watch_add(sup->loop, &d->pid_w, EPOLLIN);
	if (rc)
		log_err("domain '%s': watching pid %d: %s", d->row.name,
			(int)pid, strerror(-rc));
	d->cpu_last_ms = 0;
	persist(d);
	return 0;
}

/* ---- how a VMM ended ---- */

/*
 * From an exit status (code >= 0), a signal (code -1, sig) or a missing
 * status file (code -2).
 */
static enum exit_kind classify(const struct micad_dom *d, int code, int sig,
			       const char *reason, char *detail, size_t len)
{
	char tail[200];

	switch (code) {
	case -1: {
		const char *abbrev = sigabbrev_np(sig);

		snprintf(detail, len,
			 "the VMM (mica) was killed by signal %d%s%s%s", sig,
			 abbrev ? " (SIG" : "", abbrev ? abbrev : "",
			 abbrev ? ")" : "");
		return EXIT_CRASH;
	}
	case -2:
		snprintf(detail, len,
			 "the VMM (mica) ended without writing its status "
			 "file: it was killed (SIGKILL, or out of memory)");
		return EXIT_CRASH;
	case MICA_EXIT_POWEROFF:
		snprintf(detail, len, "%s",
			 reason && !strcmp(reason, "stop") ?
				 "stopped through its API" :
				 "the guest powered off");
		return EXIT_POWEROFF;
	case MICA_EXIT_REBOOT:
		snprintf(detail, len, "the guest rebooted");
		return EXIT_REBOOT;
	case MICA_EXIT_CRASH:
		snprintf(detail, len,
			 "the guest crashed (triple fault or KVM internal "
			 "error; exit status 3)");
		return EXIT_CRASH;
	case MICA_EXIT_SIGNAL:
		snprintf(detail, len,
			 "mica was stopped by a signal (exit status 4)");
		return EXIT_POWEROFF;
	default:
		log_tail(d, tail, sizeof(tail));
		snprintf(detail, len, "mica failed (exit status %d)%s%s", code,
			 *tail ? ": " : "", tail);
		return EXIT_CRASH;
	}
}

/* A VMM that is not our child: its status file says how it ended. */
static int read_status_file(const struct micad_dom *d, char *reason, size_t len)
{
	char path[128];
	json_t *o, *s, *r;
	int code = -2;

	reason[0] = '\0';
	if (!dom_path(d, "status", path, sizeof(path)))
		return -2;
	o = json_load_file(path, JSON_DISABLE_EOF_CHECK, NULL);
	s = json_object_get(o, "status");
	r = json_object_get(o, "reason");
	if (json_is_integer(s) && json_integer_value(s) >= 0 &&
	    json_integer_value(s) <= 255)
		code = (int)json_integer_value(s);
	if (json_is_string(r))
		snprintf(reason, len, "%s", json_string_value(r));
	json_decref(o);
	return code;
}

static int start_or_crash(struct micad_dom *d, const char *kind,
			  const char *why);

/* The restart policy with its limit and backoff. */
static void schedule_restart(struct micad_dom *d)
{
	int64_t now = micad_now_ms();
	unsigned int i, recent = 0;

	for (i = 0; i < MICAD_RESTART_MAX; i++)
		if (d->restarts[i] &&
		    now - d->restarts[i] < MICAD_RESTART_WINDOW_S * 1000)
			recent++;
	if (recent >= MICAD_RESTART_MAX) {
		set_state(d, "crashed");
		persist(d);
		event(d, "restart-limit",
		      "restarted %u times within %d s; kept as crashed "
		      "(destroy it, or fix the guest and create it again)",
		      recent, MICAD_RESTART_WINDOW_S);
		return;
	}
	set_state(d, "starting");
	d->restart_at_ms = now + (recent ? 1000ll << (recent - 1) : 0);
	persist(d);
	if (!recent)
		start_or_crash(d, "restarted", "");
}

/* Records the exit of d's VMM and applies its policy. */
/*
 * Logs how d's VMM ended and applies the domain's policy for it. With
 * keep, the domain is preserved whatever the policy says (see recovery).
 */
static void handle_exit(struct micad_dom *d, enum exit_kind kind,
			const char *detail, bool keep)
{
	static const char *const kinds[] = {
		[EXIT_POWEROFF] = "powered-off",
		[EXIT_REBOOT] = "rebooted",
		[EXIT_CRASH] = "crashed",
	};
	enum domain_action act;

	unwatch(d);
	d->row.pid = 0;
	d->row.pid_start = 0;
	d->row.deadline_ms = 0;
	event(d, kinds[kind], "%s", detail);
	act = keep		    ? DOMAIN_PRESERVE :
	      kind == EXIT_POWEROFF ? d->cfg.on_poweroff :
	      kind == EXIT_REBOOT   ? d->cfg.on_reboot :
				      d->cfg.on_crash;
	switch (act) {
	case DOMAIN_DESTROY: {
		char why[64];

		snprintf(why, sizeof(why), "%s=destroy",
			 kind == EXIT_POWEROFF ? "on_poweroff" :
			 kind == EXIT_REBOOT   ? "on_reboot" :
						 "on_crash");
		remove_dom(d, why);
		return;
	}
	case DOMAIN_RESTART:
		schedule_restart(d);
		return;
	case DOMAIN_PRESERVE:
		set_state(d, kind == EXIT_CRASH ? "crashed" : "shutoff");
		persist(d);
		return;
	}
}

static void on_pidfd(struct micad_watch *w, uint32_t events)
{
	struct micad_dom *d =
		(struct micad_dom *)((char *)w -
				     offsetof(struct micad_dom, pid_w));
	char detail[MICAD_DETAIL_MAX], reason[32] = "";
	int status, code, sig = 0;
	pid_t r;

	(void)events;
	if (d->reaped) {
		r = (pid_t)d->row.pid;
		status = d->reaped_status;
		d->reaped = false;
	} else {
		r = d->child ? waitpid((pid_t)d->row.pid, &status, WNOHANG) :
			       -1;
	}
	if (r == 0)
		return; /* spurious: not ended yet */
	if (r == (pid_t)d->row.pid) {
		if (WIFSIGNALED(status)) {
			code = -1;
			sig = WTERMSIG(status);
		} else {
			code = WEXITSTATUS(status);
			read_status_file(d, reason, sizeof(reason));
		}
	} else {
		code = read_status_file(d, reason, sizeof(reason));
	}
	enum exit_kind kind =
		classify(d, code, sig, reason, detail, sizeof(detail));
	handle_exit(d, kind, detail, false);
}

/*
 * Starts d (kind: the event, "started" or "restarted"); if that fails the
 * domain is kept as "crashed" with a "start-failed" event.
 */
static int start_or_crash(struct micad_dom *d, const char *kind,
			  const char *why)
{
	char err[MSG_MAX];
	int rc, i;

	if (!strcmp(kind, "restarted")) {
		i = (int)(d->restart_pos++ % MICAD_RESTART_MAX);
		d->restarts[i] = micad_now_ms();
	}
	d->restart_at_ms = 0;
	rc = start_vmm(d, err, sizeof(err));
	if (rc) {
		set_state(d, "crashed");
		persist(d);
		event(d, "start-failed", "%s", err);
		return rc;
	}
	event(d, kind, "pid %ld%s%s", d->row.pid, *why ? ", " : "", why);
	return 0;
}

/*
 * Ends d's VMM: SIGTERM, SIGKILL after MICAD_KILL_GRACE_MS, and waits (at
 * most 2 s more) until it is gone.
 */
static void kill_vmm(struct micad_dom *d)
{
	struct pollfd p = { .fd = d->pid_w.fd, .events = POLLIN };

	if (d->pid_w.fd < 0)
		return;
	if (sys_pidfd_signal(d->pid_w.fd, SIGTERM) == 0 &&
	    poll(&p, 1, MICAD_KILL_GRACE_MS) > 0)
		goto gone;
	if (sys_pidfd_signal(d->pid_w.fd, SIGKILL) && errno != ESRCH)
		log_err("domain '%s': SIGKILL to pid %ld: %s", d->row.name,
			d->row.pid, strerror(errno));
	if (poll(&p, 1, 2000) <= 0)
		log_err("domain '%s': pid %ld still runs after SIGKILL",
			d->row.name, d->row.pid);
gone:
	if (d->child)
		waitpid((pid_t)d->row.pid, NULL, WNOHANG);
	unwatch(d);
	d->row.pid = 0;
}

/* ---- the periodic tick: shutdown deadlines and delayed restarts ---- */

static void on_tick(struct micad_watch *w, uint32_t events)
{
	struct micad_sup *sup =
		(struct micad_sup *)((char *)w -
				     offsetof(struct micad_sup, tick_w));
	int64_t now = micad_now_ms();
	struct micad_dom *d, *next;
	uint64_t n;

	(void)events;
	if (read(w->fd, &n, sizeof(n)) < 0)
		return;
	for (d = sup->doms; d; d = next) {
		next = d->next;
		if (state_is(d, "shutting-down") && d->row.deadline_ms &&
		    now >= d->row.deadline_ms) {
			event(d, "shutdown-timeout",
			      "the guest did not power off in time; destroying "
			      "it");
			kill_vmm(d);
			remove_dom(d, "shutdown timed out");
		} else if (state_is(d, "starting") && !is_live(d) &&
			   now >= d->restart_at_ms) {
			start_or_crash(d, "restarted", "");
		}
	}
}

/* ---- JSON ---- */

static json_t *time_json(int64_t ms)
{
	char buf[40];

	if (!ms)
		return json_null();
	micad_format_time(ms, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *dom_json(const struct micad_dom *d)
{
	char path[128];

	dom_path(d, "console", path, sizeof(path));
	return json_pack("{s:s, s:s, s:s, s:o, s:I, s:I, s:b, s:o, s:o, s:s}",
			 "name", d->row.name, "uuid", d->row.uuid, "state",
			 d->row.state, "pid",
			 d->row.pid ? json_integer(d->row.pid) : json_null(),
			 "vcpus", (json_int_t)d->cfg.vm.cpus, "memory_mib",
			 (json_int_t)(d->cfg.vm.memory >> 20), "autostart",
			 (int)d->row.autostart, "created",
			 time_json(d->row.created_ms), "started",
			 time_json(d->row.started_ms), "console_socket", path);
}

static json_t *events_json(struct micad_db *db, const char *name,
			   unsigned int limit, int *rc)
{
	struct micad_event_row *ev;
	json_t *a;
	size_t i, n;

	*rc = micad_db_events(db, name, limit, &ev, &n);
	if (*rc)
		return NULL;
	a = json_array();
	for (i = 0; a && i < n; i++) {
		char t[40];

		micad_format_time(ev[i].time_ms, t, sizeof(t));
		if (json_array_append_new(
			    a, json_pack("{s:s, s:s, s:s}", "time", t, "kind",
					 ev[i].kind, "detail", ev[i].detail))) {
			json_decref(a);
			a = NULL;
		}
	}
	free(ev);
	if (!a)
		*rc = -ENOMEM;
	return a;
}

/* ---- the API's operations ---- */

static struct micad_dom *lookup(struct micad_sup *sup, const char *name,
				char *err, size_t errlen)
{
	struct micad_dom *d = find(sup, name);

	if (!d)
		fail(err, errlen, 0, "no domain '%s'", name);
	return d;
}

static int op_list(void *opaque, json_t **out, char *err, size_t errlen)
{
	struct micad_sup *sup = opaque;
	struct micad_dom *d;
	json_t *a = json_array();

	for (d = sup->doms; a && d; d = d->next) {
		if (json_array_append_new(a, dom_json(d))) {
			json_decref(a);
			a = NULL;
		}
	}
	*out = a ? json_pack("{s:o}", "domains", a) : NULL;
	if (!*out)
		return fail(err, errlen, -ENOMEM, "micad is out of memory");
	return 0;
}

static void random_uuid(uint8_t uuid[16])
{
	size_t got = 0;

	while (got < 16) {
		ssize_t n = getrandom(uuid + got, 16 - got, 0);

		if (n > 0)
			got += (size_t)n;
	}
	uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40);
	uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
}

static int op_create(void *opaque, struct domain_config *cfg, bool start,
		     json_t **out, char *err, size_t errlen)
{
	struct micad_sup *sup = opaque;
	struct micad_dom *d, *o;
	struct argv_buf a;
	json_t *canon;
	int rc;

	if (find(sup, cfg->name)) {
		rc = fail(err, errlen, -EEXIST,
			  "domain '%s' already exists (destroy it first, or "
			  "choose another name)",
			  cfg->name);
		domcfg_free(cfg);
		return rc;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		domcfg_free(cfg);
		return fail(err, errlen, -ENOMEM, "micad is out of memory");
	}
	d->sup = sup;
	d->pid_w.fd = -1;
	d->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	if (!d->cfg.has_uuid) {
		random_uuid(d->cfg.uuid);
		d->cfg.has_uuid = true;
	}
	snprintf(d->row.name, sizeof(d->row.name), "%s", d->cfg.name);
	domcfg_uuid_format(d->cfg.uuid, d->row.uuid);
	for (o = sup->doms; o; o = o->next) {
		if (!strcmp(o->row.uuid, d->row.uuid)) {
			rc = fail(err, errlen, -EEXIST,
				  "domain '%s': UUID %s is already used by "
				  "domain '%s'",
				  d->row.name, d->row.uuid, o->row.name);
			goto fail;
		}
	}
	/* What mica run cannot be told is an error now, not at start. */
	rc = build_argv(d, &a, err, errlen);
	if (rc)
		goto fail;
	argv_free(&a);
	canon = domcfg_to_json(&d->cfg);
	d->row.config = canon ? json_dumps(canon, JSON_COMPACT) : NULL;
	json_decref(canon);
	if (!d->row.config) {
		rc = fail(err, errlen, -ENOMEM, "micad is out of memory");
		goto fail;
	}
	set_state(d, "shutoff");
	d->row.autostart = d->cfg.autostart;
	d->row.created_ms = micad_now_ms();
	rc = micad_db_insert(sup->db, &d->row);
	if (rc) {
		fail(err, errlen, rc,
		     rc == -EEXIST ? "domain '%s' already exists" :
				     "domain '%s': saving it: %s",
		     d->row.name, strerror(-rc));
		goto fail;
	}
	link_dom(sup, d);
	event(d, "created", "uuid %s", d->row.uuid);
	if (start) {
		rc = start_vmm(d, err, errlen);
		if (rc) {
			event(d, "start-failed", "%s", err);
			remove_dom(d, "its VMM could not start");
			return rc;
		}
		event(d, "started", "pid %ld", d->row.pid);
	}
	*out = dom_json(d);
	return 0;

fail:
	free_dom(d);
	return rc;
}

static int op_get(void *opaque, const char *name, json_t **out, char *err,
		  size_t errlen)
{
	struct micad_sup *sup = opaque;
	struct micad_dom *d = lookup(sup, name, err, errlen);
	json_t *o, *cfg, *ev;
	int rc;

	if (!d)
		return -ENOENT;
	o = dom_json(d);
	cfg = json_loads(d->row.config, 0, NULL);
	ev = events_json(sup->db, name, MICAD_EVENTS_DEFAULT, &rc);
	if (!o || !cfg || !ev || json_object_set_new(o, "config", cfg) ||
	    json_object_set_new(o, "events", ev)) {
		json_decref(o);
		return fail(err, errlen, -ENOMEM,
			    "domain '%s': cannot describe it: %s", name,
			    rc ? strerror(-rc) : "out of memory");
	}
	*out = o;
	return 0;
}

/* One call to d's VMM; fills err on failure. */
static int vmm(struct micad_dom *d, const char *method, const char *path,
	       unsigned int *status, json_t **reply, char *err, size_t errlen)
{
	char sock[128];
	int rc;

	if (!dom_path(d, "api", sock, sizeof(sock)))
		return fail(err, errlen, -ENAMETOOLONG,
			    "domain '%s': API socket path too long",
			    d->row.name);
	rc = vmm_call(sock, method, path, status, reply);
	if (rc)
		return fail(err, errlen, rc,
			    "domain '%s': its VMM (pid %ld) does not answer "
			    "on '%s': %s",
			    d->row.name, d->row.pid, sock, strerror(-rc));
	return 0;
}

static int op_action(void *opaque, const char *name, enum micad_action act,
		     unsigned int timeout_s, json_t **out, char *err,
		     size_t errlen)
{
	static const char *const verbs[] = {
		[MICAD_PAUSE] = "pause",
		[MICAD_UNPAUSE] = "unpause",
		[MICAD_REBOOT] = "reboot",
		[MICAD_SHUTDOWN] = "shut down",
	};
	static const char *const paths[] = {
		[MICAD_PAUSE] = "/v1/vm/pause",
		[MICAD_UNPAUSE] = "/v1/vm/resume",
		[MICAD_REBOOT] = "/v1/vm/reboot",
		[MICAD_SHUTDOWN] = "/v1/vm/power-button",
	};
	struct micad_dom *d = lookup(opaque, name, err, errlen);
	unsigned int status = 0;
	json_t *reply = NULL;
	bool ok;
	int rc;

	if (!d)
		return -ENOENT;
	switch (act) {
	case MICAD_PAUSE:
		ok = state_is(d, "running");
		break;
	case MICAD_UNPAUSE:
		ok = state_is(d, "paused");
		break;
	case MICAD_REBOOT:
		ok = state_is(d, "running") || state_is(d, "paused");
		break;
	case MICAD_SHUTDOWN:
	default:
		ok = state_is(d, "running") || state_is(d, "paused");
		break;
	}
	if (!ok || !is_live(d))
		return fail(err, errlen, -EBUSY,
			    "domain '%s' is %s: cannot %s it", name,
			    d->row.state, verbs[act]);
	rc = vmm(d, "PUT", paths[act], &status, &reply, err, errlen);
	if (rc)
		return rc;
	if (status == 409 && (act == MICAD_PAUSE || act == MICAD_UNPAUSE)) {
		/* The VMM was there already: micad's record was behind. */
		status = 200;
	}
	if (status != 200 && status != 202) {
		rc = fail(err, errlen, status == 503 ? -EBUSY : -EIO,
			  "domain '%s': its VMM refused to %s it: %s", name,
			  verbs[act], vmm_error(reply));
		json_decref(reply);
		return rc;
	}
	json_decref(reply);
	switch (act) {
	case MICAD_PAUSE:
		set_state(d, "paused");
		event(d, "paused", "%s", "");
		break;
	case MICAD_UNPAUSE:
		set_state(d, "running");
		event(d, "unpaused", "%s", "");
		break;
	case MICAD_REBOOT:
		event(d, "reboot-requested", "%s", "");
		break;
	case MICAD_SHUTDOWN:
		set_state(d, "shutting-down");
		d->row.deadline_ms = micad_now_ms() + (int64_t)timeout_s * 1000;
		event(d, "shutdown-requested",
		      "ACPI power button; destroyed if not off in %u s",
		      timeout_s);
		break;
	}
	persist(d);
	*out = dom_json(d);
	return *out ? 0 : fail(err, errlen, -ENOMEM, "out of memory");
}

static int op_destroy(void *opaque, const char *name, char *err, size_t errlen)
{
	struct micad_dom *d = lookup(opaque, name, err, errlen);

	if (!d)
		return -ENOENT;
	kill_vmm(d);
	remove_dom(d, "by request");
	return 0;
}

static int op_stats(void *opaque, const char *name, json_t **out, char *err,
		    size_t errlen)
{
	struct micad_dom *d = lookup(opaque, name, err, errlen);
	uint64_t cpu_ticks, cpu_ns, exits = 0;
	json_t *reply = NULL, *v;
	unsigned int status = 0;
	int64_t now = micad_now_ms(), since;
	double pct = 0;
	size_t i;
	int rc;

	if (!d)
		return -ENOENT;
	if (!is_live(d))
		return fail(err, errlen, -EBUSY,
			    "domain '%s' is %s: it has no statistics", name,
			    d->row.state);
	rc = vmm(d, "GET", "/v1/vm/stats", &status, &reply, err, errlen);
	if (rc)
		return rc;
	if (status != 200 || !json_is_object(reply)) {
		rc = fail(err, errlen, -EIO,
			  "domain '%s': its VMM gave no statistics: %s", name,
			  vmm_error(reply));
		json_decref(reply);
		return rc;
	}
	if (proc_stat(d->row.pid, NULL, &cpu_ticks)) {
		json_decref(reply);
		return fail(err, errlen, -EIO,
			    "domain '%s': cannot read /proc/%ld/stat", name,
			    d->row.pid);
	}
	cpu_ns = ticks_to_ns(cpu_ticks);
	if (d->cpu_last_ms && now > d->cpu_last_ms) {
		since = now - d->cpu_last_ms;
		pct = (double)(cpu_ns - (cpu_ns > d->cpu_last_ns ?
						 d->cpu_last_ns :
						 cpu_ns)) /
		      ((double)since * 1e4);
	} else if (d->row.started_ms && now > d->row.started_ms) {
		pct = (double)cpu_ns /
		      ((double)(now - d->row.started_ms) * 1e4);
	}
	d->cpu_last_ms = now;
	d->cpu_last_ns = cpu_ns;
	json_array_foreach(json_object_get(reply, "vcpus"), i, v)
	{
		json_t *e = json_object_get(v, "exits");

		if (json_is_integer(e) && json_integer_value(e) > 0)
			exits += (uint64_t)json_integer_value(e);
	}
	*out = json_pack("{s:s, s:I, s:f, s:O, s:O, s:O, s:O, s:I}", "name",
			 name, "cpu_ns", (json_int_t)cpu_ns, "cpu_percent",
			 (double)(int64_t)(pct * 10) / 10.0, "rss_bytes",
			 json_object_get(reply, "rss_bytes") ?
				 json_object_get(reply, "rss_bytes") :
				 json_null(),
			 "vcpus",
			 json_object_get(reply, "vcpus") ?
				 json_object_get(reply, "vcpus") :
				 json_null(),
			 "disks",
			 json_object_get(reply, "disks") ?
				 json_object_get(reply, "disks") :
				 json_null(),
			 "nets",
			 json_object_get(reply, "nets") ?
				 json_object_get(reply, "nets") :
				 json_null(),
			 "exits", (json_int_t)exits);
	json_decref(reply);
	return *out ? 0 : fail(err, errlen, -ENOMEM, "out of memory");
}

static int op_events(void *opaque, const char *name, unsigned int limit,
		     json_t **out, char *err, size_t errlen)
{
	struct micad_sup *sup = opaque;
	json_t *a;
	int rc;

	/* A destroyed domain's log stays: it says how the domain ended. */
	a = events_json(sup->db, name, limit, &rc);
	if (!a)
		return fail(err, errlen, rc, "domain '%s': its events: %s",
			    name, strerror(-rc));
	if (!json_array_size(a) && !find(sup, name)) {
		json_decref(a);
		return fail(err, errlen, -ENOENT,
			    "no domain '%s' (and no events recorded for one)",
			    name);
	}
	*out = json_pack("{s:o}", "events", a);
	return *out ? 0 : fail(err, errlen, -ENOMEM, "out of memory");
}

static int op_console(void *opaque, const char *name, json_t **out, char *err,
		      size_t errlen)
{
	struct micad_dom *d = lookup(opaque, name, err, errlen);
	char path[128];

	if (!d)
		return -ENOENT;
	if (!is_live(d))
		return fail(err, errlen, -EBUSY,
			    "domain '%s' is %s: its console is not running",
			    name, d->row.state);
	dom_path(d, "console", path, sizeof(path));
	*out = json_pack("{s:s}", "socket", path);
	return *out ? 0 : fail(err, errlen, -ENOMEM, "out of memory");
}

const struct micad_ops micad_sup_ops = {
	.list = op_list,
	.create = op_create,
	.get = op_get,
	.action = op_action,
	.destroy = op_destroy,
	.stats = op_stats,
	.events = op_events,
	.console = op_console,
};

/* ---- start-up: re-attach, recover, autostart ---- */

int micad_sup_init(struct micad_sup *sup, struct micad_loop *loop,
		   struct micad_db *db, const struct micad_sup_opts *opts,
		   char *err, size_t errlen)
{
	struct itimerspec its = {
		.it_value = { .tv_nsec = MICAD_TICK_MS * 1000000l },
		.it_interval = { .tv_nsec = MICAD_TICK_MS * 1000000l },
	};
	int rc;

	memset(sup, 0, sizeof(*sup));
	sup->loop = loop;
	sup->db = db;
	sup->opts = *opts;
	sup->tick_w = (struct micad_watch){ .fn = on_tick };
	sup->tick_w.fd =
		timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (sup->tick_w.fd < 0 ||
	    timerfd_settime(sup->tick_w.fd, 0, &its, NULL))
		return fail(err, errlen, -errno, "timerfd: %s",
			    strerror(errno));
	rc = micad_watch_add(loop, &sup->tick_w, EPOLLIN);
	if (rc)
		return fail(err, errlen, rc, "event loop: %s", strerror(-rc));
	return 0;
}

/* d's VMM from before micad's restart, if it is still the same process. */
static bool reattach(struct micad_dom *d)
{
	uint64_t start = 0;
	unsigned int status = 0;
	json_t *reply = NULL;
	char sock[128];
	const char *st;
	int fd;

	fd = sys_pidfd_open((pid_t)d->row.pid);
	if (fd < 0)
		return false;
	if (proc_stat(d->row.pid, &start, NULL) || start != d->row.pid_start) {
		close(fd); /* the pid was reused by another process */
		return false;
	}
	d->child = false;
	d->pid_w = (struct micad_watch){ .fd = fd, .fn = on_pidfd };
	if (micad_watch_add(d->sup->loop, &d->pid_w, EPOLLIN))
		log_err("domain '%s': watching pid %ld failed", d->row.name,
			d->row.pid);
	if (dom_path(d, "api", sock, sizeof(sock)) &&
	    !vmm_call(sock, "GET", "/v1/vm", &status, &reply) &&
	    status == 200) {
		st = json_string_value(json_object_get(reply, "state"));
		if (st && !state_is(d, "shutting-down"))
			set_state(d,
				  !strcmp(st, "paused") ? "paused" : "running");
	} else {
		log_warn("domain '%s': its VMM (pid %ld) runs but its API "
			 "socket does not answer; watching it anyway",
			 d->row.name, d->row.pid);
	}
	json_decref(reply);
	if (state_is(d, "shutting-down") && !d->row.deadline_ms)
		d->row.deadline_ms =
			micad_now_ms() + MICAD_SHUTDOWN_TIMEOUT_DEFAULT * 1000;
	if (state_is(d, "starting"))
		set_state(d, "running");
	persist(d);
	log_info("domain '%s': re-attached to its VMM, pid %ld", d->row.name,
		 d->row.pid);
	return true;
}

int micad_sup_recover(struct micad_sup *sup)
{
	struct micad_dom_row *rows;
	struct micad_dom *d, *next;
	size_t i, nr;
	int rc;

	rc = micad_db_list(sup->db, &rows, &nr);
	if (rc) {
		log_err("reading the domains from the state database: %s",
			strerror(-rc));
		return rc;
	}
	for (i = 0; i < nr; i++) {
		struct domcfg_msgs msgs = { .nr_warnings = 0 };
		json_t *cfg = json_loads(rows[i].config, 0, NULL);

		d = calloc(1, sizeof(*d));
		if (!d) {
			json_decref(cfg);
			rc = -ENOMEM;
			break;
		}
		d->sup = sup;
		d->pid_w.fd = -1;
		d->row = rows[i];
		rows[i].config = NULL;
		if (!cfg ||
		    domcfg_from_json(cfg, d->row.name, &d->cfg, &msgs)) {
			log_err("domain '%s': its stored configuration is not "
				"valid any more (%s); skipping it",
				d->row.name,
				msgs.error[0] ? msgs.error : "not JSON");
			json_decref(cfg);
			micad_dom_row_free(&d->row);
			free(d);
			continue;
		}
		json_decref(cfg);
		link_dom(sup, d);
	}
	micad_dom_rows_free(rows, nr);

	for (d = sup->doms; d; d = next) {
		char detail[MICAD_DETAIL_MAX], reason[32];
		int code;

		next = d->next;
		if (d->row.pid && reattach(d))
			continue;
		if (d->row.pid) {
			code = read_status_file(d, reason, sizeof(reason));
			enum exit_kind kind = classify(d, code, 0, reason,
						       detail, sizeof(detail));
			strncat(detail, " (while micad was not running)",
				sizeof(detail) - strlen(detail) - 1);
			/*
			 * An autostart domain outlives its VMM: after a host
			 * reboot every VMM is gone without a status file,
			 * and on_crash=destroy must not delete a domain that
			 * autostart is about to start again.
			 */
			handle_exit(d, kind, detail, d->row.autostart);
			continue;
		}
		if (state_is(d, "starting")) {
			start_or_crash(d, "restarted",
				       "due before micad stopped");
			continue;
		}
		if (!state_is(d, "shutoff") && !state_is(d, "crashed")) {
			set_state(d, "crashed");
			persist(d);
		}
	}
	for (d = sup->doms; d; d = next) {
		next = d->next;
		if (d->row.autostart && !is_live(d) &&
		    (state_is(d, "shutoff") || state_is(d, "crashed")))
			start_or_crash(d, "started", "autostart");
	}
	return rc;
}

void micad_sup_fini(struct micad_sup *sup)
{
	struct micad_dom *d, *next;

	for (d = sup->doms; d; d = next) {
		next = d->next;
		free_dom(d);
	}
	sup->doms = NULL;
	if (sup->tick_w.fd >= 0) {
		micad_watch_del(sup->loop, &sup->tick_w);
		close(sup->tick_w.fd);
	}
	sup->tick_w.fd = -1;
}
