/* Members' own accounts (server/account.c, docs/api.md "Accounts") through the real server and a
 * real SMTP server on loopback (tools/smtp_sink.py), each link read from the message that carried
 * it (Python's email package, tests/integration/mail_read.py): activation from the member number
 * and the CIN or the address on file, the first password set with the link, the link refused a
 * second time and once expired, a newer link ending the older; the same status and body (and no
 * quicker answer) for an unknown member, a wrong CIN and a real match; a reset ends every session;
 * a change of password needs the current one and ends the other sessions; an e-mail change is
 * confirmed from the new address; CR/LF and overlong or malformed addresses refused with their
 * own codes; too many messages asked for one account or from one address: 429 with Retry-After. */
#include "harness.h"
#include "mailbox.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PY MAILBOX_PY
#define PORTAL "http://portal.test"
#define NEW_PASSWORD "Cedre-Ifrane-2031"
#define MAX_MAILS 400
#define SAMPLES 20

static char src[1024], extra_conf[2048];
static json_t *mails[MAX_MAILS + 1]; /* parsed once, by file number */

static int start_sink(void)
{
	return mailbox_start(src, 0, 0, NULL);
}

#define stop_sink mailbox_stop
#define box_count mailbox_count

/* Message i (from 1), parsed; owned by the cache. */
static json_t *message(int i)
{
	assert_true(i >= 1 && i <= MAX_MAILS);
	if (!mails[i])
		mails[i] = mailbox_message(i);
	return mails[i];
}

/* The newest message to `to` whose subject holds `subject`, waiting for it (the worker looks every
 * second). */
static json_t *mail_to(const char *to, const char *subject)
{
	for (int tries = 0; tries < 100; tries++) {
		for (int i = box_count(); i >= 1; i--) {
			json_t *m = message(i);

			if (strstr(jstr(m, "envelope_to"), to) &&
			    strstr(jstr(m, "subject"), subject))
				return m;
		}
		hx_sleep_ms(100);
	}
	fail_msg("no message to %s with \"%s\" in its subject", to, subject);
	return NULL;
}

/* The token after "#PURPOSE=" in the message's text, checked to be a link to the portal. */
static void link_token(json_t *m, const char *purpose, char *token, size_t n)
{
	char want[128];
	const char *p;

	snprintf(want, sizeof want, PORTAL "/account.html#%s=", purpose);
	p = strstr(jstr(m, "text"), want);
	if (!p)
		fail_msg("no %s link in: %s", want, jstr(m, "text"));
	p += strlen(want);
	assert_true(strspn(p, "0123456789abcdef") == 64);
	snprintf(token, n, "%.64s", p);
	/* the HTML part links the same address */
	assert_non_null(strstr(jstr(m, "html"), token));
}

static long long db_count(const char *sql)
{
	long long v = -1;

	assert_int_equal(hx_db_int(sql, &v), 0);
	return v;
}

static long post(struct hc *c, const char *path, const char *body, struct hres *r)
{
	return hc_do(c, "POST", path, body, NULL, r);
}

static void clear_password(const char *number)
{
	char sql[256];

	snprintf(sql, sizeof sql, "UPDATE members SET password_hash = NULL WHERE number = '%s'",
	         number);
	hx_db_write(sql);
}

static void set_password(struct hc *c, const char *token, const char *pw, long status,
                         const char *code)
{
	char body[512];
	struct hres r;

	snprintf(body, sizeof body, "{\"token\":\"%s\",\"password\":\"%s\"}", token, pw);
	post(c, "/api/v1/account/password", body, &r);
	EXPECT(r, status, code);
	hres_free(&r);
}

static void login_expect(const char *account, const char *pw, long status)
{
	struct hc *c = hc_new(HX);
	struct hres r;

	hc_login(c, account, pw, &r);
	EXPECT(r, status, NULL);
	hres_free(&r);
	hc_free(c);
}

/* ---- the tests ---- */

/* Number and CIN, the link from the message, the first password, the link refused a second time;
 * the member told that the password changed; number and e-mail address on file work too. */
