/* api.c: the route table (every HTTP route of the server in one place, with who may call it, its
 * centre scope and typed path parameters), the dispatcher that checks them before any handler runs,
 * and the small handlers: me, centres, availability, health and metrics. */
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>

#include "date.h"
#include "log.h"
#include "server.h"

/* Who may call a route: a set of these. A route open to WHO_ANON looks at no session; a WHO_GATE
 * route is for gates alone (their bearer token, gates.c:gate_auth); any other needs a session whose
 * role is in the set. */
#define WHO_ANON (1u << 0)
#define WHO_MEMBER (1u << 1)
#define WHO_MANAGER (1u << 2)
#define WHO_ADMIN (1u << 3)
#define WHO_GATE (1u << 4)
#define WHO_STAFF (WHO_MANAGER | WHO_ADMIN)
#define WHO_SESSION (WHO_MEMBER | WHO_STAFF)

enum csrf {
	NO_CSRF, /* no session (the login, anonymous and gate routes): no token to compare */
	CSRF,    /* unsafe methods must carry the session's X-CSRF-Token */
};

/* The typed path parameters: each {NAME} of a pattern is one path segment, checked here before the
 * handler runs. A {centre} must be a centre of the catalog that the caller may see (auth.c:
 * auth_can_see_centre): else the same 404 as a centre that does not exist; its index goes to
 * rq->centre. An id must pass request_id_param() within its bounds, else 404: rq->id (one id per
 * route), and rq->id_suffix for what may follow its digits. Text goes to the handler as it is, in
 * rq->params. */
enum param_type { PARAM_CENTRE, PARAM_ID, PARAM_TEXT };

static const struct param {
	const char *name;
	enum param_type type;
	int64_t min, max; /* ids */
	const char
	    *suffixes;       /* ids: what may follow the digits, each ending in ';'; NULL nothing */
	const char *unknown; /* message of the 404 */
} param_types[] = {
    {"{centre}", PARAM_CENTRE, 0, 0, NULL, "no such centre"},
    {"{booking}", PARAM_ID, 1, INT64_MAX, NULL, "no such booking"},
    {"{pass}", PARAM_ID, 1, UINT32_MAX, NULL,
     "no such pass"}, /* pass ids are 32 bits in the pass */
    {"{pass.ext}", PARAM_ID, 1, UINT32_MAX, ".png;.svg;",
     "no such pass (use /api/v1/passes/ID.png or .svg)"},
    {"{gate}", PARAM_ID, 1, INT64_MAX, NULL, "no such gate"},
    {"{message}", PARAM_ID, 1, INT64_MAX, NULL, "no such message"},
    {"{oid}", PARAM_TEXT, 0, 0, NULL, NULL},
};
#define NPARAMS ((int)(sizeof(param_types) / sizeof(param_types[0])))

typedef int (*handler_fn)(struct app *, struct request *, struct reply *);

static int api_me(struct app *app, struct request *rq, struct reply *rp);
static int api_centres(struct app *app, struct request *rq, struct reply *rp);
static int api_availability(struct app *app, struct request *rq, struct reply *rp);
static int api_healthz(struct app *app, struct request *rq, struct reply *rp);
static int api_metrics(struct app *app, struct request *rq, struct reply *rp);

/* Every route, and who may call it: the access rule is this table, not the handlers (they only keep
 * what depends on the data: a member's own bookings, a manager's bookings of their centres). */
