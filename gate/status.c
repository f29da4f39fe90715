/* status.c: the staff status page served by the gate (libmicrohttpd, bound to [status]
 * listen/port). Login with the staff PIN (argon2id hash in the configuration) gives a session
 * cookie; every POST carries the session's CSRF token. The page shows the latest decision big
 * (green or red, name and unit or the reason), the last decisions, people inside now, the sync
 * state (last success, queue, clock offset, dead letters, revoked?), the readers' health, and a
 * manual admission form with a required reason. French and Arabic (dir=rtl). A small script polls
 * /status.json; the CSP allows nothing but this origin. */
#include <arpa/inet.h>
#include <jansson.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "date.h"
#include "gate.h"
#include "log.h"
#include "web.h"

#define BODY_MAX 8192
#define LOGIN_FREE_FAILURES 5
#define LOGIN_DELAY_MAX 300
#define COOKIE_SESSION "gate_session"
#define COOKIE_PRE "gate_pre"

static const char *csp =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

struct session {
	unsigned char key[WEB_ID_KEY]; /* web_id_key() of the cookie */
	char csrf[WEB_ID_HEX];
	int64_t expires;
	int used;
};

static struct session sessions[GATE_SESSIONS_MAX];
static pthread_mutex_t sess_lock = PTHREAD_MUTEX_INITIALIZER;
static int login_failures;
static int64_t login_last_failure;

struct conn {
	struct buf body;
	struct form form; /* the body of a POST, decoded */
	int too_big;
};

/* ---- small pieces ---- */

/* A field of the posted form into out: 0, or -1 when absent or longer than n - 1 (out is then
 * ""). */
static int field(const struct form *f, const char *name, char *out, size_t n)
{
	const char *v = form_get(f, name);
	size_t len = v ? strlen(v) : 0;

	out[0] = '\0';
	if (!v || len >= n)
		return -1;
	memcpy(out, v, len + 1);
	return 0;
}

/* The session of this request, or NULL. */
static struct session *session_of(struct MHD_Connection *conn, int64_t now)
{
	const char *cookie = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, COOKIE_SESSION);
	unsigned char key[WEB_ID_KEY];

	if (!cookie || web_id_key(cookie, key) < 0)
		return NULL;
	for (int i = 0; i < GATE_SESSIONS_MAX; i++)
		if (sessions[i].used && sessions[i].expires > now &&
		    !sodium_memcmp(sessions[i].key, key, WEB_ID_KEY))
			return &sessions[i];
	return NULL;
}

static int is_ar(struct MHD_Connection *conn)
{
	const char *q = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "lang");
	const char *c = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, "lang");

	if (q)
		return !strcmp(q, "ar");
	return c && !strcmp(c, "ar");
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
                             struct buf *b, const char *cookie1, const char *cookie2,
                             const char *location)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	const char *lang = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "lang");
	struct web_header h[WEB_HEADERS_MAX];
	int nh = web_security_headers(csp, 0, h); /* plain HTTP on the site's network */

	r = MHD_create_response_from_buffer(b ? b->len : 0, b && b->len ? b->data : (void *)"",
	                                    MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	for (int i = 0; i < nh; i++)
		MHD_add_response_header(r, h[i].name, h[i].value);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (cookie1)
		MHD_add_response_header(r, "Set-Cookie", cookie1);
	if (cookie2)
		MHD_add_response_header(r, "Set-Cookie", cookie2);
	if (lang && (!strcmp(lang, "ar") || !strcmp(lang, "fr")))
		MHD_add_response_header(r, "Set-Cookie",
		                        !strcmp(lang, "ar") ? "lang=ar; Path=/; SameSite=Strict"
		                                            : "lang=fr; Path=/; SameSite=Strict");
	if (location)
		MHD_add_response_header(r, "Location", location);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned status, const char *msg)
{
	struct buf b;
	enum MHD_Result r;

	buf_init(&b, 4096);
	buf_printf(&b, "%s\n", msg);
	r = reply(conn, status, "text/plain; charset=utf-8", &b, NULL, NULL, NULL);
	buf_free(&b);
	return r;
}

static enum MHD_Result redirect(struct MHD_Connection *conn, const char *to, const char *cookie1,
                                const char *cookie2)
{
	return reply(conn, 303, "text/plain; charset=utf-8", NULL, cookie1, cookie2, to);
}

/* ---- labels ---- */

