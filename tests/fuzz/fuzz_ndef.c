/* fuzz_ndef: a Type 2 tag's data area as the gate reads it (shared/ndef.c): the TLVs, the NDEF
 * record and the Estiva pass record in it, then the pass decided on with the tag's UID
 * (shared/decide.c). The first byte says how many of the following bytes are the UID (0..10).
 * Checks: every pointer the decoder returns lies inside the image; a pass payload found is one
 * ndef_encode_pass writes back to the same record; the decision keeps its invariants
 * (fuzz_common.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "ndef.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int inside(const unsigned char *p, size_t n, const unsigned char *image, size_t len)
{
	return p >= image && n <= len && (size_t)(p - image) <= len - n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ndef_record rec;
	struct decide_input in;
	const unsigned char *payload, *uid;
	unsigned char again[1024];
	size_t n = 0, uid_len, back = 0;

	if (size < 1)
		return 0;
	fuzz_keys_init();
	uid_len = data[0] % 11;
	if (uid_len > size - 1)
		uid_len = size - 1;
	uid = data + 1;
	data += 1 + uid_len;
	size -= 1 + uid_len;

	if (ndef_decode(data, size, &rec) == NDEF_OK) {
		if (rec.tlv_offset > rec.tlv_end || rec.tlv_end > size ||
		    (rec.type_len && !inside(rec.type, rec.type_len, data, size)) ||
		    (rec.id && !inside(rec.id, rec.id_len, data, size)) ||
		    (rec.payload_len && !inside(rec.payload, rec.payload_len, data, size)))
			abort();
	}
	if (ndef_decode_pass(data, size, &payload, &n) != NDEF_OK)
		return 0;
	if (n < 1 || n > 255 || !inside(payload, n, data, size))
		abort();
	/* the record we write for this payload reads back as the same payload */
	if (ndef_encode_pass(payload, n, again, sizeof(again), &back) != NDEF_OK)
		abort();
	{
		const unsigned char *p2;
		size_t n2;

		if (ndef_decode_pass(again, back, &p2, &n2) != NDEF_OK || n2 != n ||
		    memcmp(p2, payload, n))
			abort();
	}
	memset(&in, 0, sizeof(in));
	in.bin = payload;
	in.bin_len = n;
	in.tag_uid = uid_len ? uid : NULL;
	in.tag_uid_len = uid_len;
	fuzz_decide(&in);
	return 0;
}
