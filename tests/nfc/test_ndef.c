/* test_ndef.c: shared/ndef.c on its own: the pass record encoder (exact bytes, sizes, limits), the
 * decoder against a table of well-formed and malformed Type 2 data areas, and a byte-flip and
 * truncation sweep. Every image is decoded from a heap copy of its exact size, so that a read past
 * its end shows up under AddressSanitizer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ndef.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define TYPE_BYTES                                                                                 \
	'a', 'p', 'p', 'l', 'i', 'c', 'a', 't', 'i', 'o', 'n', '/', 'v', 'n', 'd', '.', 'e', 's',  \
	    't', 'i', 'v', 'a', '.', 'p', 'a', 's', 's'

/* Decodes a heap copy of exactly len bytes. */
static enum ndef_err decode_copy(const unsigned char *img, size_t len, struct ndef_record *rec)
{
	unsigned char *copy = malloc(len ? len : 1);
	enum ndef_err e;

	assert_non_null(copy);
	if (len)
		memcpy(copy, img, len);
	e = ndef_decode(copy, len, rec);
	free(copy);
	return e;
}

static enum ndef_err decode_pass_copy(const unsigned char *img, size_t len, unsigned char *out,
                                      size_t *n)
{
	unsigned char *copy = malloc(len ? len : 1);
	const unsigned char *p;
	enum ndef_err e;

	assert_non_null(copy);
	if (len)
		memcpy(copy, img, len);
	e = ndef_decode_pass(copy, len, &p, n);
	if (e == NDEF_OK) {
		assert_true(p >= copy && p + *n <= copy + len);
		memcpy(out, p, *n);
	}
	free(copy);
	return e;
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed + i * 37u);
}

/* ---- encoder ---- */

static void test_encode_exact_bytes(void **state)
{
	static const unsigned char want[] = {0x03,       0x20, 0xD2, 0x1B, 0x02,
	                                     TYPE_BYTES, 'A',  'B',  0xFE};
	unsigned char out[64];
	size_t len = 0;

	(void)state;
	assert_int_equal(ndef_encode_pass((const unsigned char *)"AB", 2, out, sizeof(out), &len),
	                 NDEF_OK);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(ndef_pass_tlv_size(2), sizeof(want));
}

static void test_encode_sizes(void **state)
{
	static const struct {
		size_t n;
		size_t tlv;     /* expected TLV size, terminator included */
		int three_byte; /* length in the 03 FF hi lo form */
	} cases[] = {
	    {1, 34, 0},    {98, 131, 0},  {111, 144, 0}, /* the NTAG213 maximum: exactly 144 */
	    {112, 145, 0}, {224, 257, 0}, /* record 254 bytes: last one-byte length */
	    {225, 260, 1},                /* record 255 bytes: three-byte length */
	    {255, 290, 1},
	};
	unsigned char payload[NDEF_PASS_PAYLOAD_MAX], out[NDEF_PASS_TLV_MAX],
	    back[NDEF_PASS_PAYLOAD_MAX];

	(void)state;
	assert_int_equal(NDEF_PASS_TLV_MAX, 290);
	for (size_t i = 0; i < NELEM(cases); i++) {
		size_t len = 0, n = 0;

		fill(payload, cases[i].n, (unsigned)i);
		assert_int_equal(ndef_pass_tlv_size(cases[i].n), cases[i].tlv);
		assert_int_equal(ndef_encode_pass(payload, cases[i].n, out, sizeof(out), &len),
		                 NDEF_OK);
		assert_int_equal(len, cases[i].tlv);
		assert_int_equal(out[0], 0x03);
		assert_int_equal(out[1] == 0xFF, cases[i].three_byte);
		assert_int_equal(out[len - 1], 0xFE);
		/* round trip, from a buffer of exactly the TLV and from one padded with zeros */
		assert_int_equal(decode_pass_copy(out, len, back, &n), NDEF_OK);
		assert_int_equal(n, cases[i].n);
		assert_memory_equal(back, payload, n);
		assert_int_equal(decode_pass_copy(out, len - 1, back, &n),
		                 NDEF_OK); /* no terminator */
		/* too small by one byte */
		assert_int_equal(ndef_encode_pass(payload, cases[i].n, out, len - 1, &len),
		                 NDEF_ESPACE);
		assert_int_equal(len, 0);
	}
}

