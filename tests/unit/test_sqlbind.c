/* test_sqlbind.c: checked binds (shared/sqlbind.c): a failed bind makes the statement's next
 * db_step() fail without running it; the failure is the statement's only, and is used up by that
 * step. */
#include "unit_util.h"

#include <sqlite3.h>

#include "log.h"
#include "sqlbind.h"

static int count(sqlite3 *db)
{
	sqlite3_stmt *st;
	int n = -1;

	assert_int_equal(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM t", -1, &st, NULL),
	                 SQLITE_OK);
	if (db_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void test_failed_bind_fails_the_step(void **state)
{
	sqlite3 *db;
	sqlite3_stmt *ins, *other;

	(void)state;
	log_set_level(LOG_ERR + 1);
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(db, "CREATE TABLE t (a INTEGER NOT NULL, b TEXT)", NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "INSERT INTO t(a, b) VALUES (?1, ?2)", -1, &ins, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT 1", -1, &other, NULL), SQLITE_OK);

	/* parameter 3 does not exist: the insert must not run with a missing value */
	assert_int_equal(db_bind_int(ins, 1, 7), SQLITE_OK);
	assert_int_equal(db_bind_text(ins, 3, "x", -1, SQLITE_STATIC), SQLITE_RANGE);
	assert_int_equal(db_step(other), SQLITE_ROW); /* another statement is not affected */
	assert_int_equal(db_step(ins), SQLITE_MISUSE);
	assert_int_equal(count(db), 0);
	/* used up: bound right, the same statement runs */
	sqlite3_reset(ins);
	assert_int_equal(db_bind_int64(ins, 1, 8), SQLITE_OK);
	assert_int_equal(db_bind_text(ins, 2, "ok", -1, SQLITE_STATIC), SQLITE_OK);
	assert_int_equal(db_step(ins), SQLITE_DONE);
	assert_int_equal(count(db), 1);
	sqlite3_reset(ins);
	assert_int_equal(db_bind_null(ins, 0), SQLITE_RANGE);
	assert_int_equal(db_bind_blob(ins, 9, "z", 1, SQLITE_STATIC),
	                 SQLITE_RANGE); /* the first error is kept */
	assert_int_equal(db_step(ins), SQLITE_MISUSE);
	assert_int_equal(count(db), 1);
	sqlite3_finalize(ins);
	sqlite3_finalize(other);
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_failed_bind_fails_the_step)};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
