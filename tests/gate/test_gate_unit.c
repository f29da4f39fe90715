/* test_gate_unit.c: the gate's own pieces without a server: QR line splitting, command splitting,
 * configuration errors with file:line, Retry-After and back-off, instants, the store (scans,
 * presence, undone, pages, sent, dead letters), and the decision time with its durable write on 100
 * 000 local passes (printed only: timings are bench/gate's, not a test's). */
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
#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "date.h"
#include "gate.h"
#include "log.h"

static char tmpdir[256];

static int setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	snprintf(tmpdir, sizeof tmpdir, "%s/estiva-gate-unit-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	log_set_level(LOG_WARN);
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[400];

	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- QR lines ---- */
struct got {
	int n;
	char lines[8][GATE_LINE_MAX + 1];
	size_t len[8];
	int too_long[8];
};

static void on_line(void *user, const char *line, size_t len, int too_long)
{
	struct got *g = user;

	if (g->n < 8) {
		memcpy(g->lines[g->n], line, len);
		g->lines[g->n][len] = '\0';
		g->len[g->n] = len;
		g->too_long[g->n] = too_long;
	}
	g->n++;
}

static void test_qr_lines(void **state)
{
	static struct qr_lines q;
	static struct got g;
	static char big[3000];

	(void)state;
	memset(&q, 0, sizeof q);
	memset(&g, 0, sizeof g);
	qr_lines_feed(&q, "EV1:AB", 6, on_line, &g);
	assert_int_equal(g.n, 0);
	qr_lines_feed(&q, "C\r\n\n\rnext\n", 10, on_line, &g);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.lines[0], "EV1:ABC");
	assert_string_equal(g.lines[1], "next");
	/* exactly GATE_LINE_MAX is a line; one more is too long, reported once at its end */
	memset(&g, 0, sizeof g);
	memset(big, 'x', sizeof big);
	qr_lines_feed(&q, big, GATE_LINE_MAX, on_line, &g);
	qr_lines_feed(&q, "\n", 1, on_line, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.len[0], GATE_LINE_MAX);
	assert_false(g.too_long[0]);
	qr_lines_feed(&q, big, sizeof big, on_line, &g);
	qr_lines_feed(&q, big, sizeof big, on_line, &g);
	assert_int_equal(g.n, 1);
	qr_lines_feed(&q, "\nok\n", 4, on_line, &g);
	assert_int_equal(g.n, 3);
	assert_true(g.too_long[1]);
	assert_string_equal(g.lines[2], "ok");
	assert_false(g.too_long[2]);
}

