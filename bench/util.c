/* Small helpers of the benchmark: clocks, civil dates, latency sets, the calendar walk, files. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* H. Hinnant's days_from_civil / civil_from_days (public domain algorithms). */
int64_t days_from_civil(int y, int m, int d)
{
	int64_t yy = y - (m <= 2);
	int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
	int64_t yoe = yy - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

void date_format(int64_t days, char out[11])
{
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = yoe + era * 400;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t d = doy - (153 * mp + 2) / 5 + 1;
	int64_t m = mp + (mp < 10 ? 3 : -9);

	y += (m <= 2);
	snprintf(out, 11, "%04d-%02d-%02d", (int)y, (int)m, (int)d);
}

int date_parse(const char *s, int64_t *days)
{
	int y, m, d, i;

	if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return -1;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (m < 1 || m > 12 || d < 1 || d > 31)
		return -1;
	*days = days_from_civil(y, m, d);
	return 0;
}

/* Today's date in a time zone (the catalog's), so "tomorrow" is never in the centre's past. */
int64_t today_in(const char *tz)
{
	char *old = getenv("TZ");
	char saved[256] = "";
	int had = old != NULL;
	time_t t = time(NULL);
	struct tm tm;

	if (had)
		snprintf(saved, sizeof(saved), "%s", old);
	setenv("TZ", tz, 1);
	tzset();
	localtime_r(&t, &tm);
	if (had)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	return days_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

int lat_add(struct lat *l, uint64_t us)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4096;
		uint32_t *v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

double lat_pct_ms(struct lat *l, double p)
{
	size_t i;

	if (l->n == 0)
		return 0.0;
	qsort(l->v, l->n, sizeof(*l->v), cmp_u32);
	/* nearest rank */
	i = (size_t)(p / 100.0 * (double)l->n + 0.999999);
	if (i < 1)
		i = 1;
	if (i > l->n)
		i = l->n;
	return l->v[i - 1] / 1000.0;
}

void lat_free(struct lat *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

void walker_init(struct walker *w, int member_index)
{
	w->lane = 0;
	w->offset = member_index % 2;
	w->done = 0;
}

int walker_next(struct walker *w, const struct walk *k, int *lane, int *offset)
{
	if (w->done)
		return -1;
	if (w->offset + k->nights > k->season_days) {
		w->lane++;
		w->offset %= 2; /* keep the member's stagger */
		if (w->offset + k->nights > k->season_days)
			w->done = 1;
	}
	if (k->lanes > 0 && w->lane >= k->lanes)
		w->done = 1;
	if (w->done)
		return -1;
	*lane = w->lane;
	*offset = w->offset;
	w->offset += k->nights;
	return 0;
}

long walk_capacity(const struct walk *k)
{
	long per_lane = (k->season_days - 1) / k->nights; /* the staggered members' count */

	return k->lanes > 0 ? per_lane * k->lanes : -1;
}

int write_file(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t off = 0;
	int rc = -1;

	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)n;
	}
	rc = 0;
fail:
	if (close(fd) != 0)
		rc = -1;
	return rc;
}

/* Removes a folder and what is in it (no symlinks are followed). */
int remove_tree(const char *path)
{
	struct stat sb;
	DIR *d;
	struct dirent *e;
	char sub[4096];
	int rc = 0;

	if (lstat(path, &sb) != 0)
		return -1;
	if (!S_ISDIR(sb.st_mode))
		return unlink(path);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name) >= sizeof(sub) ||
		    remove_tree(sub) != 0)
			rc = -1;
	}
	closedir(d);
	if (rmdir(path) != 0)
		rc = -1;
	return rc;
}

const char *fs_kind(const char *path)
{
	struct statfs sf;

	if (statfs(path, &sf) != 0)
		return "unknown";
	switch ((unsigned long)sf.f_type) {
	case 0x01021994UL:
		return "tmpfs";
	case 0xEF53UL:
		return "ext4";
	case 0x58465342UL:
		return "xfs";
	case 0x9123683EUL:
		return "btrfs";
	case 0x794C7630UL:
		return "overlayfs";
	default:
		return "other";
	}
}
