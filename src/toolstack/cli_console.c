// SPDX-License-Identifier: MIT
/*
 * "mica console" (cli_console.h): relays a domain's console socket to the
 * user's terminal or pipes.
 *
 * One loop, ppoll() on the socket and stdin. Input is read only when the
 * previous chunk has been sent (the VMM applies flow control by not
 * reading, so we stop reading stdin too rather than buffer without bound).
 * Output is written to stdout as it comes. The signals that end the
 * session are blocked outside ppoll(), so one that arrives at any moment
 * is seen at the next loop turn and the terminal is always restored.
 *
 * The bytes from the socket are the guest's console output, untrusted; we
 * pass them through unchanged, as a terminal emulator or "xl console"
 * does: the user asked to see the guest's terminal.
 */
#include "toolstack/cli_console.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define RELAY_CHUNK 4096

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

static const int end_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int cli_console_connect(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	int fd;

	if (!len || len >= sizeof(addr.sun_path)) {
		snprintf(err, errlen, "console socket '%s': path too long",
			 path);
		return -ENAMETOOLONG;
	}
	memcpy(addr.sun_path, path, len + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -errno;
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		int e = errno;

		snprintf(err, errlen, "cannot connect to console socket %s: %s",
			 path, strerror(e));
		close(fd);
		return -e;
	}
	return fd;
}

/* Writes everything, waiting if out_fd is non-blocking and full. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };

			poll(&p, 1, -1);
			continue;
		}
		if (n <= 0)
			return n ? -errno : -EIO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int cli_console_relay(int in_fd, int out_fd, int sock, bool escape,
		      int drain_ms, char *err, size_t errlen)
{
	char in[RELAY_CHUNK], out[RELAY_CHUNK];
	size_t in_len = 0, in_off = 0;
	bool in_eof = false, detach = false;
	uint64_t deadline = 0;
	sigset_t mask;
	unsigned int i;
	int rc;

	/* ppoll() lets the session's signals in; they are blocked outside. */
	pthread_sigmask(SIG_SETMASK, NULL, &mask);
	for (i = 0; i < sizeof(end_signals) / sizeof(end_signals[0]); i++)
		sigdelset(&mask, end_signals[i]);

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = sock,
			  .events = (short)(POLLIN |
					    (in_off < in_len ? POLLOUT : 0)) },
			{ .fd = in_eof || detach || in_off < in_len ? -1 :
								      in_fd,
			  .events = POLLIN },
		};
		struct timespec ts, *tsp = NULL;

		if (got_signal)
			return CLI_CONSOLE_SIGNAL;
		if (detach && in_off == in_len)
			return CLI_CONSOLE_DETACHED;
		if (in_eof) {
			uint64_t now = now_ms();

			if (now >= deadline)
				return CLI_CONSOLE_INPUT_EOF;
			ts = (struct timespec){
				.tv_sec = (time_t)((deadline - now) / 1000),
				.tv_nsec = (long)((deadline - now) % 1000) *
					   1000000,
			};
			tsp = &ts;
		}
		rc = ppoll(p, 2, tsp, &mask);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return -errno;
		}

		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = read(sock, out, sizeof(out));

			if (n == 0 || (n < 0 && errno == ECONNRESET))
				return CLI_CONSOLE_CLOSED;
			if (n < 0 && errno != EINTR && errno != EAGAIN) {
				snprintf(err, errlen, "console socket: %s",
					 strerror(errno));
				return -errno;
			}
			if (n > 0) {
				rc = write_all(out_fd, out, (size_t)n);
				if (rc) {
					snprintf(err, errlen, "output: %s",
						 strerror(-rc));
					return rc;
				}
			}
		}

		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = read(in_fd, in, sizeof(in));
			char *esc;

			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0) {
				/* EOF (or an error reading): input is over. */
				in_eof = true;
				shutdown(sock, SHUT_WR);
				deadline = now_ms() + (uint64_t)drain_ms;
				continue;
			}
			in_len = (size_t)n;
			in_off = 0;
			esc = escape ? memchr(in, CLI_CONSOLE_ESCAPE, in_len) :
				       NULL;
			if (esc) {
				in_len = (size_t)(esc - in);
				detach = true;
			}
		}

		if (in_off < in_len) {
			ssize_t n = send(sock, in + in_off, in_len - in_off,
					 MSG_NOSIGNAL | MSG_DONTWAIT);

			if (n < 0 && errno == EPIPE)
				return CLI_CONSOLE_CLOSED;
			if (n < 0 && errno != EINTR && errno != EAGAIN) {
				snprintf(err, errlen, "console socket: %s",
					 strerror(errno));
				return -errno;
			}
			if (n > 0)
				in_off += (size_t)n;
			if (in_off == in_len)
				in_off = in_len = 0;
		}
	}
}

int cli_console_attach(const char *domain, const char *socket_path, FILE *errf)
{
	struct sigaction sa = { .sa_handler = on_signal }, old_sa[4];
	struct termios saved, raw;
	sigset_t block, old_mask;
	bool tty = isatty(STDIN_FILENO);
	char err[512];
	unsigned int i;
	int fd, end;

	fd = cli_console_connect(socket_path, err, sizeof(err));
	if (fd < 0) {
		fprintf(errf, "mica: %s: %s\n", domain, err);
		return 1;
	}
	if (tty && tcgetattr(STDIN_FILENO, &saved))
		tty = false;

	sigemptyset(&block);
	for (i = 0; i < 4; i++)
		sigaddset(&block, end_signals[i]);
	pthread_sigmask(SIG_BLOCK, &block, &old_mask);
	sigemptyset(&sa.sa_mask);
	got_signal = 0;
	for (i = 0; i < 4; i++)
		sigaction(end_signals[i], &sa, &old_sa[i]);

	if (tty)
		fprintf(errf,
			"mica: attached to the console of '%s' (Ctrl-] "
			"detaches; the domain keeps running)\n",
			domain);
	else
		fprintf(errf,
			"mica: attached to the console of '%s' (EOF on "
			"input detaches)\n",
			domain);
	fflush(errf);
	if (tty) {
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}

	end = cli_console_relay(STDIN_FILENO, STDOUT_FILENO, fd, tty,
				tty ? 0 : CLI_CONSOLE_DRAIN_MS, err,
				sizeof(err));

	if (tty)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	for (i = 0; i < 4; i++)
		sigaction(end_signals[i], &old_sa[i], NULL);
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	close(fd);

	switch (end) {
	case CLI_CONSOLE_DETACHED:
	case CLI_CONSOLE_SIGNAL:
		fprintf(errf,
			"%smica: detached from the console of '%s' (the "
			"domain keeps running)\n",
			tty ? "\r\n" : "", domain);
		return 0;
	case CLI_CONSOLE_INPUT_EOF:
		return 0;
	case CLI_CONSOLE_CLOSED:
		fprintf(errf,
			"%smica: %s: the console closed (the domain stopped, "
			"or another client attached to it)\n",
			tty ? "\r\n" : "", domain);
		return 0;
	default:
		fprintf(errf, "%smica: %s: console: %s\n", tty ? "\r\n" : "",
			domain, err);
		return 1;
	}
}
