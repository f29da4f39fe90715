/* test_pass.c: the access pass (shared/pass.c): golden vectors (also checked with OpenSSL by
 * pass_golden_openssl.sh), round trips, every single-byte change of a signed pass, truncated and
 * extended tokens, key ids and rotation, each structural error on well-signed bytes, and the text
 * form's prefix and Base45 errors. */
#include "unit_util.h"

#include <sodium.h>

#include "base45.h"
#include "pass.h"

/* Key A: the golden key, seed 0x01..0x20, id 1. Key B: seed 0x21..0x40, id 2. */
static unsigned char sk_a[64], sk_b[64];
static struct pass_key key_a = {.id = 1}, key_b = {.id = 2};

static int setup_keys(void **state)
{
	unsigned char seed[32];

	(void)state;
	if (sodium_init() < 0)
		return -1;
	for (int i = 0; i < 32; i++)
		seed[i] = (unsigned char)(i + 1);
	if (crypto_sign_seed_keypair(key_a.pk, sk_a, seed) != 0)
		return -1;
	for (int i = 0; i < 32; i++)
		seed[i] = (unsigned char)(i + 0x21);
	return crypto_sign_seed_keypair(key_b.pk, sk_b, seed) == 0 ? 0 : -1;
}

static void hex_to_bin(const char *hex, unsigned char *out, size_t *n)
{
	size_t len = strlen(hex);

	assert_int_equal(len % 2, 0);
	for (size_t i = 0; i < len / 2; i++) {
		unsigned v;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (unsigned char)v;
	}
	*n = len / 2;
}

static int pass_equal(const struct pass *a, const struct pass *b)
{
	return a->version == b->version && a->key_id == b->key_id && a->pass_id == b->pass_id &&
	       a->booking_id == b->booking_id && a->centre == b->centre && a->guest == b->guest &&
	       a->kind == b->kind && a->valid_from == b->valid_from &&
	       a->valid_until == b->valid_until && a->flags == b->flags &&
	       a->uid_len == b->uid_len && memcmp(a->uid, b->uid, a->uid_len) == 0;
}

static int pass_is_zero(const struct pass *p)
{
	static const struct pass zero;

	return pass_equal(p, &zero) && p->uid_len == 0;
}

/* A valid pass to start from: a seven-night stay. */
static struct pass base_pass(void)
{
	struct pass p = {
	    .version = PASS_VERSION,
	    .key_id = 1,
	    .pass_id = 4242,
	    .booking_id = 1017,
	    .centre = 3,
	    .guest = 1,
	    .kind = PASS_KIND_GUEST,
	    .valid_from = 29733960,
	    .valid_until = 29743800,
	};

	return p;
}

static struct pass nfc_pass(uint8_t uid_len)
{
	struct pass p = base_pass();

	p.flags = PASS_FLAG_NFC;
	p.uid_len = uid_len;
	for (int i = 0; i < uid_len; i++)
		p.uid[i] = (unsigned char)(0x04 + 17 * i);
	return p;
}

/* An independent packer of the binary layout (no checks at all, uid_len up to 255: the UID bytes
 * past PASS_UID_MAX are zeros), signed with sk: well-signed bytes for the structural error cases.
 */
static size_t pack_signed(const struct pass *p, const unsigned char *sk, unsigned char *out)
{
	size_t m = 24 + (size_t)p->uid_len;
	uint32_t v[4] = {p->pass_id, p->booking_id, p->valid_from, p->valid_until};
	size_t at[4] = {2, 6, 14, 18};

	out[0] = p->version;
	out[1] = p->key_id;
	for (int k = 0; k < 4; k++)
		for (int j = 0; j < 4; j++)
			out[at[k] + (size_t)j] = (unsigned char)(v[k] >> (24 - 8 * j));
	out[10] = (unsigned char)(p->centre >> 8);
	out[11] = (unsigned char)p->centre;
	out[12] = p->guest;
	out[13] = p->kind;
	out[22] = p->flags;
	out[23] = p->uid_len;
	memset(out + 24, 0, p->uid_len);
	memcpy(out + 24, p->uid, p->uid_len < PASS_UID_MAX ? p->uid_len : PASS_UID_MAX);
	assert_int_equal(crypto_sign_detached(out + m, NULL, out, m, sk), 0);
	return m + PASS_SIG_LEN;
}

/* ---- golden vectors (the same in docs/pass-format.md and pass_golden_openssl.sh) ---- */

static const char golden_pk_hex[] =
    "79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664";

