/* clock.c: the time the gate decides with. The server's time comes with every sync answer; the gate
 * keeps the offset, warns beyond skew_warn, decides with the corrected time beyond skew_correct,
 * and when its clock reads a year before the last successful sync it distrusts itself and counts
 * from that sync with the monotonic clock (docs/sync.md, "The gate's clock"). */
#include <math.h>
#include <time.h>

#include "gate.h"
#include "log.h"

double clock_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

double clock_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int64_t gate_now_locked(struct gate *g, int *distrusted)
{
	double wall = clock_wall();

	if (distrusted)
		*distrusted = 0;
	if (g->last_sync_server > 0 &&
	    wall < (double)g->last_sync_server - (double)GATE_DISTRUST_SECONDS) {
		if (distrusted)
			*distrusted = 1;
		return g->last_sync_server + (int64_t)(clock_mono() - g->mono_base);
	}
	if (g->have_offset && fabs(g->offset) > (double)g->cfg.skew_correct)
		return (int64_t)floor(wall + g->offset);
	return (int64_t)floor(wall);
}

int64_t gate_now(struct gate *g)
{
	int64_t t;

	pthread_mutex_lock(&g->lock);
	t = gate_now_locked(g, NULL);
	pthread_mutex_unlock(&g->lock);
	return t;
}

void clock_observe(struct gate *g, int64_t server_time, double t0, double t1)
{
	/* the server's second was read somewhere in the request: compare with the middle of it */
	double offset = (double)server_time + 0.5 - (t0 + t1) / 2;
	int warn_before, warn_now;

	pthread_mutex_lock(&g->lock);
	warn_before = g->have_offset && fabs(g->offset) > (double)g->cfg.skew_warn;
	g->offset = offset;
	g->have_offset = 1;
	g->last_sync_server = server_time;
	g->mono_base = clock_mono();
	warn_now = fabs(offset) > (double)g->cfg.skew_warn;
	pthread_mutex_unlock(&g->lock);
	if (warn_now && !warn_before)
		log_warn("clock: this gate's clock is %.0f s %s the server's%s", fabs(offset),
		         offset > 0 ? "behind" : "ahead of",
		         fabs(offset) > (double)g->cfg.skew_correct
		             ? "; deciding with the server's time"
		             : "");
	else if (!warn_now && warn_before)
		log_info("clock: back within %lld s of the server's", (long long)g->cfg.skew_warn);
}
