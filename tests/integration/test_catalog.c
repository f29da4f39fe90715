/* Catalog and availability over HTTP: the centres list, free counts and prices per night, the
 * 92-night window cap and the errors of the availability query. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *avail_path(const char *centre, int from, int to, const char *extra)
{
	char a[16], b[16];
	char *p = malloc(256);

	assert_non_null(p);
	snprintf(p, 256, "/api/v1/centres/%s/availability?from=%s&to=%s%s", centre,
	         hx_date(from, a, sizeof a), hx_date(to, b, sizeof b), extra ? extra : "");
	return p;
}

/* Checks one night of unit type `ut` in an availability answer. season NULL: outside seasons. */
static void check_night(json_t *av, const char *ut, int offset, int64_t free_units,
                        const char *season, int64_t price)
{
	char night[16];
	json_t *t = jfind(av, "unit_types", "id", ut);
	json_t *n;

	hx_date(offset, night, sizeof night);
	if (t == NULL) {
		fprintf(stderr, "unit type %s missing\n", ut);
		fail();
	}
	n = jfind(t, "nights", "night", night);
	if (n == NULL) {
		fprintf(stderr, "night %s of %s missing\n", night, ut);
		fail();
	}
	ASSERT_JINT(n, "free", free_units);
	if (season == NULL) {
		assert_true(json_is_null(jget(n, "season")));
		assert_true(json_is_null(jget(n, "price")));
	} else {
		ASSERT_JSTR(n, "season", season);
		ASSERT_JINT(n, "price.centimes", price);
		ASSERT_JSTR(n, "price.currency", "MAD");
	}
}

