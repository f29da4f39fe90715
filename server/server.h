/* server.h: estiva-server and estiva-admin: limits, defaults, structures, and the prototypes of
 * every server file, grouped by file. */
#ifndef ESTIVA_SERVER_H
#define ESTIVA_SERVER_H

#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cmi.h"
#include "sqlbind.h"

/* Limits */
#define ID_MAX 32        /* centre, unit type, season and category ids */
#define NAME_MAX_LEN 128 /* display names (bytes, UTF-8) */
#define UNIT_CODE_MAX 16
#define MAX_CATEGORIES 16
#define MAX_UNIT_TYPES 16 /* per centre */
#define MAX_SEASONS 32    /* per centre */
#define MAX_UNITS 2000    /* per unit type */
#define MAX_CENTRES 64
#define MAX_GUESTS 16 /* per booking, whatever the unit type says */
#define MAX_HOUSEHOLD 24
#define IDEM_KEY_MAX 64
#define ASSIGN_WINDOW 10    /* nights looked at on each side of a stay for best fit */
#define SESSION_ID_BYTES 32 /* 256-bit session ids */
#define CSRF_BYTES 32
#define LOGIN_FAILS_ACCOUNT 5 /* failures before an account is slowed down */
#define LOGIN_FAILS_ADDRESS 20
#define LOGIN_SUCCESSES_ACCOUNT                                                                    \
	20 /* successful logins of one account in a window before it is slowed */
#define SESSIONS_PER_ACCOUNT 10 /* open sessions of one account; a new login ends the oldest */
#define LOGIN_FAIL_WINDOW 900   /* seconds a failure is remembered */
#define LOGIN_MAX_DELAY 900

/* argon2id limits (OWASP's second recommended set: 19 MiB, 2 passes): a verify takes ~35-45 ms on
 * this machine, under the 50 ms budget for a login, while costing an attacker 19 MiB per guess.
 * libsodium's INTERACTIVE (64 MiB) takes 128 ms here. */
#define PWHASH_OPSLIMIT 2
#define PWHASH_MEMLIMIT (19u * 1024 * 1024)

/* Defaults of estiva-server.conf */
#define DEF_LISTEN "127.0.0.1"
#define DEF_PORT 8080
#define DEF_THREADS 2
#define DEF_MAX_CONNECTIONS 512
#define DEF_PER_IP_CONNECTIONS 64
#define DEF_CONN_TIMEOUT 30
#define DEF_BODY_MAX (64 * 1024)
#define DEF_HOLD (20 * 60)
#define DEF_SWEEP 15
#define DEF_MAX_REQUEST_NIGHTS 92
#define DEF_SESSION_IDLE (30 * 60)
#define DEF_SESSION_ABSOLUTE (12 * 3600)
#define DEF_BUSY_TIMEOUT_MS 5000
#define DEF_TIMEZONE "Africa/Casablanca"
#define DEF_PAY_API_TIMEOUT 10
#define DEF_PAY_API_RETRIES 3
#define DEF_PAY_SESSION (15 * 60)
#define DEF_PAY_MARGIN (10 * 60)
#define DEF_PAY_RECONCILE_AFTER (15 * 60)
#define DEF_PAY_RECONCILE_INTERVAL (5 * 60)
#define DEF_PAY_UNKNOWN_AFTER 5

/* An address block: [http] trusted_proxies. */
#define TRUSTED_PROXIES_MAX 32
struct cidr {
	int family; /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	int bits;
};

