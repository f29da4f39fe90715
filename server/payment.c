/* payment.c: online payment through the card gateway (hosted page, PreAuth then capture), the
 * signed callback, refunds on cancellation, and the reconciliation of what the gateway left open.
 *
 * The rule: money is never captured without a confirmed booking, and a booking is never confirmed
 * without money. The callback confirms the booking in one durable transaction and only then answers
 * ACTION=POSTAUTH (capture). An approval that comes too late (the unit went to someone else) is
 * answered APPROVED (no capture) and the authorisation is voided. See docs/payments.md. */
#include <microhttpd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "date.h"
#include "log.h"
#include "server.h"
#include "web.h"

/* ---- credentials ---- */

static int cred_line(struct conf_ctx *ctx, const char *section, const char *name, const char *value)
{
	struct cmi_credentials *c = ctx->user;
	char *dst = NULL;
	size_t len = 0;

	if (strcmp(section, "cmi"))
		return conf_error(ctx, 0, "unknown section [%s] (expected [cmi])", section);
	if (!strcmp(name, "client_id")) {
		dst = c->client_id;
		len = sizeof(c->client_id);
	} else if (!strcmp(name, "store_key")) {
		dst = c->store_key;
		len = sizeof(c->store_key);
	} else if (!strcmp(name, "api_user")) {
		dst = c->api_user;
		len = sizeof(c->api_user);
	} else if (!strcmp(name, "api_password")) {
		dst = c->api_password;
		len = sizeof(c->api_password);
	} else {
		return conf_error(ctx, 0, "unknown setting \"%s\"", name);
	}
	if (!*value || strlen(value) >= len)
		return conf_error(ctx, 0, "%s must have 1 to %zu characters", name, len - 1);
	memcpy(dst, value, strlen(value) + 1);
	return 1;
}

