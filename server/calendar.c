/* calendar.c: a booking's stay as an iCalendar file (RFC 5545), built with libical, the same for
 * GET /api/v1/bookings/{booking}/stay.ics and the confirmation e-mail's attachment: one VEVENT with
 * a stable UID (booking-ID@mail domain), from the centre's check-in time on the arrival date to its
 * check-out time on the departure date, in the catalog's time zone with its VTIMEZONE (from the
 * system's tzdata through libical), the centre's name and address as LOCATION, the SUMMARY and
 * DESCRIPTION in the member's language. libical folds the lines at 75 octets and ends them with
 * CRLF. A cancelled booking gives the same UID with STATUS:CANCELLED, so a calendar that imported
 * the stay can drop it. */
#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "log.h"
#include "server.h"

struct stay {
	int64_t member;
	int centre; /* catalog index */
	char status[16];
	int32_t arrival, departure;
	int64_t stamp; /* when the booking last changed: DTSTAMP, stable between downloads */
	char locale[3];
	char unit_type[ID_MAX + 1];
	char unit[UNIT_CODE_MAX + 1];
	int nguests;
};

/* 1 found, 0 no such booking, -1 error. */
static int stay_load(struct app *app, sqlite3 *db, int64_t booking, struct stay *s)
{
	sqlite3_stmt *st;
	int rc;

	memset(s, 0, sizeof(*s));
	s->centre = -1;
	if (!(st = db_stmt(db, "SELECT b.member, b.centre, b.status, b.arrival, b.departure,"
	                       " b.updated_at, COALESCE(m.locale, 'fr'), ut.code, u.code, b.nguests"
	                       " FROM bookings b JOIN members m ON m.id = b.member"
	                       " JOIN unit_types ut ON ut.id = b.unit_type"
	                       " JOIN units u ON u.id = b.unit WHERE b.id = ?")))
		return -1;
	db_bind_int64(st, 1, booking);
	rc = db_step(st);
	if (rc == SQLITE_ROW) {
		s->member = sqlite3_column_int64(st, 0);
		s->centre = catalog_centre(&app->cat, (const char *)sqlite3_column_text(st, 1));
		snprintf(s->status, sizeof(s->status), "%s",
		         (const char *)sqlite3_column_text(st, 2));
		if (date_parse((const char *)sqlite3_column_text(st, 3), &s->arrival) < 0 ||
		    date_parse((const char *)sqlite3_column_text(st, 4), &s->departure) < 0)
			rc = SQLITE_ERROR;
		s->stamp = sqlite3_column_int64(st, 5);
		snprintf(s->locale, sizeof(s->locale), "%s",
		         (const char *)sqlite3_column_text(st, 6));
		snprintf(s->unit_type, sizeof(s->unit_type), "%s",
		         (const char *)sqlite3_column_text(st, 7));
		snprintf(s->unit, sizeof(s->unit), "%s", (const char *)sqlite3_column_text(st, 8));
		s->nguests = sqlite3_column_int(st, 9);
	}
	db_done(st);
	if (rc == SQLITE_ROW && s->centre < 0)
		return -1;
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* A local date and minutes after midnight as a time of zone. */
static struct icaltimetype local_time(int32_t day, int minutes, icaltimezone *zone)
{
	struct icaltimetype t = icaltime_null_time();
	unsigned m, d;

	date_to_civil(day, &t.year, &m, &d);
	t.month = (int)m;
	t.day = (int)d;
	t.hour = (minutes / 60) % 24;
	t.minute = minutes % 60;
	t.is_date = 0;
	return icaltime_set_timezone(&t, zone);
}

static icalproperty *zoned(icalproperty *p, const char *tzid)
{
	icalproperty_add_parameter(p, icalparameter_new_tzid(tzid));
	return p;
}

static int stay_ics(struct app *app, int64_t booking, const struct stay *s, const char *locale,
                    struct buf *out)
{
	const struct centre *c = app->cat.centres[s->centre];
	const char *tzid = app->cfg.timezone;
	icaltimezone *zone = icaltimezone_get_builtin_timezone(tzid),
	             *utc = icaltimezone_get_utc_timezone();
	icalcomponent *cal = NULL, *vtz, *ev;
	struct icaltimetype start, end;
	const struct unit_type *t = NULL;
	int ar = locale && !strcmp(locale, "ar"), cancelled = !strcmp(s->status, "cancelled");
	char uid[200], summary[2 * NAME_MAX_LEN + 32], location[4 * NAME_MAX_LEN], *text = NULL;
	struct buf desc;
	int rc = -1;

	if (!zone) {
		log_err("calendar: time zone %s unknown to libical (tzdata?)", tzid);
		return -1;
	}
	for (int i = 0; i < c->ntypes; i++)
		if (!strcmp(c->types[i].id, s->unit_type))
			t = &c->types[i];
	start = local_time(s->arrival, c->check_in, zone);
	end = local_time(s->departure, c->check_out, zone);
	snprintf(uid, sizeof(uid), "booking-%lld@%s", (long long)booking, app->cfg.mail_domain);
	snprintf(summary, sizeof(summary), ar ? "إقامة في %s" : "Séjour au %s",
	         ar ? c->name_ar : c->name_fr);
	snprintf(location, sizeof(location), "%s, %s", ar ? c->name_ar : c->name_fr,
	         (ar ? c->address_ar : c->address_fr)[0] ? (ar ? c->address_ar : c->address_fr)
	         : ar                                    ? c->city_ar
	                                                 : c->city_fr);
	buf_init(&desc, 4096);
	if (ar)
		buf_printf(&desc,
		           "الحجز رقم %lld: %s %s، %d أشخاص.\nالوصول ابتداء من %02d:%02d، "
		           "المغادرة قبل %02d:%02d.",
		           (long long)booking, t ? t->name_ar : s->unit_type, s->unit, s->nguests,
		           c->check_in / 60 % 24, c->check_in % 60, c->check_out / 60 % 24,
		           c->check_out % 60);
	else
		buf_printf(&desc,
		           "Réservation n° %lld : %s %s, %d personne(s).\nArrivée à partir de "
		           "%02d:%02d, départ avant %02d:%02d.",
		           (long long)booking, t ? t->name_fr : s->unit_type, s->unit, s->nguests,
		           c->check_in / 60 % 24, c->check_in % 60, c->check_out / 60 % 24,
		           c->check_out % 60);
	if (c->phone[0])
		buf_printf(&desc, ar ? "\nالاستقبال: %s" : "\nAccueil : %s", c->phone);
	if (!buf_cstr(&desc))
		goto out;

	cal = icalcomponent_vanew(ICAL_VCALENDAR_COMPONENT, icalproperty_new_version("2.0"),
	                          icalproperty_new_prodid("-//Estiva//Estiva bookings//FR"),
	                          icalproperty_new_calscale("GREGORIAN"), (void *)0);
	/* the zone's rules around the stay only (the whole history of Africa/Casablanca is 6 kB):
	 * a day either side in UTC */
	vtz = icalcomponent_new_clone(icaltimezone_get_component(zone));
	if (!cal || !vtz)
		goto out;
	icaltimezone_truncate_vtimezone(
	    vtz,
	    icaltime_from_timet_with_zone(icaltime_as_timet_with_zone(start, zone) - 86400, 0, utc),
	    icaltime_from_timet_with_zone(icaltime_as_timet_with_zone(end, zone) + 86400, 0, utc),
	    0);
	/* libical names its zones "/freeassociation.sourceforge.net/Africa/Casablanca": the plain
	 * Olson name is what calendars (and Python's icalendar) resolve */
	icalproperty_set_tzid(icalcomponent_get_first_property(vtz, ICAL_TZID_PROPERTY), tzid);
	icalcomponent_add_component(cal, vtz);
	ev = icalcomponent_vanew(
	    ICAL_VEVENT_COMPONENT, icalproperty_new_uid(uid),
	    icalproperty_new_dtstamp(icaltime_from_timet_with_zone((time_t)s->stamp, 0, utc)),
	    zoned(icalproperty_new_dtstart(start), tzid), zoned(icalproperty_new_dtend(end), tzid),
	    icalproperty_new_summary(summary), icalproperty_new_location(location),
	    icalproperty_new_description(desc.data), icalproperty_new_sequence(cancelled ? 1 : 0),
	    icalproperty_new_status(cancelled ? ICAL_STATUS_CANCELLED : ICAL_STATUS_CONFIRMED),
	    icalproperty_new_transp(ICAL_TRANSP_OPAQUE), (void *)0);
	if (!ev)
		goto out;
	icalcomponent_add_component(cal, ev);
	if (!(text = icalcomponent_as_ical_string_r(cal)) ||
	    buf_append(out, text, strlen(text)) < 0)
		goto out;
	rc = 0;
out:
	if (text)
		icalmemory_free_buffer(text);
	if (cal)
		icalcomponent_free(cal);
	buf_free(&desc);
	return rc;
}

int calendar_ics(struct app *app, sqlite3 *db, int64_t booking, const char *locale, struct buf *out)
{
	struct stay s;
	int f = stay_load(app, db, booking, &s);

	if (f <= 0)
		return f;
	if (strcmp(s.status, "confirmed") && strcmp(s.status, "cancelled"))
		return 0; /* held or expired: no stay to put in a calendar */
	return stay_ics(app, booking, &s, locale ? locale : s.locale, out) < 0 ? -1 : 1;
}

int calendar_route(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	struct stay s;
	struct buf b;
	int f;

	if (!db)
		return reply_error(rp, 500, "internal", "database unavailable");
	f = stay_load(app, db, rq->id, &s);
	if (f < 0)
		return reply_error(rp, 500, "internal", "database error");
	if (!f || !auth_may_see(&rq->who, s.member, s.centre))
		return reply_error(rp, 404, "not_found", "no such booking");
	if (strcmp(s.status, "confirmed") && strcmp(s.status, "cancelled"))
		return reply_error(rp, 409, "not_confirmed",
		                   "a booking is in a calendar once it is confirmed");
	buf_init(&b, 256 * 1024);
	if (stay_ics(app, rq->id, &s, s.locale, &b) < 0) {
		buf_free(&b);
		return reply_error(rp, 500, "internal", "could not build the calendar file");
	}
	free(rp->body);
	rp->status = 200;
	rp->len = b.len;
	rp->body = buf_steal(&b, NULL);
	rp->content_type = "text/calendar; charset=utf-8";
	snprintf(rp->disposition, sizeof(rp->disposition),
	         "attachment; filename=\"estiva-%lld.ics\"", (long long)rq->id);
	return 0;
}
