// SPDX-License-Identifier: MIT
/*
 * tcpxfer: move bytes over one TCP connection and time it; the traffic
 * generator and checker of the nested virtio-net tests and benchmark (built
 * static so it runs in the L1 initramfs and in the L2 guest's).
 *
 *   tcpxfer listen [-a ADDR] -p PORT [-c CONNS] [-t SECS] ACTION
 *   tcpxfer connect HOST PORT [-t SECS] ACTION
 *   ACTION: --send BYTES | --send-file FILE | --recv [-o FILE]; add --sum
 *
 * listen accepts CONNS connections one after the other (default 1) and does
 * ACTION on each; connect retries a refused connection until the timeout.
 * A sender writes its bytes (a fixed pattern, or FILE), shuts its side down
 * and waits for the peer to close, so that its time covers delivery; a
 * receiver reads until end of stream and then closes. -t bounds the whole
 * run (default 120 s); it ends with status 124 when it hits.
 *
 * Output, on stdout:
 *   tcpxfer: listening on PORT                    (once listen() succeeded)
 *   tcpxfer: role=send|recv bytes=N ms=T mbit=R sum=S
 * T runs from the connection's establishment to the end of the exchange;
 * S is, with --sum, a 64-bit FNV-1a of the bytes moved, in hex, so that
 * both ends can be compared ("-" without: byte-wise hashing costs more CPU
 * than the transfer itself in an emulated guest, so the benchmark leaves it
 * out). Exit status 0 when every exchange completed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (256 * 1024)

enum action { ACT_NONE, ACT_SEND, ACT_SEND_FILE, ACT_RECV };

struct opts {
	enum action action;
	unsigned long long send_bytes;
	const char *file;
	const char *out;
	long timeout_s;
	bool sum;
};

static long long deadline_ms;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: tcpxfer listen [-a ADDR] -p PORT [-c CONNS] [-t SECS] ACTION\n"
		"       tcpxfer connect HOST PORT [-t SECS] ACTION\n"
		"ACTION: --send BYTES | --send-file FILE | --recv [-o FILE]; add --sum\n");
	exit(2);
}

static void timed_out(void)
{
	fprintf(stderr, "tcpxfer: timed out\n");
	exit(124);
}

/* Wait until fd is ready for EVENTS or the deadline passes. */
static void wait_fd(int fd, short events)
{
	for (;;) {
		long long left = deadline_ms - now_ms();
		if (left <= 0)
			timed_out();
		struct pollfd p = { .fd = fd, .events = events };
		int r = poll(&p, 1, left > 1000 ? 1000 : (int)left);
		if (r > 0)
			return;
		if (r < 0 && errno != EINTR) {
			perror("tcpxfer: poll");
			exit(1);
		}
	}
}

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static unsigned long long parse_size(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		usage();
	switch (*end) {
	case 'K':
	case 'k':
		v <<= 10;
		end++;
		break;
	case 'M':
	case 'm':
		v <<= 20;
		end++;
		break;
	case 'G':
	case 'g':
		v <<= 30;
		end++;
		break;
	}
	if (*end)
		usage();
	return v;
}

static void report(const char *role, unsigned long long bytes, double secs,
		   const uint64_t *sum)
{
	double mbit = secs > 0 ? (double)bytes * 8 / secs / 1e6 : 0;
	char s[20] = "-";

	if (sum)
		snprintf(s, sizeof(s), "%016llx", (unsigned long long)*sum);
	printf("tcpxfer: role=%s bytes=%llu ms=%.0f mbit=%.1f sum=%s\n", role,
	       bytes, secs * 1000, mbit, s);
	fflush(stdout);
}

