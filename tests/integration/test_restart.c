/* Restart: bookings made, the server stopped with SIGTERM (exit 0) and started again on the same
 * database: every booking is still there with the same fields, and the server goes on working. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NB 4

struct snap {
	const char *owner;
	int64_t id;
	json_t *booking;
};

static json_t *get_json(struct hc *c, const char *path)
{
	struct hres r;
	json_t *j;

	hc_do(c, "GET", path, NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	j = r.json;
	r.json = NULL;
	hres_free(&r);
	return j;
}

static void same_json(json_t *before, json_t *after, const char *what)
{
	if (!json_equal(before, after)) {
		char *a = json_dumps(before, JSON_COMPACT | JSON_SORT_KEYS);
		char *b = json_dumps(after, JSON_COMPACT | JSON_SORT_KEYS);

		fprintf(stderr, "%s changed across the restart:\nbefore %s\nafter  %s\n", what,
		        a ? a : "", b ? b : "");
		free(a);
		free(b);
		fail();
	}
}

static int64_t book(struct hc *c, const char *centre, const char *ut, int arr, int dep,
                    const char *guests)
{
	struct hres r;
	int64_t id;

	hc_book(c, centre, ut, arr, dep, guests, &r);
	EXPECT(r, 201, NULL);
	id = jint(r.json, "id");
	assert_true(id > 0);
	hres_free(&r);
	return id;
}

/* Free units of unit type ut on night `offset` in an availability answer. */
static int64_t free_in(json_t *avail, const char *ut, int offset)
{
	char d[16];
	json_t *n = jfind(jfind(avail, "unit_types", "id", ut), "nights", "night",
	                  hx_date(offset, d, sizeof d));

	assert_non_null(n);
	return jint(n, "free");
}

