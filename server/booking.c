/* booking.c: holding a unit for a stay, reading and cancelling bookings, and the expiry of holds.
 * Every change happens in one BEGIN IMMEDIATE transaction behind the writer lock; the no-oversell
 * guarantee is the (unit, night) primary key of booking_nights. */
#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "date.h"
#include "log.h"
#include "server.h"

static json_t *money_json(int64_t centimes, const char *currency)
{
	return json_pack("{s:I,s:s}", "centimes", (json_int_t)centimes, "currency", currency);
}

json_t *booking_json(struct app *app, sqlite3 *db, int64_t id)
{
	sqlite3_stmt *st;
	json_t *j = NULL, *guests;
	char created[INSTANT_STRLEN], updated[INSTANT_STRLEN], expires[INSTANT_STRLEN];
	int32_t a = 0, d = 0;

	if (!(st = db_stmt(
	          db,
	          "SELECT b.id, m.number, b.centre, t.code, u.code, b.arrival, b.departure, "
	          "b.guests,"
	          " b.status, b.hold_expires_at, b.amount, b.currency, b.created_at, b.updated_at"
	          " FROM bookings b JOIN members m ON m.id = b.member JOIN units u ON u.id = b.unit"
	          " JOIN unit_types t ON t.id = b.unit_type WHERE b.id = ?")))
		return NULL;
	db_bind_int64(st, 1, id);
	if (db_step(st) == SQLITE_ROW) {
		const char *status = (const char *)sqlite3_column_text(st, 8);

		date_parse((const char *)sqlite3_column_text(st, 5), &a);
		date_parse((const char *)sqlite3_column_text(st, 6), &d);
		guests = json_loads((const char *)sqlite3_column_text(st, 7), 0, NULL);
		instant_format(sqlite3_column_int64(st, 12), created);
		instant_format(sqlite3_column_int64(st, 13), updated);
		j = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:o,s:o,s:s,s:s}", "id",
		              (json_int_t)id, "member", sqlite3_column_text(st, 1), "status",
		              status, "centre", sqlite3_column_text(st, 2), "unit_type",
		              sqlite3_column_text(st, 3), "unit", sqlite3_column_text(st, 4),
		              "arrival", sqlite3_column_text(st, 5), "departure",
		              sqlite3_column_text(st, 6), "nights", (int)(d - a), "guests",
		              guests ? guests : json_array(), "amount",
		              money_json(sqlite3_column_int64(st, 10),
		                         (const char *)sqlite3_column_text(st, 11)),
		              "created_at", created, "updated_at", updated);
		if (j && sqlite3_column_type(st, 9) != SQLITE_NULL && !strcmp(status, "held")) {
			instant_format(sqlite3_column_int64(st, 9), expires);
			json_object_set_new(j, "hold_expires_at", json_string(expires));
		}
	}
	db_done(st);
	(void)app;
	return j;
}

/* ---- the request ---- */

struct guest {
	const char *name;
	const char *relation;
	int birth_year;
};

struct hold_req {
	int centre, type;
	int32_t arrival, departure;
	int nguests;
	struct guest guests[MAX_GUESTS];
	json_t *body;
};

