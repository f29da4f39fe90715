/*
 * booking-rush: how fast does estiva-server take holds, against the two ceilings measured in the
 * same run (bare SQLite booking transactions, a bare libmicrohttpd endpoint), and does it ever
 * sell one (unit, night) twice? See docs/performance.md.
 *
 * Exit status: 0 all well; 1 oversell; 2 usage; 3 something else broke (setup, the server
 * failing, answers other than 201 / 409 sold_out).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sqlite3.h>

#include "bench.h"

#ifndef ESTIVA_SERVER_BIN
#define ESTIVA_SERVER_BIN "estiva-server"
#endif
#ifndef ESTIVA_ADMIN_BIN
#define ESTIVA_ADMIN_BIN "estiva-admin"
#endif

#define PASSWORD "bench-rush-Pa55word"
#define MAX_EXAMPLES 6
#define TARGET_SHARE 0.5 /* of the SQLite ceiling */
#define TARGET_P99_MS 50.0
#define DEFAULT_SEASON_DAYS 1461

enum { EXIT_OVERSELL = 1, EXIT_USAGE = 2, EXIT_BROKE = 3 };

struct opts {
	const char *server;
	const char *admin;
	const char *parent;
	int members;
	int units;
	int connections;
	int threads;
	int nights;
	int season_days;
	double seconds;
	long requests;
	int full;
	int ceilings_only;
	int keep;
};

struct member {
	char number[16];
	char cookie[BENCH_COOKIE_MAX -
	            32]; /* the value; the request carries "estiva_session=" too */
	char csrf[80];
	struct walker w;
};

struct held {
	char unit[16];
	int lane;
	int64_t arrival;
	int64_t departure;
};

/* One phase of requests: logins, the rush on the server, or the same requests on bare MHD. */
struct phase {
	struct member *members;
	int nmembers;
	char base[64];
	struct walk walk;
	int64_t first_day;
	int login; /* 1: log the members in */
	int bare;  /* 1: the bare MHD endpoint: answers are not bookings */
	int next;  /* round robin */
	uint64_t deadline;
	long max_requests;
	uint64_t sent;
	int exhausted;
	/* results */
	struct lat lat;
	uint64_t n201, n409, n_other, n_transport;
	struct held *held;
	size_t nheld, capheld;
	int bad_201; /* 201 whose stay is not the one asked */
	char examples[MAX_EXAMPLES][320];
	int nexamples;
	struct lg_stats st;
};

static void usage(FILE *fp)
{
	fprintf(
	    fp,
	    "usage: booking-rush [options]\n"
	    "  --server PATH       estiva-server (default %s)\n"
	    "  --admin PATH        estiva-admin (default %s)\n"
	    "  --members N         members logged in and booking (default 64)\n"
	    "  --units N           units per unit type (default 48)\n"
	    "  --connections N     concurrent keep-alive connections (default 64)\n"
	    "  --threads N         server and bare MHD thread pool size (default 2)\n"
	    "  --nights N          nights per stay (default 2)\n"
	    "  --season-days N     length of the low season from tomorrow (default 1461, 4 years;\n"
	    "                      with --requests, made long enough for them)\n"
	    "  --seconds S         length of each measured phase (default 5)\n"
	    "  --requests N        fixed number of requests per phase instead of --seconds\n"
	    "  --synchronous MODE  normal (default) or full, for the server and the SQLite "
	    "ceiling\n"
	    "  --ceilings-only     measure only the SQLite and MHD ceilings\n"
	    "  --dir DIR           parent of the temporary folder (default $TMPDIR or /tmp)\n"
	    "  --keep              keep the temporary folder\n",
	    ESTIVA_SERVER_BIN, ESTIVA_ADMIN_BIN);
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
	    {"server", required_argument, NULL, 'S'},
	    {"admin", required_argument, NULL, 'A'},
	    {"members", required_argument, NULL, 'm'},
	    {"units", required_argument, NULL, 'u'},
	    {"connections", required_argument, NULL, 'c'},
	    {"threads", required_argument, NULL, 'T'},
	    {"nights", required_argument, NULL, 'n'},
	    {"season-days", required_argument, NULL, 'd'},
	    {"seconds", required_argument, NULL, 's'},
	    {"requests", required_argument, NULL, 'r'},
	    {"synchronous", required_argument, NULL, 'y'},
	    {"ceilings-only", no_argument, NULL, 'C'},
	    {"dir", required_argument, NULL, 'D'},
	    {"keep", no_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch;
	long v;
	char *end;

	o->server = ESTIVA_SERVER_BIN;
	o->admin = ESTIVA_ADMIN_BIN;
	o->parent = getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp";
	o->members = 64;
	o->units = 48;
	o->connections = 64;
	o->threads = 2;
	o->nights = 2;
	o->season_days = 0; /* chosen after the options */
	o->seconds = 5.0;
	o->requests = 0;
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'S':
			o->server = optarg;
			break;
		case 'A':
			o->admin = optarg;
			break;
		case 'D':
			o->parent = optarg;
			break;
		case 'm':
			if (parse_int(optarg, 1, 100000, &v) != 0)
				goto bad;
			o->members = (int)v;
			break;
		case 'u':
			if (parse_int(optarg, 1, 9999, &v) != 0)
				goto bad;
			o->units = (int)v;
			break;
		case 'c':
			if (parse_int(optarg, 1, 1024, &v) != 0)
				goto bad;
			o->connections = (int)v;
			break;
		case 'T':
			if (parse_int(optarg, 1, 64, &v) != 0)
				goto bad;
			o->threads = (int)v;
			break;
		case 'n':
			if (parse_int(optarg, 1, BENCH_MAX_STAY, &v) != 0)
				goto bad;
			o->nights = (int)v;
			break;
		case 'd':
			if (parse_int(optarg, 2 * BENCH_MAX_STAY, 3660, &v) != 0)
				goto bad;
			o->season_days = (int)v;
			break;
		case 's':
			errno = 0;
			o->seconds = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' || o->seconds <= 0 ||
			    o->seconds > 3600)
				goto bad;
			break;
		case 'r':
			if (parse_int(optarg, 1, 100000000, &v) != 0)
				goto bad;
			o->requests = v;
			break;
		case 'y':
			if (strcmp(optarg, "normal") == 0)
				o->full = 0;
			else if (strcmp(optarg, "full") == 0)
				o->full = 1;
			else
				goto bad;
			break;
		case 'C':
			o->ceilings_only = 1;
			break;
		case 'k':
			o->keep = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -1;
	}
	if (o->season_days == 0) {
		/* every member books each night once at most: the calendar bounds the requests */
		long need = o->requests > 0 ? (o->requests / o->members + 1) * o->nights + 2 : 0;

		o->season_days = need > DEFAULT_SEASON_DAYS ? (int)(need < 3660 ? need : 3660)
		                                            : DEFAULT_SEASON_DAYS;
	}
	return 0;
