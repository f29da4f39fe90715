/* scan.c: what happens when a reader reads something: decide (shared/decide.c) against the local
 * store, record the event durably, show it, and on "admit" open the turnstile and watch for the
 * passage. One decision at a time, on the scan connection (synchronous=FULL). */
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate.h"
#include "log.h"

void gate_reader_health(struct gate *g, int reader, enum reader_health h, const char *fmt, ...)
{
	struct reader_state *r = &g->readers[reader];
	char msg[sizeof(r->message)];
	va_list ap;
	int changed;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&g->lock);
	changed = r->health != h || strcmp(r->message, msg);
	if (r->health != h)
		r->since = gate_now_locked(g, NULL);
	r->health = h;
	snprintf(r->message, sizeof(r->message), "%s", msg);
	if (h == READER_FAILED)
		r->errors++;
	pthread_mutex_unlock(&g->lock);
	if (changed)
		log_msg(h == READER_FAILED ? LOG_WARN : LOG_INFO, "reader %s: %s",
		        g->cfg.readers[reader].name, msg);
}

int gate_sleep(struct gate *g, long ms)
{
	struct pollfd p = {.fd = g->stop_pipe[0], .events = POLLIN};

	if (g->stopping)
		return 1;
	poll(&p, 1, (int)ms);
	return g->stopping ? 1 : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

void gate_latency(struct gate *g, double *p50, double *p99, double *max)
{
	static double tmp[GATE_LATENCY_SAMPLES];
	static pthread_mutex_t tmp_lock = PTHREAD_MUTEX_INITIALIZER;
	unsigned n;

	pthread_mutex_lock(&tmp_lock);
	pthread_mutex_lock(&g->lock);
	n = g->nlat < GATE_LATENCY_SAMPLES ? g->nlat : GATE_LATENCY_SAMPLES;
	memcpy(tmp, g->lat, n * sizeof(double));
	pthread_mutex_unlock(&g->lock);
	*p50 = *p99 = *max = 0;
	if (n) {
		qsort(tmp, n, sizeof(double), cmp_double);
		*p50 = tmp[n / 2];
		*p99 = tmp[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1];
		*max = tmp[n - 1];
	}
	pthread_mutex_unlock(&tmp_lock);
}

static int gate_offline_locked(struct gate *g, int64_t now)
{
	/* offline: the last exchange failed, or nothing succeeded for two download intervals */
	return !g->online || !g->last_success ||
	       now - g->last_success > 2 * g->cfg.download_interval + 30;
}

static void show(struct gate *g, const struct event *ev, const char *name, const char *unit,
                 double ms)
{
	struct display *d;

	pthread_mutex_lock(&g->lock);
	memmove(&g->recent[1], &g->recent[0], (GATE_RECENT - 1) * sizeof(g->recent[0]));
	d = &g->recent[0];
	memset(d, 0, sizeof(*d));
	d->seq = ++g->display_seq;
	d->ev = *ev;
	snprintf(d->guest_name, sizeof(d->guest_name), "%s", name ? name : "");
	snprintf(d->unit, sizeof(d->unit), "%s", unit ? unit : "");
	d->ms = ms;
	if (g->nrecent < GATE_RECENT)
		g->nrecent++;
	if (ev->kind != EVENT_UNDONE && ev->kind != EVENT_MANUAL)
		g->lat[g->nlat++ % GATE_LATENCY_SAMPLES] = ms;
	g->queue++;
	pthread_mutex_unlock(&g->lock);
}

/* Fills the parts of an event that every kind shares. */
static void event_base(struct gate *g, struct event *ev, int reader, int64_t *now)
{
	memset(ev, 0, sizeof(*ev));
	pthread_mutex_lock(&g->lock);
	*now = gate_now_locked(g, NULL);
	ev->gate = g->gate_id;
	ev->offline = gate_offline_locked(g, *now);
	pthread_mutex_unlock(&g->lock);
	ev->at = *now;
	ev->local_at = (int64_t)clock_wall();
	if (reader >= 0)
		snprintf(ev->reader, sizeof(ev->reader), "%s", g->cfg.readers[reader].name);
}

/* The turnstile: relay, then the passage sensor; no passage in time records the admission undone.
 */
static void open_turnstile(struct gate *g, int reader, const struct event *adm)
{
	const char *dir = decide_dir_name(adm->dir);
	const char *rname = reader >= 0 ? g->cfg.readers[reader].name : "manual";
	struct event ev;
	int64_t now;
	int rc;

	if (!g->cfg.relay.argc)
		return;
	rc = relay_run(&g->cfg.relay, g->cfg.relay_timeout, dir, rname, adm->pass);
	if (rc != 0)
		log_warn("relay: the command %s (%d) for pass %u",
		         rc == -2 ? "timed out" : "failed", rc, adm->pass);
	if (!g->cfg.sensor.argc)
		return;
	rc = relay_run(&g->cfg.sensor, g->cfg.sensor_timeout, dir, rname, adm->pass);
	if (rc == 0)
		return;
	log_info("sensor: no passage for pass %u (%s): the admission is undone", adm->pass,
	         rc == -2 ? "timeout" : "no");
	event_base(g, &ev, reader, &now);
	ev.pass = adm->pass;
	ev.booking = adm->booking;
	ev.dir = adm->dir;
	ev.kind = EVENT_UNDONE;
	ev.reason = DECIDE_NO_PASSAGE;
	snprintf(ev.note, sizeof(ev.note), "undoes %s", adm->id);
	pthread_mutex_lock(&g->scan_lock);
	rc = store_record(g->scan_store, &ev);
	pthread_mutex_unlock(&g->scan_lock);
	if (rc == 0)
		show(g, &ev, "", "", 0);
}

int gate_scan(struct gate *g, int reader, const struct scan_input *in, struct decide_result *res)
{
	struct decide_input di;
	struct decide_config dc;
	struct decide_lookup lk;
	struct pass_key keys[GATE_KEYS_MAX];
	struct event ev;
	int nkeys, rc;
	int64_t now;
	double t0 = clock_mono(), ms;

	memset(&di, 0, sizeof(di));
	memset(&dc, 0, sizeof(dc));
	pthread_mutex_lock(&g->scan_lock);
	event_base(g, &ev, reader, &now);
	pthread_mutex_lock(&g->lock);
	nkeys = g->nkeys;
	memcpy(keys, g->keys, (size_t)nkeys * sizeof(keys[0]));
	dc.centre = g->centre_number;
	dc.gate_revoked = g->revoked && now >= g->revoked_at + g->cfg.revoked_grace;
	pthread_mutex_unlock(&g->lock);
	dc.grace_minutes = g->cfg.grace_minutes;
	dc.policy = g->cfg.policy;
	dc.kinds = g->cfg.kinds;
	di.now = now;
	di.dir = reader >= 0 ? g->cfg.readers[reader].dir : DECIDE_DIR_IN;
	if (!in->unreadable) {
		di.text = in->text;
		di.text_len = in->text_len;
		di.bin = in->bin;
		di.bin_len = in->bin_len;
		di.tag_uid = in->uid;
		di.tag_uid_len = in->uid_len;
	}
	store_lookup(g->scan_store, &lk);
	decide(&di, keys, nkeys, &dc, &lk, res);
	if (in->unreadable && res->reason != DECIDE_GATE_REVOKED)
		res->reason = DECIDE_BAD_FORMAT;

	ev.pass = res->have_pass ? res->pass.pass_id : 0;
	ev.booking = res->have_pass ? res->pass.booking_id : 0;
	ev.dir = res->dir;
	ev.kind = res->verdict == DECIDE_ADMIT ? EVENT_ADMIT : EVENT_DENY;
	ev.reason = res->reason;
	rc = store_record(g->scan_store, &ev);
	if (rc < 0) {
		/* no durable record, no admission */
		res->verdict = DECIDE_DENY;
		res->reason = DECIDE_INTERNAL;
		ev.kind = EVENT_DENY;
		ev.reason = DECIDE_INTERNAL;
	}
	ms = (clock_mono() - t0) * 1000.0;
	pthread_mutex_unlock(&g->scan_lock);

	if (reader >= 0) {
		pthread_mutex_lock(&g->lock);
		g->readers[reader].scans++;
		pthread_mutex_unlock(&g->lock);
	}
	show(g, &ev, res->guest_name, res->unit, ms);
	log_info("scan %s: %s %s %s pass %u%s%s (%.2f ms)", ev.reader, event_kind_name(ev.kind),
	         decide_dir_name(ev.dir), decide_reason_code(ev.reason), ev.pass,
	         res->guest_name[0] ? " " : "", res->guest_name, ms);
	if (rc == 0 && ev.kind == EVENT_ADMIT)
		open_turnstile(g, reader, &ev);
	return rc;
}

int gate_manual(struct gate *g, uint32_t pass, enum decide_dir dir, const char *note)
{
	struct event ev;
	int64_t now;
	int rc;

	event_base(g, &ev, -1, &now);
	snprintf(ev.reader, sizeof(ev.reader), "status-page");
	ev.pass = pass;
	ev.dir = dir == DECIDE_DIR_OUT ? DECIDE_DIR_OUT : DECIDE_DIR_IN;
	ev.kind = EVENT_MANUAL;
	ev.reason = DECIDE_MANUAL;
	snprintf(ev.note, sizeof(ev.note), "%s", note);
	pthread_mutex_lock(&g->scan_lock);
	rc = store_record(g->scan_store, &ev);
	pthread_mutex_unlock(&g->scan_lock);
	if (rc < 0)
		return -1;
	show(g, &ev, "", "", 0);
	log_info("manual %s pass %u: %s", decide_dir_name(ev.dir), pass, note);
	if (g->cfg.relay.argc)
		relay_run(&g->cfg.relay, g->cfg.relay_timeout, decide_dir_name(ev.dir), "manual",
		          pass);
	return 0;
}
