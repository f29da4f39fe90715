/* test_decide.c: the admission rules (shared/decide.c), table-driven: every reason code, both input
 * forms (QR text, NFC binary with a tag UID), the grace edges, anti-passback under each policy,
 * exits, readers set to "both", tag binding, a revoked gate and failing lookups. Passes are signed
 * here with test keys through shared/pass.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "decide.h"
#include "pass.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static unsigned char sk_a[64], sk_b[64];
static struct pass_key key_a = {.id = 1}, key_b = {.id = 2};

#define T0 29000000u /* minutes: mid-2025 */
#define STAY (3 * 1440u)
#define GRACE 30

static const uint8_t uid7[7] = {0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6};
static const uint8_t uid7_other[7] = {0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66};

/* ---- what the lookups answer ---- */
struct world {
	int row; /* 1: the pass row exists */
	int row_revoked;
	int row_uid;  /* 1: the row binds uid7 */
	int listed;   /* on the revocation list */
	int presence; /* -1 never seen, 0 outside, 1 inside */
	int fail;     /* 1: pass_row fails, 2: revoked fails, 3: presence fails */
};

static int w_row(void *user, uint32_t id, struct decide_pass_row *row)
{
	const struct world *w = user;

	(void)id;
	if (w->fail == 1)
		return -1;
	if (!w->row)
		return 0;
	snprintf(row->guest_name, sizeof(row->guest_name), "Karim");
	snprintf(row->unit, sizeof(row->unit), "B01");
	row->revoked = w->row_revoked;
	if (w->row_uid) {
		memcpy(row->nfc_uid, uid7, 7);
		row->nfc_uid_len = 7;
	}
	return 1;
}

static int w_revoked(void *user, uint32_t id)
{
	const struct world *w = user;

	(void)id;
	return w->fail == 2 ? -1 : w->listed;
}

static int w_presence(void *user, uint32_t id, int *inside)
{
	const struct world *w = user;

	(void)id;
	if (w->fail == 3)
		return -1;
	if (w->presence < 0)
		return 0;
	*inside = w->presence;
	return 1;
}

/* ---- what is scanned ---- */
enum form { TEXT, BIN, GARBAGE, EMPTY, TRUNCATED, BADPREFIX, ALTERED, NOTHING };
enum signer { SIGN_A, SIGN_B_AS_1, SIGN_B_AS_2 };

struct tcase {
	const char *name;
	enum form form;
	enum signer signer;
	uint16_t centre;    /* 0: 1 */
	uint8_t kind;       /* 0: guest */
	int bound;          /* the pass is bound to uid7 */
	const uint8_t *tag; /* the tag's UID (BIN) */
	int64_t now_min;    /* minutes relative to valid_from */
	enum decide_dir dir;
	enum decide_policy policy;
	unsigned kinds;
	int gate_revoked;
	struct world w;
	int nkeys; /* 0: key A only; 2: A and B */
	enum decide_verdict want_v;
	enum decide_reason want_r;
	enum decide_dir want_dir;
};

#define NOW_OK 60

