// SPDX-License-Identifier: MIT
/*
 * A device's I/O thread: epoll over its watches, and a queue of work items
 * from other threads (see iothread.h). Nothing here is guest-controlled.
 *
 * Locking: t->lock guards the work queue, the watch table and the state
 * flags; it is a leaf (callbacks run without it).
 */
#include "virtio/iothread.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "util/log.h"

#define IOTHREAD_MAX_WATCHES 128
#define WAKE_SLOT UINT32_MAX

enum work_kind {
	WORK_DEFER, /* malloc'ed; freed after it ran */
	WORK_CALL, /* on the caller's stack; the caller waits for done */
	WORK_STOP, /* the caller's; the thread exits after it */
};

struct work {
	void (*fn)(void *opaque);
	void *opaque;
	enum work_kind kind;
	bool done;
	struct work *next;
};

struct watch {
	int fd; /* -1: free */
	uint32_t gen; /* tells a stale epoll event from a reused slot */
	loop_fn fn;
	void *opaque;
};

struct iothread {
	char name[16];
	int epfd, wake;
	pthread_t tid;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a WORK_CALL or WORK_STOP item is done */
	bool running; /* started and not joined */
	bool shutdown; /* stopped: no more work accepted */
	bool quit; /* the thread's own: leave the loop */
	struct work *head, *tail;
	struct watch watches[IOTHREAD_MAX_WATCHES];
};

/* The I/O thread the calling thread is, if any. */
static __thread struct iothread *current;

int iothread_new(struct iothread **out, const char *name)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = WAKE_SLOT };
	struct iothread *t;
	unsigned int i;
	int rc;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->wake = -1;
	for (i = 0; i < IOTHREAD_MAX_WATCHES; i++)
		t->watches[i].fd = -1;
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (t->epfd < 0) {
		rc = -errno;
		goto free_t;
	}
	t->wake = event_new();
	if (t->wake < 0) {
		rc = t->wake;
		goto close_epfd;
	}
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->wake, &ev)) {
		rc = -errno;
		goto close_wake;
	}
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	*out = t;
	return 0;

close_wake:
	close(t->wake);
close_epfd:
	close(t->epfd);
free_t:
	free(t);
	return rc;
}

/*
 * Takes the first queued item. last: the thread is leaving; when the queue
 * is empty, refuse further work in the same critical section, so no item
 * can slip in after the final look.
 */
static struct work *pop_work(struct iothread *t, bool last)
{
	struct work *w;

	pthread_mutex_lock(&t->lock);
	w = t->head;
	if (w) {
		t->head = w->next;
		if (!t->head)
			t->tail = NULL;
	} else if (last) {
		t->shutdown = true;
	}
	pthread_mutex_unlock(&t->lock);
	return w;
}

static void run_work(struct iothread *t, struct work *w)
{
	if (w->fn)
		w->fn(w->opaque);
	if (w->kind == WORK_DEFER) {
		free(w);
		return;
	}
	if (w->kind == WORK_STOP)
		t->quit = true;
	pthread_mutex_lock(&t->lock);
	w->done = true;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

static void dispatch(struct iothread *t, uint64_t data, uint32_t events)
{
	uint32_t slot = (uint32_t)data, gen = (uint32_t)(data >> 32);
	struct watch *w;
	loop_fn fn = NULL;
	void *opaque = NULL;

	if (slot >= IOTHREAD_MAX_WATCHES)
		return;
	pthread_mutex_lock(&t->lock);
	w = &t->watches[slot];
	if (w->fd >= 0 && w->gen == gen) {
		fn = w->fn;
		opaque = w->opaque;
	}
	pthread_mutex_unlock(&t->lock);
	if (fn)
		fn(opaque, events);
}

static void *thread_main(void *arg)
{
	struct iothread *t = arg;
	struct epoll_event evs[32];
	struct work *w;

	current = t;
	while (!t->quit) {
		int n = epoll_wait(t->epfd, evs, 32, -1), i;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("%s: epoll_wait: %s", t->name, strerror(errno));
			break;
		}
		for (i = 0; i < n && !t->quit; i++) {
			if (evs[i].data.u64 != WAKE_SLOT) {
				dispatch(t, evs[i].data.u64, evs[i].events);
				continue;
			}
			event_drain(t->wake);
			while (!t->quit && (w = pop_work(t, false)))
				run_work(t, w);
		}
	}
	/* Run what is still queued; later iothread_defer() calls fail. */
	while ((w = pop_work(t, true)))
		run_work(t, w);
	return NULL;
}

