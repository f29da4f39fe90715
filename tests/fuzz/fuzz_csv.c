/* fuzz_csv: the ministry's staff export as estiva-admin import-members reads it (RFC 4180 records,
 * household fields, every per-field check). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct catalog cat;
	struct member_row *rows = NULL;
	char err[512];
	int n = 0;

	if (!cat.ncategories) {
		cat.ncategories = 2;
		strcpy(cat.categories[0].id, "cat-a");
		strcpy(cat.categories[1].id, "retired");
	}
	if (members_csv_parse("fuzz.csv", (const char *)data, size, &cat, &rows, &n, err,
	                      sizeof(err)) == 0)
		free(rows);
	return 0;
}