static void activation(void **state)
{
	struct hc *anon = hc_new(HX);
	char token[80], sql[400];
	struct hres r;
	json_t *m;

	(void)state;
	clear_password("200003");
	login_expect("200003", HX_PASSWORD, 401);
	post(anon, "/api/v1/account/activate", "{\"member\":\"200003\",\"cin\":\" ta200003 \"}",
	     &r);
	EXPECT(r, 202, NULL);
	ASSERT_JSTR(r.json, "status", "accepted");
	hres_free(&r);
	m = mail_to("m200003@example.ma", "Activez");
	assert_non_null(strstr(jstr(m, "text"), "Bonjour Karim"));
	assert_non_null(strstr(jstr(m, "text"), "30 minutes"));
	link_token(m, "activate", token, sizeof token);
	/* sent: the outbox keeps no copy of the link (only its hash is kept, in account_tokens) */
	{
		long long left = -1;
		char q[160];

		snprintf(q, sizeof q,
		         "SELECT COUNT(*) FROM outbox WHERE state = 'sent' AND instr(payload, "
		         "'%.16s') > 0",
		         token);
		for (int i = 0; i < 30 && (hx_db_int(q, &left) != 0 || left != 0); i++)
			hx_sleep_ms(100);
		assert_int_equal(left, 0);
	}
	/* only the token's hash is kept */
	snprintf(sql, sizeof sql,
	         "SELECT COUNT(*) FROM account_tokens WHERE lower(hex(key)) = '%s'"
	         " OR detail LIKE '%%%s%%'",
	         token, token);
	assert_int_equal(db_count(sql), 0);
	assert_int_equal(db_count("SELECT COUNT(*) FROM account_tokens t JOIN members m ON m.id ="
	                          " t.member WHERE m.number = '200003' AND t.purpose = 'activate'"
	                          " AND t.expires_at - t.created_at = 1800 AND length(t.key) = 32"),
	                 1);

	set_password(anon, token, "short", 400, "password_refused");
	set_password(anon, token, "200003", 400, "password_refused");
	set_password(anon, token, NEW_PASSWORD, 200, NULL);
	login_expect("200003", NEW_PASSWORD, 200);
	set_password(anon, token, "Another-pass-2031", 410, "link_used");
	login_expect("200003", NEW_PASSWORD, 200);
	m = mail_to("m200003@example.ma", "mot de passe de votre compte Estiva a changé");
	assert_non_null(strstr(jstr(m, "text"), PORTAL));

	/* a member who has a password is sent nothing (the same answer) */
	post(anon, "/api/v1/account/activate", "{\"member\":\"200003\",\"cin\":\"TA200003\"}", &r);
	EXPECT(r, 202, NULL);
	hres_free(&r);
	assert_int_equal(db_count("SELECT COUNT(*) FROM outbox o JOIN members m ON m.id = o.member"
	                          " WHERE m.number = '200003' AND o.template = 'activate'"),
	                 1);

	/* the e-mail address on file instead of the CIN, any case */
	clear_password("200004");
	post(anon, "/api/v1/account/activate",
	     "{\"member\":\"200004\",\"email\":\"M200004@Example.MA\"}", &r);
	EXPECT(r, 202, NULL);
	hres_free(&r);
	link_token(mail_to("m200004@example.ma", "Activez"), "activate", token, sizeof token);
	set_password(anon, token, NEW_PASSWORD, 200, NULL);
	login_expect("200004", NEW_PASSWORD, 200);
	hc_free(anon);
}

