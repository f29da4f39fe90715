/* Race: many members fire the same booking at once (curl multi, every request in flight together):
 * exactly as many win as there are units, the rest get 409 sold_out, and the database never gives
 * one (unit, night) to two live bookings. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RACERS 40

static struct hc *racer[RACERS];
static int round2_winner[8]; /* racer indexes that won the staggered round */

/* One multi handle for the whole program: its connection pool keeps every racer's connection
 * open between rounds, so a round's requests all leave at once on warm connections. */
static CURLM *multi;

static int racer_index(struct hc *c)
{
	int i;

	for (i = 0; i < RACERS; i++)
		if (racer[i] == c)
			return i;
	return -1;
}

/* Performs every racer's prepared request together; res[i] gets racer i's answer. */
static void run_all(struct hres res[RACERS])
{
	int i, running = 0, left, done = 0;
	CURLMsg *msg;

	/* all handles in before anything is performed */
	for (i = 0; i < RACERS; i++)
		assert_int_equal(curl_multi_add_handle(multi, hc_handle(racer[i])), CURLM_OK);
	do {
		assert_int_equal(curl_multi_perform(multi, &running), CURLM_OK);
		if (running)
			assert_int_equal(curl_multi_poll(multi, NULL, 0, 1000, NULL), CURLM_OK);
	} while (running);
	while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
		struct hc *c = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		assert_int_equal(curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c),
		                 CURLE_OK);
		i = racer_index(c);
		assert_true(i >= 0);
		assert_int_equal(curl_multi_remove_handle(multi, msg->easy_handle), CURLM_OK);
		hc_finish(c, msg->data.result, &res[i]);
		done++;
	}
	assert_int_equal(done, RACERS);
}

/* Every racer posts its own booking at the same time; every answer must be 201 or 409 sold_out;
 * units[] and winners[] get the units won and the racers who won them. */
static void fire(const char *centre, const char *ut, int arrival, const int *stagger, int nights,
                 const char *guests, int *won, int *sold_out, char units[][8], int *winners)
{
	static struct hres res[RACERS];
	char *bodies[RACERS];
	char keys[RACERS][64];
	int i;

	*won = *sold_out = 0;
	/* warm up: one connection per racer, open and idle in the pool */
	for (i = 0; i < RACERS; i++)
		assert_int_equal(hc_prepare(racer[i], "GET", "/healthz", NULL, NULL), 0);
	run_all(res);
	for (i = 0; i < RACERS; i++) {
		EXPECT(res[i], 200, NULL);
		hres_free(&res[i]);
	}

	for (i = 0; i < RACERS; i++) {
		int a = arrival + (stagger ? stagger[i] : 0);
		struct hreq rq = {.idem = hx_key(keys[i], sizeof keys[i])};

		bodies[i] = hx_booking_body(centre, ut, a, a + nights, guests);
		assert_non_null(bodies[i]);
		assert_int_equal(hc_prepare(racer[i], "POST", "/api/v1/bookings", bodies[i], &rq),
		                 0);
	}
	run_all(res);
	for (i = 0; i < RACERS; i++) {
		struct hres *r = &res[i];

		if (r->status == 201) {
			const char *u = jstr(r->json, "unit");

			assert_true(*won < 8);
			snprintf(units[*won], 8, "%s", u ? u : "");
			winners[*won] = i;
			(*won)++;
		} else {
			EXPECT(*r, 409, "sold_out");
			(*sold_out)++;
		}
		hres_free(r);
		free(bodies[i]);
	}
}

static void assert_distinct(char units[][8], int n)
{
	int i, j;

	for (i = 0; i < n; i++) {
		assert_true(units[i][0] != '\0');
		for (j = 0; j < i; j++)
			if (strcmp(units[i], units[j]) == 0) {
				fprintf(stderr, "unit %s won twice\n", units[i]);
				fail();
			}
	}
}

static void log_everyone_in(void **state)
{
	int i;

	for (i = 0; i < RACERS; i++) {
		char num[16];

		racer[i] = hc_login_ok(hx_member(i + 1, num, sizeof num));
	}
	multi = curl_multi_init();
	assert_non_null(multi);
	assert_int_equal(curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)RACERS), CURLM_OK);
}

static void same_stay_exactly_three_win(void **state)
{
	char units[8][8];
	int won, sold_out, winners[8];

	fire("test-a", "studio", 30, NULL, 3, "[{\"name\":\"X\",\"relation\":\"self\"}]", &won,
	     &sold_out, units, winners);
	assert_int_equal(won, HX_STUDIO_UNITS);
	assert_int_equal(sold_out, RACERS - HX_STUDIO_UNITS);
	assert_distinct(units, won);
}

