/* sync.c: the sync protocol, the server's side (docs/sync.md): the upload of scans (stored once by
 * id, conflicts flagged, never refused) and the paged download of keys, passes, revocations and
 * other gates' scans behind an exact cursor, with its horizon. Gates themselves (tokens, enrolment,
 * administration) are gates.c's. */
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "date.h"
#include "event.h"
#include "log.h"
#include "server.h"

#define SEEN_EVERY 30 /* seconds between two writes of a gate's last_sync_at by downloads */
#define HORIZON_MIN ((int64_t)SYNC_HORIZON_DAYS * 1440)

/* ---- small helpers ---- */

static int digits(int c)
{
	return c >= '0' && c <= '9';
}

/* A decimal number without sign or leading zeros, at most 18 digits: its length, else 0. */
static size_t number_prefix(const char *s, int64_t *out)
{
	size_t n = 0;
	int64_t v = 0;

	while (digits(s[n]) && n < 19) {
		v = v * 10 + (s[n] - '0');
		n++;
	}
	if (n == 0 || n > 18 || (n > 1 && s[0] == '0'))
		return 0;
	*out = v;
	return n;
}

/* The download cursor: "p<change seq>.e<event rowid>", or empty/absent for the start. */
static int cursor_parse(const char *s, int64_t *p, int64_t *e)
{
	size_t n;

	*p = *e = 0;
	if (!s || !*s)
		return 0;
	if (*s++ != 'p' || !(n = number_prefix(s, p)))
		return -1;
	s += n;
	if (*s++ != '.' || *s++ != 'e' || !(n = number_prefix(s, e)))
		return -1;
	return s[n] ? -1 : 0;
}

/* ---- gates ---- */

/* Every key a gate still needs: the one signing now, and the retired ones whose passes have not all
 * expired. */
json_t *sync_keys_json(sqlite3 *db, int64_t now)
{
	sqlite3_stmt *st;
	json_t *a = json_array();

	if (!(st = db_stmt(db,
	                   "SELECT id, public_key, last_valid_until, retired_at FROM signing_keys"
	                   " WHERE retired_at IS NULL OR last_valid_until > ? ORDER BY id"))) {
		json_decref(a);
		return NULL;
	}
	db_bind_int64(st, 1, now / 60);
	while (db_step(st) == SQLITE_ROW) {
		char hex[2 * 32 + 1] = "";
		int signing = sqlite3_column_type(st, 3) == SQLITE_NULL;

		if (sqlite3_column_bytes(st, 1) == 32)
			sodium_bin2hex(hex, sizeof(hex), sqlite3_column_blob(st, 1), 32);
		json_array_append_new(
		    a, json_pack("{s:i,s:s,s:o,s:b}", "id", sqlite3_column_int(st, 0), "public_key",
		                 hex, "valid_until",
		                 signing ? json_null() : json_instant_col(st, 2, 60), "signing",
		                 signing));
	}
	db_done(st);
	return a;
}

json_t *sync_centre_json(sqlite3 *db, const char *centre)
{
	sqlite3_stmt *st;
	json_t *j = NULL;

	if (!(st = db_stmt(db, "SELECT id, number, name_fr, name_ar FROM centres WHERE id = ?")))
		return NULL;
	db_bind_text(st, 1, centre, -1, SQLITE_STATIC);
	if (db_step(st) == SQLITE_ROW)
		j = json_pack("{s:s,s:o,s:s,s:s}", "id", sqlite3_column_text(st, 0), "number",
		              json_int_col(st, 1), "name_fr", sqlite3_column_text(st, 2), "name_ar",
		              sqlite3_column_text(st, 3));
	db_done(st);
	return j;
}

/* ---- upload ---- */

struct upload_stmts {
	sqlite3_stmt *pass, *state, *insert;
};

/* The scans of a pass at a centre up to an instant that count for presence (shared/event.h), in the
 * rule's order: time, then arrival. A stay's scans: a few rows. */
#define STATE_SQL                                                                                  \
	"SELECT direction, decision FROM gate_events WHERE pass = ?1 AND centre = ?2 AND at <= ?3" \
	" AND decision IN ('admit','manual','undone')" EVENT_TIME_TRUSTED " ORDER BY at, rowid"

/* Why a scan conflicts with what the server knew when it arrived (NULL when it does not): the scans
 * are stored anyway, these are facts. */
