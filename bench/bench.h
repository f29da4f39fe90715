/*
 * booking-rush: load and ceiling benchmark for estiva-server. One header for the program: limits,
 * shared structs and the prototypes, grouped by the file that defines them.
 */
#ifndef ESTIVA_BENCH_H
#define ESTIVA_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct curl_slist;

#define BENCH_URL_MAX 256
#define BENCH_BODY_MAX 1024
#define BENCH_REPLY_MAX (1024 * 1024) /* bigger replies are cut (they are never ours) */
#define BENCH_COOKIE_MAX 256
#define BENCH_MAX_STAY 14 /* max_nights of the bench season */

/* util.c: clocks, dates, latencies, the calendar walk */
uint64_t now_us(void);

/* Days since 1970-01-01 <-> civil dates, proleptic Gregorian. */
int64_t days_from_civil(int y, int m, int d);
void date_format(int64_t days, char out[11]);
int date_parse(const char *s, int64_t *days);
int64_t today_in(const char *tz);

/* Latencies in microseconds; percentiles by sorting a copy at the end. */
struct lat {
	uint32_t *v;
	size_t n;
	size_t cap;
};
int lat_add(struct lat *l, uint64_t us);
/* p in [0,100]; sorts l in place; returns 0 for an empty set */
double lat_pct_ms(struct lat *l, double p);
void lat_free(struct lat *l);

/*
 * The calendar walk every member follows, in the server run and in the SQLite ceiling alike:
 * member i starts (i % 2) nights into the season (so the stays of half the members straddle
 * the others' and a unit must be free on both nights), books `nights`-night stays back to back,
 * and when the season is used up moves on to the next unit type ("lane"). Stays of one member
 * never overlap, so every refusal is a real sold_out.
 */
struct walk {
	int nights;
	int season_days;
	int lanes; /* 0 = unlimited */
};
struct walker {
	int lane;
	int offset; /* nights after the season's first night */
	int done;
};
void walker_init(struct walker *w, int member_index);
/* the next stay (lane, first-night offset) and advance; -1 when the calendar is used up */
int walker_next(struct walker *w, const struct walk *k, int *lane, int *offset);
/* booking requests one member can make before running out */
long walk_capacity(const struct walk *k);

int write_file(const char *path, const char *text, size_t len);
int remove_tree(const char *path);
const char *fs_kind(const char *path);

/* loadgen.c: a keep-alive curl-multi client with a fixed number of connections */
struct lg_req {
	char url[BENCH_URL_MAX];
	char body[BENCH_BODY_MAX]; /* POST when body_len > 0 */
	size_t body_len;
	struct curl_slist *headers; /* freed by loadgen when the request is done */
	char cookie[BENCH_COOKIE_MAX];
	int64_t user[3]; /* the caller's notes, handed back in done */
};
struct lg_res {
	long status; /* 0 on a transport error */
	uint64_t us; /* from hand-over to curl to completion */
	const char *body;
	size_t body_len;
	const char *session_cookie; /* estiva_session value from Set-Cookie, or "" */
	const char *error;          /* curl's message when status is 0 */
};
struct lg_stats {
	uint64_t sent;
	uint64_t done;
	uint64_t transport_errors;
	uint64_t
	    new_connections; /* sum of CURLINFO_NUM_CONNECTS: ~connections when keep-alive works */
	uint64_t conn_close; /* replies that said Connection: close */
	double seconds;      /* first hand-over to last completion */
};
/* 1: req filled; 0: nothing more to send on this slot for now */
typedef int (*lg_prepare_fn)(void *ctx, struct lg_req *req);
typedef void (*lg_done_fn)(void *ctx, const struct lg_req *req, const struct lg_res *res);
int loadgen_run(int connections, lg_prepare_fn prepare, lg_done_fn done, void *ctx,
                struct lg_stats *st);
/* one blocking GET; reply body into buf (NUL-terminated, cut at len-1); returns status or -1 */
long http_get(const char *url, char *buf, size_t len);

/* ceiling_mhd.c: a bare libmicrohttpd endpoint shaped like the server's */
struct mhd_bare;
struct mhd_bare *mhd_bare_start(int threads, unsigned *port);
void mhd_bare_stop(struct mhd_bare *b);

/* ceiling_sqlite.c: bare booking transactions on a fresh database */
struct sqlite_ceiling {
	const char *path;
	int full; /* synchronous=FULL instead of NORMAL */
	int members;
	int units;
	struct walk walk;
	int64_t first_day;
	double seconds;
	long max_tx; /* 0 = by time only */
	/* results */
	uint64_t tx;
	uint64_t booked;
	uint64_t sold_out;
	double elapsed;
	double p50_ms;
	double p99_ms;
};
int sqlite_ceiling_run(struct sqlite_ceiling *c, char *err, size_t errlen);

/* fixture.c: the temporary world of a server run */
struct sbuf {
	char *s;
	size_t len;
	size_t cap;
};
void sbuf_free(struct sbuf *b);

struct fixture {
	char dir[1024];
	int members;
	int units; /* per unit type */
	int connections;
	int threads;
	int full;
	struct walk walk; /* walk.lanes = number of unit types */
	int64_t first_day;
	const char *password;
};
void member_number(int i, char out[16]);
const char *member_first_name(int i);
void unit_type_id(int lane, char out[16]);
int fixture_write(const struct fixture *f, char *err, size_t errlen);
int run_program(char *const argv[], const char *stdin_path, const char *log_path, int *status);
/* returns the child's pid once it has written its port, or -1 */
int server_start(const char *bin, const struct fixture *f, unsigned *port, char *err,
                 size_t errlen);
int server_stop(int pid, double timeout_s, int *status, double *took);
void print_tail(const char *path, int lines);

#endif
