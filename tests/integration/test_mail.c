/* Messages to members (docs/mail.md) through a real SMTP server on loopback (tools/smtp_sink.py, on
 * Debian's python3-aiosmtpd), each message read back with Python's email package: a hold, a
 * confirmation, a cancellation and an expiry each give exactly one message, to the member's
 * address, in their language, with a plain-text and an HTML part and a Message-ID made from the
 * outbox row. The SMTP server answers the first message 451 (sent once, after a retry) and refuses
 * one address with 550 (a dead letter, never retried). A retried request sends nothing more; a
 * member without a usable address gets a dead letter, not an error; a name with CR/LF cannot add a
 * header. */
#include "harness.h"
#include "mailbox.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PY MAILBOX_PY
#define REJECTED "m200005@example.ma" /* the SMTP server refuses this one with 550 */

static char src[1024], extra_conf[2048];
static int smtp_port;

static int start_sink(void)
{
	return mailbox_start(src, 0, 1, REJECTED);
}

#define stop_sink mailbox_stop
#define restart_sink mailbox_restart
#define box_count mailbox_count
#define wait_box mailbox_wait
#define message mailbox_message

static long long db_count(const char *sql)
{
	long long v = -1;

	assert_int_equal(hx_db_int(sql, &v), 0);
	return v;
}

static int has_type(json_t *m, const char *type)
{
	json_t *v;
	size_t i;

	json_array_foreach(jget(m, "types"), i,
	                   v) if (!strcmp(json_string_value(v), type)) return 1;
	return 0;
}

static void expect_message(json_t *m, const char *to, const char *subject_part,
                           const char *text_part)
{
	char want_to[128];

	snprintf(want_to, sizeof want_to, "<%s>", to);
	if (!strstr(jstr(m, "envelope_to"), to) || !strstr(jstr(m, "to"), to))
		fail_msg("message to %s / %s, expected %s", jstr(m, "envelope_to"), jstr(m, "to"),
		         want_to);
	if (!strstr(jstr(m, "subject"), subject_part))
		fail_msg("subject \"%s\" lacks \"%s\"", jstr(m, "subject"), subject_part);
	if (!strstr(jstr(m, "text"), text_part))
		fail_msg("text part lacks \"%s\": %s", text_part, jstr(m, "text"));
	assert_true(has_type(m, "multipart/alternative"));
	assert_true(has_type(m, "text/plain"));
	assert_true(has_type(m, "text/html"));
	assert_non_null(strstr(jstr(m, "message_id"), "<outbox-"));
	assert_non_null(strstr(jstr(m, "message_id"), "@estiva.test>"));
	assert_true(strlen(jstr(m, "date")) > 10);
}

/* A hold, then its confirmation, then its cancellation: three messages in French, one each. The
 * first was answered 451 by the SMTP server and sent again: still one message, after two tries. */
static void booking_messages(void **state)
{
	struct hc *c = hc_login_ok("200001");
	struct hres r;
	char id[32], msg_id[128];
	long long bid;
	json_t *m;

	(void)state;
	hc_book(c, "test-a", "chalet", 20, 23, HX_GUESTS_COUPLE, &r);
	EXPECT(r, 201, NULL);
	bid = jint(r.json, "id");
	hres_free(&r);
	wait_box(1);
	m = message(1);
	snprintf(id, sizeof id, "%lld", bid);
	expect_message(m, "m200001@example.ma", id, "Bonjour Karim");
	assert_non_null(strstr(jstr(m, "html"), "<html lang=\"fr\">"));
	snprintf(msg_id, sizeof msg_id, "%s", jstr(m, "message_id"));
	json_decref(m);
	assert_int_equal(
	    db_count("SELECT attempts FROM outbox WHERE template = 'hold' AND state = 'sent'"), 2);
	assert_int_equal(db_count("SELECT COUNT(*) FROM outbox WHERE last_code = 451"),
	                 0); /* sent: code 250 */

	{
		char *argv_confirm[] = {"confirm", id, NULL};
		char out[4096];
		assert_int_equal(
		    hx_admin_run(out, sizeof out, argv_confirm[0], argv_confirm[1], NULL), 0);
	}
	wait_box(2);
	m = message(2);
	expect_message(m, "m200001@example.ma", "confirmé", "Arrivée à partir de 15:00");
	assert_non_null(strstr(jstr(m, "text"), "Accueil : +212 500 00 00 00"));
	assert_string_not_equal(jstr(m, "message_id"), msg_id); /* another row, another message */
	json_decref(m);

	{
		char path[96];
		snprintf(path, sizeof path, "/api/v1/bookings/%lld/cancel", bid);
		hc_do(c, "POST", path, "{}", NULL, &r);
		EXPECT(r, 200, NULL);
		hres_free(&r);
	}
	wait_box(3);
	m = message(3);
	expect_message(m, "m200001@example.ma", "annulée", "Remboursement :");
	json_decref(m);
	hx_sleep_ms(1500);
	assert_int_equal(box_count(), 3); /* exactly one each */
	hc_free(c);
}

