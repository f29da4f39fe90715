/* test_catalog.c: reading the catalog configuration (server/catalog.c: categories.ini and centre
 * files) and the server configuration (server/config.c) from temporary files: a good file and its
 * values, then tables of broken files, each with the exact "FILE:LINE: " its error must start with.
 */
#include "unit_util.h"

#include <limits.h>
#include <sys/stat.h>

#include "date.h"
#include "server.h"

#define D(y, m, d) date_from_civil((y), (m), (d))

/* ---- files made from a template by replacing one of its lines ---- */

/* The template's lines, each ended by eol, with line `line` (1-based; 0 for none) replaced by
 * `with` (which may hold several lines separated by "\n"). malloc'd. */
static char *from_template(const char *const *lines, size_t nlines, size_t line, const char *with,
                           const char *eol)
{
	size_t len = 1;
	char *text, *p;

	for (size_t i = 0; i < nlines; i++)
		len += strlen(lines[i]) + strlen(eol);
	if (with)
		len += strlen(with);
	text = malloc(len);
	assert_non_null(text);
	p = text;
	for (size_t i = 0; i < nlines; i++) {
		const char *l = i + 1 == line ? with : lines[i];

		memcpy(p, l, strlen(l));
		p += strlen(l);
		memcpy(p, eol, strlen(eol));
		p += strlen(eol);
	}
	*p = '\0';
	return text;
}

/* Checks that err starts with "PATH:LINE: " (or "PATH: " when line is 0) and holds phrase after it.
 */
static int error_is(const char *err, const char *path, int line, const char *phrase)
{
	char prefix[4200];

	if (line > 0)
		snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", path);
	return strncmp(err, prefix, strlen(prefix)) == 0 &&
	       strstr(err + strlen(prefix), phrase) != NULL;
}

static const char *const categories_lines[] = {
    /* 1 */ "; member categories",
    /* 2 */ "[category cat-a]",
    /* 3 */
    "name_fr = \xc3\x89"
    "chelles 1 \xc3\xa0 6",
    /* 4 */ "name_ar = \xd8\xa7\xd9\x84\xd8\xb3\xd9\x84\xd8\xa7\xd9\x84\xd9\x85 1-6",
    /* 5 */ "",
    /* 6 */ "[category retired]",
    /* 7 */ "name_fr = Retrait\xc3\xa9s",
    /* 8 */
    "name_ar = \xd8\xa7\xd9\x84\xd9\x85\xd8\xaa\xd9\x82\xd8\xa7\xd8\xb9\xd8\xaf\xd9\x88\xd9\x86",
};

#define LONG_NAME /* 130 bytes */                                                                  \
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"                        \
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
#define TOO_LONG_LINE                                                                              \
	"name_fr = " LONG_NAME                                                                     \
	"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy" /* 200 bytes */

static const char *const centre_lines[] = {
    /*  1 */ "; Centre Al Arz (unit test)",
    /*  2 */ "[centre]",
    /*  3 */ "id = al-arz",
    /*  4 */ "name_fr = Centre Al Arz",
    /*  5 */ "name_ar = \xd9\x85\xd8\xb1\xd9\x83\xd8\xb2 \xd8\xa7\xd9\x84\xd8\xa3\xd8\xb1\xd8\xb2",
    /*  6 */ "city_fr = Ifrane",
    /*  7 */ "city_ar = \xd8\xa5\xd9\x81\xd8\xb1\xd8\xa7\xd9\x86",
    /*  8 */ "check_in = 15:00",
    /*  9 */ "check_out = 11:00",
    /* 10 */ "",
    /* 11 */ "[unit_type bungalow]",
    /* 12 */ "name_fr = Bungalow familial",
    /* 13 */ "name_ar = \xd8\xa8\xd9\x86\xd8\xba\xd8\xa7\xd9\x84\xd9\x88",
    /* 14 */ "min_guests = 2",
    /* 15 */ "max_guests = 6",
    /* 16 */ "units = B01-B03, C1",
    /* 17 */ "",
    /* 18 */ "[unit_type room]",
    /* 19 */ "name_fr = Chambre",
    /* 20 */ "name_ar = \xd8\xba\xd8\xb1\xd9\x81\xd8\xa9",
    /* 21 */ "min_guests = 1",
    /* 22 */ "max_guests = 2",
    /* 23 */ "units = R1-R2",
    /* 24 */ "",
    /* 25 */ "[season low-2027a]",
    /* 26 */ "kind = low",
    /* 27 */ "first_night = 2027-01-01",
    /* 28 */ "last_night = 2027-06-30",
    /* 29 */ "min_nights = 2",
    /* 30 */ "max_nights = 14",
    /* 31 */ "",
    /* 32 */ "[season summer-2027]",
    /* 33 */ "kind = high",
    /* 34 */ "first_night = 2027-07-01",
    /* 35 */ "last_night = 2027-08-31",
    /* 36 */ "rotation_nights = 7",
    /* 37 */ "rotation_start = 2027-07-01",
    /* 38 */ "",
    /* 39 */ "[tariffs]",
    /* 40 */ "bungalow.low-2027a.cat-a = 250.5",
    /* 41 */ "bungalow.low-2027a.retired = 0.05",
    /* 42 */ "bungalow.summer-2027.cat-a = 300.00 ; MAD a night",
    /* 43 */ "bungalow.summer-2027.retired = 250",
    /* 44 */ "room.low-2027a.cat-a = 120",
    /* 45 */ "room.low-2027a.retired = 100",
    /* 46 */ "room.summer-2027.cat-a = 180.75",
    /* 47 */ "room.summer-2027.retired = 150",
};

