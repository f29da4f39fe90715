/* gate_harness.c: see gate_harness.h. */
#define _GNU_SOURCE
#include "gate_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define OUT_MAX 65536
#define START_TIMEOUT_MS 10000

static char gate_bin[512];
static char out[OUT_MAX];
static int gate_seq;

void gt_set_binary(const char *path)
{
	snprintf(gate_bin, sizeof gate_bin, "%s", path);
}

/* ---- the server's side ---- */

int gt_admin(const char **o, const char *a1, ...)
{
	char *argv[16] = {(char *)hx_admin_path(HX), "-c", (char *)hx_conf_path(HX)};
	int n = 3, rc;
	va_list ap;
	const char *a;

	va_start(ap, a1);
	for (a = a1; a && n < 15; a = va_arg(ap, const char *))
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	rc = hx_exec(argv, NULL, out, sizeof out);
	if (o)
		*o = out;
	return rc;
}

long long gt_booking(int member, const char *centre, const char *type, int arrival, int nights,
                     const char *guests)
{
	char num[16], id[32];
	struct hc *c = hc_login_ok(hx_member(member, num, sizeof num));
	struct hres r;
	long long bid;

	hc_book(c, centre, type, arrival, arrival + nights, guests, &r);
	EXPECT(r, 201, NULL);
	bid = jint(r.json, "id");
	hres_free(&r);
	hc_free(c);
	snprintf(id, sizeof id, "%lld", bid);
	if (gt_admin(NULL, "confirm", id, NULL) != 0)
		fail_msg("estiva-admin confirm %s: %s", id, out);
	return bid;
}

long long gt_pass(long long booking, int guest, char *token, size_t n)
{
	char sql[256], idtxt[32];
	long long id = 0;

	snprintf(sql, sizeof sql,
	         "SELECT id FROM passes WHERE booking = %lld AND guest = %d AND status = 'active'",
	         booking, guest);
	assert_int_equal(hx_db_int(sql, &id), 0);
	snprintf(idtxt, sizeof idtxt, "%lld", id);
	assert_int_equal(hx_db_text("SELECT token FROM passes WHERE id = ?", idtxt, token, n), 0);
	return id;
}

static void server_sk(unsigned char sk[64])
{
	char path[700], hex[200];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof path, "%s/keys/pass-signing-1.key", hx_dir(HX));
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(hex, sizeof hex, f));
	fclose(f);
	hex[strcspn(hex, "\r\n")] = '\0';
	assert_int_equal(sodium_hex2bin(sk, 64, hex, strlen(hex), NULL, &n, NULL), 0);
	assert_int_equal(n, 64);
}

void gt_sign_text(struct pass *p, char *o, size_t n)
{
	unsigned char sk[64];

	server_sk(sk);
	p->key_id = 1;
	assert_int_equal(pass_sign_text(p, sk, o, n), PASS_OK);
}

void gt_sign_bin(struct pass *p, unsigned char *o, size_t cap, size_t *n)
{
	unsigned char sk[64];

	server_sk(sk);
	p->key_id = 1;
	assert_int_equal(pass_sign_bin(p, sk, o, cap, n), PASS_OK);
}

void gt_parse(const char *token, struct pass *p)
{
	assert_int_equal(pass_parse_text(token, strlen(token), p), PASS_OK);
}

/* ---- databases ---- */

static int query_int(const char *path, const char *sql, long long *v)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		goto out;
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "gate test: %s: %s\n", sql, sqlite3_errmsg(db));
		goto out;
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		*v = sqlite3_column_int64(st, 0);
		rc = 0;
	}
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

long long gt_int(struct gt *g, const char *sql)
{
	long long v = -1;

	if (query_int(g->db, sql, &v) < 0)
		fail_msg("gate db: %s failed", sql);
	return v;
}

void gt_wait_int(struct gt *g, const char *sql, long long want, long timeout_ms)
{
	long long v = -1;

	for (long t = 0; t <= timeout_ms; t += 50) {
		if (query_int(g->db, sql, &v) == 0 && v == want)
			return;
		hx_sleep_ms(50);
	}
	gt_dump_log(g);
	fail_msg("gate db: %s = %lld, wanted %lld", sql, v, want);
}

