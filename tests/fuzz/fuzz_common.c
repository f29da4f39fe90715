/* fuzz_keys.c: see fuzz_common.h. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fuzz_common.h"

unsigned char fuzz_sk[2][64];
struct pass_key fuzz_keys[2];

void fuzz_keys_init(void)
{
	static int ready;
	unsigned char seed[32];

	if (ready)
		return;
	if (sodium_init() < 0)
		abort();
	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < 32; i++)
			seed[i] = (unsigned char)(32 * k + i + 1);
		fuzz_keys[k].id = (uint8_t)(k + 1);
		if (crypto_sign_seed_keypair(fuzz_keys[k].pk, fuzz_sk[k], seed) != 0)
			abort();
	}
	ready = 1;
}

static int row(void *user, uint32_t pass_id, struct decide_pass_row *r)
{
	(void)user;
	if (pass_id % 5 == 0)
		return 0; /* not in the list */
	memset(r, 0, sizeof(*r));
	strcpy(r->guest_name, "Karim");
	strcpy(r->unit, "A01");
	r->revoked = pass_id % 11 == 0;
	if (pass_id % 2) {
		r->nfc_uid_len = 7;
		memcpy(r->nfc_uid, "\x04\x11\x22\x33\x44\x55\x66", 7);
	}
	return 1;
}

static int revoked(void *user, uint32_t pass_id)
{
	(void)user;
	return pass_id % 13 == 0;
}

static int presence(void *user, uint32_t pass_id, int *inside)
{
	(void)user;
	if (pass_id % 3 == 0)
		return 0;
	*inside = pass_id % 3 == 1;
	return 1;
}

void fuzz_decide(struct decide_input *in)
{
	struct decide_lookup lk = {NULL, row, revoked, presence};
	struct decide_config dc;
	struct decide_result res;

	memset(&dc, 0, sizeof(dc));
	dc.centre = 3; /* the golden passes' centre */
	dc.grace_minutes = 30;
	dc.kinds = ~0u;
	for (int d = 0; d < 3; d++) {
		/* the golden passes' window, before it, and long after */
		static const int64_t nows[] = {1784124000, 1700000000, 2000000000};

		in->dir = (enum decide_dir)d;
		in->now = nows[d];
		memset(&res, 0, sizeof(res));
		decide(in, fuzz_keys, 2, &dc, &lk, &res);
		if (res.verdict == DECIDE_ADMIT &&
		    (!res.have_pass || res.pass.centre != dc.centre || res.dir == DECIDE_DIR_BOTH))
			abort();
		if (res.have_pass && (res.pass.key_id < 1 || res.pass.key_id > 2))
			abort();
		if (!decide_reason_code(res.reason) || !decide_message_fr(res.reason) ||
		    !decide_message_ar(res.reason))
			abort();
		if (memchr(res.guest_name, 0, sizeof(res.guest_name)) == NULL)
			abort();
	}
}
