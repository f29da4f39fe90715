/* manage.c: the read APIs of the manager dashboard and the admin pages: occupancy per night and
 * unit type, the day's arrivals and departures, revenue collected and refunded (each also as CSV
 * for the foundation's accounts), and for admins the member search and the pass signing keys.
 * Managers see the centres assigned to them (another centre is 404, as if it did not exist), admins
 * every centre, members nothing (403). Everything here only reads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "date.h"
#include "event.h"
#include "log.h"
#include "server.h"

#define CSV_MAX (16u * 1024 * 1024) /* one export; a larger one asks for a narrower range */
#define LIST_MAX 5000               /* rows of a JSON list (CSV has them all, up to CSV_MAX) */
#define SEARCH_MAX 64               /* bytes of a member search */
#define SEARCH_ROWS 50

/* ---- common checks ---- */

/* Who may call each route (staff, admins) and the centre scope are in api.c's route table: a
 * handler here runs for a caller it was meant for, with rq->centre one they may see. */

/* ?from=&to= as local dates, both required, at most max_request_nights days. 0, or -1 when it
 * replied. */
static int range_parse(struct app *app, struct request *rq, struct reply *rp, int32_t *from,
                       int32_t *to)
{
	const char *f = request_query(rq, "from"), *t = request_query(rq, "to");
	char msg[96];

	if (!f || !t || date_parse(f, from) < 0 || date_parse(t, to) < 0) {
		reply_error(rp, 400, "bad_request", "from and to must be dates YYYY-MM-DD");
		return -1;
	}
	if (*to < *from) {
		reply_error(rp, 400, "bad_request", "to must not be before from");
		return -1;
	}
	if (*to - *from + 1 > app->cfg.max_request_nights) {
		snprintf(msg, sizeof(msg), "at most %d days per request",
		         app->cfg.max_request_nights);
		reply_error(rp, 400, "bad_request", msg);
		return -1;
	}
	return 0;
}

/* ?format=json (default) or csv: 0 JSON, 1 CSV, -1 when it replied. */
static int want_csv(struct request *rq, struct reply *rp)
{
	const char *f = request_query(rq, "format");

	if (!f || !strcmp(f, "json"))
		return 0;
	if (!strcmp(f, "csv"))
		return 1;
	reply_error(rp, 400, "bad_request", "format must be json or csv");
	return -1;
}

/* Unix seconds of local midnight starting this day (the process runs in the catalog's time zone).
 */
static int64_t local_midnight(int32_t day)
{
	struct tm tm;
	int y;
	unsigned m, d;

	date_to_civil(day, &y, &m, &d);
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = (int)m - 1;
	tm.tm_mday = (int)d;
	tm.tm_isdst = -1;
	return (int64_t)mktime(&tm);
}

static int32_t local_day(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	localtime_r(&tt, &tm);
	return date_from_civil(tm.tm_year + 1900, (unsigned)tm.tm_mon + 1, (unsigned)tm.tm_mday);
}

static json_t *money(int64_t centimes)
{
	return json_pack("{s:I,s:s}", "centimes", (json_int_t)centimes, "currency", "MAD");
}

static const char *col(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	return s ? (const char *)s : "";
}

/* ---- CSV (RFC 4180, UTF-8 with a byte order mark so that spreadsheets read Arabic right) ---- */

struct csv {
	struct buf b;
	int bad; /* an append failed: the export is over CSV_MAX */
};

static void csv_start(struct csv *c)
{
	buf_init(&c->b, CSV_MAX);
	c->bad = buf_append(&c->b, "\xEF\xBB\xBF", 3) < 0;
}

/* One field (sep: put a comma before it). Text that a spreadsheet would run as a formula gets a
 * leading apostrophe (names come from outside); quotes are doubled; fields with , " CR or LF are
 * quoted. */
static void csv_field(struct csv *c, int sep, const char *s, int text)
{
	int quote = strpbrk(s, ",\"\r\n") != NULL;

	if (sep)
		c->bad |= buf_append(&c->b, ",", 1) < 0;
	if (quote)
		c->bad |= buf_append(&c->b, "\"", 1) < 0;
	if (text && s[0] && strchr("=+-@\t\r", s[0]))
		c->bad |= buf_append(&c->b, "'", 1) < 0;
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			c->bad |= buf_append(&c->b, "\"\"", 2) < 0;
		else
			c->bad |= buf_append(&c->b, p, 1) < 0;
	}
	if (quote)
		c->bad |= buf_append(&c->b, "\"", 1) < 0;
}

