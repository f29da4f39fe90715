/* account.c: a member's own account. Activation and reset links (a member number with the CIN or
 * the e-mail address on file asks for one; the answer never says whether they matched), setting a
 * password with such a link, changing it while logged in, and updating one's e-mail address
 * (confirmed from the new address), phone, language and reminders. A link is 256 random bits
 * (libsodium), kept only as its BLAKE2b hash in account_tokens, good once, for [accounts]
 * token_ttl; a newer link of the same kind, or a new password, ends the older ones. Messages go
 * through the outbox in the request's transaction (outbox.c); every request that can send one is
 * counted per account (or address typed) and per client address, and refused with 429 beyond
 * [accounts] messages_per_account / messages_per_address in message_window. Passwords are hashed
 * on hashpool.c's threads, the connection suspended meanwhile, as auth.c's login does. */
#include <ctype.h>
#include <microhttpd.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "date.h"
#include "log.h"
#include "server.h"
#include "web.h"

#define FIELD_MAX 64 /* member number, CIN */

void account_public_url(const struct app *app, char *out, size_t n)
{
	const char *u = app->cfg.public_url[0] ? app->cfg.public_url : app->cfg.pay_public_url;
	size_t len;

	if (*u)
		snprintf(out, n, "%s", u);
	else
		snprintf(out, n, "http://%s:%d", app->cfg.listen, app->cfg.port);
	len = strlen(out);
	while (len && out[len - 1] == '/')
		out[--len] = '\0';
}

/* ---- the request's fields ---- */

/* The string field name of body, trimmed of spaces, into out: 1 present, 0 absent, -1 not a plain
 * string of 1..max bytes (a control character, CR and LF included, is refused). */
static int text_field(json_t *body, const char *name, size_t max, char *out, size_t n)
{
	json_t *v = json_object_get(body, name);
	const char *s;
	size_t len;

	out[0] = '\0';
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	len = json_string_length(v);
	if (strlen(s) != len || !text_is_plain(s))
		return -1;
	while (len && *s == ' ')
		s++, len--;
	while (len && s[len - 1] == ' ')
		len--;
	if (!len || len > max || len >= n)
		return -1;
	memcpy(out, s, len);
	out[len] = '\0';
	return 1;
}

/* 1 when a and b are the same text, ASCII case aside; the time taken depends on neither. */
static int same_text(const char *a, const char *b)
{
	unsigned char x[MAIL_ADDRESS_MAX + 2] = {0}, y[MAIL_ADDRESS_MAX + 2] = {0};
	size_t la = strlen(a), lb = strlen(b);
	int eq;

	for (size_t i = 0; i < la && i < sizeof(x) - 1; i++)
		x[i] = (unsigned char)tolower((unsigned char)a[i]);
	for (size_t i = 0; i < lb && i < sizeof(y) - 1; i++)
		y[i] = (unsigned char)tolower((unsigned char)b[i]);
	eq = sodium_memcmp(x, y, sizeof(x)) == 0;
	return eq & (la == lb) & (la < sizeof(x) - 1);
}

/* ---- counting the messages a request may cause ---- */

/* Seconds before key may cause another message, 0 when it may now: after limit requests, each less
 * than the window after the one before, none until the window has passed since the last. The
 * counts are login_failures rows under keys of their own ("send-member:", "send-address:"). */
static int64_t send_wait(sqlite3 *db, const char *key, int limit, int64_t window, int64_t now)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT count, last_at FROM login_failures WHERE key = ?");
	int64_t wait = 0;

	if (!st)
		return -1;
	db_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (db_step(st) == SQLITE_ROW) {
		int64_t last = sqlite3_column_int64(st, 1);

		if (sqlite3_column_int(st, 0) >= limit && now - last < window)
			wait = window - (now - last);
	}
	db_done(st);
	return wait;
}