static const char *hold_parse(struct app *app, json_t *body, struct hold_req *h, int *status,
                              const char **code)
{
	const char *centre = json_string_value(json_object_get(body, "centre"));
	const char *type = json_string_value(json_object_get(body, "unit_type"));
	const char *arr = json_string_value(json_object_get(body, "arrival"));
	const char *dep = json_string_value(json_object_get(body, "departure"));
	json_t *guests = json_object_get(body, "guests"), *g;
	size_t i;

	*status = 400;
	*code = "bad_request";
	if (!centre || !type || !arr || !dep || !guests)
		return "centre, unit_type, arrival, departure and guests are required";
	if (date_parse(arr, &h->arrival) < 0 || date_parse(dep, &h->departure) < 0)
		return "arrival and departure must be dates YYYY-MM-DD";
	if (!json_is_array(guests) || json_array_size(guests) == 0 ||
	    json_array_size(guests) > MAX_GUESTS)
		return "guests must be a list of 1 to 16 guests";
	json_array_foreach(guests, i, g)
	{
		json_t *by = json_object_get(g, "birth_year");
		struct guest *x = &h->guests[i];

		x->name = json_string_value(json_object_get(g, "name"));
		x->relation = json_string_value(json_object_get(g, "relation"));
		if (!json_is_object(g) || !x->name || !x->relation || !*x->name ||
		    strlen(x->name) >= NAME_MAX_LEN)
			return "each guest needs a name and a relation";
		if (!text_is_plain(x->name))
			return "a guest's name may not contain control characters (line breaks, "
			       "tabs)";
		if (strcmp(x->relation, "self") && strcmp(x->relation, "spouse") &&
		    strcmp(x->relation, "child") && strcmp(x->relation, "parent"))
			return "relation must be self, spouse, child or parent";
		if (by && !json_is_null(by) &&
		    (!json_is_integer(by) || json_integer_value(by) < 1900 ||
		     json_integer_value(by) > 2100))
			return "birth_year must be a year";
		x->birth_year = by && json_is_integer(by) ? (int)json_integer_value(by) : 0;
	}
	h->nguests = (int)json_array_size(guests);
	h->centre = catalog_centre(&app->cat, centre);
	if (h->centre < 0) {
		*status = 404;
		*code = "not_found";
		return "no such centre";
	}
	h->type = centre_unit_type(app->cat.centres[h->centre], type);
	if (h->type < 0) {
		*status = 422;
		*code = "unknown_unit_type";
		return "this centre has no such unit type";
	}
	return NULL;
}

/* The guests as the booking keeps them (JSON text, free it): the "self" guest is the member, named
 * as in the member record whatever the request said. NULL on error. */
static char *guests_as_booked(sqlite3 *db, int64_t member, json_t *guests)
{
	json_t *copy = json_deep_copy(guests), *g;
	char name[2 * NAME_MAX_LEN + 2] = "";
	sqlite3_stmt *st;
	char *text;
	size_t i;

	if (!copy)
		return NULL;
	if ((st = db_stmt(db, "SELECT first_name || ' ' || last_name FROM members WHERE id = ?"))) {
		db_bind_int64(st, 1, member);
		if (db_step(st) == SQLITE_ROW)
			snprintf(name, sizeof(name), "%s",
			         (const char *)sqlite3_column_text(st, 0));
		db_done(st);
	}
	if (!name[0]) {
		json_decref(copy);
		return NULL;
	}
	json_array_foreach(
	    copy, i, g) if (!strcmp(json_string_value(json_object_get(g, "relation")), "self"))
	    json_object_set_new(g, "name", json_string(name));
	text = json_dumps(copy, JSON_COMPACT);
	json_decref(copy);
	return text;
}

/* Every guest but the member must be a distinct person of the member's household. */
static int household_ok(sqlite3 *db, int64_t member, const struct hold_req *h)
{
	struct {
		char name[NAME_MAX_LEN];
		char relation[8];
		int year, used;
	} hh[MAX_HOUSEHOLD];
	int n = 0, selves = 0, ok = 1;
	sqlite3_stmt *st;

	if (!(st =
	          db_stmt(db, "SELECT name, relation, birth_year FROM household WHERE member = ?")))
		return -1;
	db_bind_int64(st, 1, member);
	while (db_step(st) == SQLITE_ROW && n < MAX_HOUSEHOLD) {
		snprintf(hh[n].name, sizeof(hh[n].name), "%s",
		         (const char *)sqlite3_column_text(st, 0));
		snprintf(hh[n].relation, sizeof(hh[n].relation), "%s",
		         (const char *)sqlite3_column_text(st, 1));
		hh[n].year = sqlite3_column_int(st, 2);
		hh[n].used = 0;
		n++;
	}
	db_done(st);
	for (int g = 0; g < h->nguests && ok; g++) {
		const struct guest *x = &h->guests[g];
		int found = 0;

		if (!strcmp(x->relation, "self")) {
			ok = ++selves == 1;
			continue;
		}
		for (int k = 0; k < n && !found; k++) {
			if (hh[k].used || strcmp(hh[k].relation, x->relation) ||
			    strcasecmp(hh[k].name, x->name))
				continue;
			if (x->birth_year && hh[k].year && x->birth_year != hh[k].year)
				continue;
			hh[k].used = found = 1;
		}
		ok = found;
	}
	return ok;
}

