/* test_paysim_hash.c: the simulator's ver3 hash and PHP-style natural order, table-driven. The
 * expected digests were computed outside C: tools/paysim/hash_vectors.sh pipes each expected
 * plaintext through `openssl dgst -sha512 -binary | base64 -w0`. */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sodium.h>
#include <string.h>

#include "paysim.h"

/* ---- natural order ---- */

static const struct {
	const char *a, *b;
	int sign; /* of paysim_strnatcasecmp(a, b) */
} order_cases[] = {
    {"a2", "a10", -1},
    {"a10", "a2", 1},
    {"BillToStreet1", "BillToStreet12", -1},
    {"BillToStreet2", "BillToStreet12", -1},
    {"BillToStreet12", "BillToStreet2", 1},
    {"x9", "x10", -1},
    {"x09", "x9", -1}, /* a run with a leading zero compares digit by digit */
    {"007", "7", 0},   /* zeros at the very start are skipped */
    {"6", "007", -1},
    {"okUrl", "okurl", 0}, /* case-insensitive tie */
    {"TRANTYPE", "trantype", 0},
    {"amount", "BillToName", -1},
    {"storetype", "TranType", -1},
    {"TransId", "TranType", -1},
    {"HASH", "hashAlgorithm", -1},
    {"ErrMsg", "EXTRA.CARDBRAND", -1},
    {"EXTRA.CARDBRAND", "EXTRA.TRXDATE", -1},
    {"ab", "a_b", -1}, /* letters fold to upper case, and 'B' < '_' */
    {"aZ", "a[x", -1},
    {"", "a", -1},
    {"a", "", 1},
    {"", "", 0},
    {"a", "a1", -1},
    {"a1b", "a1c", -1},
    {"zzz", "\xd8\xa7", -1}, /* UTF-8 bytes after every ASCII character */
    {"a 1", "a1", 0},        /* white space is skipped */
};

static int sign(int x)
{
	return x < 0 ? -1 : x > 0 ? 1 : 0;
}

static void test_order(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(order_cases) / sizeof(order_cases[0]); k++) {
		int got = sign(paysim_strnatcasecmp(order_cases[k].a, order_cases[k].b));
		if (got != order_cases[k].sign)
			fail_msg("strnatcasecmp(\"%s\", \"%s\") = %d, want %d", order_cases[k].a,
			         order_cases[k].b, got, order_cases[k].sign);
	}
}

static void test_sort(void **state)
{
	/* the order CMI's own sample shows, from a scrambled start */
	const char *names[] = {"TranType",    "rnd",           "okurl",     "BillToName",
	                       "lang",        "clientid",      "storetype", "email",
	                       "amount",      "hashAlgorithm", "failUrl",   "currency",
	                       "callbackUrl", "BillToCompany"};
	const char *want[] = {"amount",        "BillToCompany", "BillToName", "callbackUrl",
	                      "clientid",      "currency",      "email",      "failUrl",
	                      "hashAlgorithm", "lang",          "okurl",      "rnd",
	                      "storetype",     "TranType"};
	/* ties keep their order (PHP 8's sort is stable) */
	const char *ties[] = {"abc", "ABC", "b", "Abc", "aBc"};
	const char *ties_want[] = {"abc", "ABC", "Abc", "aBc", "b"};
	const char *digits[] = {"a10", "a2", "A1", "BillToStreet12", "BillToStreet1", "a02"};
	/* "a02" vs "A1": a run that starts with 0 compares digit by digit, so "02" < "1" */
	const char *digits_want[] = {"a02", "A1", "a2", "a10", "BillToStreet1", "BillToStreet12"};
	/* PHP's manual (natsort, zero padding): 0 8 09 10 011 */
	const char *padded[] = {"09", "8", "10", "011", "0"};
	const char *padded_want[] = {"0", "8", "09", "10", "011"};

	(void)state;
	paysim_natsort(names, 14);
	for (int k = 0; k < 14; k++)
		assert_string_equal(names[k], want[k]);
	paysim_natsort(ties, 5);
	for (int k = 0; k < 5; k++)
		assert_string_equal(ties[k], ties_want[k]);
	paysim_natsort(digits, 6);
	for (int k = 0; k < 6; k++)
		assert_string_equal(digits[k], digits_want[k]);
	paysim_natsort(padded, 5);
	for (int k = 0; k < 5; k++)
		assert_string_equal(padded[k], padded_want[k]);
}

