/* test_web.c: the shared web layer (shared/web.c): HTML escaping, form decoding and its limits, the
 * security headers, session ids and their stored keys, Set-Cookie values, the token compare and
 * the login slow-down rule with the server's and the gate's parameters. */
#include "unit_util.h"

#include <limits.h>
#include <sodium.h>

#include "buf.h"
#include "web.h"

/* ---- HTML ---- */

static void test_html_escape(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"", ""},
	    {"plain text", "plain text"},
	    {"<", "&lt;"},
	    {">", "&gt;"},
	    {"&", "&amp;"},
	    {"\"", "&quot;"},
	    {"'", "&#39;"},
	    {"<a href=\"x\" title='y'>&amp;</a>",
	     "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;"},
	    {"العربية é", "العربية é"}, /* UTF-8 goes through untouched */
	    {"a\tb\nc", "a\tb\nc"},
	};
	int nfail = 0;
	struct buf b;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		const char *got;

		buf_init(&b, 4096);
		web_html_escape(&b, cases[i].in);
		got = buf_cstr(&b);
		got = got ? got : "";
		CASE_CHECK(nfail, !strcmp(got, cases[i].out), cases[i].in, "got \"%s\"", got);
		buf_free(&b);
	}
	buf_init(&b, 4096);
	web_html_escape(&b, NULL); /* nothing, no crash */
	assert_int_equal(b.len, 0);
	buf_free(&b);
	assert_int_equal(nfail, 0);
}

/* ---- forms ---- */

static void test_form_parse(void **state)
{
	static const struct {
		const char *body;
		int rc;
		int n;
		const char *name, *value; /* one field to look at when rc == 0 */
	} cases[] = {
	    {"", 0, 0, NULL, NULL},
	    {"a=1", 0, 1, "a", "1"},
	    {"a=1&b=x+y%21", 0, 2, "b", "x y!"},
	    {"a=%41%4a%4A%7e", 0, 1, "a", "AJJ~"}, /* either case of hex digit */
	    {"a=%2B+%26%3D", 0, 1, "a", "+ &="},   /* encoded + and & are data */
	    {"a+b%20c=1", 0, 1, "a b c", "1"},     /* names are decoded too */
	    {"a=&b=2", 0, 2, "a", ""},
	    {"a", 0, 1, "a", ""},
	    {"a=1&&b=2&", 0, 2, "b", "2"},
	    {"a=1=2", 0, 1, "a", "1=2"},
	    {"a=1&A=2", 0, 2, "A", "2"}, /* names are case-sensitive */
	    {"pin=%D9%A1", 0, 1, "pin", "\xD9\xA1"},
	    {"a=%", -1, 0, NULL, NULL},
	    {"a=%4", -1, 0, NULL, NULL},
	    {"a=%zz", -1, 0, NULL, NULL},
	    {"a=%g0", -1, 0, NULL, NULL},
	    {"a=%0g", -1, 0, NULL, NULL},
	    {"a=%%41", -1, 0, NULL, NULL},
	    {"a=%00", -1, 0, NULL, NULL}, /* an encoded NUL */
	    {"a%00=1", -1, 0, NULL, NULL},
	    {"%", -1, 0, NULL, NULL},
	    {"=1", -1, 0, NULL, NULL},
	    {"a=1&=2", -1, 0, NULL, NULL},
	    {"a=1&a=2", -1, 0, NULL, NULL}, /* a name twice */
	    {"a=1&b=2&a=1", -1, 0, NULL, NULL},
	    {"a+b=1&a%20b=2", -1, 0, NULL, NULL}, /* twice once decoded */
	};
	int nfail = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct form f;
		int rc = form_parse(cases[i].body, strlen(cases[i].body), &f);

		CASE_CHECK(nfail, rc == cases[i].rc, cases[i].body, "returned %d, expected %d", rc,
		           cases[i].rc);
		CASE_CHECK(nfail, f.n == cases[i].n, cases[i].body, "%d fields, expected %d", f.n,
		           cases[i].n);
		if (rc == 0 && cases[i].name) {
			const char *v = form_get(&f, cases[i].name);

			CASE_CHECK(nfail, v && !strcmp(v, cases[i].value), cases[i].body,
			           "%s = \"%s\", expected \"%s\"", cases[i].name, v ? v : "(none)",
			           cases[i].value);
		}
		form_free(&f);
	}
	assert_int_equal(nfail, 0);
}

