/* sqlbind.h: checked SQLite binds for both programs. A bind that fails (an index the statement does
 * not have, a value too large, out of memory) is logged and remembered; the next db_step() of that
 * statement then fails with it instead of running with a missing parameter. So every bind is
 * checked where its statement is: the caller already handles a failed step. Same arguments as
 * sqlite3_bind_*. */
#ifndef ESTIVA_SQLBIND_H
#define ESTIVA_SQLBIND_H

#include <sqlite3.h>
#include <stdint.h>

int db_bind_int(sqlite3_stmt *st, int i, int v);
int db_bind_int64(sqlite3_stmt *st, int i, sqlite3_int64 v);
int db_bind_text(sqlite3_stmt *st, int i, const char *s, int n, void (*destructor)(void *));
int db_bind_blob(sqlite3_stmt *st, int i, const void *p, int n, void (*destructor)(void *));
int db_bind_null(sqlite3_stmt *st, int i);
/* sqlite3_step(), or the error of a failed bind since the statement's last step (then nothing
 * runs). */
int db_step(sqlite3_stmt *st);

#endif
