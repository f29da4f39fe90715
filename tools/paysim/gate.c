/* gate.c: the hosted payment pages. /fim/est3Dgate checks the merchant's signed form and shows the
 * card page; /fim/pay takes the test card and decides; /fim/3ds is the 3-D Secure step of the 3-DS
 * test card. The outcome is recorded, the signed callback is sent (callback.c), and the browser is
 * sent back to okUrl or failUrl with an auto-submitting form carrying the same signed fields.
 * Pages are plain HTML in French, Arabic or English, with no external resources. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "paysim.h"

/* ---- the test cards (docs/paysim.md) ---- */
#define CARD_APPROVE "4000000000000010"
#define CARD_FUNDS "5453010000066100"
#define CARD_3DS "5191630100004896"
#define CODE_3DS "123"

const char paysim_css[] =
    "body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f3f4f6;color:#111}"
    "main{max-width:28rem;margin:2rem auto;background:#fff;padding:1.5rem 2rem;border-radius:8px;"
    "box-shadow:0 1px 4px rgba(0,0,0,.15)}"
    "h1{font-size:1.3rem;margin:0 0 .5rem}.note{color:#555;font-size:.9rem;border-left:4px solid "
    "#f59e0b;"
    "padding-left:.5rem}[dir=rtl] .note{border-left:0;border-right:4px solid #f59e0b;padding:0 "
    ".5rem 0 0}"
    "dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem "
    "1rem}dt{color:#555}dd{margin:0;font-weight:600}"
    "label{display:block;margin-top:.75rem}input{width:100%;box-sizing:border-box;padding:.5rem;"
    "font-size:1rem;"
    "direction:ltr}button{margin-top:1rem;padding:.6rem "
    "1.2rem;font-size:1rem;background:#1d4ed8;color:#fff;"
    "border:0;border-radius:4px}.error{color:#b91c1c;font-weight:600}code{word-break:break-all}\n";

const char paysim_autopost_js[] =
    "/* estiva-paysim: send the browser back to the merchant at once */\n"
    "document.getElementById('autopost').submit();\n";

enum lang { L_FR, L_AR, L_EN };

