/* decide.c: the admission rules (see decide.h for their order). Pure: no I/O but the caller's
 * lookups. */
#include "decide.h"

#include <string.h>

struct reason_text {
	const char *code, *fr, *ar;
};

static const struct reason_text reasons[DECIDE_REASON_COUNT] = {
    [DECIDE_OK] = {"ok", "Bienvenue", "مرحبا"},
    [DECIDE_INSIDE_WARNING] = {"inside_warning", "Entrée acceptée, mais déjà à l'intérieur",
                               "دخول مقبول، لكنه مسجل بالداخل"},
    [DECIDE_NOT_INSIDE] = {"not_inside", "Sortie sans entrée enregistrée", "خروج دون دخول مسجل"},
    [DECIDE_BAD_FORMAT] = {"bad_format", "Code illisible", "رمز غير مقروء"},
    [DECIDE_BAD_SIGNATURE] = {"bad_signature", "Pass falsifié ou modifié", "بطاقة مزورة أو معدلة"},
    [DECIDE_UNKNOWN_KEY] = {"unknown_key", "Pass inconnu (clé non reconnue)",
                            "بطاقة غير معروفة (مفتاح غير معروف)"},
    [DECIDE_OTHER_CENTRE] = {"other_centre", "Pass d'un autre centre", "بطاقة مركز آخر"},
    [DECIDE_NOT_YET_VALID] = {"not_yet_valid", "Pass pas encore valable", "البطاقة غير صالحة بعد"},
    [DECIDE_EXPIRED] = {"expired", "Pass expiré", "البطاقة منتهية الصلاحية"},
    [DECIDE_REVOKED] = {"revoked", "Pass annulé", "البطاقة ملغاة"},
    [DECIDE_WRONG_KIND] = {"wrong_kind", "Pass non accepté à cette porte",
                           "البطاقة غير مقبولة في هذا الباب"},
    [DECIDE_ALREADY_INSIDE] = {"already_inside", "Déjà à l'intérieur", "موجود بالداخل"},
    [DECIDE_UID_MISMATCH] = {"uid_mismatch", "Copie du pass (mauvaise carte)",
                             "نسخة من البطاقة (بطاقة خاطئة)"},
    [DECIDE_GATE_REVOKED] = {"gate_revoked", "Porte désactivée : appelez l'accueil",
                             "الباب معطل: اتصلوا بالاستقبال"},
    [DECIDE_NO_PASSAGE] = {"no_passage", "Passage non effectué", "لم يتم العبور"},
    [DECIDE_MANUAL] = {"manual", "Entrée manuelle", "دخول يدوي"},
    [DECIDE_INTERNAL] = {"internal", "Erreur interne : appelez l'accueil",
                         "خطأ داخلي: اتصلوا بالاستقبال"},
    [DECIDE_KEY_EXPIRED] = {"key_expired", "Pass signé d'une clé retirée : passez à l'accueil",
                            "بطاقة موقعة بمفتاح متجاوز: توجهوا إلى الاستقبال"},
};

const char *decide_reason_code(enum decide_reason r)
{
	return (unsigned)r < DECIDE_REASON_COUNT ? reasons[r].code : "internal";
}

int decide_reason_parse(const char *code, enum decide_reason *out)
{
	for (int i = 0; code && i < DECIDE_REASON_COUNT; i++)
		if (!strcmp(code, reasons[i].code)) {
			*out = (enum decide_reason)i;
			return 0;
		}
	return -1;
}

const char *decide_message_fr(enum decide_reason r)
{
	return (unsigned)r < DECIDE_REASON_COUNT ? reasons[r].fr : reasons[DECIDE_INTERNAL].fr;
}

const char *decide_message_ar(enum decide_reason r)
{
	return (unsigned)r < DECIDE_REASON_COUNT ? reasons[r].ar : reasons[DECIDE_INTERNAL].ar;
}

const char *decide_dir_name(enum decide_dir d)
{
	return d == DECIDE_DIR_IN ? "in" : d == DECIDE_DIR_OUT ? "out" : "both";
}

int decide_dir_parse(const char *s, enum decide_dir *out)
{
	if (!s)
		return -1;
	if (!strcmp(s, "in"))
		*out = DECIDE_DIR_IN;
	else if (!strcmp(s, "out"))
		*out = DECIDE_DIR_OUT;
	else if (!strcmp(s, "both"))
		*out = DECIDE_DIR_BOTH;
	else
		return -1;
	return 0;
}

const char *decide_policy_name(enum decide_policy p)
{
	return p == DECIDE_POLICY_STRICT ? "strict" : p == DECIDE_POLICY_WARN ? "warn" : "off";
}

int decide_policy_parse(const char *s, enum decide_policy *out)
{
	if (!s)
		return -1;
	if (!strcmp(s, "strict"))
		*out = DECIDE_POLICY_STRICT;
	else if (!strcmp(s, "warn"))
		*out = DECIDE_POLICY_WARN;
	else if (!strcmp(s, "off"))
		*out = DECIDE_POLICY_OFF;
	else
		return -1;
	return 0;
}

static void verdict(struct decide_result *out, enum decide_verdict v, enum decide_reason r)
{
	out->verdict = v;
	out->reason = r;
}

static enum decide_reason from_pass_err(enum pass_err e)
{
	switch (e) {
	case PASS_OK:
		return DECIDE_OK;
	case PASS_ERR_KEY:
		return DECIDE_UNKNOWN_KEY;
	case PASS_ERR_SIGNATURE:
		return DECIDE_BAD_SIGNATURE;
	default:
		return DECIDE_BAD_FORMAT;
	}
}