bad:
	fprintf(stderr, "booking-rush: bad value for an option: %s\n", optarg);
	return -1;
}

static void note_example(struct phase *p, long status, const char *what, const char *body)
{
	if (p->nexamples >= MAX_EXAMPLES)
		return;
	snprintf(p->examples[p->nexamples++], sizeof(p->examples[0]), "%ld %s: %.240s", status,
	         what, body);
}

static struct curl_slist *add_header(struct curl_slist *h, const char *line, int *failed)
{
	struct curl_slist *n = curl_slist_append(h, line);

	if (n == NULL) {
		*failed = 1;
		return h;
	}
	return n;
}

static int prepare_login(struct phase *p, struct lg_req *req)
{
	struct member *m;
	int failed = 0, n;

	if (p->next >= p->nmembers)
		return 0;
	m = &p->members[p->next];
	req->user[0] = p->next++;
	snprintf(req->url, sizeof(req->url), "%s/api/v1/session", p->base);
	n = snprintf(req->body, sizeof(req->body), "{\"member\":\"%s\",\"password\":\"%s\"}",
	             m->number, PASSWORD);
	req->body_len = (size_t)n;
	req->headers = add_header(req->headers, "Content-Type: application/json", &failed);
	req->headers = add_header(req->headers, "Expect:", &failed);
	return failed ? 0 : 1;
}

static int prepare_booking(struct phase *p, struct lg_req *req)
{
	struct member *m = NULL;
	char hdr[160], arr[11], dep[11], type[16];
	int lane = 0, off = 0, tries, failed = 0, n;

	if (p->max_requests > 0 ? p->sent >= (uint64_t)p->max_requests : now_us() >= p->deadline)
		return 0;
	for (tries = 0; tries < p->nmembers; tries++) {
		struct member *c = &p->members[p->next];

		p->next = (p->next + 1) % p->nmembers;
		if (walker_next(&c->w, &p->walk, &lane, &off) == 0) {
			m = c;
			break;
		}
	}
	if (m == NULL) {
		p->exhausted = 1;
		return 0;
	}
	req->user[0] = m - p->members;
	req->user[1] = lane;
	req->user[2] = off;
	unit_type_id(lane, type);
	date_format(p->first_day + off, arr);
	date_format(p->first_day + off + p->walk.nights, dep);
	snprintf(req->url, sizeof(req->url), "%s/api/v1/bookings", p->base);
	n = snprintf(req->body, sizeof(req->body),
	             "{\"centre\":\"bench\",\"unit_type\":\"%s\",\"arrival\":\"%s\","
	             "\"departure\":\"%s\",\"guests\":[{\"name\":\"%s\",\"relation\":\"self\"}]}",
	             type, arr, dep, member_first_name((int)req->user[0]));
	req->body_len = (size_t)n;
	snprintf(req->cookie, sizeof(req->cookie), "estiva_session=%s", m->cookie);
	req->headers = add_header(req->headers, "Content-Type: application/json", &failed);
	req->headers = add_header(req->headers, "Expect:", &failed);
	snprintf(hdr, sizeof(hdr), "X-CSRF-Token: %s", m->csrf);
	req->headers = add_header(req->headers, hdr, &failed);
	snprintf(hdr, sizeof(hdr), "Idempotency-Key: rush-%s-%d-%d", m->number, lane, off);
	req->headers = add_header(req->headers, hdr, &failed);
	if (failed)
		return 0;
	p->sent++;
	return 1;
}

