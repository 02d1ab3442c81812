// SPDX-License-Identifier: MIT
/*
 * stdin/stdout backend for the serial console. Host side only: it holds no
 * guest pointers. What the guest writes is buffered and written by a
 * dedicated thread, so a slow or blocked stdout slows the guest's console
 * (through the UART's THRE flow control) but never a vCPU, and nothing is
 * dropped while stdout is open.
 */
#include "backends/stdio.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

#define ESCAPE_CHAR 0x01 /* Ctrl-A */

static struct termios saved_termios;
static volatile sig_atomic_t termios_changed;

void stdio_restore_terminal(void)
{
	if (termios_changed) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_termios);
		termios_changed = 0;
	}
}

static void fatal_signal(int sig)
{
	stdio_restore_terminal();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void enter_raw_mode(void)
{
	static const int fatal[] = { SIGSEGV, SIGBUS,  SIGILL,
				     SIGFPE,  SIGABRT, SIGQUIT };
	struct termios raw;
	unsigned int i;

	if (tcgetattr(STDIN_FILENO, &saved_termios))
		return;
	raw = saved_termios;
	cfmakeraw(&raw);
	/*
	 * Keep output processing (ONLCR), so that lines of mica's own that end
	 * in "\n" start at the left margin on the raw terminal.
	 */
	raw.c_oflag = saved_termios.c_oflag;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw))
		return;
	termios_changed = 1;
	atexit(stdio_restore_terminal);
	for (i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
		struct sigaction sa = { .sa_handler = fatal_signal };

		sigemptyset(&sa.sa_mask);
		sigaction(fatal[i], &sa, NULL);
	}
}

/* --- output ------------------------------------------------------------ */

static size_t stdio_write(struct chardev *chr, const uint8_t *buf, size_t len)
{
	struct stdio_chardev *s = (struct stdio_chardev *)chr;
	size_t n, i;

	pthread_mutex_lock(&s->out_lock);
	if (s->out_dead) {
		pthread_mutex_unlock(&s->out_lock);
		return len;
	}
	n = STDIO_OUT_BUF - s->out_len;
	if (n > len)
		n = len;
	for (i = 0; i < n; i++)
		s->out_buf[(s->out_head + s->out_len + i) % STDIO_OUT_BUF] =
			buf[i];
	s->out_len += n;
	if (n < len)
		s->out_fe_waiting = true;
	if (n)
		pthread_cond_broadcast(&s->out_cond);
	pthread_mutex_unlock(&s->out_lock);
	return n;
}

static void *output_thread(void *arg)
{
	struct stdio_chardev *s = arg;

	pthread_mutex_lock(&s->out_lock);
	for (;;) {
		size_t chunk;
		ssize_t w;
		bool notify;

		while (!s->out_len && !s->out_stop)
			pthread_cond_wait(&s->out_cond, &s->out_lock);
		if (!s->out_len)
			break; /* stop, and everything is written */
		chunk = s->out_len;
		if (chunk > STDIO_OUT_BUF - s->out_head)
			chunk = STDIO_OUT_BUF - s->out_head;
		pthread_mutex_unlock(&s->out_lock);
		w = write(STDOUT_FILENO, s->out_buf + s->out_head, chunk);
		pthread_mutex_lock(&s->out_lock);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w <= 0) {
			/* Reader gone (EPIPE) or a broken stdout: discard. */
			s->out_dead = true;
			w = (ssize_t)s->out_len;
		}
		s->out_head = (s->out_head + (size_t)w) % STDIO_OUT_BUF;
		s->out_len -= (size_t)w;
		pthread_cond_broadcast(&s->out_cond);
		notify = s->out_fe_waiting;
		s->out_fe_waiting = false;
		if (notify) {
			pthread_mutex_unlock(&s->out_lock);
			chardev_fe_tx_ready(&s->chr);
			pthread_mutex_lock(&s->out_lock);
		}
	}
	pthread_mutex_unlock(&s->out_lock);
	return NULL;
}

/* --- input ------------------------------------------------------------- */

static void watch_input(struct stdio_chardev *s, bool on)
{
	if (!s->in_pollable || s->in_eof || s->in_watched == on)
		return;
	if (loop_mod(s->loop, STDIN_FILENO, on ? EPOLLIN : 0) == 0)
		s->in_watched = on;
}

/* Hands held bytes to the frontend. Returns true if all were taken. */
static bool deliver(struct stdio_chardev *s)
{
	if (s->in_pos == s->in_len)
		return true;
	s->in_pos += chardev_fe_receive(&s->chr, s->in_buf + s->in_pos,
					s->in_len - s->in_pos);
	if (s->in_pos < s->in_len)
		return false;
	s->in_pos = s->in_len = 0;
	return true;
}

static void print_escape_help(void)
{
	static const char help[] =
		"\nmica console keys:\n"
		"  Ctrl-A x       quit mica (the guest is stopped)\n"
		"  Ctrl-A Ctrl-A  send Ctrl-A to the guest\n"
		"  Ctrl-A h       this help\n";

	if (write(STDERR_FILENO, help, sizeof(help) - 1) < 0)
		return;
}

