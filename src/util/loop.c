// SPDX-License-Identifier: MIT
/* epoll event loop and eventfd helpers. Nothing here is guest-controlled. */
#include "util/loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

int loop_init(struct loop *loop)
{
	*loop = (struct loop){ .epfd = epoll_create1(EPOLL_CLOEXEC) };
	return loop->epfd < 0 ? -errno : 0;
}

void loop_destroy(struct loop *loop)
{
	if (loop->epfd >= 0)
		close(loop->epfd);
	loop->epfd = -1;
	free(loop->watches);
	loop->watches = NULL;
	loop->nr_watches = 0;
}

/* A free slot, growing the table when all are taken; -1: out of memory. */
static int free_slot(struct loop *loop)
{
	unsigned int i, nr = loop->nr_watches ? 2 * loop->nr_watches : 16;
	struct loop_watch *w;

	for (i = 0; i < loop->nr_watches; i++)
		if (loop->watches[i].fd < 0)
			return (int)i;
	w = reallocarray(loop->watches, nr, sizeof(*w));
	if (!w)
		return -1;
	for (i = loop->nr_watches; i < nr; i++)
		w[i] = (struct loop_watch){ .fd = -1 };
	i = loop->nr_watches;
	loop->watches = w;
	loop->nr_watches = nr;
	return (int)i;
}

static uint64_t watch_data(const struct loop *loop, int i)
{
	return (uint64_t)loop->watches[i].gen << 32 | (uint32_t)i;
}

int loop_add(struct loop *loop, int fd, uint32_t events, loop_fn fn,
	     void *opaque)
{
	struct epoll_event ev = { .events = events };
	int i = free_slot(loop);

	if (i < 0)
		return -ENOMEM;
	loop->watches[i].gen++;
	ev.data.u64 = watch_data(loop, i);
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev))
		return -errno;
	loop->watches[i].fd = fd;
	loop->watches[i].fn = fn;
	loop->watches[i].opaque = opaque;
	return 0;
}

static int find(const struct loop *loop, int fd)
{
	unsigned int i;

	for (i = 0; i < loop->nr_watches; i++)
		if (loop->watches[i].fd == fd)
			return (int)i;
	return -1;
}

int loop_mod(struct loop *loop, int fd, uint32_t events)
{
	int i = find(loop, fd);
	struct epoll_event ev = { .events = events };

	if (i < 0)
		return -ENOENT;
	ev.data.u64 = watch_data(loop, i);
	return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) ? -errno : 0;
}

void loop_del(struct loop *loop, int fd)
{
	int i = find(loop, fd);

	if (i < 0)
		return;
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	loop->watches[i].fd = -1;
}

int loop_run(struct loop *loop)
{
	struct epoll_event evs[16];

	loop->quit = false;
	while (!loop->quit) {
		int n = epoll_wait(loop->epfd, evs, 16, -1), i;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (i = 0; i < n && !loop->quit; i++) {
			uint32_t slot = (uint32_t)evs[i].data.u64;
			uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
			struct loop_watch *w;

			/*
			 * A callback may have removed this watch, and a
			 * later one may have reused its slot (the table may
			 * also have moved: look it up for each event).
			 */
			if (slot >= loop->nr_watches)
				continue;
			w = &loop->watches[slot];
			if (w->fd >= 0 && w->gen == gen)
				w->fn(w->opaque, evs[i].events);
		}
	}
	return 0;
}

void loop_quit(struct loop *loop)
{
	loop->quit = true;
}

int event_new(void)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	return fd < 0 ? -errno : fd;
}

void event_signal(int fd)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is saturated: a wake-up is pending. */
	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return;
}

void event_drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0)
		return;
}
