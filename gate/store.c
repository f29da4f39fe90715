/* store.c: the gate's local store (SQLite, WAL): synced passes, keys and revocations, the scan
 * events (the durable record of who came in and out, and the upload queue as a flag on them), other
 * gates' events, the presence record derived from both, the sync cursor, and the dead-letter table.
 * The schema lives here only. Each scan is one transaction; so is each downloaded page with its
 * cursor. Writers are serialised in the process by one mutex (SQLite's own busy wait is unfair). */
#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "gate.h"
#include "log.h"

static const char *schema =
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS keys ("
    "  id INTEGER PRIMARY KEY, public_key BLOB NOT NULL CHECK (length(public_key) = 32),"
    "  valid_until INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS passes ("
    "  id INTEGER PRIMARY KEY, booking INTEGER NOT NULL, guest INTEGER NOT NULL,"
    "  guest_name TEXT NOT NULL, unit TEXT NOT NULL, kind TEXT NOT NULL,"
    "  valid_from INTEGER NOT NULL, valid_until INTEGER NOT NULL," /* minutes since the epoch */
    "  nfc_uid BLOB, status TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS revocations ("
    "  pass INTEGER PRIMARY KEY, until INTEGER NOT NULL, reason TEXT NOT NULL);"
    /* sent: 0 queued for upload, 1 the server holds it, 2 dead-lettered (never sent again) */
    "CREATE TABLE IF NOT EXISTS events ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, gate INTEGER NOT NULL,"
    "  pass INTEGER NOT NULL, booking INTEGER NOT NULL, direction TEXT NOT NULL,"
    "  decision TEXT NOT NULL, reason TEXT NOT NULL, at INTEGER NOT NULL, local_at INTEGER NOT "
    "NULL,"
    "  offline INTEGER NOT NULL, note TEXT NOT NULL, reader TEXT NOT NULL,"
    "  sent INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS events_queue ON events(seq) WHERE sent = 0;"
    "CREATE INDEX IF NOT EXISTS events_pass ON events(pass, at);"
    "CREATE TABLE IF NOT EXISTS remote_events ("
    "  id TEXT PRIMARY KEY, gate INTEGER NOT NULL, pass INTEGER NOT NULL, direction TEXT NOT NULL,"
    "  decision TEXT NOT NULL, at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS remote_events_pass ON remote_events(pass, at);"
    /* where each pass is, from every gate's events by the presence rule (shared/event.h): derived
     * from the two event tables, one row per pass with at least one admission (at, event: the last
     * one) */
    "CREATE TABLE IF NOT EXISTS presence ("
    "  pass INTEGER PRIMARY KEY, inside INTEGER NOT NULL, at INTEGER NOT NULL, event TEXT NOT "
    "NULL);"
    "CREATE TABLE IF NOT EXISTS dead_letter ("
    "  id TEXT PRIMARY KEY, error TEXT NOT NULL, at INTEGER NOT NULL);";

enum {
	ST_INSERT_EVENT,
	ST_PRESENCE_SET,
	ST_PRESENCE_DEL,
	ST_PASS_EVENTS,
	ST_PASS_ROW,
	ST_REVOKED,
	ST_PRESENCE_GET,
	ST_COUNT
};

static const char *stmt_sql[ST_COUNT] = {
    [ST_INSERT_EVENT] = "INSERT INTO events(id, gate, pass, booking, direction, decision, reason, "
                        "at, local_at, offline,"
                        " note, reader) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) RETURNING seq",
    [ST_PRESENCE_SET] =
        "INSERT INTO presence(pass, inside, at, event) VALUES (?,?,?,?)"
        " ON CONFLICT(pass) DO UPDATE SET inside = excluded.inside, at = excluded.at,"
        " event = excluded.event",
    [ST_PRESENCE_DEL] = "DELETE FROM presence WHERE pass = ?",
    /* the events of one pass that count for presence (shared/event.h), in the rule's order: time,
     * then ours before the other gates' within a second, then arrival */
    [ST_PASS_EVENTS] =
        "SELECT decision, direction, at, id FROM ("
        " SELECT decision, direction, at, id, 0 AS src, seq AS n FROM events WHERE pass = ?1"
        " AND decision IN ('admit','manual','undone')"
        " UNION ALL SELECT decision, direction, at, id, 1, rowid FROM remote_events"
        " WHERE pass = ?1 AND decision IN ('admit','manual','undone'))"
        " ORDER BY at, src, n",
    [ST_PASS_ROW] = "SELECT guest_name, unit, status, nfc_uid FROM passes WHERE id = ?",
    [ST_REVOKED] = "SELECT 1 FROM revocations WHERE pass = ?",
    [ST_PRESENCE_GET] = "SELECT inside FROM presence WHERE pass = ?",
};

#define STORE_STMTS 48

/* Every statement comes from q() (prepared once per store, keyed by the address of its literal SQL,
 * reset and unbound) and goes back with done(). */
struct store {
	sqlite3 *db;
	struct {
		const char *sql;
		sqlite3_stmt *s;
	} cache[STORE_STMTS];
};

static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

static int begin(struct store *st)
{
	pthread_mutex_lock(&write_lock);
	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		log_err("store: begin: %s", sqlite3_errmsg(st->db));
		pthread_mutex_unlock(&write_lock);
		return -1;
	}
	return 0;
}