static const struct route {
	const char *method;
	const char *pattern; /* {NAME}: one path segment, a typed parameter (param_types[] above) */
	handler_fn fn;
	unsigned who;
	enum csrf csrf;
	const char *name; /* for metrics */
} routes[] = {
    {"POST", "/api/v1/session", auth_login, WHO_ANON, NO_CSRF, "session_create"},
    {"DELETE", "/api/v1/session", auth_logout, WHO_SESSION, CSRF, "session_delete"},
    {"GET", "/api/v1/me", api_me, WHO_SESSION, CSRF, "me"},
    /* members' own accounts (account.c): the links are asked for and used without a session */
    {"PATCH", "/api/v1/me", account_me_update, WHO_MEMBER, CSRF, "me_update"},
    {"POST", "/api/v1/me/password", account_me_password, WHO_MEMBER, CSRF, "me_password"},
    {"POST", "/api/v1/account/activate", account_activate, WHO_ANON, NO_CSRF, "account_activate"},
    {"POST", "/api/v1/account/reset", account_reset, WHO_ANON, NO_CSRF, "account_reset"},
    {"POST", "/api/v1/account/password", account_password, WHO_ANON, NO_CSRF, "account_password"},
    {"POST", "/api/v1/account/email", account_email_confirm, WHO_ANON, NO_CSRF, "account_email"},
    {"GET", "/api/v1/centres", api_centres, WHO_ANON, NO_CSRF, "centres"},
    {"GET", "/api/v1/centres/{centre}/availability", api_availability, WHO_SESSION, CSRF,
     "availability"},
    {"POST", "/api/v1/bookings", booking_hold, WHO_MEMBER, CSRF, "booking_create"},
    {"GET", "/api/v1/bookings", booking_list, WHO_SESSION, CSRF, "booking_list"},
    {"GET", "/api/v1/bookings/{booking}", booking_get, WHO_SESSION, CSRF, "booking_get"},
    {"POST", "/api/v1/bookings/{booking}/cancel", booking_cancel, WHO_SESSION, CSRF,
     "booking_cancel"},
    {"GET", "/api/v1/bookings/{booking}/cancel-quote", payment_cancel_quote, WHO_SESSION, CSRF,
     "booking_cancel_quote"},
    {"POST", "/api/v1/bookings/{booking}/payment", payment_start, WHO_MEMBER, CSRF,
     "payment_start"},
    /* staff have no payment to see: theirs is the handler's 404, as for another member's */
    {"GET", "/payments/{oid}/form", payment_form, WHO_SESSION, CSRF, "payment_form"},
    {"POST", "/payments/cmi/callback", payment_callback, WHO_ANON, NO_CSRF, "payment_callback"},
    {"GET", "/payments/ok", payment_return, WHO_ANON, NO_CSRF, "payment_ok"},
    {"POST", "/payments/ok", payment_return, WHO_ANON, NO_CSRF, "payment_ok"},
    {"GET", "/payments/fail", payment_return, WHO_ANON, NO_CSRF, "payment_fail"},
    {"POST", "/payments/fail", payment_return, WHO_ANON, NO_CSRF, "payment_fail"},
    {"GET", "/api/v1/bookings/{booking}/passes", passes_list, WHO_SESSION, CSRF, "booking_passes"},
    {"GET", "/api/v1/passes/{pass.ext}", passes_image, WHO_SESSION, CSRF, "pass_image"},
    {"POST", "/api/v1/passes/{pass}/reissue", passes_reissue, WHO_SESSION, CSRF, "pass_reissue"},
    {"GET", "/passes/{pass}/print", passes_print, WHO_SESSION, CSRF, "pass_print"},
    /* the stay as a calendar file, the receipts as a printable page: the booking's member, staff
     * of its centre (the handlers' auth_may_see) */
    {"GET", "/api/v1/bookings/{booking}/stay.ics", calendar_route, WHO_SESSION, CSRF,
     "booking_stay_ics"},
    {"GET", "/receipts/{booking}/print", receipts_page, WHO_SESSION, CSRF, "receipts_print"},
    /* manager dashboard (manage.c) */
    {"GET", "/api/v1/manage/centres/{centre}/occupancy", manage_occupancy, WHO_STAFF, CSRF,
     "manage_occupancy"},
    {"GET", "/api/v1/manage/centres/{centre}/movements", manage_movements, WHO_STAFF, CSRF,
     "manage_movements"},
    {"GET", "/api/v1/manage/centres/{centre}/revenue", manage_revenue, WHO_STAFF, CSRF,
     "manage_revenue"},
    {"GET", "/api/v1/admin/members", manage_members, WHO_ADMIN, CSRF, "admin_members"},
    {"GET", "/api/v1/admin/keys", manage_keys, WHO_ADMIN, CSRF, "admin_keys"},
    {"GET", "/api/v1/admin/mail", manage_mail_list, WHO_ADMIN, CSRF, "admin_mail"},
    {"POST", "/api/v1/admin/mail/{message}/resend", manage_mail_resend, WHO_ADMIN, CSRF,
     "admin_mail_resend"},
    /* gates (sync.c, gates.c) */
    {"POST", "/api/gate/v1/enroll", gates_enroll, WHO_ANON, NO_CSRF, "gate_enroll"},
    {"POST", "/api/gate/v1/events", sync_events, WHO_GATE, NO_CSRF, "gate_events"},
    {"GET", "/api/gate/v1/sync", sync_download, WHO_GATE, NO_CSRF, "gate_sync"},
    {"GET", "/api/v1/manage/centres/{centre}/onsite", manage_onsite, WHO_STAFF, CSRF,
     "manage_onsite"},
    {"GET", "/api/v1/admin/gates", gates_admin_list, WHO_ADMIN, CSRF, "admin_gates"},
    {"POST", "/api/v1/admin/gates", gates_admin_add, WHO_ADMIN, CSRF, "admin_gate_add"},
    {"POST", "/api/v1/admin/gates/{gate}/revoke", gates_admin_revoke, WHO_ADMIN, CSRF,
     "admin_gate_revoke"},
    /* online check (check.c) */
    {"POST", "/api/gate/v1/check", check_gate_route, WHO_GATE, NO_CSRF, "gate_check"},
    {"POST", "/api/v1/manage/centres/{centre}/check", check_staff_route, WHO_STAFF, CSRF,
     "manage_check"},
    {"GET", "/healthz", api_healthz, WHO_ANON, NO_CSRF, "healthz"},
    {"GET", "/metrics", api_metrics, WHO_ANON, NO_CSRF, "metrics"},
};
#define NROUTES ((int)(sizeof(routes) / sizeof(routes[0])))
#define MAX_PARAMS 4

