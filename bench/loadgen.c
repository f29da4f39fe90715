/*
 * The load generator: one thread, libcurl multi, a fixed number of slots (one easy handle and at
 * most one request in flight each) sharing the multi handle's keep-alive connection pool. The
 * caller's prepare callback fills a request whenever a slot is free; done gets the reply.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "bench.h"

struct slot {
	CURL *easy;
	struct lg_req req;
	char *reply;
	size_t reply_len;
	size_t reply_cap;
	char cookie[BENCH_COOKIE_MAX];
	int conn_close;
	int busy;
	uint64_t t0;
	char errbuf[CURL_ERROR_SIZE];
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct slot *s = arg;
	size_t n = size * nmemb;
	size_t room;

	if (s->reply_len + n + 1 > s->reply_cap && s->reply_cap < BENCH_REPLY_MAX + 1) {
		size_t cap = s->reply_cap ? s->reply_cap : 4096;
		char *p;

		while (cap < s->reply_len + n + 1 && cap < BENCH_REPLY_MAX + 1)
			cap *= 2;
		if (cap > BENCH_REPLY_MAX + 1)
			cap = BENCH_REPLY_MAX + 1;
		p = realloc(s->reply, cap);
		if (p == NULL)
			return 0; /* curl reports a write error */
		s->reply = p;
		s->reply_cap = cap;
	}
	room = s->reply_cap - 1 - s->reply_len;
	if (room > n)
		room = n;
	memcpy(s->reply + s->reply_len, data, room);
	s->reply_len += room;
	s->reply[s->reply_len] = '\0';
	return n;
}