/* A member who chose Arabic gets Arabic, right to left; a held booking that expires is told. */
static void arabic_and_expiry(void **state)
{
	struct hc *c = hc_login_ok("200003");
	struct hres r;
	int before = box_count();
	char sql[160];
	long long bid;
	json_t *m;

	(void)state;
	hx_db_write("UPDATE members SET locale = 'ar' WHERE number = '200003'");
	hc_book(c, "test-a", "studio", 30, 32, HX_GUESTS_SELF, &r);
	EXPECT(r, 201, NULL);
	bid = jint(r.json, "id");
	hres_free(&r);
	wait_box(before + 1);
	m = message(before + 1);
	expect_message(m, "m200003@example.ma", "الحجز", "مرحبا كريم");
	assert_non_null(strstr(jstr(m, "html"), "dir=\"rtl\""));
	assert_non_null(strstr(jstr(m, "html"), "lang=\"ar\""));
	json_decref(m);
	/* its time is up (moved to the past): the expiry timer releases it and tells the member */
	snprintf(sql, sizeof sql, "UPDATE bookings SET hold_expires_at = 1 WHERE id = %lld", bid);
	hx_db_write(sql);
	wait_box(before + 2);
	m = message(before + 2);
	expect_message(m, "m200003@example.ma", "تحرير الحجز", "لم يتم أداء الحجز");
	json_decref(m);
	hc_free(c);
}

/* A retried request (same Idempotency-Key) books nothing more and tells nothing more. */
static void retried_request_sends_nothing_more(void **state)
{
	struct hc *c = hc_login_ok("200004");
	char *body = hx_booking_body("test-a", "chalet", 40, 42, HX_GUESTS_SELF);
	struct hreq rq = {.idem = "mail-retry-1"};
	struct hres r;
	int before;

	(void)state;
	before = box_count();
	hc_do(c, "POST", "/api/v1/bookings", body, &rq, &r);
	EXPECT(r, 201, NULL);
	hres_free(&r);
	hc_do(c, "POST", "/api/v1/bookings", body, &rq, &r);
	EXPECT(r, 201, NULL);
	hres_free(&r);
	wait_box(before + 1);
	hx_sleep_ms(1500);
	assert_int_equal(box_count(), before + 1);
	assert_int_equal(db_count("SELECT COUNT(*) FROM outbox o JOIN members m ON m.id = o.member"
	                          " WHERE m.number = '200004' AND o.template = 'hold'"),
	                 1);
	free(body);
	hc_free(c);
}

/* 550 for an address: a dead letter after one try, counted in /metrics; a member with no usable
 * address on file: a dead letter at once, the booking itself fine. */
