/* test_gate_clock.c: the gate's clock (docs/sync.md, "The gate's clock"; docs/gate.md, "Clock"),
 * against gate/clock.c without a server: the offset recorded from a server time, the warning beyond
 * skew_warn, decisions (and event stamps) with the server-corrected time beyond skew_correct, and a
 * clock reading more than a year before the last sync distrusted (last sync + monotonic elapsed).
 * The status page's JSON is read through the real status page (libmicrohttpd) on 127.0.0.1. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "gate.h"
#include "log.h"

#define YEAR (365LL * 86400)
#define PIN "2468"

static char tmpdir[256];
static unsigned char sk[64];
static struct gate gt;
static int db_counter;

static int setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	snprintf(tmpdir, sizeof tmpdir, "%s/estiva-gate-clock-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	log_set_level(LOG_ERR);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[400];

	(void)state;
	curl_global_cleanup();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A fresh gate: default skews, one key, one "in" reader, a store of its own. */
static int gate_setup(void **state)
{
	char err[256];
	struct pass_key k = {.id = 1};

	(void)state;
	memset(&gt, 0, sizeof gt);
	pthread_mutex_init(&gt.lock, NULL);
	pthread_mutex_init(&gt.scan_lock, NULL);
	gt.mono_base = clock_mono();
	gt.cfg.skew_warn = GATE_DEF_SKEW_WARN;
	gt.cfg.skew_correct = GATE_DEF_SKEW_CORRECT;
	gt.cfg.nreaders = 1;
	snprintf(gt.cfg.readers[0].name, sizeof gt.cfg.readers[0].name, "main");
	gt.cfg.readers[0].dir = DECIDE_DIR_IN;
	gt.cfg.policy = DECIDE_POLICY_OFF;
	gt.cfg.grace_minutes = 0;
	gt.cfg.kinds = DECIDE_KINDS_ALL;
	gt.cfg.download_interval = 60;
	gt.cfg.revoked_grace = GATE_DEF_REVOKED_GRACE;
	gt.cfg.session_ttl = GATE_DEF_SESSION_TTL;
	snprintf(gt.cfg.centre, sizeof gt.cfg.centre, "al-arz");
	snprintf(gt.centre, sizeof gt.centre, "al-arz");
	snprintf(gt.cfg.db_path, sizeof gt.cfg.db_path, "%s/gate%d.db", tmpdir, ++db_counter);
	gt.centre_number = 1;
	gt.gate_id = 1;
	crypto_sign_keypair(k.pk, sk);
	gt.keys[0] = k;
	gt.nkeys = 1;
	gt.scan_store = store_open(gt.cfg.db_path, 1, err, sizeof err);
	return gt.scan_store ? 0 : -1;
}

static int gate_teardown(void **state)
{
	(void)state;
	store_close(gt.scan_store);
	gt.scan_store = NULL;
	pthread_mutex_destroy(&gt.lock);
	pthread_mutex_destroy(&gt.scan_lock);
	return 0;
}

/* The gate learns that the server's clock reads `offset` seconds ahead of its own (negative:
 * behind), as from a sync answer received in an instant. */
static void observe_offset(struct gate *g, int64_t offset)
{
	double s = floor(clock_wall());

	/* the server's second s + offset (its middle: + 0.5) read at local s + 0.5: the offset */
	clock_observe(g, (int64_t)s + offset, s + 0.5, s + 0.5);
}

static int64_t now_of(struct gate *g, int *distrusted)
{
	int64_t t;

	pthread_mutex_lock(&g->lock);
	t = gate_now_locked(g, distrusted);
	pthread_mutex_unlock(&g->lock);
	return t;
}

/* |a - b| <= slack (seconds: the test itself takes some time) */
#define assert_near(a, b, slack)                                                                   \
	do {                                                                                       \
		int64_t a_ = (a), b_ = (b);                                                        \
		if (llabs(a_ - b_) > (slack))                                                      \
			fail_msg("%s = %lld, expected %lld (± %d)", #a, (long long)a_,             \
			         (long long)b_, (int)(slack));                                     \
	} while (0)

/* Scans a pass valid [from, until) (seconds, rounded to minutes) on reader 0. */
static void scan_pass(uint32_t id, int64_t from, int64_t until, struct decide_result *res)
{
	struct pass p;
	char tok[PASS_TEXT_MAX + 1];
	struct scan_input in;

	memset(&p, 0, sizeof p);
	p.version = PASS_VERSION;
	p.key_id = 1;
	p.pass_id = id;
	p.booking_id = id;
	p.centre = 1;
	p.kind = PASS_KIND_GUEST;
	p.valid_from = (uint32_t)(from / 60);
	p.valid_until = (uint32_t)(until / 60);
	assert_int_equal(pass_sign_text(&p, sk, tok, sizeof tok), PASS_OK);
	memset(&in, 0, sizeof in);
	in.text = tok;
	in.text_len = strlen(tok);
	memset(res, 0, sizeof *res);
	assert_int_equal(gate_scan(&gt, 0, &in, res), 0);
}