int payment_init(struct app *app, char *err, size_t errlen)
{
	struct cmi_credentials *c;

	if (!app->cfg.pay_credentials[0])
		return 0; /* payments off */
	if (conf_secret_file_ok(app->cfg.pay_credentials, err, errlen) < 0)
		return -1;
	c = sodium_malloc(sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memset(c, 0, sizeof(*c));
	if (conf_read_file(app->cfg.pay_credentials, cred_line, c, err, errlen) < 0)
		goto fail;
	if (!c->client_id[0] || !c->store_key[0] || !c->api_user[0] || !c->api_password[0]) {
		snprintf(err, errlen,
		         "%s: [cmi] needs client_id, store_key, api_user and api_password",
		         app->cfg.pay_credentials);
		goto fail;
	}
	app->cred = c;
	return 0;
fail:
	sodium_free(c);
	return -1;
}

void payment_free(struct app *app)
{
	if (app->cred)
		sodium_free(app->cred);
	app->cred = NULL;
}

int payment_refund_percent(const struct config *cfg, int days)
{
	for (int i = 0; i < cfg->nrefund_tiers; i++)
		if (days >= cfg->refund_tiers[i].days)
			return cfg->refund_tiers[i].percent;
	return 0;
}

/* ---- gateway calls ---- */

/* ORDERSTATUS QUERY, retried with back-off: asking changes nothing at the gateway. */
static int gateway_ask(struct app *app, const char *oid, struct cmi_result *r)
{
	long timeout_ms = (long)app->cfg.pay_api_timeout * 1000;

	for (int i = 0; i < app->cfg.pay_api_retries; i++) {
		if (i > 0)
			usleep((useconds_t)(200000u << (i - 1)));
		if (cmi_api(app->cfg.pay_api_url, app->cfg.pay_ca_file, timeout_ms, app->cred, NULL,
		            oid, 0, r) == 0)
			return 0;
		log_warn("gateway ORDERSTATUS %s: %s (try %d of %d)", oid, r->err_msg, i + 1,
		         app->cfg.pay_api_retries);
	}
	return -1;
}

/* A money operation (PostAuth, Void, Credit) is sent once and never blindly again: its answer may
 * be lost after the gateway acted (a proxy's 502, a timeout). Whatever the answer, the gateway is
 * then asked what it holds: 0 with r the order's state after the operation, -1 when it cannot be
 * asked. Callers decide from that state alone, so a repeated call does no harm. */
static int gateway_do(struct app *app, const char *type, const char *oid, int64_t total,
                      struct cmi_result *r)
{
	struct cmi_result op;

	if (cmi_api(app->cfg.pay_api_url, app->cfg.pay_ca_file,
	            (long)app->cfg.pay_api_timeout * 1000, app->cred, type, oid, total, &op) < 0)
		log_warn("gateway %s %s: %s; asking what it did", type, oid, op.err_msg);
	else if (strcmp(op.response, "Approved"))
		log_warn("gateway %s %s refused: %s", type, oid,
		         op.err_msg[0] ? op.err_msg : op.response);
	return gateway_ask(app, oid, r);
}

static int is_state(const struct cmi_result *r, const char *a, const char *b)
{
	return !strcmp(r->trans_stat, a) || (b && !strcmp(r->trans_stat, b));
}

/* authorised and not captured: the money is held on the card */
static int held(const struct cmi_result *r)
{
	return is_state(r, "A", "PA");
}

/* captured, perhaps refunded in part (C) or in full (R) */
static int taken(const struct cmi_result *r)
{
	return is_state(r, "C", "R");
}

/* our name for a captured order's state, from what the gateway refunded of it */
static const char *taken_status(const struct cmi_result *r)
{
	return r->refunded <= 0                   ? "captured"
	       : r->refunded >= r->capture_amount ? "refunded"
	                                          : "refunded_part";
}

/* ---- small database helpers ---- */

static void durable(struct app *app, sqlite3 *db, int on)
{
	/* a paid confirmation must survive a power cut: synchronous=FULL for that transaction */
	if (!app->cfg.sync_full)
		sqlite3_exec(db, on ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", NULL,
		             NULL, NULL);
}

/* Inside a transaction: confirm a booking paid by this payment. The booking may still be held (its
 * nights are ours), or have expired or been cancelled meanwhile: then its unit is taken back if
 * every night is still free. Returns 1 confirmed, 0 cannot be honoured, -1 database error. */
static int confirm_locked(struct app *app, sqlite3 *db, int64_t booking, int64_t payment,
                          const char *actor)
{
	sqlite3_stmt *st;
	char status[16] = "", arr[DATE_STRLEN] = "", dep[DATE_STRLEN] = "";
	int64_t unit = 0, type = 0, now = instant_now();
	int32_t a, d;
	int rc;

	if (!(st = db_stmt(
	          db,
	          "SELECT status, unit, unit_type, arrival, departure FROM bookings WHERE id = ?")))
		return -1;
	db_bind_int64(st, 1, booking);
	if (db_step(st) == SQLITE_ROW) {
		snprintf(status, sizeof(status), "%s", (const char *)sqlite3_column_text(st, 0));
		unit = sqlite3_column_int64(st, 1);
		type = sqlite3_column_int64(st, 2);
		snprintf(arr, sizeof(arr), "%s", (const char *)sqlite3_column_text(st, 3));
		snprintf(dep, sizeof(dep), "%s", (const char *)sqlite3_column_text(st, 4));
	}
	db_done(st);
	if (!status[0] || !strcmp(status, "confirmed"))
		return 0; /* unknown, or already paid by another attempt: this money goes back */
	if (strcmp(status, "held")) {
		/* expired or cancelled: take the nights back if nobody has them */
		if (date_parse(arr, &a) < 0 || date_parse(dep, &d) < 0)
			return -1;
		if (!(st = db_stmt(db, "SELECT COUNT(*) FROM booking_nights WHERE unit = ? AND "
		                       "night >= ? AND night < ?")))
			return -1;
		db_bind_int64(st, 1, unit);
		db_bind_int(st, 2, a);
		db_bind_int(st, 3, d);
		rc = db_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
		db_done(st);
		if (rc != 0)
			return rc < 0 ? -1 : 0;
		if (!strcmp(status, "cancelled"))
			return 0; /* the member cancelled: refund, don't resurrect */
		if (!(st = db_stmt(db, "INSERT INTO booking_nights(unit, night, unit_type, "
		                       "booking) VALUES (?, ?, ?, ?)")))
			return -1;
		for (int32_t n = a; n < d; n++) {
			db_bind_int64(st, 1, unit);
			db_bind_int(st, 2, n);
			db_bind_int64(st, 3, type);
			db_bind_int64(st, 4, booking);
			if (db_step(st) != SQLITE_DONE) {
				db_done(st);
				return -1;
			}
			sqlite3_reset(st);
		}
		db_done(st);
	}
	if (!(st = db_stmt(db, "UPDATE bookings SET status = 'confirmed', hold_expires_at = NULL, "
	                       "confirmed_at = ?,"
	                       " updated_at = ? WHERE id = ?")))
		return -1;
	db_bind_int64(st, 1, now);
	db_bind_int64(st, 2, now);
	db_bind_int64(st, 3, booking);
	rc = db_step(st);
	db_done(st);
	if (rc != SQLITE_DONE)
		return -1;
	{
		char before[48];
		snprintf(before, sizeof(before), "{\"status\":\"%s\"}", status);
		if (db_audit(db, actor, "booking.confirm", "booking", booking, before,
		             "{\"status\":\"confirmed\"}") < 0)
			return -1;
	}
	/* the passes and the payment's receipt come with the confirmation, and the member is told,
	 * in the same transaction (the receipt's number is gap-free only so) */
	if (passes_issue(app, db, booking) < 0 || receipts_payment(db, booking, payment) < 0 ||
	    outbox_booking(app, db, "confirmed", booking, NULL) < 0)
		return -1;
	return 1;
}

struct payment_row {
	int64_t id, booking, amount;
	char oid[72];
	char status[16];
};

static int payment_by_oid(sqlite3 *db, const char *oid, struct payment_row *p)
{
	sqlite3_stmt *st;
	int rc = 0;

	memset(p, 0, sizeof(*p));
	if (!(st = db_stmt(db,
	                   "SELECT id, booking, amount, oid, status FROM payments WHERE oid = ?")))
		return -1;
	db_bind_text(st, 1, oid, -1, SQLITE_STATIC);
	if (db_step(st) == SQLITE_ROW) {
		p->id = sqlite3_column_int64(st, 0);
		p->booking = sqlite3_column_int64(st, 1);
		p->amount = sqlite3_column_int64(st, 2);
		snprintf(p->oid, sizeof(p->oid), "%s", (const char *)sqlite3_column_text(st, 3));
		snprintf(p->status, sizeof(p->status), "%s",
		         (const char *)sqlite3_column_text(st, 4));
		rc = 1;
	}
	db_done(st);
	return rc;
}

/* ---- starting a payment ---- */

static void gateway_origin(const char *url, char *out, size_t len)
{
	const char *p = strstr(url, "://");
	size_t n =
	    p ? (size_t)(strchr(p + 3, '/') ? strchr(p + 3, '/') - url : (ptrdiff_t)strlen(url))
	      : 0;

	if (n >= len)
		n = len - 1;
	memcpy(out, url, n);
	out[n] = '\0';
}

int payment_start(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	sqlite3_stmt *st = NULL;
	struct form f = {0};
	json_t *body = NULL, *fields = NULL, *out;
	char status[16] = "", oid[64], rnd[21], amount_s[24], url[700], hash[CMI_HASH_LEN + 1],
	     email[NAME_MAX_LEN] = "", bill[2 * NAME_MAX_LEN] = "", *fields_text = NULL;
	const char *lang = "fr";
	int64_t booking, amount = 0, created = 0, expires = 0, member = 0, now = instant_now(), pid,
	                 new_exp;
	unsigned char rb[16];

	if (!app->cred)
		return reply_error(rp, 503, "payments_off",
		                   "online payment is not configured on this server");
	if (!db)
		return reply_error(rp, 500, "internal", "database unavailable");
	booking = rq->id;
	if (rq->body.len) {
		if (request_json(rq, rp, &body) < 0)
			return 0;
		if (json_object_get(body, "lang")) {
			lang = json_string_value(json_object_get(body, "lang"));
			if (!lang || (strcmp(lang, "fr") && strcmp(lang, "ar"))) {
				json_decref(body);
				return reply_error(rp, 400, "bad_request", "lang must be fr or ar");
			}
			lang = !strcmp(lang, "ar") ? "ar" : "fr";
		}
		json_decref(body);
	}
	if (db_begin(app, db) < 0)
		return reply_error(rp, 503, "busy", "the database is busy, try again");
	if (!(st = db_stmt(
	          db,
	          "SELECT b.status, b.amount, b.created_at, b.hold_expires_at, b.member, m.email,"
	          " m.first_name || ' ' || m.last_name FROM bookings b JOIN members m ON m.id = "
	          "b.member"
	          " WHERE b.id = ?")))
		goto dbfail;
	db_bind_int64(st, 1, booking);
	if (db_step(st) == SQLITE_ROW) {
		snprintf(status, sizeof(status), "%s", (const char *)sqlite3_column_text(st, 0));
		amount = sqlite3_column_int64(st, 1);
		created = sqlite3_column_int64(st, 2);
		expires = sqlite3_column_int64(st, 3);
		member = sqlite3_column_int64(st, 4);
		snprintf(email, sizeof(email), "%s", (const char *)sqlite3_column_text(st, 5));
		snprintf(bill, sizeof(bill), "%s", (const char *)sqlite3_column_text(st, 6));
	}
	db_done(st);
	st = NULL;
	if (!status[0] || member != rq->who.member_id) {
		db_rollback(app, db);
		return reply_error(rp, 404, "not_found", "no such booking");
	}
	if (!strcmp(status, "confirmed")) {
		db_rollback(app, db);
		return reply_error(rp, 409, "already_paid",
		                   "this booking is already paid and confirmed");
	}
	if (strcmp(status, "held") || expires <= now) {
		db_rollback(app, db);
		return reply_error(rp, 409, "hold_expired",
		                   "the hold on this booking has ended: book again");
	}
	/* the hold must outlive the gateway's session plus the callback, once, not forever */
	new_exp = now + app->cfg.pay_session + app->cfg.pay_margin;
	if (new_exp > created + app->cfg.hold_seconds + app->cfg.pay_session + app->cfg.pay_margin)
		new_exp =
		    created + app->cfg.hold_seconds + app->cfg.pay_session + app->cfg.pay_margin;
	if (new_exp > expires) {
		if (!(st = db_stmt(
		          db,
		          "UPDATE bookings SET hold_expires_at = ?, updated_at = ? WHERE id = ?")))
			goto dbfail;
		db_bind_int64(st, 1, new_exp);
		db_bind_int64(st, 2, now);
		db_bind_int64(st, 3, booking);
		if (db_step(st) != SQLITE_DONE)
			goto dbfail;
		db_done(st);
		st = NULL;
	}

	randombytes_buf(rb, sizeof(rb));
	snprintf(oid, sizeof(oid), "EST%lld-%02x%02x%02x%02x%02x%02x", (long long)booking, rb[0],
	         rb[1], rb[2], rb[3], rb[4], rb[5]);
	for (int i = 0; i < 20; i++)
		rnd[i] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    [randombytes_uniform(62)];
	rnd[20] = '\0';
	cmi_amount(amount, amount_s);
	form_add(&f, "clientid", app->cred->client_id);
	form_add(&f, "storetype", "3D_PAY_HOSTING");
	form_add(&f, "TranType", "PreAuth");
	form_add(&f, "amount", amount_s);
	form_add(&f, "currency", "504");
	form_add(&f, "oid", oid);
	snprintf(url, sizeof(url), "%s/payments/ok", app->cfg.pay_public_url);
	form_add(&f, "okUrl", url);
	snprintf(url, sizeof(url), "%s/payments/fail", app->cfg.pay_public_url);
	form_add(&f, "failUrl", url);
	snprintf(url, sizeof(url), "%s/", app->cfg.pay_public_url);
	form_add(&f, "shopurl", url);
	snprintf(url, sizeof(url), "%s/payments/cmi/callback", app->cfg.pay_public_url);
	form_add(&f, "callbackUrl", url);
	form_add(&f, "lang", lang);
	form_add(&f, "rnd", rnd);
	form_add(&f, "hashAlgorithm", "ver3");
	form_add(&f, "encoding", "UTF-8");
	form_add(&f, "email", email);
	if (form_add(&f, "BillToName", bill) < 0 || cmi_hash(&f, app->cred->store_key, hash) < 0 ||
	    form_add(&f, "HASH", hash) < 0)
		goto dbfail;
	fields = json_object();
	for (int i = 0; i < f.n; i++)
		json_object_set_new(fields, f.names[i], json_string(f.values[i]));
	fields_text = json_dumps(fields, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!fields_text)
		goto dbfail;
	if (!(st = db_stmt(db, "INSERT INTO payments(booking, oid, amount, status, fields, "
	                       "created_at, updated_at)"
	                       " VALUES (?, ?, ?, 'pending', ?, ?, ?) RETURNING id")))
		goto dbfail;
	db_bind_int64(st, 1, booking);
	db_bind_text(st, 2, oid, -1, SQLITE_STATIC);
	db_bind_int64(st, 3, amount);
	db_bind_text(st, 4, fields_text, -1, SQLITE_STATIC);
	db_bind_int64(st, 5, now);
	db_bind_int64(st, 6, now);
	if (db_step(st) != SQLITE_ROW)
		goto dbfail;
	pid = sqlite3_column_int64(st, 0);
	db_done(st);
	st = NULL;
	if (db_audit(db, rq->who.name, "payment.start", "payment", pid, NULL, oid) < 0 ||
	    db_commit(app, db) < 0) {
		json_decref(fields);
		free(fields_text);
		form_free(&f);
		return reply_error(rp, 500, "internal", "database error");
	}
	snprintf(url, sizeof(url), "/payments/%s/form", oid);
	out = json_pack("{s:I,s:s,s:s,s:s,s:o,s:{s:I,s:s}}", "payment", (json_int_t)pid, "oid", oid,
	                "gateway_url", app->cfg.pay_gateway_url, "form_url", url, "fields", fields,
	                "amount", "centimes", (json_int_t)amount, "currency", "MAD");
	free(fields_text);
	form_free(&f);
	return reply_json(rp, 201, out);
dbfail:
	log_err("payment start: %s", sqlite3_errmsg(db));
	db_done(st);
	db_rollback(app, db);
	json_decref(fields);
	free(fields_text);
	form_free(&f);
	return reply_error(rp, 500, "internal", "database error");
}

/* GET /payments/{oid}/form: a page that posts the signed fields to the gateway (pay.js submits it).
 */
int payment_form(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	sqlite3_stmt *st;
	json_t *fields = NULL, *v;
	const char *k;
	struct buf b;
	char origin[256];
	int64_t member = 0;

	if (!db || !app->cred)
		return reply_error(rp, 503, "payments_off",
		                   "online payment is not configured on this server");
	if (!(st = db_stmt(
	          db,
	          "SELECT p.fields, b.member FROM payments p JOIN bookings b ON b.id = p.booking"
	          " WHERE p.oid = ? AND p.status = 'pending'")))
		return reply_error(rp, 500, "internal", "database error");
	db_bind_text(st, 1, rq->params[0], -1, SQLITE_STATIC);
	if (db_step(st) == SQLITE_ROW) {
		fields = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
		member = sqlite3_column_int64(st, 1);
	}
	db_done(st);
	if (!fields || member != rq->who.member_id) {
		json_decref(fields);
		return reply_error(rp, 404, "not_found", "no such payment waiting");
	}
	buf_init(&b, 64 * 1024);
	buf_printf(&b, "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\">"
	               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	               "<title>Paiement — الأداء</title></head><body>"
	               "<form id=\"pay\" method=\"post\" action=\"");
	web_html_escape(&b, app->cfg.pay_gateway_url);
	buf_printf(&b, "\">");
	json_object_foreach(fields, k, v)
	{
		buf_printf(&b, "<input type=\"hidden\" name=\"");
		web_html_escape(&b, k);
		buf_printf(&b, "\" value=\"");
		web_html_escape(&b, json_string_value(v) ? json_string_value(v) : "");
		buf_printf(&b, "\">");
	}
	buf_printf(&b, "<p>Redirection vers la page de paiement sécurisée… — جارٍ التوجيه إلى صفحة "
	               "الأداء الآمنة…</p>"
	               "<button type=\"submit\">Payer — أداء</button></form>"
	               "<script src=\"/pay.js\"></script></body></html>");
	json_decref(fields);
	gateway_origin(app->cfg.pay_gateway_url, origin, sizeof(origin));
	snprintf(rp->csp, sizeof(rp->csp),
	         "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; "
	         "base-uri 'none';"
	         " form-action 'self' %s; frame-ancestors 'none'",
	         origin);
	reply_text(rp, 200, "text/html; charset=utf-8", buf_cstr(&b));
	buf_free(&b);
	return 0;
}

/* ---- the callback ---- */

static char *form_json(const struct form *f)
{
	json_t *j = json_object();
	char *s;

	for (int i = 0; i < f->n; i++) {
		/* the gateway sends only a masked card number; keep nothing that could be more */
		if (!strcasecmp(f->names[i], "pan") || !strcasecmp(f->names[i], "cv2") ||
		    !strcasecmp(f->names[i], "Ecom_Payment_Card_ExpDate_Year") ||
		    !strcasecmp(f->names[i], "Ecom_Payment_Card_ExpDate_Month"))
			continue;
		json_t *v = json_string(f->values[i]); /* NULL when not UTF-8 */
		json_object_set_new(j, f->names[i], v ? v : json_string("?"));
	}
	s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	return s;
}

static void audit_callback(struct app *app, sqlite3 *db, int64_t payment, const char *verdict,
                           const char *raw)
{
	/* its own small transaction when no other is open */
	int own = sqlite3_get_autocommit(db);

	if (own && db_begin(app, db) < 0)
		return;
	db_audit(db, "gateway", verdict, "payment", payment, NULL, raw);
	if (own)
		db_commit(app, db);
}

static int reply_plain(struct reply *rp, const char *text)
{
	return reply_text(rp, 200, "text/plain; charset=utf-8", text);
}

/* The fields of the gateway's verdict, which our request form never has: Response is one of its
 * three words, ProcReturnCode two digits. */
static int gateway_answer(const char *response, const char *code)
{
	if (!response || !code || strlen(code) != 2 || code[0] < '0' || code[0] > '9' ||
	    code[1] < '0' || code[1] > '9')
		return 0;
	return !strcmp(response, "Approved") || !strcmp(response, "Declined") ||
	       !strcmp(response, "Error");
}

int payment_callback(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	struct form f;
	struct payment_row p;
	const char *oid, *amount_s, *currency, *client, *code, *response;
	char *raw = NULL, verdict[96];
	int64_t amount = -1;
	int found, c, rc = 0;
	sqlite3_stmt *st;

	if (!app->cred || !db)
		return reply_plain(rp, "FAILURE");
	if (form_parse(rq->body.data ? rq->body.data : "", rq->body.len, &f) < 0) {
		log_warn("callback: malformed form from %s", rq->ip);
		audit_callback(app, db, 0, "payment.callback.malformed", "{}");
		return reply_plain(rp, "FAILURE");
	}
	raw = form_json(&f);
	oid = form_get(&f, "oid");
	amount_s = form_get(&f, "amount");
	currency = form_get(&f, "currency");
	client = form_get(&f, "clientid");
	code = form_get(&f, "ProcReturnCode");
	response = form_get(&f, "Response");
	found = oid ? payment_by_oid(db, oid, &p) : 0;
	if (amount_s)
		cmi_parse_amount(amount_s, &amount);
	/* Only the gateway says how the card went (Response, ProcReturnCode): without them this is
	 * our own signed request form posted back, which carries the same hash. */
	if (!cmi_hash_ok(&f, app->cred->store_key) || !client ||
	    strcmp(client, app->cred->client_id) || found != 1 || amount != p.amount || !currency ||
	    strcmp(currency, "504") || !gateway_answer(response, code)) {
		const char *why = !cmi_hash_ok(&f, app->cred->store_key) ? "bad hash"
		                  : !client || strcmp(client, app->cred->client_id)
		                      ? "other clientid"
		                  : found != 1         ? "unknown oid"
		                  : amount != p.amount ? "other amount"
		                  : !currency || strcmp(currency, "504")
		                      ? "other currency"
		                      : "not a gateway answer (no Response or ProcReturnCode)";
		log_warn("callback refused (%s) oid=%s from %s", why, oid ? oid : "-", rq->ip);
		snprintf(verdict, sizeof(verdict), "payment.callback.refused: %s", why);
		audit_callback(app, db, found == 1 ? p.id : 0, verdict, raw ? raw : "{}");
		rc = reply_plain(rp, "FAILURE");
		goto out;
	}

	durable(app, db, 1);
	if (db_begin(app, db) < 0) {
		durable(app, db, 0);
		rc = reply_plain(rp, "FAILURE");
		goto out;
	}
	payment_by_oid(db, oid, &p); /* again, under the lock */
	if ((st = db_stmt(db, "UPDATE payments SET callbacks = callbacks + 1 WHERE id = ?"))) {
		db_bind_int64(st, 1, p.id);
		db_step(st);
		db_done(st);
	}
	if (strcmp(response, "Approved") || strcmp(code, "00")) {
		/* declined: the booking stays held until its hold ends; a later attempt may succeed
		 */
		if (!strcmp(p.status, "pending")) {
			if (!(st = db_stmt(db, "UPDATE payments SET status = 'declined', "
			                       "proc_return_code = ?, err_msg = ?,"
			                       " masked_pan = ?, updated_at = ? WHERE id = ?")))
				goto dbfail;
			db_bind_text(st, 1, code ? code : "", -1, SQLITE_STATIC);
			db_bind_text(st, 2, form_get(&f, "ErrMsg"), -1, SQLITE_STATIC);
			db_bind_text(st, 3, form_get(&f, "MaskedPan"), -1, SQLITE_STATIC);
			db_bind_int64(st, 4, instant_now());
			db_bind_int64(st, 5, p.id);
			if (db_step(st) != SQLITE_DONE) {
				db_done(st);
				goto dbfail;
			}
			db_done(st);
		}
		if (db_audit(db, "gateway", "payment.callback.declined", "payment", p.id, p.status,
		             raw) < 0)
			goto dbfail;
		if (db_commit(app, db) < 0)
			goto fail;
		rc = reply_plain(rp, "APPROVED");
		goto done;
	}
	/* approved */
	if (!strcmp(p.status, "approved") || !strcmp(p.status, "captured") ||
	    !strcmp(p.status, "refunded_part") || !strcmp(p.status, "refunded") ||
	    !strcmp(p.status, "unknown")) {
		db_audit(db, "gateway", "payment.callback.replay", "payment", p.id, p.status, raw);
		if (db_commit(app, db) < 0)
			goto fail;
		rc = reply_plain(rp, "ACTION=POSTAUTH"); /* the same answer as the first time */
		goto done;
	}
	if (!strcmp(p.status, "voiding") || !strcmp(p.status, "voided")) {
		db_audit(db, "gateway", "payment.callback.replay", "payment", p.id, p.status, raw);
		if (db_commit(app, db) < 0)
			goto fail;
		rc = reply_plain(rp, "APPROVED");
		goto done;
	}
	c = confirm_locked(app, db, p.booking, p.id, "gateway");
	if (c < 0)
		goto dbfail;
	if (!(st = db_stmt(db, "UPDATE payments SET status = ?, trans_id = ?, auth_code = ?, "
	                       "proc_return_code = ?,"
	                       " masked_pan = ?, err_msg = NULL, updated_at = ? WHERE id = ?")))
		goto dbfail;
	db_bind_text(st, 1, c ? "approved" : "voiding", -1, SQLITE_STATIC);
	db_bind_text(st, 2, form_get(&f, "TransId"), -1, SQLITE_STATIC);
	db_bind_text(st, 3, form_get(&f, "AuthCode"), -1, SQLITE_STATIC);
	db_bind_text(st, 4, code, -1, SQLITE_STATIC);
	db_bind_text(st, 5, form_get(&f, "MaskedPan"), -1, SQLITE_STATIC);
	db_bind_int64(st, 6, instant_now());
	db_bind_int64(st, 7, p.id);
	if (db_step(st) != SQLITE_DONE) {
		db_done(st);
		goto dbfail;
	}
	db_done(st);
	if (db_audit(db, "gateway", c ? "payment.callback.approved" : "payment.callback.too_late",
	             "payment", p.id, p.status, raw) < 0)
		goto dbfail;
	if (db_commit(app, db) < 0)
		goto fail;
	if (c) {
		log_info("booking %lld confirmed by payment %s", (long long)p.booking, p.oid);
		rc = reply_plain(
		    rp, "ACTION=POSTAUTH"); /* capture, now that the booking is safely confirmed */
	} else {
		log_warn("payment %s approved but booking %lld can no longer be honoured: voiding",
		         p.oid, (long long)p.booking);
		atomic_store(&app->pay_kick, 1); /* the worker voids it through the API */
		rc = reply_plain(rp, "APPROVED");
	}
	goto done;
dbfail:
	log_err("callback: %s", sqlite3_errmsg(db));
	db_rollback(app, db);
fail:
	rc = reply_plain(rp, "FAILURE");
done:
	durable(app, db, 0);
out:
	free(raw);
	form_free(&f);
	return rc;
}

/* GET or POST /payments/ok and /payments/fail: where the browser comes back. Shows; never changes.
 */
int payment_return(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	struct form f = {0};
	const char *oid = request_query(rq, "oid"), *bstatus = NULL;
	char status[16] = "", pstatus[16] = "";
	int64_t booking = 0;
	sqlite3_stmt *st;
	struct buf b;
	static const struct {
		const char *status, *fr, *ar;
	} words[] = {
	    {"confirmed", "Votre réservation est confirmée.", "تم تأكيد حجزكم."},
	    {"held",
	     "Le paiement n'a pas abouti : votre réservation reste en attente jusqu'à la fin du "
	     "délai.",
	     "لم يتم الأداء: يبقى حجزكم معلقاً إلى نهاية المهلة."},
	    {"expired", "Le délai de cette réservation a expiré.", "انتهت مهلة هذا الحجز."},
	    {"cancelled", "Cette réservation est annulée.", "تم إلغاء هذا الحجز."}};

	if (!oid && rq->body.len && form_parse(rq->body.data, rq->body.len, &f) == 0)
		oid = form_get(&f, "oid");
	if (db && oid &&
	    (st = db_stmt(db, "SELECT b.id, b.status, p.status FROM payments p JOIN bookings b ON "
	                      "b.id = p.booking"
	                      " WHERE p.oid = ?"))) {
		db_bind_text(st, 1, oid, -1, SQLITE_STATIC);
		if (db_step(st) == SQLITE_ROW) {
			booking = sqlite3_column_int64(st, 0);
			snprintf(status, sizeof(status), "%s",
			         (const char *)sqlite3_column_text(st, 1));
			snprintf(pstatus, sizeof(pstatus), "%s",
			         (const char *)sqlite3_column_text(st, 2));
		}
		db_done(st);
	}
	buf_init(&b, 16 * 1024);
	buf_printf(
	    &b,
	    "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	    "<link rel=\"stylesheet\" href=\"/app.css\"><title>Estiva</title></head><body><main>");
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcmp(words[i].status, status))
			bstatus = words[i].fr;
	if (!booking) {
		buf_printf(&b, "<p id=\"state\" data-status=\"unknown\">Paiement inconnu. — أداء "
		               "غير معروف.</p>");
	} else {
		buf_printf(
		    &b,
		    "<p id=\"state\" data-status=\"%s\" data-payment=\"%s\" data-booking=\"%lld\">",
		    status, pstatus, (long long)booking);
		for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (!strcmp(words[i].status, status))
				buf_printf(&b, "%s</p><p lang=\"ar\" dir=\"rtl\">%s", words[i].fr,
				           words[i].ar);
		if (!bstatus)
			buf_printf(&b, "%s", status);
		buf_printf(&b, "</p>");
	}
	buf_printf(&b, "<p><a href=\"/\">Retour — رجوع</a></p></main></body></html>");
	reply_text(rp, 200, "text/html; charset=utf-8", buf_cstr(&b));
	buf_free(&b);
	form_free(&f);
	return 0;
}

