/* Who may call each route, through the real server: every route of the table (estiva-server
 * --routes) is called as anonymous, a member, another member, the centre's manager, another
 * centre's manager, an admin and a gate, and each status is checked against the table's own rule. A
 * route without a case here fails the test. Also: a centre that does not exist, and ids that
 * request_id_param refuses, are 404. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define OUT_MAX 65536
#define MAX_ROUTES 128
#define MEMBER_A "200001" /* owns the booking the routes are called on (test-b) */
#define MEMBER_B "200003"
#define LOGIN_ACCOUNT "200005" /* the login route's body */
#define MANAGER_OTHER "mgr-a"  /* manages test-a only; HX_MANAGER manages test-b */
#define CENTRE "test-b"

enum caller { ANON, MEMBER, MEMBER2, MANAGER_HERE, MANAGER_ELSEWHERE, ADMIN, GATE, NCALLERS };

static const char *const caller_names[NCALLERS] = {
    "anonymous", "member", "another member", "manager of the centre", "manager of another centre",
    "admin",     "gate"};
/* the WHO word of --routes each caller is */
static const char *const caller_roles[NCALLERS] = {"anonymous", "member", "member", "manager",
                                                   "manager",   "admin",  "gate"};

/* A line of estiva-server --routes. */
struct route {
	char method[8], pattern[128], who[64], csrf[16], scope[16];
};

enum body_kind {
	NO_BODY,
	EMPTY_OBJECT,
	LOGIN_BODY,
	BOOKING_BODY,
	GATE_BODY,
	ENROLL_BODY,
	EVENTS_BODY
};

/* One case per route: what to send. fresh: each caller gets a client of its own for it (the route
 * changes the caller's session). */
static const struct acase {
	const char *method, *pattern;
	enum body_kind body;
	int fresh;
} cases[] = {
    {"POST", "/api/v1/session", LOGIN_BODY, 1},
    {"DELETE", "/api/v1/session", NO_BODY, 1},
    {"GET", "/api/v1/me", NO_BODY, 0},
    {"PATCH", "/api/v1/me", EMPTY_OBJECT, 0},
    {"POST", "/api/v1/me/password", EMPTY_OBJECT, 0},
    {"POST", "/api/v1/account/activate", EMPTY_OBJECT, 0},
    {"POST", "/api/v1/account/reset", EMPTY_OBJECT, 0},
    {"POST", "/api/v1/account/password", EMPTY_OBJECT, 0},
    {"POST", "/api/v1/account/email", EMPTY_OBJECT, 0},
    {"GET", "/api/v1/centres", NO_BODY, 0},
    {"GET", "/api/v1/centres/{centre}/availability", NO_BODY, 0},
    {"POST", "/api/v1/bookings", BOOKING_BODY, 0},
    {"GET", "/api/v1/bookings", NO_BODY, 0},
    {"GET", "/api/v1/bookings/{booking}", NO_BODY, 0},
    {"GET", "/api/v1/bookings/{booking}/cancel-quote", NO_BODY, 0},
    {"POST", "/api/v1/bookings/{booking}/payment", EMPTY_OBJECT, 0},
    {"GET", "/payments/{oid}/form", NO_BODY, 0},
    {"POST", "/payments/cmi/callback", NO_BODY, 0},
    {"GET", "/payments/ok", NO_BODY, 0},
    {"POST", "/payments/ok", NO_BODY, 0},
    {"GET", "/payments/fail", NO_BODY, 0},
    {"POST", "/payments/fail", NO_BODY, 0},
    {"GET", "/api/v1/bookings/{booking}/passes", NO_BODY, 0},
    {"GET", "/api/v1/passes/{pass.ext}", NO_BODY, 0},
    {"GET", "/passes/{pass}/print", NO_BODY, 0},
    {"GET", "/api/v1/bookings/{booking}/stay.ics", NO_BODY, 0},
    {"GET", "/receipts/{booking}/print", NO_BODY, 0},
    {"POST", "/api/v1/passes/{pass}/reissue", EMPTY_OBJECT, 0},
    {"POST", "/api/v1/bookings/{booking}/cancel", EMPTY_OBJECT, 0},
    {"GET", "/api/v1/manage/centres/{centre}/occupancy", NO_BODY, 0},
    {"GET", "/api/v1/manage/centres/{centre}/movements", NO_BODY, 0},
    {"GET", "/api/v1/manage/centres/{centre}/revenue", NO_BODY, 0},
    {"GET", "/api/v1/manage/centres/{centre}/onsite", NO_BODY, 0},
    {"POST", "/api/v1/manage/centres/{centre}/check", EMPTY_OBJECT, 0},
    {"GET", "/api/v1/admin/members", NO_BODY, 0},
    {"GET", "/api/v1/admin/keys", NO_BODY, 0},
    {"GET", "/api/v1/admin/mail", NO_BODY, 0},
    {"POST", "/api/v1/admin/mail/{message}/resend", EMPTY_OBJECT, 0},
    {"GET", "/api/v1/admin/gates", NO_BODY, 0},
    {"POST", "/api/v1/admin/gates", GATE_BODY, 0},
    {"POST", "/api/v1/admin/gates/{gate}/revoke", EMPTY_OBJECT, 0},
    {"POST", "/api/gate/v1/enroll", ENROLL_BODY, 0},
    {"POST", "/api/gate/v1/events", EVENTS_BODY, 0},
    {"GET", "/api/gate/v1/sync", NO_BODY, 0},
    {"POST", "/api/gate/v1/check", EMPTY_OBJECT, 0},
    {"GET", "/healthz", NO_BODY, 0},
    {"GET", "/metrics", NO_BODY, 0},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

static char out[OUT_MAX];
static struct hc *clients[NCALLERS];
static char gate_token[65];
static long long booking_id, pass_id, spare_gate;

#define admin(...) hx_admin_run(out, sizeof out, __VA_ARGS__)

/* ---- the table ---- */

static int read_routes(struct route *r, int max)
{
	char *argv[] = {(char *)hx_server_path(HX), "--routes", NULL};
	int n = 0;

	if (hx_exec(argv, NULL, out, sizeof out) != 0)
		fail_msg("estiva-server --routes failed: %s", out);
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		assert_true(n < max);
		if (sscanf(line, "%7s %127s %63s %15s %15s", r[n].method, r[n].pattern, r[n].who,
		           r[n].csrf, r[n].scope) != 5)
			fail_msg("estiva-server --routes: unreadable line \"%s\"", line);
		n++;
	}
	return n;
}

