/*
 * The database ceiling: bare booking transactions on a fresh SQLite file, one thread, WAL, the
 * server's synchronous setting. Each transaction is what a hold has to do at the least:
 *   BEGIN IMMEDIATE; the overlap query (units of the type busy on a night of the stay, bounded on
 *   both sides of the index as in lesson 5); INSERT into the lowest free unit; COMMIT.
 * The members follow the same calendar walk as in the server run, so the share of sold_out
 * answers, the table's size and the index ranges read are the same.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "bench.h"

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "CREATE TABLE bookings("
    " id INTEGER PRIMARY KEY,"
    " member TEXT NOT NULL,"
    " unit_type TEXT NOT NULL,"
    " unit INTEGER NOT NULL,"
    " arrival TEXT NOT NULL,"
    " departure TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " created_at INTEGER NOT NULL);"
    "CREATE INDEX bookings_overlap ON bookings(unit_type, departure, arrival);";

static const char q_busy[] =
    "SELECT unit FROM bookings WHERE unit_type = ?1 AND departure > ?2 AND departure < ?4"
    " AND arrival < ?3 AND status IN ('held', 'confirmed')";

static const char q_insert[] =
    "INSERT INTO bookings(member, unit_type, unit, arrival, departure, status, created_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5, 'held', ?6)";

static int exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", sql, msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* one booking transaction; *booked = 1 when a unit was free */
static int one_tx(sqlite3 *db, sqlite3_stmt *busy, sqlite3_stmt *ins, const char *member,
                  const char *type, int units, int64_t arr, int64_t dep, unsigned char *taken,
                  int *booked, char *err, size_t errlen)
{
	char a[11], d[11], hi[11];
	int rc, unit = -1, i;

	date_format(arr, a);
	date_format(dep, d);
	date_format(dep + BENCH_MAX_STAY, hi);
	*booked = 0;
	if (exec(db, "BEGIN IMMEDIATE", err, errlen) != 0)
		return -1;
	memset(taken, 0, (size_t)units);
	if (sqlite3_bind_text(busy, 1, type, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(busy, 2, a, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    sqlite3_bind_text(busy, 3, d, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    sqlite3_bind_text(busy, 4, hi, -1, SQLITE_TRANSIENT) != SQLITE_OK)
		goto fail;
	while ((rc = sqlite3_step(busy)) == SQLITE_ROW) {
		int u = sqlite3_column_int(busy, 0);

		if (u >= 0 && u < units)
			taken[u] = 1;
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_reset(busy);
	for (i = 0; i < units; i++)
		if (!taken[i]) {
			unit = i;
			break;
		}
	if (unit >= 0) {
		if (sqlite3_bind_text(ins, 1, member, -1, SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_bind_text(ins, 2, type, -1, SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_bind_int(ins, 3, unit) != SQLITE_OK ||
		    sqlite3_bind_text(ins, 4, a, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
		    sqlite3_bind_text(ins, 5, d, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
		    sqlite3_bind_int64(ins, 6, (sqlite3_int64)time(NULL)) != SQLITE_OK)
			goto fail;
		if (sqlite3_step(ins) != SQLITE_DONE)
			goto fail;
		sqlite3_reset(ins);
		*booked = 1;
	}
	return exec(db, "COMMIT", err, errlen);
fail:
	snprintf(err, errlen, "booking transaction: %s", sqlite3_errmsg(db));
	sqlite3_reset(busy);
	sqlite3_reset(ins);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int sqlite_ceiling_run(struct sqlite_ceiling *c, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *busy = NULL, *ins = NULL;
	struct walker *walkers = NULL;
	char(*names)[16] = NULL;
	unsigned char *taken = NULL;
	struct lat lat = {0};
	char side[1100], type[16] = "";
	uint64_t t0, t, deadline;
	int rc = -1, m = 0, cur_lane = -1, i;

	c->tx = c->booked = c->sold_out = 0;
	snprintf(side, sizeof(side), "%s-wal", c->path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", c->path);
	unlink(side);
	unlink(c->path);
	walkers = calloc((size_t)c->members, sizeof(*walkers));
	names = calloc((size_t)c->members, sizeof(*names));
	taken = malloc((size_t)c->units);
	if (walkers == NULL || names == NULL || taken == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (i = 0; i < c->members; i++) {
		walker_init(&walkers[i], i);
		snprintf(names[i], sizeof(names[i]), "%d", 80000001 + i);
	}
	if (sqlite3_open_v2(c->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", c->path, db ? sqlite3_errmsg(db) : "cannot open");
		goto out;
	}
	if (exec(db, schema, err, errlen) != 0 ||
	    exec(db, c->full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", err,
	         errlen) != 0 ||
	    sqlite3_busy_timeout(db, 5000) != SQLITE_OK)
		goto out;
	if (sqlite3_prepare_v2(db, q_busy, -1, &busy, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, q_insert, -1, &ins, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "prepare: %s", sqlite3_errmsg(db));
		goto out;
	}

	t0 = now_us();
	deadline = t0 + (uint64_t)(c->seconds * 1e6);
	t = t0;
	for (;;) {
		int lane, off, booked, tries;
		uint64_t s;

		if (c->max_tx > 0 ? c->tx >= (uint64_t)c->max_tx : t >= deadline)
			break;
		/* round robin over members; lanes are unlimited here, so walker_next never fails */
		for (tries = 0; walker_next(&walkers[m], &c->walk, &lane, &off) != 0; tries++) {
			m = (m + 1) % c->members;
			if (tries > c->members)
				goto done;
		}
		if (lane != cur_lane) {
			snprintf(type, sizeof(type), "t%d", lane + 1);
			cur_lane = lane;
		}
		s = now_us();
		if (one_tx(db, busy, ins, names[m], type, c->units, c->first_day + off,
		           c->first_day + off + c->walk.nights, taken, &booked, err, errlen) != 0)
			goto out;
		t = now_us();
		if (lat_add(&lat, t - s) != 0) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		c->tx++;
		if (booked)
			c->booked++;
		else
			c->sold_out++;
		m = (m + 1) % c->members;
	}
done:
	c->elapsed = (double)(t - t0) / 1e6;
	c->p50_ms = lat_pct_ms(&lat, 50);
	c->p99_ms = lat_pct_ms(&lat, 99);
	rc = 0;
out:
	sqlite3_finalize(busy);
	sqlite3_finalize(ins);
	if (db != NULL && sqlite3_close(db) != SQLITE_OK && rc == 0) {
		snprintf(err, errlen, "close: %s", sqlite3_errmsg(db));
		rc = -1;
	}
	lat_free(&lat);
	free(taken);
	free(names);
	free(walkers);
	return rc;
}