static void test_encode_limits(void **state)
{
	unsigned char payload[300], out[400];
	size_t len = 99;

	(void)state;
	memset(payload, 'x', sizeof(payload));
	assert_int_equal(ndef_encode_pass(payload, 0, out, sizeof(out), &len), NDEF_EPAYLOAD);
	assert_int_equal(ndef_encode_pass(payload, 256, out, sizeof(out), &len), NDEF_EPAYLOAD);
	assert_int_equal(ndef_encode_pass(NULL, 5, out, sizeof(out), &len), NDEF_EARG);
	assert_int_equal(ndef_encode_pass(payload, 5, NULL, sizeof(out), &len), NDEF_EARG);
	assert_int_equal(ndef_encode_pass(payload, 5, out, sizeof(out), NULL), NDEF_EARG);
	assert_int_equal(ndef_pass_tlv_size(0), 0);
	assert_int_equal(ndef_pass_tlv_size(256), 0);
	/* payload that fits the NDEF area of each tag (CC-declared sizes) */
	assert_int_equal(ndef_pass_payload_max(144), 111); /* NTAG213 */
	assert_int_equal(ndef_pass_payload_max(496), 255); /* NTAG215 */
	assert_int_equal(ndef_pass_payload_max(872), 255); /* NTAG216 */
	assert_int_equal(ndef_pass_payload_max(48), 15);   /* MIFARE Ultralight */
	assert_int_equal(ndef_pass_payload_max(33), 0);
	assert_int_equal(ndef_pass_payload_max(0), 0);
}

/* ---- decoder table ---- */

#define MAX_IMG 64

struct dcase {
	const char *name;
	unsigned char img[MAX_IMG];
	size_t len;
	enum ndef_err decode;      /* ndef_decode() */
	enum ndef_err decode_pass; /* ndef_decode_pass() */
};

/* A valid pass record "xy" as a TLV: 03 20 D2 1B 02 type 'x' 'y' FE (35 bytes). */
#define PASS_XY 0x03, 0x20, 0xD2, 0x1B, 0x02, TYPE_BYTES, 'x', 'y', 0xFE
#define PASS_XY_LEN 35

