/* store.c: the simulator's SQLite database: orders (one per merchant oid), their transactions, the
 * open card pages (sessions) and the callbacks to deliver. One connection behind one lock: the
 * traffic is a developer's and a test's, and ':memory:' must be one database for every thread.
 * Every change of several rows is one transaction. Card numbers are never stored, only masked. */
#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "paysim.h"

static sqlite3 *db;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS orders("
    " oid TEXT PRIMARY KEY, clientid TEXT NOT NULL, currency TEXT NOT NULL, amount_c INTEGER NOT "
    "NULL,"
    " trantype TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'N',"
    " auth_c INTEGER NOT NULL DEFAULT 0, capture_c INTEGER NOT NULL DEFAULT 0, refund_c INTEGER "
    "NOT NULL DEFAULT 0,"
    " auth_code TEXT NOT NULL DEFAULT '', trans_id TEXT NOT NULL DEFAULT '', host_ref TEXT NOT "
    "NULL DEFAULT '',"
    " masked_pan TEXT NOT NULL DEFAULT '', proc_ret TEXT NOT NULL DEFAULT '',"
    " auth_at INTEGER NOT NULL DEFAULT 0, capture_at INTEGER NOT NULL DEFAULT 0, void_at INTEGER "
    "NOT NULL DEFAULT 0,"
    " settled INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, updated_at INTEGER NOT "
    "NULL);"
    "CREATE TABLE IF NOT EXISTS transactions("
    " id INTEGER PRIMARY KEY, oid TEXT NOT NULL REFERENCES orders(oid), trans_id TEXT NOT NULL "
    "UNIQUE,"
    " type TEXT NOT NULL, amount_c INTEGER NOT NULL, response TEXT NOT NULL, proc_ret TEXT NOT "
    "NULL,"
    " err_msg TEXT NOT NULL, auth_code TEXT NOT NULL, host_ref TEXT NOT NULL, masked_pan TEXT NOT "
    "NULL,"
    " md_status TEXT NOT NULL, source TEXT NOT NULL, at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS transactions_oid ON transactions(oid, id);"
    "CREATE TABLE IF NOT EXISTS sessions("
    " token TEXT PRIMARY KEY, oid TEXT NOT NULL, lang TEXT NOT NULL, fields TEXT NOT NULL, state "
    "TEXT NOT NULL,"
    " masked_pan TEXT NOT NULL DEFAULT '', brand TEXT NOT NULL DEFAULT '', expires_at INTEGER NOT "
    "NULL,"
    " created_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS callbacks("
    " id INTEGER PRIMARY KEY, oid TEXT NOT NULL, trans_id TEXT NOT NULL, url TEXT NOT NULL, body "
    "TEXT NOT NULL,"
    " state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at_ms INTEGER NOT NULL,"
    " reply TEXT NOT NULL DEFAULT '', error TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS callbacks_due ON callbacks(state, next_at_ms);"
    "PRAGMA user_version = 1;";

/* ---- small SQLite helpers (the caller holds the lock) ---- */

static int exec(const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_line("sqlite: %s: %s", sql, msg ? msg : "?");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static sqlite3_stmt *prep(const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_line("sqlite: cannot prepare %s: %s", sql, sqlite3_errmsg(db));
		return NULL;
	}
	return st;
}

/* Binds text and integers in order: a format like "tti" with the values after it. */
static int bind(sqlite3_stmt *st, const char *types, ...)
{
	va_list ap;
	int i = 1, rc = SQLITE_OK;

	va_start(ap, types);
	for (const char *t = types; *t && rc == SQLITE_OK; t++, i++) {
		if (*t == 't')
			rc = sqlite3_bind_text(st, i, va_arg(ap, const char *), -1,
			                       SQLITE_TRANSIENT);
		else
			rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
	}
	va_end(ap);
	if (rc != SQLITE_OK)
		log_line("sqlite: bind: %s", sqlite3_errmsg(db));
	return rc == SQLITE_OK ? 0 : -1;
}

/* Runs a statement that returns no row; finalizes it. */
static int run(sqlite3_stmt *st)
{
	int rc;

	if (!st)
		return -1;
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		log_line("sqlite: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static void col(sqlite3_stmt *st, int i, char *out, size_t n)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	snprintf(out, n, "%s", t ? (const char *)t : "");
}

static int begin(void)
{
	pthread_mutex_lock(&lock);
	if (exec("BEGIN IMMEDIATE") < 0) {
		pthread_mutex_unlock(&lock);
		return -1;
	}
	return 0;
}

/* Commits when ok is 0, else rolls back; releases the lock. Returns ok, or -1 if the commit failed.
 */
static int finish(int ok)
{
	int rc = ok;

	if (ok >= 0 && exec("COMMIT") < 0)
		rc = -1;
	if (ok < 0 || rc < 0)
		exec("ROLLBACK");
	pthread_mutex_unlock(&lock);
	return rc;
}

/* ---- opening ---- */

int store_open(const char *path, char *err, size_t errlen)
{
	char msg[256];

	if (sqlite3_open_v2(path, &db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
	                    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
		goto fail;
	}
	if (sqlite3_busy_timeout(db, 5000) != SQLITE_OK)
		goto fail_msg;
	if (strcmp(path, ":memory:") && exec("PRAGMA journal_mode=WAL") < 0)
		goto fail_msg;
	if (exec("PRAGMA foreign_keys=ON") < 0 || exec(schema) < 0)
		goto fail_msg;
	/* a stop during a delivery: deliver it again */
	if (exec("UPDATE callbacks SET state='pending' WHERE state='sending'") < 0)
		goto fail_msg;
	snprintf(msg, sizeof(msg), "DELETE FROM sessions WHERE expires_at < %lld",
	         (long long)(time(NULL) - 86400));
	if (exec(msg) < 0)
		goto fail_msg;
	return 0;
fail_msg:
	snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
fail:
	sqlite3_close(db);
	db = NULL;
	return -1;
}

void store_close(void)
{
	pthread_mutex_lock(&lock);
	sqlite3_close(db);
	db = NULL;
	pthread_mutex_unlock(&lock);
}

void session_free(struct session *s)
{
	free(s->fields);
	s->fields = NULL;
}

void cb_job_free(struct cb_job *j)
{
	free(j->url);
	free(j->body);
	j->url = j->body = NULL;
}

/* ---- card pages ---- */

/* 1 when the order has an approved authorisation, 0 when not, -1 on error. */
static int has_approved(const char *oid)
{
	sqlite3_stmt *st =
	    prep("SELECT 1 FROM transactions WHERE oid=? AND type IN ('PreAuth','Auth')"
	         " AND response='Approved' LIMIT 1");
	int rc;

	if (!st || bind(st, "t", oid) < 0) {
		sqlite3_finalize(st);
		return -1;
	}
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int store_session_start(const struct session *s, const char *clientid, const char *currency,
                        const char *trantype, int64_t amount_c)
{
	int64_t now = time(NULL);
	sqlite3_stmt *st;
	int rc;

	if (begin() < 0)
		return -1;
	rc = has_approved(s->oid);
	if (rc != 0)
		return finish(rc > 0 ? 1 : -1) < 0 ? -1 : 1;
	st = prep(
	    "INSERT INTO orders(oid, clientid, currency, amount_c, trantype, created_at, "
	    "updated_at)"
	    " VALUES(?,?,?,?,?,?,?) ON CONFLICT(oid) DO UPDATE SET clientid=excluded.clientid,"
	    " currency=excluded.currency, amount_c=excluded.amount_c, trantype=excluded.trantype,"
	    " updated_at=excluded.updated_at");
	if (!st ||
	    bind(st, "tttitii", s->oid, clientid, currency, amount_c, trantype, now, now) < 0 ||
	    run(st) < 0)
		return finish(-1);
	st = prep("INSERT INTO sessions(token, oid, lang, fields, state, expires_at, created_at)"
	          " VALUES(?,?,?,?,'card',?,?)");
	if (!st ||
	    bind(st, "ttttii", s->token, s->oid, s->lang, s->fields, s->expires_at, now) < 0 ||
	    run(st) < 0)
		return finish(-1);
	return finish(0);
}

int store_session_get(const char *token, struct session *s)
{
	sqlite3_stmt *st;
	int rc = -1;

	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&lock);
	st = prep("SELECT oid, lang, fields, state, masked_pan, brand, expires_at FROM sessions "
	          "WHERE token=?");
	if (!st || bind(st, "t", token) < 0)
		goto out;
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		snprintf(s->token, sizeof(s->token), "%s", token);
		col(st, 0, s->oid, sizeof(s->oid));
		col(st, 1, s->lang, sizeof(s->lang));
		s->fields = strdup((const char *)sqlite3_column_text(st, 2));
		col(st, 3, s->state, sizeof(s->state));
		col(st, 4, s->masked_pan, sizeof(s->masked_pan));
		col(st, 5, s->brand, sizeof(s->brand));
		s->expires_at = sqlite3_column_int64(st, 6);
		rc = s->fields ? 0 : -1;
		break;
	case SQLITE_DONE:
		rc = 1;
		break;
	default:
		log_line("sqlite: %s", sqlite3_errmsg(db));
	}
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&lock);
	return rc;
}

int store_session_3ds(const char *token, const char *masked_pan, const char *brand)
{
	sqlite3_stmt *st;
	int rc = -1;

	pthread_mutex_lock(&lock);
	st = prep("UPDATE sessions SET state='3ds', masked_pan=?, brand=? WHERE token=? AND "
	          "state='card'");
	if (st && bind(st, "ttt", masked_pan, brand, token) == 0 && run(st) == 0)
		rc = sqlite3_changes(db) == 1 ? 0 : 1;
	else if (st)
		sqlite3_finalize(st);
	pthread_mutex_unlock(&lock);
	return rc;
}

static int insert_txn(const char *oid, const struct txn *t, int64_t now)
{
	sqlite3_stmt *st = prep(
	    "INSERT INTO transactions(oid, trans_id, type, amount_c, response, proc_ret, err_msg,"
	    " auth_code, host_ref, masked_pan, md_status, source, at)"
	    " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)");

	if (!st || bind(st, "tttitttttttti", oid, t->trans_id, t->type, t->amount_c, t->response,
	                t->proc_ret, t->err_msg, t->auth_code, t->host_ref, t->masked_pan,
	                t->md_status, t->source, now) < 0) {
		sqlite3_finalize(st);
		return -1;
	}
	return run(st);
}

int store_record_payment(const char *token, const char *oid, const char *trantype,
                         const struct txn *t, const char *url, const char *body, int ncb,
                         int first_sending, int64_t first_due_ms, int64_t *first_cb_id)
{
	int64_t now = time(NULL), nms = now_ms();
	int approved = !strcmp(t->proc_ret, "00"), rc;
	sqlite3_stmt *st;

	if (begin() < 0)
		return -1;
	st = prep("UPDATE sessions SET state='done' WHERE token=? AND state IN ('card','3ds')");
	if (!st || bind(st, "t", token) < 0 || run(st) < 0)
		return finish(-1);
	if (sqlite3_changes(db) != 1)
		return finish(1) < 0 ? -1 : 1;
	rc = has_approved(oid);
	if (rc != 0)
		return finish(rc > 0 ? 1 : -1) < 0 ? -1 : 1;
	if (insert_txn(oid, t, now) < 0)
		return finish(-1);
	if (approved) {
		int sale = !strcmp(trantype, "Auth");
		st = prep("UPDATE orders SET status=?, amount_c=?, auth_c=?, capture_c=?, "
		          "auth_code=?, trans_id=?,"
		          " host_ref=?, masked_pan=?, proc_ret=?, auth_at=?, capture_at=?, "
		          "updated_at=? WHERE oid=?");
		if (!st ||
		    bind(st, "tiiitttttiiit", sale ? "C" : "A", t->amount_c, t->amount_c,
		         sale ? t->amount_c : (int64_t)0, t->auth_code, t->trans_id, t->host_ref,
		         t->masked_pan, t->proc_ret, now, sale ? now : (int64_t)0, now, oid) < 0) {
			sqlite3_finalize(st);
			return finish(-1);
		}
	} else {
		st = prep("UPDATE orders SET status='D', trans_id=?, masked_pan=?, proc_ret=?, "
		          "updated_at=? WHERE oid=?");
		if (!st ||
		    bind(st, "tttit", t->trans_id, t->masked_pan, t->proc_ret, now, oid) < 0) {
			sqlite3_finalize(st);
			return finish(-1);
		}
	}
	if (run(st) < 0)
		return finish(-1);
	for (int k = 0; k < (ncb > 0 ? ncb : 1); k++) {
		const char *state = ncb == 0                  ? "dropped"
		                    : k == 0 && first_sending ? "sending"
		                                              : "pending";
		int64_t due = k == 0 ? first_due_ms : first_sending ? nms : first_due_ms;

		st = prep("INSERT INTO callbacks(oid, trans_id, url, body, state, next_at_ms, "
		          "created_at, updated_at)"
		          " VALUES(?,?,?,?,?,?,?,?)");
		if (!st ||
		    bind(st, "tttttiii", oid, t->trans_id, url, body, state, due, now, now) < 0) {
			sqlite3_finalize(st);
			return finish(-1);
		}
		if (run(st) < 0)
			return finish(-1);
		if (k == 0 && first_cb_id)
			*first_cb_id = sqlite3_last_insert_rowid(db);
	}
	return finish(0);
}

/* ---- callbacks ---- */

int store_callback_take(int64_t now, struct cb_job *job, int64_t *next_due_ms)
{
	sqlite3_stmt *st;
	int64_t due;
	int rc;

	memset(job, 0, sizeof(*job));
	*next_due_ms = -1;
	if (begin() < 0)
		return -1;
	st = prep("SELECT id, oid, trans_id, url, body, attempts, next_at_ms FROM callbacks WHERE "
	          "state='pending'"
	          " ORDER BY next_at_ms, id LIMIT 1");
	if (!st)
		return finish(-1);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return finish(rc == SQLITE_DONE ? 0 : -1);
	}
	due = sqlite3_column_int64(st, 6);
	if (due > now) {
		*next_due_ms = due;
		sqlite3_finalize(st);
		return finish(0);
	}
	job->id = sqlite3_column_int64(st, 0);
	col(st, 1, job->oid, sizeof(job->oid));
	col(st, 2, job->trans_id, sizeof(job->trans_id));
	job->url = strdup((const char *)sqlite3_column_text(st, 3));
	job->body = strdup((const char *)sqlite3_column_text(st, 4));
	job->attempts = sqlite3_column_int(st, 5);
	sqlite3_finalize(st);
	if (!job->url || !job->body) {
		cb_job_free(job);
		return finish(-1);
	}
	st = prep("UPDATE callbacks SET state='sending', updated_at=? WHERE id=?");
	if (!st || bind(st, "ii", (int64_t)time(NULL), job->id) < 0 || run(st) < 0) {
		cb_job_free(job);
		return finish(-1);
	}
	if (finish(0) < 0) {
		cb_job_free(job);
		return -1;
	}
	return 1;
}

