/*
 * bench/gate: the gate's figures (issue 5, docs/performance.md "Gate"), in one run:
 *   1. decisions per second and p50/p99/max decision time WITH the durable scan write
 *      (gate_scan() of estiva-gate-core on a synchronous=FULL store holding 100 000 passes), beside
 *      the raw Ed25519 verify rate (crypto_sign_verify_detached) of the same run;
 *   2. time and bytes for the real estiva-gate to upload 100 000 queued events to a real
 *      estiva-server over loopback (until the server's gate_events holds them all);
 *   3. time and bytes for it to download 100 000 passes (until the gate's passes table holds them);
 *   4. the estiva-gate process's peak memory (VmHWM).
 * Bytes are counted on the wire by a small TCP relay between the gate and the server.
 * Not a test: it fails only when something breaks, never because something is slow.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "gate.h"
#include "log.h"
#include "pass.h"

#ifndef ESTIVA_SERVER_BIN
#define ESTIVA_SERVER_BIN "estiva-server"
#endif
#ifndef ESTIVA_ADMIN_BIN
#define ESTIVA_ADMIN_BIN "estiva-admin"
#endif
#ifndef ESTIVA_GATE_BIN
#define ESTIVA_GATE_BIN "estiva-gate"
#endif

#define GUESTS 4 /* passes per booking */
#define TZ_NAME "Africa/Casablanca"