/* The latest recorded event (its `at` and `local_at`). */
static void latest_event(struct event *ev)
{
	assert_int_equal(store_recent(gt.scan_store, ev, 1), 1);
}

/* ---- (1) the offset is recorded and used only as documented ---- */
static void test_offset_recorded(void **state)
{
	int d = -1;
	int64_t wall;

	(void)state;
	/* never synced: local time, nothing recorded, trusted */
	wall = (int64_t)floor(clock_wall());
	assert_near(now_of(&gt, &d), wall, 1);
	assert_int_equal(d, 0);
	assert_int_equal(gt.have_offset, 0);

	/* server − local at the middle of the request: server second 1 000 100 read between local
	 * 1 000 000 and 1 000 002 → the server's clock is 100.5 − 1 = 99.5 s ahead */
	clock_observe(&gt, 1000100, 1000000.0, 1000002.0);
	assert_int_equal(gt.have_offset, 1);
	assert_true(fabs(gt.offset - 99.5) < 1e-9);
	assert_int_equal(gt.last_sync_server, 1000100);

	/* a later answer replaces it (a gate behind the server, then ahead of it) */
	clock_observe(&gt, 2000000, 2000010.0, 2000020.0);
	assert_true(fabs(gt.offset - (-14.5)) < 1e-9);
	assert_int_equal(gt.last_sync_server, 2000000);

	/* realistic: the server 30 s ahead; within skew_warn the gate keeps its own clock */
	observe_offset(&gt, 30);
	assert_true(fabs(gt.offset - 30) < 1e-9);
	assert_near(gt.last_sync_server, (int64_t)clock_wall() + 30, 2);
	assert_near(now_of(&gt, &d), (int64_t)clock_wall(), 1);
	assert_int_equal(d, 0);
	observe_offset(&gt, -90);
	assert_true(fabs(gt.offset - (-90)) < 1e-9);
	assert_near(gate_now(&gt), (int64_t)clock_wall(), 1);
}

/* ---- (3) beyond skew_correct: the server-corrected time ---- */
static void test_correct_threshold(void **state)
{
	int d = -1;

	(void)state;
	/* warned but not corrected: between skew_warn (120) and skew_correct (600) */
	observe_offset(&gt, 300);
	assert_near(now_of(&gt, &d), (int64_t)clock_wall(), 1);
	observe_offset(&gt, -590);
	assert_near(now_of(&gt, &d), (int64_t)clock_wall(), 1);
	/* just beyond: corrected, in both directions */
	observe_offset(&gt, 610);
	assert_near(now_of(&gt, &d), (int64_t)clock_wall() + 610, 2);
	assert_int_equal(d, 0);
	observe_offset(&gt, -610);
	assert_near(now_of(&gt, &d), (int64_t)clock_wall() - 610, 2);
	/* far off (a day, a month) */
	observe_offset(&gt, 86400);
	assert_near(gate_now(&gt), (int64_t)clock_wall() + 86400, 2);
	observe_offset(&gt, -30 * 86400);
	assert_near(gate_now(&gt), (int64_t)clock_wall() - 30 * 86400, 2);
	assert_int_equal(d, 0);
	/* back in line: the gate's own clock again */
	observe_offset(&gt, 5);
	assert_near(gate_now(&gt), (int64_t)clock_wall(), 1);

	/* the thresholds are the configuration's */
	gt.cfg.skew_warn = 10;
	gt.cfg.skew_correct = 20;
	observe_offset(&gt, 60);
	assert_near(gate_now(&gt), (int64_t)clock_wall() + 60, 2);
	gt.cfg.skew_correct = 3600;
	assert_near(gate_now(&gt), (int64_t)clock_wall(), 1);
}

