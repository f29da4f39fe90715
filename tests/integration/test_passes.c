/* Access passes through the real server: issued at confirmation, QR images that decode (zbarimg) to
 * the exact token, who may see them, revocation on cancellation, re-issue, key rotation,
 * verify-pass. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define GUESTS3                                                                                    \
	"[" HX_GUEST_SELF "," HX_GUEST_SPOUSE                                                      \
	",{\"name\":\"Youssef\",\"relation\":\"child\",\"birth_year\":2010}]"

#define admin(out, n, a1, a2, a3) hx_admin_run(out, n, a1, a2, a3, (const char *)NULL)

/* Holds and confirms a booking of member i at test-a; returns its id. */
static long long confirmed_booking(struct hc *c, int arrival, const char *guests)
{
	struct hres r;
	char out[4096], id[32];
	long long bid;

	hc_book(c, "test-a", "chalet", arrival, arrival + 3, guests, &r);
	EXPECT(r, 201, NULL);
	bid = jint(r.json, "id");
	hres_free(&r);
	snprintf(id, sizeof(id), "%lld", bid);
	if (admin(out, sizeof(out), "confirm", id, NULL) != 0) {
		fprintf(stderr, "%s\n", out);
		fail_msg("estiva-admin confirm %s failed", id);
	}
	return bid;
}

static void get_passes(struct hc *c, long long bid, struct hres *r)
{
	char path[96];

	snprintf(path, sizeof(path), "/api/v1/bookings/%lld/passes", bid);
	hc_do(c, "GET", path, NULL, NULL, r);
}

static void decode_png(const struct hres *png, char *text, size_t n)
{
	char path[600], out[2048];
	FILE *f;
	/* zbarimg's stderr carries D-Bus noise on machines without a system bus: keep only stdout
	 */
	char *argv[] = {"/bin/sh", "-c", "exec zbarimg -q --raw \"$1\" 2>/dev/null",
	                "sh",      path, NULL};
	int rc;

	snprintf(path, sizeof(path), "%s/qr.png", hx_dir(HX));
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(png->body, 1, png->len, f), png->len);
	fclose(f);
	rc = hx_exec(argv, NULL, out, sizeof(out));
	if (rc != 0)
		fail_msg("zbarimg could not decode the QR (status %d): %s", rc, out);
	out[strcspn(out, "\r\n")] = '\0';
	if (strlen(out) >= n)
		fail_msg("QR text too long: %s", out);
	memcpy(text, out, strlen(out) + 1);
}