/* clang-format off: one case per line pair reads better than one field per line */
// clang-format off
static const struct tcase cases[] = {
	{"ok, QR", TEXT, SIGN_A, 0, 0, 0, NULL, NOW_OK, DECIDE_DIR_IN, DECIDE_POLICY_STRICT, 0, 0, {1, 0, 0, 0, -1, 0}, 0,
	 DECIDE_ADMIT, DECIDE_OK, DECIDE_DIR_IN},
	{"ok, NFC, unbound pass", BIN, SIGN_A, 0, 0, 0, uid7, NOW_OK, DECIDE_DIR_IN, 0, 0, 0, {1, 0, 0, 0, -1, 0}, 0,
	 DECIDE_ADMIT, DECIDE_OK, DECIDE_DIR_IN},
	{"not synced yet: admitted without a name", TEXT, SIGN_A, 0, 0, 0, NULL, NOW_OK, DECIDE_DIR_IN, 0, 0, 0,
	 {0, 0, 0, 0, -1, 0}, 0, DECIDE_ADMIT, DECIDE_OK, DECIDE_DIR_IN},
	{"garbage", GARBAGE, SIGN_A, 0, 0, 0, NULL, NOW_OK, DECIDE_DIR_IN, 0, 0, 0, {1, 0, 0, 0, -1, 0}, 0, DECIDE_DENY,
	 DECIDE_BAD_FORMAT, DECIDE_DIR_IN},
	{"empty", EMPTY, SIGN_A, 0, 0, 0, NULL, NOW_OK, DECIDE_DIR_IN, 0, 0, 0, {1, 0, 0, 0, -1, 0}, 0, DECIDE_DENY,
	 DECIDE_BAD_FORMAT, DECIDE_DIR_IN},
	{"nothing", NOTHING, SIGN_A, 0, 0, 0, NULL, NOW_OK, DECIDE_DIR_IN, 0, 0, 0, {1, 0, 0, 0, -1, 0}, 0, DECIDE_DENY,
	 DECIDE_BAD_FORMAT, DECIDE_DIR_IN},
	{"truncated", TRUNCATED, SIGN_A, 0, 0, 0, NULL, NOW_OK, DECIDE_DIR_IN, 0, 0, 0, {1, 0, 0, 0, -1, 0}, 0, DECIDE_DENY,
	 DECIDE_BAD_FORMAT, DECIDE_DIR_IN},
	{"bad prefix", BADPREFIX, SIGN_A, 0, 0, 0, NULL, NOW_OK, DECIDE_DIR_IN, 0, 0, 0, {1, 0, 0, 0, -1, 0}, 0,
	 DECIDE_DENY, DECIDE_BAD_FORMAT, DECIDE_DIR_IN},
	{"forged: another key under id 1", TEXT, SIGN_B_AS_1, 0, 0, 0, NULL, NOW_OK, DECIDE_DIR_IN, 0, 0, 0,
	 {1, 0, 0, 0, -1, 0}, 0, DECIDE_DENY, DECIDE_BAD_SIGNATURE, DECIDE_DIR_IN},
	{"altered pass id", ALTERED, SIGN_A, 0, 0, 0, NULL, NOW_OK, DECIDE_DIR_IN, 0, 0, 0, {1, 0, 0, 0, -1, 0}, 0,
	 DECIDE_DENY, DECIDE_BAD_SIGNATURE, DECIDE_DIR_IN},
	{"unknown key id", TEXT, SIGN_B_AS_2, 0, 0, 0, NULL, NOW_OK, DECIDE_DIR_IN, 0, 0, 0, {1, 0, 0, 0, -1, 0}, 0,
	 DECIDE_DENY, DECIDE_UNKNOWN_KEY, DECIDE_DIR_IN},
	{"second key of a rotation", TEXT, SIGN_B_AS_2, 0, 0, 0, NULL, NOW_OK, DECIDE_DIR_IN, 0, 0, 0,
	 {1, 0, 0, 0, -1, 0}, 2, DECIDE_ADMIT, DECIDE_OK, DECIDE_DIR_IN},
	{"other centre", TEXT, SIGN_A, 2, 0, 0, NULL, NOW_OK, DECIDE_DIR_IN, 0, 0, 0, {1, 0, 0, 0, -1, 0}, 0, DECIDE_DENY,
	 DECIDE_OTHER_CENTRE, DECIDE_DIR_IN},
	{"before the grace", TEXT, SIGN_A, 0, 0, 0, NULL, -GRACE - 1, DECIDE_DIR_IN, 0, 0, 0, {1, 0, 0, 0, -1, 0}, 0,
	 DECIDE_DENY, DECIDE_NOT_YET_VALID, DECIDE_DIR_IN},
	{"first minute of the grace", TEXT, SIGN_A, 0, 0, 0, NULL, -GRACE, DECIDE_DIR_IN, 0, 0, 0, {1, 0, 0, 0, -1, 0}, 0,
	 DECIDE_ADMIT, DECIDE_OK, DECIDE_DIR_IN},
	{"last minute of the grace", TEXT, SIGN_A, 0, 0, 0, NULL, STAY + GRACE - 1, DECIDE_DIR_IN, 0, 0, 0,
	 {1, 0, 0, 0, -1, 0}, 0, DECIDE_ADMIT, DECIDE_OK, DECIDE_DIR_IN},
	{"expired", TEXT, SIGN_A, 0, 0, 0, NULL, STAY + GRACE, DECIDE_DIR_IN, 0, 0, 0, {1, 0, 0, 0, -1, 0}, 0, DECIDE_DENY,
	 DECIDE_EXPIRED, DECIDE_DIR_IN},
	{"revoked (list)", TEXT, SIGN_A, 0, 0, 0, NULL, NOW_OK, DECIDE_DIR_IN, 0, 0, 0, {1, 0, 0, 1, -1, 0}, 0,
	 DECIDE_DENY, DECIDE_REVOKED, DECIDE_DIR_IN},
	{"revoked (row)", TEXT, SIGN_A, 0, 0, 0, NULL, NOW_OK, DECIDE_DIR_IN, 0, 0, 0, {1, 1, 0, 0, -1, 0}, 0, DECIDE_DENY,
	 DECIDE_REVOKED, DECIDE_DIR_IN},
	{"wrong kind", TEXT, SIGN_A, 0, PASS_KIND_STAFF, 0, NULL, NOW_OK, DECIDE_DIR_IN, 0, 1u << PASS_KIND_GUEST, 0,
	 {1, 0, 0, 0, -1, 0}, 0, DECIDE_DENY, DECIDE_WRONG_KIND, DECIDE_DIR_IN},
	{"kind allowed", TEXT, SIGN_A, 0, PASS_KIND_STAFF, 0, NULL, NOW_OK, DECIDE_DIR_IN, 0, 1u << PASS_KIND_STAFF, 0,
	 {1, 0, 0, 0, -1, 0}, 0, DECIDE_ADMIT, DECIDE_OK, DECIDE_DIR_IN},
	{"inside, strict", TEXT, SIGN_A, 0, 0, 0, NULL, NOW_OK, DECIDE_DIR_IN, DECIDE_POLICY_STRICT, 0, 0,
	 {1, 0, 0, 0, 1, 0}, 0, DECIDE_DENY, DECIDE_ALREADY_INSIDE, DECIDE_DIR_IN},
	{"inside, warn", TEXT, SIGN_A, 0, 0, 0, NULL, NOW_OK, DECIDE_DIR_IN, DECIDE_POLICY_WARN, 0, 0, {1, 0, 0, 0, 1, 0},
	 0, DECIDE_ADMIT, DECIDE_INSIDE_WARNING, DECIDE_DIR_IN},
	{"inside, off", TEXT, SIGN_A, 0, 0, 0, NULL, NOW_OK, DECIDE_DIR_IN, DECIDE_POLICY_OFF, 0, 0, {1, 0, 0, 0, 1, 0}, 0,
	 DECIDE_ADMIT, DECIDE_OK, DECIDE_DIR_IN},
	{"back in after an exit", TEXT, SIGN_A, 0, 0, 0, NULL, NOW_OK, DECIDE_DIR_IN, DECIDE_POLICY_STRICT, 0, 0,
	 {1, 0, 0, 0, 0, 0}, 0, DECIDE_ADMIT, DECIDE_OK, DECIDE_DIR_IN},
	{"exit, inside", TEXT, SIGN_A, 0, 0, 0, NULL, NOW_OK, DECIDE_DIR_OUT, DECIDE_POLICY_STRICT, 0, 0,
	 {1, 0, 0, 0, 1, 0}, 0, DECIDE_ADMIT, DECIDE_OK, DECIDE_DIR_OUT},
	{"exit, never in, strict", TEXT, SIGN_A, 0, 0, 0, NULL, NOW_OK, DECIDE_DIR_OUT, DECIDE_POLICY_STRICT, 0, 0,
	 {1, 0, 0, 0, -1, 0}, 0, DECIDE_DENY, DECIDE_NOT_INSIDE, DECIDE_DIR_OUT},
	{"exit, never in, warn", TEXT, SIGN_A, 0, 0, 0, NULL, NOW_OK, DECIDE_DIR_OUT, DECIDE_POLICY_WARN, 0, 0,
	 {1, 0, 0, 0, -1, 0}, 0, DECIDE_ADMIT, DECIDE_NOT_INSIDE, DECIDE_DIR_OUT},
	{"exit, never in, off", TEXT, SIGN_A, 0, 0, 0, NULL, NOW_OK, DECIDE_DIR_OUT, DECIDE_POLICY_OFF, 0, 0,
	 {1, 0, 0, 0, -1, 0}, 0, DECIDE_ADMIT, DECIDE_OK, DECIDE_DIR_OUT},
	{"exit after expiry", TEXT, SIGN_A, 0, 0, 0, NULL, STAY + 1440, DECIDE_DIR_OUT, 0, 0, 0, {1, 0, 0, 0, 1, 0}, 0,
	 DECIDE_ADMIT, DECIDE_OK, DECIDE_DIR_OUT},
	{"exit of a revoked pass", TEXT, SIGN_A, 0, 0, 0, NULL, NOW_OK, DECIDE_DIR_OUT, 0, 0, 0, {1, 1, 0, 1, 1, 0}, 0,
	 DECIDE_ADMIT, DECIDE_OK, DECIDE_DIR_OUT},
	{"both: outside goes in", TEXT, SIGN_A, 0, 0, 0, NULL, NOW_OK, DECIDE_DIR_BOTH, 0, 0, 0, {1, 0, 0, 0, 0, 0}, 0,
	 DECIDE_ADMIT, DECIDE_OK, DECIDE_DIR_IN},
	{"both: never seen goes in", TEXT, SIGN_A, 0, 0, 0, NULL, NOW_OK, DECIDE_DIR_BOTH, 0, 0, 0, {1, 0, 0, 0, -1, 0}, 0,
	 DECIDE_ADMIT, DECIDE_OK, DECIDE_DIR_IN},
	{"both: inside goes out", TEXT, SIGN_A, 0, 0, 0, NULL, NOW_OK, DECIDE_DIR_BOTH, 0, 0, 0, {1, 0, 0, 0, 1, 0}, 0,
	 DECIDE_ADMIT, DECIDE_OK, DECIDE_DIR_OUT},
	{"tag-bound, right tag", BIN, SIGN_A, 0, 0, 1, uid7, NOW_OK, DECIDE_DIR_IN, 0, 0, 0, {1, 0, 0, 0, -1, 0}, 0,
	 DECIDE_ADMIT, DECIDE_OK, DECIDE_DIR_IN},
	{"tag-bound, copied to another tag", BIN, SIGN_A, 0, 0, 1, uid7_other, NOW_OK, DECIDE_DIR_IN, 0, 0, 0,
	 {1, 0, 0, 0, -1, 0}, 0, DECIDE_DENY, DECIDE_UID_MISMATCH, DECIDE_DIR_IN},
	{"tag-bound, shown as QR", TEXT, SIGN_A, 0, 0, 1, NULL, NOW_OK, DECIDE_DIR_IN, 0, 0, 0, {1, 0, 0, 0, -1, 0}, 0,
	 DECIDE_DENY, DECIDE_UID_MISMATCH, DECIDE_DIR_IN},
	{"bound by the server's row, other tag", BIN, SIGN_A, 0, 0, 0, uid7_other, NOW_OK, DECIDE_DIR_IN, 0, 0, 0,
	 {1, 0, 1, 0, -1, 0}, 0, DECIDE_DENY, DECIDE_UID_MISMATCH, DECIDE_DIR_IN},
	{"bound by the server's row, right tag", BIN, SIGN_A, 0, 0, 0, uid7, NOW_OK, DECIDE_DIR_IN, 0, 0, 0,
	 {1, 0, 1, 0, -1, 0}, 0, DECIDE_ADMIT, DECIDE_OK, DECIDE_DIR_IN},
	{"gate revoked", TEXT, SIGN_A, 0, 0, 0, NULL, NOW_OK, DECIDE_DIR_IN, 0, 0, 1, {1, 0, 0, 0, -1, 0}, 0, DECIDE_DENY,
	 DECIDE_GATE_REVOKED, DECIDE_DIR_IN},
	{"row lookup fails", TEXT, SIGN_A, 0, 0, 0, NULL, NOW_OK, DECIDE_DIR_IN, 0, 0, 0, {1, 0, 0, 0, -1, 1}, 0,
	 DECIDE_DENY, DECIDE_INTERNAL, DECIDE_DIR_IN},
	{"revocation lookup fails", TEXT, SIGN_A, 0, 0, 0, NULL, NOW_OK, DECIDE_DIR_IN, 0, 0, 0, {1, 0, 0, 0, -1, 2}, 0,
	 DECIDE_DENY, DECIDE_INTERNAL, DECIDE_DIR_IN},
	{"presence lookup fails", TEXT, SIGN_A, 0, 0, 0, NULL, NOW_OK, DECIDE_DIR_IN, 0, 0, 0, {1, 0, 0, 0, -1, 3}, 0,
	 DECIDE_DENY, DECIDE_INTERNAL, DECIDE_DIR_IN},
};
// clang-format on

