/* fuzz_pass.c: libFuzzer target for the parsers of outside input in the pass format: base45_decode,
 * pass_verify_text / pass_parse_text (QR) and pass_verify_bin (NFC), all on the same bytes. Beyond
 * "no crash, no out-of-bounds read" (libFuzzer's buffer is exactly the input's size) it checks:
 *   - Base45 text that decodes encodes back to the very same text;
 *   - verify and parse agree (parse says OK where verify says KEY or SIGNATURE, else the same);
 *   - a pass that verifies, signed again from its fields, gives back the very same bytes.
 * The keys are those of fuzz_common.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base45.h"
#include "fuzz_common.h"
#include "pass.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const struct pass *a, const struct pass *b)
{
	return a->version == b->version && a->key_id == b->key_id && a->pass_id == b->pass_id &&
	       a->booking_id == b->booking_id && a->centre == b->centre && a->guest == b->guest &&
	       a->kind == b->kind && a->valid_from == b->valid_from &&
	       a->valid_until == b->valid_until && a->flags == b->flags &&
	       a->uid_len == b->uid_len && a->uid_len <= PASS_UID_MAX &&
	       memcmp(a->uid, b->uid, a->uid_len) == 0;
}

static void fuzz_base45(const char *text, size_t size)
{
	size_t need = size / 3 * 2 + (size % 3 == 2), outn = 0;
	unsigned char *out = malloc(need ? need : 1);
	char *back;

	if (!out)
		abort();
	if (base45_decode(text, size, out, need, &outn) == 0) {
		back = malloc(size + 1);
		if (!back || outn != need || base45_encode(out, outn, back, size + 1) != 0 ||
		    strlen(back) != size || memcmp(back, text, size) != 0)
			abort();
		free(back);
	} else if (outn != 0) {
		abort();
	}
	free(out);
}

static void fuzz_text(const char *text, size_t size)
{
	struct pass v, p;
	enum pass_err ev = pass_verify_text(text, size, fuzz_keys, 2, &v);
	enum pass_err ep = pass_parse_text(text, size, &p);
	char again[PASS_TEXT_MAX + 1];

	if (ev == PASS_ERR_KEY || ev == PASS_ERR_SIGNATURE) {
		if (ep != PASS_OK)
			abort();
	} else if (ep != ev) {
		abort();
	}
	if (ev != PASS_OK)
		return;
	if (!same(&v, &p) || v.key_id < 1 || v.key_id > 2)
		abort();
	if (pass_sign_text(&v, fuzz_sk[v.key_id - 1], again, sizeof(again)) != PASS_OK ||
	    strlen(again) != size || memcmp(again, text, size) != 0)
		abort();
}

static void fuzz_bin(const uint8_t *data, size_t size)
{
	struct pass v;
	unsigned char again[PASS_BIN_MAX];
	size_t n = 0;

	if (pass_verify_bin(data, size, fuzz_keys, 2, &v) != PASS_OK)
		return;
	if (v.key_id < 1 || v.key_id > 2 || v.uid_len > PASS_UID_MAX)
		abort();
	if (pass_sign_bin(&v, fuzz_sk[v.key_id - 1], again, sizeof(again), &n) != PASS_OK ||
	    n != size || memcmp(again, data, size) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_keys_init();
	fuzz_base45((const char *)data, size);
	fuzz_text((const char *)data, size);
	fuzz_bin(data, size);
	return 0;
}
