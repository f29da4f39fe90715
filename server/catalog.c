/* catalog.c: categories and centres (unit types, units, seasons, tariffs): read from the
 * configuration files, stored into the database by estiva-admin, loaded from the database by the
 * server. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "date.h"
#include "server.h"

/* ---- lookups ---- */

int catalog_centre(const struct catalog *cat, const char *id)
{
	for (int i = 0; i < cat->ncentres; i++)
		if (!strcmp(cat->centres[i]->id, id))
			return i;
	return -1;
}

int catalog_category(const struct catalog *cat, const char *id)
{
	for (int i = 0; i < cat->ncategories; i++)
		if (!strcmp(cat->categories[i].id, id))
			return i;
	return -1;
}

int centre_unit_type(const struct centre *c, const char *id)
{
	for (int i = 0; i < c->ntypes; i++)
		if (!strcmp(c->types[i].id, id))
			return i;
	return -1;
}

int centre_season_at(const struct centre *c, int32_t night)
{
	for (int i = 0; i < c->nseasons; i++)
		if (night >= c->seasons[i].first_night && night <= c->seasons[i].last_night)
			return i;
	return -1;
}

int unit_type_unit(const struct unit_type *t, int64_t dbid)
{
	for (int i = 0; i < t->nunits; i++)
		if (t->unit_dbids[i] == dbid)
			return i;
	return -1;
}

void centre_free(struct centre *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->ntypes; i++) {
		free(c->types[i].unit_codes);
		free(c->types[i].unit_dbids);
	}
	free(c);
}

void catalog_free(struct catalog *cat)
{
	for (int i = 0; i < cat->ncentres; i++)
		centre_free(cat->centres[i]);
	memset(cat, 0, sizeof(*cat));
}

static struct centre *centre_new(void)
{
	struct centre *c = calloc(1, sizeof(*c));

	if (c)
		memset(c->tariff, 0xff, sizeof(c->tariff)); /* -1 everywhere */
	return c;
}

static int copy_name(struct conf_ctx *ctx, char *dst, const char *value)
{
	if (!*value)
		return conf_error(ctx, 0, "empty name");
	if (strlen(value) >= NAME_MAX_LEN)
		return conf_error(ctx, 0, "name longer than %d bytes", NAME_MAX_LEN - 1);
	memcpy(dst, value, strlen(value) + 1);
	return 1;
}

/* ---- categories.ini ---- */

struct categories_parse {
	struct catalog *cat;
	int seq; /* section_seq of the section being read */
};

static int categories_line(struct conf_ctx *ctx, const char *section, const char *name,
                           const char *value)
{
	struct categories_parse *cp = ctx->user;
	struct catalog *cat = cp->cat;
	struct category *k;
	const char *id;

	if (strncmp(section, "category ", 9) != 0)
		return conf_error(ctx, 0, "unknown section [%s] (expected [category ID])", section);
	id = section + 9;
	if (!conf_valid_id(id, ID_MAX))
		return conf_error(ctx, 0, "bad category id \"%s\" (use a-z, 0-9 and -)", id);
	if (ctx->section_seq != cp->seq) {
		cp->seq = ctx->section_seq;
		if (catalog_category(cat, id) >= 0)
			return conf_error(ctx, 0, "category \"%s\" defined twice", id);
		if (cat->ncategories >= MAX_CATEGORIES)
			return conf_error(ctx, 0, "more than %d categories", MAX_CATEGORIES);
		k = &cat->categories[cat->ncategories++];
		snprintf(k->id, sizeof(k->id), "%s", id);
	}
	k = &cat->categories[cat->ncategories - 1];
	if (!strcmp(name, "name_fr"))
		return copy_name(ctx, k->name_fr, value);
	if (!strcmp(name, "name_ar"))
		return copy_name(ctx, k->name_ar, value);
	return conf_error(ctx, 0, "unknown setting \"%s\" in [%s]", name, section);
}