struct config {
	char path[4096]; /* the file it was read from */
	char listen[64];
	int port;
	int threads;
	int max_connections;
	int per_ip_connections;
	int conn_timeout;
	int request_timeout;  /* seconds for a whole request (headers and body) to arrive */
	int hash_threads;     /* argon2id threads of their own (hashpool.c) */
	int hash_queue;       /* password checks that may wait for one; more are refused with 503 */
	char public_url[512]; /* [server] public_url: the portal as members reach it (links in
	                         messages); empty: [payment] public_url, else http://listen:port */
	size_t body_max;
	char web_root[4096];
	char tls_cert[4096];
	char tls_key[4096];
	struct cidr trusted_proxies[TRUSTED_PROXIES_MAX]; /* [http] trusted_proxies */
	int ntrusted_proxies;
	char db_path[4096];
	int sync_full;
	int busy_timeout_ms;
	int64_t hold_seconds;
	int64_t sweep_seconds;
	int max_request_nights;
	int64_t session_idle;
	int64_t session_absolute;
	char catalog_dir[4096];
	char categories_path[4096];
	char timezone[64];
	/* [payment]: the card gateway; payments are off when credentials is empty */
	char pay_gateway_url[512];
	char pay_api_url[512];
	char pay_credentials[4096];
	char pay_public_url[512];
	char pay_ca_file[4096];
	int64_t pay_api_timeout;
	int pay_api_retries;
	int64_t pay_session;         /* the gateway page's session */
	int64_t pay_margin;          /* added to it for the callback */
	int64_t pay_reconcile_after; /* a payment without news this long is asked about */
	int64_t pay_reconcile_interval;
	int pay_unknown_after; /* reconcile rounds the gateway may not know a payment before an
	                          alert */
	/* [mail]: messages to members (docs/mail.md); off when smtp_url is empty (they wait in the
	 * outbox) */
	char mail_smtp_url[512];
	char mail_from[256];         /* "Name <address>" or an address */
	char mail_domain[128];       /* of the Message-ID: <outbox-ID@domain> */
	char mail_credentials[4096]; /* 0600 file: user = , password = */
	int mail_starttls; /* 1: smtp:// must upgrade to TLS (the default); 0: loopback tests */
	int mail_rate;     /* messages a minute at most */
	int64_t
	    mail_retry_unit; /* the retry schedule's unit: 1, 5, 15, 60, 180, 360 of it (60 s) */
	int64_t mail_reminder_every; /* seconds between two looks for stays to remind of (10 min) */
	/* [sms]: off when url is empty; a JSON POST {to, from, text} with a bearer token per
	 * message */
	char sms_url[512];
	char sms_token_file[4096]; /* 0600: the token alone on its first line */
	int sms_from, sms_until; /* minutes of the local day SMS may go out (09:00-20:00, Law 09-08
	                            practice) */
	char sms_sender[16]; /* the sender id registered with the operators (ANRT): 1-11 a-z A-Z 0-9
	                      */
	char mail_templates[4096]; /* folder of mail.fr.json and mail.ar.json (web_root/i18n) */
	/* [accounts]: activation, reset and e-mail change links (account.c) */
	int64_t account_token_ttl; /* how long a link works (30 min) */
	int account_sends_member; /* messages one account (or address typed) may cause per window */
	int account_sends_address; /* messages one client address may cause per window */
	int64_t account_send_window;
	/* [passes] */
	char key_dir[4096]; /* signing keys: pass-signing-ID.key, readable by the server's user only
	                     */
	/* [cancellation]: refund = DAYS:PERCENT, ... (days before arrival, from the most days down)
	 */
	int nrefund_tiers;
	struct {
		int days;
		int percent;
	} refund_tiers[8];
};

/* The catalog: categories, centres, unit types, units, seasons, tariffs. Read from configuration by
 * estiva-admin and stored in the database; the server loads it from the database at start. */
enum season_kind { SEASON_LOW, SEASON_HIGH };

struct category {
	char id[ID_MAX + 1];
	char name_fr[NAME_MAX_LEN];
	char name_ar[NAME_MAX_LEN];
};

struct unit_type {
	char id[ID_MAX + 1];
	char name_fr[NAME_MAX_LEN];
	char name_ar[NAME_MAX_LEN];
	int min_guests, max_guests;
	int nunits;
	char (*unit_codes)[UNIT_CODE_MAX + 1]; /* nunits, malloc'd */
	int64_t *unit_dbids;                   /* nunits, 0 until stored or loaded */
	int64_t dbid;
};

struct season {
	char id[ID_MAX + 1];
	enum season_kind kind;
	int32_t first_night, last_night; /* day numbers, inclusive */
	int min_nights, max_nights;      /* low season */
	int rotation_nights;             /* high season */
	int32_t rotation_start;
	int64_t dbid;
};

struct centre {
	char id[ID_MAX + 1];
	int number; /* 1..65535, written in passes; 0 when the configuration gives none */
	char name_fr[NAME_MAX_LEN], name_ar[NAME_MAX_LEN];
	char city_fr[NAME_MAX_LEN], city_ar[NAME_MAX_LEN];
	char address_fr[NAME_MAX_LEN], address_ar[NAME_MAX_LEN]; /* optional: told in messages */
	char phone[32];                                          /* optional: the reception's */
	int check_in, check_out;                                 /* minutes after local midnight */
	int ntypes;
	struct unit_type types[MAX_UNIT_TYPES];
	int nseasons;
	struct season seasons[MAX_SEASONS];
	/* price per night in centimes, -1 when missing: tariff[type][season][category] */
	int64_t tariff[MAX_UNIT_TYPES][MAX_SEASONS][MAX_CATEGORIES];
};

struct catalog {
	int ncategories;
	struct category categories[MAX_CATEGORIES];
	int ncentres;
	struct centre *centres[MAX_CENTRES];
};