static void csv_int(struct csv *c, int sep, long long v)
{
	char s[24];

	snprintf(s, sizeof(s), "%lld", v);
	csv_field(c, sep, s, 0);
}

static void csv_money(struct csv *c, int sep, int64_t centimes)
{
	char s[32];

	snprintf(s, sizeof(s), "%lld.%02lld", (long long)(centimes / 100),
	         (long long)(centimes % 100));
	csv_field(c, sep, s, 0);
}

static void csv_eol(struct csv *c)
{
	c->bad |= buf_append(&c->b, "\r\n", 2) < 0;
}

/* Replies with the CSV as an attachment named NAME-CENTRE-FROM[-TO].csv. */
static int csv_reply(struct reply *rp, struct csv *c, const char *name, const char *centre,
                     int32_t from, int32_t to)
{
	char a[DATE_STRLEN], b[DATE_STRLEN];
	size_t len;

	if (c->bad) {
		buf_free(&c->b);
		return reply_error(rp, 400, "bad_request",
		                   "this export is too large: choose a shorter range");
	}
	date_format(from, a);
	date_format(to, b);
	if (from == to)
		snprintf(rp->disposition, sizeof(rp->disposition),
		         "attachment; filename=\"%s-%s-%s.csv\"", name, centre, a);
	else
		snprintf(rp->disposition, sizeof(rp->disposition),
		         "attachment; filename=\"%s-%s-%s-%s.csv\"", name, centre, a, b);
	free(rp->body);
	rp->status = 200;
	rp->body = buf_steal(&c->b, &len);
	rp->len = len;
	rp->content_type = "text/csv; charset=utf-8";
	return 0;
}

/* ---- occupancy ---- */

struct night_count {
	int booked, confirmed, guests, guests_confirmed;
};

