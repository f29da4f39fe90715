/* gate.h: estiva-gate, the on-site gate daemon: limits and defaults, the configuration, the shared
 * state of the running gate, and the prototypes of each file (config.c store.c scan.c sync.c
 * reader_qr.c reader_nfc.c relay.c status.c clock.c main.c). The admission rules themselves are
 * shared/decide.c. Behaviour and configuration: docs/gate.md; the protocol: docs/sync.md. */
#ifndef ESTIVA_GATE_H
#define ESTIVA_GATE_H

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "decide.h"
#include "event.h"
#include "pass.h"
#include "sqlbind.h"

/* ---- limits and defaults ---- */
#define GATE_DEFAULT_CONFIG "/etc/estiva/estiva-gate.conf"
#define GATE_PATH_MAX 1024
#define GATE_URL_MAX 512
#define GATE_CMD_MAX 512
#define GATE_ARGS_MAX 32
#define GATE_READERS_MAX 16
#define GATE_READER_NAME_MAX 32
#define GATE_LINE_MAX 1024 /* a QR line longer than this is refused */
#define GATE_NOTE_MAX 200  /* manual admission reason */
#define GATE_KEYS_MAX 255
#define GATE_TOKEN_LEN 64  /* hex characters */
#define GATE_RECENT 32     /* decisions kept in memory for the display */
#define GATE_BATCH_MAX 500 /* events per upload (docs/sync.md) */
#define GATE_UPLOAD_BYTES_MAX (1024 * 1024)
#define GATE_DEF_BATCH_BYTES (60 * 1024) /* under the server's default body_max (64 KiB) */
#define GATE_PAGE_LIMIT_MAX 5000
#define GATE_RESPONSE_MAX (64 * 1024 * 1024) /* a sync page of 5000 passes is a few MiB */
#define GATE_SESSIONS_MAX 16
#define GATE_LATENCY_SAMPLES 1024

#define GATE_DEF_UPLOAD_INTERVAL 10 /* seconds */
#define GATE_DEF_DOWNLOAD_INTERVAL 60
#define GATE_DEF_BATCH 200
#define GATE_DEF_PAGE_LIMIT 1000
#define GATE_DEF_BACKOFF_MAX 300
#define GATE_DEF_HTTP_TIMEOUT 30
#define GATE_DEF_RELAY_TIMEOUT 3
#define GATE_DEF_SENSOR_TIMEOUT 10
#define GATE_DEF_SKEW_WARN 120
#define GATE_DEF_SKEW_CORRECT 600
#define GATE_DEF_GRACE_MINUTES 30
#define GATE_DEF_REVOKED_GRACE 3600
#define GATE_DEF_SESSION_TTL (12 * 3600)
#define GATE_DISTRUST_SECONDS (365LL * 86400) /* a clock this far before the last sync is wrong */

/* ---- configuration (config.c) ---- */
enum reader_type { READER_QR = 0, READER_NFC = 1 };

struct reader_conf {
	char name[GATE_READER_NAME_MAX];
	enum reader_type type;
	char device[GATE_PATH_MAX]; /* QR: a tty path or "stdin"; NFC: a libnfc connstring */
	enum decide_dir dir;
	int baud; /* QR on a serial tty: 0 leaves the speed as it is */
};

/* A command split into words at config time: no shell (docs/gate.md, "Relay"). */
struct gate_cmd {
	char buf[GATE_CMD_MAX];
	char *argv[GATE_ARGS_MAX + 1];
	int argc;
};

struct gate_config {
	char path[GATE_PATH_MAX];
	char centre[33]; /* centre id, e.g. al-arz */
	int gate_id;     /* 0: whatever enrolment gave */
	char name[64];
	char server_url[GATE_URL_MAX];
	char ca_file[GATE_PATH_MAX];
	char db_path[GATE_PATH_MAX];
	char token_file[GATE_PATH_MAX];
	struct reader_conf readers[GATE_READERS_MAX];
	int nreaders;
	struct gate_cmd relay;
	int64_t relay_timeout;
	struct gate_cmd sensor;
	int64_t sensor_timeout;
	int64_t upload_interval, download_interval, backoff_max, http_timeout;
	int batch, page_limit;
	size_t batch_bytes; /* an upload body stays under this */
	enum decide_policy policy;
	unsigned kinds;
	int grace_minutes;
	int64_t skew_warn, skew_correct, revoked_grace;
	char listen[64];
	int port;           /* 0: ephemeral; -1: no status page */
	char pin_hash[192]; /* crypto_pwhash_str (argon2id) */
	int64_t session_ttl;
	int log_debug;
};