/* Stay rules (stay.c): pure functions of the catalog. */
enum stay_err {
	STAY_OK = 0,
	STAY_BAD_DATES,
	STAY_PAST_ARRIVAL,
	STAY_NO_SEASON,
	STAY_SEASON_SPAN,
	STAY_ROTATION,
	STAY_TOO_FEW_NIGHTS,
	STAY_TOO_MANY_NIGHTS,
	STAY_TOO_MANY_GUESTS,
	STAY_TOO_FEW_GUESTS,
};

/* Who is asking (auth.c). */
enum role { ROLE_NONE, ROLE_MEMBER, ROLE_MANAGER, ROLE_ADMIN };

struct principal {
	enum role role;
	int64_t member_id; /* members */
	int64_t user_id;   /* managers and admins */
	char name[64];     /* member number or user name */
	int category;      /* members: index in the catalog */
	uint64_t centres;  /* managers: bit i = catalog centre i */
	char csrf[2 * CSRF_BYTES + 1];
	unsigned char session_key[32]; /* hash of the session id: the database key */
};

/* A gate, as its bearer token identifies it (gates.c:gate_auth). */
#define GATE_NAME_MAX 64
struct gate_who {
	int64_t id;
	char centre[ID_MAX + 1];
	char name[GATE_NAME_MAX + 1];
	int64_t last_sync_at;
};

/* Server-wide counters for /metrics. */
#define METRIC_ROUTES 64
#define METRIC_STATUSES 18
#define METRIC_BUCKETS 12
struct metrics {
	atomic_ullong requests[METRIC_ROUTES][METRIC_STATUSES];
	atomic_ullong latency_bucket[METRIC_BUCKETS];
	atomic_ullong latency_count;
	atomic_ullong latency_sum_us;
	atomic_ullong holds_expired;
	atomic_ullong db_busy_retries;
	atomic_ullong mail_sent, mail_dead;
};

struct app {
	struct config cfg;
	struct catalog cat;
	pthread_mutex_t
	    write_lock; /* one writer at a time: SQLite's busy wait is unfair (ceilings note) */
	pthread_key_t db_key; /* per-thread connection */
	pthread_mutex_t conns_lock;
	sqlite3 *conns[64];
	int nconns;
	struct metrics metrics;
	int tls;
	struct cmi_credentials *cred; /* sodium_malloc'd; NULL when payments are off */
	unsigned char *sign_sk;       /* sodium_malloc'd Ed25519 secret key that signs passes now */
	int sign_key_id;              /* its id, 0 when none is loaded */
	atomic_int pay_kick;          /* ask the worker to reconcile now */
	/* WAL checkpoints run in their own thread, never inside a writer's commit (db.c) */
	pthread_t ckpt_thread;
	pthread_mutex_t ckpt_lock;
	pthread_cond_t ckpt_cond;
	int ckpt_running, ckpt_wanted;
};

/* An HTTP exchange as the handlers see it (http.c). */
struct request {
	const char *method;
	const char *path;
	struct MHD_Connection *conn;
	struct buf body;
	int too_large;
	char ip[64];           /* the client: the peer, or what a trusted proxy says */
	char ip_key[72];       /* ip as the login slow-down counts it: an IPv6 client by its /64 */
	const char *params[4]; /* {NAME} segments of the route, as sent */
	int route;
	/* checked by api.c before the handler runs, from the route's typed parameters */
	int centre;            /* {centre}: its catalog index, one the caller may see; -1 none */
	int64_t id;            /* the route's id ({booking}, {pass}, {gate}) within its bounds */
	const char *id_suffix; /* what followed the id's digits (".png"), "" none */
	struct principal who;  /* a session's caller */
	struct gate_who gate;  /* a gate route's caller */
	struct hash_job *job;  /* a password check handed to hashpool.c; freed with the request */
	int64_t started_us;
	int status; /* of the reply, for the log */
};

struct reply {
	int status;
	char *body; /* malloc'd */
	size_t len;
	const char *content_type;
	char set_cookie[256];
	char csp[1024]; /* replaces the default Content-Security-Policy when set */
	char allow[64];
	char retry_after[16];
	char disposition[192]; /* Content-Disposition when set (CSV exports) */
	int suspended; /* the handler suspended the connection: no reply now, it is called again */
};

/* config.c: one entry of [http] trusted_proxies. Parses "ADDR" or "ADDR/BITS" into c: 0, or -1. */
int cidr_parse(const char *s, struct cidr *c);

/* Reads FILE into cfg; on error writes "file:line: problem" into err and returns -1. */
int config_read(const char *path, struct config *cfg, char *err, size_t errlen);
void config_defaults(struct config *cfg);