enum label {
	L_TITLE,
	L_LOGIN,
	L_PIN,
	L_ENTER,
	L_LOGOUT,
	L_INSIDE,
	L_SYNC,
	L_LAST_SYNC,
	L_QUEUE,
	L_DEAD,
	L_OFFSET,
	L_READERS,
	L_RECENT,
	L_MANUAL,
	L_PASS,
	L_DIRECTION,
	L_IN,
	L_OUT,
	L_REASON,
	L_ADMIT,
	L_WAITING,
	L_NEVER,
	L_REVOKED,
	L_DISTRUST,
	L_ONLINE,
	L_OFFLINE,
	L_TIME,
	L_DECISION,
	L_LATENCY,
	L_BADPIN,
	L_COUNT
};

static const char *labels[L_COUNT][2] = {
    [L_TITLE] = {"Porte", "الباب"},
    [L_LOGIN] = {"Connexion du personnel", "دخول الموظفين"},
    [L_PIN] = {"Code PIN", "الرمز السري"},
    [L_ENTER] = {"Entrer", "دخول"},
    [L_LOGOUT] = {"Déconnexion", "خروج"},
    [L_INSIDE] = {"Personnes sur place", "الأشخاص داخل المركز"},
    [L_SYNC] = {"Synchronisation", "المزامنة"},
    [L_LAST_SYNC] = {"Dernière réussite", "آخر نجاح"},
    [L_QUEUE] = {"En attente d'envoi", "في انتظار الإرسال"},
    [L_DEAD] = {"Refusés par le serveur", "مرفوضة من الخادم"},
    [L_OFFSET] = {"Écart d'horloge (s)", "فرق الساعة (ث)"},
    [L_READERS] = {"Lecteurs", "القارئات"},
    [L_RECENT] = {"Dernières décisions", "آخر القرارات"},
    [L_MANUAL] = {"Entrée manuelle", "دخول يدوي"},
    [L_PASS] = {"N° de pass (facultatif)", "رقم البطاقة (اختياري)"},
    [L_DIRECTION] = {"Sens", "الاتجاه"},
    [L_IN] = {"Entrée", "دخول"},
    [L_OUT] = {"Sortie", "خروج"},
    [L_REASON] = {"Motif (obligatoire)", "السبب (إجباري)"},
    [L_ADMIT] = {"Laisser passer", "السماح بالمرور"},
    [L_WAITING] = {"En attente d'un passage", "في انتظار عبور"},
    [L_NEVER] = {"jamais", "أبدا"},
    [L_REVOKED] = {"Porte révoquée par le serveur", "تم إلغاء الباب من طرف الخادم"},
    [L_DISTRUST] = {"Horloge locale douteuse", "ساعة محلية غير موثوقة"},
    [L_ONLINE] = {"en ligne", "متصل"},
    [L_OFFLINE] = {"hors ligne", "غير متصل"},
    [L_TIME] = {"Heure", "الوقت"},
    [L_DECISION] = {"Décision", "القرار"},
    [L_LATENCY] = {"Temps de décision p99 (ms)", "زمن القرار p99 (مللي ثانية)"},
    [L_BADPIN] = {"Code PIN incorrect", "رمز سري غير صحيح"},
};

#define T(l) labels[(l)][ar]

static void page_head(struct buf *b, int ar, const char *title)
{
	buf_printf(b,
	           "<!doctype html><html lang=\"%s\" dir=\"%s\"><head><meta charset=\"utf-8\">"
	           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	           "<link rel=\"stylesheet\" href=\"/style.css\"><title>",
	           ar ? "ar" : "fr", ar ? "rtl" : "ltr");
	web_html_escape(b, title);
	buf_printf(b, "</title></head><body><nav class=\"lang\"><a href=\"?lang=fr\" "
	              "lang=\"fr\">Français</a> · "
	              "<a href=\"?lang=ar\" lang=\"ar\">العربية</a></nav>");
}

/* ---- the JSON state ---- */

static json_t *event_json(const struct display *d)
{
	char at[INSTANT_STRLEN];

	instant_format(d->ev.at, at);
	return json_pack(
	    "{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:f,s:b,s:s}", "seq", (json_int_t)d->seq,
	    "decision", event_kind_name(d->ev.kind), "reason", decide_reason_code(d->ev.reason),
	    "message_fr", decide_message_fr(d->ev.reason), "message_ar",
	    decide_message_ar(d->ev.reason), "name", d->guest_name, "unit", d->unit, "direction",
	    decide_dir_name(d->ev.dir), "pass", (json_int_t)d->ev.pass, "at", at, "reader",
	    d->ev.reader, "ms", d->ms, "offline", d->ev.offline, "note", d->ev.note);
}

