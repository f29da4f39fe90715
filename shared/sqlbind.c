/* sqlbind.c: see sqlbind.h. The failure is kept per thread (a statement is used by one thread at a
 * time), with the statement and its SQL text, so a later statement at the same address is not taken
 * for it. */
#include "sqlbind.h"

#include <stddef.h>

#include "log.h"

static _Thread_local sqlite3_stmt *failed;
static _Thread_local const char *failed_sql;
static _Thread_local int failed_rc;

static int check(sqlite3_stmt *st, int i, int rc)
{
	if (rc != SQLITE_OK && !(failed == st && failed_sql == sqlite3_sql(st))) {
		log_err("database: binding parameter %d of \"%.80s\": %s", i, sqlite3_sql(st),
		        sqlite3_errstr(rc));
		failed = st;
		failed_sql = sqlite3_sql(st);
		failed_rc = rc;
	}
	return rc;
}

int db_bind_int(sqlite3_stmt *st, int i, int v)
{
	return check(st, i, sqlite3_bind_int(st, i, v));
}

int db_bind_int64(sqlite3_stmt *st, int i, sqlite3_int64 v)
{
	return check(st, i, sqlite3_bind_int64(st, i, v));
}

int db_bind_text(sqlite3_stmt *st, int i, const char *s, int n, void (*destructor)(void *))
{
	return check(st, i, sqlite3_bind_text(st, i, s, n, destructor));
}

int db_bind_blob(sqlite3_stmt *st, int i, const void *p, int n, void (*destructor)(void *))
{
	return check(st, i, sqlite3_bind_blob(st, i, p, n, destructor));
}

int db_bind_null(sqlite3_stmt *st, int i)
{
	return check(st, i, sqlite3_bind_null(st, i));
}

int db_step(sqlite3_stmt *st)
{
	if (st && failed == st && failed_sql == sqlite3_sql(st)) {
		int rc = failed_rc;

		failed = NULL;
		failed_sql = NULL;
		return rc == SQLITE_RANGE ? SQLITE_MISUSE : rc;
	}
	return sqlite3_step(st);
}