/* clang-format off */
static const struct {
	const char *name;
	struct pass p;
	const char *bin_hex;
	const char *text;
} golden[] = {
    {"G1 guest, seven nights, no tag",
     {.version = 1, .key_id = 1, .pass_id = 4242, .booking_id = 1017, .centre = 3, .guest = 1,
      .kind = PASS_KIND_GUEST, .valid_from = 29733960, .valid_until = 29743800},
     "010100001092000003f90003010101c5b44801c5dab80000"
     "00bad0938d8235170dd09cff0933f17f7d3e779d6d97b6f8b37f4e79a6f9faf4"
     "9aece48c7044e82599d0a92483db3c39224c245d8c2baf2a8fa286a38593b20f",
     "EV1:W50000C42000RM0300W503A0RZM3A0CTR000640PGQ1+H1W6QX16%JF71%NUM$FL5FK%D+5N6VMJ-9+4LTWVFQJ8+"
     "SU8ETFT1KJAHL5UGRR75F4*Q4IWHM6M57I.0H+*G/MM"},
    {"G2 day visitor, NFC tag with a 7-byte UID",
     {.version = 1, .key_id = 1, .pass_id = 4243, .booking_id = 1017, .centre = 3, .guest = 2,
      .kind = PASS_KIND_DAY_VISITOR, .valid_from = 29760960, .valid_until = 29761560,
      .flags = PASS_FLAG_NFC, .uid_len = 7, .uid = {0x04, 0xA2, 0x2B, 0x1A, 0xC3, 0x5D, 0x80}},
     "010100001093000003f90003020201c61dc001c62018010704a22b1ac35d80"
     "2babb2203f33ec6094d346356ae340c62a1b5d5246c4a8df279268e81ab018f3"
     "5b38ca5959c643199a027830cd55795adff6ffbcc1e39f6b57319e58635a3a0f",
     "EV1:W50000D42000RM0300JB04A0BY34A0Q24%50GQ09K5IVO69GYVLK34HP6J9C-VQ*X6 WSF2PUK32IAY%OM9S+MIIFT"
     "ZBMJYU387DDB+2PTA32E0S76B A/LB6AV %N-YSTPDCC6$7BDIBF0"},
    {"G3 staff, no booking, 10-byte UID (the longest pass)",
     {.version = 1, .key_id = 1, .pass_id = 0x00ABCDEF, .booking_id = 0, .centre = 65535,
      .guest = 0, .kind = PASS_KIND_STAFF, .valid_from = 29671620, .valid_until = 29714100,
      .flags = PASS_FLAG_NFC, .uid_len = 10,
      .uid = {0x08, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99}},
     "010100abcdef00000000ffff000301c4c0c401c566b4010a08112233445566778899"
     "9b2de5c3195319a8d87407e5496ea16d15feea04ec7da1ef3bfd222ebb493dff"
     "4d74731c67ca0c0f057f0dfc3524414ae1dc984bd46eb42dd1c65bb55948790d",
     "EV1:W50 30O1Q000000FGW3002A0SGO3A0C:C-50+01PE4XS8-.C4CHZRJ42T393/A3HGR-:0XC9FIK5Z2DQTG+TALKCQ7"
     "KE4KUNV$7SZ9%OEK5DRN1CV0PY1EW6JB8+OSHBJM%Q0ZMHNQWQB-CBTDF"},
};
/* clang-format on */

static void test_pass_golden(void **state)
{
	unsigned char pk[32];
	size_t pkn;
	int nfail = 0;

	(void)state;
	hex_to_bin(golden_pk_hex, pk, &pkn);
	assert_int_equal(pkn, 32);
	assert_memory_equal(key_a.pk, pk, 32);
	for (size_t i = 0; i < NELEM(golden); i++) {
		const char *name = golden[i].name;
		unsigned char want[PASS_BIN_MAX], bin[PASS_BIN_MAX];
		char text[PASS_TEXT_MAX + 1];
		size_t wantn, n = 0;
		struct pass got;
		enum pass_err e;

		hex_to_bin(golden[i].bin_hex, want, &wantn);
		e = pass_sign_bin(&golden[i].p, sk_a, bin, sizeof(bin), &n);
		CASE_CHECK(nfail, e == PASS_OK, name, "sign_bin: %s", pass_strerror(e));
		CASE_CHECK(nfail, n == wantn && memcmp(bin, want, n) == 0, name,
		           "binary form differs (%zu bytes, expected %zu)", n, wantn);
		e = pass_sign_text(&golden[i].p, sk_a, text, sizeof(text));
		CASE_CHECK(nfail, e == PASS_OK, name, "sign_text: %s", pass_strerror(e));
		CASE_CHECK(nfail, strcmp(text, golden[i].text) == 0, name, "text \"%s\"", text);
		CASE_CHECK(nfail, strlen(text) <= PASS_TEXT_MAX, name, "text too long");

		e = pass_verify_text(golden[i].text, strlen(golden[i].text), &key_a, 1, &got);
		CASE_CHECK(nfail, e == PASS_OK, name, "verify_text: %s", pass_strerror(e));
		CASE_CHECK(nfail, pass_equal(&got, &golden[i].p), name,
		           "verify_text: fields differ");
		e = pass_verify_bin(want, wantn, &key_a, 1, &got);
		CASE_CHECK(nfail, e == PASS_OK, name, "verify_bin: %s", pass_strerror(e));
		CASE_CHECK(nfail, pass_equal(&got, &golden[i].p), name,
		           "verify_bin: fields differ");
		e = pass_parse_text(golden[i].text, strlen(golden[i].text), &got);
		CASE_CHECK(nfail, e == PASS_OK, name, "parse_text: %s", pass_strerror(e));
		CASE_CHECK(nfail, pass_equal(&got, &golden[i].p), name,
		           "parse_text: fields differ");
	}
	/* the sizes the documentation promises: 136 characters without a tag, 151 with a 10-byte
	 * UID */
	assert_int_equal(strlen(golden[0].text), 136);
	assert_int_equal(strlen(golden[2].text), 151);
	assert_int_equal(PASS_BIN_MAX, 98);
	assert_int_equal(strlen(golden[2].text),
	                 PASS_PREFIX_LEN + base45_encoded_len(PASS_BIN_MAX));
	assert_true(strlen(golden[2].text) <= PASS_TEXT_MAX);
}

