/* Payments end to end against the real card gateway simulator (estiva-paysim): pay and confirm,
 * decline then pay, callback replayed, forged callbacks, a late approval voided, a dropped callback
 * reconciled, each refund tier, the gateway API down. argv[3] is estiva-paysim. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "paysim_run.h"

#define CLIENT_ID "600000777"
#define STORE_KEY "Store|key\\7"
#define APPROVE "4000000000000010"
#define DECLINE "4111111111111111"

static char sim_dir[256], sim_url[128], cred_path[320], extra_conf[2048];

/* ---- the simulator ---- */

static int start_sim(const char *bin)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(sim_dir, sizeof(sim_dir), "%s/estiva-paytest-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(sim_dir))
		return -1;
	return paysim_start(bin, sim_dir, CLIENT_ID, STORE_KEY, sim_url, sizeof(sim_url), cred_path,
	                    sizeof(cred_path));
}

#define stop_sim paysim_stop

/* ---- raw HTTP to the simulator ---- */

static json_t *sim_get(const char *path)
{
	char url[512], *out;
	json_t *j;

	snprintf(url, sizeof(url), "%s%s", sim_url, path);
	raw_get(url, &out);
	j = json_loads(out, 0, NULL);
	free(out);
	return j;
}

static void sim_control(const char *form)
{
	char url[256], *out;

	snprintf(url, sizeof(url), "%s/sim/control", sim_url);
	assert_int_equal(raw_post(url, "application/x-www-form-urlencoded", form, &out), 200);
	free(out);
}

/* The order's TRANS_STAT-like status letter at the simulator ("" when unknown). */
static void sim_status(const char *oid, char *out, size_t n)
{
	char path[160];
	json_t *j;

	snprintf(path, sizeof(path), "/sim/orders?oid=%s", oid);
	j = sim_get(path);
	snprintf(out, n, "%s", j && jstr(j, "orders.0.status") ? jstr(j, "orders.0.status") : "");
	json_decref(j);
}

/* ---- the member's side ---- */

static long long hold(struct hc *c, const char *type, int arrival, int nights)
{
	struct hres r;
	long long id;

	hc_book(c, "test-a", type, arrival, arrival + nights, HX_GUESTS_SELF, &r);
	EXPECT(r, 201, NULL);
	id = jint(r.json, "id");
	hres_free(&r);
	return id;
}

static const char *booking_status(struct hc *c, long long id, char *buf, size_t n)
{
	struct hres r;
	char path[64];

	snprintf(path, sizeof(path), "/api/v1/bookings/%lld", id);
	hc_do(c, "GET", path, NULL, NULL, &r);
	snprintf(buf, n, "%s", jstr(r.json, "status") ? jstr(r.json, "status") : "?");
	hres_free(&r);
	return buf;
}

/* Starts a payment, goes through the gateway's card page with `card`; the oid into oid. Returns the
 * gateway's final page (the browser's return form). */
static char *pay(struct hc *c, long long booking, const char *card, char *oid, size_t oidlen)
{
	struct hres r;
	char path[96], *form, *page, *tok, *out, data[1024], url[256];
	long st;

	snprintf(path, sizeof(path), "/api/v1/bookings/%lld/payment", booking);
	hc_do(c, "POST", path, "{\"lang\":\"fr\"}", NULL, &r);
	EXPECT(r, 201, NULL);
	snprintf(oid, oidlen, "%s", jstr(r.json, "oid"));
	assert_non_null(jstr(r.json, "fields.HASH"));
	ASSERT_JSTR(r.json, "fields.currency", "504");
	ASSERT_JSTR(r.json, "fields.TranType", "PreAuth");
	ASSERT_JSTR(r.json, "fields.clientid", CLIENT_ID);
	form = form_from_fields(jget(r.json, "fields"));
	st =
	    raw_post(jstr(r.json, "gateway_url"), "application/x-www-form-urlencoded", form, &page);
	free(form);
	hres_free(&r);
	if (st != 200)
		fail_msg("gateway refused the form (%ld): %s", st, page);
	tok = strstr(page, "name=\"token\" value=\"");
	assert_non_null(tok);
	tok += strlen("name=\"token\" value=\"");
	tok[strcspn(tok, "\"")] = '\0';
	if (strlen(tok) > 512)
		fail_msg("card page token too long");
	snprintf(data, sizeof(data), "token=%s&pan=%s&expiry=12%%2F39&cvc=000&holder=Karim+Tester",
	         tok, card);
	free(page);
	snprintf(url, sizeof(url), "%s/fim/pay", sim_url);
	st = raw_post(url, "application/x-www-form-urlencoded", data, &out);
	assert_int_equal(st, 200);
	return out;
}

