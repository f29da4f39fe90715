/* cmi.c: the card gateway's protocol: the ver3 hash over a form (shared/web.c decodes and encodes
 * forms), amounts, and the XML API over libcurl. */
#include "cmi.h"

#include <curl/curl.h>
#include <expat.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conf.h"

/* ---- ver3 ---- */

/* PHP folds to upper case: so "_" (0x5F) sorts after the letters, as the gateway sorts it */
static int fold(int c)
{
	return c >= 'a' && c <= 'z' ? c - 32 : c;
}

static int isdig(int c)
{
	return c >= '0' && c <= '9';
}

int cmi_natcasecmp(const char *a, const char *b)
{
	while (*a && *b) {
		if (isdig((unsigned char)*a) && isdig((unsigned char)*b)) {
			const char *sa, *sb;
			size_t la, lb;
			int c;

			/* leading zeros do not make a number larger */
			while (*a == '0' && isdig((unsigned char)a[1]))
				a++;
			while (*b == '0' && isdig((unsigned char)b[1]))
				b++;
			for (sa = a; isdig((unsigned char)*a); a++)
				;
			for (sb = b; isdig((unsigned char)*b); b++)
				;
			la = (size_t)(a - sa);
			lb = (size_t)(b - sb);
			if (la != lb)
				return la < lb ? -1 : 1;
			c = memcmp(sa, sb, la);
			if (c)
				return c < 0 ? -1 : 1;
			continue;
		}
		if (fold((unsigned char)*a) != fold((unsigned char)*b))
			return fold((unsigned char)*a) < fold((unsigned char)*b) ? -1 : 1;
		a++;
		b++;
	}
	return *a ? 1 : *b ? -1 : 0;
}

static int escape_into(struct buf *b, const char *v)
{
	for (; *v; v++) {
		if ((*v == '\\' || *v == '|') && buf_append(b, "\\", 1) < 0)
			return -1;
		if (buf_append(b, v, 1) < 0)
			return -1;
	}
	return 0;
}

int cmi_hash(const struct form *f, const char *store_key, char out[CMI_HASH_LEN + 1])
{
	int order[FORM_MAX_FIELDS], n = 0, rc = -1;
	unsigned char digest[crypto_hash_sha512_BYTES];
	struct buf b;

	for (int i = 0; i < f->n; i++) {
		if (!strcasecmp(f->names[i], "hash") || !strcasecmp(f->names[i], "encoding"))
			continue;
		order[n++] = i;
	}
	/* insertion sort: stable, and n is small */
	for (int i = 1; i < n; i++) {
		int k = order[i], j = i - 1;
		while (j >= 0 && cmi_natcasecmp(f->names[order[j]], f->names[k]) > 0) {
			order[j + 1] = order[j];
			j--;
		}
		order[j + 1] = k;
	}
	buf_init(&b, 256 * 1024);
	for (int i = 0; i < n; i++)
		if (escape_into(&b, f->values[order[i]]) < 0 || buf_append(&b, "|", 1) < 0)
			goto out;
	if (escape_into(&b, store_key) < 0)
		goto out;
	crypto_hash_sha512(digest, (const unsigned char *)buf_cstr(&b), b.len);
	sodium_bin2base64(out, CMI_HASH_LEN + 1, digest, sizeof(digest),
	                  sodium_base64_VARIANT_ORIGINAL);
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

int cmi_hash_ok(const struct form *f, const char *store_key)
{
	const char *got = form_get(f, "HASH");
	char want[CMI_HASH_LEN + 1];

	if (!got)
		got = form_get(f, "hash");
	if (!got || strlen(got) != CMI_HASH_LEN || cmi_hash(f, store_key, want) < 0)
		return 0;
	return sodium_memcmp(got, want, CMI_HASH_LEN) == 0;
}

void cmi_amount(int64_t centimes, char out[24])
{
	snprintf(out, 24, "%lld.%02lld", (long long)(centimes / 100), (long long)(centimes % 100));
}

int cmi_parse_amount(const char *s, int64_t *centimes)
{
	return conf_parse_money(s, centimes);
}

/* ---- the XML API ---- */

static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct buf *b = userdata;

	return buf_append(b, ptr, size * nmemb) < 0 ? 0 : size * nmemb;
}

static int xml_escape_into(struct buf *b, const char *s)
{
	for (; *s; s++) {
		const char *e = *s == '<'   ? "&lt;"
		                : *s == '>' ? "&gt;"
		                : *s == '&' ? "&amp;"
		                            : NULL;
		if (buf_append(b, e ? e : s, e ? strlen(e) : 1) < 0)
			return -1;
	}
	return 0;
}

/* ---- the gateway's answer (CC5Response), read with expat ---- */

/* The answer's shape: <CC5Response> holds leaf elements and one <Extra>, which holds leaf elements.
 * Nothing deeper, no text outside leaves, no DOCTYPE (so no entities: no "billion laughs"), each
 * field we read at most once and only at its own place: a <Response> inside <Extra> is not the
 * answer's. */
