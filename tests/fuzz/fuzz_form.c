/* fuzz_form: the gateway's callback body as the server reads it: form decoding, the ver3 hash check
 * and the amount. Outside input from the network, before any authentication. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct form f;
	int64_t centimes;
	const char *amount;

	if (form_parse((const char *)data, size, &f) < 0)
		return 0;
	(void)cmi_hash_ok(&f, "fuzz|store\\key");
	amount = form_get(&f, "amount");
	if (amount)
		(void)cmi_parse_amount(amount, &centimes);
	for (int i = 0; i < f.n; i++) {
		char *e = form_escape(f.values[i]);
		free(e);
	}
	form_free(&f);
	return 0;
}
