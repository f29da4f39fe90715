/* test_base45.c: Base45 (shared/base45.c) against the RFC 9285 examples, its decoding errors, the
 * buffer limits, random round trips, and random text against a slow reference decoder written here
 * straight from the RFC's definition. */
#include "unit_util.h"

#include "base45.h"

static const char b45_alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/* A fixed-seed generator, so a failure can be replayed. */
static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

/* ---- encoding: RFC 9285 section 4 examples and a few more worked by hand ---- */

static void test_base45_encode_vectors(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		const char *out;
	} cases[] = {
	    {"AB", 2, "BB8"},              /* RFC 9285 4.1 */
	    {"Hello!!", 7, "%69 VD92EX0"}, /* RFC 9285 4.2 */
	    {"base-45", 7, "UJCLQE7W581"}, /* RFC 9285 4.3 */
	    {"ietf!", 5, "QED8WEX0"},      /* RFC 9285 4.4 (decoded there) */
	    {"", 0, ""},                   /* empty */
	    {"\x00", 1, "00"},             /* 0 = 0 + 0*45 */
	    {"\xff", 1, "U5"},             /* 255 = 30 + 5*45 */
	    {"\x00\x00", 2, "000"},        /* 0 */
	    {"\xff\xff", 2, "FGW"},        /* 65535 = 15 + 16*45 + 32*2025 */
	    {"\x01\x00", 2, "V50"},        /* 256 = 31 + 5*45 */
	    {"\x00\x2c", 2, ":00"},        /* 44: the last character */
	    {"\x00\x2d\x00", 3, "01000"},  /* 45, then a lone 0 */
	};
	int nfail = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		char out[64];
		size_t want = strlen(cases[i].out);
		int rc;

		CASE_CHECK(nfail, base45_encoded_len(cases[i].n) == want, cases[i].out,
		           "encoded_len %zu, expected %zu", base45_encoded_len(cases[i].n), want);
		memset(out, 'x', sizeof(out));
		rc =
		    base45_encode((const unsigned char *)cases[i].in, cases[i].n, out, sizeof(out));
		CASE_CHECK(nfail, rc == 0, cases[i].out, "encode returned %d", rc);
		CASE_CHECK(nfail, rc == 0 && strcmp(out, cases[i].out) == 0, cases[i].out,
		           "encoded to \"%.*s\"", (int)want, out);
	}
	assert_int_equal(nfail, 0);
}

/* ---- decoding: the same vectors back, and everything that must be refused ---- */

static void test_base45_decode_vectors(void **state)
{
	static const struct {
		const char *in;
		const char *out; /* NULL: must fail */
		size_t n;
	} cases[] = {
	    {"BB8", "AB", 2},
	    {"%69 VD92EX0", "Hello!!", 7},
	    {"UJCLQE7W581", "base-45", 7},
	    {"QED8WEX0", "ietf!", 5},
	    {"", "", 0},
	    {"U5", "\xff", 1},
	    {"FGW", "\xff\xff", 2},
	    {"GGW", NULL, 0},     /* 65536: RFC 9285 section 6 */
	    {":::", NULL, 0},     /* 91124 */
	    {"V5", NULL, 0},      /* 256 in a last pair */
	    {"::", NULL, 0},      /* 2024 */
	    {"0", NULL, 0},       /* n % 3 == 1 */
	    {"BB8B", NULL, 0},    /* n % 3 == 1 */
	    {"BB8BB8B", NULL, 0}, /* n % 3 == 1 */
	    {"bb8", NULL, 0},     /* lower case is not Base45 */
	    {"BB8\n", NULL, 0},   /* a scanner's line end */
	    {"BB#", NULL, 0},     /* '#' is not in the alphabet */
	    {"B_8", NULL, 0},
	    {"=B8", NULL, 0},
	    {"BB8@@", NULL, 0},
	    {"QED8WE\xc3\xa9", NULL, 0}, /* UTF-8 */
	};
	int nfail = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		unsigned char out[64];
		size_t outn = 99;
		int rc = base45_decode(cases[i].in, strlen(cases[i].in), out, sizeof(out), &outn);

		if (cases[i].out) {
			CASE_CHECK(nfail, rc == 0, cases[i].in, "decode returned %d", rc);
			CASE_CHECK(nfail, outn == cases[i].n, cases[i].in,
			           "%zu bytes, expected %zu", outn, cases[i].n);
			CASE_CHECK(nfail, rc == 0 && memcmp(out, cases[i].out, cases[i].n) == 0,
			           cases[i].in, "wrong bytes");
		} else {
			CASE_CHECK(nfail, rc == -1, cases[i].in, "decode returned %d, expected -1",
			           rc);
			CASE_CHECK(nfail, outn == 0, cases[i].in, "*outn %zu on error", outn);
		}
	}
	/* a NUL inside the given length is a character like any other, and not Base45 */
	{
		unsigned char out[8];
		size_t outn;

		assert_int_equal(base45_decode("BB\0", 3, out, sizeof(out), &outn), -1);
		assert_int_equal(base45_decode("BB8\0\0\0", 6, out, sizeof(out), &outn), -1);
		/* the length decides, not a NUL: "BB8" of "BB8BB8" */
		assert_int_equal(base45_decode("BB8BB8", 3, out, sizeof(out), &outn), 0);
		assert_int_equal(outn, 2);
	}
	assert_int_equal(nfail, 0);
}

