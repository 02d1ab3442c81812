/* SPDX-License-Identifier: MIT */
/*
 * The terminal as a character backend: stdin to the guest, guest output to
 * stdout. On a tty, stdin is put in raw mode with an escape prefix (Ctrl-A)
 * for mica's own keys, and the terminal is restored on every exit path,
 * including fatal signals. Works the same with pipes and files (CI).
 */
#ifndef MICA_BACKENDS_STDIO_H
#define MICA_BACKENDS_STDIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backends/chardev.h"
#include "util/loop.h"

#define STDIO_OUT_BUF (64u << 10)
#define STDIO_IN_BUF 256u

struct stdio_chardev {
	struct chardev chr; /* first: the chardev ops recover the container */
	struct loop *loop;
	void (*on_quit)(void *opaque); /* Ctrl-A x */
	void *quit_opaque;

	/* Output: a ring drained by its own thread (stdout may block). */
	pthread_t out_thread;
	bool out_thread_started;
	pthread_mutex_t out_lock;
	pthread_cond_t out_cond; /* data arrived, space freed, or stop */
	uint8_t out_buf[STDIO_OUT_BUF];
	size_t out_head, out_len;
	bool out_fe_waiting; /* a write was short: call tx_ready later */
	bool out_dead; /* stdout gone: discard output */
	bool out_stop;

	/* Input, all on the main thread. */
	bool in_tty, in_pollable, in_watched, in_eof, escape;
	/* One read of STDIO_IN_BUF bytes expands to at most twice that. */
	uint8_t in_buf[2 * STDIO_IN_BUF];
	size_t in_pos, in_len; /* bytes the frontend has not taken yet */
	int rx_event; /* frontend drained: try to deliver again */
};

int stdio_chardev_open(struct stdio_chardev *s, struct loop *loop,
		       void (*on_quit)(void *), void *opaque);
/* Writes out what is buffered (bounded wait), restores the terminal. */
void stdio_chardev_close(struct stdio_chardev *s);
/* Restores the terminal if mica changed it; async-signal-safe. */
void stdio_restore_terminal(void);

#endif
