/* test_gate.c: the real estiva-gate against the real estiva-server (label gate): offline decisions
 * with every refusal reason, anti-passback across two gates after sync, a cancelled booking and a
 * re-issued pass, QR lines on a pty (garbage, very long, the device gone and back), the staff page
 * (PIN, CSRF, manual admission synced), the turnstile's sensor (undone), a revoked gate (401), and
 * the dead-letter path. argv: estiva-server estiva-admin estiva-gate. */
#include <errno.h>
#include <pty.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "base45.h"
#include "gate_harness.h"

#define GUESTS_COUPLE HX_GUESTS_COUPLE

static void expect_event(const struct gt_event *ev, const char *decision, const char *reason,
                         const char *dir)
{
	if (strcmp(ev->decision, decision) || strcmp(ev->reason, reason) ||
	    (dir && strcmp(ev->direction, dir)))
		fail_msg("event %lld: %s/%s/%s, wanted %s/%s/%s", ev->seq, ev->decision, ev->reason,
		         ev->direction, decision, reason, dir ? dir : "*");
}

static void scan_expect(struct gt *g, int reader, const char *line, const char *decision,
                        const char *reason)
{
	struct gt_event ev;

	gt_scan(g, reader, line, &ev);
	expect_event(&ev, decision, reason, NULL);
}

/* The server's port stays the same over restarts, so the gates' configuration stays right. */
static void pin_server_port(void)
{
	char buf[8192], port[32];
	FILE *f = fopen(hx_conf_path(HX), "r");
	size_t n;
	char *p;

	assert_non_null(f);
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strstr(buf, "\nport = 0\n");
	if (!p)
		return; /* already pinned */
	snprintf(port, sizeof port, "\nport = %d\n", hx_port(HX));
	f = fopen(hx_conf_path(HX), "w");
	assert_non_null(f);
	fwrite(buf, 1, (size_t)(p - buf), f);
	fputs(port, f);
	fputs(p + strlen("\nport = 0\n"), f);
	assert_int_equal(fclose(f), 0);
}

static void server_restart(void)
{
	assert_int_equal(hx_start(HX), 0);
}

static void server_stop(void)
{
	assert_int_equal(hx_stop(HX), 0);
}

/* A token whose binary form was changed after signing (the pass id's last byte). */
static void altered(const char *token, char *outbuf, size_t n)
{
	unsigned char bin[PASS_BIN_MAX];
	size_t bn = 0;

	assert_int_equal(base45_decode(token + PASS_PREFIX_LEN, strlen(token) - PASS_PREFIX_LEN,
	                               bin, sizeof bin, &bn),
	                 0);
	bin[5] ^= 0x01;
	memcpy(outbuf, PASS_PREFIX, PASS_PREFIX_LEN);
	assert_int_equal(base45_encode(bin, bn, outbuf + PASS_PREFIX_LEN, n - PASS_PREFIX_LEN), 0);
}

static void cancel_booking(int member, long long booking)
{
	char num[16], path[64];
	struct hc *c = hc_login_ok(hx_member(member, num, sizeof num));
	struct hres r;

	snprintf(path, sizeof path, "/api/v1/bookings/%lld/cancel", booking);
	hc_do(c, "POST", path, "{}", NULL, &r);
	EXPECT(r, 200, NULL);
	hres_free(&r);
	hc_free(c);
}