static int setup(void **state)
{
	unsigned char seed[32];

	(void)state;
	if (sodium_init() < 0)
		return -1;
	for (int i = 0; i < 32; i++)
		seed[i] = (unsigned char)(i + 1);
	crypto_sign_seed_keypair(key_a.pk, sk_a, seed);
	for (int i = 0; i < 32; i++)
		seed[i] = (unsigned char)(i + 0x21);
	crypto_sign_seed_keypair(key_b.pk, sk_b, seed);
	return 0;
}

static void make_pass(const struct tcase *c, struct pass *p)
{
	memset(p, 0, sizeof(*p));
	p->version = PASS_VERSION;
	p->key_id = c->signer == SIGN_B_AS_2 ? 2 : 1;
	p->pass_id = 17;
	p->booking_id = 5;
	p->centre = c->centre ? c->centre : 1;
	p->kind = c->kind ? c->kind : PASS_KIND_GUEST;
	p->valid_from = T0;
	p->valid_until = T0 + STAY;
	if (c->bound) {
		p->flags = PASS_FLAG_NFC;
		p->uid_len = 7;
		memcpy(p->uid, uid7, 7);
	}
}

static void run_case(const struct tcase *c)
{
	struct pass p;
	unsigned char bin[PASS_BIN_MAX];
	char text[PASS_TEXT_MAX + 1];
	const unsigned char *sk = c->signer == SIGN_A ? sk_a : sk_b;
	struct pass_key keys[2] = {key_a, key_b};
	struct world w = c->w;
	struct decide_lookup lk = {&w, w_row, w_revoked, w_presence};
	struct decide_config cfg = {1, GRACE, c->policy, c->kinds, c->gate_revoked};
	struct decide_input in;
	struct decide_result res;
	size_t n = 0;

	make_pass(c, &p);
	assert_int_equal(pass_sign_bin(&p, sk, bin, sizeof(bin), &n), PASS_OK);
	assert_int_equal(pass_sign_text(&p, sk, text, sizeof(text)), PASS_OK);
	memset(&in, 0, sizeof(in));
	in.now = ((int64_t)T0 + c->now_min) * 60 + 17;
	in.dir = c->dir;
	switch (c->form) {
	case TEXT:
		in.text = text;
		in.text_len = strlen(text);
		break;
	case BIN:
		in.bin = bin;
		in.bin_len = n;
		in.tag_uid = c->tag;
		in.tag_uid_len = c->tag ? 7 : 0;
		break;
	case GARBAGE:
		in.text = "hello, world";
		in.text_len = 12;
		break;
	case EMPTY:
		in.text = "";
		in.text_len = 0;
		break;
	case TRUNCATED:
		in.text = text;
		in.text_len = strlen(text) - 9;
		break;
	case BADPREFIX:
		text[0] = 'e';
		in.text = text;
		in.text_len = strlen(text);
		break;
	case ALTERED:
		bin[5] ^= 0x01; /* the pass id's last byte */
		in.bin = bin;
		in.bin_len = n;
		break;
	case NOTHING:
		break;
	}
	if (c->gate_revoked)
		cfg.gate_revoked = 1;
	decide(&in, keys, c->nkeys ? 2 : 1, &cfg, &lk, &res);
	if (res.verdict != c->want_v || res.reason != c->want_r || res.dir != c->want_dir)
		fail_msg("%s: got %s/%s/%s, want %s/%s/%s", c->name, res.verdict ? "admit" : "deny",
		         decide_reason_code(res.reason), decide_dir_name(res.dir),
		         c->want_v ? "admit" : "deny", decide_reason_code(c->want_r),
		         decide_dir_name(c->want_dir));
	if (res.verdict == DECIDE_ADMIT) {
		assert_true(res.have_pass);
		assert_int_equal(res.pass.pass_id, 17);
		if (w.row) {
			assert_string_equal(res.guest_name, "Karim");
			assert_string_equal(res.unit, "B01");
		} else {
			assert_false(res.have_row);
			assert_string_equal(res.guest_name, "");
		}
	}
}

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++)
		run_case(&cases[i]);
}

