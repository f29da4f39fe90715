/* check.c: the server's online check (docs/sync.md, "Online check"): the admission decision the
 * server would make right now for a scanned pass, from its own database, with the very rules the
 * gates use (shared/decide.c). For a gate (its bearer token; the centre is the gate's) and for the
 * staff at a desk (a manager of the centre or an admin). It records nothing: a gate records its
 * scans itself and uploads them. Read-only queries, no transaction. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base45.h"
#include "date.h"
#include "decide.h"
#include "event.h"
#include "log.h"
#include "server.h"

#define CHECK_MAX_KEYS 255         /* key ids are 1..255 */
#define CHECK_GRACE_MAX (7 * 1440) /* grace_minutes above a week is a mistake */

/* What the decide callbacks read from: the thread's connection and the centre's id. */
struct check_ctx {
	sqlite3 *db;
	const char *centre;
};

static const char sql_keys[] =
    "SELECT id, public_key, CASE WHEN retired_at IS NULL THEN 0 ELSE last_valid_until END"
    " FROM signing_keys"
    " WHERE retired_at IS NULL OR last_valid_until > ? ORDER BY id";
static const char sql_row[] =
    "SELECT p.guest_name, COALESCE(u.code, ''), p.status, p.nfc_uid FROM passes p"
    " JOIN bookings b ON b.id = p.booking LEFT JOIN units u ON u.id = b.unit"
    " WHERE p.id = ?1 AND b.centre = ?2";
static const char sql_revoked[] = "SELECT 1 FROM revocations WHERE pass = ?";
/* The scans that count for presence, in the order of its rule (shared/event.h), as the upload's
 * conflict check (sync.c) and the on-site count (manage.c) read them. */
static const char sql_presence[] =
    "SELECT direction, decision FROM gate_events WHERE pass = ?1 AND centre = ?2"
    " AND decision IN ('admit','manual','undone')" EVENT_TIME_TRUSTED " ORDER BY at, rowid";

/* Copies at most n - 1 bytes of s without cutting a UTF-8 sequence. */
static void copy_utf8(char *out, size_t n, const char *s)
{
	size_t len = s ? strlen(s) : 0;

	if (len > n - 1) {
		len = n - 1;
		while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
			len--;
	}
	if (len)
		memcpy(out, s, len);
	out[len] = '\0';
}

/* ---- decide callbacks over the server's database ---- */

static int cb_pass_row(void *user, uint32_t pass_id, struct decide_pass_row *row)
{
	struct check_ctx *cx = user;
	sqlite3_stmt *st = db_stmt(cx->db, sql_row);
	int rc, found = 0;

	if (!st)
		return -1;
	db_bind_int64(st, 1, pass_id);
	db_bind_text(st, 2, cx->centre, -1, SQLITE_STATIC);
	rc = db_step(st);
	if (rc == SQLITE_ROW) {
		int n = sqlite3_column_bytes(st, 3);

		found = 1;
		copy_utf8(row->guest_name, sizeof(row->guest_name),
		          (const char *)sqlite3_column_text(st, 0));
		copy_utf8(row->unit, sizeof(row->unit), (const char *)sqlite3_column_text(st, 1));
		row->revoked = !strcmp((const char *)sqlite3_column_text(st, 2), "revoked");
		if (sqlite3_column_type(st, 3) == SQLITE_BLOB && n > 0 && n <= PASS_UID_MAX) {
			memcpy(row->nfc_uid, sqlite3_column_blob(st, 3), (size_t)n);
			row->nfc_uid_len = (uint8_t)n;
		}
	} else if (rc != SQLITE_DONE) {
		found = -1;
	}
	db_done(st);
	return found;
}