/* Reads and checks the file; -1 with "path:line: message" in err. */
int config_read(const char *path, struct gate_config *cfg, char *err, size_t errlen);
/* Splits a command line into words ("..." groups, \ escapes); 0, or -1 when malformed. */
int config_split_cmd(const char *line, struct gate_cmd *cmd);

/* ---- local store (store.c): SQLite, WAL; one struct store per thread ---- */
/* Scan events are shared/event.h's struct event (with its gate-only local_at and reader). */

struct store;
struct store *store_open(const char *path, int full_sync, char *err, size_t errlen);
void store_close(struct store *st);
/* meta key/value: 1 found, 0 not, -1 error */
int store_meta_get(struct store *st, const char *key, char *buf, size_t n);
int store_meta_get_int(struct store *st, const char *key, int64_t *v);
int store_meta_set(struct store *st, const char *key, const char *value);
int store_meta_set_int(struct store *st, const char *key, int64_t v);
/* After a successful sync cycle: last_success, last_sync_server and the cycle counter, at once. */
int store_sync_done(struct store *st, int64_t now, int64_t server_time);
/* The key set: count, or -1. */
int store_keys_load(struct store *st, struct pass_key *keys, int max);
/* Lookups for decide() on this connection. */
void store_lookup(struct store *st, struct decide_lookup *lk);
/* One scan: a new random id, the next seq, and the presence record, in one durable transaction. */
int store_record(struct store *st, struct event *ev);
/* Up to max unsent events in seq order: count, or -1. */
int store_unsent(struct store *st, struct event *evs, int max);
/* Marks ids sent, in one transaction: -1 on error, else how many changed. */
int store_mark_sent(struct store *st, char (*ids)[33], int n);
/* Moves an event to the dead-letter table (never sent again). */
int store_dead_letter(struct store *st, const char *id, const char *error);
/* Applies one downloaded page and stores its cursor, in one transaction. page is a json_t *. */
int store_apply_page(struct store *st, void *page, int own_gate, int64_t now);
struct store_counts {
	int64_t queue, dead, inside, passes, events, revocations;
};
/* Unsent events only (cheap: a partial index); store_counts() reads every table. */
int store_queue(struct store *st, int64_t *n);
int store_counts(struct store *st, int64_t now, struct store_counts *c);
/* Removes what is past use: passes and revocations expired a week ago, sent events of 90 days ago.
 */
int store_prune(struct store *st, int64_t now);
/* The latest events (newest first) for the status page: count, or -1. */
int store_recent(struct store *st, struct event *evs, int max);
/* Dead letters, newest first: fills ids/errors, returns count or -1. */
int store_dead_list(struct store *st, char (*ids)[33], char (*errors)[128], int max);

/* ---- the running gate ---- */
enum reader_health { READER_STARTING = 0, READER_OK, READER_FAILED, READER_CLOSED };

struct reader_state {
	enum reader_health health;
	char message[160];
	int64_t since; /* when health last changed */
	int64_t scans, errors;
	pthread_t thread;
	int started;
};

struct display {
	uint64_t seq; /* 0: nothing yet */
	struct event ev;
	char guest_name[DECIDE_NAME_MAX];
	char unit[DECIDE_UNIT_MAX];
	double ms; /* decision time, durable write included */
};

struct gate {
	struct gate_config cfg;
	pthread_mutex_t lock; /* protects everything below but scan_* */
	pthread_cond_t wake;  /* sync thread's sleep; signalled on stop and "sync now" */
	volatile sig_atomic_t stopping;
	int stop_pipe[2]; /* readable once stopping: readers poll it */

	/* identity (from enrolment, in the store's meta table) */
	int gate_id;
	uint16_t centre_number;
	char centre[33];
	char token[GATE_TOKEN_LEN + 1];

	struct pass_key keys[GATE_KEYS_MAX];
	int nkeys;

	/* clock (clock.c) */
	int have_offset;
	double offset;            /* server − local, seconds */
	int64_t last_sync_server; /* server time at the last successful sync (0: never) */
	double mono_base;         /* monotonic time matching last_sync_server (or the start) */

	/* sync state */
	int online;
	int64_t last_success, last_attempt, next_attempt;
	char sync_error[200];
	int revoked;
	int64_t revoked_at;
	int64_t queue, dead;
	int sync_now;