static void test_form_length(void **state)
{
	struct form f;

	(void)state;
	/* the length says where the body ends, not a NUL */
	assert_int_equal(form_parse("a=1&b=2", 3, &f), 0);
	assert_int_equal(f.n, 1);
	assert_null(form_get(&f, "b"));
	assert_null(form_get(&f, "A"));
	form_free(&f);
	/* a raw NUL is refused like an encoded one */
	assert_int_equal(form_parse("a=1\0b=2", 7, &f), -1);
	assert_int_equal(f.n, 0);
}

static void test_form_limits(void **state)
{
	struct buf b;
	struct form f;
	char value[FORM_MAX_VALUE + 2];

	(void)state;
	/* FORM_MAX_FIELDS fields, then one more */
	buf_init(&b, 64 * 1024);
	for (int i = 0; i < FORM_MAX_FIELDS; i++)
		assert_int_equal(buf_printf(&b, "%sf%d=%d", i ? "&" : "", i, i), 0);
	assert_int_equal(form_parse(b.data, b.len, &f), 0);
	assert_int_equal(f.n, FORM_MAX_FIELDS);
	assert_string_equal(form_get(&f, "f63"), "63");
	form_free(&f);
	assert_int_equal(buf_printf(&b, "&extra=1"), 0);
	assert_int_equal(form_parse(b.data, b.len, &f), -1);
	assert_int_equal(f.n, 0);
	buf_free(&b);

	/* a value of FORM_MAX_VALUE bytes (decoded), then one byte more */
	memset(value, 'v', sizeof(value));
	value[FORM_MAX_VALUE] = '\0';
	buf_init(&b, 64 * 1024);
	assert_int_equal(buf_printf(&b, "v=%s", value), 0);
	assert_int_equal(form_parse(b.data, b.len, &f), 0);
	assert_int_equal(strlen(form_get(&f, "v")), FORM_MAX_VALUE);
	form_free(&f);
	assert_int_equal(buf_append(&b, "v", 1), 0);
	assert_int_equal(form_parse(b.data, b.len, &f), -1);
	assert_int_equal(f.n, 0);
	buf_reset(&b);
	/* the limit is on the decoded value: %41 counts as one byte */
	assert_int_equal(buf_printf(&b, "v="), 0);
	for (int i = 0; i < FORM_MAX_VALUE; i++)
		assert_int_equal(buf_append(&b, "%41", 3), 0);
	assert_int_equal(form_parse(b.data, b.len, &f), 0);
	form_free(&f);
	buf_free(&b);

	/* form_add refuses a full form, a long value and a name twice */
	memset(&f, 0, sizeof(f));
	assert_int_equal(form_add(&f, "a", "1"), 0);
	assert_int_equal(form_add(&f, "a", "2"), -1);
	assert_int_equal(form_add(&f, "long", value), 0);
	value[FORM_MAX_VALUE] = 'v';
	value[FORM_MAX_VALUE + 1] = '\0';
	assert_int_equal(form_add(&f, "longer", value), -1);
	assert_int_equal(f.n, 2);
	form_free(&f);
}

static void test_form_escape(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"", ""},        {"AZaz09-_.~", "AZaz09-_.~"}, {"a b+c&d=e%", "a%20b%2Bc%26d%3De%25"},
	    {"é", "%C3%A9"}, {"/?#", "%2F%3F%23"},
	};
	int nfail = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		char *e = form_escape(cases[i].in), body[256];
		struct form f;

		assert_non_null(e);
		CASE_CHECK(nfail, !strcmp(e, cases[i].out), cases[i].in, "got \"%s\"", e);
		/* and back */
		snprintf(body, sizeof(body), "x=%s", e);
		assert_int_equal(form_parse(body, strlen(body), &f), 0);
		CASE_CHECK(nfail, !strcmp(form_get(&f, "x"), cases[i].in), cases[i].in,
		           "round trip gave \"%s\"", form_get(&f, "x"));
		form_free(&f);
		free(e);
	}
	assert_int_equal(nfail, 0);
}

/* ---- security headers ---- */