/* ---- offline: every refusal with its reason while the server is down ---- */
static void offline_decisions(void **state)
{
	struct gt_opts o = {.name = "Offline gate", .dirs = {"in", "out"}};
	struct gt *g;
	char tok[PASS_TEXT_MAX + 1], tok2[PASS_TEXT_MAX + 1], t[PASS_TEXT_MAX + 1], longline[2100];
	long long b1, b2, p1, events;
	struct pass p, base;
	struct gt_event ev;
	unsigned char sk[64], pk[32];
	int64_t now_min = time(NULL) / 60;

	(void)state;
	pin_server_port();
	b1 = gt_booking(1, "test-a", "chalet", 1, 2, GUESTS_COUPLE);
	b2 = gt_booking(3, "test-a", "chalet", 1, 2, GUESTS_COUPLE);
	p1 = gt_pass(b1, 0, tok, sizeof tok);
	gt_pass(b2, 0, tok2, sizeof tok2);
	cancel_booking(3, b2);
	g = gt_new(&o);
	gt_start(g);
	gt_settle(g);
	assert_int_equal(gt_int(g, "SELECT COUNT(*) FROM keys"), 1);
	assert_true(gt_int(g, "SELECT COUNT(*) FROM passes WHERE status = 'active'") >= 2);

	server_stop();
	gt_parse(tok, &base);

	scan_expect(g, 0, tok, "admit", "ok");
	assert_int_equal(gt_int(g, "SELECT pass FROM events ORDER BY seq DESC LIMIT 1"), p1);
	scan_expect(g, 0, tok, "deny", "already_inside");

	/* forged: signed by someone else under the server's key id */
	p = base;
	crypto_sign_keypair(pk, sk);
	assert_int_equal(pass_sign_text(&p, sk, t, sizeof t), PASS_OK);
	scan_expect(g, 0, t, "deny", "bad_signature");
	/* unknown key id */
	p = base;
	p.key_id = 9;
	assert_int_equal(pass_sign_text(&p, sk, t, sizeof t), PASS_OK);
	scan_expect(g, 0, t, "deny", "unknown_key");
	/* altered after signing */
	altered(tok, t, sizeof t);
	scan_expect(g, 0, t, "deny", "bad_signature");
	/* expired, not yet valid, other centre: genuine signatures of the server's key */
	p = base;
	p.valid_from = (uint32_t)(now_min - 10 * 1440);
	p.valid_until = (uint32_t)(now_min - 5 * 1440);
	gt_sign_text(&p, t, sizeof t);
	scan_expect(g, 0, t, "deny", "expired");
	p = base;
	p.valid_from = (uint32_t)(now_min + 5 * 1440);
	p.valid_until = (uint32_t)(now_min + 8 * 1440);
	gt_sign_text(&p, t, sizeof t);
	scan_expect(g, 0, t, "deny", "not_yet_valid");
	p = base;
	p.centre = 12;
	gt_sign_text(&p, t, sizeof t);
	scan_expect(g, 0, t, "deny", "other_centre");
	/* revoked: the cancelled booking's pass, learned at the last sync */
	scan_expect(g, 0, tok2, "deny", "revoked");
	/* a pass bound to an NFC tag, copied into a QR code */
	p = base;
	p.flags = PASS_FLAG_NFC;
	p.uid_len = 7;
	memcpy(p.uid, "\x04\x01\x02\x03\x04\x05\x06", 7);
	gt_sign_text(&p, t, sizeof t);
	scan_expect(g, 0, t, "deny", "uid_mismatch");
	/* noise */
	scan_expect(g, 0, "hello", "deny", "bad_format");
	memset(longline, 'A', sizeof longline - 1);
	longline[sizeof longline - 1] = '\0';
	scan_expect(g, 0, longline, "deny", "bad_format");
	/* and out through the exit reader */
	gt_scan(g, 1, tok, &ev);
	expect_event(&ev, "admit", "ok", "out");
	/* after a failed sync attempt the gate knows it is offline */
	hx_sleep_ms(1500);
	scan_expect(g, 0, tok, "admit", "ok");
	assert_int_equal(gt_int(g, "SELECT offline FROM events ORDER BY seq DESC LIMIT 1"), 1);

	/* back online: every scan reaches the server once */
	events = gt_int(g, "SELECT COUNT(*) FROM events");
	assert_int_equal(events, 14);
	server_restart();
	gt_settle(g);
	assert_int_equal(gt_server_int("SELECT COUNT(*) FROM gate_events WHERE gate = %lld", g->id),
	                 events);
	assert_int_equal(
	    gt_server_int("SELECT COUNT(*) FROM gate_events WHERE gate = %lld AND offline = 1",
	                  g->id) > 0,
	    1);
	assert_int_equal(
	    gt_server_int(
	        "SELECT COUNT(*) FROM gate_events WHERE gate = %lld AND decision = 'admit'", g->id),
	    3);
	gt_stop(g);
	gt_free(g);
}

