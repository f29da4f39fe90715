/* mail.c: the mail worker (docs/mail.md). It sends the outbox's due rows through SMTP with libcurl,
 * one connection kept for a batch, at most [mail] rate_per_minute; each message is built with
 * curl_mime (multipart/alternative: plain text and HTML, UTF-8, an RFC 2047 subject) from the
 * member's language's template file, with a Message-ID made from the row's id, so a message sent
 * again after a crash is the same message. The answer decides: 2xx sent; 4xx or no answer retried
 * at 1, 5, 15, 60, 180 and 360 retry units; 5xx or the last retry a dead letter, counted and listed
 * for admins. Nothing here runs inside a request or holds the writer lock while talking to the SMTP
 * server. */
#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "date.h"
#include "log.h"
#include "server.h"
#include "web.h"

#define MAIL_BATCH 32
static const int retry_steps[] = {1,  5,   15,
                                  60, 180, 360}; /* retry units after the 1st, 2nd... try */
#define MAIL_TRIES ((int)(sizeof(retry_steps) / sizeof(retry_steps[0])) + 1)

static json_t *templates[2]; /* fr, ar */
static char smtp_user[256], smtp_password[256];

static int locale_index(const char *locale)
{
	return locale && !strcmp(locale, "ar") ? 1 : 0;
}

static int creds_line(struct conf_ctx *ctx, const char *section, const char *name,
                      const char *value)
{
	(void)section;
	if (!strcmp(name, "user"))
		return conf_set_str(ctx, smtp_user, sizeof(smtp_user), value);
	if (!strcmp(name, "password"))
		return conf_set_str(ctx, smtp_password, sizeof(smtp_password), value);
	return conf_error(ctx, 0, "unknown key %s (user, password)", name);
}

int mail_init(struct app *app, char *err, size_t errlen)
{
	const struct config *cfg = &app->cfg;
	static const char *const names[2] = {"mail.fr.json", "mail.ar.json"};
	char path[4200];
	json_error_t jerr;

	for (int i = 0; i < 2; i++) {
		json_decref(templates[i]);
		snprintf(path, sizeof(path), "%s/%s",
		         cfg->mail_templates[0] ? cfg->mail_templates : cfg->web_root,
		         cfg->mail_templates[0] ? names[i]
		                                : (i ? "i18n/mail.ar.json" : "i18n/mail.fr.json"));
		if (!(templates[i] = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr)) ||
		    !json_is_object(templates[i])) {
			snprintf(err, errlen, "%s: %s", path,
			         templates[i] ? "not a JSON object" : jerr.text);
			return -1;
		}
	}
	/* every template in both languages, each with its three parts */
	for (int i = 0; i < 2; i++) {
		const char *k;
		json_t *t;

		json_object_foreach(templates[i], k, t)
		{
			if (!json_object_get(templates[1 - i], k)) {
				snprintf(err, errlen, "mail template %s is in %s but not in %s", k,
				         names[i], names[1 - i]);
				return -1;
			}
			if (!json_is_string(json_object_get(t, "subject")) ||
			    !json_is_string(json_object_get(t, "text")) ||
			    !json_is_string(json_object_get(t, "html"))) {
				snprintf(err, errlen,
				         "mail template %s of %s needs subject, text and html", k,
				         names[i]);
				return -1;
			}
		}
	}
	smtp_user[0] = smtp_password[0] = '\0';
	if (cfg->mail_credentials[0] &&
	    (conf_secret_file_ok(cfg->mail_credentials, err, errlen) < 0 ||
	     conf_read_file(cfg->mail_credentials, creds_line, NULL, err, errlen) < 0))
		return -1;
	return 0;
}

/* ---- building a message ---- */

/* s with each {{key}} replaced by the payload's value (HTML-escaped when html), into b. An unknown
 * key stays visible, so a template mistake shows in the test rather than vanishing. */
static void render(struct buf *b, const char *s, json_t *payload, int html)
{
	while (*s) {
		const char *open = strstr(s, "{{"), *close;
		char key[64];
		json_t *v;

		if (!open || !(close = strstr(open + 2, "}}")) ||
		    (size_t)(close - open - 2) >= sizeof(key)) {
			buf_append(b, s, strlen(s));
			return;
		}
		buf_append(b, s, (size_t)(open - s));
		memcpy(key, open + 2, (size_t)(close - open - 2));
		key[close - open - 2] = '\0';
		v = json_object_get(payload, key);
		if (json_is_string(v) && html)
			web_html_escape(b, json_string_value(v));
		else if (json_is_string(v))
			buf_append(b, json_string_value(v), strlen(json_string_value(v)));
		else if (json_is_integer(v))
			buf_printf(b, "%lld", (long long)json_integer_value(v));
		else
			buf_append(b, open, (size_t)(close + 2 - open));
		s = close + 2;
	}
}

