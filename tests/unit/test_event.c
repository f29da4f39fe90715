/* test_event.c: the scan event of the sync protocol (shared/event.c): both JSON forms round trip
 * for every decision, every malformed field is refused with its code, and the presence rule gives
 * the documented answer for the sequences docs/sync.md describes. (tests/gate/test_gate_presence.c
 * checks that the gate's store, the server's conflict check, its online check and its on-site count
 * agree.) */
#include "unit_util.h"

#include <string.h>

#include "date.h"
#include "event.h"

#define NOW 1801494129 /* 2027-02-01T15:02:09Z */
#define ID "9f1c0a2b3c4d5e6f708192a3b4c5d6e7"

static void test_round_trips(void **state)
{
	static const enum event_kind kinds[] = {EVENT_ADMIT, EVENT_DENY, EVENT_UNDONE,
	                                        EVENT_MANUAL};
	static const enum decide_reason reasons[] = {DECIDE_OK, DECIDE_ALREADY_INSIDE,
	                                             DECIDE_NO_PASSAGE, DECIDE_MANUAL};

	(void)state;
	for (size_t i = 0; i < NELEM(kinds); i++)
		for (int d = DECIDE_DIR_IN; d <= DECIDE_DIR_OUT; d++) {
			struct event ev, back, relay;
			json_t *j, *r;

			memset(&ev, 0, sizeof(ev));
			memcpy(ev.id, ID, sizeof(ID));
			ev.seq = 4411 + (int64_t)i;
			ev.gate = 7;
			ev.pass = 17;
			ev.booking = 5;
			ev.dir = (enum decide_dir)d;
			ev.kind = kinds[i];
			ev.reason = reasons[i];
			ev.at = NOW - 60;
			ev.offline = d;
			if (kinds[i] == EVENT_MANUAL)
				strcpy(ev.note, "badge oublié: reconnu par l'accueil");
			j = event_to_json(&ev);
			assert_non_null(j);
			assert_int_equal(event_from_json(j, NOW, &back), EVENT_OK);
			assert_string_equal(back.id, ev.id);
			assert_int_equal(back.seq, ev.seq);
			assert_int_equal(back.pass, ev.pass);
			assert_int_equal(back.booking, ev.booking);
			assert_int_equal(back.dir, ev.dir);
			assert_int_equal(back.kind, ev.kind);
			assert_int_equal(back.reason, ev.reason);
			assert_string_equal(back.reason_code, decide_reason_code(ev.reason));
			assert_int_equal(back.at, ev.at);
			assert_int_equal(back.offline, ev.offline);
			assert_int_equal(back.manual, kinds[i] == EVENT_MANUAL);
			assert_string_equal(back.note, ev.note);
			/* the relay form carries the gate, not the gate's own details */
			r = event_relay_to_json(&ev);
			assert_non_null(r);
			assert_null(json_object_get(r, "note"));
			assert_int_equal(event_relay_from_json(r, NOW, &relay), EVENT_OK);
			assert_string_equal(relay.id, ev.id);
			assert_int_equal(relay.gate, 7);
			assert_int_equal(relay.pass, 17);
			assert_int_equal(relay.dir, ev.dir);
			assert_int_equal(relay.kind, ev.kind);
			assert_int_equal(relay.at, ev.at);
			json_decref(j);
			json_decref(r);
		}
}

static json_t *good(void)
{
	return json_pack("{s:s,s:i,s:i,s:s,s:s,s:s,s:s,s:i,s:b,s:b,s:s}", "id", ID, "pass", 17,
	                 "booking", 5, "direction", "in", "decision", "admit", "reason", "ok", "at",
	                 "2027-02-01T15:02:09Z", "seq", 4411, "offline", 1, "manual", 0, "note",
	                 "");
}

