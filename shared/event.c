/* event.c: the scan event's two JSON forms and the presence rule (see event.h). */
#include "event.h"

#include <ctype.h>
#include <string.h>

#include "date.h"

static const char *const err_codes[EVENT_ERR_COUNT] = {
    [EVENT_OK] = "ok",
    [EVENT_ERR_NOT_AN_OBJECT] = "not_an_object",
    [EVENT_ERR_ID] = "bad_id",
    [EVENT_ERR_PASS] = "bad_pass",
    [EVENT_ERR_BOOKING] = "bad_booking",
    [EVENT_ERR_DIRECTION] = "bad_direction",
    [EVENT_ERR_DECISION] = "bad_decision",
    [EVENT_ERR_REASON] = "bad_reason",
    [EVENT_ERR_TIME] = "bad_time",
    [EVENT_ERR_SEQ] = "bad_seq",
    [EVENT_ERR_OFFLINE] = "bad_offline",
    [EVENT_ERR_MANUAL] = "bad_manual",
    [EVENT_ERR_NOTE] = "bad_note",
    [EVENT_ERR_NOTE_REQUIRED] = "note_required",
    [EVENT_ERR_GATE] = "bad_gate",
};

static const char *const kind_names[] = {[EVENT_ADMIT] = "admit",
                                         [EVENT_DENY] = "deny",
                                         [EVENT_UNDONE] = "undone",
                                         [EVENT_MANUAL] = "manual"};

const char *event_err_code(enum event_err e)
{
	return (unsigned)e < EVENT_ERR_COUNT ? err_codes[e] : "bad_event";
}

const char *event_kind_name(enum event_kind k)
{
	return (unsigned)k <= EVENT_MANUAL ? kind_names[k] : "deny";
}

int event_kind_parse(const char *s, enum event_kind *k)
{
	for (int i = 0; s && i <= EVENT_MANUAL; i++)
		if (!strcmp(s, kind_names[i])) {
			*k = (enum event_kind)i;
			return 0;
		}
	return -1;
}

/* ---- reading ---- */

/* An optional boolean (absent or null: false): 0, or -1. */
static int opt_bool(json_t *o, const char *name, int *out)
{
	json_t *v = json_object_get(o, name);

	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return -1;
	*out = json_is_true(v);
	return 0;
}

/* An integer in 0..UINT32_MAX; absent or null gives 0 when optional. */
static int u32_field(json_t *o, const char *name, int optional, uint32_t *out)
{
	json_t *v = json_object_get(o, name);

	*out = 0;
	if (optional && (!v || json_is_null(v)))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > UINT32_MAX)
		return -1;
	*out = (uint32_t)json_integer_value(v);
	return 0;
}

static enum event_err read_id(json_t *o, struct event *ev)
{
	const char *s = json_string_value(json_object_get(o, "id"));

	if (!s || strlen(s) != EVENT_ID_HEX)
		return EVENT_ERR_ID;
	for (int i = 0; i < EVENT_ID_HEX; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return EVENT_ERR_ID;
		ev->id[i] = (char)tolower((unsigned char)s[i]);
	}
	return EVENT_OK;
}

/* direction (in or out), then decision */
static enum event_err read_move(json_t *o, struct event *ev)
{
	enum decide_dir dir;

	if (decide_dir_parse(json_string_value(json_object_get(o, "direction")), &dir) < 0 ||
	    dir == DECIDE_DIR_BOTH)
		return EVENT_ERR_DIRECTION;
	ev->dir = dir;
	if (event_kind_parse(json_string_value(json_object_get(o, "decision")), &ev->kind) < 0)
		return EVENT_ERR_DECISION;
	return EVENT_OK;
}

static enum event_err read_at(json_t *o, int64_t now, struct event *ev)
{
	if (instant_parse(json_string_value(json_object_get(o, "at")), &ev->at) < 0 ||
	    ev->at < now - EVENT_TIME_SLACK || ev->at > now + EVENT_TIME_SLACK)
		return EVENT_ERR_TIME;
	return EVENT_OK;
}

/* A reason code: one decide.h knows, or a well-formed one it does not (kept as sent). */
static int reason_read(const char *s, struct event *ev)
{
	size_t n = strlen(s);

	if (n > EVENT_REASON_MAX)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') || s[i] == '_'))
			return -1;
	memcpy(ev->reason_code, s, n + 1);
	if (n && decide_reason_parse(s, &ev->reason) < 0)
		ev->reason = DECIDE_INTERNAL;
	return 0;
}

enum event_err event_from_json(json_t *o, int64_t now, struct event *ev)
{
	enum event_err e;
	json_t *v;
	const char *s;

