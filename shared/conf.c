/* conf.c: value parsers shared by every configuration reader. */
#include "conf.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int conf_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int split_unit(const char *s, char *num, size_t numlen, char *unit)
{
	size_t n = strlen(s);

	if (n == 0 || n >= numlen)
		return -1;
	memcpy(num, s, n + 1);
	*unit = 0;
	if (num[n - 1] < '0' || num[n - 1] > '9') {
		*unit = num[n - 1];
		num[n - 1] = '\0';
	}
	return 0;
}

int conf_parse_duration(const char *s, int64_t *seconds)
{
	char num[32], unit;
	long v;
	int64_t mul;

	if (!s || split_unit(s, num, sizeof(num), &unit) < 0)
		return -1;
	switch (unit) {
	case 0:
	case 's':
		mul = 1;
		break;
	case 'm':
		mul = 60;
		break;
	case 'h':
		mul = 3600;
		break;
	case 'd':
		mul = 86400;
		break;
	default:
		return -1;
	}
	if (conf_parse_long(num, 0, 1000000, &v) < 0)
		return -1;
	*seconds = (int64_t)v * mul;
	return 0;
}

int conf_parse_size(const char *s, size_t *bytes)
{
	char num[32], unit;
	long v;
	size_t mul;

	if (!s || split_unit(s, num, sizeof(num), &unit) < 0)
		return -1;
	switch (unit) {
	case 0:
		mul = 1;
		break;
	case 'k':
	case 'K':
		mul = 1024;
		break;
	case 'm':
	case 'M':
		mul = 1024 * 1024;
		break;
	default:
		return -1;
	}
	if (conf_parse_long(num, 0, 1L << 30, &v) < 0 || (size_t)v > ((size_t)1 << 30) / mul)
		return -1;
	*bytes = (size_t)v * mul;
	return 0;
}

int conf_parse_money(const char *s, int64_t *centimes)
{
	int64_t whole = 0, frac = 0;
	int nd = 0, nf = -1;

	if (!s || !*s)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p == '.') {
			if (nf >= 0 || nd == 0)
				return -1;
			nf = 0;
		} else if (*p >= '0' && *p <= '9') {
			if (nf >= 0) {
				if (++nf > 2)
					return -1;
				frac = frac * 10 + (*p - '0');
			} else {
				if (++nd > 10)
					return -1;
				whole = whole * 10 + (*p - '0');
			}
		} else {
			return -1;
		}
	}
	if (nf == 0 || whole > 1000000000 || (whole == 1000000000 && frac > 0))
		return -1; /* "12.", or more than a billion dirhams */
	if (nf == 1)
		frac *= 10;
	*centimes = whole * 100 + frac;
	return 0;
}

int conf_valid_id(const char *s, size_t maxlen)
{
	size_t n;

	if (!s)
		return 0;
	n = strlen(s);
	if (n == 0 || n > maxlen || s[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	return 1;
}

int conf_parse_bool(const char *s, int *out)
{
	if (!s)
		return -1;
	if (!strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "on") || !strcmp(s, "1")) {
		*out = 1;
		return 0;
	}
	if (!strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "off") || !strcmp(s, "0")) {
		*out = 0;
		return 0;
	}
	return -1;
}

/* --- INI reading with line numbers --- */
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>

struct conf_stream {
	FILE *f;
	struct conf_ctx *ctx;
	conf_handler fn;
};

/* libinih reads lines in pieces of its buffer size (200 bytes in Debian's build): a longer line
 * would be taken as two. Refuse it instead, with its line number. */
static char *conf_reader(char *str, int num, void *stream)
{
	struct conf_stream *cs = stream;
	char *r = fgets(str, num, cs->f);
	size_t n;

	if (!r)
		return NULL;
	cs->ctx->line++;
	n = strlen(r);
	{
		const char *p = r;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '[') {
			cs->ctx->section_seq++;
			cs->ctx->section_line = cs->ctx->line;
		}
	}
	if (n == (size_t)num - 1 && r[n - 1] != '\n' && !feof(cs->f)) {
		conf_error(cs->ctx, 0, "line longer than %d bytes", num - 2);
		return NULL;
	}
	return r;
}