int store_callback_update(int64_t id, const char *state, int attempts, const char *reply,
                          const char *error, int64_t next_at_ms)
{
	sqlite3_stmt *st;
	int rc = -1;

	pthread_mutex_lock(&lock);
	st = prep("UPDATE callbacks SET state=?, attempts=?, reply=?, error=?, next_at_ms=?, "
	          "updated_at=? WHERE id=?");
	if (st && bind(st, "tittiii", state, (int64_t)attempts, reply, error, next_at_ms,
	               (int64_t)time(NULL), id) == 0)
		rc = run(st);
	else
		sqlite3_finalize(st);
	pthread_mutex_unlock(&lock);
	return rc;
}

/* ---- orders ---- */

static int order_read(const char *oid, struct order *o)
{
	sqlite3_stmt *st = prep(
	    "SELECT oid, clientid, currency, trantype, status, amount_c, auth_c, capture_c,"
	    " refund_c, auth_code, trans_id, host_ref, masked_pan, proc_ret, auth_at, capture_at,"
	    " void_at, settled, created_at, updated_at FROM orders WHERE oid=?");
	int rc;

	memset(o, 0, sizeof(*o));
	if (!st || bind(st, "t", oid) < 0) {
		sqlite3_finalize(st);
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		col(st, 0, o->oid, sizeof(o->oid));
		col(st, 1, o->clientid, sizeof(o->clientid));
		col(st, 2, o->currency, sizeof(o->currency));
		col(st, 3, o->trantype, sizeof(o->trantype));
		col(st, 4, o->status, sizeof(o->status));
		o->amount_c = sqlite3_column_int64(st, 5);
		o->auth_c = sqlite3_column_int64(st, 6);
		o->capture_c = sqlite3_column_int64(st, 7);
		o->refund_c = sqlite3_column_int64(st, 8);
		col(st, 9, o->auth_code, sizeof(o->auth_code));
		col(st, 10, o->trans_id, sizeof(o->trans_id));
		col(st, 11, o->host_ref, sizeof(o->host_ref));
		col(st, 12, o->masked_pan, sizeof(o->masked_pan));
		col(st, 13, o->proc_ret, sizeof(o->proc_ret));
		o->auth_at = sqlite3_column_int64(st, 14);
		o->capture_at = sqlite3_column_int64(st, 15);
		o->void_at = sqlite3_column_int64(st, 16);
		o->settled = sqlite3_column_int(st, 17);
		o->created_at = sqlite3_column_int64(st, 18);
		o->updated_at = sqlite3_column_int64(st, 19);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

int store_order_get(const char *oid, struct order *o)
{
	int rc;

	pthread_mutex_lock(&lock);
	rc = order_read(oid, o);
	pthread_mutex_unlock(&lock);
	return rc;
}

static int order_write(const struct order *o, int64_t now)
{
	sqlite3_stmt *st =
	    prep("UPDATE orders SET status=?, capture_c=?, refund_c=?, capture_at=?, void_at=?,"
	         " updated_at=? WHERE oid=?");

	if (!st || bind(st, "tiiiiit", o->status, o->capture_c, o->refund_c, o->capture_at,
	                o->void_at, now, o->oid) < 0) {
		sqlite3_finalize(st);
		return -1;
	}
	return run(st);
}

int store_capture_from_callback(const char *oid, const char *trans_id, char *note, size_t notelen)
{
	int64_t now = time(NULL);
	struct order o;
	struct txn t;
	int rc;

	if (begin() < 0)
		return -1;
	rc = order_read(oid, &o);
	if (rc != 0) {
		snprintf(note, notelen, "no such order");
		return finish(rc < 0 ? -1 : 1);
	}
	if (strcmp(o.trans_id, trans_id)) {
		snprintf(note, notelen, "the order's approved transaction is %s, not %s",
		         o.trans_id, trans_id);
		return finish(1);
	}
	if (strcmp(o.status, "A")) {
		snprintf(note, notelen, "the order is %s, not A (authorised): nothing to capture",
		         o.status);
		return finish(1);
	}
	memset(&t, 0, sizeof(t));
	new_trans_id(t.trans_id);
	snprintf(t.type, sizeof(t.type), "PostAuth");
	t.amount_c = o.auth_c;
	snprintf(t.response, sizeof(t.response), "Approved");
	snprintf(t.proc_ret, sizeof(t.proc_ret), "00");
	snprintf(t.auth_code, sizeof(t.auth_code), "%s", o.auth_code);
	snprintf(t.host_ref, sizeof(t.host_ref), "%s", o.host_ref);
	snprintf(t.masked_pan, sizeof(t.masked_pan), "%s", o.masked_pan);
	snprintf(t.source, sizeof(t.source), "callback");
	snprintf(o.status, sizeof(o.status), "C");
	o.capture_c = o.auth_c;
	o.capture_at = now;
	if (insert_txn(oid, &t, now) < 0 || order_write(&o, now) < 0)
		return finish(-1);
	snprintf(note, notelen, "captured %lld centimes", (long long)o.capture_c);
	return finish(0);
}

static int same_utc_day(int64_t a, int64_t b)
{
	return a / 86400 == b / 86400;
}

/* Applies op to o in memory. Returns NULL when allowed (o changed, *amount set), else the reason.
 */
static const char *apply(enum api_op op, struct order *o, int64_t total_c, int64_t now,
                         int64_t *amount, char *why, size_t whylen)
{
	const char *s = o->status;
	int captured = !strcmp(s, "C");
	char a[24], b[24];

	switch (op) {
	case OP_POSTAUTH:
		if (captured)
			return "the order is already captured";
		if (strcmp(s, "A"))
			break;
		*amount = total_c < 0 ? o->auth_c : total_c;
		if (*amount <= 0 || *amount > o->auth_c) {
			money_format(o->auth_c, a);
			snprintf(
			    why, whylen,
			    "PostAuth amount must be more than 0 and at most the authorised %s", a);
			return why;
		}
		snprintf(o->status, sizeof(o->status), "C");
		o->capture_c = *amount;
		o->capture_at = now;
		return NULL;
	case OP_VOID:
		if (!strcmp(s, "A")) {
			*amount = o->auth_c;
		} else if (captured) {
			if (o->refund_c > 0)
				return "the order has refunds and cannot be voided";
			if (o->settled || !same_utc_day(o->capture_at, now))
				return "the capture is already settled: use Credit";
			*amount = o->capture_c;
		} else {
			break;
		}
		snprintf(o->status, sizeof(o->status), "V");
		o->void_at = now;
		return NULL;
	case OP_CREDIT:
		if (!strcmp(s, "A"))
			return "the order is authorised but not captured: use Void";
		if (!captured)
			break;
		*amount = total_c < 0 ? o->capture_c - o->refund_c : total_c;
		if (*amount <= 0 || *amount > o->capture_c - o->refund_c) {
			money_format(*amount, a);
			money_format(o->capture_c - o->refund_c, b);
			snprintf(why, whylen, "Credit amount %s is more than the %s left to refund",
			         a, b);
			return why;
		}
		o->refund_c += *amount;
		if (o->refund_c == o->capture_c)
			snprintf(o->status, sizeof(o->status), "R");
		return NULL;
	}
	if (!strcmp(s, "V"))
		return "the order is voided";
	if (!strcmp(s, "R"))
		return "the order is fully refunded";
	return op == OP_CREDIT ? "the order has no captured transaction"
	                       : "the order has no approved transaction";
}

int store_api_op(enum api_op op, const char *oid, int64_t total_c, struct txn *res, struct order *o)
{
	static const char *const types[] = {"PostAuth", "Void", "Credit"};
	int64_t now = time(NULL), amount = total_c < 0 ? 0 : total_c;
	const char *refused;
	char why[160];
	int rc;

	memset(res, 0, sizeof(*res));
	snprintf(res->type, sizeof(res->type), "%s", types[op]);
	snprintf(res->source, sizeof(res->source), "api");
	if (begin() < 0)
		return -1;
	rc = order_read(oid, o);
	if (rc != 0) {
		snprintf(res->response, sizeof(res->response), "Declined");
		snprintf(res->proc_ret, sizeof(res->proc_ret), "99");
		snprintf(res->err_msg, sizeof(res->err_msg), "No record found for %.64s", oid);
		return finish(rc < 0 ? -1 : 0);
	}
	refused = apply(op, o, total_c, now, &amount, why, sizeof(why));
	new_trans_id(res->trans_id);
	res->amount_c = amount;
	snprintf(res->auth_code, sizeof(res->auth_code), "%s", refused ? "" : o->auth_code);
	random_chars(res->host_ref, 12, "0123456789");
	snprintf(res->masked_pan, sizeof(res->masked_pan), "%s", o->masked_pan);
	if (refused) {
		snprintf(res->response, sizeof(res->response), "Declined");
		snprintf(res->proc_ret, sizeof(res->proc_ret), "99");
		snprintf(res->err_msg, sizeof(res->err_msg), "%s", refused);
	} else {
		snprintf(res->response, sizeof(res->response), "Approved");
		snprintf(res->proc_ret, sizeof(res->proc_ret), "00");
	}
	if (insert_txn(oid, res, now) < 0 || (!refused && order_write(o, now) < 0))
		return finish(-1);
	return finish(0);
}

int store_settle_all(void)
{
	int rc, n = 0;

	pthread_mutex_lock(&lock);
	rc = exec("UPDATE orders SET settled=1 WHERE status IN ('C','R') AND settled=0");
	if (rc == 0)
		n = sqlite3_changes(db);
	pthread_mutex_unlock(&lock);
	return rc < 0 ? -1 : n;
}

/* ---- /sim/orders ---- */

static json_t *money_json(int64_t c)
{
	char s[24];

	money_format(c, s);
	return json_string(s);
}

static json_t *time_json(int64_t t)
{
	char s[21];

	if (!t)
		return json_null();
	iso_time(t, s);
	return json_string(s);
}

static json_t *text_json(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return json_string(t ? (const char *)t : "");
}

static int add_transactions(json_t *order, const char *oid)
{
	sqlite3_stmt *st = prep(
	    "SELECT trans_id, type, amount_c, response, proc_ret, err_msg, auth_code, host_ref,"
	    " masked_pan, md_status, source, at FROM transactions WHERE oid=? ORDER BY id");
	json_t *arr = json_array();
	int rc;

	if (!st || !arr || bind(st, "t", oid) < 0)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *t = json_object();
		if (!t)
			goto fail;
		json_object_set_new(t, "trans_id", text_json(st, 0));
		json_object_set_new(t, "type", text_json(st, 1));
		json_object_set_new(t, "amount", money_json(sqlite3_column_int64(st, 2)));
		json_object_set_new(t, "response", text_json(st, 3));
		json_object_set_new(t, "proc_return_code", text_json(st, 4));
		json_object_set_new(t, "err_msg", text_json(st, 5));
		json_object_set_new(t, "auth_code", text_json(st, 6));
		json_object_set_new(t, "host_ref_num", text_json(st, 7));
		json_object_set_new(t, "masked_pan", text_json(st, 8));
		json_object_set_new(t, "md_status", text_json(st, 9));
		json_object_set_new(t, "source", text_json(st, 10));
		json_object_set_new(t, "at", time_json(sqlite3_column_int64(st, 11)));
		json_array_append_new(arr, t);
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	json_object_set_new(order, "transactions", arr);
	return 0;
fail:
	sqlite3_finalize(st);
	json_decref(arr);
	return -1;
}

static int add_callbacks(json_t *order, const char *oid)
{
	sqlite3_stmt *st = prep(
	    "SELECT id, trans_id, state, attempts, reply, error, url, body, next_at_ms, created_at"
	    " FROM callbacks WHERE oid=? ORDER BY id");
	json_t *arr = json_array();
	int rc;

	if (!st || !arr || bind(st, "t", oid) < 0)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *c = json_object();
		if (!c)
			goto fail;
		json_object_set_new(c, "id", json_integer(sqlite3_column_int64(st, 0)));
		json_object_set_new(c, "trans_id", text_json(st, 1));
		json_object_set_new(c, "state", text_json(st, 2));
		json_object_set_new(c, "attempts", json_integer(sqlite3_column_int64(st, 3)));
		json_object_set_new(c, "reply", text_json(st, 4));
		json_object_set_new(c, "error", text_json(st, 5));
		json_object_set_new(c, "url", text_json(st, 6));
		json_object_set_new(c, "body", text_json(st, 7));
		json_object_set_new(c, "next_at", time_json(sqlite3_column_int64(st, 8) / 1000));
		json_object_set_new(c, "created", time_json(sqlite3_column_int64(st, 9)));
		json_array_append_new(arr, c);
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	json_object_set_new(order, "callbacks", arr);
	return 0;
fail:
	sqlite3_finalize(st);
	json_decref(arr);
	return -1;
}

char *store_orders_json(const char *oid_or_null)
{
	sqlite3_stmt *st = NULL;
	json_t *root = json_object(), *arr = json_array();
	char *out = NULL;
	int rc;

	pthread_mutex_lock(&lock);
	if (!root || !arr)
		goto out;
	st = prep(oid_or_null ? "SELECT oid FROM orders WHERE oid=?"
	                      : "SELECT oid FROM orders ORDER BY created_at, oid");
	if (!st || (oid_or_null && bind(st, "t", oid_or_null) < 0))
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct order o;
		char oid[PAYSIM_OID_MAX + 1];
		json_t *j;

		col(st, 0, oid, sizeof(oid));
		if (order_read(oid, &o) != 0 || !(j = json_object()))
			goto out;
		json_array_append_new(arr, j);
		json_object_set_new(j, "oid", json_string(o.oid));
		json_object_set_new(j, "clientid", json_string(o.clientid));
		json_object_set_new(j, "trantype", json_string(o.trantype));
		json_object_set_new(j, "currency", json_string(o.currency));
		json_object_set_new(j, "amount", money_json(o.amount_c));
		json_object_set_new(j, "status", json_string(o.status));
		json_object_set_new(j, "authorised", money_json(o.auth_c));
		json_object_set_new(j, "captured", money_json(o.capture_c));
		json_object_set_new(j, "refunded", money_json(o.refund_c));
		json_object_set_new(j, "auth_code", json_string(o.auth_code));
		json_object_set_new(j, "trans_id", json_string(o.trans_id));
		json_object_set_new(j, "proc_return_code", json_string(o.proc_ret));
		json_object_set_new(j, "masked_pan", json_string(o.masked_pan));
		json_object_set_new(j, "settled", json_boolean(o.settled));
		json_object_set_new(j, "authorised_at", time_json(o.auth_at));
		json_object_set_new(j, "captured_at", time_json(o.capture_at));
		json_object_set_new(j, "voided_at", time_json(o.void_at));
		json_object_set_new(j, "created", time_json(o.created_at));
		json_object_set_new(j, "updated", time_json(o.updated_at));
		if (add_transactions(j, oid) < 0 || add_callbacks(j, oid) < 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		goto out;
	json_object_set(root, "orders", arr);
	out = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&lock);
	json_decref(arr);
	json_decref(root);
	return out;
}
