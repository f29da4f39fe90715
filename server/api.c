/* api.c: the route table (every HTTP route of the server in one place), who may call each route, and
 * the small handlers: me, centres, availability, health and metrics. */
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>

#include "date.h"
#include "log.h"
#include "server.h"

enum access {
	PUBLIC,  /* anyone */
	LOGIN,   /* any session */
	NO_CSRF, /* the login itself: no session yet, so no token */
	GATE,    /* a gate: no session, no CSRF; the handler checks its bearer token (sync.c) */
};

typedef int (*handler_fn)(struct app *, struct request *, struct reply *);

static int api_me(struct app *app, struct request *rq, struct reply *rp);
static int api_centres(struct app *app, struct request *rq, struct reply *rp);
static int api_availability(struct app *app, struct request *rq, struct reply *rp);
static int api_healthz(struct app *app, struct request *rq, struct reply *rp);
static int api_metrics(struct app *app, struct request *rq, struct reply *rp);

static const struct route {
	const char *method;
	const char *pattern; /* {} matches one path segment */
	handler_fn fn;
	enum access access;
	const char *name; /* for metrics */
} routes[] = {
	{"POST", "/api/v1/session", auth_login, NO_CSRF, "session_create"},
	{"DELETE", "/api/v1/session", auth_logout, LOGIN, "session_delete"},
	{"GET", "/api/v1/me", api_me, LOGIN, "me"},
	{"GET", "/api/v1/centres", api_centres, PUBLIC, "centres"},
	{"GET", "/api/v1/centres/{}/availability", api_availability, LOGIN, "availability"},
	{"POST", "/api/v1/bookings", booking_hold, LOGIN, "booking_create"},
	{"GET", "/api/v1/bookings", booking_list, LOGIN, "booking_list"},
	{"GET", "/api/v1/bookings/{}", booking_get, LOGIN, "booking_get"},
	{"POST", "/api/v1/bookings/{}/cancel", booking_cancel, LOGIN, "booking_cancel"},
	{"GET", "/api/v1/bookings/{}/cancel-quote", payment_cancel_quote, LOGIN, "booking_cancel_quote"},
	{"POST", "/api/v1/bookings/{}/payment", payment_start, LOGIN, "payment_start"},
	{"GET", "/payments/{}/form", payment_form, LOGIN, "payment_form"},
	{"POST", "/payments/cmi/callback", payment_callback, PUBLIC, "payment_callback"},
	{"GET", "/payments/ok", payment_return, PUBLIC, "payment_ok"},
	{"POST", "/payments/ok", payment_return, PUBLIC, "payment_ok"},
	{"GET", "/payments/fail", payment_return, PUBLIC, "payment_fail"},
	{"POST", "/payments/fail", payment_return, PUBLIC, "payment_fail"},
	{"GET", "/api/v1/bookings/{}/passes", passes_list, LOGIN, "booking_passes"},
	{"GET", "/api/v1/passes/{}", passes_image, LOGIN, "pass_image"},
	{"POST", "/api/v1/passes/{}/reissue", passes_reissue, LOGIN, "pass_reissue"},
	{"GET", "/passes/{}/print", passes_print, LOGIN, "pass_print"},
	/* manager dashboard (manage.c) */
	{"GET", "/api/v1/manage/centres/{}/occupancy", manage_occupancy, LOGIN, "manage_occupancy"},
	{"GET", "/api/v1/manage/centres/{}/movements", manage_movements, LOGIN, "manage_movements"},
	{"GET", "/api/v1/manage/centres/{}/revenue", manage_revenue, LOGIN, "manage_revenue"},
	{"GET", "/api/v1/admin/members", manage_members, LOGIN, "admin_members"},
	{"GET", "/api/v1/admin/keys", manage_keys, LOGIN, "admin_keys"},
	/* gates (sync.c) */
	{"POST", "/api/gate/v1/enroll", gates_enroll, PUBLIC, "gate_enroll"},
	{"POST", "/api/gate/v1/events", sync_events, GATE, "gate_events"},
	{"GET", "/api/gate/v1/sync", sync_download, GATE, "gate_sync"},
	{"GET", "/api/v1/manage/centres/{}/onsite", manage_onsite, LOGIN, "manage_onsite"},
	{"GET", "/api/v1/admin/gates", gates_admin_list, LOGIN, "admin_gates"},
	{"POST", "/api/v1/admin/gates", gates_admin_add, LOGIN, "admin_gate_add"},
	{"POST", "/api/v1/admin/gates/{}/revoke", gates_admin_revoke, LOGIN, "admin_gate_revoke"},
	/* online check (check.c) */
	{"POST", "/api/gate/v1/check", check_gate_route, GATE, "gate_check"},
	{"POST", "/api/v1/manage/centres/{}/check", check_staff_route, LOGIN, "manage_check"},
	{"GET", "/healthz", api_healthz, PUBLIC, "healthz"},
	{"GET", "/metrics", api_metrics, PUBLIC, "metrics"},
};
#define NROUTES ((int)(sizeof(routes) / sizeof(routes[0])))

