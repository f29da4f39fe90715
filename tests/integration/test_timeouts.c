/* Session lifetimes: with idle = 10s and absolute = 14s (the server's minimum is 10s), a session
 * ends 10 s after its last request, and 14 s after the login however active it is. */
#include "harness.h"

#include <stdio.h>
#include <string.h>

static long me(struct hc *c)
{
	struct hres r;
	long st = hc_do(c, "GET", "/api/v1/me", NULL, NULL, &r);

	if (st == 401)
		EXPECT(r, 401, "unauthenticated");
	hres_free(&r);
	return st;
}

static void sessions_end_after_idle_and_absolute(void **state)
{
	/* times in seconds from the logins; the server counts whole seconds, so every check keeps
	 * at least a second away from a limit */
	struct hc *idle = hc_login_ok("200001");
	struct hc *busy = hc_login_ok("200002");

	hx_sleep_ms(6000); /* t = 6 */
	assert_int_equal(me(busy), 200);
	hx_sleep_ms(5000); /* t = 11: busy's last request was 5 s ago, idle's login 11 s ago */
	if (me(busy) != 200) {
		fprintf(stderr, "a session last used 5 s ago has ended (idle = 10s)\n");
		fail();
	}
	assert_int_equal(me(idle), 401);
	hx_sleep_ms(1500); /* t = 12.5 */
	assert_int_equal(me(busy), 200);
	hx_sleep_ms(2500); /* t = 15: used 2.5 s ago, but logged in more than 14 s ago */
	assert_int_equal(me(busy), 401);
	hc_free(idle);
	hc_free(busy);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(sessions_end_after_idle_and_absolute),
	};
	struct hx_opts o = {.hold = "20m",
	                    .sweep_interval = "1s",
	                    .body_max = "64k",
	                    .idle = "10s",
	                    .absolute = "14s",
	                    .members = 2};

	return hx_main(argc, argv, &o, "timeouts", tests, sizeof tests / sizeof tests[0]);
}