static const char *event_conflict(struct upload_stmts *u, const struct gate_who *g,
                                  const struct event *ev, int64_t latest, int64_t *booking)
{
	const char *why = NULL;
	int admit = ev->kind == EVENT_ADMIT, manual = ev->kind == EVENT_MANUAL;

	if (ev->at > latest)
		why = "future_time"; /* later than the gate's own clock: never used for presence */
	if (ev->pass == 0) {
		*booking = 0; /* no pass, no booking of ours: what the gate says is not kept */
		return why ? why : admit ? "unknown_pass" : NULL;
	}
	/* one read of our row: the booking is the pass's (a gate that says otherwise is flagged),
	 * then the admission is judged against the same row */
	sqlite3_reset(u->pass);
	db_bind_int64(u->pass, 1, ev->pass);
	if (db_step(u->pass) == SQLITE_ROW) {
		int64_t ours = sqlite3_column_int64(u->pass, 2);
		if (!why && *booking && *booking != ours)
			why = "booking_mismatch";
		*booking = ours;
		if (!why && admit &&
		    strcmp((const char *)sqlite3_column_text(u->pass, 0), g->centre))
			why = "other_centre";
		else if (!why && admit && sqlite3_column_type(u->pass, 1) != SQLITE_NULL &&
		         sqlite3_column_int64(u->pass, 1) <= ev->at)
			why = "revoked";
	} else {
		*booking = 0;
		if (!why && admit)
			why = "unknown_pass";
	}
	sqlite3_reset(u->pass);
	if (why || (!admit && !manual))
		return why;
	if (ev->dir == DECIDE_DIR_IN) {
		struct presence pr;

		presence_init(&pr);
		sqlite3_reset(u->state);
		db_bind_int64(u->state, 1, ev->pass);
		db_bind_text(u->state, 2, g->centre, -1, SQLITE_STATIC);
		db_bind_int64(u->state, 3, ev->at);
		while (db_step(u->state) == SQLITE_ROW)
			presence_step_text(&pr, (const char *)sqlite3_column_text(u->state, 1),
			                   (const char *)sqlite3_column_text(u->state, 0));
		sqlite3_reset(u->state); /* no read left open on gate_events while it is written */
		if (pr.now == PRESENCE_INSIDE)
			why = "already_inside";
	}
	return why;
}