/* "Subject: " and the subject as RFC 2047 encoded words (UTF-8, base64), each at most 75 bytes,
 * folded. Control bytes in the subject (a CR or LF that came with a name) become spaces: a header
 * stays one. */
static void subject_header(struct buf *b, const char *subject)
{
	char clean[1024], enc[128];
	size_t n = 0, at = 0;

	for (const char *p = subject; *p && n < sizeof(clean) - 1; p++)
		clean[n++] = (unsigned char)*p < 0x20 ? ' ' : *p;
	clean[n] = '\0';
	buf_printf(b, "Subject:");
	while (at < n) {
		size_t take = n - at > 36 ? 36 : n - at; /* 36 bytes -> 48 base64 chars + 12 = 60 */

		/* never cut a UTF-8 sequence between two words */
		while (take < n - at && take > 0 &&
		       ((unsigned char)clean[at + take] & 0xc0) == 0x80)
			take--;
		sodium_bin2base64(enc, sizeof(enc), (const unsigned char *)clean + at, take,
		                  sodium_base64_VARIANT_ORIGINAL);
		buf_printf(b, "%s=?UTF-8?B?%s?=", at ? "\r\n " : " ", enc);
		at += take;
	}
	if (!n)
		buf_printf(b, " ");
}

struct message {
	int64_t id;
	char recipient[MAIL_ADDRESS_MAX + 1];
	char locale[3];
	char template[32];
	json_t *payload;
	int attempts;
};

/* The message's headers and parts on the easy handle: 0, or -1 (a template is missing: dead
 * letter). */
static int build(CURL *curl, const struct config *cfg, const struct message *m,
                 curl_mime **mime_out, struct curl_slist **hdrs_out, char *why, size_t whylen)
{
	json_t *t = json_object_get(templates[locale_index(m->locale)], m->template);
	struct buf subject, text, html, h;
	curl_mime *mime = NULL, *alt;
	curl_mimepart *part;
	struct curl_slist *hdrs = NULL;
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	int rc = -1;

	buf_init(&subject, 4096);
	buf_init(&text, 65536);
	buf_init(&html, 131072);
	buf_init(&h, 4096);
	if (!t) {
		snprintf(why, whylen, "no template %s", m->template);
		goto out;
	}
	render(&subject, json_string_value(json_object_get(t, "subject")), m->payload, 0);
	render(&text, json_string_value(json_object_get(t, "text")), m->payload, 0);
	buf_printf(&html,
	           "<!doctype html><html lang=\"%s\"%s><head><meta charset=\"utf-8\"></head><body>",
	           m->locale, strcmp(m->locale, "ar") ? "" : " dir=\"rtl\"");
	render(&html, json_string_value(json_object_get(t, "html")), m->payload, 1);
	buf_printf(&html, "</body></html>");
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "Date: %a, %d %b %Y %H:%M:%S +0000", &tm);
	subject_header(&h, subject.data ? subject.data : "");
	hdrs = curl_slist_append(hdrs, date);
	hdrs = curl_slist_append(hdrs, h.data);
	buf_free(&h);
	buf_init(&h, 512);
	buf_printf(&h, "From: %s", cfg->mail_from);
	hdrs = curl_slist_append(hdrs, h.data);
	buf_free(&h);
	buf_init(&h, 512);
	buf_printf(&h, "To: <%s>", m->recipient);
	hdrs = curl_slist_append(hdrs, h.data);
	buf_free(&h);
	buf_init(&h, 512);
	buf_printf(&h, "Message-ID: <outbox-%lld@%s>", (long long)m->id, cfg->mail_domain);
	hdrs = curl_slist_append(hdrs, h.data);
	hdrs = curl_slist_append(hdrs, "MIME-Version: 1.0");
	if (!hdrs || !text.data || !html.data) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	mime = curl_mime_init(curl);
	alt = curl_mime_init(curl);
	part = curl_mime_addpart(alt);
	curl_mime_data(part, text.data, text.len);
	curl_mime_type(part, "text/plain; charset=utf-8");
	curl_mime_encoder(part, "quoted-printable");
	part = curl_mime_addpart(alt);
	curl_mime_data(part, html.data, html.len);
	curl_mime_type(part, "text/html; charset=utf-8");
	curl_mime_encoder(part, "quoted-printable");
	part = curl_mime_addpart(mime);
	curl_mime_subparts(part, alt);
	curl_mime_type(part, "multipart/alternative");
	*mime_out = mime;
	*hdrs_out = hdrs;
	hdrs = NULL;
	rc = 0;
