/* stay.c: the rules of a stay (dates, seasons, rotations, lengths, guests), its price, and the
 * choice of a unit (best fit). Pure functions of the catalog: the booking transaction in booking.c
 * calls them. */
#include "server.h"

enum stay_err stay_check(const struct centre *c, int type, int32_t today, int32_t arrival,
                         int32_t departure, int nguests, int *season)
{
	const struct unit_type *t = &c->types[type];
	const struct season *s;
	int nights = departure - arrival, si;

	if (departure <= arrival)
		return STAY_BAD_DATES;
	if (arrival < today)
		return STAY_PAST_ARRIVAL;
	si = centre_season_at(c, arrival);
	if (si < 0 || centre_season_at(c, departure - 1) < 0)
		return STAY_NO_SEASON;
	s = &c->seasons[si];
	if (departure - 1 > s->last_night) {
		/* seasons may leave gaps between them: a night in no season is "no season" */
		for (int32_t n = s->last_night + 1; n < departure; n++)
			if (centre_season_at(c, n) < 0)
				return STAY_NO_SEASON;
		return STAY_SEASON_SPAN;
	}
	if (s->kind == SEASON_HIGH) {
		/* the last rotation of a season may be shorter: it ends with the season */
		int len = s->rotation_nights;
		if (arrival + len > s->last_night + 1)
			len = s->last_night + 1 - arrival;
		if (arrival < s->rotation_start ||
		    (arrival - s->rotation_start) % s->rotation_nights != 0 || nights != len)
			return STAY_ROTATION;
	} else {
		if (nights < s->min_nights)
			return STAY_TOO_FEW_NIGHTS;
		if (nights > s->max_nights)
			return STAY_TOO_MANY_NIGHTS;
	}
	if (nguests > t->max_guests)
		return STAY_TOO_MANY_GUESTS;
	if (nguests < t->min_guests)
		return STAY_TOO_FEW_GUESTS;
	*season = si;
	return STAY_OK;
}

const char *stay_code(enum stay_err e)
{
	switch (e) {
	case STAY_OK:
		return "ok";
	case STAY_BAD_DATES:
		return "bad_dates";
	case STAY_PAST_ARRIVAL:
		return "past_arrival";
	case STAY_NO_SEASON:
		return "no_season";
	case STAY_SEASON_SPAN:
		return "season_span";
	case STAY_ROTATION:
		return "rotation";
	case STAY_TOO_FEW_NIGHTS:
		return "too_few_nights";
	case STAY_TOO_MANY_NIGHTS:
		return "too_many_nights";
	case STAY_TOO_MANY_GUESTS:
		return "too_many_guests";
	case STAY_TOO_FEW_GUESTS:
		return "too_few_guests";
	}
	return "unknown";
}

const char *stay_strerror(enum stay_err e)
{
	switch (e) {
	case STAY_OK:
		return "the stay is valid";
	case STAY_BAD_DATES:
		return "the departure must be after the arrival";
	case STAY_PAST_ARRIVAL:
		return "the arrival date is in the past";
	case STAY_NO_SEASON:
		return "the centre is not open for booking on some of these nights";
	case STAY_SEASON_SPAN:
		return "a stay must fall within one season";
	case STAY_ROTATION:
		return "in high season stays follow the fixed rotations (arrival day and length)";
	case STAY_TOO_FEW_NIGHTS:
		return "the stay is shorter than this season allows";
	case STAY_TOO_MANY_NIGHTS:
		return "the stay is longer than this season allows";
	case STAY_TOO_MANY_GUESTS:
		return "more guests than this unit type holds";
	case STAY_TOO_FEW_GUESTS:
		return "fewer guests than this unit type requires";
	}
	return "unknown error";
}

int stay_price(const struct centre *c, int type, int season, int category, int32_t arrival,
               int32_t departure, int64_t *centimes)
{
	int64_t per_night;

	if (category < 0 || category >= MAX_CATEGORIES || type < 0 || season < 0)
		return -1;
	per_night = c->tariff[type][season][category];
	if (per_night < 0)
		return -1;
	*centimes = per_night * (int64_t)(departure - arrival);
	return 0;
}

int stay_assign(int nunits, int width, const unsigned char *busy, int off, int len)
{
	int best = -1, best_gap = 0;

	for (int u = 0; u < nunits; u++) {
		const unsigned char *row = busy + (size_t)u * (size_t)width;
		int gap = 0, i;

		for (i = off; i < off + len; i++)
			if (row[i])
				break;
		if (i < off + len)
			continue;
		/* free nights touching the stay on each side: a unit whose hole the stay fills
		 * exactly scores 0 */
		for (i = off - 1; i >= 0 && !row[i]; i--)
			gap++;
		for (i = off + len; i < width && !row[i]; i++)
			gap++;
		if (best < 0 || gap < best_gap) {
			best = u;
			best_gap = gap;
		}
	}
	return best;
}