int manage_occupancy(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	const struct centre *c;
	struct night_count *cnt = NULL; /* [type][night] */
	sqlite3_stmt *st = NULL;
	int32_t from, to;
	int ci = rq->centre, csv, width;

	if (range_parse(app, rq, rp, &from, &to) < 0 || (csv = want_csv(rq, rp)) < 0)
		return 0;
	if (!db)
		return reply_error(rp, 500, "internal", "database unavailable");
	c = app->cat.centres[ci];
	width = to - from + 1;
	cnt = calloc((size_t)(c->ntypes ? c->ntypes : 1) * (size_t)width, sizeof(*cnt));
	if (!cnt)
		return reply_error(rp, 500, "internal", "out of memory");
	/* booking_nights holds exactly the nights of held and confirmed bookings */
	if (!(st = db_stmt(db,
	                   "SELECT n.night, COUNT(*), SUM(b.status = 'confirmed'), SUM(b.nguests),"
	                   " SUM(CASE WHEN b.status = 'confirmed' THEN b.nguests ELSE 0 END)"
	                   " FROM booking_nights n JOIN bookings b ON b.id = n.booking"
	                   " WHERE n.unit_type = ? AND n.night BETWEEN ? AND ? GROUP BY n.night")))
		goto dbfail;
	for (int t = 0; t < c->ntypes; t++) {
		int rc;

		db_bind_int64(st, 1, c->types[t].dbid);
		db_bind_int(st, 2, from);
		db_bind_int(st, 3, to);
		while ((rc = db_step(st)) == SQLITE_ROW) {
			int n = sqlite3_column_int(st, 0) - from;
			struct night_count *x;

			if (n < 0 || n >= width)
				continue;
			x = &cnt[(size_t)t * (size_t)width + (size_t)n];
			x->booked = sqlite3_column_int(st, 1);
			x->confirmed = sqlite3_column_int(st, 2);
			x->guests = sqlite3_column_int(st, 3);
			x->guests_confirmed = sqlite3_column_int(st, 4);
		}
		if (rc != SQLITE_DONE)
			goto dbfail;
		sqlite3_reset(st);
	}
	db_done(st);
	st = NULL;

	if (csv) {
		struct csv out;

		csv_start(&out);
		csv_field(&out, 0, "night", 0);
		csv_field(&out, 1, "unit_type", 0);
		csv_field(&out, 1, "units", 0);
		csv_field(&out, 1, "booked", 0);
		csv_field(&out, 1, "confirmed", 0);
		csv_field(&out, 1, "held", 0);
		csv_field(&out, 1, "guests", 0);
		csv_field(&out, 1, "guests_confirmed", 0);
		csv_eol(&out);
		for (int n = 0; n < width; n++) {
			char d[DATE_STRLEN];

			date_format(from + n, d);
			for (int t = 0; t < c->ntypes; t++) {
				const struct night_count *x =
				    &cnt[(size_t)t * (size_t)width + (size_t)n];

				csv_field(&out, 0, d, 0);
				csv_field(&out, 1, c->types[t].id, 1);
				csv_int(&out, 1, c->types[t].nunits);
				csv_int(&out, 1, x->booked);
				csv_int(&out, 1, x->confirmed);
				csv_int(&out, 1, x->booked - x->confirmed);
				csv_int(&out, 1, x->guests);
				csv_int(&out, 1, x->guests_confirmed);
				csv_eol(&out);
			}
		}
		free(cnt);
		return csv_reply(rp, &out, "occupancy", c->id, from, to);
	}

	{
		json_t *types = json_array(), *totals = json_array();
		char a[DATE_STRLEN], b[DATE_STRLEN];
		int units = 0;

		for (int t = 0; t < c->ntypes; t++)
			units += c->types[t].nunits;
		for (int t = 0; t < c->ntypes; t++) {
			json_t *nights = json_array();

			for (int n = 0; n < width; n++) {
				const struct night_count *x =
				    &cnt[(size_t)t * (size_t)width + (size_t)n];
				char d[DATE_STRLEN];

				date_format(from + n, d);
				json_array_append_new(
				    nights,
				    json_pack("{s:s,s:i,s:i,s:i,s:i}", "night", d, "booked",
				              x->booked, "confirmed", x->confirmed, "guests",
				              x->guests, "guests_confirmed", x->guests_confirmed));
			}
			json_array_append_new(
			    types,
			    json_pack("{s:s,s:s,s:s,s:i,s:o}", "id", c->types[t].id, "name_fr",
			              c->types[t].name_fr, "name_ar", c->types[t].name_ar, "units",
			              c->types[t].nunits, "nights", nights));
		}
		for (int n = 0; n < width; n++) {
			struct night_count sum = {0, 0, 0, 0};
			char d[DATE_STRLEN];

			for (int t = 0; t < c->ntypes; t++) {
				const struct night_count *x =
				    &cnt[(size_t)t * (size_t)width + (size_t)n];
				sum.booked += x->booked;
				sum.confirmed += x->confirmed;
				sum.guests += x->guests;
				sum.guests_confirmed += x->guests_confirmed;
			}
			date_format(from + n, d);
			json_array_append_new(
			    totals,
			    json_pack("{s:s,s:i,s:i,s:i,s:i,s:i}", "night", d, "units", units,
			              "booked", sum.booked, "confirmed", sum.confirmed, "guests",
			              sum.guests, "guests_confirmed", sum.guests_confirmed));
		}
		free(cnt);
		date_format(from, a);
		date_format(to, b);
		return reply_json(rp, 200,
		                  json_pack("{s:s,s:s,s:s,s:i,s:o,s:o}", "centre", c->id, "from", a,
		                            "to", b, "units", units, "unit_types", types, "totals",
		                            totals));
	}
dbfail:
	log_err("occupancy: %s", sqlite3_errmsg(db));
	db_done(st);
	free(cnt);
	return reply_error(rp, 500, "internal", "database error");
}

/* ---- arrivals and departures ---- */

static const char movements_sql[] =
    "SELECT b.id, m.number, m.first_name, m.last_name, m.first_name_ar, m.last_name_ar, m.phone, "
    "t.code, u.code,"
    " b.nguests, b.guests, b.arrival, b.departure"
    " FROM bookings b JOIN members m ON m.id = b.member JOIN units u ON u.id = b.unit"
    " JOIN unit_types t ON t.id = b.unit_type"
    " WHERE b.centre = ? AND b.status = 'confirmed' AND %s = ? ORDER BY u.code, b.id LIMIT %d";

/* The guests' names of a booking, from its JSON list. */
static json_t *guest_names(const char *guests_json)
{
	json_t *g = json_loads(guests_json, 0, NULL), *names = json_array(), *x;
	size_t i;

	json_array_foreach(g, i, x)
	{
		const char *n = json_string_value(json_object_get(x, "name"));
		if (n)
			json_array_append_new(names, json_string(n));
	}
	json_decref(g);
	return names;
}