/* Is word one of the comma-separated words of list? */
static int has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] ? 1 : 0))
		if (strcspn(p, ",") == n && !strncmp(p, word, n))
			return 1;
	return 0;
}

/* The table's rule: 0 when the caller is let through to the handler, else the status that refuses
 * it: 401 without the credential the route needs (a session, or a gate's token), 403 for a role
 * outside the set, 404 for a centre outside the caller's scope. */
static int refusal(const struct route *r, enum caller c)
{
	if (has_word(r->who, "anonymous"))
		return 0;
	if (has_word(r->who, "gate"))
		return c == GATE ? 0 : 401;
	if (c == ANON || c == GATE)
		return 401;
	if (!has_word(r->who, caller_roles[c]))
		return 403;
	if (!strcmp(r->scope, "centre") && c == MANAGER_ELSEWHERE)
		return 404;
	return 0;
}

static const struct acase *case_of(const struct route *r)
{
	for (size_t i = 0; i < NCASES; i++)
		if (!strcmp(cases[i].method, r->method) && !strcmp(cases[i].pattern, r->pattern))
			return &cases[i];
	return NULL;
}

/* ---- the callers and the objects the routes are called on ---- */

static struct hc *client_for(enum caller c)
{
	static const char *const accounts[NCALLERS] = {
	    NULL, MEMBER_A, MEMBER_B, HX_MANAGER, MANAGER_OTHER, HX_ADMIN, NULL};

	return accounts[c] ? hc_login_ok(accounts[c]) : hc_new(HX);
}

static long long gate_add(const char *name, char *code, size_t n)
{
	long long id = 0;
	const char *p;

	if (admin("gate", "add", "--centre", CENTRE, "--name", name, NULL) != 0)
		fail_msg("gate add: %s", out);
	assert_int_equal(sscanf(out, "gate %lld", &id), 1);
	p = strstr(out, "\ncode ");
	assert_non_null(p);
	snprintf(code, n, "%.*s", (int)strcspn(p + 6, "\n"), p + 6);
	return id;
}

