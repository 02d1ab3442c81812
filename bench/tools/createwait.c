// SPDX-License-Identifier: MIT
/*
 * createwait: times a toolstack create and the guest's way to init, for
 * bench/toolstack-nested-l1.sh (static: it runs in the L1 busybox
 * initramfs, whose shell has no sub-second clock).
 *
 *   createwait now
 *       prints CLOCK_MONOTONIC in microseconds
 *   createwait [-t MS] [-o FILE] -m MARKER -s SOCK -- CMD [ARGS...]
 *       T0 = now; runs CMD (stdin /dev/null, its stdout on createwait's
 *       stderr: stdout carries only the times) and waits for it; T1 = now;
 *       if CMD succeeded, connects to the UNIX stream socket SOCK (retrying
 *       every 5 ms while it does not exist or refuses) and reads until
 *       MARKER has appeared in what it sent (a console socket that replays
 *       its history: a marker printed before the connection still counts,
 *       seen at the connection); T2 = now.
 *       Prints "T0 T1 T2 STATUS" (microseconds, T2 "-" when the marker did
 *       not come within MS, default 600000, or CMD failed; STATUS is CMD's
 *       exit status). -o FILE keeps the socket's output. Exit status 0 when
 *       the marker was seen, 1 otherwise, 2 on a usage error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: createwait now\n"
		"       createwait [-t MS] [-o FILE] -m MARKER -s SOCK -- CMD [ARGS...]\n");
	return 2;
}

static int run(char **argv)
{
	int status;
	pid_t pid = fork();

	if (pid < 0) {
		perror("createwait: fork");
		return -1;
	}
	if (pid == 0) {
		int fd = open("/dev/null", O_RDONLY);

		if (fd >= 0)
			dup2(fd, 0);
		dup2(2, 1);
		execvp(argv[0], argv);
		perror("createwait: exec");
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Connects to path until deadline (microseconds); -1 when it never could. */
static int connect_until(const char *path, long long deadline)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, path);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return -1;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		close(fd);
		if (errno != ENOENT && errno != ECONNREFUSED)
			return -1;
		if (now_us() >= deadline)
			return -1;
		usleep(5000);
	}
}

/* Reads fd until marker is seen (0) or deadline passes / EOF (-1). */
static int wait_marker(int fd, const char *marker, long long deadline,
		       FILE *keep)
{
	size_t mlen = strlen(marker), have = 0;
	char buf[8192 + 256];

	if (mlen == 0 || mlen > 256)
		return -1;
	for (;;) {
		long long left = deadline - now_us();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (left <= 0)
			return -1;
		if (poll(&p, 1, (int)(left / 1000 + 1)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (!p.revents)
			continue;
		n = read(fd, buf + have, sizeof(buf) - have - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		if (keep)
			fwrite(buf + have, 1, (size_t)n, keep);
		have += (size_t)n;
		buf[have] = '\0';
		if (memmem(buf, have, marker, mlen))
			return 0;
		/* Keep the tail that could start a marker split across reads. */
		if (have >= mlen) {
			memmove(buf, buf + have - (mlen - 1), mlen - 1);
			have = mlen - 1;
		}
	}
}

int main(int argc, char **argv)
{
	const char *marker = NULL, *sock = NULL, *out = NULL;
	long long timeout_ms = 600000, t0, t1, t2 = -1;
	FILE *keep = NULL;
	int opt, status, fd;

	if (argc == 2 && strcmp(argv[1], "now") == 0) {
		printf("%lld\n", now_us());
		return 0;
	}
	while ((opt = getopt(argc, argv, "+t:o:m:s:")) != -1) {
		switch (opt) {
		case 't':
			timeout_ms = atoll(optarg);
			break;
		case 'o':
			out = optarg;
			break;
		case 'm':
			marker = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		default:
			return usage();
		}
	}
	if (!marker || !sock || optind >= argc || timeout_ms <= 0)
		return usage();
	t0 = now_us();
	status = run(argv + optind);
	t1 = now_us();
	if (status == 0) {
		long long deadline = t1 + timeout_ms * 1000;

		fd = connect_until(sock, deadline);
		if (fd >= 0) {
			if (out)
				keep = fopen(out, "w");
			if (wait_marker(fd, marker, deadline, keep) == 0)
				t2 = now_us();
			if (keep)
				fclose(keep);
			close(fd);
		}
	}
	if (t2 < 0)
		printf("%lld %lld - %d\n", t0, t1, status);
	else
		printf("%lld %lld %lld %d\n", t0, t1, t2, status);
	return t2 < 0;
}