/* ---- hash vectors ---- */

struct vector {
	const char *fields[32][2]; /* in posted order; ends with {NULL} */
	const char *key;
	const char *plaintext;
	const char *digest; /* from hash_vectors.sh (openssl) */
};

static const struct vector vectors[] = {
    {/* 1: a request as the server sends it */
     {{"clientid", "600000123"},
      {"storetype", "3D_PAY_HOSTING"},
      {"TranType", "PreAuth"},
      {"amount", "1250.00"},
      {"currency", "504"},
      {"oid", "EST-42-1"},
      {"okUrl", "https://estiva.example/payments/ok"},
      {"failUrl", "https://estiva.example/payments/fail"},
      {"shopurl", "https://estiva.example/bookings/42"},
      {"callbackUrl", "https://estiva.example/payments/cmi/callback"},
      {"lang", "fr"},
      {"rnd", "Zk3q9TQx1LmA7bC0dE5f"},
      {"hashAlgorithm", "ver3"},
      {"encoding", "UTF-8"},
      {"email", "karim@example.ma"},
      {"BillToName", "Karim El Amrani"},
      {"HASH", "ignored"},
      {NULL}},
     "TEST-store-key",
     "1250.00|Karim El "
     "Amrani|https://estiva.example/payments/cmi/callback|600000123|504|karim@example.ma|"
     "https://estiva.example/payments/fail|ver3|fr|EST-42-1|https://estiva.example/payments/ok|"
     "Zk3q9TQx1LmA7bC0dE5f|https://estiva.example/bookings/"
     "42|3D_PAY_HOSTING|PreAuth|TEST-store-key",
     "3BJaUvcpf89hR+6mClxGl1GgH0VyuseneIDqSCCgoJmKB+pmMYPgqhVrzxOvF9tgNRknpU8wcq4Isr3c/bLEtQ=="},
    {/* 2: digit runs */
     {{"a10", "ten"},
      {"BillToStreet12", "s12"},
      {"a2", "two"},
      {"BillToStreet1", "s1"},
      {"A1", "one"},
      {"x09", "nine0"},
      {"x9", "nine"},
      {NULL}},
     "k",
     "one|two|ten|s1|s12|nine0|nine|k",
     "9vrFX4goQ4BCxdCbTVWBtvsJdL6JXU8H7+tzBg1HHt28IeuXtqMDJ8AZqt6HYRuJxoFkSjD5jF5Xkrmvp6N5Kg=="},
    {/* 3: escapes in values and in the key */
     {{"p1", "a|b"}, {"p2", "c\\d"}, {"p3", "\\|"}, {"p4", "end\\"}, {NULL}},
     "se|cr\\et",
     "a\\|b|c\\\\d|\\\\\\||end\\\\|se\\|cr\\\\et",
     "RphNFEP7BQTF2unFfmn20e7NxvCb+eeH2LHOpp6vyVZUhSlM7XbRJ3rAmZhZx6PDaZ4tbN3M9B0qOeDhUhxpqA=="},
    {/* 4: empty values; Hash and ENCODING left out whatever their case */
     {{"b", ""}, {"a", "x"}, {"c", ""}, {"Hash", "zzz"}, {"ENCODING", "UTF-8"}, {"d", ""}, {NULL}},
     "key",
     "x||||key",
     "HiUGyjcJI1PvDEDhlI4hp6sScWj6aAR7Hy9w/Izm0IGmuYck1Wvga/4Fjncqb98cEq+zrSYbsjQfgd8u0vpzjQ=="},
    {/* 5: Arabic values, an Arabic name, an Arabic key with a | */
     {{"BillToName", "كريم العمري"},
      {"description", "حجز مركز الأرز — 3 ليال"},
      {"amount", "990.51"},
      {"الاسم", "سلمى"},
      {"lang", "ar"},
      {NULL}},
     "مفتاح|1",
     "990.51|كريم العمري|حجز مركز الأرز — 3 ليال|ar|سلمى|مفتاح\\|1",
     "MzKrQllrDYD/9bgqtB1lo73OxV0m2iwul3A/C9aEIC5XkbE2gaPrT6iWgG1OufI7SJKuz5WHYRDsDdKEZ658Ow=="},
    {/* 6: letters fold to UPPER case (a lower-casing compare gives a[x a_b ab aZ) */
     {{"a_b", "under"}, {"ab", "plain"}, {"aZ", "zed"}, {"a[x", "bracket"}, {NULL}},
     "K",
     "plain|zed|bracket|under|K",
     "BpYHZeHNxJcm04waBXYGAAFSdNhXFCcK7zWKuX3U2mdBYmIKWjzcR6VzsTwXHLKUMRe3Yu2E7nT7eGdPiUj7nA=="},
    {/* 7: a callback as the gateway sends it */
     {{"clientid", "600000123"},
      {"storetype", "3D_PAY_HOSTING"},
      {"TranType", "PreAuth"},
      {"amount", "1250.00"},
      {"currency", "504"},
      {"oid", "EST-42-1"},
      {"okUrl", "https://estiva.example/payments/ok"},
      {"failUrl", "https://estiva.example/payments/fail"},
      {"callbackUrl", "https://estiva.example/payments/cmi/callback"},
      {"lang", "fr"},
      {"rnd", "Q1w2E3r4T5y6U7i8O9p0"},
      {"hashAlgorithm", "ver3"},
      {"encoding", "UTF-8"},
      {"email", "karim@example.ma"},
      {"BillToName", "Karim El Amrani"},
      {"Response", "Approved"},
      {"ProcReturnCode", "00"},
      {"AuthCode", "123456"},
      {"TransId", "25182ABCDEF1234"},
      {"HostRefNum", "518210000001"},
      {"ErrMsg", ""},
      {"mdStatus", "1"},
      {"MaskedPan", "400000******0010"},
      {"EXTRA.TRXDATE", "20250701 10:15:00"},
      {"EXTRA.CARDBRAND", "VISA"},
      {"ReturnOid", "EST-42-1"},
      {"HASH", "ignored"},
      {NULL}},
     "TEST-store-key",
     "1250.00|123456|Karim El "
     "Amrani|https://estiva.example/payments/cmi/callback|600000123|504|karim@example.ma||"
     "VISA|20250701 "
     "10:15:00|https://estiva.example/payments/fail|ver3|518210000001|fr|400000******0010|1|"
     "EST-42-1|https://estiva.example/payments/"
     "ok|00|Approved|EST-42-1|Q1w2E3r4T5y6U7i8O9p0|3D_PAY_HOSTING|"
     "25182ABCDEF1234|PreAuth|TEST-store-key",
     "ozrctH7a5MbkXEr40/4VuWVN7O7MUZan1EzLuqO45fLFD6BUQrCIu84qoScUMNlrFu9Rb68xk6PuuKqKwLY6LA=="},
    {/* 8: leading zeros */
     {{"10", "ten"}, {"007", "seven"}, {"6", "six"}, {NULL}},
     "k",
     "six|seven|ten|k",
     "AuOuQTiwWFlLPjo9o5lUVGheXf/n0OcP4oZahPgOic4FYpaW3Y2pT6MpMFTptyatnjx3r3w8L4jyBELtuvMBUQ=="},
};