static void test_malformed_fields(void **state)
{
	static const struct {
		const char *field;
		const char *json; /* the value, as JSON; NULL removes the field */
		enum event_err want;
	} cases[] = {
	    {"id", NULL, EVENT_ERR_ID},
	    {"id", "\"9f1c\"", EVENT_ERR_ID},
	    {"id", "\"9f1c0a2b3c4d5e6f708192a3b4c5d6eg\"", EVENT_ERR_ID},
	    {"id", "42", EVENT_ERR_ID},
	    {"pass", NULL, EVENT_ERR_PASS},
	    {"pass", "-1", EVENT_ERR_PASS},
	    {"pass", "4294967296", EVENT_ERR_PASS},
	    {"pass", "\"17\"", EVENT_ERR_PASS},
	    {"booking", "-5", EVENT_ERR_BOOKING},
	    {"booking", "true", EVENT_ERR_BOOKING},
	    {"direction", "\"both\"", EVENT_ERR_DIRECTION},
	    {"direction", "\"IN\"", EVENT_ERR_DIRECTION},
	    {"direction", NULL, EVENT_ERR_DIRECTION},
	    {"decision", "\"allow\"", EVENT_ERR_DECISION},
	    {"decision", NULL, EVENT_ERR_DECISION},
	    {"reason", "\"Already-Inside\"", EVENT_ERR_REASON},
	    {"reason", "\"a_reason_code_that_is_longer_than_32\"", EVENT_ERR_REASON},
	    {"reason", "7", EVENT_ERR_REASON},
	    {"at", "\"2027-02-01T15:02:09.250Z\"", EVENT_ERR_TIME},
	    {"at", "\"2027-02-01 15:02:09Z\"", EVENT_ERR_TIME},
	    {"at", "\"2027-02-29T15:02:09Z\"", EVENT_ERR_TIME},
	    {"at", "\"2029-02-01T15:02:09Z\"", EVENT_ERR_TIME}, /* more than a year ahead */
	    {"at", "\"2025-12-01T15:02:09Z\"", EVENT_ERR_TIME}, /* more than a year behind */
	    {"at", NULL, EVENT_ERR_TIME},
	    {"seq", "-1", EVENT_ERR_SEQ},
	    {"seq", NULL, EVENT_ERR_SEQ},
	    {"seq", "1.5", EVENT_ERR_SEQ},
	    {"offline", "\"yes\"", EVENT_ERR_OFFLINE},
	    {"manual", "1", EVENT_ERR_MANUAL},
	    {"note", "12", EVENT_ERR_NOTE},
	};
	int nfail = 0;
	struct event ev;
	json_t *o;
	char long_note[EVENT_NOTE_MAX + 2];

	(void)state;
	o = good();
	assert_int_equal(event_from_json(o, NOW, &ev), EVENT_OK);
	json_decref(o);
	for (size_t i = 0; i < NELEM(cases); i++) {
		enum event_err got;

		o = good();
		if (cases[i].json)
			json_object_set_new(o, cases[i].field,
			                    json_loads(cases[i].json, JSON_DECODE_ANY, NULL));
		else
			json_object_del(o, cases[i].field);
		got = event_from_json(o, NOW, &ev);
		CASE_CHECK(nfail, got == cases[i].want, cases[i].field, "%s gave %s, expected %s",
		           cases[i].json ? cases[i].json : "(absent)", event_err_code(got),
		           event_err_code(cases[i].want));
		json_decref(o);
	}
	assert_int_equal(nfail, 0);
	o = json_pack("[i]", 1);
	assert_int_equal(event_from_json(o, NOW, &ev), EVENT_ERR_NOT_AN_OBJECT);
	assert_string_equal(event_err_code(EVENT_ERR_NOT_AN_OBJECT), "not_an_object");
	json_decref(o);
	/* a manual admission needs its reason in the note; a note has at most 500 bytes */
	o = good();
	json_object_set_new(o, "decision", json_string("manual"));
	assert_int_equal(event_from_json(o, NOW, &ev), EVENT_ERR_NOTE_REQUIRED);
	memset(long_note, 'x', sizeof(long_note) - 1);
	long_note[sizeof(long_note) - 1] = '\0';
	json_object_set_new(o, "note", json_string(long_note));
	assert_int_equal(event_from_json(o, NOW, &ev), EVENT_ERR_NOTE);
	long_note[EVENT_NOTE_MAX] = '\0';
	json_object_set_new(o, "note", json_string(long_note));
	assert_int_equal(event_from_json(o, NOW, &ev), EVENT_OK);
	assert_int_equal(ev.manual, 1);
	json_decref(o);
	/* optional fields absent or null; upper-case ids folded; a reason this version does not
	 * know is a fact from a newer gate, kept as sent */
	o = json_pack("{s:s,s:i,s:s,s:s,s:s,s:i,s:n,s:n}", "id", "9F1C0A2B3C4D5E6F708192A3B4C5D6E7",
	              "pass", 0, "direction", "out", "decision", "deny", "at",
	              "2027-02-01T15:02:09Z", "seq", 0, "booking", "reason");
	assert_int_equal(event_from_json(o, NOW, &ev), EVENT_OK);
	assert_string_equal(ev.id, ID);
	assert_int_equal(ev.booking, 0);
	assert_string_equal(ev.reason_code, "");
	json_object_set_new(o, "reason", json_string("turnstile_jammed"));
	assert_int_equal(event_from_json(o, NOW, &ev), EVENT_OK);
	assert_string_equal(ev.reason_code, "turnstile_jammed");
	assert_int_equal(ev.reason, DECIDE_INTERNAL);
	json_decref(o);
	/* the relay form: a gate is required */
	o = json_pack("{s:s,s:i,s:s,s:s,s:s}", "id", ID, "pass", 3, "direction", "in", "decision",
	              "admit", "at", "2027-02-01T15:02:09Z");
	assert_int_equal(event_relay_from_json(o, NOW, &ev), EVENT_ERR_GATE);
	json_object_set_new(o, "gate", json_integer(0));
	assert_int_equal(event_relay_from_json(o, NOW, &ev), EVENT_ERR_GATE);
	json_object_set_new(o, "gate", json_integer(2));
	assert_int_equal(event_relay_from_json(o, NOW, &ev), EVENT_OK);
	json_decref(o);
}

