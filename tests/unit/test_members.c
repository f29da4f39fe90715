/* test_members.c: the ministry's staff export (server/members.c): parsing the CSV with its line
 * numbers, and the all-or-nothing import into a real SQLite database made by db_open, db_migrate
 * and catalog_store. */
#include "unit_util.h"

#include <sodium.h>
#include <sqlite3.h>

#include "server.h"

#define HEADER                                                                                     \
	"member_number,cin,last_name,first_name,last_name_ar,first_name_ar,email,phone,status,"    \
	"category,spouse,children"
/* Arabic names */
#define AR_BENALI "\xd8\xa8\xd9\x86\xd8\xb9\xd9\x84\xd9\x8a"
#define AR_FATIMA "\xd9\x81\xd8\xa7\xd8\xb7\xd9\x85\xd8\xa9"
#define AR_OMAR "\xd8\xb9\xd9\x85\xd8\xb1"

/* a good row, to build files from: number, CIN, then the rest */
#define ROW(number, cin, rest) number "," cin "," rest
#define PLAIN "Alaoui,Omar," AR_BENALI "," AR_OMAR ",o.alaoui@example.ma,0600000002,active,cat-a,,"

static void make_catalog(struct catalog *cat)
{
	memset(cat, 0, sizeof(*cat));
	cat->ncategories = 2;
	snprintf(cat->categories[0].id, sizeof(cat->categories[0].id), "cat-a");
	snprintf(cat->categories[0].name_fr, sizeof(cat->categories[0].name_fr), "Echelles 1 a 6");
	snprintf(cat->categories[0].name_ar, sizeof(cat->categories[0].name_ar), "1-6");
	snprintf(cat->categories[1].id, sizeof(cat->categories[1].id), "retired");
	snprintf(cat->categories[1].name_fr, sizeof(cat->categories[1].name_fr), "Retraites");
	snprintf(cat->categories[1].name_ar, sizeof(cat->categories[1].name_ar), "retired");
}

static int parse(const char *text, struct member_row **rows, int *nrows, char *err, size_t errlen)
{
	struct catalog cat;

	make_catalog(&cat);
	return members_csv_parse("members.csv", text, strlen(text), &cat, rows, nrows, err, errlen);
}

/* ---- members_csv_parse: a good file ---- */

