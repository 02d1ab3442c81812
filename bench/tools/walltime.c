// SPDX-License-Identifier: MIT
/*
 * walltime N CMD [ARGS...]: runs CMD N times (stdin from /dev/null, output
 * discarded) and prints the wall time of each run in microseconds, one per
 * line, then "status S" of the last run. Used by bench/startup.sh.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int main(int argc, char **argv)
{
	int n, i, status = 0;

	if (argc < 3 || (n = atoi(argv[1])) <= 0) {
		fprintf(stderr, "usage: walltime N CMD [ARGS...]\n");
		return 2;
	}
	for (i = 0; i < n; i++) {
		long long t0 = now_us();
		pid_t pid = fork();

		if (pid == 0) {
			int null = open("/dev/null", O_RDWR);

			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
			execvp(argv[2], argv + 2);
			_exit(127);
		}
		if (pid < 0 || waitpid(pid, &status, 0) < 0) {
			perror("walltime");
			return 1;
		}
		printf("%lld\n", now_us() - t0);
	}
	printf("status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}