#define CMI_ANSWER_MAX (64 * 1024)

enum { AT_TOP = 1, AT_EXTRA = 2 };

struct answer_field {
	const char *name;
	int where;
	size_t off, len; /* into struct cmi_result */
	int money;       /* an amount: parsed into the int64 at money_off */
	size_t money_off;
};

#define TEXT_FIELD(n, w, m)                                                                        \
	{                                                                                          \
		n, w, offsetof(struct cmi_result, m), sizeof(((struct cmi_result *)0)->m), 0, 0    \
	}
#define MONEY_FIELD(n, m)                                                                          \
	{                                                                                          \
		n, AT_EXTRA, 0, 0, 1, offsetof(struct cmi_result, m)                               \
	}

static const struct answer_field answer_fields[] = {
    TEXT_FIELD("Response", AT_TOP, response),
    TEXT_FIELD("ProcReturnCode", AT_TOP, proc_return_code),
    TEXT_FIELD("ErrMsg", AT_TOP, err_msg),
    TEXT_FIELD("TransId", AT_TOP, trans_id),
    TEXT_FIELD("TRANS_STAT", AT_EXTRA, trans_stat),
    MONEY_FIELD("AUTH_AMT", auth_amount),
    MONEY_FIELD("CAPTURE_AMT", capture_amount),
    MONEY_FIELD("TOTAL_REFUNDED", refunded),
};
#define NFIELDS (sizeof(answer_fields) / sizeof(answer_fields[0]))

struct answer_parse {
	XML_Parser p;
	struct cmi_result *r;
	int depth, in_extra, seen_extra;
	const struct answer_field *field; /* the leaf being read, or NULL */
	unsigned seen;                    /* bit i: answer_fields[i] read */
	char text[256];
	size_t tlen;
	int leaf_open; /* inside a leaf (known or not): text allowed */
	char why[120];
};

static void answer_fail(struct answer_parse *a, const char *why, const char *name)
{
	if (!a->why[0])
		snprintf(a->why, sizeof(a->why), "%s%s%s", why, name ? " " : "", name ? name : "");
	XML_StopParser(a->p, XML_FALSE);
}

static void XMLCALL answer_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct answer_parse *a = ud;

	(void)attrs;
	a->depth++;
	if (a->depth == 1) {
		if (strcmp(name, "CC5Response"))
			answer_fail(a, "the answer is not a CC5Response but", name);
		return;
	}
	if (a->leaf_open) {
		/* a field holds text only; <Extra> is the one container below the root */
		if (!(a->depth == 3 && a->in_extra))
			answer_fail(a, "unexpected element inside a field:", name);
		return;
	}
	if (a->depth == 2 && !strcmp(name, "Extra")) {
		if (a->seen_extra++)
			answer_fail(a, "two elements", "Extra");
		a->in_extra = 1;
		return;
	}
	if (a->depth > 3 || (a->depth == 3 && !a->in_extra)) {
		answer_fail(a, "element too deep:", name);
		return;
	}
	a->leaf_open = 1;
	a->field = NULL;
	a->tlen = 0;
	for (size_t i = 0; i < NFIELDS; i++)
		if (!strcmp(answer_fields[i].name, name) &&
		    answer_fields[i].where == (a->in_extra ? AT_EXTRA : AT_TOP)) {
			if (a->seen & (1u << i)) {
				answer_fail(a, "a field given twice:", name);
				return;
			}
			a->seen |= 1u << i;
			a->field = &answer_fields[i];
		}
}

static void XMLCALL answer_text(void *ud, const XML_Char *s, int len)
{
	struct answer_parse *a = ud;

	if (!a->leaf_open) {
		for (int i = 0; i < len; i++)
			if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') {
				answer_fail(a, "text outside a field", NULL);
				return;
			}
		return;
	}
	if (!a->field)
		return; /* a field we do not read */
	if (a->tlen + (size_t)len >= sizeof(a->text)) {
		answer_fail(a, "a field too long:", a->field->name);
		return;
	}
	memcpy(a->text + a->tlen, s, (size_t)len);
	a->tlen += (size_t)len;
}

static void XMLCALL answer_end(void *ud, const XML_Char *name)
{
	struct answer_parse *a = ud;
	const struct answer_field *f = a->field;

	(void)name;
	if (a->leaf_open && a->depth >= 2) {
		a->leaf_open = 0;
		a->field = NULL;
		if (f) {
			a->text[a->tlen] = '\0';
			if (f->money) {
				int64_t *v = (int64_t *)((char *)a->r + f->money_off);
				if (a->tlen && cmi_parse_amount(a->text, v) < 0)
					answer_fail(a, "not an amount:", f->name);
			} else if (a->tlen >= f->len &&
			           f->off == offsetof(struct cmi_result, err_msg)) {
				memcpy(a->r->err_msg, a->text,
				       f->len - 1); /* a message only: cut, not refused */
				a->r->err_msg[f->len - 1] = '\0';
			} else if (a->tlen >= f->len) {
				answer_fail(a, "a field too long:", f->name);
			} else {
				memcpy((char *)a->r + f->off, a->text, a->tlen + 1);
			}
		}
	} else if (a->depth == 2 && a->in_extra) {
		a->in_extra = 0;
	}
	a->depth--;
}

