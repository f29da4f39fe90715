/* The server's online check (docs/sync.md, "Online check") through the real programs: the gate's
 * route and the staff's, with the gates' own rules (shared/decide.c) over the server's database:
 * a valid pass, forged and altered passes, another centre's, a revoked one, one not valid yet,
 * anti-passback against uploaded scans, tag binding, bad bodies and who may ask. */
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "pass.h"

#define OUT_MAX 65536
#define GRACE 4320 /* three days: a stay starting tomorrow is valid now */

struct gate_id {
	char token[65];
};

static char out[OUT_MAX];

/* ---- helpers ---- */

#define admin(...) hx_admin_run(out, sizeof out, __VA_ARGS__)

static long long db_int(const char *sql)
{
	long long v = -1;

	assert_int_equal(hx_db_int(sql, &v), 0);
	return v;
}

/* A new enrolled gate of the centre (its id into *id when not NULL). */
static struct gate_id gate_new(const char *centre, const char *name, long long *id)
{
	struct gate_id g;
	char code[32];
	const char *p;
	struct hc *c;
	struct hres r;
	json_t *b;
	char *body;

	if (admin("gate", "add", "--centre", centre, "--name", name, NULL) != 0)
		fail_msg("gate add: %s", out);
	if (id)
		assert_int_equal(sscanf(out, "gate %lld", id), 1);
	p = strstr(out, "\ncode ");
	assert_non_null(p);
	snprintf(code, sizeof code, "%.*s", (int)strcspn(p + 6, "\n"), p + 6);
	c = hc_new(HX);
	b = json_pack("{s:s}", "code", code);
	body = json_dumps(b, JSON_COMPACT);
	hc_do(c, "POST", "/api/gate/v1/enroll", body, NULL, &r);
	free(body);
	json_decref(b);
	hc_free(c);
	EXPECT(r, 200, NULL);
	snprintf(g.token, sizeof g.token, "%s", jstr(r.json, "token"));
	assert_int_equal(strlen(g.token), 64);
	hres_free(&r);
	return g;
}

static struct hc *member(int i)
{
	char num[16];

	return hc_login_ok(hx_member(i, num, sizeof num));
}

/* A booking of member i confirmed with estiva-admin (passes issued); its id, and the token and id
 * of its first pass. */
