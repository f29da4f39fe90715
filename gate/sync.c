/* sync.c: the gate's side of docs/sync.md, on its own thread with libcurl. Every cycle uploads
 * first (batches of queued events; an event is marked sent only when the server's answer lists it
 * as stored or duplicate), then downloads pages of keys, passes, revocations and other gates'
 * events until `more` is false (each page and its cursor in one local transaction). Failures are
 * sorted: network, 429 and 5xx are retried with exponential back-off and jitter (Retry-After
 * honoured); an event the server rejects, or a 400 on a single event, goes to the dead-letter table
 * and is never sent again; 413 halves the batch; 401 means this gate was revoked. Also the
 * enrolment call. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "date.h"
#include "gate.h"
#include "log.h"

#define SYNC_CONNECT_TIMEOUT 10
#define SYNC_RETRY_AFTER_MAX 86400
#define SYNC_PAGES_MAX 100000 /* a guard against a server that always says more */
#define SYNC_PRUNE_EVERY 3600

enum outcome {
	SYNC_DONE = 0,    /* all went through */
	SYNC_RETRY = -1,  /* transient: back off and try again */
	SYNC_REVOKED = -2 /* 401: this gate's token was revoked */
};

struct http_resp {
	long status;
	struct buf body;
	char retry_after[64];
	char date[64];
	char err[CURL_ERROR_SIZE];
};

/* ---- small helpers ---- */

int64_t sync_backoff_ms(int failures, int64_t max_s)
{
	int64_t base = 1000, max = max_s * 1000;

	for (int i = 1; i < failures && base < max; i++)
		base *= 2;
	if (base > max)
		base = max;
	/* "equal jitter": half fixed, half random, so gates that failed together spread out */
	return base / 2 + (int64_t)randombytes_uniform((uint32_t)(base / 2 + 1));
}

int64_t sync_retry_after(const char *value, int64_t now)
{
	char *end;
	long long v;
	time_t t;

	if (!value || !*value)
		return -1;
	errno = 0;
	v = strtoll(value, &end, 10);
	if (end != value && !*end && !errno && v >= 0)
		return v > SYNC_RETRY_AFTER_MAX ? SYNC_RETRY_AFTER_MAX : v;
	t = curl_getdate(value, NULL);
	if (t < 0)
		return -1;
	if ((int64_t)t <= now)
		return 0;
	return (int64_t)t - now > SYNC_RETRY_AFTER_MAX ? SYNC_RETRY_AFTER_MAX : (int64_t)t - now;
}

static size_t on_body(char *p, size_t size, size_t n, void *user)
{
	struct http_resp *r = user;

	return buf_append(&r->body, p, size * n) < 0 ? 0 : size * n;
}

static void header_value(const char *line, size_t len, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name), i;

	if (len <= nl || strncasecmp(line, name, nl) || line[nl] != ':')
		return;
	i = nl + 1;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	while (len > i && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' '))
		len--;
	snprintf(out, outlen, "%.*s", (int)(len - i), line + i);
}

static size_t on_header(char *p, size_t size, size_t n, void *user)
{
	struct http_resp *r = user;

	header_value(p, size * n, "Retry-After", r->retry_after, sizeof(r->retry_after));
	header_value(p, size * n, "Date", r->date, sizeof(r->date));
	return size * n;
}

/* One request. Returns the HTTP status, or 0 when the transfer failed (r->err says why). Records
 * the server's clock from the answer. */
