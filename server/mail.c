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
static char sms_token[512];

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
	sms_token[0] = '\0';
	if (cfg->sms_url[0]) {
		static const char *const with_sms[] = {"hold", "confirmed", "expired", "cancelled",
		                                       "reminder"};
		FILE *f;

		for (int i = 0; i < 2; i++)
			for (size_t k = 0; k < sizeof(with_sms) / sizeof(with_sms[0]); k++)
				if (!json_is_string(json_object_get(
				        json_object_get(templates[i], with_sms[k]), "sms"))) {
					snprintf(err, errlen,
					         "mail template %s of %s needs an sms text ([sms] "
					         "is on)",
					         with_sms[k], names[i]);
					return -1;
				}
		if (conf_secret_file_ok(cfg->sms_token_file, err, errlen) < 0)
			return -1;
		if (!(f = fopen(cfg->sms_token_file, "r")) ||
		    !fgets(sms_token, sizeof(sms_token), f)) {
			if (f)
				fclose(f);
			snprintf(err, errlen, "%s: cannot read the SMS token", cfg->sms_token_file);
			return -1;
		}
		fclose(f);
		sms_token[strcspn(sms_token, "\r\n")] = '\0';
		if (!sms_token[0] || strpbrk(sms_token, " \t")) {
			snprintf(err, errlen, "%s: the SMS token is empty or has spaces",
			         cfg->sms_token_file);
			return -1;
		}
	}
	outbox_sms_enable(cfg->sms_url[0] != '\0');
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

