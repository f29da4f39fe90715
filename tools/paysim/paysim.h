/* paysim.h: estiva-paysim, a loopback stand-in for the Moroccan card gateway (CMI, NestPay based):
 * the hosted card page (/fim/est3Dgate), the signed server-to-server callback, the browser return,
 * and the XML API (/fim/api). Limits, shared structs and prototypes, grouped by file.
 * It links no server code on purpose: its ver3 hash is a second, independent implementation. */
#ifndef ESTIVA_PAYSIM_H
#define ESTIVA_PAYSIM_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* ---- limits ---- */
#define PAYSIM_BODY_MAX (64 * 1024) /* any request body; larger is refused with 413 */
#define PAYSIM_FIELDS_MAX 100       /* form fields in one request */
#define PAYSIM_NAME_MAX 64          /* one field or XML element name */
#define PAYSIM_VALUE_MAX 4096       /* one field or XML element value */
#define PAYSIM_OID_MAX 64           /* NestPay order ids are at most 64 characters */
#define PAYSIM_URL_MAX 2048         /* okUrl, failUrl, callbackUrl, shopurl */
#define PAYSIM_SECRET_MAX 256       /* store key and API password */
#define PAYSIM_REPLY_MAX 4096       /* bytes of a merchant's callback reply that we keep */
#define PAYSIM_HASH_LEN 88          /* base64 of a 64-byte SHA-512 digest */
#define PAYSIM_BACKOFF_CAP_MS 60000 /* the longest wait between two callback attempts */
#define PAYSIM_CONNECTIONS 64       /* simultaneous HTTP connections */

/* ---- util.c: log, bounded buffers, time, money, random ids ---- */
void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable buffer with a hard cap. After a failed append `failed` stays set and later appends do
 * nothing, so a writer can append many pieces and check once at the end. data is NUL-terminated. */
struct sbuf {
	char *data;
	size_t len, cap, max;
	int failed;
};
void sb_init(struct sbuf *b, size_t max);
int sb_add(struct sbuf *b, const void *data, size_t len);
int sb_puts(struct sbuf *b, const char *s);
int sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *sb_str(struct sbuf *b); /* "" for an empty buffer */
void sb_free(struct sbuf *b);
char *sb_steal(struct sbuf *b, size_t *len); /* the caller frees it; NULL if the buffer failed */

int64_t now_ms(void);
/* "yyyyMMdd HH:mm:ss" in the process's time zone (TZ), as the gateway writes EXTRA.TRXDATE */
void gateway_time(int64_t unix_seconds, char out[18]);
/* "2025-06-01T10:00:00Z" */
void iso_time(int64_t unix_seconds, char out[21]);
/* "1250.00" → 125000. Strict: digits, a dot, exactly two decimals when two_decimals, else 0-2. */
int money_parse(const char *s, int two_decimals, int64_t *centimes);
void money_format(int64_t centimes, char out[24]);
/* a decimal integer in [min, max], nothing else around it */
int parse_int(const char *s, long min, long max, int *out);
/* n random characters from alphabet, NUL-terminated (out has n + 1 bytes) */
void random_chars(char *out, size_t n, const char *alphabet);
/* A NestPay-like transaction id: year, day of the year, ten random letters and digits (15 chars).
 */
void new_trans_id(char out[32]);
/* 0 if a and b are equal, in time independent of where they differ (any lengths) */
int secret_equal(const char *a, const char *b);

/* ---- form.c: ordered name/value lists, urlencoded forms, HTML escaping ---- */
struct field {
	char *name;
	char *value;
};
struct fields {
	struct field *v;
	size_t n, cap;
};
void fields_init(struct fields *f);
void fields_free(struct fields *f);
int fields_add(struct fields *f, const char *name, const char *value);
/* lookups and changes by name ignore ASCII case, as the gateway does */
const char *fields_get(const struct fields *f, const char *name);
int fields_set(struct fields *f, const char *name, const char *value); /* replace in place or add */
void fields_remove(struct fields *f, const char *name);
/* application/x-www-form-urlencoded. Refuses NUL bytes, more than PAYSIM_FIELDS_MAX fields, names
 * or values over the limits, and a name given twice (ignoring case: the hash would be ambiguous).
 */
int form_parse(const char *body, size_t len, struct fields *out, char *err, size_t errlen);
int form_encode(const struct fields *f, struct sbuf *out);
void url_encode(struct sbuf *out, const char *s);
void html_escape(struct sbuf *out, const char *s);
void xml_escape(struct sbuf *out, const char *s);