struct fixture {
	char *dir;
	char categories[2048];
	char centre[2048];
	struct catalog cat;
};

static int fixture_setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char err[512];
	char *text;

	if (!fx)
		return -1;
	fx->dir = ut_tempdir();
	if (!fx->dir)
		return -1;
	snprintf(fx->categories, sizeof(fx->categories), "%s/categories.ini", fx->dir);
	snprintf(fx->centre, sizeof(fx->centre), "%s/al-arz.ini", fx->dir);
	text = from_template(categories_lines, NELEM(categories_lines), 0, NULL, "\n");
	ut_write(fx->categories, text);
	free(text);
	if (catalog_read_categories(fx->categories, &fx->cat, err, sizeof(err)) < 0) {
		print_error("%s\n", err);
		return -1;
	}
	*state = fx;
	return 0;
}

static int fixture_teardown(void **state)
{
	struct fixture *fx = *state;

	catalog_free(&fx->cat);
	ut_rmtree(fx->dir);
	free(fx->dir);
	free(fx);
	return 0;
}

/* A centre as catalog.c's centre_new() makes it: zeroed, every tariff -1. */
static struct centre *new_centre(void)
{
	struct centre *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	memset(c->tariff, 0xff, sizeof(c->tariff));
	return c;
}

/* ---- categories.ini ---- */

static void test_categories_good(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(fx->cat.ncategories, 2);
	assert_string_equal(fx->cat.categories[0].id, "cat-a");
	assert_string_equal(fx->cat.categories[0].name_fr, "\xc3\x89"
	                                                   "chelles 1 \xc3\xa0 6");
	assert_string_equal(fx->cat.categories[0].name_ar,
	                    "\xd8\xa7\xd9\x84\xd8\xb3\xd9\x84\xd8\xa7\xd9\x84\xd9\x85 1-6");
	assert_string_equal(fx->cat.categories[1].id, "retired");
	assert_string_equal(fx->cat.categories[1].name_fr, "Retrait\xc3\xa9s");
	assert_int_equal(catalog_category(&fx->cat, "retired"), 1);
	assert_int_equal(catalog_category(&fx->cat, "cat-a"), 0);
	assert_int_equal(catalog_category(&fx->cat, "cat-b"), -1);
}

static void test_categories_broken(void **state)
{
	struct fixture *fx = *state;
	static const struct {
		const char *name;
		size_t line;
		const char *with;
		int want_line; /* 0: the error names no line */
		const char *phrase;
	} cases[] = {
	    {"unknown key", 4, "name_en = Scales", 4,
	     "unknown setting \"name_en\" in [category cat-a]"},
	    /* libinih calls us on settings, not on section lines: a section is judged on its first
	       setting */
	    {"unknown section", 6, "[categorie retired]", 7, "unknown section [categorie retired]"},
	    {"bad id", 2, "[category Cat_A]", 3, "bad category id \"Cat_A\""},
	    {"category defined twice", 5,
	     "[category other]\nname_fr = O\nname_ar = O\n[category cat-a]\nname_fr = E", 9,
	     "category \"cat-a\" defined twice"},
	    {"category defined twice, one section right after the other", 6, "[category cat-a]", 7,
	     "category \"cat-a\" defined twice"},
	    {"empty name", 7, "name_fr =", 7, "empty name"},
	    {"name too long", 7, "name_fr = " LONG_NAME, 7, "name longer than 127 bytes"},
	    {"line too long", 7, TOO_LONG_LINE, 7, "line longer than 198 bytes"},
	    {"setting without =", 3, "name_fr Echelles", 3, "syntax error"},
	    {"missing name_ar", 8, "; none", 0, "category \"retired\" needs name_fr and name_ar"},
	};
	int nfail = 0;

	for (size_t i = 0; i < NELEM(cases); i++) {
		struct catalog cat;
		char err[512] = "";
		char *text = from_template(categories_lines, NELEM(categories_lines), cases[i].line,
		                           cases[i].with, "\n");
		int rc;

		ut_write(fx->categories, text);
		free(text);
		memset(&cat, 0, sizeof(cat));
		rc = catalog_read_categories(fx->categories, &cat, err, sizeof(err));
		CASE_CHECK(nfail, rc == -1, cases[i].name, "returned %d, expected -1", rc);
		CASE_CHECK(nfail,
		           error_is(err, fx->categories, cases[i].want_line, cases[i].phrase),
		           cases[i].name, "error \"%s\", expected line %d and \"%s\"", err,
		           cases[i].want_line, cases[i].phrase);
	}
	{
		struct catalog cat;
		char err[512] = "";

		memset(&cat, 0, sizeof(cat));
		ut_write(fx->categories, "; member categories\n; none yet\n");
		assert_int_equal(catalog_read_categories(fx->categories, &cat, err, sizeof(err)),
		                 -1);
		assert_true(error_is(err, fx->categories, 0, "no [category ID] section"));
	}
	assert_int_equal(nfail, 0);
}