/* ---- round trips ---- */

static void test_pass_round_trip(void **state)
{
	struct pass cases[12];
	struct pass_key keys[3] = {key_a, key_b, {.id = 255}};
	size_t nc = 0;
	int nfail = 0;

	(void)state;
	cases[nc++] = base_pass();
	cases[nc++] = nfc_pass(4);
	cases[nc++] = nfc_pass(7);
	cases[nc++] = nfc_pass(10);
	cases[nc] = base_pass(); /* the extremes of every field */
	cases[nc].pass_id = UINT32_MAX;
	cases[nc].booking_id = UINT32_MAX;
	cases[nc].centre = UINT16_MAX;
	cases[nc].guest = UINT8_MAX;
	cases[nc].valid_from = UINT32_MAX - 1;
	cases[nc++].valid_until = UINT32_MAX;
	cases[nc] = base_pass();
	cases[nc].pass_id = 0;
	cases[nc].booking_id = 0;
	cases[nc].centre = 1;
	cases[nc].guest = 0;
	cases[nc].valid_from = 0;
	cases[nc++].valid_until = 1;
	cases[nc] = nfc_pass(10);
	cases[nc++].kind = PASS_KIND_STAFF;
	cases[nc] = base_pass();
	cases[nc++].kind = PASS_KIND_DAY_VISITOR;
	cases[nc] = base_pass();
	cases[nc++].key_id = 2; /* signed with key B below */
	cases[nc] = nfc_pass(4);
	cases[nc++].key_id = 255; /* key 255: key A's secret, so only the id differs */
	memcpy(keys[2].pk, key_a.pk, 32);

	for (size_t i = 0; i < nc; i++) {
		char name[32];
		const unsigned char *sk = cases[i].key_id == 2 ? sk_b : sk_a;
		unsigned char bin[PASS_BIN_MAX];
		char text[PASS_TEXT_MAX + 1];
		size_t n = 0;
		struct pass got;
		enum pass_err e;

		snprintf(name, sizeof(name), "round trip %zu", i);
		e = pass_sign_bin(&cases[i], sk, bin, sizeof(bin), &n);
		CASE_CHECK(nfail, e == PASS_OK, name, "sign_bin: %s", pass_strerror(e));
		CASE_CHECK(nfail, n == 24u + cases[i].uid_len + 64u, name, "%zu bytes", n);
		e = pass_verify_bin(bin, n, keys, 3, &got);
		CASE_CHECK(nfail, e == PASS_OK && pass_equal(&got, &cases[i]), name,
		           "verify_bin: %s", pass_strerror(e));
		e = pass_sign_text(&cases[i], sk, text, sizeof(text));
		CASE_CHECK(nfail, e == PASS_OK, name, "sign_text: %s", pass_strerror(e));
		CASE_CHECK(nfail, strlen(text) == 4 + base45_encoded_len(n), name,
		           "text length %zu", strlen(text));
		CASE_CHECK(nfail, strncmp(text, PASS_PREFIX, 4) == 0, name, "no prefix");
		e = pass_verify_text(text, strlen(text), keys, 3, &got);
		CASE_CHECK(nfail, e == PASS_OK && pass_equal(&got, &cases[i]), name,
		           "verify_text: %s", pass_strerror(e));
		e = pass_parse_text(text, strlen(text), &got);
		CASE_CHECK(nfail, e == PASS_OK && pass_equal(&got, &cases[i]), name,
		           "parse_text: %s", pass_strerror(e));
	}
	assert_int_equal(nfail, 0);
}

