/* metrics.c: the request counters of /metrics (by route and status, a latency histogram) and their
 * Prometheus text. Knows no route: the caller names them. */
#include <stdio.h>

#include "server.h"

static const int metric_statuses[METRIC_STATUSES - 1] = {
    200, 201, 204, 304, 400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500, 503, 0};
static const double metric_bounds[METRIC_BUCKETS - 1] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                         0.1,   0.25,   0.5,   1,    2.5};

static int status_index(int status)
{
	for (int i = 0; i < METRIC_STATUSES - 1; i++)
		if (metric_statuses[i] == status)
			return i;
	return METRIC_STATUSES - 2; /* "other" */
}

void metrics_count(struct metrics *m, int route, int status, int64_t us)
{
	double sec = (double)us / 1e6;
	int b;

	if (route >= 0 && route < METRIC_ROUTES)
		atomic_fetch_add(&m->requests[route][status_index(status)], 1);
	else
		atomic_fetch_add(&m->requests[METRIC_ROUTES - 1][status_index(status)], 1);
	for (b = 0; b < METRIC_BUCKETS - 1 && sec > metric_bounds[b]; b++)
		;
	atomic_fetch_add(&m->latency_bucket[b], 1);
	atomic_fetch_add(&m->latency_count, 1);
	atomic_fetch_add(&m->latency_sum_us, (unsigned long long)us);
}

void metrics_render(struct metrics *m, const char *const *routes, int nroutes, struct buf *out)
{
	unsigned long long cum = 0;

	buf_printf(out, "# HELP estiva_http_requests_total HTTP requests by route and status.\n"
	                "# TYPE estiva_http_requests_total counter\n");
	for (int r = 0; r < METRIC_ROUTES; r++) {
		const char *name = r < nroutes              ? routes[r]
		                   : r == METRIC_ROUTES - 1 ? "other"
		                                            : NULL;
		if (!name)
			continue;
		for (int s = 0; s < METRIC_STATUSES - 1; s++) {
			unsigned long long v = atomic_load(&m->requests[r][s]);
			if (!v)
				continue;
			if (metric_statuses[s])
				buf_printf(
				    out,
				    "estiva_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
				    name, metric_statuses[s], v);
			else
				buf_printf(out,
				           "estiva_http_requests_total{route=\"%s\",status="
				           "\"other\"} %llu\n",
				           name, v);
		}
	}
	buf_printf(out, "# HELP estiva_http_request_duration_seconds Time from request to reply.\n"
	                "# TYPE estiva_http_request_duration_seconds histogram\n");
	for (int b = 0; b < METRIC_BUCKETS; b++) {
		cum += atomic_load(&m->latency_bucket[b]);
		if (b < METRIC_BUCKETS - 1)
			buf_printf(out,
			           "estiva_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
			           metric_bounds[b], cum);
		else
			buf_printf(
			    out, "estiva_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
			    cum);
	}
	buf_printf(out, "estiva_http_request_duration_seconds_sum %.6f\n",
	           (double)atomic_load(&m->latency_sum_us) / 1e6);
	buf_printf(out, "estiva_http_request_duration_seconds_count %llu\n",
	           atomic_load(&m->latency_count));
	buf_printf(out,
	           "# HELP estiva_holds_expired_total Holds released by the expiry timer.\n"
	           "# TYPE estiva_holds_expired_total counter\nestiva_holds_expired_total %llu\n",
	           atomic_load(&m->holds_expired));
	buf_printf(out,
	           "# HELP estiva_mail_sent_total Messages to members the SMTP server accepted.\n"
	           "# TYPE estiva_mail_sent_total counter\nestiva_mail_sent_total %llu\n"
	           "# HELP estiva_mail_dead_total Messages given up on (5xx, no address, or the "
	           "last retry).\n"
	           "# TYPE estiva_mail_dead_total counter\nestiva_mail_dead_total %llu\n",
	           atomic_load(&m->mail_sent), atomic_load(&m->mail_dead));
	buf_printf(
	    out,
	    "# HELP estiva_db_busy_retries_total Write transactions that found the database busy.\n"
	    "# TYPE estiva_db_busy_retries_total counter\nestiva_db_busy_retries_total %llu\n",
	    atomic_load(&m->db_busy_retries));
}