static void overlapping_stays_exactly_three_win(void **state)
{
	/* arrivals 50, 51, 52 with 3 nights: any two of these stays share a night, so each unit
	 * can go to one of them only */
	int stagger[RACERS];
	char units[8][8];
	int won, sold_out, i;

	for (i = 0; i < RACERS; i++)
		stagger[i] = i % 3;
	fire("test-a", "studio", 50, stagger, 3, "[{\"name\":\"X\",\"relation\":\"self\"}]", &won,
	     &sold_out, units, round2_winner);
	assert_int_equal(won, HX_STUDIO_UNITS);
	assert_int_equal(sold_out, RACERS - HX_STUDIO_UNITS);
	assert_distinct(units, won);
}

static void database_never_double_books(void **state)
{
	long long n;
	struct hc *c;
	struct hres r;
	char path[256], d1[16], d2[16];
	int offset;

	/* two live bookings on one unit with overlapping [arrival, departure) */
	assert_int_equal(hx_db_int("SELECT count(*) FROM bookings a JOIN bookings b "
	                           "ON a.unit = b.unit AND a.id < b.id "
	                           "WHERE a.status IN ('held', 'confirmed') "
	                           "AND b.status IN ('held', 'confirmed') "
	                           "AND a.arrival < b.departure AND b.arrival < a.departure",
	                           &n),
	                 0);
	assert_int_equal(n, 0);
	/* the per-night claims (booking_nights, see server/db.c) match the live bookings exactly */
	assert_int_equal(
	    hx_db_int("SELECT count(*) FROM booking_nights n JOIN bookings b "
	              "ON b.id = n.booking "
	              "WHERE b.status NOT IN ('held', 'confirmed') OR n.unit != b.unit",
	              &n),
	    0);
	assert_int_equal(n, 0);
	assert_int_equal(
	    hx_db_int("SELECT (SELECT count(*) FROM booking_nights) - "
	              "(SELECT coalesce(sum(julianday(departure) - julianday(arrival)), 0) "
	              "FROM bookings WHERE status IN ('held', 'confirmed'))",
	              &n),
	    0);
	assert_int_equal(n, 0);
	/* and exactly the winners are live */
	assert_int_equal(hx_db_int("SELECT count(*) FROM bookings "
	                           "WHERE status IN ('held', 'confirmed')",
	                           &n),
	                 0);
	assert_int_equal(n, 2 * HX_STUDIO_UNITS);

	/* the availability agrees: nothing left on the first raced stay; on the staggered one,
	 * each night has the units not taken by a winner's stay */
	c = racer[0];
	snprintf(path, sizeof path, "/api/v1/centres/test-a/availability?from=%s&to=%s",
	         hx_date(29, d1, sizeof d1), hx_date(55, d2, sizeof d2));
	hc_do(c, "GET", path, NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	for (offset = 29; offset <= 55; offset++) {
		int64_t want = HX_STUDIO_UNITS;
		json_t *night;
		int w;

		if (offset >= 30 && offset <= 32)
			want = 0;
		for (w = 0; w < HX_STUDIO_UNITS; w++) {
			int arr = 50 + round2_winner[w] % 3;

			if (offset >= arr && offset < arr + 3)
				want--;
		}
		hx_date(offset, d1, sizeof d1);
		night = jfind(jfind(r.json, "unit_types", "id", "studio"), "nights", "night", d1);
		assert_non_null(night);
		ASSERT_JINT(night, "free", want);
	}
	hres_free(&r);
}

static void log_everyone_out(void **state)
{
	int i;

	if (multi)
		assert_int_equal(curl_multi_cleanup(multi), CURLM_OK);
	multi = NULL;
	for (i = 0; i < RACERS; i++) {
		hc_free(racer[i]);
		racer[i] = NULL;
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(log_everyone_in),
	    cmocka_unit_test(same_stay_exactly_three_win),
	    cmocka_unit_test(overlapping_stays_exactly_three_win),
	    cmocka_unit_test(database_never_double_books),
	    cmocka_unit_test(log_everyone_out),
	};
	struct hx_opts o = {
	    .hold = "20m", .sweep_interval = "1s", .body_max = "64k", .members = RACERS};

	return hx_main(argc, argv, &o, "race", tests, sizeof tests / sizeof tests[0]);
}
