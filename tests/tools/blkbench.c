// SPDX-License-Identifier: MIT
/*
 * blkbench: throughput and IOPS of a block device with O_DIRECT, the
 * guest-side tool of bench/virtio-nested.sh (built static so it runs in the
 * L2 guest's busybox initramfs).
 *
 *   blkbench -f DEV -m MODE [-b BYTES] [-t SECS] [-j JOBS] [-s SIZE]
 *
 *   MODE   read | write (sequential) or randread | randwrite
 *   -b     block size of each request (default 4096; K/M suffixes)
 *   -t     how long to run (default 3 s)
 *   -j     threads, each with one request in flight (default 1)
 *   -s     use only the first SIZE bytes of DEV (default: all of it)
 *
 * Sequential jobs each own a slice of the area and wrap around in it;
 * random jobs pick block-aligned offsets uniformly (xorshift, seeded per
 * job, so two runs issue the same offsets). Writes carry a non-zero
 * pattern. Prints one line:
 *   blkbench: mode=M bs=B jobs=J ops=N bytes=N secs=S mbps=X iops=Y
 * (mbps in MB/s of 10^6 bytes). Exit status 0, or 1 on an I/O error.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_JOBS 64

struct job {
	pthread_t thread;
	int idx;
	uint64_t ops;
	int err;
};

static int fd = -1;
static bool do_write, do_random;
static uint64_t bs = 4096, area;
static int njobs = 1;
static double run_s = 3.0;
static atomic_bool stop;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: blkbench -f DEV -m read|write|randread|randwrite [-b BYTES] [-t SECS] [-j JOBS] [-s SIZE]\n");
	exit(2);
}

static uint64_t parse_size(const char *s)
{
	char *end;
	errno = 0;
	uint64_t v = strtoull(s, &end, 10);
	if (errno || end == s)
		usage();
	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	else if (*end == 'G' || *end == 'g')
		v <<= 30, end++;
	if (*end)
		usage();
	return v;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static void *run_job(void *arg)
{
	struct job *j = arg;
	uint64_t blocks = area / bs;
	uint64_t slice = blocks / (uint64_t)njobs;
	uint64_t first = slice * (uint64_t)j->idx, pos = 0;
	uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(j->idx + 1);
	void *buf;

	if (posix_memalign(&buf, 4096, bs)) {
		j->err = ENOMEM;
		return NULL;
	}
	for (uint64_t i = 0; i < bs; i++)
		((unsigned char *)buf)[i] = (unsigned char)(i * 7 + 1);
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		uint64_t blk;
		if (do_random) {
			blk = xorshift(&seed) % blocks;
		} else {
			blk = first + pos;
			if (++pos >= slice)
				pos = 0;
		}
		off_t off = (off_t)(blk * bs);
		ssize_t r = do_write ? pwrite(fd, buf, bs, off) :
				       pread(fd, buf, bs, off);
		if (r != (ssize_t)bs) {
			j->err = r < 0 ? errno : EIO;
			break;
		}
		j->ops++;
	}
	free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *dev = NULL, *mode = NULL;
	uint64_t limit = 0;
	struct job jobs[MAX_JOBS];
	int opt;

	while ((opt = getopt(argc, argv, "f:m:b:t:j:s:")) != -1) {
		switch (opt) {
		case 'f':
			dev = optarg;
			break;
		case 'm':
			mode = optarg;
			break;
		case 'b':
			bs = parse_size(optarg);
			break;
		case 't':
			run_s = strtod(optarg, NULL);
			break;
		case 'j':
			njobs = atoi(optarg);
			break;
		case 's':
			limit = parse_size(optarg);
			break;
		default:
			usage();
		}
	}
	if (!dev || !mode || bs < 512 || bs % 512 || run_s <= 0 || njobs < 1 ||
	    njobs > MAX_JOBS)
		usage();
	if (!strcmp(mode, "read")) {
	} else if (!strcmp(mode, "write")) {
		do_write = true;
	} else if (!strcmp(mode, "randread")) {
		do_random = true;
	} else if (!strcmp(mode, "randwrite")) {
		do_write = do_random = true;
	} else {
		usage();
	}

	fd = open(dev, (do_write ? O_RDWR : O_RDONLY) | O_DIRECT);
	if (fd < 0) {
		fprintf(stderr, "blkbench: %s: %s\n", dev, strerror(errno));
		return 1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		perror("blkbench: fstat");
		return 1;
	}
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &area) < 0) {
			perror("blkbench: BLKGETSIZE64");
			return 1;
		}
	} else {
		area = (uint64_t)st.st_size;
	}
	if (limit && limit < area)
		area = limit;
	if (area / bs < (uint64_t)njobs) {
		fprintf(stderr, "blkbench: %s: too small for %d jobs of %llu\n",
			dev, njobs, (unsigned long long)bs);
		return 1;
	}

	double t0 = now_s();
	for (int i = 0; i < njobs; i++) {
		jobs[i] = (struct job){ .idx = i };
		if (pthread_create(&jobs[i].thread, NULL, run_job, &jobs[i])) {
			fprintf(stderr, "blkbench: pthread_create failed\n");
			return 1;
		}
	}
	struct timespec ts = {
		.tv_sec = (time_t)run_s,
		.tv_nsec = (long)((run_s - (double)(time_t)run_s) * 1e9)
	};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	atomic_store(&stop, true);
	uint64_t ops = 0;
	int err = 0;
	for (int i = 0; i < njobs; i++) {
		pthread_join(jobs[i].thread, NULL);
		ops += jobs[i].ops;
		if (jobs[i].err)
			err = jobs[i].err;
	}
	double secs = now_s() - t0;
	close(fd);
	if (err) {
		fprintf(stderr, "blkbench: %s: %s %s\n", dev, mode,
			strerror(err));
		return 1;
	}
	printf("blkbench: mode=%s bs=%llu jobs=%d ops=%llu bytes=%llu secs=%.3f mbps=%.1f iops=%.0f\n",
	       mode, (unsigned long long)bs, njobs, (unsigned long long)ops,
	       (unsigned long long)(ops * bs), secs,
	       (double)(ops * bs) / secs / 1e6, (double)ops / secs);
	return 0;
}
