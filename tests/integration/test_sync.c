/* The gates' side of the server (docs/sync.md) through the real programs: enrolment with a one-time
 * code, uploads (stored once, duplicates, rejected, 413, tokens), the paged download and its cursor
 * (nothing lost, nothing repeated, re-issue and cancellation, the horizon), other gates' scans,
 * revoked gates, the on-site count and the gate administration over HTTP and from estiva-admin, and
 * the presence rule (shared/event.h) giving one answer in the gate's store, the server's conflict
 * check, its online check and its on-site count. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gate.h"
#include "harness.h"

#define OUT_MAX 65536
#define GUESTS4                                                                                    \
	"[" HX_GUEST_SELF "," HX_GUEST_SPOUSE                                                      \
	",{\"name\":\"Youssef\",\"relation\":\"child\",\"birth_year\":2010},"                      \
	"{\"name\":\"Salma\",\"relation\":\"child\",\"birth_year\":2013}]"
#define GUESTS3                                                                                    \
	"[" HX_GUEST_SELF "," HX_GUEST_SPOUSE                                                      \
	",{\"name\":\"Youssef\",\"relation\":\"child\",\"birth_year\":2010}]"

struct gate_id {
	long long id;
	char token[65];
};

static char out[OUT_MAX];

/* ---- helpers ---- */

#define admin(...) hx_admin_run(out, sizeof out, __VA_ARGS__)

static long long db_int(const char *fmt, ...)
{
	char sql[1024];
	long long v = -1;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	assert_int_equal(hx_db_int(sql, &v), 0);
	return v;
}