/* ---- signing refuses what verifying would refuse, and small buffers ---- */

static void test_pass_sign_errors(void **state)
{
	static const struct {
		const char *name;
		int field; /* which change to base_pass() or nfc_pass(7) */
	} cases[] = {
	    {"version 0", 0},
	    {"version 2", 1},
	    {"key id 0", 2},
	    {"centre 0", 3},
	    {"kind 0", 4},
	    {"kind 4", 5},
	    {"until == from", 6},
	    {"until < from", 7},
	    {"uid_len 5", 8},
	    {"uid_len 11", 9},
	    {"uid without flag", 10},
	    {"flag without uid", 11},
	    {"unknown flag 0x02", 12},
	    {"unknown flag 0x80", 13},
	};
	int nfail = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct pass p =
		    cases[i].field >= 8 && cases[i].field != 11 ? nfc_pass(7) : base_pass();
		unsigned char bin[PASS_BIN_MAX + 16];
		char text[PASS_TEXT_MAX + 1];
		size_t n = 77;
		enum pass_err e;

		switch (cases[i].field) {
		case 0:
			p.version = 0;
			break;
		case 1:
			p.version = 2;
			break;
		case 2:
			p.key_id = 0;
			break;
		case 3:
			p.centre = 0;
			break;
		case 4:
			p.kind = 0;
			break;
		case 5:
			p.kind = 4;
			break;
		case 6:
			p.valid_until = p.valid_from;
			break;
		case 7:
			p.valid_until = p.valid_from - 1;
			break;
		case 8:
			p.uid_len = 5;
			break;
		case 9:
			p.uid_len = 11;
			break;
		case 10:
			p.flags = 0;
			break;
		case 11:
			p.flags = PASS_FLAG_NFC;
			break;
		case 12:
			p.flags |= 0x02;
			break;
		case 13:
			p.flags |= 0x80;
			break;
		}
		e = pass_sign_bin(&p, sk_a, bin, sizeof(bin), &n);
		CASE_CHECK(nfail, e == PASS_ERR_FIELD, cases[i].name, "sign_bin: %s",
		           pass_strerror(e));
		CASE_CHECK(nfail, n == 0, cases[i].name, "*outn %zu on error", n);
		memset(text, 'x', sizeof(text));
		e = pass_sign_text(&p, sk_a, text, sizeof(text));
		CASE_CHECK(nfail, e == PASS_ERR_FIELD, cases[i].name, "sign_text: %s",
		           pass_strerror(e));
		CASE_CHECK(nfail, text[0] == '\0', cases[i].name, "text not emptied on error");
	}
	assert_int_equal(nfail, 0);

	/* buffer sizes: binary needs exactly 24 + uid_len + 64, text its length + 1 */
	{
		struct pass p = nfc_pass(7);
		unsigned char bin[PASS_BIN_MAX];
		char text[PASS_TEXT_MAX + 1];
		size_t n = 0, tn;

		assert_int_equal(pass_sign_bin(&p, sk_a, bin, 94, &n), PASS_ERR_SPACE);
		assert_int_equal(n, 0);
		assert_int_equal(pass_sign_bin(&p, sk_a, bin, 95, &n), PASS_OK);
		assert_int_equal(n, 95);
		tn = 4 + base45_encoded_len(95);
		assert_int_equal(pass_sign_text(&p, sk_a, text, tn), PASS_ERR_SPACE);
		assert_int_equal(text[0], '\0');
		assert_int_equal(pass_sign_text(&p, sk_a, text, 4), PASS_ERR_SPACE);
		assert_int_equal(pass_sign_text(&p, sk_a, text, 0), PASS_ERR_SPACE);
		assert_int_equal(pass_sign_text(&p, sk_a, text, tn + 1), PASS_OK);
		assert_int_equal(strlen(text), tn);
	}
}

/* ---- every single-byte change of a signed pass is refused ---- */

static int structural(enum pass_err e)
{
	return e == PASS_ERR_SHORT || e == PASS_ERR_TRAILING || e == PASS_ERR_VERSION ||
	       e == PASS_ERR_FIELD || e == PASS_ERR_KEY;
}

