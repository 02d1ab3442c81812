/* SPDX-License-Identifier: MIT */
/*
 * micad's event loop: epoll over any number of watches (one pidfd per
 * domain, so util/loop.h's fixed table is too small). A watch is embedded
 * in its owner; the loop takes one event per epoll_wait() so that a
 * callback may free another watch's owner without leaving a stale pointer
 * in a batch still to be dispatched.
 */
#ifndef MICA_TOOLSTACK_MICAD_LOOP_H
#define MICA_TOOLSTACK_MICAD_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

struct micad_watch {
	int fd; /* -1: not watched */
	void (*fn)(struct micad_watch *w, uint32_t events);
};

struct micad_loop {
	int epfd;
	bool quit;
};

int micad_loop_init(struct micad_loop *loop);
void micad_loop_destroy(struct micad_loop *loop);
/* Watches w->fd for events (EPOLLIN...). Returns 0 or -errno. */
int micad_watch_add(struct micad_loop *loop, struct micad_watch *w,
		    uint32_t events);
int micad_watch_mod(struct micad_loop *loop, struct micad_watch *w,
		    uint32_t events);
void micad_watch_del(struct micad_loop *loop, struct micad_watch *w);
/* Dispatches until micad_loop_quit(). Returns 0 or -errno. */
int micad_loop_run(struct micad_loop *loop);
void micad_loop_quit(struct micad_loop *loop);

#endif