/* Every one of the 256 byte values as a character: only the 45 of the alphabet decode, to their
 * index (checked through the one-character-plus-zero pair "c0" = index). */
static void test_base45_alphabet(void **state)
{
	(void)state;
	for (int c = 0; c < 256; c++) {
		char in[2] = {(char)c, '0'};
		const char *pos = c ? memchr(b45_alphabet, c, 45) : NULL;
		unsigned char out[1];
		size_t outn;
		int rc = base45_decode(in, 2, out, sizeof(out), &outn);

		if (pos) {
			assert_int_equal(rc, 0);
			assert_int_equal(outn, 1);
			assert_int_equal(out[0], pos - b45_alphabet);
		} else if (rc != -1) {
			fail_msg("byte 0x%02x decoded as a Base45 character", c);
		}
	}
}

/* ---- buffer limits ---- */

static void test_base45_limits(void **state)
{
	const unsigned char in[5] = {'i', 'e', 't', 'f', '!'};
	char text[16];
	unsigned char out[8];
	size_t outn;

	(void)state;
	/* encode: needs encoded_len + 1 for the NUL; out untouched otherwise */
	assert_int_equal(base45_encoded_len(5), 8);
	memset(text, 'x', sizeof(text));
	assert_int_equal(base45_encode(in, 5, text, 8), -1);
	assert_int_equal(text[0], 'x');
	assert_int_equal(base45_encode(in, 5, text, 0), -1);
	assert_int_equal(base45_encode(in, 5, text, 9), 0);
	assert_string_equal(text, "QED8WEX0");
	assert_int_equal(base45_encode(in, 0, text, 1), 0);
	assert_string_equal(text, "");
	assert_int_equal(base45_encode(in, 0, text, 0), -1);

	/* decode: the exact decoded length is enough, one less is refused */
	assert_int_equal(base45_decode("QED8WEX0", 8, out, 4, &outn), -1);
	assert_int_equal(outn, 0);
	assert_int_equal(base45_decode("QED8WEX0", 8, out, 5, &outn), 0);
	assert_int_equal(outn, 5);
	assert_memory_equal(out, in, 5);
	assert_int_equal(base45_decode("", 0, NULL, 0, &outn), 0);
	assert_int_equal(outn, 0);

	/* lengths: 3 per 2 bytes, 2 for an odd last one; no overflow at the top */
	assert_int_equal(base45_encoded_len(0), 0);
	assert_int_equal(base45_encoded_len(1), 2);
	assert_int_equal(base45_encoded_len(2), 3);
	assert_int_equal(base45_encoded_len(3), 5);
	assert_int_equal(base45_encoded_len(88), 132);
	assert_int_equal(base45_encoded_len(98), 147);
	assert_true(base45_encoded_len(SIZE_MAX) == SIZE_MAX);
	assert_true(base45_encoded_len(SIZE_MAX / 3 * 2) == SIZE_MAX);
	assert_int_equal(base45_encode(in, SIZE_MAX, text, sizeof(text)), -1);
}

