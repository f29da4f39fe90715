/* The command line of the real programs (docs/cli.md) next to a running server: --check-config,
 * all-or-nothing member imports, set-password, show-booking, exit statuses. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OUT_MAX 65536

static char out[OUT_MAX];

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s;
	long len;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	assert_true(len >= 0);
	rewind(f);
	s = malloc((size_t)len + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)len, f), (size_t)len);
	s[len] = '\0';
	fclose(f);
	return s;
}

static void write_all(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* s with `drop` bytes at `at` replaced by ins; free() it. */
static char *splice(const char *s, size_t at, size_t drop, const char *ins)
{
	size_t len = strlen(s), il = strlen(ins);
	char *r = malloc(len - drop + il + 1);

	assert_non_null(r);
	memcpy(r, s, at);
	memcpy(r + at, ins, il);
	memcpy(r + at + il, s + at + drop, len - at - drop + 1);
	return r;
}

static int admin(const char *input, const char *a1, const char *a2, const char *a3)
{
	char prog[512], conf[512], x1[256], x2[256], x3[256];
	char *argv[7] = {prog, "-c", conf, NULL, NULL, NULL, NULL};

	snprintf(prog, sizeof prog, "%s", hx_admin_path(HX));
	snprintf(conf, sizeof conf, "%s", hx_conf_path(HX));
	snprintf(x1, sizeof x1, "%s", a1);
	argv[3] = x1;
	if (a2) {
		snprintf(x2, sizeof x2, "%s", a2);
		argv[4] = x2;
	}
	if (a3) {
		snprintf(x3, sizeof x3, "%s", a3);
		argv[5] = x3;
	}
	return hx_exec(argv, input, out, sizeof out);
}

static int check_config(const char *conf_path)
{
	char prog[1024], conf[1024];
	char *argv[] = {prog, "-c", conf, "--check-config", NULL};

	snprintf(prog, sizeof prog, "%s", hx_server_path(HX));
	snprintf(conf, sizeof conf, "%s", conf_path);
	return hx_exec(argv, NULL, out, sizeof out);
}

static void check_config_accepts_the_test_setup(void **state)
{
	assert_int_equal(check_config(hx_conf_path(HX)), 0);
	assert_non_null(strstr(out, "ok"));
}

static void check_config_names_file_and_line(void **state)
{
	char *conf = read_all(hx_conf_path(HX));
	char *p = strstr(conf, "[server]\n"), *bad, path[512], want[600];
	size_t head;
	int line = 1;
	const char *q;

	assert_non_null(p);
	head = (size_t)(p - conf) + strlen("[server]\n");
	for (q = conf; q < conf + head; q++)
		line += *q == '\n';
	bad = splice(conf, head, 0, "colour = blue\n");
	snprintf(path, sizeof path, "%s/bad.conf", hx_dir(HX));
	write_all(path, bad);
	assert_int_equal(check_config(path), 2);
	snprintf(want, sizeof want, "bad.conf:%d:", line);
	if (strstr(out, want) == NULL) {
		fprintf(stderr, "want \"%s\" in: %s\n", want, out);
		fail();
	}
	free(bad);
	free(conf);
}

static void check_config_reads_every_centre(void **state)
{
	char dir[512], src[600], dst[600], path[600], old_dir[600], new_dir[600];
	char *conf = read_all(hx_conf_path(HX));
	char *centre, *last, *p, *fixed;

	/* a copy of the catalog where test-a lacks its last tariff */
	snprintf(dir, sizeof dir, "%s/badcentres", hx_dir(HX));
	{
		char *argv[] = {"/bin/mkdir", "-p", dir, NULL};

		assert_int_equal(hx_exec(argv, NULL, out, sizeof out), 0);
	}
	snprintf(src, sizeof src, "%s/centres/test-a.ini", hx_dir(HX));
	snprintf(dst, sizeof dst, "%s/test-a.ini", dir);
	centre = read_all(src);
	last = centre + strlen(centre) - 1; /* drop the last line */
	*last = '\0';
	last = strrchr(centre, '\n');
	assert_non_null(last);
	last[1] = '\0';
	write_all(dst, centre);

	snprintf(old_dir, sizeof old_dir, "dir = %s/centres\n", hx_dir(HX));
	snprintf(new_dir, sizeof new_dir, "dir = %s\n", dir);
	p = strstr(conf, old_dir);
	assert_non_null(p);
	fixed = splice(conf, (size_t)(p - conf), strlen(old_dir), new_dir);
	snprintf(path, sizeof path, "%s/badcentre.conf", hx_dir(HX));
	write_all(path, fixed);
	assert_int_equal(check_config(path), 2);
	if (strstr(out, "test-a.ini") == NULL) {
		fprintf(stderr, "the message should name test-a.ini: %s\n", out);
		fail();
	}
	free(fixed);
	free(centre);
	free(conf);
}