/* Matches path against pattern; fills params with pointers into scratch, names with the pattern's
 * {NAME} of each, and *nparams with how many. 1 when it matches, 0 when not. */
static int match(const char *pattern, const char *path, char *scratch, size_t len,
                 const char **params, const char **names, int *nparams)
{
	int np = 0;
	size_t k = 0;

	while (*pattern && *path) {
		if (pattern[0] == '{') {
			const char *close = strchr(pattern, '}');
			size_t seg = strcspn(path, "/");
			if (!close || seg == 0 || np >= MAX_PARAMS || k + seg + 1 > len)
				return 0;
			memcpy(scratch + k, path, seg);
			scratch[k + seg] = '\0';
			names[np] = pattern;
			params[np++] = scratch + k;
			k += seg + 1;
			path += seg;
			pattern = close + 1;
		} else if (*pattern++ != *path++) {
			return 0;
		}
	}
	*nparams = np;
	return !*pattern && !*path;
}

/* The kind of the {NAME} at pattern, or NULL. */
static const struct param *param_of(const char *pattern)
{
	size_t n = strcspn(pattern, "}") + 1;

	for (int i = 0; i < NPARAMS; i++)
		if (strlen(param_types[i].name) == n && !strncmp(param_types[i].name, pattern, n))
			return &param_types[i];
	return NULL;
}

int api_has_route(const char *path)
{
	char scratch[512];
	const char *p[MAX_PARAMS], *names[MAX_PARAMS];
	int np;

	for (int i = 0; i < NROUTES; i++)
		if (match(routes[i].pattern, path, scratch, sizeof(scratch), p, names, &np))
			return 1;
	return 0;
}

static unsigned role_bit(enum role r)
{
	return r == ROLE_MEMBER    ? WHO_MEMBER
	       : r == ROLE_MANAGER ? WHO_MANAGER
	       : r == ROLE_ADMIN   ? WHO_ADMIN
	                           : 0;
}

static const char *forbidden_message(unsigned who)
{
	if (who == WHO_MEMBER)
		return "this is for members";
	if (who == WHO_STAFF)
		return "this is for centre managers and administrators";
	if (who == WHO_ADMIN)
		return "this is for administrators";
	return "your role may not use this route";
}

/* 1 when s is one of the ';'-terminated entries of list */
static int suffix_ok(const char *list, const char *s)
{
	size_t n = strlen(s);

	for (const char *p = list; *p; p += strcspn(p, ";") + 1)
		if (strcspn(p, ";") == n && !strncmp(p, s, n))
			return 1;
	return 0;
}

static int unsafe_method(const char *m)
{
	return strcmp(m, "GET") && strcmp(m, "HEAD") && strcmp(m, "OPTIONS");
}

