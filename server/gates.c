/* gates.c: the gates themselves (docs/sync.md): their bearer tokens, enrolment with a one-time
 * code, creation and revocation, the administration of gates over HTTP and from estiva-admin. */
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

/* Crockford's base32: no I, L, O, U, so a code read aloud or typed survives */
static const char code_alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static void hash32(const void *in, size_t len, unsigned char out[32])
{
	crypto_generichash(out, 32, in, len, NULL, 0);
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
	if (!(st = db_stmt(db, "SELECT id, centre, name, revoked_at, last_sync_at FROM gates WHERE "
	                       "token_hash = ?"))) {
		reply_error(rp, 500, "internal", "database error");
		return -1;
	}
	db_bind_blob(st, 1, key, sizeof(key), SQLITE_STATIC);
	if (db_step(st) == SQLITE_ROW) {
		found = 1;
		g->id = sqlite3_column_int64(st, 0);
		snprintf(g->centre, sizeof(g->centre), "%s",
		         (const char *)sqlite3_column_text(st, 1));
		snprintf(g->name, sizeof(g->name), "%s", (const char *)sqlite3_column_text(st, 2));
		revoked = sqlite3_column_type(st, 3) != SQLITE_NULL;
		g->last_sync_at = sqlite3_column_int64(st, 4);
	}
	db_done(st);
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

/* The gates (of one centre, or all), as the admin pages and the on-site page show them. */
json_t *gates_json(sqlite3 *db, const char *centre)
{
	sqlite3_stmt *st;
	json_t *a = json_array();

	if (!(st = db_stmt(db, "SELECT id, centre, name, created_at, enrolled_at, revoked_at, "
	                       "last_sync_at, last_queue,"
	                       " last_offset_s, code_expires_at FROM gates WHERE ?1 IS NULL OR "
	                       "centre = ?1 ORDER BY id"))) {
		json_decref(a);
		return NULL;
	}
	if (centre)
		db_bind_text(st, 1, centre, -1, SQLITE_STATIC);
	while (db_step(st) == SQLITE_ROW) {
		json_t *g = json_pack(
		    "{s:I,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:b,s:o}", "id",
		    (json_int_t)sqlite3_column_int64(st, 0), "centre", sqlite3_column_text(st, 1),
		    "name", sqlite3_column_text(st, 2), "created_at", json_instant_col(st, 3, 1),
		    "enrolled_at", json_instant_col(st, 4, 1), "last_sync",
		    json_instant_col(st, 6, 1), "queue", json_int_col(st, 7), "clock_offset_s",
		    json_int_col(st, 8), "revoked", sqlite3_column_type(st, 5) != SQLITE_NULL,
		    "revoked_at", json_instant_col(st, 5, 1));
		if (sqlite3_column_type(st, 9) != SQLITE_NULL)
			json_object_set_new(g, "code_expires_at", json_instant_col(st, 9, 1));
		json_array_append_new(a, g);
	}
	db_done(st);
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
	if (!(st = db_stmt(db, "SELECT 1 FROM centres WHERE id = ? AND active = 1")))
		goto fail;
	db_bind_text(st, 1, centre, -1, SQLITE_STATIC);
	found = db_step(st) == SQLITE_ROW;
	db_done(st);
	st = NULL;
	if (!found) {
		db_rollback(app, db);
		return 1;
	}
	if (!(st = db_stmt(db,
	                   "INSERT INTO gates(centre, name, code_hash, code_expires_at, created_at)"
	                   " VALUES (?, ?, ?, ?, ?) RETURNING id")))
		goto fail;
	db_bind_text(st, 1, centre, -1, SQLITE_STATIC);
	db_bind_text(st, 2, name, -1, SQLITE_STATIC);
	db_bind_blob(st, 3, key, sizeof(key), SQLITE_STATIC);
	db_bind_int64(st, 4, *expires);
	db_bind_int64(st, 5, now);
	if (db_step(st) != SQLITE_ROW)
		goto fail;
	*id = sqlite3_column_int64(st, 0);
	db_done(st);
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
	db_done(st);
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
	if (!(st = db_stmt(
	          db, "UPDATE gates SET revoked_at = ?, code_hash = NULL, code_expires_at = NULL"
	              " WHERE id = ? AND revoked_at IS NULL")))
		goto fail;
	db_bind_int64(st, 1, instant_now());
	db_bind_int64(st, 2, id);
	if (db_step(st) != SQLITE_DONE)
		goto fail;
	changed = sqlite3_changes(db);
	db_done(st);
	st = NULL;
	if (!changed) {
		if (!(st = db_stmt(db, "SELECT 1 FROM gates WHERE id = ?")))
			goto fail;
		db_bind_int64(st, 1, id);
		rc = db_step(st) == SQLITE_ROW ? 2 : 1;
		db_done(st);
		db_rollback(app, db);
		return rc;
	}
	if (db_audit(db, actor, "gate.revoke", "gate", id, "{\"revoked\":false}",
	             "{\"revoked\":true}") < 0)
		goto fail;
	return db_commit(app, db) < 0 ? -1 : 0;
fail:
	log_err("gate revoke: %s", sqlite3_errmsg(db));
	db_done(st);
	db_rollback(app, db);
	return -1;
}

int gates_enroll(struct app *app, struct request *rq, struct reply *rp)
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
	if (!(st = db_stmt(
	          db,
	          "SELECT id, centre, name FROM gates WHERE code_hash = ? AND code_expires_at > ?"
	          " AND revoked_at IS NULL AND token_hash IS NULL")))
		goto dbfail;
	db_bind_blob(st, 1, code_key, sizeof(code_key), SQLITE_STATIC);
	db_bind_int64(st, 2, now);
	if (db_step(st) == SQLITE_ROW) {
		ok = 1;
		id = sqlite3_column_int64(st, 0);
		snprintf(centre, sizeof(centre), "%s", (const char *)sqlite3_column_text(st, 1));
		snprintf(name, sizeof(name), "%s", (const char *)sqlite3_column_text(st, 2));
	}
	db_done(st);
	st = NULL;
	if (!ok) {
		db_rollback(app, db);
		sodium_memzero(token_hex, sizeof(token_hex));
		log_warn("gate: unknown, used or expired enrolment code from %s", rq->ip);
		return reply_error(rp, 401, "bad_code", "unknown, used or expired enrolment code");
	}
	if (!(st = db_stmt(db, "UPDATE gates SET token_hash = ?, code_hash = NULL, code_expires_at "
	                       "= NULL, enrolled_at = ?"
	                       " WHERE id = ?")))
		goto dbfail;
	db_bind_blob(st, 1, tok_key, sizeof(tok_key), SQLITE_STATIC);
	db_bind_int64(st, 2, now);
	db_bind_int64(st, 3, id);
	if (db_step(st) != SQLITE_DONE)
		goto dbfail;
	db_done(st);
	st = NULL;
	snprintf(actor, sizeof(actor), "gate %lld from %s", (long long)id, rq->ip);
	if (db_audit(db, actor, "gate.enroll", "gate", id, NULL, NULL) < 0)
		goto dbfail;
	if (db_commit(app, db) < 0) {
		sodium_memzero(token_hex, sizeof(token_hex));
		return reply_error(rp, 500, "internal", "database error");
	}
	log_info("gate %lld (%s, %s) enrolled from %s", (long long)id, centre, name, rq->ip);
	keys = sync_keys_json(db, now);
	centre_j = sync_centre_json(db, centre);
	reply_json(rp, 200,
	           json_pack("{s:I,s:s,s:O,s:s,s:s,s:o,s:o}", "gate", (json_int_t)id, "centre",
	                     centre, "centre_number",
	                     centre_j ? json_object_get(centre_j, "number") : json_null(), "name",
	                     name, "token", token_hex, "keys", keys ? keys : json_array(),
	                     "server_time", json_instant(now)));
	json_decref(centre_j);
	sodium_memzero(token_hex, sizeof(token_hex));
	return 0;
dbfail:
	log_err("gate enroll: %s", sqlite3_errmsg(db));
	db_done(st);
	db_rollback(app, db);
	sodium_memzero(token_hex, sizeof(token_hex));
	return reply_error(rp, 500, "internal", "database error");
}