static const struct dcase dcases[] = {
    /* where the NDEF TLV is, and what comes before it */
    {"empty image", {0}, 0, NDEF_ENOTLV, NDEF_ENOTLV},
    {"only NULL TLVs", {0, 0, 0, 0, 0, 0, 0, 0}, 8, NDEF_ENOTLV, NDEF_ENOTLV},
    {"terminator first", {0xFE, 0x03, 0x00}, 3, NDEF_ETERMINATOR, NDEF_ETERMINATOR},
    {"NULLs then terminator", {0x00, 0x00, 0xFE}, 3, NDEF_ETERMINATOR, NDEF_ETERMINATOR},
    {"unknown TLV type", {0x04, 0x01, 0x00, 0xFE}, 4, NDEF_ETLVTYPE, NDEF_ETLVTYPE},
    {"reserved TLV type 0x80", {0x80, 0x00}, 2, NDEF_ETLVTYPE, NDEF_ETLVTYPE},
    {"NDEF TLV without length", {0x03}, 1, NDEF_ETRUNC, NDEF_ETRUNC},
    {"three-byte length cut", {0x03, 0xFF, 0x01}, 3, NDEF_ETRUNC, NDEF_ETRUNC},
    {"three-byte length FFFF", {0x03, 0xFF, 0xFF, 0xFF, 0x00}, 5, NDEF_ETLVLEN, NDEF_ETLVLEN},
    {"value past the end", {0x03, 0x05, 0xD1, 0x01, 0x01}, 5, NDEF_ETRUNC, NDEF_ETRUNC},
    {"empty NDEF message", {0x03, 0x00, 0xFE}, 3, NDEF_EEMPTY, NDEF_EEMPTY},
    {"lock control cut", {0x01, 0x03, 0xA0, 0x10}, 4, NDEF_ETRUNC, NDEF_ETRUNC},
    {"lock control, then pass",
     {0x01, 0x03, 0xA0, 0x10, 0x44, PASS_XY},
     5 + PASS_XY_LEN,
     NDEF_OK,
     NDEF_OK},
    {"memory control and NULLs, then pass",
     {0x00, 0x02, 0x03, 0x00, 0x00, 0x00, 0x00, PASS_XY},
     7 + PASS_XY_LEN,
     NDEF_OK,
     NDEF_OK},
    {"proprietary TLV, then pass",
     {0xFD, 0x02, 0xAA, 0xBB, PASS_XY},
     4 + PASS_XY_LEN,
     NDEF_OK,
     NDEF_OK},
    {"three-byte form with a small length",
     {0x03, 0xFF, 0x00, 0x20, 0xD2, 0x1B, 0x02, TYPE_BYTES, 'x', 'y'},
     4 + 32,
     NDEF_OK,
     NDEF_OK},
    {"pass, terminator dropped", {PASS_XY}, PASS_XY_LEN - 1, NDEF_OK, NDEF_OK},
    {"pass, garbage after terminator", {PASS_XY, 0x42, 0x99}, PASS_XY_LEN + 2, NDEF_OK, NDEF_OK},
    /* the record */
    {"record shorter than a header", {0x03, 0x02, 0xD2, 0x1B}, 4, NDEF_ERECSHORT, NDEF_ERECSHORT},
    {"long record, length cut",
     {0x03, 0x04, 0xC2, 0x1B, 0x00, 0x00},
     6,
     NDEF_ERECSHORT,
     NDEF_ERECSHORT},
    {"ID length missing", {0x03, 0x03, 0xDA, 0x01, 0x00}, 5, NDEF_ERECSHORT, NDEF_ERECSHORT},
    {"no message-begin flag",
     {0x03, 0x05, 0x52, 0x01, 0x01, 'x', 'y'},
     7,
     NDEF_ENOTBEGIN,
     NDEF_ENOTBEGIN},
    {"chunked record", {0x03, 0x05, 0xF2, 0x01, 0x01, 'x', 'y'}, 7, NDEF_ECHUNKED, NDEF_ECHUNKED},
    {"TNF unchanged", {0x03, 0x05, 0xD6, 0x01, 0x01, 'x', 'y'}, 7, NDEF_ETNF, NDEF_ETNF},
    {"TNF reserved", {0x03, 0x05, 0xD7, 0x01, 0x01, 'x', 'y'}, 7, NDEF_ETNF, NDEF_ETNF},
    {"MIME without a type", {0x03, 0x03, 0xD2, 0x00, 0x00}, 5, NDEF_ETYPELEN, NDEF_ETYPELEN},
    {"empty TNF with a payload",
     {0x03, 0x04, 0xD0, 0x00, 0x01, 'x'},
     6,
     NDEF_ETYPELEN,
     NDEF_ETYPELEN},
    {"unknown TNF with a type",
     {0x03, 0x05, 0xD5, 0x01, 0x01, 'x', 'y'},
     7,
     NDEF_ETYPELEN,
     NDEF_ETYPELEN},
    {"type past the message", {0x03, 0x04, 0xD2, 0x05, 0x00, 'x'}, 6, NDEF_ERECLEN, NDEF_ERECLEN},
    {"payload past the message",
     {0x03, 0x05, 0xD2, 0x01, 0x09, 'x', 'y'},
     7,
     NDEF_ERECLEN,
     NDEF_ERECLEN},
    {"ID past the message",
     {0x03, 0x06, 0xDA, 0x01, 0x00, 0x05, 'x', 'y'},
     8,
     NDEF_ERECLEN,
     NDEF_ERECLEN},
    {"long payload length past the message",
     {0x03, 0x08, 0xC2, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 'x', 'y'},
     10,
     NDEF_ERECLEN,
     NDEF_ERECLEN},
    {"bytes after the last record",
     {0x03, 0x06, 0xD2, 0x01, 0x01, 'x', 'y', 'z'},
     8,
     NDEF_ETRAILING,
     NDEF_ETRAILING},
    {"no message-end record",
     {0x03, 0x05, 0x92, 0x01, 0x01, 'x', 'y'},
     7,
     NDEF_ENOEND,
     NDEF_ENOEND},
    {"two records, first returned",
     {0x03, 0x0A, 0x92, 0x01, 0x01, 'x', 'y', 0x52, 0x01, 0x01, 'x', 'y'},
     12,
     NDEF_OK,
     NDEF_ETYPE},
    /* valid NDEF, but not a pass */
    {"text record",
     {0x03, 0x08, 0xD1, 0x01, 0x04, 'T', 0x02, 'e', 'n', 'A', 0xFE},
     11,
     NDEF_OK,
     NDEF_ETYPE},
    {"empty record (03 03 D0 00 00)",
     {0x03, 0x03, 0xD0, 0x00, 0x00, 0xFE},
     6,
     NDEF_OK,
     NDEF_EEMPTY},
    {"MIME type differs in case",
     {0x03, 0x20, 0xD2, 0x1B, 0x02, 'a', 'p', 'p', 'l', 'i', 'c', 'a', 't', 'i', 'o', 'n', '/',
      'v',  'n',  'd',  '.',  'e',  's', 't', 'i', 'v', 'a', '.', 'p', 'a', 's', 'S', 'x', 'y'},
     34,
     NDEF_OK,
     NDEF_ETYPE},
    {"MIME type a prefix of ours",
     {0x03, 0x1F, 0xD2, 0x1A, 0x02, 'a', 'p', 'p', 'l', 'i', 'c', 'a', 't', 'i', 'o', 'n', '/',
      'v',  'n',  'd',  '.',  'e',  's', 't', 'i', 'v', 'a', '.', 'p', 'a', 's', 'x', 'y'},
     33,
     NDEF_OK,
     NDEF_ETYPE},
    {"external type with our name",
     {0x03, 0x20, 0xD4, 0x1B, 0x02, TYPE_BYTES, 'x', 'y'},
     34,
     NDEF_OK,
     NDEF_ETYPE},
    {"our type, empty payload",
     {0x03, 0x1E, 0xD2, 0x1B, 0x00, TYPE_BYTES},
     32,
     NDEF_OK,
     NDEF_EPASSLEN},
    {"our type as a long record",
     {0x03, 0x23, 0xC2, 0x1B, 0x00, 0x00, 0x00, 0x02, TYPE_BYTES, 'x', 'y'},
     37,
     NDEF_OK,
     NDEF_OK},
    {"our type with an ID",
     {0x03, 0x22, 0xDA, 0x1B, 0x02, 0x01, TYPE_BYTES, 'I', 'x', 'y'},
     36,
     NDEF_OK,
     NDEF_OK},
};