static const struct texts {
	const char *code, *dir, *title, *heading, *note, *order, *amount, *pan, *expiry, *cvc,
	    *holder, *pay, *cancel, *tds_title, *tds_text, *tds_code, *tds_submit, *back_title,
	    *back_text, *go_on, *approved, *declined, *error_title, *err_pan, *err_expiry, *err_cvc,
	    *err_holder;
} texts[] = {
    [L_FR] =
        {
            .code = "fr",
            .dir = "ltr",
            .title = "Paiement sécurisé — simulateur CMI",
            .heading = "Paiement par carte bancaire",
            .note = "Simulateur de passerelle de paiement : aucune carte réelle n'est utilisée.",
            .order = "Commande",
            .amount = "Montant",
            .pan = "Numéro de carte",
            .expiry = "Date d'expiration (MM/AA)",
            .cvc = "Cryptogramme (CVC)",
            .holder = "Titulaire de la carte",
            .pay = "Payer",
            .cancel = "Annuler et revenir au site marchand",
            .tds_title = "Authentification 3-D Secure",
            .tds_text = "Saisissez le code envoyé par votre banque (test : 123).",
            .tds_code = "Code",
            .tds_submit = "Valider",
            .back_title = "Retour au site marchand",
            .back_text = "Vous allez être redirigé vers le site marchand…",
            .go_on = "Continuer",
            .approved = "Paiement accepté.",
            .declined = "Paiement refusé.",
            .error_title = "Paiement impossible",
            .err_pan = "Numéro de carte invalide.",
            .err_expiry = "Date d'expiration invalide (MM/AA).",
            .err_cvc = "Cryptogramme invalide.",
            .err_holder = "Saisissez le nom du titulaire.",
        },
    [L_AR] =
        {
            .code = "ar",
            .dir = "rtl",
            .title = "الدفع الآمن — محاكي CMI",
            .heading = "الدفع بالبطاقة البنكية",
            .note = "محاكي لبوابة الدفع: لا تُستعمل أي بطاقة حقيقية.",
            .order = "رقم الطلب",
            .amount = "المبلغ",
            .pan = "رقم البطاقة",
            .expiry = "تاريخ انتهاء الصلاحية (شهر/سنة)",
            .cvc = "رمز الأمان (CVC)",
            .holder = "اسم حامل البطاقة",
            .pay = "ادفع",
            .cancel = "إلغاء والعودة إلى المتجر",
            .tds_title = "التحقق 3-D Secure",
            .tds_text = "أدخل الرمز الذي أرسله إليك البنك (للاختبار: 123).",
            .tds_code = "رمز التحقق",
            .tds_submit = "تأكيد",
            .back_title = "العودة إلى موقع التاجر",
            .back_text = "جارٍ إرجاعك إلى موقع التاجر…",
            .go_on = "متابعة",
            .approved = "تمت الموافقة على الدفع.",
            .declined = "تم رفض الدفع.",
            .error_title = "تعذّر الدفع",
            .err_pan = "رقم البطاقة غير صالح.",
            .err_expiry = "تاريخ الانتهاء غير صالح (شهر/سنة).",
            .err_cvc = "رمز الأمان غير صالح.",
            .err_holder = "أدخل اسم حامل البطاقة.",
        },
    [L_EN] =
        {
            .code = "en",
            .dir = "ltr",
            .title = "Secure payment — CMI simulator",
            .heading = "Card payment",
            .note = "Payment gateway simulator: no real card is used.",
            .order = "Order",
            .amount = "Amount",
            .pan = "Card number",
            .expiry = "Expiry date (MM/YY)",
            .cvc = "Security code (CVC)",
            .holder = "Cardholder name",
            .pay = "Pay",
            .cancel = "Cancel and return to the shop",
            .tds_title = "3-D Secure authentication",
            .tds_text = "Enter the code your bank sent you (test: 123).",
            .tds_code = "Code",
            .tds_submit = "Confirm",
            .back_title = "Back to the merchant",
            .back_text = "You are being sent back to the merchant…",
            .go_on = "Continue",
            .approved = "Payment approved.",
            .declined = "Payment declined.",
            .error_title = "Payment not possible",
            .err_pan = "Invalid card number.",
            .err_expiry = "Invalid expiry date (MM/YY).",
            .err_cvc = "Invalid security code.",
            .err_holder = "Enter the cardholder's name.",
        },
};

static enum lang lang_of(const char *s)
{
	if (s && !strcmp(s, "ar"))
		return L_AR;
	if (s && !strcmp(s, "en"))
		return L_EN;
	return L_FR;
}

/* ---- page pieces ---- */

static void page_head(struct sbuf *b, const struct texts *t, const char *heading)
{
	sb_printf(b,
	          "<!doctype html>\n<html lang=\"%s\" dir=\"%s\"><head><meta charset=\"utf-8\">"
	          "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>",
	          t->code, t->dir);
	html_escape(b,
	            t->title); /* the same window title on every page; the heading names the step */
	sb_puts(b, "</title><link rel=\"stylesheet\" "
	           "href=\"/sim/paysim.css\"></head>\n<body><main>\n<h1>");
	html_escape(b, heading);
	sb_puts(b, "</h1>\n<p class=\"note\">");
	html_escape(b, t->note);
	sb_puts(b, "</p>\n");
}

static void page_end(struct sbuf *b)
{
	sb_puts(b, "</main></body></html>\n");
}

static void order_summary(struct sbuf *b, const struct texts *t, const char *oid,
                          const char *amount)
{
	sb_puts(b, "<dl><dt>");
	html_escape(b, t->order);
	sb_puts(b, "</dt><dd>");
	html_escape(b, oid);
	sb_puts(b, "</dd><dt>");
	html_escape(b, t->amount);
	sb_puts(b, "</dt><dd dir=\"ltr\">");
	html_escape(b, amount);
	sb_puts(b, " MAD</dd></dl>\n");
}

static void hidden(struct sbuf *b, const char *name, const char *value)
{
	sb_puts(b, "<input type=\"hidden\" name=\"");
	html_escape(b, name);
	sb_puts(b, "\" value=\"");
	html_escape(b, value);
	sb_puts(b, "\">\n");
}

static void input(struct sbuf *b, const char *id, const char *label, const char *extra)
{
	sb_printf(b, "<label for=\"%s\">", id);
	html_escape(b, label);
	sb_printf(b, "</label><input id=\"%s\" name=\"%s\" %s required>\n", id, id, extra);
}