/* b's bare LFs as CRLF. */
static void crlf(struct buf *b)
{
	struct buf out;

	if (!b->data)
		return;
	buf_init(&out, 2 * b->len + 2);
	for (size_t i = 0; i < b->len; i++) {
		if (b->data[i] == '\n' && (i == 0 || b->data[i - 1] != '\r'))
			buf_append(&out, "\r", 1);
		buf_append(&out, b->data + i, 1);
	}
	buf_free(b);
	*b = out;
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

/* ---- what a confirmation carries: its passes, its stay, its receipts ---- */

/* Read when the message is sent, not when it was queued: a pass revoked or re-issued since the
 * confirmation is not sent (its replacement is), a cancelled booking's passes are gone, and the
 * outbox row stays small. Only the templates named here carry them. */
static int carries_documents(const char *template)
{
	return !strcmp(template, "confirmed");
}

struct pass_image {
	int64_t id;
	char name[NAME_MAX_LEN];
	struct buf png;
};

struct documents {
	int npasses;
	struct pass_image passes[MAX_GUESTS];
	struct buf ics, receipt;
	int has_ics, has_receipt;
	int64_t booking;
};

static void documents_free(struct documents *d)
{
	for (int i = 0; i < d->npasses; i++)
		buf_free(&d->passes[i].png);
	buf_free(&d->ics);
	buf_free(&d->receipt);
}

/* 0, or -1 (the database or an image failed: the message is tried again later). */
static int documents_load(struct app *app, sqlite3 *db, const struct message *m,
                          struct documents *d)
{
	json_t *b = json_object_get(m->payload, "booking");
	sqlite3_stmt *st;
	int rc = 0, f;

	memset(d, 0, sizeof(*d));
	buf_init(&d->ics, 256 * 1024);
	buf_init(&d->receipt, 256 * 1024);
	if (!json_is_integer(b))
		return 0;
	d->booking = json_integer_value(b);
	/* the passes active now, one per guest, of a booking still confirmed */
	if (!(st = db_stmt(db, "SELECT p.id, p.guest_name, p.token FROM passes p"
	                       " JOIN bookings b ON b.id = p.booking WHERE p.booking = ?"
	                       " AND p.status = 'active' AND b.status = 'confirmed'"
	                       " ORDER BY p.guest, p.id")))
		return -1;
	db_bind_int64(st, 1, d->booking);
	while (rc == 0 && d->npasses < MAX_GUESTS && (f = db_step(st)) == SQLITE_ROW) {
		struct pass_image *p = &d->passes[d->npasses++];

		p->id = sqlite3_column_int64(st, 0);
		snprintf(p->name, sizeof(p->name), "%s", (const char *)sqlite3_column_text(st, 1));
		buf_init(&p->png, 1024 * 1024);
		if (qr_png((const char *)sqlite3_column_text(st, 2), 6, &p->png) < 0)
			rc = -1;
	}
	db_done(st);
	if (rc < 0)
		return -1;
	if ((f = calendar_ics(app, db, d->booking, m->locale, &d->ics)) < 0)
		return -1;
	d->has_ics = f > 0;
	if ((f = receipts_html(app, db, d->booking, 1, &d->receipt)) < 0)
		return -1;
	d->has_receipt = f > 0;
	return 0;
}

/* s rendered into b, with the passes (an image and the guest's name each; a line each in the
 * text) where it says {{passes}}; without documents {{passes}} is rendered like any key. */
static void render_passes(struct buf *b, const char *s, json_t *payload, int html,
                          const struct documents *d, const char *domain, json_t *t)
{
	const char *at = d ? strstr(s, "{{passes}}") : NULL;
	char *head;

	if (!at || !(head = strndup(s, (size_t)(at - s)))) {
		render(b, s, payload, html);
		return;
	}
	render(b, head, payload, html);
	free(head);
	if (!d->npasses && json_is_string(json_object_get(t, "passes_none")))
		render(b, json_string_value(json_object_get(t, "passes_none")), payload, html);
	for (int i = 0; i < d->npasses; i++) {
		if (html) {
			buf_printf(
			    b,
			    "<figure class=\"pass\"><img src=\"cid:pass-%lld@%s\" alt=\"QR\">"
			    "<figcaption>",
			    (long long)d->passes[i].id, domain);
			web_html_escape(b, d->passes[i].name);
			buf_printf(b, "</figcaption></figure>");
		} else {
			buf_printf(b, "- %s (pass-%lld.png)\n", d->passes[i].name,
			           (long long)d->passes[i].id);
		}
	}
	render(b, at + strlen("{{passes}}"), payload, html);
}

/* One leaf part: its data, type, transfer encoding, file name (an attachment) and headers (taken).
 * 0, or -1. */
static int leaf(curl_mime *mime, const char *data, size_t len, const char *type,
                const char *encoder, const char *filename, struct curl_slist *headers)
{
	curl_mimepart *part = curl_mime_addpart(mime);

	if (!part || curl_mime_data(part, data, len) != CURLE_OK ||
	    curl_mime_type(part, type) != CURLE_OK ||
	    curl_mime_encoder(part, encoder) != CURLE_OK ||
	    (filename && curl_mime_filename(part, filename) != CURLE_OK) ||
	    (headers && curl_mime_headers(part, headers, 1) != CURLE_OK)) {
		if (!part || headers) /* not taken by the part */
			curl_slist_free_all(headers);
		return -1;
	}
	return 0;
}

/* A part made of the parts of sub (taken, even on failure). 0, or -1. */
static int nest(curl_mime *mime, curl_mime *sub, const char *type)
{
	curl_mimepart *part = curl_mime_addpart(mime);

	if (!part || curl_mime_subparts(part, sub) != CURLE_OK) {
		curl_mime_free(sub);
		return -1;
	}
	return curl_mime_type(part, type) == CURLE_OK ? 0 : -1;
}

/* The body: multipart/mixed { multipart/alternative { text/plain, multipart/related { text/html,
 * the passes' images (inline, by Content-ID) } }, the passes as PNG files, the .ics, the receipts
 * }, or only the alternative when there are no documents. 0, or -1. */
static int body_parts(curl_mime *mime, CURL *curl, const struct buf *text, const struct buf *html,
                      const struct documents *d, const char *domain)
{
	curl_mime *alt = curl_mime_init(curl), *rel = NULL;
	char name[64], hdr[2][160];

	if (!alt || leaf(alt, text->data, text->len, "text/plain; charset=utf-8",
	                 "quoted-printable", NULL, NULL) < 0)
		goto fail;
	if (d && d->npasses) {
		if (!(rel = curl_mime_init(curl)) ||
		    leaf(rel, html->data, html->len, "text/html; charset=utf-8", "quoted-printable",
		         NULL, NULL) < 0)
			goto fail;
		for (int i = 0; i < d->npasses; i++) {
			struct curl_slist *h = NULL, *h2;

			snprintf(hdr[0], sizeof(hdr[0]), "Content-ID: <pass-%lld@%s>",
			         (long long)d->passes[i].id, domain);
			snprintf(hdr[1], sizeof(hdr[1]),
			         "Content-Disposition: inline; filename=\"pass-%lld.png\"",
			         (long long)d->passes[i].id);
			if (!(h = curl_slist_append(NULL, hdr[0])) ||
			    !(h2 = curl_slist_append(h, hdr[1]))) {
				curl_slist_free_all(h);
				goto fail;
			}
			if (leaf(rel, d->passes[i].png.data, d->passes[i].png.len, "image/png",
			         "base64", NULL, h2) < 0)
				goto fail;
		}
		if (nest(alt, rel, "multipart/related; type=\"text/html\"") < 0) {
			rel = NULL;
			goto fail;
		}
		rel = NULL;
	} else if (leaf(alt, html->data, html->len, "text/html; charset=utf-8", "quoted-printable",
	                NULL, NULL) < 0) {
		goto fail;
	}
	if (nest(mime, alt, "multipart/alternative") < 0)
		return -1;
	for (int i = 0; d && i < d->npasses; i++) {
		snprintf(name, sizeof(name), "pass-%lld.png", (long long)d->passes[i].id);
		if (leaf(mime, d->passes[i].png.data, d->passes[i].png.len, "image/png", "base64",
		         name, NULL) < 0)
			return -1;
	}
	if (d && d->has_ics) {
		snprintf(name, sizeof(name), "estiva-%lld.ics", (long long)d->booking);
		if (leaf(mime, d->ics.data, d->ics.len, "text/calendar; charset=utf-8", "base64",
		         name, NULL) < 0)
			return -1;
	}
	if (d && d->has_receipt) {
		snprintf(name, sizeof(name), "receipts-%lld.html", (long long)d->booking);
		if (leaf(mime, d->receipt.data, d->receipt.len, "text/html; charset=utf-8",
		         "base64", name, NULL) < 0)
			return -1;
	}
	return 0;
fail:
	curl_mime_free(rel);
	curl_mime_free(alt);
	return -1;
}

/* The message's headers and parts on the easy handle: 0; -1 (a template is missing: dead letter);
 * -2 (its documents could not be read now: tried again later). */
static int build(CURL *curl, struct app *app, sqlite3 *db, const struct message *m,
                 curl_mime **mime_out, struct curl_slist **hdrs_out, char *why, size_t whylen)
{
	const struct config *cfg = &app->cfg;
	json_t *t = json_object_get(templates[locale_index(m->locale)], m->template);
	struct buf subject, text, html, h;
	struct documents docs, *d = NULL;
	curl_mime *mime = NULL;
	struct curl_slist *hdrs = NULL;
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	int rc = -1;

	buf_init(&subject, 4096);
	buf_init(&text, 65536);
	buf_init(&html, 131072);
	buf_init(&h, 4096);
	memset(&docs, 0, sizeof(docs));
	if (!t) {
		snprintf(why, whylen, "no template %s", m->template);
		goto out;
	}
	if (carries_documents(m->template)) {
		d = &docs;
		if (documents_load(app, db, m, d) < 0) {
			snprintf(why, whylen, "the passes, stay or receipts could not be read: %s",
			         sqlite3_errmsg(db));
			rc = -2;
			goto out;
		}
	}
	render(&subject, json_string_value(json_object_get(t, "subject")), m->payload, 0);
	render_passes(&text, json_string_value(json_object_get(t, "text")), m->payload, 0, d,
	              cfg->mail_domain, t);
	crlf(&text); /* mail's line ends: quoted-printable then keeps them as line breaks */
	buf_printf(&html,
	           "<!doctype html><html lang=\"%s\"%s><head><meta charset=\"utf-8\"></head><body>",
	           m->locale, strcmp(m->locale, "ar") ? "" : " dir=\"rtl\"");
	render_passes(&html, json_string_value(json_object_get(t, "html")), m->payload, 1, d,
	              cfg->mail_domain, t);
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
	if (!hdrs || !text.data || !html.data || !(mime = curl_mime_init(curl)) ||
	    body_parts(mime, curl, &text, &html, d, cfg->mail_domain) < 0) {
		snprintf(why, whylen, "out of memory");
		rc = -2;
		goto out;
	}
	*mime_out = mime;
	mime = NULL;
	*hdrs_out = hdrs;
	hdrs = NULL;
	rc = 0;
out:
	curl_mime_free(mime);
	curl_slist_free_all(hdrs);
	documents_free(&docs);
	buf_free(&subject);
	buf_free(&text);
	buf_free(&html);
	buf_free(&h);
	return rc;
}

/* ---- sending ---- */

enum outcome { SENT, RETRY, DEAD };

static enum outcome send_one(CURL *curl, struct app *app, sqlite3 *db, const struct message *m,
                             long *code, char *why, size_t whylen)
{
	const struct config *cfg = &app->cfg;
	curl_mime *mime = NULL;
	struct curl_slist *hdrs = NULL, *rcpt = NULL;
	char from[300], to[MAIL_ADDRESS_MAX + 3], errbuf[CURL_ERROR_SIZE] = "";
	const char *lt = strchr(cfg->mail_from, '<');
	CURLcode res;

	*code = 0;
	switch (build(curl, app, db, m, &mime, &hdrs, why, whylen)) {
	case 0:
		break;
	case -1:
		return DEAD;
	default:
		return RETRY;
	}
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
	          " last_error = ?6, sent_at = CASE WHEN ?2 = 'sent' THEN ?7 END,"
	          /* an account link is a secret: once its message is sent or given up, the row
	           * keeps no copy of it (account_tokens keeps only its hash) */
	          " payload = CASE WHEN ?2 = 'queued' THEN payload ELSE json_remove(payload, "
	          "'$.link') END"
	          " WHERE id = ?1"))) {
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

static enum outcome sms_send_one(CURL *curl, const struct config *cfg, const struct message *m,
                                 long *code, char *why, size_t whylen);

/* One batch of one channel's due rows. */
static int send_due(struct app *app, sqlite3 *db, int sms)
{
	struct message ms[MAIL_BATCH];
	int n = 0, sent = 0,
	    limit = app->cfg.mail_rate < MAIL_BATCH ? app->cfg.mail_rate : MAIL_BATCH;
	sqlite3_stmt *st;
	CURL *curl;

	if (!(sms ? app->cfg.sms_url[0] : app->cfg.mail_smtp_url[0]) || !templates[0])
		return 0;
	if (sms) { /* SMS go out in the day only (local time): the others wait for the morning */
		time_t now = time(NULL);
		struct tm tm;
		int minute;

		localtime_r(&now, &tm);
		minute = tm.tm_hour * 60 + tm.tm_min;
		if (minute < app->cfg.sms_from || minute >= app->cfg.sms_until)
			return 0;
	}
	if (!(st = db_stmt(db,
	                   "SELECT id, recipient, locale, template, payload, attempts FROM outbox"
	                   " WHERE state = 'queued' AND channel = ?3 AND next_attempt_at <= ?1"
	                   " ORDER BY next_attempt_at, id LIMIT ?2")))
		return -1;
	db_bind_int64(st, 1, instant_now());
	db_bind_int(st, 2, limit);
	db_bind_text(st, 3, sms ? "sms" : "email", -1, SQLITE_STATIC);
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
		enum outcome o =
		    !curl            ? RETRY
		    : !ms[i].payload ? DEAD
		    : sms ? sms_send_one(curl, &app->cfg, &ms[i], &code, why, sizeof(why))
		          : send_one(curl, app, db, &ms[i], &code, why, sizeof(why));

		if (!ms[i].payload)
			snprintf(why, sizeof(why), "unreadable payload");
		record(app, db, &ms[i], o, code, why);
		sent += o == SENT;
		json_decref(ms[i].payload);
	}
	curl_easy_cleanup(curl);
	return sent;
}