static void centres_are_listed_without_login(void **state)
{
	struct hc *c = hc_new(HX);
	struct hres r;
	json_t *a, *b, *t, *s;
	char d1[16], d2[16];

	hc_do(c, "GET", "/api/v1/centres", NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	assert_int_equal(json_array_size(jget(r.json, "centres")), 2);
	a = jfind(r.json, "centres", "id", "test-a");
	b = jfind(r.json, "centres", "id", "test-b");
	assert_non_null(a);
	assert_non_null(b);
	ASSERT_JSTR(a, "name_fr", "Centre Test A");
	ASSERT_JSTR(a, "name_ar", "مركز الاختبار أ");
	ASSERT_JSTR(a, "city_fr", "Ifrane");
	ASSERT_JSTR(a, "city_ar", "إفران");
	ASSERT_JSTR(a, "check_in", "15:00");
	ASSERT_JSTR(a, "check_out", "11:00");
	ASSERT_JSTR(b, "city_fr", "Agadir");

	assert_int_equal(json_array_size(jget(a, "unit_types")), 2);
	t = jfind(a, "unit_types", "id", "chalet");
	assert_non_null(t);
	ASSERT_JINT(t, "units", HX_CHALET_UNITS);
	ASSERT_JINT(t, "min_guests", 1);
	ASSERT_JINT(t, "max_guests", 4);
	ASSERT_JSTR(t, "name_fr", "Chalet");
	t = jfind(a, "unit_types", "id", "studio");
	assert_non_null(t);
	ASSERT_JINT(t, "units", HX_STUDIO_UNITS);
	t = jfind(b, "unit_types", "id", "room");
	assert_non_null(t);
	ASSERT_JINT(t, "units", HX_ROOM_UNITS);
	ASSERT_JINT(t, "min_guests", 2);

	assert_int_equal(json_array_size(jget(a, "seasons")), 3);
	s = jfind(a, "seasons", "id", "a-low1");
	assert_non_null(s);
	ASSERT_JSTR(s, "kind", "low");
	ASSERT_JSTR(s, "first_night", hx_date(HX_LOW1_FIRST, d1, sizeof d1));
	ASSERT_JSTR(s, "last_night", hx_date(HX_LOW1_LAST, d2, sizeof d2));
	ASSERT_JINT(s, "min_nights", 2);
	ASSERT_JINT(s, "max_nights", 14);
	s = jfind(a, "seasons", "id", "a-high");
	assert_non_null(s);
	ASSERT_JSTR(s, "kind", "high");
	ASSERT_JSTR(s, "first_night", hx_date(HX_HIGH_FIRST, d1, sizeof d1));
	ASSERT_JSTR(s, "last_night", hx_date(HX_HIGH_LAST, d2, sizeof d2));
	ASSERT_JINT(s, "rotation_nights", HX_ROTATION);
	ASSERT_JSTR(s, "rotation_start", hx_date(HX_HIGH_FIRST, d1, sizeof d1));
	assert_non_null(jfind(b, "seasons", "id", "b-low2"));
	hres_free(&r);
	hc_free(c);
}

static void availability_counts_and_member_prices(void **state)
{
	struct hc *c = hc_login_ok("200001");
	struct hres r;
	char *p = avail_path("test-a", 10, 12, NULL);
	char d[16];
	json_t *t;

	hc_do(c, "GET", p, NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JSTR(r.json, "centre", "test-a");
	ASSERT_JSTR(r.json, "from", hx_date(10, d, sizeof d));
	ASSERT_JSTR(r.json, "to", hx_date(12, d, sizeof d));
	ASSERT_JSTR(r.json, "category", "cat-a");
	t = jfind(r.json, "unit_types", "id", "chalet");
	assert_non_null(t);
	ASSERT_JINT(t, "units", HX_CHALET_UNITS);
	assert_int_equal(json_array_size(jget(t, "nights")), 3); /* from..to inclusive */
	check_night(r.json, "chalet", 10, HX_CHALET_UNITS, "a-low1",
	            hx_tariff("test-a", "chalet", "a-low1", "cat-a"));
	check_night(r.json, "chalet", 12, HX_CHALET_UNITS, "a-low1",
	            hx_tariff("test-a", "chalet", "a-low1", "cat-a"));
	check_night(r.json, "studio", 11, HX_STUDIO_UNITS, "a-low1",
	            hx_tariff("test-a", "studio", "a-low1", "cat-a"));
	hres_free(&r);
	hc_free(c);

	/* the retired member sees the retired tariff */
	c = hc_login_ok(HX_RETIRED_MEMBER);
	hc_do(c, "GET", p, NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JSTR(r.json, "category", "retired");
	check_night(r.json, "chalet", 11, HX_CHALET_UNITS, "a-low1",
	            hx_tariff("test-a", "chalet", "a-low1", "retired"));
	hres_free(&r);
	free(p);
	hc_free(c);
}

static void availability_follows_seasons(void **state)
{
	struct hc *c = hc_login_ok("200001");
	struct hres r;
	char *p = avail_path("test-a", HX_LOW1_LAST - 1, HX_LOW2_FIRST + 1, NULL);

	hc_do(c, "GET", p, NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	check_night(r.json, "chalet", HX_LOW1_LAST, HX_CHALET_UNITS, "a-low1",
	            hx_tariff("test-a", "chalet", "a-low1", "cat-a"));
	check_night(r.json, "chalet", HX_LOW2_FIRST, HX_CHALET_UNITS, "a-low2",
	            hx_tariff("test-a", "chalet", "a-low2", "cat-a"));
	hres_free(&r);
	free(p);

	p = avail_path("test-a", HX_HIGH_LAST - 1, HX_HIGH_LAST + 2, NULL);
	hc_do(c, "GET", p, NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	check_night(r.json, "studio", HX_HIGH_LAST, HX_STUDIO_UNITS, "a-high",
	            hx_tariff("test-a", "studio", "a-high", "cat-a"));
	check_night(r.json, "studio", HX_HIGH_LAST + 1, 0, NULL, 0);
	check_night(r.json, "chalet", HX_HIGH_LAST + 2, 0, NULL, 0);
	hres_free(&r);
	free(p);
	hc_free(c);
}

static void staff_choose_the_category(void **state)
{
	struct hc *c = hc_login_ok(HX_MANAGER);
	struct hres r;
	char *p = avail_path("test-b", 20, 21, NULL);
	char *q = avail_path("test-b", 20, 21, "&category=retired");

	hc_do(c, "GET", p, NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JSTR(r.json, "category", "cat-a"); /* the first category */
	check_night(r.json, "room", 20, HX_ROOM_UNITS, "b-low1",
	            hx_tariff("test-b", "room", "b-low1", "cat-a"));
	hres_free(&r);
	hc_do(c, "GET", q, NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JSTR(r.json, "category", "retired");
	check_night(r.json, "room", 21, HX_ROOM_UNITS, "b-low1",
	            hx_tariff("test-b", "room", "b-low1", "retired"));
	hres_free(&r);
	free(p);
	free(q);
	hc_free(c);
}

static void window_is_capped_at_92_nights(void **state)
{
	struct hc *c = hc_login_ok("200001");
	struct hres r;
	char *p = avail_path("test-a", 1, 92, NULL); /* 92 nights, inclusive */
	char *q = avail_path("test-a", 1, 93, NULL); /* 93 */

	hc_do(c, "GET", p, NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	assert_int_equal(
	    json_array_size(jget(jfind(r.json, "unit_types", "id", "chalet"), "nights")), 92);
	hres_free(&r);
	hc_do(c, "GET", q, NULL, NULL, &r);
	EXPECT(r, 400, "bad_request");
	hres_free(&r);
	free(p);
	free(q);
	hc_free(c);
}

static void bad_queries_are_400(void **state)
{
	static const char *const bad[] = {
	    "/api/v1/centres/test-a/availability?from=2027-02-30&to=2027-03-02",
	    "/api/v1/centres/test-a/availability?from=2027-13-01&to=2027-12-03",
	    "/api/v1/centres/test-a/availability?from=tomorrow&to=2027-03-02",
	    "/api/v1/centres/test-a/availability?from=2027-03-02",
	    "/api/v1/centres/test-a/availability?to=2027-03-02",
	    "/api/v1/centres/test-a/availability?from=2027-03-05&to=2027-03-02",
	    "/api/v1/centres/test-a/availability?from=2027-3-1&to=2027-3-2",
	};
	struct hc *c = hc_login_ok("200001");
	struct hres r;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		hc_do(c, "GET", bad[i], NULL, NULL, &r);
		EXPECT(r, 400, "bad_request");
		hres_free(&r);
	}
	hc_free(c);
}

static void unknown_centre_is_404_and_login_is_needed(void **state)
{
	struct hc *c = hc_login_ok("200001");
	struct hc *anon = hc_new(HX);
	struct hres r;
	char *p = avail_path("no-such-centre", 10, 12, NULL);
	char *q = avail_path("test-a", 10, 12, NULL);

	hc_do(c, "GET", p, NULL, NULL, &r);
	EXPECT(r, 404, "not_found");
	hres_free(&r);
	hc_do(anon, "GET", q, NULL, NULL, &r);
	EXPECT(r, 401, "unauthenticated");
	hres_free(&r);
	free(p);
	free(q);
	hc_free(anon);
	hc_free(c);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(centres_are_listed_without_login),
	    cmocka_unit_test(availability_counts_and_member_prices),
	    cmocka_unit_test(availability_follows_seasons),
	    cmocka_unit_test(staff_choose_the_category),
	    cmocka_unit_test(window_is_capped_at_92_nights),
	    cmocka_unit_test(bad_queries_are_400),
	    cmocka_unit_test(unknown_centre_is_404_and_login_is_needed),
	};
	struct hx_opts o = {.hold = "20m", .sweep_interval = "1s", .body_max = "64k", .members = 3};

	return hx_main(argc, argv, &o, "catalog", tests, sizeof tests / sizeof tests[0]);
}
