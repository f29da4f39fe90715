/* outbox.c: messages to members are queued here, in the transaction of the change they tell (a
 * hold, a confirmation, an expiry, a cancellation, an account token), so that a change rolled back
 * tells nothing and a change committed is told even if the process dies right after (docs/mail.md).
 * Nothing is sent here: mail.c's worker sends the queued rows later, outside any request and any
 * writer lock. A row holds what the message says as it was when the change was made (its payload),
 * the address it goes to and the language it is written in. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "date.h"
#include "log.h"
#include "server.h"

int mail_address_ok(const char *s)
{
	const char *at;
	size_t n = s ? strlen(s) : 0;

	if (n < 3 || n > MAIL_ADDRESS_MAX || !(at = strchr(s, '@')) || at == s || !at[1] ||
	    strchr(at + 1, '@'))
		return 0;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;

		/* no space, control byte, angle bracket, quote, comma or semicolon: nothing that
		 * could end an address or a header line */
		if (c <= 0x20 || c == 0x7f || strchr("<>\"(),;:\\[]", c))
			return 0;
	}
	return strchr(at + 1, '.') && at[strlen(at) - 1] != '.';
}

/* The member's address and language: 0, 1 when there is no such member, -1 on a database error. */
static int sms_on;

void outbox_sms_enable(int on)
{
	sms_on = on;
}

int sms_number_ok(const char *s, char *out, size_t n)
{
	size_t k = 0;

	/* +CC and 8 to 14 more digits (spaces and dashes as typed are dropped): E.164 */
	if (!s || *s != '+')
		return 0;
	for (const char *p = s; *p; p++) {
		if (*p == ' ' || *p == '-')
			continue;
		if ((p != s && (*p < '0' || *p > '9')) || k + 1 >= n)
			return 0;
		out[k++] = *p;
	}
	out[k] = '\0';
	return k >= 9 && k <= 16;
}

/* The templates an SMS goes with when the channel is on: the short news about a stay. */
static int sms_template(const char *t)
{
	static const char *const with_sms[] = {"hold", "confirmed", "expired", "cancelled",
	                                       "reminder"};

	for (size_t i = 0; i < sizeof(with_sms) / sizeof(with_sms[0]); i++)
		if (!strcmp(t, with_sms[i]))
			return 1;
	return 0;
}