struct opts {
	int passes, scans, events, keep;
	const char *server, *admin, *gate, *dir;
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void msleep(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static const char *verdict(int ok)
{
	return ok ? "PASS" : "FAIL";
}

/* ---- 1. decisions, in process ---- */

static void fill_pass(struct pass *p, uint32_t id, int64_t now)
{
	memset(p, 0, sizeof(*p));
	p->version = PASS_VERSION;
	p->key_id = 1;
	p->pass_id = id;
	p->booking_id = (id + GUESTS - 1) / GUESTS;
	p->centre = 1;
	p->guest = (uint8_t)((id - 1) % GUESTS);
	p->kind = PASS_KIND_GUEST;
	p->valid_from = (uint32_t)(now / 60 - 60);
	p->valid_until = (uint32_t)(now / 60 + 3 * 1440);
}

static int bench_decisions(const struct opts *o, const char *dir)
{
	static struct gate g;
	char path[1200], err[256];
	unsigned char pk[32], sk[64];
	char(*tokens)[PASS_TEXT_MAX + 1] = calloc((size_t)o->passes, sizeof(*tokens));
	unsigned char(*bins)[PASS_BIN_MAX] = calloc((size_t)o->passes, sizeof(*bins));
	size_t *binlen = calloc((size_t)o->passes, sizeof(*binlen));
	double *ms = calloc((size_t)o->scans, sizeof(double));
	int64_t now = time(NULL);
	sqlite3 *db = NULL;
	sqlite3_stmt *ins = NULL;
	struct pass p;
	struct decide_result res;
	double t0, sign_s, verify_s, total = 0;
	int admitted = 0, rc = -1, bad = 0;
	struct rusage ru;

	if (!tokens || !bins || !binlen || !ms)
		goto out;
	snprintf(path, sizeof path, "%s/decide.db", dir);
	g.scan_store = store_open(path, 1, err, sizeof err);
	if (!g.scan_store) {
		fprintf(stderr, "store_open: %s\n", err);
		goto out;
	}
	crypto_sign_keypair(pk, sk);
	/* the local rows, as a download would write them */
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(
	        db,
	        "INSERT INTO passes VALUES (?, ?, ?, 'Guest', 'A001', 'guest', ?, ?, "
	        "NULL, 'active')",
	        -1, &ins, NULL) != SQLITE_OK) {
		fprintf(stderr, "local passes: %s\n", sqlite3_errmsg(db));
		goto out;
	}
	for (int i = 1; i <= o->passes; i++) {
		fill_pass(&p, (uint32_t)i, now);
		sqlite3_reset(ins);
		sqlite3_bind_int(ins, 1, i);
		sqlite3_bind_int(ins, 2, (int)p.booking_id);
		sqlite3_bind_int(ins, 3, p.guest);
		sqlite3_bind_int64(ins, 4, p.valid_from);
		sqlite3_bind_int64(ins, 5, p.valid_until);
		if (sqlite3_step(ins) != SQLITE_DONE)
			goto out;
	}
	sqlite3_finalize(ins);
	ins = NULL;
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto out;
	sqlite3_close(db);
	db = NULL;

	/* every pass signed, as text (what a QR code holds) and binary (for the raw verify) */
	t0 = mono();
	for (int i = 0; i < o->passes; i++) {
		fill_pass(&p, (uint32_t)i + 1, now);
		if (pass_sign_text(&p, sk, tokens[i], sizeof tokens[i]) != PASS_OK ||
		    pass_sign_bin(&p, sk, bins[i], sizeof bins[i], &binlen[i]) != PASS_OK)
			goto out;
	}
	sign_s = mono() - t0;
	t0 = mono();
	for (int i = 0; i < o->passes; i++) {
		size_t m = binlen[i] - PASS_SIG_LEN;

		bad += crypto_sign_verify_detached(bins[i] + m, bins[i], m, pk) != 0;
	}
	verify_s = mono() - t0;
	if (bad) {
		fprintf(stderr, "%d signatures did not verify\n", bad);
		goto out;
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
	g.keys[0].id = 1;
	memcpy(g.keys[0].pk, pk, 32);
	g.nkeys = 1;
	for (int i = 0; i < o->scans; i++) {
		const char *t = tokens[randombytes_uniform((uint32_t)o->passes)];
		struct scan_input in = {.text = t, .text_len = strlen(t)};

		t0 = mono();
		if (gate_scan(&g, 0, &in, &res) != 0)
			goto out;
		ms[i] = (mono() - t0) * 1000;
		total += ms[i];
		admitted += res.verdict == DECIDE_ADMIT;
	}
	qsort(ms, (size_t)o->scans, sizeof ms[0], cmp_double);
	{
		double p99 = ms[(o->scans * 99) / 100];

		printf("  %d passes signed in %.2f s (%.0f/s)\n", o->passes, sign_s,
		       o->passes / sign_s);
		printf("  raw Ed25519 verify (crypto_sign_verify_detached), %d passes: %.0f/s "
		       "(%.1f us each)\n",
		       o->passes, o->passes / verify_s, verify_s / o->passes * 1e6);
		printf(
		    "  gate_scan() with its durable write (synchronous=FULL), %d scans of random "
		    "passes: %.0f decisions/s\n",
		    o->scans, o->scans / (total / 1000));
		printf("    mean %.3f ms, p50 %.3f ms, p99 %.3f ms, max %.3f ms; %d admitted "
		       "(reader \"both\": in, out, in...)\n",
		       total / o->scans, ms[o->scans / 2], p99, ms[o->scans - 1], admitted);
		printf("  target p99 < 5 ms: %s\n", verdict(p99 < 5.0));
	}
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		printf(
		    "  (this bench process's own peak so far, with %d tokens in memory: %ld KiB)\n",
		    o->passes, ru.ru_maxrss);
	rc = admitted == o->scans ? 0 : -1;
	if (rc)
		fprintf(stderr, "only %d of %d scans admitted\n", admitted, o->scans);
out:
	sqlite3_finalize(ins);
	sqlite3_close(db);
	if (g.scan_store)
		store_close(g.scan_store);
	free(tokens);
	free(bins);
	free(binlen);
	free(ms);
	return rc;
}

/* ---- a counting relay between the gate and the server ---- */

static atomic_ullong up_bytes, down_bytes, relay_conns;
static unsigned relay_target;
static int relay_fd = -1;

static void *relay_conn(void *arg)
{
	int a = (int)(intptr_t)arg, b = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char buf[65536];

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)relay_target);
	if (b < 0 || connect(b, (struct sockaddr *)&sa, sizeof sa) != 0)
		goto out;
	for (;;) {
		struct pollfd pf[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};

		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			ssize_t n, done = 0;

			if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(pf[i].fd, buf, sizeof buf);
			if (n <= 0)
				goto out;
			atomic_fetch_add(i == 0 ? &up_bytes : &down_bytes, (unsigned long long)n);
			while (done < n) {
				ssize_t w = write(i == 0 ? b : a, buf + done, (size_t)(n - done));

				if (w <= 0)
					goto out;
				done += w;
			}
		}
	}
out:
	close(a);
	if (b >= 0)
		close(b);
	return NULL;
}

