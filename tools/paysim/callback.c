/* callback.c: the gateway's server-to-server callback. Each callback is a row in the database; the
 * first attempt is made by the request that finished the card step (so the merchant usually knows
 * before the browser comes back, as with the real gateway), and every later attempt by one worker
 * thread, with a doubling back-off. A merchant reply other than ACTION=POSTAUTH or APPROVED, an
 * HTTP error or a timeout counts as not delivered. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "paysim.h"

static pthread_t worker;
static pthread_mutex_t wlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wcond = PTHREAD_COND_INITIALIZER;
static int kicked, started;
static atomic_int stopping;

struct reply_buf {
	char data[PAYSIM_REPLY_MAX + 1];
	size_t len;
};

static size_t on_data(char *p, size_t size, size_t n, void *user)
{
	struct reply_buf *rb = user;
	size_t len = size * n, room = PAYSIM_REPLY_MAX - rb->len;

	if (len > room)
		len = room; /* keep the start of a long reply, read (and drop) the rest */
	memcpy(rb->data + rb->len, p, len);
	rb->len += len;
	rb->data[rb->len] = '\0';
	return size * n;
}

static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
	(void)user, (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return atomic_load(&stopping) ? 1 : 0; /* a stop aborts the transfer */
}

/* One form POST. 0 with *status and the reply, or -1 with err. */
static int post(const char *url, const char *body, int timeout, long *status, struct reply_buf *rb,
                char *err, size_t errlen)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdr = NULL;
	CURL *c = curl_easy_init();
	CURLcode e = CURLE_OK;

	*status = 0;
	if (!c) {
		snprintf(err, errlen, "curl_easy_init failed");
		return -1;
	}
	hdr = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
	if (!hdr) {
		snprintf(err, errlen, "out of memory");
		curl_easy_cleanup(c);
		return -1;
	}
	if (!e)
		e = curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	if (!e)
		e = curl_easy_setopt(c, CURLOPT_URL, url);
	if (!e)
		e = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	if (!e)
		e = curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	if (!e)
		e = curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	if (!e)
		e = curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	if (!e)
		e = curl_easy_setopt(c, CURLOPT_USERAGENT, "estiva-paysim/1");
	if (!e)
		e = curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)timeout);
	if (!e)
		e = curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)(timeout < 5 ? timeout : 5));
	if (!e)
		e = curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (!e)
		e = curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	if (!e)
		e = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	if (!e)
		e = curl_easy_setopt(c, CURLOPT_WRITEDATA, rb);
	if (!e)
		e = curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	if (!e)
		e = curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	if (!e)
		e = curl_easy_perform(c);
	if (!e)
		e = curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (e)
		snprintf(err, errlen, "%s", errbuf[0] ? errbuf : curl_easy_strerror(e));
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	return e ? -1 : 0;
}

/* The reply without surrounding white space, control characters shown as '?', at most 200 bytes. */
static void tidy(const char *in, char *out, size_t outlen)
{
	size_t start = 0, end = strlen(in), n = 0;

	while (start < end && (in[start] == ' ' || (in[start] >= '\t' && in[start] <= '\r')))
		start++;
	while (end > start && (in[end - 1] == ' ' || (in[end - 1] >= '\t' && in[end - 1] <= '\r')))
		end--;
	for (size_t k = start; k < end && n + 1 < outlen && n < 200; k++)
		out[n++] = (unsigned char)in[k] < 0x20 || in[k] == 0x7f ? '?' : in[k];
	out[n] = '\0';
}

