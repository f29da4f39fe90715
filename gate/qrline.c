/* qrline.c: a QR scanner's byte stream cut into lines, and which lines could be a pass. Pure: no
 * I/O, so that the unit tests and fuzz_qrline run exactly what reader_qr.c runs. */
#include <stddef.h>

#include "gate.h"

void qr_lines_feed(struct qr_lines *q, const char *data, size_t n,
                   void (*fn)(void *user, const char *line, size_t len, int too_long), void *user)
{
	for (size_t i = 0; i < n; i++) {
		char c = data[i];

		if (c == '\n' || c == '\r') {
			if (q->len || q->overflow)
				fn(user, q->line, q->len, q->overflow);
			q->len = 0;
			q->overflow = 0;
			continue;
		}
		if (q->overflow)
			continue;
		if (q->len == GATE_LINE_MAX) {
			q->overflow = 1;
			continue;
		}
		q->line[q->len++] = c;
	}
}

int qr_line_readable(const char *line, size_t len, int too_long)
{
	/* a pass is printable ASCII; anything else (NUL, control bytes, UTF-8) is noise */
	if (too_long)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] > 0x7e)
			return 0;
	return 1;
}