static json_t *state_json(struct gate *g, struct store *st)
{
	static const char *health[] = {"starting", "ok", "failed", "closed"};
	struct display recent[GATE_RECENT];
	struct store_counts cnt;
	char ids[10][33], errs[10][128], last[INSTANT_STRLEN] = "", name_fr[128] = "",
	                                 name_ar[128] = "";
	json_t *o, *rec = json_array(), *rd = json_array(), *dl = json_array(), *sync;
	double p50, p99, max;
	int n, distrust, ndl;
	int64_t now;

	pthread_mutex_lock(&g->lock);
	now = gate_now_locked(g, &distrust);
	n = g->nrecent;
	memcpy(recent, g->recent, sizeof(recent));
	if (g->last_success)
		instant_format(g->last_success, last);
	sync = json_pack("{s:b,s:s?,s:I,s:I,s:s,s:b,s:b,s:b,s:b}", "online",
	                 g->online && g->last_success, "last_success",
	                 g->last_success ? last : NULL, "queue", (json_int_t)g->queue, "dead",
	                 (json_int_t)g->dead, "error", g->sync_error, "revoked", g->revoked,
	                 "admitting", !(g->revoked && now >= g->revoked_at + g->cfg.revoked_grace),
	                 "clock_distrusted", distrust, "clock_warning",
	                 g->have_offset && fabs(g->offset) > (double)g->cfg.skew_warn);
	json_object_set_new(sync, "clock_offset_s",
	                    g->have_offset ? json_real(round(g->offset * 10) / 10) : json_null());
	json_object_set_new(
	    sync, "clock_corrected",
	    json_boolean(g->have_offset && fabs(g->offset) > (double)g->cfg.skew_correct));
	for (int i = 0; i < g->cfg.nreaders; i++) {
		const struct reader_conf *c = &g->cfg.readers[i];
		const struct reader_state *r = &g->readers[i];

		json_array_append_new(
		    rd, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I}", "name", c->name, "type",
		                  c->type == READER_QR ? "qr" : "nfc", "device", c->device,
		                  "direction", decide_dir_name(c->dir), "health", health[r->health],
		                  "message", r->message, "scans", (json_int_t)r->scans, "errors",
		                  (json_int_t)r->errors));
	}
	pthread_mutex_unlock(&g->lock);
	for (int i = 0; i < n; i++)
		json_array_append_new(rec, event_json(&recent[i]));
	if (store_counts(st, now, &cnt) < 0)
		memset(&cnt, 0, sizeof(cnt));
	json_object_set_new(sync, "queue", json_integer(cnt.queue));
	json_object_set_new(sync, "dead", json_integer(cnt.dead));
	ndl = store_dead_list(st, ids, errs, 10);
	for (int i = 0; i < ndl; i++)
		json_array_append_new(dl, json_pack("{s:s,s:s}", "id", ids[i], "error", errs[i]));
	store_meta_get(st, "centre_name_fr", name_fr, sizeof(name_fr));
	store_meta_get(st, "centre_name_ar", name_ar, sizeof(name_ar));
	gate_latency(g, &p50, &p99, &max);
	o = json_pack(
	    "{s:{s:i,s:s,s:s,s:s,s:s},s:o,s:o,s:I,s:I,s:o,s:o,s:{s:f,s:f,s:f},s:o}", "gate", "id",
	    g->gate_id, "name", g->cfg.name, "centre", g->centre, "centre_name_fr", name_fr,
	    "centre_name_ar", name_ar, "latest", n ? event_json(&recent[0]) : json_null(), "recent",
	    rec, "inside", (json_int_t)cnt.inside, "passes", (json_int_t)cnt.passes, "sync", sync,
	    "readers", rd, "latency_ms", "p50", p50, "p99", p99, "max", max, "dead_letters", dl);
	return o;
}

/* ---- pages ---- */

static enum MHD_Result login_page(struct MHD_Connection *conn, int ar, int failed, unsigned status)
{
	char pre[WEB_ID_HEX], cookie[WEB_COOKIE_MAX];
	struct buf b;
	enum MHD_Result r;

	web_random_id(pre);
	if (web_cookie(cookie, sizeof(cookie), COOKIE_PRE, pre, -1, 0) < 0)
		return send_text(conn, 500, "cookie too long");
	buf_init(&b, 64 * 1024);
	page_head(&b, ar, T(L_LOGIN));
	buf_printf(&b, "<main class=\"login\"><h1>%s</h1>", T(L_LOGIN));
	if (failed)
		buf_printf(&b, "<p class=\"error\">%s</p>", T(L_BADPIN));
	buf_printf(&b,
	           "<form method=\"post\" action=\"/login\"><input type=\"hidden\" name=\"pre\" "
	           "value=\"%s\">"
	           "<label>%s <input type=\"password\" name=\"pin\" inputmode=\"numeric\" "
	           "autocomplete=\"off\" required "
	           "autofocus></label> <button>%s</button></form></main></body></html>",
	           pre, T(L_PIN), T(L_ENTER));
	r = reply(conn, status, "text/html; charset=utf-8", &b, cookie, NULL, NULL);
	buf_free(&b);
	return r;
}