	struct reader_state readers[GATE_READERS_MAX];
	struct display recent[GATE_RECENT];
	int nrecent;
	uint64_t display_seq;
	double lat[GATE_LATENCY_SAMPLES];
	unsigned nlat;

	/* scans: one decision at a time on its own connection */
	pthread_mutex_t scan_lock;
	struct store *scan_store;

	void *http; /* struct MHD_Daemon * */
	int http_port;
	pthread_t sync_thread;
	int sync_started;
};

/* clock.c */
double clock_mono(void);
double clock_wall(void);
/* The time decisions use: local, server-corrected beyond skew_correct, or last sync + monotonic
 * elapsed when the local clock reads a year before the last sync. Caller holds g->lock. */
int64_t gate_now_locked(struct gate *g, int *distrusted);
int64_t gate_now(struct gate *g);
/* Records a server time seen at a request made between local wall times t0 and t1. */
void clock_observe(struct gate *g, int64_t server_time, double t0, double t1);

/* scan.c: what a reader calls with what it read */
struct scan_input {
	const char *text; /* QR line (not NUL-terminated), or NULL */
	size_t text_len;
	const unsigned char *bin; /* NFC payload, or NULL */
	size_t bin_len;
	const unsigned char *uid;
	size_t uid_len;
	int unreadable; /* 1: nothing usable was read (garbage, too long, bad tag) */
};
/* Decides, records, shows, and on admit runs the relay (and the sensor). 0, or -1 when the event
 * could not be recorded (the scan is then refused). */
int gate_scan(struct gate *g, int reader, const struct scan_input *in, struct decide_result *res);
/* Staff's manual admission (status page): recorded as a "manual" event and synced. */
int gate_manual(struct gate *g, uint32_t pass, enum decide_dir dir, const char *note);
void gate_reader_health(struct gate *g, int reader, enum reader_health h, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sleeps up to ms, waking early when the gate stops; 1 when stopping. */
int gate_sleep(struct gate *g, long ms);
/* p50/p99/max of the recent decision times, in ms. */
void gate_latency(struct gate *g, double *p50, double *p99, double *max);

/* reader_qr.c / reader_nfc.c: the thread bodies (arg: struct reader_arg *) */
struct reader_arg {
	struct gate *g;
	int index;
};
void *reader_qr_main(void *arg);
void *reader_nfc_main(void *arg);
/* qrline.c: splits a stream of bytes into lines for a QR reader: feed chunks, get lines. */
struct qr_lines {
	char line[GATE_LINE_MAX + 1];
	size_t len;
	int overflow; /* the current line is past GATE_LINE_MAX: it will be refused */
};
/* Calls fn(user, line, len, too_long) for each complete line in data[0..n). */
void qr_lines_feed(struct qr_lines *q, const char *data, size_t n,
                   void (*fn)(void *user, const char *line, size_t len, int too_long), void *user);
/* 1 when the line could hold a pass (printable ASCII, not too long), 0 when it is noise to refuse.
 */
int qr_line_readable(const char *line, size_t len, int too_long);

/* relay.c */
/* Runs cmd (with {direction} {reader} {pass} replaced in its words) and waits up to timeout
 * seconds: its exit status, -1 when it could not start, -2 when it timed out (it is killed). */
int relay_run(const struct gate_cmd *cmd, int64_t timeout, const char *direction,
              const char *reader, uint32_t pass);

/* sync.c */
int sync_start(struct gate *g, char *err, size_t errlen);
void sync_stop(struct gate *g);
/* One full cycle now (upload, then download), used by `enroll` and tests: 0, or -1. */
int sync_cycle(struct gate *g, struct store *st);
/* POST /api/gate/v1/enroll; stores the token and identity. 0, or -1 with a message in err. */
int sync_enroll(struct gate *g, const char *url, const char *code, char *err, size_t errlen);
/* Exposed for tests: the back-off delay in milliseconds after `failures` failures (exponential,
 * capped at max_s seconds, with jitter), and a Retry-After header value (seconds or an HTTP date)
 * against now, in seconds: -1 when unusable. */
int64_t sync_backoff_ms(int failures, int64_t max_s);
int64_t sync_retry_after(const char *value, int64_t now);

/* status.c */
int status_start(struct gate *g, char *err, size_t errlen);
void status_stop(struct gate *g);

/* main.c helpers used by several files */
int gate_load_identity(struct gate *g, struct store *st, char *err, size_t errlen);
int gate_reload_keys(struct gate *g, struct store *st);

#endif
