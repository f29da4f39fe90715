/* xml.c: a small strict reader for the flat XML of the gateway's API (CC5Request). It accepts what
 * merchants send and refuses the rest loudly: one root <CC5Request>, children with text only, and
 * one more level under <Extra>. No attributes, comments, CDATA, DOCTYPE or processing instructions
 * (apart from the <?xml ...?> declaration); the body is already capped by the HTTP layer. */
#include <stdio.h>
#include <string.h>

#include "paysim.h"

struct xp {
	const char *s;
	size_t len, pos;
	char *err;
	size_t errlen;
};

static int fail(struct xp *x, const char *what)
{
	snprintf(x->err, x->errlen, "malformed XML at byte %zu: %s", x->pos, what);
	return -1;
}

static void skip_ws(struct xp *x)
{
	while (x->pos < x->len && (x->s[x->pos] == ' ' || x->s[x->pos] == '\t' ||
	                           x->s[x->pos] == '\n' || x->s[x->pos] == '\r'))
		x->pos++;
}

static int starts(struct xp *x, const char *lit)
{
	size_t n = strlen(lit);

	return x->len - x->pos >= n && !memcmp(x->s + x->pos, lit, n);
}

static int name_char(char c, int first)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_')
		return 1;
	return !first && ((c >= '0' && c <= '9') || c == '.' || c == '-');
}

static int read_name(struct xp *x, char name[PAYSIM_NAME_MAX + 1])
{
	size_t n = 0;

	while (x->pos < x->len && name_char(x->s[x->pos], n == 0)) {
		if (n == PAYSIM_NAME_MAX)
			return fail(x, "element name too long");
		name[n++] = x->s[x->pos++];
	}
	name[n] = '\0';
	return n ? 0 : fail(x, "expected an element name");
}

/* "<name>" or "<name/>"; *empty tells which */
static int open_tag(struct xp *x, char name[PAYSIM_NAME_MAX + 1], int *empty)
{
	if (starts(x, "<!") || starts(x, "<?"))
		return fail(
		    x, "comments, CDATA, DOCTYPE and processing instructions are not accepted");
	if (!starts(x, "<"))
		return fail(x, "expected '<'");
	x->pos++;
	if (read_name(x, name) < 0)
		return -1;
	skip_ws(x);
	if (starts(x, "/>")) {
		x->pos += 2;
		*empty = 1;
		return 0;
	}
	if (!starts(x, ">"))
		return fail(x, "attributes are not accepted");
	x->pos++;
	*empty = 0;
	return 0;
}

static int close_tag(struct xp *x, const char *name)
{
	char got[PAYSIM_NAME_MAX + 1];

	if (!starts(x, "</"))
		return fail(x, "expected a closing tag");
	x->pos += 2;
	if (read_name(x, got) < 0)
		return -1;
	if (strcmp(got, name))
		return fail(x, "closing tag does not match its opening tag");
	skip_ws(x);
	if (!starts(x, ">"))
		return fail(x, "expected '>'");
	x->pos++;
	return 0;
}

static void put_utf8(struct sbuf *out, unsigned long cp)
{
	unsigned char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xC0 | (cp >> 6));
		b[1] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xE0 | (cp >> 12));
		b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xF0 | (cp >> 18));
		b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
		b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		b[3] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	sb_add(out, b, n);
}

