/* Integration test harness: a temporary catalog, members and database made with the real
 * estiva-admin, the real estiva-server run as a child process on an ephemeral port, and a small
 * libcurl client per user (own cookie jar, CSRF token, Idempotency-Key). */
#ifndef ESTIVA_ITEST_HARNESS_H
#define ESTIVA_ITEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

/* Accounts made by the harness: members HX_FIRST_MEMBER.. (HX_FIRST_MEMBER + members - 1), all with
 * HX_PASSWORD; member 200002 is retired (category "retired", spouse "Fatima" without birth year, no
 * children); every other member is "Karim Tester", category "cat-a", spouse Amina/1982, children
 * Youssef/2010, Salma/2013, Omar/2016. HX_MANAGER manages test-b only; HX_ADMIN is an admin. */
#define HX_PASSWORD "Itest-pass-2024"
#define HX_MANAGER "mgr-b"
#define HX_ADMIN "boss"
#define HX_FIRST_MEMBER 200001
#define HX_RETIRED_MEMBER "200002"

/* Seasons, as day offsets from today (UTC), the same in both centres (ids differ):
 * test-a: a-low1, a-low2, a-high; test-b: b-low1, b-low2, b-high. Low seasons: 2..14 nights. */
#define HX_LOW1_FIRST (-30)
#define HX_LOW1_LAST 300
#define HX_LOW2_FIRST 301
#define HX_LOW2_LAST 319
#define HX_HIGH_FIRST 320
#define HX_HIGH_LAST 347 /* 28 nights: four rotations of 7 from HX_HIGH_FIRST */
#define HX_ROTATION 7

/* Units: test-a chalet A01-A08 (1..4 guests), test-a studio S01-S03 (1..2 guests),
 * test-b room R01-R04 (2..3 guests). */
#define HX_CHALET_UNITS 8
#define HX_STUDIO_UNITS 3
#define HX_ROOM_UNITS 4

struct hx_opts {
	const char *hold;           /* e.g. "20m" */
	const char *sweep_interval; /* e.g. "1s" */
	const char *body_max;       /* e.g. "64k" */
	const char *idle;           /* session idle limit, default "30m" */
	const char *absolute;       /* session absolute limit, default "12h" */
	int members;                /* how many members to import */
	const char *extra_conf;     /* appended to the server's configuration file, or NULL */
};

struct hx;

/* Runs the cmocka group against a fresh environment built from opts: argv[1] is estiva-server,
 * argv[2] estiva-admin. Starts the server before the tests, stops it after (exit status must be 0),
 * removes the temporary folder unless something failed. Returns the process exit status. */
int hx_main(int argc, char **argv, const struct hx_opts *opts, const char *group,
            const struct CMUnitTest *tests, size_t ntests);
struct hx *hx_current(void);
#define HX hx_current()

int hx_start(struct hx *hx);
/* SIGTERM and wait: the server's exit status, or -1 when it died by a signal or did not stop. */
int hx_stop(struct hx *hx);
/* kill -9 and wait: 0, or -1. hx_start starts it again (on a new port). */
int hx_crash(struct hx *hx);
const char *hx_url(const struct hx *hx);
int hx_port(const struct hx *hx);
const char *hx_db_path(const struct hx *hx);
const char *hx_log_path(const struct hx *hx);

/* The temporary folder, the configuration file and the two programs. */
const char *hx_dir(const struct hx *hx);
const char *hx_conf_path(const struct hx *hx);
const char *hx_server_path(const struct hx *hx);
const char *hx_admin_path(const struct hx *hx);
/* Runs argv (argv[0] a path) with input on standard input (or nothing), standard output and error
 * both into out (NUL-terminated, cut at n). Returns the exit status, or -1. */
int hx_exec(char *const argv[], const char *input, char *out, size_t n);

/* estiva-admin -c CONF a1 ... (NULL-terminated, at most 12 arguments): its exit status, its output
 * in out. */
int hx_admin_run(char *out, size_t n, const char *a1, ...);
/* Writes to the server's database behind its back (to move time, or to set what no API sets); a
 * failure fails the test. */
void hx_db_write(const char *sql);

/* Today (UTC, fixed when the environment was made) plus offset days, as YYYY-MM-DD. buf >= 11. */
const char *hx_date(int offset, char *buf, size_t n);
/* Price per night in centimes from the test tariffs, or -1. */
int64_t hx_tariff(const char *centre, const char *unit_type, const char *season,
                  const char *category);
/* Member number of the i-th member, i from 1. buf >= 16. */
const char *hx_member(int i, char *buf, size_t n);
/* A fresh Idempotency-Key. buf >= 40. */
const char *hx_key(char *buf, size_t n);
/* Seconds since the epoch of an ISO 8601 UTC instant "YYYY-MM-DDTHH:MM:SSZ", or -1. */
long long hx_instant(const char *s);
void hx_sleep_ms(long ms);

