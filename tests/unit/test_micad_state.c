// SPDX-License-Identifier: MIT
/*
 * Unit tests of micad's state store (toolstack/micad_state.c): the schema,
 * domain rows (insert, duplicates, update, list, delete), the per-domain
 * event cap, reopening after close, and names that look like SQL.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "toolstack/micad_state.h"
#include "unit/test.h"

/* A fresh, empty database file for one test. */
static const char *fresh_db(const char *name)
{
	const char *p = test_tmpfile(name, "", 0);
	char side[4200];

	if (!p)
		return NULL;
	snprintf(side, sizeof(side), "%s-wal", p);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", p);
	unlink(side);
	return p;
}

static struct micad_dom_row row(const char *name, const char *uuid)
{
	struct micad_dom_row r = { .pid = 0 };

	snprintf(r.name, sizeof(r.name), "%s", name);
	snprintf(r.uuid, sizeof(r.uuid), "%s", uuid);
	snprintf(r.state, sizeof(r.state), "shutoff");
	r.config = (char *)"{\"name\":\"x\"}";
	r.created_ms = 1700000000123;
	return r;
}

static void open_insert_get(void)
{
	struct micad_db db;
	struct micad_dom_row r = row("web1",
				     "6f3c2a1e-5b7d-4e2f-9a10-3c4d5e6f7a8b"),
			     got;
	char err[256] = "";
	const char *path = fresh_db("state1.db");

	CHECK(path);
	CHECK_EQ(micad_db_open(&db, path, err, sizeof(err)), 0);
	r.autostart = true;
	r.pid = 4242;
	r.pid_start = 987654321;
	CHECK_EQ(micad_db_insert(&db, &r), 0);
	CHECK_EQ(micad_db_get(&db, "web1", &got), 0);
	CHECK_STR(got.name, "web1");
	CHECK_STR(got.uuid, "6f3c2a1e-5b7d-4e2f-9a10-3c4d5e6f7a8b");
	CHECK_STR(got.config, "{\"name\":\"x\"}");
	CHECK_STR(got.state, "shutoff");
	CHECK_EQ(got.pid, 4242);
	CHECK_EQ(got.pid_start, 987654321);
	CHECK(got.autostart);
	CHECK_EQ(got.created_ms, 1700000000123);
	micad_dom_row_free(&got);
	CHECK_EQ(micad_db_get(&db, "web2", &got), -ENOENT);
	CHECK(got.config == NULL);
	micad_db_close(&db);
}

static void duplicates_refused(void)
{
	struct micad_db db;
	struct micad_dom_row a =
		row("a", "00000000-0000-4000-8000-000000000001");
	struct micad_dom_row b =
		row("a", "00000000-0000-4000-8000-000000000002");
	struct micad_dom_row c =
		row("c", "00000000-0000-4000-8000-000000000001");
	char err[256];

	CHECK_EQ(micad_db_open(&db, fresh_db("state2.db"), err, sizeof(err)),
		 0);
	CHECK_EQ(micad_db_insert(&db, &a), 0);
	CHECK_EQ(micad_db_insert(&db, &b), -EEXIST); /* same name */
	CHECK_EQ(micad_db_insert(&db, &c), -EEXIST); /* same UUID */
	micad_db_close(&db);
}

static void update_list_delete(void)
{
	struct micad_db db;
	struct micad_dom_row z =
		row("zeta", "00000000-0000-4000-8000-00000000000a");
	struct micad_dom_row a =
		row("alpha", "00000000-0000-4000-8000-00000000000b");
	struct micad_dom_row m =
		row("mid", "00000000-0000-4000-8000-00000000000c");
	struct micad_dom_row *rows, got;
	char err[256];
	size_t n;

	CHECK_EQ(micad_db_open(&db, fresh_db("state3.db"), err, sizeof(err)),
		 0);
	CHECK_EQ(micad_db_insert(&db, &z), 0);
	CHECK_EQ(micad_db_insert(&db, &a), 0);
	CHECK_EQ(micad_db_insert(&db, &m), 0);
	snprintf(m.state, sizeof(m.state), "running");
	m.pid = 77;
	m.started_ms = 5;
	m.deadline_ms = 6;
	CHECK_EQ(micad_db_update(&db, &m), 0);
	CHECK_EQ(micad_db_get(&db, "mid", &got), 0);
	CHECK_STR(got.state, "running");
	CHECK_EQ(got.pid, 77);
	CHECK_EQ(got.started_ms, 5);
	CHECK_EQ(got.deadline_ms, 6);
	micad_dom_row_free(&got);

	CHECK_EQ(micad_db_list(&db, &rows, &n), 0);
	CHECK_EQ(n, 3);
	if (n == 3) {
		CHECK_STR(rows[0].name, "alpha");
		CHECK_STR(rows[1].name, "mid");
		CHECK_STR(rows[2].name, "zeta");
	}
	micad_dom_rows_free(rows, n);

	CHECK_EQ(micad_db_delete(&db, "mid"), 0);
	CHECK_EQ(micad_db_delete(&db, "mid"), -ENOENT);
	CHECK_EQ(micad_db_update(&db, &m), -ENOENT);
	CHECK_EQ(micad_db_list(&db, &rows, &n), 0);
	CHECK_EQ(n, 2);
	micad_dom_rows_free(rows, n);
	micad_db_close(&db);
}