/* Read until the peer closes; returns false on an error. */
static bool drain_until_eof(int s, unsigned long long *bytes, uint64_t *sum,
			    int outfd, char *buf)
{
	for (;;) {
		wait_fd(s, POLLIN);
		ssize_t n = read(s, buf, CHUNK);
		if (n == 0)
			return true;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			perror("tcpxfer: read");
			return false;
		}
		*bytes += (unsigned long long)n;
		if (sum)
			*sum = fnv1a(*sum, (unsigned char *)buf, (size_t)n);
		if (outfd >= 0) {
			for (ssize_t off = 0; off < n;) {
				ssize_t w = write(outfd, buf + off,
						  (size_t)(n - off));
				if (w < 0) {
					if (errno == EINTR)
						continue;
					perror("tcpxfer: write output");
					return false;
				}
				off += w;
			}
		}
	}
}

static bool send_all(int s, const char *p, size_t n)
{
	while (n > 0) {
		wait_fd(s, POLLOUT);
		ssize_t w = write(s, p, n);
		if (w < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			perror("tcpxfer: write");
			return false;
		}
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* One exchange on a connected socket s (non-blocking). */
static bool exchange(int s, const struct opts *o)
{
	char *buf = malloc(CHUNK);
	unsigned long long bytes = 0;
	uint64_t sum = 0xcbf29ce484222325ull;
	bool ok = false;
	int fd = -1;
	double t0 = now_s();

	if (!buf) {
		perror("tcpxfer: malloc");
		return false;
	}
	if (o->action == ACT_RECV) {
		if (o->out) {
			fd = open(o->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd < 0) {
				fprintf(stderr, "tcpxfer: %s: %s\n", o->out,
					strerror(errno));
				goto out;
			}
		}
		ok = drain_until_eof(s, &bytes, o->sum ? &sum : NULL, fd, buf);
		double t1 = now_s();
		if (ok)
			report("recv", bytes, t1 - t0, o->sum ? &sum : NULL);
		goto out;
	}

	if (o->action == ACT_SEND_FILE) {
		fd = open(o->file, O_RDONLY);
		if (fd < 0) {
			fprintf(stderr, "tcpxfer: %s: %s\n", o->file,
				strerror(errno));
			goto out;
		}
		for (;;) {
			ssize_t n = read(fd, buf, CHUNK);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				perror("tcpxfer: read file");
				goto out;
			}
			if (n == 0)
				break;
			if (o->sum)
				sum = fnv1a(sum, (unsigned char *)buf,
					    (size_t)n);
			if (!send_all(s, buf, (size_t)n))
				goto out;
			bytes += (unsigned long long)n;
		}
	} else {
		/* A pattern that is not all zeroes (nothing may compress it). */
		for (size_t i = 0; i < CHUNK; i++)
			buf[i] = (char)((i * 131 + (i >> 9)) & 0xff);
		while (bytes < o->send_bytes) {
			unsigned long long left = o->send_bytes - bytes;
			size_t n = left < CHUNK ? (size_t)left : CHUNK;
			if (o->sum)
				sum = fnv1a(sum, (unsigned char *)buf, n);
			if (!send_all(s, buf, n))
				goto out;
			bytes += n;
		}
	}
	if (shutdown(s, SHUT_WR) < 0) {
		perror("tcpxfer: shutdown");
		goto out;
	}
	/* The peer closes after it has read everything. */
	unsigned long long back = 0;
	if (!drain_until_eof(s, &back, NULL, -1, buf))
		goto out;
	report("send", bytes, now_s() - t0, o->sum ? &sum : NULL);
	ok = true;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return ok;
}

static void set_nonblock(int s)
{
	int fl = fcntl(s, F_GETFL);
	if (fl < 0 || fcntl(s, F_SETFL, fl | O_NONBLOCK) < 0) {
		perror("tcpxfer: fcntl");
		exit(1);
	}
}

static int do_listen(const char *addr, int port, long conns,
		     const struct opts *o)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port) };
	int one = 1, failed = 0;

	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "tcpxfer: bad address '%s'\n", addr);
		return 2;
	}
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0) {
		perror("tcpxfer: socket");
		return 1;
	}
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(ls, 4) < 0) {
		fprintf(stderr, "tcpxfer: listen on %s:%d: %s\n", addr, port,
			strerror(errno));
		return 1;
	}
	set_nonblock(ls);
	printf("tcpxfer: listening on %d\n", port);
	fflush(stdout);
	for (long i = 0; i < conns; i++) {
		int s;
		for (;;) {
			wait_fd(ls, POLLIN);
			s = accept4(ls, NULL, NULL,
				    SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (s >= 0)
				break;
			if (errno != EINTR && errno != EAGAIN &&
			    errno != ECONNABORTED) {
				perror("tcpxfer: accept");
				return 1;
			}
		}
		setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (!exchange(s, o))
			failed++;
		close(s);
	}
	close(ls);
	return failed ? 1 : 0;
}