static enum MHD_Result main_page(struct MHD_Connection *conn, struct gate *g, struct store *st,
                                 struct session *s, int ar)
{
	json_t *state = state_json(g, st), *latest = json_object_get(state, "latest");
	struct buf b;
	enum MHD_Result r;
	const char *dec = json_string_value(json_object_get(latest, "decision"));
	int good = dec && (!strcmp(dec, "admit") || !strcmp(dec, "manual"));

	buf_init(&b, 256 * 1024);
	page_head(&b, ar, T(L_TITLE));
	buf_printf(&b, "<header><h1>%s · ", T(L_TITLE));
	web_html_escape(&b, g->cfg.name[0] ? g->cfg.name : g->centre);
	buf_printf(&b,
	           "</h1><form method=\"post\" action=\"/logout\"><input type=\"hidden\" "
	           "name=\"csrf\" value=\"%s\">"
	           "<button>%s</button></form></header>",
	           s->csrf, T(L_LOGOUT));
	/* the decision display: filled here, then kept current by /app.js */
	buf_printf(
	    &b,
	    "<section id=\"decision\" class=\"decision %s\" data-seq=\"%lld\"><p id=\"d-main\">",
	    !latest ? "idle"
	    : good  ? "admit"
	            : "deny",
	    (long long)json_integer_value(json_object_get(latest, "seq")));
	if (!latest)
		buf_printf(&b, "%s", T(L_WAITING));
	else if (good && json_string_length(json_object_get(latest, "name")))
		web_html_escape(&b, json_string_value(json_object_get(latest, "name")));
	else
		web_html_escape(&b, json_string_value(
		                        json_object_get(latest, ar ? "message_ar" : "message_fr")));
	buf_printf(&b, "</p><p id=\"d-sub\">");
	if (latest && good) {
		web_html_escape(&b, json_string_value(json_object_get(latest, "unit")));
		buf_printf(&b, " · ");
		web_html_escape(&b, json_string_value(
		                        json_object_get(latest, ar ? "message_ar" : "message_fr")));
	}
	buf_printf(&b, "</p></section>");

	buf_printf(&b,
	           "<section class=\"facts\"><div><h2>%s</h2><p id=\"inside\" "
	           "class=\"big\">%lld</p></div>",
	           T(L_INSIDE), (long long)json_integer_value(json_object_get(state, "inside")));
	buf_printf(&b, "<div><h2>%s</h2><dl id=\"sync\"><dt>%s</dt><dd id=\"s-last\">", T(L_SYNC),
	           T(L_LAST_SYNC));
	web_html_escape(
	    &b, json_string_value(json_object_get(json_object_get(state, "sync"), "last_success")));
	buf_printf(
	    &b,
	    "</dd><dt>%s</dt><dd id=\"s-queue\">%lld</dd><dt>%s</dt><dd "
	    "id=\"s-dead\">%lld</dd><dt>%s</dt>"
	    "<dd id=\"s-offset\"></dd><dt>%s</dt><dd id=\"s-lat\"></dd></dl><p id=\"s-alert\" "
	    "class=\"alert\">",
	    T(L_QUEUE),
	    (long long)json_integer_value(json_object_get(json_object_get(state, "sync"), "queue")),
	    T(L_DEAD),
	    (long long)json_integer_value(json_object_get(json_object_get(state, "sync"), "dead")),
	    T(L_OFFSET), T(L_LATENCY));
	if (json_is_true(json_object_get(json_object_get(state, "sync"), "revoked")))
		buf_printf(&b, "%s", T(L_REVOKED));
	buf_printf(&b, "</p><p id=\"s-error\" class=\"muted\">");
	web_html_escape(
	    &b, json_string_value(json_object_get(json_object_get(state, "sync"), "error")));
	buf_printf(&b, "</p></div></section>");

	buf_printf(&b, "<section><h2>%s</h2><table><tbody id=\"readers\">", T(L_READERS));
	{
		json_t *rd;
		size_t i;

		json_array_foreach(json_object_get(state, "readers"), i, rd)
		{
			buf_printf(&b, "<tr class=\"%s\"><td>",
			           json_string_value(json_object_get(rd, "health")));
			web_html_escape(&b, json_string_value(json_object_get(rd, "name")));
			buf_printf(&b, "</td><td>");
			web_html_escape(&b, json_string_value(json_object_get(rd, "health")));
			buf_printf(&b, "</td><td>");
			web_html_escape(&b, json_string_value(json_object_get(rd, "message")));
			buf_printf(&b, "</td></tr>");
		}
	}
	buf_printf(&b, "</tbody></table></section>");