static void passes_issued_and_decodable(void **state)
{
	struct hc *c = hc_login_ok("200001");
	struct hres r, img;
	long long bid;
	char path[96], text[512];

	(void)state;
	/* a held booking has no passes yet */
	hc_book(c, "test-a", "chalet", 20, 23, HX_GUESTS_SELF, &r);
	EXPECT(r, 201, NULL);
	bid = jint(r.json, "id");
	hres_free(&r);
	get_passes(c, bid, &r);
	EXPECT(r, 200, NULL);
	assert_int_equal(json_array_size(jget(r.json, "passes")), 0);
	hres_free(&r);

	bid = confirmed_booking(c, 10, GUESTS3);
	get_passes(c, bid, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JSTR(r.json, "status", "confirmed");
	assert_int_equal(json_array_size(jget(r.json, "passes")), 3);
	ASSERT_JSTR(r.json, "passes.2.guest_name", "Youssef");
	ASSERT_JSTR(r.json, "passes.0.kind", "guest");
	for (int i = 0; i < 3; i++) {
		char p[32];
		const char *token;

		snprintf(p, sizeof(p), "passes.%d.token", i);
		token = jstr(r.json, p);
		assert_non_null(token);
		assert_true(strncmp(token, "EV1:", 4) == 0);
		assert_true(strlen(token) <= 160);
		snprintf(p, sizeof(p), "passes.%d.id", i);
		snprintf(path, sizeof(path), "/api/v1/passes/%lld.png", (long long)jint(r.json, p));
		hc_do(c, "GET", path, NULL, NULL, &img);
		EXPECT(img, 200, NULL);
		assert_true(img.len > 8 && memcmp(img.body, "\x89PNG", 4) == 0);
		decode_png(&img, text, sizeof(text));
		assert_string_equal(text, token);
		hres_free(&img);
	}
	snprintf(path, sizeof(path), "/api/v1/passes/%lld.svg",
	         (long long)jint(r.json, "passes.0.id"));
	hc_do(c, "GET", path, NULL, NULL, &img);
	EXPECT(img, 200, NULL);
	assert_non_null(strstr(img.body, "<svg"));
	{
		char ct[64];
		assert_int_equal(hres_header(&img, "Content-Type", ct, sizeof(ct)), 0);
		assert_string_equal(ct, "image/svg+xml");
	}
	hres_free(&img);
	snprintf(path, sizeof(path), "/passes/%lld/print", (long long)jint(r.json, "passes.1.id"));
	hc_do(c, "GET", path, NULL, NULL, &img);
	EXPECT(img, 200, NULL);
	assert_non_null(strstr(img.body, "Amina"));
	assert_non_null(strstr(img.body, "dir=\"rtl\""));
	hres_free(&img);
	hres_free(&r);
	hc_free(c);
}

static void passes_access_rules(void **state)
{
	struct hc *owner = hc_login_ok("200003"), *other = hc_login_ok("200004"),
	          *mgr = hc_login_ok(HX_MANAGER), *boss = hc_login_ok(HX_ADMIN), *anon = hc_new(HX);
	struct hres r;
	long long bid, pid;
	char path[96], img[96];

	(void)state;
	bid = confirmed_booking(owner, 40, HX_GUESTS_SELF);
	get_passes(owner, bid, &r);
	EXPECT(r, 200, NULL);
	pid = jint(r.json, "passes.0.id");
	hres_free(&r);
	snprintf(path, sizeof(path), "/api/v1/bookings/%lld/passes", bid);
	snprintf(img, sizeof(img), "/api/v1/passes/%lld.png", pid);
	hc_do(other, "GET", path, NULL, NULL, &r);
	EXPECT(r, 404, "not_found");
	hres_free(&r);
	hc_do(other, "GET", img, NULL, NULL, &r);
	EXPECT(r, 404, "not_found");
	hres_free(&r);
	hc_do(mgr, "GET", img, NULL, NULL, &r); /* manages test-b only */
	EXPECT(r, 404, "not_found");
	hres_free(&r);
	hc_do(boss, "GET", img, NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	hres_free(&r);
	hc_do(anon, "GET", img, NULL, NULL, &r);
	EXPECT(r, 401, "unauthenticated");
	hres_free(&r);
	hc_do(owner, "GET", "/api/v1/passes/99999.png", NULL, NULL, &r);
	EXPECT(r, 404, "not_found");
	hres_free(&r);
	hc_do(owner, "GET", "/api/v1/passes/1.gif", NULL, NULL, &r);
	EXPECT(r, 404, "not_found");
	hres_free(&r);
	snprintf(path, sizeof(path), "/api/v1/passes/%lld/reissue", pid);
	hc_do(other, "POST", path, "{}", NULL, &r);
	EXPECT(r, 404, "not_found");
	hres_free(&r);
	hc_free(owner);
	hc_free(other);
	hc_free(mgr);
	hc_free(boss);
	hc_free(anon);
}

static void cancel_revokes_and_reissue_replaces(void **state)
{
	struct hc *c = hc_login_ok("200005");
	struct hres r;
	long long bid, pid, nid, n;
	char path[96], sql[160], old_token[200];

	(void)state;
	bid = confirmed_booking(c, 60, HX_GUESTS_COUPLE);
	get_passes(c, bid, &r);
	pid = jint(r.json, "passes.0.id");
	snprintf(old_token, sizeof(old_token), "%s", jstr(r.json, "passes.0.token"));
	hres_free(&r);

	/* re-issue (a lost phone): a new pass id and token, the old one revoked */
	snprintf(path, sizeof(path), "/api/v1/passes/%lld/reissue", pid);
	hc_do(c, "POST", path, "{}", NULL, &r);
	EXPECT(r, 201, NULL);
	nid = jint(r.json, "id");
	assert_true(nid != pid);
	assert_string_not_equal(jstr(r.json, "token"), old_token);
	ASSERT_JSTR(r.json, "guest_name", "Karim Tester");
	hres_free(&r);
	snprintf(path, sizeof(path), "/api/v1/passes/%lld.png", pid);
	hc_do(c, "GET", path, NULL, NULL, &r);
	EXPECT(r, 410, "revoked");
	hres_free(&r);
	snprintf(path, sizeof(path), "/api/v1/passes/%lld/reissue", pid);
	hc_do(c, "POST", path, "{}", NULL, &r);
	EXPECT(r, 409, "not_reissuable");
	hres_free(&r);
	snprintf(sql, sizeof(sql),
	         "SELECT COUNT(*) FROM revocations WHERE pass = %lld AND reason = 'reissued'", pid);
	assert_int_equal(hx_db_int(sql, &n), 0);
	assert_int_equal(n, 1);
	get_passes(c, bid, &r);
	assert_int_equal(json_array_size(jget(r.json, "passes")), 2);
	assert_non_null(jfind(r.json, "passes", "guest_name", "Karim Tester"));
	assert_int_equal(jint(jfind(r.json, "passes", "guest_name", "Karim Tester"), "id"), nid);
	hres_free(&r);

	/* cancellation revokes every pass of the booking */
	snprintf(path, sizeof(path), "/api/v1/bookings/%lld/cancel", bid);
	hc_do(c, "POST", path, "{}", NULL, &r);
	EXPECT(r, 200, NULL);
	hres_free(&r);
	get_passes(c, bid, &r);
	EXPECT(r, 200, NULL);
	assert_int_equal(json_array_size(jget(r.json, "passes")), 0);
	hres_free(&r);
	snprintf(sql, sizeof(sql),
	         "SELECT COUNT(*) FROM revocations r JOIN passes p ON p.id = r.pass WHERE "
	         "p.booking = %lld",
	         bid);
	assert_int_equal(hx_db_int(sql, &n), 0);
	assert_int_equal(n, 3); /* the re-issued one and the two the cancellation revoked */
	snprintf(sql, sizeof(sql),
	         "SELECT COUNT(*) FROM passes WHERE booking = %lld AND status = 'active'", bid);
	assert_int_equal(hx_db_int(sql, &n), 0);
	assert_int_equal(n, 0);
	hc_free(c);
}

static void verify_pass_and_key_rotation(void **state)
{
	struct hc *c = hc_login_ok("200006");
	struct hres r;
	long long bid;
	char out[4096], token[200], bad[200];

	(void)state;
	bid = confirmed_booking(c, 80, HX_GUESTS_SELF);
	get_passes(c, bid, &r);
	snprintf(token, sizeof(token), "%s", jstr(r.json, "passes.0.token"));
	hres_free(&r);
	assert_int_equal(admin(out, sizeof(out), "verify-pass", token, NULL), 0);
	assert_non_null(strstr(out, "signature    good"));
	assert_non_null(strstr(out, "key id       1"));
	/* one character changed: the signature no longer holds */
	snprintf(bad, sizeof(bad), "%s", token);
	bad[20] = bad[20] == 'A' ? 'B' : 'A';
	assert_int_not_equal(admin(out, sizeof(out), "verify-pass", bad, NULL), 0);
	assert_int_not_equal(admin(out, sizeof(out), "verify-pass", "not a pass", NULL), 0);
	assert_non_null(strstr(out, "not a pass"));

	/* a new key signs from now on; passes of the old key still verify */
	assert_int_equal(admin(out, sizeof(out), "keys", "rotate", NULL), 0);
	bid = confirmed_booking(c, 90, HX_GUESTS_SELF);
	get_passes(c, bid, &r);
	assert_int_equal(
	    admin(out, sizeof(out), "verify-pass", jstr(r.json, "passes.0.token"), NULL), 0);
	assert_non_null(strstr(out, "key id       2"));
	hres_free(&r);
	assert_int_equal(admin(out, sizeof(out), "verify-pass", token, NULL), 0);
	assert_int_equal(admin(out, sizeof(out), "keys", "list", NULL), 0);
	assert_non_null(strstr(out, "key 1"));
	assert_non_null(strstr(out, "retired"));
	assert_non_null(strstr(out, "key 2"));
	assert_non_null(strstr(out, "SIGNING"));
	hc_free(c);
}

int main(int argc, char **argv)
{
	const struct hx_opts opts = {.members = 8};
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(passes_issued_and_decodable),
	    cmocka_unit_test(passes_access_rules),
	    cmocka_unit_test(cancel_revokes_and_reissue_replaces),
	    cmocka_unit_test(verify_pass_and_key_rotation),
	};

	return hx_main(argc, argv, &opts, "passes", tests, sizeof(tests) / sizeof(tests[0]));
}