/* index of a unit in its type from its database id (ids are usually consecutive) */
static int unit_index(const struct unit_type *t, int64_t dbid)
{
	int64_t guess = dbid - t->unit_dbids[0];

	if (guess >= 0 && guess < t->nunits && t->unit_dbids[guess] == dbid)
		return (int)guess;
	return unit_type_unit(t, dbid);
}

/* Runs inside the transaction. Returns the HTTP status and sets *body (JSON text) or an error. */
/* Best fit from the busy nights around the stay: the unit's index, -1 when none is free, -2 on
 * error. */
static int choose_unit(sqlite3 *db, const struct unit_type *t, const struct hold_req *h)
{
	int32_t ws = h->arrival - ASSIGN_WINDOW, we = h->departure + ASSIGN_WINDOW;
	int width = we - ws, u;
	unsigned char *busy = calloc((size_t)t->nunits * (size_t)width, 1);
	sqlite3_stmt *st;

	if (!busy)
		return -2;
	if (!(st = db_stmt(db, "SELECT unit, night FROM booking_nights WHERE unit_type = ? AND "
	                       "night >= ? AND night < ?"))) {
		free(busy);
		return -2;
	}
	db_bind_int64(st, 1, t->dbid);
	db_bind_int(st, 2, ws);
	db_bind_int(st, 3, we);
	while (db_step(st) == SQLITE_ROW) {
		int ui = unit_index(t, sqlite3_column_int64(st, 0));
		int night = sqlite3_column_int(st, 1);
		if (ui >= 0)
			busy[(size_t)ui * (size_t)width + (size_t)(night - ws)] = 1;
	}
	db_done(st);
	u = stay_assign(t->nunits, width, busy, h->arrival - ws, h->departure - h->arrival);
	free(busy);
	return u;
}

/* The unit was chosen from a snapshot read before the writer lock (so the scan costs no one else
 * time); under the lock, check that choice with a few key lookups and scan again only when it went
 * stale. A "none free" snapshot is confirmed by counting the units busy during the stay. */
