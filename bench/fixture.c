/*
 * The bench's world: a temporary folder with a server configuration (port 0 + --port-file), the
 * categories, one centre whose low season starts tomorrow, a members CSV; running estiva-admin;
 * starting and stopping estiva-server.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static const char *const first_names[] = {"Karim", "Salma", "Youssef", "Nadia",
                                          "Omar",  "Imane", "Hamza",   "Khadija"};

__attribute__((format(printf, 2, 3))) static int sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return -1;
		if (b->s != NULL && (size_t)n < room) {
			b->len += (size_t)n;
			return 0;
		}
		{
			size_t cap = b->cap ? b->cap : 4096;
			char *p;

			while (cap < b->len + (size_t)n + 1)
				cap *= 2;
			p = realloc(b->s, cap);
			if (p == NULL)
				return -1;
			b->s = p;
			b->cap = cap;
		}
	}
}

void sbuf_free(struct sbuf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

void member_number(int i, char out[16])
{
	snprintf(out, 16, "%d", 80000001 + i);
}

const char *member_first_name(int i)
{
	return first_names[i % (int)(sizeof(first_names) / sizeof(first_names[0]))];
}

void unit_type_id(int lane, char out[16])
{
	snprintf(out, 16, "t%d", lane + 1);
}

static int write_sbuf(const char *dir, const char *name, struct sbuf *b, char *err, size_t errlen)
{
	char path[1200];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (b->s == NULL || write_file(path, b->s, b->len) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int fixture_write(const struct fixture *f, char *err, size_t errlen)
{
	struct sbuf b = {0};
	char path[1200], first[11], last[11];
	int i, lane, width = f->units > 999 ? 4 : 3, rc = -1;

	date_format(f->first_day, first);
	date_format(f->first_day + f->walk.season_days - 1, last);

	snprintf(path, sizeof(path), "%s/centres", f->dir);
	if (mkdir(path, 0700) != 0) {
		snprintf(err, errlen, "mkdir %s: %s", path, strerror(errno));
		goto out;
	}
	snprintf(path, sizeof(path), "%s/web", f->dir);
	if (mkdir(path, 0700) != 0) {
		snprintf(err, errlen, "mkdir %s: %s", path, strerror(errno));
		goto out;
	}
	snprintf(path, sizeof(path), "%s/web/index.html", f->dir);
	if (write_file(path, "<!doctype html><title>bench</title>\n", 36) != 0) {
		snprintf(err, errlen, "cannot write %s", path);
		goto out;
	}

	/* the server: port 0 and --port-file; a per-address limit above the bench's connections */
	if (sb_printf(&b,
	              "# written by booking-rush\n"
	              "[server]\n"
	              "listen = 127.0.0.1\n"
	              "port = 0\n"
	              "threads = %d\n"
	              "max_connections = 512\n"
	              "per_ip_connections = %d\n"
	              "connection_timeout = 30s\n"
	              "body_max = 64k\n"
	              "web_root = web\n"
	              "\n[database]\n"
	              "path = estiva.db\n"
	              "synchronous = %s\n"
	              "busy_timeout = 5s\n"
	              "\n[bookings]\n"
	              "hold = 20m\n"
	              "sweep_interval = 15s\n"
	              "max_request_nights = 92\n"
	              "\n[sessions]\n"
	              "idle = 30m\n"
	              "absolute = 12h\n"
	              "\n[catalog]\n"
	              "dir = centres\n"
	              "categories = categories.ini\n"
	              "timezone = Africa/Casablanca\n"
	              "\n[passes]\n"
	              "key_dir = keys\n",
	              f->threads, f->connections * 2 > 64 ? f->connections * 2 : 64,
	              f->full ? "full" : "normal") != 0 ||
	    write_sbuf(f->dir, "estiva-server.conf", &b, err, errlen) != 0)
		goto out;
	sbuf_free(&b);

	if (sb_printf(&b, "[category cat-a]\n"
	                  "name_fr = Échelles 1 à 6\n"
	                  "name_ar = السلالم من 1 إلى 6\n"
	                  "\n[category retired]\n"
	                  "name_fr = Retraités\n"
	                  "name_ar = المتقاعدون\n") != 0 ||
	    write_sbuf(f->dir, "categories.ini", &b, err, errlen) != 0)
		goto out;
	sbuf_free(&b);

	/* one centre; unit type tN has units X001-X0UU with a letter per type */
	if (sb_printf(&b, "[centre]\n"
	                  "id = bench\n"
	                  "name_fr = Centre de mesure\n"
	                  "name_ar = مركز القياس\n"
	                  "city_fr = Ifrane\n"
	                  "city_ar = إفران\n"
	                  "check_in = 15:00\n"
	                  "check_out = 11:00\n") != 0)
		goto out;
	for (lane = 0; lane < f->walk.lanes; lane++) {
		char id[16];
		char p = (char)('A' + lane);

		unit_type_id(lane, id);
		if (sb_printf(&b,
		              "\n[unit_type %s]\n"
		              "name_fr = Chambre %d\n"
		              "name_ar = غرفة %d\n"
		              "min_guests = 1\n"
		              "max_guests = 4\n"
		              "units = %c%0*d-%c%0*d\n",
		              id, lane + 1, lane + 1, p, width, 1, p, width, f->units) != 0)
			goto out;
	}
	if (sb_printf(&b,
	              "\n[season bench-low]\n"
	              "kind = low\n"
	              "first_night = %s\n"
	              "last_night = %s\n"
	              "min_nights = 1\n"
	              "max_nights = %d\n"
	              "\n[tariffs]\n",
	              first, last, BENCH_MAX_STAY) != 0)
		goto out;
	for (lane = 0; lane < f->walk.lanes; lane++) {
		char id[16];

		unit_type_id(lane, id);
		if (sb_printf(&b, "%s.bench-low.cat-a = 300.00\n%s.bench-low.retired = 250\n", id,
		              id) != 0)
			goto out;
	}
	if (write_sbuf(f->dir, "centres/bench.ini", &b, err, errlen) != 0)
		goto out;
	sbuf_free(&b);

	if (sb_printf(&b, "member_number,cin,last_name,first_name,last_name_ar,first_name_ar,"
	                  "email,phone,status,category,spouse,children\n") != 0)
		goto out;
	for (i = 0; i < f->members; i++) {
		char num[16];

		member_number(i, num);
		if (sb_printf(&b,
		              "%s,BK%06d,Rush,%s,راش,عضو,m%s@bench.example,06%08d,active,cat-a,,\n",
		              num, i + 1, member_first_name(i), num, i + 1) != 0)
			goto out;
	}
	if (write_sbuf(f->dir, "members.csv", &b, err, errlen) != 0)
		goto out;
	sbuf_free(&b);

	if (sb_printf(&b, "%s\n", f->password) != 0 ||
	    write_sbuf(f->dir, "password.txt", &b, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0 && err[0] == '\0')
		snprintf(err, errlen, "out of memory");
	sbuf_free(&b);
	return rc;
}

