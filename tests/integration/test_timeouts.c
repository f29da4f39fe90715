/* Time and load limits. Session lifetimes: with idle = 10s and absolute = 14s (the server's minimum
 * is 10s), a session ends 10 s after its last request, and 14 s after the login however active it
 * is. A request that trickles in is cut off. A flood of logins fills the password-hashing pool (1
 * thread and 2 waiting here) and the rest are refused at once with 503, while other routes are
 * served. */
#include "harness.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

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

/* A client that trickles its request a byte at a time (never idle long enough for the idle timeout
 * of 20 s) is cut off once the whole request has taken request_timeout (3 s here); others are
 * served meanwhile. */
static void slow_requests_are_cut_off(void **state)
{
	static const char head[] = "GET /api/v1/centres HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
	                           "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	struct sockaddr_in sa = {0};
	struct hc *other = hc_new(HX);
	struct hres r;
	time_t start = time(NULL);
	int fd = socket(AF_INET, SOCK_STREAM, 0), closed = 0;
	size_t i;

	(void)state;
	assert_true(fd >= 0);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)hx_port(HX));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	for (i = 0; i < sizeof head - 1 && !closed; i++) {
		struct pollfd p = {fd, POLLIN, 0};
		char c;
		if (send(fd, head + i, 1, MSG_NOSIGNAL) != 1)
			closed = 1;
		/* one byte every 250 ms: 40+ bytes would take over 10 s */
		if (!closed && poll(&p, 1, 250) > 0 && recv(fd, &c, 1, 0) <= 0)
			closed = 1;
		if (i == 4) { /* meanwhile, another client is served */
			hc_do(other, "GET", "/api/v1/centres", NULL, NULL, &r);
			EXPECT(r, 200, NULL);
			hres_free(&r);
		}
	}
	close(fd);
	if (!closed)
		fail_msg("a request trickled for %lds was never cut off",
		         (long)(time(NULL) - start));
	assert_true(time(NULL) - start <= 8);
	assert_true(time(NULL) - start >= 2);
	hc_free(other);
}

/* 12 failed logins at once (under the 20 an address may fail before it is slowed down): the pool
 * holds 3, so some are answered 503 with Retry-After straight away; the others get their 401.
 * Meanwhile, and after, the server answers other routes, and a right password still logs in. */
#define FLOOD 12
static void login_flood_is_refused_not_queued(void **state)
{
	struct hc *c[FLOOD], *other = hc_new(HX);
	CURLM *m = curl_multi_init();
	struct hres r;
	int running = 1, busy = 0, refused = 0, i, msgs;
	CURLMsg *msg;
	char body[128], ra[16];

	(void)state;
	for (i = 0; i < FLOOD; i++) {
		c[i] = hc_new(HX);
		snprintf(body, sizeof body,
		         "{\"member\":\"29%04d\",\"password\":\"not-the-password\"}", i);
		assert_int_equal(hc_prepare(c[i], "POST", "/api/v1/session", body, NULL), 0);
		curl_multi_add_handle(m, hc_handle(c[i]));
	}
	while (running) {
		curl_multi_perform(m, &running);
		if (running)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	while ((msg = curl_multi_info_read(m, &msgs))) {
		for (i = 0; i < FLOOD && hc_handle(c[i]) != msg->easy_handle; i++)
			;
		assert_true(i < FLOOD);
		curl_multi_remove_handle(m, msg->easy_handle);
		hc_finish(c[i], msg->data.result, &r);
		if (r.status == 503) {
			EXPECT(r, 503, "busy");
			assert_int_equal(hres_header(&r, "Retry-After", ra, sizeof ra), 0);
			assert_true(atoi(ra) >= 1);
			busy++;
		} else {
			EXPECT(r, 401, "bad_credentials");
			refused++;
		}
		hres_free(&r);
	}
	curl_multi_cleanup(m);
	if (busy == 0)
		fail_msg("%d logins at once were all queued for hashing: none was refused with 503",
		         FLOOD);
	assert_true(refused >= 3); /* what the pool holds was checked */
	assert_int_equal(busy + refused, FLOOD);
	hc_do(other, "GET", "/api/v1/centres", NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	hres_free(&r);
	hc_login(other, "200001", HX_PASSWORD, &r);
	EXPECT(r, 200, NULL);
	hres_free(&r);
	for (i = 0; i < FLOOD; i++)
		hc_free(c[i]);
	hc_free(other);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(sessions_end_after_idle_and_absolute),
	    cmocka_unit_test(slow_requests_are_cut_off),
	    cmocka_unit_test(login_flood_is_refused_not_queued),
	};
	struct hx_opts o = {
	    .hold = "20m",
	    .sweep_interval = "1s",
	    .body_max = "64k",
	    .idle = "10s",
	    .absolute = "14s",
	    .members = 2,
	    .extra_conf = "[server]\nrequest_timeout = 3s\nhash_threads = 1\nhash_queue = 2\n"};

	return hx_main(argc, argv, &o, "timeouts", tests, sizeof tests / sizeof tests[0]);
}