static const char *iso(long long t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

static const char *new_event_id(char id[33])
{
	static unsigned counter;

	snprintf(id, 33, "%08x%08x%016llx", (unsigned)getpid(), ++counter,
	         (unsigned long long)time(NULL) * 2654435761ULL);
	return id;
}

/* gate add through estiva-admin: its id and code. */
static long long gate_add(const char *centre, const char *name, char *code, size_t n)
{
	long long id = 0;
	const char *p;

	if (admin("gate", "add", "--centre", centre, "--name", name, NULL) != 0)
		fail_msg("gate add: %s", out);
	assert_int_equal(sscanf(out, "gate %lld", &id), 1);
	p = strstr(out, "\ncode ");
	assert_non_null(p);
	snprintf(code, n, "%.*s", (int)strcspn(p + 6, "\n"), p + 6);
	assert_int_equal(strlen(code), 19);
	return id;
}

static long enroll(const char *code, struct hres *r)
{
	struct hc *c = hc_new(HX);
	json_t *b = json_pack("{s:s}", "code", code);
	char *body = json_dumps(b, JSON_COMPACT);
	long st;

	st = hc_do(c, "POST", "/api/gate/v1/enroll", body, NULL, r);
	free(body);
	json_decref(b);
	hc_free(c);
	return st;
}

/* A new enrolled gate of the centre. */
static struct gate_id gate_new(const char *centre, const char *name)
{
	struct gate_id g;
	char code[32];
	struct hres r;

	gate_add(centre, name, code, sizeof code);
	enroll(code, &r);
	EXPECT(r, 200, NULL);
	g.id = jint(r.json, "gate");
	snprintf(g.token, sizeof g.token, "%s", jstr(r.json, "token"));
	assert_int_equal(strlen(g.token), 64);
	hres_free(&r);
	return g;
}

static long gate_do(const char *token, const char *method, const char *path, const char *body,
                    struct hres *r)
{
	struct hc *c = hc_new(HX);
	struct hreq rq = {.bearer = token};
	long st = hc_do(c, method, path, body, &rq, r);

	hc_free(c);
	return st;
}

/* One event as JSON (a new reference). */
static json_t *event(const char *id, long long pass, const char *direction, const char *decision,
                     long long at)
{
	char when[32];
	static long long seq;

	return json_pack("{s:s,s:I,s:s,s:s,s:s,s:s,s:I,s:b,s:b,s:s}", "id", id, "pass", pass,
	                 "direction", direction, "decision", decision, "reason",
	                 !strcmp(decision, "deny") ? "revoked" : "ok", "at",
	                 iso(at, when, sizeof when), "seq", ++seq, "offline", 1, "manual",
	                 !strcmp(decision, "manual"), "note",
	                 !strcmp(decision, "manual") ? "badge forgotten" : "");
}

/* POST the events (stolen) to /api/gate/v1/events. */
static long upload(const char *token, json_t *events, struct hres *r)
{
	json_t *b = json_pack("{s:o,s:i}", "events", events, "queue", 0);
	char *body = json_dumps(b, JSON_COMPACT);
	long st = gate_do(token, "POST", "/api/gate/v1/events", body, r);

	free(body);
	json_decref(b);
	return st;
}

/* Uploads one event and expects it stored. */
static void upload_one(const char *token, long long pass, const char *direction,
                       const char *decision, long long at, char *id_out)
{
	struct hres r;
	char id[33];

	new_event_id(id);
	upload(token, json_pack("[o]", event(id, pass, direction, decision, at)), &r);
	EXPECT(r, 200, NULL);
	assert_int_equal(json_array_size(jget(r.json, "stored")), 1);
	hres_free(&r);
	if (id_out)
		memcpy(id_out, id, 33);
}

static long sync_page(const char *token, const char *cursor, int limit, struct hres *r)
{
	char path[256];

	if (limit > 0)
		snprintf(path, sizeof path, "/api/gate/v1/sync?cursor=%s&limit=%d", cursor, limit);
	else
		snprintf(path, sizeof path, "/api/gate/v1/sync?cursor=%s", cursor);
	return gate_do(token, "GET", path, NULL, r);
}

/* What a whole sync brought: every item of every page, by id. */
struct synced {
	json_t *passes; /* id (string) -> pass */
	json_t *revocations;
	json_t *events;
	int pages;
	char cursor[64];
};

static void synced_free(struct synced *s)
{
	json_decref(s->passes);
	json_decref(s->revocations);
	json_decref(s->events);
	memset(s, 0, sizeof *s);
}

/* Pages from cursor until more is false; fails when an item comes twice. */
static void sync_all(const char *token, const char *cursor, int limit, struct synced *s)
{
	struct hres r;
	int more = 1;

	memset(s, 0, sizeof *s);
	s->passes = json_object();
	s->revocations = json_object();
	s->events = json_object();
	snprintf(s->cursor, sizeof s->cursor, "%s", cursor);
	while (more) {
		json_t *x;
		size_t i;
		char key[32];
		int items = 0;

		sync_page(token, s->cursor, limit, &r);
		EXPECT(r, 200, NULL);
		assert_non_null(jstr(r.json, "cursor"));
		assert_true(hx_instant(jstr(r.json, "server_time")) > 0);
		json_array_foreach(jget(r.json, "passes"), i, x)
		{
			snprintf(key, sizeof key, "%lld",
			         (long long)json_integer_value(json_object_get(x, "id")));
			if (json_object_get(s->passes, key))
				fail_msg("pass %s came twice in one sync", key);
			json_object_set(s->passes, key, x);
			items++;
		}
		json_array_foreach(jget(r.json, "revocations"), i, x)
		{
			snprintf(key, sizeof key, "%lld",
			         (long long)json_integer_value(json_object_get(x, "pass")));
			if (json_object_get(s->revocations, key))
				fail_msg("revocation of %s came twice in one sync", key);
			json_object_set(s->revocations, key, x);
			items++;
		}
		json_array_foreach(jget(r.json, "events"), i, x)
		{
			const char *id = json_string_value(json_object_get(x, "id"));
			if (json_object_get(s->events, id))
				fail_msg("event %s came twice in one sync", id);
			json_object_set(s->events, id, x);
			items++;
		}
		if (limit > 0)
			assert_true(items <= limit);
		more = json_is_true(jget(r.json, "more"));
		snprintf(s->cursor, sizeof s->cursor, "%s", jstr(r.json, "cursor"));
		s->pages++;
		hres_free(&r);
		assert_true(s->pages < 1000);
	}
}

static struct hc *member(int i)
{
	char num[16];

	return hc_login_ok(hx_member(i, num, sizeof num));
}

/* A booking of member i, confirmed with estiva-admin (passes issued); its id. */
static long long confirmed_booking(int i, const char *centre, const char *type, int arrival,
                                   const char *guests)
{
	struct hc *c = member(i);
	struct hres r;
	char id[32];
	long long bid;

	hc_book(c, centre, type, arrival, arrival + 3, guests, &r);
	EXPECT(r, 201, NULL);
	bid = jint(r.json, "id");
	hres_free(&r);
	hc_free(c);
	snprintf(id, sizeof id, "%lld", bid);
	if (admin("confirm", id, NULL) != 0)
		fail_msg("estiva-admin confirm %s: %s", id, out);
	return bid;
}

static long long pass_of(long long booking, int guest)
{
	return db_int(
	    "SELECT id FROM passes WHERE booking = %lld AND guest = %d AND status = 'active'",
	    booking, guest);
}

/* Ids of the passes a gate of the centre must hold now, as "1,2,3". */
static void expected_passes(const char *centre, char *buf, size_t n)
{
	char sql[512];
	long long now_min = (long long)time(NULL) / 60;

	snprintf(
	    sql, sizeof sql,
	    "SELECT COALESCE(group_concat(id), '') FROM (SELECT p.id FROM passes p JOIN bookings b "
	    "ON b.id = p.booking"
	    " WHERE b.centre = ? AND p.valid_until > %lld AND p.valid_from <= %lld ORDER BY p.id)",
	    now_min, now_min + 7 * 1440);
	assert_true(hx_db_text(sql, centre, buf, n) >= 0);
}

static void keys_of(json_t *o, char *buf, size_t n)
{
	const char *k;
	json_t *v;
	long long ids[4096];
	int count = 0;
	size_t len = 0;

	buf[0] = '\0';
	json_object_foreach(o, k, v)
	{
		if (count < 4096)
			ids[count++] = atoll(k);
	}
	for (int i = 1; i < count; i++) /* insertion sort: a few hundred at most */
		for (int j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
			long long t = ids[j];
			ids[j] = ids[j - 1];
			ids[j - 1] = t;
		}
	for (int i = 0; i < count && len + 24 < n; i++)
		len += (size_t)snprintf(buf + len, n - len, "%s%lld", i ? "," : "", ids[i]);
}

static int has_key(json_t *o, long long id)
{
	char key[32];

	snprintf(key, sizeof key, "%lld", id);
	return json_object_get(o, key) != NULL;
}

/* ---- tests ---- */

static void enrolment(void **state)
{
	struct hres r;
	char code[32], code2[32], lower[32];
	long long id, id2;
	const char *tok;

	(void)state;
	id = gate_add("test-a", "Main gate", code, sizeof code);
	enroll("AAAA-BBBB-CCCC-DDDD", &r);
	EXPECT(r, 401, "bad_code");
	hres_free(&r);
	enroll("not a code", &r);
	EXPECT(r, 401, "bad_code");
	hres_free(&r);
	{
		struct hc *c = hc_new(HX);
		hc_do(c, "POST", "/api/gate/v1/enroll", "{\"code\": 5}", NULL, &r);
		EXPECT(r, 400, "bad_request");
		hres_free(&r);
		hc_do(c, "POST", "/api/gate/v1/enroll", "{\"code\":", NULL, &r);
		EXPECT(r, 400, "bad_json");
		hres_free(&r);
		hc_free(c);
	}
	/* typed in lower case without dashes: the same code */
	for (size_t i = 0, k = 0; i <= strlen(code); i++)
		if (code[i] != '-')
			lower[k++] =
			    (char)(code[i] >= 'A' && code[i] <= 'Z' ? code[i] + 32 : code[i]);
	enroll(lower, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JINT(r.json, "gate", id);
	ASSERT_JSTR(r.json, "centre", "test-a");
	ASSERT_JINT(r.json, "centre_number", 11);
	ASSERT_JSTR(r.json, "name", "Main gate");
	tok = jstr(r.json, "token");
	assert_non_null(tok);
	assert_int_equal(strlen(tok), 64);
	assert_true(json_array_size(jget(r.json, "keys")) >= 1);
	assert_int_equal(strlen(jstr(r.json, "keys.0.public_key")), 64);
	assert_true(llabs(hx_instant(jstr(r.json, "server_time")) - (long long)time(NULL)) < 60);
	/* the server keeps the token's hash only */
	assert_int_equal(hx_db_text("SELECT id FROM gates WHERE lower(hex(token_hash)) = ?", tok,
	                            out, sizeof out),
	                 1);
	hres_free(&r);
	/* once only */
	enroll(code, &r);
	EXPECT(r, 401, "bad_code");
	hres_free(&r);
	/* an expired code */
	id2 = gate_add("test-a", "Late gate", code2, sizeof code2);
	{
		char sql[128];
		snprintf(sql, sizeof sql, "UPDATE gates SET code_expires_at = %lld WHERE id = %lld",
		         (long long)time(NULL) - 1, id2);
		hx_db_write(sql);
	}
	enroll(code2, &r);
	EXPECT(r, 401, "bad_code");
	hres_free(&r);
	assert_int_equal(
	    db_int("SELECT COUNT(*) FROM audit WHERE action = 'gate.add' AND entity_id = %lld", id),
	    1);
	assert_int_equal(
	    db_int("SELECT COUNT(*) FROM audit WHERE action = 'gate.enroll' AND entity_id = %lld",
	           id),
	    1);
	assert_int_equal(
	    db_int("SELECT COUNT(*) FROM audit WHERE action = 'gate.enroll' AND entity_id = %lld",
	           id2),
	    0);
}

static void uploads(void **state)
{
	struct gate_id g = gate_new("test-a", "Upload gate");
	long long now = (long long)time(NULL);
	json_t *batch, *again;
	char ids[3][33], fresh[33], when[32], body[512];
	struct hres r;

	(void)state;
	batch = json_array();
	for (int i = 0; i < 3; i++)
		json_array_append_new(batch,
		                      event(new_event_id(ids[i]), 1, "in", "deny", now - 60 + i));
	again = json_deep_copy(batch);
	upload(g.token, batch, &r);
	EXPECT(r, 200, NULL);
	assert_int_equal(json_array_size(jget(r.json, "stored")), 3);
	assert_int_equal(json_array_size(jget(r.json, "duplicates")), 0);
	assert_int_equal(json_array_size(jget(r.json, "rejected")), 0);
	ASSERT_JSTR(r.json, "stored.1", ids[1]);
	assert_true(hx_instant(jstr(r.json, "server_time")) > 0);
	hres_free(&r);
	/* a replay is harmless */
	upload(g.token, again, &r);
	EXPECT(r, 200, NULL);
	assert_int_equal(json_array_size(jget(r.json, "stored")), 0);
	assert_int_equal(json_array_size(jget(r.json, "duplicates")), 3);
	hres_free(&r);

	/* malformed events are rejected one by one, the others stored */
	batch = json_array();
	json_array_append_new(batch, event(new_event_id(fresh), 0, "in", "manual", now));
	json_array_append_new(batch, event("xyz", 1, "in", "admit", now));
	json_array_append_new(batch, event(new_event_id(body), 1, "sideways", "admit", now));
	json_array_append_new(batch,
	                      event(new_event_id(body), 1, "in", "admit", now - 2 * 366 * 86400LL));
	{
		json_t *m = event(new_event_id(body), 0, "in", "manual", now);
		json_object_set_new(m, "note", json_string(""));
		json_array_append_new(batch, m);
	}
	json_array_append_new(batch, json_integer(42));
	json_array_append_new(batch, event(fresh, 0, "in", "manual", now)); /* twice in one batch */
	upload(g.token, batch, &r);
	EXPECT(r, 200, NULL);
	assert_int_equal(json_array_size(jget(r.json, "stored")), 1);
	ASSERT_JSTR(r.json, "stored.0", fresh);
	assert_int_equal(json_array_size(jget(r.json, "duplicates")), 1);
	assert_int_equal(json_array_size(jget(r.json, "rejected")), 5);
	ASSERT_JSTR(r.json, "rejected.0.error", "bad_id");
	ASSERT_JSTR(r.json, "rejected.0.id", "xyz");
	ASSERT_JINT(r.json, "rejected.0.index", 1);
	ASSERT_JSTR(r.json, "rejected.1.error", "bad_direction");
	ASSERT_JSTR(r.json, "rejected.2.error", "bad_time");
	ASSERT_JSTR(r.json, "rejected.3.error", "note_required");
	ASSERT_JSTR(r.json, "rejected.4.error", "not_an_object");
	assert_true(json_is_null(jget(r.json, "rejected.4.id")));
	hres_free(&r);

	/* 500 at most per batch */
	batch = json_array();
	for (int i = 0; i < 501; i++)
		json_array_append_new(batch, event(new_event_id(body), 0, "out", "deny", now - i));
	again = json_deep_copy(batch);
	upload(g.token, batch, &r);
	EXPECT(r, 413, "too_many_events");
	hres_free(&r);
	json_array_remove(again, 0);
	upload(g.token, again, &r);
	EXPECT(r, 200, NULL);
	assert_int_equal(json_array_size(jget(r.json, "stored")), 500);
	hres_free(&r);
	assert_int_equal(db_int("SELECT COUNT(*) FROM gate_events WHERE gate = %lld", g.id), 504);

	/* the whole body malformed */
	gate_do(g.token, "POST", "/api/gate/v1/events", "{\"events\":", &r);
	EXPECT(r, 400, "bad_json");
	hres_free(&r);
	gate_do(g.token, "POST", "/api/gate/v1/events", "{\"events\": {}}", &r);
	EXPECT(r, 400, "bad_request");
	hres_free(&r);
	gate_do(g.token, "POST", "/api/gate/v1/events",
	        "{\"events\": [], \"gate_time\": \"yesterday\"}", &r);
	EXPECT(r, 400, "bad_request");
	hres_free(&r);

	/* tokens */
	gate_do(NULL, "POST", "/api/gate/v1/events", "{\"events\": []}", &r);
	EXPECT(r, 401, "unauthenticated");
	hres_free(&r);
	gate_do("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "POST",
	        "/api/gate/v1/events", "{\"events\": []}", &r);
	EXPECT(r, 401, "bad_token");
	hres_free(&r);
	gate_do("abc", "GET", "/api/gate/v1/sync", NULL, &r);
	EXPECT(r, 401, "bad_token");
	hres_free(&r);

	/* the gate's own report: queue and clock offset */
	snprintf(body, sizeof body, "{\"events\": [], \"queue\": 7, \"gate_time\": \"%s\"}",
	         iso(now - 100, when, sizeof when));
	gate_do(g.token, "POST", "/api/gate/v1/events", body, &r);
	EXPECT(r, 200, NULL);
	hres_free(&r);
	assert_int_equal(db_int("SELECT last_queue FROM gates WHERE id = %lld", g.id), 7);
	assert_true(llabs(db_int("SELECT last_offset_s FROM gates WHERE id = %lld", g.id) - 100) <=
	            5);
}

static void download_pages(void **state)
{
	struct gate_id g = gate_new("test-a", "Sync gate");
	long long b1, b2, b3, far, old_pass, new_pass;
	char want[8192], got[8192], path[96], sql[256];
	struct synced s, s2;
	struct hres r, r2;
	json_t *p;
	struct hc *c;

	(void)state;
	b1 = confirmed_booking(3, "test-a", "chalet", 1, GUESTS4);
	b2 = confirmed_booking(4, "test-a", "chalet", 2, GUESTS4);
	b3 = confirmed_booking(5, "test-a", "chalet", 3, GUESTS4);
	far = confirmed_booking(6, "test-a", "chalet", 20, HX_GUESTS_COUPLE);

	/* the first sync, five items a page: every pass of the horizon once */
	sync_all(g.token, "", 5, &s);
	expected_passes("test-a", want, sizeof want);
	keys_of(s.passes, got, sizeof got);
	assert_string_equal(got, want);
	assert_true(s.pages >= 3);
	assert_false(has_key(s.passes, pass_of(far, 0)));
	assert_true(has_key(s.passes, pass_of(b1, 3)));
	snprintf(path, sizeof path, "%lld", pass_of(b2, 1));
	p = json_object_get(s.passes, path);
	assert_non_null(p);
	ASSERT_JSTR(p, "guest_name", "Amina");
	ASSERT_JSTR(p, "kind", "guest");
	ASSERT_JSTR(p, "status", "active");
	ASSERT_JINT(p, "booking", b2);
	ASSERT_JINT(p, "guest", 1);
	assert_true(json_is_null(jget(p, "nfc_uid")));
	assert_true(hx_instant(jstr(p, "valid_until")) > hx_instant(jstr(p, "valid_from")));
	snprintf(sql, sizeof sql,
	         "SELECT u.code FROM bookings b JOIN units u ON u.id = b.unit WHERE b.id = %lld",
	         b2);
	assert_int_equal(hx_db_text(sql, NULL, got, sizeof got), 0);
	ASSERT_JSTR(p, "unit", got);

	/* keys and centre on every page */
	sync_page(g.token, s.cursor, 0, &r);
	EXPECT(r, 200, NULL);
	assert_int_equal(json_array_size(jget(r.json, "passes")), 0);
	assert_int_equal(json_array_size(jget(r.json, "revocations")), 0);
	assert_false(json_is_true(jget(r.json, "more")));
	ASSERT_JSTR(r.json, "centre.id", "test-a");
	ASSERT_JINT(r.json, "centre.number", 11);
	assert_true(json_is_true(jget(r.json, "keys.0.signing")));
	assert_int_equal(strlen(jstr(r.json, "keys.0.public_key")), 64);
	assert_int_equal(hres_header(&r, "Date", got, sizeof got),
	                 0); /* the gate's other clock reading */
	hres_free(&r);

	/* a pass re-issued between two syncs: one revoked, one new */
	old_pass = pass_of(b1, 2);
	c = member(3);
	snprintf(path, sizeof path, "/api/v1/passes/%lld/reissue", old_pass);
	hc_do(c, "POST", path, "{}", NULL, &r);
	EXPECT(r, 201, NULL);
	new_pass = jint(r.json, "id");
	hres_free(&r);
	hc_free(c);
	sync_all(g.token, s.cursor, 1, &s2);
	assert_int_equal(json_object_size(s2.passes), 2);
	snprintf(path, sizeof path, "%lld", old_pass);
	ASSERT_JSTR(json_object_get(s2.passes, path), "status", "revoked");
	snprintf(path, sizeof path, "%lld", new_pass);
	ASSERT_JSTR(json_object_get(s2.passes, path), "status", "active");
	assert_int_equal(json_object_size(s2.revocations), 1);
	snprintf(path, sizeof path, "%lld", old_pass);
	ASSERT_JSTR(json_object_get(s2.revocations, path), "reason", "reissued");
	snprintf(s.cursor, sizeof s.cursor, "%s", s2.cursor);
	synced_free(&s2);

	/* a cancelled booking: its passes revoked */
	snprintf(path, sizeof path, "/api/v1/bookings/%lld/cancel", b3);
	c = member(5);
	hc_do(c, "POST", path, "{}", NULL, &r);
	EXPECT(r, 200, NULL);
	hres_free(&r);
	hc_free(c);
	sync_all(g.token, s.cursor, 3, &s2);
	assert_int_equal(json_object_size(s2.revocations), 4);
	assert_int_equal(json_object_size(s2.passes), 4);
	for (int i = 0; i < 4; i++) {
		long long id =
		    db_int("SELECT id FROM passes WHERE booking = %lld AND guest = %d", b3, i);
		snprintf(path, sizeof path, "%lld", id);
		ASSERT_JSTR(json_object_get(s2.revocations, path), "reason", "cancelled");
		assert_true(hx_instant(jstr(json_object_get(s2.revocations, path), "until")) >
		            (long long)time(NULL));
		ASSERT_JSTR(json_object_get(s2.passes, path), "status", "revoked");
	}
	snprintf(s.cursor, sizeof s.cursor, "%s", s2.cursor);
	synced_free(&s2);

	/* an interrupted sync asks again with the cursor it stored: the same page */
	sync_page(g.token, "", 4, &r);
	sync_page(g.token, "", 4, &r2);
	EXPECT(r, 200, NULL);
	EXPECT(r2, 200, NULL);
	assert_true(json_equal(jget(r.json, "passes"), jget(r2.json, "passes")));
	ASSERT_JSTR(r2.json, "cursor", jstr(r.json, "cursor"));
	hres_free(&r);
	hres_free(&r2);

	/* time passes: the far stay comes within the horizon and its passes reach the gate */
	snprintf(sql, sizeof sql, "UPDATE passes SET valid_from = %lld WHERE booking = %lld",
	         (long long)time(NULL) / 60 + 3 * 1440, far);
	hx_db_write(sql);
	snprintf(sql, sizeof sql, "UPDATE sync_horizon SET edge = %lld",
	         (long long)time(NULL) / 60);
	hx_db_write(sql);
	sync_all(g.token, s.cursor, 0, &s2);
	assert_true(has_key(s2.passes, pass_of(far, 0)));
	assert_true(has_key(s2.passes, pass_of(far, 1)));
	synced_free(&s2);
	synced_free(&s);

	/* cursors and limits are checked */
	{
		static const char *bad[] = {"x",      "p1",     "p1.e",
		                            "p-1.e0", "p01.e0", "p1.e1x",
		                            "p1.e1.", "e1.p1",  "p1234567890123456789.e0",
		                            "p1.e0p"};
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			sync_page(g.token, bad[i], 0, &r);
			EXPECT(r, 400, "bad_request");
			hres_free(&r);
		}
		static const char *limits[] = {"0", "5001", "abc", "", "-1", "07"};
		for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
			snprintf(path, sizeof path, "/api/gate/v1/sync?limit=%s", limits[i]);
			gate_do(g.token, "GET", path, NULL, &r);
			EXPECT(r, 400, "bad_request");
			hres_free(&r);
		}
		sync_page(g.token, "p999999999.e0", 0, &r);
		EXPECT(r, 409, "stale_cursor");
		hres_free(&r);
		sync_page(g.token, "p0.e999999999", 0, &r);
		EXPECT(r, 409, "stale_cursor");
		hres_free(&r);
	}
}