static int conf_dispatch(void *user, const char *section, const char *name, const char *value)
{
	struct conf_stream *cs = user;

	if (cs->ctx->failed)
		return 0;
	return cs->fn(cs->ctx, section, name, value);
}

int conf_error(struct conf_ctx *ctx, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (ctx->failed)
		return 0;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line <= 0)
		line = ctx->line;
	if (line > 0)
		snprintf(ctx->err, ctx->errlen, "%s:%d: %s", ctx->path, line, msg);
	else
		snprintf(ctx->err, ctx->errlen, "%s: %s", ctx->path, msg);
	ctx->failed = 1;
	return 0;
}

int conf_read_file(const char *path, conf_handler fn, void *user, char *err, size_t errlen)
{
	struct conf_ctx ctx = {path, 0, err, errlen, 0, user, 0, 0};
	struct conf_stream cs = {NULL, &ctx, fn};
	int r;

	cs.f = fopen(path, "r");
	if (!cs.f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	r = ini_parse_stream(conf_reader, &cs, conf_dispatch, &cs);
	fclose(cs.f);
	if (ctx.failed)
		return -1;
	if (r != 0) {
		snprintf(err, errlen, "%s:%d: syntax error (expected [section] or name = value)",
		         path, r);
		return -1;
	}
	return 0;
}

int conf_secret_file_ok(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		return -1;
	}
	/* the owner's alone (600), or also the service's own group's to read (640, group = our
	 * group), as docs/operations.md installs a TLS key root:estiva; never anybody else's */
	if ((st.st_mode & 037) || ((st.st_mode & 040) && st.st_gid != getegid())) {
		snprintf(err, errlen,
		         "%s: readable by others (mode %03o, group %u); it holds a secret: chmod "
		         "600 it, or 640 with"
		         " the service's own group",
		         path, (unsigned)(st.st_mode & 0777), (unsigned)st.st_gid);
		return -1;
	}
	return 0;
}

int conf_set_str(struct conf_ctx *ctx, char *dst, size_t dstlen, const char *value)
{
	if ((size_t)snprintf(dst, dstlen, "%s", value) >= dstlen)
		return conf_error(ctx, 0, "value too long");
	return 1;
}

int conf_set_path(struct conf_ctx *ctx, char *dst, size_t dstlen, const char *value)
{
	char dir[4096];
	int n;

	if (value[0] == '/' || value[0] == '\0') {
		n = snprintf(dst, dstlen, "%s", value);
	} else {
		snprintf(dir, sizeof(dir), "%s", ctx->path);
		n = snprintf(dst, dstlen, "%s/%s", dirname(dir), value);
	}
	if (n < 0 || (size_t)n >= dstlen)
		return conf_error(ctx, 0, "path too long");
	return 1;
}

int conf_set_int(struct conf_ctx *ctx, int *dst, const char *name, const char *value, long min,
                 long max)
{
	long v;

	if (conf_parse_long(value, min, max, &v) < 0)
		return conf_error(ctx, 0, "%s must be a whole number from %ld to %ld, not \"%s\"",
		                  name, min, max, value);
	*dst = (int)v;
	return 1;
}

int conf_set_duration(struct conf_ctx *ctx, int64_t *dst, const char *name, const char *value,
                      int64_t min, int64_t max)
{
	int64_t v;

	if (conf_parse_duration(value, &v) < 0 || v < min || (max > 0 && v > max)) {
		if (max > 0)
			return conf_error(ctx, 0,
			                  "%s must be a duration such as 90s, 20m or 2h (from "
			                  "%llds to %llds), not \"%s\"",
			                  name, (long long)min, (long long)max, value);
		return conf_error(
		    ctx, 0,
		    "%s must be a duration such as 90s, 20m or 2h (at least %llds), not \"%s\"",
		    name, (long long)min, value);
	}
	*dst = v;
	return 1;
}
