/* SPDX-License-Identifier: MIT */
/*
 * micad's state store: one SQLite database (WAL, synchronous=FULL) with the
 * domains micad manages and a per-domain event log.
 *
 *   domains(name PRIMARY KEY, uuid UNIQUE, config (canonical JSON), state,
 *           pid, pid_start, autostart, created, started, deadline)
 *   events(id, domain, time, kind, detail)   -- at most MICAD_EVENTS_MAX
 *                                               kept per domain name
 *
 * Times are milliseconds since the epoch (UTC). Every write is its own
 * transaction, so a micad killed at any point leaves the database as it
 * was after the last completed call. The store is used from micad's one
 * event-loop thread; the SQLite connection is opened in its serialized mode
 * anyway, so a stray use from another thread is safe, not undefined.
 *
 * Domain names and kinds come from API clients: they are bound as
 * parameters, never pasted into SQL.
 */
#ifndef MICA_TOOLSTACK_MICAD_STATE_H
#define MICA_TOOLSTACK_MICAD_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MICAD_EVENTS_MAX 1000 /* kept per domain */
#define MICAD_STATE_NAME_MAX 63
#define MICAD_DETAIL_MAX 256

struct sqlite3;

struct micad_db {
	struct sqlite3 *db;
	unsigned int events_max; /* MICAD_EVENTS_MAX; tests lower it */
};

/* One row of the domains table. config is owned (malloc). */
struct micad_dom_row {
	char name[MICAD_STATE_NAME_MAX + 1];
	char uuid[37];
	char *config; /* canonical JSON */
	char state[16];
	long pid; /* 0: no VMM */
	uint64_t pid_start; /* the VMM's start time, /proc/PID/stat field 22 */
	bool autostart;
	int64_t created_ms, started_ms; /* 0: never started */
	int64_t deadline_ms; /* shutting-down: when micad destroys it */
};

struct micad_event_row {
	int64_t time_ms;
	char kind[32];
	char detail[MICAD_DETAIL_MAX];
};

/*
 * Opens (creating if needed) the database at path. Returns 0, or -errno
 * with a message naming the file in err.
 */
int micad_db_open(struct micad_db *db, const char *path, char *err,
		  size_t errlen);
void micad_db_close(struct micad_db *db);

/* -EEXIST: the name or the UUID is taken. */
int micad_db_insert(struct micad_db *db, const struct micad_dom_row *row);
/* Rewrites everything but name, uuid, config, created. -ENOENT if absent. */
int micad_db_update(struct micad_db *db, const struct micad_dom_row *row);
int micad_db_delete(struct micad_db *db, const char *name);
/* Fills *row (free it with micad_dom_row_free()); -ENOENT if absent. */
int micad_db_get(struct micad_db *db, const char *name,
		 struct micad_dom_row *row);
/*
 * Every domain in name order: *rows is a malloc'ed array of *nr rows (free
 * with micad_dom_rows_free()).
 */
int micad_db_list(struct micad_db *db, struct micad_dom_row **rows, size_t *nr);
void micad_dom_row_free(struct micad_dom_row *row);
void micad_dom_rows_free(struct micad_dom_row *rows, size_t nr);

/* Appends an event (time_ms 0: now) and trims the domain's log. */
int micad_db_event(struct micad_db *db, const char *name, int64_t time_ms,
		   const char *kind, const char *detail);
/*
 * The newest limit events of a domain, oldest first: *out is a malloc'ed
 * array of *nr (free()).
 */
int micad_db_events(struct micad_db *db, const char *name, unsigned int limit,
		    struct micad_event_row **out, size_t *nr);

/* Milliseconds since the epoch, and their RFC 3339 form (UTC, ms). */
int64_t micad_now_ms(void);
void micad_format_time(int64_t ms, char *buf, size_t len);

#endif
