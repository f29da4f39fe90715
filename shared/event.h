/* event.h: the scan event, the one record a gate and the server exchange (docs/sync.md), and the
 * presence rule both sides apply to it. One definition for the gate's store and upload, the
 * server's upload check, its conflict check, its online check and its on-site count.
 *
 * The record: `id` (128 random bits as 32 hex digits, made by the gate), `seq` (the gate's own
 * order), `pass` (0: a manual admission without a pass), `booking`, `direction` (in, out),
 * `decision` (admit, deny, undone, manual), `reason` (a decision reason code of decide.h), `at`
 * (UTC, to the second), `offline`, `manual`, `note` (required for a manual admission). Two JSON
 * forms travel:
 *   - the upload form (gate → server), every field: event_to_json / event_from_json, the one
 * validator; each refusal has the error code the upload answer names (event_err_code);
 *   - the relay form (server → the other gates of the centre, in downloads): id, gate, pass,
 * direction, decision, at: event_relay_to_json / event_relay_from_json. A reason code this version
 * does not know, if well formed (1..32 of a-z 0-9 _), is kept as sent in reason_code (a newer
 * gate's scan is a fact too); reason is then DECIDE_INTERNAL.
 *
 * The presence rule: where a pass is (inside, outside, or not known) from its events, in the order
 * of their time `at`, then of their arrival:
 *   1. only events of a pass (pass != 0) count, and only admissions (admit, manual) and undone;
 *      a denial changes nothing;
 *   2. an admission puts the pass on its side: in → inside, out → outside;
 *   3. an undone cancels the admission just before it (among the events of rule 1): the pass is
 * back where it was before that admission (not known, if it was not known); an undone that does not
 *      follow an admission directly changes nothing.
 * So an entry admitted with a warning (the record already said inside) and then undone leaves the
 * pass inside: the person did not pass, the record before them stands. The server does not use, for
 * presence, scans stamped later than the gate's clock could have been (docs/sync.md, future_time).
 *
 * No I/O, no allocation but the JSON the callers own. */
#ifndef ESTIVA_EVENT_H
#define ESTIVA_EVENT_H

#include <jansson.h>
#include <stdint.h>

#include "decide.h"

#define EVENT_ID_HEX 32 /* hex digits of an id */
#define EVENT_REASON_MAX 32
#define EVENT_NOTE_MAX 500 /* bytes */
#define EVENT_READER_MAX 32
#define EVENT_TIME_SLACK                                                                           \
	(366 * 86400) /* an `at` further than this from the receiver's clock is bad_time */

enum event_kind { EVENT_ADMIT = 0, EVENT_DENY, EVENT_UNDONE, EVENT_MANUAL };

struct event {
	char id[EVENT_ID_HEX + 1]; /* lower case */
	int64_t seq;
	int64_t gate; /* relay form: the gate that scanned */
	uint32_t pass, booking;
	enum decide_dir dir; /* DECIDE_DIR_IN or DECIDE_DIR_OUT */
	enum event_kind kind;
	enum decide_reason reason;
	char reason_code[EVENT_REASON_MAX + 1]; /* as received ("" when none was sent) */
	int64_t at;                             /* seconds since the epoch, UTC */
	int offline, manual;
	char note[EVENT_NOTE_MAX + 1];
	/* kept by the gate only, never sent */
	int64_t local_at; /* the gate's raw clock when it scanned */
	char reader[EVENT_READER_MAX];
};

enum event_err {
	EVENT_OK = 0,
	EVENT_ERR_NOT_AN_OBJECT,
	EVENT_ERR_ID,
	EVENT_ERR_PASS,
	EVENT_ERR_BOOKING,
	EVENT_ERR_DIRECTION,
	EVENT_ERR_DECISION,
	EVENT_ERR_REASON,
	EVENT_ERR_TIME,
	EVENT_ERR_SEQ,
	EVENT_ERR_OFFLINE,
	EVENT_ERR_MANUAL,
	EVENT_ERR_NOTE,
	EVENT_ERR_NOTE_REQUIRED,
	EVENT_ERR_GATE,
	EVENT_ERR_COUNT
};

/* "not_an_object", "bad_id", ... as the upload answer names them; never NULL. */
const char *event_err_code(enum event_err e);
/* "admit" / "deny" / "undone" / "manual", and back (0, or -1 when unknown). */
const char *event_kind_name(enum event_kind k);
int event_kind_parse(const char *s, enum event_kind *k);

/* The upload form of ev (a new reference), or NULL when it cannot be written (a text that is not
 * UTF-8, such as a note typed on a broken terminal: the caller may send it with another note). */
json_t *event_to_json(const struct event *ev);
/* Reads and checks one uploaded event, `now` being the receiver's clock (for bad_time): EVENT_OK
 * with *ev filled, else the first field that is wrong. */
enum event_err event_from_json(json_t *o, int64_t now, struct event *ev);
/* The relay form (id, gate, pass, direction, decision, at), and back (checked like the upload form;
 * EVENT_ERR_GATE for a gate that is not a positive integer). */
json_t *event_relay_to_json(const struct event *ev);
enum event_err event_relay_from_json(json_t *o, int64_t now, struct event *ev);

/* ---- the presence rule ---- */
#define PRESENCE_UNKNOWN (-1)
#define PRESENCE_OUTSIDE 0
#define PRESENCE_INSIDE 1
struct presence {
	int now;      /* PRESENCE_* */
	int before;   /* where the pass was before the admission that set `now` */
	int undoable; /* the last counted event is an admission (rule 3) */
};
void presence_init(struct presence *p);
/* One event of the pass, in order (rules 1 to 3; pass 0 is the caller's to leave out). */
void presence_step(struct presence *p, enum event_kind kind, enum decide_dir dir);
/* The same from a stored row's decision and direction text; text neither side writes is left out.
 */
void presence_step_text(struct presence *p, const char *decision, const char *direction);

#endif