static int choose_in_lock(sqlite3 *db, const struct unit_type *t, const struct hold_req *h,
                          int hint)
{
	sqlite3_stmt *st;
	int n = -1;

	if (hint >= 0) {
		if (!(st = db_stmt(db, "SELECT COUNT(*) FROM booking_nights WHERE unit = ? AND "
		                       "night >= ? AND night < ?")))
			return -2;
		db_bind_int64(st, 1, t->unit_dbids[hint]);
	} else {
		if (!(st = db_stmt(db, "SELECT COUNT(DISTINCT unit) FROM booking_nights WHERE "
		                       "unit_type = ? AND night >= ?"
		                       " AND night < ?")))
			return -2;
		db_bind_int64(st, 1, t->dbid);
	}
	db_bind_int(st, 2, h->arrival);
	db_bind_int(st, 3, h->departure);
	if (db_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	db_done(st);
	if (n < 0)
		return -2;
	if (hint >= 0 && n == 0)
		return hint;
	if (hint < 0 && n >= t->nunits)
		return -1;
	return choose_unit(db, t, h);
}

static int hold_locked(struct app *app, sqlite3 *db, const struct principal *who,
                       const struct hold_req *h, const char *guests_text, int64_t amount,
                       int u_hint, json_t **reply)
{
	const struct centre *c = app->cat.centres[h->centre];
	const struct unit_type *t = &c->types[h->type];
	int u, rc = 500;
	unsigned char *busy = NULL;
	sqlite3_stmt *st = NULL;
	char a[DATE_STRLEN], d[DATE_STRLEN];
	int64_t now = instant_now(), id;

	date_format(h->arrival, a);
	date_format(h->departure, d);
	if (!(st = db_stmt(
	          db, "SELECT 1 FROM bookings WHERE member = ? AND status IN ('held', 'confirmed')"
	              " AND arrival < ? AND departure > ? LIMIT 1")))
		goto fail;
	db_bind_int64(st, 1, who->member_id);
	db_bind_text(st, 2, d, -1, SQLITE_STATIC);
	db_bind_text(st, 3, a, -1, SQLITE_STATIC);
	if (db_step(st) == SQLITE_ROW) {
		*reply = json_pack("{s:{s:s,s:s}}", "error", "code", "overlapping_booking",
		                   "message", "you already have a booking on some of these nights");
		rc = 422;
		goto out;
	}
	db_done(st);
	st = NULL;

	u = choose_in_lock(db, t, h, u_hint);
	if (u == -2)
		goto fail;
	if (u < 0) {
		*reply = json_pack("{s:{s:s,s:s}}", "error", "code", "sold_out", "message",
		                   "no unit of this type is free for the whole stay");
		rc = 409;
		goto out;
	}
	if (!(st = db_stmt(
	          db, "INSERT INTO bookings(member, centre, unit_type, unit, arrival, departure, "
	              "guests, nguests,"
	              " status, hold_expires_at, amount, currency, created_at, updated_at)"
	              " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'held', ?, ?, 'MAD', ?, ?) RETURNING id")))
		goto fail;
	db_bind_int64(st, 1, who->member_id);
	db_bind_text(st, 2, c->id, -1, SQLITE_STATIC);
	db_bind_int64(st, 3, t->dbid);
	db_bind_int64(st, 4, t->unit_dbids[u]);
	db_bind_text(st, 5, a, -1, SQLITE_STATIC);
	db_bind_text(st, 6, d, -1, SQLITE_STATIC);
	db_bind_text(st, 7, guests_text, -1, SQLITE_STATIC);
	db_bind_int(st, 8, h->nguests);
	db_bind_int64(st, 9, now + app->cfg.hold_seconds);
	db_bind_int64(st, 10, amount);
	db_bind_int64(st, 11, now);
	db_bind_int64(st, 12, now);
	if (db_step(st) != SQLITE_ROW)
		goto fail;
	id = sqlite3_column_int64(st, 0);
	db_done(st);
	st = NULL;
	if (!(st = db_stmt(db, "INSERT INTO booking_nights(unit, night, unit_type, booking) VALUES "
	                       "(?, ?, ?, ?)")))
		goto fail;
	for (int32_t n = h->arrival; n < h->departure; n++) {
		db_bind_int64(st, 1, t->unit_dbids[u]);
		db_bind_int(st, 2, n);
		db_bind_int64(st, 3, t->dbid);
		db_bind_int64(st, 4, id);
		if (db_step(st) != SQLITE_DONE)
			goto fail; /* a (unit, night) taken twice cannot happen: the key refuses it
			            */
		sqlite3_reset(st);
	}
	db_done(st);
	st = NULL;
	{
		/* the answer from what we just wrote (the same fields as booking_json) */
		char created[INSTANT_STRLEN], expires[INSTANT_STRLEN];
		json_t *guests = json_loads(guests_text, 0, NULL);

		instant_format(now, created);
		instant_format(now + app->cfg.hold_seconds, expires);
		*reply =
		    json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:o,s:{s:I,s:s},s:s,s:s,s:s}",
		              "id", (json_int_t)id, "member", who->name, "status", "held", "centre",
		              c->id, "unit_type", t->id, "unit", t->unit_codes[u], "arrival", a,
		              "departure", d, "nights", (int)(h->departure - h->arrival), "guests",
		              guests ? guests : json_array(), "amount", "centimes",
		              (json_int_t)amount, "currency", "MAD", "created_at", created,
		              "updated_at", created, "hold_expires_at", expires);
		if (!*reply)
			goto fail;
	}
	{
		char *after = json_dumps(*reply, JSON_COMPACT);
		int arc = db_audit(db, who->name, "booking.hold", "booking", id, NULL, after);
		free(after);
		if (arc < 0)
			goto fail;
	}
	/* the member is told, in this transaction: a hold rolled back tells nothing */
	if (outbox_booking(app, db, "hold", id, NULL) < 0)
		goto fail;
	rc = 201;
	goto out;
