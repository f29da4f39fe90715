/* Hold expiry: with hold = 2s and sweep_interval = 1s, held bookings turn `expired` by the
 * server's own timer (no request touches them) and their units are free again. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOLD_S 2
#define WAIT_S 20 /* generous: hold + sweep is 3 s, ASan builds are slower */

static int64_t free_studio(struct hc *c, int offset)
{
	char path[256], d[16];
	struct hres r;
	int64_t v;

	hx_date(offset, d, sizeof d);
	snprintf(path, sizeof path, "/api/v1/centres/test-a/availability?from=%s&to=%s", d, d);
	hc_do(c, "GET", path, NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	v = jint(jfind(r.json, "unit_types", "id", "studio"), "nights.0.free");
	hres_free(&r);
	return v;
}

static int db_status(int64_t id, char *buf, size_t n)
{
	char sql[128];

	snprintf(sql, sizeof sql, "SELECT status FROM bookings WHERE id = %lld", (long long)id);
	return hx_db_text(sql, NULL, buf, n);
}

static void held_bookings_expire_by_themselves(void **state)
{
	struct hc *m[3];
	struct hc *late = hc_login_ok("200005");
	int64_t id[3];
	struct hres r;
	char status[32], path[128];
	int i, expired = 0;
	time_t start;
	long long value;

	for (i = 0; i < 3; i++) {
		char num[16];
		long long created, expires;

		m[i] = hc_login_ok(hx_member(i + 1, num, sizeof num));
		hc_book(m[i], "test-a", "studio", 10, 12,
		        i == 1 ? "[{\"name\":\"Ahmed\",\"relation\":\"self\"}]" : HX_GUESTS_SELF,
		        &r);
		EXPECT(r, 201, NULL);
		ASSERT_JSTR(r.json, "status", "held");
		id[i] = jint(r.json, "id");
		created = hx_instant(jstr(r.json, "created_at"));
		expires = hx_instant(jstr(r.json, "hold_expires_at"));
		assert_true(created > 0 && expires > 0);
		assert_true(expires - created >= HOLD_S - 1 && expires - created <= HOLD_S + 1);
		hres_free(&r);
	}
	/* right after the last hold it is held in the database too */
	assert_int_equal(db_status(id[2], status, sizeof status), 0);
	assert_string_equal(status, "held");
	hc_book(late, "test-a", "studio", 10, 12, HX_GUESTS_SELF, &r);
	EXPECT(r, 409, "sold_out");
	hres_free(&r);

	/* now only watch the database file: no HTTP request may trigger the expiry */
	start = time(NULL);
	while (time(NULL) - start < WAIT_S) {
		expired = 0;
		for (i = 0; i < 3; i++)
			if (db_status(id[i], status, sizeof status) == 0 &&
			    strcmp(status, "expired") == 0)
				expired++;
		if (expired == 3)
			break;
		hx_sleep_ms(200);
	}
	if (expired != 3) {
		fprintf(stderr, "after %d s only %d of 3 holds expired (last status %s)\n", WAIT_S,
		        expired, status);
		fail();
	}

	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "/api/v1/bookings/%lld", (long long)id[i]);
		hc_do(m[i], "GET", path, NULL, NULL, &r);
		EXPECT(r, 200, NULL);
		ASSERT_JSTR(r.json, "status", "expired");
		hres_free(&r);
	}
	snprintf(path, sizeof path, "/api/v1/bookings/%lld/cancel", (long long)id[0]);
	hc_do(m[0], "POST", path, "{}", NULL, &r);
	EXPECT(r, 409, "not_cancellable");
	hres_free(&r);

	/* the audit log records each expiry */
	{
		char sql[256];
		long long n = -1;

		snprintf(sql, sizeof sql,
		         "SELECT count(*) FROM audit WHERE entity = 'booking' AND action LIKE "
		         "'%%expire%%'"
		         " AND entity_id IN (%lld, %lld, %lld)",
		         (long long)id[0], (long long)id[1], (long long)id[2]);
		assert_int_equal(hx_db_int(sql, &n), 0);
		assert_int_equal(n, 3);
	}

	/* the units are free again */
	assert_int_equal(free_studio(late, 10), HX_STUDIO_UNITS);
	assert_int_equal(free_studio(late, 11), HX_STUDIO_UNITS);
	hc_book(late, "test-a", "studio", 10, 12, HX_GUESTS_SELF, &r);
	EXPECT(r, 201, NULL);
	hres_free(&r);

	/* and the metric counts them */
	hc_do(late, "GET", "/metrics", NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	{
		const char *p = strstr(r.body, "\nestiva_holds_expired_total ");

		assert_non_null(p);
		value = strtoll(p + strlen("\nestiva_holds_expired_total "), NULL, 10);
		assert_true(value >= 3);
	}
	hres_free(&r);

	for (i = 0; i < 3; i++)
		hc_free(m[i]);
	hc_free(late);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(held_bookings_expire_by_themselves),
	};
	struct hx_opts o = {.hold = "2s", .sweep_interval = "1s", .body_max = "64k", .members = 5};

	return hx_main(argc, argv, &o, "expiry", tests, sizeof tests / sizeof tests[0]);
}