static int send_count(sqlite3 *db, const char *key, int64_t window, int64_t now)
{
	sqlite3_stmt *st = db_stmt(
	    db, "INSERT INTO login_failures(key, count, last_at) VALUES (?1, 1, ?2)"
	        " ON CONFLICT(key) DO UPDATE SET count = CASE WHEN ?2 - last_at >= ?3 THEN 1"
	        " ELSE count + 1 END, last_at = ?2");
	int rc;

	if (!st)
		return -1;
	db_bind_text(st, 1, key, -1, SQLITE_STATIC);
	db_bind_int64(st, 2, now);
	db_bind_int64(st, 3, window);
	rc = db_step(st);
	db_done(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The keys of a request (the account or address typed, the client) into akey and ikey; 0, or -1
 * after replying 429 (or 500). */
static int send_allowed(struct app *app, sqlite3 *db, struct request *rq, struct reply *rp,
                        const char *account, char *akey, char *ikey, size_t n, int64_t now)
{
	const struct config *cfg = &app->cfg;
	int64_t wait;
	size_t k;

	k = (size_t)snprintf(akey, n, "send-member:");
	for (const char *p = account; *p && k + 1 < n; p++)
		akey[k++] = (char)tolower((unsigned char)*p);
	akey[k < n ? k : n - 1] = '\0';
	snprintf(ikey, n, "send-address:%s", rq->ip_key);
	wait = send_wait(db, akey, cfg->account_sends_member, cfg->account_send_window, now);
	if (wait == 0)
		wait =
		    send_wait(db, ikey, cfg->account_sends_address, cfg->account_send_window, now);
	if (wait < 0) {
		reply_error(rp, 500, "internal", "database error");
		return -1;
	}
	if (wait > 0) {
		snprintf(rp->retry_after, sizeof(rp->retry_after), "%d",
		         (int)(wait < 7 * 24 * 3600 ? wait : 7 * 24 * 3600));
		reply_error(rp, 429, "too_many_attempts",
		            "too many messages asked for this account or from this address: wait "
		            "before asking again");
		return -1;
	}
	return 0;
}

/* ---- tokens ---- */

struct acct {
	int found;
	int64_t id;
	char number[FIELD_MAX + 1], cin[FIELD_MAX + 1], email[MAIL_ADDRESS_MAX + 1];
	char first_name[NAME_MAX_LEN], first_name_ar[NAME_MAX_LEN];
	int has_password;
};

static void member_row_read(sqlite3_stmt *st, struct acct *m)
{
	m->found = 1;
	m->id = sqlite3_column_int64(st, 0);
	snprintf(m->number, sizeof(m->number), "%s", (const char *)sqlite3_column_text(st, 1));
	snprintf(m->cin, sizeof(m->cin), "%s", (const char *)sqlite3_column_text(st, 2));
	snprintf(m->email, sizeof(m->email), "%s", (const char *)sqlite3_column_text(st, 3));
	m->has_password = sqlite3_column_int(st, 4);
	snprintf(m->first_name, sizeof(m->first_name), "%s",
	         (const char *)sqlite3_column_text(st, 5));
	snprintf(m->first_name_ar, sizeof(m->first_name_ar), "%s",
	         (const char *)sqlite3_column_text(st, 6));
}

/* The member of this number, or else of this e-mail address (only when one member has it): 0
 * (m->found says whether there is one), -1 on a database error. */
static int member_lookup(sqlite3 *db, const char *number, const char *email, struct acct *m)
{
	sqlite3_stmt *st;
	int rows = 0, rc;

	memset(m, 0, sizeof(*m));
	st = number[0] ? db_stmt(db, "SELECT id, number, cin, email, password_hash IS NOT NULL,"
	                             " first_name, first_name_ar FROM members WHERE number = ?")
	               : db_stmt(db, "SELECT id, number, cin, email, password_hash IS NOT NULL,"
	                             " first_name, first_name_ar FROM members"
	                             " WHERE email = ? COLLATE NOCASE LIMIT 2");
	if (!st)
		return -1;
	db_bind_text(st, 1, number[0] ? number : email, -1, SQLITE_STATIC);
	while ((rc = db_step(st)) == SQLITE_ROW)
		if (rows++ == 0)
			member_row_read(st, m);
	db_done(st);
	if (rows > 1) /* an address two members share names neither */
		memset(m, 0, sizeof(*m));
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Inside the caller's transaction: a new token of purpose for member (older unused ones of the
 * same purpose end), its link into link; 0, or -1. */
static int token_new(struct app *app, sqlite3 *db, int64_t member, const char *purpose,
                     const char *detail, int64_t now, char *link, size_t linklen)
{
	char token[WEB_ID_HEX], base[512];
	unsigned char key[WEB_ID_KEY];
	sqlite3_stmt *st;
	int rc;

	web_random_id(token);
	if (web_id_key(token, key) < 0)
		return -1;
	if (!(st = db_stmt(db, "UPDATE account_tokens SET used_at = ?3"
	                       " WHERE member = ?1 AND purpose = ?2 AND used_at IS NULL")))
		return -1;
	db_bind_int64(st, 1, member);
	db_bind_text(st, 2, purpose, -1, SQLITE_STATIC);
	db_bind_int64(st, 3, now);
	rc = db_step(st);
	db_done(st);
	if (rc != SQLITE_DONE)
		return -1;
	if (!(st =
	          db_stmt(db, "INSERT INTO account_tokens(key, member, purpose, detail, created_at,"
	                      " expires_at) VALUES (?, ?, ?, ?, ?, ?)")))
		return -1;
	db_bind_blob(st, 1, key, sizeof(key), SQLITE_STATIC);
	db_bind_int64(st, 2, member);
	db_bind_text(st, 3, purpose, -1, SQLITE_STATIC);
	if (detail)
		db_bind_text(st, 4, detail, -1, SQLITE_STATIC);
	else
		db_bind_null(st, 4);
	db_bind_int64(st, 5, now);
	db_bind_int64(st, 6, now + app->cfg.account_token_ttl);
	rc = db_step(st);
	db_done(st);
	if (rc != SQLITE_DONE)
		return -1;
	account_public_url(app, base, sizeof(base));
	/* in the fragment: a browser sends it to no server and puts it in no Referer */
	snprintf(link, linklen, "%s/account.html#%s=%s", base, purpose, token);
	sodium_memzero(token, sizeof(token));
	return 0;
}

static json_t *link_payload(const struct app *app, const struct acct *m, const char *link);

/* What a request that matches nobody costs: the same token and message written for some member
 * (the one named, or the first), inside a savepoint that is then rolled back, so that it answers
 * neither sooner nor later than one that matches. Nothing of it stays: if the savepoint cannot be
 * rolled back, neither can the caller's transaction be committed (-1). */
static int token_none(struct app *app, sqlite3 *db, const struct acct *m, const char *purpose,
                      int64_t now)
{
	struct acct any = *m;
	char link[1024];
	sqlite3_stmt *st;
	int rc;

	if (!any.found) {
		if (!(st = db_stmt(db,
		                   "SELECT id, number, cin, email, password_hash IS NOT NULL,"
		                   " first_name, first_name_ar FROM members ORDER BY id LIMIT 1")))
			return -1;
		rc = db_step(st);
		if (rc == SQLITE_ROW)
			member_row_read(st, &any);
		db_done(st);
		if (rc == SQLITE_DONE)
			return 0; /* no member at all: nothing to look like */
		if (rc != SQLITE_ROW)
			return -1;
	}
	if (db_exec(db, "SAVEPOINT account_none") != 0)
		return -1;
	rc = token_new(app, db, any.id, purpose, NULL, now, link, sizeof(link)) < 0 ||
	             outbox_queue(db, purpose, any.id, 0, link_payload(app, &any, link)) < 0
	         ? -1
	         : 0;
	sodium_memzero(link, sizeof(link));
	if (db_exec(db, "ROLLBACK TO account_none") != 0 ||
	    db_exec(db, "RELEASE account_none") != 0)
		return -1;
	return rc;
}

static json_t *link_payload(const struct app *app, const struct acct *m, const char *link)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:I}", "first_name", m->first_name, "first_name_ar",
	                 m->first_name_ar, "number", m->number, "link", link, "minutes",
	                 (json_int_t)(app->cfg.account_token_ttl / 60));
}