fail:
	log_err("hold: %s", sqlite3_errmsg(db));
	rc = 500;
out:
	db_done(st);
	free(busy);
	return rc;
}

int booking_hold(struct app *app, struct request *rq, struct reply *rp)
{
	const char *key = request_header(rq, "Idempotency-Key");
	sqlite3 *db = db_thread(app);
	struct hold_req h;
	json_t *body = NULL, *reply = NULL;
	const char *why, *code;
	char *canon = NULL, *guests_text = NULL, *text = NULL;
	unsigned char hash[32];
	int status, season = -1, rc = 500, hint;
	enum stay_err se;
	int64_t amount;
	sqlite3_stmt *st = NULL;

	if (!key || !*key || strlen(key) > IDEM_KEY_MAX)
		return reply_error(rp, 400, "bad_request",
		                   "an Idempotency-Key header of 1 to 64 characters is required");
	for (const char *p = key; *p; p++)
		if (*p < 0x21 || *p > 0x7e)
			return reply_error(rp, 400, "bad_request",
			                   "the Idempotency-Key must be printable ASCII");
	if (!db)
		return reply_error(rp, 500, "internal", "database unavailable");
	if (request_json(rq, rp, &body) < 0)
		return 0;
	memset(&h, 0, sizeof(h));
	why = hold_parse(app, body, &h, &status, &code);
	if (why) {
		reply_error(rp, status, code, why);
		goto out;
	}
	se = stay_check(app->cat.centres[h.centre], h.type, date_today_local(), h.arrival,
	                h.departure, h.nguests, &season);
	if (se != STAY_OK) {
		reply_error(rp, 422, stay_code(se), stay_strerror(se));
		goto out;
	}
	switch (household_ok(db, rq->who.member_id, &h)) {
	case 1:
		break;
	case 0:
		reply_error(rp, 422, "guest_not_in_household",
		            "every guest must be you or a member of your household (name, relation "
		            "and birth year)");
		goto out;
	default:
		reply_error(rp, 500, "internal", "database error");
		goto out;
	}
	if (stay_price(app->cat.centres[h.centre], h.type, season, rq->who.category, h.arrival,
	               h.departure, &amount) < 0) {
		reply_error(rp, 500, "internal", "no tariff for this stay");
		goto out;
	}
	canon = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
	guests_text = guests_as_booked(db, rq->who.member_id, json_object_get(body, "guests"));
	if (!canon || !guests_text) {
		reply_error(rp, 500, "internal", "out of memory");
		goto out;
	}
	crypto_generichash(hash, sizeof(hash), (const unsigned char *)canon, strlen(canon), NULL,
	                   0);

	/* the expensive part of the unit choice, before the writer lock */
	hint = choose_unit(db, &app->cat.centres[h.centre]->types[h.type], &h);
	if (hint == -2) {
		reply_error(rp, 500, "internal", "database error");
		goto out;
	}
	if (db_begin(app, db) < 0) {
		reply_error(rp, 503, "busy", "the database is busy, try again");
		goto out;
	}
	if (!(st = db_stmt(db, "SELECT request_hash, status, body FROM idempotency WHERE member = "
	                       "? AND key = ?")))
		goto dbfail;
	db_bind_int64(st, 1, rq->who.member_id);
	db_bind_text(st, 2, key, -1, SQLITE_STATIC);
	if (db_step(st) == SQLITE_ROW) {
		/* a retry: the first answer again, or a conflict when the body differs */
		if (sqlite3_column_bytes(st, 0) == (int)sizeof(hash) &&
		    sodium_memcmp(sqlite3_column_blob(st, 0), hash, sizeof(hash)) == 0) {
			reply_text(rp, sqlite3_column_int(st, 1), "application/json",
			           (const char *)sqlite3_column_text(st, 2));
		} else {
			reply_error(rp, 409, "idempotency_conflict",
			            "this Idempotency-Key was used for another request");
		}
		db_done(st);
		st = NULL;
		db_rollback(app, db);
		goto out;
	}
	db_done(st);
	st = NULL;
	rc = hold_locked(app, db, &rq->who, &h, guests_text, amount, hint, &reply);
	if (rc == 500)
		goto dbfail;
	text = json_dumps(reply, JSON_COMPACT);
	if (!text)
		goto dbfail;
	if (!(st = db_stmt(
	          db, "INSERT INTO idempotency(member, key, request_hash, status, body, created_at)"
	              " VALUES (?, ?, ?, ?, ?, ?)")))
		goto dbfail;
	db_bind_int64(st, 1, rq->who.member_id);
	db_bind_text(st, 2, key, -1, SQLITE_STATIC);
	db_bind_blob(st, 3, hash, sizeof(hash), SQLITE_STATIC);
	db_bind_int(st, 4, rc);
	db_bind_text(st, 5, text, -1, SQLITE_STATIC);
	db_bind_int64(st, 6, instant_now());
	if (db_step(st) != SQLITE_DONE)
		goto dbfail;
	db_done(st);
	st = NULL;
	if (db_commit(app, db) < 0) {
		reply_error(rp, 500, "internal", "database error");
		goto out;
	}
	reply_text(rp, rc, "application/json", text);
	goto out;
dbfail:
	log_err("hold: %s", sqlite3_errmsg(db));
	db_done(st);
	db_rollback(app, db);
	reply_error(rp, 500, "internal", "database error");
out:
	json_decref(body);
	json_decref(reply);
	free(canon);
	free(guests_text);
	free(text);
	return 0;
}

