/* test_gate_once.c: exactly once. Scans pile up while the server is down; then the gate is killed
 * with SIGKILL at random moments of its sync, many times over, and restarted; the server is killed
 * the same way during uploads. At the end every scan the gate recorded is on the server exactly
 * once (the server's gate_events compared id by id with the gate's events), and the gate's queue is
 * empty. argv: estiva-server estiva-admin estiva-gate. */
#include <dirent.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gate_harness.h"

#define SCANS 300
#define KILLS 8

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
		return;
	snprintf(port, sizeof port, "\nport = %d\n", hx_port(HX));
	f = fopen(hx_conf_path(HX), "w");
	assert_non_null(f);
	fwrite(buf, 1, (size_t)(p - buf), f);
	fputs(port, f);
	fputs(p + strlen("\nport = 0\n"), f);
	assert_int_equal(fclose(f), 0);
}

/* The running estiva-server of the harness: the child whose command line names its configuration.
 */
static pid_t server_pid(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = -1;

	assert_non_null(d);
	while ((e = readdir(d)) && found < 0) {
		char path[300], cmd[4096];
		size_t n;
		FILE *f;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		n = fread(cmd, 1, sizeof cmd - 1, f);
		fclose(f);
		cmd[n] = '\0';
		for (size_t i = 0; i + 1 < n; i++)
			if (!cmd[i])
				cmd[i] = ' ';
		if (strstr(cmd, "estiva-server") && strstr(cmd, hx_conf_path(HX)) &&
		    !strstr(cmd, "estiva-admin"))
			found = (pid_t)strtol(e->d_name, NULL, 10);
	}
	closedir(d);
	return found;
}

/* Every id of the gate's events is on the server once, and the server has no other of this gate. */
static void check_exactly_once(struct gt *g)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long long n = 0;

	/* attach the server's database read-only beside the gate's and compare the sets */
	{
		char sql[2048];

		snprintf(sql, sizeof sql,
		         "ATTACH DATABASE 'file:%s?mode=ro' AS gate; ATTACH DATABASE "
		         "'file:%s?mode=ro' AS srv;",
		         g->db, hx_db_path(HX));
		assert_int_equal(
		    sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI, NULL),
		    SQLITE_OK);
		sqlite3_busy_timeout(db, 5000);
		if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
			fail_msg("attach: %s", sqlite3_errmsg(db));
		snprintf(
		    sql, sizeof sql,
		    "SELECT (SELECT COUNT(*) FROM gate.events),"
		    " (SELECT COUNT(*) FROM srv.gate_events WHERE gate = %lld),"
		    " (SELECT COUNT(*) FROM gate.events e JOIN srv.gate_events s ON s.id = e.id "
		    "AND s.gate = %lld"
		    "   AND s.seq = e.seq AND s.decision = e.decision AND s.reason = e.reason),"
		    " (SELECT COUNT(*) FROM gate.events WHERE sent <> 1)",
		    g->id, g->id);
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		n = sqlite3_column_int64(st, 0);
		if (n < SCANS || sqlite3_column_int64(st, 1) != n ||
		    sqlite3_column_int64(st, 2) != n || sqlite3_column_int64(st, 3) != 0)
			fail_msg("gate %lld events, server %lld, matching %lld, unsent %lld", n,
			         (long long)sqlite3_column_int64(st, 1),
			         (long long)sqlite3_column_int64(st, 2),
			         (long long)sqlite3_column_int64(st, 3));
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
}

static void kill_during_sync(void **state)
{
	struct gt_opts o = {.name = "Killed", .dirs = {"in"}, .batch = 7, .policy = "off"};
	char tok[PASS_TEXT_MAX + 1];
	struct gt *g;
	long long bk;
	unsigned seed = (unsigned)time(NULL);

	(void)state;
	fprintf(stderr, "exactly-once: seed %u\n", seed);
	srand(seed);
	pin_server_port();
	bk = gt_booking(1, "test-a", "chalet", 1, 2, HX_GUESTS_SELF);
	gt_pass(bk, 0, tok, sizeof tok);
	g = gt_new(&o);
	gt_start(g);
	gt_settle(g);

	/* the scans pile up offline */
	assert_int_equal(hx_stop(HX), 0);
	for (int i = 0; i < SCANS; i++)
		gt_type(g, 0, i % 3 ? tok : "noise", -1);
	gt_wait_int(g, "SELECT COUNT(*) FROM events", SCANS, 20000);
	assert_int_equal(hx_start(HX), 0);

	/* the gate dies at random moments of its uploads (small batches: many round trips) */
	for (int k = 0; k < KILLS; k++) {
		gt_sync_now(g);
		hx_sleep_ms(20 + rand() % 150);
		gt_kill9(g);
		gt_start(g);
	}
	/* and the server dies under it a few times */
	for (int k = 0; k < 3; k++) {
		gt_sync_now(g);
		hx_sleep_ms(30 + rand() % 120);
		assert_int_equal(hx_stop(HX), 0);
		hx_sleep_ms(100);
		assert_int_equal(hx_start(HX), 0);
	}
	/* and kill -9 of the server itself during an upload */
	{
		pid_t pid = server_pid();

		assert_true(pid > 0);
		gt_sync_now(g);
		hx_sleep_ms(40);
		kill(pid, SIGKILL);
		hx_stop(HX); /* reaps it */
		assert_int_equal(hx_start(HX), 0);
	}
	gt_settle(g);
	check_exactly_once(g);
	gt_stop(g);
	gt_free(g);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(kill_during_sync)};
	const struct hx_opts opts = {.members = 4, .body_max = "64k"};

	if (argc < 4) {
		fprintf(stderr, "usage: %s estiva-server estiva-admin estiva-gate\n", argv[0]);
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	gt_set_binary(argv[3]);
	return hx_main(argc, argv, &opts, "gate_once", tests, sizeof(tests) / sizeof(tests[0]));
}
