/* fuzz_routes: every route whose handler reads a request body gets the fuzzer's bytes as that body,
 * through the real server: http_start() on a loopback port, the route table's checks, the handler,
 * a real SQLite database. The first byte chooses the route (modulo ROUTES), the rest is the body.
 * On the first input the target makes a server as estiva-admin and estiva-server would (a
 * configuration, a small catalog, a member, a manager, an admin, a gate, two bookings, passes
 * signed with the golden key of docs/pass-format.md, payments configured with a gateway that is
 * never called), logs each caller in once, and then sends one request per input on a kept-alive
 * connection (libcurl). Checks: every request is answered (no dropped connection) with a status
 * from 200 to 599 but not 500; a JSON route answers a JSON object; every error (4xx, 5xx) is
 * {"error": {"code", ...}}; the gateway's callback answers one of its three words; GET /healthz
 * stays 200 every HEALTH_EVERY inputs.
 *
 * The state a run leaves in the database (holds, gates, scans, payments, login failures) carries
 * over from input to input: a finding may need the inputs before it. The login route soon answers
 * 429 (the server's slow-down of failed logins from one address): that is the server's rule, kept.
 * The temporary folder goes at exit (ESTIVA_FUZZ_KEEP=1 keeps it; a failure always does);
 * ESTIVA_FUZZ_VERBOSE=1 prints the fixture and every answer. */
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "date.h"
#include "log.h"
#include "server.h"
#include "web.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PASSWORD "Fuzz-routes-2024-pw"
#define MEMBER "300001"
#define MANAGER "fz-mgr"
#define ADMIN "fz-boss"
#define HEALTH_EVERY 1000
#define ANSWER_MAX (4 * 1024 * 1024)
#define REQUEST_TIMEOUT_S 8L /* under run.sh's -timeout=10: a hung request is reported as such */

enum caller { ANON, MEMBER_S, MANAGER_S, ADMIN_S, GATE, NCALLERS };
enum kind { JSON, CALLBACK, PAGE };

/* The routes of server/api.c whose handlers read the body, all POST. Left out, as their handlers
 * read none: POST /api/v1/bookings/{booking}/cancel, /api/v1/passes/{pass}/reissue and
 * /api/v1/admin/gates/{gate}/revoke (and DELETE /api/v1/session); and PATCH /api/v1/me, the one
 * route of another method (its fields are account.c's, as are those of the POSTs here). */
static struct route {
	const char *pattern; /* {booking}: the fixture's held booking, filled in by setup() */
	enum caller who;
	enum kind kind;
	char path[128];
} routes[] = {
    {"/api/v1/session", ANON, JSON, ""},
    {"/api/v1/bookings", MEMBER_S, JSON, ""},
    {"/api/v1/bookings/{booking}/payment", MEMBER_S, JSON, ""},
    {"/payments/cmi/callback", ANON, CALLBACK, ""},
    {"/payments/ok", ANON, PAGE, ""},
    {"/payments/fail", ANON, PAGE, ""},
    {"/api/gate/v1/enroll", ANON, JSON, ""},
    {"/api/gate/v1/events", GATE, JSON, ""},
    {"/api/v1/admin/gates", ADMIN_S, JSON, ""},
    {"/api/gate/v1/check", GATE, JSON, ""},
    {"/api/v1/manage/centres/fz-a/check", MANAGER_S, JSON, ""},
    {"/api/v1/account/activate", ANON, JSON, ""},
    {"/api/v1/account/reset", ANON, JSON, ""},
    {"/api/v1/account/password", ANON, JSON, ""},
    {"/api/v1/account/email", ANON, JSON, ""},
    {"/api/v1/me/password", MEMBER_S, JSON, ""},
};
#define ROUTES (sizeof(routes) / sizeof(routes[0]))

/* Long-lived: kept in statics so that LeakSanitizer, at exit, finds them reachable. */
static struct app app;
static struct MHD_Daemon *server;
static CURL *curl;
static struct curl_slist *headers;
static char dir[256], base[64];
static char sid[NCALLERS][WEB_ID_HEX], csrf[NCALLERS][WEB_ID_HEX], bearer[96]; /* "Bearer TOKEN" */
static struct buf answer;
static char cookie_seen[WEB_ID_HEX];
static unsigned long inputs, keys;
static int verbose;