/* catalog.c */
int catalog_read_files(const struct config *cfg, struct catalog *cat, char *err, size_t errlen);
int catalog_read_categories(const char *path, struct catalog *cat, char *err, size_t errlen);
int catalog_read_centre(const char *path, const struct catalog *cat, struct centre *c, char *err,
                        size_t errlen);
int catalog_store(sqlite3 *db, struct catalog *cat, char *err, size_t errlen);
int catalog_load(sqlite3 *db, struct catalog *cat, char *err, size_t errlen);
void catalog_free(struct catalog *cat);
void centre_free(struct centre *c);
int catalog_centre(const struct catalog *cat, const char *id);
int catalog_category(const struct catalog *cat, const char *id);
int centre_unit_type(const struct centre *c, const char *id);
/* index of the season holding this night, or -1 */
int centre_season_at(const struct centre *c, int32_t night);
/* index of the unit in its type, by database id, or -1 */
int unit_type_unit(const struct unit_type *t, int64_t dbid);

/* stay.c */
enum stay_err stay_check(const struct centre *c, int type, int32_t today, int32_t arrival,
                         int32_t departure, int nguests, int *season);
const char *stay_code(enum stay_err e);
const char *stay_strerror(enum stay_err e);
/* Total price of a stay that passed stay_check: 0, or -1 when a tariff is missing. */
int stay_price(const struct centre *c, int type, int season, int category, int32_t arrival,
               int32_t departure, int64_t *centimes);
/* Best fit: busy[u * width + i] is 1 when unit u is taken on night (window_start + i). The stay
 * takes nights [off, off + len). Returns the unit free for every night of the stay that leaves the
 * smallest free gaps around it (so long runs of free nights stay whole), lowest index on ties; -1
 * when none is free. */
int stay_assign(int nunits, int width, const unsigned char *busy, int off, int len);

/* db.c */
sqlite3 *db_open(const char *path, int sync_full, int busy_ms, char *err, size_t errlen);
int db_migrate(sqlite3 *db, char *err, size_t errlen);
/* Up to schema version target only (tests of a migration start from the version before it). */
int db_migrate_to(sqlite3 *db, int target, char *err, size_t errlen);
int db_exec(sqlite3 *db, const char *sql);
/* An instant as JSON ("YYYY-MM-DDTHH:MM:SSZ"); a column's instant (times scale to seconds) or null;
 * a column's integer or null. */
json_t *json_instant(int64_t t);
json_t *json_instant_col(sqlite3_stmt *st, int col, int64_t scale);
json_t *json_int_col(sqlite3_stmt *st, int col);
/* The calling thread's connection to the database (opened on first use). */
sqlite3 *db_thread(struct app *app);
void db_close_all(struct app *app);
/* Starts the checkpoint thread: from then on new connections leave checkpoints to it. */
int db_checkpointer_start(struct app *app);
void db_checkpointer_stop(struct app *app);
/* Write transactions: take the process-wide writer lock, then BEGIN IMMEDIATE. */
int db_begin(struct app *app, sqlite3 *db);
int db_commit(struct app *app, sqlite3 *db);
void db_rollback(struct app *app, sqlite3 *db);
int db_audit(sqlite3 *db, const char *actor, const char *action, const char *entity,
             int64_t entity_id, const char *before, const char *after);
/* A prepared statement for sql (a string with static storage: its address is the key), from the
 * calling thread's cache, reset and unbound. Give it back with db_done(), never sqlite3_finalize().
 */
sqlite3_stmt *db_stmt(sqlite3 *db, const char *sql);
/* The one exception: SQL built at run time (its address keys nothing) or run around schema changes
 * is prepared for one use; db_done() finalizes it. */
sqlite3_stmt *db_stmt_once(sqlite3 *db, const char *sql);
void db_done(sqlite3_stmt *st);
/* Finalizes every statement of db (and forgets this thread's cached ones), then closes it. */
void db_close(sqlite3 *db);
/* Current schema version. */
extern const int db_schema_version;

/* members.c */
struct member_row {
	char number[16];
	char cin[16];
	char last_name[NAME_MAX_LEN], first_name[NAME_MAX_LEN];
	char last_name_ar[NAME_MAX_LEN], first_name_ar[NAME_MAX_LEN];
	char email[NAME_MAX_LEN];
	char phone[32];
	char status[16];
	char category[ID_MAX + 1];
	int nhousehold;
	struct {
		char name[NAME_MAX_LEN];
		char relation[8];
		int birth_year; /* 0 unknown */
	} household[MAX_HOUSEHOLD];
};
/* Parses the whole CSV text; on the first bad row writes "NAME:LINE: problem" to err and returns
 * -1. On success *rows (malloc'd) holds *nrows members. */