/* Matches path against pattern; fills params with pointers into scratch. */
static int match(const char *pattern, const char *path, char *scratch, size_t len, const char **params)
{
	int np = 0;
	size_t k = 0;

	while (*pattern && *path) {
		if (pattern[0] == '{' && pattern[1] == '}') {
			size_t seg = strcspn(path, "/");
			if (seg == 0 || np >= 4 || k + seg + 1 > len)
				return 0;
			memcpy(scratch + k, path, seg);
			scratch[k + seg] = '\0';
			params[np++] = scratch + k;
			k += seg + 1;
			path += seg;
			pattern += 2;
		} else if (*pattern++ != *path++) {
			return 0;
		}
	}
	return !*pattern && !*path;
}

static int unsafe_method(const char *m)
{
	return strcmp(m, "GET") && strcmp(m, "HEAD") && strcmp(m, "OPTIONS");
}

int api_route(struct app *app, struct request *rq, struct reply *rp)
{
	static _Thread_local char scratch[512];
	const char *params[4] = {NULL};
	int found = -1, path_known = 0;
	const struct route *r;

	rp->allow[0] = '\0';
	for (int i = 0; i < NROUTES; i++) {
		if (!match(routes[i].pattern, rq->path, scratch, sizeof(scratch), params))
			continue;
		path_known = 1;
		if (!strcmp(routes[i].method, rq->method) ||
		    (!strcmp(rq->method, "HEAD") && !strcmp(routes[i].method, "GET"))) {
			found = i;
			break;
		}
		if (strlen(rp->allow) + strlen(routes[i].method) + 3 < sizeof(rp->allow)) {
			if (rp->allow[0])
				strncat(rp->allow, ", ", sizeof(rp->allow) - strlen(rp->allow) - 1);
			strncat(rp->allow, routes[i].method, sizeof(rp->allow) - strlen(rp->allow) - 1);
		}
	}
	if (found < 0) {
		if (path_known)
			return reply_error(rp, 405, "method_not_allowed", "this path does not take this method");
		return reply_error(rp, 404, "not_found", "no such resource");
	}
	rp->allow[0] = '\0';
	r = &routes[found];
	rq->route = found;
	memcpy(rq->params, params, sizeof(params));
	if (r->access == LOGIN) {
		int s = auth_session(app, rq);
		if (s < 0)
			return reply_error(rp, 500, "internal", "database unavailable");
		if (s == 0)
			return reply_error(rp, 401, "unauthenticated", "log in first (or your session has ended)");
		if (unsafe_method(rq->method) && !auth_csrf_ok(rq))
			return reply_error(rp, 403, "csrf", "the X-CSRF-Token header is missing or wrong");
	}
	return r->fn(app, rq, rp);
}

/* ---- handlers ---- */

