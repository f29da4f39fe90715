/* fuzz_qrline: what a QR scanner on a serial line delivers, as the gate reads it (gate/qrline.c):
 * the bytes cut into lines in chunks of any size, each line judged readable or noise, and a
 * readable one decided on as a pass (shared/decide.c). The first input byte sets the chunk size
 * (1..64), so a line split across reads is fuzzed too. Checks: no line is longer than GATE_LINE_MAX
 * or holds CR or LF; a line reported too long was full; no line is reported that the input did not
 * hold. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "gate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	size_t bytes; /* of the lines reported */
};

static void on_line(void *user, const char *line, size_t len, int too_long)
{
	struct seen *s = user;
	struct decide_input in;

	if (len > GATE_LINE_MAX || memchr(line, '\n', len) || memchr(line, '\r', len) ||
	    (too_long && len != GATE_LINE_MAX) || (!too_long && len == 0))
		abort();
	s->bytes += len;
	if (!qr_line_readable(line, len, too_long))
		return;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] > 0x7e)
			abort(); /* judged readable with a byte no pass has */
	memset(&in, 0, sizeof(in));
	in.text = line;
	in.text_len = len;
	fuzz_decide(&in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qr_lines *q;
	struct seen s = {0};
	size_t chunk, at;

	if (size < 1)
		return 0;
	fuzz_keys_init();
	chunk = (size_t)(data[0] % 64) + 1;
	data++;
	size--;
	if (!(q = calloc(1, sizeof(*q))))
		abort();
	for (at = 0; at < size; at += chunk)
		qr_lines_feed(q, (const char *)data + at, size - at < chunk ? size - at : chunk,
		              on_line, &s);
	if (s.bytes > size)
		abort();
	free(q);
	return 0;
}
