/* SPDX-License-Identifier: MIT */
/*
 * The main thread's event loop: epoll over file descriptors with one
 * callback each. Only the main thread touches a loop; other threads wake it
 * through an eventfd they are given.
 *
 * The watch table grows as needed (no fixed cap). Each slot carries a
 * generation in its epoll data, so an event still in a dispatched batch for
 * a watch that a callback removed, and whose slot a new watch took, is
 * dropped instead of reaching the new watch's callback.
 */
#ifndef MICA_UTIL_LOOP_H
#define MICA_UTIL_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

typedef void (*loop_fn)(void *opaque, uint32_t events);

struct loop {
	int epfd;
	bool quit;
	struct loop_watch {
		int fd; /* -1: free */
		uint32_t gen; /* bumped when the slot is taken */
		loop_fn fn;
		void *opaque;
	} * watches;
	unsigned int nr_watches; /* slots allocated */
};

int loop_init(struct loop *loop);
/* Frees the loop; the watched fds are the owners' to close. */
void loop_destroy(struct loop *loop);
/*
 * events: EPOLLIN/EPOLLOUT. Returns 0, -EPERM for a non-pollable fd,
 * -ENOMEM when the table cannot grow.
 */
int loop_add(struct loop *loop, int fd, uint32_t events, loop_fn fn,
	     void *opaque);
int loop_mod(struct loop *loop, int fd, uint32_t events);
void loop_del(struct loop *loop, int fd);
/* Runs callbacks until loop_quit(). Returns 0 or -errno. */
int loop_run(struct loop *loop);
void loop_quit(struct loop *loop);

/* An eventfd: a wake-up any thread may send. */
int event_new(void);
void event_signal(int fd);
void event_drain(int fd);

#endif