static const char *header(const struct web_header *h, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(h[i].name, name))
			return h[i].value;
	return NULL;
}

static void test_security_headers(void **state)
{
	struct web_header h[WEB_HEADERS_MAX];
	int n;

	(void)state;
	n = web_security_headers("default-src 'none'", 0, h);
	assert_int_equal(n, 4);
	assert_string_equal(header(h, n, "X-Content-Type-Options"), "nosniff");
	assert_string_equal(header(h, n, "X-Frame-Options"), "DENY");
	assert_string_equal(header(h, n, "Referrer-Policy"), "no-referrer");
	assert_string_equal(header(h, n, "Content-Security-Policy"), "default-src 'none'");
	assert_null(header(h, n, "Strict-Transport-Security"));
	n = web_security_headers("default-src 'self'", 1, h);
	assert_int_equal(n, 5);
	assert_true(n <= WEB_HEADERS_MAX);
	assert_string_equal(header(h, n, "Content-Security-Policy"), "default-src 'self'");
	assert_string_equal(header(h, n, "Strict-Transport-Security"), "max-age=31536000");
}

/* ---- ids, keys, cookies, tokens ---- */

static void test_random_id(void **state)
{
	char a[WEB_ID_HEX], b[WEB_ID_HEX];

	(void)state;
	web_random_id(a);
	web_random_id(b);
	assert_int_equal(strlen(a), 2 * WEB_ID_BYTES);
	assert_int_equal(strspn(a, "0123456789abcdef"), 2 * WEB_ID_BYTES);
	assert_string_not_equal(a, b);
}

static void test_id_key(void **state)
{
	static const char *bad[] = {
	    "",
	    "00",
	    "000000000000000000000000000000000000000000000000000000000000000",   /* 63 */
	    "00000000000000000000000000000000000000000000000000000000000000000", /* 65 */
	    "000000000000000000000000000000000000000000000000000000000000000g",
	    "00000000000000000000000000000000000000000000000000000000000000 0",
	};
	char id[WEB_ID_HEX];
	unsigned char bin[WEB_ID_BYTES], key[WEB_ID_KEY], want[WEB_ID_KEY], other[WEB_ID_KEY];
	size_t n = 0;

	(void)state;
	/* the key is BLAKE2b of the id's bytes (not of its hex), as the server always kept it */
	web_random_id(id);
	assert_int_equal(sodium_hex2bin(bin, sizeof(bin), id, strlen(id), NULL, &n, NULL), 0);
	assert_int_equal(n, sizeof(bin));
	assert_int_equal(crypto_generichash(want, sizeof(want), bin, sizeof(bin), NULL, 0), 0);
	assert_int_equal(web_id_key(id, key), 0);
	assert_memory_equal(key, want, sizeof(key));
	/* upper-case hex is the same id */
	for (char *p = id; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	assert_int_equal(web_id_key(id, other), 0);
	assert_memory_equal(other, want, sizeof(other));
	for (size_t i = 0; i < NELEM(bad); i++)
		if (web_id_key(bad[i], key) != -1)
			fail_msg("web_id_key(\"%s\") accepted", bad[i]);
	assert_int_equal(web_id_key(NULL, key), -1);
}

static void test_cookie(void **state)
{
	static const struct {
		const char *name, *value;
		int64_t max_age;
		int secure;
		const char *want;
	} cases[] = {
	    {"estiva_session", "abc", 1209600, 0,
	     "estiva_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=1209600"},
	    {"estiva_session", "abc", 1209600, 1,
	     "estiva_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=1209600; Secure"},
	    {"estiva_session", "", 0, 0,
	     "estiva_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"},
	    {"estiva_session", "", 0, 1,
	     "estiva_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure"},
	    {"gate_pre", "xyz", -1, 0, "gate_pre=xyz; Path=/; HttpOnly; SameSite=Strict"},
	    {"gate_pre", "xyz", -1, 1, "gate_pre=xyz; Path=/; HttpOnly; SameSite=Strict; Secure"},
	};
	char out[WEB_COOKIE_MAX], id[WEB_ID_HEX], small[20];
	int nfail = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		int rc = web_cookie(out, sizeof(out), cases[i].name, cases[i].value,
		                    cases[i].max_age, cases[i].secure);

		CASE_CHECK(nfail, rc == 0 && !strcmp(out, cases[i].want), cases[i].want,
		           "returned %d, got \"%s\"", rc, out);
	}
	assert_int_equal(nfail, 0);
	/* a real id with a long life under TLS fits in WEB_COOKIE_MAX */
	web_random_id(id);
	assert_int_equal(web_cookie(out, sizeof(out), "estiva_session", id, INT64_MAX, 1), 0);
	/* too small: -1 and an empty string, never half a cookie */
	assert_int_equal(web_cookie(small, sizeof(small), "estiva_session", id, 60, 0), -1);
	assert_string_equal(small, "");
}

