/* The confirmation e-mail and what comes with it, through the real server, the card gateway
 * simulator (estiva-paysim) and a real SMTP server (tools/smtp_sink.py): the message's MIME
 * structure (mixed { alternative { text, related { html, the passes' images } }, the passes as
 * files, the .ics, the receipts }); each inline QR decoded with zbarimg to its guest's pass token;
 * the .ics parsed with Python's icalendar (UID, DTSTART/DTEND in Africa/Casablanca, LOCATION and
 * SUMMARY in the member's language) and the same file from GET .../stay.ics; a pass re-issued
 * before the message goes is not sent (its replacement is); receipts numbered without gaps across
 * payments, the desk and a refund; someone else's calendar file and receipts are 404.
 * argv: estiva-server estiva-admin estiva-paysim SOURCE-DIR. */
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
#include "mailbox.h"
#include "paysim_run.h"

#define PY MAILBOX_PY
#define CLIENT_ID "600000777"
#define STORE_KEY "Store|key\\7"
#define APPROVE "4000000000000010"
#define DOMAIN "estiva.test"

static char src[1024], tmp_dir[512], cred_path[600], sim_url[128], extra_conf[4096];
static int smtp_port;
static long long paid_booking; /* member 200001's, from the first test */

/* ---- the SMTP sink ---- */

/* tests/integration/mailbox.c: the first start makes the mailbox, a later one starts it again */
static int start_sink(int port)
{
	static int started;

	if (started++)
		return mailbox_restart(port);
	return mailbox_start(src, port, 0, NULL);
}

#define stop_sink mailbox_stop

/* ---- the card gateway simulator (as in test_payment.c) ---- */

static int start_sim(const char *bin)
{
	return paysim_start(bin, tmp_dir, CLIENT_ID, STORE_KEY, sim_url, sizeof sim_url, cred_path,
	                    sizeof cred_path);
}

/* Pays the booking with an approved card through the gateway's pages; the booking is confirmed. */
static void pay(struct hc *c, long long booking)
{
	struct hres r;
	char path[96], *form, *page, *tok, *out, data[1024], url[256];

	snprintf(path, sizeof path, "/api/v1/bookings/%lld/payment", booking);
	hc_do(c, "POST", path, "{\"lang\":\"fr\"}", NULL, &r);
	EXPECT(r, 201, NULL);
	form = form_from_fields(jget(r.json, "fields"));
	assert_int_equal(
	    raw_post(jstr(r.json, "gateway_url"), "application/x-www-form-urlencoded", form, &page),
	    200);
	free(form);
	hres_free(&r);
	tok = strstr(page, "name=\"token\" value=\"");
	assert_non_null(tok);
	tok += strlen("name=\"token\" value=\"");
	tok[strcspn(tok, "\"")] = '\0';
	assert_true(strlen(tok) < 512);
	snprintf(data, sizeof data, "token=%s&pan=%s&expiry=12%%2F39&cvc=000&holder=Karim+Tester",
	         tok, APPROVE);
	free(page);
	snprintf(url, sizeof url, "%s/fim/pay", sim_url);
	assert_int_equal(raw_post(url, "application/x-www-form-urlencoded", data, &out), 200);
	free(out);
	snprintf(path, sizeof path, "/api/v1/bookings/%lld", booking);
	hc_do(c, "GET", path, NULL, NULL, &r);
	ASSERT_JSTR(r.json, "status", "confirmed");
	hres_free(&r);
}

/* ---- reading what arrived ---- */