static long http_do(struct gate *g, CURL *c, const char *method, const char *base, const char *path,
                    const char *body, int auth, struct http_resp *r)
{
	struct curl_slist *h = NULL;
	char url[GATE_URL_MAX + 1024], authz[GATE_TOKEN_LEN + 32];
	double t0, t1;
	CURLcode cc;
	json_t *j;
	int64_t st = 0;

	buf_reset(&r->body);
	r->status = 0;
	r->retry_after[0] = r->date[0] = r->err[0] = '\0';
	snprintf(url, sizeof(url), "%s%s", base, path);
	curl_easy_reset(c);
	h = curl_slist_append(h, "Accept: application/json");
	if (body)
		h = curl_slist_append(h, "Content-Type: application/json");
	if (auth) {
		pthread_mutex_lock(&g->lock);
		snprintf(authz, sizeof(authz), "Authorization: Bearer %s", g->token);
		pthread_mutex_unlock(&g->lock);
		h = curl_slist_append(h, authz);
		sodium_memzero(authz, sizeof(authz));
	}
	if (!h) {
		snprintf(r->err, sizeof(r->err), "out of memory");
		return 0;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)SYNC_CONNECT_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)g->cfg.http_timeout);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->err);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	if (g->cfg.ca_file[0])
		curl_easy_setopt(c, CURLOPT_CAINFO, g->cfg.ca_file);
	if (!strcmp(method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0));
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	}
	t0 = clock_wall();
	cc = curl_easy_perform(c);
	t1 = clock_wall();
	curl_slist_free_all(h);
	if (cc != CURLE_OK) {
		if (!r->err[0])
			snprintf(r->err, sizeof(r->err), "%s", curl_easy_strerror(cc));
		return 0;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	/* the server's clock: "server_time" in the body, else the Date header */
	j = r->body.len ? json_loadb(r->body.data, r->body.len, 0, NULL) : NULL;
	if (!(j && instant_parse(json_string_value(json_object_get(j, "server_time")), &st) == 0)) {
		time_t d = r->date[0] ? curl_getdate(r->date, NULL) : -1;
		st = d > 0 ? (int64_t)d : 0;
	}
	json_decref(j);
	if (st > 0)
		clock_observe(g, st, t0, t1);
	return r->status;
}

static void set_error(struct gate *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(struct gate *g, const char *fmt, ...)
{
	char msg[sizeof(g->sync_error)];
	va_list ap;
	int changed;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&g->lock);
	changed = strcmp(g->sync_error, msg);
	snprintf(g->sync_error, sizeof(g->sync_error), "%s", msg);
	g->online = 0;
	pthread_mutex_unlock(&g->lock);
	if (changed)
		log_warn("sync: %s", msg);
}

static int64_t retry_after_of(const struct http_resp *r)
{
	return sync_retry_after(r->retry_after, instant_now());
}

/* A 401: the gate was revoked. It keeps its unsent scans and admits until its grace is over. */
static void mark_revoked(struct gate *g, struct store *st)
{
	int64_t at = 0;

	pthread_mutex_lock(&g->lock);
	if (!g->revoked) {
		g->revoked = 1;
		g->revoked_at = gate_now_locked(g, NULL);
		at = g->revoked_at;
	}
	snprintf(g->sync_error, sizeof(g->sync_error),
	         "the server refused this gate's token (401): revoked");
	pthread_mutex_unlock(&g->lock);
	if (at) {
		log_err("sync: this gate was revoked (401); it admits for %lld s more, keeps its "
		        "unsent scans",
		        (long long)g->cfg.revoked_grace);
		store_meta_set_int(st, "revoked_at", at);
	}
}

/* ---- upload ---- */

/* The upload body of evs[0..n). An event that cannot be written as JSON even without its note (text
 * that is not UTF-8 in its id) sets *bad to its index and returns NULL: the caller sets it aside.
 */