int catalog_read_categories(const char *path, struct catalog *cat, char *err, size_t errlen)
{
	struct categories_parse cp = {cat, 0};

	cat->ncategories = 0;
	if (conf_read_file(path, categories_line, &cp, err, errlen) < 0)
		return -1;
	if (cat->ncategories == 0) {
		snprintf(err, errlen, "%s: no [category ID] section", path);
		return -1;
	}
	for (int i = 0; i < cat->ncategories; i++) {
		if (!cat->categories[i].name_fr[0] || !cat->categories[i].name_ar[0]) {
			snprintf(err, errlen, "%s: category \"%s\" needs name_fr and name_ar", path,
			         cat->categories[i].id);
			return -1;
		}
	}
	return 0;
}

/* ---- centre files ---- */

struct tariff_line {
	char key[3 * ID_MAX + 8];
	char value[32];
	int line;
};

struct centre_parse {
	struct centre *c;
	const struct catalog *cat;
	int seq; /* section_seq of the section being read */
	int centre_line;
	int type_line[MAX_UNIT_TYPES];
	int season_line[MAX_SEASONS];
	int type_has_units[MAX_UNIT_TYPES];
	struct tariff_line *tariffs;
	int ntariffs, tcap;
};

static int split_code(const char *s, char *prefix, size_t plen, long *num, int *width)
{
	size_t n = strlen(s), i = n;

	while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9')
		i--;
	if (i == n || i >= plen || n - i > 6)
		return -1;
	memcpy(prefix, s, i);
	prefix[i] = '\0';
	*width = (int)(n - i);
	return conf_parse_long(s + i, 0, 999999, num);
}

static int valid_unit_code(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > UNIT_CODE_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			return 0;
	}
	return 1;
}

static int add_unit(struct conf_ctx *ctx, struct unit_type *t, const char *code)
{
	char(*codes)[UNIT_CODE_MAX + 1];

	if (!valid_unit_code(code))
		return conf_error(ctx, 0,
		                  "bad unit code \"%s\" (letters, digits, - and _, at most %d)",
		                  code, UNIT_CODE_MAX);
	if (t->nunits >= MAX_UNITS)
		return conf_error(ctx, 0, "more than %d units in one unit type", MAX_UNITS);
	for (int i = 0; i < t->nunits; i++)
		if (!strcmp(t->unit_codes[i], code))
			return conf_error(ctx, 0, "unit \"%s\" listed twice", code);
	if ((t->nunits & 63) == 0) {
		codes = realloc(t->unit_codes, (size_t)(t->nunits + 64) * sizeof(*codes));
		if (!codes)
			return conf_error(ctx, 0, "out of memory");
		t->unit_codes = codes;
	}
	snprintf(t->unit_codes[t->nunits++], UNIT_CODE_MAX + 1, "%s", code);
	return 1;
}

static int parse_units(struct conf_ctx *ctx, struct unit_type *t, const char *value)
{
	char list[4096], *save = NULL, *item;

	if (strlen(value) >= sizeof(list))
		return conf_error(ctx, 0, "units list too long");
	memcpy(list, value, strlen(value) + 1);
	for (item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *dash, p1[UNIT_CODE_MAX + 1], p2[UNIT_CODE_MAX + 1], code[UNIT_CODE_MAX + 8];
		long a, b;
		int w1, w2;

		while (*item == ' ' || *item == '\t')
			item++;
		for (char *e = item + strlen(item); e > item && (e[-1] == ' ' || e[-1] == '\t');
		     e--)
			e[-1] = '\0';
		dash = strchr(item, '-');
		if (!dash) {
			if (!add_unit(ctx, t, item))
				return 0;
			continue;
		}
		*dash = '\0';
		if (split_code(item, p1, sizeof(p1), &a, &w1) < 0 ||
		    split_code(dash + 1, p2, sizeof(p2), &b, &w2) < 0 || strcmp(p1, p2) ||
		    w1 != w2 || a > b)
			return conf_error(ctx, 0, "bad unit range \"%s-%s\" (write e.g. B01-B18)",
			                  item, dash + 1);
		for (long n = a; n <= b; n++) {
			snprintf(code, sizeof(code), "%s%0*ld", p1, w1, n);
			if (!add_unit(ctx, t, code))
				return 0;
		}
	}
	if (t->nunits == 0)
		return conf_error(ctx, 0, "no units");
	return 1;
}