/* Every reason has a code that parses back and a message in both languages. */
static void test_reasons(void **state)
{
	(void)state;
	for (int r = 0; r < DECIDE_REASON_COUNT; r++) {
		enum decide_reason back;
		const char *code = decide_reason_code((enum decide_reason)r);

		assert_int_equal(decide_reason_parse(code, &back), 0);
		assert_int_equal(back, r);
		assert_true(strlen(decide_message_fr((enum decide_reason)r)) > 0);
		assert_true(strlen(decide_message_ar((enum decide_reason)r)) > 0);
		/* the Arabic one is Arabic: it has bytes of the U+06xx block */
		assert_true(strstr(decide_message_ar((enum decide_reason)r), "\xd8") ||
		            strstr(decide_message_ar((enum decide_reason)r), "\xd9"));
	}
	{
		enum decide_reason back;
		assert_int_equal(decide_reason_parse("nonsense", &back), -1);
		assert_int_equal(decide_reason_parse(NULL, &back), -1);
	}
	assert_string_equal(decide_reason_code((enum decide_reason)999), "internal");
}

static void test_names(void **state)
{
	enum decide_dir d;
	enum decide_policy p;

	(void)state;
	assert_int_equal(decide_dir_parse("in", &d), 0);
	assert_int_equal(d, DECIDE_DIR_IN);
	assert_int_equal(decide_dir_parse("both", &d), 0);
	assert_int_equal(d, DECIDE_DIR_BOTH);
	assert_int_equal(decide_dir_parse("IN", &d), -1);
	assert_int_equal(decide_policy_parse("warn", &p), 0);
	assert_int_equal(p, DECIDE_POLICY_WARN);
	assert_int_equal(decide_policy_parse("lenient", &p), -1);
	assert_string_equal(decide_policy_name(DECIDE_POLICY_OFF), "off");
	assert_string_equal(decide_dir_name(DECIDE_DIR_OUT), "out");
}