static char *upload_body(struct gate *g, const struct event *evs, int n, int64_t queue, int *bad)
{
	char now[INSTANT_STRLEN];
	json_t *root, *arr = json_array();
	char *s;

	*bad = -1;
	for (int i = 0; i < n; i++) {
		json_t *e = event_to_json(&evs[i]);

		if (!e) { /* a note that is not UTF-8: sent without it rather than never */
			struct event plain = evs[i];

			snprintf(plain.note, sizeof(plain.note), "(note not UTF-8)");
			e = event_to_json(&plain);
		}
		if (!e || json_array_append_new(arr, e) < 0) {
			*bad = i;
			json_decref(arr);
			return NULL;
		}
	}
	instant_format(gate_now(g), now);
	root =
	    json_pack("{s:s,s:I,s:o}", "gate_time", now, "queue", (json_int_t)queue, "events", arr);
	s = root ? json_dumps(root, JSON_COMPACT) : NULL;
	json_decref(root);
	return s;
}

/* Marks the ids the answer lists as stored or duplicates; dead-letters the rejected ones. Returns
 * how many of the batch were settled, or -1. */
static int settle(struct gate *g, struct store *st, json_t *ans, const struct event *evs, int n)
{
	static const char *lists[] = {"stored", "duplicates"};
	char(*ids)[33] = calloc((size_t)n, 33);
	int k = 0, settled = 0, rc;
	json_t *v, *rej;
	size_t i;

	if (!ids)
		return -1;
	for (int l = 0; l < 2; l++)
		json_array_foreach(json_object_get(ans, lists[l]), i, v)
		{
			const char *id = json_string_value(v);

			/* only ids of this batch: the answer cannot mark what we did not send */
			for (int e = 0; id && e < n; e++)
				if (!strcmp(evs[e].id, id) && k < n) {
					snprintf(ids[k++], 33, "%s", id);
					break;
				}
		}
	rc = store_mark_sent(st, ids, k);
	free(ids);
	if (rc < 0)
		return -1;
	settled += k;
	rej = json_object_get(ans, "rejected");
	json_array_foreach(rej, i, v)
	{
		const char *id = json_string_value(json_object_get(v, "id"));
		const char *why = json_string_value(json_object_get(v, "error"));

		for (int e = 0; id && e < n; e++)
			if (!strcmp(evs[e].id, id)) {
				if (store_dead_letter(st, id, why ? why : "rejected") < 0)
					return -1;
				log_warn("sync: the server rejected event %s (%s): moved to the "
				         "dead letters",
				         id, why ? why : "no reason");
				settled++;
				break;
			}
	}
	(void)g;
	return settled;
}

