/* SPDX-License-Identifier: MIT */
/*
 * A device's I/O thread: an epoll loop over the device's file descriptors
 * (queue notification eventfds, io_uring, tap, ...) plus a queue of work
 * other threads hand it (iothread_defer, iothread_call).
 *
 * Nothing here is guest-controlled; the callbacks it runs are.
 *
 * Watches are added and removed before the thread starts, after it stopped,
 * or on the thread itself; a callback may remove any watch, its own
 * included. The thread blocks every signal.
 */
#ifndef MICA_VIRTIO_IOTHREAD_H
#define MICA_VIRTIO_IOTHREAD_H

#include <stdbool.h>
#include <stdint.h>

#include "util/loop.h"

struct iothread;

/*
 * Creates the thread's loop; the thread itself starts with
 * iothread_start(). name is for the thread name (truncated to 15 bytes).
 * Returns 0 or -errno.
 */
int iothread_new(struct iothread **out, const char *name);
int iothread_start(struct iothread *t);
/*
 * Runs fn(opaque) on the thread (or now, when called before start or after
 * stop), then makes the thread exit, runs the work still queued, and joins
 * it. fn may be NULL.
 */
void iothread_stop(struct iothread *t, void (*fn)(void *opaque), void *opaque);
/* Frees a stopped (or never started) thread. */
void iothread_free(struct iothread *t);

/* events: EPOLLIN/EPOLLOUT. Returns 0 or -errno (-ENOSPC: too many). */
int iothread_watch(struct iothread *t, int fd, uint32_t events, loop_fn fn,
		   void *opaque);
void iothread_unwatch(struct iothread *t, int fd);

/*
 * Queues fn(opaque) to run on the thread soon. Any thread. Returns 0,
 * -ENOMEM, or -ESHUTDOWN once the thread has stopped.
 */
int iothread_defer(struct iothread *t, void (*fn)(void *opaque), void *opaque);
/*
 * Runs fn(opaque) on the thread and waits until it returned. On the thread
 * itself, or when the thread is not running, fn runs at once. The caller
 * must not hold a lock fn (or anything else the thread runs) takes.
 */
void iothread_call(struct iothread *t, void (*fn)(void *opaque), void *opaque);

/* Whether the calling thread is t's thread. */
bool iothread_is_current(const struct iothread *t);

#endif
