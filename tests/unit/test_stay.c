/* test_stay.c: the stay rules (stay_check), the price (stay_price) and the choice of a unit
 * (stay_assign, best fit) of server/stay.c, on a centre built in memory. */
#include "unit_util.h"

#include "date.h"
#include "server.h"

#define D(y, m, d) date_from_civil((y), (m), (d))

enum { LOW = 0, HIGH = 1, AUTUMN = 2 };
enum { CAT_A = 0, CAT_B = 1, CAT_NONE = 2 };

/* The test centre, in 2027:
 *   season 0 "low-june"    low,  06-01 .. 06-29, 2 to 14 nights
 *   06-30                  a night in no season
 *   season 1 "summer"      high, 07-01 .. 07-28 (28 nights), rotations of 7 nights from 07-01
 *   season 2 "autumn"      low,  07-29 .. 08-31 (right after summer, no gap), 1 to 30 nights
 *   unit type 0 "bungalow": 1 to 4 guests
 *   tariffs (centimes a night): low 200.00 / 150.00, summer 300.00 / 250.00, autumn 0 (free) /
 * none. */
static struct centre *test_centre(void)
{
	struct centre *c = calloc(1, sizeof(*c));
	struct season *s;

	assert_non_null(c);
	memset(c->tariff, 0xff, sizeof(c->tariff)); /* -1: no tariff */
	snprintf(c->id, sizeof(c->id), "al-arz");
	c->ntypes = 1;
	snprintf(c->types[0].id, sizeof(c->types[0].id), "bungalow");
	c->types[0].min_guests = 1;
	c->types[0].max_guests = 4;
	c->nseasons = 3;

	s = &c->seasons[LOW];
	snprintf(s->id, sizeof(s->id), "low-june");
	s->kind = SEASON_LOW;
	s->first_night = D(2027, 6, 1);
	s->last_night = D(2027, 6, 29);
	s->min_nights = 2;
	s->max_nights = 14;

	s = &c->seasons[HIGH];
	snprintf(s->id, sizeof(s->id), "summer");
	s->kind = SEASON_HIGH;
	s->first_night = D(2027, 7, 1);
	s->last_night = D(2027, 7, 28);
	s->rotation_nights = 7;
	s->rotation_start = D(2027, 7, 1);

	s = &c->seasons[AUTUMN];
	snprintf(s->id, sizeof(s->id), "autumn");
	s->kind = SEASON_LOW;
	s->first_night = D(2027, 7, 29);
	s->last_night = D(2027, 8, 31);
	s->min_nights = 1;
	s->max_nights = 30;

	c->tariff[0][LOW][CAT_A] = 20000;
	c->tariff[0][LOW][CAT_B] = 15000;
	c->tariff[0][HIGH][CAT_A] = 30000;
	c->tariff[0][HIGH][CAT_B] = 25000;
	c->tariff[0][AUTUMN][CAT_A] = 0;
	return c;
}

static int centre_setup(void **state)
{
	*state = test_centre();
	return 0;
}

static int centre_teardown(void **state)
{
	centre_free(*state);
	return 0;
}

/* ---- stay_check ---- */

struct check_case {
	const char *name;
	int32_t today, arrival, departure;
	int guests;
	enum stay_err want;
	int season; /* when want is STAY_OK */
};

static int run_checks(const struct centre *c, const struct check_case *cases, size_t n)
{
	int nfail = 0;

	for (size_t i = 0; i < n; i++) {
		const struct check_case *k = &cases[i];
		int season = -99;
		enum stay_err e =
		    stay_check(c, 0, k->today, k->arrival, k->departure, k->guests, &season);

		CASE_CHECK(nfail, e == k->want, k->name, "stay_check gave %s, expected %s",
		           stay_code(e), stay_code(k->want));
		if (k->want == STAY_OK && e == STAY_OK)
			CASE_CHECK(nfail, season == k->season, k->name, "season %d, expected %d",
			           season, k->season);
	}
	return nfail;
}