static int movements_rows(sqlite3 *db, const char *centre, const char *column, const char *day,
                          json_t *list)
{
	char sql[sizeof(movements_sql) + 32];
	sqlite3_stmt *st;
	int rc;

	snprintf(sql, sizeof(sql), movements_sql, column, LIST_MAX);
	if (!(st = db_stmt_once(db, sql)))
		return -1;
	db_bind_text(st, 1, centre, -1, SQLITE_STATIC);
	db_bind_text(st, 2, day, -1, SQLITE_STATIC);
	while ((rc = db_step(st)) == SQLITE_ROW) {
		char name[2 * NAME_MAX_LEN + 2], name_ar[2 * NAME_MAX_LEN + 2];

		snprintf(name, sizeof(name), "%s %s", col(st, 2), col(st, 3));
		snprintf(name_ar, sizeof(name_ar), "%s %s", col(st, 4), col(st, 5));
		json_array_append_new(
		    list,
		    json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:o,s:s,s:s}", "booking",
		              (json_int_t)sqlite3_column_int64(st, 0), "member", col(st, 1), "name",
		              name, "name_ar", name_ar, "phone", col(st, 6), "unit_type",
		              col(st, 7), "unit", col(st, 8), "guests", sqlite3_column_int(st, 9),
		              "guest_names", guest_names(col(st, 10)), "arrival", col(st, 11),
		              "departure", col(st, 12)));
	}
	db_done(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static void csv_movements(struct csv *out, const char *kind, json_t *list)
{
	json_t *x, *n;
	size_t i, k;

	json_array_foreach(list, i, x)
	{
		struct buf names;

		buf_init(&names, 64 * 1024);
		json_array_foreach(json_object_get(x, "guest_names"), k, n)
		{
			if (k)
				buf_append(&names, "; ", 2);
			buf_append(&names, json_string_value(n), strlen(json_string_value(n)));
		}
		csv_field(out, 0, kind, 0);
		csv_int(out, 1, (long long)json_integer_value(json_object_get(x, "booking")));
		csv_field(out, 1, json_string_value(json_object_get(x, "member")), 1);
		csv_field(out, 1, json_string_value(json_object_get(x, "name")), 1);
		csv_field(out, 1, json_string_value(json_object_get(x, "name_ar")), 1);
		csv_field(out, 1, json_string_value(json_object_get(x, "phone")), 1);
		csv_field(out, 1, json_string_value(json_object_get(x, "unit_type")), 1);
		csv_field(out, 1, json_string_value(json_object_get(x, "unit")), 1);
		csv_int(out, 1, (long long)json_integer_value(json_object_get(x, "guests")));
		csv_field(out, 1, buf_cstr(&names), 1);
		csv_field(out, 1, json_string_value(json_object_get(x, "arrival")), 0);
		csv_field(out, 1, json_string_value(json_object_get(x, "departure")), 0);
		csv_eol(out);
		buf_free(&names);
	}
}

int manage_movements(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	const char *date_s = request_query(rq, "date");
	const struct centre *c;
	json_t *arrivals, *departures;
	char d[DATE_STRLEN];
	int32_t day;
	int ci = rq->centre, csv;

	if ((csv = want_csv(rq, rp)) < 0)
		return 0;
	if (date_s && date_parse(date_s, &day) < 0)
		return reply_error(rp, 400, "bad_request", "date must be a date YYYY-MM-DD");
	if (!date_s)
		day = date_today_local();
	if (!db)
		return reply_error(rp, 500, "internal", "database unavailable");
	c = app->cat.centres[ci];
	date_format(day, d);
	arrivals = json_array();
	departures = json_array();
	if (movements_rows(db, c->id, "b.arrival", d, arrivals) < 0 ||
	    movements_rows(db, c->id, "b.departure", d, departures) < 0) {
		log_err("movements: %s", sqlite3_errmsg(db));
		json_decref(arrivals);
		json_decref(departures);
		return reply_error(rp, 500, "internal", "database error");
	}
	if (csv) {
		struct csv out;

		csv_start(&out);
		csv_field(&out, 0, "movement", 0);
		csv_field(&out, 1, "booking", 0);
		csv_field(&out, 1, "member", 0);
		csv_field(&out, 1, "name", 0);
		csv_field(&out, 1, "name_ar", 0);
		csv_field(&out, 1, "phone", 0);
		csv_field(&out, 1, "unit_type", 0);
		csv_field(&out, 1, "unit", 0);
		csv_field(&out, 1, "guests", 0);
		csv_field(&out, 1, "guest_names", 0);
		csv_field(&out, 1, "arrival", 0);
		csv_field(&out, 1, "departure", 0);
		csv_eol(&out);
		csv_movements(&out, "arrival", arrivals);
		csv_movements(&out, "departure", departures);
		json_decref(arrivals);
		json_decref(departures);
		return csv_reply(rp, &out, "movements", c->id, day, day);
	}
	return reply_json(rp, 200,
	                  json_pack("{s:s,s:s,s:o,s:o}", "centre", c->id, "date", d, "arrivals",
	                            arrivals, "departures", departures));
}

/* ---- revenue ---- */

/* A payment counts on the local day its booking was confirmed (the authorisation that confirmed it;
 * the capture follows at once), a refund on the day the gateway accepted it. */
static const char revenue_sql[] =
    "SELECT 'payment', p.id, p.booking, p.oid, p.amount, COALESCE(b.confirmed_at, p.created_at) AS "
    "at,"
    "  m.number, m.first_name || ' ' || m.last_name, p.status, 100"
    " FROM payments p JOIN bookings b ON b.id = p.booking JOIN members m ON m.id = b.member"
    " WHERE b.centre = ?1 AND p.status IN ('approved', 'captured', 'refunded_part', 'refunded') "
    "AND at >= ?2"
    " AND at < ?3"
    " UNION ALL "
    "SELECT 'refund', r.id, r.booking, p.oid, r.amount, r.updated_at AS at,"
    "  m.number, m.first_name || ' ' || m.last_name, r.status, r.percent"
    " FROM refunds r JOIN payments p ON p.id = r.payment JOIN bookings b ON b.id = r.booking"
    " JOIN members m ON m.id = b.member"
    " WHERE b.centre = ?1 AND r.status IN ('succeeded', 'requested') AND at >= ?2 AND at < ?3"
    " ORDER BY at, 1, 2";

int manage_revenue(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	const struct centre *c;
	sqlite3_stmt *st = NULL;
	int32_t from, to;
	int ci = rq->centre, csv, width, rc, nlisted = 0, truncated = 0;
	int64_t(*days)[2] = NULL; /* collected, refunded per day */
	int64_t collected = 0, refunded = 0, pending = 0;
	int npayments = 0, nrefunds = 0, npending = 0;
	json_t *list = NULL;
	struct csv out;

	if (range_parse(app, rq, rp, &from, &to) < 0 || (csv = want_csv(rq, rp)) < 0)
		return 0;
	if (!db)
		return reply_error(rp, 500, "internal", "database unavailable");
	c = app->cat.centres[ci];
	width = to - from + 1;
	days = calloc((size_t)width, sizeof(*days));
	if (!days)
		return reply_error(rp, 500, "internal", "out of memory");
	if (!(st = db_stmt(db, revenue_sql)))
		goto dbfail;
	db_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
	db_bind_int64(st, 2, local_midnight(from));
	db_bind_int64(st, 3, local_midnight(to + 1));
	if (csv) {
		csv_start(&out);
		csv_field(&out, 0, "date", 0);
		csv_field(&out, 1, "time_utc", 0);
		csv_field(&out, 1, "kind", 0);
		csv_field(&out, 1, "status", 0);
		csv_field(&out, 1, "booking", 0);
		csv_field(&out, 1, "member", 0);
		csv_field(&out, 1, "name", 0);
		csv_field(&out, 1, "order_id", 0);
		csv_field(&out, 1, "amount", 0);
		csv_field(&out, 1, "currency", 0);
		csv_field(&out, 1, "percent", 0);
		csv_eol(&out);
	} else {
		list = json_array();
	}
	while ((rc = db_step(st)) == SQLITE_ROW) {
		int refund = !strcmp(col(st, 0), "refund");
		const char *status = col(st, 8);
		int64_t amount = sqlite3_column_int64(st, 4), at = sqlite3_column_int64(st, 5);
		int32_t day = local_day(at);
		char d[DATE_STRLEN], when[INSTANT_STRLEN];

		date_format(day, d);
		instant_format(at, when);
		if (refund && strcmp(status, "succeeded")) {
			pending += amount;
			npending++;
		} else if (refund) {
			refunded += amount;
			nrefunds++;
			if (day >= from && day <= to)
				days[day - from][1] += amount;
		} else {
			collected += amount;
			npayments++;
			if (day >= from && day <= to)
				days[day - from][0] += amount;
		}
		if (csv) {
			csv_field(&out, 0, d, 0);
			csv_field(&out, 1, when, 0);
			csv_field(&out, 1, refund ? "refund" : "payment", 0);
			csv_field(&out, 1, status, 0);
			csv_int(&out, 1, sqlite3_column_int64(st, 2));
			csv_field(&out, 1, col(st, 6), 1);
			csv_field(&out, 1, col(st, 7), 1);
			csv_field(&out, 1, col(st, 3), 1);
			csv_money(&out, 1, amount);
			csv_field(&out, 1, "MAD", 0);
			csv_int(&out, 1, sqlite3_column_int(st, 9));
			csv_eol(&out);
		} else if (nlisted < LIST_MAX) {
			nlisted++;
			json_array_append_new(
			    list,
			    json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:o,s:i}", "date", d, "at",
			              when, "kind", refund ? "refund" : "payment", "status", status,
			              "booking", (json_int_t)sqlite3_column_int64(st, 2), "member",
			              col(st, 6), "name", col(st, 7), "oid", col(st, 3), "amount",
			              money(amount), "percent", sqlite3_column_int(st, 9)));
		} else {
			truncated = 1;
		}
	}
	if (rc != SQLITE_DONE) {
		if (csv)
			buf_free(&out.b);
		goto dbfail;
	}
	db_done(st);
	if (csv) {
		free(days);
		return csv_reply(rp, &out, "revenue", c->id, from, to);
	}
	{
		json_t *perday = json_array();
		char a[DATE_STRLEN], b[DATE_STRLEN];

		for (int n = 0; n < width; n++) {
			char d[DATE_STRLEN];

			date_format(from + n, d);
			json_array_append_new(perday, json_pack("{s:s,s:o,s:o}", "date", d,
			                                        "collected", money(days[n][0]),
			                                        "refunded", money(days[n][1])));
		}
		free(days);
		date_format(from, a);
		date_format(to, b);
		return reply_json(rp, 200,
		                  json_pack("{s:s,s:s,s:s,s:o,s:i,s:o,s:i,s:o,s:o,s:i,s:o,s:o,s:b}",
		                            "centre", c->id, "from", a, "to", b, "collected",
		                            money(collected), "payments", npayments, "refunded",
		                            money(refunded), "refunds", nrefunds, "net",
		                            money(collected - refunded), "refunds_pending_amount",
		                            money(pending), "refunds_pending", npending, "days",
		                            perday, "transactions", list, "truncated", truncated));
	}