/* A request the gateway refuses: HTTP 400 (or status) and the reason, for the developer. */
static void error_page(struct reply *rp, int status, enum lang l, const char *reason,
                       const char *detail)
{
	const struct texts *t = &texts[l];
	struct sbuf b;

	sb_init(&b, PAYSIM_BODY_MAX * 2);
	page_head(&b, t, t->error_title);
	sb_puts(&b, "<p class=\"error\" lang=\"en\" dir=\"ltr\">");
	html_escape(&b, reason);
	sb_puts(&b, "</p>\n");
	if (detail && detail[0]) {
		sb_puts(&b, "<p lang=\"en\" dir=\"ltr\"><code>");
		html_escape(&b, detail);
		sb_puts(&b, "</code></p>\n");
	}
	page_end(&b);
	reply_sbuf(rp, status, "text/html; charset=utf-8", &b);
}

static void card_page(struct reply *rp, int status, enum lang l, const char *token, const char *oid,
                      const char *amount, const char *shopurl, const char *error)
{
	const struct texts *t = &texts[l];
	struct sbuf b;

	sb_init(&b, PAYSIM_BODY_MAX);
	page_head(&b, t, t->heading);
	order_summary(&b, t, oid, amount);
	if (error) {
		sb_puts(&b, "<p class=\"error\">");
		html_escape(&b, error);
		sb_puts(&b, "</p>\n");
	}
	sb_puts(&b, "<form method=\"post\" action=\"/fim/pay\" autocomplete=\"off\">\n");
	hidden(&b, "token", token);
	input(&b, "pan", t->pan,
	      "inputmode=\"numeric\" autocomplete=\"cc-number\" maxlength=\"23\"");
	input(
	    &b, "expiry", t->expiry,
	    "inputmode=\"numeric\" autocomplete=\"cc-exp\" placeholder=\"MM/YY\" maxlength=\"5\"");
	input(&b, "cvc", t->cvc, "inputmode=\"numeric\" autocomplete=\"cc-csc\" maxlength=\"4\"");
	input(&b, "holder", t->holder, "autocomplete=\"cc-name\" maxlength=\"64\"");
	sb_puts(&b, "<button type=\"submit\">");
	html_escape(&b, t->pay);
	sb_puts(&b, "</button>\n</form>\n");
	if (shopurl && shopurl[0]) {
		sb_puts(&b, "<p><a href=\"");
		html_escape(&b, shopurl);
		sb_puts(&b, "\">");
		html_escape(&b, t->cancel);
		sb_puts(&b, "</a></p>\n");
	}
	page_end(&b);
	reply_sbuf(rp, status, "text/html; charset=utf-8", &b);
}

static void tds_page(struct reply *rp, enum lang l, const char *token, const char *oid,
                     const char *amount)
{
	const struct texts *t = &texts[l];
	struct sbuf b;

	sb_init(&b, PAYSIM_BODY_MAX);
	page_head(&b, t, t->tds_title);
	order_summary(&b, t, oid, amount);
	sb_puts(&b, "<p>");
	html_escape(&b, t->tds_text);
	sb_puts(&b, "</p>\n<form method=\"post\" action=\"/fim/3ds\" autocomplete=\"off\">\n");
	hidden(&b, "token", token);
	input(&b, "code", t->tds_code,
	      "inputmode=\"numeric\" autocomplete=\"one-time-code\" maxlength=\"8\"");
	sb_puts(&b, "<button type=\"submit\">");
	html_escape(&b, t->tds_submit);
	sb_puts(&b, "</button>\n</form>\n");
	page_end(&b);
	reply_sbuf(rp, 200, "text/html; charset=utf-8", &b);
}

