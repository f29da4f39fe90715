/* test_gate_retry.c: Retry-After honoured. The gate is enrolled with the real server, then pointed
 * at a tiny fake upstream in this process that answers its first upload 429 with Retry-After: 3
 * (and a later one 503 without it): the next upload comes no sooner than 3 s later, even when asked
 * to sync now, and the events are marked sent only once the fake lists them. The only fake in the
 * gate tests. argv: estiva-server estiva-admin estiva-gate. */
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gate_harness.h"

struct fake {
	pthread_mutex_t mu;
	int posts;
	double post_at[16];
	int plan[16]; /* status for each POST: 429, 503 or 200 */
	char body[256 * 1024];
	size_t len;
};

static struct fake fk = {.mu = PTHREAD_MUTEX_INITIALIZER};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *body,
                              const char *retry_after)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	MHD_add_response_header(r, "Content-Type", "application/json");
	if (retry_after)
		MHD_add_response_header(r, "Retry-After", retry_after);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
	char now[32], buf[256 * 1024];
	time_t t = time(NULL);
	struct tm tm;
	int n, status;

	(void)cls;
	(void)version;
	if (!*con_cls) {
		*con_cls = (void *)1;
		pthread_mutex_lock(&fk.mu);
		fk.len = 0;
		pthread_mutex_unlock(&fk.mu);
		return MHD_YES;
	}
	if (*upload_size) {
		pthread_mutex_lock(&fk.mu);
		if (fk.len + *upload_size < sizeof fk.body) {
			memcpy(fk.body + fk.len, upload, *upload_size);
			fk.len += *upload_size;
		}
		pthread_mutex_unlock(&fk.mu);
		*upload_size = 0;
		return MHD_YES;
	}
	gmtime_r(&t, &tm);
	strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!strcmp(method, "GET") && !strncmp(url, "/api/gate/v1/sync", 17)) {
		snprintf(buf, sizeof buf,
		         "{\"server_time\":\"%s\",\"cursor\":\"p0.e0\",\"more\":false}", now);
		return answer(c, 200, buf, NULL);
	}
	if (strcmp(method, "POST") || strcmp(url, "/api/gate/v1/events"))
		return answer(c, 404, "{}", NULL);
	pthread_mutex_lock(&fk.mu);
	n = fk.posts < 16 ? fk.posts : 15;
	fk.post_at[n] = now_s();
	status = fk.plan[n] ? fk.plan[n] : 200;
	fk.posts++;
	fk.body[fk.len] = '\0';
	if (status == 200) {
		json_t *req = json_loads(fk.body, 0, NULL), *ids = json_array(), *e;
		size_t i;
		char *js;

		json_array_foreach(json_object_get(req, "events"), i, e)
		    json_array_append(ids, json_object_get(e, "id"));
		json_t *ans = json_pack("{s:o,s:[],s:[],s:s}", "stored", ids, "duplicates",
		                        "rejected", "server_time", now);

		js = json_dumps(ans, JSON_COMPACT);
		json_decref(ans);
		snprintf(buf, sizeof buf, "%s", js ? js : "{}");
		free(js);
		json_decref(req);
	}
	pthread_mutex_unlock(&fk.mu);
	if (status == 429)
		return answer(c, 429, "{\"error\":{\"code\":\"rate_limited\"}}", "3");
	if (status == 503)
		return answer(c, 503, "{\"error\":{\"code\":\"busy\"}}", NULL);
	return answer(c, 200, buf, NULL);
}

static int posts(void)
{
	int n;

	pthread_mutex_lock(&fk.mu);
	n = fk.posts;
	pthread_mutex_unlock(&fk.mu);
	return n;
}

static void retry_after(void **state)
{
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	char url[64];
	struct gt_opts o = {.name = "Rate limited", .dirs = {"in"}, .url = url};
	struct gt *g;
	struct gt_event ev;
	double gap;

	(void)state;
	fk.plan[0] = 429;
	fk.plan[1] = 503;
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL, handler,
	                     NULL, MHD_OPTION_END);
	assert_non_null(d);
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(url, sizeof url, "http://127.0.0.1:%u", info->port);
	g = gt_new(&o);
	gt_start(g);
	gt_scan(g, 0, "noise", &ev);
	for (int t = 0; t < 5000 && posts() < 1; t += 10)
		hx_sleep_ms(10);
	assert_int_equal(posts(), 1);
	/* asked to sync now in the middle of the wait: it still waits */
	hx_sleep_ms(500);
	gt_sync_now(g);
	for (int t = 0; t < 10000 && posts() < 2; t += 10)
		hx_sleep_ms(10);
	assert_int_equal(posts(), 2);
	gap = fk.post_at[1] - fk.post_at[0];
	fprintf(stderr, "retry after 429 (Retry-After: 3): %.2f s\n", gap);
	assert_true(gap >= 2.95);
	assert_true(gap < 3.0 + 2.0 + 1.0); /* at most the back-off cap (2 s here) more */
	assert_int_equal(gt_int(g, "SELECT COUNT(*) FROM events WHERE sent = 0"), 1);
	/* 503 without Retry-After: back-off (0.5-1 s after a second failure... up to the 2 s cap),
	 * then 200 */
	for (int t = 0; t < 10000 && posts() < 3; t += 10)
		hx_sleep_ms(10);
	assert_int_equal(posts(), 3);
	gap = fk.post_at[2] - fk.post_at[1];
	fprintf(stderr, "retry after 503: %.2f s\n", gap);
	assert_true(gap >= 0.4 && gap < 3.0);
	gt_wait_int(g, "SELECT COUNT(*) FROM events WHERE sent = 0", 0, 5000);
	gt_stop(g);
	gt_free(g);
	MHD_stop_daemon(d);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(retry_after)};
	const struct hx_opts opts = {.members = 2};

	if (argc < 4) {
		fprintf(stderr, "usage: %s estiva-server estiva-admin estiva-gate\n", argv[0]);
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	gt_set_binary(argv[3]);
	return hx_main(argc, argv, &opts, "gate_retry", tests, sizeof(tests) / sizeof(tests[0]));
}