int sync_events(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	struct upload_stmts u = {NULL, NULL, NULL};
	struct gate_who g;
	json_t *body = NULL, *events, *e, *v, *stored = NULL, *dups = NULL, *rejected = NULL;
	int64_t now = instant_now(), gate_time = 0, queue = -1, latest;
	sqlite3_stmt *st = NULL;
	size_t i;
	int have_time = 0, in_tx = 0, flagged = 0;

	if (!db)
		return reply_error(rp, 500, "internal", "database unavailable");
	g = rq->gate; /* its bearer token was checked by api.c */
	if (request_json(rq, rp, &body) < 0)
		return 0;
	events = json_object_get(body, "events");
	if (!json_is_array(events)) {
		json_decref(body);
		return reply_error(rp, 400, "bad_request", "events must be a list");
	}
	if (json_array_size(events) > SYNC_MAX_EVENTS) {
		json_decref(body);
		return reply_error(rp, 413, "too_many_events", "at most 500 events per upload");
	}
	v = json_object_get(body, "gate_time");
	if (v && !json_is_null(v)) {
		if (instant_parse(json_string_value(v), &gate_time) < 0) {
			json_decref(body);
			return reply_error(rp, 400, "bad_request",
			                   "gate_time must be an instant YYYY-MM-DDTHH:MM:SSZ");
		}
		have_time = 1;
	}
	v = json_object_get(body, "queue");
	if (v && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 1000000000) {
			json_decref(body);
			return reply_error(rp, 400, "bad_request", "queue must be a count");
		}
		queue = json_integer_value(v);
	}
	stored = json_array();
	dups = json_array();
	rejected = json_array();

	if (db_begin(app, db) < 0) {
		json_decref(body);
		json_decref(stored);
		json_decref(dups);
		json_decref(rejected);
		snprintf(rp->retry_after, sizeof(rp->retry_after), "1");
		return reply_error(rp, 503, "busy", "the database is busy, try again");
	}
	in_tx = 1;
	/* The latest time a scan can carry: now on the gate's clock (measured from this upload's
	 * gate_time, or the last one it sent), plus a little. */
	{
		int64_t ahead = have_time ? gate_time - now : 0;
		if (!have_time &&
		    (st = db_stmt(db, "SELECT -last_offset_s FROM gates WHERE id = ?"))) {
			db_bind_int64(st, 1, g.id);
			if (db_step(st) == SQLITE_ROW)
				ahead = sqlite3_column_int64(st, 0);
			db_done(st);
			st = NULL;
		}
		/* a gate's clock far ahead is not believed: the gates decide with the server's time
		 * once they are off by skew_correct (10 min), so a scan further ahead than
		 * EVENT_AHEAD_MAX is a broken clock, whatever gate_time that same clock reports */
		if (ahead > EVENT_AHEAD_MAX)
			ahead = EVENT_AHEAD_MAX;
		latest = now + (ahead > 0 ? ahead : 0) + EVENT_TIME_TOLERANCE;
	}
	/* the gate may have been revoked since its token was checked: decided here, in the
	 * transaction */
	if (!(st = db_stmt(
	          db, "UPDATE gates SET last_sync_at = ?1, last_queue = COALESCE(?2, last_queue),"
	              " last_offset_s = COALESCE(?3, last_offset_s) WHERE id = ?4 AND revoked_at "
	              "IS NULL")))
		goto dbfail;
	db_bind_int64(st, 1, now);
	if (queue >= 0)
		db_bind_int64(st, 2, queue);
	if (have_time)
		db_bind_int64(st, 3, now - gate_time);
	db_bind_int64(st, 4, g.id);
	if (db_step(st) != SQLITE_DONE)
		goto dbfail;
	db_done(st);
	st = NULL;
	if (sqlite3_changes(db) != 1) {
		db_rollback(app, db);
		json_decref(body);
		json_decref(stored);
		json_decref(dups);
		json_decref(rejected);
		return reply_error(rp, 401, "gate_revoked", "this gate was revoked");
	}
	if (!(u.pass = db_stmt(db, "SELECT b.centre, p.revoked_at, p.booking FROM passes p JOIN "
	                           "bookings b ON b.id = p.booking"
	                           " WHERE p.id = ?")) ||
	    !(u.state = db_stmt(db, STATE_SQL)) ||
	    !(u.insert = db_stmt(
	          db,
	          "INSERT OR IGNORE INTO gate_events(id, gate, centre, pass, booking, direction, "
	          "decision,"
	          " reason, at, seq, offline, manual, note, received_at, conflict, conflict_reason)"
	          " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")))
		goto dbfail;
	json_array_foreach(events, i, e)
	{
		struct event ev;
		enum event_err bad = event_from_json(e, now, &ev);
		const char *err = event_err_code(bad), *why;
		int64_t booking;

		if (bad != EVENT_OK) {
			const char *given = json_string_value(json_object_get(e, "id"));
			json_array_append_new(
			    rejected, json_pack("{s:I,s:o,s:s}", "index", (json_int_t)i, "id",
			                        given && strlen(given) <= 64 ? json_string(given)
			                                                     : json_null(),
			                        "error", err));
			continue;
		}
		booking = ev.booking;
		why = event_conflict(&u, &g, &ev, latest, &booking);
		sqlite3_reset(u.insert);
		db_bind_text(u.insert, 1, ev.id, -1, SQLITE_STATIC);
		db_bind_int64(u.insert, 2, g.id);
		db_bind_text(u.insert, 3, g.centre, -1, SQLITE_STATIC);
		db_bind_int64(u.insert, 4, ev.pass);
		if (booking)
			db_bind_int64(u.insert, 5, booking);
		else
			db_bind_null(u.insert, 5);
		db_bind_text(u.insert, 6, decide_dir_name(ev.dir), -1, SQLITE_STATIC);
		db_bind_text(u.insert, 7, event_kind_name(ev.kind), -1, SQLITE_STATIC);
		db_bind_text(u.insert, 8, ev.reason_code, -1, SQLITE_STATIC);
		db_bind_int64(u.insert, 9, ev.at);
		db_bind_int64(u.insert, 10, ev.seq);
		db_bind_int(u.insert, 11, ev.offline);
		db_bind_int(u.insert, 12, ev.manual);
		db_bind_text(u.insert, 13, ev.note, -1, SQLITE_STATIC);
		db_bind_int64(u.insert, 14, now);
		db_bind_int(u.insert, 15, why != NULL);
		if (why)
			db_bind_text(u.insert, 16, why, -1, SQLITE_STATIC);
		else
			db_bind_null(u.insert, 16);
		if (db_step(u.insert) != SQLITE_DONE)
			goto dbfail;
		json_array_append_new(sqlite3_changes(db) == 1 ? stored : dups, json_string(ev.id));
		if (why && sqlite3_changes(db) == 1)
			flagged++;
	}
	db_done(u.pass);
	db_done(u.state);
	db_done(u.insert);
	u.pass = u.state = u.insert = NULL;
	in_tx = 0;
	if (db_commit(app, db) < 0)
		goto fail;
	json_decref(body);
	if (flagged || json_array_size(rejected))
		log_info("gate %lld: %zu scans stored, %zu duplicates, %zu rejected, %d flagged as "
		         "conflicts",
		         (long long)g.id, json_array_size(stored), json_array_size(dups),
		         json_array_size(rejected), flagged);
	return reply_json(rp, 200,
	                  json_pack("{s:o,s:o,s:o,s:o}", "stored", stored, "duplicates", dups,
	                            "rejected", rejected, "server_time", json_instant(now)));