static void bookings_survive_a_restart(void **state)
{
	struct snap s[NB] = {{"200001", 0, NULL},
	                     {"200001", 0, NULL},
	                     {HX_RETIRED_MEMBER, 0, NULL},
	                     {"200003", 0, NULL}};
	struct hc *c[NB];
	json_t *list, *avail, *avail_b;
	char path[256], a[16], b[16], avail_path[256], avail_b_path[256];
	struct hres r;
	long long count, max_id = 0;
	int i;

	for (i = 0; i < NB; i++)
		c[i] = hc_login_ok(s[i].owner);
	s[0].id = book(c[0], "test-a", "chalet", 10, 13, HX_GUESTS_SELF);
	s[1].id = book(c[1], "test-a", "chalet", 20, 22, HX_GUESTS_COUPLE);
	s[2].id = book(c[2], "test-a", "studio", 10, 12,
	               "[{\"name\":\"Ahmed\",\"relation\":\"self\",\"birth_year\":1955}]");
	s[3].id = book(c[3], "test-b", "room", 10, 12, HX_GUESTS_COUPLE);
	snprintf(path, sizeof path, "/api/v1/bookings/%lld/cancel", (long long)s[1].id);
	hc_do(c[1], "POST", path, "{}", NULL, &r);
	EXPECT(r, 200, NULL);
	hres_free(&r);

	for (i = 0; i < NB; i++) {
		snprintf(path, sizeof path, "/api/v1/bookings/%lld", (long long)s[i].id);
		s[i].booking = get_json(c[i], path);
		if (s[i].id > max_id)
			max_id = s[i].id;
	}
	ASSERT_JSTR(s[1].booking, "status", "cancelled");
	ASSERT_JSTR(s[0].booking, "status", "held");
	list = get_json(c[0], "/api/v1/bookings");
	assert_int_equal(json_array_size(jget(list, "bookings")), 2);
	snprintf(avail_path, sizeof avail_path, "/api/v1/centres/test-a/availability?from=%s&to=%s",
	         hx_date(9, a, sizeof a), hx_date(22, b, sizeof b));
	snprintf(avail_b_path, sizeof avail_b_path,
	         "/api/v1/centres/test-b/availability?from=%s&to=%s", hx_date(9, a, sizeof a),
	         hx_date(13, b, sizeof b));
	avail = get_json(c[0], avail_path);
	avail_b = get_json(c[0], avail_b_path);
	/* what the snapshot says: held stays take a unit, the cancelled one gave it back */
	assert_int_equal(free_in(avail, "chalet", 10), HX_CHALET_UNITS - 1);
	assert_int_equal(free_in(avail, "chalet", 13), HX_CHALET_UNITS);
	assert_int_equal(free_in(avail, "chalet", 20), HX_CHALET_UNITS);
	assert_int_equal(free_in(avail, "studio", 11), HX_STUDIO_UNITS - 1);
	assert_int_equal(free_in(avail_b, "room", 10), HX_ROOM_UNITS - 1);
	for (i = 0; i < NB; i++)
		hc_free(c[i]);

	/* SIGTERM: a clean exit, and a sound database file behind it */
	assert_int_equal(hx_stop(HX), 0);
	assert_int_equal(hx_db_text("PRAGMA integrity_check", NULL, a, sizeof a), 0);
	assert_string_equal(a, "ok");
	assert_int_equal(hx_db_int("SELECT count(*) FROM bookings", &count), 0);
	assert_int_equal(count, NB);

	assert_int_equal(hx_start(HX), 0);
	for (i = 0; i < NB; i++)
		c[i] = hc_login_ok(s[i].owner);
	for (i = 0; i < NB; i++) {
		json_t *now;

		snprintf(path, sizeof path, "/api/v1/bookings/%lld", (long long)s[i].id);
		now = get_json(c[i], path);
		same_json(s[i].booking, now, path);
		json_decref(now);
	}
	{
		json_t *l2 = get_json(c[0], "/api/v1/bookings");
		json_t *a2 = get_json(c[0], avail_path);
		json_t *b2 = get_json(c[0], avail_b_path);

		same_json(list, l2, "GET /api/v1/bookings");
		same_json(avail, a2, "test-a availability");
		same_json(avail_b, b2, "test-b availability");
		json_decref(l2);
		json_decref(a2);
		json_decref(b2);
	}

	/* it goes on working: cancel after the restart, a new booking gets a new id */
	snprintf(path, sizeof path, "/api/v1/bookings/%lld/cancel", (long long)s[0].id);
	hc_do(c[0], "POST", path, "{}", NULL, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JSTR(r.json, "status", "cancelled");
	hres_free(&r);
	snprintf(path, sizeof path, "/api/v1/bookings/%lld/cancel", (long long)s[1].id);
	hc_do(c[1], "POST", path, "{}", NULL, &r);
	EXPECT(r, 409, "not_cancellable");
	hres_free(&r);
	assert_true(book(c[0], "test-a", "chalet", 10, 13, HX_GUESTS_SELF) > max_id);

	for (i = 0; i < NB; i++) {
		json_decref(s[i].booking);
		hc_free(c[i]);
	}
	json_decref(list);
	json_decref(avail);
	json_decref(avail_b);
}

static void second_restart_is_clean_too(void **state)
{
	struct hc *c;
	struct hres r;

	assert_int_equal(hx_stop(HX), 0);
	assert_int_equal(hx_start(HX), 0);
	c = hc_new(HX);
	hc_do(c, "GET", "/healthz", NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	hres_free(&r);
	hc_free(c);
	c = hc_login_ok("200001");
	hc_do(c, "GET", "/api/v1/bookings", NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	assert_int_equal(json_array_size(jget(r.json, "bookings")), 3);
	hres_free(&r);
	hc_free(c);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(bookings_survive_a_restart),
	    cmocka_unit_test(second_restart_is_clean_too),
	};
	struct hx_opts o = {.hold = "20m", .sweep_interval = "1s", .body_max = "64k", .members = 4};

	return hx_main(argc, argv, &o, "restart", tests, sizeof tests / sizeof tests[0]);
}
