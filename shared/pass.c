/* pass.c: signing, verifying and parsing access passes (format: pass.h, docs/pass-format.md).
 * The parser trusts nothing: lengths are checked before any field is read, fields before any key is
 * looked up, and the signature last, so a forged pass costs at most one Ed25519 verification. */
#include "pass.h"

#include <string.h>

#include <sodium.h>

#include "base45.h"

/* Offsets in the binary form. */
enum {
	OFF_VERSION = 0,
	OFF_KEY_ID = 1,
	OFF_PASS_ID = 2,
	OFF_BOOKING_ID = 6,
	OFF_CENTRE = 10,
	OFF_GUEST = 12,
	OFF_KIND = 13,
	OFF_VALID_FROM = 14,
	OFF_VALID_UNTIL = 18,
	OFF_FLAGS = 22,
	OFF_UID_LEN = 23,
	OFF_UID = PASS_FIXED_LEN,
};

/* The longest binary form a uid_len byte can announce (255), plus one byte to tell "more". Text is
 * decoded into a buffer this size so that a too-long token still gets PASS_ERR_TRAILING, exactly as
 * the same bytes given to pass_verify_bin would. */
#define PASS_SCAN_MAX (PASS_FIXED_LEN + 255 + PASS_SIG_LEN + 1)

_Static_assert(PASS_SIG_LEN == crypto_sign_BYTES, "Ed25519 signature size");
_Static_assert(sizeof(((struct pass_key *)0)->pk) == crypto_sign_PUBLICKEYBYTES,
               "Ed25519 public key size");
_Static_assert(PASS_PREFIX_LEN == sizeof(PASS_PREFIX) - 1, "prefix length");
_Static_assert(PASS_PREFIX_LEN + (PASS_BIN_MAX / 2) * 3 + (PASS_BIN_MAX % 2) * 2 <= PASS_TEXT_MAX,
               "the longest pass fits PASS_TEXT_MAX");