static void test_stay_check(void **state)
{
	const struct centre *c = *state;
	const int32_t T = D(2027, 5, 1); /* today, for most cases */
	const struct check_case cases[] = {
	    /* valid stays, and the season each falls in */
	    {"low, 2 nights (the minimum)", T, D(2027, 6, 1), D(2027, 6, 3), 2, STAY_OK, LOW},
	    {"low, 14 nights (the maximum)", T, D(2027, 6, 1), D(2027, 6, 15), 1, STAY_OK, LOW},
	    {"low, ends on the season's last night", T, D(2027, 6, 27), D(2027, 6, 30), 4, STAY_OK,
	     LOW},
	    {"arrival today", D(2027, 6, 10), D(2027, 6, 10), D(2027, 6, 12), 2, STAY_OK, LOW},
	    {"high, first rotation", T, D(2027, 7, 1), D(2027, 7, 8), 4, STAY_OK, HIGH},
	    {"high, second rotation", T, D(2027, 7, 8), D(2027, 7, 15), 1, STAY_OK, HIGH},
	    {"high, last rotation", T, D(2027, 7, 22), D(2027, 7, 29), 3, STAY_OK, HIGH},
	    {"autumn, first night, right after summer", T, D(2027, 7, 29), D(2027, 7, 30), 1,
	     STAY_OK, AUTUMN},
	    {"autumn, to its last night", T, D(2027, 8, 20), D(2027, 9, 1), 2, STAY_OK, AUTUMN},
	    /* dates */
	    {"departure on the arrival day", T, D(2027, 6, 5), D(2027, 6, 5), 2, STAY_BAD_DATES, 0},
	    {"departure before arrival", T, D(2027, 6, 5), D(2027, 6, 3), 2, STAY_BAD_DATES, 0},
	    {"arrival yesterday", D(2027, 6, 10), D(2027, 6, 9), D(2027, 6, 12), 2,
	     STAY_PAST_ARRIVAL, 0},
	    /* seasons */
	    {"arrival on the gap night", T, D(2027, 6, 30), D(2027, 7, 2), 2, STAY_NO_SEASON, 0},
	    {"arrival before the first season", T, D(2027, 5, 30), D(2027, 6, 2), 2, STAY_NO_SEASON,
	     0},
	    {"last night on the gap night", T, D(2027, 6, 28), D(2027, 7, 1), 2, STAY_NO_SEASON, 0},
	    {"across the gap into summer", T, D(2027, 6, 28), D(2027, 7, 2), 2, STAY_NO_SEASON, 0},
	    {"after the last season", T, D(2027, 9, 1), D(2027, 9, 3), 2, STAY_NO_SEASON, 0},
	    {"past the end of the last season", T, D(2027, 8, 30), D(2027, 9, 2), 2, STAY_NO_SEASON,
	     0},
	    {"summer into autumn (no gap)", T, D(2027, 7, 22), D(2027, 7, 30), 2, STAY_SEASON_SPAN,
	     0},
	    {"summer into autumn, not on a rotation day", T, D(2027, 7, 26), D(2027, 7, 31), 2,
	     STAY_SEASON_SPAN, 0},
	    /* rotations */
	    {"high, arrival on the wrong day", T, D(2027, 7, 2), D(2027, 7, 9), 2, STAY_ROTATION,
	     0},
	    {"high, the day before a rotation", T, D(2027, 7, 21), D(2027, 7, 28), 2, STAY_ROTATION,
	     0},
	    {"high, 6 nights", T, D(2027, 7, 1), D(2027, 7, 7), 2, STAY_ROTATION, 0},
	    {"high, two rotations at once", T, D(2027, 7, 1), D(2027, 7, 15), 2, STAY_ROTATION, 0},
	    {"high, wrong day and length", T, D(2027, 7, 3), D(2027, 7, 5), 2, STAY_ROTATION, 0},
	    /* lengths */
	    {"low, 1 night", T, D(2027, 6, 1), D(2027, 6, 2), 2, STAY_TOO_FEW_NIGHTS, 0},
	    {"low, 15 nights", T, D(2027, 6, 1), D(2027, 6, 16), 2, STAY_TOO_MANY_NIGHTS, 0},
	    /* guests */
	    {"low, 5 guests", T, D(2027, 6, 1), D(2027, 6, 3), 5, STAY_TOO_MANY_GUESTS, 0},
	    {"high, 5 guests", T, D(2027, 7, 8), D(2027, 7, 15), 5, STAY_TOO_MANY_GUESTS, 0},
	    {"low, 0 guests", T, D(2027, 6, 1), D(2027, 6, 3), 0, STAY_TOO_FEW_GUESTS, 0},
	    {"high, 0 guests", T, D(2027, 7, 8), D(2027, 7, 15), 0, STAY_TOO_FEW_GUESTS, 0},
	};

	assert_int_equal(run_checks(c, cases, NELEM(cases)), 0);
}

