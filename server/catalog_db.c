/* catalog_db.c: the catalog in the database. estiva-admin stores what the configuration says (units
 * and unit types that left the configuration are kept, inactive, because bookings refer to them);
 * the server loads the active catalog at start. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "server.h"

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if ((x) != SQLITE_OK)                                                              \
			goto fail;                                                                 \
	} while (0)

static int step_done(sqlite3_stmt *st)
{
	int rc = db_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

static int64_t lookup_id(sqlite3 *db, const char *sql, const char *a, int64_t b, const char *c)
{
	sqlite3_stmt *st;
	int64_t id = 0;

	if (!(st = db_stmt(db, sql))) /* sql: a literal, so its address keys the cache */
		return 0;
	if (a)
		db_bind_text(st, 1, a, -1, SQLITE_STATIC);
	else
		db_bind_int64(st, 1, b);
	db_bind_text(st, 2, c, -1, SQLITE_STATIC);
	if (db_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	db_done(st);
	return id;
}

static int store_centre(sqlite3 *db, const struct catalog *cat, struct centre *c)
{
	sqlite3_stmt *st = NULL;
	char d1[DATE_STRLEN], d2[DATE_STRLEN], d3[DATE_STRLEN];

	if (!(st = db_stmt(db,
	                   "INSERT INTO centres(id, name_fr, name_ar, city_fr, city_ar, check_in, "
	                   "check_out, active, number, address_fr, address_ar, phone)"
	                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?9, ?10, ?11) ON "
	                   "CONFLICT(id) DO UPDATE SET"
	                   " name_fr = ?2, name_ar = ?3, city_fr = ?4, city_ar = ?5, check_in = ?6,"
	                   " check_out = ?7, active = 1, number = ?8, address_fr = ?9, address_ar "
	                   "= ?10, phone = ?11")))
		goto fail;
	db_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
	db_bind_text(st, 2, c->name_fr, -1, SQLITE_STATIC);
	db_bind_text(st, 3, c->name_ar, -1, SQLITE_STATIC);
	db_bind_text(st, 4, c->city_fr, -1, SQLITE_STATIC);
	db_bind_text(st, 5, c->city_ar, -1, SQLITE_STATIC);
	db_bind_int(st, 6, c->check_in);
	db_bind_int(st, 7, c->check_out);
	if (c->number)
		db_bind_int(st, 8, c->number);
	else
		db_bind_null(st, 8);
	db_bind_text(st, 9, c->address_fr, -1, SQLITE_STATIC);
	db_bind_text(st, 10, c->address_ar, -1, SQLITE_STATIC);
	db_bind_text(st, 11, c->phone, -1, SQLITE_STATIC);
	if (step_done(st) < 0)
		goto fail;
	db_done(st);
	st = NULL;

	if (!(st = db_stmt(db, "UPDATE units SET active = 0 WHERE unit_type IN (SELECT id FROM "
	                       "unit_types WHERE centre = ?1);")))
		goto fail;
	db_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
	if (step_done(st) < 0)
		goto fail;
	db_done(st);
	if (!(st = db_stmt(db, "UPDATE unit_types SET active = 0 WHERE centre = ?1")))
		goto fail;
	db_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
	if (step_done(st) < 0)
		goto fail;
	db_done(st);

	for (int i = 0; i < c->ntypes; i++) {
		struct unit_type *t = &c->types[i];

		if (!(st = db_stmt(db, "INSERT INTO unit_types(centre, code, name_fr, name_ar, "
		                       "min_guests, max_guests, position, active)"
		                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1) ON "
		                       "CONFLICT(centre, code) DO UPDATE SET"
		                       " name_fr = ?3, name_ar = ?4, min_guests = ?5, max_guests = "
		                       "?6, position = ?7, active = 1")))
			goto fail;
		db_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
		db_bind_text(st, 2, t->id, -1, SQLITE_STATIC);
		db_bind_text(st, 3, t->name_fr, -1, SQLITE_STATIC);
		db_bind_text(st, 4, t->name_ar, -1, SQLITE_STATIC);
		db_bind_int(st, 5, t->min_guests);
		db_bind_int(st, 6, t->max_guests);
		db_bind_int(st, 7, i);
		if (step_done(st) < 0)
			goto fail;
		db_done(st);
		st = NULL;
		t->dbid = lookup_id(db, "SELECT id FROM unit_types WHERE centre = ? AND code = ?",
		                    c->id, 0, t->id);
		if (!t->dbid)
			goto fail;
		free(t->unit_dbids);
		t->unit_dbids = calloc((size_t)t->nunits, sizeof(int64_t));
		if (!t->unit_dbids)
			goto fail;
		if (!(st = db_stmt(
		          db,
		          "INSERT INTO units(unit_type, code, active) VALUES (?1, ?2, 1)"
		          " ON CONFLICT(unit_type, code) DO UPDATE SET active = 1 RETURNING id")))
			goto fail;
		for (int u = 0; u < t->nunits; u++) {
			db_bind_int64(st, 1, t->dbid);
			db_bind_text(st, 2, t->unit_codes[u], -1, SQLITE_STATIC);
			if (db_step(st) != SQLITE_ROW)
				goto fail;
			t->unit_dbids[u] = sqlite3_column_int64(st, 0);
			sqlite3_reset(st);
		}
		db_done(st);
		st = NULL;
	}

	/* seasons: the configuration is the whole truth (their tariffs go with them) */
	if (!(st = db_stmt(db, "DELETE FROM tariffs WHERE unit_type IN (SELECT id FROM unit_types "
	                       "WHERE centre = ?1)")))
		goto fail;
	db_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
	if (step_done(st) < 0)
		goto fail;
	db_done(st);
	if (!(st = db_stmt(db, "DELETE FROM seasons WHERE centre = ?1")))
		goto fail;
	db_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
	if (step_done(st) < 0)
		goto fail;
	db_done(st);
	if (!(st = db_stmt(db, "INSERT INTO seasons(centre, code, kind, first_night, last_night, "
	                       "min_nights, max_nights,"
	                       " rotation_nights, rotation_start) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
	                       "?) RETURNING id")))
		goto fail;
	for (int i = 0; i < c->nseasons; i++) {
		struct season *s = &c->seasons[i];

		date_format(s->first_night, d1);
		date_format(s->last_night, d2);
		db_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
		db_bind_text(st, 2, s->id, -1, SQLITE_STATIC);
		db_bind_text(st, 3, s->kind == SEASON_HIGH ? "high" : "low", -1, SQLITE_STATIC);
		db_bind_text(st, 4, d1, -1, SQLITE_STATIC);
		db_bind_text(st, 5, d2, -1, SQLITE_STATIC);
		db_bind_int(st, 6, s->min_nights);
		db_bind_int(st, 7, s->max_nights);
		db_bind_int(st, 8, s->rotation_nights);
		if (s->kind == SEASON_HIGH) {
			date_format(s->rotation_start, d3);
			db_bind_text(st, 9, d3, -1, SQLITE_STATIC);
		} else {
			db_bind_null(st, 9);
		}
		if (db_step(st) != SQLITE_ROW)
			goto fail;
		s->dbid = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	db_done(st);
	if (!(st = db_stmt(db, "INSERT INTO tariffs(unit_type, season, category, centimes) VALUES "
	                       "(?, ?, ?, ?)")))
		goto fail;
	for (int t = 0; t < c->ntypes; t++)
		for (int s = 0; s < c->nseasons; s++)
			for (int k = 0; k < cat->ncategories; k++) {
				db_bind_int64(st, 1, c->types[t].dbid);
				db_bind_int64(st, 2, c->seasons[s].dbid);
				db_bind_text(st, 3, cat->categories[k].id, -1, SQLITE_STATIC);
				db_bind_int64(st, 4, c->tariff[t][s][k]);
				if (step_done(st) < 0)
					goto fail;
			}
	db_done(st);
	return 0;
fail:
	db_done(st);
	return -1;
}