out:
	curl_slist_free_all(hdrs);
	buf_free(&subject);
	buf_free(&text);
	buf_free(&html);
	buf_free(&h);
	return rc;
}

/* ---- sending ---- */

enum outcome { SENT, RETRY, DEAD };

static enum outcome send_one(CURL *curl, const struct config *cfg, const struct message *m,
                             long *code, char *why, size_t whylen)
{
	curl_mime *mime = NULL;
	struct curl_slist *hdrs = NULL, *rcpt = NULL;
	char from[300], to[MAIL_ADDRESS_MAX + 3], errbuf[CURL_ERROR_SIZE] = "";
	const char *lt = strchr(cfg->mail_from, '<');
	CURLcode res;

	*code = 0;
	if (build(curl, cfg, m, &mime, &hdrs, why, whylen) < 0)
		return DEAD;
	/* the envelope sender: the address inside From's angle brackets, or From itself */
	snprintf(from, sizeof(from), "<%.*s>",
	         lt ? (int)strcspn(lt + 1, ">") : (int)strlen(cfg->mail_from),
	         lt ? lt + 1 : cfg->mail_from);
	snprintf(to, sizeof(to), "<%s>", m->recipient);
	rcpt = curl_slist_append(NULL, to);
	curl_easy_setopt(curl, CURLOPT_URL, cfg->mail_smtp_url);
	curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	if (!strncmp(cfg->mail_smtp_url, "smtp://", 7))
		curl_easy_setopt(curl, CURLOPT_USE_SSL,
		                 (long)(cfg->mail_starttls ? CURLUSESSL_ALL : CURLUSESSL_NONE));
	if (smtp_user[0]) {
		curl_easy_setopt(curl, CURLOPT_USERNAME, smtp_user);
		curl_easy_setopt(curl, CURLOPT_PASSWORD, smtp_password);
	}
	res = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, code);
	curl_easy_setopt(curl, CURLOPT_MIMEPOST, NULL);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, NULL);
	curl_mime_free(mime);
	curl_slist_free_all(hdrs);
	curl_slist_free_all(rcpt);
	if (res == CURLE_OK)
		return SENT;
	snprintf(why, whylen, "%s", errbuf[0] ? errbuf : curl_easy_strerror(res));
	return *code >= 500 && *code < 600 ? DEAD : RETRY;
}

/* What became of a message, in its own short transaction. */
static void record(struct app *app, sqlite3 *db, const struct message *m, enum outcome o, long code,
                   const char *why)
{
	int64_t now = instant_now();
	int tries = m->attempts + 1;
	sqlite3_stmt *st;

	if (o == RETRY && tries >= MAIL_TRIES)
		o = DEAD;
	if (db_begin(app, db) < 0)
		return; /* the row stays due: sent again later, with the same Message-ID */
	if (!(st = db_stmt(
	          db,
	          "UPDATE outbox SET state = ?2, attempts = ?3, next_attempt_at = ?4, last_code = "
	          "?5,"
	          " last_error = ?6, sent_at = CASE WHEN ?2 = 'sent' THEN ?7 END WHERE id = ?1"))) {
		db_rollback(app, db);
		return;
	}
	db_bind_int64(st, 1, m->id);
	db_bind_text(st, 2, o == SENT ? "sent" : o == DEAD ? "dead" : "queued", -1, SQLITE_STATIC);
	db_bind_int(st, 3, tries);
	db_bind_int64(st, 4,
	              o == RETRY ? now + retry_steps[tries - 1] * app->cfg.mail_retry_unit : now);
	if (code)
		db_bind_int64(st, 5, code);
	else
		db_bind_null(st, 5);
	if (o == SENT)
		db_bind_null(st, 6);
	else
		db_bind_text(st, 6, why, -1, SQLITE_TRANSIENT);
	db_bind_int64(st, 7, now);
	if (db_step(st) != SQLITE_DONE || db_commit(app, db) < 0) {
		db_done(st);
		db_rollback(app, db);
		return;
	}
	db_done(st);
	if (o == SENT)
		atomic_fetch_add(&app->metrics.mail_sent, 1);
	else if (o == DEAD) {
		atomic_fetch_add(&app->metrics.mail_dead, 1);
		log_warn("mail %lld to %s: dead letter after %d tries: %s", (long long)m->id,
		         m->recipient, tries, why);
	} else
		log_info("mail %lld to %s: try %d failed (%s), again later", (long long)m->id,
		         m->recipient, tries, why);
}