long long gt_server_int(const char *fmt, ...)
{
	char sql[2048];
	long long v = -1;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	if (hx_db_int(sql, &v) != 0)
		fail_msg("server db: %s failed", sql);
	return v;
}

void gt_wait_server_int(const char *sql, long long want, long timeout_ms)
{
	long long v = -1;

	for (long t = 0; t <= timeout_ms; t += 50) {
		if (query_int(hx_db_path(HX), sql, &v) == 0 && v == want)
			return;
		hx_sleep_ms(50);
	}
	fail_msg("server db: %s = %lld, wanted %lld", sql, v, want);
}

int gt_last_event(struct gt *g, struct gt_event *ev)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = -1;

	memset(ev, 0, sizeof(*ev));
	if (sqlite3_open_v2(g->db, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		goto out;
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_prepare_v2(db,
	                       "SELECT seq, pass, decision, reason, direction, id FROM events "
	                       "ORDER BY seq DESC LIMIT 1",
	                       -1, &st, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_step(st) == SQLITE_ROW) {
		ev->seq = sqlite3_column_int64(st, 0);
		ev->pass = sqlite3_column_int64(st, 1);
		snprintf(ev->decision, sizeof ev->decision, "%s",
		         (const char *)sqlite3_column_text(st, 2));
		snprintf(ev->reason, sizeof ev->reason, "%s",
		         (const char *)sqlite3_column_text(st, 3));
		snprintf(ev->direction, sizeof ev->direction, "%s",
		         (const char *)sqlite3_column_text(st, 4));
		snprintf(ev->id, sizeof ev->id, "%s", (const char *)sqlite3_column_text(st, 5));
		rc = 0;
	}
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

void gt_dump_log(struct gt *g)
{
	char buf[8192];
	FILE *f = fopen(g->log, "r");
	size_t n;
	long size;

	if (!f)
		return;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, size > (long)sizeof buf - 1 ? size - (long)sizeof buf + 1 : 0, SEEK_SET);
	n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	fprintf(stderr, "---- %s (tail) ----\n%s---- end ----\n", g->log, buf);
}

/* ---- the gate ---- */

static void new_pty(struct gt *g, int i)
{
	int m, s;
	struct termios tio;
	char name[128];

	assert_int_equal(openpty(&m, &s, name, NULL, NULL), 0);
	tcgetattr(s, &tio);
	cfmakeraw(&tio);
	tcsetattr(s, TCSANOW, &tio);
	/* keep our own slave fd open: without one the master reads EIO whenever the gate closes it
	 */
	fcntl(m, F_SETFD, FD_CLOEXEC);
	fcntl(s, F_SETFD, FD_CLOEXEC);
	g->master[i] = m;
	unlink(g->link[i]);
	assert_int_equal(symlink(name, g->link[i]), 0);
	/* the slave fd leaks on purpose until gt_free (closing it is harmless either way) */
	(void)s;
}

static void write_conf(struct gt *g, const struct gt_opts *o, const char *url)
{
	FILE *f = fopen(g->conf, "w");

	assert_non_null(f);
	fprintf(
	    f,
	    "[gate]\ncentre = %s\nname = %s\ndatabase = %s\ntoken_file = %s\nlog_level = debug\n\n",
	    o->centre ? o->centre : "test-a", o->name ? o->name : "Gate", g->db, g->token);
	fprintf(f, "[server]\nurl = %s\ntimeout = 5s\n\n", url);
	fprintf(f,
	        "[sync]\nupload_interval = 1s\ndownload_interval = 1s\nbackoff_max = 2s\nbatch = "
	        "%d\n\n",
	        o->batch ? o->batch : 200);
	fprintf(f, "[rules]\nanti_passback = %s\ngrace = 3d\nrevoked_grace = %s\n\n",
	        o->policy ? o->policy : "strict", o->revoked_grace ? o->revoked_grace : "1h");
	for (int i = 0; i < g->nqr; i++)
		fprintf(f, "[reader qr%d]\nqr = %s\ndirection = %s\n\n", i, g->link[i], o->dirs[i]);
	if (o->nfc)
		fprintf(f, "[reader nfc]\nnfc = %s\ndirection = in\n\n", o->nfc);
	if (o->relay || o->sensor)
		fprintf(f, "[relay]\ncommand = %s\ntimeout = 2s\n%s%s\nsensor_timeout = 1s\n\n",
		        o->relay ? o->relay : "true", o->sensor ? "sensor = " : "",
		        o->sensor ? o->sensor : "");
	/* PIN 4711 */
	fprintf(f, "[status]\nlisten = 127.0.0.1\nport = 0\npin_hash = "
	           "$argon2id$v=19$m=8192,t=3,p=1$1vFIYKjf1OL3wlEDjUqvOA$"
	           "yGifjeisEa9zRb8bnFasWaBV5h/byfWgEZOlt94VRno\n\n");
	if (o->extra)
		fprintf(f, "%s\n", o->extra);
	assert_int_equal(fclose(f), 0);
}

struct gt *gt_new(const struct gt_opts *o)
{
	struct gt *g = calloc(1, sizeof(*g));
	const char *name = o->name ? o->name : "Gate";
	const char *res;
	char code[64];
	const char *p;

	assert_non_null(g);
	g->pid = -1;
	snprintf(g->dir, sizeof g->dir, "%s/gate%d", hx_dir(HX), ++gate_seq);
	assert_int_equal(mkdir(g->dir, 0700), 0);
	snprintf(g->conf, sizeof g->conf, "%s/gate.conf", g->dir);
	snprintf(g->db, sizeof g->db, "%s/gate.db", g->dir);
	snprintf(g->token, sizeof g->token, "%s/token", g->dir);
	snprintf(g->log, sizeof g->log, "%s/gate.log", g->dir);
	snprintf(g->port_file, sizeof g->port_file, "%s/port", g->dir);
	for (int i = 0; i < GT_READERS && (o->dirs[i] || (i == 0 && !o->nfc)); i++) {
		snprintf(g->link[i], sizeof g->link[i], "%s/qr%d", g->dir, i);
		g->nqr++;
	}
	{
		struct gt_opts oo = *o;

		if (!oo.dirs[0] && g->nqr)
			oo.dirs[0] = "in";
		for (int i = 0; i < g->nqr; i++)
			new_pty(g, i);
		write_conf(g, &oo, hx_url(HX));
		if (!o->no_enroll) {
			char *argv[] = {gate_bin,           "-c", g->conf, "enroll",
			                (char *)hx_url(HX), code, NULL};

			if (gt_admin(&res, "gate", "add", "--centre",
			             o->centre ? o->centre : "test-a", "--name", name, NULL) != 0)
				fail_msg("gate add: %s", res);
			assert_int_equal(sscanf(res, "gate %lld", &g->id), 1);
			p = strstr(res, "\ncode ");
			assert_non_null(p);
			snprintf(code, sizeof code, "%.*s", (int)strcspn(p + 6, "\n"), p + 6);
			if (hx_exec(argv, NULL, out, sizeof out) != 0)
				fail_msg("estiva-gate enroll: %s", out);
		}
		if (o->url)
			write_conf(g, &oo, o->url);
	}
	return g;
}

void gt_free(struct gt *g)
{
	if (!g)
		return;
	if (g->pid > 0)
		gt_kill9(g);
	for (int i = 0; i < g->nqr; i++)
		if (g->master[i] > 0)
			close(g->master[i]);
	free(g);
}

void gt_start(struct gt *g)
{
	char *argv[] = {gate_bin, "-c", g->conf, "--port-file", g->port_file, NULL};
	long t;

	unlink(g->port_file);
	g->pid = fork();
	assert_true(g->pid >= 0);
	if (g->pid == 0) {
		int fd = open(g->log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		close(fd);
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0)
			dup2(fd, 0);
		setenv("LIBNFC_AUTO_SCAN", "false", 1);
		setenv("LIBNFC_INTRUSIVE_SCAN", "false", 1);
		execv(argv[0], argv);
		_exit(127);
	}
	for (t = 0; t < START_TIMEOUT_MS; t += 20) {
		FILE *f = fopen(g->port_file, "r");
		int st;

		if (f) {
			int ok = fscanf(f, "%d", &g->port) == 1;

			fclose(f);
			if (ok && g->port > 0)
				break;
		}
		if (waitpid(g->pid, &st, WNOHANG) == g->pid) {
			g->pid = -1;
			gt_dump_log(g);
			fail_msg("estiva-gate exited at start");
		}
		hx_sleep_ms(20);
	}
	if (t >= START_TIMEOUT_MS) {
		gt_dump_log(g);
		fail_msg("estiva-gate did not start");
	}
	/* the readers open their devices right after the status page */
	hx_sleep_ms(100);
}

void gt_stop(struct gt *g)
{
	int st = 0;

	if (g->pid <= 0)
		return;
	{
		/* the gate's peak memory, for the record */
		char path[64], line[256];
		FILE *f;

		snprintf(path, sizeof path, "/proc/%d/status", (int)g->pid);
		f = fopen(path, "r");
		while (f && fgets(line, sizeof line, f))
			if (!strncmp(line, "VmHWM:", 6))
				fprintf(stderr, "gate %lld peak memory: %s", g->id, line + 6);
		if (f)
			fclose(f);
	}
	kill(g->pid, SIGTERM);
	for (int t = 0; t < 15000; t += 20) {
		if (waitpid(g->pid, &st, WNOHANG) == g->pid) {
			g->pid = -1;
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				gt_dump_log(g);
				fail_msg("estiva-gate stopped with status %d", st);
			}
			return;
		}
		hx_sleep_ms(20);
	}
	gt_dump_log(g);
	gt_kill9(g);
	fail_msg("estiva-gate did not stop on SIGTERM");
}