static void test_pass_every_byte_change(void **state)
{
	static const unsigned char xors[] = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff};
	const struct pass_key keys[2] = {key_a, key_b};
	const struct pass src[2] = {base_pass(), nfc_pass(10)};
	int count[PASS_ERR_SPACE + 1] = {0};

	(void)state;
	for (size_t s = 0; s < NELEM(src); s++) {
		unsigned char bin[PASS_BIN_MAX], mod[PASS_BIN_MAX];
		size_t n;

		assert_int_equal(pass_sign_bin(&src[s], sk_a, bin, sizeof(bin), &n), PASS_OK);
		for (size_t pos = 0; pos < n; pos++) {
			for (size_t x = 0; x < NELEM(xors); x++) {
				struct pass got;
				enum pass_err e;

				memcpy(mod, bin, n);
				mod[pos] ^= xors[x];
				e = pass_verify_bin(mod, n, keys, 2, &got);
				if (e == PASS_OK)
					fail_msg("pass %zu: byte %zu ^ 0x%02x accepted", s, pos,
					         xors[x]);
				/* the signature and the signed fields fail the signature check,
				 * unless a structural check caught the change first */
				if (e != PASS_ERR_SIGNATURE && !structural(e))
					fail_msg("pass %zu: byte %zu ^ 0x%02x: unexpected %s", s,
					         pos, xors[x], pass_strerror(e));
				if (pos == 0 && e != PASS_ERR_VERSION)
					fail_msg("version byte changed: %s", pass_strerror(e));
				if (pos == 23 && e != PASS_ERR_SHORT && e != PASS_ERR_TRAILING)
					fail_msg("uid_len changed: %s", pass_strerror(e));
				if (pos >= n - PASS_SIG_LEN && e != PASS_ERR_SIGNATURE)
					fail_msg("signature byte %zu: %s", pos, pass_strerror(e));
				if (!pass_is_zero(&got))
					fail_msg("output not zeroed on error");
				count[e]++;
			}
		}
	}
	/* most changes are caught by the signature; each structural check was reached */
	assert_true(count[PASS_ERR_SIGNATURE] > 800);
	assert_true(count[PASS_ERR_VERSION] > 0 && count[PASS_ERR_FIELD] > 0);
	assert_true(count[PASS_ERR_SHORT] > 0 && count[PASS_ERR_TRAILING] > 0);
	assert_true(count[PASS_ERR_KEY] > 0);

	/* the same on the text: every character replaced by every other Base45 character */
	{
		static const char alpha[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
		char text[PASS_TEXT_MAX + 1], mod[PASS_TEXT_MAX + 1];
		size_t tn;

		assert_int_equal(pass_sign_text(&src[0], sk_a, text, sizeof(text)), PASS_OK);
		tn = strlen(text);
		for (size_t pos = 4; pos < tn; pos++) {
			for (size_t c = 0; c < 45; c++) {
				struct pass got;
				enum pass_err e;

				if (alpha[c] == text[pos])
					continue;
				memcpy(mod, text, tn + 1);
				mod[pos] = alpha[c];
				e = pass_verify_text(mod, tn, keys, 2, &got);
				if (e == PASS_OK)
					fail_msg("text position %zu = '%c' accepted", pos,
					         alpha[c]);
			}
		}
	}
}

/* ---- truncated and extended tokens ---- */

static void test_pass_lengths(void **state)
{
	const struct pass src[3] = {base_pass(), nfc_pass(7), nfc_pass(10)};
	int nfail = 0;

	(void)state;
	for (size_t s = 0; s < NELEM(src); s++) {
		unsigned char bin[PASS_BIN_MAX + 3];
		char text[PASS_TEXT_MAX + 8];
		size_t n, tn;

		assert_int_equal(pass_sign_bin(&src[s], sk_a, bin, PASS_BIN_MAX, &n), PASS_OK);
		memset(bin + n, 0, 3);
		for (size_t len = 0; len <= n + 3; len++) {
			char name[48];
			struct pass got;
			enum pass_err e = pass_verify_bin(bin, len, &key_a, 1, &got);
			enum pass_err want = len < n   ? PASS_ERR_SHORT
			                     : len > n ? PASS_ERR_TRAILING
			                               : PASS_OK;

			snprintf(name, sizeof(name), "pass %zu, %zu of %zu bytes", s, len, n);
			CASE_CHECK(nfail, e == want, name, "%s, expected %s", pass_strerror(e),
			           pass_strerror(want));
		}

		assert_int_equal(pass_sign_text(&src[s], sk_a, text, sizeof(text)), PASS_OK);
		tn = strlen(text);
		memcpy(text + tn, "000", 4);
		for (size_t len = 0; len <= tn + 3; len++) {
			char name[48];
			struct pass got;
			enum pass_err e = pass_verify_text(text, len, &key_a, 1, &got);
			enum pass_err p = pass_parse_text(text, len, &got);
			int ok;

			snprintf(name, sizeof(name), "pass %zu, %zu of %zu characters", s, len, tn);
			if (len < 4)
				ok = e == PASS_ERR_PREFIX;
			else if ((len - 4) % 3 == 1)
				ok = e == PASS_ERR_BASE45;
			else if (len < tn) /* a cut pair may also be over 255: bad Base45 */
				ok = e == PASS_ERR_SHORT || e == PASS_ERR_BASE45;
			else if (len > tn)
				ok = e == PASS_ERR_TRAILING;
			else
				ok = e == PASS_OK;
			CASE_CHECK(nfail, ok, name, "verify: %s", pass_strerror(e));
			CASE_CHECK(nfail, p == e, name, "parse %s, verify %s", pass_strerror(p),
			           pass_strerror(e));
		}
	}
	assert_int_equal(nfail, 0);

	/* a long token is decoded whole (bad Base45 at the very end is seen) and said to be too
	 * long */
	{
		static char big[4 + 3000 + 1];
		struct pass got;

		memcpy(big, "EV1:", 4);
		memset(big + 4, '0', 3000);
		assert_int_equal(pass_verify_text(big, 4 + 3000, &key_a, 1, &got),
		                 PASS_ERR_TRAILING);
		assert_int_equal(pass_parse_text(big, 4 + 3000, &got), PASS_ERR_TRAILING);
		big[4 + 2999] = 'a';
		assert_int_equal(pass_verify_text(big, 4 + 3000, &key_a, 1, &got), PASS_ERR_BASE45);
		big[4 + 2999] = '0';
		assert_int_equal(pass_verify_text(big, 4 + 2998, &key_a, 1, &got), PASS_ERR_BASE45);
		assert_int_equal(pass_verify_text(big, 4 + 2999, &key_a, 1, &got),
		                 PASS_ERR_TRAILING);
	}
}