static void test_decode_table(void **state)
{
	int nfail = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(dcases); i++) {
		const struct dcase *c = &dcases[i];
		struct ndef_record rec;
		unsigned char out[NDEF_PASS_PAYLOAD_MAX];
		size_t n = 0;
		enum ndef_err e = decode_copy(c->img, c->len, &rec);
		enum ndef_err p = decode_pass_copy(c->img, c->len, out, &n);

		if (e != c->decode || p != c->decode_pass) {
			print_error("case '%s': decode %d (%s), expected %d; decode_pass %d (%s), "
			            "expected %d\n",
			            c->name, e, ndef_strerror(e), c->decode, p, ndef_strerror(p),
			            c->decode_pass);
			nfail++;
			continue;
		}
		if (p == NDEF_OK && (n != 2 || memcmp(out, "xy", 2) != 0)) {
			print_error("case '%s': payload of %zu bytes, expected \"xy\"\n", c->name,
			            n);
			nfail++;
		}
	}
	assert_int_equal(nfail, 0);
}

static void test_decode_record_fields(void **state)
{
	static const unsigned char img[] = {0x00, 0x03,       0x22, 0xDA, 0x1B, 0x02,
	                                    0x01, TYPE_BYTES, 'I',  'x',  'y',  0xFE};
	struct ndef_record rec;

	(void)state;
	assert_int_equal(ndef_decode(img, sizeof(img), &rec), NDEF_OK);
	assert_int_equal(rec.tnf, NDEF_TNF_MIME);
	assert_int_equal(rec.type_len, NDEF_PASS_TYPE_LEN);
	assert_memory_equal(rec.type, NDEF_PASS_TYPE, NDEF_PASS_TYPE_LEN);
	assert_int_equal(rec.id_len, 1);
	assert_int_equal(rec.id[0], 'I');
	assert_int_equal(rec.payload_len, 2);
	assert_memory_equal(rec.payload, "xy", 2);
	assert_int_equal(rec.tlv_offset, 1);
	assert_int_equal(rec.tlv_end, sizeof(img) - 1);
}