/* Lookups absent altogether: a valid pass is admitted, nothing is dereferenced. */
static void test_no_lookups(void **state)
{
	struct pass p;
	char text[PASS_TEXT_MAX + 1];
	struct decide_config cfg = {1, 0, DECIDE_POLICY_STRICT, 0, 0};
	struct decide_input in = {0};
	struct decide_result res;
	struct tcase c = {0};

	(void)state;
	make_pass(&c, &p);
	assert_int_equal(pass_sign_text(&p, sk_a, text, sizeof(text)), PASS_OK);
	in.text = text;
	in.text_len = strlen(text);
	in.now = ((int64_t)T0 + 5) * 60;
	decide(&in, &key_a, 1, &cfg, NULL, &res);
	assert_int_equal(res.verdict, DECIDE_ADMIT);
	decide(&in, NULL, 0, &cfg, NULL, &res);
	assert_int_equal(res.reason, DECIDE_UNKNOWN_KEY);
}

/* A retired (or leaked) key is trusted only for passes that end within its published validity: a
 * pass it signs that runs longer is refused on entry (key_expired); exits are never refused. */
static void test_key_expired(void **state)
{
	struct pass p;
	char text[PASS_TEXT_MAX + 1];
	struct decide_config cfg = {1, 0, DECIDE_POLICY_OFF, 0, 0};
	struct decide_input in = {0};
	struct decide_result res;
	struct tcase c = {0};
	struct pass_key k = key_a;

	(void)state;
	make_pass(&c, &p);
	assert_int_equal(pass_sign_text(&p, sk_a, text, sizeof(text)), PASS_OK);
	in.text = text;
	in.text_len = strlen(text);
	in.now = ((int64_t)T0 + 5) * 60;
	k.valid_until = p.valid_until; /* the pass ends exactly when the key does: fine */
	decide(&in, &k, 1, &cfg, NULL, &res);
	assert_int_equal(res.verdict, DECIDE_ADMIT);
	k.valid_until = p.valid_until - 1; /* one minute too long */
	decide(&in, &k, 1, &cfg, NULL, &res);
	assert_int_equal(res.verdict, DECIDE_DENY);
	assert_int_equal(res.reason, DECIDE_KEY_EXPIRED);
	assert_string_equal(decide_reason_code(res.reason), "key_expired");
	in.dir = DECIDE_DIR_OUT;
	decide(&in, &k, 1, &cfg, NULL, &res);
	assert_int_equal(res.verdict, DECIDE_ADMIT);
	in.dir = DECIDE_DIR_IN;
	k.valid_until = 0; /* the signing key: no end */
	decide(&in, &k, 1, &cfg, NULL, &res);
	assert_int_equal(res.verdict, DECIDE_ADMIT);
}