/* ---- two gates, one pass: anti-passback holds after sync ---- */
static void two_gates(void **state)
{
	struct gt_opts oa = {.name = "North", .dirs = {"in", "out"}},
	               ob = {.name = "South", .dirs = {"in", "out"}};
	struct gt *a, *b;
	char tok[PASS_TEXT_MAX + 1];
	long long bk, pid;
	char sql[256];

	(void)state;
	bk = gt_booking(4, "test-a", "chalet", 1, 2, HX_GUESTS_SELF);
	pid = gt_pass(bk, 0, tok, sizeof tok);
	a = gt_new(&oa);
	b = gt_new(&ob);
	gt_start(a);
	gt_start(b);
	gt_settle(a);
	gt_settle(b);
	scan_expect(a, 0, tok, "admit", "ok");
	gt_settle(a); /* uploaded */
	gt_settle(b); /* downloaded */
	snprintf(sql, sizeof sql, "SELECT inside FROM presence WHERE pass = %lld", pid);
	gt_wait_int(b, sql, 1, 5000);
	scan_expect(b, 0, tok, "deny", "already_inside");
	/* out through b, then a learns it: in again at a is fine */
	scan_expect(b, 1, tok, "admit", "ok");
	gt_settle(b);
	gt_settle(a);
	gt_wait_int(a, sql, 0, 5000);
	scan_expect(a, 0, tok, "admit", "ok");
	gt_settle(a);
	assert_int_equal(
	    gt_server_int(
	        "SELECT COUNT(*) FROM gate_events WHERE pass = %lld AND decision = 'admit'", pid),
	    3);
	gt_stop(a);
	gt_stop(b);
	gt_free(a);
	gt_free(b);
}

/* ---- a cancelled booking's passes are refused after the next sync; a re-issued pass works and its
 * old one does not ---- */
static void cancel_and_reissue(void **state)
{
	struct gt_opts o = {.name = "Reissue gate", .dirs = {"in"}, .policy = "off"};
	struct gt *g;
	char tok[PASS_TEXT_MAX + 1], tok2[PASS_TEXT_MAX + 1], newtok[PASS_TEXT_MAX + 1], num[16],
	    path[64];
	long long b1, b2, p2, np;
	struct hc *c;
	struct hres r;

	(void)state;
	b1 = gt_booking(5, "test-a", "chalet", 1, 2, HX_GUESTS_SELF);
	b2 = gt_booking(6, "test-a", "chalet", 1, 2, HX_GUESTS_SELF);
	gt_pass(b1, 0, tok, sizeof tok);
	p2 = gt_pass(b2, 0, tok2, sizeof tok2);
	g = gt_new(&o);
	gt_start(g);
	gt_settle(g);
	scan_expect(g, 0, tok, "admit", "ok");
	scan_expect(g, 0, tok2, "admit", "ok");

	cancel_booking(5, b1);
	gt_settle(g);
	scan_expect(g, 0, tok, "deny", "revoked");

	c = hc_login_ok(hx_member(6, num, sizeof num));
	snprintf(path, sizeof path, "/api/v1/passes/%lld/reissue", p2);
	hc_do(c, "POST", path, "{}", NULL, &r);
	EXPECT(r, 201, NULL);
	snprintf(newtok, sizeof newtok, "%s", jstr(r.json, "token"));
	np = jint(r.json, "id");
	hres_free(&r);
	hc_free(c);
	assert_true(np != p2);
	gt_settle(g);
	scan_expect(g, 0, tok2, "deny", "revoked");
	scan_expect(g, 0, newtok, "admit", "ok");
	gt_stop(g);
	gt_free(g);
}