/* ---- activation and reset: asking for a link ---- */

/* POST /api/v1/account/activate {"member", "cin" | "email"} and /api/v1/account/reset {"member" |
 * "email"}: one answer (202, one body) whatever the member, the details and the outcome. */
static int request_link(struct app *app, struct request *rq, struct reply *rp, int activate)
{
	const char *purpose = activate ? "activate" : "reset";
	sqlite3 *db = db_thread(app);
	json_t *body = NULL;
	char number[FIELD_MAX + 1], cin[FIELD_MAX + 1], email[MAIL_ADDRESS_MAX + 1];
	char akey[MAIL_ADDRESS_MAX + 64], ikey[128], link[1024], msg[256];
	int64_t now = instant_now();
	struct acct m;
	int hn, hc, he, match;

	if (!db)
		return reply_error(rp, 500, "internal", "database unavailable");
	if (request_json(rq, rp, &body) < 0)
		return 0;
	hn = text_field(body, "member", FIELD_MAX, number, sizeof(number));
	hc = text_field(body, "cin", FIELD_MAX, cin, sizeof(cin));
	he = text_field(body, "email", MAIL_ADDRESS_MAX, email, sizeof(email));
	json_decref(body);
	if (hn < 0 || hc < 0 || he < 0 || (activate && (!hn || (!hc && !he))) ||
	    (!activate && !hn && !he))
		return reply_error(rp, 400, "bad_request",
		                   activate ? "give member (your member number) and cin, or member "
		                              "and email (the address on file), as one-line strings"
		                            : "give member (your member number) or email (the "
		                              "address on file), as one-line strings");
	if (send_allowed(app, db, rq, rp, hn ? number : email, akey, ikey, sizeof(akey), now) < 0)
		return 0;
	if (member_lookup(db, number, hn ? "" : email, &m) < 0)
		return reply_error(rp, 500, "internal", "database error");
	/* every comparison is made, found or not, against the row or nothing */
	match = m.found;
	if (activate) {
		int by_cin = hc && same_text(cin, m.cin),
		    by_email = he && same_text(email, m.email);

		match &= (m.has_password == 0) & (by_cin | by_email);
	} else {
		match &= m.has_password & ((hn == 0 || he == 0) | same_text(email, m.email));
	}
	if (db_begin(app, db) < 0)
		return reply_error(rp, 503, "busy", "the database is busy: try again");
	if (send_count(db, akey, app->cfg.account_send_window, now) < 0 ||
	    send_count(db, ikey, app->cfg.account_send_window, now) < 0)
		goto fail;
	if (match) {
		if (token_new(app, db, m.id, purpose, NULL, now, link, sizeof(link)) < 0 ||
		    outbox_queue(db, purpose, m.id, 0, link_payload(app, &m, link)) < 0)
			goto fail;
		sodium_memzero(link, sizeof(link));
	} else if (token_none(app, db, &m, purpose, now) < 0) {
		goto fail;
	}
	if (db_commit(app, db) < 0)
		return reply_error(rp, 500, "internal", "database error");
	snprintf(msg, sizeof(msg),
	         "if these details match an account, a link has been sent to its e-mail address on "
	         "file; it works once, for %lld minutes",
	         (long long)(app->cfg.account_token_ttl / 60));
	return reply_json(rp, 202,
	                  json_pack("{s:s,s:s,s:I}", "status", "accepted", "message", msg,
	                            "minutes", (json_int_t)(app->cfg.account_token_ttl / 60)));
fail:
	log_err("account %s: %s", purpose, sqlite3_errmsg(db));
	db_rollback(app, db);
	return reply_error(rp, 500, "internal", "database error");
}