static int set_date(struct conf_ctx *ctx, int32_t *dst, const char *name, const char *value)
{
	if (date_parse(value, dst) < 0)
		return conf_error(ctx, 0, "%s must be a date YYYY-MM-DD, not \"%s\"", name, value);
	return 1;
}

static int centre_line(struct conf_ctx *ctx, const char *section, const char *name,
                       const char *value)
{
	struct centre_parse *cp = ctx->user;
	struct centre *c = cp->c;
	int new_section = ctx->section_seq != cp->seq;

	cp->seq = ctx->section_seq;

	if (!strcmp(section, "centre")) {
		if (new_section && cp->centre_line)
			return conf_error(ctx, 0, "[centre] appears twice");
		if (!cp->centre_line)
			cp->centre_line = ctx->line;
		if (!strcmp(name, "id")) {
			if (!conf_valid_id(value, ID_MAX))
				return conf_error(
				    ctx, 0, "bad centre id \"%s\" (use a-z, 0-9 and -)", value);
			snprintf(c->id, sizeof(c->id), "%s", value);
			return 1;
		}
		if (!strcmp(name, "number"))
			return conf_set_int(ctx, &c->number, name, value, 1, 65535);
		if (!strcmp(name, "name_fr"))
			return copy_name(ctx, c->name_fr, value);
		if (!strcmp(name, "name_ar"))
			return copy_name(ctx, c->name_ar, value);
		if (!strcmp(name, "city_fr"))
			return copy_name(ctx, c->city_fr, value);
		if (!strcmp(name, "city_ar"))
			return copy_name(ctx, c->city_ar, value);
		if (!strcmp(name, "address_fr"))
			return copy_name(ctx, c->address_fr, value);
		if (!strcmp(name, "address_ar"))
			return copy_name(ctx, c->address_ar, value);
		if (!strcmp(name, "phone")) {
			for (const char *q = value; *q; q++)
				if (!strchr("+0123456789 ", *q))
					return conf_error(
					    ctx, 0, "phone: digits, spaces and + only, not \"%s\"",
					    value);
			if (strlen(value) >= sizeof(c->phone))
				return conf_error(ctx, 0, "phone: at most %zu characters",
				                  sizeof(c->phone) - 1);
			snprintf(c->phone, sizeof(c->phone), "%s", value);
			return 1;
		}
		if (!strcmp(name, "check_in") || !strcmp(name, "check_out")) {
			int *dst = name[6] == 'i' ? &c->check_in : &c->check_out;
			if (date_parse_hhmm(value, dst) < 0)
				return conf_error(ctx, 0, "%s must be a time HH:MM, not \"%s\"",
				                  name, value);
			return 1;
		}
	} else if (!strncmp(section, "unit_type ", 10)) {
		const char *id = section + 10;
		int i = centre_unit_type(c, id);
		struct unit_type *t;

		if (new_section) {
			if (i >= 0)
				return conf_error(ctx, 0, "unit type \"%s\" defined twice", id);
			if (!conf_valid_id(id, ID_MAX))
				return conf_error(
				    ctx, 0, "bad unit type id \"%s\" (use a-z, 0-9 and -)", id);
			if (c->ntypes >= MAX_UNIT_TYPES)
				return conf_error(ctx, 0, "more than %d unit types",
				                  MAX_UNIT_TYPES);
			i = c->ntypes++;
			snprintf(c->types[i].id, sizeof(c->types[i].id), "%s", id);
			cp->type_line[i] = ctx->line;
		}
		t = &c->types[i];
		if (!strcmp(name, "name_fr"))
			return copy_name(ctx, t->name_fr, value);
		if (!strcmp(name, "name_ar"))
			return copy_name(ctx, t->name_ar, value);
		if (!strcmp(name, "min_guests"))
			return conf_set_int(ctx, &t->min_guests, name, value, 1, MAX_GUESTS);
		if (!strcmp(name, "max_guests"))
			return conf_set_int(ctx, &t->max_guests, name, value, 1, MAX_GUESTS);
		if (!strcmp(name, "units")) {
			if (cp->type_has_units[i]++)
				return conf_error(ctx, 0, "units given twice");
			return parse_units(ctx, t, value);
		}
	} else if (!strncmp(section, "season ", 7)) {
		const char *id = section + 7;
		struct season *s;
		int i = -1;

		for (int k = 0; k < c->nseasons; k++)
			if (!strcmp(c->seasons[k].id, id))
				i = k;
		if (new_section) {
			if (i >= 0)
				return conf_error(ctx, 0, "season \"%s\" defined twice", id);
			if (!conf_valid_id(id, ID_MAX))
				return conf_error(ctx, 0,
				                  "bad season id \"%s\" (use a-z, 0-9 and -)", id);
			if (c->nseasons >= MAX_SEASONS)
				return conf_error(ctx, 0, "more than %d seasons", MAX_SEASONS);
			i = c->nseasons++;
			snprintf(c->seasons[i].id, sizeof(c->seasons[i].id), "%s", id);
			c->seasons[i].kind = -1;
			c->seasons[i].first_night = c->seasons[i].last_night =
			    c->seasons[i].rotation_start = -1;
			cp->season_line[i] = ctx->line;
		}
		s = &c->seasons[i];
		if (!strcmp(name, "kind")) {
			if (!strcmp(value, "low"))
				s->kind = SEASON_LOW;
			else if (!strcmp(value, "high"))
				s->kind = SEASON_HIGH;
			else
				return conf_error(ctx, 0, "kind must be low or high, not \"%s\"",
				                  value);
			return 1;
		}
		if (!strcmp(name, "first_night"))
			return set_date(ctx, &s->first_night, name, value);
		if (!strcmp(name, "last_night"))
			return set_date(ctx, &s->last_night, name, value);
		if (!strcmp(name, "rotation_start"))
			return set_date(ctx, &s->rotation_start, name, value);
		if (!strcmp(name, "min_nights"))
			return conf_set_int(ctx, &s->min_nights, name, value, 1, 90);
		if (!strcmp(name, "max_nights"))
			return conf_set_int(ctx, &s->max_nights, name, value, 1, 90);
		if (!strcmp(name, "rotation_nights"))
			return conf_set_int(ctx, &s->rotation_nights, name, value, 1, 90);
	} else if (!strcmp(section, "tariffs")) {
		struct tariff_line *tl;

		if (cp->ntariffs == cp->tcap) {
			int ncap = cp->tcap ? cp->tcap * 2 : 64;
			tl = realloc(cp->tariffs, (size_t)ncap * sizeof(*tl));
			if (!tl)
				return conf_error(ctx, 0, "out of memory");
			cp->tariffs = tl;
			cp->tcap = ncap;
		}
		tl = &cp->tariffs[cp->ntariffs++];
		if (strlen(name) >= sizeof(tl->key) || strlen(value) >= sizeof(tl->value))
			return conf_error(ctx, 0, "tariff line too long");
		snprintf(tl->key, sizeof(tl->key), "%s", name);
		snprintf(tl->value, sizeof(tl->value), "%s", value);
		tl->line = ctx->line;
		return 1;
	} else {
		return conf_error(ctx, 0,
		                  "unknown section [%s] (expected [centre], [unit_type ID], "
		                  "[season ID] or [tariffs])",
		                  section);
	}
	return conf_error(ctx, 0, "unknown setting \"%s\" in [%s]", name, section);
}

