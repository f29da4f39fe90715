/* web.h: the web layer that estiva-server and the gate's status page share: HTML escaping, form
 * decoding, the security headers of every reply, session and CSRF tokens in cookies, and the rule
 * that slows down repeated failed logins. Plain C, no libmicrohttpd: each program adds the headers
 * and cookies to its own replies, and keeps its sessions and failure counts where it likes. */
#ifndef ESTIVA_WEB_H
#define ESTIVA_WEB_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* ---- HTML ---- */

/* s into b with < > & " ' as entities, for text and quoted attribute values; NULL adds nothing. */
void web_html_escape(struct buf *b, const char *s);

/* ---- application/x-www-form-urlencoded ---- */

#define FORM_MAX_FIELDS 64
#define FORM_MAX_VALUE 1024

struct form {
	int n;
	char *names[FORM_MAX_FIELDS];
	char *values[FORM_MAX_FIELDS];
};

/* 0, or -1 when malformed (bad %xx, a NUL, a field without a name, too many or too long fields, a
 * name twice); f is then empty. '+' is a space. The form owns its strings: form_free(). */
int form_parse(const char *body, size_t len, struct form *f);
/* Adds a copy of name and value: 0, or -1 when full, the value is too long, the name is there
 * already, or memory is short. */
int form_add(struct form *f, const char *name, const char *value);
/* Exact name match; NULL when absent. */
const char *form_get(const struct form *f, const char *name);
void form_free(struct form *f);
/* URL-encodes a string (all but A-Z a-z 0-9 - _ . ~ as %XX) into a malloc'd copy, NULL on memory
 * shortage. */
char *form_escape(const char *s);

/* ---- security headers ---- */

#define WEB_HEADERS_MAX 5

struct web_header {
	const char *name;
	const char *value;
};

/* The security headers every reply of both programs carries: nosniff, frame denial, no referrer,
 * the caller's Content-Security-Policy, and HSTS when tls. Fills out and returns how many; the
 * values are static strings or csp itself. */
int web_security_headers(const char *csp, int tls, struct web_header out[WEB_HEADERS_MAX]);

/* ---- session ids and CSRF tokens ---- */

#define WEB_ID_BYTES 32                   /* 256 bits */
#define WEB_ID_HEX (2 * WEB_ID_BYTES + 1) /* as lower-case hex, with its NUL */
#define WEB_ID_KEY 32                     /* the BLAKE2b hash kept instead of the id */
#define WEB_COOKIE_MAX 256                /* room for a Set-Cookie value of ours */

/* A fresh random id (libsodium's randombytes_buf) as hex. */
void web_random_id(char out[WEB_ID_HEX]);
/* The key under which a session is stored: the BLAKE2b hash of the id's bytes, so a copy of the
 * store gives no usable cookie. 0, or -1 when id is not WEB_ID_BYTES as hex (nothing to look up).
 */
int web_id_key(const char *id, unsigned char key[WEB_ID_KEY]);
/* A Set-Cookie value: "name=value; Path=/; HttpOnly; SameSite=Strict", then "; Max-Age=N" unless
 * max_age < 0 (a cookie for this browser session), then "; Secure" when secure. value "" with
 * max_age 0 removes the cookie. 0, or -1 when it does not fit in n (out is then ""). */
int web_cookie(char *out, size_t n, const char *name, const char *value, int64_t max_age,
               int secure);
/* 1 when a token sent by the client equals the expected one, in constant time; 0 when either is
 * NULL or empty or their lengths differ. */
int web_token_eq(const char *got, const char *want);

/* ---- failed logins ---- */

/* Seconds to wait before the next login try, 0 when none: after `limit` failures in a row, the
 * last at `last`, the wait is `first` seconds, doubling with each further failure, at most `max`.
 * Pure: where the failures are counted is each program's business. */
int64_t web_login_wait(int failures, int limit, int64_t first, int64_t max, int64_t last,
                       int64_t now);

#endif
