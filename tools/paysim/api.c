/* api.c: the gateway's server-to-server XML API (/fim/api: ORDERSTATUS QUERY, PostAuth, Void,
 * Credit) and the simulator's own test endpoints (/sim/orders, /sim/control). The answers follow
 * NestPay's CC5Response; docs/paysim.md defines the Extra fields and the order states. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "paysim.h"

/* ---- CC5Response ---- */

static void tag(struct sbuf *b, const char *indent, const char *name, const char *value)
{
	sb_printf(b, "%s<%s>", indent, name);
	xml_escape(b, value);
	sb_printf(b, "</%s>\n", name);
}

static void money_tag(struct sbuf *b, const char *name, int64_t c)
{
	char s[24];

	money_format(c, s);
	tag(b, "    ", name, s);
}

static void time_tag(struct sbuf *b, const char *name, int64_t t)
{
	char s[18] = "";

	if (t)
		gateway_time(t, s);
	tag(b, "    ", name, s);
}

static void head(struct sbuf *b, const char *oid, const char *response, const char *proc,
                 const char *err_msg, const char *trans_id, const char *auth_code,
                 const char *host_ref)
{
	sb_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CC5Response>\n");
	tag(b, "  ", "OrderId", oid);
	tag(b, "  ", "GroupId", oid);
	tag(b, "  ", "Response", response);
	tag(b, "  ", "AuthCode", auth_code);
	tag(b, "  ", "HostRefNum", host_ref);
	tag(b, "  ", "ProcReturnCode", proc);
	tag(b, "  ", "TransId", trans_id);
	tag(b, "  ", "ErrMsg", err_msg);
}

/* The order's state, in the Extra of every answer about an order. */
static void order_extra(struct sbuf *b, const struct order *o, const char *oid)
{
	char trxdate[18];

	gateway_time(time(NULL), trxdate);
	sb_puts(b, "  <Extra>\n");
	tag(b, "    ", "TRXDATE", trxdate);
	tag(b, "    ", "ORD_ID", oid);
	tag(b, "    ", "TRANS_STAT", o ? o->status : "N");
	if (o) {
		tag(b, "    ", "TRANS_ID", o->trans_id);
		tag(b, "    ", "AUTH_CODE", o->auth_code);
		tag(b, "    ", "PROC_RET_CD", o->proc_ret);
		tag(b, "    ", "TRANTYPE", o->trantype);
		tag(b, "    ", "CURRENCY", o->currency);
		money_tag(b, "ORIG_TRANS_AMT", o->amount_c);
		money_tag(b, "AUTH_AMT", o->auth_c);
		money_tag(b, "CAPTURE_AMT", o->capture_c);
		money_tag(b, "TOTAL_REFUNDED", o->refund_c);
		tag(b, "    ", "MASKED_PAN", o->masked_pan);
		time_tag(b, "AUTH_DTTM", o->auth_at);
		time_tag(b, "CAPTURE_DTTM", o->capture_at);
		time_tag(b, "VOID_DTTM", o->void_at);
		tag(b, "    ", "SETTLED", o->settled ? "1" : "0");
	}
	sb_puts(b, "  </Extra>\n");
}

static void send_xml(struct reply *rp, int status, struct sbuf *b)
{
	sb_puts(b, "</CC5Response>\n");
	reply_sbuf(rp, status, "text/xml; charset=utf-8", b);
}

/* A request the API refuses before looking at any order: Response Error, ProcReturnCode 99. */
static void api_error(struct request *rq, struct reply *rp, int status, const char *oid,
                      const char *msg)
{
	struct sbuf b;

	sb_init(&b, PAYSIM_BODY_MAX);
	head(&b, oid ? oid : "", "Error", "99", msg, "", "", "");
	send_xml(rp, status, &b);
	snprintf(rq->note, sizeof(rq->note), "Error: %.120s", msg);
}