/* ---- commands and configuration ---- */
static void test_split_cmd(void **state)
{
	struct gate_cmd c;

	(void)state;
	assert_int_equal(config_split_cmd("/usr/bin/gpioset  --mode=time gpiochip0 17=1", &c), 0);
	assert_int_equal(c.argc, 4);
	assert_string_equal(c.argv[0], "/usr/bin/gpioset");
	assert_string_equal(c.argv[3], "17=1");
	assert_null(c.argv[4]);
	assert_int_equal(config_split_cmd("say \"two words\" a\\ b '$HOME' ;rm", &c), 0);
	assert_int_equal(c.argc, 5);
	assert_string_equal(c.argv[1], "two words");
	assert_string_equal(c.argv[2], "a b");
	assert_string_equal(c.argv[3], "'$HOME'"); /* no shell: nothing expands */
	assert_string_equal(c.argv[4], ";rm");
	assert_int_equal(config_split_cmd("unbalanced \"quote", &c), -1);
	assert_int_equal(config_split_cmd("   ", &c), -1);
	assert_int_equal(config_split_cmd("trailing\\", &c), -1);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void test_config(void **state)
{
	static struct gate_config cfg;
	char path[400], err[512];
	static const struct {
		const char *text, *want;
	} bad[] = {
	    {"[gate]\ncentre = Al Arz\n", ":2: centre must be"},
	    {"[gate]\ncentre = x\n[rules]\nanti_passback = maybe\n",
	     ":4: anti_passback must be strict, warn or off"},
	    {"[gate]\ncentre = x\n[reader a]\nqr = ttyUSB0\n", ":4: qr wants a device path"},
	    {"[gate]\ncentre = x\n[reader a]\nqr = /dev/x\nnfc = pn532_uart:/dev/y\n",
	     ":5: a reader is either qr or nfc"},
	    {"[reader a]\nqr = /dev/x\n[reader a]\nqr = /dev/y\n", ":3: a second [reader a]"},
	    {"[reader A]\nqr = /dev/x\n", ":1: [reader NAME]"},
	    {"[relay]\ncommand = \"oops\n", ":2: command: not a command"},
	    {"[sync]\nbatch = 501\n", ":2: batch must be a whole number from 1 to 500"},
	    {"[status]\npin_hash = 1234\n", ":2: pin_hash must come from"},
	    {"[nonsense]\nx = 1\n", ":2: unknown section [nonsense]"},
	    {"[gate]\ncolour = red\n", ":2: unknown setting \"colour\" in [gate]"},
	    {"[gate]\ncentre = x\ndatabase = d\ntoken_file = t\n[server]\nurl = http://h\n",
	     "pin_hash is required"},
	    {"[gate]\ncentre = x\ndatabase = d\ntoken_file = t\n[server]\nurl = "
	     "http://h\n[status]\nport = off\n[reader q]\ndirection = in\n",
	     "[reader q] needs qr"},
	};

	(void)state;
	snprintf(path, sizeof path, "%s/g.conf", tmpdir);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		write_file(path, bad[i].text);
		if (config_read(path, &cfg, err, sizeof err) == 0 || !strstr(err, bad[i].want))
			fail_msg("case %zu: got \"%s\", wanted \"%s\"", i, err, bad[i].want);
	}
	/* the shipped examples are valid */
	assert_int_equal(
	    config_read(ESTIVA_SOURCE_DIR "/config/gate/estiva-gate.conf", &cfg, err, sizeof err),
	    0);
	assert_int_equal(cfg.nreaders, 3);
	assert_int_equal(cfg.readers[2].type, READER_NFC);
	assert_int_equal(cfg.readers[1].dir, DECIDE_DIR_OUT);
	assert_int_equal(cfg.grace_minutes, 30);
	assert_int_equal(cfg.relay.argc, 5);
	assert_int_equal(
	    config_read(ESTIVA_SOURCE_DIR "/config/gate/demo.conf", &cfg, err, sizeof err), 0);
	assert_int_equal(cfg.readers[0].dir, DECIDE_DIR_BOTH);
}

/* ---- sync helpers ---- */
static void test_retry_after(void **state)
{
	int64_t now = 1800000000; /* 2027-01-15T08:00:00Z */

	(void)state;
	assert_int_equal(sync_retry_after("3", now), 3);
	assert_int_equal(sync_retry_after("0", now), 0);
	assert_int_equal(sync_retry_after("999999999", now), 86400);
	assert_int_equal(sync_retry_after("Fri, 15 Jan 2027 08:00:30 GMT", now), 30);
	assert_int_equal(sync_retry_after("Fri, 15 Jan 2027 07:00:00 GMT", now), 0);
	assert_int_equal(sync_retry_after("soon", now), -1);
	assert_int_equal(sync_retry_after("-5", now), -1);
	assert_int_equal(sync_retry_after("", now), -1);
	assert_int_equal(sync_retry_after(NULL, now), -1);
	for (int f = 1; f < 20; f++)
		for (int k = 0; k < 50; k++) {
			int64_t d = sync_backoff_ms(f, 300),
			        base = f >= 10 ? 300000 : (int64_t)1000 << (f - 1);

			if (base > 300000)
				base = 300000;
			assert_true(d >= base / 2 && d <= base);
		}
}