int iothread_start(struct iothread *t)
{
	sigset_t all, old;
	int rc;

	pthread_mutex_lock(&t->lock);
	t->running = true;
	pthread_mutex_unlock(&t->lock);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&t->tid, NULL, thread_main, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		pthread_mutex_lock(&t->lock);
		t->running = false;
		pthread_mutex_unlock(&t->lock);
		return -rc;
	}
	pthread_setname_np(t->tid, t->name);
	return 0;
}

/*
 * Appends w and wakes the thread. Returns false once it has shut down, or,
 * unless early, while it is not running (a deferred item may wait for
 * iothread_start(); one whose caller waits for it may not).
 */
static bool enqueue(struct iothread *t, struct work *w, bool early)
{
	pthread_mutex_lock(&t->lock);
	if (t->shutdown || (!t->running && !early)) {
		pthread_mutex_unlock(&t->lock);
		return false;
	}
	w->next = NULL;
	if (t->tail)
		t->tail->next = w;
	else
		t->head = w;
	t->tail = w;
	pthread_mutex_unlock(&t->lock);
	event_signal(t->wake);
	return true;
}

static void wait_done(struct iothread *t, struct work *w)
{
	pthread_mutex_lock(&t->lock);
	while (!w->done)
		pthread_cond_wait(&t->cond, &t->lock);
	pthread_mutex_unlock(&t->lock);
}

bool iothread_is_current(const struct iothread *t)
{
	return current == t;
}

void iothread_stop(struct iothread *t, void (*fn)(void *opaque), void *opaque)
{
	struct work w = {
		.fn = fn,
		.opaque = opaque,
		.kind = WORK_STOP,
	};

	if (!enqueue(t, &w, false)) {
		if (fn)
			fn(opaque);
		return;
	}
	wait_done(t, &w);
	pthread_join(t->tid, NULL);
	pthread_mutex_lock(&t->lock);
	t->running = false;
	t->shutdown = true;
	pthread_mutex_unlock(&t->lock);
}

void iothread_free(struct iothread *t)
{
	struct work *w;

	if (!t)
		return;
	while ((w = pop_work(t, false))) /* never started: queued defers */
		if (w->kind == WORK_DEFER)
			free(w);
	close(t->wake);
	close(t->epfd);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

int iothread_defer(struct iothread *t, void (*fn)(void *opaque), void *opaque)
{
	struct work *w = malloc(sizeof(*w));

	if (!w)
		return -ENOMEM;
	*w = (struct work){ .fn = fn, .opaque = opaque, .kind = WORK_DEFER };
	if (enqueue(t, w, true))
		return 0;
	free(w);
	return -ESHUTDOWN;
}

void iothread_call(struct iothread *t, void (*fn)(void *opaque), void *opaque)
{
	struct work w = {
		.fn = fn,
		.opaque = opaque,
		.kind = WORK_CALL,
	};

	if (iothread_is_current(t) || !enqueue(t, &w, false)) {
		fn(opaque);
		return;
	}
	wait_done(t, &w);
}

int iothread_watch(struct iothread *t, int fd, uint32_t events, loop_fn fn,
		   void *opaque)
{
	struct epoll_event ev = { .events = events };
	unsigned int i;
	int rc = 0;

	pthread_mutex_lock(&t->lock);
	for (i = 0; i < IOTHREAD_MAX_WATCHES; i++)
		if (t->watches[i].fd < 0)
			break;
	if (i == IOTHREAD_MAX_WATCHES) {
		rc = -ENOSPC;
		goto out;
	}
	t->watches[i].gen++;
	ev.data.u64 = (uint64_t)t->watches[i].gen << 32 | i;
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		rc = -errno;
		goto out;
	}
	t->watches[i].fd = fd;
	t->watches[i].fn = fn;
	t->watches[i].opaque = opaque;
out:
	pthread_mutex_unlock(&t->lock);
	return rc;
}

void iothread_unwatch(struct iothread *t, int fd)
{
	unsigned int i;

	pthread_mutex_lock(&t->lock);
	for (i = 0; i < IOTHREAD_MAX_WATCHES; i++) {
		if (t->watches[i].fd != fd)
			continue;
		epoll_ctl(t->epfd, EPOLL_CTL_DEL, fd, NULL);
		t->watches[i].fd = -1;
		break;
	}
	pthread_mutex_unlock(&t->lock);
}
