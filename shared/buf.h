/* buf.h: a growable byte buffer with a hard cap, for all untrusted input (after curl's dynbuf). */
#ifndef ESTIVA_BUF_H
#define ESTIVA_BUF_H

#include <stddef.h>

struct buf {
	char *data; /* always NUL-terminated when len > 0 or after buf_cstr() */
	size_t len;
	size_t cap;
	size_t max; /* appending beyond max fails */
};

void buf_init(struct buf *b, size_t max);
/* 0 on success, -1 when the cap would be exceeded or memory is short (the buffer is unchanged). */
int buf_append(struct buf *b, const void *data, size_t len);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *buf_cstr(struct buf *b);
void buf_reset(struct buf *b);
void buf_free(struct buf *b);
/* Hands the data to the caller (free() it); the buffer is empty afterwards. */
char *buf_steal(struct buf *b, size_t *len);

#endif