struct answer {
	long status;
	const char *body; /* answer's text, NUL-terminated */
	json_t *json;     /* the body as JSON, or NULL */
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_routes: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (folder %s)\n", dir);
	abort();
}

/* ---- the fixture's files ---- */

static void write_file(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		die("cannot write %s", path);
}

static void remove_dir(void)
{
	static const char *const files[] = {
	    "estiva-server.conf", "categories.ini", "centres/fz-a.ini",
	    "centres/fz-b.ini",   "cmi.ini",        "keys/pass-signing-1.key",
	    "estiva.db",          "estiva.db-wal",  "estiva.db-shm"};
	static const char *const dirs[] = {"centres", "keys", "web", ""};
	char path[512];

	if (!dir[0] || getenv("ESTIVA_FUZZ_KEEP"))
		return;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, dirs[i]);
		rmdir(path);
	}
}

/* Fixed dates far ahead, so that the seeds' bookings and passes stay valid for decades: a low
 * season for free stays (2 to 14 nights) and a high season of 7-night rotations. */
static const char centre_a[] =
    "[centre]\nid = fz-a\nname_fr = Centre Fuzz A\nname_ar = مركز أ\nnumber = 11\ncity_fr = "
    "Ifrane\n"
    "city_ar = إفران\ncheck_in = 15:00\ncheck_out = 11:00\n\n"
    "[unit_type chalet]\nname_fr = Chalet\nname_ar = شاليه\nmin_guests = 1\nmax_guests = 4\nunits "
    "= A01-A06\n\n"
    "[unit_type studio]\nname_fr = Studio\nname_ar = استوديو\nmin_guests = 1\nmax_guests = "
    "2\nunits = S01, S02\n\n"
    "[season a-low]\nkind = low\nfirst_night = 2030-01-01\nlast_night = 2098-12-31\nmin_nights = "
    "2\n"
    "max_nights = 14\n\n"
    "[season a-high]\nkind = high\nfirst_night = 2099-07-01\nlast_night = "
    "2099-08-25\nrotation_nights = 7\n"
    "rotation_start = 2099-07-01\n\n"
    "[tariffs]\nchalet.a-low.cat-a = 312.50\nchalet.a-high.cat-a = 500\nstudio.a-low.cat-a = 200\n"
    "studio.a-high.cat-a = 300\nchalet.a-low.retired = 250\nchalet.a-high.retired = 420\n"
    "studio.a-low.retired = 150\nstudio.a-high.retired = 250\n";
static const char centre_b[] = "[centre]\nid = fz-b\nname_fr = Centre Fuzz B\nname_ar = مركز "
                               "ب\nnumber = 12\ncity_fr = Agadir\n"
                               "city_ar = أكادير\ncheck_in = 14:00\ncheck_out = 12:00\n\n"
                               "[unit_type room]\nname_fr = Chambre\nname_ar = غرفة\nmin_guests = "
                               "2\nmax_guests = 3\nunits = R01-R03\n\n"
                               "[season b-low]\nkind = low\nfirst_night = 2030-01-01\nlast_night = "
                               "2098-12-31\nmin_nights = 2\n"
                               "max_nights = 14\n\n"
                               "[tariffs]\nroom.b-low.cat-a = 180\nroom.b-low.retired = 150.50\n";

static void write_fixture_files(void)
{
	char text[4096], path[512];
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/estiva-fuzz-routes-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		die("mkdtemp: %s", strerror(errno));
	atexit(remove_dir);
	for (const char *d = "centres\0keys\0web\0"; *d; d += strlen(d) + 1) {
		snprintf(path, sizeof(path), "%s/%s", dir, d);
		if (mkdir(path, 0700) != 0)
			die("mkdir %s", path);
	}
	write_file("categories.ini",
	           "[category cat-a]\nname_fr = Échelles 1 à 6\nname_ar = السلالم\n\n"
	           "[category retired]\nname_fr = Retraités\nname_ar = المتقاعدون\n");
	write_file("centres/fz-a.ini", centre_a);
	write_file("centres/fz-b.ini", centre_b);
	/* the gateway is never called: the worker that talks to it (main.c's sweeper) does not run
	 * here */
	write_file("cmi.ini",
	           "[cmi]\nclient_id = 600000001\nstore_key = FuzzStoreKey1\napi_user = fuzzapi\n"
	           "api_password = FuzzApiPassword1\n");
	snprintf(text, sizeof(text),
	         "[server]\nlisten = 127.0.0.1\nport = 0\nthreads = 2\nhash_threads = 1\nweb_root "
	         "= %s/web\n\n"
	         "[database]\npath = %s/estiva.db\nsynchronous = normal\n\n"
	         "[catalog]\ndir = %s/centres\ncategories = %s/categories.ini\ntimezone = "
	         "Africa/Casablanca\n\n"
	         "[passes]\nkey_dir = %s/keys\n\n"
	         "[payment]\ngateway_url = http://127.0.0.1:9/fim/est3Dgate\napi_url = "
	         "http://127.0.0.1:9/fim/api\n"
	         "public_url = http://127.0.0.1:9\ncredentials = %s/cmi.ini\napi_timeout = "
	         "1s\napi_retries = 1\n",
	         dir, dir, dir, dir, dir, dir);
	write_file("estiva-server.conf", text);
}