/* A tag-bound pass must come from a tag with that UID; the server's row may bind it too. */
static int uid_ok(const struct decide_input *in, const struct pass *p,
                  const struct decide_pass_row *row, int have_row)
{
	const uint8_t *want = p->uid;
	size_t want_len = p->uid_len;

	if (!want_len && have_row && row->nfc_uid_len) {
		want = row->nfc_uid;
		want_len = row->nfc_uid_len;
	}
	if (!want_len)
		return 1;
	return in->bin && in->tag_uid && in->tag_uid_len == want_len &&
	       !memcmp(in->tag_uid, want, want_len);
}

void decide(const struct decide_input *in, const struct pass_key *keys, int nkeys,
            const struct decide_config *cfg, const struct decide_lookup *lk,
            struct decide_result *out)
{
	struct decide_pass_row row;
	enum pass_err pe;
	int found, inside = 0, have_presence = 0, rc;
	unsigned kinds = cfg->kinds ? cfg->kinds : DECIDE_KINDS_ALL;
	int64_t now_min, from, until;

	memset(out, 0, sizeof(*out));
	memset(&row, 0, sizeof(row));
	out->dir = in->dir == DECIDE_DIR_OUT ? DECIDE_DIR_OUT : DECIDE_DIR_IN;
	if (cfg->gate_revoked) {
		verdict(out, DECIDE_DENY, DECIDE_GATE_REVOKED);
		return;
	}

	if (in->bin)
		pe = pass_verify_bin(in->bin, in->bin_len, keys, nkeys, &out->pass);
	else if (in->text)
		pe = pass_verify_text(in->text, in->text_len, keys, nkeys, &out->pass);
	else
		pe = PASS_ERR_SHORT;
	if (pe != PASS_OK) {
		verdict(out, DECIDE_DENY, from_pass_err(pe));
		return;
	}
	out->have_pass = 1;

	if (out->pass.centre != cfg->centre) {
		verdict(out, DECIDE_DENY, DECIDE_OTHER_CENTRE);
		return;
	}

	found = lk && lk->pass_row ? lk->pass_row(lk->user, out->pass.pass_id, &row) : 0;
	if (found < 0) {
		verdict(out, DECIDE_DENY, DECIDE_INTERNAL);
		return;
	}
	if (found) {
		out->have_row = 1;
		memcpy(out->guest_name, row.guest_name, sizeof(out->guest_name));
		out->guest_name[sizeof(out->guest_name) - 1] = '\0';
		memcpy(out->unit, row.unit, sizeof(out->unit));
		out->unit[sizeof(out->unit) - 1] = '\0';
	}

	if (!uid_ok(in, &out->pass, &row, found)) {
		verdict(out, DECIDE_DENY, DECIDE_UID_MISMATCH);
		return;
	}

	if (lk && lk->presence) {
		rc = lk->presence(lk->user, out->pass.pass_id, &inside);
		if (rc < 0) {
			verdict(out, DECIDE_DENY, DECIDE_INTERNAL);
			return;
		}
		have_presence = rc > 0;
		if (!have_presence)
			inside = 0;
	}
	if (in->dir == DECIDE_DIR_BOTH)
		out->dir = inside ? DECIDE_DIR_OUT : DECIDE_DIR_IN;

	if (out->dir == DECIDE_DIR_OUT) {
		if (!inside && cfg->policy == DECIDE_POLICY_STRICT)
			verdict(out, DECIDE_DENY, DECIDE_NOT_INSIDE);
		else if (!inside && cfg->policy == DECIDE_POLICY_WARN)
			verdict(out, DECIDE_ADMIT, DECIDE_NOT_INSIDE);
		else
			verdict(out, DECIDE_ADMIT, DECIDE_OK);
		return;
	}

	if (!(kinds & (1u << out->pass.kind))) {
		verdict(out, DECIDE_DENY, DECIDE_WRONG_KIND);
		return;
	}
	rc = lk && lk->revoked ? lk->revoked(lk->user, out->pass.pass_id) : 0;
	if (rc < 0) {
		verdict(out, DECIDE_DENY, DECIDE_INTERNAL);
		return;
	}
	if (rc > 0 || (found && row.revoked)) {
		verdict(out, DECIDE_DENY, DECIDE_REVOKED);
		return;
	}
	for (int k = 0; k < nkeys; k++)
		if (keys[k].id == out->pass.key_id && keys[k].valid_until > 0 &&
		    (int64_t)out->pass.valid_until > keys[k].valid_until) {
			verdict(out, DECIDE_DENY, DECIDE_KEY_EXPIRED);
			return;
		}
	/* floor division: an instant before 1970 is not a valid "now", but stay exact anyway */
	now_min = in->now >= 0 ? in->now / 60 : -((-in->now + 59) / 60);
	from = (int64_t)out->pass.valid_from - cfg->grace_minutes;
	until = (int64_t)out->pass.valid_until + cfg->grace_minutes;
	if (now_min < from) {
		verdict(out, DECIDE_DENY, DECIDE_NOT_YET_VALID);
		return;
	}
	if (now_min >= until) {
		verdict(out, DECIDE_DENY, DECIDE_EXPIRED);
		return;
	}
	if (inside && cfg->policy == DECIDE_POLICY_STRICT)
		verdict(out, DECIDE_DENY, DECIDE_ALREADY_INSIDE);
	else if (inside && cfg->policy == DECIDE_POLICY_WARN)
		verdict(out, DECIDE_ADMIT, DECIDE_INSIDE_WARNING);
	else
		verdict(out, DECIDE_ADMIT, DECIDE_OK);
}
