/* auth.c: login (argon2id), sessions (256-bit random ids in a cookie, stored hashed), CSRF tokens,
 * the slowing down of repeated failed logins, and who may see which centre. */
#include <microhttpd.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "date.h"
#include "log.h"
#include "server.h"
#include "web.h"

/* session ids and CSRF tokens are shared/web.c's 256-bit random ids */
_Static_assert(SESSION_ID_BYTES == WEB_ID_BYTES && CSRF_BYTES == WEB_ID_BYTES, "web.h's ids");

static char dummy_hash[crypto_pwhash_STRBYTES];

void auth_init(struct app *app)
{
	(void)app;
	/* unknown accounts are checked against this, so they take as long as known ones */
	if (crypto_pwhash_str(dummy_hash, "estiva-no-such-account", 22, PWHASH_OPSLIMIT,
	                      PWHASH_MEMLIMIT) != 0)
		log_warn("auth: could not make the dummy hash");
}

/* Seconds to wait before another try, 0 when none: doubles from 4 s after the limit, at most 15 min
 * (web_login_wait); failures older than the window are forgotten. */
static int64_t failures_delay(sqlite3 *db, const char *key, int limit, int64_t now)
{
	sqlite3_stmt *st;
	int64_t wait = 0;

	if (!(st = db_stmt(db, "SELECT count, last_at FROM login_failures WHERE key = ?")))
		return 0;
	db_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (db_step(st) == SQLITE_ROW) {
		int count = sqlite3_column_int(st, 0);
		int64_t last = sqlite3_column_int64(st, 1);

		if (now - last < LOGIN_FAIL_WINDOW)
			wait = web_login_wait(count, limit, 4, LOGIN_MAX_DELAY, last, now);
	}
	db_done(st);
	return wait;
}