/* ---- the fixture's database: estiva-admin init, import-members, set-password, add-user ---- */

static void db_fixture(sqlite3 *db)
{
	struct catalog cat;
	struct member_row *rows = NULL;
	char err[1024], path[512], hash[128], hex[2 * crypto_sign_SECRETKEYBYTES + 2];
	unsigned char seed[32], pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	int n = 0;
	FILE *f;
	static const char members_csv[] =
	    "member_number,cin,last_name,first_name,last_name_ar,first_name_ar,email,phone,status,"
	    "category,"
	    "spouse,children\r\n" MEMBER
	    ",FZ300001,Tester,Karim,المختبر,كريم,m300001@example.ma,+212600300001,"
	    "active,cat-a,Amina/1982,Youssef/2010;Salma/2013\r\n";

	if (db_migrate(db, err, sizeof(err)) < 0 ||
	    catalog_read_files(&app.cfg, &cat, err, sizeof(err)) < 0 ||
	    catalog_store(db, &cat, err, sizeof(err)) < 0)
		die("%s", err);
	if (members_csv_parse("members.csv", members_csv, strlen(members_csv), &cat, &rows, &n, err,
	                      sizeof(err)) < 0 ||
	    members_import(db, rows, n, err, sizeof(err)) < 0)
		die("%s", err);
	free(rows);
	catalog_free(&cat);
	/* the signing key: the golden key (seed 01..20, id 1), so that the passes, and the seeds'
	 * tokens, are the same in every run */
	for (int i = 0; i < 32; i++)
		seed[i] = (unsigned char)(i + 1);
	if (crypto_sign_seed_keypair(pk, sk, seed) != 0)
		die("crypto_sign_seed_keypair");
	sodium_bin2hex(hex, sizeof(hex), sk, sizeof(sk));
	snprintf(path, sizeof(path), "%s/pass-signing-1.key", app.cfg.key_dir);
	if (!(f = fopen(path, "w")) || fprintf(f, "%s\n", hex) < 0 || fclose(f) != 0 ||
	    chmod(path, 0600) != 0)
		die("cannot write %s", path);
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		die("%s", sqlite3_errmsg(db));
	{
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(
		        db, "INSERT INTO signing_keys(id, public_key, created_at) VALUES (1, ?, ?)",
		        -1, &st, NULL) != SQLITE_OK)
			die("%s", sqlite3_errmsg(db));
		db_bind_blob(st, 1, pk, sizeof(pk), SQLITE_STATIC);
		db_bind_int64(st, 2, instant_now());
		if (db_step(st) != SQLITE_DONE)
			die("signing key: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
	}
	if (password_refused(PASSWORD, strlen(PASSWORD), MEMBER) ||
	    password_hash(PASSWORD, hash) < 0 || account_set_password(db, MEMBER, hash) != 1)
		die("member password");
	for (int u = 0; u < 2; u++) {
		sqlite3_stmt *st;
		const char *name = u ? ADMIN : MANAGER;

		if (password_hash(PASSWORD, hash) < 0 ||
		    sqlite3_prepare_v2(
		        db, "INSERT INTO users(name, role, password_hash) VALUES (?, ?, ?)", -1,
		        &st, NULL) != SQLITE_OK)
			die("users");
		db_bind_text(st, 1, name, -1, SQLITE_STATIC);
		db_bind_text(st, 2, u ? "admin" : "manager", -1, SQLITE_STATIC);
		db_bind_text(st, 3, hash, -1, SQLITE_STATIC);
		if (db_step(st) != SQLITE_DONE)
			die("user: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
	}
	if (sqlite3_exec(db,
	                 "INSERT INTO user_centres(user, centre) SELECT id, 'fz-a' FROM users "
	                 "WHERE name = '" MANAGER "'",
	                 NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		die("manager: %s", sqlite3_errmsg(db));
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(hex, sizeof(hex));
}

/* ---- HTTP ---- */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	(void)ud;
	return buf_append(&answer, p, size * n) == 0 ? size * n : 0;
}

/* the session id of a login's Set-Cookie */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	static const char name[] = "set-cookie: estiva_session=";
	size_t len = size * n, k = sizeof(name) - 1;

	(void)ud;
	if (len > k && !strncasecmp(p, name, k)) {
		size_t v = strcspn(p + k, ";\r\n");
		if (v < sizeof(cookie_seen)) {
			memcpy(cookie_seen, p + k, v);
			cookie_seen[v] = '\0';
		}
	}
	return len;
}

/* "Name: value", or "Name:" (curl: send no such header) when value is NULL */
static void add_header(const char *name, const char *value)
{
	char line[256];
	struct curl_slist *l;

	snprintf(line, sizeof(line), "%s:%s%s", name, value ? " " : "", value ? value : "");
	if (!(l = curl_slist_append(headers, line)))
		die("out of memory");
	headers = l;
}

/* One request; dies when the server does not answer. out->json is the caller's to free. */
static void request(const char *method, const char *path, const char *content_type,
                    const void *body, size_t len, enum caller who, struct answer *out)
{
	char url[256], cookie[128], key[32];
	CURLcode rc;

	buf_reset(&answer);
	curl_slist_free_all(headers);
	headers = NULL;
	cookie_seen[0] = '\0';
	snprintf(url, sizeof(url), "%s%s", base, path);
	add_header("Expect", NULL); /* no 100-continue round trip */
	if (content_type)
		add_header("Content-Type", content_type);
	if (who == GATE)
		add_header("Authorization", bearer);
	if (who != ANON && who != GATE)
		add_header("X-CSRF-Token", csrf[who]);
	if (who == MEMBER_S) {
		/* a new key each time: a booking body is a new request, never a replay of an
		 * earlier one */
		snprintf(key, sizeof(key), "fz-%lu", ++keys);
		add_header("Idempotency-Key", key);
	}
	snprintf(cookie, sizeof(cookie), "estiva_session=%s", sid[who]);
	if (curl_easy_setopt(curl, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_COOKIE, sid[who][0] ? cookie : NULL) != CURLE_OK)
		die("curl_easy_setopt");
	if (!strcmp(method, "POST")) {
		if (curl_easy_setopt(curl, CURLOPT_POST, 1L) != CURLE_OK ||
		    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)len) != CURLE_OK ||
		    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, len ? body : "") != CURLE_OK)
			die("curl_easy_setopt");
	} else if (curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L) != CURLE_OK) {
		die("curl_easy_setopt");
	}
	rc = curl_easy_perform(curl);
	if (rc != CURLE_OK) {
		fprintf(stderr, "fuzz_routes: %s %s: %s\n", method, path, curl_easy_strerror(rc));
		die("no answer: the server dropped the connection or did not answer in time");
	}
	if (curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status) != CURLE_OK)
		die("curl_easy_getinfo");
	out->body = buf_cstr(&answer);
	out->json = answer.len ? json_loadb(answer.data, answer.len, 0, NULL) : NULL;
}