	buf_printf(&b,
	           "<section><h2>%s</h2><table><thead><tr><th>%s</th><th>%s</th><th>%s</th><th></"
	           "th></tr></thead>"
	           "<tbody id=\"recent\">",
	           T(L_RECENT), T(L_TIME), T(L_DECISION), T(L_DIRECTION));
	{
		json_t *e;
		size_t i;

		json_array_foreach(json_object_get(state, "recent"), i, e)
		{
			if (i >= 20)
				break;
			buf_printf(&b, "<tr class=\"%s\"><td>",
			           json_string_value(json_object_get(e, "decision")));
			web_html_escape(&b, json_string_value(json_object_get(e, "at")));
			buf_printf(&b, "</td><td>");
			web_html_escape(&b, json_string_value(json_object_get(
			                        e, ar ? "message_ar" : "message_fr")));
			buf_printf(&b, "</td><td>%s</td><td>",
			           json_string_value(json_object_get(e, "direction")));
			web_html_escape(&b, json_string_value(json_object_get(e, "name")));
			buf_printf(&b, "</td></tr>");
		}
	}
	buf_printf(&b, "</tbody></table></section>");

	buf_printf(&b,
	           "<section><h2>%s</h2><form method=\"post\" action=\"/manual\" class=\"manual\">"
	           "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
	           "<label>%s <input name=\"pass\" inputmode=\"numeric\" pattern=\"[0-9]*\" "
	           "maxlength=\"10\"></label>"
	           "<label>%s <select name=\"direction\"><option value=\"in\">%s</option><option "
	           "value=\"out\">%s</option>"
	           "</select></label>"
	           "<label>%s <input name=\"reason\" required "
	           "maxlength=\"%d\"></label><button>%s</button></form></section>",
	           T(L_MANUAL), s->csrf, T(L_PASS), T(L_DIRECTION), T(L_IN), T(L_OUT), T(L_REASON),
	           GATE_NOTE_MAX, T(L_ADMIT));
	buf_printf(&b, "<script src=\"/app.js\"></script></body></html>");
	json_decref(state);
	r = reply(conn, 200, "text/html; charset=utf-8", &b, NULL, NULL, NULL);
	buf_free(&b);
	return r;
}

static const char app_js[] =
    "'use strict';\n"
    "// Keeps the decision display and the state current: polls /status.json (no inline script: "
    "CSP).\n"
    "(function () {\n"
    "  const ar = document.documentElement.lang === 'ar';\n"
    "  const $ = (id) => document.getElementById(id);\n"
    "  const msg = (e) => ar ? e.message_ar : e.message_fr;\n"
    "  function rows(tbody, list, cells, cls) {\n"
    "    while (tbody.firstChild) tbody.removeChild(tbody.firstChild);\n"
    "    for (const item of list) {\n"
    "      const tr = document.createElement('tr');\n"
    "      tr.className = cls(item);\n"
    "      for (const c of cells(item)) { const td = document.createElement('td'); td.textContent "
    "= c; tr.appendChild(td); }\n"
    "      tbody.appendChild(tr);\n"
    "    }\n"
    "  }\n"
    "  async function tick() {\n"
    "    try {\n"
    "      const r = await fetch('/status.json', {credentials: 'same-origin', cache: "
    "'no-store'});\n"
    "      if (r.status === 401) { location.href = '/'; return; }\n"
    "      const s = await r.json();\n"
    "      const d = $('decision'), e = s.latest;\n"
    "      if (e) {\n"
    "        const good = e.decision === 'admit' || e.decision === 'manual';\n"
    "        d.className = 'decision ' + (good ? 'admit' : 'deny');\n"
    "        if (String(e.seq) !== d.dataset.seq) { d.dataset.seq = String(e.seq); "
    "d.classList.add('fresh'); }\n"
    "        $('d-main').textContent = good && e.name ? e.name : msg(e);\n"
    "        $('d-sub').textContent = good ? [e.unit, msg(e)].filter(Boolean).join(' · ') : '';\n"
    "      }\n"
    "      $('inside').textContent = s.inside;\n"
    "      $('s-last').textContent = s.sync.last_success || '-';\n"
    "      $('s-queue').textContent = s.sync.queue;\n"
    "      $('s-dead').textContent = s.sync.dead;\n"
    "      $('s-offset').textContent = s.sync.clock_offset_s === null ? '-' : "
    "s.sync.clock_offset_s;\n"
    "      $('s-lat').textContent = s.latency_ms.p99.toFixed(2);\n"
    "      $('s-error').textContent = s.sync.error;\n"
    "      const alerts = [];\n"
    "      if (s.sync.revoked) alerts.push(ar ? 'تم إلغاء الباب من طرف الخادم' : 'Porte révoquée "
    "par le serveur');\n"
    "      if (s.sync.clock_distrusted) alerts.push(ar ? 'ساعة محلية غير موثوقة' : 'Horloge locale "
    "douteuse');\n"
    "      else if (s.sync.clock_warning) alerts.push(ar ? 'فرق كبير في الساعة' : \"Écart "
    "d'horloge important\");\n"
    "      $('s-alert').textContent = alerts.join(' · ');\n"
    "      rows($('readers'), s.readers, (r) => [r.name, r.health, r.message], (r) => r.health);\n"
    "      rows($('recent'), s.recent.slice(0, 20), (e) => [e.at, msg(e), e.direction, e.name], "
    "(e) => e.decision);\n"
    "    } catch (err) { /* the next tick tries again */ }\n"
    "  }\n"
    "  setInterval(tick, 1000);\n"
    "  tick();\n"
    "})();\n";