static enum outcome upload(struct gate *g, struct store *st, CURL *c, struct http_resp *r,
                           int *batch, int64_t *retry_after)
{
	struct event *evs = calloc(GATE_BATCH_MAX, sizeof(*evs));
	struct store_counts cnt;
	enum outcome out = SYNC_DONE;
	int64_t queue = 0;

	if (!evs)
		return SYNC_RETRY;
	/* the queue length the server is told: counted once per cycle, then kept by subtraction (a
	 * count per batch made a long backlog's upload quadratic) */
	if (store_queue(st, &queue) < 0)
		queue = 0;
	memset(&cnt, 0, sizeof(cnt));
	for (;;) {
		int n = store_unsent(st, evs, *batch), settled, bad;
		char *body;
		long status;
		json_t *ans;

		if (n < 0) {
			out = SYNC_RETRY;
			break;
		}
		if (n == 0)
			break;
		cnt.queue = queue > n ? queue : n;
		body = upload_body(g, evs, n, cnt.queue, &bad);
		/* a batch stays under batch_bytes too (the server's body_max): fewer events, same
		 * order */
		while (body && strlen(body) > g->cfg.batch_bytes && n > 1) {
			size_t len = strlen(body);
			int m = (int)((double)n * (double)g->cfg.batch_bytes / (double)len * 0.95);

			n = m < 1 ? 1 : m >= n ? n - 1 : m;
			free(body);
			body = upload_body(g, evs, n, cnt.queue, &bad);
		}
		if (!body && bad >= 0) {
			if (store_dead_letter(st, evs[bad].id, "unencodable") < 0) {
				out = SYNC_RETRY;
				break;
			}
			log_warn("sync: event seq %lld cannot be written as JSON: moved to the "
			         "dead letters",
			         (long long)evs[bad].seq);
			continue;
		}
		if (!body) {
			out = SYNC_RETRY;
			break;
		}
		status =
		    http_do(g, c, "POST", g->cfg.server_url, "/api/gate/v1/events", body, 1, r);
		free(body);
		if (status == 200) {
			ans = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, NULL);
			settled = ans ? settle(g, st, ans, evs, n) : -1;
			json_decref(ans);
			if (settled < 0) {
				set_error(g, "upload: an answer the gate cannot read");
				out = SYNC_RETRY;
				break;
			}
			if (settled == 0) {
				set_error(
				    g,
				    "upload: the server's answer listed none of the %d events sent",
				    n);
				out = SYNC_RETRY;
				break;
			}
			log_debug("sync: uploaded %d event(s), %d settled", n, settled);
			queue -= settled;
			if (*batch < g->cfg.batch)
				*batch = *batch * 2 > g->cfg.batch ? g->cfg.batch : *batch * 2;
			continue;
		}
		if (status == 401) {
			out = SYNC_REVOKED;
			break;
		}
		if ((status == 413 || status == 400 || status == 422 || status == 409) && n > 1) {
			/* too big, or something in it is bad: halve until the bad event stands
			 * alone */
			*batch = n / 2;
			log_warn("sync: upload answered %ld; batch now %d", status, *batch);
			continue;
		}
		if (status == 413 || status == 400 || status == 422 || status == 409) {
			char why[160];
			const char *msg = NULL;

			ans = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, NULL);
			msg = json_string_value(
			    json_object_get(json_object_get(ans, "error"), "message"));
			if (!msg)
				msg = json_string_value(json_object_get(ans, "error"));
			snprintf(why, sizeof(why), "HTTP %ld%s%s", status, msg ? ": " : "",
			         msg ? msg : "");
			json_decref(ans);
			if (store_dead_letter(st, evs[0].id, why) < 0) {
				out = SYNC_RETRY;
				break;
			}
			log_warn("sync: event %s refused (%s): moved to the dead letters",
			         evs[0].id, why);
			continue;
		}
		/* network, 429, 5xx, and anything unexpected (404, 403: the server's or the setup's
		 * fault, not the event's): retry later */
		if (status == 0)
			set_error(g, "upload: %s", r->err);
		else
			set_error(g, "upload: HTTP %ld", status);
		*retry_after = retry_after_of(r);
		out = SYNC_RETRY;
		break;
	}
	free(evs);
	return out;
}

/* ---- download ---- */

static enum outcome download(struct gate *g, struct store *st, CURL *c, struct http_resp *r,
                             int64_t *retry_after)
{
	for (int pages = 0; pages < SYNC_PAGES_MAX; pages++) {
		char cursor[512] = "", path[1024], *esc;
		json_t *page;
		long status;
		int more, rc;

		if (store_meta_get(st, "cursor", cursor, sizeof(cursor)) < 0)
			return SYNC_RETRY;
		esc = curl_easy_escape(c, cursor, 0);
		if (!esc)
			return SYNC_RETRY;
		snprintf(path, sizeof(path), "/api/gate/v1/sync?cursor=%s&limit=%d", esc,
		         g->cfg.page_limit);
		curl_free(esc);
		status = http_do(g, c, "GET", g->cfg.server_url, path, NULL, 1, r);
		if (status == 401)
			return SYNC_REVOKED;
		if (status == 409 && cursor[0]) {
			/* the server's database is behind our cursor (restored from a backup):
			 * start over; upserts make the repeat harmless, our own scans stay */
			log_warn("sync: the server does not know our cursor (409): syncing from "
			         "the start");
			if (store_meta_set(st, "cursor", "") < 0)
				return SYNC_RETRY;
			continue;
		}
		if (status != 200) {
			if (status == 0)
				set_error(g, "download: %s", r->err);
			else
				set_error(g, "download: HTTP %ld", status);
			*retry_after = retry_after_of(r);
			return SYNC_RETRY;
		}
		page = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, NULL);
		if (!json_is_object(page) || !json_is_string(json_object_get(page, "cursor"))) {
			json_decref(page);
			set_error(g, "download: a page the gate cannot read");
			return SYNC_RETRY;
		}
		rc = store_apply_page(st, page, g->gate_id, gate_now(g));
		more = json_is_true(json_object_get(page, "more"));
		if (rc == 0 && json_is_array(json_object_get(page, "keys")))
			rc = gate_reload_keys(g, st);
		log_debug("sync: page of %zu pass(es), %zu revocation(s), %zu event(s)%s",
		          json_array_size(json_object_get(page, "passes")),
		          json_array_size(json_object_get(page, "revocations")),
		          json_array_size(json_object_get(page, "events")), more ? ", more" : "");
		json_decref(page);
		if (rc < 0) {
			set_error(g, "download: the local store failed");
			return SYNC_RETRY;
		}
		if (!more)
			return SYNC_DONE;
	}
	return SYNC_DONE;
}