dbfail:
	log_err("revenue: %s", sqlite3_errmsg(db));
	db_done(st);
	json_decref(list);
	free(days);
	return reply_error(rp, 500, "internal", "database error");
}

/* ---- admin: members and signing keys ---- */

int manage_members(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	const char *q = request_query(rq, "q");
	char like[2 * SEARCH_MAX + 3];
	sqlite3_stmt *st;
	json_t *list;
	size_t k = 0;
	int n = 0, rc;

	if (!q)
		q = "";
	if (strlen(q) > SEARCH_MAX)
		return reply_error(rp, 400, "bad_request", "the search is at most 64 bytes");
	/* q is matched literally: LIKE's wildcards in it are escaped */
	like[k++] = '%';
	for (const char *p = q; *p; p++) {
		if (*p == '%' || *p == '_' || *p == '\\')
			like[k++] = '\\';
		like[k++] = *p;
	}
	like[k++] = '%';
	like[k] = '\0';
	if (!db ||
	    !(st = db_stmt(
	          db,
	          "SELECT m.number, m.first_name, m.last_name, m.first_name_ar, m.last_name_ar, "
	          "m.email,"
	          " m.phone, m.status, m.category,"
	          " (SELECT COUNT(*) FROM household h WHERE h.member = m.id),"
	          " (SELECT COUNT(*) FROM bookings b WHERE b.member = m.id),"
	          " m.password_hash IS NOT NULL"
	          " FROM members m WHERE m.number LIKE ?1 ESCAPE '\\' OR m.cin LIKE ?1 ESCAPE '\\'"
	          " OR (m.first_name || ' ' || m.last_name) LIKE ?1 ESCAPE '\\'"
	          " OR (m.last_name || ' ' || m.first_name) LIKE ?1 ESCAPE '\\'"
	          " OR (m.first_name_ar || ' ' || m.last_name_ar) LIKE ?1 ESCAPE '\\'"
	          " OR (m.last_name_ar || ' ' || m.first_name_ar) LIKE ?1 ESCAPE '\\'"
	          " OR m.email LIKE ?1 ESCAPE '\\' ORDER BY m.number LIMIT ?2")))
		return reply_error(rp, 500, "internal", "database error");
	db_bind_text(st, 1, like, -1, SQLITE_STATIC);
	db_bind_int(st, 2, SEARCH_ROWS + 1);
	list = json_array();
	while ((rc = db_step(st)) == SQLITE_ROW) {
		if (++n > SEARCH_ROWS)
			break;
		json_array_append_new(
		    list, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:i,s:b}", "number",
		                    col(st, 0), "first_name", col(st, 1), "last_name", col(st, 2),
		                    "first_name_ar", col(st, 3), "last_name_ar", col(st, 4),
		                    "email", col(st, 5), "phone", col(st, 6), "status", col(st, 7),
		                    "category", col(st, 8), "household", sqlite3_column_int(st, 9),
		                    "bookings", sqlite3_column_int(st, 10), "can_log_in",
		                    sqlite3_column_int(st, 11)));
	}
	db_done(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		json_decref(list);
		return reply_error(rp, 500, "internal", "database error");
	}
	return reply_json(
	    rp, 200,
	    json_pack("{s:s,s:o,s:b}", "q", q, "members", list, "truncated", n > SEARCH_ROWS));
}