static void import_is_all_or_nothing(void **state)
{
	static const char header[] = "member_number,cin,last_name,first_name,last_name_ar,"
	                             "first_name_ar,email,phone,status,category,spouse,children\n";
	char path[512], want[600], text[2048];
	long long n = -1;

	snprintf(
	    text, sizeof text,
	    "%s300001,QA300001,Nouveau,Ali,جديد,علي,a@example.ma,+212600300001,active,cat-a,,\n"
	    "300002,QA300002,Nouveau,Sara,جديد,سارة,s@example.ma,+212600300002,active,cat-a,,\n"
	    "300003,QA300003,Nouveau,Badr,جديد,بدر,b@example.ma,+212600300003,active,cat-z,,\n",
	    header);
	snprintf(path, sizeof path, "%s/bad.csv", hx_dir(HX));
	write_all(path, text);
	assert_int_equal(admin(NULL, "import-members", path, NULL), 1);
	snprintf(want, sizeof want, "bad.csv:4:");
	if (strstr(out, want) == NULL) {
		fprintf(stderr, "want \"%s\" in: %s\n", want, out);
		fail();
	}
	assert_int_equal(hx_db_int("SELECT count(*) FROM members WHERE number LIKE '3000%'", &n),
	                 0);
	assert_int_equal(n, 0);

	/* a good file updates a known member and replaces the household */
	snprintf(text, sizeof text,
	         "%s200003,TA200003,Renamed,Karim,المختبر,كريم,m200003@example.ma,+212600200003,"
	         "active,cat-a,,Youssef/2010\n",
	         header);
	snprintf(path, sizeof path, "%s/good.csv", hx_dir(HX));
	write_all(path, text);
	assert_int_equal(admin(NULL, "import-members", path, NULL), 0);
	{
		struct hc *c = hc_login_ok("200003");
		struct hres r;

		hc_do(c, "GET", "/api/v1/me", NULL, NULL, &r);
		EXPECT(r, 200, NULL);
		ASSERT_JSTR(r.json, "member.last_name", "Renamed");
		assert_int_equal(json_array_size(jget(r.json, "member.household")), 1);
		ASSERT_JSTR(r.json, "member.household.0.name", "Youssef");
		hres_free(&r);
		hc_free(c);
	}
}

static void set_password_changes_the_login(void **state)
{
	struct hc *c = hc_new(HX);
	struct hres r;

	assert_int_equal(admin("Another-pass-9876\n", "set-password", "200004", NULL), 0);
	hc_login(c, "200004", HX_PASSWORD, &r);
	EXPECT(r, 401, "bad_credentials");
	hres_free(&r);
	hc_login(c, "200004", "Another-pass-9876", &r);
	EXPECT(r, 200, NULL);
	hres_free(&r);
	hc_free(c);
}

/* A new password ends the sessions opened with the old one (a leaked password is changed for that).
 */
