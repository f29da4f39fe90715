/* test_conf.c: the strict value parsers of shared/conf.c (numbers, durations, sizes, money, ids,
 * booleans), the INI reader's line numbers and error format (conf_read_file, conf_error), and the
 * bounded buffer of shared/buf.c. */
#include "unit_util.h"

#include <limits.h>

#include "buf.h"
#include "conf.h"

/* ---- conf_parse_long ---- */

static void test_conf_parse_long(void **state)
{
	static const struct {
		const char *s;
		long min, max;
		int rc;
		long v;
	} cases[] = {
	    {"0", 0, 10, 0, 0},
	    {"10", 0, 10, 0, 10},
	    {"7", 0, 10, 0, 7},
	    {"-5", -10, 10, 0, -5},
	    {"65535", 0, 65535, 0, 65535},
	    {"65536", 0, 65535, -1, 0},
	    {"11", 0, 10, -1, 0},
	    {"-1", 0, 10, -1, 0},
	    {"", 0, 10, -1, 0},
	    {"12a", 0, 100, -1, 0},
	    {"1.5", 0, 100, -1, 0},
	    {"0x10", 0, 100, -1, 0},
	    {"1e3", 0, 10000, -1, 0},
	    {"5 ", 0, 10, -1, 0},
	    {"99999999999999999999", LONG_MIN, LONG_MAX, -1, 0},
	    {"-99999999999999999999", LONG_MIN, LONG_MAX, -1, 0},
	};
	int nfail = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		long v = 424242;
		int rc = conf_parse_long(cases[i].s, cases[i].min, cases[i].max, &v);

		CASE_CHECK(nfail, rc == cases[i].rc, cases[i].s, "returned %d, expected %d", rc,
		           cases[i].rc);
		if (cases[i].rc == 0)
			CASE_CHECK(nfail, v == cases[i].v, cases[i].s, "value %ld, expected %ld", v,
			           cases[i].v);
		else
			CASE_CHECK(nfail, v == 424242, cases[i].s, "output changed on error (%ld)",
			           v);
	}
	{
		long v = 1;
		assert_int_equal(conf_parse_long(NULL, 0, 10, &v), -1);
		assert_int_equal(v, 1);
	}
	assert_int_equal(nfail, 0);
}

/* ---- conf_parse_duration ---- */

static void test_conf_parse_duration(void **state)
{
	static const struct {
		const char *s;
		int rc;
		int64_t seconds;
	} cases[] = {
	    {"90s", 0, 90},
	    {"90", 0, 90},
	    {"0", 0, 0},
	    {"20m", 0, 1200},
	    {"2h", 0, 7200},
	    {"1d", 0, 86400},
	    {"1000000s", 0, 1000000},
	    {"1000000d", 0, INT64_C(86400000000)},
	    {"1000001s", -1, 0},
	    {"", -1, 0},
	    {"s", -1, 0},
	    {"m", -1, 0},
	    {"20x", -1, 0},
	    {"20M", -1, 0}, /* m is minutes; no capital units */
	    {"1.5h", -1, 0},
	    {"-1s", -1, 0},
	    {"1ms", -1, 0},
	    {"h1", -1, 0},
	    {"20 m", -1, 0},
	    {"99999999999999999999999999999999s", -1, 0},
	};
	int nfail = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		int64_t v = 424242;
		int rc = conf_parse_duration(cases[i].s, &v);

		CASE_CHECK(nfail, rc == cases[i].rc, cases[i].s, "returned %d, expected %d", rc,
		           cases[i].rc);
		if (cases[i].rc == 0)
			CASE_CHECK(nfail, v == cases[i].seconds, cases[i].s,
			           "value %lld, expected %lld", (long long)v,
			           (long long)cases[i].seconds);
		else
			CASE_CHECK(nfail, v == 424242, cases[i].s, "output changed on error (%lld)",
			           (long long)v);
	}
	assert_int_equal(nfail, 0);
}

