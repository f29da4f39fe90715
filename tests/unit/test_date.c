/* test_date.c: civil dates as day numbers (shared/date.c): parsing, formatting, the calendar
 * arithmetic against an independent day-by-day walk, weekdays, HH:MM times and UTC instants. */
#include "unit_util.h"

#include <time.h>

#include "date.h"

/* ---- date_parse ---- */

static void test_date_parse_valid(void **state)
{
	static const struct {
		const char *s;
		int32_t day; /* worked out independently (Python's datetime) */
	} cases[] = {
	    {"1970-01-01", 0},     {"1970-01-02", 1},     {"1999-12-31", 10956},
	    {"2000-01-01", 10957}, {"2000-02-29", 11016}, /* divisible by 400: leap */
	    {"2024-02-29", 19782},                        /* leap year */
	    {"2026-03-01", 20513}, {"2026-07-01", 20635}, {"2027-01-01", 20819},
	    {"2027-07-01", 21000}, {"2100-02-28", 47540}, {"9999-12-31", 2932896},
	};
	int nfail = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		int32_t day = -12345;
		int rc = date_parse(cases[i].s, &day);

		CASE_CHECK(nfail, rc == 0, cases[i].s, "date_parse returned %d, expected 0", rc);
		CASE_CHECK(nfail, day == cases[i].day, cases[i].s, "day %ld, expected %ld",
		           (long)day, (long)cases[i].day);
	}
	assert_int_equal(nfail, 0);
}

static void test_date_parse_invalid(void **state)
{
	static const char *const cases[] = {
	    "2026-02-29", /* not a leap year */
	    "2100-02-29", /* century, not divisible by 400 */
	    "2026-02-30",  "2026-04-31",  "2026-13-01",       "2026-00-10", "2026-01-00",
	    "2026-01-32",  "2026-1-01",   "2026-01-1",        "26-01-01",   "2026-01-01x",
	    "2026-01-01 ", " 2026-01-01", "2026-01-01T00:00", "2026/01/01", "20260101",
	    "2026-0a-01",  "+026-01-01",  "-026-01-01",       "1969-12-31", /* before 1970 */
	    "1900-01-01",  "0000-01-01",  "10000-01-01",      "",
	};
	int nfail = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		int32_t day = 0;
		int rc = date_parse(cases[i], &day);

		CASE_CHECK(nfail, rc == -1, cases[i], "date_parse returned %d, expected -1", rc);
	}
	{
		int32_t day = 0;
		assert_int_equal(date_parse(NULL, &day), -1);
	}
	assert_int_equal(nfail, 0);
}

/* ---- date_from_civil / date_to_civil against a day-by-day walk of the calendar ---- */

static unsigned month_days(int y, unsigned m)
{
	static const unsigned len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : len[m - 1];
}

static void test_date_civil_round_trip(void **state)
{
	int y = 1900;
	unsigned m = 1, d = 1;
	int32_t day = date_from_civil(1900, 1, 1);

	(void)state;
	assert_int_equal(day,
	                 -25567); /* 1900-01-01: 70 years of 365 days + 17 leap days before 1970 */
	/* every day from 1900-01-01 to 2400-12-31, both ways */
	while (y <= 2400) {
		int yy;
		unsigned mm, dd;

		if (date_from_civil(y, m, d) != day)
			fail_msg("date_from_civil(%d, %u, %u) = %ld, expected %ld", y, m, d,
			         (long)date_from_civil(y, m, d), (long)day);
		date_to_civil(day, &yy, &mm, &dd);
		if (yy != y || mm != m || dd != d)
			fail_msg("date_to_civil(%ld) = %d-%u-%u, expected %d-%u-%u", (long)day, yy,
			         mm, dd, y, m, d);
		day++;
		if (++d > month_days(y, m)) {
			d = 1;
			if (++m > 12) {
				m = 1;
				y++;
			}
		}
	}
	assert_int_equal(day, date_from_civil(2401, 1, 1));
}

/* ---- date_format ---- */

static void test_date_format(void **state)
{
	static const struct {
		int32_t day;
		const char *s;
	} cases[] = {
	    {0, "1970-01-01"},     {-1, "1969-12-31"},    {10957, "2000-01-01"},
	    {19782, "2024-02-29"}, {20635, "2026-07-01"}, {2932896, "9999-12-31"},
	};
	int nfail = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		char out[DATE_STRLEN];
		int32_t back = -1;

		memset(out, 'x', sizeof(out));
		date_format(cases[i].day, out);
		CASE_CHECK(nfail, out[DATE_STRLEN - 1] == '\0', cases[i].s, "not NUL-terminated");
		out[DATE_STRLEN - 1] = '\0';
		CASE_CHECK(nfail, strcmp(out, cases[i].s) == 0, cases[i].s, "formatted as \"%s\"",
		           out);
		/* and back, for the dates date_parse accepts */
		if (cases[i].day >= 0) {
			CASE_CHECK(nfail, date_parse(out, &back) == 0 && back == cases[i].day,
			           cases[i].s, "did not parse back (%ld)", (long)back);
		}
	}
	assert_int_equal(nfail, 0);
}