static int centre_tariffs(struct conf_ctx *ctx, struct centre_parse *cp)
{
	struct centre *c = cp->c;

	for (int i = 0; i < cp->ntariffs; i++) {
		struct tariff_line *tl = &cp->tariffs[i];
		char key[sizeof(tl->key)], *season, *category;
		int t, s = -1, k;
		int64_t v;

		memcpy(key, tl->key, sizeof(key));
		season = strchr(key, '.');
		category = season ? strchr(season + 1, '.') : NULL;
		if (!category)
			return conf_error(ctx, tl->line,
			                  "tariff \"%s\" must be UNIT_TYPE.SEASON.CATEGORY",
			                  tl->key);
		*season++ = '\0';
		*category++ = '\0';
		t = centre_unit_type(c, key);
		for (int j = 0; j < c->nseasons; j++)
			if (!strcmp(c->seasons[j].id, season))
				s = j;
		k = catalog_category(cp->cat, category);
		if (t < 0)
			return conf_error(ctx, tl->line, "tariff for unknown unit type \"%s\"",
			                  key);
		if (s < 0)
			return conf_error(ctx, tl->line, "tariff for unknown season \"%s\"",
			                  season);
		if (k < 0)
			return conf_error(ctx, tl->line, "tariff for unknown category \"%s\"",
			                  category);
		if (conf_parse_money(tl->value, &v) < 0)
			return conf_error(
			    ctx, tl->line,
			    "price must be MAD with at most two decimals (e.g. 250.00), not \"%s\"",
			    tl->value);
		if (c->tariff[t][s][k] >= 0)
			return conf_error(ctx, tl->line, "tariff \"%s\" given twice", tl->key);
		c->tariff[t][s][k] = v;
	}
	return 1;
}