int mail_send_due(struct app *app, sqlite3 *db)
{
	int e = send_due(app, db, 0), s = send_due(app, db, 1);

	return e < 0 || s < 0 ? -1 : e + s;
}

/* ---- SMS ---- */

/* Characters of s (UTF-8 code points), and whether each is in the GSM 7-bit alphabet's ASCII part
 * (then an SMS holds 160 of them; else it is sent as UCS-2 and holds 70). */
static size_t sms_limit(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p >= 0x80 || *p < 0x20 || *p == '`' || *p == '^' || *p == '{' || *p == '}' ||
		    *p == '\\' || *p == '[' || *p == ']' || *p == '~' || *p == '|')
			return SMS_UCS2_MAX;
	return SMS_GSM_MAX;
}

/* s cut to at most max characters, on a character boundary, "…" marking a cut (limit kept). */
static void sms_fit(char *s, size_t max)
{
	size_t chars = 0, i = 0, cut = 0;

	for (; s[i]; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80) {
			if (chars == max - 1)
				cut = i;
			chars++;
		}
	if (chars <= max)
		return;
	/* "…" is one character (three bytes); it makes the text UCS-2, whose limit is the smaller
	 * one */
	memcpy(s + cut, "\xe2\x80\xa6", 4);
}

int sms_text(const char *template, const char *locale, json_t *payload, char *out, size_t n)
{
	json_t *t = json_object_get(templates[locale_index(locale)], template);
	const char *src = json_string_value(json_object_get(t, "sms"));
	struct buf b;
	size_t limit;

	if (!src || n < 4 * SMS_GSM_MAX + 4)
		return -1;
	buf_init(&b, 4096);
	render(&b, src, payload, 0);
	if (!b.data) {
		buf_free(&b);
		return -1;
	}
	for (size_t i = 0; i < b.len; i++) /* one line */
		if ((unsigned char)b.data[i] < 0x20)
			b.data[i] = ' ';
	snprintf(out, n, "%s", b.data);
	buf_free(&b);
	limit = sms_limit(out);
	sms_fit(out, limit);
	if (limit == SMS_GSM_MAX && sms_limit(out) == SMS_UCS2_MAX)
		sms_fit(out, SMS_UCS2_MAX); /* the cut made it UCS-2 */
	return 0;
}

