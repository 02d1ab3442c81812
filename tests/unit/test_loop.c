// SPDX-License-Identifier: MIT
/*
 * Tests of util/loop.c, the main thread's epoll loop: a table that grows
 * past any fixed size, and events of a removed watch that never reach the
 * watch that took its slot in the same batch.
 */
#include <errno.h>
#include <unistd.h>

#include "unit/test.h"
#include "util/loop.h"

#define MANY 100

struct counted {
	struct loop *loop;
	int fd;
	unsigned int calls;
	unsigned int *total;
};

static void on_counted(void *opaque, uint32_t events)
{
	struct counted *c = opaque;

	(void)events;
	event_drain(c->fd);
	c->calls++;
	if (++*c->total == MANY)
		loop_quit(c->loop);
}

/* More watches than any fixed table had; loop_mod keeps them dispatched. */
static void many_watches(void)
{
	static struct counted c[MANY];
	unsigned int i, total = 0, added = 0;
	struct loop loop;

	CHECK_EQ(loop_init(&loop), 0);
	for (i = 0; i < MANY; i++) {
		c[i] = (struct counted){ .loop = &loop, .total = &total };
		c[i].fd = event_new();
		CHECK(c[i].fd >= 0);
		CHECK_EQ(loop_add(&loop, c[i].fd, 0, on_counted, &c[i]), 0);
		CHECK_EQ(loop_mod(&loop, c[i].fd, EPOLLIN), 0);
		event_signal(c[i].fd);
		added += loop_mod(&loop, c[i].fd, EPOLLIN) == 0;
	}
	/* With a watch missing the loop would never reach MANY and quit. */
	if (added == MANY)
		CHECK_EQ(loop_run(&loop), 0);
	CHECK_EQ(total, MANY);
	for (i = 0; i < MANY; i++) {
		CHECK_EQ(c[i].calls, 1);
		loop_del(&loop, c[i].fd);
		close(c[i].fd);
	}
	CHECK_EQ(loop_mod(&loop, c[0].fd, EPOLLIN), -ENOENT);
	loop_destroy(&loop);
}

struct reuse {
	struct loop loop;
	int a, b, fresh, quit;
	unsigned int first_calls, fresh_calls;
};

static void on_fresh(void *opaque, uint32_t events)
{
	struct reuse *r = opaque;

	(void)events;
	r->fresh_calls++;
}

static void on_quit(void *opaque, uint32_t events)
{
	struct reuse *r = opaque;

	(void)events;
	loop_quit(&r->loop);
}

/*
 * a and b are both ready in one batch. Whichever runs first removes and
 * closes the other and watches a new, idle eventfd, which takes the freed
 * slot (and likely the closed fd's number): the other's event still in the
 * batch must not reach the new watch.
 */
static void first(struct reuse *r, int *self, int *other)
{
	if (r->first_calls++)
		return;
	event_drain(*self);
	loop_del(&r->loop, *other);
	close(*other);
	*other = -1;
	r->fresh = event_new();
	CHECK(r->fresh >= 0);
	CHECK_EQ(loop_add(&r->loop, r->fresh, EPOLLIN, on_fresh, r), 0);
	event_signal(r->quit); /* seen by the next epoll_wait */
}

static void on_a(void *opaque, uint32_t events)
{
	struct reuse *r = opaque;

	(void)events;
	first(r, &r->a, &r->b);
}

static void on_b(void *opaque, uint32_t events)
{
	struct reuse *r = opaque;

	(void)events;
	first(r, &r->b, &r->a);
}

static void stale_event_after_slot_reuse(void)
{
	struct reuse r = { .fresh = -1 };

	CHECK_EQ(loop_init(&r.loop), 0);
	r.a = event_new();
	r.b = event_new();
	r.quit = event_new();
	CHECK(r.a >= 0 && r.b >= 0 && r.quit >= 0);
	CHECK_EQ(loop_add(&r.loop, r.a, EPOLLIN, on_a, &r), 0);
	CHECK_EQ(loop_add(&r.loop, r.b, EPOLLIN, on_b, &r), 0);
	CHECK_EQ(loop_add(&r.loop, r.quit, EPOLLIN, on_quit, &r), 0);
	event_signal(r.a);
	event_signal(r.b);
	CHECK_EQ(loop_run(&r.loop), 0);
	CHECK_EQ(r.first_calls, 1);
	CHECK_EQ(r.fresh_calls, 0);
	loop_del(&r.loop, r.fresh);
	loop_del(&r.loop, r.quit);
	loop_del(&r.loop, r.a >= 0 ? r.a : r.b);
	close(r.fresh);
	close(r.quit);
	close(r.a >= 0 ? r.a : r.b);
	loop_destroy(&r.loop);
}

TEST_SUITE(loop, TEST_CASE(many_watches),
	   TEST_CASE(stale_event_after_slot_reuse));