/* ---- the presence rule ---- */

struct step {
	enum event_kind kind;
	enum decide_dir dir;
};

static int run(const struct step *s, size_t n)
{
	struct presence p;

	presence_init(&p);
	for (size_t i = 0; i < n; i++)
		presence_step(&p, s[i].kind, s[i].dir);
	return p.now;
}

#define IN DECIDE_DIR_IN
#define OUT DECIDE_DIR_OUT
#define RUN(...)                                                                                   \
	({                                                                                         \
		static const struct step s_[] = {__VA_ARGS__};                                     \
		run(s_, NELEM(s_));                                                                \
	})

static void test_presence_rule(void **state)
{
	(void)state;
	assert_int_equal(RUN({EVENT_DENY, IN}), PRESENCE_UNKNOWN);
	assert_int_equal(RUN({EVENT_ADMIT, IN}), PRESENCE_INSIDE);
	assert_int_equal(RUN({EVENT_ADMIT, IN}, {EVENT_ADMIT, OUT}), PRESENCE_OUTSIDE);
	assert_int_equal(RUN({EVENT_MANUAL, IN}), PRESENCE_INSIDE);
	/* undone after an entry: the person did not pass, never seen inside */
	assert_int_equal(RUN({EVENT_ADMIT, IN}, {EVENT_UNDONE, IN}), PRESENCE_UNKNOWN);
	/* undone after an exit: still inside */
	assert_int_equal(RUN({EVENT_ADMIT, IN}, {EVENT_ADMIT, OUT}, {EVENT_UNDONE, OUT}),
	                 PRESENCE_INSIDE);
	/* undone after an entry admitted with a warning (already inside): still inside, not "back
	 * out" */
	assert_int_equal(RUN({EVENT_ADMIT, IN}, {EVENT_ADMIT, IN}, {EVENT_UNDONE, IN}),
	                 PRESENCE_INSIDE);
	/* a denial between the admission and its undone changes nothing */
	assert_int_equal(
	    RUN({EVENT_ADMIT, OUT}, {EVENT_ADMIT, IN}, {EVENT_DENY, IN}, {EVENT_UNDONE, IN}),
	    PRESENCE_OUTSIDE);
	/* a second undone cancels nothing more */
	assert_int_equal(
	    RUN({EVENT_ADMIT, IN}, {EVENT_ADMIT, OUT}, {EVENT_UNDONE, OUT}, {EVENT_UNDONE, OUT}),
	    PRESENCE_INSIDE);
	/* an undone with no admission before it */
	assert_int_equal(RUN({EVENT_UNDONE, IN}), PRESENCE_UNKNOWN);
	assert_int_equal(RUN({EVENT_UNDONE, IN}, {EVENT_ADMIT, IN}), PRESENCE_INSIDE);
	/* after an undone, the next admission counts as usual */
	assert_int_equal(RUN({EVENT_ADMIT, IN}, {EVENT_UNDONE, IN}, {EVENT_ADMIT, IN}),
	                 PRESENCE_INSIDE);
}

static void test_presence_text(void **state)
{
	struct presence p;

	(void)state;
	presence_init(&p);
	presence_step_text(&p, "admit", "in");
	assert_int_equal(p.now, PRESENCE_INSIDE);
	presence_step_text(&p, "sideways", "in"); /* text neither side writes: left out */
	presence_step_text(&p, "admit", "both");
	presence_step_text(&p, NULL, NULL);
	assert_int_equal(p.now, PRESENCE_INSIDE);
	presence_step_text(&p, "undone", "in");
	assert_int_equal(p.now, PRESENCE_UNKNOWN);
}

static void test_vocabulary(void **state)
{
	enum event_kind k;

	(void)state;
	for (int i = EVENT_ADMIT; i <= EVENT_MANUAL; i++) {
		assert_int_equal(event_kind_parse(event_kind_name((enum event_kind)i), &k), 0);
		assert_int_equal(k, i);
	}
	assert_int_equal(event_kind_parse("Admit", &k), -1);
	assert_int_equal(event_kind_parse(NULL, &k), -1);
	for (int e = 0; e < EVENT_ERR_COUNT; e++)
		assert_non_null(event_err_code((enum event_err)e));
	for (int i = PASS_KIND_GUEST; i <= PASS_KIND_STAFF; i++) {
		enum pass_kind pk;

		assert_int_equal(pass_kind_parse(pass_kind_name(i), &pk), 0);
		assert_int_equal(pk, i);
	}
	assert_string_equal(pass_kind_name(0), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trips),   cmocka_unit_test(test_malformed_fields),
	    cmocka_unit_test(test_presence_rule), cmocka_unit_test(test_presence_text),
	    cmocka_unit_test(test_vocabulary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
