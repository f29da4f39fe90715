/* sync.c: the server's side of the gates (docs/sync.md): enrolment with a one-time code for a
 * bearer token, the upload of scans (stored once by id, conflicts flagged, never refused), the
 * paged download of keys, passes, revocations and other gates' scans behind an exact cursor, the
 * on-site count, and the administration of gates over HTTP and from estiva-admin. */
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "date.h"
#include "log.h"
#include "server.h"

#define TOKEN_BYTES 32
#define CODE_CHARS 16 /* 80 bits, shown as XXXX-XXXX-XXXX-XXXX */
#define CODE_SHOWN (CODE_CHARS + CODE_CHARS / 4)
#define EVENT_ID_LEN 32
#define REASON_MAX 32
#define NOTE_MAX 500
#define TIME_SLACK (366 * 86400) /* an event time further than this from ours is malformed */
#define SEEN_EVERY 30 /* seconds between two writes of a gate's last_sync_at by downloads */
#define HORIZON_MIN ((int64_t)SYNC_HORIZON_DAYS * 1440)

/* Crockford's base32: no I, L, O, U, so a code read aloud or typed survives */
static const char code_alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";


/* ---- small helpers ---- */

static void hash32(const void *in, size_t len, unsigned char out[32])
{
	crypto_generichash(out, 32, in, len, NULL, 0);
}

static json_t *instant_json(int64_t t)
{
	char s[INSTANT_STRLEN];

	instant_format(t, s);
	return json_string(s);
}

static json_t *instant_or_null(sqlite3_stmt *st, int col, int64_t scale)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return json_null();
	return instant_json(sqlite3_column_int64(st, col) * scale);
}

static json_t *int_or_null(sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return json_null();
	return json_integer(sqlite3_column_int64(st, col));
}

static int digits(int c)
{
	return c >= '0' && c <= '9';
}

/* Strict "YYYY-MM-DDTHH:MM:SSZ" (UTC): 0, else -1. */
static int instant_parse(const char *s, int64_t *out)
{
	char day[DATE_STRLEN];
	int32_t d;
	int h, m, sec;

	if (!s || strlen(s) != INSTANT_STRLEN - 1 || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
	    s[19] != 'Z')
		return -1;
	for (int i = 11; i < 19; i++)
		if (i != 13 && i != 16 && !digits(s[i]))
			return -1;
	memcpy(day, s, 10);
	day[10] = '\0';
	if (date_parse(day, &d) < 0)
		return -1;
	h = (s[11] - '0') * 10 + (s[12] - '0');
	m = (s[14] - '0') * 10 + (s[15] - '0');
	sec = (s[17] - '0') * 10 + (s[18] - '0');
	if (h > 23 || m > 59 || sec > 59)
		return -1;
	*out = (int64_t)d * 86400 + h * 3600 + m * 60 + sec;
	return 0;
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

static int parse_rowid(const char *s, int64_t *id)
{
	size_t n;

	if (!s || !(n = number_prefix(s, id)) || s[n] || *id <= 0)
		return -1;
	return 0;
}

static const char *kind_name(int kind)
{
	return kind == 1 ? "guest" : kind == 2 ? "day_visitor" : kind == 3 ? "staff" : "unknown";
}

/* 1..GATE_NAME_MAX bytes without control characters. */
static int name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > GATE_NAME_MAX)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* Upper case, separators dropped, Crockford's look-alikes folded: 0 when it makes CODE_CHARS
 * symbols. */