/* ---- cancellation and refunds ---- */

static int days_before_arrival(int32_t arrival)
{
	return arrival - date_today_local();
}

int payment_cancel_quote(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	sqlite3_stmt *st;
	char status[16] = "", arr[DATE_STRLEN] = "", centre[ID_MAX + 1] = "";
	int64_t booking = rq->id, member = 0, paid = 0, refund;
	int32_t a = 0;
	int days, percent;
	json_t *policy;

	if (!db)
		return reply_error(rp, 404, "not_found", "no such booking");
	if (!(st = db_stmt(db, "SELECT status, arrival, member, centre, (SELECT "
	                       "COALESCE(SUM(amount), 0) FROM payments"
	                       " WHERE booking = bookings.id AND status IN ('approved', "
	                       "'captured')) FROM bookings WHERE id = ?")))
		return reply_error(rp, 500, "internal", "database error");
	db_bind_int64(st, 1, booking);
	if (db_step(st) == SQLITE_ROW) {
		snprintf(status, sizeof(status), "%s", (const char *)sqlite3_column_text(st, 0));
		snprintf(arr, sizeof(arr), "%s", (const char *)sqlite3_column_text(st, 1));
		member = sqlite3_column_int64(st, 2);
		snprintf(centre, sizeof(centre), "%s", (const char *)sqlite3_column_text(st, 3));
		paid = sqlite3_column_int64(st, 4);
	}
	db_done(st);
	if (!status[0] || !auth_may_see(&rq->who, member, catalog_centre(&app->cat, centre)))
		return reply_error(rp, 404, "not_found", "no such booking");
	date_parse(arr, &a);
	days = days_before_arrival(a);
	percent = payment_refund_percent(&app->cfg, days);
	refund = paid * percent / 100;
	policy = json_array();
	for (int i = 0; i < app->cfg.nrefund_tiers; i++)
		json_array_append_new(policy, json_pack("{s:i,s:i}", "days_before",
		                                        app->cfg.refund_tiers[i].days, "percent",
		                                        app->cfg.refund_tiers[i].percent));
	return reply_json(rp, 200,
	                  json_pack("{s:I,s:s,s:b,s:i,s:i,s:{s:I,s:s},s:{s:I,s:s},s:o}", "booking",
	                            (json_int_t)booking, "status", status, "cancellable",
	                            !strcmp(status, "held") || !strcmp(status, "confirmed"),
	                            "days_before_arrival", days, "percent", percent, "paid",
	                            "centimes", (json_int_t)paid, "currency", "MAD", "refund",
	                            "centimes", (json_int_t)refund, "currency", "MAD", "policy",
	                            policy));
}

