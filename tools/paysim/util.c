/* util.c: the small helpers every part of the simulator uses: one-line logging, bounded buffers,
 * clocks and the gateway's date format, money in centimes, random identifiers. */
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "paysim.h"

/* One write() per line so that threads do not interleave. */
void log_line(const char *fmt, ...)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n, m;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ paysim ",
	             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	             ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	if ((size_t)(n + m) > sizeof(line) - 2)
		m = (int)sizeof(line) - 2 - n;
	line[n + m] = '\n';
	if (write(STDERR_FILENO, line, (size_t)(n + m + 1)) < 0)
		return;
}

/* ---- bounded buffers ---- */

void sb_init(struct sbuf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

int sb_add(struct sbuf *b, const void *data, size_t len)
{
	size_t need;
	char *p;

	if (b->failed)
		return -1;
	if (len > b->max || b->len > b->max - len) {
		b->failed = 1;
		return -1;
	}
	need = b->len + len + 1;
	if (need > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < need)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p) {
			b->failed = 1;
			return -1;
		}
		b->data = p;
		b->cap = cap;
	}
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int sb_puts(struct sbuf *b, const char *s)
{
	return sb_add(b, s, strlen(s));
}

int sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	int n;

	if (b->failed)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = 1;
		return -1;
	}
	if ((size_t)n < sizeof(small))
		return sb_add(b, small, (size_t)n);
	{
		char *big = malloc((size_t)n + 1);
		int rc;

		if (!big) {
			b->failed = 1;
			return -1;
		}
		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		rc = sb_add(b, big, (size_t)n);
		free(big);
		return rc;
	}
}

const char *sb_str(struct sbuf *b)
{
	return b->data && !b->failed ? b->data : "";
}

void sb_free(struct sbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->failed = 0;
}

char *sb_steal(struct sbuf *b, size_t *len)
{
	char *p;

	if (b->failed) {
		sb_free(b);
		return NULL;
	}
	if (!b->data && sb_add(b, "", 0) < 0)
		return NULL;
	p = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

/* ---- time ---- */

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void gateway_time(int64_t unix_seconds, char out[18])
{
	time_t t = (time_t)unix_seconds;
	struct tm tm;

	localtime_r(&t, &tm);
	if (strftime(out, 18, "%Y%m%d %H:%M:%S", &tm) == 0)
		out[0] = '\0';
}

void iso_time(int64_t unix_seconds, char out[21])
{
	time_t t = (time_t)unix_seconds;
	struct tm tm;

	gmtime_r(&t, &tm);
	if (strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		out[0] = '\0';
}

/* ---- money ---- */

int money_parse(const char *s, int two_decimals, int64_t *centimes)
{
	int64_t units = 0, cents = 0;
	size_t i = 0, ndig = 0, ndec = 0;

	while (s[i] >= '0' && s[i] <= '9') {
		if (++ndig > 10)
			return -1;
		units = units * 10 + (s[i] - '0');
		i++;
	}
	if (!ndig)
		return -1;
	if (s[i] == '.') {
		i++;
		while (s[i] >= '0' && s[i] <= '9') {
			if (++ndec > 2)
				return -1;
			cents = cents * 10 + (s[i] - '0');
			i++;
		}
		if (!ndec)
			return -1;
		if (ndec == 1)
			cents *= 10;
	}
	if (s[i] || (two_decimals && ndec != 2))
		return -1;
	*centimes = units * 100 + cents;
	return 0;
}

void money_format(int64_t centimes, char out[24])
{
	snprintf(out, 24, "%lld.%02lld", (long long)(centimes / 100), (long long)(centimes % 100));
}

int parse_int(const char *s, long min, long max, int *out)
{
	char *end;
	long v;

	if (!s || !*s || *s == ' ' || *s == '+')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

/* ---- randomness and secrets ---- */

void random_chars(char *out, size_t n, const char *alphabet)
{
	size_t k = strlen(alphabet);

	for (size_t i = 0; i < n; i++)
		out[i] = alphabet[randombytes_uniform((uint32_t)k)];
	out[n] = '\0';
}

void new_trans_id(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;
	char tail[11];

	gmtime_r(&t, &tm);
	random_chars(tail, 10, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
	snprintf(out, 32, "%02d%03d%s", tm.tm_year % 100, tm.tm_yday + 1, tail);
}

/* Hash both sides first, so that neither the contents nor the lengths leak through timing. */
int secret_equal(const char *a, const char *b)
{
	unsigned char ha[32], hb[32];

	crypto_generichash(ha, sizeof(ha), (const unsigned char *)a, strlen(a), NULL, 0);
	crypto_generichash(hb, sizeof(hb), (const unsigned char *)b, strlen(b), NULL, 0);
	return sodium_memcmp(ha, hb, sizeof(ha)) == 0 ? 0 : -1;
}