static void XMLCALL answer_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                                   const XML_Char *pubid, int internal)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)internal;
	answer_fail(ud, "a DOCTYPE in the answer", NULL);
}

int cmi_parse_answer(const char *xml, size_t len, struct cmi_result *r)
{
	struct answer_parse a = {0};
	int status = r->http_status, ok;

	memset(r, 0, sizeof(*r));
	r->http_status = status;
	if (len > CMI_ANSWER_MAX) {
		snprintf(r->err_msg, sizeof(r->err_msg), "gateway answer over %d bytes",
		         CMI_ANSWER_MAX);
		return -1;
	}
	a.p = XML_ParserCreate("UTF-8");
	if (!a.p) {
		snprintf(r->err_msg, sizeof(r->err_msg), "out of memory");
		return -1;
	}
	a.r = r;
	XML_SetUserData(a.p, &a);
	XML_SetElementHandler(a.p, answer_start, answer_end);
	XML_SetCharacterDataHandler(a.p, answer_text);
	XML_SetStartDoctypeDeclHandler(a.p, answer_doctype);
	ok = XML_Parse(a.p, xml, (int)len, XML_TRUE) == XML_STATUS_OK && !a.why[0];
	if (!ok) {
		char why[sizeof(a.why)];
		snprintf(why, sizeof(why), "%s",
		         a.why[0] ? a.why : XML_ErrorString(XML_GetErrorCode(a.p)));
		memset(r, 0, sizeof(*r));
		r->http_status = status;
		snprintf(r->err_msg, sizeof(r->err_msg), "gateway answer refused: %.120s", why);
	} else if (!r->response[0]) {
		ok = 0;
		memset(r, 0, sizeof(*r));
		r->http_status = status;
		snprintf(r->err_msg, sizeof(r->err_msg), "gateway answer without <Response>");
	}
	XML_ParserFree(a.p);
	return ok ? 0 : -1;
}

int cmi_api(const char *url, const char *cafile, long timeout_ms,
            const struct cmi_credentials *cred, const char *type, const char *oid, int64_t total,
            struct cmi_result *r)
{
	struct buf req, resp;
	struct curl_slist *hdr = NULL;
	char amount[24];
	CURL *c = NULL;
	CURLcode cc;
	long status = 0;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	buf_init(&req, 16 * 1024);
	buf_init(&resp, 64 * 1024);
	buf_printf(&req, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CC5Request><Name>");
	xml_escape_into(&req, cred->api_user);
	buf_printf(&req, "</Name><Password>");
	xml_escape_into(&req, cred->api_password);
	buf_printf(&req, "</Password><ClientId>");
	xml_escape_into(&req, cred->client_id);
	buf_printf(&req, "</ClientId>");
	if (type)
		buf_printf(&req, "<Type>%s</Type>", type);
	buf_printf(&req, "<OrderId>");
	xml_escape_into(&req, oid);
	buf_printf(&req, "</OrderId>");
	if (type && !strcmp(type, "Credit") && total > 0) {
		cmi_amount(total, amount);
		buf_printf(&req, "<Total>%s</Total>", amount);
	}
	if (!type)
		buf_printf(&req, "<Extra><ORDERSTATUS>QUERY</ORDERSTATUS></Extra>");
	if (buf_printf(&req, "</CC5Request>") < 0) {
		snprintf(r->err_msg, sizeof(r->err_msg), "request too large");
		goto out;
	}
	c = curl_easy_init();
	hdr = curl_slist_append(NULL, "Content-Type: application/xml; charset=utf-8");
	if (!c || !hdr) {
		snprintf(r->err_msg, sizeof(r->err_msg), "out of memory");
		goto out;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, buf_cstr(&req));
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)req.len);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	if (cafile && *cafile)
		curl_easy_setopt(c, CURLOPT_CAINFO, cafile);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		snprintf(r->err_msg, sizeof(r->err_msg), "gateway unreachable: %s",
		         curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	r->http_status = (int)status;
	if (status != 200) {
		snprintf(r->err_msg, sizeof(r->err_msg), "gateway answered HTTP %ld", status);
		goto out;
	}
	if (cmi_parse_answer(resp.data ? resp.data : "", resp.len, r) < 0)
		goto out;
	rc = 0;
out:
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	buf_free(&req);
	buf_free(&resp);
	return rc;
}