/* At '&': one of the five named entities or a character reference. */
static int entity(struct xp *x, struct sbuf *out)
{
	static const struct {
		const char *name, *text;
	} named[] = {
	    {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}};
	unsigned long cp = 0;
	int digits = 0, hex = 0;

	for (size_t k = 0; k < sizeof(named) / sizeof(named[0]); k++) {
		if (starts(x, named[k].name)) {
			x->pos += strlen(named[k].name);
			sb_puts(out, named[k].text);
			return 0;
		}
	}
	if (!starts(x, "&#"))
		return fail(x, "unknown entity");
	x->pos += 2;
	if (starts(x, "x")) {
		hex = 1;
		x->pos++;
	}
	for (; x->pos < x->len && x->s[x->pos] != ';'; x->pos++) {
		char c = x->s[x->pos];
		int v;

		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (hex && c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else if (hex && c >= 'A' && c <= 'F')
			v = c - 'A' + 10;
		else
			return fail(x, "bad character reference");
		if (++digits > 8)
			return fail(x, "character reference too long");
		cp = cp * (hex ? 16 : 10) + (unsigned long)v;
	}
	if (!digits || x->pos >= x->len)
		return fail(x, "bad character reference");
	x->pos++; /* ';' */
	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return fail(x, "character reference out of range");
	put_utf8(out, cp);
	return 0;
}

/* Text up to the next '<', entities decoded. */
static int text(struct xp *x, struct sbuf *out)
{
	while (x->pos < x->len && x->s[x->pos] != '<') {
		unsigned char c = (unsigned char)x->s[x->pos];

		if (c == '&') {
			if (entity(x, out) < 0)
				return -1;
			continue;
		}
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
			return fail(x, "control character in text");
		sb_add(out, &c, 1);
		x->pos++;
	}
	if (out->failed)
		return fail(x, "a value is too long");
	return 0;
}

static int add(struct xp *x, struct fields *f, size_t *count, const char *name, const char *value)
{
	if (++*count > PAYSIM_FIELDS_MAX)
		return fail(x, "too many elements");
	if (fields_get(f, name))
		return fail(x, "an element is given twice");
	if (fields_add(f, name, value) < 0)
		return fail(x, "out of memory");
	return 0;
}

/* <name>text</name> or <name/>, after its opening tag was read */
static int leaf(struct xp *x, const char *name, int empty, struct fields *f, size_t *count)
{
	struct sbuf v;
	int rc = -1;

	sb_init(&v, PAYSIM_VALUE_MAX);
	if (!empty) {
		if (text(x, &v) < 0)
			goto out;
		if (!starts(x, "</")) {
			fail(x, "only <Extra> may hold other elements");
			goto out;
		}
		if (close_tag(x, name) < 0)
			goto out;
	}
	rc = add(x, f, count, name, sb_str(&v));
out:
	sb_free(&v);
	return rc;
}

int cc5_parse(const char *xml, size_t len, struct fields *top, struct fields *extra, char *err,
              size_t errlen)
{
	struct xp x = {xml, len, 0, err, errlen};
	char name[PAYSIM_NAME_MAX + 1];
	size_t count = 0;
	int empty;

	fields_init(top);
	fields_init(extra);
	if (starts(&x, "\xEF\xBB\xBF"))
		x.pos += 3;
	skip_ws(&x);
	if (starts(&x, "<?xml")) {
		const char *end = NULL;
		for (size_t k = x.pos; k + 1 < len && k < x.pos + 200; k++) {
			if (xml[k] == '?' && xml[k + 1] == '>') {
				end = xml + k;
				break;
			}
		}
		if (!end) {
			fail(&x, "unterminated XML declaration");
			goto fail;
		}
		x.pos = (size_t)(end - xml) + 2;
		skip_ws(&x);
	}
	if (open_tag(&x, name, &empty) < 0)
		goto fail;
	if (strcmp(name, "CC5Request") || empty) {
		fail(&x, "the root element must be <CC5Request>");
		goto fail;
	}
	for (;;) {
		skip_ws(&x);
		if (starts(&x, "</")) {
			if (close_tag(&x, "CC5Request") < 0)
				goto fail;
			break;
		}
		if (open_tag(&x, name, &empty) < 0)
			goto fail;
		if (!strcmp(name, "Extra")) {
			if (fields_get(top, "Extra")) {
				fail(&x, "<Extra> is given twice");
				goto fail;
			}
			if (add(&x, top, &count, "Extra", "") < 0)
				goto fail;
			while (!empty) {
				skip_ws(&x);
				if (starts(&x, "</")) {
					if (close_tag(&x, "Extra") < 0)
						goto fail;
					break;
				}
				if (open_tag(&x, name, &empty) < 0 ||
				    leaf(&x, name, empty, extra, &count) < 0)
					goto fail;
				empty = 0;
			}
		} else if (leaf(&x, name, empty, top, &count) < 0) {
			goto fail;
		}
	}
	skip_ws(&x);
	if (x.pos != len) {
		fail(&x, "content after </CC5Request>");
		goto fail;
	}
	return 0;
fail:
	fields_free(top);
	fields_free(extra);
	return -1;
}