static void test_csv_good(void **state)
{
	/* a byte-order mark, CRLF line ends, a quoted field with a comma and a doubled quote, a
	 * household, a quoted field over two lines in a child's name, and blank lines at the end */
	static const char text[] =
	    "\xEF\xBB\xBF" HEADER "\r\n"
	    "100001,AB12345,\"Benali, dite \"\"Nana\"\"\",Fatima," AR_BENALI "," AR_FATIMA
	    ",f.benali@example.ma,+212 600 "
	    "000001,active,cat-a,Karim/1980,Sara/2010;Youssef/2014\r\n"
	    "1000002,X1,Alaoui,Omar," AR_BENALI "," AR_OMAR
	    ",o@example.ma,0600000002,retired,retired,Amina,\r\n"
	    "1234567890,Z12345678,\"El "
	    "Idrissi\",Ali,a,b,ali@example.ma,0600000003,active,cat-a,,\"Lina/2016; Adam/2019\"\r\n"
	    "\r\n"
	    "\r\n";
	struct member_row *rows = NULL;
	int nrows = -1;
	char err[512] = "";
	const struct member_row *m;

	(void)state;
	if (members_csv_parse("members.csv", text, sizeof(text) - 1, &(struct catalog){0}, &rows,
	                      &nrows, err, sizeof(err)) == 0)
		fail_msg("parsed with no category known");
	if (parse(text, &rows, &nrows, err, sizeof(err)) != 0)
		fail_msg("good file refused: %s", err);
	assert_int_equal(nrows, 3);

	m = &rows[0];
	assert_string_equal(m->number, "100001");
	assert_string_equal(m->cin, "AB12345");
	assert_string_equal(m->last_name, "Benali, dite \"Nana\"");
	assert_string_equal(m->first_name, "Fatima");
	assert_string_equal(m->last_name_ar, AR_BENALI);
	assert_string_equal(m->first_name_ar, AR_FATIMA);
	assert_string_equal(m->email, "f.benali@example.ma");
	assert_string_equal(m->phone, "+212 600 000001");
	assert_string_equal(m->status, "active");
	assert_string_equal(m->category, "cat-a");
	assert_int_equal(m->nhousehold, 3);
	assert_string_equal(m->household[0].name, "Karim");
	assert_string_equal(m->household[0].relation, "spouse");
	assert_int_equal(m->household[0].birth_year, 1980);
	assert_string_equal(m->household[1].name, "Sara");
	assert_string_equal(m->household[1].relation, "child");
	assert_int_equal(m->household[1].birth_year, 2010);
	assert_string_equal(m->household[2].name, "Youssef");
	assert_string_equal(m->household[2].relation, "child");
	assert_int_equal(m->household[2].birth_year, 2014);

	m = &rows[1];
	assert_string_equal(m->number, "1000002");
	assert_string_equal(m->cin, "X1");
	assert_string_equal(m->status, "retired");
	assert_string_equal(m->category, "retired");
	assert_string_equal(m->phone, "0600000002"); /* no CR left at the end of a field */
	assert_int_equal(m->nhousehold, 1);
	assert_string_equal(m->household[0].name, "Amina");
	assert_string_equal(m->household[0].relation, "spouse");
	assert_int_equal(m->household[0].birth_year, 0); /* unknown */

	m = &rows[2];
	assert_string_equal(m->number, "1234567890");
	assert_string_equal(m->cin, "Z12345678");
	assert_string_equal(m->last_name, "El Idrissi");
	assert_int_equal(m->nhousehold, 2);
	assert_string_equal(m->household[0].name, "Lina");
	assert_int_equal(m->household[0].birth_year, 2016);
	assert_string_equal(m->household[1].name, "Adam");
	assert_string_equal(m->household[1].relation, "child");
	assert_int_equal(m->household[1].birth_year, 2019);
	free(rows);

	/* LF only, no newline at the end of the file */
	rows = NULL;
	if (parse(HEADER "\n" ROW("100001", "AB1", PLAIN), &rows, &nrows, err, sizeof(err)) != 0)
		fail_msg("good file refused: %s", err);
	assert_int_equal(nrows, 1);
	assert_string_equal(rows[0].cin, "AB1");
	assert_int_equal(rows[0].nhousehold, 0);
	free(rows);
}

/* ---- members_csv_parse: bad files, each with the line its error must name ---- */

struct bad_case {
	const char *name;
	const char *text;
	int line; /* 0: "members.csv: " with no line */
	const char *phrase;
};

static int run_bad(const struct bad_case *cases, size_t n)
{
	int nfail = 0;

	for (size_t i = 0; i < n; i++) {
		static struct member_row sentinel;
		struct member_row *rows = &sentinel; /* must be reset to NULL */
		int nrows = -1, rc;
		char err[512] = "", prefix[64];

		rc = parse(cases[i].text, &rows, &nrows, err, sizeof(err));
		if (cases[i].line > 0)
			snprintf(prefix, sizeof(prefix), "members.csv:%d: ", cases[i].line);
		else
			snprintf(prefix, sizeof(prefix), "members.csv: ");
		CASE_CHECK(nfail, rc == -1, cases[i].name, "returned %d, expected -1", rc);
		if (rc == -1)
			CASE_CHECK(nfail, rows == NULL && nrows == 0, cases[i].name,
			           "rows not reset on error");
		CASE_CHECK(nfail,
		           strncmp(err, prefix, strlen(prefix)) == 0 &&
		               strstr(err + strlen(prefix), cases[i].phrase),
		           cases[i].name, "error \"%s\", expected \"%s%s\"", err, prefix,
		           cases[i].phrase);
		if (rc == 0 && rows != &sentinel)
			free(rows);
	}
	return nfail;
}

