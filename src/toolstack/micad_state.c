// SPDX-License-Identifier: MIT
/*
 * micad's state store in SQLite (see micad_state.h for the schema and the
 * rules). Every statement binds its values; strings read back are copied
 * into bounded fields, so a database edited by hand cannot overflow them.
 */
#include "toolstack/micad_state.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCHEMA_VERSION 1

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS domains ("
	" name TEXT PRIMARY KEY NOT NULL,"
	" uuid TEXT NOT NULL UNIQUE,"
	" config TEXT NOT NULL,"
	" state TEXT NOT NULL,"
	" pid INTEGER NOT NULL DEFAULT 0,"
	" pid_start INTEGER NOT NULL DEFAULT 0,"
	" autostart INTEGER NOT NULL DEFAULT 0,"
	" created INTEGER NOT NULL,"
	" started INTEGER NOT NULL DEFAULT 0,"
	" deadline INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS events ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" domain TEXT NOT NULL,"
	" time INTEGER NOT NULL,"
	" kind TEXT NOT NULL,"
	" detail TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX IF NOT EXISTS events_by_domain ON events(domain, id);";

int64_t micad_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void micad_format_time(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!gmtime_r(&t, &tm)) {
		snprintf(buf, len, "1970-01-01T00:00:00.000Z");
		return;
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static int sql_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_READONLY:
		return -EROFS;
	default:
		return -EIO;
	}
}

int micad_db_open(struct micad_db *db, const char *path, char *err,
		  size_t errlen)
{
	char *msg = NULL;
	int rc;

	db->db = NULL;
	db->events_max = MICAD_EVENTS_MAX;
	rc = sqlite3_open_v2(path, &db->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				     SQLITE_OPEN_FULLMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "state database '%s': %s", path,
			 db->db ? sqlite3_errmsg(db->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_busy_timeout(db->db, 2000);
	rc = sqlite3_exec(db->db,
			  "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
			  NULL, NULL, &msg);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db->db, schema, NULL, NULL, &msg);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db->db, "PRAGMA user_version=1;", NULL, NULL,
				  &msg);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "state database '%s': %s", path,
			 msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		goto fail;
	}
	return 0;

fail:
	rc = sql_errno(rc);
	sqlite3_close(db->db);
	db->db = NULL;
	return rc ? rc : -EIO;
}

void micad_db_close(struct micad_db *db)
{
	if (db->db)
		sqlite3_close(db->db);
	db->db = NULL;
}

static int prepare(struct micad_db *db, const char *sql, sqlite3_stmt **st)
{
	return sql_errno(sqlite3_prepare_v2(db->db, sql, -1, st, NULL));
}

/* Steps a statement that returns no rows, and finalizes it. */
static int run(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : (sql_errno(rc) ? sql_errno(rc) : -EIO);
}

int micad_db_insert(struct micad_db *db, const struct micad_dom_row *row)
{
	sqlite3_stmt *st;
	int rc;

	rc = prepare(db,
		     "INSERT INTO domains(name, uuid, config, state, pid,"
		     " pid_start, autostart, created, started, deadline)"
		     " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
		     &st);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, row->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, row->uuid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, row->config ? row->config : "{}", -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(st, 4, row->state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, row->pid);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)row->pid_start);
	sqlite3_bind_int(st, 7, row->autostart);
	sqlite3_bind_int64(st, 8, row->created_ms);
	sqlite3_bind_int64(st, 9, row->started_ms);
	sqlite3_bind_int64(st, 10, row->deadline_ms);
	return run(st);
}

int micad_db_update(struct micad_db *db, const struct micad_dom_row *row)
{
	sqlite3_stmt *st;
	int rc;

	rc = prepare(db,
		     "UPDATE domains SET state = ?2, pid = ?3, pid_start = ?4,"
		     " autostart = ?5, started = ?6, deadline = ?7"
		     " WHERE name = ?1",
		     &st);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, row->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, row->state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, row->pid);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)row->pid_start);
	sqlite3_bind_int(st, 5, row->autostart);
	sqlite3_bind_int64(st, 6, row->started_ms);
	sqlite3_bind_int64(st, 7, row->deadline_ms);
	rc = run(st);
	if (!rc && sqlite3_changes(db->db) == 0)
		rc = -ENOENT;
	return rc;
}

int micad_db_delete(struct micad_db *db, const char *name)
{
	sqlite3_stmt *st;
	int rc;

	rc = prepare(db, "DELETE FROM domains WHERE name = ?1", &st);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = run(st);
	if (!rc && sqlite3_changes(db->db) == 0)
		rc = -ENOENT;
	return rc;
}

static void copy_col(sqlite3_stmt *st, int col, char *buf, size_t len)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(buf, len, "%s", t ? (const char *)t : "");
}