int members_csv_parse(const char *name, const char *text, size_t len, const struct catalog *cat,
                      struct member_row **rows, int *nrows, char *err, size_t errlen);
int members_import(sqlite3 *db, const struct member_row *rows, int nrows, char *err, size_t errlen);
int password_hash(const char *password, char out[128]);
/* 1 when s has no control character (below 0x20, or DEL): CR, LF and TAB included */
int text_is_plain(const char *s);
#define PASSWORD_MIN 10   /* characters */
#define PASSWORD_MAX 1023 /* bytes */
/* NULL when pw (len bytes) may be the password of account (may be NULL), else why not, for the user
 */
const char *password_refused(const char *pw, size_t len, const char *account);
/* Inside a transaction: a member's (by number) or user's (by name) new password hash; every session
 * of the account ends. 1 set, 0 no such account, -1 database error. */
int account_set_password(sqlite3 *db, const char *account, const char *hash);
/* The same, but the session whose key is keep (may be NULL) stays open: a member who changes their
 * own password stays logged in where they did it. */
int account_set_password_except(sqlite3 *db, const char *account, const char *hash,
                                const unsigned char *keep);

/* account.c: members' own accounts (docs/api.md, "Accounts"). Activation and reset links: 256
 * random bits, kept only as their BLAKE2b hash in account_tokens, single use, [accounts] token_ttl;
 * the answer to a request for one never tells whether the member exists. */
#define ACCOUNT_TOKEN_TTL (30 * 60)
#define ACCOUNT_SENDS_MEMBER 3 /* messages per account (or address typed) per window */
#define ACCOUNT_SENDS_ADDRESS 20
#define ACCOUNT_SEND_WINDOW 3600
#define PHONE_MAX 31
int account_activate(struct app *app, struct request *rq, struct reply *rp);
int account_reset(struct app *app, struct request *rq, struct reply *rp);
int account_password(struct app *app, struct request *rq, struct reply *rp);
int account_email_confirm(struct app *app, struct request *rq, struct reply *rp);
int account_me_password(struct app *app, struct request *rq, struct reply *rp);
int account_me_update(struct app *app, struct request *rq, struct reply *rp);
/* The portal's address for links (no trailing slash) into out. */
void account_public_url(const struct app *app, char *out, size_t n);

/* outbox.c: messages queued in the caller's transaction (docs/mail.md). */
#define MAIL_ADDRESS_MAX 254
/* 1 when s can be sent to as it is: one @, a dot in the domain, no space, control byte or character
 * that could end an address or a header; at most MAIL_ADDRESS_MAX bytes. */
int mail_address_ok(const char *s);
/* A message of template to the member, with payload (stolen) as its values: 0, or -1 (roll back). A
 * member without a usable address gets a dead letter (admins see it), not an error. */
int outbox_queue(sqlite3 *db, const char *template, int64_t member, int64_t booking,
                 json_t *payload);
/* The same for a booking: its member, centre (name, address, phone, check-in time), unit, dates and
 * amount as values, with extra's (stolen, may be NULL) added. */
int outbox_booking(struct app *app, sqlite3 *db, const char *template, int64_t booking,
                   json_t *extra);
/* The same to another address than the one on file (a new address to confirm): 0, or -1; an
 * unusable recipient is a dead letter. */
int outbox_queue_to(sqlite3 *db, const char *template, int64_t member, int64_t booking,
                    const char *recipient, json_t *payload);
/* The SMS channel (docs/mail.md): when on, the news about a stay also goes as an SMS to the
 * member's number (set at start from [sms] url). A number as E.164 ("+2126..."; spaces and dashes
 * dropped) into out: 1, or 0 when it cannot take an SMS. */
void outbox_sms_enable(int on);
int sms_number_ok(const char *s, char *out, size_t n);
/* centimes as "380.00" */
json_t *outbox_money(int64_t centimes);

/* mail.c: the worker that sends the outbox. mail_init loads the templates (both languages, every
 * template in each) and the SMTP credentials; -1 with err. */
int mail_init(struct app *app, char *err, size_t errlen);
/* One batch of due messages on this thread's connection: how many were sent, or -1. */
int mail_send_due(struct app *app, sqlite3 *db);
/* The SMS text of template in locale with payload's values, one line, cut to what one SMS holds
 * (160 GSM characters, or 70 when any character is not GSM, as Arabic): 0, or -1 without an sms
 * text. */
#define SMS_GSM_MAX 160
#define SMS_UCS2_MAX 70
int sms_text(const char *template, const char *locale, json_t *payload, char *out, size_t n);
/* Queues the reminder of every confirmed stay that starts in REMINDER_DAYS days, once per stay, for
 * members who want reminders: how many, or -1. */