static void other_gates_events(void **state)
{
	struct gate_id a1 = gate_new("test-a", "A1"), a2 = gate_new("test-a", "A2"),
	               b1 = gate_new("test-b", "B1");
	struct synced s1, s2, sb;
	char c1[64], c2[64], cb[64], id1[33], id2[33], key[33];
	long long now = (long long)time(NULL);
	json_t *batch;
	struct hres r;

	(void)state;
	sync_all(a1.token, "", 0, &s1);
	sync_all(a2.token, "", 0, &s2);
	sync_all(b1.token, "", 0, &sb);
	snprintf(c1, sizeof c1, "%s", s1.cursor);
	snprintf(c2, sizeof c2, "%s", s2.cursor);
	snprintf(cb, sizeof cb, "%s", sb.cursor);
	synced_free(&s1);
	synced_free(&s2);
	synced_free(&sb);

	upload_one(a1.token, 0, "in", "manual", now - 5, id1);
	upload_one(a1.token, 0, "out", "manual", now - 4, id2);
	sync_all(a2.token, c2, 0, &s2);
	assert_int_equal(json_object_size(s2.events), 2);
	ASSERT_JINT(json_object_get(s2.events, id1), "gate", a1.id);
	ASSERT_JSTR(json_object_get(s2.events, id1), "direction", "in");
	ASSERT_JSTR(json_object_get(s2.events, id2), "decision", "manual");
	assert_true(hx_instant(jstr(json_object_get(s2.events, id2), "at")) == now - 4);
	snprintf(c2, sizeof c2, "%s", s2.cursor);
	synced_free(&s2);
	sync_all(a1.token, c1, 0, &s1); /* not its own */
	assert_int_equal(json_object_size(s1.events), 0);
	synced_free(&s1);
	sync_all(b1.token, cb, 0, &sb); /* not another centre's */
	assert_int_equal(json_object_size(sb.events), 0);
	synced_free(&sb);

	/* paged: 7 events, 3 a page */
	batch = json_array();
	for (int i = 0; i < 7; i++)
		json_array_append_new(batch,
		                      event(new_event_id(key), 0, "in", "deny", now - 10 + i));
	upload(a1.token, batch, &r);
	EXPECT(r, 200, NULL);
	hres_free(&r);
	sync_all(a2.token, c2, 3, &s2);
	assert_int_equal(json_object_size(s2.events), 7);
	assert_true(s2.pages >= 3);
	synced_free(&s2);
}