/* The browser's way back: a form that /sim/autopost.js submits, or the button without script. */
static void return_page(struct reply *rp, enum lang l, const char *url, const struct fields *f,
                        int approved)
{
	const struct texts *t = &texts[l];
	struct sbuf b;

	sb_init(&b, PAYSIM_BODY_MAX * 8);
	page_head(&b, t, t->back_title);
	sb_puts(&b, "<p>");
	html_escape(&b, approved ? t->approved : t->declined);
	sb_puts(&b, " ");
	html_escape(&b, t->back_text);
	sb_puts(&b, "</p>\n<form id=\"autopost\" method=\"post\" action=\"");
	html_escape(&b, url);
	sb_puts(&b, "\">\n");
	for (size_t k = 0; k < f->n; k++)
		hidden(&b, f->v[k].name, f->v[k].value);
	sb_puts(&b, "<noscript><button type=\"submit\">");
	html_escape(&b, t->go_on);
	sb_puts(&b, "</button></noscript>\n</form>\n<script src=\"/sim/autopost.js\"></script>\n");
	page_end(&b);
	reply_sbuf(rp, 200, "text/html; charset=utf-8", &b);
}

/* ---- checks on the merchant's form ---- */

static int valid_url(const char *s)
{
	size_t n = strlen(s);

	if (n > PAYSIM_URL_MAX || (strncmp(s, "http://", 7) && strncmp(s, "https://", 8)) || n < 9)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= 0x20 || *p == 0x7f || *p == '"' || *p == '<' || *p == '>')
			return 0;
	return 1;
}

static int valid_oid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > PAYSIM_OID_MAX)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return 0;
	return 1;
}

/* NULL when the form has every field the gateway needs, with sane values; else the reason. */
static const char *check_form(const struct fields *f, int64_t *amount_c, char *why, size_t whylen)
{
	static const char *const required[] = {
	    "clientid", "storetype",   "TranType", "amount",        "currency", "oid", "okUrl",
	    "failUrl",  "callbackUrl", "rnd",      "hashAlgorithm", "HASH",     "lang"};
	const char *v;

	for (size_t k = 0; k < sizeof(required) / sizeof(required[0]); k++) {
		if (!fields_get(f, required[k]) || !fields_get(f, required[k])[0]) {
			snprintf(why, whylen, "required field %s is missing or empty", required[k]);
			return why;
		}
	}
	if (strcmp(fields_get(f, "clientid"), paysim.cfg.client_id)) {
		snprintf(why, whylen, "clientid %.64s is not this store's client id",
		         fields_get(f, "clientid"));
		return why;
	}
	if (strcmp(fields_get(f, "storetype"), "3D_PAY_HOSTING"))
		return "storetype must be 3D_PAY_HOSTING";
	v = fields_get(f, "TranType");
	if (strcmp(v, "PreAuth") && strcmp(v, "Auth"))
		return "TranType must be PreAuth or Auth";
	if (money_parse(fields_get(f, "amount"), 1, amount_c) < 0 || *amount_c <= 0)
		return "amount must be a positive number with a dot and two decimals, e.g. 1250.00";
	if (strcmp(fields_get(f, "currency"), "504"))
		return "currency must be 504 (MAD)";
	if (!valid_oid(fields_get(f, "oid")))
		return "oid must be 1 to 64 characters among A-Z a-z 0-9 - _ .";
	if (!valid_url(fields_get(f, "okUrl")) || !valid_url(fields_get(f, "failUrl")) ||
	    !valid_url(fields_get(f, "callbackUrl")))
		return "okUrl, failUrl and callbackUrl must be http:// or https:// URLs without "
		       "spaces or quotes";
	v = fields_get(f, "shopurl");
	if (v && v[0] && !valid_url(v))
		return "shopurl must be an http:// or https:// URL";
	if (strlen(fields_get(f, "rnd")) > 128)
		return "rnd is longer than 128 characters";
	if (strcmp(fields_get(f, "hashAlgorithm"), "ver3"))
		return "hashAlgorithm must be ver3";
	v = fields_get(f, "lang");
	if (strcmp(v, "ar") && strcmp(v, "fr") && strcmp(v, "en"))
		return "lang must be ar, fr or en";
	v = fields_get(f, "sessionTimeout");
	if (v) {
		char *end;
		long secs;

		errno = 0;
		secs = strtol(v, &end, 10);
		if (errno || end == v || *end || secs < 30 || secs > 2700)
			return "sessionTimeout must be a whole number of seconds from 30 to 2700";
	}
	return NULL;
}

/* Zero the values before freeing a form that held card data. */
static void fields_wipe(struct fields *f)
{
	for (size_t k = 0; k < f->n; k++)
		sodium_memzero(f->v[k].value, strlen(f->v[k].value));
	fields_free(f);
}

