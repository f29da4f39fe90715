/* fuzz_xml: the card gateway's XML answer (CC5Response) as the server reads it before any money
 * decision (server/cmi.c, cmi_parse_answer). Outside input from the network. */
#include <stdint.h>
#include <string.h>

#include "cmi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cmi_result r;

	memset(&r, 0, sizeof(r));
	if (cmi_parse_answer((const char *)data, size, &r) == 0) {
		/* what was read fits its fields and is terminated */
		if (!r.response[0] || strlen(r.response) >= sizeof(r.response) ||
		    strlen(r.trans_stat) >= sizeof(r.trans_stat) ||
		    strlen(r.err_msg) >= sizeof(r.err_msg) || r.refunded < 0 ||
		    r.capture_amount < 0 || r.auth_amount < 0)
			__builtin_trap();
	} else if (r.response[0] || r.trans_stat[0] || !r.err_msg[0]) {
		__builtin_trap(); /* a refused answer leaves nothing behind but why */
	}
	return 0;
}