int mail_send_due(struct app *app, sqlite3 *db)
{
	struct message ms[MAIL_BATCH];
	int n = 0, sent = 0,
	    limit = app->cfg.mail_rate < MAIL_BATCH ? app->cfg.mail_rate : MAIL_BATCH;
	sqlite3_stmt *st;
	CURL *curl;

	if (!app->cfg.mail_smtp_url[0] || !templates[0])
		return 0;
	if (!(st = db_stmt(db,
	                   "SELECT id, recipient, locale, template, payload, attempts FROM outbox"
	                   " WHERE state = 'queued' AND channel = 'email' AND next_attempt_at <= ?"
	                   " ORDER BY next_attempt_at, id LIMIT ?")))
		return -1;
	db_bind_int64(st, 1, instant_now());
	db_bind_int(st, 2, limit);
	while (n < limit && db_step(st) == SQLITE_ROW) {
		struct message *m = &ms[n];

		memset(m, 0, sizeof(*m));
		m->id = sqlite3_column_int64(st, 0);
		snprintf(m->recipient, sizeof(m->recipient), "%s",
		         (const char *)sqlite3_column_text(st, 1));
		snprintf(m->locale, sizeof(m->locale), "%s",
		         (const char *)sqlite3_column_text(st, 2));
		snprintf(m->template, sizeof(m->template), "%s",
		         (const char *)sqlite3_column_text(st, 3));
		m->payload = json_loads((const char *)sqlite3_column_text(st, 4), 0, NULL);
		m->attempts = sqlite3_column_int(st, 5);
		n++;
	}
	db_done(st); /* no read stays open while we talk to the SMTP server */
	if (!n)
		return 0;
	curl = curl_easy_init(); /* one handle for the batch: libcurl keeps its connection between
	                            messages */
	for (int i = 0; i < n; i++) {
		char why[CURL_ERROR_SIZE + 64] = "";
		long code = 0;
		enum outcome o = !curl ? RETRY
		                 : ms[i].payload
		                     ? send_one(curl, &app->cfg, &ms[i], &code, why, sizeof(why))
		                     : DEAD;

		if (!ms[i].payload)
			snprintf(why, sizeof(why), "unreadable payload");
		record(app, db, &ms[i], o, code, why);
		sent += o == SENT;
		json_decref(ms[i].payload);
	}
	curl_easy_cleanup(curl);
	return sent;
}

/* ---- the worker ---- */

static pthread_t thread;
static int running;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static int stopping;

static void *worker(void *arg)
{
	struct app *app = arg;
	sqlite3 *db = db_thread(app);

	for (;;) {
		struct timespec until;
		int n = db ? mail_send_due(app, db) : 0;

		pthread_mutex_lock(&lock);
		if (stopping) {
			pthread_mutex_unlock(&lock);
			return NULL;
		}
		/* a full batch: the next one after the rest of the minute's share; else look again
		 * soon */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec +=
		    n >= (app->cfg.mail_rate < MAIL_BATCH ? app->cfg.mail_rate : MAIL_BATCH) ? 60
		                                                                             : 1;
		pthread_cond_timedwait(&wake, &lock, &until);
		if (stopping) {
			pthread_mutex_unlock(&lock);
			return NULL;
		}
		pthread_mutex_unlock(&lock);
	}
}

int mail_start(struct app *app)
{
	if (!app->cfg.mail_smtp_url[0])
		return 0;
	stopping = 0;
	if (pthread_create(&thread, NULL, worker, app) != 0)
		return -1;
	running = 1;
	return 0;
}

void mail_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&lock);
	stopping = 1;
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&lock);
	pthread_join(thread, NULL);
	running = 0;
}