static int read_row(sqlite3_stmt *st, struct micad_dom_row *row)
{
	const unsigned char *cfg;

	memset(row, 0, sizeof(*row));
	copy_col(st, 0, row->name, sizeof(row->name));
	copy_col(st, 1, row->uuid, sizeof(row->uuid));
	cfg = sqlite3_column_text(st, 2);
	row->config = strdup(cfg ? (const char *)cfg : "{}");
	if (!row->config)
		return -ENOMEM;
	copy_col(st, 3, row->state, sizeof(row->state));
	row->pid = (long)sqlite3_column_int64(st, 4);
	row->pid_start = (uint64_t)sqlite3_column_int64(st, 5);
	row->autostart = sqlite3_column_int(st, 6) != 0;
	row->created_ms = sqlite3_column_int64(st, 7);
	row->started_ms = sqlite3_column_int64(st, 8);
	row->deadline_ms = sqlite3_column_int64(st, 9);
	return 0;
}

#define ROW_COLUMNS                                                     \
	"SELECT name, uuid, config, state, pid, pid_start, autostart, " \
	"created, started, deadline FROM domains"

int micad_db_get(struct micad_db *db, const char *name,
		 struct micad_dom_row *row)
{
	sqlite3_stmt *st;
	int rc;

	memset(row, 0, sizeof(*row));
	rc = prepare(db, ROW_COLUMNS " WHERE name = ?1", &st);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = read_row(st, row);
	else if (rc == SQLITE_DONE)
		rc = -ENOENT;
	else
		rc = sql_errno(rc) ? sql_errno(rc) : -EIO;
	sqlite3_finalize(st);
	return rc;
}

void micad_dom_row_free(struct micad_dom_row *row)
{
	free(row->config);
	row->config = NULL;
}

void micad_dom_rows_free(struct micad_dom_row *rows, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++)
		micad_dom_row_free(&rows[i]);
	free(rows);
}

int micad_db_list(struct micad_db *db, struct micad_dom_row **rows, size_t *nr)
{
	struct micad_dom_row *v = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *st;
	int rc;

	*rows = NULL;
	*nr = 0;
	rc = prepare(db, ROW_COLUMNS " ORDER BY name", &st);
	if (rc)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 8;
			struct micad_dom_row *p = realloc(v, ncap * sizeof(*v));

			if (!p) {
				rc = SQLITE_NOMEM;
				break;
			}
			v = p;
			cap = ncap;
		}
		if (read_row(st, &v[n])) {
			rc = SQLITE_NOMEM;
			break;
		}
		n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		micad_dom_rows_free(v, n);
		return sql_errno(rc) ? sql_errno(rc) : -EIO;
	}
	*rows = v;
	*nr = n;
	return 0;
}

int micad_db_event(struct micad_db *db, const char *name, int64_t time_ms,
		   const char *kind, const char *detail)
{
	sqlite3_stmt *st;
	int rc;

	rc = prepare(db,
		     "INSERT INTO events(domain, time, kind, detail)"
		     " VALUES(?1, ?2, ?3, ?4)",
		     &st);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, time_ms ? time_ms : micad_now_ms());
	sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, detail ? detail : "", -1, SQLITE_STATIC);
	rc = run(st);
	if (rc)
		return rc;
	/* The per-domain quota: drop what is older than the newest N. */
	rc = prepare(db,
		     "DELETE FROM events WHERE domain = ?1 AND id <="
		     " (SELECT id FROM events WHERE domain = ?1"
		     "  ORDER BY id DESC LIMIT 1 OFFSET ?2)",
		     &st);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, db->events_max);
	return run(st);
}

int micad_db_events(struct micad_db *db, const char *name, unsigned int limit,
		    struct micad_event_row **out, size_t *nr)
{
	struct micad_event_row *v;
	sqlite3_stmt *st;
	size_t n = 0;
	int rc;

	*out = NULL;
	*nr = 0;
	if (limit > db->events_max)
		limit = db->events_max;
	v = calloc(limit ? limit : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	rc = prepare(db,
		     "SELECT time, kind, detail FROM (SELECT id, time, kind,"
		     " detail FROM events WHERE domain = ?1 ORDER BY id DESC"
		     " LIMIT ?2) ORDER BY id",
		     &st);
	if (rc) {
		free(v);
		return rc;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, limit);
	while (n < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		v[n].time_ms = sqlite3_column_int64(st, 0);
		copy_col(st, 1, v[n].kind, sizeof(v[n].kind));
		copy_col(st, 2, v[n].detail, sizeof(v[n].detail));
		n++;
	}
	sqlite3_finalize(st);
	if (n < limit && rc != SQLITE_DONE) {
		free(v);
		return sql_errno(rc) ? sql_errno(rc) : -EIO;
	}
	*out = v;
	*nr = n;
	return 0;
}