/* ---- date_weekday ---- */

static void test_date_weekday(void **state)
{
	static const struct {
		const char *s;
		int32_t day;
		int weekday; /* 0 = Monday */
	} cases[] = {
	    {"1970-01-01 Thursday", 0, 3},     {"1970-01-05 Monday", 4, 0},
	    {"1970-01-04 Sunday", 3, 6},       {"1969-12-31 Wednesday", -1, 2},
	    {"1969-12-29 Monday", -3, 0},      {"2000-01-01 Saturday", 10957, 5},
	    {"2024-02-29 Thursday", 19782, 3}, {"2026-07-01 Wednesday", 20635, 2},
	    {"2027-07-01 Thursday", 21000, 3}, {"9999-12-31 Friday", 2932896, 4},
	};
	int nfail = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		int w = date_weekday(cases[i].day);

		CASE_CHECK(nfail, w == cases[i].weekday, cases[i].s, "weekday %d, expected %d", w,
		           cases[i].weekday);
	}
	/* seven consecutive days give every weekday once, in order */
	for (int32_t d = 20635; d < 20635 + 7; d++)
		assert_int_equal(date_weekday(d), (2 + (d - 20635)) % 7);
	assert_int_equal(nfail, 0);
}

/* ---- date_today_local ---- */

static void test_date_today_local(void **state)
{
	int32_t before, today, after;

	(void)state;
	assert_int_equal(setenv("TZ", "UTC", 1), 0);
	tzset();
	before = (int32_t)(time(NULL) / 86400);
	today = date_today_local();
	after = (int32_t)(time(NULL) / 86400);
	assert_true(today == before || today == after);
}

/* ---- date_parse_hhmm ---- */

static void test_date_parse_hhmm(void **state)
{
	static const struct {
		const char *s;
		int rc, minutes;
	} cases[] = {
	    {"00:00", 0, 0},    {"11:00", 0, 660}, {"11:05", 0, 665}, {"15:00", 0, 900},
	    {"23:59", 0, 1439}, {"24:00", -1, 0},  {"12:60", -1, 0},  {"1:00", -1, 0},
	    {"12:0", -1, 0},    {"012:00", -1, 0}, {"12-00", -1, 0},  {"12:00 ", -1, 0},
	    {"12h00", -1, 0},   {"ab:cd", -1, 0},  {"-1:00", -1, 0},  {"", -1, 0},
	};
	int nfail = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		int minutes = -7;
		int rc = date_parse_hhmm(cases[i].s, &minutes);

		CASE_CHECK(nfail, rc == cases[i].rc, cases[i].s, "returned %d, expected %d", rc,
		           cases[i].rc);
		if (cases[i].rc == 0)
			CASE_CHECK(nfail, minutes == cases[i].minutes, cases[i].s,
			           "%d minutes, expected %d", minutes, cases[i].minutes);
		else
			CASE_CHECK(nfail, minutes == -7, cases[i].s, "output changed on error (%d)",
			           minutes);
	}
	{
		int minutes = 0;
		assert_int_equal(date_parse_hhmm(NULL, &minutes), -1);
	}
	assert_int_equal(nfail, 0);
}

/* ---- instant_format ---- */

static void test_instant_format(void **state)
{
	static const struct {
		int64_t t;
		const char *s;
	} cases[] = {
	    {0, "1970-01-01T00:00:00Z"},          {-1, "1969-12-31T23:59:59Z"},
	    {951782400, "2000-02-29T00:00:00Z"},  {1234567890, "2009-02-13T23:31:30Z"},
	    {1700000000, "2023-11-14T22:13:20Z"}, {4102444799, "2099-12-31T23:59:59Z"},
	};
	int nfail = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		char out[INSTANT_STRLEN];

		memset(out, 'x', sizeof(out));
		instant_format(cases[i].t, out);
		CASE_CHECK(nfail, out[INSTANT_STRLEN - 1] == '\0', cases[i].s,
		           "not NUL-terminated");
		out[INSTANT_STRLEN - 1] = '\0';
		CASE_CHECK(nfail, strcmp(out, cases[i].s) == 0, cases[i].s, "formatted as \"%s\"",
		           out);
	}
	assert_int_equal(nfail, 0);
}

static void test_instant_now(void **state)
{
	int64_t a, b, c;

	(void)state;
	a = (int64_t)time(NULL);
	b = instant_now();
	c = (int64_t)time(NULL);
	assert_true(a <= b && b <= c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_date_parse_valid),      cmocka_unit_test(test_date_parse_invalid),
	    cmocka_unit_test(test_date_civil_round_trip), cmocka_unit_test(test_date_format),
	    cmocka_unit_test(test_date_weekday),          cmocka_unit_test(test_date_today_local),
	    cmocka_unit_test(test_date_parse_hhmm),       cmocka_unit_test(test_instant_format),
	    cmocka_unit_test(test_instant_now),
	};

	return cmocka_run_group_tests_name("date", tests, NULL, NULL);
}
