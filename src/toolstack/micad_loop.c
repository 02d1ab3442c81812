// SPDX-License-Identifier: MIT
/* micad's epoll loop (see micad_loop.h). */
#include "toolstack/micad_loop.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

int micad_loop_init(struct micad_loop *loop)
{
	loop->quit = false;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	return loop->epfd < 0 ? -errno : 0;
}

void micad_loop_destroy(struct micad_loop *loop)
{
	if (loop->epfd >= 0)
		close(loop->epfd);
	loop->epfd = -1;
}

int micad_watch_add(struct micad_loop *loop, struct micad_watch *w,
		    uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(loop->epfd, EPOLL_CTL_ADD, w->fd, &ev) ? -errno : 0;
}

int micad_watch_mod(struct micad_loop *loop, struct micad_watch *w,
		    uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, w->fd, &ev) ? -errno : 0;
}

void micad_watch_del(struct micad_loop *loop, struct micad_watch *w)
{
	if (w->fd >= 0)
		epoll_ctl(loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
}

int micad_loop_run(struct micad_loop *loop)
{
	while (!loop->quit) {
		struct epoll_event ev;
		struct micad_watch *w;
		int n = epoll_wait(loop->epfd, &ev, 1, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			continue;
		w = ev.data.ptr;
		w->fn(w, ev.events);
	}
	return 0;
}

void micad_loop_quit(struct micad_loop *loop)
{
	loop->quit = true;
}