void gt_kill9(struct gt *g)
{
	if (g->pid <= 0)
		return;
	kill(g->pid, SIGKILL);
	while (waitpid(g->pid, NULL, 0) < 0 && errno == EINTR)
		;
	g->pid = -1;
}

void gt_sync_now(struct gt *g)
{
	if (g->pid > 0)
		kill(g->pid, SIGUSR1);
}

void gt_type(struct gt *g, int i, const char *line, long len)
{
	size_t n = len < 0 ? strlen(line) : (size_t)len, done = 0;

	assert_true(i < g->nqr);
	while (done < n) {
		ssize_t w = write(g->master[i], line + done, n - done);

		if (w < 0 && errno == EINTR)
			continue;
		assert_true(w > 0);
		done += (size_t)w;
	}
	assert_int_equal(write(g->master[i], "\n", 1), 1);
}

void gt_scan(struct gt *g, int reader, const char *line, struct gt_event *ev)
{
	struct gt_event before;
	int had = gt_last_event(g, &before) == 0;

	gt_type(g, reader, line, -1);
	for (int t = 0; t < 5000; t += 5) {
		if (gt_last_event(g, ev) == 0 && (!had || ev->seq > before.seq))
			return;
		hx_sleep_ms(5);
	}
	gt_dump_log(g);
	fail_msg("no decision for a scan on reader %d", reader);
}

void gt_settle(struct gt *g)
{
	long long before = 0, now;

	query_int(g->db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'cycles'", &before);
	/* a whole cycle that started after this call: the counter moves by two */
	for (int t = 0; t < 15000; t += 20) {
		if (t % 500 == 0)
			gt_sync_now(g);
		now = -1;
		if (query_int(g->db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'cycles'",
		              &now) == 0 &&
		    now >= before + 2 &&
		    gt_int(g, "SELECT COUNT(*) FROM events WHERE sent = 0") == 0)
			return;
		hx_sleep_ms(20);
	}
	gt_dump_log(g);
	fail_msg("the gate did not settle its sync");
}
