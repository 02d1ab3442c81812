// SPDX-License-Identifier: MIT
/*
 * unixsock: a tiny client for UNIX stream sockets, for the tests of mica's
 * control API and console socket (tests/guest/run.sh) where neither curl
 * nor socat can be relied on.
 *
 *   unixsock [-t MS] [-u STRING] [-k] PATH
 *
 * Connects to PATH, copies stdin to the socket (then shuts down its sending
 * side, unless -k keeps it open) and the socket to stdout, until the peer
 * closes the connection, MS milliseconds pass (default 10000), or, with -u,
 * the output so far contains STRING. Exits 0 when the peer closed or
 * STRING was seen, 3 on the time limit (or 0 with -t and no -u: a timed
 * capture), 2 when it cannot connect, 1 on other errors.
 *
 * An HTTP request is: printf 'GET /v1/vm HTTP/1.1\r\nHost: mica\r\n
 * Connection: close\r\n\r\n' | unixsock PATH
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define SEEN_MAX (1u << 20) /* output kept for -u */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ll + ts.tv_nsec / 1000000;
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static void usage(void)
{
	fprintf(stderr, "usage: unixsock [-t MS] [-u STRING] [-k] PATH\n");
	exit(1);
}

int main(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	const char *until = NULL;
	long long limit = 10000, deadline;
	bool keep = false, timed = false, in_open = true;
	char *seen = NULL;
	size_t seen_len = 0;
	int c, fd;

	while ((c = getopt(argc, argv, "t:u:k")) != -1) {
		switch (c) {
		case 't':
			limit = atoll(optarg);
			timed = true;
			break;
		case 'u':
			until = optarg;
			break;
		case 'k':
			keep = true;
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1 || strlen(argv[optind]) >= sizeof(a.sun_path))
		usage();
	strcpy(a.sun_path, argv[optind]);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		fprintf(stderr, "unixsock: %s: %s\n", a.sun_path,
			strerror(errno));
		return 2;
	}
	if (until && !(seen = malloc(SEEN_MAX + 1)))
		return 1;
	deadline = now_ms() + limit;
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = fd, .events = POLLIN },
			{ .fd = in_open ? 0 : -1, .events = POLLIN },
		};
		long long left = deadline - now_ms();
		char buf[4096];
		ssize_t n;

		if (left <= 0)
			return until || !timed ? 3 : 0;
		if (poll(p, 2, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (p[1].revents) {
			n = read(0, buf, sizeof(buf));
			if (n > 0 && !write_all(fd, buf, (size_t)n))
				return 1;
			if (n <= 0) {
				in_open = false;
				if (!keep)
					shutdown(fd, SHUT_WR);
			}
		}
		if (!p[0].revents)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return until ? 3 : 0; /* the peer closed */
		if (!write_all(1, buf, (size_t)n))
			return 1;
		if (until) {
			size_t take = (size_t)n;

			if (seen_len + take > SEEN_MAX) {
				/* Keep the tail: STRING may straddle. */
				size_t drop = seen_len + take - SEEN_MAX;

				if (drop > seen_len)
					drop = seen_len;
				memmove(seen, seen + drop, seen_len - drop);
				seen_len -= drop;
				if (take > SEEN_MAX)
					take = SEEN_MAX;
			}
			memcpy(seen + seen_len, buf + n - take, take);
			seen_len += take;
			seen[seen_len] = '\0';
			if (memmem(seen, seen_len, until, strlen(until)))
				return 0;
		}
	}
}