static int centre_check(struct conf_ctx *ctx, struct centre_parse *cp)
{
	struct centre *c = cp->c;

	if (!cp->centre_line)
		return conf_error(ctx, 0, "no [centre] section");
	if (!c->id[0] || !c->name_fr[0] || !c->name_ar[0] || !c->city_fr[0] || !c->city_ar[0])
		return conf_error(ctx, cp->centre_line,
		                  "[centre] needs id, name_fr, name_ar, city_fr and city_ar");
	if (c->ntypes == 0)
		return conf_error(ctx, 0, "no [unit_type ID] section");
	if (c->nseasons == 0)
		return conf_error(ctx, 0, "no [season ID] section");
	for (int i = 0; i < c->ntypes; i++) {
		struct unit_type *t = &c->types[i];
		if (!t->name_fr[0] || !t->name_ar[0] || !t->min_guests || !t->max_guests ||
		    !t->nunits)
			return conf_error(ctx, cp->type_line[i],
			                  "unit type \"%s\" needs name_fr, name_ar, min_guests, "
			                  "max_guests and units",
			                  t->id);
		if (t->min_guests > t->max_guests)
			return conf_error(ctx, cp->type_line[i],
			                  "unit type \"%s\": min_guests is above max_guests",
			                  t->id);
		for (int j = 0; j < i; j++)
			for (int u = 0; u < t->nunits; u++)
				for (int v = 0; v < c->types[j].nunits; v++)
					if (!strcmp(t->unit_codes[u], c->types[j].unit_codes[v]))
						return conf_error(
						    ctx, cp->type_line[i],
						    "unit \"%s\" is also in unit type \"%s\"",
						    t->unit_codes[u], c->types[j].id);
	}
	for (int i = 0; i < c->nseasons; i++) {
		struct season *s = &c->seasons[i];
		int line = cp->season_line[i];

		if ((int)s->kind < 0 || s->first_night < 0 || s->last_night < 0)
			return conf_error(ctx, line,
			                  "season \"%s\" needs kind, first_night and last_night",
			                  s->id);
		if (s->last_night < s->first_night)
			return conf_error(ctx, line,
			                  "season \"%s\": last_night is before first_night", s->id);
		if (s->kind == SEASON_LOW) {
			if (!s->min_nights || !s->max_nights)
				return conf_error(
				    ctx, line, "low season \"%s\" needs min_nights and max_nights",
				    s->id);
			if (s->min_nights > s->max_nights)
				return conf_error(ctx, line,
				                  "season \"%s\": min_nights is above max_nights",
				                  s->id);
			if (s->rotation_nights || s->rotation_start >= 0)
				return conf_error(ctx, line, "low season \"%s\" takes no rotation",
				                  s->id);
		} else {
			if (!s->rotation_nights || s->rotation_start < 0)
				return conf_error(
				    ctx, line,
				    "high season \"%s\" needs rotation_nights and rotation_start",
				    s->id);
			if (s->min_nights || s->max_nights)
				return conf_error(
				    ctx, line,
				    "high season \"%s\" takes rotation_nights, not min/max_nights",
				    s->id);
			if (s->rotation_start < s->first_night ||
			    s->rotation_start + s->rotation_nights > s->last_night + 1)
				return conf_error(ctx, line,
				                  "season \"%s\": no rotation fits between "
				                  "first_night and last_night",
				                  s->id);
		}
		for (int j = 0; j < i; j++)
			if (s->first_night <= c->seasons[j].last_night &&
			    c->seasons[j].first_night <= s->last_night)
				return conf_error(ctx, line, "season \"%s\" overlaps season \"%s\"",
				                  s->id, c->seasons[j].id);
	}
	if (!centre_tariffs(ctx, cp))
		return 0;
	for (int t = 0; t < c->ntypes; t++)
		for (int s = 0; s < c->nseasons; s++)
			for (int k = 0; k < cp->cat->ncategories; k++)
				if (c->tariff[t][s][k] < 0)
					return conf_error(ctx, 0, "no tariff %s.%s.%s",
					                  c->types[t].id, c->seasons[s].id,
					                  cp->cat->categories[k].id);
	return 1;
}