/* ---- POST /fim/est3Dgate ---- */

static void note_add(struct request *rq, const char *text)
{
	size_t used = strlen(rq->note);

	snprintf(rq->note + used, sizeof(rq->note) - used, "%s", text);
}

void gate_start(struct request *rq, struct reply *rp)
{
	struct fields f;
	struct session s;
	struct sbuf enc, names;
	unsigned char raw[16];
	char err[256], why[256], amount[24];
	const char *problem, *v;
	int64_t amount_c = 0, timeout = paysim.cfg.session_timeout;
	enum lang l;
	int rc;

	if (!request_is_form(rq)) {
		error_page(rp, 415, L_FR,
		           "the form must be posted as application/x-www-form-urlencoded", NULL);
		return;
	}
	if (form_parse(sb_str(&rq->body), rq->body.len, &f, err, sizeof(err)) < 0) {
		error_page(rp, 400, L_FR, err, NULL);
		return;
	}
	l = lang_of(fields_get(&f, "lang"));
	problem = check_form(&f, &amount_c, why, sizeof(why));
	if (problem) {
		snprintf(rq->note, sizeof(rq->note), "refused: %.120s", problem);
		error_page(rp, 400, l, problem, NULL);
		goto out;
	}
	snprintf(rq->note, sizeof(rq->note), "oid=%s amount=%s", fields_get(&f, "oid"),
	         fields_get(&f, "amount"));
	if (paysim_hash_verify(&f, paysim.store_key, fields_get(&f, "HASH")) < 0) {
		struct sbuf d;

		sb_init(&names, PAYSIM_BODY_MAX);
		sb_init(&d, PAYSIM_BODY_MAX * 2);
		paysim_hash_names(&f, &names);
		sb_printf(&d,
		          "The gateway hashed the values of these fields in this order, then the "
		          "store key: %s.",
		          sb_str(&names));
		for (size_t k = 0; k < f.n; k++) {
			const char *x = f.v[k].value;
			size_t n = strlen(x);
			if (n && (x[0] == ' ' || x[n - 1] == ' '))
				sb_printf(&d,
				          " Note: the value of %s starts or ends with a space; it "
				          "is hashed as sent.",
				          f.v[k].name);
		}
		note_add(rq, " refused: HASH mismatch");
		error_page(rp, 400, l, "HASH does not match the fields and the store key",
		           sb_str(&d));
		sb_free(&names);
		sb_free(&d);
		goto out;
	}
	v = fields_get(&f, "sessionTimeout");
	if (v)
		timeout = strtol(v, NULL, 10);
	memset(&s, 0, sizeof(s));
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(s.token, sizeof(s.token), raw, sizeof(raw));
	snprintf(s.oid, sizeof(s.oid), "%s", fields_get(&f, "oid"));
	snprintf(s.lang, sizeof(s.lang), "%s", texts[l].code);
	s.expires_at = time(NULL) + timeout;
	sb_init(&enc, PAYSIM_BODY_MAX * 4);
	if (form_encode(&f, &enc) < 0) {
		sb_free(&enc);
		error_page(rp, 500, l, "out of memory", NULL);
		goto out;
	}
	s.fields = (char *)sb_str(&enc);
	rc = store_session_start(&s, fields_get(&f, "clientid"), fields_get(&f, "currency"),
	                         fields_get(&f, "TranType"), amount_c);
	sb_free(&enc);
	if (rc == 1) {
		note_add(rq, " refused: already paid");
		error_page(
		    rp, 400, l,
		    "this oid already has an approved transaction: use a new oid for a new attempt",
		    NULL);
		goto out;
	}
	if (rc < 0) {
		error_page(rp, 500, l, "the simulator's database failed", NULL);
		goto out;
	}
	money_format(amount_c, amount);
	card_page(rp, 200, l, s.token, s.oid, amount, fields_get(&f, "shopurl"), NULL);
out:
	fields_free(&f);
}

/* ---- the card step ---- */

struct outcome {
	const char *proc, *response, *err_msg, *md_status;
};