/* ---- centre files ---- */

static void check_good_centre(const struct catalog *cat, const struct centre *c)
{
	const struct unit_type *t;
	const struct season *s;

	assert_string_equal(c->id, "al-arz");
	assert_string_equal(c->name_fr, "Centre Al Arz");
	assert_string_equal(
	    c->name_ar,
	    "\xd9\x85\xd8\xb1\xd9\x83\xd8\xb2 \xd8\xa7\xd9\x84\xd8\xa3\xd8\xb1\xd8\xb2");
	assert_string_equal(c->city_fr, "Ifrane");
	assert_string_equal(c->city_ar, "\xd8\xa5\xd9\x81\xd8\xb1\xd8\xa7\xd9\x86");
	assert_int_equal(c->check_in, 15 * 60);
	assert_int_equal(c->check_out, 11 * 60);

	assert_int_equal(c->ntypes, 2);
	t = &c->types[0];
	assert_string_equal(t->id, "bungalow");
	assert_string_equal(t->name_fr, "Bungalow familial");
	assert_int_equal(t->min_guests, 2);
	assert_int_equal(t->max_guests, 6);
	assert_int_equal(t->nunits, 4); /* B01-B03, C1 */
	assert_non_null(t->unit_codes);
	assert_string_equal(t->unit_codes[0], "B01");
	assert_string_equal(t->unit_codes[1], "B02");
	assert_string_equal(t->unit_codes[2], "B03");
	assert_string_equal(t->unit_codes[3], "C1");
	t = &c->types[1];
	assert_string_equal(t->id, "room");
	assert_int_equal(t->min_guests, 1);
	assert_int_equal(t->max_guests, 2);
	assert_int_equal(t->nunits, 2);
	assert_string_equal(t->unit_codes[0], "R1");
	assert_string_equal(t->unit_codes[1], "R2");
	assert_int_equal(centre_unit_type(c, "room"), 1);
	assert_int_equal(centre_unit_type(c, "suite"), -1);

	assert_int_equal(c->nseasons, 2);
	s = &c->seasons[0];
	assert_string_equal(s->id, "low-2027a");
	assert_int_equal(s->kind, SEASON_LOW);
	assert_int_equal(s->first_night, D(2027, 1, 1));
	assert_int_equal(s->last_night, D(2027, 6, 30));
	assert_int_equal(s->min_nights, 2);
	assert_int_equal(s->max_nights, 14);
	assert_int_equal(s->rotation_nights, 0);
	s = &c->seasons[1];
	assert_string_equal(s->id, "summer-2027");
	assert_int_equal(s->kind, SEASON_HIGH);
	assert_int_equal(s->first_night, D(2027, 7, 1));
	assert_int_equal(s->last_night, D(2027, 8, 31));
	assert_int_equal(s->rotation_nights, 7);
	assert_int_equal(s->rotation_start, D(2027, 7, 1));
	assert_int_equal(centre_season_at(c, D(2027, 6, 30)), 0);
	assert_int_equal(centre_season_at(c, D(2027, 7, 1)), 1);
	assert_int_equal(centre_season_at(c, D(2026, 12, 31)), -1);
	assert_int_equal(centre_season_at(c, D(2027, 9, 1)), -1);

	/* tariff[unit type][season][category], in centimes */
	assert_int_equal(catalog_category(cat, "cat-a"), 0);
	assert_int_equal(catalog_category(cat, "retired"), 1);
	assert_int_equal(c->tariff[0][0][0], 25050);
	assert_int_equal(c->tariff[0][0][1], 5);
	assert_int_equal(c->tariff[0][1][0], 30000);
	assert_int_equal(c->tariff[0][1][1], 25000);
	assert_int_equal(c->tariff[1][0][0], 12000);
	assert_int_equal(c->tariff[1][0][1], 10000);
	assert_int_equal(c->tariff[1][1][0], 18075);
	assert_int_equal(c->tariff[1][1][1], 15000);
	assert_true(c->tariff[0][0][2] == -1);
	assert_true(c->tariff[2][0][0] == -1);
	assert_true(c->tariff[0][2][0] == -1);
}