static void query(struct request *rq, struct reply *rp, const char *oid)
{
	struct order o;
	struct sbuf b;
	char msg[128];
	int rc = store_order_get(oid, &o);

	if (rc < 0) {
		api_error(rq, rp, 500, oid, "the simulator's database failed");
		return;
	}
	sb_init(&b, PAYSIM_BODY_MAX);
	if (rc == 1 || !strcmp(o.status, "N")) {
		snprintf(msg, sizeof(msg), "No record found for %.64s", oid);
		head(&b, oid, "Declined", "99", msg, "", "", "");
		order_extra(&b, NULL, oid);
	} else if (!strcmp(o.status, "D")) {
		head(&b, oid, "Declined", o.proc_ret, "Record(s) found for 1 order(s)", o.trans_id,
		     "", "");
		order_extra(&b, &o, oid);
	} else {
		head(&b, oid, "Approved", "00", "Record(s) found for 1 order(s)", o.trans_id,
		     o.auth_code, o.host_ref);
		order_extra(&b, &o, oid);
	}
	send_xml(rp, 200, &b);
	snprintf(rq->note, sizeof(rq->note), "oid=%s ORDERSTATUS -> %s", oid,
	         rc == 1 ? "N" : o.status);
}

static void operation(struct request *rq, struct reply *rp, const char *oid, enum api_op op,
                      int64_t total_c)
{
	struct order o;
	struct txn t;
	struct sbuf b;
	int rc = store_api_op(op, oid, total_c, &t, &o);

	if (rc < 0) {
		api_error(rq, rp, 500, oid, "the simulator's database failed");
		return;
	}
	if (settings_take_lost_answer()) {
		/* done, but the answer never reaches the merchant: what a proxy's 502 looks like */
		reply_text(rp, 502, "text/html; charset=utf-8",
		           "<html><body><h1>502 Bad Gateway</h1></body></html>\n");
		snprintf(rq->note, sizeof(rq->note), "oid=%s %s -> %s, answer lost (simulated)",
		         oid, t.type, t.response);
		return;
	}
	sb_init(&b, PAYSIM_BODY_MAX);
	head(&b, oid, t.response, t.proc_ret, t.err_msg, t.trans_id, t.auth_code, t.host_ref);
	order_extra(&b, o.oid[0] ? &o : NULL, oid);
	send_xml(rp, 200, &b);
	snprintf(rq->note, sizeof(rq->note), "oid=%s %s -> %s %s", oid, t.type, t.response,
	         t.err_msg);
}