/* Who is calling, against the route's set: 0, or -1 when it replied (401, 403, 500). */
static int check_caller(struct app *app, struct request *rq, struct reply *rp,
                        const struct route *r)
{
	int s;

	if (r->who & WHO_ANON)
		return 0;
	if (r->who & WHO_GATE) {
		sqlite3 *db = db_thread(app);
		if (!db) {
			reply_error(rp, 500, "internal", "database unavailable");
			return -1;
		}
		return gate_auth(app, db, rq, rp, &rq->gate);
	}
	s = auth_session(app, rq);
	if (s < 0) {
		reply_error(rp, 500, "internal", "database unavailable");
		return -1;
	}
	if (s == 0) {
		reply_error(rp, 401, "unauthenticated", "log in first (or your session has ended)");
		return -1;
	}
	if (r->csrf == CSRF && unsafe_method(rq->method) && !auth_csrf_ok(rq)) {
		reply_error(rp, 403, "csrf", "the X-CSRF-Token header is missing or wrong");
		return -1;
	}
	if (!(r->who & role_bit(rq->who.role))) {
		reply_error(rp, 403, "forbidden", forbidden_message(r->who));
		return -1;
	}
	return 0;
}

/* The typed parameters of the route (param_types[] above): 0, or -1 when it replied (404, 500). */
static int check_params(struct app *app, struct request *rq, struct reply *rp, const char **names,
                        int n)
{
	for (int i = 0; i < n; i++) {
		const struct param *k = param_of(names[i]);
		const char *s = rq->params[i], *rest;
		size_t digits;
		int ci;

		if (!k) {
			reply_error(rp, 500, "internal", "a route parameter of unknown type");
			return -1;
		}
		switch (k->type) {
		case PARAM_CENTRE:
			/* an anonymous or gate caller holds no centre: there the centre need only
			 * exist */
			ci = catalog_centre(&app->cat, s);
			if (ci < 0 ||
			    (rq->who.role != ROLE_NONE && !auth_can_see_centre(&rq->who, ci))) {
				reply_error(rp, 404, "not_found", k->unknown);
				return -1;
			}
			rq->centre = ci;
			break;
		case PARAM_ID:
			digits = strspn(s, "0123456789");
			rest = s + digits;
			if (request_id_param(s, digits, k->min, k->max, &rq->id) < 0 ||
			    (k->suffixes ? !suffix_ok(k->suffixes, rest) : *rest != '\0')) {
				reply_error(rp, 404, "not_found", k->unknown);
				return -1;
			}
			rq->id_suffix = rest;
			break;
		case PARAM_TEXT:
			break;
		}
	}
	return 0;
}

int api_route(struct app *app, struct request *rq, struct reply *rp)
{
	static _Thread_local char scratch[512];
	const char *p[MAX_PARAMS] = {NULL}, *names[MAX_PARAMS] = {NULL};
	int found = -1, path_known = 0, np = 0;
	const struct route *r;

	rp->allow[0] = '\0';
	for (int i = 0; i < NROUTES; i++) {
		if (!match(routes[i].pattern, rq->path, scratch, sizeof(scratch), p, names, &np))
			continue;
		path_known = 1;
		if (!strcmp(routes[i].method, rq->method) ||
		    (!strcmp(rq->method, "HEAD") && !strcmp(routes[i].method, "GET"))) {
			found = i;
			break;
		}
		{
			size_t used = strlen(rp->allow);

			if (used + strlen(routes[i].method) + 3 <
			    sizeof(rp->allow)) /* whole methods only */
				snprintf(rp->allow + used, sizeof(rp->allow) - used, "%s%s",
				         used ? ", " : "", routes[i].method);
		}
	}
	if (found < 0) {
		if (path_known)
			return reply_error(rp, 405, "method_not_allowed",
			                   "this path does not take this method");
		return reply_error(rp, 404, "not_found", "no such resource");
	}
	rp->allow[0] = '\0';
	r = &routes[found];
	rq->route = found;
	for (int i = 0; i < MAX_PARAMS; i++)
		rq->params[i] = i < np ? p[i] : NULL;
	rq->centre = -1;
	rq->id = 0;
	rq->id_suffix = "";
	if (check_caller(app, rq, rp, r) < 0 || check_params(app, rq, rp, names, np) < 0)
		return 0;
	return r->fn(app, rq, rp);
}