static int code_normalise(const char *in, char out[CODE_CHARS + 1])
{
	size_t n = 0;

	for (; *in; in++) {
		int c = toupper((unsigned char)*in);

		if (c == '-' || c == ' ')
			continue;
		if (c == 'O')
			c = '0';
		else if (c == 'I' || c == 'L')
			c = '1';
		if (!strchr(code_alphabet, c) || n >= CODE_CHARS)
			return -1;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return n == CODE_CHARS ? 0 : -1;
}

static void code_make(char norm[CODE_CHARS + 1], char shown[CODE_SHOWN])
{
	unsigned char r[CODE_CHARS];
	size_t k = 0;

	randombytes_buf(r, sizeof(r));
	for (int i = 0; i < CODE_CHARS; i++) {
		norm[i] = code_alphabet[r[i] & 31]; /* 256 is a multiple of 32: uniform */
		if (i && i % 4 == 0)
			shown[k++] = '-';
		shown[k++] = norm[i];
	}
	norm[CODE_CHARS] = '\0';
	shown[k] = '\0';
	sodium_memzero(r, sizeof(r));
}

/* ---- gates ---- */

/* The bearer token of the request's gate: 0 with *g filled, or -1 after replying 401/500. */
int gate_auth(struct app *app, sqlite3 *db, struct request *rq, struct reply *rp,
                     struct gate_who *g)
{
	const char *h = request_header(rq, "Authorization");
	unsigned char tok[TOKEN_BYTES], key[32];
	sqlite3_stmt *st;
	size_t n = 0;
	int found = 0, revoked = 0;

	memset(g, 0, sizeof(*g));
	if (!h || strncasecmp(h, "Bearer ", 7)) {
		reply_error(rp, 401, "unauthenticated",
		            "this route needs Authorization: Bearer <gate token>");
		return -1;
	}
	h += 7;
	if (strlen(h) != 2 * TOKEN_BYTES ||
	    sodium_hex2bin(tok, sizeof(tok), h, strlen(h), NULL, &n, NULL) != 0 ||
	    n != sizeof(tok)) {
		reply_error(rp, 401, "bad_token", "unknown gate token");
		return -1;
	}
	hash32(tok, sizeof(tok), key);
	sodium_memzero(tok, sizeof(tok));
	if (sqlite3_prepare_v2(
	        db,
	        "SELECT id, centre, name, revoked_at, last_sync_at FROM gates WHERE token_hash = ?",
	        -1, &st, NULL) != SQLITE_OK) {
		reply_error(rp, 500, "internal", "database error");
		return -1;
	}
	sqlite3_bind_blob(st, 1, key, sizeof(key), SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		found = 1;
		g->id = sqlite3_column_int64(st, 0);
		snprintf(g->centre, sizeof(g->centre), "%s",
		         (const char *)sqlite3_column_text(st, 1));
		snprintf(g->name, sizeof(g->name), "%s", (const char *)sqlite3_column_text(st, 2));
		revoked = sqlite3_column_type(st, 3) != SQLITE_NULL;
		g->last_sync_at = sqlite3_column_int64(st, 4);
	}
	sqlite3_finalize(st);
	if (!found) {
		log_warn("gate: unknown token from %s", rq->ip);
		reply_error(rp, 401, "bad_token", "unknown gate token");
		return -1;
	}
	if (revoked) {
		reply_error(rp, 401, "gate_revoked", "this gate was revoked");
		return -1;
	}
	(void)app;
	return 0;
}

/* Every key a gate still needs: the one signing now, and the retired ones whose passes have not all
 * expired. */
static json_t *keys_json(sqlite3 *db, int64_t now)
{
	sqlite3_stmt *st;
	json_t *a = json_array();

	if (sqlite3_prepare_v2(
	        db,
	        "SELECT id, public_key, last_valid_until, retired_at FROM signing_keys"
	        " WHERE retired_at IS NULL OR last_valid_until > ? ORDER BY id",
	        -1, &st, NULL) != SQLITE_OK) {
		json_decref(a);
		return NULL;
	}
	sqlite3_bind_int64(st, 1, now / 60);
	while (sqlite3_step(st) == SQLITE_ROW) {
		char hex[2 * 32 + 1] = "";
		int signing = sqlite3_column_type(st, 3) == SQLITE_NULL;

		if (sqlite3_column_bytes(st, 1) == 32)
			sodium_bin2hex(hex, sizeof(hex), sqlite3_column_blob(st, 1), 32);
		json_array_append_new(
		    a, json_pack("{s:i,s:s,s:o,s:b}", "id", sqlite3_column_int(st, 0), "public_key",
		                 hex, "valid_until",
		                 signing ? json_null() : instant_or_null(st, 2, 60), "signing",
		                 signing));
	}
	sqlite3_finalize(st);
	return a;
}

static json_t *centre_json(sqlite3 *db, const char *centre)
{
	sqlite3_stmt *st;
	json_t *j = NULL;

	if (sqlite3_prepare_v2(db, "SELECT id, number, name_fr, name_ar FROM centres WHERE id = ?",
	                       -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(st, 1, centre, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		j = json_pack("{s:s,s:o,s:s,s:s}", "id", sqlite3_column_text(st, 0), "number",
		              int_or_null(st, 1), "name_fr", sqlite3_column_text(st, 2), "name_ar",
		              sqlite3_column_text(st, 3));
	sqlite3_finalize(st);
	return j;
}

/* The gates (of one centre, or all), as the admin pages and the on-site page show them. */
static json_t *gates_json(sqlite3 *db, const char *centre)
{
	sqlite3_stmt *st;
	json_t *a = json_array();

	if (sqlite3_prepare_v2(db,
	                       "SELECT id, centre, name, created_at, enrolled_at, revoked_at, "
	                       "last_sync_at, last_queue,"
	                       " last_offset_s, code_expires_at FROM gates WHERE ?1 IS NULL OR "
	                       "centre = ?1 ORDER BY id",
	                       -1, &st, NULL) != SQLITE_OK) {
		json_decref(a);
		return NULL;
	}
	if (centre)
		sqlite3_bind_text(st, 1, centre, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_t *g = json_pack(
		    "{s:I,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:b,s:o}", "id",
		    (json_int_t)sqlite3_column_int64(st, 0), "centre", sqlite3_column_text(st, 1),
		    "name", sqlite3_column_text(st, 2), "created_at", instant_or_null(st, 3, 1),
		    "enrolled_at", instant_or_null(st, 4, 1), "last_sync",
		    instant_or_null(st, 6, 1), "queue", int_or_null(st, 7), "clock_offset_s",
		    int_or_null(st, 8), "revoked", sqlite3_column_type(st, 5) != SQLITE_NULL,
		    "revoked_at", instant_or_null(st, 5, 1));
		if (sqlite3_column_type(st, 9) != SQLITE_NULL)
			json_object_set_new(g, "code_expires_at", instant_or_null(st, 9, 1));
		json_array_append_new(a, g);
	}
	sqlite3_finalize(st);
	return a;
}

/* Makes a gate and its one-time code. 0 done, 1 no such centre, -1 error. */
static int gate_create(struct app *app, sqlite3 *db, const char *centre, const char *name,
                       const char *actor, int64_t *id, char code[CODE_SHOWN], int64_t *expires)
{
	char norm[CODE_CHARS + 1], after[512];
	unsigned char key[32];
	sqlite3_stmt *st = NULL;
	int64_t now = instant_now();
	json_t *j;
	char *s;
	int found = 0;

	code_make(norm, code);
	hash32(norm, CODE_CHARS, key);
	sodium_memzero(norm, sizeof(norm));
	*expires = now + GATE_CODE_TTL;
	if (db_begin(app, db) < 0)
		return -1;
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM centres WHERE id = ? AND active = 1", -1, &st,
	                       NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(st, 1, centre, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	st = NULL;
	if (!found) {
		db_rollback(app, db);
		return 1;
	}
	if (sqlite3_prepare_v2(
	        db,
	        "INSERT INTO gates(centre, name, code_hash, code_expires_at, created_at)"
	        " VALUES (?, ?, ?, ?, ?) RETURNING id",
	        -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(st, 1, centre, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, key, sizeof(key), SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, *expires);
	sqlite3_bind_int64(st, 5, now);
	if (sqlite3_step(st) != SQLITE_ROW)
		goto fail;
	*id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	j = json_pack("{s:s,s:s}", "centre", centre, "name", name);
	s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	snprintf(after, sizeof(after), "%s", s ? s : "{}");
	free(s);
	if (db_audit(db, actor, "gate.add", "gate", *id, NULL, after) < 0)
		goto fail;
	return db_commit(app, db) < 0 ? -1 : 0;
fail:
	log_err("gate add: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	db_rollback(app, db);
	return -1;
}

/* Ends a gate: its token is refused from now on and an unused code dies. 0 revoked now, 2 it
 * already was, 1 no such gate, -1 error. */
static int gate_revoke(struct app *app, sqlite3 *db, int64_t id, const char *actor)
{
	sqlite3_stmt *st = NULL;
	int rc = -1, changed;

	if (db_begin(app, db) < 0)
		return -1;
	if (sqlite3_prepare_v2(
	        db,
	        "UPDATE gates SET revoked_at = ?, code_hash = NULL, code_expires_at = NULL"
	        " WHERE id = ? AND revoked_at IS NULL",
	        -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(st, 1, instant_now());
	sqlite3_bind_int64(st, 2, id);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	changed = sqlite3_changes(db);
	sqlite3_finalize(st);
	st = NULL;
	if (!changed) {
		if (sqlite3_prepare_v2(db, "SELECT 1 FROM gates WHERE id = ?", -1, &st, NULL) !=
		    SQLITE_OK)
			goto fail;
		sqlite3_bind_int64(st, 1, id);
		rc = sqlite3_step(st) == SQLITE_ROW ? 2 : 1;
		sqlite3_finalize(st);
		db_rollback(app, db);
		return rc;
	}
	if (db_audit(db, actor, "gate.revoke", "gate", id, "{\"revoked\":false}",
	             "{\"revoked\":true}") < 0)
		goto fail;
	return db_commit(app, db) < 0 ? -1 : 0;
fail:
	log_err("gate revoke: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	db_rollback(app, db);
	return -1;
}

/* ---- enrolment ---- */

int sync_enroll(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	char norm[CODE_CHARS + 1], token_hex[2 * TOKEN_BYTES + 1], actor[96];
	unsigned char code_key[32], tok[TOKEN_BYTES], tok_key[32];
	sqlite3_stmt *st = NULL;
	json_t *body = NULL, *keys, *centre_j;
	int64_t now = instant_now(), id = 0;
	char centre[ID_MAX + 1] = "", name[GATE_NAME_MAX + 1] = "";
	int ok = 0;

	if (!db)
		return reply_error(rp, 500, "internal", "database unavailable");
	if (request_json(rq, rp, &body) < 0)
		return 0;
	if (!json_is_string(json_object_get(body, "code"))) {
		json_decref(body);
		return reply_error(rp, 400, "bad_request", "code is a required string");
	}
	if (code_normalise(json_string_value(json_object_get(body, "code")), norm) < 0) {
		json_decref(body);
		log_warn("gate: malformed enrolment code from %s", rq->ip);
		return reply_error(rp, 401, "bad_code", "unknown, used or expired enrolment code");
	}
	json_decref(body);
	hash32(norm, CODE_CHARS, code_key);
	sodium_memzero(norm, sizeof(norm));
	randombytes_buf(tok, sizeof(tok));
	hash32(tok, sizeof(tok), tok_key);
	sodium_bin2hex(token_hex, sizeof(token_hex), tok, sizeof(tok));
	sodium_memzero(tok, sizeof(tok));

	if (db_begin(app, db) < 0)
		return reply_error(rp, 503, "busy", "the database is busy, try again");
	if (sqlite3_prepare_v2(
	        db,
	        "SELECT id, centre, name FROM gates WHERE code_hash = ? AND code_expires_at > ?"
	        " AND revoked_at IS NULL AND token_hash IS NULL",
	        -1, &st, NULL) != SQLITE_OK)
		goto dbfail;
	sqlite3_bind_blob(st, 1, code_key, sizeof(code_key), SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	if (sqlite3_step(st) == SQLITE_ROW) {
		ok = 1;
		id = sqlite3_column_int64(st, 0);
		snprintf(centre, sizeof(centre), "%s", (const char *)sqlite3_column_text(st, 1));
		snprintf(name, sizeof(name), "%s", (const char *)sqlite3_column_text(st, 2));
	}
	sqlite3_finalize(st);
	st = NULL;
	if (!ok) {
		db_rollback(app, db);
		sodium_memzero(token_hex, sizeof(token_hex));
		log_warn("gate: unknown, used or expired enrolment code from %s", rq->ip);
		return reply_error(rp, 401, "bad_code", "unknown, used or expired enrolment code");
	}
	if (sqlite3_prepare_v2(db,
	                       "UPDATE gates SET token_hash = ?, code_hash = NULL, code_expires_at "
	                       "= NULL, enrolled_at = ?"
	                       " WHERE id = ?",
	                       -1, &st, NULL) != SQLITE_OK)
		goto dbfail;
	sqlite3_bind_blob(st, 1, tok_key, sizeof(tok_key), SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, id);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto dbfail;
	sqlite3_finalize(st);
	st = NULL;
	snprintf(actor, sizeof(actor), "gate %lld from %s", (long long)id, rq->ip);
	if (db_audit(db, actor, "gate.enroll", "gate", id, NULL, NULL) < 0)
		goto dbfail;
	if (db_commit(app, db) < 0) {
		sodium_memzero(token_hex, sizeof(token_hex));
		return reply_error(rp, 500, "internal", "database error");
	}
	log_info("gate %lld (%s, %s) enrolled from %s", (long long)id, centre, name, rq->ip);
	keys = keys_json(db, now);
	centre_j = centre_json(db, centre);
	reply_json(rp, 200,
	           json_pack("{s:I,s:s,s:O,s:s,s:s,s:o,s:o}", "gate", (json_int_t)id, "centre",
	                     centre, "centre_number",
	                     centre_j ? json_object_get(centre_j, "number") : json_null(), "name",
	                     name, "token", token_hex, "keys", keys ? keys : json_array(),
	                     "server_time", instant_json(now)));
	json_decref(centre_j);
	sodium_memzero(token_hex, sizeof(token_hex));
	return 0;
dbfail:
	log_err("gate enroll: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	db_rollback(app, db);
	sodium_memzero(token_hex, sizeof(token_hex));
	return reply_error(rp, 500, "internal", "database error");
}

/* ---- upload ---- */

struct event {
	char id[EVENT_ID_LEN + 1];
	int64_t pass, booking, at, seq;
	const char *direction, *decision, *reason, *note;
	int offline, manual;
};

static int bool_field(json_t *e, const char *name, int *out)
{
	json_t *v = json_object_get(e, name);

	if (!v || json_is_null(v)) {
		*out = 0;
		return 0;
	}
	if (!json_is_boolean(v))
		return -1;
	*out = json_is_true(v);
	return 0;
}

/* Checks one event of an upload: NULL when well-formed (ev filled), else the error code. */
static const char *event_check(json_t *e, int64_t now, struct event *ev)
{
	json_t *v;
	const char *s;

	memset(ev, 0, sizeof(*ev));
	if (!json_is_object(e))
		return "not_an_object";
	s = json_string_value(json_object_get(e, "id"));
	if (!s || strlen(s) != EVENT_ID_LEN)
		return "bad_id";
	for (int i = 0; i < EVENT_ID_LEN; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return "bad_id";
		ev->id[i] = (char)tolower((unsigned char)s[i]);
	}
	v = json_object_get(e, "pass");
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > UINT32_MAX)
		return "bad_pass";
	ev->pass = json_integer_value(v);
	v = json_object_get(e, "booking");
	if (v && !json_is_null(v) &&
	    (!json_is_integer(v) || json_integer_value(v) < 0 ||
	     json_integer_value(v) > UINT32_MAX))
		return "bad_booking";
	ev->booking = json_is_integer(v) ? json_integer_value(v) : 0;
	ev->direction = json_string_value(json_object_get(e, "direction"));
	if (!ev->direction || (strcmp(ev->direction, "in") && strcmp(ev->direction, "out")))
		return "bad_direction";
	ev->decision = json_string_value(json_object_get(e, "decision"));
	if (!ev->decision || (strcmp(ev->decision, "admit") && strcmp(ev->decision, "deny") &&
	                      strcmp(ev->decision, "undone") && strcmp(ev->decision, "manual")))
		return "bad_decision";
	v = json_object_get(e, "reason");
	ev->reason = v && !json_is_null(v) ? json_string_value(v) : "";
	if (!ev->reason || strlen(ev->reason) > REASON_MAX)
		return "bad_reason";
	for (s = ev->reason; *s; s++)
		if (!(digits(*s) || (*s >= 'a' && *s <= 'z') || *s == '_'))
			return "bad_reason";
	if (instant_parse(json_string_value(json_object_get(e, "at")), &ev->at) < 0 ||
	    ev->at < now - TIME_SLACK || ev->at > now + TIME_SLACK)
		return "bad_time";
	v = json_object_get(e, "seq");
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return "bad_seq";
	ev->seq = json_integer_value(v);
	if (bool_field(e, "offline", &ev->offline) < 0)
		return "bad_offline";
	if (bool_field(e, "manual", &ev->manual) < 0)
		return "bad_manual";
	v = json_object_get(e, "note");
	ev->note = v && !json_is_null(v) ? json_string_value(v) : "";
	if (!ev->note || strlen(ev->note) > NOTE_MAX)
		return "bad_note";
	if (!strcmp(ev->decision, "manual")) {
		if (!*ev->note)
			return "note_required";
		ev->manual = 1;
	}
	return NULL;
}

struct upload_stmts {
	sqlite3_stmt *pass, *state, *insert;
};

/* Inside-ness of a pass from its scans, newest first: the latest admission ('admit' or 'manual')
 * that no 'undone' follows directly gives the side the person is on; an 'undone' cancels the
 * admission just before it. (The on-site count says the same in SQL.) Usually one or two rows are
 * read. */
#define STATE_SQL                                                                                  \
	"SELECT direction, decision FROM gate_events WHERE pass = ?1 AND centre = ?2 AND at <= ?3" \
	" AND decision IN ('admit','manual','undone')" EVENT_TIME_TRUSTED " ORDER BY at DESC, rowid DESC"

/* Why a scan conflicts with what the server knew when it arrived (NULL when it does not): the scans
 * are stored anyway, these are facts. */
static const char *event_conflict(struct upload_stmts *u, const struct gate_who *g,
                                  const struct event *ev, int64_t latest, int64_t *booking)
{
	const char *why = NULL;
	int admit = !strcmp(ev->decision, "admit"), manual = !strcmp(ev->decision, "manual");

	if (ev->at > latest)
		why = "future_time"; /* later than the gate's own clock: never used for presence */
	if (ev->pass == 0) {
		*booking = 0; /* no pass, no booking of ours: what the gate says is not kept */
		return why ? why : admit ? "unknown_pass" : NULL;
	}
	/* one read of our row: the booking is the pass's (a gate that says otherwise is flagged), then the
	 * admission is judged against the same row */
	sqlite3_reset(u->pass);
	sqlite3_bind_int64(u->pass, 1, ev->pass);
	if (sqlite3_step(u->pass) == SQLITE_ROW) {
		int64_t ours = sqlite3_column_int64(u->pass, 2);
		if (!why && *booking && *booking != ours)
			why = "booking_mismatch";
		*booking = ours;
		if (!why && admit && strcmp((const char *)sqlite3_column_text(u->pass, 0), g->centre))
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
	if (!why && !strcmp(ev->direction, "in")) {
		int undone = 0;

		sqlite3_reset(u->state);
		sqlite3_bind_int64(u->state, 1, ev->pass);
		sqlite3_bind_text(u->state, 2, g->centre, -1, SQLITE_STATIC);
		sqlite3_bind_int64(u->state, 3, ev->at);
		while (sqlite3_step(u->state) == SQLITE_ROW) {
			if (!strcmp((const char *)sqlite3_column_text(u->state, 1), "undone")) {
				undone = 1;
			} else if (undone) {
				undone = 0; /* that admission did not happen */
			} else {
				if (!strcmp((const char *)sqlite3_column_text(u->state, 0), "in"))
					why = "already_inside";
				break;
			}
		}
		sqlite3_reset(u->state); /* no read left open on gate_events while it is written */
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
	if (gate_auth(app, db, rq, rp, &g) < 0)
		return 0;
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
	/* The latest time a scan can carry: now on the gate's clock (measured from this upload's gate_time,
	 * or the last one it sent), plus a little. */
	{
		int64_t ahead = have_time ? gate_time - now : 0;
		if (!have_time && sqlite3_prepare_v2(db, "SELECT -last_offset_s FROM gates WHERE id = ?", -1, &st, NULL) ==
		                      SQLITE_OK) {
			sqlite3_bind_int64(st, 1, g.id);
			if (sqlite3_step(st) == SQLITE_ROW)
				ahead = sqlite3_column_int64(st, 0);
			sqlite3_finalize(st);
			st = NULL;
		}
		latest = now + (ahead > 0 ? ahead : 0) + EVENT_TIME_TOLERANCE;
	}
	/* the gate may have been revoked since its token was checked: decided here, in the
	 * transaction */
	if (sqlite3_prepare_v2(
	        db,
	        "UPDATE gates SET last_sync_at = ?1, last_queue = COALESCE(?2, last_queue),"
	        " last_offset_s = COALESCE(?3, last_offset_s) WHERE id = ?4 AND revoked_at IS NULL",
	        -1, &st, NULL) != SQLITE_OK)
		goto dbfail;
	sqlite3_bind_int64(st, 1, now);
	if (queue >= 0)
		sqlite3_bind_int64(st, 2, queue);
	if (have_time)
		sqlite3_bind_int64(st, 3, now - gate_time);
	sqlite3_bind_int64(st, 4, g.id);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto dbfail;
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_changes(db) != 1) {
		db_rollback(app, db);
		json_decref(body);
		json_decref(stored);
		json_decref(dups);
		json_decref(rejected);
		return reply_error(rp, 401, "gate_revoked", "this gate was revoked");
	}
	if (sqlite3_prepare_v2(db,
	                       "SELECT b.centre, p.revoked_at, p.booking FROM passes p JOIN "
	                       "bookings b ON b.id = p.booking"
	                       " WHERE p.id = ?",
	                       -1, &u.pass, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, STATE_SQL, -1, &u.state, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(
	        db,
	        "INSERT OR IGNORE INTO gate_events(id, gate, centre, pass, booking, direction, "
	        "decision,"
	        " reason, at, seq, offline, manual, note, received_at, conflict, conflict_reason)"
	        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	        -1, &u.insert, NULL) != SQLITE_OK)
		goto dbfail;
	json_array_foreach(events, i, e)
	{
		struct event ev;
		const char *err = event_check(e, now, &ev), *why;
		int64_t booking;

		if (err) {
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
		sqlite3_bind_text(u.insert, 1, ev.id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(u.insert, 2, g.id);
		sqlite3_bind_text(u.insert, 3, g.centre, -1, SQLITE_STATIC);
		sqlite3_bind_int64(u.insert, 4, ev.pass);
		if (booking)
			sqlite3_bind_int64(u.insert, 5, booking);
		else
			sqlite3_bind_null(u.insert, 5);
		sqlite3_bind_text(u.insert, 6, ev.direction, -1, SQLITE_STATIC);
		sqlite3_bind_text(u.insert, 7, ev.decision, -1, SQLITE_STATIC);
		sqlite3_bind_text(u.insert, 8, ev.reason, -1, SQLITE_STATIC);
		sqlite3_bind_int64(u.insert, 9, ev.at);
		sqlite3_bind_int64(u.insert, 10, ev.seq);
		sqlite3_bind_int(u.insert, 11, ev.offline);
		sqlite3_bind_int(u.insert, 12, ev.manual);
		sqlite3_bind_text(u.insert, 13, ev.note, -1, SQLITE_STATIC);
		sqlite3_bind_int64(u.insert, 14, now);
		sqlite3_bind_int(u.insert, 15, why != NULL);
		if (why)
			sqlite3_bind_text(u.insert, 16, why, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(u.insert, 16);
		if (sqlite3_step(u.insert) != SQLITE_DONE)
			goto dbfail;
		json_array_append_new(sqlite3_changes(db) == 1 ? stored : dups, json_string(ev.id));
		if (why && sqlite3_changes(db) == 1)
			flagged++;
	}
	sqlite3_finalize(u.pass);
	sqlite3_finalize(u.state);
	sqlite3_finalize(u.insert);
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
	                            "rejected", rejected, "server_time", instant_json(now)));
dbfail:
	log_err("gate %lld upload: %s", (long long)g.id, sqlite3_errmsg(db));
fail:
	sqlite3_finalize(st);
	sqlite3_finalize(u.pass);
	sqlite3_finalize(u.state);
	sqlite3_finalize(u.insert);
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

	if (sqlite3_prepare_v2(db, "SELECT edge FROM sync_horizon WHERE id = 1", -1, &st, NULL) !=
	    SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*edge = sqlite3_column_int64(st, 0);
		rc = 0;
	}
	sqlite3_finalize(st);
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
		if (sqlite3_prepare_v2(
		        db,
		        "INSERT INTO pass_changes(pass, centre, kind)"
		        " SELECT p.id, b.centre, 'pass' FROM passes p JOIN bookings b ON b.id = "
		        "p.booking"
		        " WHERE p.valid_from > ?1 AND p.valid_from <= ?2 AND p.valid_until > ?3"
		        " AND p.status = 'active' ORDER BY p.valid_from, p.id",
		        -1, &st, NULL) != SQLITE_OK)
			goto fail;
		sqlite3_bind_int64(st, 1, edge);
		sqlite3_bind_int64(st, 2, target);
		sqlite3_bind_int64(st, 3, now / 60);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto fail;
		sqlite3_finalize(st);
		if (sqlite3_prepare_v2(db, "UPDATE sync_horizon SET edge = ? WHERE id = 1", -1, &st,
		                       NULL) != SQLITE_OK)
			goto fail;
		sqlite3_bind_int64(st, 1, target);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto fail;
		sqlite3_finalize(st);
		st = NULL;
	}
	if (seen) {
		if (sqlite3_prepare_v2(db, "UPDATE gates SET last_sync_at = ? WHERE id = ?", -1,
		                       &st, NULL) != SQLITE_OK)
			goto fail;
		sqlite3_bind_int64(st, 1, now);
		sqlite3_bind_int64(st, 2, g->id);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto fail;
		sqlite3_finalize(st);
		st = NULL;
	}
	return db_commit(app, db);
fail:
	log_err("gate sync: horizon: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	db_rollback(app, db);
	return -1;
}

static int64_t single_int(sqlite3 *db, const char *sql, int *ok)
{
	sqlite3_stmt *st;
	int64_t v = 0;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		*ok = 0;
		return 0;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

int sync_download(struct app *app, struct request *rq, struct reply *rp)
{
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
	if (gate_auth(app, db, rq, rp, &g) < 0)
		return 0;
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
	keys = keys_json(db, now);
	centre = centre_json(db, g.centre);
	passes = json_array();
	revs = json_array();
	events = json_array();
	if (!keys || !centre)
		goto dbfail;

	/* passes and revocations, in change order; a row outside the horizon or for an expired pass
	 * is passed over (the horizon sweep feeds the pass again when its stay comes near) */
	if (sqlite3_prepare_v2(
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
	        " ORDER BY c.seq LIMIT ?5",
	        -1, &st, NULL) != SQLITE_OK)
		goto dbfail;
	sqlite3_bind_text(st, 1, g.centre, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, p);
	sqlite3_bind_int64(st, 3, now / 60);
	sqlite3_bind_int64(st, 4, edge);
	sqlite3_bind_int64(st, 5, limit + 1);
	n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
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
			                                "until", instant_or_null(st, 12, 60),
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
		              kind_name(sqlite3_column_int(st, 6)), "valid_from",
		              instant_or_null(st, 7, 60), "valid_until", instant_or_null(st, 8, 60),
		              "nfc_uid",
		              sqlite3_column_type(st, 9) == SQLITE_NULL
		                  ? json_null()
		                  : json_string((const char *)sqlite3_column_text(st, 9)),
		              "status", sqlite3_column_text(st, 10)));
	}
	sqlite3_finalize(st);
	st = NULL;
	if (!more)
		p = max_seq; /* everything up to here was seen or passed over */

	/* other gates' scans at this centre, in arrival order, in what room the page has left */
	budget = (int)(limit - n);
	if (sqlite3_prepare_v2(
	        db,
	        "SELECT rowid, id, gate, pass, direction, decision, at FROM gate_events"
	        " WHERE centre = ?1 AND rowid > ?2 AND gate != ?3" EVENT_TIME_TRUSTED " ORDER BY rowid LIMIT ?4",
	        -1, &st, NULL) != SQLITE_OK)
		goto dbfail;
	sqlite3_bind_text(st, 1, g.centre, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, e);
	sqlite3_bind_int64(st, 3, g.id);
	sqlite3_bind_int(st, 4, budget + 1);
	n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n == budget) {
			more = 2;
			break;
		}
		n++;
		e = sqlite3_column_int64(st, 0);
		json_array_append_new(
		    events, json_pack("{s:s,s:I,s:I,s:s,s:s,s:o}", "id", sqlite3_column_text(st, 1),
		                      "gate", (json_int_t)sqlite3_column_int64(st, 2), "pass",
		                      (json_int_t)sqlite3_column_int64(st, 3), "direction",
		                      sqlite3_column_text(st, 4), "decision",
		                      sqlite3_column_text(st, 5), "at", instant_or_null(st, 6, 1)));
	}
	sqlite3_finalize(st);
	st = NULL;
	if (more != 2)
		e = max_row;
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto dbfail;
	in_read = 0;
	snprintf(cursor, sizeof(cursor), "p%lld.e%lld", (long long)p, (long long)e);
	return reply_json(rp, 200,
	                  json_pack("{s:o,s:s,s:b,s:o,s:o,s:o,s:o,s:o}", "server_time",
	                            instant_json(now), "cursor", cursor, "more", more != 0,
	                            "centre", centre, "keys", keys, "passes", passes, "revocations",
	                            revs, "events", events));
dbfail:
	log_err("gate %lld sync: %s", (long long)g.id, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	if (in_read)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	json_decref(keys);
	json_decref(centre);
	json_decref(passes);
	json_decref(revs);
	json_decref(events);
	return reply_error(rp, 500, "internal", "database error");
}

/* ---- on-site count ---- */

int sync_onsite(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	int ci = catalog_centre(&app->cat, rq->params[0]);
	int64_t now = instant_now(), inside = 0;
	sqlite3_stmt *st;
	json_t *gates;

	if (rq->who.role == ROLE_MEMBER)
		return reply_error(rp, 403, "forbidden", "for the centre's managers");
	if (ci < 0 || !auth_can_see_centre(&rq->who, ci))
		return reply_error(rp, 404, "not_found", "no such centre");
	if (!db)
		return reply_error(rp, 500, "internal", "database unavailable");
	/* passes of stays not over yet, each on the side of its latest admission that was not
	 * undone */
	if (sqlite3_prepare_v2(
	        db,
	        "WITH cur AS (SELECT p.id FROM passes p JOIN bookings b ON b.id = p.booking"
	        "  WHERE b.centre = ?1 AND p.valid_until > ?2),"
	        " a AS (SELECT e.pass, e.direction, e.decision, e.at, e.rowid AS r,"
	        "  LEAD(e.decision) OVER (PARTITION BY e.pass ORDER BY e.at, e.rowid) AS nxt"
	        "  FROM gate_events e WHERE e.centre = ?1 AND e.pass IN (SELECT id FROM cur)"
	        "  AND e.decision IN ('admit','manual','undone')" EVENT_TIME_TRUSTED "),"
	        " k AS (SELECT direction, ROW_NUMBER() OVER (PARTITION BY pass ORDER BY at DESC, r "
	        "DESC) AS rn"
	        "  FROM a WHERE decision != 'undone' AND (nxt IS NULL OR nxt != 'undone'))"
	        " SELECT COUNT(*) FROM k WHERE rn = 1 AND direction = 'in'",
	        -1, &st, NULL) != SQLITE_OK)
		return reply_error(rp, 500, "internal", "database error");
	sqlite3_bind_text(st, 1, app->cat.centres[ci]->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now / 60);
	if (sqlite3_step(st) == SQLITE_ROW)
		inside = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	gates = gates_json(db, app->cat.centres[ci]->id);
	if (!gates)
		return reply_error(rp, 500, "internal", "database error");
	return reply_json(rp, 200,
	                  json_pack("{s:s,s:I,s:o,s:o}", "centre", app->cat.centres[ci]->id,
	                            "inside", (json_int_t)inside, "as_of", instant_json(now),
	                            "gates", gates));
}

/* ---- administration over HTTP ---- */

int sync_admin_list(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	json_t *gates;

	if (rq->who.role != ROLE_ADMIN)
		return reply_error(rp, 403, "forbidden", "for administrators");
	if (!db || !(gates = gates_json(db, NULL)))
		return reply_error(rp, 500, "internal", "database error");
	return reply_json(
	    rp, 200,
	    json_pack("{s:o,s:o}", "gates", gates, "server_time", instant_json(instant_now())));
}

int sync_admin_add(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	char centre[ID_MAX + 1], name[GATE_NAME_MAX + 1], code[CODE_SHOWN];
	const char *c, *n;
	json_t *body = NULL;
	int64_t id = 0, expires = 0;
	int rc;

	if (rq->who.role != ROLE_ADMIN)
		return reply_error(rp, 403, "forbidden", "for administrators");
	if (!db)
		return reply_error(rp, 500, "internal", "database unavailable");
	if (request_json(rq, rp, &body) < 0)
		return 0;
	c = json_string_value(json_object_get(body, "centre"));
	n = json_string_value(json_object_get(body, "name"));
	if (!c || !n || strlen(c) > ID_MAX || !name_ok(n)) {
		json_decref(body);
		return reply_error(rp, 400, "bad_request",
		                   "centre and name (1 to 64 bytes) are required strings");
	}
	snprintf(centre, sizeof(centre), "%s", c);
	snprintf(name, sizeof(name), "%s", n);
	json_decref(body);
	rc = gate_create(app, db, centre, name, rq->who.name, &id, code, &expires);
	if (rc == 1)
		return reply_error(rp, 400, "bad_request", "no such centre");
	if (rc < 0)
		return reply_error(rp, 500, "internal", "database error");
	reply_json(rp, 201,
	           json_pack("{s:I,s:s,s:s,s:s,s:o}", "id", (json_int_t)id, "centre", centre,
	                     "name", name, "code", code, "code_expires_at", instant_json(expires)));
	sodium_memzero(code, sizeof(code));
	return 0;
}

int sync_admin_revoke(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	int64_t id;
	int rc;

	if (rq->who.role != ROLE_ADMIN)
		return reply_error(rp, 403, "forbidden", "for administrators");
	if (parse_rowid(rq->params[0], &id) < 0)
		return reply_error(rp, 404, "not_found", "no such gate");
	if (!db)
		return reply_error(rp, 500, "internal", "database unavailable");
	rc = gate_revoke(app, db, id, rq->who.name);
	if (rc == 1)
		return reply_error(rp, 404, "not_found", "no such gate");
	if (rc < 0)
		return reply_error(rp, 500, "internal", "database error");
	return reply_json(rp, 200, json_pack("{s:I,s:b}", "id", (json_int_t)id, "revoked", 1));
}

/* ---- estiva-admin gate ... ---- */

static void cli_usage(void)
{
	fprintf(
	    stderr,
	    "usage: estiva-admin gate add --centre ID --name NAME | gate revoke ID | gate list\n");
}

static int cli_list(sqlite3 *db)
{
	json_t *gates = gates_json(db, NULL), *g;
	size_t i;

	if (!gates) {
		fprintf(stderr, "estiva-admin: %s\n", sqlite3_errmsg(db));
		return 1;
	}
	printf("%-4s %-16s %-10s %-20s %-6s %-6s %s\n", "id", "centre", "state", "last sync",
	       "queue", "offset", "name");
	json_array_foreach(gates, i, g)
	{
		const char *state = json_is_true(json_object_get(g, "revoked"))       ? "revoked"
		                    : json_is_null(json_object_get(g, "enrolled_at")) ? "pending"
		                                                                      : "enrolled";
		const char *last = json_string_value(json_object_get(g, "last_sync"));
		char queue[24] = "-", offset[24] = "-";

		if (json_is_integer(json_object_get(g, "queue")))
			snprintf(queue, sizeof(queue), "%lld",
			         (long long)json_integer_value(json_object_get(g, "queue")));
		if (json_is_integer(json_object_get(g, "clock_offset_s")))
			snprintf(
			    offset, sizeof(offset), "%llds",
			    (long long)json_integer_value(json_object_get(g, "clock_offset_s")));
		printf("%-4lld %-16s %-10s %-20s %-6s %-6s %s\n",
		       (long long)json_integer_value(json_object_get(g, "id")),
		       json_string_value(json_object_get(g, "centre")), state,
		       last ? last : "never", queue, offset,
		       json_string_value(json_object_get(g, "name")));
	}
	json_decref(gates);
	return 0;
}

int sync_admin_cli(struct app *app, sqlite3 *db, int argc, char **argv)
{
	if (argc == 1 && !strcmp(argv[0], "list"))
		return cli_list(db);
	if (argc == 2 && !strcmp(argv[0], "revoke")) {
		int64_t id;
		int rc;

		if (parse_rowid(argv[1], &id) < 0) {
			fprintf(stderr, "estiva-admin: the gate id must be a number\n");
			return 2;
		}
		rc = gate_revoke(app, db, id, "estiva-admin");
		if (rc == 1)
			fprintf(stderr, "estiva-admin: no gate %lld\n", (long long)id);
		else if (rc < 0)
			fprintf(stderr, "estiva-admin: %s\n", sqlite3_errmsg(db));
		else
			printf("gate %lld %s\n", (long long)id,
			       rc == 2 ? "was already revoked" : "revoked");
		return rc == 0 || rc == 2 ? 0 : 1;
	}
	if (argc >= 1 && !strcmp(argv[0], "add")) {
		const char *centre = NULL, *name = NULL;
		char code[CODE_SHOWN], until[INSTANT_STRLEN];
		int64_t id = 0, expires = 0;
		int rc;

		for (int i = 1; i < argc; i++) {
			if (!strcmp(argv[i], "--centre") && i + 1 < argc)
				centre = argv[++i];
			else if (!strcmp(argv[i], "--name") && i + 1 < argc)
				name = argv[++i];
			else {
				cli_usage();
				return 2;
			}
		}
		if (!centre || !name || strlen(centre) > ID_MAX || !name_ok(name)) {
			cli_usage();
			fprintf(stderr,
			        "estiva-admin: NAME has 1 to %d bytes, no control characters\n",
			        GATE_NAME_MAX);
			return 2;
		}
		rc = gate_create(app, db, centre, name, "estiva-admin", &id, code, &expires);
		if (rc == 1) {
			fprintf(
			    stderr,
			    "estiva-admin: no centre \"%s\" (run estiva-admin catalog first?)\n",
			    centre);
			return 1;
		}
		if (rc < 0) {
			fprintf(stderr, "estiva-admin: %s\n", sqlite3_errmsg(db));
			return 1;
		}
		instant_format(expires, until);
		printf("gate %lld\ncentre %s\nname %s\ncode %s\ncode_expires_at %s\n",
		       (long long)id, centre, name, code, until);
		fflush(stdout);
		fprintf(
		    stderr,
		    "on the gate: estiva-gate -c gate.conf enroll URL %s  (works once, until %s)\n",
		    code, until);
		sodium_memzero(code, sizeof(code));
		return 0;
	}
	cli_usage();
	return 2;
}