#define REMINDER_DAYS 3
int mail_queue_reminders(struct app *app, sqlite3 *db);
int mail_start(struct app *app);
void mail_stop(void);

/* hashpool.c: argon2id off the HTTP threads. A handler reserves a slot (-1: full, answer 503),
 * makes a job with the connection to resume, suspends the connection and submits; libmicrohttpd
 * calls the handler again once job->done is set. */
#define HASHPOOL_MAX_THREADS 16
enum hash_op { HASH_VERIFY, HASH_MAKE };
struct hash_job {
	enum hash_op op;
	char hash[128];      /* VERIFY: the stored hash; MAKE: the new hash */
	char password[1025]; /* wiped once used */
	int result;          /* VERIFY: 1 match, 0 not; MAKE: 0, or -1 */
	atomic_int done;
	struct MHD_Connection *conn;
	struct hash_job *next;
};
int hashpool_start(int threads, int queue);
void hashpool_stop(void);
int hashpool_reserve(void);
void hashpool_submit(struct hash_job *job);
int hashpool_busy(void);
struct hash_job *hash_job_new(enum hash_op op, const char *hash, const char *password);
void hash_job_free(struct hash_job *job);

/* auth.c */
int auth_login(struct app *app, struct request *rq, struct reply *rp);
int auth_logout(struct app *app, struct request *rq, struct reply *rp);
/* Fills rq->who from the session cookie: 1 when a live session was found, 0 when none, -1 on error.
 */
int auth_session(struct app *app, struct request *rq);
int auth_csrf_ok(const struct request *rq);
int auth_can_see_centre(const struct principal *who, int centre);
/* What data the caller may see (the route table says who may call; this is whose data): a member
 * their own (member), staff their centres' (centre index). 1 or 0. */
int auth_may_see(const struct principal *who, int64_t member, int centre);
/* The member whose data alone the caller sees, or 0 (staff). */
int64_t auth_own_member(const struct principal *who);
/* 1 when the caller sees only some centres (managers): lists are then filtered by
 * auth_can_see_centre. */
int auth_centre_limited(const struct principal *who);
void auth_init(struct app *app);
/* The failed-login slow-down, for other checks of a password (a member's current one): seconds to
 * wait before another try (0: none), and one more failure recorded (in the caller's transaction).
 */
int64_t auth_failure_wait(sqlite3 *db, const char *key, int limit, int64_t now);
int auth_failure_count(sqlite3 *db, const char *key, int64_t now);

/* Scans stamped later than their gate's clock could have been (sync.c) are kept as facts, flagged
 * future_time, and never count for presence: every presence query adds this. */
#define EVENT_TIME_TRUSTED " AND (conflict_reason IS NULL OR conflict_reason != 'future_time')"
#define EVENT_TIME_TOLERANCE (5 * 60) /* seconds beyond the gate's measured clock */
#define EVENT_AHEAD_MAX 3600 /* a gate's clock measured further ahead than this counts as this */

/* booking.c */
int booking_hold(struct app *app, struct request *rq, struct reply *rp);
int booking_cancel(struct app *app, struct request *rq, struct reply *rp);
int booking_get(struct app *app, struct request *rq, struct reply *rp);
int booking_list(struct app *app, struct request *rq, struct reply *rp);
/* Releases holds past their expiry; returns how many, or -1. */
int booking_expire_holds(struct app *app, sqlite3 *db, int64_t now);
/* A booking as JSON (a new reference), or NULL when it does not exist. */
json_t *booking_json(struct app *app, sqlite3 *db, int64_t id);

/* payment.c */
/* Reads the gateway credentials (a file readable by its owner only): 0, or -1 with err. */
int payment_init(struct app *app, char *err, size_t errlen);
void payment_free(struct app *app);
int payment_start(struct app *app, struct request *rq, struct reply *rp);
int payment_form(struct app *app, struct request *rq, struct reply *rp);
int payment_callback(struct app *app, struct request *rq, struct reply *rp);
int payment_return(struct app *app, struct request *rq, struct reply *rp);
int payment_cancel_quote(struct app *app, struct request *rq, struct reply *rp);
/* Inside the cancel transaction of a confirmed booking: records the refund the policy gives.
 * Returns the refund id (0 when nothing is refunded) or -1. */
int64_t payment_refund_on_cancel(struct app *app, sqlite3 *db, int64_t booking, int32_t arrival,
                                 const char *actor);
/* Sends a requested refund to the gateway (outside any transaction). */
void payment_refund_send(struct app *app, sqlite3 *db, int64_t refund);
/* Settles what the gateway left open (see docs/payments.md). force: ask about every open payment.
 */