/* An expired link, a link that is not one, and an older link once a newer one was sent. */
static void expired_and_superseded(void **state)
{
	struct hc *anon = hc_new(HX);
	char token[80], older[80];
	struct hres r;
	int before;

	(void)state;
	clear_password("200005");
	post(anon, "/api/v1/account/activate", "{\"member\":\"200005\",\"cin\":\"TA200005\"}", &r);
	EXPECT(r, 202, NULL);
	hres_free(&r);
	link_token(mail_to("m200005@example.ma", "Activez"), "activate", token, sizeof token);
	hx_db_write("UPDATE account_tokens SET expires_at = created_at - 1 WHERE member ="
	            " (SELECT id FROM members WHERE number = '200005')");
	set_password(anon, token, NEW_PASSWORD, 410, "link_expired");
	login_expect("200005", NEW_PASSWORD, 401);

	set_password(anon, "not-a-token", NEW_PASSWORD, 400, "bad_link");
	set_password(anon, "0000000000000000000000000000000000000000000000000000000000000000",
	             NEW_PASSWORD, 400, "bad_link");
	post(anon, "/api/v1/account/password", "{\"password\":\"" NEW_PASSWORD "\"}", &r);
	EXPECT(r, 400, "bad_link");
	hres_free(&r);

	/* two links: the newer ends the older */
	clear_password("200006");
	post(anon, "/api/v1/account/activate", "{\"member\":\"200006\",\"cin\":\"TA200006\"}", &r);
	EXPECT(r, 202, NULL);
	hres_free(&r);
	link_token(mail_to("m200006@example.ma", "Activez"), "activate", older, sizeof older);
	before = box_count();
	post(anon, "/api/v1/account/activate", "{\"member\":\"200006\",\"cin\":\"TA200006\"}", &r);
	EXPECT(r, 202, NULL);
	hres_free(&r);
	for (int i = 0; i < 100 && box_count() == before; i++)
		hx_sleep_ms(100);
	link_token(mail_to("m200006@example.ma", "Activez"), "activate", token, sizeof token);
	assert_string_not_equal(token, older);
	set_password(anon, older, NEW_PASSWORD, 410, "link_used");
	set_password(anon, token, NEW_PASSWORD, 200, NULL);
	hc_free(anon);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* An unknown member, a real one with a wrong CIN and a real match: the same status and the same
 * bytes, and the unknown never answered quicker in a way that shows; the same for resets. Only the
 * matches queue a message. */
static void no_enumeration(void **state)
{
	struct hc *anon = hc_new(HX);
	double t[3][SAMPLES];
	char first[512] = "", body[160];
	struct hres r;

	(void)state;
	for (int i = 0; i < SAMPLES; i++) {
		snprintf(body, sizeof body, "%d", 200011 + i);
		clear_password(body);
	}
	for (int i = 0; i < SAMPLES; i++) {
		for (int k = 0; k < 3; k++) {
			double t0;

			if (k == 0)
				snprintf(body, sizeof body, "{\"member\":\"%d\",\"cin\":\"TA%d\"}",
				         900001 + i, 900001 + i);
			else if (k == 1)
				snprintf(body, sizeof body,
				         "{\"member\":\"%d\",\"cin\":\"XY123456\"}", 200011 + i);
			else
				snprintf(body, sizeof body, "{\"member\":\"%d\",\"cin\":\"TA%d\"}",
				         200011 + i, 200011 + i);
			t0 = now_ms();
			post(anon, "/api/v1/account/activate", body, &r);
			t[k][i] = now_ms() - t0;
			EXPECT(r, 202, NULL);
			if (!first[0])
				snprintf(first, sizeof first, "%s", r.body);
			assert_string_equal(r.body, first);
			assert_null(strstr(r.body, "example.ma"));
			hres_free(&r);
		}
	}
	{
		double unknown = median(t[0], SAMPLES), wrong = median(t[1], SAMPLES),
		       real = median(t[2], SAMPLES);

		fprintf(stderr,
		        "accounts: median answer: unknown %.3f ms, wrong CIN %.3f ms, match "
		        "%.3f ms\n",
		        unknown, wrong, real);
		/* the same work either way: an unknown member is never answered visibly sooner */
		assert_true(unknown >= real * 0.7);
		assert_true(wrong >= real * 0.7);
	}
	assert_int_equal(db_count("SELECT COUNT(*) FROM outbox WHERE template = 'activate' AND"
	                          " member IN (SELECT id FROM members WHERE number BETWEEN"
	                          " '200011' AND '200030')"),
	                 SAMPLES);
	/* an unknown member costs a token and a message for the first member, rolled back */
	assert_int_equal(db_count("SELECT COUNT(*) FROM account_tokens WHERE member ="
	                          " (SELECT MIN(id) FROM members)"),
	                 0);
	assert_int_equal(db_count("SELECT COUNT(*) FROM outbox WHERE member ="
	                          " (SELECT MIN(id) FROM members)"),
	                 0);

	/* resets: unknown member, unknown address, a member with a password */
	{
		static const char *const bodies[] = {
		    "{\"member\":\"990001\"}", "{\"email\":\"nobody@example.ma\"}",
		    "{\"member\":\"200009\"}", "{\"email\":\"m200009@example.ma\"}"};

		first[0] = '\0';
		for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
			post(anon, "/api/v1/account/reset", bodies[i], &r);
			EXPECT(r, 202, NULL);
			if (!first[0])
				snprintf(first, sizeof first, "%s", r.body);
			assert_string_equal(r.body, first);
			hres_free(&r);
		}
		assert_int_equal(
		    db_count("SELECT COUNT(*) FROM outbox o JOIN members m ON m.id = o.member"
		             " WHERE m.number = '200009' AND o.template = 'reset'"),
		    2);
	}
	hc_free(anon);
}

