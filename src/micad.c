// SPDX-License-Identifier: MIT
/*
 * micad: the toolstack daemon. Keeps the domains (SQLite, STATE/micad.db),
 * runs each as its own `mica run` process, and serves the HTTP/JSON API of
 * docs/api.md on a UNIX socket.
 *
 *   micad [--socket PATH] [--group NAME] [--state-dir DIR] [--run-dir DIR]
 *         [--mica PATH] [--console-history SIZE] [--foreground] [-v]
 *
 * One thread: an epoll loop (toolstack/micad_loop.h) over the API server
 * (libmicrohttpd in external-epoll mode), a pidfd per VMM, a periodic
 * timer (shutdown deadlines, delayed restarts) and a signalfd. SIGTERM and
 * SIGINT end micad; the VMMs keep running (each in its own session) and
 * the next micad re-attaches to them. SIGHUP is ignored.
 *
 * Without --foreground micad detaches (fork, setsid, stdio to /dev/null
 * and stderr to RUN/micad.log); the parent exits 0 once the API socket
 * listens, or 1 with the error. Only one micad runs per state directory
 * (a lock on STATE/micad.lock).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/cli.h"
#include "config/size.h"
#include "toolstack/micad_api.h"
#include "toolstack/micad_loop.h"
#include "toolstack/micad_state.h"
#include "toolstack/micad_sup.h"
#include "util/log.h"

#define MICAD_VERSION "0.1.0"

static const char usage[] =
	"Usage: micad [options]\n"
	"\n"
	"The mica toolstack daemon: keeps domains, runs each in its own\n"
	"'mica run', serves the API of docs/api.md on a UNIX socket.\n"
	"\n"
	"  --socket PATH          the API socket (default /run/mica/micad.sock)\n"
	"  --group NAME           socket mode 0660 and group NAME (default:\n"
	"                         0600, owner only)\n"
	"  --state-dir DIR        the state database micad.db (default\n"
	"                         /var/lib/mica)\n"
	"  --run-dir DIR          per-domain sockets, logs, status files\n"
	"                         (default /run/mica)\n"
	"  --mica PATH            the mica binary (default: the mica next to\n"
	"                         micad, else the one in PATH)\n"
	"  --console-history SIZE console output kept per domain, 4K to 16M\n"
	"                         (default 64K)\n"
	"  --foreground           do not detach; log to stderr\n"
	"  -v, --verbose          more messages (twice: debug)\n"
	"  -h, --help             this text\n"
	"      --version\n";

struct options {
	const char *socket, *group, *state_dir, *run_dir, *mica;
	uint64_t console_history;
	bool foreground;
	int verbosity;
};

enum {
	OPT_SOCKET = 0x100,
	OPT_GROUP,
	OPT_STATE_DIR,
	OPT_RUN_DIR,
	OPT_MICA,
	OPT_HISTORY,
	OPT_FOREGROUND,
	OPT_VERSION,
};

static const struct option long_options[] = {
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "group", required_argument, NULL, OPT_GROUP },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "run-dir", required_argument, NULL, OPT_RUN_DIR },
	{ "mica", required_argument, NULL, OPT_MICA },
	{ "console-history", required_argument, NULL, OPT_HISTORY },
	{ "foreground", no_argument, NULL, OPT_FOREGROUND },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ 0 },
};

/* Returns 0, 1 (help/version printed) or -EINVAL after a message. */
static int parse_args(int argc, char **argv, struct options *o)
{
	int c;

	*o = (struct options){
		.socket = "/run/mica/micad.sock",
		.state_dir = "/var/lib/mica",
		.run_dir = "/run/mica",
		.console_history = CLI_DEFAULT_CONSOLE_HISTORY,
	};
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":vh", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_SOCKET:
			o->socket = optarg;
			break;
		case OPT_GROUP:
			o->group = optarg;
			break;
		case OPT_STATE_DIR:
			o->state_dir = optarg;
			break;
		case OPT_RUN_DIR:
			o->run_dir = optarg;
			break;
		case OPT_MICA:
			o->mica = optarg;
			break;
		case OPT_HISTORY:
			if (size_parse(optarg, &o->console_history) ||
			    o->console_history < CLI_MIN_CONSOLE_HISTORY ||
			    o->console_history > CLI_MAX_CONSOLE_HISTORY ||
			    o->console_history % 1024) {
				fprintf(stderr,
					"micad: --console-history '%s': expected "
					"a size from 4K to 16M in whole KiB\n",
					optarg);
				return -EINVAL;
			}
			break;
		case OPT_FOREGROUND:
			o->foreground = true;
			break;
		case 'v':
			o->verbosity++;
			break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		case OPT_VERSION:
			printf("micad %s\n", MICAD_VERSION);
			return 1;
		case ':':
			fprintf(stderr, "micad: %s needs a value\n",
				argv[optind - 1]);
			return -EINVAL;
		default:
			fprintf(stderr,
				"micad: unknown option '%s' (see micad "
				"--help)\n",
				argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "micad: unexpected argument '%s'\n",
			argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* The mica next to this micad, else "mica" from PATH. */
static char *find_mica(void)
{
	char self[PATH_MAX], *dir, *path;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = '\0';
		dir = dirname(self);
		if (asprintf(&path, "%s/mica", dir) >= 0) {
			if (access(path, X_OK) == 0)
				return path;
			free(path);
		}
	}
	/* execv() does not search PATH: resolve it here. */
	{
		const char *env = getenv("PATH");
		char *copy = strdup(env ? env : "/usr/local/bin:/usr/bin:/bin");
		char *save = NULL, *p;

		for (p = copy ? strtok_r(copy, ":", &save) : NULL; p;
		     p = strtok_r(NULL, ":", &save)) {
			if (asprintf(&path, "%s/mica", p) < 0)
				continue;
			if (access(path, X_OK) == 0) {
				free(copy);
				return path;
			}
			free(path);
		}
		free(copy);
	}
	return NULL;
}

static int make_dir(const char *what, const char *dir, mode_t mode)
{
	struct stat st;

	if (mkdir(dir, mode) && errno != EEXIST) {
		fprintf(stderr, "micad: %s '%s': %s\n", what, dir,
			strerror(errno));
		return -errno;
	}
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "micad: %s '%s': not a directory\n", what, dir);
		return -ENOTDIR;
	}
	return 0;
}

