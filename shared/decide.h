/* decide.h: the admission rules, one implementation for the gate daemon and the server's online
 * check. decide() takes what was scanned (a QR text, or an NFC payload and the tag's UID), the key
 * set, the instant, the gate's settings and a few lookups into local data (through callbacks, so
 * this file does no I/O), and says admit or deny, with a reason code and messages in French and
 * Arabic.
 *
 * The rules, in order (the first that fails gives the reason):
 *   1. the gate itself: revoked and past its grace                          gate_revoked
 *   2. format: prefix, Base45, layout, fields                               bad_format
 *      key id not in the key set                                            unknown_key
 *      signature                                                            bad_signature
 *   3. centre number                                                        other_centre
 *   4. tag binding: a pass bound to a tag must come from that tag (an NFC
 *      read with the same UID; a QR copy or another tag is a copy)          uid_mismatch
 *   5. direction: a reader configured "both" goes out when the record says
 *      the pass is inside, in otherwise
 *   entries only (an exit is never refused for time, revocation or kind: a guest must be able to
 *   leave):
 *   6. pass kind allowed at this gate                                       wrong_kind
 *   7. revocation (revocation list, or the local pass row says revoked)     revoked
 *      the pass ends after its signing key's published validity             key_expired
 *      (a retired or leaked key signs nothing the gates still trust)
 *   8. validity window, widened by grace minutes on each side               not_yet_valid / expired
 *   9. anti-passback (the latest admitted event of this pass, from any gate):
 *      entry while inside: strict → deny already_inside, warn → admit inside_warning, off → ok
 *      exit while not inside: strict → deny not_inside, warn → admit not_inside, off → ok
 * Admissions carry the guest's first name and unit from the local pass row when there is one (a
 * valid signed pass the gate has not synced yet is still admitted, without a name).
 *
 * Thread-safe; no allocation; the caller must have called sodium_init(). */
#ifndef ESTIVA_DECIDE_H
#define ESTIVA_DECIDE_H

#include <stddef.h>
#include <stdint.h>

#include "pass.h"

enum decide_verdict { DECIDE_DENY = 0, DECIDE_ADMIT = 1 };

enum decide_reason {
	DECIDE_OK = 0,
	DECIDE_INSIDE_WARNING, /* admitted (policy warn): the record says the pass is already inside
	                        */
	DECIDE_NOT_INSIDE,     /* exit while the record says not inside: denied (strict) or warned
	                          (warn) */
	DECIDE_BAD_FORMAT,     /* not a pass: garbage, truncated, too long, bad fields */
	DECIDE_BAD_SIGNATURE,
	DECIDE_UNKNOWN_KEY,
	DECIDE_OTHER_CENTRE,
	DECIDE_NOT_YET_VALID,
	DECIDE_EXPIRED,
	DECIDE_REVOKED,
	DECIDE_WRONG_KIND,
	DECIDE_ALREADY_INSIDE,
	DECIDE_UID_MISMATCH, /* bound to another tag, or a tag-bound pass shown as a QR code */
	DECIDE_GATE_REVOKED, /* this gate was revoked and its grace is over */
	DECIDE_NO_PASSAGE,   /* (undone events) the turnstile reported no passage */
	DECIDE_MANUAL,       /* (manual events) admitted by staff by hand */
	DECIDE_INTERNAL,     /* a lookup failed: denied, say so */
	DECIDE_KEY_EXPIRED,  /* the pass's validity ends after its key's published validity */
	DECIDE_REASON_COUNT
};

enum decide_dir { DECIDE_DIR_IN = 0, DECIDE_DIR_OUT = 1, DECIDE_DIR_BOTH = 2 };
enum decide_policy { DECIDE_POLICY_STRICT = 0, DECIDE_POLICY_WARN = 1, DECIDE_POLICY_OFF = 2 };

/* Bits of decide_config.kinds: 1 << enum pass_kind. */
#define DECIDE_KINDS_ALL                                                                           \
	((1u << PASS_KIND_GUEST) | (1u << PASS_KIND_DAY_VISITOR) | (1u << PASS_KIND_STAFF))

#define DECIDE_NAME_MAX 64
#define DECIDE_UNIT_MAX 16

/* What the local store knows about a pass (synced from the server). */
struct decide_pass_row {
	char guest_name[DECIDE_NAME_MAX]; /* first name, UTF-8, NUL-terminated */
	char unit[DECIDE_UNIT_MAX];
	int revoked;                   /* the row's status is "revoked" */
	uint8_t nfc_uid[PASS_UID_MAX]; /* the tag the server bound it to, if any */
	uint8_t nfc_uid_len;
};

/* Lookups, each 1 found / 0 not found / -1 error (an error denies with DECIDE_INTERNAL). Any
 * pointer may be NULL: "not found". */
struct decide_lookup {
	void *user;
	int (*pass_row)(void *user, uint32_t pass_id, struct decide_pass_row *row);
	/* on the revocation list now? */
	int (*revoked)(void *user, uint32_t pass_id);
	/* the record of presence: 1 with *inside set (1 inside, 0 outside) from the latest admitted
	 * event of the pass, from any gate; 0 when the pass was never seen */
	int (*presence)(void *user, uint32_t pass_id, int *inside);
};

struct decide_config {
	uint16_t centre;   /* this centre's number */
	int grace_minutes; /* validity window widened by this on both sides */
	enum decide_policy policy;
	unsigned kinds;   /* allowed kinds (DECIDE_KINDS_ALL); 0 means all */
	int gate_revoked; /* 1: the gate was revoked and its grace is over */
};

struct decide_input {
	const char *text; /* QR: the scanned line (not NUL-terminated), or NULL */
	size_t text_len;
	const unsigned char *bin; /* NFC: the pass record's payload, or NULL */
	size_t bin_len;
	const unsigned char *tag_uid; /* NFC: the tag's UID (with bin) */
	size_t tag_uid_len;
	int64_t now;         /* seconds since the epoch, UTC (the gate's corrected time) */
	enum decide_dir dir; /* the reader's direction */
};

struct decide_result {
	enum decide_verdict verdict;
	enum decide_reason reason;
	enum decide_dir dir; /* the direction taken: DECIDE_DIR_IN or DECIDE_DIR_OUT */
	int have_pass;       /* the signature verified: pass is filled */
	struct pass pass;
	int have_row; /* the local row was found: name and unit are set */
	char guest_name[DECIDE_NAME_MAX];
	char unit[DECIDE_UNIT_MAX];
};

/* Decides; fills *out (always, never fails: a failed lookup is a deny with DECIDE_INTERNAL). */
void decide(const struct decide_input *in, const struct pass_key *keys, int nkeys,
            const struct decide_config *cfg, const struct decide_lookup *lk,
            struct decide_result *out);

/* The reason's code as it travels in the sync protocol ("ok", "bad_format", ...); never NULL. */
const char *decide_reason_code(enum decide_reason r);
/* The code back to the enum: 0 and *out, or -1 when unknown. */
int decide_reason_parse(const char *code, enum decide_reason *out);
/* A short message for the gate's display, in French or Arabic (UTF-8); never NULL. */
const char *decide_message_fr(enum decide_reason r);
const char *decide_message_ar(enum decide_reason r);
/* "in" / "out" / "both", and back (0, or -1 when unknown). */
const char *decide_dir_name(enum decide_dir d);
int decide_dir_parse(const char *s, enum decide_dir *out);
/* "strict" / "warn" / "off", and back. */
const char *decide_policy_name(enum decide_policy p);
int decide_policy_parse(const char *s, enum decide_policy *out);

#endif