static const char style_css[] =
    "body{font-family:system-ui,sans-serif;margin:0;padding:1rem;background:#f4f4f4;color:#111}\n"
    "nav.lang{font-size:.9rem;margin-bottom:.5rem}header{display:flex;justify-content:space-"
    "between;align-items:center}\n"
    ".decision{border-radius:1rem;padding:2rem;text-align:center;color:#fff;margin:1rem "
    "0;background:#777}\n"
    ".decision.admit{background:#0a7d2c}.decision.deny{background:#b3141c}\n"
    "#d-main{font-size:4rem;font-weight:700;margin:0}#d-sub{font-size:2rem;margin:.5rem 0 0}\n"
    ".facts{display:flex;gap:2rem;flex-wrap:wrap}.big{font-size:3rem;font-weight:700;margin:0}\n"
    "table{border-collapse:collapse;width:100%;background:#fff}td,th{padding:.3rem "
    ".6rem;border-bottom:1px solid #ddd;text-align:start}\n"
    "tr.deny td{color:#b3141c}tr.failed "
    "td{color:#b3141c}.alert{color:#b3141c;font-weight:700}.error{color:#b3141c}\n"
    ".muted{color:#666}form.manual label{display:block;margin:.4rem "
    "0}button{font-size:1rem;padding:.4rem 1rem}\n"
    "main.login{max-width:24rem;margin:4rem auto}input{font-size:1.2rem}\n";

static enum MHD_Result static_file(struct MHD_Connection *conn, const char *type, const char *data)
{
	struct buf b;
	enum MHD_Result r;

	buf_init(&b, 64 * 1024);
	buf_append(&b, data, strlen(data));
	r = reply(conn, 200, type, &b, NULL, NULL, NULL);
	buf_free(&b);
	return r;
}

/* ---- actions ---- */