static long long confirmed_booking(int i, const char *centre, const char *type, int arrival,
                                   const char *guests, char *token, size_t n, long long *pass)
{
	struct hc *c = member(i);
	struct hres r;
	char id[32], path[96];
	long long bid;

	hc_book(c, centre, type, arrival, arrival + 3, guests, &r);
	EXPECT(r, 201, NULL);
	bid = jint(r.json, "id");
	hres_free(&r);
	snprintf(id, sizeof id, "%lld", bid);
	if (admin("confirm", id, NULL) != 0)
		fail_msg("estiva-admin confirm %s: %s", id, out);
	snprintf(path, sizeof path, "/api/v1/bookings/%lld/passes", bid);
	hc_do(c, "GET", path, NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	assert_non_null(jstr(r.json, "passes.0.token"));
	snprintf(token, n, "%s", jstr(r.json, "passes.0.token"));
	if (pass)
		*pass = jint(r.json, "passes.0.id");
	hres_free(&r);
	hc_free(c);
	return bid;
}

/* The check body: token, direction, and policy / grace / nfc_uid when given (NULL / -1). */
static char *check_body(const char *token, const char *dir, const char *policy, int grace,
                        const char *uid)
{
	json_t *b = json_pack("{s:s,s:s}", "token", token, "direction", dir);
	char *s;

	if (policy)
		json_object_set_new(b, "policy", json_string(policy));
	if (grace >= 0)
		json_object_set_new(b, "grace_minutes", json_integer(grace));
	json_object_set_new(b, "nfc_uid", uid ? json_string(uid) : json_null());
	s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	return s;
}

static long gate_post(const char *token, const char *path, const char *body, struct hres *r)
{
	struct hc *c = hc_new(HX);
	struct hreq rq = {.bearer = token};
	long st = hc_do(c, "POST", path, body, &rq, r);

	hc_free(c);
	return st;
}

/* A gate's check: expects 200 with this decision and reason; r stays the caller's. */
static void gate_check_r(const struct gate_id *g, const char *token, const char *dir,
                         const char *policy, int grace, const char *uid, const char *decision,
                         const char *reason, struct hres *r)
{
	char *body = check_body(token, dir, policy, grace, uid);

	gate_post(g->token, "/api/gate/v1/check", body, r);
	free(body);
	EXPECT(*r, 200, NULL);
	ASSERT_JSTR(r->json, "decision", decision);
	ASSERT_JSTR(r->json, "reason", reason);
	assert_non_null(jstr(r->json, "message_fr"));
	assert_non_null(jstr(r->json, "message_ar"));
	assert_true(hx_instant(jstr(r->json, "server_time")) > 0);
}

static void gate_check(const struct gate_id *g, const char *token, const char *dir,
                       const char *policy, int grace, const char *uid, const char *decision,
                       const char *reason)
{
	struct hres r;

	gate_check_r(g, token, dir, policy, grace, uid, decision, reason, &r);
	hres_free(&r);
}

static const char *iso_now(char *buf, size_t n)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

/* Uploads one admitted scan of the pass through /api/gate/v1/events. */
static void upload_admit(const struct gate_id *g, long long pass, const char *dir)
{
	static unsigned counter;
	char id[33], when[32], *body;
	struct hres r;
	json_t *b;

	snprintf(id, sizeof id, "c0%06x%08x%016llx", (unsigned)getpid() & 0xffffff, ++counter,
	         (unsigned long long)time(NULL));
	b = json_pack("{s:[{s:s,s:I,s:s,s:s,s:s,s:s,s:i,s:b}]}", "events", "id", id, "pass", pass,
	              "direction", dir, "decision", "admit", "reason", "ok", "at",
	              iso_now(when, sizeof when), "seq", (int)counter, "offline", 0);
	body = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	gate_post(g->token, "/api/gate/v1/events", body, &r);
	free(body);
	EXPECT(r, 200, NULL);
	assert_int_equal(json_array_size(jget(r.json, "stored")), 1);
	hres_free(&r);
}

/* Changes the Base45 digit at i by one without leaving the alphabet's valid values: the first
 * digit of a group is its least significant one, and no group whose first digit is 0 is 65535. */
static void alter_digit(char *token, size_t i)
{
	token[i] = token[i] == '0' ? '1' : '0';
}

/* ---- tests ---- */

static void valid_pass(void **state)
{
	struct gate_id g = gate_new("test-a", "Check main", NULL);
	char token[256];
	struct hres r;
	long long events = db_int("SELECT COUNT(*) FROM gate_events");

	(void)state;
	confirmed_booking(1, "test-a", "chalet", 1, HX_GUESTS_COUPLE, token, sizeof token, NULL);
	gate_check_r(&g, token, "in", NULL, GRACE, NULL, "admit", "ok", &r);
	ASSERT_JSTR(r.json, "guest_name", "Karim Tester");
	ASSERT_JSTR(r.json, "direction", "in");
	assert_non_null(jstr(r.json, "unit"));
	assert_int_equal(jstr(r.json, "unit")[0], 'A');
	assert_true(jint(r.json, "pass") > 0);
	hres_free(&r);
	/* the same again: the check recorded nothing, so no anti-passback either */
	gate_check(&g, token, "in", "strict", GRACE, NULL, "admit", "ok");
	/* an exit of a pass never seen inside: strict denies, warn admits with the warning */
	gate_check(&g, token, "out", NULL, GRACE, NULL, "deny", "not_inside");
	gate_check(&g, token, "out", "warn", GRACE, NULL, "admit", "not_inside");
	gate_check(&g, token, "out", "off", GRACE, NULL, "admit", "ok");
	/* "both" goes in when the record says outside */
	gate_check_r(&g, token, "both", NULL, GRACE, NULL, "admit", "ok", &r);
	ASSERT_JSTR(r.json, "direction", "in");
	hres_free(&r);
	/* an NFC read of a pass bound to no tag is fine */
	gate_check(&g, token, "in", NULL, GRACE, "04a1b2c3d4e5f6", "admit", "ok");
	assert_int_equal(db_int("SELECT COUNT(*) FROM gate_events"), events);
}

static void forged_and_altered(void **state)
{
	struct gate_id g = gate_new("test-a", "Check forged", NULL);
	char token[256], bad[256];
	unsigned char pk[32], sk[64];
	struct pass p;
	struct hres r;
	size_t n;

	(void)state;
	assert_true(sodium_init() >= 0);
	confirmed_booking(3, "test-a", "chalet", 1, HX_GUESTS_COUPLE, token, sizeof token, NULL);
	n = strlen(token);
	assert_int_equal(pass_parse_text(token, n, &p), PASS_OK);

	/* a signed field changed (the booking number's low bytes: Base45 group 4) */
	snprintf(bad, sizeof bad, "%s", token);
	alter_digit(bad, PASS_PREFIX_LEN + 3 * 4);
	gate_check(&g, bad, "in", NULL, GRACE, NULL, "deny", "bad_signature");
	/* the signature changed (the last group) */
	snprintf(bad, sizeof bad, "%s", token);
	alter_digit(bad, n - 3);
	gate_check(&g, bad, "in", NULL, GRACE, NULL, "deny", "bad_signature");
	/* a pass made with another key under the server's key id, and under an unknown id */
	crypto_sign_keypair(pk, sk);
	assert_int_equal(pass_sign_text(&p, sk, bad, sizeof bad), PASS_OK);
	gate_check_r(&g, bad, "in", NULL, GRACE, NULL, "deny", "bad_signature", &r);
	assert_true(json_is_null(jget(r.json, "guest_name")));
	hres_free(&r);
	p.key_id = p.key_id == 200 ? 201 : 200;
	assert_int_equal(pass_sign_text(&p, sk, bad, sizeof bad), PASS_OK);
	gate_check(&g, bad, "in", NULL, GRACE, NULL, "deny", "unknown_key");
	/* not a pass at all */
	gate_check(&g, "hello world", "in", NULL, GRACE, NULL, "deny", "bad_format");
	gate_check(&g, "", "in", NULL, GRACE, NULL, "deny", "bad_format");
	snprintf(bad, sizeof bad, "%s", token);
	bad[n - 1] = '\0';
	gate_check(&g, bad, "in", NULL, GRACE, NULL, "deny", "bad_format");
	/* also through the NFC path */
	snprintf(bad, sizeof bad, "%s", token);
	alter_digit(bad, PASS_PREFIX_LEN + 3 * 4);
	gate_check(&g, bad, "in", NULL, GRACE, "04a1b2c3", "deny", "bad_signature");
	sodium_memzero(sk, sizeof sk);
}

static void other_centre(void **state)
{
	struct gate_id ga = gate_new("test-a", "Check A", NULL);
	struct gate_id gb = gate_new("test-b", "Check B", NULL);
	char token[256];
	struct hres r;

	(void)state;
	confirmed_booking(4, "test-b", "room", 1, HX_GUESTS_COUPLE, token, sizeof token, NULL);
	gate_check_r(&ga, token, "in", NULL, GRACE, NULL, "deny", "other_centre", &r);
	assert_true(jint(r.json, "pass") > 0);
	hres_free(&r);
	gate_check_r(&gb, token, "in", NULL, GRACE, NULL, "admit", "ok", &r);
	assert_int_equal(jstr(r.json, "unit")[0], 'R');
	hres_free(&r);
}

static void revoked_pass(void **state)
{
	struct gate_id g = gate_new("test-a", "Check revoked", NULL);
	char token[256], path[96];
	struct hc *c;
	struct hres r;
	long long bid;

	(void)state;
	bid = confirmed_booking(5, "test-a", "chalet", 2, HX_GUESTS_COUPLE, token, sizeof token,
	                        NULL);
	gate_check(&g, token, "in", NULL, GRACE, NULL, "admit", "ok");
	snprintf(path, sizeof path, "/api/v1/bookings/%lld/cancel", bid);
	c = member(5);
	hc_do(c, "POST", path, "{}", NULL, &r);
	EXPECT(r, 200, NULL);
	hres_free(&r);
	hc_free(c);
	gate_check_r(&g, token, "in", NULL, GRACE, NULL, "deny", "revoked", &r);
	ASSERT_JSTR(r.json, "guest_name", "Karim Tester");
	hres_free(&r);
	/* a guest may always leave */
	gate_check(&g, token, "out", "off", GRACE, NULL, "admit", "ok");
}

static void not_yet_valid(void **state)
{
	struct gate_id g = gate_new("test-a", "Check early", NULL);
	char token[256];

	(void)state;
	confirmed_booking(6, "test-a", "chalet", 20, HX_GUESTS_COUPLE, token, sizeof token, NULL);
	gate_check(&g, token, "in", NULL, GRACE, NULL, "deny", "not_yet_valid");
	gate_check(&g, token, "in", NULL, -1, NULL, "deny", "not_yet_valid");
	/* a stay starting tomorrow: valid only with grace (0 unless given) */
	confirmed_booking(7, "test-a", "studio", 1, HX_GUESTS_SELF, token, sizeof token, NULL);
	gate_check(&g, token, "in", NULL, -1, NULL, "deny", "not_yet_valid");
	gate_check(&g, token, "in", NULL, 0, NULL, "deny", "not_yet_valid");
	gate_check(&g, token, "in", NULL, GRACE, NULL, "admit", "ok");
}

static void anti_passback(void **state)
{
	long long gid = 0;
	struct gate_id g = gate_new("test-a", "Check passback", &gid);
	struct gate_id g2 = gate_new("test-a", "Check passback 2", NULL);
	struct gate_id gb = gate_new("test-b", "Check passback B", NULL);
	char token[256];
	long long pass = 0;
	struct hres r;

	(void)state;
	confirmed_booking(8, "test-a", "chalet", 1, HX_GUESTS_COUPLE, token, sizeof token, &pass);
	gate_check(&g, token, "in", NULL, GRACE, NULL, "admit", "ok");
	upload_admit(&g, pass, "in");
	/* strict by default, from any gate of the centre */
	gate_check(&g, token, "in", NULL, GRACE, NULL, "deny", "already_inside");
	gate_check(&g2, token, "in", "strict", GRACE, NULL, "deny", "already_inside");
	gate_check(&g2, token, "in", "warn", GRACE, NULL, "admit", "inside_warning");
	gate_check(&g2, token, "in", "off", GRACE, NULL, "admit", "ok");
	gate_check(&g, token, "out", NULL, GRACE, NULL, "admit", "ok");
	gate_check_r(&g, token, "both", NULL, GRACE, NULL, "admit", "ok", &r);
	ASSERT_JSTR(r.json, "direction", "out");
	hres_free(&r);
	/* the staff desk sees the same */
	{
		struct hc *boss = hc_login_ok(HX_ADMIN);
		char *body = check_body(token, "in", NULL, GRACE, NULL);

		hc_do(boss, "POST", "/api/v1/manage/centres/test-a/check", body, NULL, &r);
		EXPECT(r, 200, NULL);
		ASSERT_JSTR(r.json, "decision", "deny");
		ASSERT_JSTR(r.json, "reason", "already_inside");
		hres_free(&r);
		free(body);
		hc_free(boss);
	}
	/* out again: then in is fine */
	upload_admit(&g2, pass, "out");
	gate_check(&g, token, "in", NULL, GRACE, NULL, "admit", "ok");
	gate_check(&g, token, "out", NULL, GRACE, NULL, "deny", "not_inside");
	/* the record is the centre's: the other centre's gate says other_centre anyway */
	gate_check(&gb, token, "in", NULL, GRACE, NULL, "deny", "other_centre");
	(void)gid;
}

static void tag_binding(void **state)
{
	struct gate_id g = gate_new("test-a", "Check tags", NULL);
	char token[256], sql[256];
	long long pass = 0;

	(void)state;
	confirmed_booking(9, "test-a", "chalet", 1, HX_GUESTS_COUPLE, token, sizeof token, &pass);
	snprintf(sql, sizeof sql, "UPDATE passes SET nfc_uid = x'04A1B2C3D4E5F6' WHERE id = %lld",
	         pass);
	hx_db_write(sql);
	gate_check(&g, token, "in", NULL, GRACE, "04a1b2c3d4e5f6", "admit", "ok");
	gate_check(&g, token, "in", NULL, GRACE, "04A1B2C3D4E5F7", "deny", "uid_mismatch");
	gate_check(&g, token, "in", NULL, GRACE, "04a1b2c3", "deny", "uid_mismatch");
	/* a QR copy of a tag-bound pass */
	gate_check(&g, token, "in", NULL, GRACE, NULL, "deny", "uid_mismatch");
}

static void access_rules(void **state)
{
	long long gid = 0;
	struct gate_id g = gate_new("test-a", "Check access", &gid);
	struct hc *anon = hc_new(HX), *mem = member(11), *mgr = hc_login_ok(HX_MANAGER),
	          *boss = hc_login_ok(HX_ADMIN);
	char token[256], id[32];
	char *body;
	struct hres r;
	struct hreq nocsrf = {.csrf = ""};
	static const char *bad_bodies[] = {
	    "{}",
	    "{\"token\":\"EV1:x\"}",
	    "{\"token\":5,\"direction\":\"in\"}",
	    "{\"token\":\"EV1:x\",\"direction\":\"sideways\"}",
	    "{\"token\":\"EV1:x\",\"direction\":\"in\",\"policy\":\"lax\"}",
	    "{\"token\":\"EV1:x\",\"direction\":\"in\",\"grace_minutes\":-1}",
	    "{\"token\":\"EV1:x\",\"direction\":\"in\",\"grace_minutes\":\"5\"}",
	    "{\"token\":\"EV1:x\",\"direction\":\"in\",\"grace_minutes\":100000}",
	    "{\"token\":\"EV1:x\",\"direction\":\"in\",\"nfc_uid\":\"zz\"}",
	    "{\"token\":\"EV1:x\",\"direction\":\"in\",\"nfc_uid\":\"04a1b2\"}",
	    "{\"token\":\"EV1:x\",\"direction\":\"in\",\"nfc_uid\":7}",
	    "[1]",
	    "{not json",
	};

	(void)state;
	confirmed_booking(10, "test-b", "room", 2, HX_GUESTS_COUPLE, token, sizeof token, NULL);
	body = check_body(token, "in", NULL, GRACE, NULL);

	/* the gate route: a bearer token, no session */
	hc_do(anon, "POST", "/api/gate/v1/check", body, NULL, &r);
	EXPECT(r, 401, "unauthenticated");
	hres_free(&r);
	gate_post("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
	          "/api/gate/v1/check", body, &r);
	EXPECT(r, 401, "bad_token");
	hres_free(&r);
	gate_post("nothex", "/api/gate/v1/check", body, &r);
	EXPECT(r, 401, "bad_token");
	hres_free(&r);
	for (size_t i = 0; i < sizeof bad_bodies / sizeof bad_bodies[0]; i++) {
		gate_post(g.token, "/api/gate/v1/check", bad_bodies[i], &r);
		if (r.status != 400)
			fail_msg("%s: %ld, not 400", bad_bodies[i], r.status);
		hres_free(&r);
		hc_do(boss, "POST", "/api/v1/manage/centres/test-a/check", bad_bodies[i], NULL, &r);
		if (r.status != 400)
			fail_msg("staff %s: %ld, not 400", bad_bodies[i], r.status);
		hres_free(&r);
	}
	{
		struct hc *c = hc_new(HX);
		struct hreq rq = {.bearer = g.token, .content_type = "text/plain"};

		hc_do(c, "POST", "/api/gate/v1/check", body, &rq, &r);
		EXPECT(r, 415, NULL);
		hres_free(&r);
		hc_free(c);
	}
	{
		struct hres r2;

		gate_post(g.token, "/api/gate/v1/check", body, &r2);
		EXPECT(r2, 200, NULL);
		ASSERT_JSTR(r2.json, "reason", "other_centre");
		hres_free(&r2);
	}

	/* the staff route: a session, CSRF; managers of the centre and admins */
	hc_do(anon, "POST", "/api/v1/manage/centres/test-b/check", body, NULL, &r);
	EXPECT(r, 401, "unauthenticated");
	hres_free(&r);
	hc_do(mem, "POST", "/api/v1/manage/centres/test-b/check", body, NULL, &r);
	EXPECT(r, 403, "forbidden");
	hres_free(&r);
	hc_do(mgr, "POST", "/api/v1/manage/centres/test-a/check", body, NULL, &r);
	EXPECT(r, 404, "not_found");
	hres_free(&r);
	hc_do(mgr, "POST", "/api/v1/manage/centres/nowhere/check", body, NULL, &r);
	EXPECT(r, 404, "not_found");
	hres_free(&r);
	hc_do(mgr, "POST", "/api/v1/manage/centres/test-b/check", body, &nocsrf, &r);
	EXPECT(r, 403, "csrf");
	hres_free(&r);
	hc_do(mgr, "GET", "/api/v1/manage/centres/test-b/check", NULL, NULL, &r);
	EXPECT(r, 405, NULL);
	hres_free(&r);
	hc_do(mgr, "POST", "/api/v1/manage/centres/test-b/check", body, NULL, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JSTR(r.json, "decision", "admit");
	ASSERT_JSTR(r.json, "reason", "ok");
	ASSERT_JSTR(r.json, "guest_name", "Karim Tester");
	assert_int_equal(jstr(r.json, "unit")[0], 'R');
	hres_free(&r);
	hc_do(boss, "POST", "/api/v1/manage/centres/test-b/check", body, NULL, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JSTR(r.json, "decision", "admit");
	hres_free(&r);
	hc_do(boss, "POST", "/api/v1/manage/centres/test-a/check", body, NULL, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JSTR(r.json, "reason", "other_centre");
	hres_free(&r);

	/* a revoked gate */
	snprintf(id, sizeof id, "%lld", gid);
	assert_int_equal(admin("gate", "revoke", id, NULL), 0);
	gate_post(g.token, "/api/gate/v1/check", body, &r);
	EXPECT(r, 401, "gate_revoked");
	hres_free(&r);

	free(body);
	hc_free(anon);
	hc_free(mem);
	hc_free(mgr);
	hc_free(boss);
}

int main(int argc, char **argv)
{
	const struct hx_opts opts = {.members = 12};
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(valid_pass),    cmocka_unit_test(forged_and_altered),
	    cmocka_unit_test(other_centre),  cmocka_unit_test(revoked_pass),
	    cmocka_unit_test(not_yet_valid), cmocka_unit_test(anti_passback),
	    cmocka_unit_test(tag_binding),   cmocka_unit_test(access_rules),
	};

	if (sodium_init() < 0)
		return 1;
	return hx_main(argc, argv, &opts, "check", tests, sizeof(tests) / sizeof(tests[0]));
}