int64_t payment_refund_on_cancel(struct app *app, sqlite3 *db, int64_t booking, int32_t arrival,
                                 const char *actor)
{
	sqlite3_stmt *st;
	int64_t pid = 0, paid = 0, amount, rid = 0, now = instant_now();
	int percent = payment_refund_percent(&app->cfg, days_before_arrival(arrival));
	char after[96];

	if (!(st = db_stmt(db, "SELECT id, amount FROM payments WHERE booking = ? AND status IN "
	                       "('approved', 'captured')"
	                       " ORDER BY id DESC LIMIT 1")))
		return -1;
	db_bind_int64(st, 1, booking);
	if (db_step(st) == SQLITE_ROW) {
		pid = sqlite3_column_int64(st, 0);
		paid = sqlite3_column_int64(st, 1);
	}
	db_done(st);
	amount = paid * percent / 100;
	if (!pid || amount <= 0)
		return 0;
	if (!(st = db_stmt(db, "INSERT INTO refunds(booking, payment, amount, percent, status, "
	                       "created_at, updated_at)"
	                       " VALUES (?, ?, ?, ?, 'requested', ?, ?) RETURNING id")))
		return -1;
	db_bind_int64(st, 1, booking);
	db_bind_int64(st, 2, pid);
	db_bind_int64(st, 3, amount);
	db_bind_int(st, 4, percent);
	db_bind_int64(st, 5, now);
	db_bind_int64(st, 6, now);
	if (db_step(st) == SQLITE_ROW)
		rid = sqlite3_column_int64(st, 0);
	db_done(st);
	if (!rid)
		return -1;
	snprintf(after, sizeof(after), "{\"refund\":%lld,\"percent\":%d}", (long long)amount,
	         percent);
	if (db_audit(db, actor, "refund.request", "booking", booking, NULL, after) < 0)
		return -1;
	return rid;
}