int catalog_read_centre(const char *path, const struct catalog *cat, struct centre *c, char *err,
                        size_t errlen)
{
	struct centre_parse cp;
	struct conf_ctx ctx = {path, 0, err, errlen, 0, &cp, 0, 0};
	int rc;

	memset(&cp, 0, sizeof(cp));
	memset(c->tariff, 0xff, sizeof(c->tariff)); /* -1: no tariff yet */
	cp.c = c;
	cp.cat = cat;
	rc = conf_read_file(path, centre_line, &cp, err, errlen);
	if (rc == 0 && !centre_check(&ctx, &cp))
		rc = -1;
	free(cp.tariffs);
	return rc;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int catalog_read_files(const struct config *cfg, struct catalog *cat, char *err, size_t errlen)
{
	char *names[MAX_CENTRES + 1];
	int nnames = 0, rc = -1;
	struct dirent *de;
	DIR *d;

	memset(cat, 0, sizeof(*cat));
	if (catalog_read_categories(cfg->categories_path, cat, err, errlen) < 0)
		return -1;
	d = opendir(cfg->catalog_dir);
	if (!d) {
		snprintf(err, errlen, "%s: cannot open the centres folder", cfg->catalog_dir);
		return -1;
	}
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n < 5 || strcmp(de->d_name + n - 4, ".ini") || de->d_name[0] == '.')
			continue;
		if (nnames == MAX_CENTRES) {
			snprintf(err, errlen, "%s: more than %d centre files", cfg->catalog_dir,
			         MAX_CENTRES);
			goto out;
		}
		names[nnames] = strdup(de->d_name);
		if (!names[nnames]) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		nnames++;
	}
	qsort(names, (size_t)nnames, sizeof(names[0]), by_name);
	if (nnames == 0) {
		snprintf(err, errlen, "%s: no centre file (*.ini)", cfg->catalog_dir);
		goto out;
	}
	for (int i = 0; i < nnames; i++) {
		char path[4400];
		struct centre *c = centre_new();

		if (!c) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		snprintf(path, sizeof(path), "%s/%s", cfg->catalog_dir, names[i]);
		if (catalog_read_centre(path, cat, c, err, errlen) < 0) {
			centre_free(c);
			goto out;
		}
		if (catalog_centre(cat, c->id) >= 0) {
			snprintf(err, errlen, "%s: centre id \"%s\" is used by another file", path,
			         c->id);
			centre_free(c);
			goto out;
		}
		for (int k = 0; c->number && k < cat->ncentres; k++) {
			if (cat->centres[k]->number == c->number) {
				snprintf(err, errlen,
				         "%s: centre number %d is used by centre \"%s\"", path,
				         c->number, cat->centres[k]->id);
				centre_free(c);
				goto out;
			}
		}
		cat->centres[cat->ncentres++] = c;
	}
	rc = 0;
out:
	for (int i = 0; i < nnames; i++)
		free(names[i]);
	closedir(d);
	if (rc < 0)
		catalog_free(cat);
	return rc;
}
