/* date.h: civil dates as day numbers (days since 1970-01-01) and UTC instants.
 * A "night" is named by the date of its evening: a stay from arrival A to departure D has the
 * nights A, A+1, ..., D-1. */
#ifndef ESTIVA_DATE_H
#define ESTIVA_DATE_H

#include <stdint.h>
#include <time.h>

#define DATE_STRLEN 11    /* "YYYY-MM-DD" + NUL */
#define INSTANT_STRLEN 21 /* "YYYY-MM-DDTHH:MM:SSZ" + NUL */

int32_t date_from_civil(int y, unsigned m, unsigned d);
void date_to_civil(int32_t day, int *y, unsigned *m, unsigned *d);
/* Strict "YYYY-MM-DD" with a real calendar date in years 1970..9999: 0, else -1. */
int date_parse(const char *s, int32_t *day);
void date_format(int32_t day, char out[DATE_STRLEN]);
/* 0 = Monday ... 6 = Sunday */
int date_weekday(int32_t day);
/* Today's date in the process's local time zone (TZ). */
int32_t date_today_local(void);
/* "HH:MM" to minutes after midnight: 0, else -1. */
int date_parse_hhmm(const char *s, int *minutes);
void instant_format(int64_t t, char out[INSTANT_STRLEN]);
/* The one instant format of the sync protocol and the API: strict "YYYY-MM-DDTHH:MM:SSZ" (UTC), a
 * real calendar date of 1970..9999, no fraction, no second 60: 0 and *out (seconds since the
 * epoch), or -1. */
int instant_parse(const char *s, int64_t *out);
int64_t instant_now(void);

#endif
