// SPDX-License-Identifier: MIT
/*
 * fsync-stream: a stream of durable writes and its checker, for the nested
 * virtio-blk crash test (built static; runs in the L2 guest and in L1).
 *
 *   fsync-stream write FILE [-n MAX] [-d SECS]
 *     Appends 512-byte records 1, 2, ... to FILE; after each one, fsync()
 *     (which makes the guest kernel send the disk a FLUSH) and then print
 *     "STREAM-ACK <n>" on stdout. Stops after MAX records (default: never)
 *     or SECS seconds; the test kills the VMM while it runs.
 *   fsync-stream check FILE ACKED
 *     Checks that records 1..ACKED are all in FILE, each byte for byte (a
 *     later, unacknowledged record may be missing or torn). Prints
 *     "fsync-stream: file holds N whole records, ACKED acknowledged: ok" or
 *     what is wrong; exit status 0 when all acknowledged records are there.
 *
 * Record n: "REC <n, 10 digits> " then bytes from a generator seeded by n,
 * then "\n": a record cannot pass for another, and a torn or stale block
 * does not pass for a record.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REC 512

static void usage(void)
{
	fprintf(stderr, "usage: fsync-stream write FILE [-n MAX] [-d SECS]\n"
			"       fsync-stream check FILE ACKED\n");
	exit(2);
}

static void make_record(unsigned long n, unsigned char *r)
{
	uint64_t x = 0x2545f4914f6cdd1dull ^
		     ((uint64_t)n * 0x9e3779b97f4a7c15ull);
	int h = snprintf((char *)r, REC, "REC %010lu ", n);

	for (int i = h; i < REC - 1; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* Printable, so a dump of the file stays readable. */
		r[i] = (unsigned char)('a' + (x % 26));
	}
	r[REC - 1] = '\n';
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int do_write(const char *path, unsigned long max, double secs)
{
	unsigned char r[REC];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	double end = secs > 0 ? now_s() + secs : 0;

	if (fd < 0) {
		fprintf(stderr, "fsync-stream: %s: %s\n", path,
			strerror(errno));
		return 1;
	}
	/* The empty file and its directory entry are durable first. */
	if (fsync(fd) < 0) {
		fprintf(stderr, "fsync-stream: fsync %s: %s\n", path,
			strerror(errno));
		return 1;
	}
	for (unsigned long n = 1; !max || n <= max; n++) {
		if (end > 0 && now_s() >= end)
			break;
		make_record(n, r);
		for (size_t off = 0; off < REC;) {
			ssize_t w = write(fd, r + off, REC - off);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				fprintf(stderr, "fsync-stream: write %s: %s\n",
					path, strerror(errno));
				return 1;
			}
			off += (size_t)w;
		}
		if (fsync(fd) < 0) {
			fprintf(stderr, "fsync-stream: fsync %s: %s\n", path,
				strerror(errno));
			return 1;
		}
		printf("STREAM-ACK %lu\n", n);
		fflush(stdout);
	}
	close(fd);
	return 0;
}

static int do_check(const char *path, unsigned long acked)
{
	unsigned char want[REC], got[REC];
	unsigned long whole = 0;
	int fd = open(path, O_RDONLY);

	if (fd < 0) {
		fprintf(stderr, "fsync-stream: %s: %s\n", path,
			strerror(errno));
		return 1;
	}
	for (unsigned long n = 1;; n++) {
		size_t have = 0;
		while (have < REC) {
			ssize_t r = read(fd, got + have, REC - have);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			have += (size_t)r;
		}
		if (have < REC)
			break;
		make_record(n, want);
		if (memcmp(want, got, REC)) {
			if (n <= acked) {
				printf("fsync-stream: record %lu (acknowledged) is corrupt: starts '%.16s'\n",
				       n, (char *)got);
				close(fd);
				return 1;
			}
			break;
		}
		whole = n;
	}
	close(fd);
	if (whole < acked) {
		printf("fsync-stream: file holds %lu whole records, but %lu were acknowledged: LOST %lu\n",
		       whole, acked, acked - whole);
		return 1;
	}
	printf("fsync-stream: file holds %lu whole records, %lu acknowledged: ok\n",
	       whole, acked);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		usage();
	if (!strcmp(argv[1], "write")) {
		unsigned long max = 0;
		double secs = 0;
		for (int i = 3; i < argc; i += 2) {
			if (i + 1 >= argc)
				usage();
			if (!strcmp(argv[i], "-n"))
				max = strtoul(argv[i + 1], NULL, 10);
			else if (!strcmp(argv[i], "-d"))
				secs = strtod(argv[i + 1], NULL);
			else
				usage();
		}
		return do_write(argv[2], max, secs);
	}
	if (!strcmp(argv[1], "check") && argc == 4)
		return do_check(argv[2], strtoul(argv[3], NULL, 10));
	usage();
	return 2;
}