/* ---- prefix and Base45 errors of the text form ---- */

static void test_pass_text_errors(void **state)
{
	const char *g = golden[0].text;
	char buf[PASS_TEXT_MAX + 8];
	static const struct {
		const char *name;
		const char *head; /* replaces the "EV1:" */
		enum pass_err want;
	} heads[] = {
	    {"lower-case prefix", "ev1:", PASS_ERR_PREFIX},
	    {"version 2 prefix", "EV2:", PASS_ERR_PREFIX},
	    {"DCC prefix", "HC1:", PASS_ERR_PREFIX},
	    {"no colon", "EV1/", PASS_ERR_PREFIX},
	    {"leading blank", " EV1", PASS_ERR_PREFIX},
	};
	static const char *const short_texts[] = {"", "E", "EV", "EV1", "EV1 "};
	struct pass got;
	int nfail = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(heads); i++) {
		enum pass_err e;

		snprintf(buf, sizeof(buf), "%s%s", heads[i].head, g + 4);
		e = pass_verify_text(buf, strlen(buf), &key_a, 1, &got);
		CASE_CHECK(nfail, e == heads[i].want, heads[i].name, "verify: %s",
		           pass_strerror(e));
		e = pass_parse_text(buf, strlen(buf), &got);
		CASE_CHECK(nfail, e == heads[i].want, heads[i].name, "parse: %s", pass_strerror(e));
	}
	for (size_t i = 0; i < NELEM(short_texts); i++) {
		enum pass_err e =
		    pass_verify_text(short_texts[i], strlen(short_texts[i]), &key_a, 1, &got);

		CASE_CHECK(nfail, e == PASS_ERR_PREFIX, short_texts[i], "%s", pass_strerror(e));
	}
	/* "EV1:" alone: no bytes */
	assert_int_equal(pass_verify_text("EV1:", 4, &key_a, 1, &got), PASS_ERR_SHORT);
	assert_int_equal(pass_verify_text(NULL, 0, &key_a, 1, &got), PASS_ERR_PREFIX);

	/* Base45 damage: lower case, a line end (keyboard-wedge scanners add one), a NUL */
	{
		size_t gn = strlen(g);

		snprintf(buf, sizeof(buf), "%s", g);
		buf[10] = (char)(buf[10] - 'A' + 'a'); /* 'C' -> 'c' */
		assert_int_equal(pass_verify_text(buf, gn, &key_a, 1, &got), PASS_ERR_BASE45);
		snprintf(buf, sizeof(buf), "%s\n", g);
		assert_int_equal(pass_verify_text(buf, gn + 1, &key_a, 1, &got), PASS_ERR_BASE45);
		snprintf(buf, sizeof(buf), "%s", g);
		buf[gn - 2] = '\0';
		assert_int_equal(pass_verify_text(buf, gn, &key_a, 1, &got), PASS_ERR_BASE45);
		assert_int_equal(pass_parse_text(buf, gn, &got), PASS_ERR_BASE45);
		assert_true(pass_is_zero(&got));
		/* a group over 65535 */
		snprintf(buf, sizeof(buf), "%s", g);
		memcpy(buf + 4, "GGW", 3);
		assert_int_equal(pass_verify_text(buf, gn, &key_a, 1, &got), PASS_ERR_BASE45);
	}
	assert_int_equal(nfail, 0);
}

/* ---- key ids and rotation ---- */