int account_activate(struct app *app, struct request *rq, struct reply *rp)
{
	return request_link(app, rq, rp, 1);
}

int account_reset(struct app *app, struct request *rq, struct reply *rp)
{
	return request_link(app, rq, rp, 0);
}

/* ---- using a link ---- */

struct token_row {
	int64_t member;
	char purpose[16];
	char detail[MAIL_ADDRESS_MAX + 1];
	int64_t expires_at;
	int used;
	struct acct m;
};

/* The token's row: 0 found, 1 none, -1 database error. */
static int token_find(sqlite3 *db, const unsigned char key[WEB_ID_KEY], struct token_row *t)
{
	sqlite3_stmt *st;
	int rc;

	memset(t, 0, sizeof(*t));
	if (!(st = db_stmt(db, "SELECT m.id, m.number, m.cin, m.email, m.password_hash IS NOT NULL,"
	                       " m.first_name, m.first_name_ar, t.purpose, COALESCE(t.detail, ''),"
	                       " t.expires_at, t.used_at IS NOT NULL FROM account_tokens t"
	                       " JOIN members m ON m.id = t.member WHERE t.key = ?")))
		return -1;
	db_bind_blob(st, 1, key, WEB_ID_KEY, SQLITE_STATIC);
	rc = db_step(st);
	if (rc == SQLITE_ROW) {
		member_row_read(st, &t->m);
		t->member = t->m.id;
		snprintf(t->purpose, sizeof(t->purpose), "%s",
		         (const char *)sqlite3_column_text(st, 7));
		snprintf(t->detail, sizeof(t->detail), "%s",
		         (const char *)sqlite3_column_text(st, 8));
		t->expires_at = sqlite3_column_int64(st, 9);
		t->used = sqlite3_column_int(st, 10);
	}
	db_done(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

/* The body's token, looked up and checked for one of the purposes (';'-terminated): 0 with *t, or
 * -1 after replying (400 bad_link, 410 link_used or link_expired, 500). */
static int token_take(sqlite3 *db, json_t *body, const char *purposes, struct token_row *t,
                      unsigned char key[WEB_ID_KEY], struct reply *rp)
{
	const char *token = json_string_value(json_object_get(body, "token"));
	char want[20];
	int rc;

	if (!token || web_id_key(token, key) < 0) {
		reply_error(rp, 400, "bad_link",
		            "this link is not valid: copy the whole link from the message");
		return -1;
	}
	rc = token_find(db, key, t);
	snprintf(want, sizeof(want), "%s;", t->purpose);
	if (rc < 0) {
		reply_error(rp, 500, "internal", "database error");
		return -1;
	}
	if (rc > 0 || !strstr(purposes, want)) {
		reply_error(rp, 400, "bad_link",
		            "this link is not valid: copy the whole link from the message");
		return -1;
	}
	if (t->used || (!strcmp(t->purpose, "activate") && t->m.has_password)) {
		reply_error(rp, 410, "link_used",
		            "this link has already been used: log in, or ask for a new link");
		return -1;
	}
	if (t->expires_at <= instant_now()) {
		reply_error(rp, 410, "link_expired", "this link has expired: ask for a new one");
		return -1;
	}
	return 0;
}

/* Inside the transaction: the token used, if it still may be (another request may have used it
 * since it was checked). 1 taken, 0 not, -1 database error. */
static int token_use(sqlite3 *db, const unsigned char key[WEB_ID_KEY], int64_t now)
{
	sqlite3_stmt *st = db_stmt(
	    db, "UPDATE account_tokens SET used_at = ?2 WHERE key = ?1 AND used_at IS NULL"
	        " AND expires_at > ?2 AND (purpose != 'activate' OR"
	        " (SELECT password_hash FROM members WHERE id = account_tokens.member) IS NULL)");
	int rc;

	if (!st)
		return -1;
	db_bind_blob(st, 1, key, WEB_ID_KEY, SQLITE_STATIC);
	db_bind_int64(st, 2, now);
	rc = db_step(st);
	db_done(st);
	if (rc != SQLITE_DONE)
		return -1;
	return sqlite3_changes(db) == 1;
}

/* Hands a MAKE or VERIFY job to hashpool.c and suspends the connection: 0 (rp->suspended), or a
 * reply (503, 500). */
static int hash_submit(struct request *rq, struct reply *rp, enum hash_op op, const char *hash,
                       const char *password)
{
	hash_job_free(rq->job);
	if (!(rq->job = hash_job_new(op, hash, password)))
		return reply_error(rp, 500, "internal", "out of memory");
	if (hashpool_reserve() < 0) {
		hash_job_free(rq->job);
		rq->job = NULL;
		snprintf(rp->retry_after, sizeof(rp->retry_after), "2");
		return reply_error(rp, 503, "busy", "too many password checks at once: try again");
	}
	rq->job->conn = rq->conn;
	MHD_suspend_connection(rq->conn);
	hashpool_submit(rq->job);
	rp->suspended = 1;
	return 0;
}

/* Inside the transaction, after a member's password changed: the links that could set it end, the
 * failed logins are forgotten, and the member is told (to the address on file). */
static int password_changed(struct app *app, sqlite3 *db, const struct acct *m, const char *via,
                            int64_t now)
{
	char at[INSTANT_STRLEN], base[512], key[128], after[64];
	sqlite3_stmt *st;
	int rc;

	if (!(st = db_stmt(db, "UPDATE account_tokens SET used_at = ?2 WHERE member = ?1"
	                       " AND purpose IN ('activate', 'reset') AND used_at IS NULL")))
		return -1;
	db_bind_int64(st, 1, m->id);
	db_bind_int64(st, 2, now);
	rc = db_step(st);
	db_done(st);
	if (rc != SQLITE_DONE)
		return -1;
	snprintf(key, sizeof(key), "account:%s", m->number);
	if (!(st = db_stmt(db, "DELETE FROM login_failures WHERE key = ?")))
		return -1;
	db_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = db_step(st);
	db_done(st);
	if (rc != SQLITE_DONE)
		return -1;
	instant_format(now, at);
	account_public_url(app, base, sizeof(base));
	snprintf(after, sizeof(after), "{\"via\":\"%s\"}", via);
	if (db_audit(db, m->number, "account.password", "member", m->id, NULL, after) < 0)
		return -1;
	return outbox_queue(db, "password_changed", m->id, 0,
	                    json_pack("{s:s,s:s,s:s,s:s,s:s}", "first_name", m->first_name,
	                              "first_name_ar", m->first_name_ar, "number", m->number, "at",
	                              at, "portal", base));
}

/* POST /api/v1/account/password {"token", "password"}: the first password (activation link) or a
 * new one (reset link); every session of the account ends. */
int account_password(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	json_t *body = NULL;
	const char *pw, *why;
	unsigned char key[WEB_ID_KEY];
	struct token_row t;
	int64_t now = instant_now();
	int rc;

	if (!db)
		return reply_error(rp, 500, "internal", "database unavailable");
	if (request_json(rq, rp, &body) < 0)
		return 0;
	if (token_take(db, body, "activate;reset;", &t, key, rp) < 0) {
		json_decref(body);
		return 0;
	}
	pw = json_string_value(json_object_get(body, "password"));
	if (!pw) {
		json_decref(body);
		return reply_error(rp, 400, "bad_request", "password is required (a string)");
	}
	if (!rq->job) {
		if ((why = password_refused(
		         pw, json_string_length(json_object_get(body, "password")), t.m.number))) {
			json_decref(body);
			return reply_error(rp, 400, "password_refused", why);
		}
		rc = hash_submit(rq, rp, HASH_MAKE, NULL, pw);
		json_decref(body);
		return rc;
	}
	json_decref(body);
	if (!atomic_load(&rq->job->done) || rq->job->op != HASH_MAKE || rq->job->result != 0)
		return reply_error(rp, 500, "internal", "the password could not be hashed");
	if (db_begin(app, db) < 0)
		return reply_error(rp, 503, "busy", "the database is busy: try again");
	rc = token_use(db, key, now);
	if (rc == 0) {
		db_rollback(app, db);
		return reply_error(
		    rp, 410, "link_used",
		    "this link has already been used: log in, or ask for a new link");
	}
	if (rc < 0 || account_set_password(db, t.m.number, rq->job->hash) != 1 ||
	    password_changed(app, db, &t.m, t.purpose, now) < 0) {
		log_err("account password: %s", sqlite3_errmsg(db));
		db_rollback(app, db);
		return reply_error(rp, 500, "internal", "database error");
	}
	if (db_commit(app, db) < 0)
		return reply_error(rp, 500, "internal", "database error");
	log_info("account: member %s set a password (%s link)", t.m.number, t.purpose);
	return reply_json(rp, 200,
	                  json_pack("{s:s,s:s}", "status", "password_set", "member", t.m.number));
}

/* POST /api/v1/account/email {"token"}: the new address of an e-mail change, confirmed from it. */
int account_email_confirm(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	json_t *body = NULL;
	unsigned char key[WEB_ID_KEY];
	struct token_row t;
	int64_t now = instant_now();
	sqlite3_stmt *st;
	int rc;

	if (!db)
		return reply_error(rp, 500, "internal", "database unavailable");
	if (request_json(rq, rp, &body) < 0)
		return 0;
	rc = token_take(db, body, "email;", &t, key, rp);
	json_decref(body);
	if (rc < 0)
		return 0;
	if (!mail_address_ok(t.detail))
		return reply_error(rp, 400, "bad_email", "this address cannot be used");
	if (db_begin(app, db) < 0)
		return reply_error(rp, 503, "busy", "the database is busy: try again");
	rc = token_use(db, key, now);
	if (rc == 0) {
		db_rollback(app, db);
		return reply_error(rp, 410, "link_used", "this link has already been used");
	}
	if (rc < 0 || !(st = db_stmt(db, "UPDATE members SET email = ? WHERE id = ?")))
		goto fail;
	db_bind_text(st, 1, t.detail, -1, SQLITE_STATIC);
	db_bind_int64(st, 2, t.member);
	rc = db_step(st);
	db_done(st);
	if (rc != SQLITE_DONE)
		goto fail;
	if (!(st = db_stmt(db, "UPDATE account_tokens SET used_at = ?2 WHERE member = ?1"
	                       " AND purpose = 'email' AND used_at IS NULL")))
		goto fail;
	db_bind_int64(st, 1, t.member);
	db_bind_int64(st, 2, now);
	rc = db_step(st);
	db_done(st);
	if (rc != SQLITE_DONE ||
	    db_audit(db, t.m.number, "member.email", "member", t.member, NULL, NULL) < 0)
		goto fail;
	/* the old address is told, so a change its owner did not make does not go unseen */
	if (mail_address_ok(t.m.email) && strcmp(t.m.email, t.detail) &&
	    outbox_queue_to(db, "email_changed", t.member, 0, t.m.email,
	                    json_pack("{s:s,s:s,s:s,s:s}", "first_name", t.m.first_name,
	                              "first_name_ar", t.m.first_name_ar, "number", t.m.number,
	                              "new_email", t.detail)) < 0)
		goto fail;
	if (db_commit(app, db) < 0)
		return reply_error(rp, 500, "internal", "database error");
	return reply_json(rp, 200,
	                  json_pack("{s:s,s:s}", "status", "email_changed", "email", t.detail));
fail:
	log_err("account email: %s", sqlite3_errmsg(db));
	db_rollback(app, db);
	return reply_error(rp, 500, "internal", "database error");
}

/* ---- the logged-in member ---- */

/* POST /api/v1/me/password {"current", "password"}: the current password checked (a wrong one
 * counts as a failed login), then the new one set; the member's other sessions end. Three calls:
 * checks and the verify job; its answer and the hash job; the change. */
int account_me_password(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	json_t *body = NULL;
	const char *cur, *pw, *why;
	char akey[128], ikey[128], hash[128] = "";
	struct acct m;
	int64_t now = instant_now(), wait;
	sqlite3_stmt *st;
	int rc;

	if (!db)
		return reply_error(rp, 500, "internal", "database unavailable");
	if (request_json(rq, rp, &body) < 0)
		return 0;
	cur = json_string_value(json_object_get(body, "current"));
	pw = json_string_value(json_object_get(body, "password"));
	if (!cur || !pw || strlen(cur) > PASSWORD_MAX) {
		json_decref(body);
		return reply_error(rp, 400, "bad_request",
		                   "current (your password now) and password (the new one) are "
		                   "required strings");
	}
	memset(&m, 0, sizeof(m));
	if (!(st = db_stmt(db, "SELECT id, number, cin, email, password_hash IS NOT NULL,"
	                       " first_name, first_name_ar, COALESCE(password_hash, '')"
	                       " FROM members WHERE id = ?")))
		goto dbfail;
	db_bind_int64(st, 1, rq->who.member_id);
	if (db_step(st) == SQLITE_ROW) {
		member_row_read(st, &m);
		snprintf(hash, sizeof(hash), "%s", (const char *)sqlite3_column_text(st, 7));
	}
	db_done(st);
	if (!m.found) {
		json_decref(body);
		return reply_error(rp, 404, "not_found", "no such member");
	}
	snprintf(akey, sizeof(akey), "account:%s", m.number);
	snprintf(ikey, sizeof(ikey), "address:%s", rq->ip_key);
	if (!rq->job) {
		wait = auth_failure_wait(db, akey, LOGIN_FAILS_ACCOUNT, now);
		if (!wait)
			wait = auth_failure_wait(db, ikey, LOGIN_FAILS_ADDRESS, now);
		if (wait) {
			json_decref(body);
			snprintf(rp->retry_after, sizeof(rp->retry_after), "%d",
			         (int)(wait < LOGIN_MAX_DELAY ? wait : LOGIN_MAX_DELAY));
			return reply_error(rp, 429, "too_many_attempts",
			                   "too many wrong passwords: wait before trying again");
		}
		if ((why = password_refused(
		         pw, json_string_length(json_object_get(body, "password")), m.number))) {
			json_decref(body);
			return reply_error(rp, 400, "password_refused", why);
		}
		rc = hash_submit(rq, rp, HASH_VERIFY, hash, cur);
		json_decref(body);
		return rc;
	}
	if (!atomic_load(&rq->job->done)) {
		json_decref(body);
		return reply_error(rp, 500, "internal", "password check resumed before it ended");
	}
	if (rq->job->op == HASH_VERIFY) {
		/* a hash changed meanwhile (a reset) makes the old password fail */
		if (!rq->job->result || strcmp(rq->job->hash, hash)) {
			json_decref(body);
			if (db_begin(app, db) == 0) {
				if (auth_failure_count(db, akey, now) < 0 ||
				    auth_failure_count(db, ikey, now) < 0)
					db_rollback(app, db);
				else
					db_commit(app, db);
			}
			return reply_error(rp, 403, "wrong_password",
			                   "the current password is wrong: nothing was changed");
		}
		rc = hash_submit(rq, rp, HASH_MAKE, NULL, pw);
		json_decref(body);
		return rc;
	}
	json_decref(body);
	body = NULL;
	if (rq->job->result != 0)
		return reply_error(rp, 500, "internal", "the password could not be hashed");
	if (db_begin(app, db) < 0)
		return reply_error(rp, 503, "busy", "the database is busy: try again");
	if (account_set_password_except(db, m.number, rq->job->hash, rq->who.session_key) != 1 ||
	    password_changed(app, db, &m, "change", now) < 0) {
		db_rollback(app, db);
		goto dbfail;
	}
	if (db_commit(app, db) < 0)
		return reply_error(rp, 500, "internal", "database error");
	return reply_json(rp, 200, json_pack("{s:s}", "status", "password_changed"));
dbfail:
	log_err("me password: %s", sqlite3_errmsg(db));
	json_decref(body);
	return reply_error(rp, 500, "internal", "database error");
}

/* A phone number as people write it: digits, spaces, + - . ( ), 6 to 20 digits. */
static int phone_ok(const char *s)
{
	int digits = 0;

	if (strlen(s) > PHONE_MAX)
		return 0;
	for (const char *p = s; *p; p++) {
		if (*p >= '0' && *p <= '9')
			digits++;
		else if (!strchr(" +-.()", *p))
			return 0;
	}
	return digits >= 6 && digits <= 20;
}

/* PATCH /api/v1/me {"email"?, "phone"?, "locale"?, "reminders"?}: phone, language and reminders
 * change at once; a new e-mail address only when the link sent to it is opened (an 'email' token
 * whose detail is the address). */
int account_me_update(struct app *app, struct request *rq, struct reply *rp)
{
	static const char *const known[] = {"email", "phone", "locale", "reminders"};
	sqlite3 *db = db_thread(app);
	json_t *body = NULL, *v, *out;
	const char *k, *email = NULL, *phone = NULL, *locale = NULL;
	char akey[128], ikey[128], link[1024], msg[160];
	int reminders = -1, change_email = 0;
	struct acct m;
	int64_t now = instant_now();
	sqlite3_stmt *st;
	int rc;

	if (!db)
		return reply_error(rp, 500, "internal", "database unavailable");
	if (request_json(rq, rp, &body) < 0)
		return 0;
	json_object_foreach(body, k, v)
	{
		size_t i = 0;

		while (i < sizeof(known) / sizeof(known[0]) && strcmp(k, known[i]))
			i++;
		if (i == sizeof(known) / sizeof(known[0])) {
			snprintf(msg, sizeof(msg),
			         "unknown field \"%.40s\" (email, phone, locale, reminders)", k);
			json_decref(body);
			return reply_error(rp, 400, "bad_request", msg);
		}
	}
	if ((v = json_object_get(body, "email"))) {
		email = json_string_value(v);
		if (!email || strlen(email) != json_string_length(v)) {
			json_decref(body);
			return reply_error(rp, 400, "bad_email", "email must be a string");
		}
		if (strlen(email) > MAIL_ADDRESS_MAX) {
			json_decref(body);
			return reply_error(rp, 400, "bad_email",
			                   "the e-mail address is longer than 254 bytes");
		}
		if (!mail_address_ok(email)) {
			json_decref(body);
			return reply_error(rp, 400, "bad_email",
			                   "not a usable e-mail address: one @, a domain with a "
			                   "dot, and no space, "
			                   "line break, quote, comma, semicolon or angle bracket");
		}
	}
	if ((v = json_object_get(body, "phone")) &&
	    (!(phone = json_string_value(v)) || strlen(phone) != json_string_length(v) ||
	     !phone_ok(phone))) {
		json_decref(body);
		return reply_error(rp, 400, "bad_phone",
		                   "a phone number has 6 to 20 digits, and only spaces, + - . ( ) "
		                   "besides");
	}
	if ((v = json_object_get(body, "locale")) &&
	    (!(locale = json_string_value(v)) || (strcmp(locale, "fr") && strcmp(locale, "ar")))) {
		json_decref(body);
		return reply_error(rp, 400, "bad_request", "locale is \"fr\" or \"ar\"");
	}
	if ((v = json_object_get(body, "reminders"))) {
		if (!json_is_boolean(v)) {
			json_decref(body);
			return reply_error(rp, 400, "bad_request", "reminders is true or false");
		}
		reminders = json_is_true(v);
	}
	if (member_lookup(db, rq->who.name, "", &m) < 0 || !m.found) {
		json_decref(body);
		return reply_error(rp, 500, "internal", "database error");
	}
	change_email = email && strcasecmp(email, m.email);
	if (change_email &&
	    send_allowed(app, db, rq, rp, m.number, akey, ikey, sizeof(akey), now) < 0) {
		json_decref(body);
		return 0;
	}
	if (db_begin(app, db) < 0) {
		json_decref(body);
		return reply_error(rp, 503, "busy", "the database is busy: try again");
	}
	if (!(st = db_stmt(db, "UPDATE members SET phone = COALESCE(?2, phone),"
	                       " locale = COALESCE(?3, locale), reminders = COALESCE(?4, reminders)"
	                       " WHERE id = ?1")))
		goto fail;
	db_bind_int64(st, 1, m.id);
	if (phone)
		db_bind_text(st, 2, phone, -1, SQLITE_STATIC);
	else
		db_bind_null(st, 2);
	if (locale)
		db_bind_text(st, 3, locale, -1, SQLITE_STATIC);
	else
		db_bind_null(st, 3);
	if (reminders >= 0)
		db_bind_int(st, 4, reminders);
	else
		db_bind_null(st, 4);
	rc = db_step(st);
	db_done(st);
	if (rc != SQLITE_DONE)
		goto fail;
	if (change_email) {
		json_t *p;

		if (send_count(db, akey, app->cfg.account_send_window, now) < 0 ||
		    send_count(db, ikey, app->cfg.account_send_window, now) < 0 ||
		    token_new(app, db, m.id, "email", email, now, link, sizeof(link)) < 0 ||
		    !(p = link_payload(app, &m, link)))
			goto fail;
		json_object_set_new(p, "new_email", json_string(email));
		sodium_memzero(link, sizeof(link));
		if (outbox_queue_to(db, "email_change", m.id, 0, email, p) < 0)
			goto fail;
	}
	if (db_audit(db, m.number, "member.update", "member", m.id, NULL, NULL) < 0)
		goto fail;
	if (db_commit(app, db) < 0) {
		json_decref(body);
		return reply_error(rp, 500, "internal", "database error");
	}
	if (!(st = db_stmt(db,
	                   "SELECT email, phone, locale, reminders FROM members WHERE id = ?"))) {
		json_decref(body);
		return reply_error(rp, 500, "internal", "database error");
	}
	db_bind_int64(st, 1, m.id);
	out = NULL;
	if (db_step(st) == SQLITE_ROW)
		out = json_pack("{s:s,s:s,s:o,s:b,s:o}", "email", sqlite3_column_text(st, 0),
		                "phone", sqlite3_column_text(st, 1), "locale",
		                sqlite3_column_type(st, 2) == SQLITE_NULL
		                    ? json_null()
		                    : json_string((const char *)sqlite3_column_text(st, 2)),
		                "reminders", sqlite3_column_int(st, 3), "email_pending",
		                change_email ? json_string(email) : json_null());
	db_done(st);
	json_decref(body);
	if (!out)
		return reply_error(rp, 500, "internal", "database error");
	return reply_json(rp, 200, out);
fail:
	log_err("me update: %s", sqlite3_errmsg(db));
	db_rollback(app, db);
	json_decref(body);
	return reply_error(rp, 500, "internal", "database error");
}