static long long db_count(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long db_count(const char *fmt, ...)
{
	char sql[512];
	long long n = -1;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	assert_int_equal(hx_db_int(sql, &n), 0);
	return n;
}

static const char *payment_status(const char *oid, char *buf, size_t n)
{
	if (hx_db_text("SELECT status FROM payments WHERE oid = ?", oid, buf, n) != 0)
		snprintf(buf, n, "?");
	return buf;
}

#define admin(out, n, a1, a2) hx_admin_run(out, n, a1, a2, (const char *)NULL)

/* ---- tests ---- */

static void pay_and_confirm(void **state)
{
	struct hc *c = hc_login_ok("200001");
	char oid[80], s[32], *page;
	long long b = hold(c, "chalet", 20, 3), n;
	struct hres r;
	char path[200];

	(void)state;
	page = pay(c, b, APPROVE, oid, sizeof(oid));
	assert_non_null(strstr(page, "/payments/ok"));
	free(page);
	assert_string_equal(booking_status(c, b, s, sizeof(s)), "confirmed");
	assert_string_equal(payment_status(oid, s, sizeof(s)), "approved");
	sim_status(oid, s, sizeof(s));
	assert_string_equal(s, "C"); /* captured only after our confirmation */
	n = db_count("SELECT COUNT(*) FROM passes p JOIN payments y ON y.booking = p.booking WHERE "
	             "y.oid = '%s'",
	             oid);
	assert_int_equal(n, 1);
	/* the browser's return page shows the state and changes nothing */
	snprintf(path, sizeof(path), "/payments/ok?oid=%s", oid);
	hc_do(c, "GET", path, NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	assert_non_null(strstr(r.body, "data-status=\"confirmed\""));
	hres_free(&r);
	/* a second payment of a paid booking is refused */
	snprintf(path, sizeof(path), "/api/v1/bookings/%lld/payment", b);
	hc_do(c, "POST", path, "{}", NULL, &r);
	EXPECT(r, 409, "already_paid");
	hres_free(&r);
	hc_free(c);
}

static void decline_then_pay(void **state)
{
	struct hc *c = hc_login_ok("200002");
	char oid1[80], oid2[80], s[32], *page;
	long long b = hold(c, "chalet", 30, 3);

	(void)state;
	page = pay(c, b, DECLINE, oid1, sizeof(oid1));
	assert_non_null(strstr(page, "/payments/fail"));
	free(page);
	assert_string_equal(booking_status(c, b, s, sizeof(s)), "held");
	assert_string_equal(payment_status(oid1, s, sizeof(s)), "declined");
	page = pay(c, b, APPROVE, oid2, sizeof(oid2));
	free(page);
	assert_string_not_equal(oid1, oid2);
	assert_string_equal(booking_status(c, b, s, sizeof(s)), "confirmed");
	assert_string_equal(payment_status(oid2, s, sizeof(s)), "approved");
	hc_free(c);
}

/* The callback the simulator delivered for an order, as it was sent. */
static char *delivered_callback(const char *oid)
{
	char path[160], *body;
	json_t *j;

	snprintf(path, sizeof(path), "/sim/orders?oid=%s", oid);
	j = sim_get(path);
	assert_non_null(jstr(j, "orders.0.callbacks.0.body"));
	body = strdup(jstr(j, "orders.0.callbacks.0.body"));
	json_decref(j);
	return body;
}

static char *post_callback(const char *body)
{
	char url[256], *out;

	snprintf(url, sizeof(url), "%s/payments/cmi/callback", hx_url(HX));
	assert_int_equal(raw_post(url, "application/x-www-form-urlencoded", body, &out), 200);
	return out;
}

/* Re-signs a callback body after replacing field=value (computed by python3, outside our C code).
 */
static char *resign(const char *body, const char *field, const char *value, const char *key)
{
	char script[1024], out[8192];
	char *argv[] = {"/usr/bin/python3", "-c",          script,      (char *)body,
	                (char *)field,      (char *)value, (char *)key, NULL};

	snprintf(script, sizeof(script),
	         "import sys,re,hashlib,base64,urllib.parse as u\n"
	         "b,f,v,k=sys.argv[1:5]\n"
	         "p=[(n,x) for n,x in u.parse_qsl(b,keep_blank_values=True) if n!='HASH']\n"
	         "p=[(n,(v if n==f else x)) for n,x in p]\n"
	         "def key(s): return [(0,int(t)) if t.isdigit() else (1,t.upper()) for t in "
	         "re.findall(r'\\d+|\\D+',s)]\n"
	         "e=lambda s:s.replace('\\\\','\\\\\\\\').replace('|','\\\\|')\n"
	         "t=''.join(e(x)+'|' for n,x in sorted([q for q in p if q[0].lower() not in "
	         "('hash','encoding')],key=lambda q:key(q[0])))+e(k)\n"
	         "h=base64.b64encode(hashlib.sha512(t.encode()).digest()).decode()\n"
	         "print(u.urlencode(p+[('HASH',h)]),end='')\n");
	if (hx_exec(argv, NULL, out, sizeof(out)) != 0)
		fail_msg("python3 re-signing failed: %s", out);
	return strdup(out);
}

static void replay_and_forgeries(void **state)
{
	struct hc *c = hc_login_ok("200003");
	char oid[80], s[32], *page, *cb, *forged, *reply;
	long long b = hold(c, "chalet", 40, 3), passes, audits;
	static const struct {
		const char *field, *value, *key;
	} forgeries[] = {
	    {"HASH", NULL, NULL},           /* the hash of other fields */
	    {"amount", "1.00", STORE_KEY},  /* another amount, well signed */
	    {"currency", "840", STORE_KEY}, /* dollars */
	    {"oid", "EST999-ffffffffffff", STORE_KEY},
	    {"clientid", "600000001", STORE_KEY},
	    {"ProcReturnCode", "00", "not-the-key"},
	};

	(void)state;
	page = pay(c, b, APPROVE, oid, sizeof(oid));
	free(page);
	assert_string_equal(booking_status(c, b, s, sizeof(s)), "confirmed");
	cb = delivered_callback(oid);
	passes = db_count("SELECT COUNT(*) FROM passes WHERE booking IN (SELECT booking FROM "
	                  "payments WHERE oid = '%s')",
	                  oid);
	/* the same callback again: same answer, nothing changes */
	reply = post_callback(cb);
	assert_string_equal(reply, "ACTION=POSTAUTH");
	free(reply);
	assert_int_equal(db_count("SELECT COUNT(*) FROM passes WHERE booking IN (SELECT booking "
	                          "FROM payments WHERE oid = '%s')",
	                          oid),
	                 passes);
	assert_string_equal(payment_status(oid, s, sizeof(s)), "approved");
	audits = db_count(
	    "SELECT COUNT(*) FROM audit WHERE action LIKE 'payment.callback.refused%s'", "%");
	for (size_t i = 0; i < sizeof(forgeries) / sizeof(forgeries[0]); i++) {
		if (!forgeries[i].value) {
			/* change a field and keep the old hash */
			char *p = strstr(cb, "amount=");
			forged = strdup(cb);
			assert_non_null(p);
			forged[(p - cb) + 7] = forged[(p - cb) + 7] == '9' ? '8' : '9';
		} else {
			forged =
			    resign(cb, forgeries[i].field, forgeries[i].value, forgeries[i].key);
		}
		reply = post_callback(forged);
		if (strcmp(reply, "FAILURE"))
			fail_msg("forgery %zu (%s) answered %s", i, forgeries[i].field, reply);
		free(reply);
		free(forged);
	}
	assert_int_equal(
	    db_count("SELECT COUNT(*) FROM audit WHERE action LIKE 'payment.callback.refused%s'",
	             "%"),
	    audits + (long long)(sizeof(forgeries) / sizeof(forgeries[0])));
	assert_string_equal(booking_status(c, b, s, sizeof(s)), "confirmed");
	assert_string_equal(payment_status(oid, s, sizeof(s)), "approved");
	/* a well-signed copy of the real callback with a new rnd is a replay, not a new payment */
	forged = resign(cb, "rnd", "ZZZZZZZZZZZZZZZZZZZZ", STORE_KEY);
	reply = post_callback(forged);
	assert_string_equal(reply, "ACTION=POSTAUTH");
	free(reply);
	free(forged);
	assert_int_equal(db_count("SELECT COUNT(*) FROM payments WHERE status IN "
	                          "('approved','captured') AND booking = "
	                          "(SELECT booking FROM payments WHERE oid = '%s')",
	                          oid),
	                 1);
	free(cb);
	hc_free(c);
}

static void late_approval_is_voided(void **state)
{
	struct hc *a = hc_login_ok("200004"), *o1 = hc_login_ok("200005"),
	          *o2 = hc_login_ok("200006"), *d = hc_login_ok("200007");
	char oid[80], s[32], *page;
	long long ba, bd;
	int day = 50;

	(void)state;
	/* the studios (3) of those nights: two taken (confirmed) by others, one held by A */
	for (int i = 0; i < 2; i++) {
		char id[32], out[2048];
		snprintf(id, sizeof(id), "%lld", hold(i ? o2 : o1, "studio", day, 2));
		if (admin(out, sizeof(out), "confirm", id) != 0)
			fail_msg("confirm %s: %s", id, out);
	}
	ba = hold(a, "studio", day, 2);
	sim_control("callback=delay%3D7");
	page = pay(a, ba, APPROVE, oid, sizeof(oid));
	free(page);
	sim_control("callback=normal");
	/* A's hold ends (hold 3s, extended by the payment to at most created + hold + session +
	 * margin) */
	for (int i = 0; i < 100 && strcmp(booking_status(a, ba, s, sizeof(s)), "expired"); i++)
		hx_sleep_ms(100);
	assert_string_equal(s, "expired");
	bd = hold(d, "studio", day, 2); /* D takes the unit, and keeps it */
	{
		char id[32], out[2048];
		snprintf(id, sizeof(id), "%lld", bd);
		if (admin(out, sizeof(out), "confirm", id) != 0)
			fail_msg("confirm %s: %s", id, out);
	}
	/* the approval arrives: too late; no capture, the authorisation voided, D untouched */
	for (int i = 0; i < 150 && strcmp(payment_status(oid, s, sizeof(s)), "voided"); i++)
		hx_sleep_ms(100);
	assert_string_equal(s, "voided");
	sim_status(oid, s, sizeof(s));
	assert_string_equal(s, "V");
	assert_string_equal(booking_status(a, ba, s, sizeof(s)), "expired");
	assert_string_equal(booking_status(d, bd, s, sizeof(s)), "confirmed");
	assert_true(db_count("SELECT COUNT(*) FROM audit WHERE action = "
	                     "'payment.callback.too_late' AND after LIKE '%%%s%%'",
	                     oid) == 1);
	hc_free(a);
	hc_free(o1);
	hc_free(o2);
	hc_free(d);
}

static void dropped_callback_is_reconciled(void **state)
{
	struct hc *c = hc_login_ok("200008");
	char oid[80], s[32], out[4096], *page;
	long long b = hold(c, "chalet", 60, 3);

	(void)state;
	sim_control("callback=drop");
	page = pay(c, b, APPROVE, oid, sizeof(oid));
	free(page);
	sim_control("callback=normal");
	assert_string_equal(booking_status(c, b, s, sizeof(s)), "held");
	sim_status(oid, s, sizeof(s));
	assert_string_equal(s, "A"); /* authorised, not captured */
	assert_int_equal(admin(out, sizeof(out), "reconcile", NULL), 0);
	assert_string_equal(booking_status(c, b, s, sizeof(s)), "confirmed");
	assert_string_equal(payment_status(oid, s, sizeof(s)), "captured");
	sim_status(oid, s, sizeof(s));
	assert_string_equal(s, "C");
	/* the day's report agrees with the gateway */
	if (admin(out, sizeof(out), "payments-report", NULL) != 0)
		fail_msg("payments-report found differences:\n%s", out);
	hc_free(c);
}

static void report_agrees(const char *oid);

static void refund_tiers(void **state)
{
	static const struct {
		int arrival, percent;
	} tiers[] = {{20, 100}, {5, 50}, {1, 0}}; /* policy 14:100, 3:50, 0:0 */
	struct hc *c = hc_login_ok("200009");

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		char oid[80], s[32], path[96], *page;
		long long b = hold(c, "studio", tiers[i].arrival, 2), paid, refund;
		struct hres r;
		json_t *j;

		page = pay(c, b, APPROVE, oid, sizeof(oid));
		free(page);
		assert_string_equal(booking_status(c, b, s, sizeof(s)), "confirmed");
		snprintf(path, sizeof(path), "/api/v1/bookings/%lld/cancel-quote", b);
		hc_do(c, "GET", path, NULL, NULL, &r);
		EXPECT(r, 200, NULL);
		paid = jint(r.json, "paid.centimes");
		refund = jint(r.json, "refund.centimes");
		assert_true(paid > 0);
		assert_int_equal(jint(r.json, "percent"), tiers[i].percent);
		assert_int_equal(refund, paid * tiers[i].percent / 100);
		hres_free(&r);
		snprintf(path, sizeof(path), "/api/v1/bookings/%lld/cancel", b);
		hc_do(c, "POST", path, "{}", NULL, &r);
		EXPECT(r, 200, NULL);
		ASSERT_JSTR(r.json, "status", "cancelled");
		hres_free(&r);
		snprintf(path, sizeof(path), "/sim/orders?oid=%s", oid);
		j = sim_get(path);
		if (refund) {
			char want[32];
			snprintf(want, sizeof(want), "%lld.%02lld", refund / 100, refund % 100);
			ASSERT_JSTR(j, "orders.0.refunded", want);
			assert_int_equal(db_count("SELECT COUNT(*) FROM refunds WHERE status = "
			                          "'succeeded' AND payment ="
			                          " (SELECT id FROM payments WHERE oid = '%s')",
			                          oid),
			                 1);
		} else {
			ASSERT_JSTR(j, "orders.0.refunded", "0.00");
			assert_int_equal(db_count("SELECT COUNT(*) FROM refunds WHERE payment ="
			                          " (SELECT id FROM payments WHERE oid = '%s')",
			                          oid),
			                 0);
		}
		json_decref(j);
		report_agrees(oid); /* refunded orders are not "not captured" */
		/* the nights are free at once */
		assert_int_equal(db_count("SELECT COUNT(*) FROM booking_nights WHERE booking ="
		                          " (SELECT booking FROM payments WHERE oid = '%s')",
		                          oid),
		                 0);
	}
	hc_free(c);
}

static void gateway_down_then_back(void **state)
{
	struct hc *c = hc_login_ok("200010");
	char oid[80], s[32], path[96], out[4096], *page;
	long long b = hold(c, "chalet", 70, 3);
	struct hres r;
	json_t *j;

	(void)state;
	page = pay(c, b, APPROVE, oid, sizeof(oid));
	free(page);
	sim_control("api=down");
	snprintf(path, sizeof(path), "/api/v1/bookings/%lld/cancel", b);
	hc_do(c, "POST", path, "{}", NULL, &r);
	EXPECT(r, 200, NULL); /* cancelled and the nights freed; the refund waits */
	ASSERT_JSTR(r.json, "status", "cancelled");
	hres_free(&r);
	if (hx_db_text("SELECT r.status FROM refunds r JOIN payments p ON p.id = r.payment WHERE "
	               "p.oid = ?",
	               oid, s, sizeof(s)) != 0)
		fail_msg("no refund recorded");
	assert_string_equal(s, "requested");
	/* the report says the gateway could not be asked */
	assert_int_not_equal(admin(out, sizeof(out), "payments-report", NULL), 0);
	assert_non_null(strstr(out, "UNREACHABLE"));
	sim_control("api=up");
	assert_int_equal(admin(out, sizeof(out), "reconcile", NULL), 0);
	hx_db_text(
	    "SELECT r.status FROM refunds r JOIN payments p ON p.id = r.payment WHERE p.oid = ?",
	    oid, s, sizeof(s));
	assert_string_equal(s, "succeeded");
	snprintf(path, sizeof(path), "/sim/orders?oid=%s", oid);
	j = sim_get(path);
	assert_string_not_equal(jstr(j, "orders.0.refunded"), "0.00");
	json_decref(j);
	hc_free(c);
}

/* The simulator's record of an order as JSON: its refunded and captured totals. */
static void sim_amounts(const char *oid, char *refunded, char *captured, size_t n)
{
	char path[160];
	json_t *j;

	snprintf(path, sizeof(path), "/sim/orders?oid=%s", oid);
	j = sim_get(path);
	snprintf(refunded, n, "%s",
	         j && jstr(j, "orders.0.refunded") ? jstr(j, "orders.0.refunded") : "?");
	snprintf(captured, n, "%s",
	         j && jstr(j, "orders.0.captured") ? jstr(j, "orders.0.captured") : "?");
	json_decref(j);
}

static void money(long long centimes, char *out, size_t n)
{
	snprintf(out, n, "%lld.%02lld", centimes / 100, centimes % 100);
}

static void cancel(struct hc *c, long long b)
{
	struct hres r;
	char path[96];

	snprintf(path, sizeof(path), "/api/v1/bookings/%lld/cancel", b);
	hc_do(c, "POST", path, "{}", NULL, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JSTR(r.json, "status", "cancelled");
	hres_free(&r);
}

/* The day's report says nothing against this order. */
static void report_agrees(const char *oid)
{
	char out[65536], needle[120];

	admin(out, sizeof(out), "payments-report", NULL);
	snprintf(needle, sizeof(needle), "DIFF %s ", oid);
	if (strstr(out, needle))
		fail_msg("payments-report disagrees about %s:\n%s", oid, out);
}

/* Our signed request form, posted back to the callback URL, carries the same hash: it is not the
 * gateway's answer and changes nothing. */
static void request_form_is_not_a_callback(void **state)
{
	struct hc *c = hc_login_ok("200011");
	long long b = hold(c, "chalet", 80, 2);
	char path[96], oid[80], s[32], *form, *reply;
	struct hres r;

	(void)state;
	snprintf(path, sizeof(path), "/api/v1/bookings/%lld/payment", b);
	hc_do(c, "POST", path, "{\"lang\":\"fr\"}", NULL, &r);
	EXPECT(r, 201, NULL);
	snprintf(oid, sizeof(oid), "%s", jstr(r.json, "oid"));
	form = form_from_fields(jget(r.json, "fields"));
	hres_free(&r);
	reply = post_callback(form);
	assert_string_equal(reply, "FAILURE");
	free(reply);
	free(form);
	assert_string_equal(payment_status(oid, s, sizeof(s)), "pending");
	assert_int_equal(db_count("SELECT COUNT(*) FROM audit WHERE action LIKE "
	                          "'payment.callback.refused: not a gateway%%'"
	                          " AND entity_id = (SELECT id FROM payments WHERE oid = '%s')",
	                          oid),
	                 1);
	assert_string_equal(booking_status(c, b, s, sizeof(s)), "held");
	hc_free(c);
}

/* The gateway does a refund and its answer is lost (a proxy's 502): the refund is not sent again;
 * the gateway is asked what it did. */
static void lost_refund_answer_refunds_once(void **state)
{
	struct hc *c = hc_login_ok("200012");
	long long b = hold(c, "chalet", 5, 2), paid, half;
	char oid[80], s[32], want[32], refunded[32], captured[32], out[4096], *page;

	(void)state;
	page = pay(c, b, APPROVE, oid, sizeof(oid));
	free(page);
	assert_string_equal(booking_status(c, b, s, sizeof(s)), "confirmed");
	paid = db_count("SELECT amount FROM payments WHERE oid = '%s'", oid);
	half = paid * 50 / 100; /* 5 days before arrival: the 50 % tier */
	sim_control("lose_answers=1");
	cancel(c, b);
	money(half, want, sizeof(want));
	sim_amounts(oid, refunded, captured, sizeof(refunded));
	assert_string_equal(refunded, want); /* once, not twice */
	hx_db_text(
	    "SELECT r.status FROM refunds r JOIN payments p ON p.id = r.payment WHERE p.oid = ?",
	    oid, s, sizeof(s));
	assert_string_equal(s, "succeeded");
	assert_string_equal(payment_status(oid, s, sizeof(s)), "refunded_part");
	assert_int_equal(db_count("SELECT refunded FROM payments WHERE oid = '%s'", oid), half);
	/* reconciliation afterwards changes nothing at the gateway */
	assert_int_equal(admin(out, sizeof(out), "reconcile", NULL), 0);
	sim_amounts(oid, refunded, captured, sizeof(refunded));
	assert_string_equal(refunded, want);
	assert_string_equal(payment_status(oid, s, sizeof(s)), "refunded_part");
	report_agrees(oid);
	/* a refund whose answer is lost with the gateway unreachable afterwards stays asked for,
	 * then is settled by asking, not by sending it again */
	sim_control("lose_answers=0");
	hc_free(c);
}

/* The member cancels a booking whose capture never reached the gateway: reconciliation voids the
 * authorisation; the card is never charged. */
static void cancelled_before_capture_is_voided(void **state)
{
	struct hc *c = hc_login_ok("200013");
	long long b = hold(c, "chalet", 6, 2);
	char oid[80], s[32], refunded[32], captured[32], out[4096], *page;

	(void)state;
	sim_control("postauth=ignore");
	page = pay(c, b, APPROVE, oid, sizeof(oid));
	free(page);
	sim_control("postauth=normal");
	assert_string_equal(booking_status(c, b, s, sizeof(s)), "confirmed");
	sim_status(oid, s, sizeof(s));
	assert_string_equal(s, "A"); /* our ACTION=POSTAUTH never reached it */
	sim_control("api=down");
	cancel(c, b);
	sim_control("api=up");
	assert_int_equal(admin(out, sizeof(out), "reconcile", NULL), 0);
	sim_status(oid, s, sizeof(s));
	assert_string_equal(s, "V");
	sim_amounts(oid, refunded, captured, sizeof(refunded));
	assert_string_equal(captured, "0.00");
	assert_string_equal(refunded, "0.00");
	assert_string_equal(payment_status(oid, s, sizeof(s)), "voided");
	hx_db_text(
	    "SELECT r.status FROM refunds r JOIN payments p ON p.id = r.payment WHERE p.oid = ?",
	    oid, s, sizeof(s));
	assert_string_equal(s, "superseded");
	report_agrees(oid);
	hc_free(c);
}

/* 500 payments refunded in full at the gateway that we still hold as approved (as a database from
 * before the refunded states has them), then a lost callback: one reconciliation settles them all.
 */
static void reconcile_reaches_every_payment(void **state)
{
	struct hc *c = hc_login_ok("200014");
	char oid[80], lost[80], s[32], out[4096], *page;
	long long b, first = 0;

	(void)state;
	for (int i = 0; i < 500; i++) {
		b = hold(c, "studio", 25, 2);
		page = pay(c, b, APPROVE, oid, sizeof(oid));
		free(page);
		cancel(c, b); /* 25 days ahead: refunded in full */
		if (!first)
			first = db_count("SELECT id FROM payments WHERE oid = '%s'", oid);
	}
	hx_db_write(
	    "UPDATE payments SET status = 'approved', refunded = 0 WHERE status = 'refunded'");
	assert_true(
	    db_count("SELECT COUNT(*) FROM payments WHERE status = 'approved' AND id >= %lld",
	             first) >= 500);
	sim_control("callback=drop");
	b = hold(c, "chalet", 26, 2);
	page = pay(c, b, APPROVE, lost, sizeof(lost));
	free(page);
	sim_control("callback=normal");
	assert_string_equal(booking_status(c, b, s, sizeof(s)), "held");
	assert_int_equal(admin(out, sizeof(out), "reconcile", NULL), 0);
	assert_string_equal(booking_status(c, b, s, sizeof(s)), "confirmed");
	assert_string_equal(payment_status(lost, s, sizeof(s)), "captured");
	assert_int_equal(
	    db_count("SELECT COUNT(*) FROM payments WHERE id >= %lld AND status = 'approved'",
	             first),
	    0);
	assert_true(
	    db_count("SELECT COUNT(*) FROM payments WHERE id >= %lld AND status = 'refunded'",
	             first) >= 500);
	hc_free(c);
}

/* A payment the gateway has never heard of: asked unknown_after times, then an alert, not a loop.
 */
static void unknown_at_gateway_is_an_alert(void **state)
{
	struct hc *c = hc_login_ok("200015");
	long long b = hold(c, "chalet", 90, 2);
	char path[96], oid[80], s[32], out[65536];
	struct hres r;

	(void)state;
	snprintf(path, sizeof(path), "/api/v1/bookings/%lld/payment", b);
	hc_do(c, "POST", path, "{\"lang\":\"fr\"}", NULL, &r);
	EXPECT(r, 201, NULL);
	snprintf(oid, sizeof(oid), "%s", jstr(r.json, "oid"));
	hres_free(&r);
	{
		char sql[256];
		snprintf(sql, sizeof(sql),
		         "UPDATE payments SET status = 'voiding' WHERE oid = '%s'", oid);
		hx_db_write(sql);
	}
	for (int i = 0; i < 2; i++) { /* unknown_after = 3 in this configuration */
		assert_int_equal(admin(out, sizeof(out), "reconcile", NULL), 0);
		assert_string_equal(payment_status(oid, s, sizeof(s)), "voiding");
	}
	assert_int_equal(admin(out, sizeof(out), "reconcile", NULL), 0);
	assert_string_equal(payment_status(oid, s, sizeof(s)), "unknown");
	assert_int_equal(
	    db_count("SELECT COUNT(*) FROM audit WHERE action = 'payment.unknown_at_gateway'"
	             " AND entity_id = (SELECT id FROM payments WHERE oid = '%s')",
	             oid),
	    1);
	/* no longer asked about; the report shows it to an administrator */
	assert_int_equal(admin(out, sizeof(out), "reconcile", NULL), 0);
	assert_string_equal(payment_status(oid, s, sizeof(s)), "unknown");
	assert_int_not_equal(admin(out, sizeof(out), "payments-report", NULL), 0);
	{
		char needle[120];
		snprintf(needle, sizeof(needle), "DIFF %s ", oid);
		assert_non_null(strstr(out, needle));
	}
	hc_free(c);
}

int main(int argc, char **argv)
{
	int port = free_port();
	struct hx_opts opts = {.members = 16, .hold = "3s", .sweep_interval = "1s"};
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(pay_and_confirm),
	    cmocka_unit_test(decline_then_pay),
	    cmocka_unit_test(replay_and_forgeries),
	    cmocka_unit_test(late_approval_is_voided),
	    cmocka_unit_test(dropped_callback_is_reconciled),
	    cmocka_unit_test(refund_tiers),
	    cmocka_unit_test(gateway_down_then_back),
	    cmocka_unit_test(request_form_is_not_a_callback),
	    cmocka_unit_test(lost_refund_answer_refunds_once),
	    cmocka_unit_test(cancelled_before_capture_is_voided),
	    cmocka_unit_test(reconcile_reaches_every_payment),
	    cmocka_unit_test(unknown_at_gateway_is_an_alert),
	};
	int rc;

	if (argc < 4) {
		fprintf(stderr, "usage: itest_payment ESTIVA-SERVER ESTIVA-ADMIN ESTIVA-PAYSIM\n");
		return 2;
	}
	if (start_sim(argv[3]) < 0) {
		fprintf(stderr, "itest: estiva-paysim did not start (see %s/paysim.log)\n",
		        sim_dir);
		stop_sim();
		return 1;
	}
	snprintf(extra_conf, sizeof(extra_conf),
	         "[server]\nport = %d\n\n"
	         "[payment]\ngateway_url = %s/fim/est3Dgate\napi_url = %s/fim/api\npublic_url = "
	         "http://127.0.0.1:%d\n"
	         "credentials = %s\napi_timeout = 2s\napi_retries = 2\nsession = "
	         "2s\ncallback_margin = 1s\n"
	         "reconcile_after = 1s\nreconcile_interval = 1h\nunknown_after = "
	         "3\n\n[cancellation]\nrefund = 14:100, 3:50, 0:0\n",
	         port, sim_url, sim_url, port, cred_path);
	opts.extra_conf = extra_conf;
	rc = hx_main(argc, argv, &opts, "payment", tests, sizeof(tests) / sizeof(tests[0]));
	stop_sim();
	if (rc == 0) {
		char cmd[400];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sim_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "itest: could not remove %s\n", sim_dir);
	} else {
		fprintf(stderr, "itest: simulator log in %s/paysim.log\n", sim_dir);
	}
	return rc;
}