/* ---- QR on a pty: noise, very long lines, a device that goes away and comes back ---- */
static void qr_pty(void **state)
{
	struct gt_opts o = {.name = "Pty gate", .dirs = {"in", "in"}};
	struct gt *g;
	char big[8192], tok[PASS_TEXT_MAX + 1];
	long long bk;
	struct gt_event ev;

	(void)state;
	bk = gt_booking(7, "test-a", "studio", 1, 2, HX_GUESTS_SELF);
	gt_pass(bk, 0, tok, sizeof tok);
	g = gt_new(&o);
	gt_start(g);
	gt_settle(g);
	/* control bytes, UTF-8, a NUL: refused, the reader goes on */
	scan_expect(g, 0, "\x01\x02garbage\x7f", "deny", "bad_format");
	scan_expect(g, 0, "EV1:\xc3\xa9t\xc3\xa9", "deny", "bad_format");
	gt_type(g, 0, "EV1:\0zero", 9);
	hx_sleep_ms(200);
	gt_last_event(g, &ev);
	expect_event(&ev, "deny", "bad_format", NULL);
	/* 8 KiB without a newline, then one: one refusal, not eight */
	memset(big, 'Z', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	{
		long long before = gt_int(g, "SELECT COUNT(*) FROM events");

		scan_expect(g, 0, big, "deny", "bad_format");
		hx_sleep_ms(200);
		assert_int_equal(gt_int(g, "SELECT COUNT(*) FROM events"), before + 1);
	}
	/* CR line ends, and the second reader works at the same time */
	scan_expect(g, 1, "junk\r", "deny", "bad_format");
	scan_expect(g, 0, tok, "admit", "ok");

	/* the device goes away: the reader is reported failed, the other goes on, then it comes
	 * back */
	close(g->master[0]);
	g->master[0] = -1;
	unlink(g->link[0]);
	hx_sleep_ms(300);
	scan_expect(g, 1, "still here", "deny", "bad_format");
	{
		int m, s;
		char name[128];
		struct termios tio;

		assert_int_equal(openpty(&m, &s, name, NULL, NULL), 0);
		tcgetattr(s, &tio);
		cfmakeraw(&tio);
		tcsetattr(s, TCSANOW, &tio);
		assert_int_equal(symlink(name, g->link[0]), 0);
		g->master[0] = m;
	}
	/* reopened within the back-off (at most a few seconds here) */
	for (int t = 0; t < 8000; t += 200) {
		if (gt_int(g, "SELECT COUNT(*) FROM events WHERE reason = 'bad_format' AND reader "
		              "= 'qr0'") >= 5)
			break;
		gt_type(g, 0, "probe", -1);
		hx_sleep_ms(200);
	}
	assert_true(
	    gt_int(g,
	           "SELECT COUNT(*) FROM events WHERE reason = 'bad_format' AND reader = 'qr0'") >=
	    5);
	gt_stop(g);
	gt_free(g);
}

/* ---- the staff page: PIN, session, CSRF, a manual admission recorded and synced ---- */
struct page {
	long status;
	char body[65536];
	char location[256];
	char csp[512];
	size_t len;
};

static size_t page_body(char *p, size_t s, size_t n, void *u)
{
	struct page *pg = u;
	size_t take = s * n;

	if (pg->len + take >= sizeof pg->body)
		take = sizeof pg->body - 1 - pg->len;
	memcpy(pg->body + pg->len, p, take);
	pg->len += take;
	pg->body[pg->len] = '\0';
	return s * n;
}

static size_t page_header(char *p, size_t s, size_t n, void *u)
{
	struct page *pg = u;

	if (!strncasecmp(p, "Location: ", 10))
		snprintf(pg->location, sizeof pg->location, "%.*s", (int)(s * n - 12), p + 10);
	if (!strncasecmp(p, "Content-Security-Policy: ", 25))
		snprintf(pg->csp, sizeof pg->csp, "%.*s", (int)(s * n - 27), p + 25);
	return s * n;
}

static long page_do(CURL *c, struct gt *g, const char *method, const char *path, const char *form,
                    struct page *pg)
{
	char url[256];

	memset(pg, 0, sizeof(*pg));
	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", g->port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, page_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, pg);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, page_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, pg);
	if (!strcmp(method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	}
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &pg->status);
	return pg->status;
}

/* value="..." after name="field" in the page */
static void field_value(const char *body, const char *field, char *out, size_t n)
{
	char key[64];
	const char *p, *q;

	snprintf(key, sizeof key, "name=\"%s\" value=\"", field);
	p = strstr(body, key);
	assert_non_null(p);
	p += strlen(key);
	q = strchr(p, '"');
	assert_non_null(q);
	snprintf(out, n, "%.*s", (int)(q - p), p);
}

static void status_page(void **state)
{
	struct gt_opts o = {.name = "Staff gate"};
	struct gt *g;
	CURL *c = curl_easy_init();
	static struct page pg;
	char pre[80], csrf[80], form[512];
	long long manual;

	(void)state;
	g = gt_new(&o);
	gt_start(g);
	gt_settle(g);
	curl_easy_setopt(c, CURLOPT_COOKIEFILE, "");
	/* not logged in: the login page; JSON refused */
	assert_int_equal(page_do(c, g, "GET", "/status.json", NULL, &pg), 401);
	assert_int_equal(page_do(c, g, "GET", "/", NULL, &pg), 200);
	assert_non_null(strstr(pg.body, "name=\"pin\""));
	assert_non_null(strstr(pg.csp, "default-src 'self'"));
	field_value(pg.body, "pre", pre, sizeof pre);
	/* a wrong PIN, then a login without the page's token, then the right one */
	snprintf(form, sizeof form, "pre=%s&pin=0000", pre);
	assert_int_equal(page_do(c, g, "POST", "/login", form, &pg), 403);
	field_value(pg.body, "pre", pre, sizeof pre);
	assert_int_equal(page_do(c, g, "POST", "/login", "pin=4711", &pg), 403);
	field_value(pg.body, "pre", pre, sizeof pre);
	snprintf(form, sizeof form, "pre=%s&pin=4711", pre);
	assert_int_equal(page_do(c, g, "POST", "/login", form, &pg), 303);
	assert_int_equal(page_do(c, g, "GET", "/?lang=ar", NULL, &pg), 200);
	assert_non_null(strstr(pg.body, "dir=\"rtl\""));
	assert_non_null(strstr(pg.body, "<script src=\"/app.js\"></script>"));
	assert_null(strstr(pg.body, "<script>"));
	field_value(pg.body, "csrf", csrf, sizeof csrf);
	assert_int_equal(page_do(c, g, "GET", "/status.json", NULL, &pg), 200);
	assert_non_null(strstr(pg.body, "\"inside\""));
	assert_non_null(strstr(pg.body, "\"readers\""));
	/* the server's time from the sync answers was recorded and shown (one machine: a small
	 * offset, no warning, no correction, trusted) */
	{
		const char *key = "\"clock_offset_s\":", *p = strstr(pg.body, key);
		char *end;
		double off;

		assert_non_null(p);
		p += strlen(key);
		off = strtod(p, &end);
		assert_true(end != p); /* a number, not null */
		assert_true(off > -5 && off < 5);
		assert_non_null(strstr(pg.body, "\"clock_warning\":false"));
		assert_non_null(strstr(pg.body, "\"clock_corrected\":false"));
		assert_non_null(strstr(pg.body, "\"clock_distrusted\":false"));
	}
	/* POST without the CSRF token, and without a reason */
	assert_int_equal(page_do(c, g, "POST", "/manual", "direction=in&reason=lost+pass", &pg),
	                 403);
	snprintf(form, sizeof form, "csrf=%s&direction=in&reason=%%FF%%FE", csrf);
	assert_int_equal(page_do(c, g, "POST", "/manual", form, &pg), 400);
	snprintf(form, sizeof form, "csrf=%s&direction=in&reason=", csrf);
	assert_int_equal(page_do(c, g, "POST", "/manual", form, &pg), 400);
	snprintf(form, sizeof form,
	         "csrf=%s&direction=in&pass=&reason=Guest+lost+her+pass+%%28ID+checked%%29", csrf);
	assert_int_equal(page_do(c, g, "POST", "/manual", form, &pg), 303);
	manual = gt_int(g, "SELECT COUNT(*) FROM events WHERE decision = 'manual' AND note = "
	                   "'Guest lost her pass (ID checked)'");
	assert_int_equal(manual, 1);
	gt_settle(g);
	assert_int_equal(
	    gt_server_int(
	        "SELECT COUNT(*) FROM gate_events WHERE gate = %lld AND decision = 'manual' AND"
	        " note = 'Guest lost her pass (ID checked)'",
	        g->id),
	    1);
	assert_int_equal(page_do(c, g, "GET", "/status.json", NULL, &pg), 200);
	assert_non_null(strstr(pg.body, "\"decision\":\"manual\""));
	/* logout ends the session */
	snprintf(form, sizeof form, "csrf=%s", csrf);
	assert_int_equal(page_do(c, g, "POST", "/logout", form, &pg), 303);
	assert_int_equal(page_do(c, g, "GET", "/status.json", NULL, &pg), 401);
	curl_easy_cleanup(c);
	gt_stop(g);
	gt_free(g);
}

/* ---- relay and sensor: no passage reported → the admission is undone, on the server too ---- */
static void relay_sensor(void **state)
{
	char relay[1024], sensor[64];
	struct gt_opts o = {.name = "Turnstile", .dirs = {"in"}, .relay = relay, .sensor = sensor};
	struct gt *g;
	char tok[PASS_TEXT_MAX + 1], path[700], sql[256];
	long long bk, pid;
	struct stat sb;

	(void)state;
	snprintf(path, sizeof path, "%s/relay-fired", hx_dir(HX));
	snprintf(relay, sizeof relay, "touch %s.{direction}.{pass}", path);
	snprintf(sensor, sizeof sensor, "false");
	bk = gt_booking(8, "test-a", "studio", 1, 2, HX_GUESTS_SELF);
	pid = gt_pass(bk, 0, tok, sizeof tok);
	g = gt_new(&o);
	gt_start(g);
	gt_settle(g);
	scan_expect(g, 0, tok, "admit", "ok");
	snprintf(sql, sizeof sql,
	         "SELECT COUNT(*) FROM events WHERE decision = 'undone' AND reason = 'no_passage' "
	         "AND pass = %lld",
	         pid);
	gt_wait_int(g, sql, 1, 5000);
	snprintf(path + strlen(path), sizeof path - strlen(path), ".in.%lld", pid);
	assert_int_equal(stat(path, &sb), 0);
	/* undone: the pass is not inside, so it may enter again */
	snprintf(sql, sizeof sql, "SELECT inside FROM presence WHERE pass = %lld", pid);
	assert_int_equal(gt_int(g, sql), 0);
	scan_expect(g, 0, tok, "admit", "ok");
	gt_settle(g);
	assert_int_equal(
	    gt_server_int(
	        "SELECT COUNT(*) FROM gate_events WHERE gate = %lld AND decision = 'undone'",
	        g->id) >= 1,
	    1);
	gt_stop(g);
	gt_free(g);
}

/* ---- a revoked gate: 401, unsent scans kept, no admission after the grace ---- */
static void revoked_gate(void **state)
{
	struct gt_opts o = {.name = "Doomed", .dirs = {"in"}, .revoked_grace = "2s"};
	struct gt *g;
	char tok[PASS_TEXT_MAX + 1], id[32];
	long long bk;
	const char *res;

	(void)state;
	bk = gt_booking(9, "test-a", "chalet", 1, 2, HX_GUESTS_SELF);
	gt_pass(bk, 0, tok, sizeof tok);
	g = gt_new(&o);
	gt_start(g);
	gt_settle(g);
	snprintf(id, sizeof id, "%lld", g->id);
	if (gt_admin(&res, "gate", "revoke", id, NULL) != 0)
		fail_msg("gate revoke: %s", res);
	gt_sync_now(g);
	gt_wait_int(g, "SELECT CAST(value AS INTEGER) > 0 FROM meta WHERE key = 'revoked_at'", 1,
	            5000);
	/* within the grace: still admits; the scan stays queued (401) */
	scan_expect(g, 0, tok, "admit", "ok");
	hx_sleep_ms(2200);
	scan_expect(g, 0, tok, "deny", "gate_revoked");
	gt_sync_now(g);
	hx_sleep_ms(500);
	assert_int_equal(gt_int(g, "SELECT COUNT(*) FROM events WHERE sent = 0"), 2);
	assert_int_equal(gt_server_int("SELECT COUNT(*) FROM gate_events WHERE gate = %lld", g->id),
	                 0);
	/* a restart remembers it */
	gt_stop(g);
	gt_start(g);
	scan_expect(g, 0, tok, "deny", "gate_revoked");
	assert_int_equal(gt_int(g, "SELECT COUNT(*) FROM events WHERE sent = 0"), 3);
	gt_stop(g);
	gt_free(g);
}

/* ---- dead letters: events the server rejects are set aside, never sent again ---- */
static void dead_letters(void **state)
{
	struct gt_opts o = {.name = "Dead letters"};
	struct gt *g;
	char cmd[2048];
	long long before;

	(void)state;
	g = gt_new(&o);
	gt_start(g);
	gt_settle(g);
	scan_expect(g, 0, "noise", "deny", "bad_format");
	gt_settle(g);
	gt_stop(g);
	/* two events the server must reject (a clock two years back, an id that is not one), one
	 * the gate cannot even write as JSON (an id that is not UTF-8), one good */
	snprintf(cmd, sizeof cmd,
	         "sqlite3 %s \"INSERT INTO events(id, gate, pass, booking, direction, decision, "
	         "reason, at, local_at,"
	         " offline, note, reader) VALUES ('%s', %lld, 0, 0, 'in', 'deny', 'bad_format', "
	         "%lld, 0, 1, '', 'qr0'),"
	         " ('not-an-id', %lld, 0, 0, 'in', 'deny', 'bad_format', %lld, 0, 1, '', 'qr0'),"
	         " (CAST(X'ff6869' AS TEXT), %lld, 0, 0, 'in', 'deny', 'bad_format', %lld, 0, 1, "
	         "'', 'qr0'),"
	         " ('%s', %lld, 0, 0, 'in', 'deny', 'bad_format', %lld, 0, 1, '', 'qr0')\"",
	         g->db, "0123456789abcdef0123456789abcdef", g->id,
	         (long long)time(NULL) - 2 * 366 * 86400, g->id, (long long)time(NULL), g->id,
	         (long long)time(NULL), "fedcba9876543210fedcba9876543210", g->id,
	         (long long)time(NULL));
	assert_int_equal(system(cmd), 0);
	before = gt_server_int("SELECT COUNT(*) FROM gate_events WHERE gate = %lld", g->id);
	gt_start(g);
	gt_settle(g);
	assert_int_equal(gt_int(g, "SELECT COUNT(*) FROM dead_letter"), 3);
	assert_int_equal(gt_int(g, "SELECT COUNT(*) FROM events WHERE sent = 2"), 3);
	assert_int_equal(gt_int(g, "SELECT COUNT(*) FROM dead_letter WHERE error = 'unencodable'"),
	                 1);
	assert_int_equal(
	    gt_int(g,
	           "SELECT COUNT(*) FROM dead_letter WHERE id = 'not-an-id' AND error = 'bad_id'"),
	    1);
	assert_int_equal(gt_server_int("SELECT COUNT(*) FROM gate_events WHERE gate = %lld", g->id),
	                 before + 1);
	/* never again */
	gt_settle(g);
	assert_int_equal(gt_server_int("SELECT COUNT(*) FROM gate_events WHERE gate = %lld", g->id),
	                 before + 1);
	gt_stop(g);
	gt_free(g);
}

/* ---- configuration errors name the file and line ---- */
static void config_errors(void **state)
{
	char path[700], outb[4096];
	char *argv[] = {NULL, "-c", path, "--check-config", NULL};
	FILE *f;
	extern char gt_bin_path[];

	(void)state;
	argv[0] = gt_bin_path;
	snprintf(path, sizeof path, "%s/bad.conf", hx_dir(HX));
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(
	    f,
	    "[gate]\ncentre = test-a\ndatabase = x.db\ntoken_file = t\n[server]\nurl = http://x\n"
	    "[status]\nport = off\n[reader a]\nqr = /dev/null\ndirection = sideways\n");
	fclose(f);
	assert_int_equal(hx_exec(argv, NULL, outb, sizeof outb), 2);
	assert_non_null(strstr(outb, "bad.conf:11:"));
	assert_non_null(strstr(outb, "direction must be in, out or both"));
}

char gt_bin_path[512];

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(offline_decisions),  cmocka_unit_test(two_gates),
	    cmocka_unit_test(cancel_and_reissue), cmocka_unit_test(qr_pty),
	    cmocka_unit_test(status_page),        cmocka_unit_test(relay_sensor),
	    cmocka_unit_test(revoked_gate),       cmocka_unit_test(dead_letters),
	    cmocka_unit_test(config_errors),
	};
	const struct hx_opts opts = {.members = 12, .body_max = "1m"};

	if (argc < 4) {
		fprintf(stderr, "usage: %s estiva-server estiva-admin estiva-gate\n", argv[0]);
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	gt_set_binary(argv[3]);
	snprintf(gt_bin_path, sizeof gt_bin_path, "%s", argv[3]);
	return hx_main(argc, argv, &opts, "gate", tests, sizeof(tests) / sizeof(tests[0]));
}
