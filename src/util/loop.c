// SPDX-License-Identifier: MIT
/* epoll event loop and eventfd helpers. Nothing here is guest-controlled. */
#include "util/loop.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

int loop_init(struct loop *loop)
{
	unsigned int i;

	memset(loop, 0, sizeof(*loop));
	for (i = 0; i < LOOP_MAX_WATCHES; i++)
		loop->watches[i].fd = -1;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	return loop->epfd < 0 ? -errno : 0;
}

void loop_destroy(struct loop *loop)
{
	if (loop->epfd >= 0)
		close(loop->epfd);
	loop->epfd = -1;
}

int loop_add(struct loop *loop, int fd, uint32_t events, loop_fn fn,
	     void *opaque)
{
	struct epoll_event ev = { .events = events };
	unsigned int i;

	for (i = 0; i < LOOP_MAX_WATCHES; i++)
		if (loop->watches[i].fd < 0)
			break;
	if (i == LOOP_MAX_WATCHES)
		return -ENOSPC;
	ev.data.u32 = i;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev))
		return -errno;
	loop->watches[i] = (struct loop_watch){ fd, fn, opaque };
	return 0;
}

static int find(const struct loop *loop, int fd)
{
	int i;

	for (i = 0; i < LOOP_MAX_WATCHES; i++)
		if (loop->watches[i].fd == fd)
			return i;
	return -1;
}

int loop_mod(struct loop *loop, int fd, uint32_t events)
{
	int i = find(loop, fd);
	struct epoll_event ev = { .events = events };

	if (i < 0)
		return -ENOENT;
	ev.data.u32 = (uint32_t)i;
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
			struct loop_watch *w = &loop->watches[evs[i].data.u32];

			/* A callback may have removed this watch. */
			if (w->fd >= 0)
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