/* A reset by e-mail address: the new password ends every session; the old password is refused. */
static void reset_ends_sessions(void **state)
{
	struct hc *a = hc_login_ok("200007"), *b = hc_login_ok("200007"), *anon = hc_new(HX);
	char token[80];
	struct hres r;

	(void)state;
	post(anon, "/api/v1/account/reset", "{\"email\":\"m200007@example.ma\"}", &r);
	EXPECT(r, 202, NULL);
	hres_free(&r);
	link_token(mail_to("m200007@example.ma", "Nouveau mot de passe"), "reset", token,
	           sizeof token);
	hc_do(a, "GET", "/api/v1/me", NULL, NULL, &r);
	EXPECT(r, 200, NULL); /* asking for a link changes nothing yet */
	hres_free(&r);
	set_password(anon, token, NEW_PASSWORD, 200, NULL);
	hc_do(a, "GET", "/api/v1/me", NULL, NULL, &r);
	EXPECT(r, 401, "unauthenticated");
	hres_free(&r);
	hc_do(b, "GET", "/api/v1/me", NULL, NULL, &r);
	EXPECT(r, 401, "unauthenticated");
	hres_free(&r);
	login_expect("200007", HX_PASSWORD, 401);
	login_expect("200007", NEW_PASSWORD, 200);
	set_password(anon, token, "Yet-another-2031", 410, "link_used");
	hc_free(a);
	hc_free(b);
	hc_free(anon);
}

/* The current password is needed (a wrong one refused, nothing changed); the session that changed
 * it stays, the others end. */