static long long db_int(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long db_int(const char *fmt, ...)
{
	char sql[600];
	long long v = -1;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	assert_int_equal(hx_db_int(sql, &v), 0);
	return v;
}

static void db_str(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void db_str(char *buf, size_t n, const char *fmt, ...)
{
	char sql[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	if (hx_db_text(sql, NULL, buf, n) != 0)
		fail_msg("no row: %s", sql);
}

static long long book(struct hc *c, const char *type, int arrival, int departure,
                      const char *guests)
{
	struct hres r;
	long long id;

	hc_book(c, "test-a", type, arrival, departure, guests, &r);
	EXPECT(r, 201, NULL);
	id = jint(r.json, "id");
	hres_free(&r);
	return id;
}

/* The message of the booking's outbox row of template, once sent, parsed by mail_read.py (its
 * images written beside it); json_decref it. */
static json_t *message_for(long long booking, const char *template)
{
	char sql[256], needle[96], path[700], imgdir[700], script[1200];
	static char out[1 << 20];
	long long id = 0;
	json_t *j = NULL;

	snprintf(sql, sizeof sql,
	         "SELECT COALESCE(MAX(id), 0) FROM outbox WHERE booking = %lld AND template = '%s'"
	         " AND state = 'sent'",
	         booking, template);
	for (int i = 0; i < 400 && (hx_db_int(sql, &id) != 0 || !id); i++)
		hx_sleep_ms(100);
	if (!id)
		fail_msg("the %s message of booking %lld was not sent", template, booking);
	snprintf(needle, sizeof needle, "Message-ID: <outbox-%lld@" DOMAIN ">", id);
	for (int i = 1; !j; i++) {
		FILE *f;
		long n;

		snprintf(path, sizeof path, "%s/box/%06d.eml", mailbox_dir(), i);
		if (!(f = fopen(path, "rb")))
			fail_msg("no message with %s in the box", needle);
		n = (long)fread(out, 1, sizeof out - 1, f);
		fclose(f);
		out[n > 0 ? n : 0] = '\0';
		if (!strstr(out, needle))
			continue;
		snprintf(imgdir, sizeof imgdir, "%s/img-%lld", tmp_dir, id);
		mkdir(imgdir, 0700);
		snprintf(script, sizeof script, "%s/tests/integration/mail_read.py", src);
		if (hx_exec((char *const[]){PY, script, path, imgdir, NULL}, NULL, out,
		            sizeof out) != 0)
			fail_msg("mail_read.py %s: %s", path, out);
		if (!(j = json_loads(out, 0, NULL)))
			fail_msg("mail_read.py gave no JSON: %s", out);
	}
	if (json_array_size(jget(j, "defects")))
		fail_msg("MIME defects: %s", json_dumps(jget(j, "defects"), 0));
	return j;
}

static void qr_decode(const char *path, char *text, size_t n)
{
	/* zbarimg's stderr carries D-Bus noise on machines without a system bus */
	char *argv[] = {"/bin/sh", "-c",         "exec zbarimg -q --raw \"$1\" 2>/dev/null",
	                "sh",      (char *)path, NULL};
	char out[2048];

	if (hx_exec(argv, NULL, out, sizeof out) != 0)
		fail_msg("zbarimg could not decode %s: %s", path, out);
	out[strcspn(out, "\r\n")] = '\0';
	if (strlen(out) >= n)
		fail_msg("zbarimg decoded %zu bytes from %s, more than a pass", strlen(out), path);
	memcpy(text, out, strlen(out) + 1);
}

/* Every image of m decodes to the token of the active pass it names; the inline ones are in the
 * HTML beside their guest's name. Returns how many passes were inline. */
static int check_passes(json_t *m, long long booking)
{
	json_t *img;
	size_t i;
	int inline_n = 0, attached_n = 0;

	json_array_foreach(jget(m, "images"), i, img)
	{
		const char *disp = jstr(img, "disposition");
		char token[512], want[512], name[160], html[400];
		long long pid = 0;

		qr_decode(jstr(img, "path"), token, sizeof token);
		if (!strcmp(disp, "inline")) {
			assert_int_equal(sscanf(jstr(img, "cid"), "<pass-%lld@", &pid), 1);
			assert_non_null(strstr(jstr(img, "cid"), "@" DOMAIN ">"));
			inline_n++;
		} else {
			assert_string_equal(disp, "attachment");
			assert_int_equal(sscanf(jstr(img, "filename"), "pass-%lld.png", &pid), 1);
			attached_n++;
		}
		db_str(want, sizeof want,
		       "SELECT token FROM passes WHERE id = %lld AND booking = %lld AND status = "
		       "'active'",
		       pid, booking);
		assert_string_equal(token, want);
		db_str(name, sizeof name, "SELECT guest_name FROM passes WHERE id = %lld", pid);
		snprintf(html, sizeof html,
		         "<img src=\"cid:pass-%lld@" DOMAIN "\" alt=\"QR\"><figcaption>%s", pid,
		         name);
		if (!strstr(jstr(m, "html"), html))
			fail_msg("the HTML lacks %s", html);
		snprintf(html, sizeof html, "- %s (pass-%lld.png)", name, pid);
		assert_non_null(strstr(jstr(m, "text"), html));
	}
	assert_int_equal(inline_n, attached_n);
	assert_int_equal(inline_n, db_int("SELECT COUNT(*) FROM passes WHERE booking = %lld AND "
	                                  "status = 'active'",
	                                  booking));
	return inline_n;
}

/* The one VEVENT of m's .ics: UID, times at check-in/check-out in Africa/Casablanca, LOCATION,
 * SUMMARY. */
static void check_event(json_t *m, long long booking, int arrival, int departure,
                        const char *location, const char *summary)
{
	json_t *ev = jget(m, "events.0");
	char uid[96], want[64], d[16];
	const char *ics = jstr(m, "ics");

	assert_non_null(ev);
	assert_int_equal(json_array_size(jget(m, "events")), 1);
	snprintf(uid, sizeof uid, "booking-%lld@" DOMAIN, booking);
	ASSERT_JSTR(ev, "uid", uid);
	snprintf(want, sizeof want, "%sT15:00:00+", hx_date(arrival, d, sizeof d));
	assert_non_null(strstr(jstr(ev, "dtstart"), want));
	snprintf(want, sizeof want, "%sT11:00:00+", hx_date(departure, d, sizeof d));
	assert_non_null(strstr(jstr(ev, "dtend"), want));
	ASSERT_JSTR(ev, "dtstart_tzid", "Africa/Casablanca");
	ASSERT_JSTR(ev, "dtend_tzid", "Africa/Casablanca");
	ASSERT_JSTR(ev, "tz", "Africa/Casablanca");
	ASSERT_JSTR(m, "vtimezones.0", "Africa/Casablanca");
	if (!strstr(jstr(ev, "location"), location))
		fail_msg("LOCATION \"%s\" lacks \"%s\"", jstr(ev, "location"), location);
	ASSERT_JSTR(ev, "summary", summary);
	ASSERT_JSTR(ev, "status", "CONFIRMED");
	/* CRLF line ends, lines folded at 75 octets */
	for (const char *p = ics; *p;) {
		size_t len = strcspn(p, "\n");
		if (!p[len] || len == 0 || p[len - 1] != '\r')
			fail_msg("a line of the .ics does not end in CRLF");
		assert_true(len - 1 <= 75);
		p += len + 1;
	}
}

static long stay_ics(struct hc *c, long long booking, struct hres *r)
{
	char path[96];

	snprintf(path, sizeof path, "/api/v1/bookings/%lld/stay.ics", booking);
	return hc_do(c, "GET", path, NULL, NULL, r);
}

static long receipts(struct hc *c, long long booking, struct hres *r)
{
	char path[96];

	snprintf(path, sizeof path, "/receipts/%lld/print", booking);
	return hc_do(c, "GET", path, NULL, NULL, r);
}

/* data-number="YEAR-NNNNNN" of the booking's receipt of kind. */
static void receipt_number(long long booking, const char *kind, char *out, size_t n)
{
	db_str(out, n,
	       "SELECT year || '-' || printf('%%06d', number) FROM receipts WHERE booking = %lld "
	       "AND kind = '%s' ORDER BY number DESC LIMIT 1",
	       booking, kind);
}

/* ---- tests ---- */

#define STRUCTURE(n_inline)                                                                        \
	"multipart/mixed(multipart/alternative(text/plain,multipart/related(text/html" n_inline    \
	")),"

static void paid_confirmation(void **state)
{
	struct hc *c = hc_login_ok("200001");
	long long b = book(c, "chalet", 20, 23, HX_GUESTS_COUPLE);
	char number[32], want[160], ctype[128];
	struct hres r;
	json_t *m;

	(void)state;
	paid_booking = b;
	pay(c, b);
	m = message_for(b, "confirmed");
	ASSERT_JSTR(
	    m, "structure",
	    STRUCTURE(",image/png,image/png") "image/png,image/png,text/calendar,text/html)");
	assert_int_equal(check_passes(m, b), 2);
	assert_non_null(strstr(jstr(m, "html"), "Karim"));
	assert_non_null(strstr(jstr(m, "html"), "Amina"));
	check_event(m, b, 20, 23, "Centre Test A, 1 avenue des Cèdres, Ifrane",
	            "Séjour au Centre Test A");
	/* the receipt of the payment, attached */
	receipt_number(b, "payment", number, sizeof number);
	snprintf(want, sizeof want, "data-number=\"%s\" data-kind=\"payment\" data-amount=\"%lld\"",
	         number, db_int("SELECT amount FROM payments WHERE booking = %lld", b));
	if (!strstr(jstr(m, "attached_html"), want))
		fail_msg("the attached receipt lacks %s", want);
	/* the same calendar file from the booking page */
	stay_ics(c, b, &r);
	EXPECT(r, 200, NULL);
	assert_int_equal(hres_header(&r, "Content-Type", ctype, sizeof ctype), 0);
	assert_non_null(strstr(ctype, "text/calendar"));
	assert_string_equal(r.body, jstr(m, "ics"));
	hres_free(&r);
	json_decref(m);
	hc_free(c);
}

/* Confirmed at the desk, for a member who reads Arabic: the same documents in Arabic; the receipt
 * is the desk's (no card). */
static void desk_confirmation_in_arabic(void **state)
{
	struct hc *c = hc_login_ok("200003");
	long long b;
	char id[32], out[4096];
	json_t *m;

	(void)state;
	hx_db_write("UPDATE members SET locale = 'ar' WHERE number = '200003'");
	b = book(c, "studio", 30, 32, HX_GUESTS_SELF);
	snprintf(id, sizeof id, "%lld", b);
	assert_int_equal(hx_admin_run(out, sizeof out, "confirm", id, NULL), 0);
	m = message_for(b, "confirmed");
	ASSERT_JSTR(m, "structure", STRUCTURE(",image/png") "image/png,text/calendar,text/html)");
	assert_int_equal(check_passes(m, b), 1);
	assert_non_null(strstr(jstr(m, "html"), "dir=\"rtl\""));
	check_event(m, b, 30, 32, "مركز الاختبار أ, 1 شارع الأرز، إفران",
	            "إقامة في مركز الاختبار أ");
	assert_int_equal(db_int("SELECT COUNT(*) FROM receipts WHERE booking = %lld AND kind = "
	                        "'payment' AND payment IS NULL AND amount ="
	                        " (SELECT amount FROM bookings WHERE id = %lld)",
	                        b, b),
	                 1);
	assert_non_null(strstr(jstr(m, "attached_html"), "في استقبال المركز"));
	json_decref(m);
	hc_free(c);
}

/* A pass re-issued between the confirmation and the sending: the message carries its
 * replacement, never the revoked one (the SMTP server is down meanwhile, so the message waits). */
static void reissued_before_sending(void **state)
{
	struct hc *c = hc_login_ok("200006");
	char id[32], out[4096], path[96], old_token[512], token[512];
	long long b, old_pass, new_pass;
	struct hres r;
	json_t *m, *img;
	size_t i;

	(void)state;
	stop_sink();
	b = book(c, "chalet", 40, 43, HX_GUESTS_SELF);
	snprintf(id, sizeof id, "%lld", b);
	assert_int_equal(hx_admin_run(out, sizeof out, "confirm", id, NULL), 0);
	old_pass = db_int("SELECT id FROM passes WHERE booking = %lld", b);
	db_str(old_token, sizeof old_token, "SELECT token FROM passes WHERE id = %lld", old_pass);
	snprintf(path, sizeof path, "/api/v1/passes/%lld/reissue", old_pass);
	hc_do(c, "POST", path, "{}", NULL, &r);
	EXPECT(r, 201, NULL);
	new_pass = jint(r.json, "id");
	hres_free(&r);
	assert_int_equal(start_sink(smtp_port), smtp_port);
	m = message_for(b, "confirmed");
	/* queued with the first pass, sent after its re-issue */
	assert_int_equal(
	    db_int("SELECT o.created_at <= p.revoked_at FROM outbox o, passes p"
	           " WHERE o.booking = %lld AND o.template = 'confirmed' AND p.id = %lld",
	           b, old_pass),
	    1);
	assert_int_equal(check_passes(m, b), 1);
	json_array_foreach(jget(m, "images"), i, img)
	{
		qr_decode(jstr(img, "path"), token, sizeof token);
		assert_string_not_equal(token, old_token);
	}
	snprintf(path, sizeof path, "cid:pass-%lld@", new_pass);
	assert_non_null(strstr(jstr(m, "html"), path));
	snprintf(path, sizeof path, "cid:pass-%lld@", old_pass);
	assert_null(strstr(jstr(m, "html"), path));
	json_decref(m);
	hc_free(c);
}

/* Several payments and a refund: receipt numbers increase without a gap; the refund's receipt has
 * the refunded amount; the printable page lists them in both languages, without inline script or
 * style. */
static void receipts_are_gap_free(void **state)
{
	struct hc *c = hc_login_ok("200004");
	long long b[3] = {book(c, "studio", 50, 52, HX_GUESTS_SELF),
	                  book(c, "studio", 60, 62, HX_GUESTS_SELF),
	                  book(c, "chalet", 70, 73, HX_GUESTS_SELF)};
	char path[96], number[32], want[160], csp[512];
	long long year, n;
	struct hres r;

	(void)state;
	for (int i = 0; i < 3; i++)
		pay(c, b[i]);
	snprintf(path, sizeof path, "/api/v1/bookings/%lld/cancel", b[2]);
	hc_do(c, "POST", path, "{}", NULL, &r); /* 70 days ahead: all of it back */
	EXPECT(r, 200, NULL);
	hres_free(&r);
	for (int i = 0; i < 100 && db_int("SELECT COUNT(*) FROM refunds WHERE booking = %lld AND "
	                                  "status = 'succeeded'",
	                                  b[2]) == 0;
	     i++)
		hx_sleep_ms(100);
	year = db_int("SELECT MAX(year) FROM receipts");
	n = db_int("SELECT COUNT(*) FROM receipts WHERE year = %lld", year);
	assert_true(n >= 4);
	/* 1..n, in the order they were taken */
	assert_int_equal(db_int("SELECT MIN(number) FROM receipts WHERE year = %lld", year), 1);
	assert_int_equal(db_int("SELECT MAX(number) FROM receipts WHERE year = %lld", year), n);
	assert_int_equal(db_int("SELECT COUNT(*) FROM receipts a JOIN receipts z ON z.year = a.year"
	                        " AND z.id > a.id WHERE z.number <= a.number"),
	                 0);
	for (int i = 1; i < 3; i++)
		assert_int_equal(
		    db_int("SELECT number FROM receipts WHERE booking = %lld", b[i]),
		    db_int("SELECT number FROM receipts WHERE booking = %lld", b[i - 1]) + 1);
	assert_int_equal(
	    db_int("SELECT number FROM receipts WHERE booking = %lld AND kind = 'refund'", b[2]),
	    db_int("SELECT number FROM receipts WHERE booking = %lld AND kind = 'payment'", b[2]) +
	        1);
	assert_int_equal(db_int("SELECT amount FROM receipts WHERE booking = %lld AND kind = "
	                        "'refund'",
	                        b[2]),
	                 db_int("SELECT amount FROM refunds WHERE booking = %lld AND status = "
	                        "'succeeded'",
	                        b[2]));
	assert_int_equal(db_int("SELECT amount FROM receipts WHERE booking = %lld AND kind = "
	                        "'refund'",
	                        b[2]),
	                 db_int("SELECT amount FROM payments WHERE booking = %lld", b[2]));
	receipts(c, b[2], &r);
	EXPECT(r, 200, NULL);
	receipt_number(b[2], "refund", number, sizeof number);
	snprintf(want, sizeof want, "data-number=\"%s\" data-kind=\"refund\" data-amount=\"%lld\"",
	         number, db_int("SELECT amount FROM refunds WHERE booking = %lld", b[2]));
	assert_non_null(strstr(r.body, want));
	assert_non_null(strstr(r.body, "data-kind=\"payment\""));
	assert_non_null(strstr(r.body, "Reçu n°"));
	assert_non_null(strstr(r.body, "إيصال رقم"));
	assert_null(strstr(r.body, "<script"));
	assert_null(strstr(r.body, "<style"));
	assert_int_equal(hres_header(&r, "Content-Security-Policy", csp, sizeof csp), 0);
	assert_null(strstr(csp, "unsafe-inline"));
	hres_free(&r);
	/* the cancelled stay's calendar file: the same UID, cancelled */
	stay_ics(c, b[2], &r);
	EXPECT(r, 200, NULL);
	assert_non_null(strstr(r.body, "STATUS:CANCELLED"));
	hres_free(&r);
	hc_free(c);
}

/* Someone else's calendar file and receipts are "not found"; staff of the centre and admins see
 * them; a held booking has no calendar file yet. */
static void who_sees_them(void **state)
{
	struct hc *other = hc_login_ok("200005"), *mgr = hc_login_ok(HX_MANAGER),
	          *boss = hc_login_ok(HX_ADMIN);
	struct hres r;
	long long held;

	(void)state;
	assert_true(paid_booking > 0);
	stay_ics(other, paid_booking, &r);
	EXPECT(r, 404, "not_found");
	hres_free(&r);
	receipts(other, paid_booking, &r);
	EXPECT(r, 404, "not_found");
	hres_free(&r);
	stay_ics(mgr, paid_booking, &r); /* manages test-b; the booking is at test-a */
	EXPECT(r, 404, "not_found");
	hres_free(&r);
	receipts(mgr, paid_booking, &r);
	EXPECT(r, 404, "not_found");
	hres_free(&r);
	stay_ics(boss, paid_booking, &r);
	EXPECT(r, 200, NULL);
	hres_free(&r);
	receipts(boss, paid_booking, &r);
	EXPECT(r, 200, NULL);
	assert_non_null(strstr(r.body, "data-kind=\"payment\""));
	hres_free(&r);
	held = book(other, "studio", 80, 82, HX_GUESTS_SELF);
	stay_ics(other, held, &r);
	EXPECT(r, 409, "not_confirmed");
	hres_free(&r);
	receipts(other, held, &r);
	EXPECT(r, 200, NULL);
	assert_non_null(strstr(r.body, "class=\"none\""));
	hres_free(&r);
	hc_free(other);
	hc_free(mgr);
	hc_free(boss);
}

int main(int argc, char **argv)
{
	struct hx_opts opts = {.members = 8, .hold = "20m", .sweep_interval = "1s"};
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(paid_confirmation),
	    cmocka_unit_test(desk_confirmation_in_arabic),
	    cmocka_unit_test(reissued_before_sending),
	    cmocka_unit_test(receipts_are_gap_free),
	    cmocka_unit_test(who_sees_them),
	};
	int port = free_port(), rc = 1;
	const char *t = getenv("TMPDIR");

	if (argc < 5) {
		fprintf(stderr,
		        "usage: itest_confirmation ESTIVA-SERVER ESTIVA-ADMIN ESTIVA-PAYSIM "
		        "SOURCE-DIR\n");
		return 2;
	}
	if (access(PY, X_OK) != 0) {
		fprintf(stderr,
		        "itest_confirmation: SKIP: %s not found (Debian: python3, "
		        "python3-aiosmtpd, python3-icalendar)\n",
		        PY);
		return 77;
	}
	snprintf(src, sizeof src, "%s", argv[4]);
	snprintf(tmp_dir, sizeof tmp_dir, "%s/estiva-confirm-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmp_dir))
		return 1;
	if (start_sim(argv[3]) < 0 || (smtp_port = start_sink(0)) < 0) {
		fprintf(stderr,
		        "itest_confirmation: the simulator or the SMTP sink did not start "
		        "(see %s)\n",
		        tmp_dir);
		goto out;
	}
	snprintf(extra_conf, sizeof extra_conf,
	         "[server]\nport = %d\n\n"
	         "[payment]\ngateway_url = %s/fim/est3Dgate\napi_url = %s/fim/api\npublic_url = "
	         "http://127.0.0.1:%d\ncredentials = %s\napi_timeout = 2s\napi_retries = 2\n"
	         "session = 2s\ncallback_margin = 1s\nreconcile_after = 1s\nreconcile_interval = "
	         "1h\n\n[cancellation]\nrefund = 14:100, 3:50, 0:0\n\n"
	         "[mail]\nsmtp_url = smtp://127.0.0.1:%d\nstarttls = off\nfrom = Estiva "
	         "<no-reply@" DOMAIN ">\ndomain = " DOMAIN
	         "\nretry_unit = 1s\ntemplates = %s/server/web/i18n\n",
	         port, sim_url, sim_url, port, cred_path, smtp_port, src);
	opts.extra_conf = extra_conf;
	rc = hx_main(argc, argv, &opts, "confirmation", tests, sizeof(tests) / sizeof(tests[0]));
out:
	stop_sink();
	paysim_stop();
	if (rc == 0) {
		char cmd[700];
		mailbox_remove();
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "itest: could not remove %s\n", tmp_dir);
	} else {
		fprintf(stderr, "itest_confirmation: the logs are in %s, the messages in %s/box\n",
		        tmp_dir, mailbox_dir());
	}
	return rc;
}
