/* date.c: proleptic Gregorian day arithmetic (Howard Hinnant's days_from_civil) and ISO formats. */
#include "date.h"

#include <stdio.h>
#include <string.h>

int32_t date_from_civil(int y, unsigned m, unsigned d)
{
	int era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (int32_t)(era * 146097 + (int)doe - 719468);
}

void date_to_civil(int32_t day, int *y, unsigned *m, unsigned *d)
{
	int32_t z = day + 719468;
	int32_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)yoe + era * 400 + (*m <= 2);
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int date_parse(const char *s, int32_t *day)
{
	int y, m, d, yy;
	unsigned mm, dd;

	if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	if (digits(s, 4, &y) || digits(s + 5, 2, &m) || digits(s + 8, 2, &d))
		return -1;
	if (y < 1970 || m < 1 || m > 12 || d < 1 || d > 31)
		return -1;
	*day = date_from_civil(y, (unsigned)m, (unsigned)d);
	date_to_civil(*day, &yy, &mm, &dd); /* rejects 2026-02-30 */
	if (yy != y || (int)mm != m || (int)dd != d)
		return -1;
	return 0;
}

void date_format(int32_t day, char out[DATE_STRLEN])
{
	int y;
	unsigned m, d;

	char tmp[64];

	date_to_civil(day, &y, &m, &d);
	snprintf(tmp, sizeof(tmp), "%04d-%02u-%02u", y % 10000, m % 100, d % 100);
	memcpy(out, tmp, DATE_STRLEN - 1);
	out[DATE_STRLEN - 1] = '\0';
}

int date_weekday(int32_t day)
{
	/* 1970-01-01 was a Thursday (3 when Monday is 0) */
	int w = (int)((day % 7 + 7) % 7);
	return (w + 3) % 7;
}

int32_t date_today_local(void)
{
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	return date_from_civil(tm.tm_year + 1900, (unsigned)tm.tm_mon + 1, (unsigned)tm.tm_mday);
}

int date_parse_hhmm(const char *s, int *minutes)
{
	int h, m;

	if (!s || strlen(s) != 5 || s[2] != ':' || digits(s, 2, &h) || digits(s + 3, 2, &m))
		return -1;
	if (h > 23 || m > 59)
		return -1;
	*minutes = h * 60 + m;
	return 0;
}

void instant_format(int64_t t, char out[INSTANT_STRLEN])
{
	time_t tt = (time_t)t;
	struct tm tm;

	char tmp[96];

	gmtime_r(&tt, &tm);
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02dZ", (tm.tm_year + 1900) % 10000,
	         (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
	         tm.tm_sec % 100);
	memcpy(out, tmp, INSTANT_STRLEN - 1);
	out[INSTANT_STRLEN - 1] = '\0';
}

int64_t instant_now(void)
{
	return (int64_t)time(NULL);
}

int instant_parse(const char *s, int64_t *out)
{
	char day[DATE_STRLEN];
	int32_t d;
	int h, m, sec;

	if (!s || strlen(s) != INSTANT_STRLEN - 1 || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
	    s[19] != 'Z')
		return -1;
	for (int i = 11; i < 19; i++)
		if (i != 13 && i != 16 && (s[i] < '0' || s[i] > '9'))
			return -1;
	memcpy(day, s, 10);
	day[10] = '\0';
	if (date_parse(day, &d) < 0)
		return -1;
	h = (s[11] - '0') * 10 + (s[12] - '0');
	m = (s[14] - '0') * 10 + (s[15] - '0');
	sec = (s[17] - '0') * 10 + (s[18] - '0');
	if (h > 23 || m > 59 || sec > 59)
		return -1;
	*out = (int64_t)d * 86400 + h * 3600 + m * 60 + sec;
	return 0;
}