/* ---- conf_parse_size ---- */

static void test_conf_parse_size(void **state)
{
	static const struct {
		const char *s;
		int rc;
		size_t bytes;
	} cases[] = {
	    {"65536", 0, 65536},
	    {"64k", 0, 65536},
	    {"64K", 0, 65536},
	    {"1m", 0, 1048576},
	    {"1M", 0, 1048576},
	    {"0", 0, 0},
	    {"1024m", 0, (size_t)1 << 30},
	    {"1048576k", 0, (size_t)1 << 30},
	    {"1073741824", 0, (size_t)1 << 30},
	    {"1025m", -1, 0},
	    {"1048577k", -1, 0},
	    {"1073741825", -1, 0},
	    {"", -1, 0},
	    {"k", -1, 0},
	    {"1g", -1, 0},
	    {"1.5k", -1, 0},
	    {"-1", -1, 0},
	    {"-1k", -1, 0},
	    {"64kb", -1, 0},
	};
	int nfail = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		size_t v = 424242;
		int rc = conf_parse_size(cases[i].s, &v);

		CASE_CHECK(nfail, rc == cases[i].rc, cases[i].s, "returned %d, expected %d", rc,
		           cases[i].rc);
		if (cases[i].rc == 0)
			CASE_CHECK(nfail, v == cases[i].bytes, cases[i].s,
			           "value %zu, expected %zu", v, cases[i].bytes);
		else
			CASE_CHECK(nfail, v == 424242, cases[i].s, "output changed on error (%zu)",
			           v);
	}
	assert_int_equal(nfail, 0);
}

/* ---- conf_parse_money ---- */

static void test_conf_parse_money(void **state)
{
	static const struct {
		const char *s;
		int rc;
		int64_t centimes;
	} cases[] = {
	    {"250", 0, 25000},
	    {"250.5", 0, 25050},
	    {"250.50", 0, 25050},
	    {"250.05", 0, 25005},
	    {"0.05", 0, 5},
	    {"0.5", 0, 50},
	    {"0", 0, 0},
	    {"0.00", 0, 0},
	    {"1", 0, 100},
	    {"999999999.99", 0, INT64_C(99999999999)},
	    /* conf.h: "at most 10^9 MAD" */
	    {"1000000000", 0, INT64_C(100000000000)},
	    {"1000000000.01", -1, 0},
	    {"10000000000", -1, 0},
	    {"99999999999999999999999", -1, 0}, /* would overflow int64 centimes */
	    {"-1", -1, 0},
	    {"+1", -1, 0},
	    {"1.234", -1, 0},
	    {"12.", -1, 0},
	    {".5", -1, 0},
	    {"1e3", -1, 0},
	    {"", -1, 0},
	    {"1,5", -1, 0},
	    {"1.2.3", -1, 0},
	    {"12 ", -1, 0},
	    {" 12", -1, 0},
	    {"12MAD", -1, 0},
	};
	int nfail = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		int64_t v = 424242;
		int rc = conf_parse_money(cases[i].s, &v);

		CASE_CHECK(nfail, rc == cases[i].rc, cases[i].s, "returned %d, expected %d", rc,
		           cases[i].rc);
		if (cases[i].rc == 0)
			CASE_CHECK(nfail, v == cases[i].centimes, cases[i].s,
			           "value %lld, expected %lld", (long long)v,
			           (long long)cases[i].centimes);
		else
			CASE_CHECK(nfail, v == 424242, cases[i].s, "output changed on error (%lld)",
			           (long long)v);
	}
	{
		int64_t v = 1;
		assert_int_equal(conf_parse_money(NULL, &v), -1);
		assert_int_equal(v, 1);
	}
	assert_int_equal(nfail, 0);
}

/* ---- conf_valid_id ---- */