static void setup_world(void)
{
	char *argv[] = {(char *)hx_admin_path(HX),
	                "-c",
	                (char *)hx_conf_path(HX),
	                "add-user",
	                MANAGER_OTHER,
	                "--role",
	                "manager",
	                "--centre",
	                "test-a",
	                NULL};
	char id[32], code[32], body[64];
	struct hc *c;
	struct hres r;

	if (hx_exec(argv, HX_PASSWORD "\n", out, sizeof out) != 0)
		fail_msg("add-user %s: %s", MANAGER_OTHER, out);
	for (int i = 0; i < NCALLERS; i++)
		clients[i] = client_for((enum caller)i);

	/* a confirmed booking of MEMBER_A at the centre, with its passes */
	hc_book(clients[MEMBER], CENTRE, "room", 20, 23, HX_GUESTS_COUPLE, &r);
	EXPECT(r, 201, NULL);
	booking_id = jint(r.json, "id");
	hres_free(&r);
	snprintf(id, sizeof id, "%lld", booking_id);
	if (admin("confirm", id, NULL) != 0)
		fail_msg("confirm %s: %s", id, out);
	snprintf(body, sizeof body, "/api/v1/bookings/%lld/passes", booking_id);
	hc_do(clients[MEMBER], "GET", body, NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	pass_id = jint(r.json, "passes.0.id");
	assert_true(pass_id > 0);
	hres_free(&r);

	/* an enrolled gate of the centre (the gate caller), and one to revoke */
	gate_add("Access gate", code, sizeof code);
	c = hc_new(HX);
	snprintf(body, sizeof body, "{\"code\":\"%s\"}", code);
	hc_do(c, "POST", "/api/gate/v1/enroll", body, NULL, &r);
	EXPECT(r, 200, NULL);
	snprintf(gate_token, sizeof gate_token, "%s", jstr(r.json, "token"));
	hres_free(&r);
	hc_free(c);
	spare_gate = gate_add("Spare gate", code, sizeof code);
}

/* The pattern with its {NAME}s filled in. */
static void concrete_path(const char *pattern, char *path, size_t n)
{
	size_t k = 0;

	while (*pattern && k + 1 < n) {
		char v[64];
		size_t len;

		if (*pattern != '{') {
			path[k++] = *pattern++;
			continue;
		}
		len = strcspn(pattern, "}") + 1;
		if (!strncmp(pattern, "{centre}", len))
			snprintf(v, sizeof v, "%s", CENTRE);
		else if (!strncmp(pattern, "{booking}", len))
			snprintf(v, sizeof v, "%lld", booking_id);
		else if (!strncmp(pattern, "{pass}", len))
			snprintf(v, sizeof v, "%lld", pass_id);
		else if (!strncmp(pattern, "{pass.ext}", len))
			snprintf(v, sizeof v, "%lld.png", pass_id);
		else if (!strncmp(pattern, "{gate}", len))
			snprintf(v, sizeof v, "%lld", spare_gate);
		else if (!strncmp(pattern, "{message}", len))
			snprintf(v, sizeof v, "1"); /* the fixture's hold was told: outbox row 1 */
		else if (!strncmp(pattern, "{oid}", len))
			snprintf(v, sizeof v, "no-such-order");
		else
			fail_msg("%s: a parameter this test does not know", pattern);
		k += (size_t)snprintf(path + k, n - k, "%s", v);
		pattern += len;
	}
	path[k < n ? k : n - 1] = '\0';
}

static char *case_body(enum body_kind kind)
{
	char code[32], buf[256];
	static int gates;

	switch (kind) {
	case NO_BODY:
		return NULL;
	case EMPTY_OBJECT:
		return strdup("{}");
	case LOGIN_BODY:
		return strdup("{\"member\":\"" LOGIN_ACCOUNT "\",\"password\":\"" HX_PASSWORD
		              "\"}");
	case BOOKING_BODY:
		return hx_booking_body(CENTRE, "room", 40, 43, HX_GUESTS_COUPLE);
	case GATE_BODY:
		snprintf(buf, sizeof buf, "{\"centre\":\"%s\",\"name\":\"Added gate %d\"}", CENTRE,
		         ++gates);
		return strdup(buf);
	case ENROLL_BODY: /* a code of its own for each call: an enrolment uses it up */
		snprintf(buf, sizeof buf, "Enrol gate %d", ++gates);
		gate_add(buf, code, sizeof code);
		snprintf(buf, sizeof buf, "{\"code\":\"%s\"}", code);
		return strdup(buf);
	case EVENTS_BODY:
		return strdup("{\"events\":[]}");
	}
	return NULL;
}

/* ---- the tests ---- */

static void every_route_by_every_caller(void **state)
{
	static struct route routes[MAX_ROUTES];
	int n, failures = 0, calls = 0;

	(void)state;
	setup_world();
	n = read_routes(routes, MAX_ROUTES);
	assert_true(n > 0);
	for (int i = 0; i < n; i++)
		if (!case_of(&routes[i])) {
			fprintf(
			    stderr,
			    "FAIL: %s %s is in the route table but has no case in test_access.c\n",
			    routes[i].method, routes[i].pattern);
			failures++;
		}
	for (size_t i = 0; i < NCASES; i++) {
		int found = 0;
		for (int j = 0; j < n; j++)
			found |= !strcmp(cases[i].method, routes[j].method) &&
			         !strcmp(cases[i].pattern, routes[j].pattern);
		if (!found) {
			fprintf(stderr, "FAIL: the case %s %s has no route in the table\n",
			        cases[i].method, cases[i].pattern);
			failures++;
		}
	}
	if (failures)
		fail_msg("%d route(s) and case(s) do not match", failures);

	/* in the order of the cases: the ones that change what others use (cancel, revoke) come
	 * late */
	for (size_t i = 0; i < NCASES; i++) {
		const struct route *r = NULL;
		char path[256];

		for (int j = 0; j < n && !r; j++)
			if (!strcmp(cases[i].method, routes[j].method) &&
			    !strcmp(cases[i].pattern, routes[j].pattern))
				r = &routes[j];
		concrete_path(r->pattern, path, sizeof path);
		for (int c = 0; c < NCALLERS; c++) {
			struct hc *cl = cases[i].fresh ? client_for((enum caller)c) : clients[c];
			char key[40], *body = case_body(cases[i].body);
			struct hreq rq = {.idem = hx_key(key, sizeof key),
			                  .bearer = c == GATE ? gate_token : NULL};
			int want = refusal(r, (enum caller)c);
			const char *code;
			struct hres res;
			int ok;

			hc_do(cl, r->method, path, body, &rq, &res);
			calls++;
			code = hres_error(&res);
			if (want == 401)
				ok = res.status == 401 && code && !strcmp(code, "unauthenticated");
			else if (want == 403)
				ok = res.status == 403 && code && !strcmp(code, "forbidden");
			else if (want == 404)
				ok = res.status == 404 && code && !strcmp(code, "not_found");
			else
				ok = res.status != 0 && res.status != 401 && res.status != 403 &&
				     !(res.status == 404 && !strcmp(r->scope, "centre"));
			if (!ok) {
				char w[16];
				snprintf(w, sizeof w, "%d", want);
				fprintf(
				    stderr,
				    "FAIL: %s %s as %s (who %s, scope %s): got %ld %s, want %s\n",
				    r->method, path, caller_names[c], r->who, r->scope, res.status,
				    code ? code : "",
				    want ? w : "the handler (not 401, 403, or a scope 404)");
				failures++;
			}
			hres_free(&res);
			free(body);
			if (cases[i].fresh)
				hc_free(cl);
		}
	}
	fprintf(stderr, "access: %d routes, %d calls\n", n, calls);
	for (int c = 0; c < NCALLERS; c++)
		hc_free(clients[c]);
	if (failures)
		fail_msg("%d call(s) broke the route table's rule", failures);
}

/* A centre that does not exist is the same 404 as one out of scope; ids are strict decimal within
 * their bounds (no sign, no leading zero, no overflow), and a pass image needs its .png or .svg. */
static void unknown_centres_and_bad_ids(void **state)
{
	static const char *const paths[] = {
	    "/api/v1/centres/nowhere/availability?from=2030-01-01&to=2030-01-02",
	    "/api/v1/manage/centres/nowhere/occupancy",
	    "/api/v1/manage/centres/nowhere/onsite",
	    "/api/v1/bookings/0",
	    "/api/v1/bookings/007",
	    "/api/v1/bookings/+7",
	    "/api/v1/bookings/-7",
	    "/api/v1/bookings/7x",
	    "/api/v1/bookings/9223372036854775808",
	    "/api/v1/bookings/99999999999999999999",
	    "/api/v1/bookings/9223372036854775807", /* in bounds: no such booking */
	    "/api/v1/passes/1",
	    "/api/v1/passes/1.gif",
	    "/api/v1/passes/01.png",
	    "/api/v1/passes/4294967296.png",
	    "/passes/4294967296/print",
	};
	struct hc *boss = hc_login_ok(HX_ADMIN);
	struct hres r;

	(void)state;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		hc_do(boss, "GET", paths[i], NULL, NULL, &r);
		EXPECT(r, 404, "not_found");
		hres_free(&r);
	}
	hc_do(boss, "POST", "/api/v1/admin/gates/00/revoke", "{}", NULL, &r);
	EXPECT(r, 404, "not_found");
	hres_free(&r);
	/* the checks come after the caller's: anonymous is still 401 on a bad id */
	{
		struct hc *anon = hc_new(HX);
		hc_do(anon, "GET", "/api/v1/bookings/007", NULL, NULL, &r);
		EXPECT(r, 401, "unauthenticated");
		hres_free(&r);
		hc_free(anon);
	}
	hc_free(boss);
}

int main(int argc, char **argv)
{
	const struct hx_opts opts = {.members = 6};
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(every_route_by_every_caller),
	    cmocka_unit_test(unknown_centres_and_bad_ids),
	};

	return hx_main(argc, argv, &opts, "access", tests, sizeof(tests) / sizeof(tests[0]));
}