static void test_pass_keys(void **state)
{
	struct pass pa = base_pass(), pb = base_pass(), p7 = base_pass(), liar = base_pass();
	char ta[PASS_TEXT_MAX + 1], tb[PASS_TEXT_MAX + 1], t7[PASS_TEXT_MAX + 1],
	    tl[PASS_TEXT_MAX + 1];
	const struct pass_key both[2] = {key_a, key_b}, both_rev[2] = {key_b, key_a};
	struct pass_key wrong_pk[1] = {{.id = 1}};
	struct pass_key dup[2] = {{.id = 1}, key_a};
	struct pass got;

	(void)state;
	pb.key_id = 2;
	p7.key_id = 7;
	liar.key_id = 1; /* says key 1, signed by key B */
	assert_int_equal(pass_sign_text(&pa, sk_a, ta, sizeof(ta)), PASS_OK);
	assert_int_equal(pass_sign_text(&pb, sk_b, tb, sizeof(tb)), PASS_OK);
	assert_int_equal(pass_sign_text(&p7, sk_a, t7, sizeof(t7)), PASS_OK);
	assert_int_equal(pass_sign_text(&liar, sk_b, tl, sizeof(tl)), PASS_OK);

	/* rotation: the gate holds the old and the new key; each pass verifies with the set, with
	 * its own key alone, and not with the other key alone */
	assert_int_equal(pass_verify_text(ta, strlen(ta), both, 2, &got), PASS_OK);
	assert_int_equal(got.key_id, 1);
	assert_int_equal(pass_verify_text(tb, strlen(tb), both, 2, &got), PASS_OK);
	assert_int_equal(got.key_id, 2);
	assert_int_equal(pass_verify_text(ta, strlen(ta), both_rev, 2, &got), PASS_OK);
	assert_int_equal(pass_verify_text(tb, strlen(tb), both_rev, 2, &got), PASS_OK);
	assert_int_equal(pass_verify_text(ta, strlen(ta), &key_a, 1, &got), PASS_OK);
	assert_int_equal(pass_verify_text(tb, strlen(tb), &key_b, 1, &got), PASS_OK);
	assert_int_equal(pass_verify_text(ta, strlen(ta), &key_b, 1, &got), PASS_ERR_KEY);
	assert_int_equal(pass_verify_text(tb, strlen(tb), &key_a, 1, &got), PASS_ERR_KEY);
	assert_true(pass_is_zero(&got));

	/* unknown key id; no keys at all */
	assert_int_equal(pass_verify_text(t7, strlen(t7), both, 2, &got), PASS_ERR_KEY);
	assert_int_equal(pass_verify_text(ta, strlen(ta), NULL, 0, &got), PASS_ERR_KEY);
	assert_int_equal(pass_verify_text(ta, strlen(ta), both, -1, &got), PASS_ERR_KEY);
	/* structure-only parsing does not care about keys */
	assert_int_equal(pass_parse_text(t7, strlen(t7), &got), PASS_OK);
	assert_int_equal(got.key_id, 7);

	/* a pass that names key 1 but was signed by key 2; the id matched with the wrong public key
	 */
	assert_int_equal(pass_verify_text(tl, strlen(tl), both, 2, &got), PASS_ERR_SIGNATURE);
	assert_int_equal(pass_parse_text(tl, strlen(tl), &got), PASS_OK);
	memcpy(wrong_pk[0].pk, key_b.pk, 32);
	assert_int_equal(pass_verify_text(ta, strlen(ta), wrong_pk, 1, &got), PASS_ERR_SIGNATURE);
	/* a duplicated id: the right key still verifies */
	memcpy(dup[0].pk, key_b.pk, 32);
	assert_int_equal(pass_verify_text(ta, strlen(ta), dup, 2, &got), PASS_OK);
}

/* ---- each structural error, on bytes with a good signature ---- */