static void client_start(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(curl = curl_easy_init()))
		die("libcurl failed to start");
	buf_init(&answer, ANSWER_MAX);
	if (curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_TIMEOUT, REQUEST_TIMEOUT_S) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L) != CURLE_OK)
		die("curl_easy_setopt");
}

/* A request of the fixture that must succeed with want; returns the JSON answer (free it). */
static json_t *must(const char *method, const char *path, const char *body, enum caller who,
                    long want)
{
	struct answer a;

	request(method, path, body ? "application/json" : NULL, body, body ? strlen(body) : 0, who,
	        &a);
	if (a.status != want || !a.json) {
		fprintf(stderr, "fuzz_routes: %s %s: %ld %s\n", method, path, a.status, a.body);
		die("the fixture's request failed");
	}
	return a.json;
}

static void login(enum caller who, const char *account)
{
	char body[128];
	json_t *j;

	snprintf(body, sizeof(body), "{\"member\":\"%s\",\"password\":\"" PASSWORD "\"}", account);
	j = must("POST", "/api/v1/session", body, ANON, 200);
	if (!json_string_value(json_object_get(j, "csrf_token")) || !cookie_seen[0])
		die("%s: no session", account);
	snprintf(csrf[who], sizeof(csrf[who]), "%s",
	         json_string_value(json_object_get(j, "csrf_token")));
	snprintf(sid[who], sizeof(sid[who]), "%s", cookie_seen);
	json_decref(j);
}

