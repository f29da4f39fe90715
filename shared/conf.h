/* conf.h: strict parsers for configuration values (numbers, durations, sizes, money, ids).
 * Each returns 0 on success and -1 on malformed or out-of-range input, leaving *out unchanged. */
#ifndef ESTIVA_CONF_H
#define ESTIVA_CONF_H

#include <stddef.h>
#include <stdint.h>

int conf_parse_long(const char *s, long min, long max, long *out);
/* "90s", "20m", "2h", "1d" (a bare number is seconds) */
int conf_parse_duration(const char *s, int64_t *seconds);
/* "65536", "64k", "1m" */
int conf_parse_size(const char *s, size_t *bytes);
/* "250", "250.5", "250.50" MAD to centimes; no sign, at most two decimals, at most 10^9 MAD */
int conf_parse_money(const char *s, int64_t *centimes);
/* [a-z0-9-], 1..maxlen characters, starting with a letter or digit */
int conf_valid_id(const char *s, size_t maxlen);
int conf_parse_bool(const char *s, int *out);

/* INI files with line numbers in every error (libinih underneath). */
struct conf_ctx {
	const char *path;
	int line; /* line being handled */
	char *err;
	size_t errlen;
	int failed;
	void *user;
	int section_seq;  /* counts [section] header lines: a repeated header is a new section */
	int section_line; /* line of the latest [section] header */
};
/* Called for each name = value; return 1 to go on, or conf_error(...) (which returns 0). */
typedef int (*conf_handler)(struct conf_ctx *ctx, const char *section, const char *name,
                            const char *value);
/* Records "path:line: message" (the first error only) and returns 0. line <= 0 means ctx->line. */
int conf_error(struct conf_ctx *ctx, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Setters for conf_handler functions: each stores the value or records "path:line: what is wrong"
 * and returns what the handler returns (1 go on, 0 stop). */
int conf_set_str(struct conf_ctx *ctx, char *dst, size_t dstlen, const char *value);
/* Relative paths are taken from the folder of the file being read. */
int conf_set_path(struct conf_ctx *ctx, char *dst, size_t dstlen, const char *value);
int conf_set_int(struct conf_ctx *ctx, int *dst, const char *name, const char *value, long min,
                 long max);
/* max <= 0: no upper bound */
int conf_set_duration(struct conf_ctx *ctx, int64_t *dst, const char *name, const char *value,
                      int64_t min, int64_t max);
/* 0 when the whole file was read and the handler accepted every line; -1 with err set otherwise. */
int conf_read_file(const char *path, conf_handler fn, void *user, char *err, size_t errlen);

/* A secrets file must be a regular file that only its owner can read or write (mode 0600 or 0400):
 * 0 when it is, else -1 with the reason in err. */
int conf_secret_file_ok(const char *path, char *err, size_t errlen);

#endif