static struct micad_loop loop;

static void on_signal(struct micad_watch *w, uint32_t events)
{
	struct signalfd_siginfo si;

	(void)events;
	if (read(w->fd, &si, sizeof(si)) != sizeof(si))
		return;
	log_info("signal %u: exiting; the domains keep running", si.ssi_signo);
	micad_loop_quit(&loop);
}

/* Detaches; the parent waits for a byte on the pipe: 0 ready, 1 failed. */
static int daemonize(int *ready_fd, const char *run_dir)
{
	int p[2], null, logfd;
	char path[PATH_MAX], b = 1;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &b, 1) != 1)
			b = 1;
		_exit(b ? 1 : 0);
	}
	close(p[0]);
	setsid();
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	snprintf(path, sizeof(path), "%s/micad.log", run_dir);
	logfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		close(null);
	}
	if (logfd >= 0) {
		dup2(logfd, 2);
		close(logfd);
	}
	*ready_fd = p[1];
	return 0;
}

static void report_ready(int *fd, char b)
{
	if (*fd < 0)
		return;
	if (write(*fd, &b, 1) != 1)
		log_debug("telling the parent: %s", strerror(errno));
	close(*fd);
	*fd = -1;
}

int main(int argc, char **argv)
{
	static struct micad_db db;
	static struct micad_sup sup;
	static struct micad_api api;
	struct micad_watch sig_w = { .fd = -1, .fn = on_signal };
	struct micad_sup_opts sopts;
	struct options o;
	char err[1024], path[PATH_MAX], *mica = NULL;
	gid_t gid = (gid_t)-1;
	int rc, lock_fd = -1, ready_fd = -1, status = 1;
	sigset_t set;

	rc = parse_args(argc, argv, &o);
	if (rc)
		return rc > 0 ? 0 : 1;
	log_threshold = o.verbosity >= 2 ? LOG_DEBUG :
			o.verbosity == 1 ? LOG_INFO :
					   LOG_WARN;
	if (o.group) {
		struct group *g = getgrnam(o.group);

		if (!g) {
			fprintf(stderr, "micad: --group '%s': no such group\n",
				o.group);
			return 1;
		}
		gid = g->gr_gid;
	}
	mica = o.mica ? strdup(o.mica) : find_mica();
	if (!mica || access(mica, X_OK)) {
		fprintf(stderr,
			"micad: cannot find the mica binary%s%s (give it with "
			"--mica PATH)\n",
			o.mica ? " at " : "", o.mica ? o.mica : "");
		free(mica);
		return 1;
	}
	if (make_dir("--state-dir", o.state_dir, 0700) ||
	    make_dir("--run-dir", o.run_dir, 0700))
		goto out_free;

	snprintf(path, sizeof(path), "%s/micad.lock", o.state_dir);
	lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB)) {
		fprintf(stderr, "micad: --state-dir '%s': %s\n", o.state_dir,
			errno == EWOULDBLOCK ?
				"another micad is running with this state "
				"directory" :
				strerror(errno));
		goto out_free;
	}
	if (!o.foreground && daemonize(&ready_fd, o.run_dir)) {
		fprintf(stderr, "micad: cannot detach: %s\n", strerror(errno));
		goto out_free;
	}

	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (micad_loop_init(&loop)) {
		log_err("epoll: %s", strerror(errno));
		goto out_ready;
	}
	sig_w.fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sig_w.fd < 0 || micad_watch_add(&loop, &sig_w, EPOLLIN)) {
		log_err("signalfd: %s", strerror(errno));
		goto out_loop;
	}

	snprintf(path, sizeof(path), "%s/micad.db", o.state_dir);
	rc = micad_db_open(&db, path, err, sizeof(err));
	if (rc) {
		log_err("%s", err);
		goto out_loop;
	}
	sopts = (struct micad_sup_opts){
		.run_dir = o.run_dir,
		.mica = mica,
		.console_history = o.console_history,
	};
	rc = micad_sup_init(&sup, &loop, &db, &sopts, err, sizeof(err));
	if (rc) {
		log_err("%s", err);
		goto out_db;
	}
	micad_sup_recover(&sup);
	micad_api_init(&api, &micad_sup_ops, &sup);
	rc = micad_api_listen(&api, &loop, o.socket, gid, err, sizeof(err));
	if (rc) {
		log_err("%s", err);
		goto out_sup;
	}
	fprintf(stderr, "micad: ready, listening on %s (mica: %s)\n", o.socket,
		mica);
	report_ready(&ready_fd, 0);
	rc = micad_loop_run(&loop);
	status = rc ? 1 : 0;
	if (rc)
		log_err("event loop: %s", strerror(-rc));
	micad_api_close(&api);
out_sup:
	micad_sup_fini(&sup);
out_db:
	micad_db_close(&db);
out_loop:
	if (sig_w.fd >= 0)
		close(sig_w.fd);
	micad_loop_destroy(&loop);
out_ready:
	report_ready(&ready_fd, 1);
out_free:
	if (lock_fd >= 0)
		close(lock_fd);
	free(mica);
	return status;
}