/* Every single-byte change of a signed binary pass is refused (never admitted). */
static void test_every_byte(void **state)
{
	struct pass p;
	unsigned char bin[PASS_BIN_MAX];
	size_t n;
	struct decide_config cfg = {1, 0, DECIDE_POLICY_OFF, 0, 0};
	struct decide_result res;
	struct tcase c = {.bound = 1};

	(void)state;
	make_pass(&c, &p);
	assert_int_equal(pass_sign_bin(&p, sk_a, bin, sizeof(bin), &n), PASS_OK);
	for (size_t i = 0; i < n; i++)
		for (int bit = 0; bit < 8; bit++) {
			struct decide_input in = {0};

			bin[i] ^= (unsigned char)(1 << bit);
			in.bin = bin;
			in.bin_len = n;
			in.tag_uid = uid7;
			in.tag_uid_len = 7;
			in.now = ((int64_t)T0 + 5) * 60;
			decide(&in, &key_a, 1, &cfg, NULL, &res);
			if (res.verdict != DECIDE_DENY)
				fail_msg("byte %zu bit %d: admitted", i, bit);
			bin[i] ^= (unsigned char)(1 << bit);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),      cmocka_unit_test(test_reasons),
	    cmocka_unit_test(test_names),      cmocka_unit_test(test_no_lookups),
	    cmocka_unit_test(test_every_byte), cmocka_unit_test(test_key_expired),
	};

	return cmocka_run_group_tests_name("decide", tests, setup, NULL);
}