static void test_centre_good(void **state)
{
	struct fixture *fx = *state;
	static const char *const eols[] = {"\n", "\r\n"};

	for (size_t e = 0; e < NELEM(eols); e++) {
		struct centre *c = new_centre();
		char err[512] = "";
		char *text = from_template(centre_lines, NELEM(centre_lines), 0, NULL, eols[e]);

		ut_write(fx->centre, text);
		free(text);
		if (catalog_read_centre(fx->centre, &fx->cat, c, err, sizeof(err)) != 0)
			fail_msg("good centre file refused (%s line ends): %s", e ? "CRLF" : "LF",
			         err);
		check_good_centre(&fx->cat, c);
		centre_free(c);
	}
}

/* catalog_read_centre() is public: a caller's zeroed struct centre must read as well as
 * centre_new()'s. */
static void test_centre_good_zeroed(void **state)
{
	struct fixture *fx = *state;
	struct centre *c = calloc(1, sizeof(*c));
	char err[512] = "";
	char *text = from_template(centre_lines, NELEM(centre_lines), 0, NULL, "\n");

	assert_non_null(c);
	ut_write(fx->centre, text);
	free(text);
	if (catalog_read_centre(fx->centre, &fx->cat, c, err, sizeof(err)) != 0) {
		centre_free(c);
		fail_msg("good centre file refused into a zeroed struct centre: %s", err);
	}
	check_good_centre(&fx->cat, c);
	centre_free(c);
}

struct broken_case {
	const char *name;
	size_t line;      /* of centre_lines, replaced by `with` */
	const char *with; /* may hold several lines */
	int want_line;    /* 0: the error names no line */
	const char *phrase;
};