static const struct outcome APPROVED = {"00", "Approved", "", "1"};
static const struct outcome INSUFFICIENT = {"51", "Declined", "Insufficient funds", "1"};
static const struct outcome DO_NOT_HONOUR = {"05", "Declined", "Do not honour", "1"};
static const struct outcome EXPIRED = {"54", "Declined", "Expired card", "1"};
static const struct outcome TDS_FAILED = {"99", "Error", "3-D Secure authentication failed", "0"};

static void mask_pan(const char *pan, char out[24])
{
	size_t n = strlen(pan), k;

	for (k = 0; k < n && k < 23; k++)
		out[k] = k < 6 || k >= n - 4 ? pan[k] : '*';
	out[k] = '\0';
}

static const char *card_brand(const char *pan)
{
	int two = (pan[0] - '0') * 10 + (pan[1] - '0'),
	    four = two * 100 + (pan[2] - '0') * 10 + (pan[3] - '0');

	if (pan[0] == '4')
		return "VISA";
	if ((two >= 51 && two <= 55) || (four >= 2221 && four <= 2720))
		return "MASTERCARD";
	if (two == 34 || two == 37)
		return "AMEX";
	return "UNKNOWN";
}

/* The session and the merchant's fields behind a posted token, or an error page. 0 when loaded. */
static int load_session(struct request *rq, struct reply *rp, const struct fields *posted,
                        const char *want_state, struct session *s, struct fields *merchant)
{
	const char *token = fields_get(posted, "token");
	char err[256];
	int rc;

	fields_init(merchant);
	memset(s, 0, sizeof(*s));
	if (!token || strlen(token) != 32) {
		error_page(rp, 400, L_FR, "the form has no valid payment page token", NULL);
		return -1;
	}
	rc = store_session_get(token, s);
	if (rc != 0) {
		error_page(rp, rc < 0 ? 500 : 400, L_FR,
		           rc < 0 ? "the simulator's database failed"
		                  : "unknown payment page: start again from the shop",
		           NULL);
		return -1;
	}
	snprintf(rq->note, sizeof(rq->note), "oid=%s", s->oid);
	if (strcmp(s->state, want_state)) {
		error_page(rp, 400, lang_of(s->lang),
		           !strcmp(s->state, "done")
		               ? "this payment page was already used"
		               : "this step does not match the payment page's state",
		           NULL);
		goto fail;
	}
	if (time(NULL) > s->expires_at) {
		error_page(rp, 400, lang_of(s->lang),
		           "this payment page has expired: start again from the shop", NULL);
		goto fail;
	}
	if (form_parse(s->fields, strlen(s->fields), merchant, err, sizeof(err)) < 0) {
		error_page(rp, 500, lang_of(s->lang), "the stored merchant form cannot be read",
		           err);
		goto fail;
	}
	return 0;
fail:
	session_free(s);
	return -1;
}