int payment_reconcile(struct app *app, sqlite3 *db, int force);
/* The refund percent for a stay arriving `days` days from today. */
int payment_refund_percent(const struct config *cfg, int days);
/* estiva-admin payments-report: 0 when the gateway agrees with us, 1 when something differs. */
int payment_report(struct app *app, sqlite3 *db, int32_t day, FILE *out);

/* receipts.c: numbered receipts (docs/payments.md). Inside the transaction that records the money:
 * a payment's receipt (payment 0: confirmed at the desk, for the booking's price) or a refund's,
 * numbered YEAR-NNNNNN without gaps within the year. The number, 0 when there is nothing to
 * receipt (no amount), or -1 (roll back). */
int64_t receipts_payment(sqlite3 *db, int64_t booking, int64_t payment);
int64_t receipts_refund(sqlite3 *db, int64_t refund);
/* The booking's receipts as one printable HTML document (French and Arabic) into b; attached: the
 * e-mail's copy (its style inside, no link). How many receipts, or -1. */
int receipts_html(struct app *app, sqlite3 *db, int64_t booking, int attached, struct buf *b);
int receipts_page(struct app *app, struct request *rq, struct reply *rp);

/* calendar.c: the stay as an iCalendar file (RFC 5545, libical). Into out for a confirmed or
 * cancelled booking, in locale (NULL: the member's): 1, 0 when there is no stay to tell (no such
 * booking, held, expired), -1 on error. */
int calendar_ics(struct app *app, sqlite3 *db, int64_t booking, const char *locale,
                 struct buf *out);
int calendar_route(struct app *app, struct request *rq, struct reply *rp);

/* qr.c */
int qr_png(const char *text, int scale, struct buf *out);
int qr_svg(const char *text, struct buf *out);

/* passes.c */
/* Loads the signing key at start (the server refuses to start when its file is readable by others).
 */
int passes_init(struct app *app, sqlite3 *db, char *err, size_t errlen);
/* Inside the confirmation's transaction: one signed pass per guest of the booking. 0, or -1. */
int passes_issue(struct app *app, sqlite3 *db, int64_t booking);
/* Inside the cancellation's transaction: every active pass of the booking is revoked. */
int passes_revoke_booking(sqlite3 *db, int64_t booking, const char *reason);
/* Makes a new signing key (its secret in key_dir, mode 0600) that signs from now on: its id, or -1.
 */
int passes_key_rotate(struct app *app, sqlite3 *db, char *err, size_t errlen);
/* estiva-admin keys revoke ID (passes.c): re-issues the key's active passes under the current key
 * and unpublishes it, in one transaction; deletes its secret. The count re-issued, or -1 with err.
 */
int passes_key_revoke(struct app *app, sqlite3 *db, int id, char *err, size_t errlen);
/* Every pass-signing-*.key in key_dir is readable by the service alone: 0, or -1 with err. */
int passes_check_key_files(const struct app *app, char *err, size_t errlen);
/* Drops revocations of passes that have expired anyway, and public keys no pass needs any more. */
int passes_prune(struct app *app, sqlite3 *db);
void passes_free(struct app *app);
int passes_list(struct app *app, struct request *rq, struct reply *rp);
int passes_image(struct app *app, struct request *rq, struct reply *rp);
int passes_reissue(struct app *app, struct request *rq, struct reply *rp);
int passes_print(struct app *app, struct request *rq, struct reply *rp);
/* estiva-admin write-nfc: waits for a card on the reader (libnfc connstring, NULL: LIBNFC_DEVICE or
 * the first reader), writes the pass bound to the card's UID, records the UID. 0 written, 1 not. */
int passes_write_nfc(struct app *app, sqlite3 *db, int64_t id, const char *connstring,
                     int timeout_ms, FILE *out);
/* estiva-admin verify-pass: prints the fields and the verdict; 0 good, 1 not. */
int passes_verify_cli(sqlite3 *db, const char *token, FILE *out);

/* sync.c: the gates' side of the server (docs/sync.md) */
#define SYNC_MAX_EVENTS 500     /* per upload; more is 413 too_many_events */
#define SYNC_LIMIT_DEFAULT 1000 /* download items per page */
#define SYNC_LIMIT_MAX 5000
#define SYNC_HORIZON_DAYS 7       /* passes reach the gates this long before their stay starts */
#define GATE_CODE_TTL (24 * 3600) /* a one-time enrolment code */
/* Gate routes (WHO_GATE in api.c: a bearer token, checked by gate_auth before the handler runs; no
 * session, no CSRF). */