static void test_instants(void **state)
{
	int64_t t;

	(void)state;
	assert_int_equal(instant_parse("2027-02-01T15:02:09Z", &t), 0);
	assert_int_equal(t, 1801494129);
	/* the one strict parser (shared/date.c) the server uses too: no fraction, no second 60,
	 * real dates */
	assert_int_equal(instant_parse("2027-02-01T15:02:09.250Z", &t), -1);
	assert_int_equal(instant_parse("2027-02-01T15:02:60Z", &t), -1);
	assert_int_equal(instant_parse("2027-02-31T15:02:09Z", &t), -1);
	assert_int_equal(instant_parse("1970-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(instant_parse("2027-02-01 15:02:09Z", &t), -1);
	assert_int_equal(instant_parse("2027-02-01T15:02:09", &t), -1);
	assert_int_equal(instant_parse("2027-13-01T15:02:09Z", &t), -1);
	assert_int_equal(instant_parse("2027-02-01T15:02:09Zjunk", &t), -1);
	assert_int_equal(instant_parse(NULL, &t), -1);
}

/* ---- the store ---- */
static void test_store(void **state)
{
	char path[400], err[256];
	struct store *st;
	struct event ev, evs[8];
	struct decide_lookup lk;
	struct store_counts c;
	struct decide_pass_row row;
	struct pass_key keys[4];
	int inside = -1;
	char ids[2][33];
	json_t *page;
	int64_t now = 1800000000;

	(void)state;
	snprintf(path, sizeof path, "%s/store.db", tmpdir);
	st = store_open(path, 1, err, sizeof err);
	assert_non_null(st);
	store_lookup(st, &lk);
	/* a page: keys, a pass, a revocation, another gate's entry of pass 18 and our own (ignored)
	 */
	page = json_loads(
	    "{\"cursor\":\"p9.e3\",\"more\":false,\"centre\":{\"id\":\"al-arz\",\"number\":1,"
	    "\"name_fr\":\"Centre Al Arz\",\"name_ar\":\"مركز الأرز\"},"
	    "\"keys\":[{\"id\":1,\"public_key\":"
	    "\"0000000000000000000000000000000000000000000000000000000000000001\",\"valid_until\":"
	    "null},"
	    "{\"id\":300,\"public_key\":\"00\"}],"
	    "\"passes\":[{\"id\":17,\"booking\":5,\"guest\":0,\"guest_name\":\"Karim\",\"unit\":"
	    "\"B01\",\"kind\":\"guest\","
	    "\"valid_from\":\"2027-01-14T14:00:00Z\",\"valid_until\":\"2027-01-17T10:00:00Z\","
	    "\"nfc_uid\":\"04A1B2C3D4E5F6\","
	    "\"status\":\"active\"},{\"id\":-1}],"
	    "\"revocations\":[{\"pass\":12,\"until\":\"2027-01-20T10:00:00Z\",\"reason\":"
	    "\"cancelled\"}],"
	    "\"events\":[{\"id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"gate\":4,\"pass\":18,"
	    "\"direction\":\"in\",\"decision\":"
	    "\"admit\",\"at\":\"2027-01-15T07:00:00Z\"},"
	    "{\"id\":\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\",\"gate\":3,\"pass\":19,\"direction\":"
	    "\"in\",\"decision\":\"admit\","
	    "\"at\":\"2027-01-15T07:00:00Z\"},"
	    "{\"id\":\"cccccccccccccccccccccccccccccccc\",\"gate\":4,\"pass\":20,\"direction\":"
	    "\"sideways\",\"decision\":"
	    "\"admit\",\"at\":\"2027-01-15T07:00:00Z\"}]}",
	    0, NULL);
	assert_non_null(page);
	assert_int_equal(store_apply_page(st, page, 3, now), 0);
	json_decref(page);
	assert_int_equal(store_keys_load(st, keys, 4), 1);
	assert_int_equal(keys[0].id, 1);
	assert_int_equal(lk.pass_row(lk.user, 17, &row), 1);
	assert_string_equal(row.guest_name, "Karim");
	assert_int_equal(row.nfc_uid_len, 7);
	assert_int_equal(lk.pass_row(lk.user, 99, &row), 0);
	assert_int_equal(lk.revoked(lk.user, 12), 1);
	assert_int_equal(lk.revoked(lk.user, 17), 0);
	assert_int_equal(lk.presence(lk.user, 18, &inside), 1);
	assert_int_equal(inside, 1);
	assert_int_equal(lk.presence(lk.user, 19, &inside), 0); /* our own gate's: not applied */
	assert_int_equal(lk.presence(lk.user, 20, &inside), 0);
	{
		char cur[32];

		assert_int_equal(store_meta_get(st, "cursor", cur, sizeof cur), 1);
		assert_string_equal(cur, "p9.e3");
	}

	/* our scans: admit in, undone (back out), admit again, a denial; ids random, seq monotonic
	 */
	memset(&ev, 0, sizeof ev);
	ev.gate = 3;
	ev.pass = 17;
	ev.dir = DECIDE_DIR_IN;
	ev.kind = EVENT_ADMIT;
	ev.at = now;
	assert_int_equal(store_record(st, &ev), 0);
	assert_int_equal(strlen(ev.id), 32);
	assert_int_equal(lk.presence(lk.user, 17, &inside), 1);
	assert_int_equal(inside, 1);
	snprintf(ids[0], 33, "%s", ev.id);
	ev.kind = EVENT_UNDONE;
	ev.reason = DECIDE_NO_PASSAGE;
	assert_int_equal(store_record(st, &ev), 0);
	assert_int_equal(lk.presence(lk.user, 17, &inside), 1);
	assert_int_equal(inside, 0);
	ev.kind = EVENT_DENY;
	ev.reason = DECIDE_BAD_FORMAT;
	ev.pass = 0;
	assert_int_equal(store_record(st, &ev), 0);
	snprintf(ids[1], 33, "%s", ev.id);
	/* another gate's entry, older than our admission and its undone, arrives late: in time
	 * order it is the entry, then ours (while inside), then the undone that cancels ours, so
	 * the entry stands (the presence rule of shared/event.h, the server's: an undone admission
	 * is cancelled, not a movement back) */
	page = json_loads("{\"cursor\":\"p9.e4\",\"events\":[{\"id\":"
	                  "\"dddddddddddddddddddddddddddddddd\",\"gate\":4,\"pass\":17,"
	                  "\"direction\":\"in\","
	                  "\"decision\":\"admit\",\"at\":\"2027-01-15T06:00:00Z\"}]}",
	                  0, NULL);
	assert_int_equal(store_apply_page(st, page, 3, now), 0);
	json_decref(page);
	assert_int_equal(lk.presence(lk.user, 17, &inside), 1);
	assert_int_equal(inside, 1);

	assert_int_equal(store_unsent(st, evs, 8), 3);
	assert_true(evs[0].seq < evs[1].seq && evs[1].seq < evs[2].seq);
	assert_string_equal(evs[0].id, ids[0]);
	assert_int_equal(evs[1].kind, EVENT_UNDONE);
	assert_int_equal(store_mark_sent(st, ids, 1), 1);
	assert_int_equal(store_mark_sent(st, ids, 1), 0);
	assert_int_equal(store_dead_letter(st, ids[1], "bad_time"), 0);
	assert_int_equal(store_unsent(st, evs, 8), 1);
	assert_int_equal(evs[0].kind, EVENT_UNDONE);
	assert_int_equal(store_counts(st, now, &c), 0);
	assert_int_equal(c.queue, 1);
	assert_int_equal(c.dead, 1);
	assert_int_equal(c.inside, 2); /* passes 18 and 17, each entered at another gate */
	assert_int_equal(c.passes, 1);
	store_close(st);
}

/* ---- the decision time, durable write included, on 100 000 local passes ---- */
static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void test_latency(void **state)
{
	enum { PASSES = 100000, SCANS = 2000 };
	static struct gate g;
	static char tokens[SCANS][PASS_TEXT_MAX + 1];
	static double ms[SCANS];
	unsigned char pk[32], sk[64];
	char path[400], err[256];
	sqlite3 *db;
	sqlite3_stmt *ins;
	struct pass p;
	struct decide_result res;
	int64_t now = time(NULL);
	double t0, verify_s, sum = 0;
	int admitted = 0;

	(void)state;
	snprintf(path, sizeof path, "%s/latency.db", tmpdir);
	g.scan_store = store_open(path, 1, err, sizeof err);
	assert_non_null(g.scan_store);
	crypto_sign_keypair(pk, sk);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	assert_int_equal(sqlite3_prepare_v2(db,
	                                    "INSERT INTO passes VALUES (?, ?, 0, 'Guest', 'B01', "
	                                    "'guest', ?, ?, NULL, 'active')",
	                                    -1, &ins, NULL),
	                 SQLITE_OK);
	for (int i = 1; i <= PASSES; i++) {
		sqlite3_reset(ins);
		sqlite3_bind_int(ins, 1, i);
		sqlite3_bind_int(ins, 2, i);
		sqlite3_bind_int64(ins, 3, now / 60 - 60);
		sqlite3_bind_int64(ins, 4, now / 60 + 3 * 1440);
		assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
	}
	sqlite3_finalize(ins);
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	/* tokens for SCANS random passes */
	for (int i = 0; i < SCANS; i++) {
		memset(&p, 0, sizeof p);
		p.version = PASS_VERSION;
		p.key_id = 1;
		p.pass_id = 1 + randombytes_uniform(PASSES);
		p.booking_id = p.pass_id;
		p.centre = 1;
		p.kind = PASS_KIND_GUEST;
		p.valid_from = (uint32_t)(now / 60 - 60);
		p.valid_until = (uint32_t)(now / 60 + 3 * 1440);
		assert_int_equal(pass_sign_text(&p, sk, tokens[i], sizeof tokens[i]), PASS_OK);
	}
	/* the raw verify rate of this machine, for comparison */
	{
		struct pass_key k = {.id = 1};

		memcpy(k.pk, pk, 32);
		t0 = clock_mono();
		for (int i = 0; i < SCANS; i++)
			assert_int_equal(pass_verify_text(tokens[i], strlen(tokens[i]), &k, 1, &p),
			                 PASS_OK);
		verify_s = clock_mono() - t0;
		g.keys[0] = k;
		g.nkeys = 1;
	}

	pthread_mutex_init(&g.lock, NULL);
	pthread_mutex_init(&g.scan_lock, NULL);
	g.cfg.nreaders = 1;
	snprintf(g.cfg.readers[0].name, sizeof g.cfg.readers[0].name, "bench");
	g.cfg.readers[0].dir = DECIDE_DIR_BOTH;
	g.cfg.policy = DECIDE_POLICY_STRICT;
	g.cfg.grace_minutes = 30;
	g.cfg.kinds = DECIDE_KINDS_ALL;
	g.cfg.download_interval = 60;
	g.centre_number = 1;
	g.gate_id = 1;
	for (int i = 0; i < SCANS; i++) {
		struct scan_input in = {.text = tokens[i], .text_len = strlen(tokens[i])};

		t0 = clock_mono();
		assert_int_equal(gate_scan(&g, 0, &in, &res), 0);
		ms[i] = (clock_mono() - t0) * 1000;
		sum += ms[i];
		admitted += res.verdict == DECIDE_ADMIT;
	}
	qsort(ms, SCANS, sizeof ms[0], cmp);
	fprintf(
	    stderr,
	    "decision with durable write (synchronous=FULL), %d local passes, %d scans: mean %.3f "
	    "ms, p50 %.3f ms,"
	    " p99 %.3f ms, max %.3f ms; %.0f decisions/s; raw Ed25519 verify %.0f/s (%.1f us)\n",
	    PASSES, SCANS, sum / SCANS, ms[SCANS / 2], ms[SCANS * 99 / 100], ms[SCANS - 1],
	    SCANS / (sum / 1000), SCANS / verify_s, verify_s / SCANS * 1e6);
	assert_int_equal(admitted, SCANS); /* "both": in, then out, then in... */
	/* the figure is printed, not asserted: tests check behaviour, bench/gate measures speed */
	(void)ESTIVA_LATENCY_SLACK;
	store_close(g.scan_store);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_qr_lines), cmocka_unit_test(test_split_cmd),
	    cmocka_unit_test(test_config),   cmocka_unit_test(test_retry_after),
	    cmocka_unit_test(test_instants), cmocka_unit_test(test_store),
	    cmocka_unit_test(test_latency),
	};

	return cmocka_run_group_tests_name("gate_unit", tests, setup, teardown);
}
