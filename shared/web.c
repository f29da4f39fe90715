/* web.c: the web layer estiva-server and the gate's status page share (see web.h). */
#include "web.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- HTML ---- */

void web_html_escape(struct buf *b, const char *s)
{
	for (; s && *s; s++) {
		const char *e = *s == '<'    ? "&lt;"
		                : *s == '>'  ? "&gt;"
		                : *s == '&'  ? "&amp;"
		                : *s == '"'  ? "&quot;"
		                : *s == '\'' ? "&#39;"
		                             : NULL;
		buf_append(b, e ? e : s, e ? strlen(e) : 1);
	}
}

/* ---- application/x-www-form-urlencoded ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static char *url_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1);
	size_t k = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			out[k++] = ' ';
		} else if (s[i] == '%') {
			int h, l;
			if (i + 2 >= n)
				goto bad; /* "%" or "%4" at the end */
			h = hexval(s[i + 1]);
			l = hexval(s[i + 2]);
			if (h < 0 || l < 0)
				goto bad;
			out[k++] = (char)(h * 16 + l);
			i += 2;
		} else {
			out[k++] = s[i];
		}
	}
	out[k] = '\0';
	if (strlen(out) != k)
		goto bad; /* an encoded NUL */
	return out;
bad:
	free(out);
	return NULL;
}

int form_add(struct form *f, const char *name, const char *value)
{
	if (f->n >= FORM_MAX_FIELDS || strlen(value) > FORM_MAX_VALUE || form_get(f, name))
		return -1;
	f->names[f->n] = strdup(name);
	f->values[f->n] = strdup(value);
	if (!f->names[f->n] || !f->values[f->n]) {
		free(f->names[f->n]);
		free(f->values[f->n]);
		return -1;
	}
	f->n++;
	return 0;
}

int form_parse(const char *body, size_t len, struct form *f)
{
	size_t i = 0;

	memset(f, 0, sizeof(*f));
	while (i < len) {
		size_t end = i, eq;
		char *name, *value;
		int rc;

		while (end < len && body[end] != '&')
			end++;
		for (eq = i; eq < end && body[eq] != '='; eq++)
			;
		if (end > i) {
			if (eq == i)
				goto bad; /* no name */
			name = url_decode(body + i, eq - i);
			value =
			    url_decode(eq < end ? body + eq + 1 : "", eq < end ? end - eq - 1 : 0);
			rc = name && value ? form_add(f, name, value) : -1;
			free(name);
			free(value);
			if (rc < 0)
				goto bad;
		}
		i = end + 1;
	}
	return 0;
bad:
	form_free(f);
	return -1;
}

const char *form_get(const struct form *f, const char *name)
{
	for (int i = 0; i < f->n; i++)
		if (!strcmp(f->names[i], name))
			return f->values[i];
	return NULL;
}

void form_free(struct form *f)
{
	for (int i = 0; i < f->n; i++) {
		free(f->names[i]);
		free(f->values[i]);
	}
	f->n = 0;
}

char *form_escape(const char *s)
{
	static const char hexd[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = malloc(3 * n + 1), *p = out;

	if (!out)
		return NULL;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			*p++ = (char)c;
		} else {
			*p++ = '%';
			*p++ = hexd[c >> 4];
			*p++ = hexd[c & 15];
		}
	}
	*p = '\0';
	return out;
}

/* ---- security headers ---- */

int web_security_headers(const char *csp, int tls, struct web_header out[WEB_HEADERS_MAX])
{
	int n = 0;

	out[n++] = (struct web_header){"X-Content-Type-Options", "nosniff"};
	out[n++] = (struct web_header){"Referrer-Policy", "no-referrer"};
	out[n++] = (struct web_header){"X-Frame-Options", "DENY"};
	out[n++] = (struct web_header){"Content-Security-Policy", csp};
	if (tls)
		out[n++] = (struct web_header){"Strict-Transport-Security", "max-age=31536000"};
	return n;
}

/* ---- session ids and CSRF tokens ---- */

void web_random_id(char out[WEB_ID_HEX])
{
	unsigned char id[WEB_ID_BYTES];

	randombytes_buf(id, sizeof(id));
	sodium_bin2hex(out, WEB_ID_HEX, id, sizeof(id));
	sodium_memzero(id, sizeof(id));
}

int web_id_key(const char *id, unsigned char key[WEB_ID_KEY])
{
	unsigned char bin[WEB_ID_BYTES];
	size_t n = 0;
	int rc = -1;

	if (!id || strlen(id) != 2 * WEB_ID_BYTES)
		return -1;
	if (sodium_hex2bin(bin, sizeof(bin), id, strlen(id), NULL, &n, NULL) != 0 ||
	    n != sizeof(bin))
		goto out;
	if (crypto_generichash(key, WEB_ID_KEY, bin, sizeof(bin), NULL, 0) != 0)
		goto out;
	rc = 0;
out:
	sodium_memzero(bin, sizeof(bin));
	return rc;
}

int web_cookie(char *out, size_t n, const char *name, const char *value, int64_t max_age,
               int secure)
{
	char age[32] = "";
	int len;

	if (max_age >= 0)
		snprintf(age, sizeof(age), "; Max-Age=%lld", (long long)max_age);
	len = snprintf(out, n, "%s=%s; Path=/; HttpOnly; SameSite=Strict%s%s", name, value, age,
	               secure ? "; Secure" : "");
	if (len < 0 || (size_t)len >= n) {
		if (n)
			out[0] = '\0';
		return -1;
	}
	return 0;
}

int web_token_eq(const char *got, const char *want)
{
	size_t n;

	if (!got || !want)
		return 0;
	n = strlen(want);
	if (!n || strlen(got) != n)
		return 0;
	return sodium_memcmp(got, want, n) == 0;
}

/* ---- failed logins ---- */

int64_t web_login_wait(int failures, int limit, int64_t first, int64_t max, int64_t last,
                       int64_t now)
{
	int64_t delay = first;

	if (failures < limit)
		return 0;
	/* doubling stops at max, so no count of failures can overflow it */
	for (int i = limit; i < failures && delay < max; i++)
		delay *= 2;
	if (delay > max)
		delay = max;
	return last + delay > now ? last + delay - now : 0;
}