/* ---- hash.c: the ver3 hash (an implementation of its own; see docs/paysim.md) ---- */
/* PHP strnatcasecmp: case-insensitive (ASCII upper-casing), digit runs compared as numbers. */
int paysim_strnatcasecmp(const char *a, const char *b);
/* Stable sort of names[0..n) by paysim_strnatcasecmp (ties keep their order, as PHP 8's sort). */
void paysim_natsort(const char **names, size_t n);
/* The text that is hashed: the values sorted by name, `hash`/`encoding` skipped, each escaped and
 * followed by '|', then the escaped store key. Exposed for the tests and the error page. */
int paysim_hash_plaintext(const struct fields *f, const char *store_key, struct sbuf *out);
/* base64(SHA-512(plaintext)), 88 characters and a NUL. */
int paysim_hash(const struct fields *f, const char *store_key, char out[PAYSIM_HASH_LEN + 1]);
/* 0 when `received` equals the hash of f (constant-time comparison), -1 otherwise. */
int paysim_hash_verify(const struct fields *f, const char *store_key, const char *received);
/* The sorted names that go into the hash, joined with '|' (for error pages; no values). */
int paysim_hash_names(const struct fields *f, struct sbuf *out);

/* ---- xml.c: the flat CC5Request dialect ---- */
/* Reads <CC5Request> with text-only children, and one level more under <Extra>. No attributes,
 * comments, CDATA or DOCTYPE; the five XML entities and &#N; references. top and extra get the
 * element names and their decoded text. */
int cc5_parse(const char *xml, size_t len, struct fields *top, struct fields *extra, char *err,
              size_t errlen);

/* ---- settings (main.c): what tests may change while the simulator runs ---- */
enum cb_mode { CB_NORMAL, CB_DROP, CB_DELAY, CB_TWICE };
struct settings {
	enum cb_mode cb_mode;
	int cb_delay;        /* seconds, with CB_DELAY */
	int cb_retries;      /* retries after the first attempt */
	int cb_backoff_ms;   /* wait before retry k is cb_backoff_ms * 2^(k-1), at most 60 s */
	int cb_timeout;      /* seconds for one callback attempt */
	int api_down;        /* /fim/api answers 503 */
	int lose_answers;    /* the next N PostAuth/Void/Credit are done, then answered 502 (a lost
	                        answer) */
	int ignore_postauth; /* a merchant's ACTION=POSTAUTH reply is not acted on (it never
	                        arrived) */
};
void settings_get(struct settings *out);
void settings_put(const struct settings *in);
/* 1 when this money operation's answer is to be lost (and counts it), else 0 */
int settings_take_lost_answer(void);
/* "normal", "drop", "twice", "delay=SECONDS"; 0 on success */
int settings_parse_callback(const char *s, struct settings *st);
void settings_callback_name(const struct settings *st, char *out, size_t len);

struct config {
	char listen[64];
	int port;
	char port_file[1024];
	char client_id[PAYSIM_NAME_MAX + 1];
	char store_key_file[1024];
	char api_user[PAYSIM_NAME_MAX + 1];
	char api_password_file[1024];
	char credentials[1024]; /* the server's cmi.ini: [cmi] client_id, store_key, api_user,
	                           api_password */
	char db[1024];
	int session_timeout; /* seconds a card page stays usable */
	struct settings initial;
};

/* The running simulator: set once in main() before any thread starts, read-only afterwards. */
struct paysim {
	struct config cfg;
	char store_key[PAYSIM_SECRET_MAX + 1];
	char api_password[PAYSIM_SECRET_MAX + 1];
};
extern struct paysim paysim;

/* ---- store.c: SQLite (one connection, one lock; a file so a restart keeps the orders) ---- */
struct order {
	char oid[PAYSIM_OID_MAX + 1];
	char clientid[PAYSIM_NAME_MAX + 1];
	char currency[8];
	char trantype[16];
	char status[4]; /* N A C R V D: see docs/paysim.md */
	int64_t amount_c, auth_c, capture_c, refund_c;
	char auth_code[16], trans_id[32], host_ref[16], masked_pan[24], proc_ret[4];
	int64_t auth_at, capture_at, void_at; /* 0 when not yet */
	int settled;
	int64_t created_at, updated_at;
};
struct txn {
	char trans_id[32];
	char type[16]; /* PreAuth Auth PostAuth Void Credit */
	int64_t amount_c;
	char response[16]; /* Approved Declined Error */
	char proc_ret[4];
	char err_msg[160];
	char auth_code[16], host_ref[16], masked_pan[24], md_status[4];
	char source[12]; /* card, callback, api */
};
struct session {
	char token[65];
	char oid[PAYSIM_OID_MAX + 1];
	char lang[4];
	char state[8]; /* card, 3ds, done */
	char masked_pan[24];
	char brand[16];
	int64_t expires_at;
	char *fields; /* the merchant's form, urlencoded; freed by session_free */
};
struct cb_job {
	int64_t id;
	char oid[PAYSIM_OID_MAX + 1];
	char trans_id[32];
	char *url;
	char *body;
	int attempts;
};
void session_free(struct session *s);
void cb_job_free(struct cb_job *j);