static enum MHD_Result do_login(struct MHD_Connection *conn, struct gate *g, const struct form *f,
                                int ar, int64_t now)
{
	char pin[128], cookie[WEB_ID_HEX], hdr[WEB_COOKIE_MAX], gone[WEB_COOKIE_MAX];
	unsigned char key[WEB_ID_KEY];
	const char *pre_cookie = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, COOKIE_PRE);
	const char *pre = form_get(f, "pre");
	struct session *s = NULL;
	int64_t wait;
	int ok;

	/* the login page's own token, in its form and in its cookie: no login from another site */
	if (!pre || strlen(pre) != 2 * WEB_ID_BYTES || !web_token_eq(pre, pre_cookie))
		return login_page(conn, ar, 0, 403);
	pthread_mutex_lock(&sess_lock);
	/* 1 s after 5 wrong PINs in a row, doubling to 5 min (web_login_wait) */
	wait = web_login_wait(login_failures, LOGIN_FREE_FAILURES, 1, LOGIN_DELAY_MAX,
	                      login_last_failure, now);
	pthread_mutex_unlock(&sess_lock);
	if (wait > 0) {
		char msg[128];

		snprintf(msg, sizeof(msg), "too many wrong PINs: wait %lld s", (long long)wait);
		return send_text(conn, 429, msg);
	}
	field(f, "pin", pin, sizeof(pin)); /* "" when absent or too long: a wrong PIN */
	ok = pin[0] && crypto_pwhash_str_verify(g->cfg.pin_hash, pin, strlen(pin)) == 0;
	sodium_memzero(pin, sizeof(pin));
	if (ok) {
		int64_t ttl = g->cfg.session_ttl;

		web_random_id(cookie);
		if (web_id_key(cookie, key) < 0 ||
		    web_cookie(hdr, sizeof(hdr), COOKIE_SESSION, cookie, ttl, 0) < 0 ||
		    web_cookie(gone, sizeof(gone), COOKIE_PRE, "", 0, 0) < 0)
			return send_text(conn, 500, "could not make a session");
		sodium_memzero(cookie, sizeof(cookie));
	}
	pthread_mutex_lock(&sess_lock);
	if (!ok) {
		login_failures++;
		login_last_failure = now;
		pthread_mutex_unlock(&sess_lock);
		log_warn("status: a wrong PIN (%d in a row)", login_failures);
		return login_page(conn, ar, 1, 403);
	}
	login_failures = 0;
	for (int i = 0; i < GATE_SESSIONS_MAX && !s; i++)
		if (!sessions[i].used || sessions[i].expires <= now)
			s = &sessions[i];
	if (!s) { /* full: the one closest to its end makes room */
		s = &sessions[0];
		for (int i = 1; i < GATE_SESSIONS_MAX; i++)
			if (sessions[i].expires < s->expires)
				s = &sessions[i];
	}
	memcpy(s->key, key, sizeof(s->key));
	web_random_id(s->csrf);
	s->expires = now + g->cfg.session_ttl;
	s->used = 1;
	pthread_mutex_unlock(&sess_lock);
	log_info("status: staff logged in");
	return redirect(conn, "/", hdr, gone);
}

static int csrf_ok(const struct session *s, const struct form *f)
{
	return web_token_eq(form_get(f, "csrf"), s->csrf);
}

static enum MHD_Result do_manual(struct MHD_Connection *conn, struct gate *g, const struct form *f)
{
	const char *pass = form_get(f, "pass"), *dir = form_get(f, "direction");
	char reason[GATE_NOTE_MAX + 8];
	enum decide_dir d = DECIDE_DIR_IN;
	long id = 0;
	size_t n;

	field(f, "reason", reason, sizeof(reason)); /* "" when absent or too long: refused below */
	/* trim, and refuse control characters */
	n = strlen(reason);
	while (n && (reason[n - 1] == ' ' || reason[n - 1] == '\t'))
		reason[--n] = '\0';
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)reason[i] < 0x20)
			return send_text(conn, 400, "the reason holds control characters");
	{
		json_t *utf8 = json_string(reason); /* jansson accepts valid UTF-8 only */

		if (!utf8)
			return send_text(conn, 400, "the reason must be UTF-8 text");
		json_decref(utf8);
	}
	if (n == 0 || n > GATE_NOTE_MAX)
		return send_text(conn, 400,
		                 "a manual admission needs a reason (at most 200 bytes)");
	if (pass && pass[0]) {
		char *end;

		id = strtol(pass, &end, 10);
		if (*end || id < 1 || id > (long)UINT32_MAX)
			return send_text(conn, 400, "the pass number is a whole number");
	}
	if (dir && dir[0] && decide_dir_parse(dir, &d) < 0)
		return send_text(conn, 400, "direction is in or out");
	if (gate_manual(g, (uint32_t)id, d == DECIDE_DIR_OUT ? DECIDE_DIR_OUT : DECIDE_DIR_IN,
	                reason) < 0)
		return send_text(conn, 500, "the admission could not be recorded");
	return redirect(conn, "/", NULL, NULL);
}

/* ---- the handler ---- */