/* Loads who owns a booking; 1 when the caller may see it, 0 when not (or no such booking), -1 on
 * error. */
static int booking_access(struct app *app, sqlite3 *db, const struct principal *who, int64_t id,
                          char *status, size_t statuslen)
{
	sqlite3_stmt *st;
	int rc = 0;

	if (!(st = db_stmt(db, "SELECT member, centre, status FROM bookings WHERE id = ?")))
		return -1;
	db_bind_int64(st, 1, id);
	if (db_step(st) == SQLITE_ROW) {
		rc = auth_may_see(
		    who, sqlite3_column_int64(st, 0),
		    catalog_centre(&app->cat, (const char *)sqlite3_column_text(st, 1)));
		snprintf(status, statuslen, "%s", (const char *)sqlite3_column_text(st, 2));
	}
	db_done(st);
	return rc;
}

int booking_get(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	char status[16];
	int64_t id = rq->id;
	json_t *j;

	if (!db)
		return reply_error(rp, 500, "internal", "database unavailable");
	if (booking_access(app, db, &rq->who, id, status, sizeof(status)) != 1)
		return reply_error(rp, 404, "not_found", "no such booking");
	j = booking_json(app, db, id);
	if (!j)
		return reply_error(rp, 500, "internal", "database error");
	return reply_json(rp, 200, j);
}

