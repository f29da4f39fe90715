/* members.c: the ministry's staff export (CSV) and its all-or-nothing import; password hashing. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "server.h"

#define CSV_COLUMNS 12
static const char *csv_header[CSV_COLUMNS] = {
    "member_number", "cin",   "last_name", "first_name", "last_name_ar", "first_name_ar",
    "email",         "phone", "status",    "category",   "spouse",       "children"};

/* One CSV record (RFC 4180: quotes, doubled quotes, CRLF or LF); *pos advances past it, *line
 * counts the physical lines it spanned. Returns the number of fields, or -1 on a malformed record.
 */
static int csv_record(const char *text, size_t len, size_t *pos, int *line,
                      char fields[][NAME_MAX_LEN * 2], int maxf)
{
	size_t i = *pos;
	int nf = 0, fl = 0, quoted = 0, inq = 0;

	fields[0][0] = '\0';
	for (; i < len; i++) {
		char ch = text[i];

		if (inq) {
			if (ch == '"') {
				if (i + 1 < len && text[i + 1] == '"') {
					i++;
				} else {
					inq = 0;
					continue;
				}
			} else if (ch == '\n') {
				(*line)++;
			}
		} else if (ch == '"') {
			if (fl != 0 || quoted)
				return -1; /* quote in the middle of a field */
			inq = quoted = 1;
			continue;
		} else if (ch == ',') {
			/* fields past maxf are counted, not stored */
			if (++nf < maxf)
				fields[nf][0] = '\0';
			fl = quoted = 0;
			continue;
		} else if (ch == '\r' && i + 1 < len && text[i + 1] == '\n') {
			continue;
		} else if (ch == '\n') {
			i++;
			break;
		} else if (quoted) {
			return -1; /* text after a closing quote */
		}
		if (nf >= maxf)
			continue;
		if (fl + 1 >= NAME_MAX_LEN * 2)
			return -1;
		fields[nf][fl++] = ch;
		fields[nf][fl] = '\0';
	}
	if (inq)
		return -1;
	*pos = i;
	return nf + 1;
}