/* A booking of the member (the API), confirmed as estiva-admin confirm does; passes issued. */
static long long book(const char *body, int confirm)
{
	json_t *j;
	long long id;
	sqlite3 *db = db_thread(&app);
	sqlite3_stmt *st;

	j = must("POST", "/api/v1/bookings", body, MEMBER_S, 201);
	id = json_integer_value(json_object_get(j, "id"));
	json_decref(j);
	if (id <= 0)
		die("booking: no id");
	if (!confirm)
		return id;
	if (!db || db_begin(&app, db) < 0 ||
	    sqlite3_prepare_v2(db,
	                       "UPDATE bookings SET status = 'confirmed', hold_expires_at = NULL, "
	                       "confirmed_at = ?1,"
	                       " updated_at = ?1 WHERE id = ?2 AND status = 'held'",
	                       -1, &st, NULL) != SQLITE_OK)
		die("confirm");
	db_bind_int64(st, 1, instant_now());
	db_bind_int64(st, 2, id);
	if (db_step(st) != SQLITE_DONE || sqlite3_changes(db) != 1)
		die("confirm: not held");
	sqlite3_finalize(st);
	if (db_audit(db, "fuzz_routes", "booking.confirm", "booking", id, "{\"status\":\"held\"}",
	             "{\"status\":\"confirmed\"}") < 0 ||
	    passes_issue(&app, db, id) < 0 || db_commit(&app, db) < 0)
		die("confirm: passes");
	return id;
}

/* ---- setup ---- */

static void setup(void)
{
	char err[1024], body[256];
	json_t *j;
	sqlite3 *db;
	long long held;

	umask(077);
	log_set_level(LOG_ERR);
	write_fixture_files();
	snprintf(body, sizeof(body), "%s/estiva-server.conf", dir);
	if (config_read(body, &app.cfg, err, sizeof(err)) < 0)
		die("%s", err);
	if (sodium_init() < 0)
		die("libsodium failed to start");
	setenv("TZ", app.cfg.timezone, 1);
	tzset();
	signal(SIGPIPE, SIG_IGN);
	/* as main.c */
	pthread_mutex_init(&app.write_lock, NULL);
	pthread_mutex_init(&app.conns_lock, NULL);
	pthread_key_create(&app.db_key, NULL);
	if (!(db = db_thread(&app)))
		die("cannot open the database");
	db_fixture(db);
	if (catalog_load(db, &app.cat, err, sizeof(err)) < 0 ||
	    payment_init(&app, err, sizeof(err)) < 0 || passes_init(&app, db, err, sizeof(err)) < 0)
		die("%s", err);
	auth_init(&app);
	if (db_checkpointer_start(&app) < 0)
		die("cannot start the checkpoint thread");
	if (!(server = http_start(&app, err, sizeof(err))))
		die("%s", err);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", http_port(server));
	client_start();

	login(MEMBER_S, MEMBER);
	login(MANAGER_S, MANAGER);
	login(ADMIN_S, ADMIN);
	/* a gate of fz-a: made by the admin, enrolled with its one-time code */
	j = must("POST", "/api/v1/admin/gates", "{\"centre\":\"fz-a\",\"name\":\"fuzz gate\"}",
	         ADMIN_S, 201);
	snprintf(body, sizeof(body), "{\"code\":\"%s\"}",
	         json_string_value(json_object_get(j, "code")));
	json_decref(j);
	j = must("POST", "/api/gate/v1/enroll", body, ANON, 200);
	snprintf(bearer, sizeof(bearer), "Bearer %s",
	         json_string_value(json_object_get(j, "token")));
	json_decref(j);
	/* booking 1, confirmed (passes 1 and 2: the seeds' tokens), and booking 2, held: the
	 * payment route's */
	book("{\"centre\":\"fz-a\",\"unit_type\":\"chalet\",\"arrival\":\"2031-07-14\","
	     "\"departure\":\"2031-07-21\","
	     "\"guests\":[{\"name\":\"Karim\",\"relation\":\"self\",\"birth_year\":1980},"
	     "{\"name\":\"Amina\",\"relation\":\"spouse\",\"birth_year\":1982}]}",
	     1);
	held = book(
	    "{\"centre\":\"fz-a\",\"unit_type\":\"studio\",\"arrival\":\"2032-03-02\","
	    "\"departure\":\"2032-03-05\",\"guests\":[{\"name\":\"Karim\",\"relation\":\"self\"}]}",
	    0);
	for (size_t i = 0; i < ROUTES; i++) {
		const char *p = routes[i].pattern, *at = strstr(p, "{booking}");
		if (at)
			snprintf(routes[i].path, sizeof(routes[i].path), "%.*s%lld%s",
			         (int)(at - p), p, held, at + 9);
		else
			snprintf(routes[i].path, sizeof(routes[i].path), "%s", p);
	}
	verbose = getenv("ESTIVA_FUZZ_VERBOSE") != NULL;
	if (verbose) {
		sqlite3_stmt *st;
		fprintf(stderr, "fuzz_routes: server %s, folder %s, held booking %lld\n", base, dir,
		        held);
		if (sqlite3_prepare_v2(db, "SELECT id, booking, token FROM passes ORDER BY id", -1,
		                       &st, NULL) == SQLITE_OK) {
			while (db_step(st) == SQLITE_ROW)
				fprintf(stderr, "fuzz_routes: pass %d of booking %d: %s\n",
				        sqlite3_column_int(st, 0), sqlite3_column_int(st, 1),
				        (const char *)sqlite3_column_text(st, 2));
			sqlite3_finalize(st);
		}
	}
}