dbfail:
	log_err("gate %lld upload: %s", (long long)g.id, sqlite3_errmsg(db));
fail:
	db_done(st);
	db_done(u.pass);
	db_done(u.state);
	db_done(u.insert);
	if (in_tx)
		db_rollback(app, db);
	json_decref(body);
	json_decref(stored);
	json_decref(dups);
	json_decref(rejected);
	return reply_error(rp, 500, "internal", "database error");
}

/* ---- download ---- */

static int read_edge(sqlite3 *db, int64_t *edge)
{
	sqlite3_stmt *st;
	int rc = -1;

	if (!(st = db_stmt(db, "SELECT edge FROM sync_horizon WHERE id = 1")))
		return -1;
	if (db_step(st) == SQLITE_ROW) {
		*edge = sqlite3_column_int64(st, 0);
		rc = 0;
	}
	db_done(st);
	return rc;
}

/* Feeds again, as changes, the active passes whose stay start the horizon (now + SYNC_HORIZON_DAYS)
 * has reached since it was last moved, and notes that the gate came by. One short write, at most
 * once a minute for the horizon and once every SEEN_EVERY seconds per gate. */
static int horizon_sweep(struct app *app, sqlite3 *db, const struct gate_who *g, int64_t now)
{
	int64_t edge = 0, target = now / 60 + HORIZON_MIN;
	sqlite3_stmt *st = NULL;
	int seen = now - g->last_sync_at >= SEEN_EVERY;

	if (read_edge(db, &edge) < 0)
		return -1;
	if (edge >= target && !seen)
		return 0;
	if (db_begin(app, db) < 0)
		return -1;
	if (read_edge(db, &edge) < 0)
		goto fail;
	if (edge < target) {
		if (!(st = db_stmt(
		          db,
		          "INSERT INTO pass_changes(pass, centre, kind)"
		          " SELECT p.id, b.centre, 'pass' FROM passes p JOIN bookings b ON b.id = "
		          "p.booking"
		          " WHERE p.valid_from > ?1 AND p.valid_from <= ?2 AND p.valid_until > ?3"
		          " AND p.status = 'active' ORDER BY p.valid_from, p.id")))
			goto fail;
		db_bind_int64(st, 1, edge);
		db_bind_int64(st, 2, target);
		db_bind_int64(st, 3, now / 60);
		if (db_step(st) != SQLITE_DONE)
			goto fail;
		db_done(st);
		if (!(st = db_stmt(db, "UPDATE sync_horizon SET edge = ? WHERE id = 1")))
			goto fail;
		db_bind_int64(st, 1, target);
		if (db_step(st) != SQLITE_DONE)
			goto fail;
		db_done(st);
		st = NULL;
	}
	if (seen) {
		if (!(st = db_stmt(db, "UPDATE gates SET last_sync_at = ? WHERE id = ?")))
			goto fail;
		db_bind_int64(st, 1, now);
		db_bind_int64(st, 2, g->id);
		if (db_step(st) != SQLITE_DONE)
			goto fail;
		db_done(st);
		st = NULL;
	}
	return db_commit(app, db);
fail:
	log_err("gate sync: horizon: %s", sqlite3_errmsg(db));
	db_done(st);
	db_rollback(app, db);
	return -1;
}