static int commit(struct store *st)
{
	int rc = 0;

	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		log_err("store: commit: %s", sqlite3_errmsg(st->db));
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		rc = -1;
	}
	pthread_mutex_unlock(&write_lock);
	return rc;
}

static void rollback(struct store *st)
{
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_unlock(&write_lock);
}

static sqlite3_stmt *q(struct store *st, const char *sql)
{
	sqlite3_stmt *s = NULL;
	int i;

	for (i = 0; i < STORE_STMTS && st->cache[i].sql; i++)
		if (st->cache[i].sql == sql) {
			sqlite3_reset(st->cache[i].s);
			sqlite3_clear_bindings(st->cache[i].s);
			return st->cache[i].s;
		}
	if (i == STORE_STMTS) /* full: for this use only, done() finalizes it */
		return sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) == SQLITE_OK ? s : NULL;
	if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK)
		return NULL;
	st->cache[i].sql = sql;
	st->cache[i].s = s;
	return s;
}

static void done(struct store *st, sqlite3_stmt *s)
{
	for (int i = 0; i < STORE_STMTS && st->cache[i].sql; i++)
		if (st->cache[i].s == s) {
			sqlite3_reset(s);
			return;
		}
	done(st, s);
}

static sqlite3_stmt *stmt(struct store *st, int which)
{
	return q(st, stmt_sql[which]);
}

static int presence_refresh(struct store *st, uint32_t pass);

/* A store made before the presence rule of shared/event.h (an undone admission used to be read as
 * the movement back) gets its presence rows made again from the events, once. */