static void change_password(void **state)
{
	struct hc *a = hc_login_ok("200008"), *b = hc_login_ok("200008");
	struct hreq nocsrf = {.csrf = ""};
	struct hres r;

	(void)state;
	hc_do(a, "POST", "/api/v1/me/password",
	      "{\"current\":\"Wrong-pass-2024\",\"password\":\"" NEW_PASSWORD "\"}", NULL, &r);
	EXPECT(r, 403, "wrong_password");
	hres_free(&r);
	hc_do(a, "POST", "/api/v1/me/password",
	      "{\"current\":\"" HX_PASSWORD "\",\"password\":\"short\"}", NULL, &r);
	EXPECT(r, 400, "password_refused");
	hres_free(&r);
	hc_do(a, "POST", "/api/v1/me/password", "{\"password\":\"" NEW_PASSWORD "\"}", NULL, &r);
	EXPECT(r, 400, "bad_request");
	hres_free(&r);
	hc_do(a, "POST", "/api/v1/me/password",
	      "{\"current\":\"" HX_PASSWORD "\",\"password\":\"" NEW_PASSWORD "\"}", &nocsrf, &r);
	EXPECT(r, 403, "csrf");
	hres_free(&r);
	login_expect("200008", HX_PASSWORD, 200); /* nothing changed so far */
	hc_do(a, "POST", "/api/v1/me/password",
	      "{\"current\":\"" HX_PASSWORD "\",\"password\":\"" NEW_PASSWORD "\"}", NULL, &r);
	EXPECT(r, 200, NULL);
	hres_free(&r);
	hc_do(a, "GET", "/api/v1/me", NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	hres_free(&r);
	hc_do(b, "GET", "/api/v1/me", NULL, NULL, &r);
	EXPECT(r, 401, "unauthenticated");
	hres_free(&r);
	login_expect("200008", HX_PASSWORD, 401);
	login_expect("200008", NEW_PASSWORD, 200);
	mail_to("m200008@example.ma", "a changé");
	hc_free(a);
	hc_free(b);
}

/* Phone, language, reminders at once; a new address only once its link is opened; CR/LF,
 * overlong and malformed addresses refused, each with a clear code. */
static void contact_details(void **state)
{
	struct hc *c = hc_login_ok("200010"), *anon = hc_new(HX);
	char body[600], token[80], longaddr[300];
	struct hres r;
	json_t *m;

	(void)state;
	static const struct {
		const char *body, *code;
	} bad[] = {
	    {"{\"email\":\"x@example.ma\\r\\nBcc: all@example.ma\"}", "bad_email"},
	    {"{\"email\":\"x@example.ma>\\nBcc: <all@example.ma\"}", "bad_email"},
	    {"{\"email\":\"no-at-sign.example.ma\"}", "bad_email"},
	    {"{\"email\":\"two@at@example.ma\"}", "bad_email"},
	    {"{\"email\":\"a b@example.ma\"}", "bad_email"},
	    {"{\"email\":\"x@nodot\"}", "bad_email"},
	    {"{\"email\":42}", "bad_email"},
	    {"{\"phone\":\"+212 600\\r\\nX-Evil: 1\"}", "bad_phone"},
	    {"{\"phone\":\"12\"}", "bad_phone"},
	    {"{\"locale\":\"en\"}", "bad_request"},
	    {"{\"reminders\":\"no\"}", "bad_request"},
	    {"{\"first_name\":\"Karim\"}", "bad_request"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		hc_do(c, "PATCH", "/api/v1/me", bad[i].body, NULL, &r);
		EXPECT(r, 400, bad[i].code);
		assert_true(strlen(jstr(r.json, "error.message")) > 10);
		hres_free(&r);
	}
	memset(longaddr, 'a', 250);
	snprintf(longaddr + 250, sizeof longaddr - 250, "@example.ma");
	snprintf(body, sizeof body, "{\"email\":\"%s\"}", longaddr);
	hc_do(c, "PATCH", "/api/v1/me", body, NULL, &r);
	EXPECT(r, 400, "bad_email");
	assert_non_null(strstr(jstr(r.json, "error.message"), "254"));
	hres_free(&r);
	/* and names in a request for a link */
	post(anon, "/api/v1/account/activate",
	     "{\"member\":\"200010\\r\\nBcc: all@example.ma\",\"cin\":\"TA200010\"}", &r);
	EXPECT(r, 400, "bad_request");
	hres_free(&r);

	hc_do(c, "PATCH", "/api/v1/me",
	      "{\"email\":\"new200010@example.ma\",\"phone\":\"+212 611 22 33 44\","
	      "\"locale\":\"ar\",\"reminders\":false}",
	      NULL, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JSTR(r.json, "email", "m200010@example.ma");
	ASSERT_JSTR(r.json, "email_pending", "new200010@example.ma");
	ASSERT_JSTR(r.json, "phone", "+212 611 22 33 44");
	ASSERT_JSTR(r.json, "locale", "ar");
	assert_true(json_is_false(jget(r.json, "reminders")));
	hres_free(&r);
	hc_do(c, "GET", "/api/v1/me", NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JSTR(r.json, "member.email", "m200010@example.ma");
	ASSERT_JSTR(r.json, "member.locale", "ar");
	assert_true(json_is_false(jget(r.json, "member.reminders")));
	hres_free(&r);
	/* in the member's language (Arabic now), to the new address only */
	m = mail_to("new200010@example.ma", "أكّدوا");
	assert_null(strstr(jstr(m, "envelope_to"), "m200010@example.ma"));
	assert_non_null(strstr(jstr(m, "html"), "dir=\"rtl\""));
	link_token(m, "email", token, sizeof token);
	set_password(anon, token, NEW_PASSWORD, 400, "bad_link"); /* not a password link */
	snprintf(body, sizeof body, "{\"token\":\"%s\"}", token);
	post(anon, "/api/v1/account/email", body, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JSTR(r.json, "email", "new200010@example.ma");
	hres_free(&r);
	post(anon, "/api/v1/account/email", body, &r);
	EXPECT(r, 410, "link_used");
	hres_free(&r);
	hc_do(c, "GET", "/api/v1/me", NULL, NULL, &r);
	ASSERT_JSTR(r.json, "member.email", "new200010@example.ma");
	hres_free(&r);
	/* the old address is told of the change, in the member's language */
	m = mail_to("m200010@example.ma", "تغيير");
	assert_non_null(strstr(jstr(m, "text"), "new200010@example.ma"));
	hc_free(c);
	hc_free(anon);
}

/* A first name with CR/LF (a careless import) adds no header to an activation message. */
static void names_add_no_header(void **state)
{
	struct hc *anon = hc_new(HX);
	struct hres r;
	json_t *m, *h;
	size_t i;

	(void)state;
	clear_password("200002");
	hx_db_write("UPDATE members SET first_name = 'Ahmed' || char(13, 10) || 'Bcc: "
	            "all@example.ma' WHERE number = '200002'");
	post(anon, "/api/v1/account/activate", "{\"member\":\"200002\",\"cin\":\"RT200002\"}", &r);
	EXPECT(r, 202, NULL);
	hres_free(&r);
	m = mail_to("m200002@example.ma", "Activez");
	json_array_foreach(jget(m, "headers"), i, h)
	    assert_true(strcasecmp(json_string_value(h), "Bcc"));
	assert_null(strstr(jstr(m, "envelope_to"), "all@example.ma"));
	hc_free(anon);
}

/* Per account (known or not: the same), then per client address: 429 with Retry-After. */
static void rate_limits(void **state)
{
	struct hc *anon = hc_new(HX);
	char ra[32], body[128];
	struct hres r;
	int got = 0;

	(void)state;
	for (int k = 0; k < 2; k++) {
		const char *b = k ? "{\"member\":\"999999\",\"cin\":\"XX1\"}"
		                  : "{\"member\":\"200001\",\"cin\":\"XX1\"}";

		for (int i = 0; i < 3; i++) {
			post(anon, "/api/v1/account/activate", b, &r);
			EXPECT(r, 202, NULL);
			hres_free(&r);
		}
		post(anon, "/api/v1/account/activate", b, &r);
		EXPECT(r, 429, "too_many_attempts");
		assert_int_equal(hres_header(&r, "Retry-After", ra, sizeof ra), 0);
		assert_true(atoi(ra) > 3000 && atoi(ra) <= 3600);
		hres_free(&r);
	}
	post(anon, "/api/v1/account/reset", "{\"member\":\"200001\"}", &r);
	EXPECT(r, 429, "too_many_attempts"); /* the account's count is one for every kind */
	hres_free(&r);

	for (int i = 0; i < 400 && !got; i++) {
		snprintf(body, sizeof body, "{\"member\":\"%d\",\"cin\":\"X\"}", 800000 + i);
		post(anon, "/api/v1/account/activate", body, &r);
		if (r.status == 429) {
			got = 1;
			assert_int_equal(hres_header(&r, "Retry-After", ra, sizeof ra), 0);
			assert_true(atoi(ra) > 0);
		} else {
			EXPECT(r, 202, NULL);
		}
		hres_free(&r);
	}
	assert_true(got);
	hc_free(anon);
}

int main(int argc, char **argv)
{
	struct hx_opts opts = {.members = 30, .hold = "20m", .sweep_interval = "1s"};
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(activation),          cmocka_unit_test(expired_and_superseded),
	    cmocka_unit_test(no_enumeration),      cmocka_unit_test(reset_ends_sessions),
	    cmocka_unit_test(change_password),     cmocka_unit_test(contact_details),
	    cmocka_unit_test(names_add_no_header), cmocka_unit_test(rate_limits),
	};
	int port, rc;

	if (argc < 4) {
		fprintf(stderr, "usage: itest_accounts ESTIVA-SERVER ESTIVA-ADMIN SOURCE-DIR\n");
		return 2;
	}
	if (access(PY, X_OK) != 0) {
		fprintf(stderr,
		        "itest_accounts: SKIP: %s not found (Debian: python3, python3-aiosmtpd)\n",
		        PY);
		return 77;
	}
	snprintf(src, sizeof src, "%s", argv[3]);
	if ((port = start_sink()) < 0) {
		fprintf(stderr,
		        "itest_accounts: the SMTP sink did not start (python3-aiosmtpd?)\n");
		stop_sink();
		return 1;
	}
	snprintf(extra_conf, sizeof extra_conf,
	         "[server]\npublic_url = " PORTAL "/\n"
	         "[accounts]\nmessages_per_account = 3\nmessages_per_address = 150\n"
	         "message_window = 1h\n"
	         "[mail]\nsmtp_url = smtp://127.0.0.1:%d\nstarttls = off\nfrom = Estiva "
	         "<no-reply@estiva.test>\n"
	         "domain = estiva.test\nretry_unit = 1s\ntemplates = %s/server/web/i18n\n",
	         port, src);
	opts.extra_conf = extra_conf;
	rc = hx_main(argc, argv, &opts, "accounts", tests, sizeof(tests) / sizeof(tests[0]));
	stop_sink();
	for (int i = 0; i <= MAX_MAILS; i++)
		json_decref(mails[i]);
	if (rc == 0)
		mailbox_remove();
	else {
		fprintf(stderr, "itest_accounts: the messages are in %s/box\n", mailbox_dir());
	}
	return rc;
}
