/* pass.h: the access pass: a compact binary record signed with Ed25519 (libsodium), and its text
 * form for QR codes ("EV1:" + Base45). The server signs, gates and support tools verify or parse.
 * Layout, rules and test vectors: docs/pass-format.md.
 *
 * No allocation and no global state: every buffer belongs to the caller. The caller must have
 * called sodium_init() once, as for any use of libsodium. Thread-safe. */
#ifndef ESTIVA_PASS_H
#define ESTIVA_PASS_H

#include <stddef.h>
#include <stdint.h>

#define PASS_VERSION 1
#define PASS_PREFIX "EV1:" /* text form: prefix + Base45 of the binary form */
#define PASS_PREFIX_LEN 4
#define PASS_UID_MAX 10
#define PASS_SIG_LEN 64
#define PASS_FIXED_LEN 24 /* the signed fields before the optional UID */
#define PASS_BIN_MAX (PASS_FIXED_LEN + PASS_UID_MAX + PASS_SIG_LEN)
#define PASS_TEXT_MAX 160 /* incl. prefix, excl. NUL; the longest pass (10-byte UID) is 151 */

enum pass_kind { PASS_KIND_GUEST = 1, PASS_KIND_DAY_VISITOR = 2, PASS_KIND_STAFF = 3 };
/* "guest" / "day_visitor" / "staff" ("unknown" for another value), and back: 0, or -1. */
const char *pass_kind_name(int kind);
int pass_kind_parse(const char *s, enum pass_kind *out);

#define PASS_FLAG_NFC 0x01             /* issued for an NFC tag (uid_len > 0 then) */
#define PASS_FLAGS_KNOWN PASS_FLAG_NFC /* any other bit set is refused (PASS_ERR_FIELD) */

enum pass_err {
	PASS_OK = 0,
	PASS_ERR_PREFIX,    /* text does not start with PASS_PREFIX */
	PASS_ERR_BASE45,    /* text after the prefix is not Base45 */
	PASS_ERR_SHORT,     /* fewer bytes than the layout needs */
	PASS_ERR_TRAILING,  /* more bytes than the layout needs */
	PASS_ERR_VERSION,   /* version byte is not PASS_VERSION */
	PASS_ERR_KEY,       /* key id not among the given keys */
	PASS_ERR_SIGNATURE, /* signature does not verify */
	PASS_ERR_FIELD,     /* a field out of range (see pass_verify_bin) */
	PASS_ERR_SPACE,     /* output buffer too small (signing only) */
};

/* A short English description; never NULL. */
const char *pass_strerror(enum pass_err e);

struct pass {
	uint8_t version; /* PASS_VERSION */
	uint8_t key_id;  /* which signing key (1..255) */
	uint32_t pass_id;
	uint32_t booking_id;
	uint16_t centre;      /* the centre's number (1..65535) */
	uint8_t guest;        /* index of the guest in the booking */
	uint8_t kind;         /* enum pass_kind */
	uint32_t valid_from;  /* minutes since 1970-01-01T00:00Z */
	uint32_t valid_until; /* minutes, > valid_from */
	uint8_t flags;
	uint8_t uid_len; /* 0, or 4, 7 or 10: bound to that NFC tag UID */
	uint8_t uid[PASS_UID_MAX];
};

struct pass_key {
	uint8_t id;
	unsigned char pk[32]; /* crypto_sign_PUBLICKEYBYTES */
	int64_t valid_until;  /* minutes: a retired key is trusted for passes ending by then; 0: no
	                         end */
};

/* Binary form: version, key_id, pass_id (BE32), booking_id (BE32), centre (BE16), guest, kind,
 * valid_from (BE32), valid_until (BE32), flags, uid_len, uid[uid_len], then the Ed25519 signature
 * over every byte before it: 24 + uid_len + 64 bytes. */

/* Signs p with sk (libsodium's 64-byte secret key) into out: PASS_OK with *outn bytes,
 * PASS_ERR_FIELD when p breaks a rule of pass_verify_bin (the same rules, version included),
 * PASS_ERR_SPACE when outlen is too small (PASS_BIN_MAX always fits). p->key_id must name the key
 * that sk belongs to. */
enum pass_err pass_sign_bin(const struct pass *p, const unsigned char sk[64], unsigned char *out,
                            size_t outlen, size_t *outn);
/* The same as text, NUL-terminated: PASS_PREFIX + Base45. outlen of PASS_TEXT_MAX + 1 always fits.
 */
enum pass_err pass_sign_text(const struct pass *p, const unsigned char sk[64], char *out,
                             size_t outlen);

/* Strict verification; never reads outside in[0..n). Checks, in this order:
 *   n < PASS_FIXED_LEN, or n < PASS_FIXED_LEN + uid_len + PASS_SIG_LEN   PASS_ERR_SHORT
 *   n > PASS_FIXED_LEN + uid_len + PASS_SIG_LEN                          PASS_ERR_TRAILING
 *   version != PASS_VERSION                                              PASS_ERR_VERSION
 *   key_id 0, centre 0, unknown kind, valid_until <= valid_from,
 *   uid_len not 0/4/7/10, PASS_FLAG_NFC set but no UID or the reverse,
 *   an unknown flag bit                                                  PASS_ERR_FIELD
 *   no key in keys[0..nkeys) with that id                                PASS_ERR_KEY
 *   the signature verifies with none of the keys with that id            PASS_ERR_SIGNATURE
 * Fills *out on PASS_OK only; on any error *out is zeroed. Validity in time, revocation and the tag
 * UID are the caller's business (the admission rules), not this function's. */
enum pass_err pass_verify_bin(const unsigned char *in, size_t n, const struct pass_key *keys,
                              int nkeys, struct pass *out);
/* The text form: PASS_ERR_PREFIX when in[0..n) does not start with PASS_PREFIX (case matters, no
 * leading or trailing blanks: a space is a Base45 character), PASS_ERR_BASE45 when the rest is not
 * Base45, then as pass_verify_bin. in need not be NUL-terminated. */
enum pass_err pass_verify_text(const char *in, size_t n, const struct pass_key *keys, int nkeys,
                               struct pass *out);
/* Structure only, no signature check (for support tools): the checks of pass_verify_text but KEY
 * and SIGNATURE; fills *out on PASS_OK only (zeroed otherwise). A PASS_OK here says nothing about
 * authenticity. */
enum pass_err pass_parse_text(const char *in, size_t n, struct pass *out);

#endif