static int prepare(void *ctx, struct lg_req *req)
{
	struct phase *p = ctx;

	return p->login ? prepare_login(p, req) : prepare_booking(p, req);
}

static void done_login(struct phase *p, const struct lg_req *req, const struct lg_res *res)
{
	struct member *m = &p->members[req->user[0]];
	json_t *j = NULL;
	const char *tok;

	if (res->status != 200) {
		p->n_other++;
		note_example(p, res->status, "login", res->status ? res->body : res->error);
		return;
	}
	j = json_loadb(res->body, res->body_len, 0, NULL);
	tok = json_string_value(json_object_get(j, "csrf_token"));
	if (tok == NULL || strlen(tok) >= sizeof(m->csrf) || res->session_cookie[0] == '\0') {
		p->n_other++;
		note_example(p, res->status, "login without csrf_token or estiva_session cookie",
		             res->body);
	} else {
		snprintf(m->csrf, sizeof(m->csrf), "%s", tok);
		snprintf(m->cookie, sizeof(m->cookie), "%s", res->session_cookie);
		p->n201++; /* counts logins here */
	}
	json_decref(j);
}

static void record_201(struct phase *p, const struct lg_req *req, const struct lg_res *res)
{
	json_t *j = json_loadb(res->body, res->body_len, 0, NULL);
	const char *unit = json_string_value(json_object_get(j, "unit"));
	const char *status = json_string_value(json_object_get(j, "status"));
	int64_t a = 0, d = 0;

	if (unit == NULL || status == NULL || strcmp(status, "held") != 0 || strlen(unit) >= 16 ||
	    date_parse(json_string_value(json_object_get(j, "arrival")), &a) != 0 ||
	    date_parse(json_string_value(json_object_get(j, "departure")), &d) != 0 ||
	    a != p->first_day + req->user[2] || d != a + p->walk.nights) {
		p->bad_201++;
		note_example(p, res->status, "201 that is not the hold asked for", res->body);
		goto out;
	}
	if (p->nheld == p->capheld) {
		size_t cap = p->capheld ? p->capheld * 2 : 4096;
		struct held *h = realloc(p->held, cap * sizeof(*h));

		if (h == NULL) {
			p->bad_201++;
			goto out;
		}
		p->held = h;
		p->capheld = cap;
	}
	snprintf(p->held[p->nheld].unit, sizeof(p->held[0].unit), "%s", unit);
	p->held[p->nheld].lane = (int)req->user[1];
	p->held[p->nheld].arrival = a;
	p->held[p->nheld].departure = d;
	p->nheld++;
out:
	json_decref(j);
}

static void done_booking(struct phase *p, const struct lg_req *req, const struct lg_res *res)
{
	if (lat_add(&p->lat, res->us) != 0)
		p->n_other++;
	if (res->status == 0) {
		p->n_transport++;
		note_example(p, 0, "transport", res->error);
	} else if (res->status == 201) {
		p->n201++;
		if (!p->bare)
			record_201(p, req, res);
	} else if (res->status == 409 && !p->bare) {
		json_t *j = json_loadb(res->body, res->body_len, 0, NULL);
		const char *code =
		    json_string_value(json_object_get(json_object_get(j, "error"), "code"));

		if (code != NULL && strcmp(code, "sold_out") == 0) {
			p->n409++;
		} else {
			p->n_other++;
			note_example(p, res->status, "409 that is not sold_out", res->body);
		}
		json_decref(j);
	} else {
		p->n_other++;
		note_example(p, res->status, "booking", res->body);
	}
}

static void done(void *ctx, const struct lg_req *req, const struct lg_res *res)
{
	struct phase *p = ctx;

	if (p->login)
		done_login(p, req, res);
	else
		done_booking(p, req, res);
}

static void phase_free(struct phase *p)
{
	lat_free(&p->lat);
	free(p->held);
	p->held = NULL;
}

static void print_examples(const struct phase *p)
{
	int i;

	for (i = 0; i < p->nexamples; i++)
		printf("    e.g. %s\n", p->examples[i]);
}

static void print_keepalive(const struct lg_stats *st, int connections)
{
	if (st->new_connections > (uint64_t)connections * 2 || st->conn_close > 0)
		printf("    connections opened %llu for %llu requests, %llu replies said "
		       "Connection: close: KEEP-ALIVE IS NOT WORKING (lesson 1)\n",
		       (unsigned long long)st->new_connections, (unsigned long long)st->done,
		       (unsigned long long)st->conn_close);
	else
		printf("    connections opened %llu for %llu requests (keep-alive works)\n",
		       (unsigned long long)st->new_connections, (unsigned long long)st->done);
}