static int presence_rebuild(struct store *st)
{
	sqlite3_stmt *s = NULL;
	int rc;

	pthread_mutex_lock(&write_lock);
	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		pthread_mutex_unlock(&write_lock);
		return -1;
	}
	if (!(s = q(st, "SELECT 1 FROM meta WHERE key = 'presence_rule' AND value = '2'")))
		goto fail;
	rc = db_step(s);
	done(st, s);
	s = NULL;
	if (rc == SQLITE_ROW) { /* done before */
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		pthread_mutex_unlock(&write_lock);
		return 0;
	}
	if (rc != SQLITE_DONE || !(s = q(st, "SELECT pass FROM events WHERE pass > 0 UNION SELECT "
	                                     "pass FROM remote_events WHERE pass > 0")))
		goto fail;
	while ((rc = db_step(s)) == SQLITE_ROW)
		if (presence_refresh(st, (uint32_t)sqlite3_column_int64(s, 0)) < 0)
			goto fail;
	if (rc != SQLITE_DONE ||
	    sqlite3_exec(st->db,
	                 "INSERT OR REPLACE INTO meta(key, value) VALUES ('presence_rule', '2')",
	                 NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	done(st, s);
	rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	pthread_mutex_unlock(&write_lock);
	return rc == SQLITE_OK ? 0 : -1;
fail:
	done(st, s);
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_unlock(&write_lock);
	return -1;
}

struct store *store_open(const char *path, int full_sync, char *err, size_t errlen)
{
	struct store *st = calloc(1, sizeof(*st));
	char *msg = NULL;

	if (!st) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(path, &st->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK)
		goto sqlfail;
	if (sqlite3_busy_timeout(st->db, 10000) != SQLITE_OK)
		goto sqlfail;
	if (sqlite3_exec(st->db,
	                 full_sync ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	                           : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
	                 NULL, NULL, &msg) != SQLITE_OK)
		goto execfail;
	pthread_mutex_lock(&write_lock);
	if (sqlite3_exec(st->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
		pthread_mutex_unlock(&write_lock);
		goto execfail;
	}
	pthread_mutex_unlock(&write_lock);
	for (int i = 0; i < ST_COUNT;
	     i++) /* the scan's statements, prepared before the first scan */
		if (!stmt(st, i))
			goto sqlfail;
	if (presence_rebuild(st) < 0)
		goto sqlfail;
	return st;
execfail:
	snprintf(err, errlen, "%s: %s", path, msg ? msg : sqlite3_errmsg(st->db));
	sqlite3_free(msg);
	store_close(st);
	return NULL;
sqlfail:
	snprintf(err, errlen, "%s: %s", path, st->db ? sqlite3_errmsg(st->db) : "out of memory");
	store_close(st);
	return NULL;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	for (int i = 0; i < STORE_STMTS && st->cache[i].sql; i++)
		sqlite3_finalize(st->cache[i].s);
	sqlite3_close(st->db);
	free(st);
}

/* ---- meta ---- */

int store_meta_get(struct store *st, const char *key, char *buf, size_t n)
{
	sqlite3_stmt *s;
	int rc = -1;

	if (!(s = q(st, "SELECT value FROM meta WHERE key = ?")))
		return -1;
	db_bind_text(s, 1, key, -1, SQLITE_STATIC);
	switch (db_step(s)) {
	case SQLITE_ROW:
		snprintf(buf, n, "%s", (const char *)sqlite3_column_text(s, 0));
		rc = 1;
		break;
	case SQLITE_DONE:
		rc = 0;
		break;
	}
	done(st, s);
	return rc;
}

int store_meta_get_int(struct store *st, const char *key, int64_t *v)
{
	char buf[32], *end;
	long long x;
	int rc = store_meta_get(st, key, buf, sizeof(buf));

	if (rc <= 0)
		return rc;
	x = strtoll(buf, &end, 10);
	if (*end || end == buf)
		return -1;
	*v = x;
	return 1;
}

static int meta_set_tx(struct store *st, const char *key, const char *value)
{
	sqlite3_stmt *s;
	int rc;

	if (!(s = q(st, "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO "
	                "UPDATE SET value = excluded.value")))
		return -1;
	db_bind_text(s, 1, key, -1, SQLITE_STATIC);
	db_bind_text(s, 2, value, -1, SQLITE_STATIC);
	rc = db_step(s) == SQLITE_DONE ? 0 : -1;
	done(st, s);
	return rc;
}

int store_meta_set(struct store *st, const char *key, const char *value)
{
	if (begin(st) < 0)
		return -1;
	if (meta_set_tx(st, key, value) < 0) {
		log_err("store: meta %s: %s", key, sqlite3_errmsg(st->db));
		rollback(st);
		return -1;
	}
	return commit(st);
}

int store_sync_done(struct store *st, int64_t now, int64_t server_time)
{
	sqlite3_stmt *s;
	char a[32], b[32];

	snprintf(a, sizeof(a), "%lld", (long long)now);
	snprintf(b, sizeof(b), "%lld", (long long)server_time);
	if (begin(st) < 0)
		return -1;
	if (meta_set_tx(st, "last_success", a) < 0 || meta_set_tx(st, "last_sync_server", b) < 0 ||
	    !(s = q(st, "INSERT INTO meta(key, value) VALUES ('cycles', '1') ON CONFLICT(key) DO "
	                "UPDATE SET"
	                " value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)"))) {
		rollback(st);
		return -1;
	}
	if (db_step(s) != SQLITE_DONE) {
		done(st, s);
		rollback(st);
		return -1;
	}
	done(st, s);
	return commit(st);
}

int store_meta_set_int(struct store *st, const char *key, int64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	return store_meta_set(st, key, buf);
}

/* ---- keys and lookups ---- */

int store_keys_load(struct store *st, struct pass_key *keys, int max)
{
	sqlite3_stmt *s;
	int n = 0, rc;

	if (!(s = q(st, "SELECT id, public_key, valid_until FROM keys ORDER BY id")))
		return -1;
	while ((rc = db_step(s)) == SQLITE_ROW && n < max) {
		if (sqlite3_column_bytes(s, 1) != 32 || sqlite3_column_int(s, 0) < 1 ||
		    sqlite3_column_int(s, 0) > 255)
			continue;
		keys[n].id = (uint8_t)sqlite3_column_int(s, 0);
		memcpy(keys[n].pk, sqlite3_column_blob(s, 1), 32);
		keys[n].valid_until =
		    sqlite3_column_int64(s, 2) / 60; /* stored in seconds; 0: the signing key */
		n++;
	}
	done(st, s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? n : -1;
}

static int lk_pass_row(void *user, uint32_t pass_id, struct decide_pass_row *row)
{
	struct store *st = user;
	sqlite3_stmt *s = stmt(st, ST_PASS_ROW);
	int rc;

	db_bind_int64(s, 1, pass_id);
	rc = db_step(s);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return -1;
	snprintf(row->guest_name, sizeof(row->guest_name), "%s",
	         (const char *)sqlite3_column_text(s, 0));
	snprintf(row->unit, sizeof(row->unit), "%s", (const char *)sqlite3_column_text(s, 1));
	row->revoked = !strcmp((const char *)sqlite3_column_text(s, 2), "revoked");
	rc = sqlite3_column_bytes(s, 3);
	if (rc > 0 && rc <= PASS_UID_MAX) {
		memcpy(row->nfc_uid, sqlite3_column_blob(s, 3), (size_t)rc);
		row->nfc_uid_len = (uint8_t)rc;
	}
	sqlite3_reset(s);
	return 1;
}

static int lk_one(struct store *st, int which, uint32_t pass_id, int *val)
{
	sqlite3_stmt *s = stmt(st, which);
	int rc;

	db_bind_int64(s, 1, pass_id);
	rc = db_step(s);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return -1;
	*val = sqlite3_column_int(s, 0);
	sqlite3_reset(s);
	return 1;
}

static int lk_revoked(void *user, uint32_t pass_id)
{
	int v;

	return lk_one(user, ST_REVOKED, pass_id, &v);
}

static int lk_presence(void *user, uint32_t pass_id, int *inside)
{
	return lk_one(user, ST_PRESENCE_GET, pass_id, inside);
}

void store_lookup(struct store *st, struct decide_lookup *lk)
{
	lk->user = st;
	lk->pass_row = lk_pass_row;
	lk->revoked = lk_revoked;
	lk->presence = lk_presence;
}

/* ---- events ---- */

/* The presence row of one pass again from all its events (rule of shared/event.h), inside the
 * caller's transaction: a few rows (one stay's scans), read by the pass index. */
static int presence_refresh(struct store *st, uint32_t pass)
{
	sqlite3_stmt *s = stmt(st, ST_PASS_EVENTS);
	struct presence p;
	char last[EVENT_ID_HEX + 1] = "";
	int64_t at = 0;
	int rc, counted = 0;

	presence_init(&p);
	db_bind_int64(s, 1, pass);
	while ((rc = db_step(s)) == SQLITE_ROW) {
		presence_step_text(&p, (const char *)sqlite3_column_text(s, 0),
		                   (const char *)sqlite3_column_text(s, 1));
		at = sqlite3_column_int64(s, 2);
		snprintf(last, sizeof(last), "%s", (const char *)sqlite3_column_text(s, 3));
		counted = 1;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return -1;
	if (!counted) {
		s = stmt(st, ST_PRESENCE_DEL);
		db_bind_int64(s, 1, pass);
	} else {
		/* never seen inside (not known) reads as outside, as decide() takes a pass it has
		 * no record of */
		s = stmt(st, ST_PRESENCE_SET);
		db_bind_int64(s, 1, pass);
		db_bind_int(s, 2, p.now == PRESENCE_INSIDE);
		db_bind_int64(s, 3, at);
		db_bind_text(s, 4, last, -1, SQLITE_STATIC);
	}
	rc = db_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

int store_record(struct store *st, struct event *ev)
{
	unsigned char rnd[16];
	sqlite3_stmt *s;

	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(ev->id, sizeof(ev->id), rnd, sizeof(rnd));
	if (begin(st) < 0)
		return -1;
	s = stmt(st, ST_INSERT_EVENT);
	db_bind_text(s, 1, ev->id, -1, SQLITE_STATIC);
	db_bind_int(s, 2, ev->gate);
	db_bind_int64(s, 3, ev->pass);
	db_bind_int64(s, 4, ev->booking);
	db_bind_text(s, 5, decide_dir_name(ev->dir), -1, SQLITE_STATIC);
	db_bind_text(s, 6, event_kind_name(ev->kind), -1, SQLITE_STATIC);
	db_bind_text(s, 7, decide_reason_code(ev->reason), -1, SQLITE_STATIC);
	db_bind_int64(s, 8, ev->at);
	db_bind_int64(s, 9, ev->local_at);
	db_bind_int(s, 10, ev->offline);
	db_bind_text(s, 11, ev->note, -1, SQLITE_STATIC);
	db_bind_text(s, 12, ev->reader, -1, SQLITE_STATIC);
	if (db_step(s) != SQLITE_ROW)
		goto fail;
	ev->seq = sqlite3_column_int64(s, 0);
	if (db_step(s) != SQLITE_DONE)
		goto fail;
	sqlite3_reset(s);
	if (ev->pass && ev->kind != EVENT_DENY && presence_refresh(st, ev->pass) < 0)
		goto fail;
	return commit(st);
fail:
	log_err("store: recording a scan: %s", sqlite3_errmsg(st->db));
	(void)stmt(st, ST_INSERT_EVENT); /* reset, so no read stays open */
	rollback(st);
	return -1;
}

static void event_from_row(sqlite3_stmt *s, struct event *ev)
{
	/* columns: seq, id, gate, pass, booking, direction, decision, reason, at, local_at,
	 * offline, note, reader */
	memset(ev, 0, sizeof(*ev));
	ev->seq = sqlite3_column_int64(s, 0);
	snprintf(ev->id, sizeof(ev->id), "%s", (const char *)sqlite3_column_text(s, 1));
	ev->gate = sqlite3_column_int(s, 2);
	ev->pass = (uint32_t)sqlite3_column_int64(s, 3);
	ev->booking = (uint32_t)sqlite3_column_int64(s, 4);
	if (decide_dir_parse((const char *)sqlite3_column_text(s, 5), &ev->dir) < 0)
		ev->dir = DECIDE_DIR_IN;
	if (event_kind_parse((const char *)sqlite3_column_text(s, 6), &ev->kind) < 0)
		ev->kind = EVENT_DENY;
	if (decide_reason_parse((const char *)sqlite3_column_text(s, 7), &ev->reason) < 0)
		ev->reason = DECIDE_INTERNAL;
	ev->at = sqlite3_column_int64(s, 8);
	ev->local_at = sqlite3_column_int64(s, 9);
	ev->offline = sqlite3_column_int(s, 10);
	snprintf(ev->note, sizeof(ev->note), "%s", (const char *)sqlite3_column_text(s, 11));
	snprintf(ev->reader, sizeof(ev->reader), "%s", (const char *)sqlite3_column_text(s, 12));
}

#define EVENT_COLUMNS                                                                              \
	"seq, id, gate, pass, booking, direction, decision, reason, at, local_at, offline, note, " \
	"reader"

static int events_query(struct store *st, const char *sql, struct event *evs, int max)
{
	sqlite3_stmt *s;
	int n = 0, rc;

	if (!(s = q(st, sql)))
		return -1;
	db_bind_int(s, 1, max);
	while (n < max && (rc = db_step(s)) == SQLITE_ROW)
		event_from_row(s, &evs[n++]);
	if (n < max && rc != SQLITE_DONE)
		n = -1;
	done(st, s);
	return n;
}

int store_unsent(struct store *st, struct event *evs, int max)
{
	return events_query(
	    st, "SELECT " EVENT_COLUMNS " FROM events WHERE sent = 0 ORDER BY seq LIMIT ?", evs,
	    max);
}

int store_recent(struct store *st, struct event *evs, int max)
{
	return events_query(st, "SELECT " EVENT_COLUMNS " FROM events ORDER BY seq DESC LIMIT ?",
	                    evs, max);
}

int store_mark_sent(struct store *st, char (*ids)[33], int n)
{
	sqlite3_stmt *s;
	int changed = 0;

	if (n == 0)
		return 0;
	if (begin(st) < 0)
		return -1;
	if (!(s = q(st, "UPDATE events SET sent = 1 WHERE id = ? AND sent = 0"))) {
		rollback(st);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		sqlite3_reset(s);
		db_bind_text(s, 1, ids[i], -1, SQLITE_STATIC);
		if (db_step(s) != SQLITE_DONE) {
			done(st, s);
			rollback(st);
			return -1;
		}
		changed += sqlite3_changes(st->db);
	}
	done(st, s);
	return commit(st) < 0 ? -1 : changed;
}

int store_dead_letter(struct store *st, const char *id, const char *error)
{
	sqlite3_stmt *s = NULL;

	if (begin(st) < 0)
		return -1;
	if (!(s = q(st, "UPDATE events SET sent = 2 WHERE id = ? AND sent = 0")))
		goto fail;
	db_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (db_step(s) != SQLITE_DONE)
		goto fail;
	done(st, s);
	if (!(s = q(st, "INSERT OR REPLACE INTO dead_letter(id, error, at) VALUES (?, ?, ?)")))
		goto fail;
	db_bind_text(s, 1, id, -1, SQLITE_STATIC);
	db_bind_text(s, 2, error, -1, SQLITE_STATIC);
	db_bind_int64(s, 3, instant_now());
	if (db_step(s) != SQLITE_DONE)
		goto fail;
	done(st, s);
	return commit(st);
fail:
	log_err("store: dead letter: %s", sqlite3_errmsg(st->db));
	done(st, s);
	rollback(st);
	return -1;
}

int store_dead_list(struct store *st, char (*ids)[33], char (*errors)[128], int max)
{
	sqlite3_stmt *s;
	int n = 0;

	if (!(s = q(st, "SELECT id, error FROM dead_letter ORDER BY at DESC, id LIMIT ?")))
		return -1;
	db_bind_int(s, 1, max);
	while (n < max && db_step(s) == SQLITE_ROW) {
		snprintf(ids[n], 33, "%s", (const char *)sqlite3_column_text(s, 0));
		snprintf(errors[n], 128, "%s", (const char *)sqlite3_column_text(s, 1));
		n++;
	}
	done(st, s);
	return n;
}

/* ---- applying a downloaded page ---- */

static int json_instant(json_t *o, const char *key, int64_t *out)
{
	return instant_parse(json_string_value(json_object_get(o, key)), out);
}

static int apply_keys(struct store *st, json_t *keys)
{
	sqlite3_stmt *s;
	json_t *k;
	size_t i;

	if (!json_is_array(keys))
		return 0; /* absent: keep what we have */
	if (sqlite3_exec(st->db, "DELETE FROM keys", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	if (!(s = q(st,
	            "INSERT OR REPLACE INTO keys(id, public_key, valid_until) VALUES (?, ?, ?)")))
		return -1;
	json_array_foreach(keys, i, k)
	{
		unsigned char pk[32];
		const char *hex = json_string_value(json_object_get(k, "public_key"));
		json_int_t id = json_integer_value(json_object_get(k, "id"));
		int64_t until = 0;
		size_t n = 0;

		if (!hex || id < 1 || id > 255 ||
		    sodium_hex2bin(pk, sizeof(pk), hex, strlen(hex), NULL, &n, NULL) != 0 ||
		    n != 32) {
			log_warn("sync: a malformed key in the page, skipped");
			continue;
		}
		json_instant(k, "valid_until", &until);
		sqlite3_reset(s);
		db_bind_int(s, 1, (int)id);
		db_bind_blob(s, 2, pk, 32, SQLITE_TRANSIENT);
		db_bind_int64(s, 3, until);
		if (db_step(s) != SQLITE_DONE) {
			done(st, s);
			return -1;
		}
	}
	done(st, s);
	return 0;
}

static int apply_passes(struct store *st, json_t *passes)
{
	sqlite3_stmt *s;
	json_t *p;
	size_t i;

	if (!json_is_array(passes) || !json_array_size(passes))
		return 0;
	if (!(s = q(
	          st,
	          "INSERT INTO passes(id, booking, guest, guest_name, unit, kind, valid_from, "
	          "valid_until, nfc_uid,"
	          " status) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET booking = "
	          "excluded.booking,"
	          " guest = excluded.guest, guest_name = excluded.guest_name, unit = excluded.unit,"
	          " kind = excluded.kind, valid_from = excluded.valid_from, valid_until = "
	          "excluded.valid_until,"
	          " nfc_uid = excluded.nfc_uid, status = excluded.status")))
		return -1;
	json_array_foreach(passes, i, p)
	{
		json_int_t id = json_integer_value(json_object_get(p, "id"));
		const char *name = json_string_value(json_object_get(p, "guest_name"));
		const char *unit = json_string_value(json_object_get(p, "unit"));
		const char *kind = json_string_value(json_object_get(p, "kind"));
		const char *status = json_string_value(json_object_get(p, "status"));
		const char *uid = json_string_value(json_object_get(p, "nfc_uid"));
		unsigned char ub[PASS_UID_MAX];
		size_t un = 0;
		int64_t from, until;

		if (id < 1 || id > UINT32_MAX || json_instant(p, "valid_from", &from) < 0 ||
		    json_instant(p, "valid_until", &until) < 0 || !status ||
		    (strcmp(status, "active") && strcmp(status, "revoked"))) {
			log_warn("sync: a malformed pass in the page, skipped");
			continue;
		}
		if (uid &&
		    (sodium_hex2bin(ub, sizeof(ub), uid, strlen(uid), NULL, &un, NULL) != 0 ||
		     (un != 4 && un != 7 && un != 10)))
			un = 0;
		sqlite3_reset(s);
		db_bind_int64(s, 1, id);
		db_bind_int64(s, 2, json_integer_value(json_object_get(p, "booking")));
		db_bind_int64(s, 3, json_integer_value(json_object_get(p, "guest")));
		db_bind_text(s, 4, name ? name : "", -1, SQLITE_STATIC);
		db_bind_text(s, 5, unit ? unit : "", -1, SQLITE_STATIC);
		db_bind_text(s, 6, kind ? kind : "guest", -1, SQLITE_STATIC);
		db_bind_int64(s, 7, from / 60);
		db_bind_int64(s, 8, until / 60);
		if (un)
			db_bind_blob(s, 9, ub, (int)un, SQLITE_TRANSIENT);
		else
			db_bind_null(s, 9);
		db_bind_text(s, 10, status, -1, SQLITE_STATIC);
		if (db_step(s) != SQLITE_DONE) {
			done(st, s);
			return -1;
		}
	}
	done(st, s);
	return 0;
}

static int apply_revocations(struct store *st, json_t *revs)
{
	sqlite3_stmt *s;
	json_t *r;
	size_t i;

	if (!json_is_array(revs) || !json_array_size(revs))
		return 0;
	if (!(s = q(st,
	            "INSERT OR REPLACE INTO revocations(pass, until, reason) VALUES (?, ?, ?)")))
		return -1;
	json_array_foreach(revs, i, r)
	{
		json_int_t pass = json_integer_value(json_object_get(r, "pass"));
		const char *reason = json_string_value(json_object_get(r, "reason"));
		int64_t until = 0;

		if (pass < 1 || pass > UINT32_MAX) {
			log_warn("sync: a malformed revocation in the page, skipped");
			continue;
		}
		if (json_instant(r, "until", &until) < 0)
			until = INT64_MAX / 2; /* keep it until told otherwise */
		sqlite3_reset(s);
		db_bind_int64(s, 1, pass);
		db_bind_int64(s, 2, until);
		db_bind_text(s, 3, reason ? reason : "", -1, SQLITE_STATIC);
		if (db_step(s) != SQLITE_DONE) {
			done(st, s);
			return -1;
		}
	}
	done(st, s);
	return 0;
}

static int apply_events(struct store *st, json_t *events, int own_gate, int64_t now)
{
	sqlite3_stmt *ins = NULL;
	json_t *e;
	size_t i;
	int rc = -1;

	if (!json_is_array(events) || !json_array_size(events))
		return 0;
	if (!(ins = q(st, "INSERT OR IGNORE INTO remote_events(id, gate, pass, direction, "
	                  "decision, at) VALUES (?,?,?,?,?,?)")))
		goto out;
	json_array_foreach(events, i, e)
	{
		struct event ev;
		enum event_err err = event_relay_from_json(e, now, &ev);

		if (err != EVENT_OK) {
			log_warn("sync: a malformed event in the page (%s), skipped",
			         event_err_code(err));
			continue;
		}
		if (ev.gate == own_gate)
			continue;
		sqlite3_reset(ins);
		db_bind_text(ins, 1, ev.id, -1, SQLITE_STATIC);
		db_bind_int64(ins, 2, ev.gate);
		db_bind_int64(ins, 3, ev.pass);
		db_bind_text(ins, 4, decide_dir_name(ev.dir), -1, SQLITE_STATIC);
		db_bind_text(ins, 5, event_kind_name(ev.kind), -1, SQLITE_STATIC);
		db_bind_int64(ins, 6, ev.at);
		if (db_step(ins) != SQLITE_DONE)
			goto out;
		if (!sqlite3_changes(st->db) || !ev.pass || ev.kind == EVENT_DENY)
			continue; /* seen before, or nothing to presence */
		if (presence_refresh(st, ev.pass) < 0)
			goto out;
	}
	rc = 0;
out:
	done(st, ins);
	return rc;
}

int store_apply_page(struct store *st, void *page_json, int own_gate, int64_t now)
{
	json_t *page = page_json, *centre = json_object_get(page, "centre");
	const char *cursor = json_string_value(json_object_get(page, "cursor"));

	if (begin(st) < 0)
		return -1;
	if (apply_keys(st, json_object_get(page, "keys")) < 0 ||
	    apply_passes(st, json_object_get(page, "passes")) < 0 ||
	    apply_revocations(st, json_object_get(page, "revocations")) < 0 ||
	    apply_events(st, json_object_get(page, "events"), own_gate, now) < 0)
		goto fail;
	if (json_is_object(centre)) {
		const char *fr = json_string_value(json_object_get(centre, "name_fr"));
		const char *ar = json_string_value(json_object_get(centre, "name_ar"));

		if ((fr && meta_set_tx(st, "centre_name_fr", fr) < 0) ||
		    (ar && meta_set_tx(st, "centre_name_ar", ar) < 0))
			goto fail;
	}
	if (cursor && meta_set_tx(st, "cursor", cursor) < 0)
		goto fail;
	return commit(st);
fail:
	log_err("store: applying a sync page: %s", sqlite3_errmsg(st->db));
	rollback(st);
	return -1;
}

/* ---- counts and upkeep ---- */

static int count(struct store *st, const char *sql, int64_t arg, int64_t *out)
{
	sqlite3_stmt *s;
	int rc;

	if (!(s = q(st, sql)))
		return -1;
	if (sqlite3_bind_parameter_count(s) > 0)
		db_bind_int64(s, 1, arg);
	rc = db_step(s);
	*out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	done(st, s);
	return rc == SQLITE_ROW ? 0 : -1;
}

int store_queue(struct store *st, int64_t *n)
{
	/* the partial index events_queue holds exactly the unsent events */
	return count(st, "SELECT COUNT(*) FROM events WHERE sent = 0", 0, n);
}

int store_counts(struct store *st, int64_t now, struct store_counts *c)
{
	memset(c, 0, sizeof(*c));
	if (count(st, "SELECT COUNT(*) FROM events WHERE sent = 0", 0, &c->queue) < 0 ||
	    count(st, "SELECT COUNT(*) FROM dead_letter", 0, &c->dead) < 0 ||
	    /* inside: the latest movement was in, and the pass has not expired (or is unknown here)
	     */
	    count(st,
	          "SELECT COUNT(*) FROM presence r LEFT JOIN passes p ON p.id = r.pass WHERE "
	          "r.inside = 1"
	          " AND (p.valid_until IS NULL OR p.valid_until > ?)",
	          now / 60, &c->inside) < 0 ||
	    count(st, "SELECT COUNT(*) FROM passes", 0, &c->passes) < 0 ||
	    count(st, "SELECT COUNT(*) FROM events", 0, &c->events) < 0 ||
	    count(st, "SELECT COUNT(*) FROM revocations", 0, &c->revocations) < 0)
		return -1;
	return 0;
}

int store_prune(struct store *st, int64_t now)
{
	sqlite3_stmt *s;
	static const char *sql[] = {
	    "DELETE FROM passes WHERE valid_until < ?1 / 60 - 7 * 1440",
	    "DELETE FROM revocations WHERE until < ?1 / 60 - 7 * 1440",
	    "DELETE FROM remote_events WHERE at < ?1 - 90 * 86400",
	    "DELETE FROM events WHERE sent = 1 AND at < ?1 - 90 * 86400",
	};

	if (begin(st) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		if (!(s = q(st, sql[i])))
			goto fail;
		db_bind_int64(s, 1, now);
		if (db_step(s) != SQLITE_DONE) {
			done(st, s);
			goto fail;
		}
		done(st, s);
	}
	return commit(st);
fail:
	log_err("store: prune: %s", sqlite3_errmsg(st->db));
	rollback(st);
	return -1;
}