/* Reads what stdin has and queues it for the guest. */
static void read_input(struct stdio_chardev *s)
{
	uint8_t raw[STDIO_IN_BUF];
	ssize_t n, i;

	/* Only called with nothing held back; see STDIO_IN_BUF. */

	n = read(STDIN_FILENO, raw, sizeof(raw));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		/* EOF or error: the guest simply gets no more input. */
		if (s->in_pollable)
			loop_del(s->loop, STDIN_FILENO);
		s->in_eof = true;
		s->in_watched = false;
		return;
	}
	for (i = 0; i < n; i++) {
		uint8_t c = raw[i];

		if (s->in_tty && s->escape) {
			s->escape = false;
			if (c == 'x' || c == 'X') {
				s->on_quit(s->quit_opaque);
				return;
			}
			if (c == 'h' || c == 'H' || c == '?') {
				print_escape_help();
				continue;
			}
			if (c != ESCAPE_CHAR)
				s->in_buf[s->in_len++] = ESCAPE_CHAR;
		} else if (s->in_tty && c == ESCAPE_CHAR) {
			s->escape = true;
			continue;
		}
		s->in_buf[s->in_len++] = c;
	}
}

static void pump_input(struct stdio_chardev *s)
{
	if (!deliver(s)) {
		watch_input(s, false);
		return;
	}
	if (s->in_eof)
		return;
	if (s->in_pollable) {
		watch_input(s, true);
		return;
	}
	/* A file or /dev/null: always readable, so read until full or EOF. */
	read_input(s);
	if (!s->in_eof && deliver(s))
		event_signal(s->rx_event);
}

static void on_stdin(void *opaque, uint32_t events)
{
	struct stdio_chardev *s = opaque;

	(void)events;
	read_input(s);
	pump_input(s);
}

static void on_rx_event(void *opaque, uint32_t events)
{
	struct stdio_chardev *s = opaque;

	(void)events;
	event_drain(s->rx_event);
	pump_input(s);
}

static void stdio_rx_ready(struct chardev *chr)
{
	struct stdio_chardev *s = (struct stdio_chardev *)chr;

	event_signal(s->rx_event);
}

static const struct chardev_ops stdio_ops = {
	.write = stdio_write,
	.rx_ready = stdio_rx_ready,
};

int stdio_chardev_open(struct stdio_chardev *s, struct loop *loop,
		       void (*on_quit)(void *), void *opaque)
{
	int rc;

	memset(s, 0, sizeof(*s));
	s->chr.ops = &stdio_ops;
	pthread_mutex_init(&s->chr.fe_lock, NULL);
	pthread_mutex_init(&s->out_lock, NULL);
	pthread_cond_init(&s->out_cond, NULL);
	s->loop = loop;
	s->on_quit = on_quit;
	s->quit_opaque = opaque;
	s->rx_event = event_new();
	if (s->rx_event < 0)
		return s->rx_event;
	rc = loop_add(loop, s->rx_event, EPOLLIN, on_rx_event, s);
	if (rc)
		return rc;

	s->in_tty = isatty(STDIN_FILENO);
	if (s->in_tty)
		enter_raw_mode();
	rc = loop_add(loop, STDIN_FILENO, EPOLLIN, on_stdin, s);
	if (rc == 0) {
		s->in_pollable = true;
		s->in_watched = true;
	} else if (rc == -EPERM) {
		event_signal(s->rx_event); /* start reading the file */
	} else {
		s->in_eof = true; /* no stdin at all (closed) */
	}

	rc = pthread_create(&s->out_thread, NULL, output_thread, s);
	if (rc)
		return -rc;
	pthread_setname_np(s->out_thread, "console-out");
	s->out_thread_started = true;
	return 0;
}

void stdio_chardev_close(struct stdio_chardev *s)
{
	struct timespec deadline;
	int rc = 0;

	if (s->out_thread_started) {
		/* Give stdout a few seconds to take the rest of the output. */
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += 5;
		pthread_mutex_lock(&s->out_lock);
		s->out_stop = true;
		pthread_cond_broadcast(&s->out_cond);
		while (s->out_len && !s->out_dead && rc == 0)
			rc = pthread_cond_timedwait(&s->out_cond, &s->out_lock,
						    &deadline);
		pthread_mutex_unlock(&s->out_lock);
		if (rc)
			pthread_cancel(s->out_thread); /* stuck in write() */
		pthread_join(s->out_thread, NULL);
		s->out_thread_started = false;
	}
	if (s->in_pollable && !s->in_eof)
		loop_del(s->loop, STDIN_FILENO);
	if (s->rx_event >= 0) {
		loop_del(s->loop, s->rx_event);
		close(s->rx_event);
		s->rx_event = -1;
	}
	stdio_restore_terminal();
}