int gates_admin_list(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	json_t *gates;

	if (!db || !(gates = gates_json(db, NULL)))
		return reply_error(rp, 500, "internal", "database error");
	return reply_json(
	    rp, 200,
	    json_pack("{s:o,s:o}", "gates", gates, "server_time", json_instant(instant_now())));
}

int gates_admin_add(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	char centre[ID_MAX + 1], name[GATE_NAME_MAX + 1], code[CODE_SHOWN];
	const char *c, *n;
	json_t *body = NULL;
	int64_t id = 0, expires = 0;
	int rc;

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
	                     "name", name, "code", code, "code_expires_at", json_instant(expires)));
	sodium_memzero(code, sizeof(code));
	return 0;
}

int gates_admin_revoke(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	int64_t id = rq->id;
	int rc;

	if (!db)
		return reply_error(rp, 500, "internal", "database unavailable");
	rc = gate_revoke(app, db, id, rq->who.name);
	if (rc == 1)
		return reply_error(rp, 404, "not_found", "no such gate");
	if (rc < 0)
		return reply_error(rp, 500, "internal", "database error");
	return reply_json(rp, 200, json_pack("{s:I,s:b}", "id", (json_int_t)id, "revoked", 1));
}

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

int gates_cli(struct app *app, sqlite3 *db, int argc, char **argv)
{
	if (argc == 1 && !strcmp(argv[0], "list"))
		return cli_list(db);
	if (argc == 2 && !strcmp(argv[0], "revoke")) {
		int64_t id;
		int rc;

		if (request_id_param(argv[1], strlen(argv[1]), 1, INT64_MAX, &id) < 0) {
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