const char *pass_strerror(enum pass_err e)
{
	switch (e) {
	case PASS_OK:
		return "valid";
	case PASS_ERR_PREFIX:
		return "not a pass (no " PASS_PREFIX " prefix)";
	case PASS_ERR_BASE45:
		return "damaged pass text (bad Base45)";
	case PASS_ERR_SHORT:
		return "pass too short";
	case PASS_ERR_TRAILING:
		return "pass too long (trailing bytes)";
	case PASS_ERR_VERSION:
		return "unknown pass version";
	case PASS_ERR_KEY:
		return "unknown signing key";
	case PASS_ERR_SIGNATURE:
		return "bad signature (forged or altered pass)";
	case PASS_ERR_FIELD:
		return "invalid field in pass";
	case PASS_ERR_SPACE:
		return "output buffer too small";
	}
	return "unknown pass error";
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t get_be16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void put_be16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

/* The field rules, shared by signing and verifying so that we never sign what we would refuse. */
static int fields_ok(const struct pass *p)
{
	if (p->version != PASS_VERSION || p->key_id == 0 || p->centre == 0)
		return 0;
	if (p->kind != PASS_KIND_GUEST && p->kind != PASS_KIND_DAY_VISITOR &&
	    p->kind != PASS_KIND_STAFF)
		return 0;
	if (p->valid_until <= p->valid_from)
		return 0;
	if (p->uid_len != 0 && p->uid_len != 4 && p->uid_len != 7 && p->uid_len != 10)
		return 0;
	if (p->flags & ~PASS_FLAGS_KNOWN)
		return 0;
	if (((p->flags & PASS_FLAG_NFC) != 0) != (p->uid_len > 0))
		return 0;
	return 1;
}

/* Length, version and fields of in[0..n) into *p; *signed_len is where the signature starts.
 * Reads only in[0..min(n, 24 + in[23] + 64)). */
static enum pass_err decode_bin(const unsigned char *in, size_t n, struct pass *p,
                                size_t *signed_len)
{
	size_t need;

	if (n < PASS_FIXED_LEN)
		return PASS_ERR_SHORT;
	need = (size_t)PASS_FIXED_LEN + in[OFF_UID_LEN] + PASS_SIG_LEN;
	if (n < need)
		return PASS_ERR_SHORT;
	if (n > need)
		return PASS_ERR_TRAILING;
	if (in[OFF_VERSION] != PASS_VERSION)
		return PASS_ERR_VERSION;

	memset(p, 0, sizeof(*p));
	p->version = in[OFF_VERSION];
	p->key_id = in[OFF_KEY_ID];
	p->pass_id = get_be32(in + OFF_PASS_ID);
	p->booking_id = get_be32(in + OFF_BOOKING_ID);
	p->centre = get_be16(in + OFF_CENTRE);
	p->guest = in[OFF_GUEST];
	p->kind = in[OFF_KIND];
	p->valid_from = get_be32(in + OFF_VALID_FROM);
	p->valid_until = get_be32(in + OFF_VALID_UNTIL);
	p->flags = in[OFF_FLAGS];
	p->uid_len = in[OFF_UID_LEN];
	if (!fields_ok(p))
		return PASS_ERR_FIELD;
	memcpy(p->uid, in + OFF_UID, p->uid_len); /* fields_ok: uid_len <= PASS_UID_MAX */
	*signed_len = need - PASS_SIG_LEN;
	return PASS_OK;
}

enum pass_err pass_verify_bin(const unsigned char *in, size_t n, const struct pass_key *keys,
                              int nkeys, struct pass *out)
{
	struct pass p;
	size_t m = 0;
	enum pass_err e;
	int i, known = 0;

	memset(out, 0, sizeof(*out));
	e = decode_bin(in, n, &p, &m);
	if (e != PASS_OK)
		return e;
	/* Every key with that id is tried: ids are meant to be unique, but a duplicate must not
	 * make a good pass fail. */
	for (i = 0; i < nkeys; i++) {
		if (keys[i].id != p.key_id)
			continue;
		known = 1;
		if (crypto_sign_verify_detached(in + m, in, m, keys[i].pk) == 0) {
			*out = p;
			return PASS_OK;
		}
	}
	return known ? PASS_ERR_SIGNATURE : PASS_ERR_KEY;
}

/* Prefix and Base45 of the text form into buf (PASS_SCAN_MAX bytes); *total is the full decoded
 * length, which may exceed what buf kept (only ever a PASS_ERR_TRAILING case then). */
static enum pass_err text_to_bin(const char *in, size_t n, unsigned char *buf, size_t *total)
{
	unsigned char chunk[64];
	size_t off = 0, t = 0;

	*total = 0;
	if (n < PASS_PREFIX_LEN || memcmp(in, PASS_PREFIX, PASS_PREFIX_LEN) != 0)
		return PASS_ERR_PREFIX;
	in += PASS_PREFIX_LEN;
	n -= PASS_PREFIX_LEN;
	/* Whole groups of three characters per chunk, so chunks decode independently. */
	while (off < n) {
		size_t c = n - off < 96 ? n - off : 96, got;

		if (base45_decode(in + off, c, chunk, sizeof(chunk), &got) < 0)
			return PASS_ERR_BASE45;
		if (t < PASS_SCAN_MAX)
			memcpy(buf + t, chunk, got < PASS_SCAN_MAX - t ? got : PASS_SCAN_MAX - t);
		t += got;
		off += c;
	}
	*total = t;
	return PASS_OK;
}

enum pass_err pass_verify_text(const char *in, size_t n, const struct pass_key *keys, int nkeys,
                               struct pass *out)
{
	unsigned char buf[PASS_SCAN_MAX];
	size_t total;
	enum pass_err e;

	memset(out, 0, sizeof(*out));
	e = text_to_bin(in, n, buf, &total);
	if (e != PASS_OK)
		return e;
	/* decode_bin reads past PASS_SCAN_MAX only when total is the exact length, which is less */
	return pass_verify_bin(buf, total, keys, nkeys, out);
}

enum pass_err pass_parse_text(const char *in, size_t n, struct pass *out)
{
	unsigned char buf[PASS_SCAN_MAX];
	struct pass p;
	size_t total, m;
	enum pass_err e;

	memset(out, 0, sizeof(*out));
	e = text_to_bin(in, n, buf, &total);
	if (e != PASS_OK)
		return e;
	e = decode_bin(buf, total, &p, &m);
	if (e == PASS_OK)
		*out = p;
	return e;
}

enum pass_err pass_sign_bin(const struct pass *p, const unsigned char sk[64], unsigned char *out,
                            size_t outlen, size_t *outn)
{
	size_t m, need;

	*outn = 0;
	if (!fields_ok(p))
		return PASS_ERR_FIELD;
	m = (size_t)PASS_FIXED_LEN + p->uid_len;
	need = m + PASS_SIG_LEN;
	if (outlen < need)
		return PASS_ERR_SPACE;
	out[OFF_VERSION] = p->version;
	out[OFF_KEY_ID] = p->key_id;
	put_be32(out + OFF_PASS_ID, p->pass_id);
	put_be32(out + OFF_BOOKING_ID, p->booking_id);
	put_be16(out + OFF_CENTRE, p->centre);
	out[OFF_GUEST] = p->guest;
	out[OFF_KIND] = p->kind;
	put_be32(out + OFF_VALID_FROM, p->valid_from);
	put_be32(out + OFF_VALID_UNTIL, p->valid_until);
	out[OFF_FLAGS] = p->flags;
	out[OFF_UID_LEN] = p->uid_len;
	memcpy(out + OFF_UID, p->uid, p->uid_len);
	if (crypto_sign_detached(out + m, NULL, out, m, sk) != 0) {
		/* cannot happen with libsodium's Ed25519; never hand out an unsigned pass */
		sodium_memzero(out, need);
		return PASS_ERR_KEY;
	}
	*outn = need;
	return PASS_OK;
}

enum pass_err pass_sign_text(const struct pass *p, const unsigned char sk[64], char *out,
                             size_t outlen)
{
	unsigned char bin[PASS_BIN_MAX];
	size_t n;
	enum pass_err e;

	if (outlen > 0)
		out[0] = '\0';
	e = pass_sign_bin(p, sk, bin, sizeof(bin), &n);
	if (e != PASS_OK)
		return e;
	if (outlen < PASS_PREFIX_LEN + 1 ||
	    base45_encode(bin, n, out + PASS_PREFIX_LEN, outlen - PASS_PREFIX_LEN) < 0)
		return PASS_ERR_SPACE;
	memcpy(out, PASS_PREFIX, PASS_PREFIX_LEN);
	return PASS_OK;
}

static const char *const kind_names[] = {[PASS_KIND_GUEST] = "guest",
                                         [PASS_KIND_DAY_VISITOR] = "day_visitor",
                                         [PASS_KIND_STAFF] = "staff"};

const char *pass_kind_name(int kind)
{
	return kind >= PASS_KIND_GUEST && kind <= PASS_KIND_STAFF ? kind_names[kind] : "unknown";
}

int pass_kind_parse(const char *s, enum pass_kind *out)
{
	for (int k = PASS_KIND_GUEST; s && k <= PASS_KIND_STAFF; k++)
		if (!strcmp(s, kind_names[k])) {
			*out = (enum pass_kind)k;
			return 0;
		}
	return -1;
}