static int member_contact(sqlite3 *db, int64_t member, char *email, size_t elen, char *locale,
                          char *phone, size_t plen)
{
	sqlite3_stmt *st =
	    db_stmt(db, "SELECT email, COALESCE(locale, 'fr'), phone FROM members WHERE id = ?");
	int rc;

	if (!st)
		return -1;
	db_bind_int64(st, 1, member);
	rc = db_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(email, elen, "%s", (const char *)sqlite3_column_text(st, 0));
		snprintf(locale, 3, "%s", (const char *)sqlite3_column_text(st, 1));
		snprintf(phone, plen, "%s", (const char *)sqlite3_column_text(st, 2));
	}
	db_done(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

/* One row: queued, or dead with why (not NULL). 0, or -1. */
static int insert_row(sqlite3 *db, const char *channel, const char *template, int64_t member,
                      int64_t booking, const char *locale, const char *recipient,
                      const char *payload, const char *why)
{
	int64_t now = instant_now();
	sqlite3_stmt *st =
	    db_stmt(db, "INSERT INTO outbox(event, member, booking, channel, template, locale,"
	                " recipient, payload, state, next_attempt_at, last_error, created_at)"
	                " VALUES (?1, ?2, ?3, ?4, ?1, ?5, ?6, ?7, ?8, ?9, ?10, ?9)");
	int rc;

	if (!st)
		return -1;
	db_bind_text(st, 1, template, -1, SQLITE_STATIC);
	db_bind_int64(st, 2, member);
	if (booking)
		db_bind_int64(st, 3, booking);
	else
		db_bind_null(st, 3);
	db_bind_text(st, 4, channel, -1, SQLITE_STATIC);
	db_bind_text(st, 5, locale, -1, SQLITE_STATIC);
	db_bind_text(st, 6, recipient, -1, SQLITE_STATIC);
	db_bind_text(st, 7, payload, -1, SQLITE_STATIC);
	db_bind_text(st, 8, why ? "dead" : "queued", -1, SQLITE_STATIC);
	db_bind_int64(st, 9, now);
	if (why)
		db_bind_text(st, 10, why, -1, SQLITE_STATIC);
	else
		db_bind_null(st, 10);
	rc = db_step(st);
	db_done(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int outbox_queue(sqlite3 *db, const char *template, int64_t member, int64_t booking,
                 json_t *payload)
{
	return outbox_queue_to(db, template, member, booking, NULL, payload);
}

int outbox_queue_to(sqlite3 *db, const char *template, int64_t member, int64_t booking,
                    const char *recipient, json_t *payload)
{
	char email[MAIL_ADDRESS_MAX + 2] = "", locale[3] = "fr", *text = NULL, phone[40] = "",
	                              number[20];
	int rc, ok;

	rc = member_contact(db, member, email, sizeof(email), locale, phone, sizeof(phone));
	if (rc != 0 || !payload || !(text = json_dumps(payload, JSON_COMPACT))) {
		json_decref(payload);
		return rc > 0 ? 0 : -1; /* no such member: nobody to tell */
	}
	json_decref(payload);
	if (recipient) /* a new address to confirm: the message goes there, not to the one on file
	                */
		snprintf(email, sizeof(email), "%s", recipient);
	ok = mail_address_ok(email);
	/* no usable address on file: kept as a dead letter the admins see, never sent */
	rc = insert_row(db, "email", template, member, booking, locale, email, text,
	                ok ? NULL : "no usable e-mail address on file");
	/* and the same news by SMS when that channel is on, to a number that can take one */
	if (rc == 0 && sms_on && !recipient && sms_template(template) &&
	    sms_number_ok(phone, number, sizeof(number)))
		rc = insert_row(db, "sms", template, member, booking, locale, number, text, NULL);
	rc = rc == 0 ? SQLITE_DONE : SQLITE_ERROR;
	free(text);
	if (rc != SQLITE_DONE)
		return -1;
	if (!ok)
		log_warn("outbox: member %lld has no usable e-mail address: the %s message is a "
		         "dead letter",
		         (long long)member, template);
	return 0;
}

static void money(char *out, size_t n, int64_t centimes)
{
	snprintf(out, n, "%lld.%02lld", (long long)(centimes / 100), (long long)(centimes % 100));
}

int outbox_booking(struct app *app, sqlite3 *db, const char *template, int64_t booking,
                   json_t *extra)
{
	sqlite3_stmt *st;
	const struct centre *c = NULL;
	const struct unit_type *t = NULL;
	char amount[32], hhmm[24], deadline[INSTANT_STRLEN] = "";
	int64_t member = 0;
	json_t *p = NULL;
	int rc;

	if (!(st = db_stmt(
	          db,
	          "SELECT b.member, b.centre, ut.code, b.arrival, b.departure, b.amount,"
	          " b.hold_expires_at, m.first_name, m.first_name_ar, COALESCE(u.code, '')"
	          " FROM bookings b JOIN members m ON m.id = b.member"
	          " JOIN unit_types ut ON ut.id = b.unit_type LEFT JOIN units u ON u.id = b.unit"
	          " WHERE b.id = ?"))) {
		json_decref(extra);
		return -1;
	}
	db_bind_int64(st, 1, booking);
	rc = db_step(st);
	if (rc == SQLITE_ROW) {
		int ci = catalog_centre(&app->cat, (const char *)sqlite3_column_text(st, 1));

		c = ci >= 0 ? app->cat.centres[ci] : NULL;
		for (int i = 0; c && i < c->ntypes; i++)
			if (!strcmp(c->types[i].id, (const char *)sqlite3_column_text(st, 2)))
				t = &c->types[i];
		member = sqlite3_column_int64(st, 0);
		money(amount, sizeof(amount), sqlite3_column_int64(st, 5));
		if (sqlite3_column_type(st, 6) != SQLITE_NULL) {
			/* told in the centres' time (the server runs with TZ = [catalog] timezone)
			 */
			time_t when = (time_t)sqlite3_column_int64(st, 6);
			struct tm tm;

			localtime_r(&when, &tm);
			strftime(deadline, sizeof(deadline), "%Y-%m-%d %H:%M", &tm);
		}
		snprintf(hhmm, sizeof(hhmm), "%02d:%02d", c ? c->check_in / 60 : 0,
		         c ? c->check_in % 60 : 0);
		p = json_pack(
		    "{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}",
		    "booking", (json_int_t)booking, "first_name", sqlite3_column_text(st, 7),
		    "first_name_ar", sqlite3_column_text(st, 8), "centre_fr", c ? c->name_fr : "",
		    "centre_ar", c ? c->name_ar : "", "city_fr", c ? c->city_fr : "", "city_ar",
		    c ? c->city_ar : "", "address_fr", c ? c->address_fr : "", "address_ar",
		    c ? c->address_ar : "", "phone", c ? c->phone : "", "unit_type_fr",
		    t ? t->name_fr : "", "unit_type_ar", t ? t->name_ar : "", "unit",
		    sqlite3_column_text(st, 9), "arrival", sqlite3_column_text(st, 3), "departure",
		    sqlite3_column_text(st, 4), "amount", amount, "check_in", hhmm);
		if (p && deadline[0])
			json_object_set_new(p, "hold_deadline", json_string(deadline));
	}
	db_done(st);
	if (rc != SQLITE_ROW || !p) {
		json_decref(extra);
		json_decref(p);
		return rc == SQLITE_DONE ? 0 : -1;
	}
	if (extra && json_object_update(p, extra) < 0) {
		json_decref(extra);
		json_decref(p);
		return -1;
	}
	json_decref(extra);
	return outbox_queue(db, template, member, booking, p);
}

json_t *outbox_money(int64_t centimes)
{
	char s[32];

	money(s, sizeof(s), centimes);
	return json_string(s);
}
