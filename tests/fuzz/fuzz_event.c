/* fuzz_event: a gate's upload body as the server reads it (docs/sync.md): the JSON, its events
 * list, each event through the one validator of shared/event.c, in both of its forms. Checks: an
 * event that is accepted writes back (event_to_json) to an event that reads back the same, field by
 * field; its relay form does too; a refusal is one of the documented codes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1801494129 /* 2027-02-01T15:02:09Z */

static int same(const struct event *a, const struct event *b)
{
	return !strcmp(a->id, b->id) && a->seq == b->seq && a->pass == b->pass &&
	       a->booking == b->booking && a->dir == b->dir && a->kind == b->kind &&
	       a->reason == b->reason &&
	       !strcmp(a->reason_code[0] ? a->reason_code : decide_reason_code(a->reason),
	               b->reason_code[0] ? b->reason_code : decide_reason_code(b->reason)) &&
	       a->at == b->at && a->offline == b->offline && a->manual == b->manual &&
	       !strcmp(a->note, b->note);
}

static void one(json_t *e)
{
	struct event ev, back, relay;
	enum event_err err = event_from_json(e, NOW, &ev);
	json_t *j;

	if (err != EVENT_OK) {
		if (err >= EVENT_ERR_COUNT || !strncmp(event_err_code(err), "ok", 3))
			abort();
		(void)event_relay_from_json(e, NOW, &relay);
		return;
	}
	if (strlen(ev.id) != EVENT_ID_HEX || strlen(ev.note) > EVENT_NOTE_MAX ||
	    (ev.kind == EVENT_MANUAL && !ev.note[0]))
		abort();
	if (!(j = event_to_json(&ev)))
		abort(); /* what was read as JSON text writes back as JSON */
	if (event_from_json(j, NOW, &back) != EVENT_OK || !same(&ev, &back))
		abort();
	json_decref(j);
	ev.gate = 9;
	if (!(j = event_relay_to_json(&ev)) || event_relay_from_json(j, NOW, &relay) != EVENT_OK)
		abort();
	if (strcmp(relay.id, ev.id) || relay.gate != 9 || relay.pass != ev.pass ||
	    relay.dir != ev.dir || relay.kind != ev.kind || relay.at != ev.at)
		abort();
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL), *events,
	       *e;
	size_t i;

	if (!body)
		return 0;
	events = json_is_object(body) ? json_object_get(body, "events") : body;
	if (json_is_array(events)) {
		json_array_foreach(events, i, e) one(e);
	} else {
		one(events);
	}
	json_decref(body);
	return 0;
}