/* docs/configuration.md: the last rotation of a high season may be shorter; it ends with the
 * season. */
static void test_stay_check_short_last_rotation(void **state)
{
	struct centre *c = *state;
	const int32_t T = D(2027, 5, 1);
	const struct check_case cases[] = {
	    {"the short last rotation (2 nights)", T, D(2027, 7, 29), D(2027, 7, 31), 2, STAY_OK,
	     HIGH},
	    {"the whole rotation before it", T, D(2027, 7, 22), D(2027, 7, 29), 2, STAY_OK, HIGH},
	    {"the short rotation, 1 night of 2", T, D(2027, 7, 29), D(2027, 7, 30), 2,
	     STAY_ROTATION, 0},
	    {"the short rotation, from its second night", T, D(2027, 7, 30), D(2027, 7, 31), 2,
	     STAY_ROTATION, 0},
	    {"the short rotation, 7 nights (into autumn)", T, D(2027, 7, 29), D(2027, 8, 5), 2,
	     STAY_SEASON_SPAN, 0},
	};

	/* summer ends on 07-30 (30 nights: four rotations of 7 and one of 2), autumn starts on
	 * 07-31 */
	c->seasons[HIGH].last_night = D(2027, 7, 30);
	c->seasons[AUTUMN].first_night = D(2027, 7, 31);
	assert_int_equal(run_checks(c, cases, NELEM(cases)), 0);
}

/* The codes are the 422 codes of docs/api.md. */
static void test_stay_code(void **state)
{
	static const struct {
		enum stay_err e;
		const char *code;
	} cases[] = {
	    {STAY_OK, "ok"},
	    {STAY_BAD_DATES, "bad_dates"},
	    {STAY_PAST_ARRIVAL, "past_arrival"},
	    {STAY_NO_SEASON, "no_season"},
	    {STAY_SEASON_SPAN, "season_span"},
	    {STAY_ROTATION, "rotation"},
	    {STAY_TOO_FEW_NIGHTS, "too_few_nights"},
	    {STAY_TOO_MANY_NIGHTS, "too_many_nights"},
	    {STAY_TOO_MANY_GUESTS, "too_many_guests"},
	    {STAY_TOO_FEW_GUESTS, "too_few_guests"},
	};
	int nfail = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		const char *msg = stay_strerror(cases[i].e);

		CASE_CHECK(nfail, strcmp(stay_code(cases[i].e), cases[i].code) == 0, cases[i].code,
		           "stay_code gave \"%s\"", stay_code(cases[i].e));
		CASE_CHECK(nfail, msg && strlen(msg) > 10, cases[i].code, "no message");
		for (size_t j = 0; j < i; j++)
			CASE_CHECK(nfail, strcmp(msg, stay_strerror(cases[j].e)) != 0,
			           cases[i].code, "same message as %s", cases[j].code);
	}
	assert_int_equal(nfail, 0);
}