int callback_attempt(struct cb_job *job)
{
	struct settings s;
	struct reply_buf rb = {.len = 0};
	char err[256] = "", reply[256], note[160] = "";
	const char *state;
	int64_t next = 0;
	int attempts = job->attempts + 1, delivered = 0, postauth = 0, rc;
	long status = 0;

	settings_get(&s);
	rb.data[0] = '\0';
	rc = post(job->url, job->body, s.cb_timeout, &status, &rb, err, sizeof(err));
	tidy(rb.data, reply, sizeof(reply));
	if (rc == 0 && status / 100 == 2) {
		if (!strcmp(reply, "ACTION=POSTAUTH")) {
			delivered = 1;
			postauth = !s.ignore_postauth; /* ignore: as if the reply never arrived */
		} else if (!strcmp(reply, "APPROVED")) {
			delivered = 1;
		} else {
			snprintf(err, sizeof(err), "reply is not ACTION=POSTAUTH or APPROVED");
		}
	} else if (rc == 0) {
		snprintf(err, sizeof(err), "HTTP status %ld", status);
	}
	if (postauth &&
	    store_capture_from_callback(job->oid, job->trans_id, note, sizeof(note)) < 0)
		snprintf(note, sizeof(note), "capture failed (database)");
	if (delivered) {
		state = "done";
	} else if (atomic_load(&stopping)) {
		state =
		    "pending"; /* interrupted by a stop: try again after a restart, not counted */
		attempts--;
		next = now_ms();
	} else if (attempts > s.cb_retries) {
		state = "failed";
	} else {
		int64_t wait = s.cb_backoff_ms;
		for (int k = 1; k < attempts && wait < PAYSIM_BACKOFF_CAP_MS; k++)
			wait *= 2;
		if (wait > PAYSIM_BACKOFF_CAP_MS)
			wait = PAYSIM_BACKOFF_CAP_MS;
		state = "pending";
		next = now_ms() + wait;
	}
	if (store_callback_update(job->id, state, attempts, reply, err, next) < 0)
		log_line("callback %lld: cannot record the outcome", (long long)job->id);
	log_line("callback %lld oid=%s attempt %d -> %s (HTTP %ld, reply \"%s\"%s%s)",
	         (long long)job->id, job->oid, attempts, state, status, reply, err[0] ? ", " : "",
	         err);
	if (note[0])
		log_line("callback %lld oid=%s: %s", (long long)job->id, job->oid, note);
	if (!strcmp(state, "failed"))
		log_line("callback %lld oid=%s: gave up after %d attempts", (long long)job->id,
		         job->oid, attempts);
	return delivered ? 0 : -1;
}

static void *work(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&wlock);
	while (!atomic_load(&stopping)) {
		struct cb_job job;
		struct timespec ts;
		int64_t next, deadline, now;
		int r;

		kicked = 0;
		pthread_mutex_unlock(&wlock);
		r = store_callback_take(now_ms(), &job, &next);
		if (r == 1) {
			callback_attempt(&job);
			cb_job_free(&job);
		}
		pthread_mutex_lock(&wlock);
		if (r == 1 || kicked)
			continue;
		now = now_ms();
		deadline =
		    now +
		    1000; /* look again at least every second (clock changes, lost wake-ups) */
		if (r == 0 && next > 0 && next < deadline)
			deadline = next;
		ts.tv_sec = (time_t)(deadline / 1000);
		ts.tv_nsec = (long)(deadline % 1000) * 1000000;
		while (!kicked && !atomic_load(&stopping) && now_ms() < deadline)
			if (pthread_cond_timedwait(&wcond, &wlock, &ts) != 0)
				break;
	}
	pthread_mutex_unlock(&wlock);
	return NULL;
}

int callback_start(void)
{
	atomic_store(&stopping, 0);
	if (pthread_create(&worker, NULL, work, NULL) != 0)
		return -1;
	started = 1;
	return 0;
}

void callback_kick(void)
{
	pthread_mutex_lock(&wlock);
	kicked = 1;
	pthread_cond_signal(&wcond);
	pthread_mutex_unlock(&wlock);
}

void callback_stop(void)
{
	atomic_store(&stopping, 1);
	callback_kick();
	if (started)
		pthread_join(worker, NULL);
	started = 0;
}