void api_handle(struct request *rq, struct reply *rp)
{
	struct fields top, extra, form;
	struct settings s;
	const char *xml = sb_str(&rq->body), *v, *oid;
	size_t len = rq->body.len;
	char err[256];
	int64_t total_c = -1;
	int auth_ok;

	settings_get(&s);
	if (s.api_down) {
		reply_text(rp, 503, "text/plain; charset=utf-8",
		           "Service Unavailable (simulated: --api down)\n");
		snprintf(rq->note, sizeof(rq->note), "api down");
		return;
	}
	fields_init(&form);
	/* NestPay also accepts the XML as the DATA field of a form */
	if (request_is_form(rq)) {
		if (form_parse(xml, len, &form, err, sizeof(err)) < 0 ||
		    !fields_get(&form, "DATA")) {
			fields_free(&form);
			api_error(rq, rp, 400, NULL,
			          "a form body must carry the XML in its DATA field");
			return;
		}
		xml = fields_get(&form, "DATA");
		len = strlen(xml);
	}
	if (cc5_parse(xml, len, &top, &extra, err, sizeof(err)) < 0) {
		fields_free(&form);
		api_error(rq, rp, 400, NULL, err);
		return;
	}
	fields_free(&form);
	oid = fields_get(&top, "OrderId");
	/* both comparisons always run: no timing hint on which one failed */
	auth_ok = secret_equal(fields_get(&top, "Name") ? fields_get(&top, "Name") : "",
	                       paysim.cfg.api_user);
	auth_ok |= secret_equal(fields_get(&top, "Password") ? fields_get(&top, "Password") : "",
	                        paysim.api_password);
	auth_ok = auth_ok == 0;
	if (!auth_ok || !fields_get(&top, "Name") || !fields_get(&top, "Password")) {
		api_error(rq, rp, 200, oid, "Authentication failed: wrong Name or Password");
		goto out;
	}
	if (!(v = fields_get(&top, "ClientId")) || strcmp(v, paysim.cfg.client_id)) {
		api_error(rq, rp, 200, oid, "Invalid ClientId");
		goto out;
	}
	if (!oid || !oid[0] || strlen(oid) > PAYSIM_OID_MAX) {
		api_error(rq, rp, 200, oid, "OrderId is missing or longer than 64 characters");
		goto out;
	}
	/* empty elements count as absent: some clients always write <Total/> */
	if ((v = fields_get(&top, "Currency")) && v[0] && strcmp(v, "504")) {
		api_error(rq, rp, 200, oid, "Currency must be 504");
		goto out;
	}
	if ((v = fields_get(&top, "Total")) && v[0] &&
	    (money_parse(v, 0, &total_c) < 0 || total_c <= 0)) {
		api_error(rq, rp, 200, oid, "Total must be a positive amount such as 125.50");
		goto out;
	}
	v = fields_get(&extra, "ORDERSTATUS");
	if (v) {
		if (strcmp(v, "QUERY"))
			api_error(rq, rp, 200, oid,
			          "only <ORDERSTATUS>QUERY</ORDERSTATUS> is supported");
		else
			query(rq, rp, oid);
		goto out;
	}
	v = fields_get(&top, "Type");
	if (v && !strcmp(v, "PostAuth"))
		operation(rq, rp, oid, OP_POSTAUTH, total_c);
	else if (v && !strcmp(v, "Void"))
		operation(rq, rp, oid, OP_VOID, -1);
	else if (v && !strcmp(v, "Credit"))
		operation(rq, rp, oid, OP_CREDIT, total_c);
	else
		api_error(rq, rp, 200, oid,
		          "Type must be PostAuth, Void or Credit, or Extra must hold ORDERSTATUS");
out:
	fields_free(&top);
	fields_free(&extra);
}

/* ---- /sim/orders ---- */

void sim_orders(struct request *rq, struct reply *rp)
{
	char *json = store_orders_json(request_query(rq, "oid"));

	if (!json) {
		reply_text(rp, 500, "application/json",
		           "{\"error\":\"the simulator's database failed\"}\n");
		return;
	}
	reply_take(rp, 200, "application/json", json, strlen(json));
}

/* ---- /sim/control ---- */