static void test_centre_broken(void **state)
{
	struct fixture *fx = *state;
	static const struct broken_case cases[] = {
	    /* keys and sections */
	    {"unknown key in [centre]", 8, "checkin = 15:00", 8,
	     "unknown setting \"checkin\" in [centre]"},
	    {"unknown key in [unit_type]", 14, "min_guest = 2", 14,
	     "unknown setting \"min_guest\" in [unit_type bungalow]"},
	    {"unknown key in [season]", 29, "minimum_nights = 2", 29,
	     "unknown setting \"minimum_nights\" in [season low-2027a]"},
	    /* libinih calls us on settings, not on section lines: a section is judged on its first
	       setting */
	    {"unknown section", 18, "[unit-type room]", 19, "unknown section [unit-type room]"},
	    {"unknown section [tariff]", 39, "[tariff]", 40, "unknown section [tariff]"},
	    {"[centre] twice", 24, "[centre]\nid = other", 25, "[centre] appears twice"},
	    {"setting without =", 20, "name_ar \xd8\xba\xd8\xb1\xd9\x81\xd8\xa9", 20,
	     "syntax error"},
	    {"line too long", 12, TOO_LONG_LINE, 12, "line longer than 198 bytes"},
	    /* ids and names */
	    {"bad centre id", 3, "id = Al_Arz", 3, "bad centre id \"Al_Arz\""},
	    {"bad unit type id", 18, "[unit_type Room]", 19, "bad unit type id \"Room\""},
	    {"bad season id", 25, "[season low 2027]", 26, "bad season id \"low 2027\""},
	    {"empty name", 4, "name_fr =", 4, "empty name"},
	    {"name too long", 4, "name_fr = " LONG_NAME, 4, "name longer than 127 bytes"},
	    {"bad check_in", 8, "check_in = 25:00", 8,
	     "check_in must be a time HH:MM, not \"25:00\""},
	    {"[centre] without city_ar", 7, "; city_ar = ?", 3,
	     "[centre] needs id, name_fr, name_ar, city_fr and city_ar"},
	    /* unit types and units */
	    {"unit type defined twice", 38, "[unit_type bungalow]\nname_fr = Encore", 39,
	     "unit type \"bungalow\" defined twice"},
	    {"unit type defined twice, one section right after the other", 18,
	     "[unit_type bungalow]", 19, "unit type \"bungalow\" defined twice"},
	    {"season defined twice", 38, "[season low-2027a]\nkind = low", 39,
	     "season \"low-2027a\" defined twice"},
	    {"season defined twice, one section right after the other", 32, "[season low-2027a]",
	     33, "season \"low-2027a\" defined twice"},
	    {"min_guests above max_guests", 14, "min_guests = 7", 12,
	     "unit type \"bungalow\": min_guests is above max_guests"},
	    {"max_guests out of range", 15, "max_guests = 17", 15,
	     "max_guests must be a whole number from 1 to 16, not \"17\""},
	    {"min_guests not a number", 14, "min_guests = two", 14,
	     "min_guests must be a whole number"},
	    {"unit type without units", 23, "; units = R1-R2", 19,
	     "unit type \"room\" needs name_fr, name_ar, min_guests, max_guests and units"},
	    {"unit range across prefixes", 16, "units = B01-C03", 16, "bad unit range \"B01-C03\""},
	    {"unit range backwards", 16, "units = B03-B01", 16, "bad unit range \"B03-B01\""},
	    {"unit range of two widths", 16, "units = B1-B03", 16, "bad unit range \"B1-B03\""},
	    {"unit range without numbers", 16, "units = B-C", 16, "bad unit range \"B-C\""},
	    {"bad unit code", 16, "units = B01, B#2", 16, "bad unit code \"B#2\""},
	    {"unit listed twice", 16, "units = B01-B03, B02", 16, "unit \"B02\" listed twice"},
	    {"units given twice", 16, "units = B01\nunits = B02", 17, "units given twice"},
	    {"no units", 16, "units = ,", 16, "no units"},
	    {"unit in two unit types", 23, "units = R1, C1", 19,
	     "unit \"C1\" is also in unit type \"bungalow\""},
	    /* seasons */
	    {"bad kind", 33, "kind = medium", 33, "kind must be low or high, not \"medium\""},
	    {"bad date", 34, "first_night = 2027-02-30", 34,
	     "first_night must be a date YYYY-MM-DD, not \"2027-02-30\""},
	    {"date in another format", 27, "first_night = 01/01/2027", 27,
	     "first_night must be a date YYYY-MM-DD, not \"01/01/2027\""},
	    {"season without kind", 33, "; kind = high", 34,
	     "season \"summer-2027\" needs kind, first_night and last_night"},
	    {"last_night before first_night", 35, "last_night = 2027-06-30", 33,
	     "season \"summer-2027\": last_night is before first_night"},
	    {"overlapping seasons", 28, "last_night = 2027-07-01", 33,
	     "season \"summer-2027\" overlaps season \"low-2027a\""},
	    {"high season without rotation", 36, "; rotation_nights = 7", 33,
	     "high season \"summer-2027\" needs rotation_nights and rotation_start"},
	    {"high season with min_nights", 38, "min_nights = 2", 33,
	     "high season \"summer-2027\" takes rotation_nights, not min/max_nights"},
	    {"no whole rotation fits", 37, "rotation_start = 2027-08-30", 33,
	     "season \"summer-2027\": no rotation fits"},
	    {"rotation before the season", 37, "rotation_start = 2027-06-24", 33,
	     "season \"summer-2027\": no rotation fits"},
	    {"low season with a rotation", 31, "rotation_nights = 7", 26,
	     "low season \"low-2027a\" takes no rotation"},
	    {"low season without max_nights", 30, "; max_nights = 14", 26,
	     "low season \"low-2027a\" needs min_nights and max_nights"},
	    {"min_nights above max_nights", 29, "min_nights = 15", 26,
	     "season \"low-2027a\": min_nights is above max_nights"},
	    /* tariffs */
	    {"tariff for an unknown unit type", 44, "suite.low-2027a.cat-a = 120", 44,
	     "tariff for unknown unit type \"suite\""},
	    {"tariff for an unknown season", 40, "bungalow.low-2099.cat-a = 250.5", 40,
	     "tariff for unknown season \"low-2099\""},
	    {"tariff for an unknown category", 41, "bungalow.low-2027a.staff = 1", 41,
	     "tariff for unknown category \"staff\""},
	    {"tariff key of two parts", 47, "room.summer-2027 = 150", 47,
	     "tariff \"room.summer-2027\" must be UNIT_TYPE.SEASON.CATEGORY"},
	    {"price with three decimals", 42, "bungalow.summer-2027.cat-a = 12.345", 42,
	     "price must be MAD with at most two decimals (e.g. 250.00), not \"12.345\""},
	    {"negative price", 42, "bungalow.summer-2027.cat-a = -5", 42,
	     "price must be MAD with at most two decimals"},
	    {"price with a comma", 42, "bungalow.summer-2027.cat-a = 12,50", 42,
	     "price must be MAD with at most two decimals"},
	    {"tariff given twice", 47, "room.summer-2027.cat-a = 150", 47,
	     "tariff \"room.summer-2027.cat-a\" given twice"},
	    {"missing tariff", 47, "; room.summer-2027.retired = 150", 0,
	     "no tariff room.summer-2027.retired"},
	};
	int nfail = 0;

	for (size_t i = 0; i < NELEM(cases); i++) {
		struct centre *c = new_centre();
		char err[512] = "";
		char *text = from_template(centre_lines, NELEM(centre_lines), cases[i].line,
		                           cases[i].with, "\n");
		int rc;

		ut_write(fx->centre, text);
		free(text);
		rc = catalog_read_centre(fx->centre, &fx->cat, c, err, sizeof(err));
		CASE_CHECK(nfail, rc == -1, cases[i].name, "returned %d, expected -1", rc);
		CASE_CHECK(nfail, error_is(err, fx->centre, cases[i].want_line, cases[i].phrase),
		           cases[i].name, "error \"%s\", expected line %d and \"%s\"", err,
		           cases[i].want_line, cases[i].phrase);
		centre_free(c);
	}
	assert_int_equal(nfail, 0);
}

