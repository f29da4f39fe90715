/* unit_util.h: small helpers shared by the unit tests: temporary folders and files, and cmocka's
 * includes in the order cmocka needs them. */
#ifndef ESTIVA_UNIT_UTIL_H
#define ESTIVA_UNIT_UTIL_H

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* A fresh folder under $TMPDIR (or /tmp); malloc'd path, or NULL. */
static inline char *ut_tempdir(void)
{
	const char *base = getenv("TMPDIR");
	char *p;
	size_t n;

	if (!base || !*base)
		base = "/tmp";
	n = strlen(base) + sizeof("/estiva-unit-XXXXXX");
	p = malloc(n);
	if (!p)
		return NULL;
	snprintf(p, n, "%s/estiva-unit-XXXXXX", base);
	if (!mkdtemp(p)) {
		free(p);
		return NULL;
	}
	return p;
}

/* dir/name into out (fails the test when it does not fit). */
static inline void ut_path(char *out, size_t outlen, const char *dir, const char *name)
{
	int n = snprintf(out, outlen, "%s/%s", dir, name);

	assert_true(n > 0 && (size_t)n < outlen);
}

/* Writes exactly len bytes of text to path (fails the test on error). */
static inline void ut_write_len(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static inline void ut_write(const char *path, const char *text)
{
	ut_write_len(path, text, strlen(text));
}

/* Removes the files of a folder made by ut_tempdir (one level, plus sub-folders one level down),
 * then the folder itself. */
static inline void ut_rmtree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[4096];

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		int n = snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);

		if (n < 0 || (size_t)n >= sizeof(p))
			continue;
		if (unlink(p) < 0)
			ut_rmtree(p);
	}
	closedir(d);
	rmdir(dir);
}

/* Table-driven checks: each mismatching case is printed with its name and counted; the test fails
 * at its end when any case failed, so one run shows every broken case. */
#define CASE_CHECK(nfail, cond, name, ...)                                                         \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			print_error("case \"%s\": ", (name));                                      \
			print_error(__VA_ARGS__);                                                  \
			print_error("\n");                                                         \
			(nfail)++;                                                                 \
		}                                                                                  \
	} while (0)

#endif