static void settings_reply(struct reply *rp, int status, const struct settings *s, int settled,
                           const char *error)
{
	char cb[32];
	json_t *j;
	char *text;

	settings_callback_name(s, cb, sizeof(cb));
	j = json_pack("{s:s,s:i,s:i,s:i,s:s,s:i,s:s}", "callback", cb, "callback_retries",
	              s->cb_retries, "callback_backoff_ms", s->cb_backoff_ms, "callback_timeout",
	              s->cb_timeout, "api", s->api_down ? "down" : "up", "lose_answers",
	              s->lose_answers, "postauth", s->ignore_postauth ? "ignore" : "normal");
	if (j && settled >= 0)
		json_object_set_new(j, "settled", json_integer(settled));
	if (j && error)
		json_object_set_new(j, "error", json_string(error));
	text = j ? json_dumps(j, JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	if (!text) {
		reply_text(rp, 500, "application/json", "{\"error\":\"out of memory\"}\n");
		return;
	}
	reply_take(rp, status, "application/json", text, strlen(text));
}

/* One setting; 0 when applied to s (or to *settle), else -1 with why. */
static int control_one(const char *name, const char *value, struct settings *s, int *settle,
                       char *why, size_t whylen)
{
	int n;

	if (!strcmp(name, "callback")) {
		if (settings_parse_callback(value, s) == 0)
			return 0;
		snprintf(why, whylen,
		         "callback must be normal, drop, twice or delay=SECONDS (0-3600)");
	} else if (!strcmp(name, "callback_retries")) {
		if (parse_int(value, 0, 100, &s->cb_retries) == 0)
			return 0;
		snprintf(why, whylen, "callback_retries must be 0 to 100");
	} else if (!strcmp(name, "callback_backoff_ms")) {
		if (parse_int(value, 0, PAYSIM_BACKOFF_CAP_MS, &s->cb_backoff_ms) == 0)
			return 0;
		snprintf(why, whylen, "callback_backoff_ms must be 0 to %d", PAYSIM_BACKOFF_CAP_MS);
	} else if (!strcmp(name, "callback_timeout")) {
		if (parse_int(value, 1, 600, &s->cb_timeout) == 0)
			return 0;
		snprintf(why, whylen, "callback_timeout must be 1 to 600 seconds");
	} else if (!strcmp(name, "api")) {
		if (!strcmp(value, "up") || !strcmp(value, "down")) {
			s->api_down = !strcmp(value, "down");
			return 0;
		}
		snprintf(why, whylen, "api must be up or down");
	} else if (!strcmp(name, "lose_answers")) {
		if (parse_int(value, 0, 100, &s->lose_answers) == 0)
			return 0;
		snprintf(why, whylen, "lose_answers must be 0 to 100");
	} else if (!strcmp(name, "postauth")) {
		if (!strcmp(value, "normal") || !strcmp(value, "ignore")) {
			s->ignore_postauth = !strcmp(value, "ignore");
			return 0;
		}
		snprintf(why, whylen, "postauth must be normal or ignore");
	} else if (!strcmp(name, "settle")) {
		if (parse_int(value, 0, 1, &n) == 0 || !strcmp(value, "true") ||
		    !strcmp(value, "false")) {
			*settle = !strcmp(value, "true") || !strcmp(value, "1");
			return 0;
		}
		snprintf(why, whylen, "settle must be 1 or true");
	} else {
		snprintf(why, whylen, "unknown setting %.64s", name);
	}
	return -1;
}

void sim_control(struct request *rq, struct reply *rp)
{
	struct settings s;
	struct fields f;
	char why[160] = "";
	int settle = 0, settled = -1, failed = 0;

	settings_get(&s);
	if (!strcmp(rq->method, "GET") || !strcmp(rq->method, "HEAD")) {
		settings_reply(rp, 200, &s, -1, NULL);
		return;
	}
	fields_init(&f);
	if (request_is_form(rq)) {
		if (form_parse(sb_str(&rq->body), rq->body.len, &f, why, sizeof(why)) < 0)
			failed = 1;
	} else {
		json_error_t jerr;
		json_t *j = json_loadb(sb_str(&rq->body), rq->body.len, JSON_REJECT_DUPLICATES,
		                       &jerr),
		       *val;
		const char *key;

		if (!json_is_object(j)) {
			snprintf(why, sizeof(why), "the body must be a form or a JSON object");
			failed = 1;
		}
		json_object_foreach(j, key, val)
		{
			char text[64];

			if (failed)
				break;
			if (json_is_string(val))
				snprintf(text, sizeof(text), "%s", json_string_value(val));
			else if (json_is_integer(val))
				snprintf(text, sizeof(text), "%lld",
				         (long long)json_integer_value(val));
			else if (json_is_boolean(val))
				snprintf(text, sizeof(text), "%s",
				         json_is_true(val) ? "true" : "false");
			else
				snprintf(text, sizeof(text), "?");
			if (fields_add(&f, key, text) < 0)
				failed = 1;
		}
		json_decref(j);
	}
	for (size_t k = 0; !failed && k < f.n; k++)
		if (control_one(f.v[k].name, f.v[k].value, &s, &settle, why, sizeof(why)) < 0)
			failed = 1;
	fields_free(&f);
	if (failed) {
		settings_get(&s);
		settings_reply(rp, 400, &s, -1, why);
		snprintf(rq->note, sizeof(rq->note), "refused: %.120s", why);
		return;
	}
	settings_put(&s);
	if (settle)
		settled = store_settle_all();
	callback_kick();
	{
		char cb[32];

		settings_callback_name(&s, cb, sizeof(cb));
		snprintf(rq->note, sizeof(rq->note), "callback=%s retries=%d api=%s%s", cb,
		         s.cb_retries, s.api_down ? "down" : "up", settle ? " settled" : "");
	}
	settings_reply(rp, 200, &s, settled, NULL);
}