/* ---- catalog_read_files: the categories and every *.ini of the centres folder ---- */

static void test_catalog_read_files(void **state)
{
	struct fixture *fx = *state;
	struct config cfg;
	struct catalog cat;
	char centres[2048], path[2200], err[512] = "";
	char *text = from_template(centre_lines, NELEM(centre_lines), 0, NULL, "\n");
	char *other = from_template(centre_lines, NELEM(centre_lines), 3, "id = al-bahr", "\n");

	config_defaults(&cfg);
	snprintf(cfg.categories_path, sizeof(cfg.categories_path), "%s", fx->categories);
	snprintf(centres, sizeof(centres), "%s/centres", fx->dir);
	assert_int_equal(mkdir(centres, 0700), 0);
	snprintf(cfg.catalog_dir, sizeof(cfg.catalog_dir), "%s", centres);

	/* an empty folder */
	memset(&cat, 0, sizeof(cat));
	assert_int_equal(catalog_read_files(&cfg, &cat, err, sizeof(err)), -1);
	assert_true(error_is(err, centres, 0, "no centre file"));

	/* two centres, read in name order; other files are ignored */
	snprintf(path, sizeof(path), "%s/b-bahr.ini", centres);
	ut_write(path, other);
	snprintf(path, sizeof(path), "%s/a-arz.ini", centres);
	ut_write(path, text);
	snprintf(path, sizeof(path), "%s/README", centres);
	ut_write(path, "not a centre\n");
	snprintf(path, sizeof(path), "%s/.hidden.ini", centres);
	ut_write(path, "not a centre either\n");
	if (catalog_read_files(&cfg, &cat, err, sizeof(err)) != 0)
		fail_msg("catalog_read_files: %s", err);
	assert_int_equal(cat.ncategories, 2);
	assert_int_equal(cat.ncentres, 2);
	assert_string_equal(cat.centres[0]->id, "al-arz");
	assert_string_equal(cat.centres[1]->id, "al-bahr");
	assert_int_equal(catalog_centre(&cat, "al-bahr"), 1);
	assert_int_equal(catalog_centre(&cat, "al-jabal"), -1);
	check_good_centre(&cat, cat.centres[0]);
	catalog_free(&cat);
	assert_int_equal(cat.ncentres, 0);

	/* two files, one centre id */
	snprintf(path, sizeof(path), "%s/b-bahr.ini", centres);
	ut_write(path, text);
	assert_int_equal(catalog_read_files(&cfg, &cat, err, sizeof(err)), -1);
	assert_true(error_is(err, path, 0, "centre id \"al-arz\" is used by another file"));
	assert_int_equal(cat.ncentres, 0);

	/* a broken centre file: its own error */
	snprintf(path, sizeof(path), "%s/b-bahr.ini", centres);
	free(other);
	other = from_template(centre_lines, NELEM(centre_lines), 14, "min_guest = 2", "\n");
	ut_write(path, other);
	assert_int_equal(catalog_read_files(&cfg, &cat, err, sizeof(err)), -1);
	assert_true(error_is(err, path, 14, "unknown setting \"min_guest\""));
	assert_int_equal(cat.ncentres, 0);

	free(text);
	free(other);
}

/* ---- estiva-server.conf (config.c) ---- */