static void who_names(unsigned who, char *out, size_t len)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {{WHO_ANON, "anonymous"},
	             {WHO_MEMBER, "member"},
	             {WHO_MANAGER, "manager"},
	             {WHO_ADMIN, "admin"},
	             {WHO_GATE, "gate"}};
	size_t k = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((who & names[i].bit) && k < len) {
			int n = snprintf(out + k, len - k, "%s%s", k ? "," : "", names[i].name);
			k += n > 0 ? (size_t)n : 0;
		}
}

int api_routes_print(FILE *out)
{
	int rc = 0;

	for (int i = 0; i < NROUTES; i++) {
		const char *pat = routes[i].pattern, *scope = "-";
		char who[64];

		for (const char *b = strchr(pat, '{'); b; b = strchr(b + 1, '{')) {
			const struct param *k = param_of(b);
			if (!k)
				rc = -1;
			else if (k->type == PARAM_CENTRE)
				scope = "centre";
		}
		who_names(routes[i].who, who, sizeof(who));
		fprintf(out, "%-6s %-44s %-22s %-7s %s\n", routes[i].method, pat, who,
		        routes[i].csrf == CSRF ? "csrf" : "no-csrf", scope);
	}
	return rc;
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
		return reply_json(rp, 200,
		                  json_pack("{s:s,s:s,s:o}", "role",
		                            rq->who.role == ROLE_ADMIN ? "admin" : "manager",
		                            "user", rq->who.name, "centres", cs));
	}
	if (!db ||
	    !(st = db_stmt(
	          db,
	          "SELECT number, first_name, last_name, first_name_ar, last_name_ar, email, phone,"
	          " status, category FROM members WHERE id = ?")))
		return reply_error(rp, 500, "internal", "database error");
	db_bind_int64(st, 1, rq->who.member_id);
	if (db_step(st) == SQLITE_ROW) {
		static const char *keys[] = {"number",        "first_name",   "last_name",
		                             "first_name_ar", "last_name_ar", "email",
		                             "phone",         "status",       "category"};
		m = json_object();
		for (int i = 0; i < 9; i++)
			json_object_set_new(m, keys[i],
			                    json_string((const char *)sqlite3_column_text(st, i)));
	}
	db_done(st);
	if (!m)
		return reply_error(rp, 404, "not_found", "no such member");
	/* what the member chose (account.c): language of messages, optional reminders */
	if ((st = db_stmt(db, "SELECT locale, reminders FROM members WHERE id = ?"))) {
		db_bind_int64(st, 1, rq->who.member_id);
		if (db_step(st) == SQLITE_ROW) {
			json_object_set_new(
			    m, "locale",
			    sqlite3_column_type(st, 0) == SQLITE_NULL
			        ? json_null()
			        : json_string((const char *)sqlite3_column_text(st, 0)));
			json_object_set_new(m, "reminders",
			                    json_boolean(sqlite3_column_int(st, 1)));
		}
		db_done(st);
	}
	hh = json_array();
	if ((st = db_stmt(db, "SELECT name, relation, birth_year FROM household WHERE member = ? "
	                      "ORDER BY id"))) {
		db_bind_int64(st, 1, rq->who.member_id);
		while (db_step(st) == SQLITE_ROW)
			json_array_append_new(
			    hh, json_pack("{s:s,s:s,s:o}", "name", sqlite3_column_text(st, 0),
			                  "relation", sqlite3_column_text(st, 1), "birth_year",
			                  sqlite3_column_type(st, 2) == SQLITE_NULL
			                      ? json_null()
			                      : json_integer(sqlite3_column_int(st, 2))));
		db_done(st);
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
			json_array_append_new(
			    types,
			    json_pack("{s:s,s:s,s:s,s:i,s:i,s:i}", "id", c->types[t].id, "name_fr",
			              c->types[t].name_fr, "name_ar", c->types[t].name_ar,
			              "min_guests", c->types[t].min_guests, "max_guests",
			              c->types[t].max_guests, "units", c->types[t].nunits));
		for (int s = 0; s < c->nseasons; s++) {
			const struct season *se = &c->seasons[s];
			char a[DATE_STRLEN], b[DATE_STRLEN], r[DATE_STRLEN];
			json_t *j;

			date_format(se->first_night, a);
			date_format(se->last_night, b);
			j = json_pack("{s:s,s:s,s:s,s:s}", "id", se->id, "kind",
			              se->kind == SEASON_HIGH ? "high" : "low", "first_night", a,
			              "last_night", b);
			if (se->kind == SEASON_HIGH) {
				date_format(se->rotation_start, r);
				json_object_set_new(j, "rotation_nights",
				                    json_integer(se->rotation_nights));
				json_object_set_new(j, "rotation_start", json_string(r));
			} else {
				json_object_set_new(j, "min_nights", json_integer(se->min_nights));
				json_object_set_new(j, "max_nights", json_integer(se->max_nights));
			}
			json_array_append_new(seasons, j);
		}
		hhmm(c->check_in, in);
		hhmm(c->check_out, out);
		json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o}", "id",
		                                      c->id, "name_fr", c->name_fr, "name_ar",
		                                      c->name_ar, "city_fr", c->city_fr, "city_ar",
		                                      c->city_ar, "check_in", in, "check_out", out,
		                                      "unit_types", types, "seasons", seasons));
	}
	(void)rq;
	return reply_json(rp, 200, json_pack("{s:o}", "centres", list));
}

