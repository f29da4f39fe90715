/* password.c: what a password must be before it is hashed, and setting one (which ends the
 * account's sessions). One rule for every way a password is set: estiva-admin set-password and
 * add-user, an activation or reset link, a member changing their own (account.c). */
#include <sqlite3.h>
#include <string.h>
#include <strings.h>

#include "server.h"

extern const char *const common_passwords[];
extern const size_t common_passwords_n;

/* code points in a UTF-8 string (continuation bytes not counted) */
static size_t characters(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

const char *password_refused(const char *pw, size_t len, const char *account)
{
	if (len == 0)
		return "the password is empty: type one of at least 10 characters";
	if (len > PASSWORD_MAX)
		return "the password is longer than 1023 bytes; nothing was cut: choose a shorter "
		       "one";
	if (memchr(pw, '\0', len))
		return "the password contains a NUL byte";
	if (characters(pw, len) < PASSWORD_MIN)
		return "the password must have at least 10 characters";
	if (account && !strcasecmp(pw, account))
		return "the password must not be the account's number or name";
	for (size_t i = 0; i < common_passwords_n; i++)
		if (!strcasecmp(pw, common_passwords[i]))
			return "the password is one of the 10,000 most common ones: choose another";
	return NULL;
}

int account_set_password(sqlite3 *db, const char *account, const char *hash)
{
	return account_set_password_except(db, account, hash, NULL);
}

int account_set_password_except(sqlite3 *db, const char *account, const char *hash,
                                const unsigned char *keep)
{
	static const char *const sql[] = {
	    "UPDATE members SET password_hash = ?2 WHERE number = ?1",
	    "UPDATE users SET password_hash = ?2 WHERE name = ?1",
	};
	static const char *const end[] = {
	    "DELETE FROM sessions WHERE member = (SELECT id FROM members WHERE number = ?1)"
	    " AND key IS NOT ?2",
	    "DELETE FROM sessions WHERE user = (SELECT id FROM users WHERE name = ?1)"
	    " AND key IS NOT ?2",
	};

	for (int k = 0; k < 2; k++) {
		sqlite3_stmt *st;
		int rc, changed;

		if (!(st = db_stmt(db, sql[k])))
			return -1;
		db_bind_text(st, 1, account, -1, SQLITE_STATIC);
		db_bind_text(st, 2, hash, -1, SQLITE_STATIC);
		rc = db_step(st);
		db_done(st);
		if (rc != SQLITE_DONE)
			return -1;
		changed = sqlite3_changes(db);
		if (!changed)
			continue;
		/* a new password ends every session opened with the old one */
		if (!(st = db_stmt(db, end[k])))
			return -1;
		db_bind_text(st, 1, account, -1, SQLITE_STATIC);
		if (keep)
			db_bind_blob(st, 2, keep, 32, SQLITE_STATIC);
		else
			db_bind_null(st, 2);
		rc = db_step(st);
		db_done(st);
		return rc == SQLITE_DONE ? 1 : -1;
	}
	return 0;
}