static const char *const config_lines[] = {
    /*  1 */ "[server]",
    /*  2 */ "listen = 0.0.0.0",
    /*  3 */ "port = 0",
    /*  4 */ "threads = 4",
    /*  5 */ "max_connections = 100",
    /*  6 */ "per_ip_connections = 10",
    /*  7 */ "connection_timeout = 2m",
    /*  8 */ "body_max = 64k",
    /*  9 */ "web_root = web",
    /* 10 */ "",
    /* 11 */ "[database]",
    /* 12 */ "path = data/estiva.db",
    /* 13 */ "synchronous = full",
    /* 14 */ "busy_timeout = 2s",
    /* 15 */ "",
    /* 16 */ "[bookings]",
    /* 17 */ "hold = 20m",
    /* 18 */ "sweep_interval = 15s",
    /* 19 */ "max_request_nights = 60",
    /* 20 */ "",
    /* 21 */ "[sessions]",
    /* 22 */ "idle = 30m",
    /* 23 */ "absolute = 12h",
    /* 24 */ "",
    /* 25 */ "[catalog]",
    /* 26 */ "dir = centres",
    /* 27 */ "categories = /etc/estiva/categories.ini",
    /* 28 */ "timezone = Africa/Casablanca",
};

static void test_config_good(void **state)
{
	struct fixture *fx = *state;
	struct config cfg;
	char path[4200], want[4300], err[512] = "";
	char *text = from_template(config_lines, NELEM(config_lines), 0, NULL, "\n");

	snprintf(path, sizeof(path), "%s/estiva-server.conf", fx->dir);
	ut_write(path, text);
	free(text);
	if (config_read(path, &cfg, err, sizeof(err)) != 0)
		fail_msg("config_read: %s", err);
	assert_string_equal(cfg.path, path);
	assert_string_equal(cfg.listen, "0.0.0.0");
	assert_int_equal(cfg.port, 0);
	assert_int_equal(cfg.threads, 4);
	assert_int_equal(cfg.max_connections, 100);
	assert_int_equal(cfg.per_ip_connections, 10);
	assert_int_equal(cfg.conn_timeout, 120);
	assert_int_equal(cfg.body_max, 65536);
	assert_int_equal(cfg.sync_full, 1);
	assert_int_equal(cfg.busy_timeout_ms, 2000);
	assert_int_equal(cfg.hold_seconds, 1200);
	assert_int_equal(cfg.sweep_seconds, 15);
	assert_int_equal(cfg.max_request_nights, 60);
	assert_int_equal(cfg.session_idle, 1800);
	assert_int_equal(cfg.session_absolute, 43200);
	assert_string_equal(cfg.timezone, "Africa/Casablanca");
	assert_string_equal(cfg.tls_cert, "");
	assert_string_equal(cfg.tls_key, "");
	/* relative paths are taken from the configuration file's folder; absolute ones stay */
	snprintf(want, sizeof(want), "%s/web", fx->dir);
	assert_string_equal(cfg.web_root, want);
	snprintf(want, sizeof(want), "%s/data/estiva.db", fx->dir);
	assert_string_equal(cfg.db_path, want);
	snprintf(want, sizeof(want), "%s/centres", fx->dir);
	assert_string_equal(cfg.catalog_dir, want);
	assert_string_equal(cfg.categories_path, "/etc/estiva/categories.ini");

	/* an empty file gives the defaults */
	ut_write(path, "; nothing\n");
	assert_int_equal(config_read(path, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.listen, DEF_LISTEN);
	assert_int_equal(cfg.port, DEF_PORT);
	assert_int_equal(cfg.threads, DEF_THREADS);
	assert_int_equal(cfg.body_max, DEF_BODY_MAX);
	assert_int_equal(cfg.hold_seconds, DEF_HOLD);
	assert_int_equal(cfg.sync_full, 0);
	assert_int_equal(cfg.busy_timeout_ms, DEF_BUSY_TIMEOUT_MS);
	assert_string_equal(cfg.timezone, DEF_TIMEZONE);

	/* the limits of body_max, and both TLS files */
	text = from_template(config_lines, NELEM(config_lines), 8,
	                     "body_max = 16m\ntls_cert = /etc/c.pem\ntls_key = k.pem", "\n");
	ut_write(path, text);
	free(text);
	if (config_read(path, &cfg, err, sizeof(err)) != 0)
		fail_msg("config_read: %s", err);
	assert_int_equal(cfg.body_max, 16 * 1024 * 1024);
	assert_string_equal(cfg.tls_cert, "/etc/c.pem");
	snprintf(want, sizeof(want), "%s/k.pem", fx->dir);
	assert_string_equal(cfg.tls_key, want);
	text = from_template(config_lines, NELEM(config_lines), 8, "body_max = 1k", "\n");
	ut_write(path, text);
	free(text);
	assert_int_equal(config_read(path, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.body_max, 1024);
}

/* A configuration named by a relative path: its relative paths are relative to the same folder. */
static void test_config_relative_file(void **state)
{
	struct fixture *fx = *state;
	struct config cfg;
	char cwd[PATH_MAX], err[512] = "";
	int rc;

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(fx->dir), 0);
	ut_write("rel.conf", "[catalog]\ndir = centres\n[database]\npath = /abs/e.db\n");
	rc = config_read("rel.conf", &cfg, err, sizeof(err));
	assert_int_equal(chdir(cwd), 0);
	if (rc != 0)
		fail_msg("config_read: %s", err);
	assert_string_equal(cfg.catalog_dir, "./centres");
	assert_string_equal(cfg.db_path, "/abs/e.db");
}

static void test_config_broken(void **state)
{
	struct fixture *fx = *state;
	static const struct broken_case cases[] = {
	    {"unknown setting", 5, "max_conns = 100", 5,
	     "unknown setting \"max_conns\" in [server]"},
	    {"unknown setting in [catalog]", 28, "time_zone = UTC", 28,
	     "unknown setting \"time_zone\" in [catalog]"},
	    {"unknown section", 21, "[session]", 22, "unknown section [session]"},
	    {"setting before any section", 1, "port = 8080", 1, "unknown section []"},
	    {"setting without =", 4, "threads 4", 4, "syntax error"},
	    {"port too big", 3, "port = 70000", 3,
	     "port must be a whole number from 0 to 65535, not \"70000\""},
	    {"port not a number", 3, "port = 80a", 3,
	     "port must be a whole number from 0 to 65535, not \"80a\""},
	    {"port negative", 3, "port = -1", 3, "port must be a whole number from 0 to 65535"},
	    {"threads 0", 4, "threads = 0", 4, "threads must be a whole number from 1 to 64"},
	    {"bad duration unit", 17, "hold = 20x", 17,
	     "hold must be a duration such as 90s, 20m or 2h"},
	    {"duration without number", 7, "connection_timeout = s", 7,
	     "connection_timeout must be a duration"},
	    {"zero hold", 17, "hold = 0s", 17,
	     "hold must be a duration such as 90s, 20m or 2h (at least 1s)"},
	    {"idle too short", 22, "idle = 5s", 22,
	     "idle must be a duration such as 90s, 20m or 2h (at least 10s)"},
	    {"body_max below 1k", 8, "body_max = 512", 8,
	     "body_max must be a size from 1k to 16m, not \"512\""},
	    {"body_max above 16m", 8, "body_max = 17m", 8,
	     "body_max must be a size from 1k to 16m, not \"17m\""},
	    {"body_max with a bad unit", 8, "body_max = 64q", 8, "body_max must be a size"},
	    {"synchronous", 13, "synchronous = fast", 13,
	     "synchronous must be normal or full, not \"fast\""},
	    {"max_request_nights", 19, "max_request_nights = 400", 19,
	     "max_request_nights must be a whole number from 1 to 366"},
	    {"line too long", 2, "listen = " LONG_NAME LONG_NAME, 2, "line longer than 198 bytes"},
	    {"tls_cert without tls_key", 10, "tls_cert = cert.pem", 0,
	     "tls_cert and tls_key go together"},
	};
	char path[4200];
	int nfail = 0;

	snprintf(path, sizeof(path), "%s/estiva-server.conf", fx->dir);
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct config cfg;
		char err[512] = "";
		char *text = from_template(config_lines, NELEM(config_lines), cases[i].line,
		                           cases[i].with, "\n");
		int rc;

		ut_write(path, text);
		free(text);
		rc = config_read(path, &cfg, err, sizeof(err));
		CASE_CHECK(nfail, rc == -1, cases[i].name, "returned %d, expected -1", rc);
		CASE_CHECK(nfail, error_is(err, path, cases[i].want_line, cases[i].phrase),
		           cases[i].name, "error \"%s\", expected line %d and \"%s\"", err,
		           cases[i].want_line, cases[i].phrase);
	}
	{
		struct config cfg;
		char err[512] = "";

		snprintf(path, sizeof(path), "%s/no-such.conf", fx->dir);
		assert_int_equal(config_read(path, &cfg, err, sizeof(err)), -1);
		assert_true(error_is(err, path, 0, "cannot open"));
	}
	assert_int_equal(nfail, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_categories_good, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_categories_broken, fixture_setup,
	                                    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_centre_good, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_centre_good_zeroed, fixture_setup,
	                                    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_centre_broken, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_catalog_read_files, fixture_setup,
	                                    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_config_good, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_config_relative_file, fixture_setup,
	                                    fixture_teardown),
	    cmocka_unit_test_setup_teardown(test_config_broken, fixture_setup, fixture_teardown),
	};

	return cmocka_run_group_tests_name("catalog", tests, NULL, NULL);
}