/* Runs argv with stdin from stdin_path (or /dev/null) and output appended to log_path. */
int run_program(char *const argv[], const char *stdin_path, const char *log_path, int *status)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int in = open(stdin_path ? stdin_path : "/dev/null", O_RDONLY);
		int out = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int server_start(const char *bin, const struct fixture *f, unsigned *port, char *err, size_t errlen)
{
	char conf[1200], portfile[1200], log[1200];
	char *argv[6];
	uint64_t deadline = now_us() + 20u * 1000000u;
	pid_t pid;

	snprintf(conf, sizeof(conf), "%s/estiva-server.conf", f->dir);
	snprintf(portfile, sizeof(portfile), "%s/port", f->dir);
	snprintf(log, sizeof(log), "%s/server.log", f->dir);
	argv[0] = (char *)bin;
	argv[1] = "-c";
	argv[2] = conf;
	argv[3] = "--port-file";
	argv[4] = portfile;
	argv[5] = NULL;
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	while (now_us() < deadline) {
		char buf[32];
		int fd = open(portfile, O_RDONLY);
		int st;

		if (fd >= 0) {
			ssize_t n = read(fd, buf, sizeof(buf) - 1);

			close(fd);
			if (n > 0 && buf[n - 1] == '\n') {
				char *end;
				long p;

				buf[n] = '\0';
				errno = 0;
				p = strtol(buf, &end, 10);
				if (errno == 0 && end != buf && *end == '\n' && p > 0 &&
				    p < 65536) {
					*port = (unsigned)p;
					return pid;
				}
			}
		}
		if (waitpid(pid, &st, WNOHANG) == pid) {
			snprintf(err, errlen,
			         "estiva-server exited with status %d before listening",
			         WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
			return -1;
		}
		sleep_ms(20);
	}
	snprintf(err, errlen, "estiva-server wrote no port to %s within 20 s", portfile);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

/* SIGTERM, then up to timeout_s for it to finish; SIGKILL after that (*status = -1). */
int server_stop(int pid, double timeout_s, int *status, double *took)
{
	uint64_t t0 = now_us();
	uint64_t deadline = t0 + (uint64_t)(timeout_s * 1e6);
	int st;

	if (kill(pid, SIGTERM) != 0)
		return -1;
	while (now_us() < deadline) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid) {
			*status = WIFEXITED(st) ? WEXITSTATUS(st)
			                        : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
			*took = (double)(now_us() - t0) / 1e6;
			return 0;
		}
		if (r < 0 && errno != EINTR)
			return -1;
		sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	*status = -1;
	*took = timeout_s;
	return 0;
}

void print_tail(const char *path, int lines)
{
	FILE *fp = fopen(path, "r");
	char *all = NULL, *p;
	size_t len = 0, n;
	char chunk[4096];
	int seen = 0;

	if (fp == NULL)
		return;
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		char *q = realloc(all, len + n + 1);

		if (q == NULL)
			break;
		all = q;
		memcpy(all + len, chunk, n);
		len += n;
		all[len] = '\0';
	}
	fclose(fp);
	if (all == NULL)
		return;
	for (p = all + len; p > all; p--)
		if (p[-1] == '\n' && p != all + len && ++seen > lines)
			break;
	fprintf(stderr, "---- %s (last lines) ----\n%s", path, p);
	if (len > 0 && all[len - 1] != '\n')
		fputc('\n', stderr);
	fprintf(stderr, "----\n");
	free(all);
}