static enum outcome sms_send_one(CURL *curl, const struct config *cfg, const struct message *m,
                                 long *code, char *why, size_t whylen)
{
	char text[4 * SMS_GSM_MAX + 8], auth[600], errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	json_t *body;
	char *json;
	CURLcode res;

	*code = 0;
	if (sms_text(m->template, m->locale, m->payload, text, sizeof(text)) < 0) {
		snprintf(why, whylen, "no sms text for template %s", m->template);
		return DEAD;
	}
	body =
	    json_pack("{s:s,s:s,s:s}", "to", m->recipient, "from", cfg->sms_sender, "text", text);
	json = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!json) {
		snprintf(why, whylen, "out of memory");
		return RETRY;
	}
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", sms_token);
	hdrs = curl_slist_append(hdrs, auth);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, cfg->sms_url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https,http");
	res = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, code);
	curl_slist_free_all(hdrs);
	free(json);
	if (res != CURLE_OK) {
		snprintf(why, whylen, "%s", errbuf[0] ? errbuf : curl_easy_strerror(res));
		return RETRY;
	}
	if (*code >= 200 && *code < 300)
		return SENT;
	snprintf(why, whylen, "the SMS endpoint answered %ld", *code);
	/* refused for good (a bad number, a bad request): dead; busy, throttled or failing: again
	 * later */
	return *code >= 400 && *code < 500 && *code != 408 && *code != 429 ? DEAD : RETRY;
}