static void revoked_gate(void **state)
{
	struct gate_id g = gate_new("test-b", "Doomed gate");
	char id[32];
	struct hres r;

	(void)state;
	upload_one(g.token, 0, "in", "deny", (long long)time(NULL), NULL);
	snprintf(id, sizeof id, "%lld", g.id);
	assert_int_equal(admin("gate", "revoke", id, NULL), 0);
	assert_non_null(strstr(out, "revoked"));
	upload(g.token, json_array(), &r);
	EXPECT(r, 401, "gate_revoked");
	hres_free(&r);
	sync_page(g.token, "", 0, &r);
	EXPECT(r, 401, "gate_revoked");
	hres_free(&r);
	assert_int_equal(admin("gate", "revoke", id, NULL), 0);
	assert_non_null(strstr(out, "already"));
	assert_int_equal(admin("gate", "revoke", "999999", NULL), 1);
	assert_int_equal(admin("gate", "revoke", "x", NULL), 2);
	assert_int_equal(admin("gate", "list", NULL), 0);
	assert_non_null(strstr(out, "Doomed gate"));
	assert_non_null(strstr(out, "revoked"));
	assert_int_equal(
	    db_int("SELECT COUNT(*) FROM audit WHERE action = 'gate.revoke' AND entity_id = %lld",
	           g.id),
	    1);
	assert_int_equal(admin("gate", NULL), 2);
	assert_int_equal(admin("gate", "add", "--centre", "test-a", NULL), 2);
	assert_int_equal(admin("gate", "add", "--centre", "nowhere", "--name", "X", NULL), 1);
}