static void test_csv_bad(void **state)
{
	static const struct bad_case cases[] = {
	    {"header with a wrong column",
	     "member_number,cin,nom,first_name,last_name_ar,first_name_ar,email,phone,"
	     "status,category,spouse,children\n" ROW("100001", "AB1", PLAIN) "\n",
	     1, "column 3 must be \"last_name\", not \"nom\""},
	    {"header of 11 columns",
	     "member_number,cin,last_name,first_name,last_name_ar,first_name_ar,email,phone,"
	     "status,category,spouse\n" ROW("100001", "AB1", PLAIN) "\n",
	     1, "the header must be the 12 columns"},
	    {"no header", ROW("100001", "AB1", PLAIN) "\n", 1,
	     "column 1 must be \"member_number\""},
	    {"only a header", HEADER "\n", 0, "no member rows"},
	    {"11 fields",
	     HEADER
	     "\n" ROW("100001", "AB1",
	              PLAIN) "\n"
	                     "100002,AB2,Alaoui,Omar,a,b,o@example.ma,0600000002,active,cat-a,\n",
	     3, "11 fields, expected 12"},
	    {"1 field", HEADER "\n" ROW("100001", "AB1", PLAIN) "\n100002\n", 3, "1 field"},
	    {"member number of 5 digits", HEADER "\n" ROW("12345", "AB1", PLAIN) "\n", 2,
	     "member_number must be 6 to 10 digits"},
	    {"member number of 11 digits", HEADER "\n" ROW("12345678901", "AB1", PLAIN) "\n", 2,
	     "member_number must be 6 to 10 digits"},
	    {"member number with a letter", HEADER "\n" ROW("10000A", "AB1", PLAIN) "\n", 2,
	     "member_number must be 6 to 10 digits"},
	    {"CIN in lower case", HEADER "\n" ROW("100001", "ab123", PLAIN) "\n", 2,
	     "cin must be 1 or 2 capital letters then 1 to 8 digits"},
	    {"CIN of 3 letters", HEADER "\n" ROW("100001", "ABC1", PLAIN) "\n", 2, "cin must be"},
	    {"CIN of 9 digits", HEADER "\n" ROW("100001", "A123456789", PLAIN) "\n", 2,
	     "cin must be"},
	    {"CIN without digits", HEADER "\n" ROW("100001", "AB", PLAIN) "\n", 2, "cin must be"},
	    {"bad status",
	     HEADER
	     "\n" ROW("100001", "AB1", "Alaoui,Omar,a,b,o@example.ma,0600,inactive,cat-a,,") "\n",
	     2, "status must be active or retired"},
	    {"unknown category",
	     HEADER
	     "\n" ROW("100001", "AB1", "Alaoui,Omar,a,b,o@example.ma,0600,active,cat-z,,") "\n",
	     2, "category is not one of categories.ini"},
	    {"no e-mail",
	     HEADER
	     "\n" ROW("100001", "AB1", "Alaoui,Omar,a,b,o.example.ma,0600,active,cat-a,,") "\n",
	     2, "email is not an e-mail address"},
	    {"bad phone",
	     HEADER
	     "\n" ROW("100001", "AB1", "Alaoui,Omar,a,b,o@example.ma,06-00,active,cat-a,,") "\n",
	     2, "phone must be digits"},
	    {"no last name",
	     HEADER "\n" ROW("100001", "AB1", ",Omar,a,b,o@example.ma,0600,active,cat-a,,") "\n", 2,
	     "last_name and first_name are required"},
	    {"a tab in a name",
	     HEADER
	     "\n" ROW("100001", "AB1", "Ala\toui,Omar,a,b,o@example.ma,0600,active,cat-a,,") "\n",
	     2, "control characters"},
	    {"bad spouse year",
	     HEADER "\n" ROW("100001", "AB1",
	                     "Alaoui,Omar,a,b,o@example.ma,0600,active,cat-a,Amina/80,") "\n",
	     2, "spouse must be Name or Name/YYYY"},
	    {"child year not a number",
	     HEADER "\n" ROW("100001", "AB1",
	                     "Alaoui,Omar,a,b,o@example.ma,0600,active,cat-a,,Sara/20x0") "\n",
	     2, "children must be Name/YYYY items separated by ;"},
	    {"child born in 1850",
	     HEADER
	     "\n" ROW("100001", "AB1",
	              "Alaoui,Omar,a,b,o@example.ma,0600,active,cat-a,,Sara/2010;Adam/1850") "\n",
	     2, "children must be"},
	    {"child without a name",
	     HEADER "\n" ROW("100001", "AB1",
	                     "Alaoui,Omar,a,b,o@example.ma,0600,active,cat-a,,/2010") "\n",
	     2, "children must be"},
	    /* docs/cli.md: children are Name/YYYY items (a spouse's year may be left out, a child's
	       not) */
	    {"child without a birth year",
	     HEADER
	     "\n" ROW("100001", "AB1", "Alaoui,Omar,a,b,o@example.ma,0600,active,cat-a,,Sara") "\n",
	     2, "children must be"},
	    {"member number again on a later line",
	     HEADER "\n" ROW("100001", "AB1", PLAIN) "\n" ROW("100002", "AB2", PLAIN) "\n" ROW(
	         "100001", "AB3", PLAIN) "\n",
	     4, "member number or CIN already on an earlier line"},
	    {"CIN again on a later line",
	     HEADER "\n" ROW("100001", "AB1", PLAIN) "\n" ROW("100002", "AB1", PLAIN) "\n", 3,
	     "member number or CIN already on an earlier line"},
	    {"unterminated quote",
	     HEADER "\n" ROW("100001", "AB1", PLAIN) "\n" ROW(
	         "100002", "AB2", "\"Alaoui,Omar,a,b,o@example.ma,0600,active,cat-a,,") "\n",
	     3, "malformed CSV"},
	    {"quote inside a field",
	     HEADER
	     "\n" ROW("100001", "AB1", "Ala\"oui,Omar,a,b,o@example.ma,0600,active,cat-a,,") "\n",
	     2, "malformed CSV"},
	    {"text after a closing quote",
	     HEADER "\n" ROW("100001", "AB1",
	                     "\"Alaoui\"x,Omar,a,b,o@example.ma,0600,active,cat-a,,") "\n",
	     2, "malformed CSV"},
	    /* line numbers after a quoted field over three lines (rows 2 and 3-5), then a bad row
	       on line 6 */
	    {"line numbers after a quoted field over lines",
	     HEADER
	     "\n" ROW("100001", "AB1",
	              PLAIN) "\n"
	                     "100002,AB2,Alaoui,Omar,a,b,o@example.ma,0600,active,cat-a,,\"Sara/"
	                     "2010;\nAdam/2012;\nLina/2014\"\n" ROW("10000X", "AB3", PLAIN) "\n",
	     6, "member_number must be 6 to 10 digits"},
	    {"line numbers after a quoted field over lines, CRLF",
	     HEADER
	     "\r\n" ROW("100001", "AB1",
	                PLAIN) "\r\n"
	                       "100002,AB2,Alaoui,Omar,a,b,o@example.ma,0600,active,cat-a,,\"Sara/"
	                       "2010;\r\n"
	                       "Adam/2012\"\r\n" ROW("100003", "AB3", PLAIN) "\r\n" ROW(
	                           "100004", "AB4",
	                           "Alaoui,Omar,a,b,o@example.ma,0600,active,cat-x,,") "\r\n",
	     6, "category is not one of categories.ini"},
	    {"line numbers after blank lines",
	     HEADER "\n\n" ROW("100001", "AB1", PLAIN) "\n\n\n" ROW("1", "AB2", PLAIN) "\n", 6,
	     "member_number must be"},
	    {"a bad row after a BOM", "\xEF\xBB\xBF" HEADER "\n" ROW("100001", "AB 1", PLAIN) "\n",
	     2, "cin must be"},
	};
	(void)state;
	assert_int_equal(run_bad(cases, NELEM(cases)), 0);
}