static void events_capped(void)
{
	struct micad_db db;
	struct micad_event_row *ev;
	char err[256], kind[16];
	size_t n;
	int i;

	CHECK_EQ(micad_db_open(&db, fresh_db("state4.db"), err, sizeof(err)),
		 0);
	db.events_max = 5;
	for (i = 0; i < 8; i++) {
		snprintf(kind, sizeof(kind), "k%d", i);
		CHECK_EQ(micad_db_event(&db, "web1", 1000 + i, kind, "d"), 0);
	}
	CHECK_EQ(micad_db_event(&db, "other", 0, "created", NULL), 0);
	CHECK_EQ(micad_db_events(&db, "web1", 100, &ev, &n), 0);
	CHECK_EQ(n, 5);
	if (n == 5) {
		CHECK_STR(ev[0].kind, "k3"); /* oldest kept first */
		CHECK_STR(ev[4].kind, "k7");
		CHECK_EQ(ev[4].time_ms, 1007);
		CHECK_STR(ev[4].detail, "d");
	}
	free(ev);
	CHECK_EQ(micad_db_events(&db, "web1", 2, &ev, &n), 0);
	CHECK_EQ(n, 2);
	if (n == 2) {
		CHECK_STR(ev[0].kind, "k6");
		CHECK_STR(ev[1].kind, "k7");
	}
	free(ev);
	/* Another domain's log is not trimmed by this one's. */
	CHECK_EQ(micad_db_events(&db, "other", 10, &ev, &n), 0);
	CHECK_EQ(n, 1);
	if (n == 1)
		CHECK(ev[0].time_ms > 1600000000000ll); /* "now" */
	free(ev);
	CHECK_EQ(micad_db_events(&db, "nobody", 10, &ev, &n), 0);
	CHECK_EQ(n, 0);
	free(ev);
	micad_db_close(&db);
}

static void reopen_keeps_everything(void)
{
	struct micad_db db;
	struct micad_dom_row r = row("keep",
				     "00000000-0000-4000-8000-0000000000ff"),
			     got;
	struct micad_event_row *ev;
	const char *path = fresh_db("state5.db");
	char err[256], copy[4200];
	size_t n;

	snprintf(copy, sizeof(copy), "%s", path);
	CHECK_EQ(micad_db_open(&db, copy, err, sizeof(err)), 0);
	CHECK_EQ(micad_db_insert(&db, &r), 0);
	CHECK_EQ(micad_db_event(&db, "keep", 0, "created", "x"), 0);
	micad_db_close(&db);
	CHECK_EQ(micad_db_open(&db, copy, err, sizeof(err)), 0);
	CHECK_EQ(micad_db_get(&db, "keep", &got), 0);
	CHECK_STR(got.uuid, "00000000-0000-4000-8000-0000000000ff");
	micad_dom_row_free(&got);
	CHECK_EQ(micad_db_events(&db, "keep", 10, &ev, &n), 0);
	CHECK_EQ(n, 1);
	free(ev);
	/* A second connection, as a second micad would open: same data. */
	{
		struct micad_db db2;

		CHECK_EQ(micad_db_open(&db2, copy, err, sizeof(err)), 0);
		CHECK_EQ(micad_db_get(&db2, "keep", &got), 0);
		micad_dom_row_free(&got);
		micad_db_close(&db2);
	}
	micad_db_close(&db);
}

static void sql_looking_names(void)
{
	struct micad_db db;
	struct micad_dom_row r = row("x'); DROP TABLE domains; --",
				     "00000000-0000-4000-8000-000000000123"),
			     got;
	char err[256];

	CHECK_EQ(micad_db_open(&db, fresh_db("state6.db"), err, sizeof(err)),
		 0);
	CHECK_EQ(micad_db_insert(&db, &r), 0);
	CHECK_EQ(micad_db_event(&db, r.name, 0, "created", "'\"; --"), 0);
	CHECK_EQ(micad_db_get(&db, r.name, &got), 0);
	CHECK_STR(got.name, "x'); DROP TABLE domains; --");
	micad_dom_row_free(&got);
	micad_db_close(&db);
}

static void open_errors_name_the_file(void)
{
	struct micad_db db;
	char err[256] = "";

	CHECK(micad_db_open(&db, "/nonexistent-dir/micad.db", err,
			    sizeof(err)) < 0);
	CHECK(strstr(err, "/nonexistent-dir/micad.db") != NULL);
	CHECK(db.db == NULL);
}

static void time_format(void)
{
	char buf[40];

	micad_format_time(0, buf, sizeof(buf));
	CHECK_STR(buf, "1970-01-01T00:00:00.000Z");
	micad_format_time(1700000000123, buf, sizeof(buf));
	CHECK_STR(buf, "2023-11-14T22:13:20.123Z");
}

TEST_SUITE(micad_state, TEST_CASE(open_insert_get),
	   TEST_CASE(duplicates_refused), TEST_CASE(update_list_delete),
	   TEST_CASE(events_capped), TEST_CASE(reopen_keeps_everything),
	   TEST_CASE(sql_looking_names), TEST_CASE(open_errors_name_the_file),
	   TEST_CASE(time_format));