static int64_t single_int(sqlite3 *db, const char *sql, int *ok)
{
	sqlite3_stmt *st;
	int64_t v = 0;

	if (!(st = db_stmt(db, sql))) { /* sql: a literal */
		*ok = 0;
		return 0;
	}
	if (db_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	db_done(st);
	return v;
}

/* A stored scan in its relay form: columns id, gate, pass, direction, decision, at from col on. 0,
 * or -1 for a row neither side would have written. */
static int event_from_row(sqlite3_stmt *st, int col, struct event *ev)
{
	const char *id = (const char *)sqlite3_column_text(st, col);

	memset(ev, 0, sizeof(*ev));
	if (!id || strlen(id) != EVENT_ID_HEX ||
	    decide_dir_parse((const char *)sqlite3_column_text(st, col + 3), &ev->dir) < 0 ||
	    event_kind_parse((const char *)sqlite3_column_text(st, col + 4), &ev->kind) < 0)
		return -1;
	memcpy(ev->id, id, EVENT_ID_HEX + 1);
	ev->gate = sqlite3_column_int64(st, col + 1);
	ev->pass = (uint32_t)sqlite3_column_int64(st, col + 2);
	ev->at = sqlite3_column_int64(st, col + 5);
	return 0;
}

int sync_download(struct app *app, struct request *rq, struct reply *rp)
{
	struct event rev;
	sqlite3 *db = db_thread(app);
	const char *lim_s = request_query(rq, "limit");
	int64_t now = instant_now(), p = 0, e = 0, limit = SYNC_LIMIT_DEFAULT, edge = 0, max_seq,
	        max_row, n;
	json_t *passes = NULL, *revs = NULL, *events = NULL, *keys = NULL, *centre = NULL;
	sqlite3_stmt *st = NULL;
	struct gate_who g;
	char cursor[64];
	int ok = 1, more = 0, in_read = 0, budget;
	size_t k;

	if (!db)
		return reply_error(rp, 500, "internal", "database unavailable");
	g = rq->gate; /* its bearer token was checked by api.c */
	if (cursor_parse(request_query(rq, "cursor"), &p, &e) < 0)
		return reply_error(rp, 400, "bad_request",
		                   "malformed cursor: send back the one the server gave");
	if (lim_s && (!(k = number_prefix(lim_s, &limit)) || lim_s[k] || limit < 1 ||
	              limit > SYNC_LIMIT_MAX))
		return reply_error(rp, 400, "bad_request", "limit must be a number from 1 to 5000");
	if (horizon_sweep(app, db, &g, now) < 0) {
		snprintf(rp->retry_after, sizeof(rp->retry_after), "1");
		return reply_error(rp, 503, "busy", "the database is busy, try again");
	}
	/* one read transaction: every list of the page comes from the same snapshot */
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		goto dbfail;
	in_read = 1;
	if (read_edge(db, &edge) < 0)
		goto dbfail;
	max_seq = single_int(
	    db, "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'pass_changes'), 0)",
	    &ok);
	max_row = single_int(db, "SELECT COALESCE(MAX(rowid), 0) FROM gate_events", &ok);
	if (!ok)
		goto dbfail;
	if (p > max_seq || e > max_row) {
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		return reply_error(rp, 409, "stale_cursor",
		                   "the cursor is ahead of this server (was its database "
		                   "restored?): sync from the start");
	}
	keys = sync_keys_json(db, now);
	centre = sync_centre_json(db, g.centre);
	passes = json_array();
	revs = json_array();
	events = json_array();
	if (!keys || !centre)
		goto dbfail;

	/* passes and revocations, in change order; a row outside the horizon or for an expired pass
	 * is passed over (the horizon sweep feeds the pass again when its stay comes near) */
	if (!(st = db_stmt(
	          db,
	          "SELECT c.seq, c.kind, p.id, p.booking, p.guest, p.guest_name, p.kind, "
	          "p.valid_from,"
	          " p.valid_until, CASE WHEN p.nfc_uid IS NULL THEN NULL ELSE hex(p.nfc_uid) END, "
	          "p.status,"
	          " u.code, r.until, r.reason"
	          " FROM pass_changes c JOIN passes p ON p.id = c.pass JOIN bookings b ON b.id = "
	          "p.booking"
	          " JOIN units u ON u.id = b.unit LEFT JOIN revocations r ON r.pass = c.pass"
	          " WHERE c.centre = ?1 AND c.seq > ?2 AND p.valid_until > ?3"
	          " AND ((c.kind = 'pass' AND p.valid_from <= ?4) OR (c.kind = 'revocation' AND "
	          "r.until > ?3))"
	          " ORDER BY c.seq LIMIT ?5")))
		goto dbfail;
	db_bind_text(st, 1, g.centre, -1, SQLITE_STATIC);
	db_bind_int64(st, 2, p);
	db_bind_int64(st, 3, now / 60);
	db_bind_int64(st, 4, edge);
	db_bind_int64(st, 5, limit + 1);
	n = 0;
	while (db_step(st) == SQLITE_ROW) {
		if (n == limit) {
			more = 1;
			break;
		}
		n++;
		p = sqlite3_column_int64(st, 0);
		if (!strcmp((const char *)sqlite3_column_text(st, 1), "revocation")) {
			json_array_append_new(revs,
			                      json_pack("{s:I,s:o,s:s}", "pass",
			                                (json_int_t)sqlite3_column_int64(st, 2),
			                                "until", json_instant_col(st, 12, 60),
			                                "reason", sqlite3_column_text(st, 13)));
			continue;
		}
		json_array_append_new(
		    passes,
		    json_pack("{s:I,s:I,s:i,s:s,s:s,s:s,s:o,s:o,s:o,s:s}", "id",
		              (json_int_t)sqlite3_column_int64(st, 2), "booking",
		              (json_int_t)sqlite3_column_int64(st, 3), "guest",
		              sqlite3_column_int(st, 4), "guest_name", sqlite3_column_text(st, 5),
		              "unit", sqlite3_column_text(st, 11), "kind",
		              pass_kind_name(sqlite3_column_int(st, 6)), "valid_from",
		              json_instant_col(st, 7, 60), "valid_until",
		              json_instant_col(st, 8, 60), "nfc_uid",
		              sqlite3_column_type(st, 9) == SQLITE_NULL
		                  ? json_null()
		                  : json_string((const char *)sqlite3_column_text(st, 9)),
		              "status", sqlite3_column_text(st, 10)));
	}
	db_done(st);
	st = NULL;
	if (!more)
		p = max_seq; /* everything up to here was seen or passed over */

	/* other gates' scans at this centre, in arrival order, in what room the page has left */
	budget = (int)(limit - n);
	if (!(st = db_stmt(db,
	                   "SELECT rowid, id, gate, pass, direction, decision, at FROM gate_events"
	                   " WHERE centre = ?1 AND rowid > ?2 AND gate != ?3" EVENT_TIME_TRUSTED
	                   " ORDER BY rowid LIMIT ?4")))
		goto dbfail;
	db_bind_text(st, 1, g.centre, -1, SQLITE_STATIC);
	db_bind_int64(st, 2, e);
	db_bind_int64(st, 3, g.id);
	db_bind_int(st, 4, budget + 1);
	n = 0;
	while (db_step(st) == SQLITE_ROW) {
		if (n == budget) {
			more = 2;
			break;
		}
		n++;
		e = sqlite3_column_int64(st, 0);
		if (event_from_row(st, 1, &rev) == 0)
			json_array_append_new(events, event_relay_to_json(&rev));
	}
	db_done(st);
	st = NULL;
	if (more != 2)
		e = max_row;
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto dbfail;
	in_read = 0;
	snprintf(cursor, sizeof(cursor), "p%lld.e%lld", (long long)p, (long long)e);
	return reply_json(rp, 200,
	                  json_pack("{s:o,s:s,s:b,s:o,s:o,s:o,s:o,s:o}", "server_time",
	                            json_instant(now), "cursor", cursor, "more", more != 0,
	                            "centre", centre, "keys", keys, "passes", passes, "revocations",
	                            revs, "events", events));
dbfail:
	log_err("gate %lld sync: %s", (long long)g.id, sqlite3_errmsg(db));
	db_done(st);
	if (in_read)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	json_decref(keys);
	json_decref(centre);
	json_decref(passes);
	json_decref(revs);
	json_decref(events);
	return reply_error(rp, 500, "internal", "database error");
}