/* GET /api/v1/bookings[?limit=N&cursor=C]: newest first, the caller's own (a member) or those of
 * the centres they manage (a manager; an admin sees every centre), filtered in SQL, in pages:
 * `next` is the cursor of the following page, null on the last. */
int booking_list(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	sqlite3_stmt *st;
	json_t *list = json_array(), *centres = NULL;
	const char *qs;
	char *centres_text = NULL, *end;
	long long limit = 100, cursor = INT64_MAX, last = 0;
	int n = 0, more = 0;

	if (!db || !list)
		return reply_error(rp, 500, "internal", "database unavailable");
	if ((qs = request_query(rq, "limit"))) {
		errno = 0;
		limit = strtoll(qs, &end, 10);
		if (errno || end == qs || *end || limit < 1 || limit > 500) {
			json_decref(list);
			return reply_error(rp, 400, "bad_request",
			                   "limit must be a number from 1 to 500");
		}
	}
	if ((qs = request_query(rq, "cursor"))) {
		errno = 0;
		cursor = strtoll(qs, &end, 10);
		if (errno || end == qs || *end || cursor < 1) {
			json_decref(list);
			return reply_error(rp, 400, "bad_request",
			                   "cursor must be the next value of a previous page");
		}
	}
	if (auth_centre_limited(&rq->who)) {
		centres = json_array();
		for (int i = 0; i < app->cat.ncentres && centres; i++)
			if (auth_can_see_centre(&rq->who, i))
				json_array_append_new(centres,
				                      json_string(app->cat.centres[i]->id));
		centres_text = centres ? json_dumps(centres, JSON_COMPACT) : NULL;
		json_decref(centres);
		if (!centres_text)
			goto fail;
	}
	if (!(st = db_stmt(db,
	                   "SELECT id FROM bookings WHERE id < ?1 AND (?2 IS NULL OR member = ?2)"
	                   " AND (?3 IS NULL OR centre IN (SELECT value FROM json_each(?3))) ORDER "
	                   "BY id DESC LIMIT ?4")))
		goto fail;
	db_bind_int64(st, 1, cursor);
	if (auth_own_member(&rq->who))
		db_bind_int64(st, 2, auth_own_member(&rq->who));
	if (centres_text)
		db_bind_text(st, 3, centres_text, -1, SQLITE_STATIC);
	db_bind_int64(st, 4, limit + 1);
	while (db_step(st) == SQLITE_ROW) {
		json_t *j;

		if (n == limit) {
			more = 1;
			break;
		}
		last = sqlite3_column_int64(st, 0);
		j = booking_json(app, db, last);
		if (j)
			json_array_append_new(list, j);
		n++;
	}
	db_done(st);
	free(centres_text);
	if (more) {
		char next[24];
		snprintf(next, sizeof(next), "%lld", last);
		return reply_json(rp, 200, json_pack("{s:o,s:s}", "bookings", list, "next", next));
	}
	return reply_json(rp, 200, json_pack("{s:o,s:n}", "bookings", list, "next"));
fail:
	free(centres_text);
	json_decref(list);
	return reply_error(rp, 500, "internal", "database error");
}

/* Moves a booking to a final state and frees its nights (inside a transaction). */
static int booking_release(sqlite3 *db, int64_t id, const char *status, const char *actor,
                           const char *action, const char *before)
{
	sqlite3_stmt *st;
	char after[64];
	int ok;

	if (!(st = db_stmt(db, "UPDATE bookings SET status = ?, updated_at = ? WHERE id = ?")))
		return -1;
	db_bind_text(st, 1, status, -1, SQLITE_STATIC);
	db_bind_int64(st, 2, instant_now());
	db_bind_int64(st, 3, id);
	ok = db_step(st) == SQLITE_DONE;
	db_done(st);
	if (!ok || !(st = db_stmt(db, "DELETE FROM booking_nights WHERE booking = ?")))
		return -1;
	db_bind_int64(st, 1, id);
	ok = db_step(st) == SQLITE_DONE;
	db_done(st);
	snprintf(after, sizeof(after), "{\"status\":\"%s\"}", status);
	if (!ok || db_audit(db, actor, action, "booking", id, before, after) < 0)
		return -1;
	return 0;
}