/* ---- the cycle and the thread ---- */

static int cycle(struct gate *g, struct store *st, CURL *c, int *batch, int do_download,
                 int64_t *retry_after)
{
	struct http_resp r;
	struct store_counts cnt;
	enum outcome o;
	int64_t now, server;
	int was_revoked;

	memset(&r, 0, sizeof(r));
	buf_init(&r.body, GATE_RESPONSE_MAX);
	*retry_after = -1;
	pthread_mutex_lock(&g->lock);
	g->last_attempt = gate_now_locked(g, NULL);
	pthread_mutex_unlock(&g->lock);
	o = upload(g, st, c, &r, batch, retry_after);
	if (o == SYNC_DONE && do_download)
		o = download(g, st, c, &r, retry_after);
	buf_free(&r.body);
	if (o == SYNC_REVOKED)
		mark_revoked(g, st);
	now = gate_now(g);
	if (store_counts(st, now, &cnt) == 0) {
		pthread_mutex_lock(&g->lock);
		g->queue = cnt.queue;
		g->dead = cnt.dead;
		pthread_mutex_unlock(&g->lock);
	}
	if (o != SYNC_DONE)
		return o;
	pthread_mutex_lock(&g->lock);
	g->online = 1;
	g->last_success = now;
	g->sync_error[0] = '\0';
	was_revoked = g->revoked;
	server = g->last_sync_server;
	/* a call went through with this token: it is not revoked (any more) */
	g->revoked = 0;
	g->revoked_at = 0;
	pthread_mutex_unlock(&g->lock);
	store_sync_done(st, now, server);
	if (was_revoked)
		store_meta_set(st, "revoked_at", "0");
	return 0;
}

int sync_cycle(struct gate *g, struct store *st)
{
	CURL *c = curl_easy_init();
	int batch = g->cfg.batch, rc;
	int64_t ra;

	if (!c)
		return -1;
	rc = cycle(g, st, c, &batch, 1, &ra);
	curl_easy_cleanup(c);
	return rc;
}

