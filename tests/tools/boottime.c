// SPDX-License-Identifier: MIT
/*
 * boottime: run a VMM, copy its console output, and time how long it takes
 * until a marker string appears (used by the nested boot tests and the boot
 * benchmark; built static so it runs in the L1 initramfs).
 *
 *   boottime [-m MARKER] [-n COUNT] [-k|-K] [-t SECS] [-o FILE] -- CMD [ARGS...]
 *
 * CMD runs in its own process group with stdin from /dev/null and stdout and
 * stderr on a pipe. Everything read from the pipe is copied to FILE (default:
 * our stdout). The time at which MARKER has been seen COUNT times (default 1)
 * is noted; with -k, CMD's process group then gets SIGTERM (SIGKILL 5 s
 * later); with -K, SIGKILL at once (a crash test's "power cut"). With -t,
 * CMD gets the SIGTERM treatment after SECS seconds and the run counts as
 * timed out.
 *
 * Prints one line on stderr:
 *   boottime: marker_ms=<ms|-1> total_ms=<ms> status=<code> timeout=<0|1>
 * where status is CMD's exit code, or 128+N when a signal N ended it.
 * Exits with that status, or 124 when the timeout hit.
 *
 * Nothing here is guest-controlled except the bytes read from the pipe,
 * which are only copied and searched.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KILL_GRACE_MS 5000
#define DRAIN_MS 1000

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: boottime [-m MARKER] [-n COUNT] [-k|-K] [-t SECS] [-o FILE] -- CMD [ARGS...]\n");
	exit(2);
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t r = write(fd, buf, len);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += r;
		len -= (size_t)r;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *marker = "MICA-L2-INIT";
	const char *outpath = NULL;
	long count = 1, timeout_s = 0;
	bool kill_at_marker = false, sigkill_at_marker = false;
	int opt;

	while ((opt = getopt(argc, argv, "+m:n:kKt:o:")) != -1) {
		switch (opt) {
		case 'm':
			marker = optarg;
			break;
		case 'n':
			count = strtol(optarg, NULL, 10);
			break;
		case 'k':
			kill_at_marker = true;
			break;
		case 'K':
			sigkill_at_marker = true;
			break;
		case 't':
			timeout_s = strtol(optarg, NULL, 10);
			break;
		case 'o':
			outpath = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc || marker[0] == '\0' || count < 1 || timeout_s < 0)
		usage();

	int outfd = STDOUT_FILENO;
	if (outpath) {
		outfd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			     0644);
		if (outfd < 0) {
			fprintf(stderr, "boottime: %s: %s\n", outpath,
				strerror(errno));
			return 2;
		}
	}

	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		perror("boottime: pipe");
		return 2;
	}

	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	long long start = now_ms();
	pid_t child = fork();
	if (child < 0) {
		perror("boottime: fork");
		return 2;
	}
	if (child == 0) {
		setpgid(0, 0);
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, STDIN_FILENO);
		dup2(pfd[1], STDOUT_FILENO);
		dup2(pfd[1], STDERR_FILENO);
		signal(SIGPIPE, SIG_DFL);
		execvp(argv[optind], &argv[optind]);
		fprintf(stderr, "boottime: exec %s: %s\n", argv[optind],
			strerror(errno));
		_exit(127);
	}
	setpgid(child, child);
	close(pfd[1]);

	size_t mlen = strlen(marker);
	/* The tail of the previous chunk (mlen - 1 bytes) + one new chunk. */
	size_t cap = mlen + 65536;
	char *buf = malloc(cap);
	if (!buf) {
		perror("boottime: malloc");
		kill(-child, SIGKILL);
		return 2;
	}
	size_t carry = 0;
	long seen = 0;
	long long marker_ms = -1, kill_at = -1, deadline = -1, drain_until = -1;
	bool timed_out = false, exited = false, pipe_open = true;
	int wstatus = 0;

	if (timeout_s > 0)
		deadline = start + timeout_s * 1000;

	while (pipe_open || !exited) {
		long long t = now_ms();

		if (got_signal && kill_at < 0) {
			kill(-child, SIGTERM);
			kill_at = t + KILL_GRACE_MS;
		}
		if (deadline >= 0 && t >= deadline && kill_at < 0 && !exited) {
			timed_out = true;
			kill(-child, SIGTERM);
			kill_at = t + KILL_GRACE_MS;
		}
		if (kill_at >= 0 && t >= kill_at && !exited) {
			kill(-child, SIGKILL);
			kill_at = t + 3600 * 1000;
		}
		if (!exited) {
			pid_t r = waitpid(child, &wstatus, WNOHANG);
			if (r == child) {
				exited = true;
				drain_until = t + DRAIN_MS;
				/* Whatever CMD left behind in its group goes too. */
				kill(-child, SIGKILL);
			}
		}
		if (exited && pipe_open && t >= drain_until)
			break;
		if (!pipe_open) {
			struct timespec ts = { .tv_nsec = 10 * 1000000 };
			nanosleep(&ts, NULL);
			continue;
		}

		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		int pr = poll(&p, 1, 50);
		if (pr < 0 && errno != EINTR) {
			perror("boottime: poll");
			break;
		}
		if (pr <= 0)
			continue;
		ssize_t n = read(pfd[0], buf + carry, cap - carry);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			perror("boottime: read");
			pipe_open = false;
			continue;
		}
		if (n == 0) {
			pipe_open = false;
			continue;
		}
		if (write_all(outfd, buf + carry, (size_t)n) < 0 &&
		    outfd != STDOUT_FILENO)
			fprintf(stderr, "boottime: write %s failed\n", outpath);

		size_t len = carry + (size_t)n, pos = 0;
		char *hit;
		while (seen < count && (hit = memmem(buf + pos, len - pos,
						     marker, mlen)) != NULL) {
			pos = (size_t)(hit - buf) + mlen;
			if (++seen == count) {
				marker_ms = now_ms() - start;
				if (sigkill_at_marker && !exited) {
					kill(-child, SIGKILL);
					kill_at = now_ms() + 3600 * 1000;
				} else if (kill_at_marker && kill_at < 0) {
					kill(-child, SIGTERM);
					kill_at = now_ms() + KILL_GRACE_MS;
				}
			}
		}
		/* Keep a tail that could hold the start of a split marker. */
		size_t keep = mlen - 1;
		if (keep > len - pos)
			keep = len - pos;
		memmove(buf, buf + len - keep, keep);
		carry = keep;
	}
	long long total_ms = now_ms() - start;
	close(pfd[0]);
	free(buf);
	if (!exited) {
		kill(-child, SIGKILL);
		waitpid(child, &wstatus, 0);
	}

	int status;
	if (WIFEXITED(wstatus))
		status = WEXITSTATUS(wstatus);
	else if (WIFSIGNALED(wstatus))
		status = 128 + WTERMSIG(wstatus);
	else
		status = 255;
	if (outfd != STDOUT_FILENO)
		close(outfd);
	fprintf(stderr,
		"boottime: marker_ms=%lld total_ms=%lld status=%d timeout=%d\n",
		marker_ms, total_ms, status, timed_out ? 1 : 0);
	return timed_out ? 124 : status;
}
