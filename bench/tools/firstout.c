// SPDX-License-Identifier: MIT
/*
 * firstout CMD [ARGS...]: runs CMD with stdin from /dev/null and stdout on a
 * pipe, and prints "first_us=U total_us=T status=S": microseconds from
 * before fork() to the first byte CMD wrote, to its exit, and its exit
 * status. With a guest whose first instruction writes a byte to the serial
 * port, first_us is the VMM's start to first guest instruction, plus the
 * console path's latency. Used by bench/startup.sh.
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
	long long t0, first = -1;
	int pfd[2], status = 0;
	char buf[4096];
	ssize_t n;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: firstout CMD [ARGS...]\n");
		return 2;
	}
	if (pipe(pfd)) {
		perror("firstout: pipe");
		return 1;
	}
	t0 = now_us();
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(pfd[1], 1);
		dup2(null, 2);
		close(pfd[0]);
		execvp(argv[1], argv + 1);
		_exit(127);
	}
	close(pfd[1]);
	if (pid < 0) {
		perror("firstout: fork");
		return 1;
	}
	while ((n = read(pfd[0], buf, sizeof(buf))) > 0)
		if (first < 0)
			first = now_us() - t0;
	waitpid(pid, &status, 0);
	printf("first_us=%lld total_us=%lld status=%d\n", first, now_us() - t0,
	       WIFEXITED(status) ? WEXITSTATUS(status) :
				   128 + WTERMSIG(status));
	return 0;
}