int manage_keys(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	sqlite3_stmt *st;
	json_t *list;
	int64_t now = instant_now();
	int rc;

	if (!db ||
	    !(st = db_stmt(
	          db,
	          "SELECT k.id, lower(hex(k.public_key)), k.created_at, k.retired_at, "
	          "k.last_valid_until,"
	          " (SELECT COUNT(*) FROM passes p WHERE p.key_id = k.id AND p.status = 'active')"
	          " FROM signing_keys k ORDER BY k.id DESC")))
		return reply_error(rp, 500, "internal", "database error");
	list = json_array();
	while ((rc = db_step(st)) == SQLITE_ROW) {
		char created[INSTANT_STRLEN], retired[INSTANT_STRLEN], until[INSTANT_STRLEN];
		int64_t needed = sqlite3_column_int64(st, 4) * 60; /* minutes in the database */
		int is_retired = sqlite3_column_type(st, 3) != SQLITE_NULL;
		json_t *k;

		instant_format(sqlite3_column_int64(st, 2), created);
		instant_format(sqlite3_column_int64(st, 3), retired);
		instant_format(needed, until);
		k = json_pack("{s:i,s:s,s:s,s:o,s:o,s:b,s:b,s:i}", "id", sqlite3_column_int(st, 0),
		              "public_key", col(st, 1), "created_at", created, "retired_at",
		              is_retired ? json_string(retired) : json_null(), "needed_until",
		              needed > 0 ? json_string(until) : json_null(), "signing",
		              !is_retired && sqlite3_column_int(st, 0) == app->sign_key_id,
		              "needed", !is_retired || needed > now, "active_passes",
		              sqlite3_column_int(st, 5));
		json_array_append_new(list, k);
	}
	db_done(st);
	if (rc != SQLITE_DONE) {
		json_decref(list);
		return reply_error(rp, 500, "internal", "database error");
	}
	return reply_json(rp, 200, json_pack("{s:o}", "keys", list));
}