static void load(const struct vector *v, struct fields *f)
{
	fields_init(f);
	for (int k = 0; v->fields[k][0]; k++)
		assert_int_equal(fields_add(f, v->fields[k][0], v->fields[k][1]), 0);
}

static void test_vectors(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(vectors) / sizeof(vectors[0]); k++) {
		const struct vector *v = &vectors[k];
		char digest[PAYSIM_HASH_LEN + 1];
		struct fields f;
		struct sbuf text;

		load(v, &f);
		sb_init(&text, 1 << 20);
		assert_int_equal(paysim_hash_plaintext(&f, v->key, &text), 0);
		if (strcmp(sb_str(&text), v->plaintext))
			fail_msg("vector %zu: plaintext\n  got  %s\n  want %s", k + 1,
			         sb_str(&text), v->plaintext);
		assert_int_equal(paysim_hash(&f, v->key, digest), 0);
		if (strcmp(digest, v->digest))
			fail_msg("vector %zu: digest\n  got  %s\n  want %s", k + 1, digest,
			         v->digest);
		assert_int_equal(paysim_hash_verify(&f, v->key, v->digest), 0);
		sb_free(&text);
		fields_free(&f);
	}
}

static void test_verify_rejects(void **state)
{
	const struct vector *v = &vectors[0];
	char bad[PAYSIM_HASH_LEN + 1];
	struct fields f;

	(void)state;
	load(v, &f);
	snprintf(bad, sizeof(bad), "%s", v->digest);
	bad[10] = bad[10] == 'A' ? 'B' : 'A';
	assert_int_equal(paysim_hash_verify(&f, v->key, bad), -1);
	assert_int_equal(paysim_hash_verify(&f, v->key, ""), -1);
	assert_int_equal(paysim_hash_verify(&f, v->key, NULL), -1);
	assert_int_equal(paysim_hash_verify(&f, "other-key", v->digest), -1);
	/* any change of a value changes the hash */
	assert_int_equal(fields_set(&f, "amount", "1250.01"), 0);
	assert_int_equal(paysim_hash_verify(&f, v->key, v->digest), -1);
	fields_free(&f);
}