/* ---- random round trips ---- */

static void test_base45_round_trip(void **state)
{
	unsigned char in[600], back[600];
	char text[901];

	(void)state;
	for (int round = 0; round < 4000; round++) {
		size_t n = round < 600 ? (size_t)round : rng() % sizeof(in);
		size_t tn, outn = 0;

		for (size_t i = 0; i < n; i++)
			in[i] = (unsigned char)rng();
		if (round % 7 == 0 && n > 0) /* the extremes, often */
			memset(in, round % 2 ? 0xff : 0x00, n);
		assert_int_equal(base45_encode(in, n, text, sizeof(text)), 0);
		tn = strlen(text);
		assert_int_equal(tn, base45_encoded_len(n));
		assert_int_equal(strspn(text, b45_alphabet), tn);
		assert_int_equal(base45_decode(text, tn, back, n, &outn), 0);
		assert_int_equal(outn, n);
		if (n)
			assert_memory_equal(back, in, n);
	}
}

/* ---- random text against a reference decoder ---- */

/* Straight from RFC 9285 section 4: 0 or -1 like base45_decode. */
static int ref_decode(const char *in, size_t n, unsigned char *out, size_t *outn)
{
	size_t o = 0;

	if (n % 3 == 1)
		return -1;
	for (size_t i = 0; i < n; i += 3) {
		size_t g = n - i < 3 ? n - i : 3;
		unsigned long v = 0, mul = 1;

		for (size_t j = 0; j < g; j++) {
			const char *p = in[i + j] ? strchr(b45_alphabet, in[i + j]) : NULL;

			if (!p)
				return -1;
			v += (unsigned long)(p - b45_alphabet) * mul;
			mul *= 45;
		}
		if (g == 3) {
			if (v > 0xffff)
				return -1;
			out[o++] = (unsigned char)(v / 256);
			out[o++] = (unsigned char)(v % 256);
		} else {
			if (v > 0xff)
				return -1;
			out[o++] = (unsigned char)v;
		}
	}
	*outn = o;
	return 0;
}

static void test_base45_against_reference(void **state)
{
	char in[40];
	unsigned char a[40], b[40];
	int ok = 0;

	(void)state;
	for (int round = 0; round < 200000; round++) {
		size_t n = rng() % 13, an = 0, bn = 0;
		int ra, rb;

		for (size_t i = 0; i < n; i++) {
			uint32_t r = rng();
			/* mostly the alphabet, with the high characters (where overflow happens)
			 * often, and now and then any byte at all */
			in[i] = r % 16 == 0  ? (char)(r >> 8)
			        : r % 4 == 0 ? b45_alphabet[40 + (r >> 8) % 5]
			                     : b45_alphabet[(r >> 8) % 45];
		}
		ra = base45_decode(in, n, a, sizeof(a), &an);
		rb = ref_decode(in, n, b, &bn);
		if (ra != rb || (ra == 0 && (an != bn || memcmp(a, b, an) != 0)))
			fail_msg(
			    "round %d: base45_decode %d (%zu bytes), reference %d (%zu bytes) for "
			    "\"%.*s\"",
			    round, ra, an, rb, bn, (int)n, in);
		ok += ra == 0;
	}
	/* the mix must exercise both outcomes a lot */
	assert_true(ok > 20000 && ok < 180000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base45_encode_vectors),
	    cmocka_unit_test(test_base45_decode_vectors),
	    cmocka_unit_test(test_base45_alphabet),
	    cmocka_unit_test(test_base45_limits),
	    cmocka_unit_test(test_base45_round_trip),
	    cmocka_unit_test(test_base45_against_reference),
	};

	return cmocka_run_group_tests_name("base45", tests, NULL, NULL);
}