	/* in the order of the fields in docs/sync.md: the first wrong one is named */
	memset(ev, 0, sizeof(*ev));
	if (!json_is_object(o))
		return EVENT_ERR_NOT_AN_OBJECT;
	if ((e = read_id(o, ev)) != EVENT_OK)
		return e;
	if (u32_field(o, "pass", 0, &ev->pass) < 0)
		return EVENT_ERR_PASS;
	if (u32_field(o, "booking", 1, &ev->booking) < 0)
		return EVENT_ERR_BOOKING;
	if ((e = read_move(o, ev)) != EVENT_OK)
		return e;
	v = json_object_get(o, "reason");
	s = v && !json_is_null(v) ? json_string_value(v) : "";
	if (!s || reason_read(s, ev) < 0)
		return EVENT_ERR_REASON;
	if ((e = read_at(o, now, ev)) != EVENT_OK)
		return e;
	v = json_object_get(o, "seq");
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return EVENT_ERR_SEQ;
	ev->seq = json_integer_value(v);
	if (opt_bool(o, "offline", &ev->offline) < 0)
		return EVENT_ERR_OFFLINE;
	if (opt_bool(o, "manual", &ev->manual) < 0)
		return EVENT_ERR_MANUAL;
	v = json_object_get(o, "note");
	s = v && !json_is_null(v) ? json_string_value(v) : "";
	if (!s || strlen(s) > EVENT_NOTE_MAX)
		return EVENT_ERR_NOTE;
	memcpy(ev->note, s, strlen(s) + 1);
	if (ev->kind == EVENT_MANUAL) {
		if (!*ev->note)
			return EVENT_ERR_NOTE_REQUIRED;
		ev->manual = 1;
	}
	return EVENT_OK;
}

enum event_err event_relay_from_json(json_t *o, int64_t now, struct event *ev)
{
	enum event_err e;
	json_t *v;

	memset(ev, 0, sizeof(*ev));
	if (!json_is_object(o))
		return EVENT_ERR_NOT_AN_OBJECT;
	if ((e = read_id(o, ev)) != EVENT_OK)
		return e;
	v = json_object_get(o, "gate");
	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return EVENT_ERR_GATE;
	ev->gate = json_integer_value(v);
	if (u32_field(o, "pass", 0, &ev->pass) < 0)
		return EVENT_ERR_PASS;
	if ((e = read_move(o, ev)) != EVENT_OK || (e = read_at(o, now, ev)) != EVENT_OK)
		return e;
	ev->manual = ev->kind == EVENT_MANUAL;
	return EVENT_OK;
}

/* ---- writing ---- */

static const char *reason_of(const struct event *ev)
{
	return ev->reason_code[0] ? ev->reason_code : decide_reason_code(ev->reason);
}

json_t *event_to_json(const struct event *ev)
{
	char at[INSTANT_STRLEN];

	instant_format(ev->at, at);
	return json_pack("{s:s,s:I,s:I,s:s,s:s,s:s,s:s,s:I,s:b,s:b,s:s}", "id", ev->id, "pass",
	                 (json_int_t)ev->pass, "booking", (json_int_t)ev->booking, "direction",
	                 decide_dir_name(ev->dir), "decision", event_kind_name(ev->kind), "reason",
	                 reason_of(ev), "at", at, "seq", (json_int_t)ev->seq, "offline",
	                 ev->offline, "manual", ev->kind == EVENT_MANUAL || ev->manual, "note",
	                 ev->note);
}

json_t *event_relay_to_json(const struct event *ev)
{
	char at[INSTANT_STRLEN];

	instant_format(ev->at, at);
	return json_pack("{s:s,s:I,s:I,s:s,s:s,s:s}", "id", ev->id, "gate", (json_int_t)ev->gate,
	                 "pass", (json_int_t)ev->pass, "direction", decide_dir_name(ev->dir),
	                 "decision", event_kind_name(ev->kind), "at", at);
}

/* ---- the presence rule ---- */

void presence_init(struct presence *p)
{
	p->now = p->before = PRESENCE_UNKNOWN;
	p->undoable = 0;
}

void presence_step(struct presence *p, enum event_kind kind, enum decide_dir dir)
{
	switch (kind) {
	case EVENT_ADMIT:
	case EVENT_MANUAL: /* rule 2 */
		p->before = p->now;
		p->now = dir == DECIDE_DIR_IN ? PRESENCE_INSIDE : PRESENCE_OUTSIDE;
		p->undoable = 1;
		break;
	case EVENT_UNDONE: /* rule 3 */
		if (p->undoable)
			p->now = p->before;
		p->undoable = 0;
		break;
	case EVENT_DENY: /* rule 1 */
		break;
	}
}

void presence_step_text(struct presence *p, const char *decision, const char *direction)
{
	enum event_kind k;
	enum decide_dir d;

	if (event_kind_parse(decision, &k) < 0 || decide_dir_parse(direction, &d) < 0 ||
	    d == DECIDE_DIR_BOTH)
		return;
	presence_step(p, k, d);
}
