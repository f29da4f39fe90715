/* Integration test harness: builds a temporary catalog, member list and database with the real
 * estiva-admin, runs the real estiva-server as a child process and talks to it over HTTP. */
#include "harness.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HX_PATH_MAX 512
#define HX_START_TIMEOUT_MS 10000
#define HX_STOP_TIMEOUT_MS 20000
#define HX_BODY_CAP (16 * 1024 * 1024)
#define HX_LOG_TAIL 60

struct hx {
	char server[HX_PATH_MAX];
	char admin[HX_PATH_MAX];
	char dir[HX_PATH_MAX];
	char conf[HX_PATH_MAX];
	char db[HX_PATH_MAX];
	char log[HX_PATH_MAX];
	char admin_log[HX_PATH_MAX];
	char port_file[HX_PATH_MAX];
	char url[64];
	int port;
	pid_t pid;
	int members;
};

static struct hx *hx_cur;
static time_t hx_today;

struct hx *hx_current(void)
{
	return hx_cur;
}

const char *hx_url(const struct hx *hx)
{
	return hx->url;
}

int hx_port(const struct hx *hx)
{
	return hx->port;
}

const char *hx_db_path(const struct hx *hx)
{
	return hx->db;
}

const char *hx_log_path(const struct hx *hx)
{
	return hx->log;
}

const char *hx_dir(const struct hx *hx)
{
	return hx->dir;
}

const char *hx_conf_path(const struct hx *hx)
{
	return hx->conf;
}

const char *hx_server_path(const struct hx *hx)
{
	return hx->server;
}

const char *hx_admin_path(const struct hx *hx)
{
	return hx->admin;
}