/* ---- who is on site ---- */

int manage_onsite(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	int ci = rq->centre;
	int64_t now = instant_now(), inside = 0;
	sqlite3_stmt *st;
	json_t *gates;

	if (!db)
		return reply_error(rp, 500, "internal", "database unavailable");
	/* passes of stays not over yet, each where the presence rule (shared/event.h) puts it after
	 * its trusted scans at this centre, in the rule's order */
	/* from the current passes to their scans (CROSS JOIN keeps that order) */
	if (!(st = db_stmt(
	          db,
	          "SELECT e.pass, e.direction, e.decision FROM passes p"
	          " JOIN bookings b ON b.id = p.booking CROSS JOIN gate_events e ON e.pass = p.id"
	          " WHERE b.centre = ?1 AND p.valid_until > ?2 AND e.centre = ?1"
	          " AND e.decision IN ('admit','manual','undone')" EVENT_TIME_TRUSTED
	          " ORDER BY e.pass, e.at, e.rowid")))
		return reply_error(rp, 500, "internal", "database error");
	db_bind_text(st, 1, app->cat.centres[ci]->id, -1, SQLITE_STATIC);
	db_bind_int64(st, 2, now / 60);
	{
		struct presence pr;
		int64_t pass = 0;
		int rc;

		presence_init(&pr);
		while ((rc = db_step(st)) == SQLITE_ROW) {
			if (sqlite3_column_int64(st, 0) != pass) {
				inside += pr.now == PRESENCE_INSIDE;
				presence_init(&pr);
				pass = sqlite3_column_int64(st, 0);
			}
			presence_step_text(&pr, (const char *)sqlite3_column_text(st, 2),
			                   (const char *)sqlite3_column_text(st, 1));
		}
		inside += pr.now == PRESENCE_INSIDE;
		db_done(st);
		if (rc != SQLITE_DONE)
			return reply_error(rp, 500, "internal", "database error");
	}
	gates = gates_json(db, app->cat.centres[ci]->id);
	if (!gates)
		return reply_error(rp, 500, "internal", "database error");
	return reply_json(rp, 200,
	                  json_pack("{s:s,s:I,s:o,s:o}", "centre", app->cat.centres[ci]->id,
	                            "inside", (json_int_t)inside, "as_of", json_instant(now),
	                            "gates", gates));
}