/* ---- reminders ---- */

int mail_queue_reminders(struct app *app, sqlite3 *db)
{
	char day[DATE_STRLEN];
	int64_t ids[256];
	int n = 0;
	sqlite3_stmt *st;

	/* stays that start in REMINDER_DAYS days (the centres' local date), of members who want
	 * reminders, not reminded yet: one message each, however often this runs */
	date_format(date_today_local() + REMINDER_DAYS, day);
	if (db_begin(app, db) < 0)
		return -1;
	if (!(st = db_stmt(db, "SELECT b.id FROM bookings b JOIN members m ON m.id = b.member"
	                       " WHERE b.status = 'confirmed' AND b.arrival = ? AND m.reminders = 1"
	                       " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.booking = b.id"
	                       " AND o.template = 'reminder') LIMIT 256")))
		goto fail;
	db_bind_text(st, 1, day, -1, SQLITE_STATIC);
	while (n < 256 && db_step(st) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(st, 0);
	db_done(st);
	for (int i = 0; i < n; i++)
		if (outbox_booking(app, db, "reminder", ids[i], NULL) < 0)
			goto fail;
	if (db_commit(app, db) < 0)
		return -1;
	return n;
fail:
	log_err("mail: reminders: %s", sqlite3_errmsg(db));
	db_rollback(app, db);
	return -1;
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
	int64_t reminded = 0;

	for (;;) {
		struct timespec until;
		int n;

		if (db && instant_now() - reminded >= app->cfg.mail_reminder_every) {
			mail_queue_reminders(app, db);
			reminded = instant_now();
		}
		n = db ? mail_send_due(app, db) : 0;

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
	if (!app->cfg.mail_smtp_url[0] && !app->cfg.sms_url[0])
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