int catalog_store(sqlite3 *db, struct catalog *cat, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	/* categories that left the configuration stay (members may refer to them) but get position
	 * -1 */
	if (sqlite3_exec(db, "UPDATE categories SET position = -1; UPDATE centres SET active = 0",
	                 NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	if (!(st = db_stmt(
	          db,
	          "INSERT INTO categories(id, name_fr, name_ar, position) VALUES (?1, ?2, ?3, ?4)"
	          " ON CONFLICT(id) DO UPDATE SET name_fr = ?2, name_ar = ?3, position = ?4")))
		goto fail;
	for (int i = 0; i < cat->ncategories; i++) {
		db_bind_text(st, 1, cat->categories[i].id, -1, SQLITE_STATIC);
		db_bind_text(st, 2, cat->categories[i].name_fr, -1, SQLITE_STATIC);
		db_bind_text(st, 3, cat->categories[i].name_ar, -1, SQLITE_STATIC);
		db_bind_int(st, 4, i);
		if (step_done(st) < 0)
			goto fail;
	}
	db_done(st);
	st = NULL;
	for (int i = 0; i < cat->ncentres; i++)
		if (store_centre(db, cat, cat->centres[i]) < 0)
			goto fail;
	if (db_audit(db, "estiva-admin", "catalog.load", "catalog", 0, NULL, NULL) < 0)
		goto fail;
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "storing the catalog: %s", sqlite3_errmsg(db));
	db_done(st);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static void col_copy(char *dst, size_t len, sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	snprintf(dst, len, "%s", s ? (const char *)s : "");
}

static int32_t col_date(sqlite3_stmt *st, int col)
{
	int32_t d = -1;
	const unsigned char *s = sqlite3_column_text(st, col);

	if (s)
		date_parse((const char *)s, &d);
	return d;
}

static int load_centre(sqlite3 *db, const struct catalog *cat, struct centre *c)
{
	sqlite3_stmt *st = NULL, *su = NULL;
	int rc;

	if (!(st = db_stmt(
	          db, "SELECT id, code, name_fr, name_ar, min_guests, max_guests FROM unit_types"
	              " WHERE centre = ? AND active = 1 ORDER BY position, code")))
		goto fail;
	if (!(su = db_stmt(
	          db,
	          "SELECT id, code FROM units WHERE unit_type = ? AND active = 1 ORDER BY code")))
		goto fail;
	db_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
	while ((rc = db_step(st)) == SQLITE_ROW && c->ntypes < MAX_UNIT_TYPES) {
		struct unit_type *t = &c->types[c->ntypes++];

		t->dbid = sqlite3_column_int64(st, 0);
		col_copy(t->id, sizeof(t->id), st, 1);
		col_copy(t->name_fr, sizeof(t->name_fr), st, 2);
		col_copy(t->name_ar, sizeof(t->name_ar), st, 3);
		t->min_guests = sqlite3_column_int(st, 4);
		t->max_guests = sqlite3_column_int(st, 5);
		db_bind_int64(su, 1, t->dbid);
		while (db_step(su) == SQLITE_ROW && t->nunits < MAX_UNITS) {
			if ((t->nunits & 63) == 0) {
				void *p = realloc(t->unit_codes, (size_t)(t->nunits + 64) *
				                                     sizeof(*t->unit_codes));
				void *q = p ? realloc(t->unit_dbids,
				                      (size_t)(t->nunits + 64) * sizeof(int64_t))
				            : NULL;
				if (p)
					t->unit_codes = p;
				if (!q)
					goto fail;
				t->unit_dbids = q;
			}
			t->unit_dbids[t->nunits] = sqlite3_column_int64(su, 0);
			col_copy(t->unit_codes[t->nunits], UNIT_CODE_MAX + 1, su, 1);
			t->nunits++;
		}
		sqlite3_reset(su);
	}
	db_done(st);
	db_done(su);
	su = NULL;
	if (!(st = db_stmt(db,
	                   "SELECT id, code, kind, first_night, last_night, min_nights, "
	                   "max_nights, rotation_nights,"
	                   " rotation_start FROM seasons WHERE centre = ? ORDER BY first_night")))
		goto fail;
	db_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
	while (db_step(st) == SQLITE_ROW && c->nseasons < MAX_SEASONS) {
		struct season *s = &c->seasons[c->nseasons++];

		s->dbid = sqlite3_column_int64(st, 0);
		col_copy(s->id, sizeof(s->id), st, 1);
		s->kind = !strcmp((const char *)sqlite3_column_text(st, 2), "high") ? SEASON_HIGH
		                                                                    : SEASON_LOW;
		s->first_night = col_date(st, 3);
		s->last_night = col_date(st, 4);
		s->min_nights = sqlite3_column_int(st, 5);
		s->max_nights = sqlite3_column_int(st, 6);
		s->rotation_nights = sqlite3_column_int(st, 7);
		s->rotation_start = col_date(st, 8);
	}
	db_done(st);
	if (!(st = db_stmt(db, "SELECT t.unit_type, t.season, t.category, t.centimes FROM tariffs t"
	                       " JOIN unit_types u ON u.id = t.unit_type WHERE u.centre = ?")))
		goto fail;
	db_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
	while (db_step(st) == SQLITE_ROW) {
		int t = -1, s = -1,
		    k = catalog_category(cat, (const char *)sqlite3_column_text(st, 2));

		for (int i = 0; i < c->ntypes; i++)
			if (c->types[i].dbid == sqlite3_column_int64(st, 0))
				t = i;
		for (int i = 0; i < c->nseasons; i++)
			if (c->seasons[i].dbid == sqlite3_column_int64(st, 1))
				s = i;
		if (t >= 0 && s >= 0 && k >= 0)
			c->tariff[t][s][k] = sqlite3_column_int64(st, 3);
	}
	db_done(st);
	return 0;
fail:
	db_done(st);
	db_done(su);
	return -1;
}

int catalog_load(sqlite3 *db, struct catalog *cat, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;

	memset(cat, 0, sizeof(*cat));
	if (!(st = db_stmt(db, "SELECT id, name_fr, name_ar FROM categories WHERE position >= 0 "
	                       "ORDER BY position")))
		goto fail;
	while (db_step(st) == SQLITE_ROW && cat->ncategories < MAX_CATEGORIES) {
		struct category *k = &cat->categories[cat->ncategories++];
		col_copy(k->id, sizeof(k->id), st, 0);
		col_copy(k->name_fr, sizeof(k->name_fr), st, 1);
		col_copy(k->name_ar, sizeof(k->name_ar), st, 2);
	}
	db_done(st);
	if (!(st = db_stmt(
	          db, "SELECT id, name_fr, name_ar, city_fr, city_ar, check_in, "
	              "check_out, COALESCE(number, 0), address_fr, address_ar, phone FROM centres"
	              " WHERE active = 1 ORDER BY id")))
		goto fail;
	while (db_step(st) == SQLITE_ROW && cat->ncentres < MAX_CENTRES) {
		struct centre *c = calloc(1, sizeof(*c));

		if (!c)
			goto fail;
		memset(c->tariff, 0xff, sizeof(c->tariff));
		cat->centres[cat->ncentres++] = c;
		col_copy(c->id, sizeof(c->id), st, 0);
		col_copy(c->name_fr, sizeof(c->name_fr), st, 1);
		col_copy(c->name_ar, sizeof(c->name_ar), st, 2);
		col_copy(c->city_fr, sizeof(c->city_fr), st, 3);
		col_copy(c->city_ar, sizeof(c->city_ar), st, 4);
		c->check_in = sqlite3_column_int(st, 5);
		c->check_out = sqlite3_column_int(st, 6);
		c->number = sqlite3_column_int(st, 7);
		col_copy(c->address_fr, sizeof(c->address_fr), st, 8);
		col_copy(c->address_ar, sizeof(c->address_ar), st, 9);
		col_copy(c->phone, sizeof(c->phone), st, 10);
		if (load_centre(db, cat, c) < 0)
			goto fail;
	}
	db_done(st);
	if (cat->ncategories == 0 || cat->ncentres == 0) {
		snprintf(err, errlen, "the database has no catalog: run estiva-admin init");
		catalog_free(cat);
		return -1;
	}
	return 0;
fail:
	snprintf(err, errlen, "loading the catalog: %s", sqlite3_errmsg(db));
	db_done(st);
	catalog_free(cat);
	return -1;
}