static void test_decode_args(void **state)
{
	static const unsigned char img[] = {PASS_XY};
	struct ndef_record rec;
	const unsigned char *p;
	size_t n;

	(void)state;
	assert_int_equal(ndef_decode(NULL, 3, &rec), NDEF_EARG);
	assert_int_equal(ndef_decode(img, sizeof(img), NULL), NDEF_EARG);
	assert_int_equal(ndef_decode_pass(img, sizeof(img), NULL, &n), NDEF_EARG);
	assert_int_equal(ndef_decode_pass(img, sizeof(img), &p, NULL), NDEF_EARG);
	assert_int_equal(ndef_decode_pass(NULL, 0, &p, &n), NDEF_EARG);
}

/* A long pass record whose 256-byte payload is more than a pass may carry. */
static void test_decode_oversized_pass(void **state)
{
	unsigned char img[4 + 6 + NDEF_PASS_TYPE_LEN + 256 + 1];
	size_t rec = 6 + NDEF_PASS_TYPE_LEN + 256, i = 0, n = 0;
	unsigned char out[300];

	(void)state;
	img[i++] = 0x03;
	img[i++] = 0xFF;
	img[i++] = (unsigned char)(rec >> 8);
	img[i++] = (unsigned char)(rec & 0xFF);
	img[i++] = 0xC2;
	img[i++] = NDEF_PASS_TYPE_LEN;
	img[i++] = 0;
	img[i++] = 0;
	img[i++] = 1;
	img[i++] = 0;
	memcpy(img + i, NDEF_PASS_TYPE, NDEF_PASS_TYPE_LEN);
	i += NDEF_PASS_TYPE_LEN;
	memset(img + i, 'p', 256);
	i += 256;
	img[i++] = 0xFE;
	assert_int_equal(i, sizeof(img));
	assert_int_equal(decode_pass_copy(img, sizeof(img), out, &n), NDEF_EPASSLEN);
}

/* Every prefix of a valid image fails cleanly; every single-byte change either still decodes to a
 * record inside the image or gives an error; nothing reads out of bounds (ASan). */
static void test_decode_sweep(void **state)
{
	unsigned char payload[98], tlv[NDEF_PASS_TLV_MAX], img[NDEF_PASS_TLV_MAX], out[256];
	size_t len = 0, n;

	(void)state;
	fill(payload, sizeof(payload), 7);
	assert_int_equal(ndef_encode_pass(payload, sizeof(payload), tlv, sizeof(tlv), &len),
	                 NDEF_OK);
	for (size_t cut = 0; cut + 1 < len; cut++) {
		enum ndef_err e = decode_pass_copy(tlv, cut, out, &n);

		if (e == NDEF_OK)
			fail_msg("prefix of %zu bytes decoded", cut);
		assert_true(e == NDEF_ETRUNC || e == NDEF_ENOTLV);
	}
	for (size_t pos = 0; pos < len; pos++) {
		for (unsigned v = 0; v < 256; v++) {
			struct ndef_record rec;
			enum ndef_err e;

			memcpy(img, tlv, len);
			img[pos] = (unsigned char)v;
			e = decode_copy(img, len, &rec);
			if (e == NDEF_OK)
				assert_true(rec.payload_len <= len && rec.tlv_end <= len);
			(void)decode_pass_copy(img, len, out, &n);
		}
	}
}

static void test_strerror_distinct(void **state)
{
	const char *seen[NDEF_EPASSLEN + 1];

	(void)state;
	for (int e = NDEF_OK; e <= NDEF_EPASSLEN; e++) {
		seen[e] = ndef_strerror((enum ndef_err)e);
		assert_non_null(seen[e]);
		assert_true(strlen(seen[e]) > 5);
		for (int k = 0; k < e; k++)
			assert_string_not_equal(seen[k], seen[e]);
	}
	assert_string_equal(ndef_strerror((enum ndef_err)999), "unknown NDEF error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_encode_exact_bytes),    cmocka_unit_test(test_encode_sizes),
	    cmocka_unit_test(test_encode_limits),         cmocka_unit_test(test_decode_table),
	    cmocka_unit_test(test_decode_record_fields),  cmocka_unit_test(test_decode_args),
	    cmocka_unit_test(test_decode_oversized_pass), cmocka_unit_test(test_decode_sweep),
	    cmocka_unit_test(test_strerror_distinct),
	};

	return cmocka_run_group_tests_name("nfc_ndef", tests, NULL, NULL);
}