/* ---- one process at a time per payment ---- */

/* Talking to the gateway about a payment takes a lease on its row, so that the server's worker, a
 * member's cancellation and `estiva-admin reconcile` never act on one order at once (two refunds
 * read the same "refunded so far" and both send a Credit). 1 when taken, 0 when another holds it,
 * -1 on a database error. A lease left by a crash ends by itself; what it was doing is asked again,
 * never repeated blindly. */
static int lease_take(struct app *app, sqlite3 *db, int64_t id)
{
	int64_t now = instant_now();
	int64_t span = (int64_t)app->cfg.pay_api_timeout * (2 * app->cfg.pay_api_retries + 2) + 30;
	sqlite3_stmt *st;
	int rc;

	if (db_begin(app, db) < 0)
		return -1;
	if (!(st = db_stmt(
	          db, "UPDATE payments SET lease_until = ? WHERE id = ? AND lease_until <= ?"))) {
		db_rollback(app, db);
		return -1;
	}
	db_bind_int64(st, 1, now + span);
	db_bind_int64(st, 2, id);
	db_bind_int64(st, 3, now);
	rc = db_step(st);
	db_done(st);
	if (rc != SQLITE_DONE) {
		db_rollback(app, db);
		return -1;
	}
	rc = sqlite3_changes(db);
	if (db_commit(app, db) < 0)
		return -1;
	return rc == 1;
}