/* Records the outcome, sends the callback, and answers with the way back to the merchant. */
static void finish_payment(struct request *rq, struct reply *rp, struct session *s,
                           const struct fields *merchant, const char *masked, const char *brand,
                           const struct outcome *o)
{
	const char *trantype = fields_get(merchant, "TranType"),
	           *url = fields_get(merchant, "callbackUrl");
	int approved = !strcmp(o->proc, "00"), ncb, first_sending = 0, rc;
	enum lang l = lang_of(s->lang);
	struct fields cb;
	struct settings st;
	struct sbuf body;
	struct txn t;
	char rnd[21], trxdate[18], hash[PAYSIM_HASH_LEN + 1], cbname[32];
	int64_t first_id = 0, due = now_ms();

	memset(&t, 0, sizeof(t));
	new_trans_id(t.trans_id);
	snprintf(t.type, sizeof(t.type), "%s", trantype);
	money_parse(fields_get(merchant, "amount"), 1, &t.amount_c);
	snprintf(t.response, sizeof(t.response), "%s", o->response);
	snprintf(t.proc_ret, sizeof(t.proc_ret), "%s", o->proc);
	snprintf(t.err_msg, sizeof(t.err_msg), "%s", o->err_msg);
	if (approved)
		random_chars(t.auth_code, 6, "0123456789");
	if (strcmp(o->proc, "99"))
		random_chars(t.host_ref, 12, "0123456789"); /* the issuer saw it */
	snprintf(t.masked_pan, sizeof(t.masked_pan), "%s", masked);
	snprintf(t.md_status, sizeof(t.md_status), "%s", o->md_status);
	snprintf(t.source, sizeof(t.source), "card");

	/* everything the merchant posted (its HASH replaced), then the gateway's fields, then a new
	 * HASH */
	fields_init(&cb);
	for (size_t k = 0; k < merchant->n; k++)
		if (strcasecmp(merchant->v[k].name, "HASH") &&
		    strcasecmp(merchant->v[k].name, "storekey"))
			fields_add(&cb, merchant->v[k].name, merchant->v[k].value);
	random_chars(rnd, 20, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
	gateway_time(time(NULL), trxdate);
	fields_set(&cb, "rnd", rnd);
	fields_set(&cb, "Response", t.response);
	fields_set(&cb, "ProcReturnCode", t.proc_ret);
	fields_set(&cb, "AuthCode", t.auth_code);
	fields_set(&cb, "TransId", t.trans_id);
	fields_set(&cb, "HostRefNum", t.host_ref);
	fields_set(&cb, "ErrMsg", t.err_msg);
	fields_set(&cb, "mdStatus", t.md_status);
	fields_set(&cb, "MaskedPan", masked);
	fields_set(&cb, "EXTRA.TRXDATE", trxdate);
	fields_set(&cb, "EXTRA.CARDBRAND", brand);
	fields_set(&cb, "ReturnOid", s->oid);
	if (paysim_hash(&cb, paysim.store_key, hash) < 0 || fields_set(&cb, "HASH", hash) < 0) {
		error_page(rp, 500, l, "cannot sign the callback", NULL);
		goto out;
	}
	sb_init(&body, PAYSIM_BODY_MAX * 4);
	if (form_encode(&cb, &body) < 0) {
		sb_free(&body);
		error_page(rp, 500, l, "out of memory", NULL);
		goto out;
	}

	settings_get(&st);
	settings_callback_name(&st, cbname, sizeof(cbname));
	ncb = st.cb_mode == CB_DROP ? 0 : st.cb_mode == CB_TWICE ? 2 : 1;
	if (st.cb_mode == CB_DELAY)
		due += (int64_t)st.cb_delay * 1000;
	else
		first_sending = ncb > 0;
	rc = store_record_payment(s->token, s->oid, trantype, &t, url, sb_str(&body), ncb,
	                          first_sending, due, &first_id);
	if (rc != 0) {
		sb_free(&body);
		error_page(
		    rp, rc < 0 ? 500 : 400, l,
		    rc < 0 ? "the simulator's database failed"
		           : "this payment page was already used, or the order was paid meanwhile",
		    NULL);
		goto out;
	}
	snprintf(rq->note, sizeof(rq->note), "oid=%s ProcReturnCode=%s TransId=%s callback=%s",
	         s->oid, t.proc_ret, t.trans_id, cbname);
	if (first_sending) {
		struct cb_job job = {.id = first_id, .attempts = 0};

		snprintf(job.oid, sizeof(job.oid), "%s", s->oid);
		snprintf(job.trans_id, sizeof(job.trans_id), "%s", t.trans_id);
		job.url = (char *)url;
		job.body = (char *)sb_str(&body);
		callback_attempt(&job); /* its outcome is recorded; retries go to the worker */
	}
	sb_free(&body);
	callback_kick();
	return_page(rp, l, fields_get(merchant, approved ? "okUrl" : "failUrl"), &cb, approved);
out:
	fields_free(&cb);
}

static int parse_expiry(const char *s, int *month, int *year)
{
	while (*s == ' ')
		s++;
	if (strlen(s) < 5 || s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[2] != '/' ||
	    s[3] < '0' || s[3] > '9' || s[4] < '0' || s[4] > '9')
		return -1;
	for (const char *p = s + 5; *p; p++)
		if (*p != ' ')
			return -1;
	*month = (s[0] - '0') * 10 + (s[1] - '0');
	*year = 2000 + (s[3] - '0') * 10 + (s[4] - '0');
	return *month >= 1 && *month <= 12 ? 0 : -1;
}

/* ---- POST /fim/pay ---- */

void gate_pay(struct request *rq, struct reply *rp)
{
	struct fields posted, merchant;
	struct session s;
	char err[256], pan[24], masked[24], amount[24];
	const char *v, *problem = NULL;
	const struct outcome *o;
	int64_t amount_c = 0;
	int month = 0, year = 0;
	size_t n = 0;
	enum lang l;

	if (!request_is_form(rq)) {
		error_page(rp, 415, L_FR,
		           "the form must be posted as application/x-www-form-urlencoded", NULL);
		return;
	}
	if (form_parse(sb_str(&rq->body), rq->body.len, &posted, err, sizeof(err)) < 0) {
		error_page(rp, 400, L_FR, err, NULL);
		return;
	}
	if (load_session(rq, rp, &posted, "card", &s, &merchant) < 0) {
		fields_wipe(&posted);
		return;
	}
	l = lang_of(s.lang);
	money_parse(fields_get(&merchant, "amount"), 1, &amount_c);
	money_format(amount_c, amount);

	/* the card number: digits, spaces and dashes ignored, 12 to 19 digits */
	v = fields_get(&posted, "pan");
	for (; v && *v && n < sizeof(pan) - 1; v++) {
		if (*v >= '0' && *v <= '9')
			pan[n++] = *v;
		else if (*v != ' ' && *v != '-')
			break;
	}
	pan[n] = '\0';
	if (!v || *v || n < 12 || n > 19)
		problem = texts[l].err_pan;
	else if (parse_expiry(fields_get(&posted, "expiry") ? fields_get(&posted, "expiry") : "",
	                      &month, &year) < 0)
		problem = texts[l].err_expiry;
	else if (!(v = fields_get(&posted, "cvc")) || (strlen(v) != 3 && strlen(v) != 4) ||
	         strspn(v, "0123456789") != strlen(v))
		problem = texts[l].err_cvc;
	else if (!(v = fields_get(&posted, "holder")) || !v[0] || strlen(v) > 64)
		problem = texts[l].err_holder;
	if (problem) {
		card_page(rp, 400, l, s.token, s.oid, amount, fields_get(&merchant, "shopurl"),
		          problem);
		goto out;
	}
	mask_pan(pan, masked);
	{
		time_t now = time(NULL);
		struct tm tm;

		gmtime_r(&now, &tm);
		if (year * 12 + month < (tm.tm_year + 1900) * 12 + tm.tm_mon + 1)
			o = &EXPIRED;
		else if (!strcmp(pan, CARD_APPROVE))
			o = &APPROVED;
		else if (!strcmp(pan, CARD_FUNDS))
			o = amount_c % 100 == 51 ? &INSUFFICIENT : &APPROVED;
		else if (!strcmp(pan, CARD_3DS))
			o = NULL;
		else
			o = &DO_NOT_HONOUR;
	}
	if (!o) {
		int rc = store_session_3ds(s.token, masked, card_brand(pan));
		if (rc != 0)
			error_page(rp, rc < 0 ? 500 : 400, l, "this payment page was already used",
			           NULL);
		else
			tds_page(rp, l, s.token, s.oid, amount);
		goto out;
	}
	finish_payment(rq, rp, &s, &merchant, masked, card_brand(pan), o);
out:
	sodium_memzero(pan, sizeof(pan));
	fields_wipe(&posted);
	fields_free(&merchant);
	session_free(&s);
}

/* ---- POST /fim/3ds ---- */

void gate_3ds(struct request *rq, struct reply *rp)
{
	struct fields posted, merchant;
	struct session s;
	const char *code;
	char err[256];

	if (!request_is_form(rq)) {
		error_page(rp, 415, L_FR,
		           "the form must be posted as application/x-www-form-urlencoded", NULL);
		return;
	}
	if (form_parse(sb_str(&rq->body), rq->body.len, &posted, err, sizeof(err)) < 0) {
		error_page(rp, 400, L_FR, err, NULL);
		return;
	}
	if (load_session(rq, rp, &posted, "3ds", &s, &merchant) < 0) {
		fields_wipe(&posted);
		return;
	}
	code = fields_get(&posted, "code");
	finish_payment(rq, rp, &s, &merchant, s.masked_pan, s.brand,
	               code && !strcmp(code, CODE_3DS) ? &APPROVED : &TDS_FAILED);
	fields_wipe(&posted);
	fields_free(&merchant);
	session_free(&s);
}