static void refused_and_missing_addresses(void **state)
{
	struct hc *c = hc_login_ok("200005"), *d = hc_login_ok("200006"), *anon = hc_new(HX);
	struct hres r;
	int before = box_count();

	(void)state;
	hc_book(c, "test-a", "chalet", 50, 52, HX_GUESTS_SELF, &r);
	EXPECT(r, 201, NULL);
	hres_free(&r);
	for (int i = 0;
	     i < 50 && db_count("SELECT COUNT(*) FROM outbox WHERE recipient = '" REJECTED
	                        "' AND state = 'dead'") == 0;
	     i++)
		hx_sleep_ms(100);
	assert_int_equal(db_count("SELECT attempts FROM outbox WHERE recipient = '" REJECTED "'"),
	                 1);
	assert_int_equal(db_count("SELECT last_code FROM outbox WHERE recipient = '" REJECTED "'"),
	                 550);
	hc_do(anon, "GET", "/metrics", NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	assert_non_null(strstr(r.body, "estiva_mail_dead_total 1"));
	hres_free(&r);

	/* an address that could carry a header: never used */
	hx_db_write("UPDATE members SET email = 'x@example.ma>\r\nBcc: <all@example.ma' WHERE "
	            "number = '200006'");
	hc_book(d, "test-a", "chalet", 60, 62, HX_GUESTS_SELF, &r);
	EXPECT(r, 201, NULL);
	hres_free(&r);
	assert_int_equal(db_count("SELECT COUNT(*) FROM outbox o JOIN members m ON m.id = o.member"
	                          " WHERE m.number = '200006' AND o.state = 'dead'"
	                          " AND o.last_error = 'no usable e-mail address on file'"),
	                 1);
	hx_sleep_ms(1500);
	assert_int_equal(box_count(), before);
	hc_free(c);
	hc_free(d);
	hc_free(anon);
}

/* A first name with CR/LF (as a careless import could bring) stays text: no header is added. */
static void names_cannot_add_headers(void **state)
{
	struct hc *c = hc_login_ok("200007");
	struct hres r;
	int before = box_count();
	json_t *m, *h;
	size_t i;

	(void)state;
	hx_db_write("UPDATE members SET first_name = 'Karim' || char(13, 10) || 'Bcc: "
	            "all@example.ma' WHERE number = "
	            "'200007'");
	hc_book(c, "test-a", "studio", 70, 72, HX_GUESTS_SELF, &r);
	EXPECT(r, 201, NULL);
	hres_free(&r);
	wait_box(before + 1);
	m = message(before + 1);
	json_array_foreach(jget(m, "headers"), i, h)
	    assert_true(strcasecmp(json_string_value(h), "Bcc"));
	assert_non_null(strstr(jstr(m, "envelope_to"), "m200007@example.ma"));
	assert_null(strstr(jstr(m, "envelope_to"), "all@example.ma"));
	json_decref(m);
	hc_free(c);
}

/* A confirmed stay that starts in three days is reminded of once, however often the job runs; a
 * member who turned reminders off is not. */
static void reminders(void **state)
{
	struct hc *c = hc_login_ok("200008"), *d = hc_login_ok("200002");
	struct hres r;
	char id[32], out[4096];
	int before = box_count();
	json_t *m;

	(void)state;
	hx_db_write("UPDATE members SET reminders = 0 WHERE number = '200002'");
	hc_book(c, "test-a", "chalet", 3, 5, HX_GUESTS_SELF, &r);
	EXPECT(r, 201, NULL);
	snprintf(id, sizeof id, "%lld", (long long)jint(r.json, "id"));
	hres_free(&r);
	assert_int_equal(hx_admin_run(out, sizeof out, "confirm", id, NULL), 0);
	hc_book(d, "test-a", "studio", 3, 5,
	        "[{\"name\":\"Ahmed\",\"relation\":\"self\",\"birth_year\":1955}]", &r);
	EXPECT(r, 201, NULL);
	snprintf(id, sizeof id, "%lld", (long long)jint(r.json, "id"));
	hres_free(&r);
	assert_int_equal(hx_admin_run(out, sizeof out, "confirm", id, NULL), 0);
	/* two holds and two confirmations, then one reminder */
	wait_box(before + 5);
	hx_sleep_ms(2500); /* the job runs every second here: still one */
	assert_int_equal(box_count(), before + 5);
	assert_int_equal(db_count("SELECT COUNT(*) FROM outbox WHERE template = 'reminder'"), 1);
	for (int i = before + 1; i <= before + 5; i++) {
		m = message(i);
		if (strstr(jstr(m, "subject"), "Dans 3 jours")) {
			expect_message(m, "m200008@example.ma", "Centre Test A",
			               "la CIN de chaque adulte");
			assert_non_null(strstr(jstr(m, "text"), "Accueil : +212 500 00 00 00"));
		}
		json_decref(m);
	}
	hc_free(c);
	hc_free(d);
}

/* The dead letters are listed for admins, who can send one again (it is refused again here: 550).
 */
static void admins_see_and_resend_dead_letters(void **state)
{
	struct hc *boss = hc_login_ok(HX_ADMIN);
	struct hres r;
	long long dead;
	char path[96];

	(void)state;
	hc_do(boss, "GET", "/api/v1/admin/mail?state=dead", NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	assert_true(json_array_size(jget(r.json, "messages")) >= 2);
	assert_non_null(jfind(r.json, "messages", "recipient", REJECTED));
	dead = jint(jfind(r.json, "messages", "recipient", REJECTED), "id");
	ASSERT_JINT(jfind(r.json, "messages", "recipient", REJECTED), "last_code", 550);
	hres_free(&r);
	hc_do(boss, "GET", "/api/v1/admin/mail?state=lost", NULL, NULL, &r);
	EXPECT(r, 400, "bad_request");
	hres_free(&r);
	snprintf(path, sizeof path, "/api/v1/admin/mail/%lld/resend", dead);
	hc_do(boss, "POST", path, "{}", NULL, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JSTR(r.json, "state", "queued");
	hres_free(&r);
	for (int i = 0; i < 50; i++) {
		long long a = -1;
		char sql[128];

		snprintf(sql, sizeof sql,
		         "SELECT attempts FROM outbox WHERE id = %lld AND state = 'dead'", dead);
		if (hx_db_int(sql, &a) == 0 && a == 1)
			break;
		hx_sleep_ms(100);
	}
	assert_int_equal(db_count("SELECT COUNT(*) FROM audit WHERE action = 'mail.resend'"), 1);
	/* a message that was sent is not sent again */
	snprintf(path, sizeof path, "/api/v1/admin/mail/%lld/resend",
	         db_count("SELECT MIN(id) FROM outbox WHERE state = 'sent'"));
	hc_do(boss, "POST", path, "{}", NULL, &r);
	EXPECT(r, 409, "not_dead");
	hres_free(&r);
	hc_free(boss);
}

/* The SMTP server down for a while, then back on the same port: every message queued meanwhile is
 * sent exactly once. */
static void smtp_down_then_back(void **state)
{
	struct hc *c = hc_login_ok("200001");
	struct hres r;
	int before = box_count(), port = smtp_port;

	(void)state;
	stop_sink();
	hc_book(c, "test-a", "studio", 80, 82, HX_GUESTS_SELF, &r);
	EXPECT(r, 201, NULL);
	hres_free(&r);
	hc_book(c, "test-a", "studio", 84, 86, HX_GUESTS_SELF, &r);
	EXPECT(r, 201, NULL);
	hres_free(&r);
	hx_sleep_ms(2500); /* tried, refused: waiting for the next try */
	assert_true(
	    db_count("SELECT COUNT(*) FROM outbox WHERE state = 'queued' AND attempts >= 1") >= 2);
	assert_true(restart_sink(port) == port);
	wait_box(before + 2);
	hx_sleep_ms(1500);
	assert_int_equal(box_count(), before + 2);
	assert_int_equal(db_count("SELECT COUNT(*) FROM outbox WHERE state = 'queued'"), 0);
	hc_free(c);
}

/* A hold whose transaction fails after its message was queued (here the idempotency record is
 * refused) is rolled back with its message: nothing is told of a hold that does not exist. */
static void a_rolled_back_hold_tells_nothing(void **state)
{
	struct hc *c = hc_login_ok("200008");
	struct hres r;
	long long rows = db_count("SELECT COUNT(*) FROM outbox");
	int before = box_count();

	(void)state;
	hx_db_write(
	    "CREATE TRIGGER refuse_idem BEFORE INSERT ON idempotency BEGIN SELECT RAISE(ABORT, "
	    "'refused by the test'); END");
	hc_book(c, "test-a", "chalet", 90, 92, HX_GUESTS_SELF, &r);
	EXPECT(r, 500, "internal");
	hres_free(&r);
	hx_db_write("DROP TRIGGER refuse_idem");
	assert_int_equal(db_count("SELECT COUNT(*) FROM outbox"), rows);
	assert_int_equal(
	    db_count("SELECT COUNT(*) FROM bookings WHERE arrival = date('now', '+90 days')"), 0);
	hx_sleep_ms(1500);
	assert_int_equal(box_count(), before);
	hc_free(c);
}

/* kill -9 right after a hold committed its message, five times: every message arrives, and a
 * message sent again after a crash is the same message (its Message-ID). */
static void crashes_lose_nothing(void **state)
{
	char seen[16][128];
	int before = box_count(), nseen = 0;

	(void)state;
	for (int round = 0; round < 5; round++) {
		struct hc *c = hc_login_ok("200004");
		struct hres r;

		hc_book(c, "test-a", "studio", 100 + 4 * round, 102 + 4 * round, HX_GUESTS_SELF,
		        &r);
		EXPECT(r, 201, NULL);
		hres_free(&r);
		hc_free(c);
		hx_sleep_ms(round * 300); /* from before the first try to after it */
		assert_int_equal(hx_crash(HX), 0);
		assert_int_equal(hx_start(HX), 0);
	}
	for (int i = 0; i < 100 && db_count("SELECT COUNT(*) FROM outbox WHERE state = 'queued'");
	     i++)
		hx_sleep_ms(100);
	assert_int_equal(db_count("SELECT COUNT(*) FROM outbox WHERE state = 'queued'"), 0);
	hx_sleep_ms(500);
	for (int i = before + 1; i <= box_count(); i++) {
		json_t *m = message(i);
		int dup = 0;

		for (int k = 0; k < nseen; k++)
			dup |= !strcmp(seen[k], jstr(m, "message_id"));
		if (!dup && nseen < 16)
			snprintf(seen[nseen++], sizeof seen[0], "%s", jstr(m, "message_id"));
		json_decref(m);
	}
	assert_int_equal(nseen,
	                 5); /* each of the five holds told, once as far as a reader can tell */
}

/* With starttls = required (the default), a server that offers no STARTTLS gets nothing in clear:
 * the message waits, and says why. */
static void no_clear_text_when_tls_is_required(void **state)
{
	struct hc *c = hc_login_ok("200001");
	struct hres r;

	(void)state;
	hc_book(c, "test-a", "chalet", 20, 23, HX_GUESTS_SELF, &r);
	EXPECT(r, 201, NULL);
	hres_free(&r);
	for (int i = 0; i < 50 && db_count("SELECT COUNT(*) FROM outbox WHERE attempts >= 1") == 0;
	     i++)
		hx_sleep_ms(100);
	assert_int_equal(
	    db_count("SELECT COUNT(*) FROM outbox WHERE attempts >= 1 AND state = 'queued'"
	             " AND last_error IS NOT NULL"),
	    1);
	hx_sleep_ms(1500);
	assert_int_equal(box_count(), 0);
	hc_free(c);
}

/* ---- the SMS channel ([sms] on: mode "sms") ---- */

#define SMS_TOKEN "sms-test-token-0123456789abcdef"
#define SMS_REFUSED "+212600200005" /* the SMS endpoint answers 400 for this number */
static pid_t sms_pid;
static char sms_dir[700], sms_port_file[760], sms_token_file[760];

static int start_sms(void)
{
	char script[1200];
	int port = 0;
	FILE *f;

	snprintf(sms_dir, sizeof sms_dir, "%s/sms", mailbox_dir());
	snprintf(sms_port_file, sizeof sms_port_file, "%s/sms.port", mailbox_dir());
	snprintf(sms_token_file, sizeof sms_token_file, "%s/sms.token", mailbox_dir());
	snprintf(script, sizeof script, "%s/tools/sms_sink.py", src);
	if (!(f = fopen(sms_token_file, "w")))
		return -1;
	fprintf(f, "%s\n", SMS_TOKEN);
	fclose(f);
	chmod(sms_token_file, 0600);
	sms_pid = fork();
	if (sms_pid == 0) {
		execl(PY, PY, script, "--dir", sms_dir, "--port-file", sms_port_file, "--status",
		      "400", "--for", SMS_REFUSED, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		if ((f = fopen(sms_port_file, "r"))) {
			int ok = fscanf(f, "%d", &port) == 1;
			fclose(f);
			if (ok)
				return port;
		}
		hx_sleep_ms(100);
	}
	return -1;
}

/* The SMS endpoint's record of message i (from 1); json_decref it. */
static json_t *sms(int i)
{
	char path[800];

	snprintf(path, sizeof path, "%s/%06d.json", sms_dir, i);
	for (int k = 0; k < 100 && access(path, R_OK) != 0; k++)
		hx_sleep_ms(100);
	return json_load_file(path, 0, NULL);
}

static size_t chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* A hold is told by e-mail and by SMS, each once, in the member's language, the SMS within what one
 * message holds (160 Latin characters, 70 Arabic), with the gateway's token; a number the gateway
 * refuses (400) is a dead letter, the e-mail still sent. */
static void stays_are_told_by_sms(void **state)
{
	struct hc *c = hc_login_ok("200001"), *d = hc_login_ok("200003"),
	          *e = hc_login_ok("200005");
	struct hres r;
	json_t *s;
	char id[32];

	(void)state;
	hc_book(c, "test-a", "chalet", 20, 23, HX_GUESTS_SELF, &r);
	EXPECT(r, 201, NULL);
	snprintf(id, sizeof id, "%lld", (long long)jint(r.json, "id"));
	hres_free(&r);
	s = sms(1);
	assert_non_null(s);
	ASSERT_JSTR(s, "auth", "Bearer " SMS_TOKEN);
	ASSERT_JSTR(s, "message.to", "+212600200001");
	ASSERT_JSTR(s, "message.from", "Fondation");
	assert_non_null(strstr(jstr(s, "message.text"), id));
	assert_non_null(strstr(jstr(s, "message.text"), "Centre Test A"));
	assert_true(chars(jstr(s, "message.text")) <= 160);
	json_decref(s);
	wait_box(1);

	hx_db_write("UPDATE members SET locale = 'ar' WHERE number = '200003'");
	hc_book(d, "test-a", "studio", 30, 32, HX_GUESTS_SELF, &r);
	EXPECT(r, 201, NULL);
	hres_free(&r);
	s = sms(2);
	assert_non_null(s);
	ASSERT_JSTR(s, "message.to", "+212600200003");
	assert_non_null(strstr(jstr(s, "message.text"), "إستيفا"));
	if (chars(jstr(s, "message.text")) > 70)
		fail_msg("an Arabic SMS of %zu characters: %s", chars(jstr(s, "message.text")),
		         jstr(s, "message.text"));
	json_decref(s);
	wait_box(2);

	hc_book(e, "test-a", "studio", 40, 42, HX_GUESTS_SELF, &r);
	EXPECT(r, 201, NULL);
	hres_free(&r);
	for (int i = 0;
	     i < 50 &&
	     db_count(
	         "SELECT COUNT(*) FROM outbox WHERE channel = 'sms' AND recipient = '" SMS_REFUSED
	         "' AND state = 'dead'") == 0;
	     i++)
		hx_sleep_ms(100);
	assert_int_equal(
	    db_count(
	        "SELECT last_code FROM outbox WHERE channel = 'sms' AND recipient = '" SMS_REFUSED
	        "'"),
	    400);
	assert_int_equal(db_count("SELECT COUNT(*) FROM outbox WHERE channel = 'sms'"), 3);
	assert_int_equal(
	    db_count("SELECT COUNT(*) FROM outbox WHERE channel = 'sms' AND state = 'sent'"), 2);
	hc_free(c);
	hc_free(d);
	hc_free(e);
}

int main(int argc, char **argv)
{
	struct hx_opts opts = {.members = 8, .hold = "20m", .sweep_interval = "1s"};
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(booking_messages),
	    cmocka_unit_test(arabic_and_expiry),
	    cmocka_unit_test(retried_request_sends_nothing_more),
	    cmocka_unit_test(refused_and_missing_addresses),
	    cmocka_unit_test(names_cannot_add_headers),
	    cmocka_unit_test(reminders),
	    cmocka_unit_test(admins_see_and_resend_dead_letters),
	    cmocka_unit_test(smtp_down_then_back),
	    cmocka_unit_test(a_rolled_back_hold_tells_nothing),
	    cmocka_unit_test(crashes_lose_nothing),
	};
	const struct CMUnitTest tls_tests[] = {
	    cmocka_unit_test(no_clear_text_when_tls_is_required),
	};
	const struct CMUnitTest sms_tests[] = {
	    cmocka_unit_test(stays_are_told_by_sms),
	};
	int port, rc, tls = argc > 4 && !strcmp(argv[4], "starttls-required"),
	              with_sms = argc > 4 && !strcmp(argv[4], "sms"), sport = 0;
	size_t used;

	if (argc < 4) {
		fprintf(stderr, "usage: itest_mail ESTIVA-SERVER ESTIVA-ADMIN SOURCE-DIR\n");
		return 2;
	}
	if (access(PY, X_OK) != 0) {
		fprintf(stderr,
		        "itest_mail: SKIP: %s not found (Debian: python3, python3-aiosmtpd)\n", PY);
		return 77;
	}
	snprintf(src, sizeof src, "%s", argv[3]);
	if ((port = smtp_port = start_sink()) < 0) {
		fprintf(stderr, "itest_mail: the SMTP sink did not start (python3-aiosmtpd?)\n");
		stop_sink();
		return 1;
	}
	snprintf(extra_conf, sizeof extra_conf,
	         "[mail]\nsmtp_url = smtp://127.0.0.1:%d\nstarttls = %s\nfrom = Estiva "
	         "<no-reply@estiva.test>\n"
	         "domain = estiva.test\nretry_unit = 1s\nreminder_interval = 1s\ntemplates = "
	         "%s/server/web/i18n\n",
	         port, tls ? "required" : "off", src);
	if (with_sms) {
		if ((sport = start_sms()) < 0) {
			fprintf(stderr, "itest_mail: the SMS endpoint did not start\n");
			stop_sink();
			return 1;
		}
		used = strlen(extra_conf);
		snprintf(extra_conf + used, sizeof extra_conf - used,
		         "\n[sms]\nurl = http://127.0.0.1:%d/sms\ntoken_file = %s\nsender = "
		         "Fondation\nhours = always\n",
		         sport, sms_token_file);
	}
	opts.extra_conf = extra_conf;
	if (with_sms)
		rc = hx_main(argc, argv, &opts, "mail-sms", sms_tests,
		             sizeof(sms_tests) / sizeof(sms_tests[0]));
	else if (tls)
		rc = hx_main(argc, argv, &opts, "mail-starttls", tls_tests,
		             sizeof(tls_tests) / sizeof(tls_tests[0]));
	else
		rc = hx_main(argc, argv, &opts, "mail", tests, sizeof(tests) / sizeof(tests[0]));
	stop_sink();
	if (sms_pid > 0) {
		kill(sms_pid, SIGTERM);
		waitpid(sms_pid, NULL, 0);
	}
	if (rc == 0)
		mailbox_remove();
	else
		fprintf(stderr, "itest_mail: the messages are in %s/box\n", mailbox_dir());
	return rc;
}