static void lease_drop(struct app *app, sqlite3 *db, int64_t id)
{
	sqlite3_stmt *st;

	if (db_begin(app, db) < 0)
		return;
	if (!(st = db_stmt(db, "UPDATE payments SET lease_until = 0 WHERE id = ?"))) {
		db_rollback(app, db);
		return;
	}
	db_bind_int64(st, 1, id);
	db_step(st);
	db_done(st);
	db_commit(app, db);
}

/* ---- recording what the gateway holds ---- */

static int exec_id(sqlite3 *db, const char *sql, int64_t id)
{
	sqlite3_stmt *st;
	int rc;

	if (!(st = db_stmt(db, sql))) /* sql: a literal */
		return -1;
	db_bind_int64(st, 1, id);
	rc = db_step(st);
	db_done(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Inside a transaction: the payment's state, what the gateway says it refunded of it (-1:
 * unchanged), the count of questions without an answer back to 0. A void makes the refunds still
 * asked for needless. */
static int record_locked(sqlite3 *db, int64_t id, const char *status, int64_t refunded,
                         const char *what, const char *oid)
{
	sqlite3_stmt *st;
	int rc;

	if (!(st = db_stmt(db, "UPDATE payments SET status = ?, refunded = CASE WHEN ? < 0 THEN "
	                       "refunded ELSE ? END,"
	                       " unanswered = 0, updated_at = ? WHERE id = ?")))
		return -1;
	db_bind_text(st, 1, status, -1, SQLITE_STATIC);
	db_bind_int64(st, 2, refunded);
	db_bind_int64(st, 3, refunded);
	db_bind_int64(st, 4, instant_now());
	db_bind_int64(st, 5, id);
	rc = db_step(st);
	db_done(st);
	if (rc != SQLITE_DONE)
		return -1;
	if (!strcmp(status, "voided") &&
	    exec_id(db,
	            "UPDATE refunds SET status = 'superseded', last_error = 'the authorisation was "
	            "voided: nothing was taken',"
	            " updated_at = unixepoch() WHERE payment = ? AND status = 'requested'",
	            id) < 0)
		return -1;
	return what ? db_audit(db, "reconcile", what, "payment", id, NULL, oid) : 0;
}

static void record(struct app *app, sqlite3 *db, int64_t id, const char *status, int64_t refunded,
                   const char *what, const char *oid)
{
	if (db_begin(app, db) < 0)
		return;
	if (record_locked(db, id, status, refunded, what, oid) < 0) {
		log_err("payment %s: %s", oid, sqlite3_errmsg(db));
		db_rollback(app, db);
		return;
	}
	db_commit(app, db);
}

/* The gateway does not know an order we hold as approved (or it answers nonsense about it): after
 * unknown_after rounds it is an alert for an administrator, not a question asked for ever. */
static void unanswered(struct app *app, sqlite3 *db, int64_t id, const char *oid,
                       const char *gateway_says)
{
	sqlite3_stmt *st;
	int n = 0;

	if (db_begin(app, db) < 0)
		return;
	if (!(st = db_stmt(
	          db, "UPDATE payments SET unanswered = unanswered + 1, updated_at = ? WHERE id = ?"
	              " RETURNING unanswered")))
		goto fail;
	db_bind_int64(st, 1, instant_now());
	db_bind_int64(st, 2, id);
	if (db_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	db_done(st);
	if (n >= app->cfg.pay_unknown_after) {
		if (record_locked(db, id, "unknown", -1, "payment.unknown_at_gateway", oid) < 0)
			goto fail;
		log_err("ALERT payment %s: the gateway says %s after %d rounds; marked unknown: "
		        "see docs/payments.md",
		        oid, gateway_says, n);
	}
	db_commit(app, db);
	return;
fail:
	db_rollback(app, db);
}

/* ---- refunds ---- */

static void refund_set(struct app *app, sqlite3 *db, int64_t refund, int64_t booking,
                       const char *status, const char *error)
{
	sqlite3_stmt *st;

	if (db_begin(app, db) < 0)
		return;
	if (!(st = db_stmt(
	          db,
	          "UPDATE refunds SET status = ?, tries = tries + 1, last_error = ?, updated_at = ?"
	          " WHERE id = ? AND status = 'requested'"))) {
		db_rollback(app, db);
		return;
	}
	db_bind_text(st, 1, status, -1, SQLITE_STATIC);
	if (error)
		db_bind_text(st, 2, error, -1, SQLITE_STATIC);
	else
		db_bind_null(st, 2);
	db_bind_int64(st, 3, instant_now());
	db_bind_int64(st, 4, refund);
	db_step(st);
	db_done(st);
	db_audit(db, "gateway", !strcmp(status, "requested") ? "refund.error" : "refund.failed",
	         "booking", booking, NULL, error);
	db_commit(app, db);
}

/* A refund is idempotent by construction: the gateway is asked what it refunded of the order before
 * a Credit is sent, and the Credit goes only when the refunds we know of are all it has done. */
void payment_refund_send(struct app *app, sqlite3 *db, int64_t refund)
{
	sqlite3_stmt *st;
	char oid[72] = "", status[16] = "", why[200];
	int64_t amount = 0, booking = 0, pid = 0, before = 0;
	int tries = 0;
	struct cmi_result r;

	if (!app->cred)
		return;
	if (!(st = db_stmt(db,
	                   "SELECT p.oid, r.amount, r.status, r.tries, r.booking, p.id,"
	                   " (SELECT COALESCE(SUM(amount), 0) FROM refunds o WHERE o.payment = "
	                   "p.id AND o.status = 'succeeded')"
	                   " FROM refunds r JOIN payments p ON p.id = r.payment WHERE r.id = ?")))
		return;
	db_bind_int64(st, 1, refund);
	if (db_step(st) == SQLITE_ROW) {
		snprintf(oid, sizeof(oid), "%s", (const char *)sqlite3_column_text(st, 0));
		amount = sqlite3_column_int64(st, 1);
		snprintf(status, sizeof(status), "%s", (const char *)sqlite3_column_text(st, 2));
		tries = sqlite3_column_int(st, 3);
		booking = sqlite3_column_int64(st, 4);
		pid = sqlite3_column_int64(st, 5);
		before = sqlite3_column_int64(st, 6);
	}
	db_done(st);
	if (strcmp(status, "requested") || lease_take(app, db, pid) != 1)
		return; /* done, or another process is talking to the gateway about this order */
	/* the network calls happen outside any transaction */
	if (gateway_ask(app, oid, &r) < 0) {
		snprintf(why, sizeof(why), "%s", r.err_msg);
		goto retry;
	}
	if (held(&r)) /* never captured (our capture was lost): release the authorisation instead */
		gateway_do(app, "Void", oid, 0, &r);
	if (is_state(&r, "V", NULL)) {
		record(app, db, pid, "voided", -1, "payment.voided", oid);
		log_info("refund %lld of booking %lld: the authorisation was voided instead",
		         (long long)refund, (long long)booking);
		goto out;
	}
	if (!taken(&r)) {
		snprintf(why, sizeof(why), "the gateway holds the order as %s, not captured",
		         r.trans_stat);
		goto retry;
	}
	if (r.refunded == before) /* nothing of this refund done yet: send it, once */
		if (gateway_do(app, "Credit", oid, amount, &r) < 0 || !taken(&r)) {
			snprintf(why, sizeof(why),
			         "Credit sent, then the gateway could not be asked what it did");
			goto retry;
		}
	if (r.refunded < before + amount) {
		snprintf(why, sizeof(why),
		         "the gateway has refunded %lld centimes of the order; we expect %lld",
		         (long long)r.refunded, (long long)(before + amount));
		if (r.refunded == before)
			goto retry; /* the Credit was refused or lost before it acted: asked again
			               next round */
		/* some other amount was given back: a person must look (payments-report shows it)
		 */
		refund_set(app, db, refund, booking, "failed", why);
		log_err("ALERT refund %lld of booking %lld: %s", (long long)refund,
		        (long long)booking, why);
		goto out;
	}
	if (db_begin(app, db) < 0)
		goto out;
	if (!(st = db_stmt(db, "UPDATE refunds SET status = 'succeeded', tries = tries + 1, "
	                       "last_error = NULL, updated_at = ?"
	                       " WHERE id = ? AND status = 'requested'"))) {
		db_rollback(app, db);
		goto out;
	}
	db_bind_int64(st, 1, instant_now());
	db_bind_int64(st, 2, refund);
	/* the refund's receipt in the transaction that records it done */
	if (db_step(st) != SQLITE_DONE ||
	    (sqlite3_changes(db) == 1 && receipts_refund(db, refund) < 0) ||
	    record_locked(db, pid, taken_status(&r), r.refunded, NULL, oid) < 0 ||
	    db_audit(db, "gateway", "refund.succeeded", "booking", booking, NULL, oid) < 0) {
		db_done(st);
		db_rollback(app, db);
		goto out;
	}
	db_done(st);
	db_commit(app, db);
	if (r.refunded > before + amount)
		log_err("ALERT payment %s: the gateway has refunded %lld centimes, more than the "
		        "%lld we asked for",
		        oid, (long long)r.refunded, (long long)(before + amount));
	log_info("refund %lld of booking %lld: %lld centimes credited", (long long)refund,
	         (long long)booking, (long long)amount);
	goto out;
retry:
	refund_set(app, db, refund, booking,
	           tries + 1 >= app->cfg.pay_api_retries * 3 ? "failed" : "requested", why);
	log_warn("refund %lld of booking %lld not done yet: %s", (long long)refund,
	         (long long)booking, why);
out:
	lease_drop(app, db, pid);
}

/* ---- reconciliation ---- */

/* A payment the gateway says is authorised (or captured) without our having heard: confirm and
 * capture, or void. */
static void settle_authorised(struct app *app, sqlite3 *db, int64_t id, int64_t booking,
                              const char *oid, struct cmi_result *r)
{
	int c;

	durable(app, db, 1);
	if (db_begin(app, db) < 0) {
		durable(app, db, 0);
		return;
	}
	c = confirm_locked(app, db, booking, id, "reconcile");
	if (c < 0 || record_locked(db, id, c ? "approved" : "voiding", -1,
	                           c ? "payment.reconcile.confirm" : "payment.reconcile.too_late",
	                           oid) < 0) {
		db_rollback(app, db);
		durable(app, db, 0);
		return;
	}
	db_commit(app, db);
	durable(app, db, 0);
	if (!c)
		gateway_do(app, "Void", oid, 0, r);
	else if (held(r))
		gateway_do(app, "PostAuth", oid, 0, r);
	if (!c && is_state(r, "V", NULL))
		record(app, db, id, "voided", -1, "payment.voided", oid);
	else if (c && taken(r))
		record(app, db, id, taken_status(r), r->refunded, "payment.reconcile.captured",
		       oid);
}

struct open_payment {
	int64_t id, booking, updated, created;
	char oid[72], status[16], booking_status[16];
};

/* A capture we did not want (the booking could not be honoured) that can no longer be voided: the
 * payment is recorded as captured and a refund of what is left of it is asked for, in one
 * transaction. */
static void refund_all(struct app *app, sqlite3 *db, const struct open_payment *o,
                       const struct cmi_result *r)
{
	int64_t left = r->capture_amount - r->refunded, now = instant_now();
	sqlite3_stmt *st;

	if (db_begin(app, db) < 0)
		return;
	if (record_locked(db, o->id, taken_status(r), r->refunded,
	                  "payment.reconcile.captured_unwanted", o->oid) < 0)
		goto fail;
	if (left > 0) {
		if (!(st = db_stmt(db, "INSERT INTO refunds(booking, payment, amount, percent, "
		                       "status, created_at, updated_at)"
		                       " SELECT ?, ?, ?, 100, 'requested', ?, ? WHERE NOT EXISTS "
		                       "(SELECT 1 FROM refunds WHERE"
		                       " payment = ? AND status = 'requested')")))
			goto fail;
		db_bind_int64(st, 1, o->booking);
		db_bind_int64(st, 2, o->id);
		db_bind_int64(st, 3, left);
		db_bind_int64(st, 4, now);
		db_bind_int64(st, 5, now);
		db_bind_int64(st, 6, o->id);
		if (db_step(st) != SQLITE_DONE) {
			db_done(st);
			goto fail;
		}
		db_done(st);
	}
	db_commit(app, db);
	log_warn("payment %s: captured although the booking could not be honoured; %lld centimes "
	         "to refund",
	         o->oid, (long long)left);
	return;
fail:
	log_err("payment %s: %s", o->oid, sqlite3_errmsg(db));
	db_rollback(app, db);
}

/* One open payment: ask the gateway, then act on what it holds. 1 when the payment changed state.
 */
static int settle_one(struct app *app, sqlite3 *db, const struct open_payment *o)
{
	struct cmi_result r;
	int64_t now = instant_now();
	int keep;

	if (gateway_ask(app, o->oid, &r) < 0)
		return 0; /* unreachable: next round */
	if (!strcmp(o->status, "pending")) {
		if (held(&r) || taken(&r)) {
			settle_authorised(app, db, o->id, o->booking, o->oid, &r);
		} else if (is_state(&r, "V", NULL)) {
			record(app, db, o->id, "voided", -1, "payment.voided", o->oid);
		} else if (is_state(&r, "D", NULL)) {
			record(app, db, o->id, "declined", -1, "payment.reconcile.declined",
			       o->oid);
		} else if (now - o->created > app->cfg.pay_session + app->cfg.pay_margin) {
			/* the member never paid: the gateway has no transaction */
			record(app, db, o->id, "abandoned", -1, "payment.reconcile.abandoned",
			       o->oid);
		} else {
			return 0;
		}
		return 1;
	}
	/* approved or voiding: the gateway approved it once. Keep the money only for a confirmed
	 * booking. */
	keep = !strcmp(o->status, "approved") && !strcmp(o->booking_status, "confirmed");
	if (held(&r))
		gateway_do(app, keep ? "PostAuth" : "Void", o->oid, 0, &r);
	else if (!strcmp(o->status, "voiding") && is_state(&r, "C", NULL) && r.refunded == 0)
		gateway_do(app, "Void", o->oid, 0,
		           &r); /* captured against our wish: void it while that is allowed */
	if (is_state(&r, "V", NULL)) {
		record(app, db, o->id, "voided", -1, "payment.voided", o->oid);
	} else if (taken(&r) && !strcmp(o->status, "voiding")) {
		/* captured although we never wanted this money, too late to void: all of it goes
		 * back */
		refund_all(app, db, o, &r);
	} else if (taken(&r)) {
		/* captured: a cancelled booking's refund goes through the refunds table, as with
		 * any cancellation */
		record(app, db, o->id, taken_status(&r), r.refunded, "payment.reconcile.captured",
		       o->oid);
	} else if (held(&r)) {
		return 0; /* the operation did not take: next round */
	} else {
		unanswered(app, db, o->id, o->oid, r.trans_stat[0] ? r.trans_stat : "nothing");
		return 0;
	}
	return 1;
}

/* Every open payment and every refund still asked for, in pages by id: one old payment the gateway
 * cannot settle never hides the ones after it. Returns how many changed, or -1. */
int payment_reconcile(struct app *app, sqlite3 *db, int force)
{
	enum { PAGE = 128 };
	struct open_payment *page = NULL;
	int64_t now = instant_now(), last = 0, refunds[PAGE];
	int n, done = 0;
	sqlite3_stmt *st;

	if (!app->cred)
		return 0;
	page = calloc(PAGE, sizeof(*page));
	if (!page)
		return -1;
	do {
		n = 0;
		if (!(st = db_stmt(db, "SELECT p.id, p.booking, p.updated_at, p.created_at, p.oid, "
		                       "p.status, b.status"
		                       " FROM payments p JOIN bookings b ON b.id = p.booking"
		                       " WHERE p.status IN ('pending', 'approved', 'voiding') AND "
		                       "p.id > ? ORDER BY p.id LIMIT ?"))) {
			free(page);
			return -1;
		}
		db_bind_int64(st, 1, last);
		db_bind_int(st, 2, PAGE);
		while (db_step(st) == SQLITE_ROW) {
			struct open_payment *o = &page[n++];
			o->id = sqlite3_column_int64(st, 0);
			o->booking = sqlite3_column_int64(st, 1);
			o->updated = sqlite3_column_int64(st, 2);
			o->created = sqlite3_column_int64(st, 3);
			snprintf(o->oid, sizeof(o->oid), "%s",
			         (const char *)sqlite3_column_text(st, 4));
			snprintf(o->status, sizeof(o->status), "%s",
			         (const char *)sqlite3_column_text(st, 5));
			snprintf(o->booking_status, sizeof(o->booking_status), "%s",
			         (const char *)sqlite3_column_text(st, 6));
			last = o->id;
		}
		db_done(st);
		for (int i = 0; i < n; i++) {
			const struct open_payment *o = &page[i];
			/* voids go at once; the others wait for the gateway's own news first */
			if (strcmp(o->status, "voiding") && !force &&
			    now - o->updated < app->cfg.pay_reconcile_after)
				continue;
			if (lease_take(app, db, o->id) != 1)
				continue; /* another process is on it */
			done += settle_one(app, db, o);
			lease_drop(app, db, o->id);
		}
	} while (n == PAGE);
	free(page);
	last = 0;
	do {
		n = 0;
		if (!(st = db_stmt(db, "SELECT id FROM refunds WHERE status = 'requested' AND id > "
		                       "? ORDER BY id LIMIT ?")))
			return -1;
		db_bind_int64(st, 1, last);
		db_bind_int(st, 2, PAGE);
		while (db_step(st) == SQLITE_ROW)
			last = refunds[n++] = sqlite3_column_int64(st, 0);
		db_done(st);
		for (int i = 0; i < n; i++)
			payment_refund_send(app, db, refunds[i]);
		done += n;
	} while (n == PAGE);
	return done;
}

/* ---- the daily report ---- */

int payment_report(struct app *app, sqlite3 *db, int32_t day, FILE *out)
{
	sqlite3_stmt *st;
	int diffs = 0, total = 0;
	char d[DATE_STRLEN];
	struct tm tm = {0};
	int y;
	unsigned m, dd;
	time_t from, to;

	if (!app->cred) {
		fprintf(out, "payments are not configured\n");
		return 0;
	}
	date_to_civil(day, &y, &m, &dd);
	tm.tm_year = y - 1900;
	tm.tm_mon = (int)m - 1;
	tm.tm_mday = (int)dd;
	tm.tm_isdst = -1;
	from = mktime(&tm); /* local midnight of that day */
	tm.tm_mday++;
	tm.tm_isdst = -1;
	to = mktime(&tm);
	date_format(day, d);
	fprintf(out, "payments report for %s (local day)\n", d);
	if (!(st = db_stmt(db, "SELECT p.id, p.oid, p.status, p.amount, b.status,"
	                       " (SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE payment = "
	                       "p.id AND status = 'succeeded')"
	                       " FROM payments p JOIN bookings b ON b.id = p.booking"
	                       " WHERE p.updated_at >= ? AND p.updated_at < ? ORDER BY p.id")))
		return -1;
	db_bind_int64(st, 1, (int64_t)from);
	db_bind_int64(st, 2, (int64_t)to);
	while (db_step(st) == SQLITE_ROW) {
		const char *oid = (const char *)sqlite3_column_text(st, 1);
		const char *ours = (const char *)sqlite3_column_text(st, 2);
		const char *bstatus = (const char *)sqlite3_column_text(st, 4);
		int64_t amount = sqlite3_column_int64(st, 3),
		        refunded = sqlite3_column_int64(st, 5);
		struct cmi_result r;
		const char *why = NULL;
		char amt[24], ref[24];

		total++;
		if (gateway_ask(app, oid, &r) < 0) {
			fprintf(out, "  %s  ours=%s  gateway=UNREACHABLE (%s)\n", oid, ours,
			        r.err_msg);
			diffs++;
			continue;
		}
		/* the refunded states first: a refunded order is captured (R in full, C in part),
		 * not "not captured" */
		if ((!strcmp(ours, "refunded") && !is_state(&r, "R", NULL)) ||
		    (!strcmp(ours, "refunded_part") && !is_state(&r, "C", NULL)))
			why = "we hold it refunded; the gateway does not";
		else if (!strcmp(ours, "unknown"))
			why = "the gateway did not know this payment after several rounds (audit: "
			      "payment.unknown_at_gateway)";
		else if ((!strcmp(ours, "captured") || !strcmp(ours, "approved")) && !taken(&r))
			why = "we confirmed and asked for capture; the gateway did not capture";
		else if ((!strcmp(ours, "declined") || !strcmp(ours, "abandoned") ||
		          !strcmp(ours, "pending")) &&
		         (held(&r) || taken(&r)))
			why = "the gateway holds money we did not book";
		else if (!strcmp(ours, "voided") && !is_state(&r, "V", NULL))
			why = "we voided; the gateway did not";
		else if (r.refunded != refunded)
			why = "refunded amounts differ";
		else if (taken(&r) && strcmp(bstatus, "confirmed") && strcmp(bstatus, "cancelled"))
			why = "captured but the booking is not confirmed";
		cmi_amount(amount, amt);
		cmi_amount(r.refunded, ref);
		if (why) {
			diffs++;
			fprintf(out,
			        "  DIFF %s  amount=%s ours=%s booking=%s gateway=%s "
			        "refunded(gateway)=%s: %s\n",
			        oid, amt, ours, bstatus, r.trans_stat, ref, why);
		}
	}
	db_done(st);
	fprintf(out, "%d payment(s) checked, %d difference(s)\n", total, diffs);
	if ((st = db_stmt(db, "SELECT r.id, r.booking, r.amount, r.last_error FROM refunds r WHERE "
	                      "r.status = 'failed'"))) {
		while (db_step(st) == SQLITE_ROW) {
			diffs++;
			fprintf(out, "  FAILED REFUND %lld of booking %lld: %lld centimes (%s)\n",
			        (long long)sqlite3_column_int64(st, 0),
			        (long long)sqlite3_column_int64(st, 1),
			        (long long)sqlite3_column_int64(st, 2),
			        sqlite3_column_text(st, 3)
			            ? (const char *)sqlite3_column_text(st, 3)
			            : "?");
		}
		db_done(st);
	}
	return diffs ? 1 : 0;
}