static void test_conf_valid_id(void **state)
{
	static const struct {
		const char *s;
		size_t maxlen;
		int ok;
	} cases[] = {
	    {"al-arz", 32, 1},
	    {"cat-a", 32, 1},
	    {"a", 1, 1},
	    {"9lives", 32, 1},
	    {"summer-2027", 32, 1},
	    {"a-", 32, 1},
	    {"abcdefghijklmnopqrstuvwxyz012345", 32, 1},  /* exactly 32 */
	    {"abcdefghijklmnopqrstuvwxyz0123456", 32, 0}, /* 33 */
	    {"ab", 1, 0},
	    {"", 32, 0},
	    {"-ab", 32, 0},
	    {"Ab", 32, 0},
	    {"a_b", 32, 0},
	    {"a b", 32, 0},
	    {"a.b", 32, 0},
	    {"a/b", 32, 0},
	    {"\xc3\xa9t\xc3\xa9", 32, 0}, /* "été" */
	};
	int nfail = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		int ok = conf_valid_id(cases[i].s, cases[i].maxlen);

		CASE_CHECK(nfail, ok == cases[i].ok, cases[i].s, "returned %d, expected %d", ok,
		           cases[i].ok);
	}
	assert_int_equal(conf_valid_id(NULL, 32), 0);
	assert_int_equal(nfail, 0);
}

/* ---- conf_parse_bool ---- */

static void test_conf_parse_bool(void **state)
{
	static const struct {
		const char *s;
		int rc, v;
	} cases[] = {
	    {"yes", 0, 1},   {"true", 0, 1}, {"on", 0, 1},     {"1", 0, 1}, {"no", 0, 0},
	    {"false", 0, 0}, {"off", 0, 0},  {"0", 0, 0},      {"", -1, 0}, {"Yes", -1, 0},
	    {"2", -1, 0},    {"y", -1, 0},   {"truee", -1, 0},
	};
	int nfail = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		int v = 7;
		int rc = conf_parse_bool(cases[i].s, &v);

		CASE_CHECK(nfail, rc == cases[i].rc, cases[i].s, "returned %d, expected %d", rc,
		           cases[i].rc);
		CASE_CHECK(nfail, v == (cases[i].rc == 0 ? cases[i].v : 7), cases[i].s, "value %d",
		           v);
	}
	assert_int_equal(nfail, 0);
}

/* ---- conf_read_file: line numbers and the error format ---- */

struct seen {
	int n;
	int line[16];
	char section[16][32];
	char name[16][32];
	char value[16][512];
	int fail_at;       /* call number that reports an error, or -1 */
	int explicit_line; /* line passed to conf_error */
};

static int record_line(struct conf_ctx *ctx, const char *section, const char *name,
                       const char *value)
{
	struct seen *s = ctx->user;

	if (s->n < 16) {
		s->line[s->n] = ctx->line;
		snprintf(s->section[s->n], sizeof(s->section[0]), "%s", section);
		snprintf(s->name[s->n], sizeof(s->name[0]), "%s", name);
		snprintf(s->value[s->n], sizeof(s->value[0]), "%s", value);
	}
	if (s->n++ == s->fail_at)
		return conf_error(ctx, s->explicit_line, "bad %s = %s", name, value);
	return 1;
}

struct conf_fixture {
	char *dir;
	char path[4096];
};

static int conf_setup(void **state)
{
	struct conf_fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	fx->dir = ut_tempdir();
	if (!fx->dir) {
		free(fx);
		return -1;
	}
	snprintf(fx->path, sizeof(fx->path), "%s/test.ini", fx->dir);
	*state = fx;
	return 0;
}

static int conf_teardown(void **state)
{
	struct conf_fixture *fx = *state;

	ut_rmtree(fx->dir);
	free(fx->dir);
	free(fx);
	return 0;
}