/* Decisions and event stamps with the corrected time. */
static void test_correct_decides(void **state)
{
	struct decide_result res;
	struct event ev;
	int64_t server, local;

	(void)state;
	/* the gate's clock is 2 h behind the server's: a pass valid from (server's) 10 min ago is
	 * "not yet valid" by the gate's clock, admitted by the corrected time */
	observe_offset(&gt, 7200);
	server = (int64_t)clock_wall() + 7200;
	local = (int64_t)clock_wall();
	scan_pass(1, server - 600, server + 3600, &res);
	assert_int_equal(res.verdict, DECIDE_ADMIT);
	assert_int_equal(res.reason, DECIDE_OK);
	latest_event(&ev);
	assert_int_equal(ev.kind, EVENT_ADMIT);
	assert_near(ev.at, server, 2);      /* stamped with the corrected time */
	assert_near(ev.local_at, local, 2); /* the raw clock kept beside it */

	/* a pass that ended (server's time) 30 min ago is still "valid" by the gate's clock, 2 h
	 * behind: refused as expired */
	scan_pass(2, server - 3 * 3600, server - 1800, &res);
	assert_int_equal(res.verdict, DECIDE_DENY);
	assert_int_equal(res.reason, DECIDE_EXPIRED);

	/* the gate's clock is 2 h ahead: a pass ending (server's time) in 30 min is "expired" by
	 * the gate's clock, admitted by the corrected time */
	observe_offset(&gt, -7200);
	server = (int64_t)clock_wall() - 7200;
	scan_pass(3, server - 3600, server + 1800, &res);
	assert_int_equal(res.verdict, DECIDE_ADMIT);
	assert_int_equal(res.reason, DECIDE_OK);
	latest_event(&ev);
	assert_near(ev.at, server, 2);
	/* ... and one starting (server's time) in an hour is "valid" by the gate's clock, refused
	 */
	scan_pass(4, server + 3600, server + 5 * 3600, &res);
	assert_int_equal(res.verdict, DECIDE_DENY);
	assert_int_equal(res.reason, DECIDE_NOT_YET_VALID);

	/* below skew_correct the gate's own clock decides: the server 5 min ahead, a pass valid
	 * from (server's) 2 min ago is not yet valid by the gate's clock */
	observe_offset(&gt, 300);
	server = (int64_t)clock_wall() + 300;
	scan_pass(5, server - 120, server + 3600, &res);
	assert_int_equal(res.verdict, DECIDE_DENY);
	assert_int_equal(res.reason, DECIDE_NOT_YET_VALID);
	latest_event(&ev);
	assert_near(ev.at, (int64_t)clock_wall(), 2);
}

/* ---- (4) a clock more than a year before the last sync is distrusted ---- */
static void test_distrust(void **state)
{
	struct decide_result res;
	struct event ev;
	int d = -1;
	int64_t wall, last;

	(void)state;
	/* last sync (after a restart, from the store: no offset yet) 400 days after the gate's
	 * clock; the gate started 42 s ago by the monotonic clock */
	wall = (int64_t)floor(clock_wall());
	last = wall + 400 * 86400;
	gt.last_sync_server = last;
	gt.mono_base = clock_mono() - 42;
	assert_near(now_of(&gt, &d), last + 42, 1);
	assert_int_equal(d, 1);
	/* the monotonic clock counts, not the wall clock */
	gt.mono_base -= 1000;
	assert_near(now_of(&gt, &d), last + 1042, 1);
	assert_int_equal(d, 1);

	/* a year to the day is not yet "more than a year": trusted (and not corrected: no offset)
	 */
	gt.last_sync_server = wall + YEAR - 60;
	assert_near(now_of(&gt, &d), (int64_t)clock_wall(), 1);
	assert_int_equal(d, 0);
	/* never synced: nothing to compare with */
	gt.last_sync_server = 0;
	assert_near(now_of(&gt, &d), (int64_t)clock_wall(), 1);
	assert_int_equal(d, 0);

	/* a sync answer with the server two years ahead (a dead RTC battery): distrusted at once,
	 * counting from that answer by the monotonic clock, whatever the offset says */
	observe_offset(&gt, 2 * YEAR);
	last = gt.last_sync_server;
	assert_near(last, (int64_t)clock_wall() + 2 * YEAR, 2);
	assert_near(now_of(&gt, &d), last, 1);
	assert_int_equal(d, 1);
	gt.mono_base -= 500; /* 500 s elapsed since that answer, the wall clock stood still */
	assert_near(now_of(&gt, &d), last + 500, 1);
	assert_int_equal(d, 1);

	/* decisions use it: a pass valid around the trusted time is admitted, one valid around the
	 * gate's wrong clock is expired */
	scan_pass(10, last - 3600, last + 3600, &res);
	assert_int_equal(res.verdict, DECIDE_ADMIT);
	latest_event(&ev);
	assert_near(ev.at, last + 500, 2);
	assert_near(ev.local_at, (int64_t)clock_wall(), 2);
	wall = (int64_t)clock_wall();
	scan_pass(11, wall - 3600, wall + 3600, &res);
	assert_int_equal(res.verdict, DECIDE_DENY);
	assert_int_equal(res.reason, DECIDE_EXPIRED);

	/* the clock is set right again (the next answer agrees): trusted again */
	observe_offset(&gt, 0);
	assert_near(now_of(&gt, &d), (int64_t)clock_wall(), 1);
	assert_int_equal(d, 0);
}