/* ---- the checks ---- */

static void fail(const struct route *r, const struct answer *a, const char *why)
{
	fprintf(stderr, "fuzz_routes: POST %s: %ld %.2000s\n", r->path, a->status, a->body);
	die("%s", why);
}

static void check(const struct route *r, const struct answer *a)
{
	json_t *code = json_object_get(json_object_get(a->json, "error"), "code");

	if (a->status < 200 || a->status > 599)
		fail(r, a, "a status outside 200..599");
	if (a->status == 500)
		fail(r, a, "500: a body made the server fail (internal error)");
	if (a->status >= 400) {
		if (!json_is_object(a->json) || !json_is_string(code) || !json_string_length(code))
			fail(r, a, "an error without error.code");
		return;
	}
	switch (r->kind) {
	case JSON:
		if (!json_is_object(a->json))
			fail(r, a, "a JSON route's answer is not a JSON object");
		break;
	case CALLBACK:
		/* the gateway reads one of three words */
		if (a->status != 200 ||
		    (strcmp(a->body, "FAILURE") && strcmp(a->body, "APPROVED") &&
		     strcmp(a->body, "ACTION=POSTAUTH")))
			fail(r, a,
			     "the callback's answer is not FAILURE, APPROVED or ACTION=POSTAUTH");
		break;
	case PAGE:
		if (a->status != 200 || strncmp(a->body, "<!doctype html>", 15))
			fail(r, a, "the return page is not a page");
		break;
	}
}

static void health(void)
{
	struct answer a;
	const char *s;

	request("GET", "/healthz", NULL, NULL, 0, ANON, &a);
	s = json_string_value(json_object_get(a.json, "status"));
	if (a.status != 200 || !s || strcmp(s, "ok")) {
		fprintf(stderr, "fuzz_routes: GET /healthz after %lu inputs: %ld %s\n", inputs,
		        a.status, a.body);
		die("the server is not healthy");
	}
	json_decref(a.json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct route *r;
	struct answer a;

	if (!server)
		setup();
	if (size == 0)
		return 0;
	r = &routes[data[0] % ROUTES];
	inputs++;
	request("POST", r->path,
	        r->kind == JSON ? "application/json" : "application/x-www-form-urlencoded",
	        data + 1, size - 1, r->who, &a);
	if (verbose)
		fprintf(stderr, "fuzz_routes: POST %s: %ld %.300s\n", r->path, a.status, a.body);
	check(r, &a);
	json_decref(a.json);
	if (inputs % HEALTH_EVERY == 0)
		health();
	return 0;
}
