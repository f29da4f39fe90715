/* form.c: ordered name/value lists, the urlencoded forms browsers and the gateway post, and the
 * escaping for HTML and XML output. Field names are matched ignoring ASCII case, as the gateway
 * treats `TranType`/`trantype` and `okUrl`/`okurl` alike. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "paysim.h"

void fields_init(struct fields *f)
{
	memset(f, 0, sizeof(*f));
}

void fields_free(struct fields *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].name);
		free(f->v[i].value);
	}
	free(f->v);
	memset(f, 0, sizeof(*f));
}

int fields_add(struct fields *f, const char *name, const char *value)
{
	char *n, *v;

	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		struct field *p = realloc(f->v, cap * sizeof(*p));
		if (!p)
			return -1;
		f->v = p;
		f->cap = cap;
	}
	n = strdup(name);
	v = strdup(value);
	if (!n || !v) {
		free(n);
		free(v);
		return -1;
	}
	f->v[f->n].name = n;
	f->v[f->n].value = v;
	f->n++;
	return 0;
}

const char *fields_get(const struct fields *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (!strcasecmp(f->v[i].name, name))
			return f->v[i].value;
	return NULL;
}

int fields_set(struct fields *f, const char *name, const char *value)
{
	for (size_t i = 0; i < f->n; i++) {
		if (!strcasecmp(f->v[i].name, name)) {
			char *v = strdup(value);
			if (!v)
				return -1;
			free(f->v[i].value);
			f->v[i].value = v;
			return 0;
		}
	}
	return fields_add(f, name, value);
}

void fields_remove(struct fields *f, const char *name)
{
	size_t j = 0;

	for (size_t i = 0; i < f->n; i++) {
		if (!strcasecmp(f->v[i].name, name)) {
			free(f->v[i].name);
			free(f->v[i].value);
			continue;
		}
		f->v[j++] = f->v[i];
	}
	f->n = j;
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

/* Decodes s[0..len) into out (at least len + 1 bytes). -1 on a bad escape or a NUL byte. */
static int pct_decode(const char *s, size_t len, char *out, size_t *outlen)
{
	size_t j = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi, lo;
			if (i + 2 >= len)
				return -1;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (c == '\0')
			return -1;
		out[j++] = c;
	}
	out[j] = '\0';
	*outlen = j;
	return 0;
}

int form_parse(const char *body, size_t len, struct fields *out, char *err, size_t errlen)
{
	size_t pos = 0;
	char *name = NULL, *value = NULL;

	fields_init(out);
	while (pos < len) {
		size_t end = pos, eq, nlen, vlen;

		while (end < len && body[end] != '&')
			end++;
		if (end ==
		    pos) { /* "a=1&&b=2": tolerate empty pieces, as browsers never send them */
			pos = end + 1;
			continue;
		}
		for (eq = pos; eq < end && body[eq] != '='; eq++)
			;
		if (out->n >= PAYSIM_FIELDS_MAX) {
			snprintf(err, errlen, "more than %d form fields", PAYSIM_FIELDS_MAX);
			goto fail;
		}
		name = malloc(eq - pos + 1);
		value = malloc(end - (eq < end ? eq + 1 : end) + 1);
		if (!name || !value) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		if (pct_decode(body + pos, eq - pos, name, &nlen) < 0 ||
		    pct_decode(body + (eq < end ? eq + 1 : end), end - (eq < end ? eq + 1 : end),
		               value, &vlen) < 0) {
			snprintf(err, errlen, "malformed form encoding near byte %zu", pos);
			goto fail;
		}
		if (nlen == 0 || nlen > PAYSIM_NAME_MAX) {
			snprintf(err, errlen, "a form field name is empty or longer than %d bytes",
			         PAYSIM_NAME_MAX);
			goto fail;
		}
		if (vlen > PAYSIM_VALUE_MAX) {
			snprintf(err, errlen, "field %.64s is longer than %d bytes", name,
			         PAYSIM_VALUE_MAX);
			goto fail;
		}
		if (fields_get(out, name)) {
			snprintf(err, errlen,
			         "field %.64s is given twice (names are compared ignoring case)",
			         name);
			goto fail;
		}
		if (fields_add(out, name, value) < 0) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		free(name);
		free(value);
		name = value = NULL;
		pos = end + 1;
	}
	return 0;
fail:
	free(name);
	free(value);
	fields_free(out);
	return -1;
}

void url_encode(struct sbuf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			sb_add(out, p, 1);
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			sb_add(out, e, 3);
		}
	}
}

int form_encode(const struct fields *f, struct sbuf *out)
{
	for (size_t i = 0; i < f->n; i++) {
		if (i)
			sb_add(out, "&", 1);
		url_encode(out, f->v[i].name);
		sb_add(out, "=", 1);
		url_encode(out, f->v[i].value);
	}
	return out->failed ? -1 : 0;
}

/* ---- output escaping ---- */

void html_escape(struct sbuf *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			sb_puts(out, "&amp;");
			break;
		case '<':
			sb_puts(out, "&lt;");
			break;
		case '>':
			sb_puts(out, "&gt;");
			break;
		case '"':
			sb_puts(out, "&quot;");
			break;
		case '\'':
			sb_puts(out, "&#39;");
			break;
		default:
			sb_add(out, s, 1);
		}
	}
}

void xml_escape(struct sbuf *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			sb_puts(out, "&amp;");
			break;
		case '<':
			sb_puts(out, "&lt;");
			break;
		case '>':
			sb_puts(out, "&gt;");
			break;
		case '"':
			sb_puts(out, "&quot;");
			break;
		case '\'':
			sb_puts(out, "&apos;");
			break;
		default:
			sb_add(out, s, 1);
		}
	}
}