int hx_exec(char *const argv[], const char *input, char *out, size_t n)
{
	int in[2], op[2], st;
	size_t got = 0;
	ssize_t r;
	pid_t pid;

	if (n == 0 || pipe(in) != 0)
		return -1;
	if (pipe(op) != 0) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		close(in[1]);
		close(op[0]);
		if (dup2(in[0], 0) < 0 || dup2(op[1], 1) < 0 || dup2(op[1], 2) < 0)
			_exit(126);
		close(in[0]);
		close(op[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(op[1]);
	/* small inputs only: fits in the pipe buffer, so no deadlock with the reader below */
	if (input != NULL && write(in[1], input, strlen(input)) != (ssize_t)strlen(input))
		fprintf(stderr, "itest: short write to %s\n", argv[0]);
	close(in[1]);
	for (;;) {
		char tmp[4096];

		r = read(op[0], tmp, sizeof tmp);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (got + 1 < n) {
			size_t take = (size_t)r < n - 1 - got ? (size_t)r : n - 1 - got;

			memcpy(out + got, tmp, take);
			got += take;
		}
	}
	out[got] = '\0';
	close(op[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void hx_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

const char *hx_date(int offset, char *buf, size_t n)
{
	time_t t;
	struct tm tm;

	if (hx_today == 0)
		hx_today = time(NULL);
	t = hx_today + (time_t)offset * 86400;
	gmtime_r(&t, &tm);
	if (strftime(buf, n, "%Y-%m-%d", &tm) == 0 && n > 0)
		buf[0] = '\0';
	return buf;
}

const char *hx_member(int i, char *buf, size_t n)
{
	snprintf(buf, n, "%d", HX_FIRST_MEMBER + i - 1);
	return buf;
}

const char *hx_key(char *buf, size_t n)
{
	static unsigned counter;

	snprintf(buf, n, "itest-%ld-%u-%ld", (long)getpid(), ++counter, (long)time(NULL));
	return buf;
}

long long hx_instant(const char *s)
{
	struct tm tm;
	int y, mo, d, h, mi, se, used = 0;

	if (s == NULL)
		return -1;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se, &used) != 6)
		return -1;
	if (s[used] == '.') { /* tolerate fractional seconds */
		used++;
		while (isdigit((unsigned char)s[used]))
			used++;
	}
	if (strcmp(s + used, "Z") != 0)
		return -1;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	return (long long)timegm(&tm);
}

/* ---- tariffs (centimes per night) ---- */

struct tariff {
	const char *centre, *unit_type, *season, *category;
	int64_t centimes;
};

static const struct tariff tariffs[] = {
    {"test-a", "chalet", "a-low1", "cat-a", 31250},
    {"test-a", "chalet", "a-low1", "retired", 25000},
    {"test-a", "chalet", "a-low2", "cat-a", 33000},
    {"test-a", "chalet", "a-low2", "retired", 28000},
    {"test-a", "chalet", "a-high", "cat-a", 50000},
    {"test-a", "chalet", "a-high", "retired", 42000},
    {"test-a", "studio", "a-low1", "cat-a", 20000},
    {"test-a", "studio", "a-low1", "retired", 15000},
    {"test-a", "studio", "a-low2", "cat-a", 21000},
    {"test-a", "studio", "a-low2", "retired", 16000},
    {"test-a", "studio", "a-high", "cat-a", 30000},
    {"test-a", "studio", "a-high", "retired", 25000},
    {"test-b", "room", "b-low1", "cat-a", 18000},
    {"test-b", "room", "b-low1", "retired", 15050},
    {"test-b", "room", "b-low2", "cat-a", 19000},
    {"test-b", "room", "b-low2", "retired", 16000},
    {"test-b", "room", "b-high", "cat-a", 40000},
    {"test-b", "room", "b-high", "retired", 35000},
};

int64_t hx_tariff(const char *centre, const char *unit_type, const char *season,
                  const char *category)
{
	size_t i;

	for (i = 0; i < sizeof tariffs / sizeof tariffs[0]; i++)
		if (strcmp(tariffs[i].centre, centre) == 0 &&
		    strcmp(tariffs[i].unit_type, unit_type) == 0 &&
		    strcmp(tariffs[i].season, season) == 0 &&
		    strcmp(tariffs[i].category, category) == 0)
			return tariffs[i].centimes;
	return -1;
}

/* ---- files ---- */

static int path_join(char *buf, size_t n, const char *dir, const char *name)
{
	int len = snprintf(buf, n, "%s/%s", dir, name);

	return len < 0 || (size_t)len >= n ? -1 : 0;
}

static void write_seasons(FILE *f, const char *p)
{
	char a[16], b[16];

	fprintf(f, "[season %s-low1]\nkind = low\nfirst_night = %s\nlast_night = %s\n", p,
	        hx_date(HX_LOW1_FIRST, a, sizeof a), hx_date(HX_LOW1_LAST, b, sizeof b));
	fprintf(f, "min_nights = 2\nmax_nights = 14\n\n");
	fprintf(f, "[season %s-low2]\nkind = low\nfirst_night = %s\nlast_night = %s\n", p,
	        hx_date(HX_LOW2_FIRST, a, sizeof a), hx_date(HX_LOW2_LAST, b, sizeof b));
	fprintf(f, "min_nights = 2\nmax_nights = 14\n\n");
	fprintf(f, "[season %s-high]\nkind = high\nfirst_night = %s\nlast_night = %s\n", p,
	        hx_date(HX_HIGH_FIRST, a, sizeof a), hx_date(HX_HIGH_LAST, b, sizeof b));
	fprintf(f, "rotation_nights = %d\nrotation_start = %s\n\n", HX_ROTATION,
	        hx_date(HX_HIGH_FIRST, a, sizeof a));
}

static void write_tariffs(FILE *f, const char *centre)
{
	size_t i;

	fprintf(f, "[tariffs]\n");
	for (i = 0; i < sizeof tariffs / sizeof tariffs[0]; i++) {
		const struct tariff *t = &tariffs[i];

		if (strcmp(t->centre, centre) != 0)
			continue;
		if (t->centimes % 100 == 0) /* both spellings: "250" and "312.50" */
			fprintf(f, "%s.%s.%s = %" PRId64 "\n", t->unit_type, t->season, t->category,
			        t->centimes / 100);
		else
			fprintf(f, "%s.%s.%s = %" PRId64 ".%02" PRId64 "\n", t->unit_type,
			        t->season, t->category, t->centimes / 100, t->centimes % 100);
	}
}

static int close_file(FILE *f, const char *path)
{
	if (ferror(f) || fclose(f) != 0) {
		fprintf(stderr, "itest: cannot write %s\n", path);
		return -1;
	}
	return 0;
}

static int write_catalog(struct hx *hx)
{
	char path[HX_PATH_MAX], dir[HX_PATH_MAX];
	FILE *f;

	if (path_join(dir, sizeof dir, hx->dir, "centres") != 0 || mkdir(dir, 0700) != 0)
		return -1;
	if (path_join(path, sizeof path, hx->dir, "categories.ini") != 0 ||
	    (f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f, "; test categories\n[category cat-a]\nname_fr = Échelles 1 à 6\n"
	           "name_ar = السلالم من 1 إلى 6\n\n[category retired]\nname_fr = Retraités\n"
	           "name_ar = المتقاعدون\n");
	if (close_file(f, path) != 0)
		return -1;

	if (path_join(path, sizeof path, dir, "test-a.ini") != 0 || (f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f, "[centre]\nid = test-a\nname_fr = Centre Test A\nname_ar = مركز الاختبار أ\n"
	           "number = 11\ncity_fr = Ifrane\ncity_ar = إفران\naddress_fr = 1 avenue des "
	           "Cèdres, Ifrane\n"
	           "address_ar = 1 شارع الأرز، إفران\nphone = +212 500 00 00 00\ncheck_in = "
	           "15:00\ncheck_out = "
	           "11:00\n\n");
	fprintf(f, "[unit_type chalet]\nname_fr = Chalet\nname_ar = شاليه\nmin_guests = 1\n"
	           "max_guests = 4\nunits = A01-A08\n\n");
	fprintf(f, "[unit_type studio]\nname_fr = Studio\nname_ar = استوديو\nmin_guests = 1\n"
	           "max_guests = 2\nunits = S01, S02, S03\n\n");
	write_seasons(f, "a");
	write_tariffs(f, "test-a");
	if (close_file(f, path) != 0)
		return -1;

	if (path_join(path, sizeof path, dir, "test-b.ini") != 0 || (f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f, "[centre]\nid = test-b\nname_fr = Centre Test B\nname_ar = مركز الاختبار ب\n"
	           "number = 12\ncity_fr = Agadir\ncity_ar = أكادير\ncheck_in = 14:00\ncheck_out = "
	           "12:00\n\n");
	fprintf(f, "[unit_type room]\nname_fr = Chambre\nname_ar = غرفة\nmin_guests = 2\n"
	           "max_guests = 3\nunits = R01-R04\n\n");
	write_seasons(f, "b");
	write_tariffs(f, "test-b");
	return close_file(f, path);
}

static int write_config(struct hx *hx, const struct hx_opts *o)
{
	char web[HX_PATH_MAX];
	FILE *f;

	if (path_join(web, sizeof web, hx->dir, "web") != 0 || mkdir(web, 0700) != 0)
		return -1;
	if ((f = fopen(hx->conf, "w")) == NULL)
		return -1;
	fprintf(f,
	        "; integration test server\n[server]\nlisten = 127.0.0.1\nport = 0\nthreads = 4\n"
	        "max_connections = 256\nper_ip_connections = 128\nconnection_timeout = 30s\n"
	        "body_max = %s\nweb_root = %s\n\n",
	        o->body_max ? o->body_max : "64k", web);
	fprintf(f, "[database]\npath = %s\nsynchronous = normal\nbusy_timeout = 5s\n\n", hx->db);
	fprintf(f, "[bookings]\nhold = %s\nsweep_interval = %s\nmax_request_nights = 92\n\n",
	        o->hold ? o->hold : "20m", o->sweep_interval ? o->sweep_interval : "1s");
	fprintf(f, "[sessions]\nidle = %s\nabsolute = %s\n\n", o->idle ? o->idle : "30m",
	        o->absolute ? o->absolute : "12h");
	fprintf(f,
	        "[catalog]\ndir = %s/centres\ncategories = %s/categories.ini\n"
	        "timezone = Africa/Casablanca\n\n[passes]\nkey_dir = %s/keys\n",
	        hx->dir, hx->dir, hx->dir);
	if (o->extra_conf)
		fprintf(f, "\n%s\n", o->extra_conf);
	return close_file(f, hx->conf);
}

static int write_members(struct hx *hx, const char *path)
{
	FILE *f = fopen(path, "w");
	int i;

	if (f == NULL)
		return -1;
	fprintf(f, "member_number,cin,last_name,first_name,last_name_ar,first_name_ar,email,phone,"
	           "status,category,spouse,children\r\n");
	for (i = 1; i <= hx->members; i++) {
		int number = HX_FIRST_MEMBER + i - 1;

		if (number == 200002)
			fprintf(f,
			        "%d,RT%d,\"Retraite, Senior\",Ahmed,المتقاعد,أحمد,m%d@example.ma,"
			        "+212600%d,retired,retired,Fatima,\r\n",
			        number, number, number, number);
		else
			fprintf(f,
			        "%d,TA%d,Tester,Karim,المختبر,كريم,m%d@example.ma,+212600%d,active,"
			        "cat-a,Amina/1982,Youssef/2010;Salma/2013;Omar/2016\r\n",
			        number, number, number, number);
	}
	return close_file(f, path);
}

static int remove_tree(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	char child[HX_PATH_MAX];
	int rc = 0;

	if (lstat(path, &st) != 0)
		return -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (path_join(child, sizeof child, path, e->d_name) != 0 || remove_tree(child) != 0)
			rc = -1;
	}
	closedir(d);
	if (rmdir(path) != 0)
		rc = -1;
	return rc;
}

/* ---- child processes ---- */

static void child_redirect(const char *log, int in_fd)
{
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

	signal(SIGPIPE, SIG_DFL); /* the tests ignore it; the programs get the default */

	if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		_exit(126);
	close(fd);
	if (in_fd < 0)
		in_fd = open("/dev/null", O_RDONLY);
	if (in_fd < 0 || dup2(in_fd, 0) < 0)
		_exit(126);
	close(in_fd);
}

/* Runs estiva-admin with args and the given standard input; returns its exit status or -1. */
static int hx_admin(struct hx *hx, const char *input, char **args)
{
	char *argv[128];
	int p[2], st, n = 0, i;
	pid_t pid;
	FILE *log;

	argv[n++] = hx->admin;
	argv[n++] = "-c";
	argv[n++] = hx->conf;
	for (i = 0; args[i] != NULL && n < 127; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if ((log = fopen(hx->admin_log, "a")) != NULL) {
		fprintf(log, "$ estiva-admin -c CONF");
		for (i = 0; args[i] != NULL; i++)
			fprintf(log, " %s", args[i]);
		fprintf(log, "\n");
		fclose(log);
	}
	if (pipe(p) != 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(p[1]);
		child_redirect(hx->admin_log, p[0]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[0]);
	if (input != NULL && write(p[1], input, strlen(input)) != (ssize_t)strlen(input))
		fprintf(stderr, "itest: short write to estiva-admin\n");
	close(p[1]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(st))
		return -1;
	if (WEXITSTATUS(st) != 0)
		fprintf(stderr, "itest: estiva-admin %s exited %d (see %s)\n", args[0],
		        WEXITSTATUS(st), hx->admin_log);
	return WEXITSTATUS(st);
}

static int read_port(const char *path)
{
	char buf[32];
	ssize_t len;
	long port;
	char *end;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	len = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (len <= 0 || buf[len - 1] != '\n')
		return -1; /* not there yet, or half written */
	buf[len] = '\0';
	errno = 0;
	port = strtol(buf, &end, 10);
	if (errno != 0 || end == buf || *end != '\n' || port <= 0 || port > 65535)
		return -1;
	return (int)port;
}

int hx_start(struct hx *hx)
{
	char *argv[] = {hx->server, "-c", hx->conf, "--port-file", hx->port_file, NULL};
	int waited, st;

	unlink(hx->port_file);
	hx->pid = fork();
	if (hx->pid < 0)
		return -1;
	if (hx->pid == 0) {
		child_redirect(hx->log, -1);
		execv(argv[0], argv);
		_exit(127);
	}
	for (waited = 0; waited < HX_START_TIMEOUT_MS; waited += 20) {
		hx->port = read_port(hx->port_file);
		if (hx->port > 0)
			break;
		if (waitpid(hx->pid, &st, WNOHANG) == hx->pid) {
			fprintf(stderr, "itest: estiva-server exited early (status %d), log %s\n",
			        WIFEXITED(st) ? WEXITSTATUS(st) : -1, hx->log);
			hx->pid = 0;
			return -1;
		}
		hx_sleep_ms(20);
	}
	if (hx->port <= 0) {
		fprintf(stderr, "itest: no port file after %d ms, log %s\n", HX_START_TIMEOUT_MS,
		        hx->log);
		kill(hx->pid, SIGKILL);
		waitpid(hx->pid, &st, 0);
		hx->pid = 0;
		return -1;
	}
	snprintf(hx->url, sizeof hx->url, "http://127.0.0.1:%d", hx->port);
	return 0;
}

int hx_crash(struct hx *hx)
{
	int st;

	if (hx->pid <= 0 || kill(hx->pid, SIGKILL) != 0 || waitpid(hx->pid, &st, 0) != hx->pid)
		return -1;
	hx->pid = 0;
	return 0;
}

int hx_stop(struct hx *hx)
{
	int waited, st;
	pid_t r;

	if (hx->pid <= 0)
		return -1;
	if (kill(hx->pid, SIGTERM) != 0)
		return -1;
	for (waited = 0; waited < HX_STOP_TIMEOUT_MS; waited += 10) {
		r = waitpid(hx->pid, &st, WNOHANG);
		if (r == hx->pid) {
			hx->pid = 0;
			if (WIFEXITED(st))
				return WEXITSTATUS(st);
			fprintf(stderr, "itest: estiva-server died by signal %d\n", WTERMSIG(st));
			return -1;
		}
		hx_sleep_ms(10);
	}
	fprintf(stderr, "itest: estiva-server still running %d ms after SIGTERM\n",
	        HX_STOP_TIMEOUT_MS);
	kill(hx->pid, SIGKILL);
	waitpid(hx->pid, &st, 0);
	hx->pid = 0;
	return -1;
}

static struct hx *hx_new(int argc, char **argv, const struct hx_opts *o)
{
	struct hx *hx = calloc(1, sizeof *hx);
	const char *tmp = getenv("TMPDIR");
	char csv[HX_PATH_MAX], pw[64];
	char(*numbers)[16] = NULL;
	char **args = NULL;
	int i;

	if (hx == NULL)
		return NULL;
	if (argc < 3) {
		fprintf(stderr, "usage: %s ESTIVA-SERVER ESTIVA-ADMIN\n", argv[0]);
		goto fail;
	}
	hx->members = o->members;
	snprintf(hx->server, sizeof hx->server, "%s", argv[1]);
	snprintf(hx->admin, sizeof hx->admin, "%s", argv[2]);
	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	snprintf(hx->dir, sizeof hx->dir, "%s/estiva-itest-XXXXXX", tmp);
	if (mkdtemp(hx->dir) == NULL) {
		fprintf(stderr, "itest: mkdtemp %s: %s\n", hx->dir, strerror(errno));
		goto fail;
	}
	if (path_join(hx->conf, sizeof hx->conf, hx->dir, "estiva-server.conf") != 0 ||
	    path_join(hx->db, sizeof hx->db, hx->dir, "estiva.db") != 0 ||
	    path_join(hx->log, sizeof hx->log, hx->dir, "server.log") != 0 ||
	    path_join(hx->admin_log, sizeof hx->admin_log, hx->dir, "admin.log") != 0 ||
	    path_join(hx->port_file, sizeof hx->port_file, hx->dir, "port") != 0 ||
	    path_join(csv, sizeof csv, hx->dir, "members.csv") != 0)
		goto fail;
	hx_today = time(NULL);
	if (write_catalog(hx) != 0 || write_config(hx, o) != 0 || write_members(hx, csv) != 0) {
		fprintf(stderr, "itest: cannot write the test files in %s\n", hx->dir);
		goto fail;
	}
	if (hx_admin(hx, NULL, (char *[]){"init", NULL}) != 0 ||
	    hx_admin(hx, NULL, (char *[]){"import-members", csv, NULL}) != 0)
		goto fail;

	numbers = calloc((size_t)o->members, sizeof *numbers);
	args = calloc((size_t)o->members + 2, sizeof *args);
	if (numbers == NULL || args == NULL)
		goto fail;
	args[0] = "set-password";
	for (i = 0; i < o->members; i++) {
		hx_member(i + 1, numbers[i], sizeof numbers[i]);
		args[i + 1] = numbers[i];
	}
	snprintf(pw, sizeof pw, "%s\n", HX_PASSWORD);
	if (hx_admin(hx, pw, args) != 0 ||
	    hx_admin(hx, pw,
	             (char *[]){"add-user", HX_MANAGER, "--role", "manager", "--centre", "test-b",
	                        NULL}) != 0 ||
	    hx_admin(hx, pw, (char *[]){"add-user", HX_ADMIN, "--role", "admin", NULL}) != 0)
		goto fail;
	free(numbers);
	free(args);
	return hx;
fail:
	free(numbers);
	free(args);
	if (hx->dir[0] != '\0')
		fprintf(stderr, "itest: setup failed; kept %s (admin log %s)\n", hx->dir,
		        hx->admin_log);
	free(hx);
	return NULL;
}

static void print_tail(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	char(*ring)[1024];
	int n = 0, i;

	if (f == NULL)
		return;
	ring = calloc(HX_LOG_TAIL, sizeof *ring);
	if (ring == NULL) {
		fclose(f);
		return;
	}
	while (fgets(line, sizeof line, f) != NULL)
		snprintf(ring[n++ % HX_LOG_TAIL], sizeof ring[0], "%s", line);
	fclose(f);
	fprintf(stderr, "---- last lines of %s ----\n", path);
	for (i = n > HX_LOG_TAIL ? n - HX_LOG_TAIL : 0; i < n; i++)
		fputs(ring[i % HX_LOG_TAIL], stderr);
	fprintf(stderr, "----\n");
	free(ring);
}

static void hx_free(struct hx *hx, int failed, int keep)
{
	if (hx == NULL)
		return;
	if (hx->pid > 0) {
		int st;

		kill(hx->pid, SIGKILL);
		waitpid(hx->pid, &st, 0);
	}
	if (failed) {
		print_tail(hx->admin_log);
		print_tail(hx->log);
	}
	if (failed || keep) {
		fprintf(stderr, "itest: kept %s; server log %s\n", hx->dir, hx->log);
	} else if (remove_tree(hx->dir) != 0) {
		fprintf(stderr, "itest: could not remove %s\n", hx->dir);
	}
	free(hx);
}

int hx_main(int argc, char **argv, const struct hx_opts *opts, const char *group,
            const struct CMUnitTest *tests, size_t ntests)
{
	int failed, st;

	/* a child that exits before reading its standard input must not kill the test */
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	hx_cur = hx_new(argc, argv, opts);
	if (hx_cur == NULL) {
		curl_global_cleanup();
		return 1;
	}
	if (hx_start(hx_cur) != 0) {
		hx_free(hx_cur, 1, 1);
		curl_global_cleanup();
		return 1;
	}
	failed = _cmocka_run_group_tests(group, tests, ntests, NULL, NULL);
	if (hx_cur->pid > 0) {
		st = hx_stop(hx_cur);
		if (st != 0) {
			fprintf(stderr,
			        "itest: estiva-server exit status %d after SIGTERM, want 0\n", st);
			failed++;
		}
	}
	/* ESTIVA_ITEST_KEEP=1 keeps the folder (logs, database) of a passing run too */
	hx_free(hx_cur, failed != 0, getenv("ESTIVA_ITEST_KEEP") != NULL);
	hx_cur = NULL;
	curl_global_cleanup();
	return failed != 0;
}

/* ---- database ---- */

static sqlite3 *db_open(void)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(hx_db_path(HX), &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		fprintf(stderr, "itest: open %s: %s\n", hx_db_path(HX),
		        db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	if (sqlite3_busy_timeout(db, 5000) != SQLITE_OK) {
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

int hx_db_int(const char *sql, long long *out)
{
	sqlite3 *db = db_open();
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (db == NULL)
		return -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "itest: %s: %s\n", sql, sqlite3_errmsg(db));
		goto out;
	}
	if (sqlite3_step(st) != SQLITE_ROW) {
		fprintf(stderr, "itest: %s: no row (%s)\n", sql, sqlite3_errmsg(db));
		goto out;
	}
	*out = sqlite3_column_int64(st, 0);
	rc = 0;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

int hx_db_text(const char *sql, const char *arg, char *buf, size_t n)
{
	sqlite3 *db = db_open();
	sqlite3_stmt *st = NULL;
	int rc = -1, step;
	const unsigned char *text;

	if (db == NULL)
		return -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "itest: %s: %s\n", sql, sqlite3_errmsg(db));
		goto out;
	}
	if (arg != NULL && sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT) != SQLITE_OK)
		goto out;
	step = sqlite3_step(st);
	if (step == SQLITE_DONE) {
		rc = 1;
		goto out;
	}
	if (step != SQLITE_ROW) {
		fprintf(stderr, "itest: %s: %s\n", sql, sqlite3_errmsg(db));
		goto out;
	}
	text = sqlite3_column_text(st, 0);
	snprintf(buf, n, "%s", text ? (const char *)text : "");
	rc = 0;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

/* ---- HTTP client ---- */

struct buf {
	char *data;
	size_t len, cap;
};

struct hc {
	CURL *h;
	char base[64];
	char csrf[256];
	char url[1024];
	char what[256];
	char *req_body;
	struct curl_slist *hdrs;
	struct buf body;
	struct buf head;
};

static int buf_add(struct buf *b, const char *p, size_t n)
{
	if (b->len + n + 1 > HX_BODY_CAP)
		return -1;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		char *d;

		while (cap < b->len + n + 1)
			cap *= 2;
		if ((d = realloc(b->data, cap)) == NULL)
			return -1;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	return buf_add(ud, p, size * n) == 0 ? size * n : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct buf *b = ud;

	if (size * n >= 5 && memcmp(p, "HTTP/", 5) == 0)
		b->len = 0; /* keep the headers of the final response only (after 100 Continue) */
	return buf_add(b, p, size * n) == 0 ? size * n : 0;
}

#define SETOPT(h, opt, val)                                                                        \
	do {                                                                                       \
		if (curl_easy_setopt((h), (opt), (val)) != CURLE_OK)                               \
			goto fail;                                                                 \
	} while (0)

struct hc *hc_new(const struct hx *hx)
{
	struct hc *c = calloc(1, sizeof *c);

	if (c == NULL)
		return NULL;
	snprintf(c->base, sizeof c->base, "%s", hx_url(hx));
	if ((c->h = curl_easy_init()) == NULL)
		goto fail;
	SETOPT(c->h, CURLOPT_COOKIEFILE, ""); /* own cookie engine, nothing loaded */
	SETOPT(c->h, CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(c->h, CURLOPT_WRITEDATA, &c->body);
	SETOPT(c->h, CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(c->h, CURLOPT_HEADERDATA, &c->head);
	SETOPT(c->h, CURLOPT_NOSIGNAL, 1L);
	SETOPT(c->h, CURLOPT_TIMEOUT, 60L);
	SETOPT(c->h, CURLOPT_CONNECTTIMEOUT, 10L);
	SETOPT(c->h, CURLOPT_PRIVATE, c);
	return c;
fail:
	hc_free(c);
	return NULL;
}

void hc_free(struct hc *c)
{
	if (c == NULL)
		return;
	if (c->h)
		curl_easy_cleanup(c->h);
	curl_slist_free_all(c->hdrs);
	free(c->req_body);
	free(c->body.data);
	free(c->head.data);
	free(c);
}

CURL *hc_handle(struct hc *c)
{
	return c->h;
}

const char *hc_csrf(const struct hc *c)
{
	return c->csrf;
}

void hc_set_csrf(struct hc *c, const char *token)
{
	snprintf(c->csrf, sizeof c->csrf, "%s", token ? token : "");
}

int hc_session_cookie(struct hc *c, char *buf, size_t n)
{
	struct curl_slist *list = NULL, *it;
	int rc = -1;

	if (curl_easy_getinfo(c->h, CURLINFO_COOKIELIST, &list) != CURLE_OK)
		return -1;
	for (it = list; it != NULL; it = it->next) {
		/* Netscape format: domain, tailmatch, path, secure, expires, name, value */
		const char *f = it->data;
		int tab;

		for (tab = 0; tab < 5 && f != NULL; tab++) {
			f = strchr(f, '\t');
			if (f)
				f++;
		}
		if (f && strncmp(f, "estiva_session\t", 15) == 0) {
			snprintf(buf, n, "%s", f + 15);
			rc = 0;
		}
	}
	curl_slist_free_all(list);
	return rc;
}

static int add_header(struct hc *c, const char *name, const char *value)
{
	char line[512];
	struct curl_slist *l;

	snprintf(line, sizeof line, "%s: %s", name, value);
	if (value[0] == '\0')
		snprintf(line, sizeof line, "%s:", name); /* curl: drop the header */
	if ((l = curl_slist_append(c->hdrs, line)) == NULL)
		return -1;
	c->hdrs = l;
	return 0;
}

static int unsafe(const char *method)
{
	return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
	       strcmp(method, "OPTIONS") != 0;
}

int hc_prepare(struct hc *c, const char *method, const char *path, const char *body,
               const struct hreq *rq)
{
	static const struct hreq none;
	const char *csrf;

	if (rq == NULL)
		rq = &none;
	c->body.len = 0;
	c->head.len = 0;
	curl_slist_free_all(c->hdrs);
	c->hdrs = NULL;
	free(c->req_body);
	c->req_body = NULL;
	snprintf(c->url, sizeof c->url, "%s%s", c->base, path);
	snprintf(c->what, sizeof c->what, "%s %s", method, path);

	SETOPT(c->h, CURLOPT_URL, c->url);
	SETOPT(c->h, CURLOPT_HTTPGET, 1L);
	if (body != NULL) {
		if ((c->req_body = strdup(body)) == NULL)
			goto fail;
		SETOPT(c->h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
		SETOPT(c->h, CURLOPT_POSTFIELDS, c->req_body);
		if (add_header(c, "Content-Type",
		               rq->content_type ? rq->content_type : "application/json") != 0)
			goto fail;
	}
	SETOPT(c->h, CURLOPT_CUSTOMREQUEST, method);
	SETOPT(c->h, CURLOPT_NOBODY, strcmp(method, "HEAD") == 0 ? 1L : 0L);
	csrf = rq->csrf ? rq->csrf : (unsafe(method) ? c->csrf : "");
	if (csrf[0] != '\0' && add_header(c, "X-CSRF-Token", csrf) != 0)
		goto fail;
	if (rq->idem && add_header(c, "Idempotency-Key", rq->idem) != 0)
		goto fail;
	if (rq->bearer) {
		char auth[400];

		snprintf(auth, sizeof auth, "Bearer %s", rq->bearer);
		if (add_header(c, "Authorization", auth) != 0)
			goto fail;
	}
	SETOPT(c->h, CURLOPT_HTTPHEADER, c->hdrs);
	SETOPT(c->h, CURLOPT_COOKIE, rq->cookie);
	return 0;
fail:
	return -1;
}

long hc_finish(struct hc *c, CURLcode result, struct hres *out)
{
	long status = 0;

	memset(out, 0, sizeof *out);
	snprintf(out->what, sizeof out->what, "%s", c->what);
	if (result != CURLE_OK) {
		fprintf(stderr, "itest: %s: %s\n", c->what, curl_easy_strerror(result));
	} else if (curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) {
		status = 0;
	}
	out->status = status;
	out->body = c->body.data ? c->body.data : strdup("");
	out->len = c->body.len;
	out->headers = c->head.data ? c->head.data : strdup("");
	c->body.data = NULL;
	c->body.len = c->body.cap = 0;
	c->head.data = NULL;
	c->head.len = c->head.cap = 0;
	if (out->len > 0)
		out->json = json_loadb(out->body, out->len, 0, NULL);
	return status;
}

long hc_do(struct hc *c, const char *method, const char *path, const char *body,
           const struct hreq *rq, struct hres *out)
{
	CURLcode res = CURLE_FAILED_INIT;

	if (hc_prepare(c, method, path, body, rq) == 0)
		res = curl_easy_perform(c->h);
	return hc_finish(c, res, out);
}

long hc_login(struct hc *c, const char *account, const char *password, struct hres *out)
{
	json_t *o = json_pack("{s:s, s:s}", "member", account, "password", password);
	char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	struct hreq rq = {.csrf = ""};
	long st;

	json_decref(o);
	st = hc_do(c, "POST", "/api/v1/session", body ? body : "{}", &rq, out);
	free(body);
	if (st == 200 && jstr(out->json, "csrf_token"))
		hc_set_csrf(c, jstr(out->json, "csrf_token"));
	return st;
}

struct hc *hc_login_ok(const char *account)
{
	struct hc *c = hc_new(HX);
	struct hres r;

	assert_non_null(c);
	hc_login(c, account, HX_PASSWORD, &r);
	EXPECT(r, 200, NULL);
	assert_non_null(jstr(r.json, "csrf_token"));
	hres_free(&r);
	return c;
}

char *hx_booking_body(const char *centre, const char *unit_type, int arrival, int departure,
                      const char *guests)
{
	char a[16], d[16];
	size_t n = strlen(centre) + strlen(unit_type) + strlen(guests) + 128;
	char *s = malloc(n);

	if (s == NULL)
		return NULL;
	snprintf(s, n,
	         "{\"centre\":\"%s\",\"unit_type\":\"%s\",\"arrival\":\"%s\",\"departure\":\"%s\","
	         "\"guests\":%s}",
	         centre, unit_type, hx_date(arrival, a, sizeof a), hx_date(departure, d, sizeof d),
	         guests);
	return s;
}

long hc_book(struct hc *c, const char *centre, const char *unit_type, int arrival, int departure,
             const char *guests, struct hres *out)
{
	char key[64];
	char *body = hx_booking_body(centre, unit_type, arrival, departure, guests);
	struct hreq rq = {.idem = hx_key(key, sizeof key)};
	long st;

	st = hc_do(c, "POST", "/api/v1/bookings", body ? body : "{}", &rq, out);
	free(body);
	return st;
}

void hres_free(struct hres *r)
{
	free(r->body);
	free(r->headers);
	json_decref(r->json);
	memset(r, 0, sizeof *r);
}

int hres_header(const struct hres *r, const char *name, char *buf, size_t n)
{
	const char *p = r->headers;
	size_t nl = strlen(name);

	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		if (len > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			size_t vl = len - nl - 1;

			while (vl > 0 && (*v == ' ' || *v == '\t'))
				v++, vl--;
			while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
				vl--;
			snprintf(buf, n, "%.*s", (int)vl, v);
			return 0;
		}
		p = eol ? eol + 1 : NULL;
	}
	return -1;
}

const char *hres_error(const struct hres *r)
{
	return jstr(r->json, "error.code");
}

/* ---- JSON ---- */

json_t *jget(json_t *o, const char *path)
{
	char part[128];

	while (o != NULL && path != NULL && *path) {
		const char *dot = strchr(path, '.');
		size_t len = dot ? (size_t)(dot - path) : strlen(path);

		if (len >= sizeof part)
			return NULL;
		memcpy(part, path, len);
		part[len] = '\0';
		if (json_is_array(o)) {
			char *end;
			long i = strtol(part, &end, 10);

			if (*end != '\0' || i < 0)
				return NULL;
			o = json_array_get(o, (size_t)i);
		} else {
			o = json_object_get(o, part);
		}
		path = dot ? dot + 1 : NULL;
	}
	return o;
}

const char *jstr(json_t *o, const char *path)
{
	return json_string_value(jget(o, path));
}

int64_t jint(json_t *o, const char *path)
{
	json_t *v = jget(o, path);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : INT64_MIN;
}

json_t *jfind(json_t *o, const char *path, const char *key, const char *value)
{
	json_t *a = jget(o, path), *e;
	size_t i;

	json_array_foreach(a, i, e)
	{
		const char *s = json_string_value(json_object_get(e, key));

		if (s && strcmp(s, value) == 0)
			return e;
	}
	return NULL;
}

/* ---- assertions ---- */

void hx_expect_at(const struct hres *r, long status, const char *code, const char *file, int line)
{
	const char *got = hres_error(r);
	const char *msg = jstr(r->json, "error.message");
	int ok = r->status == status;

	if (ok && status >= 400) {
		/* every error is {"error": {"code", "message"}} */
		ok = got != NULL && msg != NULL && msg[0] != '\0' &&
		     (code == NULL || strcmp(got, code) == 0);
	}
	if (!ok) {
		fprintf(stderr, "%s:%d: %s: expected %ld%s%s, got %ld: %.2000s\n", file, line,
		        r->what, status, code ? " " : "", code ? code : "", r->status,
		        r->body ? r->body : "");
		_fail(file, line);
	}
}

void hx_assert_jstr_at(json_t *o, const char *path, const char *want, const char *file, int line)
{
	const char *got = jstr(o, path);

	if (got == NULL || strcmp(got, want) != 0) {
		char *dump = o ? json_dumps(o, JSON_COMPACT) : NULL;

		fprintf(stderr, "%s:%d: %s: expected \"%s\", got %s%s%s in %.2000s\n", file, line,
		        path, want, got ? "\"" : "", got ? got : "(missing)", got ? "\"" : "",
		        dump ? dump : "(null)");
		free(dump);
		_fail(file, line);
	}
}

void hx_assert_jint_at(json_t *o, const char *path, int64_t want, const char *file, int line)
{
	int64_t got = jint(o, path);

	if (got != want) {
		char *dump = o ? json_dumps(o, JSON_COMPACT) : NULL;

		if (got == INT64_MIN)
			fprintf(stderr, "%s:%d: %s: expected %" PRId64 ", missing in %.2000s\n",
			        file, line, path, want, dump ? dump : "(null)");
		else
			fprintf(stderr,
			        "%s:%d: %s: expected %" PRId64 ", got %" PRId64 " in %.2000s\n",
			        file, line, path, want, got, dump ? dump : "(null)");
		free(dump);
		_fail(file, line);
	}
}

int hx_admin_run(char *out, size_t n, const char *a1, ...)
{
	char *argv[16] = {(char *)hx_admin_path(HX), "-c", (char *)hx_conf_path(HX)};
	int k = 3;
	va_list ap;
	const char *a;

	va_start(ap, a1);
	for (a = a1; a && k < 15; a = va_arg(ap, const char *))
		argv[k++] = (char *)a;
	va_end(ap);
	argv[k] = NULL;
	return hx_exec(argv, NULL, out, n);
}

void hx_db_write(const char *sql)
{
	sqlite3 *db = NULL;
	char *msg = NULL;

	assert_int_equal(sqlite3_open_v2(hx_db_path(HX), &db, SQLITE_OPEN_READWRITE, NULL),
	                 SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg ? msg : "?");
	sqlite3_close(db);
}