static int do_connect(const char *host, const char *port, const struct opts *o)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int one = 1, p = atoi(port);

	/* Addresses only: name lookups would need NSS in a static binary. */
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 || p <= 0 ||
	    p > 65535) {
		fprintf(stderr, "tcpxfer: bad address %s:%s (IPv4 only)\n",
			host, port);
		return 2;
	}
	sa.sin_port = htons((uint16_t)p);
	int s = -1;
	for (;;) {
		s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0) {
			perror("tcpxfer: socket");
			return 1;
		}
		if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		int e = errno;
		close(s);
		if (e != ECONNREFUSED && e != ENETUNREACH &&
		    e != EHOSTUNREACH && e != ETIMEDOUT) {
			fprintf(stderr, "tcpxfer: connect %s:%s: %s\n", host,
				port, strerror(e));
			return 1;
		}
		if (now_ms() >= deadline_ms) {
			fprintf(stderr, "tcpxfer: connect %s:%s: %s\n", host,
				port, strerror(e));
			timed_out();
		}
		struct timespec ts = { .tv_nsec = 200 * 1000000 };
		nanosleep(&ts, NULL);
	}
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	set_nonblock(s);
	bool ok = exchange(s, o);
	close(s);
	return ok ? 0 : 1;
}

/* Parses the options after the mode's positional arguments. */
static void parse_opts(int argc, char **argv, int i, struct opts *o,
		       const char **addr, int *port, long *conns)
{
	for (; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--recv")) {
			o->action = ACT_RECV;
			continue;
		}
		if (!strcmp(a, "--sum")) {
			o->sum = true;
			continue;
		}
		if (!v)
			usage();
		if (!strcmp(a, "--send")) {
			o->action = ACT_SEND;
			o->send_bytes = parse_size(v);
		} else if (!strcmp(a, "--send-file")) {
			o->action = ACT_SEND_FILE;
			o->file = v;
		} else if (!strcmp(a, "-o")) {
			o->out = v;
		} else if (!strcmp(a, "-t")) {
			o->timeout_s = strtol(v, NULL, 10);
		} else if (!strcmp(a, "-a") && addr) {
			*addr = v;
		} else if (!strcmp(a, "-p") && port) {
			*port = atoi(v);
		} else if (!strcmp(a, "-c") && conns) {
			*conns = strtol(v, NULL, 10);
		} else {
			usage();
		}
		i++;
	}
	if (o->action == ACT_NONE || o->timeout_s <= 0)
		usage();
}

int main(int argc, char **argv)
{
	struct opts o = { .action = ACT_NONE, .timeout_s = 120 };

	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "listen")) {
		const char *addr = "0.0.0.0";
		int port = 0;
		long conns = 1;
		parse_opts(argc, argv, 2, &o, &addr, &port, &conns);
		if (port <= 0 || port > 65535 || conns < 1)
			usage();
		deadline_ms = now_ms() + o.timeout_s * 1000;
		return do_listen(addr, port, conns, &o);
	}
	if (!strcmp(argv[1], "connect")) {
		if (argc < 4)
			usage();
		parse_opts(argc, argv, 4, &o, NULL, NULL, NULL);
		deadline_ms = now_ms() + o.timeout_s * 1000;
		return do_connect(argv[2], argv[3], &o);
	}
	usage();
	return 2;
}