/* More fields than the header's 12. Run last: this one has overflowed the field array (ASan
 * aborts). */
static void test_csv_too_many_fields(void **state)
{
	static const struct bad_case cases[] = {
	    {"13 fields", HEADER "\n" ROW("100001", "AB1", PLAIN) ",extra\n", 2,
	     "13 fields, expected 12"},
	    {"14 fields", HEADER "\n" ROW("100001", "AB1", PLAIN) ",extra,more\n", 2,
	     "14 fields, expected 12"},
	    {"20 fields", HEADER "\n" ROW("100001", "AB1", PLAIN) ",,,,,,,,\n", 2,
	     "20 fields, expected 12"},
	};

	(void)state;
	assert_int_equal(run_bad(cases, NELEM(cases)), 0);
}

/* ---- members_import into a real database ---- */

struct dbfix {
	char *dir;
	char path[2048];
	sqlite3 *db;
	struct catalog cat;
};

static int db_setup(void **state)
{
	struct dbfix *fx = calloc(1, sizeof(*fx));
	char err[512] = "";

	if (!fx)
		return -1;
	fx->dir = ut_tempdir();
	if (!fx->dir)
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/estiva.db", fx->dir);
	fx->db = db_open(fx->path, 0, 1000, err, sizeof(err));
	if (!fx->db || db_migrate(fx->db, err, sizeof(err)) < 0) {
		print_error("%s\n", err);
		return -1;
	}
	make_catalog(&fx->cat);
	if (catalog_store(fx->db, &fx->cat, err, sizeof(err)) < 0) {
		print_error("%s\n", err);
		return -1;
	}
	*state = fx;
	return 0;
}