static void test_conf_read_file_lines(void **state)
{
	struct conf_fixture *fx = *state;
	struct seen s;
	char err[512] = "";

	memset(&s, 0, sizeof(s));
	s.fail_at = -1;
	ut_write(fx->path, "; comment\n"                      /* 1 */
	                   "\n"                               /* 2 */
	                   "[one]\n"                          /* 3 */
	                   "a = 1\n"                          /* 4 */
	                   "# another comment\n"              /* 5 */
	                   "b = two words ; inline comment\n" /* 6 */
	                   "\n"                               /* 7 */
	                   "[two]\r\n"                        /* 8 */
	                   "c=3\r\n");                        /* 9 */
	assert_int_equal(conf_read_file(fx->path, record_line, &s, err, sizeof(err)), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.line[0], 4);
	assert_string_equal(s.section[0], "one");
	assert_string_equal(s.name[0], "a");
	assert_string_equal(s.value[0], "1");
	assert_int_equal(s.line[1], 6);
	assert_string_equal(s.value[1], "two words");
	assert_int_equal(s.line[2], 9);
	assert_string_equal(s.section[2], "two");
	assert_string_equal(s.name[2], "c");
	assert_string_equal(s.value[2], "3");
}

static void test_conf_read_file_errors(void **state)
{
	struct conf_fixture *fx = *state;
	struct seen s;
	char err[512], want[4200];

	/* the handler's error names the file and the line being handled; only the first error
	 * counts */
	memset(&s, 0, sizeof(s));
	s.fail_at = 1;
	ut_write(fx->path, "[x]\na = 1\n\nb = 2\nc = 3\n");
	assert_int_equal(conf_read_file(fx->path, record_line, &s, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:4: bad b = 2", fx->path);
	assert_string_equal(err, want);
	assert_int_equal(s.n, 2); /* not called again after the error */

	/* an explicit line number */
	memset(&s, 0, sizeof(s));
	s.fail_at = 0;
	s.explicit_line = 2;
	ut_write(fx->path, "[x]\n\n\na = 1\n");
	assert_int_equal(conf_read_file(fx->path, record_line, &s, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:2: bad a = 1", fx->path);
	assert_string_equal(err, want);

	/* a line that is neither [section] nor name = value */
	memset(&s, 0, sizeof(s));
	s.fail_at = -1;
	ut_write(fx->path, "[x]\na = 1\nthis is not a setting\nb = 2\n");
	assert_int_equal(conf_read_file(fx->path, record_line, &s, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:3: syntax error", fx->path);
	assert_true(strncmp(err, want, strlen(want)) == 0);

	/* a file that does not exist */
	memset(&s, 0, sizeof(s));
	s.fail_at = -1;
	snprintf(want, sizeof(want), "%s/missing.ini", fx->dir);
	assert_int_equal(conf_read_file(want, record_line, &s, err, sizeof(err)), -1);
	assert_true(strncmp(err, want, strlen(want)) == 0);
	assert_non_null(strstr(err, ": cannot open"));
	assert_int_equal(s.n, 0);
}

/* libinih reads lines in 200-byte pieces: docs/configuration.md says a line holds at most 198 bytes
 * and a longer one is an error on its own line number (not a silent split into two lines). */
static void long_line_file(const char *path, size_t valuelen)
{
	char text[1024];
	size_t n;

	/* "units = " + value: the line is 8 + valuelen bytes before its newline */
	n = (size_t)snprintf(text, sizeof(text), "[x]\na = 1\nunits = ");
	memset(text + n, 'R', valuelen);
	n += valuelen;
	snprintf(text + n, sizeof(text) - n, "\nb = 2\n");
	ut_write(path, text);
}

static void test_conf_read_file_long_line(void **state)
{
	struct conf_fixture *fx = *state;
	struct seen s;
	char err[512] = "", want[4200];

	/* 198 bytes: read whole, on line 3, and line 4 after it */
	long_line_file(fx->path, 198 - 8);
	memset(&s, 0, sizeof(s));
	s.fail_at = -1;
	if (conf_read_file(fx->path, record_line, &s, err, sizeof(err)) != 0)
		fail_msg("a 198-byte line was refused: %s", err);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.name[1], "units");
	assert_int_equal(strlen(s.value[1]), 198 - 8);
	assert_int_equal(s.line[1], 3);
	assert_string_equal(s.name[2], "b");
	assert_int_equal(s.line[2], 4);

	/* 199 and 300 bytes: refused, on line 3, and the handler never sees a piece of it */
	for (size_t len = 199; len <= 300; len += 101) {
		long_line_file(fx->path, len - 8);
		memset(&s, 0, sizeof(s));
		s.fail_at = -1;
		assert_int_equal(conf_read_file(fx->path, record_line, &s, err, sizeof(err)), -1);
		snprintf(want, sizeof(want), "%s:3: line longer than 198 bytes", fx->path);
		assert_string_equal(err, want);
		assert_int_equal(s.n, 1);
	}

	/* a long comment is a long line too */
	ut_write(fx->path, "[x]\n; "
	                   "01234567890123456789012345678901234567890123456789012345678901234567890"
	                   "12345678901234567890123456789"
	                   "01234567890123456789012345678901234567890123456789012345678901234567890"
	                   "12345678901234567890123456789"
	                   "\na = 1\n");
	memset(&s, 0, sizeof(s));
	s.fail_at = -1;
	assert_int_equal(conf_read_file(fx->path, record_line, &s, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:2: line longer than 198 bytes", fx->path);
	assert_string_equal(err, want);
	assert_int_equal(s.n, 0);
}

static void test_conf_error_without_line(void **state)
{
	char err[128];
	struct conf_ctx ctx = {"some.ini", 0, err, sizeof(err), 0, NULL, 0, 0};

	(void)state;
	assert_int_equal(conf_error(&ctx, 0, "no tariff %s", "a.b.c"), 0);
	assert_string_equal(err, "some.ini: no tariff a.b.c");
	assert_int_equal(ctx.failed, 1);
	/* the first error stays */
	assert_int_equal(conf_error(&ctx, 5, "second"), 0);
	assert_string_equal(err, "some.ini: no tariff a.b.c");

	memset(&ctx, 0, sizeof(ctx));
	ctx.path = "other.ini";
	ctx.line = 12;
	ctx.err = err;
	ctx.errlen = sizeof(err);
	assert_int_equal(conf_error(&ctx, 0, "here"), 0);
	assert_string_equal(err, "other.ini:12: here");
}

/* ---- buf ---- */

static void test_buf_cap(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	assert_string_equal(buf_cstr(&b), "");
	assert_int_equal(buf_append(&b, "abcd", 4), 0);
	assert_int_equal(buf_append(&b, "efgh", 4), 0); /* exactly the cap */
	assert_int_equal(b.len, 8);
	assert_string_equal(buf_cstr(&b), "abcdefgh");
	/* one byte more fails and leaves the content as it was */
	assert_int_equal(buf_append(&b, "i", 1), -1);
	assert_int_equal(b.len, 8);
	assert_string_equal(buf_cstr(&b), "abcdefgh");
	assert_int_equal(buf_printf(&b, "%d", 1), -1);
	assert_int_equal(b.len, 8);
	assert_string_equal(buf_cstr(&b), "abcdefgh");
	/* appending nothing is fine, even when full */
	assert_int_equal(buf_append(&b, "", 0), 0);
	assert_int_equal(b.len, 8);
	/* a length that would wrap around size_t */
	assert_int_equal(buf_append(&b, "x", SIZE_MAX), -1);
	assert_string_equal(buf_cstr(&b), "abcdefgh");
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_cstr(&b), "");
	assert_int_equal(buf_append(&b, "123456789", 9), -1); /* too big even when empty */
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_cstr(&b), "");
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

static void test_buf_growth(void **state)
{
	struct buf b;
	char *p;
	size_t len = 0;

	(void)state;
	buf_init(&b, 5000);
	for (int i = 0; i < 5000; i++)
		assert_int_equal(buf_append(&b, &"0123456789"[i % 10], 1), 0);
	assert_int_equal(buf_append(&b, "x", 1), -1);
	assert_int_equal(b.len, 5000);
	for (size_t i = 0; i < 5000; i++)
		if (b.data[i] != (char)('0' + i % 10))
			fail_msg("byte %zu is '%c'", i, b.data[i]);
	assert_int_equal(b.data[5000], '\0');
	p = buf_steal(&b, &len);
	assert_non_null(p);
	assert_int_equal(len, 5000);
	assert_int_equal(p[4999], '9');
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	free(p);
	/* stealing from an empty buffer gives an empty string */
	p = buf_steal(&b, &len);
	assert_non_null(p);
	assert_string_equal(p, "");
	assert_int_equal(len, 0);
	free(p);
	buf_free(&b);
}

static void test_buf_printf(void **state)
{
	struct buf b;
	char big[2000];
	size_t base, fill;

	(void)state;
	buf_init(&b, 1500);
	assert_int_equal(buf_printf(&b, "%s=%d;", "port", 8080), 0);
	assert_int_equal(buf_printf(&b, "%03d|%x", 7, 255u), 0);
	assert_string_equal(buf_cstr(&b), "port=8080;007|ff");
	assert_int_equal(b.len, strlen("port=8080;007|ff"));

	/* longer than the 512-byte fast path, still under the cap */
	base = b.len;
	memset(big, 'a', 600);
	big[600] = '\0';
	assert_int_equal(buf_printf(&b, "[%s]", big), 0);
	assert_int_equal(b.len, base + 602);
	assert_int_equal(b.data[base], '[');
	assert_int_equal(b.data[base + 1], 'a');
	assert_int_equal(b.data[base + 601], ']');
	assert_int_equal(b.data[b.len], '\0');
	assert_int_equal(memcmp(b.data, "port=8080;007|ff[", base + 1), 0);

	/* a long one over the cap fails and leaves the content intact */
	memset(big, 'b', 1000);
	big[1000] = '\0';
	assert_int_equal(buf_printf(&b, "%s", big), -1);
	assert_int_equal(b.len, base + 602);
	assert_int_equal(b.data[base + 601], ']');
	assert_int_equal(b.data[base + 602], '\0');

	/* exactly up to the cap through the long path */
	fill = 1500 - (base + 602);
	assert_true(fill >= 512 && fill < sizeof(big));
	memset(big, 'c', fill);
	big[fill] = '\0';
	assert_int_equal(buf_printf(&b, "%s", big), 0);
	assert_int_equal(b.len, 1500);
	assert_int_equal(b.data[1499], 'c');
	assert_int_equal(b.data[1500], '\0');
	assert_int_equal(buf_printf(&b, "%s", ""), 0);
	assert_int_equal(buf_printf(&b, "x"), -1);
	assert_int_equal(b.len, 1500);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_conf_parse_long),
	    cmocka_unit_test(test_conf_parse_duration),
	    cmocka_unit_test(test_conf_parse_size),
	    cmocka_unit_test(test_conf_parse_money),
	    cmocka_unit_test(test_conf_valid_id),
	    cmocka_unit_test(test_conf_parse_bool),
	    cmocka_unit_test_setup_teardown(test_conf_read_file_lines, conf_setup, conf_teardown),
	    cmocka_unit_test_setup_teardown(test_conf_read_file_errors, conf_setup, conf_teardown),
	    cmocka_unit_test_setup_teardown(test_conf_read_file_long_line, conf_setup,
	                                    conf_teardown),
	    cmocka_unit_test(test_conf_error_without_line),
	    cmocka_unit_test(test_buf_cap),
	    cmocka_unit_test(test_buf_growth),
	    cmocka_unit_test(test_buf_printf),
	};

	return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}