/* ---- messages to members, for admins ---- */

int manage_mail_list(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	const char *state = request_query(rq, "state");
	sqlite3_stmt *st;
	json_t *list;
	int rc;

	if (state && strcmp(state, "queued") && strcmp(state, "sent") && strcmp(state, "dead"))
		return reply_error(rp, 400, "bad_request", "state must be queued, sent or dead");
	if (!db ||
	    !(st = db_stmt(
	          db, "SELECT o.id, o.template, o.locale, o.recipient, o.state, o.attempts,"
	              " o.last_code, o.last_error, o.created_at, o.sent_at, o.booking, m.number"
	              " FROM outbox o LEFT JOIN members m ON m.id = o.member"
	              " WHERE ?1 IS NULL OR o.state = ?1 ORDER BY o.id DESC LIMIT 200")))
		return reply_error(rp, 500, "internal", "database error");
	if (state)
		db_bind_text(st, 1, state, -1, SQLITE_STATIC);
	list = json_array();
	while ((rc = db_step(st)) == SQLITE_ROW)
		json_array_append_new(
		    list,
		    json_pack(
		        "{s:I,s:s,s:s,s:s,s:s,s:i,s:o,s:o,s:o,s:o,s:o,s:o}", "id",
		        (json_int_t)sqlite3_column_int64(st, 0), "template", col(st, 1), "locale",
		        col(st, 2), "recipient", col(st, 3), "state", col(st, 4), "attempts",
		        sqlite3_column_int(st, 5), "last_code", json_int_col(st, 6), "last_error",
		        sqlite3_column_type(st, 7) == SQLITE_NULL ? json_null()
		                                                  : json_string(col(st, 7)),
		        "created_at", json_instant_col(st, 8, 1), "sent_at",
		        json_instant_col(st, 9, 1), "booking", json_int_col(st, 10), "member",
		        sqlite3_column_type(st, 11) == SQLITE_NULL ? json_null()
		                                                   : json_string(col(st, 11))));
	db_done(st);
	if (rc != SQLITE_DONE) {
		json_decref(list);
		return reply_error(rp, 500, "internal", "database error");
	}
	return reply_json(rp, 200, json_pack("{s:o}", "messages", list));
}

int manage_mail_resend(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	sqlite3_stmt *st;
	int changed, rc;

	if (!db)
		return reply_error(rp, 500, "internal", "database unavailable");
	if (db_begin(app, db) < 0)
		return reply_error(rp, 503, "busy", "the database is busy, try again");
	if (!(st = db_stmt(db,
	                   "UPDATE outbox SET state = 'queued', attempts = 0, next_attempt_at = ?2,"
	                   " last_error = NULL WHERE id = ?1 AND state = 'dead'"))) {
		db_rollback(app, db);
		return reply_error(rp, 500, "internal", "database error");
	}
	db_bind_int64(st, 1, rq->id);
	db_bind_int64(st, 2, instant_now());
	rc = db_step(st);
	db_done(st);
	changed = sqlite3_changes(db);
	if (rc != SQLITE_DONE ||
	    (changed && db_audit(db, rq->who.name, "mail.resend", "outbox", rq->id,
	                         "{\"state\":\"dead\"}", "{\"state\":\"queued\"}") < 0)) {
		db_rollback(app, db);
		return reply_error(rp, 500, "internal", "database error");
	}
	if (db_commit(app, db) < 0)
		return reply_error(rp, 500, "internal", "database error");
	if (!changed)
		return reply_error(rp, 409, "not_dead",
		                   "only a dead letter is sent again (or no such message)");
	return reply_json(rp, 200,
	                  json_pack("{s:I,s:s}", "id", (json_int_t)rq->id, "state", "queued"));
}