static int api_availability(struct app *app, struct request *rq, struct reply *rp)
{
	const char *from_s = request_query(rq, "from"), *to_s = request_query(rq, "to");
	const struct centre *c = app->cat.centres[rq->centre];
	sqlite3 *db = db_thread(app);
	int cat;
	int32_t from, to;
	json_t *types;
	sqlite3_stmt *st;
	char msg[128];

	if (!from_s || !to_s || date_parse(from_s, &from) < 0 || date_parse(to_s, &to) < 0)
		return reply_error(rp, 400, "bad_request", "from and to must be dates YYYY-MM-DD");
	if (to < from)
		return reply_error(rp, 400, "bad_request", "to must not be before from");
	if (to - from + 1 > app->cfg.max_request_nights) {
		snprintf(msg, sizeof(msg), "at most %d nights per request",
		         app->cfg.max_request_nights);
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
	if (!db || !(st = db_stmt(db, "SELECT night, COUNT(*) FROM booking_nights WHERE unit_type "
	                              "= ? AND night BETWEEN ? AND ?"
	                              " GROUP BY night")))
		return reply_error(rp, 500, "internal", "database error");
	types = json_array();
	for (int t = 0; t < c->ntypes; t++) {
		int taken[400] = {0};
		json_t *nights = json_array();

		db_bind_int64(st, 1, c->types[t].dbid);
		db_bind_int(st, 2, from);
		db_bind_int(st, 3, to);
		while (db_step(st) == SQLITE_ROW) {
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
				json_array_append_new(nights,
				                      json_pack("{s:s,s:i,s:n,s:n}", "night", d,
				                                "free", 0, "price", "season"));
				continue;
			}
			json_array_append_new(
			    nights, json_pack("{s:s,s:i,s:{s:I,s:s},s:s}", "night", d, "free",
			                      c->types[t].nunits - taken[n - from], "price",
			                      "centimes", (json_int_t)c->tariff[t][s][cat],
			                      "currency", "MAD", "season", c->seasons[s].id));
		}
		json_array_append_new(types,
		                      json_pack("{s:s,s:i,s:o}", "id", c->types[t].id, "units",
		                                c->types[t].nunits, "nights", nights));
	}
	db_done(st);
	return reply_json(rp, 200,
	                  json_pack("{s:s,s:s,s:s,s:s,s:o}", "centre", c->id, "from", from_s, "to",
	                            to_s, "category", app->cat.categories[cat].id, "unit_types",
	                            types));
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
	buf_printf(&b,
	           "# HELP estiva_bookings Bookings by status.\n# TYPE estiva_bookings gauge\n");
	if (db &&
	    (st = db_stmt(
	         db, "SELECT s.v, (SELECT COUNT(*) FROM bookings WHERE status = s.v) FROM"
	             " (SELECT 'held' v UNION ALL SELECT 'confirmed' UNION ALL SELECT 'cancelled'"
	             " UNION ALL SELECT 'expired') s"))) {
		while (db_step(st) == SQLITE_ROW)
			buf_printf(&b, "estiva_bookings{status=\"%s\"} %lld\n",
			           sqlite3_column_text(st, 0),
			           (long long)sqlite3_column_int64(st, 1));
		db_done(st);
	}
	reply_text(rp, 200, "text/plain; version=0.0.4; charset=utf-8", buf_cstr(&b));
	buf_free(&b);
	return 0;
}
