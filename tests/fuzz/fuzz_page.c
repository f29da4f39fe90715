/* fuzz_page: a download page as the gate applies it (gate/store.c store_apply_page): keys, passes,
 * revocations, other gates' scans (through shared/event.c's relay form) and the cursor, into a real
 * SQLite store in memory, in one transaction. Checks: it never crashes or leaks; a page that is not
 * an object, or whose parts are malformed, is applied without them or refused, and the store still
 * answers its lookups afterwards. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "gate.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1800000000 /* 2027-01-15T08:00:00Z */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct store *st;
	struct decide_lookup lk;
	struct decide_pass_row row;
	struct pass_key keys[GATE_KEYS_MAX];
	json_t *page;
	int inside;
	char err[256];

	if (!st) {
		if (sodium_init() < 0)
			abort();
		log_set_level(LOG_ERR +
		              1); /* the skipped items are logged as warnings: too many here */
		if (!(st = store_open(":memory:", 0, err, sizeof(err))))
			abort();
	}
	page = json_loadb((const char *)data, size, 0, NULL);
	if (!page)
		return 0;
	(void)store_apply_page(st, page, 3, NOW);
	json_decref(page);
	store_lookup(st, &lk);
	if (store_keys_load(st, keys, GATE_KEYS_MAX) < 0 || lk.pass_row(lk.user, 17, &row) < 0 ||
	    lk.revoked(lk.user, 17) < 0 || lk.presence(lk.user, 17, &inside) < 0)
		abort();
	if (!memchr(row.guest_name, 0, sizeof(row.guest_name)))
		abort();
	return 0;
}