struct status_ctx {
	struct gate *g;
	struct store *st; /* the status page's own connection (one MHD thread) */
};

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
	struct status_ctx *ctx = cls;
	struct gate *g = ctx->g;
	struct conn *c = *con_cls;
	struct session *s, copy;
	int post = !strcmp(method, "POST"), ar = is_ar(conn);
	int64_t now = gate_now(g);
	const char *body;

	(void)version;
	if (!c) {
		/* first call: headers only; answer on a later call (keeps keep-alive on) */
		c = calloc(1, sizeof(*c));
		if (!c)
			return MHD_NO;
		buf_init(&c->body, BODY_MAX);
		*con_cls = c;
		return MHD_YES;
	}
	if (post && *upload_size) {
		if (buf_append(&c->body, upload, *upload_size) < 0)
			c->too_big = 1;
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD") && !post)
		return send_text(conn, 405, "method not allowed");
	if (c->too_big)
		return send_text(conn, 413, "request body too large");
	body = buf_cstr(&c->body);
	if (!body)
		body = "";
	/* a malformed form is taken as an empty one: without its token it is refused below */
	form_free(&c->form);
	if (post && form_parse(body, strlen(body), &c->form) < 0)
		log_warn("status: a malformed form on %s, taken as empty", url);

	if (!post && !strcmp(url, "/app.js"))
		return static_file(conn, "text/javascript; charset=utf-8", app_js);
	if (!post && !strcmp(url, "/style.css"))
		return static_file(conn, "text/css; charset=utf-8", style_css);
	if (post && !strcmp(url, "/login"))
		return do_login(conn, g, &c->form, ar, now);

	pthread_mutex_lock(&sess_lock);
	s = session_of(conn, now);
	if (s)
		copy = *s;
	pthread_mutex_unlock(&sess_lock);

	if (!strcmp(url, "/") || !strcmp(url, "/login")) {
		if (post)
			return send_text(conn, 405, "method not allowed");
		if (!s)
			return login_page(conn, ar, 0, 200);
		if (!strcmp(url, "/login"))
			return redirect(conn, "/", NULL, NULL);
		return main_page(conn, g, ctx->st, &copy, ar);
	}
	if (!strcmp(url, "/status.json") && !post) {
		json_t *state;
		struct buf b;
		enum MHD_Result r;
		char *js;

		if (!s)
			return send_text(conn, 401, "log in first");
		state = state_json(g, ctx->st);
		js = json_dumps(state, JSON_COMPACT);
		json_decref(state);
		buf_init(&b, GATE_RESPONSE_MAX);
		if (js)
			buf_append(&b, js, strlen(js));
		free(js);
		r = reply(conn, 200, "application/json", &b, NULL, NULL, NULL);
		buf_free(&b);
		return r;
	}
	if (post && (!strcmp(url, "/manual") || !strcmp(url, "/logout"))) {
		if (!s)
			return send_text(conn, 401, "log in first");
		if (!csrf_ok(&copy, &c->form))
			return send_text(conn, 403, "missing or wrong CSRF token");
		if (!strcmp(url, "/logout")) {
			char gone[WEB_COOKIE_MAX];

			pthread_mutex_lock(&sess_lock);
			s->used = 0;
			sodium_memzero(s, sizeof(*s));
			pthread_mutex_unlock(&sess_lock);
			if (web_cookie(gone, sizeof(gone), COOKIE_SESSION, "", 0, 0) < 0)
				return send_text(conn, 500, "cookie too long");
			return redirect(conn, "/", gone, NULL);
		}
		return do_manual(conn, g, &c->form);
	}
	return send_text(conn, 404, "not found");
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
	struct conn *c = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (c) {
		buf_free(&c->body);
		form_free(&c->form);
		free(c);
	}
	*con_cls = NULL;
}

static struct status_ctx sctx;

int status_start(struct gate *g, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	char msg[256];

	if (g->cfg.port < 0)
		return 0;
	memset(&ss, 0, sizeof(ss));
	if (strchr(g->cfg.listen, ':')) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;

		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)g->cfg.port);
		if (inet_pton(AF_INET6, g->cfg.listen, &a6->sin6_addr) != 1)
			goto badaddr;
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;

		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)g->cfg.port);
		if (inet_pton(AF_INET, g->cfg.listen, &a4->sin_addr) != 1)
			goto badaddr;
	}
	sctx.g = g;
	sctx.st = store_open(g->cfg.db_path, 0, msg, sizeof(msg));
	if (!sctx.st) {
		snprintf(err, errlen, "%s", msg);
		return -1;
	}
	d = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
	        (strchr(g->cfg.listen, ':') ? MHD_USE_IPv6 : 0),
	    (uint16_t)g->cfg.port, NULL, NULL, handler, &sctx, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)32, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)(64 * 1024), MHD_OPTION_END);
	if (!d) {
		snprintf(err, errlen, "status page: cannot listen on %s port %d", g->cfg.listen,
		         g->cfg.port);
		store_close(sctx.st);
		sctx.st = NULL;
		return -1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	g->http_port = info ? info->port : g->cfg.port;
	g->http = d;
	log_info("status page on http://%s%s%s:%d/", strchr(g->cfg.listen, ':') ? "[" : "",
	         g->cfg.listen, strchr(g->cfg.listen, ':') ? "]" : "", g->http_port);
	return 0;
badaddr:
	snprintf(err, errlen, "status page: listen = %s is not an IP address", g->cfg.listen);
	return -1;
}

void status_stop(struct gate *g)
{
	if (g->http)
		MHD_stop_daemon(g->http);
	g->http = NULL;
	store_close(sctx.st);
	sctx.st = NULL;
}