static void set_password_ends_sessions(void **state)
{
	struct hc *c = hc_login_ok("200005");
	struct hres r;

	(void)state;
	hc_do(c, "GET", "/api/v1/me", NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	hres_free(&r);
	assert_int_equal(admin("Fresh-pass-12345\n", "set-password", "200005", NULL), 0);
	hc_do(c, "GET", "/api/v1/me", NULL, NULL, &r);
	EXPECT(r, 401, NULL);
	hres_free(&r);
	hc_free(c);
}

/* The password rules, with a message for each; nothing is changed when one is broken. */
static void password_policy(void **state)
{
	static const struct {
		const char *input, *says;
	} bad[] = {
	    {"\n", "empty"},
	    {"Short-9\n", "at least 10 characters"},
	    {"200006\n", "at least 10"},
	    {"1234567890\n", "most common"},
	    {"BASKETBALL\n", "most common"},           /* the list is compared without case */
	    {"éléphants\n", "at least 10 characters"}, /* 9 characters, 12 bytes */
	};
	struct hc *c = hc_new(HX);
	struct hres r;
	char *long_pw = malloc(1100 + 2);

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_not_equal(admin(bad[i].input, "set-password", "200006", NULL), 0);
		if (!strstr(out, bad[i].says))
			fail_msg("password %zu: \"%s\" not in: %s", i, bad[i].says, out);
	}
	/* over 1,023 bytes: refused, never cut to its first 1,023 */
	memset(long_pw, 'x', 1100);
	memcpy(long_pw, "Long-", 5);
	long_pw[1100] = '\n';
	long_pw[1101] = '\0';
	assert_int_not_equal(admin(long_pw, "set-password", "200006", NULL), 0);
	assert_non_null(strstr(out, "longer than 1023 bytes"));
	/* the account's own number is refused as a password (a 10-character account: a user name)
	 */
	{
		char prog[512], conf[512];
		char *argv[] = {prog,         "-c",     conf,    "add-user",
		                "clerk-0042", "--role", "admin", NULL};
		snprintf(prog, sizeof prog, "%s", hx_admin_path(HX));
		snprintf(conf, sizeof conf, "%s", hx_conf_path(HX));
		assert_int_not_equal(hx_exec(argv, "CLERK-0042\n", out, sizeof out), 0);
		assert_non_null(strstr(out, "must not be the account"));
	}
	hc_login(c, "200006", HX_PASSWORD, &r);
	EXPECT(r, 200, NULL); /* unchanged */
	hres_free(&r);
	/* exactly 1,023 bytes is accepted */
	long_pw[1023] = '\n';
	long_pw[1024] = '\0';
	assert_int_equal(admin(long_pw, "set-password", "200006", NULL), 0);
	long_pw[1023] = '\0';
	hc_login(c, "200006", long_pw, &r);
	EXPECT(r, 200, NULL);
	hres_free(&r);
	free(long_pw);
	hc_free(c);
}

static void show_booking_prints_it(void **state)
{
	struct hc *c = hc_login_ok("200001");
	struct hres r;
	char id[32], unit[16], arrival[16];

	hc_book(c, "test-a", "chalet", 10, 12, HX_GUESTS_SELF, &r);
	EXPECT(r, 201, NULL);
	snprintf(id, sizeof id, "%lld", (long long)jint(r.json, "id"));
	snprintf(unit, sizeof unit, "%s", jstr(r.json, "unit") ? jstr(r.json, "unit") : "?");
	hres_free(&r);
	assert_int_equal(admin(NULL, "show-booking", id, NULL), 0);
	hx_date(10, arrival, sizeof arrival);
	if (strstr(out, unit) == NULL || strstr(out, arrival) == NULL) {
		fprintf(stderr, "want unit %s and arrival %s in: %s\n", unit, arrival, out);
		fail();
	}
	assert_int_equal(admin(NULL, "show-booking", "999999", NULL), 1);
	assert_int_equal(admin(NULL, "no-such-command", NULL, NULL), 2);
	hc_free(c);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(check_config_accepts_the_test_setup),
	    cmocka_unit_test(check_config_names_file_and_line),
	    cmocka_unit_test(check_config_reads_every_centre),
	    cmocka_unit_test(import_is_all_or_nothing),
	    cmocka_unit_test(set_password_changes_the_login),
	    cmocka_unit_test(set_password_ends_sessions),
	    cmocka_unit_test(password_policy),
	    cmocka_unit_test(show_booking_prints_it),
	};
	struct hx_opts o = {.hold = "20m", .sweep_interval = "1s", .body_max = "64k", .members = 6};

	return hx_main(argc, argv, &o, "cli", tests, sizeof tests / sizeof tests[0]);
}
