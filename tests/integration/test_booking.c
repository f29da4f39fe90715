/* Bookings over HTTP: hold, read back, list, idempotent retries, cancel, the stay rules (422),
 * sold out, and who may see or cancel which booking. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOLD_SECONDS (20 * 60)

static json_t *take_json(struct hres *r)
{
	json_t *j = r->json;

	r->json = NULL;
	return j;
}

/* Free units of unit type ut at test-a/test-b on the night `offset`, seen by client c. */
static int64_t free_on(struct hc *c, const char *centre, const char *ut, int offset)
{
	char path[256], d[16];
	struct hres r;
	json_t *n;
	int64_t v;

	hx_date(offset, d, sizeof d);
	snprintf(path, sizeof path, "/api/v1/centres/%s/availability?from=%s&to=%s", centre, d, d);
	hc_do(c, "GET", path, NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	n = jget(jfind(r.json, "unit_types", "id", ut), "nights.0");
	assert_non_null(n);
	v = jint(n, "free");
	hres_free(&r);
	return v;
}

static void booking_path(char *buf, size_t n, int64_t id, const char *suffix)
{
	snprintf(buf, n, "/api/v1/bookings/%lld%s", (long long)id, suffix);
}

/* A booking that must succeed: returns its JSON (decref it). */
static json_t *book_ok(struct hc *c, const char *centre, const char *ut, int arr, int dep,
                       const char *guests)
{
	struct hres r;
	json_t *j;

	hc_book(c, centre, ut, arr, dep, guests, &r);
	EXPECT(r, 201, NULL);
	ASSERT_JSTR(r.json, "status", "held");
	assert_true(jint(r.json, "id") > 0);
	j = take_json(&r);
	hres_free(&r);
	return j;
}

static void expect_refused(struct hc *c, const char *centre, const char *ut, int arr, int dep,
                           const char *guests, long status, const char *code)
{
	struct hres r;

	hc_book(c, centre, ut, arr, dep, guests, &r);
	EXPECT(r, status, code);
	hres_free(&r);
}

static long cancel(struct hc *c, int64_t id, struct hres *r)
{
	char path[128];

	booking_path(path, sizeof path, id, "/cancel");
	return hc_do(c, "POST", path, "{}", NULL, r);
}

static long get_booking(struct hc *c, int64_t id, struct hres *r)
{
	char path[128];

	booking_path(path, sizeof path, id, "");
	return hc_do(c, "GET", path, NULL, NULL, r);
}

static void hold_read_list_and_cancel(void **state)
{
	struct hc *c = hc_login_ok("200001");
	struct hres r;
	json_t *b, *b2;
	int64_t id, id2, tariff = hx_tariff("test-a", "chalet", "a-low1", "cat-a");
	const char *unit;
	long long now, expires, created;
	char d[16];
	int n;

	assert_int_equal(free_on(c, "test-a", "chalet", 10), HX_CHALET_UNITS);
	b = book_ok(c, "test-a", "chalet", 10, 13, HX_GUESTS_SELF);
	now = (long long)time(NULL);
	id = jint(b, "id");
	ASSERT_JSTR(b, "centre", "test-a");
	ASSERT_JSTR(b, "unit_type", "chalet");
	ASSERT_JSTR(b, "arrival", hx_date(10, d, sizeof d));
	ASSERT_JSTR(b, "departure", hx_date(13, d, sizeof d));
	ASSERT_JINT(b, "nights", 3);
	ASSERT_JINT(b, "amount.centimes", 3 * tariff);
	ASSERT_JSTR(b, "amount.currency", "MAD");
	unit = jstr(b, "unit");
	assert_non_null(unit);
	assert_true(strlen(unit) == 3 && unit[0] == 'A' && unit[1] == '0' && unit[2] >= '1' &&
	            unit[2] <= '8');
	assert_int_equal(json_array_size(jget(b, "guests")), 1);
	ASSERT_JSTR(b, "guests.0.name", "Karim Tester");
	ASSERT_JSTR(b, "guests.0.relation", "self");
	expires = hx_instant(jstr(b, "hold_expires_at"));
	created = hx_instant(jstr(b, "created_at"));
	assert_true(expires > 0 && created > 0);
	assert_true(created >= now - 60 && created <= now + 5);
	assert_true(expires >= now + HOLD_SECONDS - 60 && expires <= now + HOLD_SECONDS + 60);

	/* the unit is taken for nights 10..12, not for the departure night */
	for (n = 10; n <= 12; n++)
		assert_int_equal(free_on(c, "test-a", "chalet", n), HX_CHALET_UNITS - 1);
	assert_int_equal(free_on(c, "test-a", "chalet", 13), HX_CHALET_UNITS);

	get_booking(c, id, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JINT(r.json, "id", id);
	ASSERT_JSTR(r.json, "status", "held");
	ASSERT_JSTR(r.json, "unit", unit);
	ASSERT_JSTR(r.json, "arrival", jstr(b, "arrival"));
	ASSERT_JSTR(r.json, "departure", jstr(b, "departure"));
	ASSERT_JINT(r.json, "nights", 3);
	ASSERT_JINT(r.json, "amount.centimes", 3 * tariff);
	ASSERT_JSTR(r.json, "hold_expires_at", jstr(b, "hold_expires_at"));
	ASSERT_JSTR(r.json, "created_at", jstr(b, "created_at"));
	hres_free(&r);

	/* a second stay; the list is newest first */
	b2 = book_ok(c, "test-a", "chalet", 25, 27, HX_GUESTS_SELF);
	id2 = jint(b2, "id");
	assert_true(id2 != id);
	hc_do(c, "GET", "/api/v1/bookings", NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	assert_int_equal(json_array_size(jget(r.json, "bookings")), 2);
	ASSERT_JINT(r.json, "bookings.0.id", id2);
	ASSERT_JINT(r.json, "bookings.1.id", id);
	ASSERT_JSTR(r.json, "bookings.1.unit", unit);
	hres_free(&r);

	cancel(c, id, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JINT(r.json, "id", id);
	ASSERT_JSTR(r.json, "status", "cancelled");
	hres_free(&r);
	for (n = 10; n <= 12; n++)
		assert_int_equal(free_on(c, "test-a", "chalet", n), HX_CHALET_UNITS);
	get_booking(c, id, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JSTR(r.json, "status", "cancelled");
	hres_free(&r);
	cancel(c, id, &r);
	EXPECT(r, 409, "not_cancellable");
	hres_free(&r);
	/* the other booking is untouched */
	get_booking(c, id2, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JSTR(r.json, "status", "held");
	hres_free(&r);

	json_decref(b);
	json_decref(b2);
	hc_free(c);
}

static void retries_are_idempotent(void **state)
{
	struct hc *c = hc_login_ok("200005");
	struct hres r1, r2, r;
	char key[64], longkey[80];
	char *body = hx_booking_body("test-a", "chalet", 30, 33, HX_GUESTS_SELF);
	char *other = hx_booking_body("test-a", "chalet", 31, 33, HX_GUESTS_SELF);
	struct hreq rq = {.idem = hx_key(key, sizeof key)};
	struct hreq too_long = {.idem = longkey};

	assert_non_null(body);
	assert_non_null(other);
	hc_do(c, "POST", "/api/v1/bookings", body, &rq, &r1);
	EXPECT(r1, 201, NULL);
	hc_do(c, "POST", "/api/v1/bookings", body, &rq, &r2);
	EXPECT(r2, 201, NULL);
	if (!json_equal(r1.json, r2.json)) {
		fprintf(stderr, "first: %s\nretry: %s\n", r1.body, r2.body);
		fail();
	}
	/* one booking, one unit */
	hc_do(c, "GET", "/api/v1/bookings", NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	assert_int_equal(json_array_size(jget(r.json, "bookings")), 1);
	hres_free(&r);
	assert_int_equal(free_on(c, "test-a", "chalet", 31), HX_CHALET_UNITS - 1);

	hc_do(c, "POST", "/api/v1/bookings", other, &rq, &r);
	EXPECT(r, 409, "idempotency_conflict");
	hres_free(&r);

	hc_do(c, "POST", "/api/v1/bookings", other, NULL, &r);
	EXPECT(r, 400, "bad_request");
	hres_free(&r);
	memset(longkey, 'k', 65);
	longkey[65] = '\0';
	hc_do(c, "POST", "/api/v1/bookings", other, &too_long, &r);
	EXPECT(r, 400, "bad_request");
	hres_free(&r);
	/* none of the refused requests booked anything */
	assert_int_equal(free_on(c, "test-a", "chalet", 32), HX_CHALET_UNITS - 1);

	/* keys belong to one member: another member's same key is a new booking of their own */
	{
		struct hc *d = hc_login_ok("200016");

		hc_do(d, "POST", "/api/v1/bookings", body, &rq, &r);
		EXPECT(r, 201, NULL);
		assert_true(jint(r.json, "id") != jint(r1.json, "id"));
		hres_free(&r);
		assert_int_equal(free_on(c, "test-a", "chalet", 32), HX_CHALET_UNITS - 2);
		hc_free(d);
	}

	hres_free(&r1);
	hres_free(&r2);
	free(body);
	free(other);
	hc_free(c);
}

static void amount_follows_category_and_season(void **state)
{
	struct hc *c = hc_login_ok(HX_RETIRED_MEMBER);
	json_t *b;

	b = book_ok(c, "test-a", "chalet", 40, 42,
	            "[{\"name\":\"Ahmed\",\"relation\":\"self\",\"birth_year\":1955}]");
	ASSERT_JINT(b, "nights", 2);
	ASSERT_JINT(b, "amount.centimes", 2 * hx_tariff("test-a", "chalet", "a-low1", "retired"));
	json_decref(b);
	hc_free(c);

	/* high season: one whole rotation from a rotation day */
	c = hc_login_ok("200006");
	b = book_ok(c, "test-a", "chalet", HX_HIGH_FIRST + HX_ROTATION,
	            HX_HIGH_FIRST + 2 * HX_ROTATION, HX_GUESTS_COUPLE);
	ASSERT_JINT(b, "nights", HX_ROTATION);
	ASSERT_JINT(b, "amount.centimes",
	            HX_ROTATION * hx_tariff("test-a", "chalet", "a-high", "cat-a"));
	assert_int_equal(json_array_size(jget(b, "guests")), 2);
	json_decref(b);
	/* second low season, test-b */
	b = book_ok(c, "test-b", "room", HX_LOW2_FIRST + 2, HX_LOW2_FIRST + 7, HX_GUESTS_COUPLE);
	ASSERT_JINT(b, "amount.centimes", 5 * hx_tariff("test-b", "room", "b-low2", "cat-a"));
	json_decref(b);
	hc_free(c);
}

static void stay_rules_are_422(void **state)
{
	struct hc *c = hc_login_ok("200003");
	struct hres r;
	const int h = HX_HIGH_FIRST;

	expect_refused(c, "test-a", "chalet", -3, 1, HX_GUESTS_SELF, 422, "past_arrival");
	expect_refused(c, "test-a", "chalet", 20, 20, HX_GUESTS_SELF, 422, "bad_dates");
	expect_refused(c, "test-a", "chalet", 20, 18, HX_GUESTS_SELF, 422, "bad_dates");
	expect_refused(c, "test-a", "chalet", 20, 35, HX_GUESTS_SELF, 422, "too_many_nights");
	expect_refused(c, "test-a", "chalet", 20, 21, HX_GUESTS_SELF, 422, "too_few_nights");
	expect_refused(c, "test-a", "chalet", h + 1, h + 1 + HX_ROTATION, HX_GUESTS_SELF, 422,
	               "rotation");
	expect_refused(c, "test-a", "chalet", h, h + 3, HX_GUESTS_SELF, 422, "rotation");
	expect_refused(c, "test-a", "chalet", h, h + 2 * HX_ROTATION, HX_GUESTS_SELF, 422,
	               "rotation");
	expect_refused(c, "test-a", "chalet", HX_LOW1_LAST - 1, HX_LOW2_FIRST + 2, HX_GUESTS_SELF,
	               422, "season_span");
	expect_refused(c, "test-a", "chalet", HX_HIGH_LAST + 3, HX_HIGH_LAST + 6, HX_GUESTS_SELF,
	               422, "no_season");
	expect_refused(c, "test-a", "chalet", 20, 23,
	               "[" HX_GUEST_SELF "," HX_GUEST_SPOUSE
	               ",{\"name\":\"Youssef\",\"relation\":\"child\",\"birth_year\":2010}"
	               ",{\"name\":\"Salma\",\"relation\":\"child\",\"birth_year\":2013}"
	               ",{\"name\":\"Omar\",\"relation\":\"child\",\"birth_year\":2016}]",
	               422, "too_many_guests");
	expect_refused(c, "test-a", "studio", 20, 23,
	               "[" HX_GUEST_SELF "," HX_GUEST_SPOUSE
	               ",{\"name\":\"Omar\",\"relation\":\"child\",\"birth_year\":2016}]",
	               422, "too_many_guests");
	expect_refused(c, "test-b", "room", 20, 23, HX_GUESTS_SELF, 422, "too_few_guests");
	expect_refused(c, "test-a", "chalet", 20, 23,
	               "[" HX_GUEST_SELF ",{\"name\":\"Zineb\",\"relation\":\"child\"}]", 422,
	               "guest_not_in_household");
	expect_refused(c, "test-a", "chalet", 20, 23,
	               "[" HX_GUEST_SELF
	               ",{\"name\":\"Amina\",\"relation\":\"spouse\",\"birth_year\":1990}]",
	               422, "guest_not_in_household");
	expect_refused(c, "test-a", "chalet", 20, 23,
	               "[" HX_GUEST_SELF ",{\"name\":\"Amina\",\"relation\":\"child\"}]", 422,
	               "guest_not_in_household");
	expect_refused(c, "test-a", "castle", 20, 23, HX_GUESTS_SELF, 422, "unknown_unit_type");

	/* nothing of that was booked */
	hc_do(c, "GET", "/api/v1/bookings", NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	assert_int_equal(json_array_size(jget(r.json, "bookings")), 0);
	hres_free(&r);
	assert_int_equal(free_on(c, "test-a", "chalet", 20), HX_CHALET_UNITS);
	hc_free(c);
}

static void overlapping_second_booking_is_422(void **state)
{
	struct hc *c = hc_login_ok("200003");
	json_t *b = book_ok(c, "test-a", "chalet", 50, 53, HX_GUESTS_SELF);
	json_t *b2;

	expect_refused(c, "test-a", "chalet", 52, 55, HX_GUESTS_SELF, 422, "overlapping_booking");
	expect_refused(c, "test-a", "chalet", 49, 51, HX_GUESTS_SELF, 422, "overlapping_booking");
	expect_refused(c, "test-a", "studio", 51, 53, HX_GUESTS_SELF, 422, "overlapping_booking");
	expect_refused(c, "test-b", "room", 51, 53, HX_GUESTS_COUPLE, 422, "overlapping_booking");
	/* back to back is not an overlap: the departure day is free */
	b2 = book_ok(c, "test-a", "chalet", 53, 55, HX_GUESTS_SELF);
	json_decref(b2);
	json_decref(b);
	hc_free(c);
}

static void last_unit_then_sold_out(void **state)
{
	struct hc *m[3];
	struct hc *late = hc_login_ok("200010");
	struct hc *next = hc_login_ok("200015");
	json_t *b[3], *x;
	char seen[4] = "";
	struct hres r;
	int i;

	for (i = 0; i < 3; i++) {
		char num[16];
		const char *u;

		m[i] = hc_login_ok(hx_member(7 + i, num, sizeof num));
		b[i] = book_ok(m[i], "test-a", "studio", 60, 63, HX_GUESTS_SELF);
		u = jstr(b[i], "unit");
		assert_non_null(u);
		assert_true(strcmp(u, "S01") == 0 || strcmp(u, "S02") == 0 ||
		            strcmp(u, "S03") == 0);
		assert_null(strchr(seen, u[2])); /* three different units */
		seen[i] = u[2];
	}
	assert_int_equal(free_on(late, "test-a", "studio", 61), 0);
	expect_refused(late, "test-a", "studio", 60, 63, HX_GUESTS_SELF, 409, "sold_out");
	expect_refused(late, "test-a", "studio", 62, 64, HX_GUESTS_SELF, 409, "sold_out");
	x = book_ok(late, "test-a", "studio", 63, 65, HX_GUESTS_SELF);
	assert_int_equal(free_on(late, "test-a", "studio", 63), HX_STUDIO_UNITS - 1);
	json_decref(x);

	/* a cancellation frees exactly that unit */
	cancel(m[0], jint(b[0], "id"), &r);
	EXPECT(r, 200, NULL);
	hres_free(&r);
	assert_int_equal(free_on(next, "test-a", "studio", 60), 1);
	x = book_ok(next, "test-a", "studio", 60, 63, HX_GUESTS_SELF);
	ASSERT_JSTR(x, "unit", jstr(b[0], "unit"));
	json_decref(x);
	expect_refused(late, "test-a", "studio", 61, 63, HX_GUESTS_SELF, 409, "sold_out");

	for (i = 0; i < 3; i++) {
		json_decref(b[i]);
		hc_free(m[i]);
	}
	hc_free(late);
	hc_free(next);
}

static void others_bookings_are_404(void **state)
{
	struct hc *owner = hc_login_ok("200011");
	struct hc *stranger = hc_login_ok("200012");
	struct hc *owner_b = hc_login_ok("200013");
	struct hc *mgr = hc_login_ok(HX_MANAGER);
	struct hc *adm = hc_login_ok(HX_ADMIN);
	json_t *a = book_ok(owner, "test-a", "chalet", 70, 72, HX_GUESTS_SELF);
	json_t *b = book_ok(owner_b, "test-b", "room", 70, 72, HX_GUESTS_COUPLE);
	int64_t ida = jint(a, "id"), idb = jint(b, "id");
	struct hres r;

	/* another member: neither read nor cancel, and it is not even said to exist */
	get_booking(stranger, ida, &r);
	EXPECT(r, 404, "not_found");
	hres_free(&r);
	cancel(stranger, ida, &r);
	EXPECT(r, 404, "not_found");
	hres_free(&r);
	get_booking(stranger, idb, &r);
	EXPECT(r, 404, "not_found");
	hres_free(&r);
	hc_do(stranger, "GET", "/api/v1/bookings", NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	assert_int_equal(json_array_size(jget(r.json, "bookings")), 0);
	hres_free(&r);
	get_booking(stranger, 999999, &r);
	EXPECT(r, 404, "not_found");
	hres_free(&r);

	/* the manager of test-b: not test-a's bookings */
	get_booking(mgr, ida, &r);
	EXPECT(r, 404, "not_found");
	hres_free(&r);
	cancel(mgr, ida, &r);
	EXPECT(r, 404, "not_found");
	hres_free(&r);
	get_booking(mgr, idb, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JINT(r.json, "id", idb);
	ASSERT_JSTR(r.json, "centre", "test-b");
	hres_free(&r);
	/* staff do not book */
	expect_refused(mgr, "test-b", "room", 80, 82, HX_GUESTS_COUPLE, 403, "forbidden");

	/* test-a's booking survived all that */
	get_booking(owner, ida, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JSTR(r.json, "status", "held");
	hres_free(&r);

	/* the admin sees any booking; the manager cancels one of test-b */
	get_booking(adm, ida, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JINT(r.json, "id", ida);
	hres_free(&r);
	cancel(mgr, idb, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JSTR(r.json, "status", "cancelled");
	hres_free(&r);
	get_booking(owner_b, idb, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JSTR(r.json, "status", "cancelled");
	hres_free(&r);

	json_decref(a);
	json_decref(b);
	hc_free(owner);
	hc_free(stranger);
	hc_free(owner_b);
	hc_free(mgr);
	hc_free(adm);
}

static void guests_match_household_case_insensitively(void **state)
{
	struct hc *c = hc_login_ok("200014");
	json_t *b = book_ok(c, "test-a", "chalet", 80, 82,
	                    "[" HX_GUEST_SELF
	                    ",{\"name\":\"aMiNa\",\"relation\":\"spouse\",\"birth_year\":1982}"
	                    ",{\"name\":\"youssef\",\"relation\":\"child\"}]");

	assert_int_equal(json_array_size(jget(b, "guests")), 3);
	json_decref(b);
	hc_free(c);
}

/* The "self" guest is the member: named from the member record, not from what the request says (it
 * is the name on the pass). Names with control characters are refused, as the members import does.
 */
static void self_is_the_member_and_names_are_plain(void **state)
{
	struct hc *c = hc_login_ok("200015");
	json_t *b =
	    book_ok(c, "test-a", "chalet", 84, 86,
	            "[{\"name\":\"Somebody Else\",\"relation\":\"self\",\"birth_year\":1980}]");
	struct hres r;
	static const char *const bad[] = {"Amina\\r\\nX-Injected: 1", "Amina\\tA", "Ami\\u007fna",
	                                  "Amina\\u0000"};

	(void)state;
	ASSERT_JSTR(b, "guests.0.name", "Karim Tester");
	json_decref(b);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char guests[256];
		snprintf(guests, sizeof guests,
		         "[" HX_GUEST_SELF
		         ",{\"name\":\"%s\",\"relation\":\"spouse\",\"birth_year\":1982}]",
		         bad[i]);
		hc_book(c, "test-a", "chalet", 88, 90, guests, &r);
		if (r.status != 400)
			fail_msg("guest name %zu: %ld %s", i, r.status, r.body);
		hres_free(&r);
	}
	hc_free(c);
}

/* A manager's list is filtered in SQL and paged: a quiet centre's bookings are not lost behind a
 * busy one's newest 500; paging returns each booking once. */
static void manager_list_filters_and_pages(void **state)
{
	struct hc *m = hc_login_ok("200016"), *mgr = hc_login_ok(HX_MANAGER),
	          *boss = hc_login_ok(HX_ADMIN);
	long long quiet[3], total, seen = 0, first, last;
	char cursor[32] = "", path[96];
	struct hres r;

	(void)state;
	for (int i = 0; i < 3; i++) {
		json_t *b =
		    book_ok(m, "test-b", "room", 100 + 5 * i, 102 + 5 * i, HX_GUESTS_COUPLE);
		quiet[i] = jint(b, "id");
		json_decref(b);
	}
	/* then 600 newer bookings at the busy centre (copies of a real one, cancelled: no nights)
	 */
	{
		json_t *b = book_ok(m, "test-a", "chalet", 70, 72, HX_GUESTS_SELF);
		char sql[1024];
		snprintf(
		    sql, sizeof sql,
		    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600)"
		    " INSERT INTO bookings(member, centre, unit_type, unit, arrival, departure, "
		    "guests, nguests,"
		    " status, amount, created_at, updated_at) SELECT member, centre, unit_type, "
		    "unit, arrival,"
		    " departure, guests, nguests, 'cancelled', amount, created_at, updated_at FROM "
		    "bookings, n"
		    " WHERE id = %lld",
		    (long long)jint(b, "id"));
		json_decref(b);
		hx_db_write(sql);
	}
	hc_do(mgr, "GET", "/api/v1/bookings", NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	{
		json_t *v;
		size_t i;
		int found = 0;
		json_array_foreach(jget(r.json, "bookings"), i, v)
		{
			assert_string_equal(json_string_value(json_object_get(v, "centre")),
			                    "test-b");
			for (int k = 0; k < 3; k++)
				found += json_integer_value(json_object_get(v, "id")) == quiet[k];
		}
		assert_int_equal(found, 3);
	}
	hres_free(&r);
	/* an admin pages through everything, 100 at a time: each booking once, newest first */
	assert_int_equal(hx_db_int("SELECT COUNT(*) FROM bookings", &total), 0);
	last = -1;
	first = 1;
	do {
		json_t *v, *next;
		size_t i;
		snprintf(path, sizeof path, "/api/v1/bookings?limit=100%s%s",
		         cursor[0] ? "&cursor=" : "", cursor);
		hc_do(boss, "GET", path, NULL, NULL, &r);
		EXPECT(r, 200, NULL);
		assert_true(json_array_size(jget(r.json, "bookings")) <= 100);
		json_array_foreach(jget(r.json, "bookings"), i, v)
		{
			long long id = json_integer_value(json_object_get(v, "id"));
			if (!first && id >= last)
				fail_msg("booking %lld after %lld: not newest first, or seen twice",
				         id, last);
			last = id;
			first = 0;
			seen++;
		}
		next = jget(r.json, "next");
		snprintf(cursor, sizeof cursor, "%s",
		         json_is_string(next) ? json_string_value(next) : "");
		hres_free(&r);
	} while (cursor[0]);
	assert_int_equal(seen, total);
	/* bad paging parameters are 400 */
	hc_do(boss, "GET", "/api/v1/bookings?limit=0", NULL, NULL, &r);
	EXPECT(r, 400, "bad_request");
	hres_free(&r);
	hc_do(boss, "GET", "/api/v1/bookings?cursor=abc", NULL, NULL, &r);
	EXPECT(r, 400, "bad_request");
	hres_free(&r);
	hc_free(m);
	hc_free(mgr);
	hc_free(boss);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(hold_read_list_and_cancel),
	    cmocka_unit_test(retries_are_idempotent),
	    cmocka_unit_test(amount_follows_category_and_season),
	    cmocka_unit_test(stay_rules_are_422),
	    cmocka_unit_test(overlapping_second_booking_is_422),
	    cmocka_unit_test(last_unit_then_sold_out),
	    cmocka_unit_test(others_bookings_are_404),
	    cmocka_unit_test(guests_match_household_case_insensitively),
	    cmocka_unit_test(self_is_the_member_and_names_are_plain),
	    cmocka_unit_test(manager_list_filters_and_pages),
	};
	struct hx_opts o = {
	    .hold = "20m", .sweep_interval = "1s", .body_max = "64k", .members = 16};

	return hx_main(argc, argv, &o, "booking", tests, sizeof tests / sizeof tests[0]);
}