static void test_pass_structure_signed(void **state)
{
	static const struct {
		const char *name;
		int change;
		enum pass_err want;
	} cases[] = {
	    {"control: unchanged", 0, PASS_OK},
	    {"control: NFC, 4-byte UID", 1, PASS_OK},
	    {"version 0", 2, PASS_ERR_VERSION},
	    {"version 2", 3, PASS_ERR_VERSION},
	    {"version 255", 4, PASS_ERR_VERSION},
	    {"kind 0", 5, PASS_ERR_FIELD},
	    {"kind 4", 6, PASS_ERR_FIELD},
	    {"kind 255", 7, PASS_ERR_FIELD},
	    {"until == from", 8, PASS_ERR_FIELD},
	    {"until < from", 9, PASS_ERR_FIELD},
	    {"uid_len 5 with the flag", 10, PASS_ERR_FIELD},
	    {"uid_len 4 without the flag", 11, PASS_ERR_FIELD},
	    {"the flag without a UID", 12, PASS_ERR_FIELD},
	    {"unknown flag 0x40", 13, PASS_ERR_FIELD},
	    {"key id 0", 14, PASS_ERR_FIELD},
	    {"centre 0", 15, PASS_ERR_FIELD},
	    {"uid_len 255, all 343 bytes there", 16, PASS_ERR_FIELD},
	    {"uid_len 11", 17, PASS_ERR_FIELD},
	    {"version 2 and kind 0: version first", 18, PASS_ERR_VERSION},
	    {"kind 0 and unknown key: field first", 19, PASS_ERR_FIELD},
	};
	int nfail = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct pass p = base_pass(), got;
		unsigned char bin[24 + 255 + 64 + 1];
		char text[4 + 600];
		size_t n;
		enum pass_err e;

		switch (cases[i].change) {
		case 1:
			p = nfc_pass(4);
			break;
		case 2:
			p.version = 0;
			break;
		case 3:
			p.version = 2;
			break;
		case 4:
			p.version = 255;
			break;
		case 5:
			p.kind = 0;
			break;
		case 6:
			p.kind = 4;
			break;
		case 7:
			p.kind = 255;
			break;
		case 8:
			p.valid_until = p.valid_from;
			break;
		case 9:
			p.valid_until = 0;
			break;
		case 10:
			p = nfc_pass(4);
			p.uid_len = 5;
			break;
		case 11:
			p = nfc_pass(4);
			p.flags = 0;
			break;
		case 12:
			p.flags = PASS_FLAG_NFC;
			break;
		case 13:
			p.flags = 0x40;
			break;
		case 14:
			p.key_id = 0;
			break;
		case 15:
			p.centre = 0;
			break;
		case 16:
			p = nfc_pass(10);
			p.uid_len = 255;
			break;
		case 17:
			p = nfc_pass(10);
			p.uid_len = 11;
			break;
		case 18:
			p.version = 2;
			p.kind = 0;
			break;
		case 19:
			p.kind = 0;
			p.key_id = 9;
			break;
		}
		n = pack_signed(&p, sk_a, bin);
		e = pass_verify_bin(bin, n, &key_a, 1, &got);
		CASE_CHECK(nfail, e == cases[i].want, cases[i].name, "verify_bin: %s, expected %s",
		           pass_strerror(e), pass_strerror(cases[i].want));
		if (e == PASS_OK)
			CASE_CHECK(nfail, pass_equal(&got, &p), cases[i].name, "fields differ");
		else
			CASE_CHECK(nfail, pass_is_zero(&got), cases[i].name, "output not zeroed");
		/* the text form gives the same answer, verified or only parsed */
		memcpy(text, PASS_PREFIX, 4);
		assert_int_equal(base45_encode(bin, n, text + 4, sizeof(text) - 4), 0);
		e = pass_verify_text(text, strlen(text), &key_a, 1, &got);
		CASE_CHECK(nfail, e == cases[i].want, cases[i].name, "verify_text: %s",
		           pass_strerror(e));
		e = pass_parse_text(text, strlen(text), &got);
		CASE_CHECK(nfail, e == cases[i].want, cases[i].name, "parse_text: %s",
		           pass_strerror(e));
		/* one byte more or less is a length error before anything else */
		bin[n] = 0;
		e = pass_verify_bin(bin, n + 1, &key_a, 1, &got);
		CASE_CHECK(nfail, e == PASS_ERR_TRAILING, cases[i].name, "n + 1: %s",
		           pass_strerror(e));
		e = pass_verify_bin(bin, n - 1, &key_a, 1, &got);
		CASE_CHECK(nfail, e == PASS_ERR_SHORT, cases[i].name, "n - 1: %s",
		           pass_strerror(e));
	}
	assert_int_equal(nfail, 0);
}

/* ---- error texts ---- */

static void test_pass_strerror(void **state)
{
	(void)state;
	for (int e = PASS_OK; e <= PASS_ERR_SPACE; e++) {
		const char *s = pass_strerror((enum pass_err)e);

		assert_non_null(s);
		assert_true(strlen(s) > 0 && strlen(s) < 60);
		for (int f = PASS_OK; f < e; f++)
			assert_string_not_equal(s, pass_strerror((enum pass_err)f));
	}
	assert_non_null(pass_strerror((enum pass_err)99));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pass_golden),      cmocka_unit_test(test_pass_round_trip),
	    cmocka_unit_test(test_pass_sign_errors), cmocka_unit_test(test_pass_every_byte_change),
	    cmocka_unit_test(test_pass_lengths),     cmocka_unit_test(test_pass_text_errors),
	    cmocka_unit_test(test_pass_keys),        cmocka_unit_test(test_pass_structure_signed),
	    cmocka_unit_test(test_pass_strerror),
	};

	return cmocka_run_group_tests_name("pass", tests, setup_keys, NULL);
}