/* Header lines are not NUL-terminated; they end with CRLF. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	static const char setc[] = "set-cookie:";
	static const char conn[] = "connection:";
	static const char name[] = "estiva_session=";
	struct slot *s = arg;
	size_t n = size * nmemb;
	size_t i, j;

	if (n > sizeof(setc) - 1 && strncasecmp(data, setc, sizeof(setc) - 1) == 0) {
		for (i = sizeof(setc) - 1; i < n && data[i] == ' '; i++)
			;
		if (n - i > sizeof(name) - 1 && strncmp(data + i, name, sizeof(name) - 1) == 0) {
			i += sizeof(name) - 1;
			for (j = 0; i + j < n && j + 1 < sizeof(s->cookie); j++) {
				char c = data[i + j];

				if (c == ';' || c == '\r' || c == '\n' || c == ' ')
					break;
				s->cookie[j] = c;
			}
			s->cookie[j] = '\0';
		}
	} else if (n > sizeof(conn) - 1 && strncasecmp(data, conn, sizeof(conn) - 1) == 0) {
		for (i = sizeof(conn) - 1; i + 5 <= n; i++)
			if (strncasecmp(data + i, "close", 5) == 0)
				s->conn_close = 1;
	}
	return n;
}

static int slot_start(CURLM *multi, struct slot *s)
{
	CURL *e = s->easy;
	CURLcode rc = CURLE_OK;

	s->reply_len = 0;
	if (s->reply)
		s->reply[0] = '\0';
	s->cookie[0] = '\0';
	s->conn_close = 0;
	s->errbuf[0] = '\0';
	rc |= curl_easy_setopt(e, CURLOPT_URL, s->req.url);
	if (s->req.body_len > 0) {
		rc |= curl_easy_setopt(e, CURLOPT_POST, 1L);
		rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, s->req.body);
		rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)s->req.body_len);
	} else {
		rc |= curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	}
	rc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->req.headers);
	rc |= curl_easy_setopt(e, CURLOPT_COOKIE, s->req.cookie[0] ? s->req.cookie : NULL);
	if (rc != CURLE_OK)
		return -1;
	s->t0 = now_us();
	if (curl_multi_add_handle(multi, e) != CURLM_OK)
		return -1;
	s->busy = 1;
	return 0;
}

static void slot_reset_req(struct slot *s)
{
	curl_slist_free_all(s->req.headers);
	memset(&s->req, 0, sizeof(s->req));
}

int loadgen_run(int connections, lg_prepare_fn prepare, lg_done_fn done, void *ctx,
                struct lg_stats *st)
{
	CURLM *multi = NULL;
	struct slot *slots = NULL;
	uint64_t t_first = 0, t_last = 0;
	int inflight = 0, i, rc = -1;

	memset(st, 0, sizeof(*st));
	multi = curl_multi_init();
	slots = calloc((size_t)connections, sizeof(*slots));
	if (multi == NULL || slots == NULL)
		goto fail;
	if (curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)connections) ||
	    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)connections) ||
	    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)connections))
		goto fail;
	for (i = 0; i < connections; i++) {
		struct slot *s = &slots[i];
		CURLcode c = CURLE_OK;

		s->easy = curl_easy_init();
		if (s->easy == NULL)
			goto fail;
		c |= curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_body);
		c |= curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
		c |= curl_easy_setopt(s->easy, CURLOPT_HEADERFUNCTION, on_header);
		c |= curl_easy_setopt(s->easy, CURLOPT_HEADERDATA, s);
		c |= curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
		c |= curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
		c |= curl_easy_setopt(s->easy, CURLOPT_TCP_NODELAY, 1L);
		c |= curl_easy_setopt(s->easy, CURLOPT_ERRORBUFFER, s->errbuf);
		c |= curl_easy_setopt(s->easy, CURLOPT_TIMEOUT, 30L);
		if (c != CURLE_OK)
			goto fail;
	}

	for (;;) {
		CURLMsg *msg;
		int running = 0, left, completed = 0;

		for (i = 0; i < connections; i++) {
			struct slot *s = &slots[i];

			if (s->busy)
				continue;
			slot_reset_req(s);
			if (prepare(ctx, &s->req) != 1)
				break;
			if (slot_start(multi, s) != 0)
				goto fail;
			if (t_first == 0)
				t_first = s->t0;
			inflight++;
			st->sent++;
		}
		if (inflight == 0)
			break;
		if (curl_multi_perform(multi, &running) != CURLM_OK)
			goto fail;
		while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
			struct slot *s;
			struct lg_res res;
			char *priv = NULL;
			long conns = 0;

			if (msg->msg != CURLMSG_DONE)
				continue;
			if (curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv) !=
			        CURLE_OK ||
			    priv == NULL)
				goto fail;
			s = (struct slot *)priv;
			memset(&res, 0, sizeof(res));
			t_last = now_us();
			res.us = t_last - s->t0;
			if (msg->data.result == CURLE_OK) {
				if (curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE,
				                      &res.status) != CURLE_OK)
					res.status = 0;
			} else {
				res.status = 0;
				res.error =
				    s->errbuf[0] ? s->errbuf : curl_easy_strerror(msg->data.result);
				st->transport_errors++;
			}
			if (curl_easy_getinfo(s->easy, CURLINFO_NUM_CONNECTS, &conns) == CURLE_OK)
				st->new_connections += (uint64_t)conns;
			st->conn_close += (uint64_t)s->conn_close;
			res.body = s->reply ? s->reply : "";
			res.body_len = s->reply_len;
			res.session_cookie = s->cookie;
			if (curl_multi_remove_handle(multi, s->easy) != CURLM_OK)
				goto fail;
			s->busy = 0;
			inflight--;
			st->done++;
			completed++;
			done(ctx, &s->req, &res);
		}
		if (completed == 0 && curl_multi_poll(multi, NULL, 0, 100, NULL) != CURLM_OK)
			goto fail;
	}
	st->seconds = t_last > t_first ? (double)(t_last - t_first) / 1e6 : 0.0;
	rc = 0;
fail:
	if (slots != NULL) {
		for (i = 0; i < connections; i++) {
			if (slots[i].easy != NULL) {
				if (slots[i].busy)
					curl_multi_remove_handle(multi, slots[i].easy);
				curl_easy_cleanup(slots[i].easy);
			}
			curl_slist_free_all(slots[i].req.headers);
			free(slots[i].reply);
		}
		free(slots);
	}
	if (multi != NULL)
		curl_multi_cleanup(multi);
	return rc;
}

long http_get(const char *url, char *buf, size_t len)
{
	struct slot s;
	CURL *e = curl_easy_init();
	long status = -1;

	memset(&s, 0, sizeof(s));
	if (e == NULL)
		return -1;
	if (curl_easy_setopt(e, CURLOPT_URL, url) || curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT, 10L) ||
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) ||
	    curl_easy_setopt(e, CURLOPT_WRITEDATA, &s))
		goto out;
	if (curl_easy_perform(e) != CURLE_OK)
		goto out;
	if (curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
		status = -1;
out:
	if (len > 0) {
		size_t n = s.reply_len < len - 1 ? s.reply_len : len - 1;

		if (n > 0)
			memcpy(buf, s.reply, n);
		buf[n] = '\0';
	}
	free(s.reply);
	curl_easy_cleanup(e);
	return status;
}