static int db_teardown(void **state)
{
	struct dbfix *fx = *state;

	db_close(fx->db);
	catalog_free(&fx->cat);
	ut_rmtree(fx->dir);
	free(fx->dir);
	free(fx);
	return 0;
}

static long long q_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void exec_ok(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s", msg ? msg : "?");
}

/* Schema 5 rebuilds payments and refunds (new states): rows and references survive, the refunded
 * total is filled in, foreign keys are on again afterwards. */
static void test_migrate_payments(void **state)
{
	char err[512] = "", *dir = ut_tempdir(), path[2048];
	struct catalog cat;
	sqlite3 *db;

	(void)state;
	snprintf(path, sizeof(path), "%s/estiva.db", dir);
	db = db_open(path, 0, 1000, err, sizeof(err));
	assert_non_null(db);
	assert_int_equal(db_migrate_to(db, 4, err, sizeof(err)), 0);
	assert_int_equal(q_int(db, "PRAGMA user_version"), 4);
	make_catalog(&cat);
	assert_int_equal(catalog_store(db, &cat, err, sizeof(err)), 0);
	exec_ok(db, "INSERT INTO centres(id, name_fr, name_ar, city_fr, city_ar, check_in, "
	            "check_out) VALUES"
	            " ('arz', 'Al Arz', 'الأرز', 'Ifrane', 'إفران', 900, 720);"
	            "INSERT INTO unit_types(id, centre, code, name_fr, name_ar, min_guests, "
	            "max_guests) VALUES"
	            " (1, 'arz', 'chalet', 'Chalet', 'شاليه', 1, 6);"
	            "INSERT INTO units(id, unit_type, code) VALUES (1, 1, 'C1');"
	            "INSERT INTO members(id, number, cin, last_name, first_name, last_name_ar, "
	            "first_name_ar, email,"
	            " phone, status, category) VALUES (1, '100001', 'AB1', 'A', 'B', 'A', 'B', "
	            "'a@b.ma', '06', 'active',"
	            " 'cat-a');"
	            "INSERT INTO bookings(id, member, centre, unit_type, unit, arrival, departure, "
	            "guests, nguests, status,"
	            " amount, created_at, updated_at) SELECT 7, 1, t.centre, u.unit_type, u.id, "
	            "'2027-07-01', '2027-07-03',"
	            " '[]', 1, 'cancelled', 50000, 1, 1 FROM units u JOIN unit_types t ON t.id = "
	            "u.unit_type LIMIT 1;"
	            "INSERT INTO payments(id, booking, oid, amount, status, fields, created_at, "
	            "updated_at) VALUES"
	            " (1, 7, 'EST7-a', 50000, 'declined', '{}', 1, 1), (2, 7, 'EST7-b', 50000, "
	            "'captured', '{}', 1, 1);"
	            "INSERT INTO refunds(booking, payment, amount, percent, status, created_at, "
	            "updated_at) VALUES"
	            " (7, 2, 25000, 50, 'succeeded', 2, 2), (7, 2, 100, 50, 'failed', 2, 2);");
	assert_int_equal(db_migrate(db, err, sizeof(err)), 0);
	assert_int_equal(q_int(db, "PRAGMA user_version"), db_schema_version);
	assert_int_equal(q_int(db, "PRAGMA foreign_keys"), 1);
	assert_int_equal(q_int(db, "SELECT COUNT(*) FROM payments"), 2);
	assert_int_equal(q_int(db, "SELECT refunded FROM payments WHERE oid = 'EST7-b'"), 25000);
	assert_int_equal(q_int(db, "SELECT refunded FROM payments WHERE oid = 'EST7-a'"), 0);
	assert_int_equal(q_int(db, "SELECT COUNT(*) FROM refunds WHERE payment = 2"), 2);
	assert_int_equal(q_int(db, "SELECT COUNT(*) FROM pragma_foreign_key_check"), 0);
	/* the new states are accepted, others still refused; references are still enforced */
	assert_int_equal(sqlite3_exec(db,
	                              "UPDATE payments SET status = 'refunded_part' WHERE id = 2",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	assert_int_not_equal(
	    sqlite3_exec(db, "UPDATE payments SET status = 'lost' WHERE id = 2", NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_not_equal(
	    sqlite3_exec(
	        db,
	        "INSERT INTO refunds(booking, payment, amount, percent, status, created_at,"
	        " updated_at) VALUES (7, 99, 1, 1, 'requested', 1, 1)",
	        NULL, NULL, NULL),
	    SQLITE_OK);
	db_close(db);
	catalog_free(&cat);
	ut_rmtree(dir);
	free(dir);
}

/* The members and household tables as text, in a stable order, for before/after comparisons. */
static char *dump(sqlite3 *db)
{
	static const char *const sql =
	    "SELECT 'm', id, number, cin, last_name, first_name, last_name_ar, first_name_ar, "
	    "email, phone,"
	    " status, category FROM members"
	    " UNION ALL SELECT 'h', h.id, m.number, h.name, h.relation, IFNULL(h.birth_year, "
	    "'null'),"
	    " NULL, NULL, NULL, NULL, NULL, NULL FROM household h JOIN members m ON m.id = h.member"
	    " ORDER BY 1, 2";
	sqlite3_stmt *st;
	struct buf b;

	buf_init(&b, 1 << 20);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		for (int i = 0; i < sqlite3_column_count(st); i++) {
			const unsigned char *v = sqlite3_column_text(st, i);
			assert_int_equal(buf_printf(&b, "%s|", v ? (const char *)v : ""), 0);
		}
		assert_int_equal(buf_append(&b, "\n", 1), 0);
	}
	sqlite3_finalize(st);
	return buf_steal(&b, NULL);
}

static int64_t count(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t n = -1;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void import_text(struct dbfix *fx, const char *text, int want_rc, char *err, size_t errlen)
{
	struct member_row *rows = NULL;
	int nrows = 0, rc;

	if (members_csv_parse("members.csv", text, strlen(text), &fx->cat, &rows, &nrows, err,
	                      errlen) != 0)
		fail_msg("parse: %s", err);
	rc = members_import(fx->db, rows, nrows, err, errlen);
	free(rows);
	if (rc != want_rc)
		fail_msg("members_import returned %d, expected %d (%s)", rc, want_rc, err);
	/* no transaction left open either way */
	assert_int_equal(sqlite3_get_autocommit(fx->db), 1);
}

static const char first_batch[] = HEADER "\n"
                                         "100001,AB12345,Benali,Fatima," AR_BENALI "," AR_FATIMA
                                         ",f@example.ma,0600000001,active,cat-a,"
                                         "Karim/1980,Sara/2010;Youssef/2014\n"
                                         "100002,X1,Alaoui,Omar," AR_BENALI "," AR_OMAR
                                         ",o@example.ma,0600000002,retired,retired,Amina,\n";

static void test_import(void **state)
{
	struct dbfix *fx = *state;
	char err[512] = "";
	char *d;

	import_text(fx, first_batch, 0, err, sizeof(err));
	assert_int_equal(count(fx->db, "SELECT count(*) FROM members"), 2);
	assert_int_equal(count(fx->db, "SELECT count(*) FROM household"), 4);
	assert_int_equal(
	    count(fx->db, "SELECT count(*) FROM audit WHERE action = 'members.import'"), 1);
	d = dump(fx->db);
	assert_string_equal(d, "h|1|100001|Karim|spouse|1980|||||||\n"
	                       "h|2|100001|Sara|child|2010|||||||\n"
	                       "h|3|100001|Youssef|child|2014|||||||\n"
	                       "h|4|100002|Amina|spouse|null|||||||\n"
	                       "m|1|100001|AB12345|Benali|Fatima|" AR_BENALI "|" AR_FATIMA
	                       "|f@example.ma|0600000001|active|cat-a|\n"
	                       "m|2|100002|X1|Alaoui|Omar|" AR_BENALI "|" AR_OMAR
	                       "|o@example.ma|0600000002|retired|retired|\n");
	free(d);
}

/* A member already there (same number) is updated in place and their household replaced; members
 * not in the file are left alone. */
static void test_import_again(void **state)
{
	struct dbfix *fx = *state;
	char err[512] = "";
	char *d;

	import_text(fx, first_batch, 0, err, sizeof(err));
	assert_int_equal(
	    sqlite3_exec(fx->db, "UPDATE members SET password_hash = 'h' WHERE number = '100001'",
	                 NULL, NULL, NULL),
	    SQLITE_OK);
	import_text(fx,
	            HEADER "\n"
	                   "100001,AB12345,Benali,Fatima," AR_BENALI "," AR_FATIMA
	                   ",new@example.ma,0600000009,retired,"
	                   "retired,,Youssef/2014\n"
	                   "100003,C3,Chraibi,Hind,a,b,h@example.ma,0600000003,active,cat-a,,\n",
	            0, err, sizeof(err));
	assert_int_equal(count(fx->db, "SELECT count(*) FROM members"), 3);
	/* the same row (id 1), updated; the password stays */
	assert_int_equal(count(fx->db, "SELECT id FROM members WHERE number = '100001'"), 1);
	assert_int_equal(
	    count(fx->db,
	          "SELECT count(*) FROM members WHERE number = '100001' AND email = "
	          "'new@example.ma' AND phone = '0600000009' AND status = 'retired' AND category = "
	          "'retired' AND password_hash = 'h'"),
	    1);
	/* the household replaced: Youssef only */
	assert_int_equal(count(fx->db, "SELECT count(*) FROM household WHERE member = 1"), 1);
	assert_int_equal(
	    count(fx->db,
	          "SELECT count(*) FROM household WHERE member = 1 AND name = 'Youssef' AND "
	          "relation = 'child' AND birth_year = 2014"),
	    1);
	/* 100002, not in the second file, is unchanged */
	assert_int_equal(
	    count(fx->db,
	          "SELECT count(*) FROM household h JOIN members m ON m.id = h.member WHERE "
	          "m.number = '100002' AND h.name = 'Amina' AND h.birth_year IS NULL"),
	    1);
	assert_int_equal(
	    count(fx->db, "SELECT count(*) FROM audit WHERE action = 'members.import'"), 2);
	d = dump(fx->db);
	assert_non_null(strstr(d, "m|3|100003|C3|Chraibi|Hind|"));
	free(d);
}

/* All or nothing: a batch whose second row breaks a constraint of the database (the CIN of another
 * member already there) leaves the database exactly as it was, the first row's changes included. */
static void test_import_all_or_nothing(void **state)
{
	struct dbfix *fx = *state;
	char err[512] = "";
	char *before, *after;
	int64_t audits;

	import_text(fx, first_batch, 0, err, sizeof(err));
	before = dump(fx->db);
	audits = count(fx->db, "SELECT count(*) FROM audit");
	import_text(fx,
	            HEADER "\n"
	                   /* an update of 100001: new e-mail, no household */
	                   "100001,AB12345,Benali,Fatima," AR_BENALI "," AR_FATIMA
	                   ",new@example.ma,0600000001,active,"
	                   "cat-a,,\n"
	                   /* a new member with 100002's CIN */
	                   "100009,X1,Zerouali,Nadia,a,b,n@example.ma,0600000004,active,cat-a,,\n",
	            -1, err, sizeof(err));
	assert_non_null(strstr(err, "UNIQUE"));
	after = dump(fx->db);
	assert_string_equal(after, before);
	assert_int_equal(count(fx->db, "SELECT count(*) FROM audit"), audits);
	free(before);
	free(after);

	/* the database still takes a good import afterwards */
	import_text(
	    fx, HEADER "\n100009,N9,Zerouali,Nadia,a,b,n@example.ma,0600000004,active,cat-a,,\n", 0,
	    err, sizeof(err));
	assert_int_equal(count(fx->db, "SELECT count(*) FROM members"), 3);
}

/* A category the database does not know (the catalog in memory is newer than the one stored) is
 * refused by the database, all or nothing too. */
static void test_import_unknown_category(void **state)
{
	static const char text[] =
	    HEADER "\n100005,E5,Ennaji,Said,a,b,s@example.ma,0600000005,active,cat-a,,\n";
	struct dbfix *fx = *state;
	struct member_row *rows = NULL;
	int nrows = 0;
	char err[512] = "";

	import_text(fx, first_batch, 0, err, sizeof(err));
	assert_int_equal(members_csv_parse("members.csv", text, sizeof(text) - 1, &fx->cat, &rows,
	                                   &nrows, err, sizeof(err)),
	                 0);
	assert_int_equal(nrows, 1);
	snprintf(rows[0].category, sizeof(rows[0].category), "cat-new");
	assert_int_equal(members_import(fx->db, rows, nrows, err, sizeof(err)), -1);
	free(rows);
	assert_int_equal(count(fx->db, "SELECT count(*) FROM members"), 2);
	assert_int_equal(sqlite3_get_autocommit(fx->db), 1);
}

/* ---- password_hash ---- */

static void test_password_hash(void **state)
{
	char a[128], b[128];

	(void)state;
	assert_true(sodium_init() >= 0);
	assert_int_equal(password_hash("demo1234", a), 0);
	assert_int_equal(password_hash("demo1234", b), 0);
	assert_true(strncmp(a, "$argon2id$", 10) == 0);
	assert_string_not_equal(a, b); /* salted */
	assert_int_equal(crypto_pwhash_str_verify(a, "demo1234", 8), 0);
	assert_int_equal(crypto_pwhash_str_verify(a, "demo1235", 8), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_csv_good),
	    cmocka_unit_test(test_csv_bad),
	    cmocka_unit_test(test_migrate_payments),
	    cmocka_unit_test_setup_teardown(test_import, db_setup, db_teardown),
	    cmocka_unit_test_setup_teardown(test_import_again, db_setup, db_teardown),
	    cmocka_unit_test_setup_teardown(test_import_all_or_nothing, db_setup, db_teardown),
	    cmocka_unit_test_setup_teardown(test_import_unknown_category, db_setup, db_teardown),
	    cmocka_unit_test(test_password_hash),
	    cmocka_unit_test(test_csv_too_many_fields),
	};

	return cmocka_run_group_tests_name("members", tests, NULL, NULL);
}