/* the names that go into the hash, as the error page shows them */
static void test_names(void **state)
{
	struct fields f;
	struct sbuf b;

	(void)state;
	load(&vectors[0], &f);
	sb_init(&b, 4096);
	assert_int_equal(paysim_hash_names(&f, &b), 0);
	assert_string_equal(
	    sb_str(&b),
	    "amount|BillToName|callbackUrl|clientid|currency|email|failUrl|hashAlgorithm|"
	    "lang|oid|okUrl|rnd|shopurl|storetype|TranType");
	sb_free(&b);
	fields_free(&f);
}

/* the form codec feeds the hash: round trip and the refusals */
static void test_form(void **state)
{
	const char body[] = "a=1&b=x%7Cy%5Cz&c=&d=%D9%83+%D8%B1";
	struct fields f;
	struct sbuf b;
	char err[128];

	(void)state;
	assert_int_equal(form_parse(body, strlen(body), &f, err, sizeof(err)), 0);
	assert_int_equal(f.n, 4);
	assert_string_equal(fields_get(&f, "B"), "x|y\\z");
	assert_string_equal(fields_get(&f, "c"), "");
	assert_string_equal(fields_get(&f, "d"), "ك ر");
	sb_init(&b, 4096);
	assert_int_equal(form_encode(&f, &b), 0);
	assert_string_equal(sb_str(&b), "a=1&b=x%7Cy%5Cz&c=&d=%D9%83%20%D8%B1");
	sb_free(&b);
	fields_free(&f);
	assert_int_equal(form_parse("a=1&A=2", 7, &f, err, sizeof(err)),
	                 -1); /* twice, ignoring case */
	assert_int_equal(form_parse("a=%00", 5, &f, err, sizeof(err)), -1); /* NUL */
	assert_int_equal(form_parse("a=%4", 4, &f, err, sizeof(err)), -1);  /* cut escape */
	assert_int_equal(form_parse("=1", 2, &f, err, sizeof(err)), -1);    /* empty name */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_order),   cmocka_unit_test(test_sort),
	    cmocka_unit_test(test_vectors), cmocka_unit_test(test_verify_rejects),
	    cmocka_unit_test(test_names),   cmocka_unit_test(test_form),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