static int failure_record(sqlite3 *db, const char *key, int64_t now)
{
	sqlite3_stmt *st;
	int rc;

	if (!(st = db_stmt(
	          db, "INSERT INTO login_failures(key, count, last_at) VALUES (?1, 1, ?2)"
	              " ON CONFLICT(key) DO UPDATE SET count = CASE WHEN ?2 - last_at > ?3 THEN 1"
	              " ELSE count + 1 END, last_at = ?2")))
		return -1;
	db_bind_text(st, 1, key, -1, SQLITE_STATIC);
	db_bind_int64(st, 2, now);
	db_bind_int(st, 3, LOGIN_FAIL_WINDOW);
	rc = db_step(st);
	db_done(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

struct account {
	int found;
	char hash[crypto_pwhash_STRBYTES];
	int64_t member_id, user_id;
	enum role role;
};

static int account_find(sqlite3 *db, const char *name, struct account *a)
{
	sqlite3_stmt *st;
	const unsigned char *h;

	memset(a, 0, sizeof(*a));
	if (!(st = db_stmt(db, "SELECT id, password_hash FROM members WHERE number = ?")))
		return -1;
	db_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (db_step(st) == SQLITE_ROW && (h = sqlite3_column_text(st, 1))) {
		a->found = 1;
		a->member_id = sqlite3_column_int64(st, 0);
		a->role = ROLE_MEMBER;
		snprintf(a->hash, sizeof(a->hash), "%s", (const char *)h);
	}
	db_done(st);
	if (a->found)
		return 0;
	if (!(st = db_stmt(db, "SELECT id, password_hash, role FROM users WHERE name = ?")))
		return -1;
	db_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (db_step(st) == SQLITE_ROW && (h = sqlite3_column_text(st, 1))) {
		a->found = 1;
		a->user_id = sqlite3_column_int64(st, 0);
		a->role = !strcmp((const char *)sqlite3_column_text(st, 2), "admin") ? ROLE_ADMIN
		                                                                     : ROLE_MANAGER;
		snprintf(a->hash, sizeof(a->hash), "%s", (const char *)h);
	}
	db_done(st);
	return 0;
}

static const char *role_name(enum role r)
{
	return r == ROLE_MEMBER    ? "member"
	       : r == ROLE_MANAGER ? "manager"
	       : r == ROLE_ADMIN   ? "admin"
	                           : "none";
}

static json_t *centres_json(struct app *app, const struct principal *who)
{
	json_t *a = json_array();

	for (int i = 0; i < app->cat.ncentres; i++)
		if (who->role == ROLE_ADMIN ||
		    (who->role == ROLE_MANAGER && (who->centres >> i) & 1))
			json_array_append_new(a, json_string(app->cat.centres[i]->id));
	return a;
}

/* Loads the principal of a session row; 0 ok, -1 not found. */
static int principal_load(struct app *app, sqlite3 *db, const unsigned char key[32],
                          struct principal *who, int64_t *created, int64_t *seen)
{
	sqlite3_stmt *st;
	int rc = -1;

	memset(who, 0, sizeof(*who));
	if (!(st = db_stmt(
	          db,
	          "SELECT s.member, s.user, s.csrf, s.created_at, s.seen_at, m.number, m.category,"
	          " u.name, u.role FROM sessions s LEFT JOIN members m ON m.id = s.member"
	          " LEFT JOIN users u ON u.id = s.user WHERE s.key = ?")))
		return -1;
	db_bind_blob(st, 1, key, 32, SQLITE_STATIC);
	if (db_step(st) == SQLITE_ROW) {
		memcpy(who->session_key, key, 32);
		snprintf(who->csrf, sizeof(who->csrf), "%s",
		         (const char *)sqlite3_column_text(st, 2));
		*created = sqlite3_column_int64(st, 3);
		*seen = sqlite3_column_int64(st, 4);
		if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
			who->role = ROLE_MEMBER;
			who->member_id = sqlite3_column_int64(st, 0);
			snprintf(who->name, sizeof(who->name), "%s",
			         (const char *)sqlite3_column_text(st, 5));
			who->category =
			    catalog_category(&app->cat, (const char *)sqlite3_column_text(st, 6));
		} else {
			who->user_id = sqlite3_column_int64(st, 1);
			snprintf(who->name, sizeof(who->name), "%s",
			         (const char *)sqlite3_column_text(st, 7));
			who->role = !strcmp((const char *)sqlite3_column_text(st, 8), "admin")
			                ? ROLE_ADMIN
			                : ROLE_MANAGER;
		}
		rc = 0;
	}
	db_done(st);
	if (rc == 0 && who->role == ROLE_MANAGER) {
		if (!(st = db_stmt(db, "SELECT centre FROM user_centres WHERE user = ?")))
			return -1;
		db_bind_int64(st, 1, who->user_id);
		while (db_step(st) == SQLITE_ROW) {
			int c = catalog_centre(&app->cat, (const char *)sqlite3_column_text(st, 0));
			if (c >= 0 && c < 64)
				who->centres |= (uint64_t)1 << c;
		}
		db_done(st);
	}
	return rc;
}

int auth_login(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	json_t *body = NULL, *out;
	const char *name, *password;
	char uname[72], akey[128], ikey[128], skey[128], csrf_hex[WEB_ID_HEX], id_hex[WEB_ID_HEX];
	unsigned char key[WEB_ID_KEY];
	int64_t now = instant_now(), wait;
	struct account a;
	sqlite3_stmt *st;
	int ok;

	if (!db)
		return reply_error(rp, 500, "internal", "database unavailable");
	if (request_json(rq, rp, &body) < 0)
		return 0;
	name = json_string_value(json_object_get(body, "member"));
	password = json_string_value(json_object_get(body, "password"));
	if (!name || !password || !*name || strlen(name) > 64 || strlen(password) > 1024) {
		json_decref(body);
		return reply_error(rp, 400, "bad_request",
		                   "member and password are required strings");
	}
	snprintf(uname, sizeof(uname), "%s", name);
	name = uname; /* the body is freed below */
	snprintf(akey, sizeof(akey), "account:%s", name);
	snprintf(ikey, sizeof(ikey), "address:%s", rq->ip_key);
	snprintf(skey, sizeof(skey), "logins:%s",
	         name); /* successes: a stolen password used in a loop */
	wait = failures_delay(db, akey, LOGIN_FAILS_ACCOUNT, now);
	if (!wait)
		wait = failures_delay(db, ikey, LOGIN_FAILS_ADDRESS, now);
	if (!wait)
		wait = failures_delay(db, skey, LOGIN_SUCCESSES_ACCOUNT, now);
	if (wait) {
		json_decref(body);
		snprintf(rp->retry_after, sizeof(rp->retry_after), "%lld", (long long)wait);
		return reply_error(rp, 429, "too_many_attempts",
		                   "too many failed logins: wait before trying again");
	}
	if (account_find(db, name, &a) < 0) {
		json_decref(body);
		return reply_error(rp, 500, "internal", "database error");
	}
	if (!rq->job) {
		/* First call: the check goes to hashpool.c and this connection waits, off the HTTP
		 * threads. */
		rq->job = hash_job_new(HASH_VERIFY, a.found ? a.hash : dummy_hash, password);
		json_decref(body);
		if (!rq->job)
			return reply_error(rp, 500, "internal", "out of memory");
		if (hashpool_reserve() < 0) {
			hash_job_free(rq->job);
			rq->job = NULL;
			snprintf(rp->retry_after, sizeof(rp->retry_after), "2");
			return reply_error(rp, 503, "busy",
			                   "too many logins at once: try again in a moment");
		}
		rq->job->conn = rq->conn;
		MHD_suspend_connection(rq->conn);
		hashpool_submit(rq->job);
		rp->suspended = 1;
		return 0;
	}
	if (!atomic_load(&rq->job->done)) {
		json_decref(body);
		return reply_error(rp, 500, "internal", "password check resumed before it ended");
	}
	/* Called again with the answer. A hash changed meanwhile (a reset) makes the old password
	 * fail. */
	ok = rq->job->result && a.found && !strcmp(rq->job->hash, a.hash);
	json_decref(body);
	if (!ok) {
		if (db_begin(app, db) == 0) {
			if (failure_record(db, akey, now) < 0 || failure_record(db, ikey, now) < 0)
				db_rollback(app, db);
			else
				db_commit(app, db);
		}
		return reply_error(rp, 401, "bad_credentials",
		                   "unknown member number or wrong password");
	}

	web_random_id(id_hex);
	web_random_id(csrf_hex);
	if (web_id_key(id_hex, key) < 0)
		return reply_error(rp, 500, "internal", "could not make a session");
	if (db_begin(app, db) < 0)
		return reply_error(rp, 500, "internal", "database busy");
	{
		/* the hash once more, inside the transaction that opens the session: a password
		 * changed since the check (its change ends every session in its own transaction)
		 * must not let a session opened with the old one survive it */
		struct account now_a;

		if (account_find(db, name, &now_a) < 0 || !now_a.found ||
		    strcmp(now_a.hash, rq->job->hash)) {
			db_rollback(app, db);
			return reply_error(rp, 401, "bad_credentials",
			                   "unknown member number or wrong password");
		}
	}
	if (!(st = db_stmt(db, "INSERT INTO sessions(key, member, user, csrf, created_at, seen_at) "
	                       "VALUES (?, ?, ?, ?, ?, ?)")))
		goto dbfail;
	db_bind_blob(st, 1, key, sizeof(key), SQLITE_STATIC);
	if (a.member_id)
		db_bind_int64(st, 2, a.member_id);
	else
		db_bind_null(st, 2);
	if (a.user_id)
		db_bind_int64(st, 3, a.user_id);
	else
		db_bind_null(st, 3);
	db_bind_text(st, 4, csrf_hex, -1, SQLITE_STATIC);
	db_bind_int64(st, 5, now);
	db_bind_int64(st, 6, now);
	ok = db_step(st) == SQLITE_DONE;
	db_done(st);
	if (!ok)
		goto dbfail;
	if (!(st = db_stmt(db, "DELETE FROM login_failures WHERE key = ?")))
		goto dbfail;
	db_bind_text(st, 1, akey, -1, SQLITE_STATIC);
	db_step(st);
	db_done(st);
	if (failure_record(db, skey, now) < 0)
		goto dbfail;
	/* at most SESSIONS_PER_ACCOUNT open sessions: the oldest end */
	if (!(st = db_stmt(db, a.member_id
	                           ? "DELETE FROM sessions WHERE key IN (SELECT key FROM sessions "
	                             "WHERE member = ?1"
	                             " ORDER BY created_at DESC, rowid DESC LIMIT -1 OFFSET ?2)"
	                           : "DELETE FROM sessions WHERE key IN (SELECT key FROM sessions "
	                             "WHERE user = ?1"
	                             " ORDER BY created_at DESC, rowid DESC LIMIT -1 OFFSET ?2)")))
		goto dbfail;
	db_bind_int64(st, 1, a.member_id ? a.member_id : a.user_id);
	db_bind_int(st, 2, SESSIONS_PER_ACCOUNT);
	ok = db_step(st) == SQLITE_DONE;
	db_done(st);
	if (!ok)
		goto dbfail;
	if ((st = db_stmt(db, "DELETE FROM sessions WHERE seen_at < ? OR created_at < ?"))) {
		db_bind_int64(st, 1, now - app->cfg.session_idle);
		db_bind_int64(st, 2, now - app->cfg.session_absolute);
		db_step(st);
		db_done(st);
	}
	if (db_commit(app, db) < 0)
		return reply_error(rp, 500, "internal", "database error");

	if (principal_load(app, db, key, &rq->who, &now, &wait) < 0)
		return reply_error(rp, 500, "internal", "session vanished");
	if (web_cookie(rp->set_cookie, sizeof(rp->set_cookie), "estiva_session", id_hex,
	               app->cfg.session_absolute, app->tls) < 0)
		return reply_error(rp, 500, "internal", "session cookie too long");
	out = json_pack("{s:s,s:s,s:o,s:o,s:o}", "csrf_token", csrf_hex, "role", role_name(a.role),
	                "member", a.member_id ? json_string(name) : json_null(), "user",
	                a.user_id ? json_string(name) : json_null(), "centres",
	                centres_json(app, &rq->who));
	return reply_json(rp, 200, out);
dbfail:
	log_err("login: %s", sqlite3_errmsg(db));
	db_rollback(app, db);
	return reply_error(rp, 500, "internal", "database error");
}

int auth_session(struct app *app, struct request *rq)
{
	const char *cookie =
	    MHD_lookup_connection_value(rq->conn, MHD_COOKIE_KIND, "estiva_session");
	unsigned char key[WEB_ID_KEY];
	int64_t created = 0, seen = 0, now = instant_now();
	sqlite3 *db;
	sqlite3_stmt *st;

	memset(&rq->who, 0, sizeof(rq->who));
	if (!cookie || web_id_key(cookie, key) < 0)
		return 0;
	db = db_thread(app);
	if (!db)
		return -1;
	if (principal_load(app, db, key, &rq->who, &created, &seen) < 0)
		return 0;
	if (now - seen > app->cfg.session_idle || now - created > app->cfg.session_absolute) {
		if (db_begin(app, db) == 0) {
			if ((st = db_stmt(db, "DELETE FROM sessions WHERE key = ?"))) {
				db_bind_blob(st, 1, key, sizeof(key), SQLITE_STATIC);
				db_step(st);
				db_done(st);
			}
			db_commit(app, db);
		}
		memset(&rq->who, 0, sizeof(rq->who));
		return 0;
	}
	if (now - seen >= (app->cfg.session_idle / 10 < 60 ? app->cfg.session_idle / 10 : 60) &&
	    db_begin(app, db) == 0) {
		/* at most one write a minute per session (more often when the idle limit is short,
		 * since the idle check reads this time) */
		if ((st = db_stmt(db, "UPDATE sessions SET seen_at = ? WHERE key = ?"))) {
			db_bind_int64(st, 1, now);
			db_bind_blob(st, 2, key, sizeof(key), SQLITE_STATIC);
			db_step(st);
			db_done(st);
		}
		db_commit(app, db);
	}
	return 1;
}

int auth_logout(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	sqlite3_stmt *st;

	if (!db || db_begin(app, db) < 0)
		return reply_error(rp, 500, "internal", "database unavailable");
	if (!(st = db_stmt(db, "DELETE FROM sessions WHERE key = ?"))) {
		db_rollback(app, db);
		return reply_error(rp, 500, "internal", "database error");
	}
	db_bind_blob(st, 1, rq->who.session_key, 32, SQLITE_STATIC);
	db_step(st);
	db_done(st);
	if (db_commit(app, db) < 0)
		return reply_error(rp, 500, "internal", "database error");
	if (web_cookie(rp->set_cookie, sizeof(rp->set_cookie), "estiva_session", "", 0, app->tls) <
	    0)
		return reply_error(rp, 500, "internal", "session cookie too long");
	return reply_text(rp, 204, "application/json", "");
}

int auth_csrf_ok(const struct request *rq)
{
	const char *tok = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "X-CSRF-Token");

	return web_token_eq(tok, rq->who.csrf);
}

int auth_may_see(const struct principal *who, int64_t member, int centre)
{
	if (who->role == ROLE_MEMBER)
		return member == who->member_id;
	return auth_can_see_centre(who, centre);
}

int64_t auth_own_member(const struct principal *who)
{
	return who->role == ROLE_MEMBER ? who->member_id : 0;
}

int auth_centre_limited(const struct principal *who)
{
	return who->role == ROLE_MANAGER;
}

int auth_can_see_centre(const struct principal *who, int centre)
{
	if (who->role == ROLE_ADMIN || who->role == ROLE_MEMBER)
		return 1;
	return who->role == ROLE_MANAGER && centre >= 0 && centre < 64 &&
	       ((who->centres >> centre) & 1);
}

int64_t auth_failure_wait(sqlite3 *db, const char *key, int limit, int64_t now)
{
	return failures_delay(db, key, limit, now);
}

int auth_failure_count(sqlite3 *db, const char *key, int64_t now)
{
	return failure_record(db, key, now);
}