/* ---- stay_price ---- */

static void test_stay_price(void **state)
{
	const struct centre *c = *state;
	static const struct {
		const char *name;
		int season, category;
		int m1, d1, m2, d2; /* 2027 */
		int rc;
		int64_t centimes;
	} cases[] = {
	    {"low, 3 nights, cat-a", LOW, CAT_A, 6, 1, 6, 4, 0, 60000},
	    {"low, 3 nights, cat-b", LOW, CAT_B, 6, 1, 6, 4, 0, 45000},
	    {"low, 14 nights, cat-a", LOW, CAT_A, 6, 1, 6, 15, 0, 280000},
	    {"summer, 7 nights, cat-a", HIGH, CAT_A, 7, 1, 7, 8, 0, 210000},
	    {"summer, 7 nights, cat-b", HIGH, CAT_B, 7, 8, 7, 15, 0, 175000},
	    {"autumn, free for cat-a", AUTUMN, CAT_A, 8, 1, 8, 6, 0, 0},
	    {"autumn, no tariff for cat-b", AUTUMN, CAT_B, 8, 1, 8, 6, -1, 0},
	    {"a category with no tariff at all", LOW, CAT_NONE, 6, 1, 6, 4, -1, 0},
	};
	int nfail = 0;

	for (size_t i = 0; i < NELEM(cases); i++) {
		int64_t centimes = 77;
		int rc = stay_price(c, 0, cases[i].season, cases[i].category,
		                    D(2027, cases[i].m1, cases[i].d1),
		                    D(2027, cases[i].m2, cases[i].d2), &centimes);

		CASE_CHECK(nfail, rc == cases[i].rc, cases[i].name, "returned %d, expected %d", rc,
		           cases[i].rc);
		if (cases[i].rc == 0)
			CASE_CHECK(nfail, centimes == cases[i].centimes, cases[i].name,
			           "%lld centimes, expected %lld", (long long)centimes,
			           (long long)cases[i].centimes);
		else
			CASE_CHECK(nfail, centimes == 77, cases[i].name,
			           "output changed on error (%lld)", (long long)centimes);
	}
	assert_int_equal(nfail, 0);
}

/* A member whose category left categories.ini has category -1 (catalog_category): no price, and no
 * read outside tariff[type][season][]. Run last: under UBSan an out-of-bounds index aborts the
 * program. */
static void test_stay_price_unknown_category(void **state)
{
	struct centre *c = *state;
	int64_t centimes = 77;

	/* tariff[0][HIGH][-1] is, in memory, tariff[0][LOW][MAX_CATEGORIES - 1]: make it look like
	 * a price */
	c->tariff[0][LOW][MAX_CATEGORIES - 1] = 12345;
	assert_int_equal(stay_price(c, 0, HIGH, -1, D(2027, 7, 1), D(2027, 7, 8), &centimes), -1);
	assert_int_equal(centimes, 77);
}

/* ---- stay_assign ---- */

struct assign_case {
	const char *name;
	const char *rows[6]; /* one string per unit, one character per night: '.' free, 'x' taken */
	int off, len;
	int want;
};