int text_is_plain(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

static int parse_person(const char *item, char *name, size_t namelen, int *year)
{
	const char *slash = strchr(item, '/');
	size_t n = slash ? (size_t)(slash - item) : strlen(item);
	long y;

	*year = 0;
	/* items may be spread over lines inside a quoted field: trim all blanks around them */
	while (n && strchr(" \t\r\n", item[n - 1]))
		n--;
	while (n && strchr(" \t\r\n", *item)) {
		item++;
		n--;
	}
	if (n == 0 || n >= namelen)
		return -1;
	memcpy(name, item, n);
	name[n] = '\0';
	if (!text_is_plain(name))
		return -1;
	if (slash) {
		if (conf_parse_long(slash + 1, 1900, 2100, &y) < 0)
			return -1;
		*year = (int)y;
	}
	return 0;
}

static int add_household(struct member_row *m, const char *item, const char *relation)
{
	if (m->nhousehold >= MAX_HOUSEHOLD)
		return -1;
	if (parse_person(item, m->household[m->nhousehold].name, NAME_MAX_LEN,
	                 &m->household[m->nhousehold].birth_year) < 0)
		return -1;
	if (!strcmp(relation, "child") && !m->household[m->nhousehold].birth_year)
		return -1; /* a child's birth year decides what the child may book and pay */
	snprintf(m->household[m->nhousehold].relation, sizeof(m->household[0].relation), "%s",
	         relation);
	m->nhousehold++;
	return 0;
}

static int valid_cin(const char *s)
{
	int letters = 0, digits = 0;

	while (*s >= 'A' && *s <= 'Z') {
		letters++;
		s++;
	}
	while (*s >= '0' && *s <= '9') {
		digits++;
		s++;
	}
	return !*s && letters >= 1 && letters <= 2 && digits >= 1 && digits <= 8;
}

static const char *member_check(char f[][NAME_MAX_LEN * 2], const struct catalog *cat,
                                struct member_row *m)
{
	size_t n = strlen(f[0]);
	char list[NAME_MAX_LEN * 2], *save = NULL, *item;

	memset(m, 0, sizeof(*m));
	if (n < 6 || n > 10 || strspn(f[0], "0123456789") != n)
		return "member_number must be 6 to 10 digits";
	if (!valid_cin(f[1]))
		return "cin must be 1 or 2 capital letters then 1 to 8 digits";
	for (int i = 2; i < 8; i++) {
		if (!text_is_plain(f[i]))
			return "control characters in a field";
		if (strlen(f[i]) >= NAME_MAX_LEN)
			return "a field is too long";
	}
	if (!f[2][0] || !f[3][0])
		return "last_name and first_name are required";
	if (!f[4][0] || !f[5][0])
		return "last_name_ar and first_name_ar are required";
	if (!strchr(f[6], '@') || strchr(f[6], ' '))
		return "email is not an e-mail address";
	if (strlen(f[7]) >= sizeof(m->phone) || strspn(f[7], "+0123456789 ") != strlen(f[7]) ||
	    !f[7][0])
		return "phone must be digits, spaces and an optional +";
	if (strcmp(f[8], "active") && strcmp(f[8], "retired"))
		return "status must be active or retired";
	if (catalog_category(cat, f[9]) < 0)
		return "category is not one of categories.ini";
	snprintf(m->number, sizeof(m->number), "%s", f[0]);
	snprintf(m->cin, sizeof(m->cin), "%s", f[1]);
	snprintf(m->last_name, sizeof(m->last_name), "%s", f[2]);
	snprintf(m->first_name, sizeof(m->first_name), "%s", f[3]);
	snprintf(m->last_name_ar, sizeof(m->last_name_ar), "%s", f[4]);
	snprintf(m->first_name_ar, sizeof(m->first_name_ar), "%s", f[5]);
	snprintf(m->email, sizeof(m->email), "%s", f[6]);
	snprintf(m->phone, sizeof(m->phone), "%s", f[7]);
	snprintf(m->status, sizeof(m->status), "%s", f[8]);
	snprintf(m->category, sizeof(m->category), "%s", f[9]);
	if (f[10][0] && add_household(m, f[10], "spouse") < 0)
		return "spouse must be Name or Name/YYYY";
	snprintf(list, sizeof(list), "%s", f[11]);
	for (item = strtok_r(list, ";", &save); item; item = strtok_r(NULL, ";", &save))
		if (add_household(m, item, "child") < 0)
			return "children must be Name/YYYY items separated by ;";
	return NULL;
}

int members_csv_parse(const char *name, const char *text, size_t len, const struct catalog *cat,
                      struct member_row **rows, int *nrows, char *err, size_t errlen)
{
	char(*f)[NAME_MAX_LEN * 2] = malloc(CSV_COLUMNS * sizeof(*f));
	struct member_row *out = NULL;
	size_t pos = 0;
	int line = 1, start, nf, n = 0, cap = 0;
	const char *why;

	*rows = NULL;
	*nrows = 0;
	if (!f) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
		pos = 3; /* a byte-order mark from a spreadsheet */
	start = line;
	nf = csv_record(text, len, &pos, &line, f, CSV_COLUMNS);
	if (nf != CSV_COLUMNS) {
		snprintf(err, errlen,
		         "%s:1: the header must be the %d columns member_number,...,children", name,
		         CSV_COLUMNS);
		goto fail;
	}
	for (int i = 0; i < CSV_COLUMNS; i++) {
		if (strcmp(f[i], csv_header[i])) {
			snprintf(err, errlen, "%s:1: column %d must be \"%s\", not \"%s\"", name,
			         i + 1, csv_header[i], f[i]);
			goto fail;
		}
	}
	while (pos < len) {
		line++;
		start = line;
		nf = csv_record(text, len, &pos, &line, f, CSV_COLUMNS);
		if (nf == 1 && f[0][0] == '\0')
			continue; /* blank line */
		if (nf < 0) {
			snprintf(err, errlen, "%s:%d: malformed CSV (quotes or a field too long)",
			         name, start);
			goto fail;
		}
		if (nf != CSV_COLUMNS) {
			snprintf(err, errlen, "%s:%d: %d fields, expected %d", name, start, nf,
			         CSV_COLUMNS);
			goto fail;
		}
		if (n == cap) {
			struct member_row *p =
			    realloc(out, (size_t)(cap ? cap * 2 : 64) * sizeof(*out));
			if (!p) {
				snprintf(err, errlen, "%s: out of memory", name);
				goto fail;
			}
			out = p;
			cap = cap ? cap * 2 : 64;
		}
		why = member_check(f, cat, &out[n]);
		if (why) {
			snprintf(err, errlen, "%s:%d: %s", name, start, why);
			goto fail;
		}
		for (int i = 0; i < n; i++) {
			if (!strcmp(out[i].number, out[n].number) ||
			    !strcmp(out[i].cin, out[n].cin)) {
				snprintf(err, errlen,
				         "%s:%d: member number or CIN already on an earlier line",
				         name, start);
				goto fail;
			}
		}
		n++;
	}
	if (n == 0) {
		snprintf(err, errlen, "%s: no member rows", name);
		goto fail;
	}
	free(f);
	*rows = out;
	*nrows = n;
	return 0;
fail:
	free(f);
	free(out);
	return -1;
}

int members_import(sqlite3 *db, const struct member_row *rows, int nrows, char *err, size_t errlen)
{
	sqlite3_stmt *up = NULL, *del = NULL, *hh = NULL;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	if (!(up = db_stmt(
	          db,
	          "INSERT INTO members(number, cin, last_name, first_name, last_name_ar, "
	          "first_name_ar,"
	          " email, phone, status, category) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
	          "?10)"
	          " ON CONFLICT(number) DO UPDATE SET cin = ?2, last_name = ?3, first_name = ?4,"
	          " last_name_ar = ?5, first_name_ar = ?6, email = ?7, phone = ?8, status = ?9,"
	          " category = ?10 RETURNING id")) ||
	    !(del = db_stmt(db, "DELETE FROM household WHERE member = ?")) ||
	    !(hh = db_stmt(
	          db,
	          "INSERT INTO household(member, name, relation, birth_year) VALUES (?, ?, ?, ?)")))
		goto fail;
	for (int i = 0; i < nrows; i++) {
		const struct member_row *m = &rows[i];
		const char *v[10] = {m->number,       m->cin,           m->last_name, m->first_name,
		                     m->last_name_ar, m->first_name_ar, m->email,     m->phone,
		                     m->status,       m->category};
		int64_t id;

		for (int k = 0; k < 10; k++)
			db_bind_text(up, k + 1, v[k], -1, SQLITE_STATIC);
		if (db_step(up) != SQLITE_ROW)
			goto fail;
		id = sqlite3_column_int64(up, 0);
		sqlite3_reset(up);
		db_bind_int64(del, 1, id);
		if (db_step(del) != SQLITE_DONE)
			goto fail;
		sqlite3_reset(del);
		for (int h = 0; h < m->nhousehold; h++) {
			db_bind_int64(hh, 1, id);
			db_bind_text(hh, 2, m->household[h].name, -1, SQLITE_STATIC);
			db_bind_text(hh, 3, m->household[h].relation, -1, SQLITE_STATIC);
			if (m->household[h].birth_year)
				db_bind_int(hh, 4, m->household[h].birth_year);
			else
				db_bind_null(hh, 4);
			if (db_step(hh) != SQLITE_DONE)
				goto fail;
			sqlite3_reset(hh);
		}
	}
	if (db_audit(db, "estiva-admin", "members.import", "members", 0, NULL, NULL) < 0 ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	db_done(up);
	db_done(del);
	db_done(hh);
	return 0;
fail:
	snprintf(err, errlen, "import: %s", sqlite3_errmsg(db));
	db_done(up);
	db_done(del);
	db_done(hh);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int password_hash(const char *password, char out[128])
{
	if (crypto_pwhash_STRBYTES > 128)
		return -1;
	return crypto_pwhash_str(out, password, strlen(password), PWHASH_OPSLIMIT,
	                         PWHASH_MEMLIMIT) == 0
	           ? 0
	           : -1;
}
