/* fuzz_common.h: what the fuzz targets that verify passes share. The two signing keys: the golden
 * key (seed 0x01..0x20, id 1, as in docs/pass-format.md) and a second one (seed 0x21..0x40, id 2),
 * so the golden tokens of the seed corpora verify. And the gate's decision (shared/decide.c) run on
 * what a reader delivered, with the invariants every verdict must keep. */
#ifndef ESTIVA_FUZZ_COMMON_H
#define ESTIVA_FUZZ_COMMON_H

#include "decide.h"
#include "pass.h"

extern unsigned char fuzz_sk[2][64];
extern struct pass_key fuzz_keys[2];
/* Makes both keys once (and sodium_init); aborts when it cannot. */
void fuzz_keys_init(void);
/* decide() on in (its now and dir set here) at centre 3, against lookups that answer from the pass
 * id (revoked, inside, bound to a tag); aborts when a verdict breaks a rule of docs/pass-format.md.
 */
void fuzz_decide(struct decide_input *in);

#endif