static void *relay_main(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept(relay_fd, NULL, NULL);
		pthread_t t;

		if (c < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		atomic_fetch_add(&relay_conns, 1);
		if (pthread_create(&t, NULL, relay_conn, (void *)(intptr_t)c) != 0)
			close(c);
		else
			pthread_detach(t);
	}
}

static int relay_start(unsigned target, unsigned *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof sa;
	pthread_t t;

	relay_target = target;
	relay_fd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (relay_fd < 0 || bind(relay_fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    listen(relay_fd, 16) != 0 || getsockname(relay_fd, (struct sockaddr *)&sa, &len) != 0 ||
	    pthread_create(&t, NULL, relay_main, NULL) != 0)
		return -1;
	pthread_detach(t);
	*port = ntohs(sa.sin_port);
	return 0;
}

/* ---- the server's side ---- */

static int admin(const struct opts *o, const struct fixture *f, const char *log, const char *a1,
                 const char *a2, const char *a3, const char *a4, const char *a5, const char *in)
{
	char conf[1200];
	char *argv[] = {(char *)o->admin, "-c",       conf,       (char *)a1, (char *)a2,
	                (char *)a3,       (char *)a4, (char *)a5, NULL};
	int st = -1;

	snprintf(conf, sizeof conf, "%s/estiva-server.conf", f->dir);
	if (run_program(argv, in, log, &st) != 0 || st != 0) {
		fprintf(stderr, "estiva-admin %s failed (%d)\n", a1, st);
		print_tail(log, 15);
		return -1;
	}
	return 0;
}

static int64_t local_minutes(int64_t day, int minutes)
{
	char d[11];
	struct tm tm = {0};

	date_format(day, d);
	sscanf(d, "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	tm.tm_hour = minutes / 60;
	tm.tm_min = minutes % 60;
	tm.tm_isdst = -1;
	return (int64_t)mktime(&tm) / 60;
}

static int read_sk(const char *dir, unsigned char sk[64])
{
	char path[1200], hex[200];
	size_t n = 0;
	FILE *fp;

	snprintf(path, sizeof path, "%s/keys/pass-signing-1.key", dir);
	fp = fopen(path, "r");
	if (!fp || !fgets(hex, sizeof hex, fp)) {
		if (fp)
			fclose(fp);
		return -1;
	}
	fclose(fp);
	hex[strcspn(hex, "\r\n")] = '\0';
	return sodium_hex2bin(sk, 64, hex, strlen(hex), NULL, &n, NULL) == 0 && n == 64 ? 0 : -1;
}

#define SQL_OK(x)                                                                                  \
	do {                                                                                       \
		if ((x) != SQLITE_OK) {                                                            \
			fprintf(stderr, "server db: %s: %s\n", #x, sqlite3_errmsg(db));            \
			goto out;                                                                  \
		}                                                                                  \
	} while (0)

/*
 * Confirmed bookings and their passes, written into the server's database while it is stopped, as
 * server/booking.c (a hold: bookings + booking_nights) followed by confirmation and
 * server/passes.c issue_one() (passes signed with the server's own key 1, signing_keys
 * last_valid_until) would leave them; the migration-4 triggers fill the change feed.
 */
static int seed_passes(const struct fixture *f, int npasses, int64_t first_day)
{
	char path[1200], arr[11], dep[11];
	unsigned char sk[64];
	sqlite3 *db = NULL;
	sqlite3_stmt *units = NULL, *bk = NULL, *bn = NULL, *ps = NULL, *tok = NULL;
	int64_t now = time(NULL), from, until, member = 0, centre_number = 0;
	int nbookings = (npasses + GUESTS - 1) / GUESTS, made = 0, rc = -1;
	static const char *const names[GUESTS] = {"Karim", "Salma", "Youssef", "Nadia"};

	snprintf(path, sizeof path, "%s/estiva.db", f->dir);
	if (read_sk(f->dir, sk) != 0) {
		fprintf(stderr, "cannot read the server's signing key 1\n");
		return -1;
	}
	setenv("TZ", TZ_NAME, 1);
	tzset();
	date_format(first_day, arr);
	date_format(first_day + 1, dep);
	from = local_minutes(first_day, 15 * 60);
	until = local_minutes(first_day + 1, 11 * 60);
	SQL_OK(sqlite3_open(path, &db));
	sqlite3_busy_timeout(db, 5000);
	SQL_OK(sqlite3_exec(db, "PRAGMA foreign_keys=ON; BEGIN IMMEDIATE", NULL, NULL, NULL));
	{
		sqlite3_stmt *s;

		SQL_OK(
		    sqlite3_prepare_v2(db,
		                       "SELECT (SELECT MIN(id) FROM members), (SELECT number FROM "
		                       "centres WHERE id = 'bench')",
		                       -1, &s, NULL));
		if (sqlite3_step(s) == SQLITE_ROW) {
			member = sqlite3_column_int64(s, 0);
			centre_number = sqlite3_column_int64(s, 1);
		}
		sqlite3_finalize(s);
		if (!member || !centre_number) {
			fprintf(stderr, "server db: no member or no centre number\n");
			goto out;
		}
	}
	SQL_OK(
	    sqlite3_prepare_v2(db,
	                       "SELECT u.id, u.unit_type FROM units u JOIN unit_types t ON t.id = "
	                       "u.unit_type WHERE t.centre = 'bench' ORDER BY u.id",
	                       -1, &units, NULL));
	SQL_OK(sqlite3_prepare_v2(
	    db,
	    "INSERT INTO bookings(member, centre, unit_type, unit, arrival, departure, guests, "
	    "nguests, status, hold_expires_at, amount, currency, created_at, updated_at, "
	    "confirmed_at) VALUES (?, 'bench', ?, ?, ?, ?, ?, ?, 'confirmed', NULL, 120000, 'MAD', "
	    "?, "
	    "?, ?) RETURNING id",
	    -1, &bk, NULL));
	SQL_OK(sqlite3_prepare_v2(
	    db, "INSERT INTO booking_nights(unit, night, unit_type, booking) VALUES (?, ?, ?, ?)",
	    -1, &bn, NULL));
	SQL_OK(
	    sqlite3_prepare_v2(db,
	                       "INSERT INTO passes(booking, guest, guest_name, kind, key_id, "
	                       "valid_from, valid_until, token, status, replaces, created_at) "
	                       "VALUES (?, ?, ?, ?, 1, ?, ?, '', 'active', NULL, ?) RETURNING id",
	                       -1, &ps, NULL));
	SQL_OK(sqlite3_prepare_v2(db, "UPDATE passes SET token = ? WHERE id = ?", -1, &tok, NULL));
	while (made < nbookings && sqlite3_step(units) == SQLITE_ROW) {
		int64_t unit = sqlite3_column_int64(units, 0),
		        type = sqlite3_column_int64(units, 1);
		int64_t bid;
		int ng = npasses - made * GUESTS < GUESTS ? npasses - made * GUESTS : GUESTS;

		sqlite3_reset(bk);
		sqlite3_bind_int64(bk, 1, member);
		sqlite3_bind_int64(bk, 2, type);
		sqlite3_bind_int64(bk, 3, unit);
		sqlite3_bind_text(bk, 4, arr, -1, SQLITE_STATIC);
		sqlite3_bind_text(bk, 5, dep, -1, SQLITE_STATIC);
		sqlite3_bind_text(
		    bk, 6,
		    "[{\"name\":\"Karim Rush\",\"relation\":\"member\"},"
		    "{\"name\":\"Salma Rush\",\"relation\":\"spouse\"},"
		    "{\"name\":\"Youssef Rush\",\"relation\":\"child\",\"birth_year\":2015},"
		    "{\"name\":\"Nadia Rush\",\"relation\":\"child\",\"birth_year\":2018}]",
		    -1, SQLITE_STATIC);
		sqlite3_bind_int(bk, 7, GUESTS);
		sqlite3_bind_int64(bk, 8, now);
		sqlite3_bind_int64(bk, 9, now);
		sqlite3_bind_int64(bk, 10, now);
		if (sqlite3_step(bk) != SQLITE_ROW)
			break;
		bid = sqlite3_column_int64(bk, 0);
		sqlite3_reset(bk);
		sqlite3_reset(bn);
		sqlite3_bind_int64(bn, 1, unit);
		sqlite3_bind_int64(bn, 2, first_day);
		sqlite3_bind_int64(bn, 3, type);
		sqlite3_bind_int64(bn, 4, bid);
		if (sqlite3_step(bn) != SQLITE_DONE)
			break;
		for (int gi = 0; gi < ng; gi++) {
			struct pass p;
			char token[PASS_TEXT_MAX + 1];
			int64_t pid;

			sqlite3_reset(ps);
			sqlite3_bind_int64(ps, 1, bid);
			sqlite3_bind_int(ps, 2, gi);
			sqlite3_bind_text(ps, 3, names[gi], -1, SQLITE_STATIC);
			sqlite3_bind_int(ps, 4, PASS_KIND_GUEST);
			sqlite3_bind_int64(ps, 5, from);
			sqlite3_bind_int64(ps, 6, until);
			sqlite3_bind_int64(ps, 7, now);
			if (sqlite3_step(ps) != SQLITE_ROW)
				goto step_fail;
			pid = sqlite3_column_int64(ps, 0);
			sqlite3_reset(ps);
			memset(&p, 0, sizeof p);
			p.version = PASS_VERSION;
			p.key_id = 1;
			p.pass_id = (uint32_t)pid;
			p.booking_id = (uint32_t)bid;
			p.centre = (uint16_t)centre_number;
			p.guest = (uint8_t)gi;
			p.kind = PASS_KIND_GUEST;
			p.valid_from = (uint32_t)from;
			p.valid_until = (uint32_t)until;
			if (pass_sign_text(&p, sk, token, sizeof token) != PASS_OK)
				goto out;
			sqlite3_reset(tok);
			sqlite3_bind_text(tok, 1, token, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(tok, 2, pid);
			if (sqlite3_step(tok) != SQLITE_DONE)
				goto step_fail;
		}
		made++;
	}
	if (made < nbookings) {
	step_fail:
		fprintf(stderr, "server db: booking %d of %d: %s\n", made + 1, nbookings,
		        sqlite3_errmsg(db));
		goto out;
	}
	{
		char sql[200];

		snprintf(
		    sql, sizeof sql,
		    "UPDATE signing_keys SET last_valid_until = MAX(last_valid_until, %lld) WHERE "
		    "id = 1; COMMIT",
		    (long long)until);
		SQL_OK(sqlite3_exec(db, sql, NULL, NULL, NULL));
	}
	rc = 0;
out:
	sqlite3_finalize(units);
	sqlite3_finalize(bk);
	sqlite3_finalize(bn);
	sqlite3_finalize(ps);
	sqlite3_finalize(tok);
	if (rc)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
	sodium_memzero(sk, sizeof sk);
	return rc;
}

static long long db_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long long v = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
		sqlite3_busy_timeout(db, 2000);
		if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static long vm_kib(pid_t pid, const char *field)
{
	char path[64], line[256];
	long v = -1;
	size_t n = strlen(field);
	FILE *fp;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	fp = fopen(path, "r");
	while (fp && fgets(line, sizeof line, fp))
		if (!strncmp(line, field, n) && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	if (fp)
		fclose(fp);
	return v;
}

static pid_t spawn(char *const argv[], const char *log)
{
	pid_t pid = fork();

	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY),
		    out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static int bench_sync(const struct opts *o, const char *dir)
{
	struct fixture f;
	char err[512], log[1200], gdir[1120], gconf[1200], gdb[1200], gtoken[1200], glog[1200];
	char sdb[1200], url[128], code[256] = "";
	unsigned port = 0, rport = 0;
	int spid = -1, st, rc = -1;
	pid_t gpid = -1;
	double took;

	memset(&f, 0, sizeof f);
	snprintf(f.dir, sizeof f.dir, "%s/server", dir);
	f.members = 1;
	f.units = 2000; /* the catalog allows at most 2000 units per type */
	f.connections = 4;
	f.threads = 2;
	f.walk.nights = 1;
	f.walk.season_days = 30;
	f.walk.lanes = (o->passes / GUESTS + f.units - 1) / f.units;
	if (f.walk.lanes < 1)
		f.walk.lanes = 1;
	f.first_day = today_in(TZ_NAME) + 1;
	f.password = "bench-password-1";
	snprintf(log, sizeof log, "%s/admin.log", f.dir);
	snprintf(sdb, sizeof sdb, "%s/estiva.db", f.dir);
	if (mkdir(f.dir, 0700) != 0 || fixture_write(&f, err, sizeof err) != 0) {
		fprintf(stderr, "fixture: %s\n", err);
		return -1;
	}
	/* the centre needs a number for its passes */
	{
		char cpath[1200], *text = NULL, *at;
		FILE *fp;
		long n;

		snprintf(cpath, sizeof cpath, "%s/centres/bench.ini", f.dir);
		fp = fopen(cpath, "r");
		if (!fp || fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 ||
		    !(text = calloc(1, (size_t)n + 1)) || fseek(fp, 0, SEEK_SET) != 0 ||
		    fread(text, 1, (size_t)n, fp) != (size_t)n) {
			fprintf(stderr, "cannot read %s\n", cpath);
			if (fp)
				fclose(fp);
			free(text);
			return -1;
		}
		fclose(fp);
		at = strstr(text, "[centre]\n");
		fp = fopen(cpath, "w");
		if (!at || !fp) {
			free(text);
			if (fp)
				fclose(fp);
			return -1;
		}
		at += strlen("[centre]\n");
		fprintf(fp, "%.*snumber = 1\n%s", (int)(at - text), text, at);
		fclose(fp);
		free(text);
	}
	{
		char csv[1200];

		snprintf(csv, sizeof csv, "%s/members.csv", f.dir);
		if (admin(o, &f, log, "init", NULL, NULL, NULL, NULL, NULL) != 0 ||
		    admin(o, &f, log, "import-members", csv, NULL, NULL, NULL, NULL) != 0)
			goto out;
	}
	/* the server once, so that it syncs its catalog (centre number, units) into the database */
	spid = server_start(o->server, &f, &port, err, sizeof err);
	if (spid < 0) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	snprintf(url, sizeof url, "http://127.0.0.1:%u", port);

	/* a gate, enrolled while the server has no pass yet: its first sync is nearly empty */
	snprintf(gdir, sizeof gdir, "%s/gate", dir);
	snprintf(gconf, sizeof gconf, "%s/gate.conf", gdir);
	snprintf(gdb, sizeof gdb, "%s/gate.db", gdir);
	snprintf(gtoken, sizeof gtoken, "%s/token", gdir);
	snprintf(glog, sizeof glog, "%s/gate.log", gdir);
	if (mkdir(gdir, 0700) != 0)
		goto out;
	{
		char alog[1200], line[256];
		FILE *fp;

		snprintf(alog, sizeof alog, "%s/gate-add.out", dir);
		{
			char conf[1200];
			char *argv[] = {(char *)o->admin, "-c",    conf,     "gate",       "add",
			                "--centre",       "bench", "--name", "Bench gate", NULL};

			snprintf(conf, sizeof conf, "%s/estiva-server.conf", f.dir);
			if (run_program(argv, NULL, alog, &st) != 0 || st != 0) {
				fprintf(stderr, "estiva-admin gate add failed (%d)\n", st);
				print_tail(alog, 10);
				goto out;
			}
		}
		fp = fopen(alog, "r");
		while (fp && fgets(line, sizeof line, fp))
			if (!strncmp(line, "code ", 5) && strncmp(line, "code_", 5)) {
				line[strcspn(line, "\r\n")] = '\0';
				snprintf(code, sizeof code, "%s", line + 5);
			}
		if (fp)
			fclose(fp);
		if (!code[0]) {
			fprintf(stderr, "estiva-admin gate add printed no code\n");
			print_tail(alog, 10);
			goto out;
		}
	}
	if (relay_start(port, &rport) != 0) {
		fprintf(stderr, "relay: %s\n", strerror(errno));
		goto out;
	}
	{
		FILE *fp = fopen(gconf, "w");

		if (!fp)
			goto out;
		fprintf(
		    fp,
		    "[gate]\ncentre = bench\nname = Bench gate\ndatabase = %s\ntoken_file = %s\n"
		    "log_level = info\n\n[server]\nurl = http://127.0.0.1:%u\ntimeout = 60s\n\n"
		    "[sync]\nupload_interval = 1s\ndownload_interval = 1h\n\n"
		    "[status]\nport = off\n",
		    gdb, gtoken, rport);
		fclose(fp);
	}
	{
		char *argv[] = {(char *)o->gate, "-c", gconf, "enroll", url, code, NULL};

		if (run_program(argv, NULL, glog, &st) != 0 || st != 0) {
			fprintf(stderr, "estiva-gate enroll failed (%d)\n", st);
			print_tail(glog, 15);
			goto out;
		}
	}
	if (server_stop(spid, 30, &st, &took) != 0 || st != 0) {
		fprintf(stderr, "estiva-server stop: status %d\n", st);
		spid = -1;
		goto out;
	}
	spid = -1;

	{
		double t0 = mono();

		if (seed_passes(&f, o->passes, f.first_day) != 0)
			goto out;
		printf(
		    "  %d passes of %d confirmed bookings written into the stopped server's "
		    "database in %.1f s\n"
		    "    (rows as booking + confirmation + passes.c issue_one() write them, signed "
		    "with the server's key 1)\n",
		    o->passes, (o->passes + GUESTS - 1) / GUESTS, mono() - t0);
	}
	/* the gate's queue: store_record(), exactly what a scan writes (sync NORMAL here) */
	{
		char e2[256];
		struct store *gs = store_open(gdb, 0, e2, sizeof e2);
		double t0 = mono();
		int64_t now = time(NULL);
		long long gid =
		    db_int(gdb, "SELECT CAST(value AS INTEGER) FROM meta WHERE key='gate'");

		if (!gs) {
			fprintf(stderr, "gate store: %s\n", e2);
			goto out;
		}
		for (int i = 0; i < o->events; i++) {
			struct event ev;

			memset(&ev, 0, sizeof ev);
			ev.gate = (int)(gid > 0 ? gid : 1);
			ev.pass = (uint32_t)(i % o->passes) + 1;
			ev.booking = (ev.pass + GUESTS - 1) / GUESTS;
			ev.dir = (i / o->passes) % 2 ? DECIDE_DIR_OUT : DECIDE_DIR_IN;
			ev.kind = EVENT_ADMIT;
			ev.reason = DECIDE_OK;
			ev.at = ev.local_at = now - 60 + (i * 60LL) / o->events;
			ev.offline = 1;
			snprintf(ev.reader, sizeof ev.reader, "bench");
			if (store_record(gs, &ev) != 0) {
				store_close(gs);
				goto out;
			}
		}
		store_close(gs);
		printf("  %d events queued in the gate's store (store_record) in %.1f s\n",
		       o->events, mono() - t0);
	}

	/* the first run's port file would give the old port */
	{
		char pf[1200];

		snprintf(pf, sizeof pf, "%s/port", f.dir);
		unlink(pf);
	}
	spid = server_start(o->server, &f, &port, err, sizeof err);
	if (spid < 0) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	relay_target = port;
	{
		char *argv[] = {(char *)o->gate, "-c", gconf, NULL};
		long long base_events = db_int(sdb, "SELECT COUNT(*) FROM gate_events");
		unsigned long long u0 = atomic_load(&up_bytes), d0 = atomic_load(&down_bytes);
		unsigned long long u1, d1, u2, d2;
		double t0 = mono(), t_up = -1, t_down = -1, limit = 300;
		long hwm = -1;
		long long n_ev = 0, n_pass = 0;

		gpid = spawn(argv, glog);
		if (gpid < 0)
			goto out;
		/* upload: until the server holds every event */
		while (mono() - t0 < limit) {
			n_ev = db_int(sdb, "SELECT COUNT(*) FROM gate_events") - base_events;
			if (n_ev >= o->events) {
				t_up = mono() - t0;
				break;
			}
			if (waitpid(gpid, &st, WNOHANG) == gpid) {
				gpid = -1;
				fprintf(stderr, "estiva-gate exited\n");
				print_tail(glog, 20);
				goto out;
			}
			msleep(10);
		}
		u1 = atomic_load(&up_bytes);
		d1 = atomic_load(&down_bytes);
		/* download: until the gate's store holds every pass */
		while (t_up >= 0 && mono() - t0 < limit) {
			n_pass = db_int(gdb, "SELECT COUNT(*) FROM passes");
			if (n_pass >= o->passes) {
				t_down = mono() - t0 - t_up;
				break;
			}
			msleep(10);
		}
		u2 = atomic_load(&up_bytes);
		d2 = atomic_load(&down_bytes);
		msleep(300);
		hwm = vm_kib(gpid, "VmHWM");
		printf("  the relay saw %llu connection(s) from the gate\n",
		       (unsigned long long)atomic_load(&relay_conns));
		if (t_up < 0) {
			printf("  upload: only %lld of %d events reached the server in %.0f s\n",
			       n_ev, o->events, limit);
			print_tail(glog, 20);
			goto stop_gate;
		}
		printf(
		    "  upload of %d events (gate start to the last row in gate_events): %.2f s "
		    "(%.0f events/s)\n"
		    "    bytes on the wire: %.2f MB gate->server, %.2f MB server->gate (%.0f B per "
		    "event up)\n",
		    o->events, t_up, o->events / t_up, (double)(u1 - u0) / 1e6,
		    (double)(d1 - d0) / 1e6, (double)(u1 - u0) / o->events);
		printf("  target 100 000 events uploaded < 10 s: %s\n",
		       verdict(t_up < 10.0 * o->events / 100000.0));
		if (t_down < 0) {
			printf("  download: only %lld of %d passes reached the gate in %.0f s\n",
			       n_pass, o->passes, limit);
			print_tail(glog, 20);
			goto stop_gate;
		}
		printf(
		    "  download of %d passes (end of upload to the last row in the gate's "
		    "passes): %.2f s (%.0f passes/s)\n"
		    "    bytes on the wire: %.2f MB server->gate, %.2f MB gate->server (%.0f B per "
		    "pass down)\n",
		    o->passes, t_down, o->passes / t_down, (double)(d2 - d1) / 1e6,
		    (double)(u2 - u1) / 1e6, (double)(d2 - d1) / o->passes);
		printf(
		    "  estiva-gate peak memory (VmHWM of the process after both): %ld KiB = %.1f "
		    "MB\n",
		    hwm, hwm / 1024.0);
		printf("  target peak memory < 32 MB: %s\n", verdict(hwm >= 0 && hwm < 32 * 1024));
		rc = 0;
	stop_gate:
		if (gpid > 0) {
			kill(gpid, SIGTERM);
			for (int t = 0; t < 1500; t++) {
				if (waitpid(gpid, &st, WNOHANG) == gpid) {
					gpid = -1;
					break;
				}
				msleep(10);
			}
			if (gpid > 0) {
				kill(gpid, SIGKILL);
				waitpid(gpid, NULL, 0);
				gpid = -1;
				fprintf(stderr, "estiva-gate did not stop on SIGTERM\n");
				rc = -1;
			} else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				fprintf(stderr, "estiva-gate exited with status %d\n", st);
				rc = -1;
			}
		}
	}
out:
	if (gpid > 0) {
		kill(gpid, SIGKILL);
		waitpid(gpid, NULL, 0);
	}
	if (spid > 0 && (server_stop(spid, 30, &st, &took) != 0 || st != 0)) {
		fprintf(stderr, "estiva-server stopped with status %d\n", st);
		rc = -1;
	}
	return rc;
}

static void usage(void)
{
	fprintf(stderr, "usage: gate [--passes N] [--scans N] [--events N] [--dir DIR] [--keep]\n"
	                "            [--server PATH] [--admin PATH] [--gate PATH]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = {.passes = 100000,
	                 .scans = 5000,
	                 .events = 100000,
	                 .server = ESTIVA_SERVER_BIN,
	                 .admin = ESTIVA_ADMIN_BIN,
	                 .gate = ESTIVA_GATE_BIN};
	char dir[1100];
	int rc;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--keep"))
			o.keep = 1;
		else if (!v)
			usage();
		else if (!strcmp(a, "--passes"))
			o.passes = atoi(v), i++;
		else if (!strcmp(a, "--scans"))
			o.scans = atoi(v), i++;
		else if (!strcmp(a, "--events"))
			o.events = atoi(v), i++;
		else if (!strcmp(a, "--dir"))
			o.dir = v, i++;
		else if (!strcmp(a, "--server"))
			o.server = v, i++;
		else if (!strcmp(a, "--admin"))
			o.admin = v, i++;
		else if (!strcmp(a, "--gate"))
			o.gate = v, i++;
		else
			usage();
	}
	if (o.passes < 1 || o.scans < 100 || o.events < 1)
		usage();
	if (sodium_init() < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_WARN);
	snprintf(dir, sizeof dir, "%s/estiva-bench-gate-XXXXXX",
	         o.dir              ? o.dir
	         : getenv("TMPDIR") ? getenv("TMPDIR")
	                            : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("bench/gate: folder %s (%s)\n", dir, fs_kind(dir));
	printf("1. decisions, in process (estiva-gate-core)\n");
	rc = bench_decisions(&o, dir);
	if (rc == 0) {
		printf("2-4. sync: the real estiva-gate against the real estiva-server over "
		       "loopback\n");
		rc = bench_sync(&o, dir);
	}
	if (o.keep)
		printf("kept %s\n", dir);
	else
		remove_tree(dir);
	return rc == 0 ? 0 : 1;
}