/* sync.c: the protocol (docs/sync.md). */
int sync_events(struct app *app, struct request *rq, struct reply *rp);
int sync_download(struct app *app, struct request *rq, struct reply *rp);
/* What a gate is sent at enrolment and in every download: the verify keys, its centre. */
json_t *sync_keys_json(sqlite3 *db, int64_t now);
json_t *sync_centre_json(sqlite3 *db, const char *centre);

/* gates.c: enrolment (a one-time code for a bearer token), and the administration of gates. */
/* The gate of the request's "Authorization: Bearer" token: 0 with *g filled, or -1 after replying
 * 401 (unauthenticated, bad_token, gate_revoked) or 500. */
int gate_auth(struct app *app, sqlite3 *db, struct request *rq, struct reply *rp,
              struct gate_who *g);
int gates_enroll(struct app *app, struct request *rq, struct reply *rp);
int gates_admin_list(struct app *app, struct request *rq, struct reply *rp);
int gates_admin_add(struct app *app, struct request *rq, struct reply *rp);
int gates_admin_revoke(struct app *app, struct request *rq, struct reply *rp);
/* The gates of a centre (NULL: all) with their last sync and health, or NULL on a database error.
 */
json_t *gates_json(sqlite3 *db, const char *centre);
/* estiva-admin gate add|revoke|list: argv after "gate"; returns the exit status. */
int gates_cli(struct app *app, sqlite3 *db, int argc, char **argv);

/* check.c: the online check (docs/sync.md): the decision the server would make now for a scanned
 * pass, with the gates' own rules (shared/decide.c); records nothing. The gate's route (bearer
 * token, its centre) and the staff's (managers of the centre, admins). */
int check_gate_route(struct app *app, struct request *rq, struct reply *rp);
int check_staff_route(struct app *app, struct request *rq, struct reply *rp);

/* manage.c: read APIs of the manager dashboard (managers: their centres; admins: all) and of the
 * admin pages (admins only); each centre report also as CSV with ?format=csv. */
int manage_occupancy(struct app *app, struct request *rq, struct reply *rp);
int manage_movements(struct app *app, struct request *rq, struct reply *rp);
int manage_revenue(struct app *app, struct request *rq, struct reply *rp);
int manage_members(struct app *app, struct request *rq, struct reply *rp);
int manage_keys(struct app *app, struct request *rq, struct reply *rp);
/* Passes inside a centre now (presence rule of shared/event.h) and its gates. */
int manage_onsite(struct app *app, struct request *rq, struct reply *rp);
/* Admins: the outbox (?state=queued|sent|dead, newest first), and a dead letter sent again. */
int manage_mail_list(struct app *app, struct request *rq, struct reply *rp);
int manage_mail_resend(struct app *app, struct request *rq, struct reply *rp);

/* api.c: the route table. api_route matches the request, checks who may call it, its centre scope
 * and typed path parameters, and calls the handler (or replies 401/403/404/405 itself). */
int api_route(struct app *app, struct request *rq, struct reply *rp);
/* 1 when some route's pattern matches path (whatever the method): http.c serves no static file
 * there. */
int api_has_route(const char *path);
/* The table, one route a line: METHOD PATTERN WHO CSRF SCOPE (estiva-server --routes). 0, or -1
 * when a pattern has a parameter of no known type. */
int api_routes_print(FILE *out);

/* http.c */
struct MHD_Daemon *http_start(struct app *app, char *err, size_t errlen);
int http_port(struct MHD_Daemon *d);
void http_stop(struct MHD_Daemon *d);

/* metrics.c: counts a finished request (route -1: none matched) and writes the Prometheus text; the
 * caller gives the names of routes 0..nroutes-1. */
void metrics_count(struct metrics *m, int route, int status, int64_t us);
void metrics_render(struct metrics *m, const char *const *routes, int nroutes, struct buf *out);

/* reply.c: reply helpers; each returns 0 so handlers can `return reply_json(...)`. */
int reply_json(struct reply *rp, int status, json_t *body); /* steals body */
int reply_error(struct reply *rp, int status, const char *code, const char *message);
int reply_text(struct reply *rp, int status, const char *content_type, const char *text);

/* request.c */
/* The request body as a JSON object, or an error reply (400/415): 0 when parsed, -1 when replied.
 */
int request_json(struct request *rq, struct reply *rp, json_t **out);
const char *request_header(struct request *rq, const char *name);
const char *request_query(struct request *rq, const char *name);
/* The id in the len bytes at s: strict decimal (no sign, no space, no leading zero, no overflow)
 * within min..max. 0 with *out set, or -1. The one parser of ids in paths (and of ids on
 * estiva-admin's command line). */
int request_id_param(const char *s, size_t len, int64_t min, int64_t max, int64_t *out);

#endif