static void *sync_main(void *arg)
{
	struct gate *g = arg;
	char err[256];
	struct store *st = store_open(g->cfg.db_path, 0, err, sizeof(err));
	CURL *c = curl_easy_init();
	int batch = g->cfg.batch, failures = 0;
	double next_download = 0, last_prune = 0;

	if (!st || !c) {
		log_err("sync: cannot start: %s", st ? "libcurl" : err);
		store_close(st);
		if (c)
			curl_easy_cleanup(c);
		return NULL;
	}
	pthread_mutex_lock(&g->lock);
	while (!g->stopping) {
		int64_t retry_after, wait_ms;
		double now = clock_mono();
		int rc, dl = now >= next_download || g->sync_now;
		struct timespec ts;

		g->sync_now = 0;
		pthread_mutex_unlock(&g->lock);
		rc = cycle(g, st, c, &batch, dl, &retry_after);
		if (rc == 0) {
			failures = 0;
			if (dl)
				next_download = clock_mono() + (double)g->cfg.download_interval;
			wait_ms = g->cfg.upload_interval * 1000;
			if (next_download - clock_mono() < (double)g->cfg.upload_interval)
				wait_ms = (int64_t)fmax(0, (next_download - clock_mono()) * 1000);
			if (clock_mono() - last_prune > SYNC_PRUNE_EVERY) {
				store_prune(st, gate_now(g));
				last_prune = clock_mono();
			}
		} else if (rc == SYNC_REVOKED) {
			/* nothing to gain by hurrying: ask again at the download interval */
			wait_ms = g->cfg.download_interval * 1000;
		} else {
			failures++;
			wait_ms = sync_backoff_ms(failures, g->cfg.backoff_max);
			if (retry_after >= 0 && retry_after * 1000 > wait_ms)
				wait_ms = retry_after * 1000;
			log_debug("sync: retrying in %lld ms", (long long)wait_ms);
		}
		pthread_mutex_lock(&g->lock);
		g->next_attempt = gate_now_locked(g, NULL) + wait_ms / 1000;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += wait_ms / 1000;
		ts.tv_nsec += (wait_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		/* a "sync now" does not cut a Retry-After or back-off short */
		while (!g->stopping && (!g->sync_now || rc != 0) &&
		       pthread_cond_timedwait(&g->wake, &g->lock, &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&g->lock);
	curl_easy_cleanup(c);
	store_close(st);
	return NULL;
}

int sync_start(struct gate *g, char *err, size_t errlen)
{
	if (pthread_create(&g->sync_thread, NULL, sync_main, g) != 0) {
		snprintf(err, errlen, "cannot start the sync thread");
		return -1;
	}
	g->sync_started = 1;
	return 0;
}

void sync_stop(struct gate *g)
{
	if (!g->sync_started)
		return;
	pthread_mutex_lock(&g->lock);
	pthread_cond_broadcast(&g->wake);
	pthread_mutex_unlock(&g->lock);
	pthread_join(g->sync_thread, NULL);
	g->sync_started = 0;
}

/* ---- identity and keys ---- */

int gate_reload_keys(struct gate *g, struct store *st)
{
	struct pass_key keys[GATE_KEYS_MAX];
	int n = store_keys_load(st, keys, GATE_KEYS_MAX);

	if (n < 0)
		return -1;
	pthread_mutex_lock(&g->lock);
	memcpy(g->keys, keys, (size_t)n * sizeof(keys[0]));
	g->nkeys = n;
	pthread_mutex_unlock(&g->lock);
	return 0;
}

/* The token file and what enrolment stored: gate id, centre, centre number; the clock and
 * revocation state of the last run. */
int gate_load_identity(struct gate *g, struct store *st, char *err, size_t errlen)
{
	char tok[GATE_TOKEN_LEN + 8] = "", centre[64] = "";
	int64_t id = 0, number = 0, v = 0;
	FILE *f;

	if (access(g->cfg.token_file, F_OK) < 0 || store_meta_get_int(st, "gate_id", &id) <= 0) {
		snprintf(err, errlen,
		         "this gate is not enrolled: run estiva-gate -c %s enroll URL CODE",
		         g->cfg.path);
		return -1;
	}
	if (conf_secret_file_ok(g->cfg.token_file, err, errlen) < 0)
		return -1;
	f = fopen(g->cfg.token_file, "r");
	if (!f || !fgets(tok, sizeof(tok), f)) {
		snprintf(err, errlen, "%s: cannot read the token", g->cfg.token_file);
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	tok[strcspn(tok, "\r\n")] = '\0';
	if (strlen(tok) != GATE_TOKEN_LEN) {
		snprintf(err, errlen, "%s: not a gate token (%d characters expected)",
		         g->cfg.token_file, GATE_TOKEN_LEN);
		return -1;
	}
	if (strlen(tok) != GATE_TOKEN_LEN) {
		snprintf(err, errlen, "%s: not a gate token (64 hex digits)", g->cfg.token_file);
		return -1;
	}
	if (store_meta_get(st, "centre", centre, sizeof(centre)) <= 0 ||
	    store_meta_get_int(st, "centre_number", &number) <= 0 || number < 1 || number > 65535) {
		snprintf(err, errlen, "%s: enrolment data missing: enrol again", g->cfg.db_path);
		return -1;
	}
	if (strcmp(centre, g->cfg.centre)) {
		snprintf(err, errlen,
		         "the store was enrolled for centre %s, the configuration says %s", centre,
		         g->cfg.centre);
		return -1;
	}
	if (g->cfg.gate_id && g->cfg.gate_id != id) {
		snprintf(err, errlen,
		         "the store was enrolled as gate %lld, the configuration says id = %d",
		         (long long)id, g->cfg.gate_id);
		return -1;
	}
	pthread_mutex_lock(&g->lock);
	memcpy(g->token, tok, GATE_TOKEN_LEN + 1); /* length checked above */
	g->gate_id = (int)id;
	g->centre_number = (uint16_t)number;
	memcpy(g->centre, centre, strlen(centre) + 1); /* equal to cfg.centre, which fits */
	if (store_meta_get_int(st, "last_sync_server", &v) > 0)
		g->last_sync_server = v;
	if (store_meta_get_int(st, "last_success", &v) > 0)
		g->last_success = v;
	if (store_meta_get_int(st, "revoked_at", &v) > 0 && v > 0) {
		g->revoked = 1;
		g->revoked_at = v;
	}
	pthread_mutex_unlock(&g->lock);
	sodium_memzero(tok, sizeof(tok));
	return 0;
}

/* ---- enrolment ---- */

/* Writes the token to a new file readable by its owner only, then renames it into place. */
static int write_token(const char *path, const char *token, char *err, size_t errlen)
{
	char tmp[GATE_PATH_MAX + 16];
	int fd, rc = -1;
	size_t n = strlen(token);

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	if (write(fd, token, n) != (ssize_t)n || write(fd, "\n", 1) != 1 || fsync(fd) < 0)
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
	else if (rename(tmp, path) < 0)
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	else
		rc = 0;
	close(fd);
	if (rc < 0)
		unlink(tmp);
	return rc;
}

int sync_enroll(struct gate *g, const char *url, const char *code, char *err, size_t errlen)
{
	struct store *st = NULL;
	struct http_resp r;
	char base[GATE_URL_MAX], *body = NULL, msg[256];
	CURL *c = curl_easy_init();
	json_t *req = NULL, *ans = NULL;
	const char *token, *centre;
	json_int_t gate_id, number;
	int64_t old_gate = 0;
	long status;
	int rc = -1;

	memset(&r, 0, sizeof(r));
	buf_init(&r.body, 1024 * 1024);
	snprintf(base, sizeof(base), "%s", url);
	for (size_t n = strlen(base); n > 0 && base[n - 1] == '/'; n--)
		base[n - 1] = '\0';
	req = json_pack("{s:s}", "code", code);
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	if (!c || !body) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	status = http_do(g, c, "POST", base, "/api/gate/v1/enroll", body, 0, &r);
	ans = r.body.len ? json_loadb(r.body.data, r.body.len, 0, NULL) : NULL;
	if (status != 200) {
		const char *m =
		    json_string_value(json_object_get(json_object_get(ans, "error"), "message"));

		if (status == 0)
			snprintf(err, errlen, "%s: %s", base, r.err);
		else
			snprintf(err, errlen, "enrolment refused (HTTP %ld)%s%s", status,
			         m ? ": " : "", m ? m : "");
		goto out;
	}
	token = json_string_value(json_object_get(ans, "token"));
	centre = json_string_value(json_object_get(ans, "centre"));
	gate_id = json_integer_value(json_object_get(ans, "gate"));
	number = json_integer_value(json_object_get(ans, "centre_number"));
	if (!token || strlen(token) != GATE_TOKEN_LEN ||
	    strspn(token, "0123456789abcdefABCDEF") != GATE_TOKEN_LEN || !centre || gate_id < 1 ||
	    number < 1 || number > 65535) {
		snprintf(err, errlen,
		         "the server's answer lacks a token, gate, centre or centre number");
		goto out;
	}
	if (strcmp(centre, g->cfg.centre)) {
		snprintf(
		    err, errlen,
		    "this code enrols a gate of centre %s, but this gate's configuration says %s",
		    centre, g->cfg.centre);
		goto out;
	}
	if (g->cfg.gate_id && g->cfg.gate_id != gate_id) {
		snprintf(err, errlen,
		         "this code enrols gate %lld, but this gate's configuration says id = %d",
		         (long long)gate_id, g->cfg.gate_id);
		goto out;
	}
	st = store_open(g->cfg.db_path, 1, msg, sizeof(msg));
	if (!st) {
		snprintf(err, errlen, "%s", msg);
		goto out;
	}
	if (write_token(g->cfg.token_file, token, err, errlen) < 0)
		goto out;
	store_meta_get_int(st, "gate_id", &old_gate);
	if (old_gate != gate_id && store_meta_set(st, "cursor", "") < 0)
		goto store_fail;
	if (store_meta_set_int(st, "gate_id", gate_id) < 0 ||
	    store_meta_set(st, "centre", centre) < 0 ||
	    store_meta_set_int(st, "centre_number", number) < 0 ||
	    store_meta_set(st, "revoked_at", "0") < 0 ||
	    store_meta_set(st, "gate_name",
	                   json_string_value(json_object_get(ans, "name"))
	                       ? json_string_value(json_object_get(ans, "name"))
	                       : "") < 0)
		goto store_fail;
	/* the keys come with the answer: the gate can decide even if the first sync fails */
	if (json_is_array(json_object_get(ans, "keys"))) {
		json_t *page = json_pack("{s:O}", "keys", json_object_get(ans, "keys"));

		if (!page || store_apply_page(st, page, (int)gate_id, instant_now()) < 0 ||
		    gate_reload_keys(g, st) < 0) {
			json_decref(page);
			goto store_fail;
		}
		json_decref(page);
	}
	pthread_mutex_lock(&g->lock);
	snprintf(g->token, sizeof(g->token), "%s", token);
	g->gate_id = (int)gate_id;
	g->centre_number = (uint16_t)number;
	snprintf(g->centre, sizeof(g->centre), "%s", centre);
	pthread_mutex_unlock(&g->lock);
	printf("enrolled as gate %lld of %s (centre number %lld); token in %s\n",
	       (long long)gate_id, centre, (long long)number, g->cfg.token_file);
	/* the first sync, so the gate has keys and passes before its first scan */
	{
		char sbase[GATE_URL_MAX];

		snprintf(sbase, sizeof(sbase), "%s", g->cfg.server_url);
		if (strcmp(sbase, base))
			log_warn("enrol: the URL given differs from [server] url = %s; syncing "
			         "with the latter",
			         sbase);
	}
	if (sync_cycle(g, st) == 0)
		printf("first sync done\n");
	else
		printf("first sync failed (%s); the daemon will retry\n", g->sync_error);
	rc = 0;
	goto out;
store_fail:
	snprintf(err, errlen, "%s: the local store failed", g->cfg.db_path);
out:
	store_close(st);
	json_decref(req);
	json_decref(ans);
	free(body);
	buf_free(&r.body);
	if (c)
		curl_easy_cleanup(c);
	return rc;
}