/* ---- (1), (2), (4) on the status page: /status.json after logging in ---- */
struct body {
	char data[256 * 1024];
	size_t len;
};

static size_t on_body(char *p, size_t size, size_t n, void *user)
{
	struct body *b = user;
	size_t k = size * n;

	if (b->len + k >= sizeof b->data)
		return 0;
	memcpy(b->data + b->len, p, k);
	b->len += k;
	b->data[b->len] = '\0';
	return k;
}

/* Logs in (a new session each time: the session's expiry follows the gate's time, which the test
 * moves) and returns the "sync" object of /status.json (the caller decrefs the whole state). */
static json_t *status_state(json_t **state)
{
	static struct body b;
	char url[128], pre[65], cookie[100], form[160];
	CURL *c = curl_easy_init();
	long code = 0;
	json_t *s;

	assert_non_null(c);
	randombytes_buf(url, 32);
	sodium_bin2hex(pre, sizeof pre, (unsigned char *)url, 32);
	snprintf(cookie, sizeof cookie, "gate_pre=%s", pre);
	snprintf(form, sizeof form, "pre=%s&pin=%s", pre, PIN);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/login", gt.http_port);
	b.len = 0;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_COOKIEFILE, "");
	curl_easy_setopt(c, CURLOPT_COOKIE, cookie);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	assert_true(code == 302 || code == 303);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/status.json", gt.http_port);
	b.len = 0;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	assert_int_equal(code, 200);
	curl_easy_cleanup(c);
	*state = json_loadb(b.data, b.len, 0, NULL);
	assert_non_null(*state);
	s = json_object_get(*state, "sync");
	assert_true(json_is_object(s));
	return s;
}

static void expect_status(int has_offset, double offset, int warning, int corrected, int distrusted)
{
	json_t *state, *s = status_state(&state), *o = json_object_get(s, "clock_offset_s");

	if (has_offset) {
		assert_true(json_is_number(o));
		if (fabs(json_number_value(o) - offset) > 0.05)
			fail_msg("clock_offset_s %.1f, expected %.1f", json_number_value(o),
			         offset);
	} else {
		assert_true(json_is_null(o));
	}
	assert_int_equal(json_is_true(json_object_get(s, "clock_warning")), warning);
	assert_int_equal(json_is_true(json_object_get(s, "clock_corrected")), corrected);
	assert_int_equal(json_is_true(json_object_get(s, "clock_distrusted")), distrusted);
	json_decref(state);
}

static void test_status(void **state)
{
	char err[256];
	int64_t wall;

	(void)state;
	assert_int_equal(crypto_pwhash_str(gt.cfg.pin_hash, PIN, strlen(PIN),
	                                   crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN),
	                 0);
	snprintf(gt.cfg.listen, sizeof gt.cfg.listen, "127.0.0.1");
	gt.cfg.port = 0;
	assert_int_equal(status_start(&gt, err, sizeof err), 0);

	expect_status(0, 0, 0, 0, 0); /* never synced: no offset shown */
	observe_offset(&gt, 30);
	expect_status(1, 30, 0, 0, 0); /* shown, no warning */
	observe_offset(&gt, -45);
	expect_status(1, -45, 0, 0, 0);
	observe_offset(&gt, 300);
	expect_status(1, 300, 1, 0, 0); /* beyond skew_warn: warns */
	observe_offset(&gt, -300);
	expect_status(1, -300, 1, 0, 0);
	observe_offset(&gt, 7200);
	expect_status(1, 7200, 1, 1, 0); /* beyond skew_correct: warns, corrects */
	observe_offset(&gt, -7200);
	expect_status(1, -7200, 1, 1, 0);
	observe_offset(&gt, 2 * YEAR); /* more than a year before the last sync: says so */
	expect_status(1, 2.0 * YEAR, 1, 1, 1);
	observe_offset(&gt, 0);
	expect_status(1, 0, 0, 0, 0); /* back in line */

	/* after a restart: no offset yet, the last sync (from the store) 400 days ahead */
	gt.have_offset = 0;
	gt.offset = 0;
	wall = (int64_t)clock_wall();
	gt.last_sync_server = wall + 400 * 86400;
	expect_status(0, 0, 0, 0, 1);
	status_stop(&gt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_offset_recorded, gate_setup, gate_teardown),
	    cmocka_unit_test_setup_teardown(test_correct_threshold, gate_setup, gate_teardown),
	    cmocka_unit_test_setup_teardown(test_correct_decides, gate_setup, gate_teardown),
	    cmocka_unit_test_setup_teardown(test_distrust, gate_setup, gate_teardown),
	    cmocka_unit_test_setup_teardown(test_status, gate_setup, gate_teardown),
	};

	return cmocka_run_group_tests_name("gate_clock", tests, setup, teardown);
}