int store_open(const char *path, char *err, size_t errlen);
void store_close(void);
/* A card page starts: the order is created or its amount updated. 1 when the order already has an
 * approved transaction (nothing written). */
int store_session_start(const struct session *s, const char *clientid, const char *currency,
                        const char *trantype, int64_t amount_c);
/* 0 found (s filled; session_free it), 1 no such session, -1 error */
int store_session_get(const char *token, struct session *s);
int store_session_3ds(const char *token, const char *masked_pan, const char *brand);
/* Records the card step: the transaction, the order's new state, the session done, and the callback
 * rows (ncb of them; the first is 'sending' when first_sending, else 'pending' due at first_due_ms;
 * ncb == 0 records one 'dropped' row). 1 when the session was used or the order was paid meanwhile.
 */
int store_record_payment(const char *token, const char *oid, const char *trantype,
                         const struct txn *t, const char *url, const char *body, int ncb,
                         int first_sending, int64_t first_due_ms, int64_t *first_cb_id);
/* The worker takes the earliest due callback (state becomes 'sending'). 1 taken, 0 none due
 * (*next_due_ms = the next one or -1), -1 error. */
int store_callback_take(int64_t now, struct cb_job *job, int64_t *next_due_ms);
int store_callback_update(int64_t id, const char *state, int attempts, const char *reply,
                          const char *error, int64_t next_at_ms);
/* ACTION=POSTAUTH: capture the PreAuth that trans_id approved, if still only authorised.
 * 0 captured, 1 nothing to do (note says why), -1 error. */
int store_capture_from_callback(const char *oid, const char *trans_id, char *note, size_t notelen);

/* /fim/api operations, each in one transaction. res is filled in every case. */
enum api_op { OP_POSTAUTH, OP_VOID, OP_CREDIT };
int store_order_get(const char *oid, struct order *o); /* 0 found, 1 not found, -1 error */
int store_api_op(enum api_op op, const char *oid, int64_t total_c, struct txn *res,
                 struct order *o);
int store_settle_all(void); /* end of day: captured orders can no longer be voided */
/* JSON text of every order (or one), its transactions and its callbacks; the caller frees it. */
char *store_orders_json(const char *oid_or_null);

/* ---- callback.c: the server-to-server callback with retries ---- */
int callback_start(void);
void callback_stop(void);
void callback_kick(void);
/* One attempt for the row `job` (state 'sending'), then record its outcome. 0 delivered. */
int callback_attempt(struct cb_job *job);

/* ---- http.c: the daemon, routing, replies ---- */
struct reply {
	int status;
	char *body;
	size_t len;
	const char *content_type;
	int html; /* add the page security headers */
};
struct request {
	const char *method;
	const char *url;
	void *conn;
	struct sbuf body;
	int too_large;
	int64_t started_ms;
	char note[320]; /* appended to the request's log line */
};
const char *request_header(struct request *rq, const char *name);
const char *request_query(struct request *rq, const char *name);
/* reply_* take over `body` (a heap string from sb_steal or strdup) */
void reply_take(struct reply *rp, int status, const char *content_type, char *body, size_t len);
void reply_text(struct reply *rp, int status, const char *content_type, const char *text);
void reply_sbuf(struct reply *rp, int status, const char *content_type, struct sbuf *b);
int request_is_form(struct request *rq);
void *http_start(const struct config *cfg, char *err, size_t errlen);
int http_port(void *daemon);
void http_stop(void *daemon);

/* ---- gate.c: the hosted payment pages ---- */
void gate_start(struct request *rq, struct reply *rp); /* POST /fim/est3Dgate */
void gate_pay(struct request *rq, struct reply *rp);   /* POST /fim/pay */
void gate_3ds(struct request *rq, struct reply *rp);   /* POST /fim/3ds */
extern const char paysim_css[], paysim_autopost_js[];

/* ---- api.c: /fim/api and the /sim test endpoints ---- */
void api_handle(struct request *rq, struct reply *rp);  /* POST /fim/api */
void sim_orders(struct request *rq, struct reply *rp);  /* GET /sim/orders */
void sim_control(struct request *rq, struct reply *rp); /* GET, POST /sim/control */

#endif