static void test_stay_assign(void **state)
{
	static const struct assign_case cases[] = {
	    {"no unit at all", {NULL}, 0, 1, -1},
	    {"none free", {"..x..", ".x...", "xxxxx"}, 1, 2, -1},
	    {"the only free one", {"..x..", ".....", "xx..."}, 1, 2, 1},
	    {"the exact hole rather than the long free run",
	     {"........", "x..x....", "........"},
	     1,
	     2,
	     1},
	    {"the exact hole, second unit, 4 nights",
	     {"..........", "xx....xxxx", "x.....xxxx"},
	     2,
	     4,
	     1},
	    {"the smaller gap", {"x.....x", "x....xx", "......."}, 1, 3, 1},
	    {"ties go to the lowest index", {"xx..x", "x...x", "x...x", "x...x"}, 1, 3, 1},
	    {"ties, all identical", {"x..x", "x..x", "x..x"}, 1, 2, 0},
	    {"window start: nothing left of it counts", {"......", "...x.."}, 0, 3, 1},
	    {"window start, exact", {"...x..", "......"}, 0, 3, 0},
	    {"window end: nothing right of it counts", {"......", "..x..."}, 3, 3, 1},
	    {"the whole window", {"x.....", "......", "....x."}, 0, 6, 1},
	    {"taken on the last night only: refused", {"...x", "...."}, 0, 4, 1},
	    {"taken on the last night only, alone: refused", {"..x."}, 0, 3, -1},
	    {"taken on the first night only: refused", {"x...", "...."}, 0, 4, 1},
	    {"taken on the departure night: fine, and an exact fit", {"....", "..x."}, 0, 2, 1},
	    {"taken the night before arrival: fine, and an exact fit", {"....", "x..."}, 1, 3, 1},
	};
	int nfail = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		const struct assign_case *k = &cases[i];
		unsigned char busy[6 * 16];
		int nunits = 0, width = k->rows[0] ? (int)strlen(k->rows[0]) : 8, got;

		memset(busy, 0, sizeof(busy));
		for (; nunits < 6 && k->rows[nunits]; nunits++) {
			assert_int_equal(strlen(k->rows[nunits]), (size_t)width);
			for (int n = 0; n < width; n++)
				busy[nunits * width + n] = k->rows[nunits][n] == 'x';
		}
		got = stay_assign(nunits, width, busy, k->off, k->len);
		CASE_CHECK(nfail, got == k->want, k->name, "unit %d, expected %d", got, k->want);
	}
	assert_int_equal(nfail, 0);
}

/* The window booking.c builds: ASSIGN_WINDOW nights on each side of the stay, many units. */
static void test_stay_assign_large(void **state)
{
	enum { UNITS = 200, LEN = 7, WIDTH = 2 * ASSIGN_WINDOW + LEN, OFF = ASSIGN_WINDOW };
	unsigned char *busy = calloc(UNITS, WIDTH);

	(void)state;
	assert_non_null(busy);
	/* every unit busy on the stay's first night, except 150 (free all along) and 173 (a hole of
	 * exactly the stay) */
	for (int u = 0; u < UNITS; u++)
		busy[u * WIDTH + OFF] = 1;
	busy[150 * WIDTH + OFF] = 0;
	busy[173 * WIDTH + OFF] = 0;
	busy[173 * WIDTH + OFF - 1] = 1;
	busy[173 * WIDTH + OFF + LEN] = 1;
	assert_int_equal(stay_assign(UNITS, WIDTH, busy, OFF, LEN), 173);
	/* with 173 taken on its last night, 150 is the only one left */
	busy[173 * WIDTH + OFF + LEN - 1] = 1;
	assert_int_equal(stay_assign(UNITS, WIDTH, busy, OFF, LEN), 150);
	busy[150 * WIDTH + OFF + 3] = 1;
	assert_int_equal(stay_assign(UNITS, WIDTH, busy, OFF, LEN), -1);
	free(busy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_stay_check, centre_setup, centre_teardown),
	    cmocka_unit_test_setup_teardown(test_stay_check_short_last_rotation, centre_setup,
	                                    centre_teardown),
	    cmocka_unit_test(test_stay_code),
	    cmocka_unit_test_setup_teardown(test_stay_price, centre_setup, centre_teardown),
	    cmocka_unit_test(test_stay_assign),
	    cmocka_unit_test(test_stay_assign_large),
	    cmocka_unit_test_setup_teardown(test_stay_price_unknown_category, centre_setup,
	                                    centre_teardown),
	};

	return cmocka_run_group_tests_name("stay", tests, NULL, NULL);
}