static long long onsite(struct hc *c, const char *centre, long status, const char *code)
{
	char path[128];
	struct hres r;
	long long n;

	snprintf(path, sizeof path, "/api/v1/manage/centres/%s/onsite", centre);
	hc_do(c, "GET", path, NULL, NULL, &r);
	EXPECT(r, status, code);
	n = status == 200 ? jint(r.json, "inside") : -1;
	if (status == 200) {
		ASSERT_JSTR(r.json, "centre", centre);
		assert_true(hx_instant(jstr(r.json, "as_of")) > 0);
		assert_true(json_is_array(jget(r.json, "gates")));
	}
	hres_free(&r);
	return n;
}

static const char *conflict_of(const char *id, char *buf, size_t n)
{
	if (hx_db_text("SELECT COALESCE(conflict_reason, '-') FROM gate_events WHERE id = ?", id,
	               buf, n) != 0)
		fail_msg("no event %s", id);
	return buf;
}

static void onsite_count(void **state)
{
	struct gate_id g = gate_new("test-b", "Beach gate");
	struct hc *mgr = hc_login_ok(HX_MANAGER), *boss = hc_login_ok(HX_ADMIN), *mem = member(7),
	          *anon = hc_new(HX);
	long long b1 = confirmed_booking(7, "test-b", "room", 1, GUESTS3);
	long long b2 = confirmed_booking(8, "test-b", "room", 2, GUESTS3);
	long long a = confirmed_booking(9, "test-a", "studio", 1, HX_GUESTS_SELF);
	long long p1 = pass_of(b1, 0), p2 = pass_of(b1, 1), p3 = pass_of(b1, 2),
	          p4 = pass_of(b2, 0), p5 = pass_of(b2, 1), pa = pass_of(a, 0);
	long long now = (long long)time(NULL);
	char id[33], why[64], path[96];
	struct hres r;

	(void)state;
	assert_int_equal(onsite(mgr, "test-b", 200, NULL), 0);
	upload_one(g.token, p1, "in", "admit", now - 600, NULL);
	upload_one(g.token, p2, "in", "admit", now - 590, NULL);
	upload_one(g.token, p2, "in", "undone", now - 589, NULL);
	upload_one(g.token, p3, "in", "admit", now - 580, NULL);
	upload_one(g.token, p3, "out", "admit", now - 500, NULL);
	upload_one(g.token, p4, "in", "manual", now - 400, NULL);
	upload_one(g.token, p5, "in", "deny", now - 300, NULL);
	upload_one(g.token, 0, "in", "manual", now - 200, NULL);
	assert_int_equal(onsite(mgr, "test-b", 200, NULL), 2); /* p1 and p4 */

	/* an entry while inside: stored, flagged */
	upload_one(g.token, p1, "in", "admit", now - 100, id);
	assert_string_equal(conflict_of(id, why, sizeof why), "already_inside");
	/* the undone entry did not count: no conflict */
	upload_one(g.token, p2, "in", "admit", now - 50, id);
	assert_string_equal(conflict_of(id, why, sizeof why), "-");
	assert_int_equal(onsite(mgr, "test-b", 200, NULL), 3);

	/* a pass revoked before it was admitted offline */
	snprintf(path, sizeof path, "/api/v1/bookings/%lld/cancel", b2);
	hc_do(boss, "POST", path, "{}", NULL, &r);
	EXPECT(r, 200, NULL);
	hres_free(&r);
	upload_one(g.token, p5, "in", "admit", (long long)time(NULL) + 1, id);
	assert_string_equal(conflict_of(id, why, sizeof why), "revoked");
	upload_one(g.token, 99999999, "in", "admit", now, id);
	assert_string_equal(conflict_of(id, why, sizeof why), "unknown_pass");
	upload_one(g.token, pa, "in", "admit", now, id);
	assert_string_equal(conflict_of(id, why, sizeof why), "other_centre");
	assert_int_equal(onsite(mgr, "test-b", 200, NULL), 4); /* facts: p5 went in */
	assert_int_equal(
	    db_int("SELECT COUNT(*) FROM gate_events WHERE gate = %lld AND conflict = 1", g.id), 4);
	assert_int_equal(
	    db_int("SELECT COUNT(*) FROM gate_events WHERE id = '%s' AND booking = %lld", id, a),
	    1);

	/* who may ask */
	assert_int_equal(onsite(boss, "test-b", 200, NULL), 4);
	onsite(mem, "test-b", 403, "forbidden");
	onsite(mgr, "test-a", 404, "not_found");
	onsite(boss, "nowhere", 404, "not_found");
	onsite(anon, "test-b", 401, "unauthenticated");
	hc_do(mgr, "GET", "/api/v1/manage/centres/test-b/onsite", NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	{
		char gid[32];
		json_t *x = NULL, *v;
		size_t i;

		snprintf(gid, sizeof gid, "%lld", g.id);
		json_array_foreach(jget(r.json, "gates"), i,
		                   v) if (json_integer_value(json_object_get(v, "id")) == g.id) x =
		    v;
		assert_non_null(x);
		ASSERT_JSTR(x, "name", "Beach gate");
		ASSERT_JINT(x, "queue", 0);
		assert_false(json_is_true(json_object_get(x, "revoked")));
		assert_true(hx_instant(jstr(x, "last_sync")) > 0);
	}
	hres_free(&r);
	hc_free(mgr);
	hc_free(boss);
	hc_free(mem);
	hc_free(anon);
}

/* Scans stamped far ahead of the gate's clock are kept, flagged, and never count for presence; a
 * gate's claims about passes are checked against our rows. */
static void gate_claims_are_checked(void **state)
{
	struct gate_id g = gate_new("test-b", "Side gate"), g2 = gate_new("test-b", "Back gate");
	struct hc *mgr = hc_login_ok(HX_MANAGER);
	long long b1 = confirmed_booking(10, "test-b", "room", 5, GUESTS3);
	long long b2 = confirmed_booking(11, "test-b", "room", 6, GUESTS3);
	long long p1 = pass_of(b1, 0), p2 = pass_of(b2, 0), now = (long long)time(NULL), before;
	char id[33], why[64], path[256];
	struct hres r;
	size_t i;
	json_t *v;

	(void)state;
	before = onsite(mgr, "test-b", 200, NULL);
	/* a +300-day exit for p1 would let it in and out for ever; a +300-day entry for p2 would
	 * lock it out */
	upload_one(g.token, p1, "in", "admit", now - 60, NULL);
	upload_one(g.token, p1, "out", "admit", now + 300LL * 86400, id);
	assert_string_equal(conflict_of(id, why, sizeof why), "future_time");
	upload_one(g.token, p2, "in", "admit", now + 300LL * 86400, id);
	assert_string_equal(conflict_of(id, why, sizeof why), "future_time");
	assert_int_equal(onsite(mgr, "test-b", 200, NULL), before + 1); /* p1 inside; p2 not */
	/* p1 is still inside: a second entry conflicts; p2 can come in */
	upload_one(g.token, p1, "in", "admit", now - 30, id);
	assert_string_equal(conflict_of(id, why, sizeof why), "already_inside");
	upload_one(g.token, p2, "in", "admit", now - 20, id);
	assert_string_equal(conflict_of(id, why, sizeof why), "-");
	/* the other gates are not told of the future scans */
	snprintf(path, sizeof path, "/api/gate/v1/sync?limit=1000");
	gate_do(g2.token, "GET", path, NULL, &r);
	EXPECT(r, 200, NULL);
	{
		int from_g = 0;
		json_array_foreach(jget(r.json, "events"), i, v)
		{
			const char *at = json_string_value(json_object_get(v, "at"));
			if (at && hx_instant(at) > now + 86400)
				fail_msg("a future scan was sent to another gate: %s", at);
			from_g += json_integer_value(json_object_get(v, "gate")) == g.id;
		}
		assert_int_equal(from_g,
		                 3); /* p1 in, p1 in again, p2 in: the facts with trusted times */
	}
	hres_free(&r);
	/* a scan within the gate's own (fast) clock is fine: the upload says what time the gate has
	 */
	{
		char when[32], eid[33];
		json_t *b = json_pack("{s:[o],s:s,s:i}", "events",
		                      event(new_event_id(eid), p2, "out", "admit", now + 3600),
		                      "gate_time", iso(now + 3590, when, sizeof when), "queue", 0);
		char *body = json_dumps(b, JSON_COMPACT);
		gate_do(g.token, "POST", "/api/gate/v1/events", body, &r);
		EXPECT(r, 200, NULL);
		hres_free(&r);
		free(body);
		json_decref(b);
		assert_string_equal(conflict_of(eid, why, sizeof why), "-");
	}
	/* ... but a clock that jumped 300 days ahead is not believed, even when it says so itself
	 * in gate_time: its exit is flagged, and its next uploads (no gate_time) inherit nothing
	 * from it */
	{
		char when[32], eid[33];
		json_t *b =
		    json_pack("{s:[o],s:s,s:i}", "events",
		              event(new_event_id(eid), p1, "out", "admit", now + 300LL * 86400),
		              "gate_time", iso(now + 300LL * 86400, when, sizeof when), "queue", 0);
		char *body = json_dumps(b, JSON_COMPACT);
		gate_do(g.token, "POST", "/api/gate/v1/events", body, &r);
		EXPECT(r, 200, NULL);
		hres_free(&r);
		free(body);
		json_decref(b);
		assert_string_equal(conflict_of(eid, why, sizeof why), "future_time");
		upload_one(g.token, p1, "out", "admit", now + 200LL * 86400, id);
		assert_string_equal(conflict_of(id, why, sizeof why), "future_time");
	}
	/* an admission of pass 0 (no pass) is flagged; a manual one is not */
	upload_one(g.token, 0, "in", "admit", now, id);
	assert_string_equal(conflict_of(id, why, sizeof why), "unknown_pass");
	/* a booking that contradicts the pass's: ours is kept, the claim flagged */
	{
		char eid[33];
		json_t *e = event(new_event_id(eid), p1, "out", "admit", now);
		json_object_set_new(e, "booking", json_integer(b2));
		upload(g.token, json_pack("[o]", e), &r);
		EXPECT(r, 200, NULL);
		hres_free(&r);
		assert_string_equal(conflict_of(eid, why, sizeof why), "booking_mismatch");
		assert_int_equal(db_int("SELECT booking FROM gate_events WHERE id = '%s'", eid),
		                 b1);
	}
	hc_free(mgr);
}

/* A retired key that must not be trusted any more: `estiva-admin keys revoke` re-issues its passes
 * under the current key and the gates drop it at their next sync. */
static void key_revoke_through_sync(void **state)
{
	struct gate_id g = gate_new("test-b", "Key gate");
	long long b = confirmed_booking(12, "test-b", "room", 3, GUESTS3), p = pass_of(b, 0),
	          old_key, new_key, fresh;
	char k[16], path[512], key_file[600];
	struct synced s, s2;
	struct hres r;
	size_t i;
	json_t *v;

	(void)state;
	old_key = db_int("SELECT key_id FROM passes WHERE id = %lld", p);
	sync_all(g.token, "", 0, &s);
	snprintf(k, sizeof k, "%lld", p);
	assert_non_null(json_object_get(s.passes, k));
	assert_int_equal(admin("keys", "rotate", NULL), 0);
	new_key = db_int("SELECT MAX(id) FROM signing_keys");
	/* the key that signs now cannot be revoked: rotate first */
	snprintf(k, sizeof k, "%lld", new_key);
	assert_int_not_equal(admin("keys", "revoke", k, NULL), 0);
	assert_non_null(strstr(out, "rotate first"));
	snprintf(k, sizeof k, "%lld", old_key);
	assert_int_equal(admin("keys", "revoke", k, NULL), 0);
	assert_int_equal(
	    db_int("SELECT COUNT(*) FROM passes WHERE key_id = %lld AND status = 'active'",
	           old_key),
	    0);
	fresh = pass_of(b, 0);
	assert_true(fresh != p);
	assert_int_equal(db_int("SELECT key_id FROM passes WHERE id = %lld", fresh), new_key);
	snprintf(key_file, sizeof key_file, "%s/keys/pass-signing-%lld.key", hx_dir(HX), old_key);
	assert_int_not_equal(access(key_file, F_OK), 0); /* the secret is gone */
	/* the gate's next sync: the old pass revoked, its replacement, and a key set without the
	 * old key */
	sync_all(g.token, s.cursor, 0, &s2);
	snprintf(k, sizeof k, "%lld", p);
	assert_non_null(json_object_get(s2.revocations, k));
	snprintf(k, sizeof k, "%lld", fresh);
	assert_non_null(json_object_get(s2.passes, k));
	snprintf(path, sizeof path, "/api/gate/v1/sync?cursor=%s", s2.cursor);
	gate_do(g.token, "GET", path, NULL, &r);
	EXPECT(r, 200, NULL);
	assert_true(json_array_size(jget(r.json, "keys")) >= 1);
	json_array_foreach(jget(r.json, "keys"), i, v)
	    assert_int_not_equal(json_integer_value(json_object_get(v, "id")), old_key);
	hres_free(&r);
	synced_free(&s);
	synced_free(&s2);
}

static void admin_http(void **state)
{
	struct hc *boss = hc_login_ok(HX_ADMIN), *mgr = hc_login_ok(HX_MANAGER), *mem = member(10),
	          *anon = hc_new(HX);
	struct hreq nocsrf = {.csrf = ""};
	struct hres r;
	long long id;
	char code[32], path[96], token[65];

	(void)state;
	hc_do(boss, "GET", "/api/v1/admin/gates", NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	assert_true(json_array_size(jget(r.json, "gates")) >= 1);
	assert_non_null(jstr(r.json, "gates.0.centre"));
	assert_non_null(jget(r.json, "gates.0.clock_offset_s"));
	hres_free(&r);
	hc_do(mgr, "GET", "/api/v1/admin/gates", NULL, NULL, &r);
	EXPECT(r, 403, "forbidden");
	hres_free(&r);
	hc_do(mem, "GET", "/api/v1/admin/gates", NULL, NULL, &r);
	EXPECT(r, 403, "forbidden");
	hres_free(&r);
	hc_do(anon, "GET", "/api/v1/admin/gates", NULL, NULL, &r);
	EXPECT(r, 401, "unauthenticated");
	hres_free(&r);

	hc_do(boss, "POST", "/api/v1/admin/gates", "{\"centre\":\"test-b\",\"name\":\"Side gate\"}",
	      &nocsrf, &r);
	EXPECT(r, 403, "csrf");
	hres_free(&r);
	hc_do(mgr, "POST", "/api/v1/admin/gates", "{\"centre\":\"test-b\",\"name\":\"Side gate\"}",
	      NULL, &r);
	EXPECT(r, 403, "forbidden");
	hres_free(&r);
	hc_do(boss, "POST", "/api/v1/admin/gates",
	      "{\"centre\":\"nowhere\",\"name\":\"Side gate\"}", NULL, &r);
	EXPECT(r, 400, "bad_request");
	hres_free(&r);
	hc_do(boss, "POST", "/api/v1/admin/gates", "{\"centre\":\"test-b\"}", NULL, &r);
	EXPECT(r, 400, "bad_request");
	hres_free(&r);
	hc_do(boss, "POST", "/api/v1/admin/gates",
	      "{\"centre\":\"test-b\",\"name\":"
	      "\"0123456789012345678901234567890123456789012345678901234567890123X\"}",
	      NULL, &r);
	EXPECT(r, 400, "bad_request");
	hres_free(&r);

	hc_do(boss, "POST", "/api/v1/admin/gates", "{\"centre\":\"test-b\",\"name\":\"Side gate\"}",
	      NULL, &r);
	EXPECT(r, 201, NULL);
	id = jint(r.json, "id");
	ASSERT_JSTR(r.json, "centre", "test-b");
	ASSERT_JSTR(r.json, "name", "Side gate");
	snprintf(code, sizeof code, "%s", jstr(r.json, "code"));
	assert_int_equal(strlen(code), 19);
	assert_true(llabs(hx_instant(jstr(r.json, "code_expires_at")) -
	                  ((long long)time(NULL) + 86400)) < 60);
	hres_free(&r);
	enroll(code, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JINT(r.json, "gate", id);
	ASSERT_JINT(r.json, "centre_number", 12);
	snprintf(token, sizeof token, "%s", jstr(r.json, "token"));
	hres_free(&r);

	snprintf(path, sizeof path, "/api/v1/admin/gates/%lld/revoke", id);
	hc_do(mgr, "POST", path, "{}", NULL, &r);
	EXPECT(r, 403, "forbidden");
	hres_free(&r);
	hc_do(boss, "POST", path, "{}", NULL, &r);
	EXPECT(r, 200, NULL);
	ASSERT_JINT(r.json, "id", id);
	assert_true(json_is_true(jget(r.json, "revoked")));
	hres_free(&r);
	hc_do(boss, "POST", path, "{}", NULL, &r);
	EXPECT(r, 200, NULL);
	hres_free(&r);
	sync_page(token, "", 0, &r);
	EXPECT(r, 401, "gate_revoked");
	hres_free(&r);
	hc_do(boss, "POST", "/api/v1/admin/gates/999999/revoke", "{}", NULL, &r);
	EXPECT(r, 404, "not_found");
	hres_free(&r);
	hc_do(boss, "POST", "/api/v1/admin/gates/x/revoke", "{}", NULL, &r);
	EXPECT(r, 404, "not_found");
	hres_free(&r);

	hc_do(boss, "GET", "/api/v1/admin/gates", NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	{
		json_t *x = NULL, *v;
		size_t i;

		json_array_foreach(jget(r.json, "gates"), i,
		                   v) if (json_integer_value(json_object_get(v, "id")) == id) x = v;
		assert_non_null(x);
		assert_true(json_is_true(json_object_get(x, "revoked")));
		assert_true(hx_instant(jstr(x, "enrolled_at")) > 0);
	}
	hres_free(&r);
	assert_int_equal(db_int("SELECT COUNT(*) FROM audit WHERE entity = 'gate' AND entity_id = "
	                        "%lld AND actor = 'boss'"
	                        " AND action IN ('gate.add', 'gate.revoke')",
	                        id),
	                 2);
	hc_free(boss);
	hc_free(mgr);
	hc_free(mem);
	hc_free(anon);
}

/* ---- one presence rule everywhere ---- */

struct pstep {
	char gate; /* 'A': the gate whose store is built here (store_record); 'B': another (a
	              download page) */
	const char *dir, *decision;
	int dt; /* seconds after the case's start: arrival order is the list's, time order is dt's
	         */
};

struct pcase {
	const char *name;
	struct pstep steps[5];
	int inside;
};

/* Each case's scans, in the order they arrive, through the gate's real store (a SQLite file, as
 * estiva-gate keeps it) and through the real server (uploads by two enrolled gates); then where the
 * pass is, asked four ways: the gate's presence record, the on-site count, the online check of an
 * exit (ok when inside, not_inside otherwise) and the upload's conflict check of one more entry
 * (already_inside). */
static void presence_agrees_everywhere(void **state)
{
	static const struct pcase cases[] = {
	    {"entry", {{'A', "in", "admit", 0}}, 1},
	    {"entry then exit", {{'A', "in", "admit", 0}, {'A', "out", "admit", 60}}, 0},
	    {"undone after entry", {{'A', "in", "admit", 0}, {'A', "in", "undone", 10}}, 0},
	    {"undone after an entry admitted with a warning",
	     {{'A', "in", "admit", 0}, {'A', "in", "admit", 60}, {'A', "in", "undone", 70}},
	     1},
	    {"undone after an exit",
	     {{'B', "in", "admit", 0}, {'A', "out", "admit", 60}, {'A', "out", "undone", 70}},
	     1},
	    {"two gates interleaved",
	     {{'B', "in", "admit", 0},
	      {'A', "out", "admit", 60},
	      {'B', "in", "admit", 120},
	      {'B', "in", "undone", 130}},
	     0},
	    {"another gate's older entry arriving late",
	     {{'A', "in", "admit", 60}, {'A', "in", "undone", 70}, {'B', "in", "admit", 0}},
	     1},
	    {"a denial between an admission and its undone",
	     {{'A', "out", "admit", 0},
	      {'A', "in", "manual", 60},
	      {'B', "in", "deny", 65},
	      {'A', "in", "undone", 70}},
	     0},
	};
	struct gate_id ga = gate_new("test-a", "Presence A"), gb = gate_new("test-a", "Presence B");
	struct hc *boss = hc_login_ok(HX_ADMIN);
	long long b1 = confirmed_booking(13, "test-a", "chalet", 8, GUESTS4);
	long long b2 = confirmed_booking(14, "test-a", "chalet", 8, GUESTS4);
	long long start = (long long)time(NULL) - 3600, before = onsite(boss, "test-a", 200, NULL);
	char path[512], err[256];
	struct store *st;
	struct decide_lookup lk;

	(void)state;
	snprintf(path, sizeof path, "%s/presence-gate.db", hx_dir(HX));
	st = store_open(path, 0, err, sizeof err);
	if (!st)
		fail_msg("gate store: %s", err);
	store_lookup(st, &lk);
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		const struct pcase *k = &cases[c];
		long long pass = pass_of(c < 4 ? b1 : b2, (int)(c % 4)),
		          t0 = start + 300 * (long long)c, now_in;
		char token[256], body[512], id[33], why[64];
		int inside = -1, found;
		struct hres r;

		for (size_t i = 0; i < 5 && k->steps[i].gate; i++) {
			const struct pstep *p = &k->steps[i];
			struct gate_id *g = p->gate == 'A' ? &ga : &gb;
			enum event_kind kind;
			enum decide_dir dir;

			assert_int_equal(event_kind_parse(p->decision, &kind), 0);
			assert_int_equal(decide_dir_parse(p->dir, &dir), 0);
			/* the server, from the gate that scanned */
			upload_one(g->token, pass, p->dir, p->decision, t0 + p->dt, id);
			/* the gate's store: its own scan, or the other gate's from a download page
			 */
			if (p->gate == 'A') {
				struct event ev;

				memset(&ev, 0, sizeof ev);
				ev.gate = ga.id;
				ev.pass = (uint32_t)pass;
				ev.dir = dir;
				ev.kind = kind;
				ev.reason = kind == EVENT_UNDONE ? DECIDE_NO_PASSAGE : DECIDE_OK;
				ev.at = t0 + p->dt;
				if (kind == EVENT_MANUAL)
					strcpy(ev.note, "badge forgotten");
				assert_int_equal(store_record(st, &ev), 0);
			} else {
				struct event ev;
				json_t *page;

				memset(&ev, 0, sizeof ev);
				memcpy(ev.id, id, sizeof ev.id);
				ev.gate = gb.id;
				ev.pass = (uint32_t)pass;
				ev.dir = dir;
				ev.kind = kind;
				ev.at = t0 + p->dt;
				page = json_pack("{s:[o]}", "events", event_relay_to_json(&ev));
				assert_int_equal(
				    store_apply_page(st, page, (int)ga.id, (long long)time(NULL)),
				    0);
				json_decref(page);
			}
		}
		found = lk.presence(lk.user, (uint32_t)pass, &inside);
		assert_true(found >= 0);
		if (!found)
			inside = 0;
		if (inside != k->inside)
			fail_msg("%s: the gate's store says %s", k->name,
			         inside ? "inside" : "outside");
		now_in = onsite(boss, "test-a", 200, NULL);
		if (now_in - before != k->inside)
			fail_msg("%s: the on-site count went from %lld to %lld", k->name, before,
			         now_in);
		before = now_in;
		/* the online check of an exit: allowed only from inside (strict) */
		assert_int_equal(
		    hx_db_text("SELECT token FROM passes WHERE id = CAST(? AS INTEGER)",
		               (snprintf(body, sizeof body, "%lld", pass), body), token,
		               sizeof token),
		    0);
		snprintf(body, sizeof body, "{\"token\":\"%s\",\"direction\":\"out\"}", token);
		hc_do(boss, "POST", "/api/v1/manage/centres/test-a/check", body, NULL, &r);
		EXPECT(r, 200, NULL);
		if (strcmp(jstr(r.json, "reason"), k->inside ? "ok" : "not_inside"))
			fail_msg("%s: the online check of an exit says %s", k->name,
			         jstr(r.json, "reason"));
		hres_free(&r);
		/* one more entry, uploaded: a conflict exactly when the pass is inside */
		upload_one(ga.token, pass, "in", "admit", t0 + 200, id);
		conflict_of(id, why, sizeof why);
		if (strcmp(why, k->inside ? "already_inside" : "-"))
			fail_msg("%s: the upload's check of a new entry says %s", k->name, why);
		before = onsite(boss, "test-a", 200, NULL);
	}
	store_close(st);
	hc_free(boss);
}

int main(int argc, char **argv)
{
	const struct hx_opts opts = {.members = 14, .body_max = "2m"};
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(enrolment),
	    cmocka_unit_test(uploads),
	    cmocka_unit_test(download_pages),
	    cmocka_unit_test(other_gates_events),
	    cmocka_unit_test(revoked_gate),
	    cmocka_unit_test(onsite_count),
	    cmocka_unit_test(admin_http),
	    cmocka_unit_test(gate_claims_are_checked),
	    cmocka_unit_test(key_revoke_through_sync),
	    cmocka_unit_test(presence_agrees_everywhere),
	};

	return hx_main(argc, argv, &opts, "sync", tests, sizeof(tests) / sizeof(tests[0]));
}