static int cb_revoked(void *user, uint32_t pass_id)
{
	struct check_ctx *cx = user;
	sqlite3_stmt *st = db_stmt(cx->db, sql_revoked);
	int rc;

	if (!st)
		return -1;
	db_bind_int64(st, 1, pass_id);
	rc = db_step(st);
	db_done(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int cb_presence(void *user, uint32_t pass_id, int *inside)
{
	struct check_ctx *cx = user;
	sqlite3_stmt *st = db_stmt(cx->db, sql_presence);
	struct presence p;
	int rc, found = 0;

	if (!st)
		return -1;
	presence_init(&p);
	db_bind_int64(st, 1, pass_id);
	db_bind_text(st, 2, cx->centre, -1, SQLITE_STATIC);
	while ((rc = db_step(st)) == SQLITE_ROW) {
		presence_step_text(&p, (const char *)sqlite3_column_text(st, 1),
		                   (const char *)sqlite3_column_text(st, 0));
		found = 1;
	}
	if (rc != SQLITE_DONE)
		found = -1;
	db_done(st);
	*inside = p.now == PRESENCE_INSIDE; /* not known reads as outside, as at the gates */
	return found;
}

/* The public keys a gate would hold now (as the download sends them): how many, or -1. */
static int load_keys(sqlite3 *db, int64_t now, struct pass_key *keys, int max)
{
	sqlite3_stmt *st = db_stmt(db, sql_keys);
	int n = 0, rc;

	if (!st)
		return -1;
	db_bind_int64(st, 1, now / 60);
	while ((rc = db_step(st)) == SQLITE_ROW && n < max) {
		int id = sqlite3_column_int(st, 0);

		if (id < 1 || id > 255 || sqlite3_column_bytes(st, 1) != 32)
			continue;
		keys[n].id = (uint8_t)id;
		memcpy(keys[n].pk, sqlite3_column_blob(st, 1), 32);
		keys[n].valid_until = sqlite3_column_int64(st, 2);
		n++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		n = -1;
	db_done(st);
	return n;
}

/* ---- the check ---- */

struct check_body {
	const char *token;
	enum decide_dir dir;
	enum decide_policy policy;
	int grace;
	unsigned char uid[PASS_UID_MAX];
	size_t uid_len;
	int have_uid;
};

/* Reads the body: 0, or -1 after replying 400/415. body stays the caller's. */
static int body_parse(struct request *rq, struct reply *rp, json_t **body, struct check_body *cb)
{
	json_t *v;
	const char *s;

	memset(cb, 0, sizeof(*cb));
	cb->policy = DECIDE_POLICY_STRICT;
	if (request_json(rq, rp, body) < 0)
		return -1;
	cb->token = json_string_value(json_object_get(*body, "token"));
	if (!cb->token) {
		reply_error(rp, 400, "bad_request", "token must be the scanned pass text");
		return -1;
	}
	s = json_string_value(json_object_get(*body, "direction"));
	if (!s || decide_dir_parse(s, &cb->dir) < 0) {
		reply_error(rp, 400, "bad_request",
		            "direction must be \"in\", \"out\" or \"both\"");
		return -1;
	}
	v = json_object_get(*body, "policy");
	if (v && !json_is_null(v) && decide_policy_parse(json_string_value(v), &cb->policy) < 0) {
		reply_error(rp, 400, "bad_request",
		            "policy must be \"strict\", \"warn\" or \"off\"");
		return -1;
	}
	v = json_object_get(*body, "grace_minutes");
	if (v && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > CHECK_GRACE_MAX) {
			reply_error(rp, 400, "bad_request",
			            "grace_minutes must be an integer 0..10080");
			return -1;
		}
		cb->grace = (int)json_integer_value(v);
	}
	v = json_object_get(*body, "nfc_uid");
	if (v && !json_is_null(v)) {
		size_t hexlen;

		s = json_string_value(v);
		hexlen = s ? strlen(s) : 0;
		if (!s || (hexlen != 8 && hexlen != 14 && hexlen != 20) ||
		    sodium_hex2bin(cb->uid, sizeof(cb->uid), s, hexlen, NULL, &cb->uid_len, NULL) !=
		        0 ||
		    cb->uid_len * 2 != hexlen) {
			reply_error(
			    rp, 400, "bad_request",
			    "nfc_uid must be the tag's UID: 4, 7 or 10 bytes in hex, or null");
			return -1;
		}
		cb->have_uid = 1;
	}
	return 0;
}

/* Decides for centre ci and replies. */
static int check_reply(struct app *app, sqlite3 *db, int ci, const struct check_body *cb,
                       struct reply *rp)
{
	struct pass_key keys[CHECK_MAX_KEYS];
	unsigned char bin[PASS_BIN_MAX];
	struct check_ctx cx = {db, app->cat.centres[ci]->id};
	struct decide_lookup lk = {&cx, cb_pass_row, cb_revoked, cb_presence};
	struct decide_config cfg;
	struct decide_input in;
	struct decide_result res;
	char when[INSTANT_STRLEN];
	int64_t now = instant_now();
	size_t tlen = strlen(cb->token), binlen = 0;
	int nkeys = load_keys(db, now, keys, CHECK_MAX_KEYS);

	if (nkeys < 0) {
		log_err("check: keys: %s", sqlite3_errmsg(db));
		return reply_error(rp, 500, "internal", "database error");
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.centre = (uint16_t)app->cat.centres[ci]->number;
	cfg.grace_minutes = cb->grace;
	cfg.policy = cb->policy;
	cfg.kinds = DECIDE_KINDS_ALL;
	memset(&in, 0, sizeof(in));
	in.now = now;
	in.dir = cb->dir;
	/* an NFC read: the record's bytes and the tag's UID, as the gate hands them to decide() */
	if (cb->have_uid && tlen > PASS_PREFIX_LEN &&
	    !strncmp(cb->token, PASS_PREFIX, PASS_PREFIX_LEN) &&
	    base45_decode(cb->token + PASS_PREFIX_LEN, tlen - PASS_PREFIX_LEN, bin, sizeof(bin),
	                  &binlen) == 0) {
		in.bin = bin;
		in.bin_len = binlen;
		in.tag_uid = cb->uid;
		in.tag_uid_len = cb->uid_len;
	} else {
		in.text = cb->token;
		in.text_len = tlen;
	}
	decide(&in, keys, nkeys, &cfg, &lk, &res);
	if (res.reason == DECIDE_INTERNAL)
		log_err("check: lookup failed: %s", sqlite3_errmsg(db));
	instant_format(now, when);
	return reply_json(
	    rp, 200,
	    json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:s}", "decision",
	              res.verdict == DECIDE_ADMIT ? "admit" : "deny", "reason",
	              decide_reason_code(res.reason), "direction", decide_dir_name(res.dir),
	              "message_fr", decide_message_fr(res.reason), "message_ar",
	              decide_message_ar(res.reason), "pass",
	              res.have_pass ? json_integer(res.pass.pass_id) : json_null(), "guest_name",
	              res.have_row ? json_string(res.guest_name) : json_null(), "unit",
	              res.have_row ? json_string(res.unit) : json_null(), "server_time", when));
}

/* The calling gate's centre (its bearer token was checked by api.c): its catalog index. */
static int check_gate(struct app *app, struct request *rq, struct reply *rp, int *ci)
{
	*ci = catalog_centre(&app->cat, rq->gate.centre);
	if (*ci < 0) {
		reply_error(rp, 500, "internal", "the gate's centre is not in the catalog");
		return -1;
	}
	return 0;
}

int check_gate_route(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	struct check_body cb;
	json_t *body = NULL;
	int ci, rc;

	if (!db)
		return reply_error(rp, 500, "internal", "database unavailable");
	if (check_gate(app, rq, rp, &ci) < 0)
		return 0;
	if (body_parse(rq, rp, &body, &cb) < 0) {
		json_decref(body);
		return 0;
	}
	rc = check_reply(app, db, ci, &cb, rp);
	json_decref(body);
	return rc;
}

int check_staff_route(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	int ci = rq->centre, rc; /* a centre the caller may see (api.c) */
	struct check_body cb;
	json_t *body = NULL;

	if (!db)
		return reply_error(rp, 500, "internal", "database unavailable");
	if (body_parse(rq, rp, &body, &cb) < 0) {
		json_decref(body);
		return 0;
	}
	rc = check_reply(app, db, ci, &cb, rp);
	json_decref(body);
	return rc;
}