static int api_me(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	sqlite3_stmt *st;
	json_t *m = NULL, *hh;

	if (rq->who.role != ROLE_MEMBER) {
		json_t *cs = json_array();
		for (int i = 0; i < app->cat.ncentres; i++)
			if (auth_can_see_centre(&rq->who, i))
				json_array_append_new(cs, json_string(app->cat.centres[i]->id));
		return reply_json(rp, 200, json_pack("{s:s,s:s,s:o}", "role", rq->who.role == ROLE_ADMIN ? "admin" : "manager",
						     "user", rq->who.name, "centres", cs));
	}
	if (!db || sqlite3_prepare_v2(db,
				      "SELECT number, first_name, last_name, first_name_ar, last_name_ar, email, phone,"
				      " status, category FROM members WHERE id = ?",
				      -1, &st, NULL) != SQLITE_OK)
		return reply_error(rp, 500, "internal", "database error");
	sqlite3_bind_int64(st, 1, rq->who.member_id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		static const char *keys[] = {"number", "first_name", "last_name", "first_name_ar", "last_name_ar",
					     "email", "phone", "status", "category"};
		m = json_object();
		for (int i = 0; i < 9; i++)
			json_object_set_new(m, keys[i], json_string((const char *)sqlite3_column_text(st, i)));
	}
	sqlite3_finalize(st);
	if (!m)
		return reply_error(rp, 404, "not_found", "no such member");
	hh = json_array();
	if (sqlite3_prepare_v2(db, "SELECT name, relation, birth_year FROM household WHERE member = ? ORDER BY id", -1,
			       &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, rq->who.member_id);
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(hh, json_pack("{s:s,s:s,s:o}", "name", sqlite3_column_text(st, 0),
							    "relation", sqlite3_column_text(st, 1), "birth_year",
							    sqlite3_column_type(st, 2) == SQLITE_NULL
								    ? json_null()
								    : json_integer(sqlite3_column_int(st, 2))));
		sqlite3_finalize(st);
	}
	json_object_set_new(m, "household", hh);
	return reply_json(rp, 200, json_pack("{s:s,s:o}", "role", "member", "member", m));
}

static void hhmm(int minutes, char out[6])
{
	unsigned h = (unsigned)(minutes / 60) % 24, m = (unsigned)minutes % 60;

	out[0] = (char)('0' + h / 10);
	out[1] = (char)('0' + h % 10);
	out[2] = ':';
	out[3] = (char)('0' + m / 10);
	out[4] = (char)('0' + m % 10);
	out[5] = '\0';
}

static int api_centres(struct app *app, struct request *rq, struct reply *rp)
{
	json_t *list = json_array();

	for (int i = 0; i < app->cat.ncentres; i++) {
		const struct centre *c = app->cat.centres[i];
		json_t *types = json_array(), *seasons = json_array();
		char in[6], out[6];

		for (int t = 0; t < c->ntypes; t++)
			json_array_append_new(types, json_pack("{s:s,s:s,s:s,s:i,s:i,s:i}", "id", c->types[t].id, "name_fr",
							       c->types[t].name_fr, "name_ar", c->types[t].name_ar,
							       "min_guests", c->types[t].min_guests, "max_guests",
							       c->types[t].max_guests, "units", c->types[t].nunits));
		for (int s = 0; s < c->nseasons; s++) {
			const struct season *se = &c->seasons[s];
			char a[DATE_STRLEN], b[DATE_STRLEN], r[DATE_STRLEN];
			json_t *j;

			date_format(se->first_night, a);
			date_format(se->last_night, b);
			j = json_pack("{s:s,s:s,s:s,s:s}", "id", se->id, "kind", se->kind == SEASON_HIGH ? "high" : "low",
				      "first_night", a, "last_night", b);
			if (se->kind == SEASON_HIGH) {
				date_format(se->rotation_start, r);
				json_object_set_new(j, "rotation_nights", json_integer(se->rotation_nights));
				json_object_set_new(j, "rotation_start", json_string(r));
			} else {
				json_object_set_new(j, "min_nights", json_integer(se->min_nights));
				json_object_set_new(j, "max_nights", json_integer(se->max_nights));
			}
			json_array_append_new(seasons, j);
		}
		hhmm(c->check_in, in);
		hhmm(c->check_out, out);
		json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o}", "id", c->id, "name_fr",
						      c->name_fr, "name_ar", c->name_ar, "city_fr", c->city_fr, "city_ar",
						      c->city_ar, "check_in", in, "check_out", out, "unit_types", types,
						      "seasons", seasons));
	}
	(void)rq;
	return reply_json(rp, 200, json_pack("{s:o}", "centres", list));
}

