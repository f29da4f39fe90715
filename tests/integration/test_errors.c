/* HTTP-level errors: unknown routes, wrong methods, oversized bodies refused before they are read,
 * wrong content types, malformed JSON; and the health and metrics endpoints. */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SMALL_BODY 3000 /* under body_max = 4k (set below), however k is read */

static void unknown_routes_are_404(void **state)
{
	static const char *const paths[] = {"/api/v1/nope", "/api/v2/centres",
	                                    "/api/v1/centres/test-a/nope", "/api/v1/bookings/1/x"};
	struct hc *c = hc_login_ok("200001");
	struct hc *anon = hc_new(HX);
	struct hres r;
	size_t i;

	for (i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		hc_do(c, "GET", paths[i], NULL, NULL, &r);
		EXPECT(r, 404, "not_found");
		hres_free(&r);
	}
	hc_do(anon, "GET", "/api/v1/nope", NULL, NULL, &r);
	assert_true(r.status == 404 || r.status == 401);
	assert_non_null(hres_error(&r));
	hres_free(&r);
	hc_free(anon);
	hc_free(c);
}

static void allow_has(const struct hres *r, const char *method)
{
	char allow[256];
	const char *p;
	size_t n = strlen(method);

	if (hres_header(r, "Allow", allow, sizeof allow) != 0) {
		fprintf(stderr, "%s: no Allow header\n", r->what);
		fail();
	}
	for (p = allow; (p = strstr(p, method)) != NULL; p += n)
		if ((p == allow || p[-1] == ' ' || p[-1] == ',') &&
		    (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
			return;
	fprintf(stderr, "%s: Allow: %s lacks %s\n", r->what, allow, method);
	fail();
}

static void wrong_methods_are_405_with_allow(void **state)
{
	struct hc *c = hc_login_ok("200001");
	struct hres r;

	hc_do(c, "DELETE", "/api/v1/centres", NULL, NULL, &r);
	EXPECT(r, 405, "method_not_allowed");
	allow_has(&r, "GET");
	hres_free(&r);

	hc_do(c, "PUT", "/api/v1/bookings", "{}", NULL, &r);
	EXPECT(r, 405, "method_not_allowed");
	allow_has(&r, "GET");
	allow_has(&r, "POST");
	hres_free(&r);

	hc_do(c, "GET", "/api/v1/bookings/1/cancel", NULL, NULL, &r);
	EXPECT(r, 405, "method_not_allowed");
	allow_has(&r, "POST");
	hres_free(&r);

	hc_do(c, "POST", "/api/v1/me", "{}", NULL, &r);
	EXPECT(r, 405, "method_not_allowed");
	allow_has(&r, "GET");
	hres_free(&r);
	hc_free(c);
}

/* Sends a request head announcing `length` body bytes and sends no body at all: the answer must
 * come from the Content-Length alone. Returns the response text (free it) or NULL on timeout. */
static char *head_only(const char *cookie, const char *csrf, size_t length)
{
	struct sockaddr_in sa;
	char req[2048], *resp = NULL;
	size_t got = 0, cap = 0;
	int fd, len;
	struct pollfd pfd;
	long deadline = (long)time(NULL) + 10;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)hx_port(HX));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	len = snprintf(req, sizeof req,
	               "POST /api/v1/bookings HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	               "Cookie: estiva_session=%s\r\nX-CSRF-Token: %s\r\n"
	               "Idempotency-Key: itest-413\r\nContent-Type: application/json\r\n"
	               "Content-Length: %zu\r\n\r\n",
	               hx_port(HX), cookie, csrf, length);
	assert_true(len > 0 && (size_t)len < sizeof req);
	assert_int_equal(send(fd, req, (size_t)len, MSG_NOSIGNAL), len);

	pfd.fd = fd;
	pfd.events = POLLIN;
	while ((long)time(NULL) < deadline) {
		ssize_t n;

		if (poll(&pfd, 1, 500) <= 0)
			continue;
		if (got + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			resp = realloc(resp, cap);
			assert_non_null(resp);
		}
		n = recv(fd, resp + got, cap - got - 1, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
		resp[got] = '\0';
		/* enough once the head and the JSON error are in */
		if (strstr(resp, "\r\n\r\n") && strchr(strstr(resp, "\r\n\r\n"), '}'))
			break;
	}
	close(fd);
	if (resp != NULL && got == 0) {
		free(resp);
		resp = NULL;
	}
	return resp;
}

static void oversized_body_is_413_before_it_is_read(void **state)
{
	struct hc *c = hc_login_ok("200001");
	char cookie[512];
	char *resp, *big;
	struct hres r;
	size_t n = 10 * 1024;
	struct hreq rq = {.idem = "itest-413-curl"};

	assert_int_equal(hc_session_cookie(c, cookie, sizeof cookie), 0);
	resp = head_only(cookie, hc_csrf(c), n);
	if (resp == NULL) {
		fprintf(stderr,
		        "no answer to a 10k Content-Length without a body: the server waits "
		        "to read it\n");
		fail();
	}
	if (strncmp(resp, "HTTP/1.1 413", 12) != 0 || strstr(resp, "body_too_large") == NULL) {
		fprintf(stderr, "want 413 body_too_large, got:\n%s\n", resp);
		free(resp);
		fail();
	}
	free(resp);

	/* the same through curl with a real 10k JSON body (curl sends Expect: 100-continue) */
	big = malloc(n + 1);
	assert_non_null(big);
	memset(big, ' ', n);
	memcpy(big, "{\"centre\":\"test-a\"", 18);
	big[n - 1] = '}';
	big[n] = '\0';
	hc_do(c, "POST", "/api/v1/bookings", big, &rq, &r);
	EXPECT(r, 413, "body_too_large");
	hres_free(&r);
	free(big);

	/* a body just under the cap is read (and refused for its content, not its size) */
	big = malloc(SMALL_BODY + 1);
	assert_non_null(big);
	memset(big, ' ', SMALL_BODY);
	memcpy(big, "{\"centre\":\"test-a\"", 18);
	big[SMALL_BODY - 1] = '}';
	big[SMALL_BODY] = '\0';
	rq.idem = "itest-413-small";
	hc_do(c, "POST", "/api/v1/bookings", big, &rq, &r);
	EXPECT(r, 400, "bad_request");
	hres_free(&r);
	free(big);

	/* and the server is still well */
	hc_do(c, "GET", "/api/v1/me", NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	hres_free(&r);
	hc_free(c);
}

static void non_json_body_is_415(void **state)
{
	struct hc *c = hc_login_ok("200001");
	struct hres r;
	char *body = hx_booking_body("test-a", "chalet", 10, 12, HX_GUESTS_SELF);
	struct hreq text = {.idem = "itest-415", .content_type = "text/plain"};
	struct hreq form = {.idem = "itest-415b",
	                    .content_type = "application/x-www-form-urlencoded"};

	hc_do(c, "POST", "/api/v1/bookings", body, &text, &r);
	EXPECT(r, 415, "unsupported_media_type");
	hres_free(&r);
	hc_do(c, "POST", "/api/v1/bookings", body, &form, &r);
	EXPECT(r, 415, "unsupported_media_type");
	hres_free(&r);
	free(body);
	/* nothing booked */
	hc_do(c, "GET", "/api/v1/bookings", NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	assert_int_equal(json_array_size(jget(r.json, "bookings")), 0);
	hres_free(&r);

	/* JSON with a charset parameter is JSON */
	body = hx_booking_body("test-a", "chalet", 10, 12, HX_GUESTS_SELF);
	text.idem = "itest-415c";
	text.content_type = "application/json; charset=utf-8";
	hc_do(c, "POST", "/api/v1/bookings", body, &text, &r);
	EXPECT(r, 201, NULL);
	hres_free(&r);
	free(body);
	hc_free(c);
}

static void malformed_json_is_400(void **state)
{
	static const char *const bad[] = {"{\"centre\": \"test-a\",", "not json", "[1, 2",
	                                  "{\"centre\": \"test-a\"} trailing"};
	struct hc *c = hc_login_ok("200002");
	struct hres r;
	char key[64];
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct hreq rq = {.idem = hx_key(key, sizeof key)};

		hc_do(c, "POST", "/api/v1/bookings", bad[i], &rq, &r);
		EXPECT(r, 400, "bad_json");
		hres_free(&r);
	}
	/* valid JSON, missing or malformed fields */
	{
		struct hreq rq = {.idem = hx_key(key, sizeof key)};

		hc_do(c, "POST", "/api/v1/bookings",
		      "{\"centre\":\"test-a\",\"unit_type\":\"chalet\",\"guests\":[]}", &rq, &r);
		EXPECT(r, 400, "bad_request");
		hres_free(&r);
		rq.idem = hx_key(key, sizeof key);
		hc_do(c, "POST", "/api/v1/bookings",
		      "{\"centre\":\"test-a\",\"unit_type\":\"chalet\",\"arrival\":\"soon\","
		      "\"departure\":\"2030-01-01\",\"guests\":[]}",
		      &rq, &r);
		EXPECT(r, 400, "bad_request");
		hres_free(&r);
	}
	hc_free(c);
}

static void health_and_metrics(void **state)
{
	struct hc *c = hc_new(HX);
	struct hres r;

	hc_do(c, "GET", "/healthz", NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JSTR(r.json, "status", "ok");
	hres_free(&r);
	hc_do(c, "GET", "/metrics", NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	assert_non_null(strstr(r.body, "estiva_http_requests_total"));
	assert_non_null(strstr(r.body, "estiva_holds_expired_total"));
	hres_free(&r);
	hc_free(c);
}

/* Sends req as it is and returns what the server answers (free it), at most 5 s. */
static char *raw_exchange(const char *req)
{
	struct sockaddr_in sa;
	char *resp = calloc(1, 16384);
	size_t got = 0;
	int fd;
	struct pollfd pfd;
	long deadline = (long)time(NULL) + 5;

	assert_non_null(resp);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)hx_port(HX));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
	pfd.fd = fd;
	pfd.events = POLLIN;
	while ((long)time(NULL) < deadline && got < 16383) {
		ssize_t n;
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		n = recv(fd, resp + got, 16383 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (strstr(resp, "\r\n\r\n") && strstr(resp, "}"))
			break;
	}
	close(fd);
	return resp;
}

/* Two Content-Lengths (request smuggling through a proxy), or HTTP/1.1 without Host: 400. */
static void ambiguous_requests_are_400(void **state)
{
	char req[512], *resp;

	(void)state;
	snprintf(req, sizeof req,
	         "POST /api/v1/session HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: "
	         "application/json\r\n"
	         "Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}",
	         hx_port(HX));
	resp = raw_exchange(req);
	if (strncmp(resp, "HTTP/1.1 400", 12) || !strstr(resp, "more than one Content-Length"))
		fail_msg("two Content-Lengths: %s", resp);
	free(resp);
	resp = raw_exchange("GET /api/v1/centres HTTP/1.1\r\n\r\n");
	if (strncmp(resp, "HTTP/1.1 400", 12))
		fail_msg("no Host: %s", resp);
	free(resp);
	/* Content-Length and chunked at once (the classic smuggling pair), and an empty Host */
	snprintf(req, sizeof req,
	         "POST /api/v1/session HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: "
	         "application/json\r\nContent-Length: 2\r\nTransfer-Encoding: "
	         "chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
	         hx_port(HX));
	resp = raw_exchange(req);
	if (strncmp(resp, "HTTP/1.1 400", 12) || !strstr(resp, "not both"))
		fail_msg("Content-Length with Transfer-Encoding: %s", resp);
	free(resp);
	resp = raw_exchange("GET /api/v1/centres HTTP/1.1\r\nHost:\r\n\r\n");
	if (strncmp(resp, "HTTP/1.1 400", 12))
		fail_msg("an empty Host: %s", resp);
	free(resp);
	/* HTTP/1.0 needs no Host */
	resp = raw_exchange("GET /api/v1/centres HTTP/1.0\r\n\r\n");
	if (strncmp(resp, "HTTP/1.0 200", 12) && strncmp(resp, "HTTP/1.1 200", 12))
		fail_msg("HTTP/1.0 without Host: %s", resp);
	free(resp);
}

/* A path with an encoded line break cannot forge a line of the request log. */
static void paths_cannot_forge_log_lines(void **state)
{
	struct hc *c = hc_new(HX);
	struct hres r;
	char log[65536] = "";
	FILE *f;
	size_t n;

	(void)state;
	hc_do(c, "GET",
	      "/api/v1/x%0A2026-12-04T02:40:00.000Z%20info%20POST%20/api/v1/admin/"
	      "gates%20201%201.0ms%1B[2J",
	      NULL, NULL, &r);
	EXPECT(r, 404, NULL);
	hres_free(&r);
	hx_sleep_ms(200);
	f = fopen(hx_log_path(HX), "r");
	assert_non_null(f);
	n = fread(log, 1, sizeof log - 1, f);
	log[n] = '\0';
	fclose(f);
	if (strstr(log, "\n2026-12-04T02:40:00.000Z info POST /api/v1/admin/gates 201"))
		fail_msg("a forged log line:\n%s", log);
	assert_non_null(strstr(log, "/api/v1/x%0A2026-12-04T02:40:00.000Z%20info"));
	assert_null(strchr(log, 0x1b));
	hc_free(c);
}

/* A 401 says how to authenticate: a session for people, a bearer token for gates. */
static void unauthorised_says_how(void **state)
{
	struct hc *c = hc_new(HX);
	struct hres r;

	(void)state;
	hc_do(c, "GET", "/api/v1/me", NULL, NULL, &r);
	EXPECT(r, 401, NULL);
	if (!strstr(r.headers, "WWW-Authenticate: Session realm=\"estiva\""))
		fail_msg("no WWW-Authenticate on a 401: %s", r.headers);
	hres_free(&r);
	hc_do(c, "GET", "/api/gate/v1/sync", NULL, NULL, &r);
	EXPECT(r, 401, NULL);
	if (!strstr(r.headers, "WWW-Authenticate: Bearer realm=\"estiva-gate\""))
		fail_msg("no Bearer challenge on the gate API: %s", r.headers);
	hres_free(&r);
	hc_free(c);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(unknown_routes_are_404),
	    cmocka_unit_test(wrong_methods_are_405_with_allow),
	    cmocka_unit_test(oversized_body_is_413_before_it_is_read),
	    cmocka_unit_test(non_json_body_is_415),
	    cmocka_unit_test(malformed_json_is_400),
	    cmocka_unit_test(health_and_metrics),
	    cmocka_unit_test(ambiguous_requests_are_400),
	    cmocka_unit_test(unauthorised_says_how),
	    cmocka_unit_test(paths_cannot_forge_log_lines),
	};
	struct hx_opts o = {.hold = "20m", .sweep_interval = "1s", .body_max = "4k", .members = 3};

	return hx_main(argc, argv, &o, "errors", tests, sizeof tests / sizeof tests[0]);
}