/* Read-only queries on the server's database file (the server may be running). */
/* First column of the first row as an integer; 0 ok, -1 error (printed). */
int hx_db_int(const char *sql, long long *out);
/* First column of the first row as text into buf; 0 ok, 1 no row, -1 error. */
int hx_db_text(const char *sql, const char *arg, char *buf, size_t n);

/* ---- HTTP ---- */
struct hres {
	long status; /* 0 when the transfer failed */
	char *body;  /* NUL-terminated */
	size_t len;
	json_t *json;   /* parsed body or NULL */
	char *headers;  /* raw header block of the final response */
	char what[256]; /* "METHOD PATH" for messages */
};

struct hreq {
	const char *idem; /* Idempotency-Key header, or NULL */
	const char *csrf; /* NULL: the session's token (unsafe methods); "": none; else value */
	const char *content_type; /* NULL: application/json when there is a body; "": none */
	const char *cookie;       /* extra Cookie header, or NULL */
	const char *bearer;       /* Authorization: Bearer <this>, or NULL (gates, docs/sync.md) */
};

struct hc;
struct hc *hc_new(const struct hx *hx);
void hc_free(struct hc *c);
CURL *hc_handle(struct hc *c);
const char *hc_csrf(const struct hc *c);
void hc_set_csrf(struct hc *c, const char *token);
/* Value of the estiva_session cookie in the client's jar, 0 ok, -1 none. */
int hc_session_cookie(struct hc *c, char *buf, size_t n);

/* One request: returns the status (0 on a transport failure); out must be hres_free'd. */
long hc_do(struct hc *c, const char *method, const char *path, const char *body,
           const struct hreq *rq, struct hres *out);
/* The same in two halves for curl multi: prepare sets up the easy handle, finish collects it. */
int hc_prepare(struct hc *c, const char *method, const char *path, const char *body,
               const struct hreq *rq);
long hc_finish(struct hc *c, CURLcode result, struct hres *out);
/* POST /api/v1/session; on 200 the client keeps the CSRF token. */
long hc_login(struct hc *c, const char *account, const char *password, struct hres *out);
/* A logged-in client or a failed test. */
struct hc *hc_login_ok(const char *account);
/* POST /api/v1/bookings with a fresh Idempotency-Key. */
long hc_book(struct hc *c, const char *centre, const char *unit_type, int arrival, int departure,
             const char *guests, struct hres *out);
char *hx_booking_body(const char *centre, const char *unit_type, int arrival, int departure,
                      const char *guests); /* free() it */

void hres_free(struct hres *r);
/* First header called name (case-insensitive) into buf; 0 found, -1 not. */
int hres_header(const struct hres *r, const char *name, char *buf, size_t n);
/* error.code of an error body, or NULL. */
const char *hres_error(const struct hres *r);

/* Guests lists for hx_booking_body. */
#define HX_GUEST_SELF "{\"name\":\"Karim\",\"relation\":\"self\",\"birth_year\":1980}"
#define HX_GUEST_SPOUSE "{\"name\":\"Amina\",\"relation\":\"spouse\",\"birth_year\":1982}"
#define HX_GUESTS_SELF "[" HX_GUEST_SELF "]"
#define HX_GUESTS_COUPLE "[" HX_GUEST_SELF "," HX_GUEST_SPOUSE "]"

/* ---- JSON ---- */
/* Dotted path: object keys, or array indexes as numbers ("bookings.0.id"). NULL when absent. */
json_t *jget(json_t *o, const char *path);
const char *jstr(json_t *o, const char *path);
/* Integer at path, or INT64_MIN when absent or not an integer. */
int64_t jint(json_t *o, const char *path);
/* Element of array `path` whose `key` is the string `value`. */
json_t *jfind(json_t *o, const char *path, const char *key, const char *value);

/* ---- assertions (cmocka) ---- */
void hx_expect_at(const struct hres *r, long status, const char *code, const char *file, int line);
void hx_assert_jstr_at(json_t *o, const char *path, const char *want, const char *file, int line);
void hx_assert_jint_at(json_t *o, const char *path, int64_t want, const char *file, int line);
/* Status and, when code is not NULL, the error code; prints the response when they differ. */
#define EXPECT(res, status, code) hx_expect_at(&(res), (status), (code), __FILE__, __LINE__)
#define ASSERT_JSTR(o, path, want) hx_assert_jstr_at((o), (path), (want), __FILE__, __LINE__)
#define ASSERT_JINT(o, path, want) hx_assert_jint_at((o), (path), (want), __FILE__, __LINE__)

#endif