static int api_availability(struct app *app, struct request *rq, struct reply *rp)
{
	const char *from_s = request_query(rq, "from"), *to_s = request_query(rq, "to");
	int ci = catalog_centre(&app->cat, rq->params[0]), cat;
	sqlite3 *db = db_thread(app);
	const struct centre *c;
	int32_t from, to;
	json_t *types;
	sqlite3_stmt *st;
	char msg[128];

	if (ci < 0 || !auth_can_see_centre(&rq->who, ci))
		return reply_error(rp, 404, "not_found", "no such centre");
	c = app->cat.centres[ci];
	if (!from_s || !to_s || date_parse(from_s, &from) < 0 || date_parse(to_s, &to) < 0)
		return reply_error(rp, 400, "bad_request", "from and to must be dates YYYY-MM-DD");
	if (to < from)
		return reply_error(rp, 400, "bad_request", "to must not be before from");
	if (to - from + 1 > app->cfg.max_request_nights) {
		snprintf(msg, sizeof(msg), "at most %d nights per request", app->cfg.max_request_nights);
		return reply_error(rp, 400, "bad_request", msg);
	}
	if (rq->who.role == ROLE_MEMBER) {
		cat = rq->who.category;
	} else {
		const char *k = request_query(rq, "category");
		cat = k ? catalog_category(&app->cat, k) : 0;
		if (cat < 0)
			return reply_error(rp, 400, "bad_request", "unknown category");
	}
	if (cat < 0)
		return reply_error(rp, 500, "internal", "your category has no tariffs");
	if (!db || sqlite3_prepare_v2(db,
				      "SELECT night, COUNT(*) FROM booking_nights WHERE unit_type = ? AND night BETWEEN ? AND ?"
				      " GROUP BY night",
				      -1, &st, NULL) != SQLITE_OK)
		return reply_error(rp, 500, "internal", "database error");
	types = json_array();
	for (int t = 0; t < c->ntypes; t++) {
		int taken[400] = {0};
		json_t *nights = json_array();

		sqlite3_bind_int64(st, 1, c->types[t].dbid);
		sqlite3_bind_int(st, 2, from);
		sqlite3_bind_int(st, 3, to);
		while (sqlite3_step(st) == SQLITE_ROW) {
			int n = sqlite3_column_int(st, 0) - from;
			if (n >= 0 && n < 400)
				taken[n] = sqlite3_column_int(st, 1);
		}
		sqlite3_reset(st);
		for (int32_t n = from; n <= to; n++) {
			int s = centre_season_at(c, n);
			char d[DATE_STRLEN];

			date_format(n, d);
			if (s < 0) {
				json_array_append_new(nights, json_pack("{s:s,s:i,s:n,s:n}", "night", d, "free", 0, "price",
									"season"));
				continue;
			}
			json_array_append_new(nights,
					      json_pack("{s:s,s:i,s:{s:I,s:s},s:s}", "night", d, "free",
							c->types[t].nunits - taken[n - from], "price", "centimes",
							(json_int_t)c->tariff[t][s][cat], "currency", "MAD", "season",
							c->seasons[s].id));
		}
		json_array_append_new(types, json_pack("{s:s,s:i,s:o}", "id", c->types[t].id, "units",
						       c->types[t].nunits, "nights", nights));
	}
	sqlite3_finalize(st);
	return reply_json(rp, 200, json_pack("{s:s,s:s,s:s,s:s,s:o}", "centre", c->id, "from", from_s, "to", to_s,
					     "category", app->cat.categories[cat].id, "unit_types", types));
}

static int api_healthz(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);

	(void)rq;
	if (!db || sqlite3_exec(db, "SELECT 1 FROM centres LIMIT 1", NULL, NULL, NULL) != SQLITE_OK)
		return reply_error(rp, 503, "unavailable", "the database does not answer");
	return reply_json(rp, 200, json_pack("{s:s}", "status", "ok"));
}

static int api_metrics(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	sqlite3_stmt *st;
	const char *names[NROUTES];
	struct buf b;

	(void)rq;
	buf_init(&b, 1024 * 1024);
	for (int i = 0; i < NROUTES; i++)
		names[i] = routes[i].name;
	metrics_render(&app->metrics, names, NROUTES, &b);
	buf_printf(&b, "# HELP estiva_bookings Bookings by status.\n# TYPE estiva_bookings gauge\n");
	if (db && sqlite3_prepare_v2(db, "SELECT s.v, (SELECT COUNT(*) FROM bookings WHERE status = s.v) FROM"
					 " (SELECT 'held' v UNION ALL SELECT 'confirmed' UNION ALL SELECT 'cancelled'"
					 " UNION ALL SELECT 'expired') s",
				     -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW)
			buf_printf(&b, "estiva_bookings{status=\"%s\"} %lld\n", sqlite3_column_text(st, 0),
				   (long long)sqlite3_column_int64(st, 1));
		sqlite3_finalize(st);
	}
	reply_text(rp, 200, "text/plain; version=0.0.4; charset=utf-8", buf_cstr(&b));
	buf_free(&b);
	return 0;
}