static void test_token_eq(void **state)
{
	static const struct {
		const char *got, *want;
		int eq;
	} cases[] = {
	    {"abcdef", "abcdef", 1},  {"abcdeF", "abcdef", 0},
	    {"abcdeg", "abcdef", 0},  {"abcde", "abcdef", 0}, /* a prefix */
	    {"abcdefg", "abcdef", 0},                         /* longer */
	    {"", "abcdef", 0},        {"", "", 0}, /* no token expected: nothing matches */
	    {"abcdef", "", 0},        {NULL, "abcdef", 0},
	    {"abcdef", NULL, 0},      {NULL, NULL, 0},
	};
	int nfail = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		int eq = web_token_eq(cases[i].got, cases[i].want);

		CASE_CHECK(nfail, eq == cases[i].eq, cases[i].got ? cases[i].got : "(null)",
		           "against \"%s\": %d, expected %d",
		           cases[i].want ? cases[i].want : "(null)", eq, cases[i].eq);
	}
	assert_int_equal(nfail, 0);
}

/* ---- failed logins ---- */

static void test_login_wait(void **state)
{
	static const struct {
		const char *name;
		int failures, limit;
		int64_t first, max, last, now, wait;
	} cases[] = {
	    /* the server: 4 s after the limit, doubling, at most 15 min */
	    {"server under the limit", 4, 5, 4, 900, 1000, 1000, 0},
	    {"server at the limit", 5, 5, 4, 900, 1000, 1000, 4},
	    {"server one more", 6, 5, 4, 900, 1000, 1000, 8},
	    {"server 4<<7", 12, 5, 4, 900, 1000, 1000, 512},
	    {"server capped", 13, 5, 4, 900, 1000, 1000, 900},
	    {"server very many", INT_MAX, 5, 4, 900, 1000, 1000, 900},
	    {"server partly waited", 5, 5, 4, 900, 1000, 1003, 1},
	    {"server waited out", 5, 5, 4, 900, 1000, 1004, 0},
	    {"server long ago", 13, 5, 4, 900, 1000, 5000, 0},
	    /* the gate: 1 s after 5 wrong PINs, doubling, at most 5 min */
	    {"gate under the limit", 4, 5, 1, 300, 50, 50, 0},
	    {"gate at the limit", 5, 5, 1, 300, 50, 50, 1},
	    {"gate 1<<8", 13, 5, 1, 300, 50, 50, 256},
	    {"gate capped", 14, 5, 1, 300, 50, 50, 300},
	    {"gate very many", INT_MAX, 5, 1, 300, 50, 50, 300},
	    {"gate partly waited", 14, 5, 1, 300, 50, 150, 200},
	    {"gate no failures", 0, 5, 1, 300, 0, 0, 0},
	};
	int nfail = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		int64_t w = web_login_wait(cases[i].failures, cases[i].limit, cases[i].first,
		                           cases[i].max, cases[i].last, cases[i].now);

		CASE_CHECK(nfail, w == cases[i].wait, cases[i].name, "wait %lld, expected %lld",
		           (long long)w, (long long)cases[i].wait);
	}
	assert_int_equal(nfail, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_html_escape), cmocka_unit_test(test_form_parse),
	    cmocka_unit_test(test_form_length), cmocka_unit_test(test_form_limits),
	    cmocka_unit_test(test_form_escape), cmocka_unit_test(test_security_headers),
	    cmocka_unit_test(test_random_id),   cmocka_unit_test(test_id_key),
	    cmocka_unit_test(test_cookie),      cmocka_unit_test(test_token_eq),
	    cmocka_unit_test(test_login_wait),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("web", tests, NULL, NULL);
}