/* The amount of refund id (what the cancellation's message tells), or 0. */
static int64_t refund_amount(sqlite3 *db, int64_t id)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT amount FROM refunds WHERE id = ?");
	int64_t v = 0;

	if (!st)
		return 0;
	db_bind_int64(st, 1, id);
	if (db_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	db_done(st);
	return v;
}

int booking_cancel(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	char status[16], before[64];
	int64_t id = rq->id, refund = 0;
	int32_t arrival = 0;
	json_t *j;
	int a;

	if (!db)
		return reply_error(rp, 500, "internal", "database unavailable");
	if (db_begin(app, db) < 0)
		return reply_error(rp, 503, "busy", "the database is busy, try again");
	a = booking_access(app, db, &rq->who, id, status, sizeof(status));
	if (a != 1) {
		db_rollback(app, db);
		return a < 0 ? reply_error(rp, 500, "internal", "database error")
		             : reply_error(rp, 404, "not_found", "no such booking");
	}
	if (strcmp(status, "held") && strcmp(status, "confirmed")) {
		db_rollback(app, db);
		return reply_error(rp, 409, "not_cancellable",
		                   "this booking is already cancelled or expired");
	}
	snprintf(before, sizeof(before), "{\"status\":\"%s\"}", status);
	if (!strcmp(status, "confirmed")) {
		/* the refund the published policy gives is recorded with the cancellation, sent
		 * after it */
		j = booking_json(app, db, id);
		date_parse(json_string_value(json_object_get(j, "arrival")), &arrival);
		json_decref(j);
		refund = payment_refund_on_cancel(app, db, id, arrival, rq->who.name);
	}
	if (refund < 0 ||
	    booking_release(db, id, "cancelled", rq->who.name, "booking.cancel", before) < 0 ||
	    passes_revoke_booking(db, id, "cancelled") < 0 ||
	    outbox_booking(app, db, "cancelled", id,
	                   json_pack("{s:o}", "refund",
	                             outbox_money(refund > 0 ? refund_amount(db, refund) : 0))) <
	        0) {
		log_err("cancel: %s", sqlite3_errmsg(db));
		db_rollback(app, db);
		return reply_error(rp, 500, "internal", "database error");
	}
	if (db_commit(app, db) < 0)
		return reply_error(rp, 500, "internal", "database error");
	if (refund > 0)
		payment_refund_send(app, db, refund);
	j = booking_json(app, db, id);
	return j ? reply_json(rp, 200, j) : reply_error(rp, 500, "internal", "database error");
}

int booking_expire_holds(struct app *app, sqlite3 *db, int64_t now)
{
	sqlite3_stmt *st;
	int64_t ids[256];
	int n = 0;

	if (db_begin(app, db) < 0)
		return -1;
	if (!(st = db_stmt(db, "SELECT id FROM bookings WHERE status = 'held' AND hold_expires_at "
	                       "<= ? LIMIT 256")))
		goto fail;
	db_bind_int64(st, 1, now);
	while (db_step(st) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(st, 0);
	db_done(st);
	for (int i = 0; i < n; i++)
		if (booking_release(db, ids[i], "expired", "system", "booking.expire",
		                    "{\"status\":\"held\"}") < 0 ||
		    outbox_booking(app, db, "expired", ids[i], NULL) < 0)
			goto fail;
	if (db_commit(app, db) < 0)
		return -1;
	atomic_fetch_add(&app->metrics.holds_expired, (unsigned long long)n);
	return n;
fail:
	log_err("expire: %s", sqlite3_errmsg(db));
	db_rollback(app, db);
	return -1;
}
