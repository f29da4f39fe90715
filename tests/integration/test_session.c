/* Sessions over HTTP: login, the session cookie, /me, logout, CSRF and login rate limiting. */
#include "harness.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Is `attr` one of the ';'-separated attributes of a Set-Cookie value (case-insensitive)? */
static int cookie_has(const char *set_cookie, const char *attr)
{
	const char *p = strchr(set_cookie, ';');
	size_t n = strlen(attr);

	while (p != NULL) {
		p++;
		while (*p == ' ')
			p++;
		if (strncasecmp(p, attr, n) == 0 && (p[n] == ';' || p[n] == '\0' || p[n] == ' '))
			return 1;
		p = strchr(p, ';');
	}
	return 0;
}

static void login_ok_sets_strict_session_cookie(void **state)
{
	struct hc *c = hc_new(HX);
	struct hres r;
	char sc[1024];
	const char *tok;
	size_t i;

	hc_login(c, "200001", HX_PASSWORD, &r);
	EXPECT(r, 200, NULL);
	tok = jstr(r.json, "csrf_token");
	assert_non_null(tok);
	assert_int_equal(strlen(tok), 64);
	for (i = 0; i < 64; i++)
		assert_true(isxdigit((unsigned char)tok[i]));
	ASSERT_JSTR(r.json, "role", "member");
	ASSERT_JSTR(r.json, "member", "200001");
	assert_true(json_is_null(jget(r.json, "user")));

	assert_int_equal(hres_header(&r, "Set-Cookie", sc, sizeof sc), 0);
	assert_int_equal(strncmp(sc, "estiva_session=", 15), 0);
	assert_true(sc[15] != ';' && sc[15] != '\0'); /* a value */
	assert_true(cookie_has(sc, "HttpOnly"));
	assert_true(cookie_has(sc, "SameSite=Strict"));
	assert_true(cookie_has(sc, "Path=/"));
	assert_false(cookie_has(sc, "Secure")); /* plain HTTP here */
	hres_free(&r);

	/* the cookie is what authenticates: /me works on this client */
	hc_do(c, "GET", "/api/v1/me", NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	hres_free(&r);
	hc_free(c);
}

static void bad_password_and_unknown_member_are_401(void **state)
{
	struct hc *c = hc_new(HX);
	struct hres r;

	hc_login(c, "200003", "not-the-password", &r);
	EXPECT(r, 401, "bad_credentials");
	hres_free(&r);
	hc_do(c, "GET", "/api/v1/me", NULL, NULL, &r);
	EXPECT(r, 401, "unauthenticated");
	hres_free(&r);

	hc_login(c, "299999", HX_PASSWORD, &r);
	EXPECT(r, 401, "bad_credentials");
	hres_free(&r);
	hc_do(c, "GET", "/api/v1/me", NULL, NULL, &r);
	EXPECT(r, 401, "unauthenticated");
	hres_free(&r);
	hc_free(c);
}

static void login_body_errors_are_400(void **state)
{
	struct hc *c = hc_new(HX);
	struct hres r;
	struct hreq rq = {.csrf = ""};

	hc_do(c, "POST", "/api/v1/session", "{\"member\": \"200001\", ", &rq, &r);
	EXPECT(r, 400, "bad_json");
	hres_free(&r);
	hc_do(c, "POST", "/api/v1/session", "{\"member\": \"200001\"}", &rq, &r);
	EXPECT(r, 400, "bad_request");
	hres_free(&r);
	hc_free(c);
}

static void check_household(json_t *me, const char *name, const char *relation, int birth_year)
{
	json_t *h = jfind(me, "member.household", "name", name);

	if (h == NULL) {
		char *d = json_dumps(me, JSON_COMPACT);

		fprintf(stderr, "household member %s missing in %s\n", name, d ? d : "");
		free(d);
		fail();
	}
	ASSERT_JSTR(h, "relation", relation);
	if (birth_year > 0)
		ASSERT_JINT(h, "birth_year", birth_year);
	else
		assert_true(jget(h, "birth_year") == NULL || json_is_null(jget(h, "birth_year")));
}

static void me_returns_member_and_household(void **state)
{
	struct hc *c = hc_login_ok("200001");
	struct hres r;

	hc_do(c, "GET", "/api/v1/me", NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JSTR(r.json, "role", "member");
	ASSERT_JSTR(r.json, "member.number", "200001");
	ASSERT_JSTR(r.json, "member.first_name", "Karim");
	ASSERT_JSTR(r.json, "member.last_name", "Tester");
	ASSERT_JSTR(r.json, "member.first_name_ar", "كريم");
	ASSERT_JSTR(r.json, "member.last_name_ar", "المختبر");
	ASSERT_JSTR(r.json, "member.email", "m200001@example.ma");
	ASSERT_JSTR(r.json, "member.phone", "+212600200001");
	ASSERT_JSTR(r.json, "member.status", "active");
	ASSERT_JSTR(r.json, "member.category", "cat-a");
	check_household(r.json, "Amina", "spouse", 1982);
	check_household(r.json, "Youssef", "child", 2010);
	check_household(r.json, "Salma", "child", 2013);
	check_household(r.json, "Omar", "child", 2016);
	hres_free(&r);
	hc_free(c);

	/* the retired member: quoted last name with a comma, spouse without birth year */
	c = hc_login_ok(HX_RETIRED_MEMBER);
	hc_do(c, "GET", "/api/v1/me", NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JSTR(r.json, "member.number", HX_RETIRED_MEMBER);
	ASSERT_JSTR(r.json, "member.last_name", "Retraite, Senior");
	ASSERT_JSTR(r.json, "member.status", "retired");
	ASSERT_JSTR(r.json, "member.category", "retired");
	assert_int_equal(json_array_size(jget(r.json, "member.household")), 1);
	check_household(r.json, "Fatima", "spouse", 0);
	hres_free(&r);
	hc_free(c);
}

static void me_without_session_is_401(void **state)
{
	struct hc *c = hc_new(HX);
	struct hres r;
	struct hreq forged = {.cookie = "estiva_session=0123456789abcdef0123456789abcdef"};

	hc_do(c, "GET", "/api/v1/me", NULL, NULL, &r);
	EXPECT(r, 401, "unauthenticated");
	hres_free(&r);
	hc_do(c, "GET", "/api/v1/me", NULL, &forged, &r);
	EXPECT(r, 401, "unauthenticated");
	hres_free(&r);
	hc_free(c);
}

static void staff_login_and_me(void **state)
{
	struct hc *c = hc_new(HX);
	struct hres r;

	hc_login(c, HX_MANAGER, HX_PASSWORD, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JSTR(r.json, "role", "manager");
	ASSERT_JSTR(r.json, "user", HX_MANAGER);
	assert_true(json_is_null(jget(r.json, "member")));
	assert_int_equal(json_array_size(jget(r.json, "centres")), 1);
	ASSERT_JSTR(r.json, "centres.0", "test-b");
	hres_free(&r);
	hc_do(c, "GET", "/api/v1/me", NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JSTR(r.json, "role", "manager");
	ASSERT_JSTR(r.json, "user", HX_MANAGER);
	ASSERT_JSTR(r.json, "centres.0", "test-b");
	assert_int_equal(json_array_size(jget(r.json, "centres")), 1);
	hres_free(&r);
	hc_free(c);

	c = hc_new(HX);
	hc_login(c, HX_ADMIN, HX_PASSWORD, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JSTR(r.json, "role", "admin");
	ASSERT_JSTR(r.json, "user", HX_ADMIN);
	hres_free(&r);
	hc_login(c, HX_MANAGER, "wrong-password", &r);
	EXPECT(r, 401, "bad_credentials");
	hres_free(&r);
	hc_free(c);
}

static void logout_ends_the_session(void **state)
{
	struct hc *c = hc_login_ok("200004");
	struct hc *other = hc_new(HX);
	struct hres r;
	char value[512], cookie[600];
	struct hreq replay = {.cookie = cookie};

	assert_int_equal(hc_session_cookie(c, value, sizeof value), 0);
	snprintf(cookie, sizeof cookie, "estiva_session=%s", value);
	/* the cookie alone, sent from another client, is the session */
	hc_do(other, "GET", "/api/v1/me", NULL, &replay, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JSTR(r.json, "member.number", "200004");
	hres_free(&r);

	hc_do(c, "DELETE", "/api/v1/session", NULL, NULL, &r);
	EXPECT(r, 204, NULL);
	hres_free(&r);
	hc_do(c, "GET", "/api/v1/me", NULL, NULL, &r);
	EXPECT(r, 401, "unauthenticated");
	hres_free(&r);
	/* and the old cookie is dead on the server, not only dropped by the browser */
	hc_do(other, "GET", "/api/v1/me", NULL, &replay, &r);
	EXPECT(r, 401, "unauthenticated");
	hres_free(&r);
	hc_free(other);
	hc_free(c);
}

static void unsafe_requests_need_the_csrf_token(void **state)
{
	struct hc *c = hc_login_ok("200005");
	struct hc *d = hc_login_ok("200006");
	struct hres r;
	char key[64];
	char *body = hx_booking_body("test-a", "chalet", 10, 12, HX_GUESTS_SELF);
	struct hreq no_token = {.idem = hx_key(key, sizeof key), .csrf = ""};
	struct hreq wrong = {
	    .idem = key,
	    .csrf = "0000000000000000000000000000000000000000000000000000000000000000"};
	struct hreq foreign = {.idem = key, .csrf = hc_csrf(d)}; /* another session's token */

	assert_non_null(body);
	hc_do(c, "POST", "/api/v1/bookings", body, &no_token, &r);
	EXPECT(r, 403, "csrf");
	hres_free(&r);
	hc_do(c, "POST", "/api/v1/bookings", body, &wrong, &r);
	EXPECT(r, 403, "csrf");
	hres_free(&r);
	hc_do(c, "POST", "/api/v1/bookings", body, &foreign, &r);
	EXPECT(r, 403, "csrf");
	hres_free(&r);
	free(body);

	/* nothing was booked by the refused requests */
	hc_do(c, "GET", "/api/v1/bookings", NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	assert_true(json_is_array(jget(r.json, "bookings")));
	assert_int_equal(json_array_size(jget(r.json, "bookings")), 0);
	hres_free(&r);

	/* logout is unsafe too: refused without the token, and the session lives on */
	hc_do(c, "DELETE", "/api/v1/session", NULL, &(struct hreq){.csrf = ""}, &r);
	EXPECT(r, 403, "csrf");
	hres_free(&r);
	hc_do(c, "GET", "/api/v1/me", NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	hres_free(&r);
	hc_free(d);
	hc_free(c);
}

static void repeated_failures_are_slowed_down(void **state)
{
	struct hc *c = hc_new(HX);
	struct hres r;
	char ra[64];
	char *end;
	long secs;
	int i;

	for (i = 1; i <= 5; i++) {
		hc_login(c, "200009", "wrong-password", &r);
		EXPECT(r, 401, "bad_credentials");
		hres_free(&r);
	}
	hc_login(c, "200009", "wrong-password", &r);
	EXPECT(r, 429, "too_many_attempts");
	assert_int_equal(hres_header(&r, "Retry-After", ra, sizeof ra), 0);
	secs = strtol(ra, &end, 10);
	assert_true(end != ra && *end == '\0');
	assert_true(secs >= 1 && secs <= 900);
	hres_free(&r);

	/* while slowed down even the right password is refused: no oracle for guessing */
	hc_login(c, "200009", HX_PASSWORD, &r);
	EXPECT(r, 429, "too_many_attempts");
	hres_free(&r);

	/* after Retry-After one more try is heard; failing again doubles the wait */
	hx_sleep_ms((secs + 1) * 1000);
	hc_login(c, "200009", "wrong-password", &r);
	EXPECT(r, 401, "bad_credentials");
	hres_free(&r);
	hc_login(c, "200009", "wrong-password", &r);
	EXPECT(r, 429, "too_many_attempts");
	assert_int_equal(hres_header(&r, "Retry-After", ra, sizeof ra), 0);
	if (strtol(ra, NULL, 10) < 2 * secs - 1) {
		fprintf(stderr, "Retry-After %s after %ld: not doubling\n", ra, secs);
		fail();
	}
	hres_free(&r);

	/* other accounts from the same address are not locked out (9 failures < 20) */
	hc_login(c, "200010", HX_PASSWORD, &r);
	EXPECT(r, 200, NULL);
	hres_free(&r);
	hc_free(c);
}

static void many_failures_from_one_address_are_slowed_down(void **state)
{
	/* the tests above already failed 9 logins from 127.0.0.1; each of these accounts fails once
	 * only, so only the per-address limit (20) can stop them */
	struct hc *c = hc_new(HX);
	struct hres r;
	char account[16];
	int i, refused_401 = 0, slowed = 0;

	for (i = 0; i < 25 && !slowed; i++) {
		snprintf(account, sizeof account, "29%04d", i);
		hc_login(c, account, "wrong-password", &r);
		if (r.status == 429) {
			EXPECT(r, 429, "too_many_attempts");
			slowed = 1;
		} else {
			EXPECT(r, 401, "bad_credentials");
			refused_401++;
		}
		hres_free(&r);
	}
	assert_true(slowed);
	assert_true(refused_401 >= 8); /* not before the address limit */
	/* now the address is slowed down: a good login of an untouched account too */
	hc_login(c, "200008", HX_PASSWORD, &r);
	EXPECT(r, 429, "too_many_attempts");
	hres_free(&r);
	hc_free(c);
}

/* One account holds at most 10 sessions (a new login ends the oldest), and after 20 successful
 * logins in a quarter of an hour the next ones are slowed down (a stolen password used in a loop).
 */
static void sessions_per_account_are_capped(void **state)
{
	struct hc *c[12];
	struct hres r;

	(void)state;
	for (int i = 0; i < 11; i++)
		c[i] = hc_login_ok("200011");
	hc_do(c[0], "GET", "/api/v1/me", NULL, NULL, &r);
	EXPECT(r, 401, NULL); /* the oldest ended */
	hres_free(&r);
	for (int i = 1; i < 11; i++) {
		hc_do(c[i], "GET", "/api/v1/me", NULL, NULL, &r);
		EXPECT(r, 200, NULL);
		hres_free(&r);
	}
	for (int i = 11; i < 20; i++) {
		c[11] = hc_login_ok("200011");
		hc_free(c[11]);
	}
	c[11] = hc_new(HX);
	hc_login(c[11], "200011", HX_PASSWORD, &r); /* the 21st */
	EXPECT(r, 429, "too_many_attempts");
	hres_free(&r);
	for (int i = 0; i < 12; i++)
		hc_free(c[i]);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(login_ok_sets_strict_session_cookie),
	    cmocka_unit_test(bad_password_and_unknown_member_are_401),
	    cmocka_unit_test(login_body_errors_are_400),
	    cmocka_unit_test(me_returns_member_and_household),
	    cmocka_unit_test(me_without_session_is_401),
	    cmocka_unit_test(staff_login_and_me),
	    cmocka_unit_test(logout_ends_the_session),
	    cmocka_unit_test(unsafe_requests_need_the_csrf_token),
	    cmocka_unit_test(sessions_per_account_are_capped),
	    cmocka_unit_test(repeated_failures_are_slowed_down),
	    cmocka_unit_test(many_failures_from_one_address_are_slowed_down),
	};
	struct hx_opts o = {
	    .hold = "20m", .sweep_interval = "1s", .body_max = "64k", .members = 11};

	return hx_main(argc, argv, &o, "session", tests, sizeof tests / sizeof tests[0]);
}