static int cmp_held(const void *a, const void *b)
{
	const struct held *x = a, *y = b;
	int c = strcmp(x->unit, y->unit);

	if (c != 0)
		return c;
	return (x->arrival > y->arrival) - (x->arrival < y->arrival);
}

/* Holds the server answered 201 to that share a night with an earlier hold of the same unit. */
static long client_oversell(struct phase *p)
{
	int64_t until = 0; /* latest departure so far on this unit */
	long bad = 0;
	size_t i;

	qsort(p->held, p->nheld, sizeof(*p->held), cmp_held);
	for (i = 0; i < p->nheld; i++) {
		if (i == 0 || strcmp(p->held[i].unit, p->held[i - 1].unit) != 0)
			until = 0;
		if (i > 0 && until > p->held[i].arrival)
			bad++;
		if (p->held[i].departure > until)
			until = p->held[i].departure;
	}
	return bad;
}

/*
 * The same check on the database file: pairs of held/confirmed bookings on one unit whose stays
 * share a night. Returns -1 (and says why) when the schema is not the one expected.
 */
static long db_oversell(const char *path, long *active, char *err, size_t errlen)
{
	static const char q_pairs[] =
	    "SELECT count(*) FROM bookings a JOIN bookings b ON a.unit = b.unit AND a.id < b.id"
	    " AND a.arrival < b.departure AND b.arrival < a.departure"
	    " WHERE a.status IN ('held', 'confirmed') AND b.status IN ('held', 'confirmed')";
	static const char q_active[] =
	    "SELECT count(*) FROM bookings WHERE status IN ('held', 'confirmed')";
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long pairs = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		goto fail;
	if (sqlite3_busy_timeout(db, 5000) != SQLITE_OK)
		goto fail;
	if (sqlite3_prepare_v2(db, q_active, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		goto fail;
	*active = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(db, q_pairs, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		goto fail;
	pairs = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return pairs;
fail:
	snprintf(err, errlen, "%s", db ? sqlite3_errmsg(db) : "cannot open");
	sqlite3_finalize(st);
	sqlite3_close(db);
	return -1;
}

/*
 * When the server keeps one row per (unit, night) (booking_nights in server/db.c), those rows must
 * be exactly the nights of the held and confirmed bookings. -1 when there is no such table.
 */
static int db_nights(const char *path, long *rows, long *nights)
{
	static const char q[] =
	    "SELECT (SELECT count(*) FROM booking_nights),"
	    " (SELECT coalesce(sum(julianday(departure) - julianday(arrival)), 0) FROM bookings"
	    "  WHERE status IN ('held', 'confirmed'))";
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_busy_timeout(db, 5000) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		*rows = (long)sqlite3_column_int64(st, 0);
		*nights = (long)sqlite3_column_int64(st, 1);
		rc = 0;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

/* Server-side times of the booking route from the request log (METHOD PATH STATUS MS), and the
 * first lines that are not request lines (warnings, errors). */
static void server_log_stats(const char *path, struct lat *lat, long *s5xx, char *odd,
                             size_t oddlen)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int nodd = 0;

	*s5xx = 0;
	odd[0] = '\0';
	if (fp == NULL)
		return;
	while ((n = getline(&line, &cap, fp)) > 0) {
		char method[16], route[128];
		int status;
		double ms;

		/* "METHOD PATH STATUS MS", possibly after a time stamp and a level */
		if ((sscanf(line, "%15s %127s %d %lf", method, route, &status, &ms) == 4 ||
		     sscanf(line, "%*s %*s %15s %127s %d %lf", method, route, &status, &ms) == 4) &&
		    method[0] >= 'A' && method[0] <= 'Z' && route[0] == '/' && status >= 100 &&
		    status < 600) {
			if (status >= 500)
				(*s5xx)++;
			if (strcmp(method, "POST") == 0 && strcmp(route, "/api/v1/bookings") == 0)
				lat_add(lat, (uint64_t)(ms * 1000.0));
		} else if (nodd < 5) {
			size_t used = strlen(odd);

			snprintf(odd + used, oddlen - used, "      %.200s%s", line,
			         line[n - 1] == '\n' ? "" : "\n");
			nodd++;
		}
	}
	free(line);
	fclose(fp);
}

/* The lines of /metrics worth showing after a rush. */
static void print_metrics(const char *base)
{
	static char buf[256 * 1024];
	char url[128];
	char *line, *save = NULL;
	long status;

	snprintf(url, sizeof(url), "%s/metrics", base);
	status = http_get(url, buf, sizeof(buf));
	if (status != 200) {
		printf("    GET /metrics: %ld (docs/api.md says 200)\n", status);
		return;
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (line[0] != '#' && (strncmp(line, "estiva_db_busy_retries_total", 28) == 0 ||
		                       strncmp(line, "estiva_bookings", 15) == 0))
			printf("    metrics: %s\n", line);
}

static void fill_members(struct member *ms, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		memset(&ms[i], 0, sizeof(ms[i]));
		member_number(i, ms[i].number);
		walker_init(&ms[i].w, i);
	}
}

struct results {
	int have_sqlite, have_mhd, have_server;
	double sqlite_tx, sqlite_ok, sqlite_p99;
	double mhd_rps, mhd_p99;
	double book_rps, ok_rps, p50, p99;
	uint64_t n201, n409, n_other;
	long oversell;
};

static int ceiling_sqlite(const struct opts *o, const char *dir, int64_t first_day,
                          struct results *r)
{
	struct sqlite_ceiling c;
	char path[1200], err[512] = "";

	memset(&c, 0, sizeof(c));
	snprintf(path, sizeof(path), "%s/ceiling.db", dir);
	c.path = path;
	c.full = o->full;
	c.members = o->members;
	c.units = o->units;
	c.walk.nights = o->nights;
	c.walk.season_days = o->season_days;
	c.walk.lanes = 0;
	c.first_day = first_day;
	c.seconds = o->seconds;
	c.max_tx = o->requests;
	printf("\n[1/3] SQLite ceiling: bare booking transactions, 1 thread, WAL, synchronous=%s\n",
	       o->full ? "FULL" : "NORMAL");
	if (sqlite_ceiling_run(&c, err, sizeof(err)) != 0) {
		printf("    FAILED: %s\n", err);
		return -1;
	}
	r->have_sqlite = 1;
	r->sqlite_tx = c.elapsed > 0 ? (double)c.tx / c.elapsed : 0;
	r->sqlite_ok = c.elapsed > 0 ? (double)c.booked / c.elapsed : 0;
	r->sqlite_p99 = c.p99_ms;
	printf("    %llu transactions in %.2f s = %.0f tx/s (%.0f booked/s; %llu booked, %llu sold "
	       "out)\n",
	       (unsigned long long)c.tx, c.elapsed, r->sqlite_tx, r->sqlite_ok,
	       (unsigned long long)c.booked, (unsigned long long)c.sold_out);
	printf("    transaction time p50 %.3f ms, p99 %.3f ms\n", c.p50_ms, c.p99_ms);
	return 0;
}

static int ceiling_mhd(const struct opts *o, int64_t first_day, struct results *r)
{
	struct phase p;
	struct mhd_bare *b;
	unsigned port = 0;
	int rc = -1, i;

	memset(&p, 0, sizeof(p));
	printf("\n[2/3] libmicrohttpd ceiling: bare endpoint, pool of %d + epoll, the same booking "
	       "requests, %d connections\n",
	       o->threads, o->connections);
	b = mhd_bare_start(o->threads, &port);
	if (b == NULL) {
		printf("    FAILED to start the bare daemon\n");
		return -1;
	}
	p.nmembers = o->members;
	p.members = calloc((size_t)o->members, sizeof(*p.members));
	if (p.members == NULL)
		goto out;
	fill_members(p.members, o->members);
	for (i = 0; i < o->members; i++) {
		snprintf(p.members[i].cookie, sizeof(p.members[i].cookie), "%064d", i);
		snprintf(p.members[i].csrf, sizeof(p.members[i].csrf), "%064d", i);
	}
	snprintf(p.base, sizeof(p.base), "http://127.0.0.1:%u", port);
	p.walk.nights = o->nights;
	p.walk.season_days = o->season_days;
	p.walk.lanes = 0;
	p.first_day = first_day;
	p.bare = 1;
	p.max_requests = o->requests;
	p.deadline = now_us() + (uint64_t)(o->seconds * 1e6);
	if (loadgen_run(o->connections, prepare, done, &p, &p.st) != 0) {
		printf("    FAILED: load generator error\n");
		goto out;
	}
	r->have_mhd = 1;
	r->mhd_rps = p.st.seconds > 0 ? (double)p.st.done / p.st.seconds : 0;
	r->mhd_p99 = lat_pct_ms(&p.lat, 99);
	printf("    %llu requests in %.2f s = %.0f req/s; latency p50 %.2f ms, p99 %.2f ms\n",
	       (unsigned long long)p.st.done, p.st.seconds, r->mhd_rps, lat_pct_ms(&p.lat, 50),
	       r->mhd_p99);
	if (p.n_other || p.n_transport) {
		printf("    %llu unexpected answers, %llu transport errors\n",
		       (unsigned long long)p.n_other, (unsigned long long)p.n_transport);
		print_examples(&p);
	}
	print_keepalive(&p.st, o->connections);
	rc = 0;
out:
	mhd_bare_stop(b);
	free(p.members);
	phase_free(&p);
	return rc;
}

static int check_program(const char *path, const char *what)
{
	if (strchr(path, '/') != NULL && access(path, X_OK) != 0) {
		printf("    %s: %s is not an executable: %s (build it, or pass --%s PATH)\n", what,
		       path, strerror(errno),
		       strcmp(what, "estiva-server") == 0 ? "server" : "admin");
		return -1;
	}
	return 0;
}

static int admin(const struct opts *o, const struct fixture *f, const char *label, char **args,
                 int nargs, int with_password)
{
	char conf[1200], log[1200], pw[1200];
	char **argv = calloc((size_t)nargs + 4, sizeof(*argv));
	uint64_t t0 = now_us();
	int status = -1, i, rc = -1;

	if (argv == NULL)
		return -1;
	snprintf(conf, sizeof(conf), "%s/estiva-server.conf", f->dir);
	snprintf(log, sizeof(log), "%s/admin.log", f->dir);
	snprintf(pw, sizeof(pw), "%s/password.txt", f->dir);
	argv[0] = (char *)o->admin;
	argv[1] = "-c";
	argv[2] = conf;
	for (i = 0; i < nargs; i++)
		argv[3 + i] = args[i];
	argv[3 + nargs] = NULL;
	if (run_program(argv, with_password ? pw : NULL, log, &status) != 0 || status != 0) {
		printf("    estiva-admin %s FAILED (exit status %d)\n", label, status);
		print_tail(log, 15);
		goto out;
	}
	printf("    estiva-admin %s: %.2f s\n", label, (double)(now_us() - t0) / 1e6);
	rc = 0;
out:
	free(argv);
	return rc;
}

static int server_run(const struct opts *o, const char *dir, int64_t first_day, struct results *r)
{
	struct fixture f;
	struct phase login, rush;
	struct member *members = NULL;
	char err[512] = "", log[1200], dbpath[1200], odd[1400];
	char *args[3];
	char **pwargs = NULL;
	unsigned port = 0;
	int pid = -1, rc = -1, i, status;
	double took;
	long s5xx, pairs, active = 0, mine, nrows = 0, nnights = 0;
	int nights_bad = 0;
	struct lat slat = {0};

	memset(&login, 0, sizeof(login));
	memset(&rush, 0, sizeof(rush));
	printf("\n[3/3] estiva-server: %d members, %d connections\n", o->members, o->connections);
	if (check_program(o->server, "estiva-server") != 0 ||
	    check_program(o->admin, "estiva-admin") != 0)
		return -1;

	memset(&f, 0, sizeof(f));
	snprintf(f.dir, sizeof(f.dir), "%s", dir);
	f.members = o->members;
	f.units = o->units;
	f.connections = o->connections;
	f.threads = o->threads;
	f.full = o->full;
	f.walk.nights = o->nights;
	f.walk.season_days = o->season_days;
	f.walk.lanes = 1; /* a member may not hold two stays on one night, whatever the type */
	f.first_day = first_day;
	f.password = PASSWORD;
	if (fixture_write(&f, err, sizeof(err)) != 0) {
		printf("    FAILED: %s\n", err);
		return -1;
	}
	args[0] = "init";
	if (admin(o, &f, "init", args, 1, 0) != 0)
		return -1;
	snprintf(log, sizeof(log), "%s/members.csv", dir);
	args[0] = "import-members";
	args[1] = log;
	if (admin(o, &f, "import-members", args, 2, 0) != 0)
		return -1;
	pwargs = calloc((size_t)o->members + 1, sizeof(*pwargs));
	members = calloc((size_t)o->members, sizeof(*members));
	if (pwargs == NULL || members == NULL)
		goto out;
	fill_members(members, o->members);
	pwargs[0] = "set-password";
	for (i = 0; i < o->members; i++)
		pwargs[i + 1] = members[i].number;
	if (admin(o, &f, "set-password (all members)", pwargs, o->members + 1, 1) != 0)
		goto out;

	snprintf(log, sizeof(log), "%s/server.log", dir);
	{
		uint64_t t0 = now_us();
		char url[128], body[256];
		long hs;

		pid = server_start(o->server, &f, &port, err, sizeof(err));
		if (pid < 0) {
			printf("    FAILED: %s\n", err);
			print_tail(log, 20);
			goto out;
		}
		snprintf(url, sizeof(url), "http://127.0.0.1:%u/healthz", port);
		hs = http_get(url, body, sizeof(body));
		printf("    server up on port %u in %.2f s; GET /healthz: %ld %s\n", port,
		       (double)(now_us() - t0) / 1e6, hs, body);
	}

	/* log every member in */
	login.members = members;
	login.nmembers = o->members;
	login.login = 1;
	snprintf(login.base, sizeof(login.base), "http://127.0.0.1:%u", port);
	if (loadgen_run(o->connections, prepare, done, &login, &login.st) != 0) {
		printf("    FAILED: load generator error during login\n");
		goto out;
	}
	printf("    logged in %llu of %d members in %.2f s\n", (unsigned long long)login.n201,
	       o->members, login.st.seconds);
	if (login.n201 != (uint64_t)o->members) {
		print_examples(&login);
		goto out;
	}

	/* the rush */
	rush.members = members;
	rush.nmembers = o->members;
	rush.walk = f.walk;
	rush.first_day = first_day;
	rush.max_requests = o->requests;
	memcpy(rush.base, login.base, sizeof(rush.base));
	rush.deadline = now_us() + (uint64_t)(o->seconds * 1e6);
	if (loadgen_run(o->connections, prepare, done, &rush, &rush.st) != 0) {
		printf("    FAILED: load generator error during the rush\n");
		goto out;
	}
	r->have_server = 1;
	r->book_rps = rush.st.seconds > 0 ? (double)rush.st.done / rush.st.seconds : 0;
	r->ok_rps = rush.st.seconds > 0 ? (double)rush.n201 / rush.st.seconds : 0;
	r->p50 = lat_pct_ms(&rush.lat, 50);
	r->p99 = lat_pct_ms(&rush.lat, 99);
	r->n201 = rush.n201;
	r->n409 = rush.n409;
	r->n_other = rush.n_other + rush.n_transport + (uint64_t)rush.bad_201;
	printf("    rush: %llu booking requests in %.2f s = %.0f req/s%s\n",
	       (unsigned long long)rush.st.done, rush.st.seconds, r->book_rps,
	       rush.exhausted ? " (stopped early: every member used up the calendar; "
	                        "raise --members or --season-days)"
	                      : "");
	printf("    201 held %llu (%.0f bookings/s), 409 sold_out %llu, other %llu, transport "
	       "errors %llu\n",
	       (unsigned long long)rush.n201, r->ok_rps, (unsigned long long)rush.n409,
	       (unsigned long long)(rush.n_other + (uint64_t)rush.bad_201),
	       (unsigned long long)rush.n_transport);
	printf("    booking request latency p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
	       r->p50, lat_pct_ms(&rush.lat, 90), r->p99, lat_pct_ms(&rush.lat, 100));
	print_examples(&rush);
	print_keepalive(&rush.st, o->connections);
	print_metrics(rush.base);

	if (server_stop(pid, 20.0, &status, &took) != 0) {
		printf("    FAILED to stop the server: %s\n", strerror(errno));
		goto out;
	}
	pid = -1;
	if (status == 0)
		printf("    SIGTERM: server exited 0 in %.2f s\n", took);
	else
		printf("    SIGTERM: server %s (docs/cli.md: exit 0)\n",
		       status < 0 ? "did not exit within 20 s, killed" : "exited non-zero");
	if (status != 0)
		printf("    exit status %d\n", status);

	server_log_stats(log, &slat, &s5xx, odd, sizeof(odd));
	if (slat.n > 0)
		printf(
		    "    server log: POST /api/v1/bookings %zu lines, server-side p50 %.2f ms, p99 "
		    "%.2f ms; %ld answers 5xx\n",
		    slat.n, lat_pct_ms(&slat, 50), lat_pct_ms(&slat, 99), s5xx);
	else
		printf("    server log: no 'POST /api/v1/bookings STATUS MS' lines found\n");
	if (odd[0] != '\0')
		printf("    other server log lines (first 5):\n%s", odd);

	/* oversell, twice: from the answers, and from the database file */
	r->oversell = client_oversell(&rush);
	snprintf(dbpath, sizeof(dbpath), "%s/estiva.db", dir);
	pairs = db_oversell(dbpath, &active, err, sizeof(err));
	printf("    oversell check (answers): %zu holds, %ld share a night with another hold of "
	       "their unit\n",
	       rush.nheld, r->oversell);
	if (pairs < 0) {
		printf("    oversell check (database): could not run: %s\n", err);
	} else {
		printf(
		    "    oversell check (database): %ld held/confirmed bookings, %ld pairs share a "
		    "(unit, night)\n",
		    active, pairs);
		if (pairs > r->oversell)
			r->oversell = pairs;
		mine = (long)rush.n201;
		if (active != mine)
			printf("    MISMATCH: the database holds %ld bookings, the server answered "
			       "201 "
			       "%ld times\n",
			       active, mine);
	}
	if (db_nights(dbpath, &nrows, &nnights) == 0) {
		printf("    booking_nights: %ld rows for %ld nights of held/confirmed bookings%s\n",
		       nrows, nnights, nrows == nnights ? "" : ": MISMATCH");
		if (nrows != nnights)
			nights_bad = 1;
	}
	rc = 0;
	if (status != 0 || r->n_other > 0 || nights_bad ||
	    (pairs >= 0 && active != (long)rush.n201))
		rc = -1;
out:
	if (pid > 0)
		server_stop(pid, 20.0, &status, &took);
	lat_free(&slat);
	phase_free(&login);
	phase_free(&rush);
	free(members);
	free(pwargs);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct results r;
	char dir[sizeof(((struct fixture *)0)->dir)];
	int64_t first_day;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int rc = 0, broke = 0;

	memset(&o, 0, sizeof(o));
	memset(&r, 0, sizeof(r));
	if (parse_opts(argc, argv, &o) != 0)
		return EXIT_USAGE;
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "booking-rush: curl_global_init failed\n");
		return EXIT_BROKE;
	}
	if ((size_t)snprintf(dir, sizeof(dir), "%s/booking-rush.XXXXXX", o.parent) >=
	    sizeof(dir) - 64) {
		fprintf(stderr, "booking-rush: --dir path too long\n");
		return EXIT_USAGE;
	}
	if (mkdtemp(dir) == NULL) {
		fprintf(stderr, "booking-rush: mkdtemp %s: %s\n", dir, strerror(errno));
		return EXIT_BROKE;
	}
	first_day = today_in("Africa/Casablanca") + 1;
	{
		char d0[11];
		const char *fs = fs_kind(dir);

		date_format(first_day, d0);
		printf("booking-rush: %ld cores, folder %s (%s), synchronous=%s\n", ncpu, dir, fs,
		       o.full ? "FULL" : "NORMAL");
		if (strcmp(fs, "tmpfs") == 0)
			printf("  note: tmpfs does not sync; FULL and NORMAL cost the same here\n");
		printf("workload: %d members, 1 unit type x %d units, %d-night stays in a %d-night "
		       "low season from %s; %d connections; ",
		       o.members, o.units, o.nights, o.season_days, d0, o.connections);
		if (o.requests > 0)
			printf("%ld requests per phase\n", o.requests);
		else
			printf("%.1f s per phase\n", o.seconds);
		{
			struct walk k = {o.nights, o.season_days, 1};

			printf("calendar: room for about %ld booking requests on the server (each "
			       "member "
			       "asks for each night once)\n",
			       walk_capacity(&k) * o.members);
		}
	}

	if (ceiling_sqlite(&o, dir, first_day, &r) != 0)
		broke = 1;
	if (ceiling_mhd(&o, first_day, &r) != 0)
		broke = 1;
	if (!o.ceilings_only && server_run(&o, dir, first_day, &r) != 0)
		broke = 1;

	printf("\n");
	if (r.have_server && r.have_sqlite && r.sqlite_tx > 0)
		printf("ratio: booking requests/s %.0f = %.1f%% of the SQLite ceiling (%.0f tx/s); "
		       "bookings/s %.0f = %.1f%% of its %.0f booked/s\n",
		       r.book_rps, 100.0 * r.book_rps / r.sqlite_tx, r.sqlite_tx, r.ok_rps,
		       r.sqlite_ok > 0 ? 100.0 * r.ok_rps / r.sqlite_ok : 0.0, r.sqlite_ok);
	if (r.have_server && r.have_mhd && r.mhd_rps > 0)
		printf("ratio: requests/s %.0f = %.1f%% of bare libmicrohttpd (%.0f req/s)\n",
		       r.book_rps, 100.0 * r.book_rps / r.mhd_rps, r.mhd_rps);
	if (r.have_server && r.have_sqlite) {
		int share_ok = r.book_rps >= TARGET_SHARE * r.sqlite_tx;
		int p99_ok = r.p99 < TARGET_P99_MS;

		printf("target: >= %.0f%% of the SQLite ceiling: %s (%.1f%%); p99 < %.0f ms: %s "
		       "(%.2f ms) => %s\n",
		       TARGET_SHARE * 100, share_ok ? "yes" : "no",
		       100.0 * r.book_rps / r.sqlite_tx, TARGET_P99_MS, p99_ok ? "yes" : "no",
		       r.p99, share_ok && p99_ok ? "MET" : "NOT MET");
		printf("oversell: %s\n", r.oversell == 0 ? "none" : "YES");
		printf("SUMMARY booking-rush: bookings/s=%.0f req/s=%.0f p50=%.2fms p99=%.2fms "
		       "201=%llu 409=%llu other=%llu oversell=%ld sqlite_tx/s=%.0f (%.1f%%) "
		       "mhd_req/s=%.0f (%.1f%%) target=%s\n",
		       r.ok_rps, r.book_rps, r.p50, r.p99, (unsigned long long)r.n201,
		       (unsigned long long)r.n409, (unsigned long long)r.n_other, r.oversell,
		       r.sqlite_tx, 100.0 * r.book_rps / r.sqlite_tx, r.mhd_rps,
		       r.mhd_rps > 0 ? 100.0 * r.book_rps / r.mhd_rps : 0.0,
		       share_ok && p99_ok ? "MET" : "NOT_MET");
	} else {
		printf("SUMMARY booking-rush: ceilings%s sqlite_tx/s=%.0f sqlite_p99=%.3fms "
		       "mhd_req/s=%.0f mhd_p99=%.2fms%s\n",
		       o.ceilings_only ? "-only" : " (server run failed)", r.sqlite_tx,
		       r.sqlite_p99, r.mhd_rps, r.mhd_p99, broke ? " BROKEN" : "");
	}

	if (r.oversell > 0)
		rc = EXIT_OVERSELL;
	else if (broke)
		rc = EXIT_BROKE;
	if (o.keep || rc != 0)
		printf("kept %s\n", dir);
	else if (remove_tree(dir) != 0)
		fprintf(stderr, "booking-rush: could not remove %s\n", dir);
	curl_global_cleanup();
	return rc;
}
