/* main.c: estiva-paysim: read the options (an INI file with -c, then the command line), read the
 * store key and the API password from files only their owner can read, open the database, serve
 * HTTP, deliver callbacks in the background, and stop cleanly on SIGTERM or SIGINT. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "paysim.h"

struct paysim paysim;

/* ---- settings that /sim/control may change ---- */

static pthread_mutex_t settings_lock = PTHREAD_MUTEX_INITIALIZER;
static struct settings current;

void settings_get(struct settings *out)
{
	pthread_mutex_lock(&settings_lock);
	*out = current;
	pthread_mutex_unlock(&settings_lock);
}

void settings_put(const struct settings *in)
{
	pthread_mutex_lock(&settings_lock);
	current = *in;
	pthread_mutex_unlock(&settings_lock);
}

int settings_take_lost_answer(void)
{
	int lost = 0;

	pthread_mutex_lock(&settings_lock);
	if (current.lose_answers > 0) {
		current.lose_answers--;
		lost = 1;
	}
	pthread_mutex_unlock(&settings_lock);
	return lost;
}

int settings_parse_callback(const char *s, struct settings *st)
{
	if (!strcmp(s, "normal"))
		st->cb_mode = CB_NORMAL;
	else if (!strcmp(s, "drop"))
		st->cb_mode = CB_DROP;
	else if (!strcmp(s, "twice"))
		st->cb_mode = CB_TWICE;
	else if (!strncmp(s, "delay=", 6) && parse_int(s + 6, 0, 3600, &st->cb_delay) == 0)
		st->cb_mode = CB_DELAY;
	else
		return -1;
	return 0;
}

void settings_callback_name(const struct settings *st, char *out, size_t len)
{
	static const char *const names[] = {"normal", "drop", "delay", "twice"};

	if (st->cb_mode == CB_DELAY)
		snprintf(out, len, "delay=%d", st->cb_delay);
	else
		snprintf(out, len, "%s", names[st->cb_mode]);
}

/* ---- options ---- */

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: estiva-paysim [-c FILE] [--check-config] [--listen ADDR] [--port N] "
	        "[--port-file PATH]\n"
	        "         --client-id ID --store-key-file FILE --api-user NAME --api-password-file "
	        "FILE\n"
	        "      or --credentials FILE (the server's cmi.ini: [cmi] client_id, store_key, "
	        "api_user,\n"
	        "         api_password; an option given on its own wins)\n"
	        "         [--db PATH|:memory:] [--session-timeout SECONDS]\n"
	        "         [--callback normal|drop|twice|delay=SECONDS] [--callback-retries N]\n"
	        "         [--callback-backoff-ms MS] [--callback-timeout SECONDS] [--api up|down]\n"
	        "       estiva-paysim --help | --version\n"
	        "The card gateway simulator; see docs/paysim.md.\n");
}

/* One setting by its INI name (the command line's --long-name with '-' for '_'). */
static int set_option(struct config *c, const char *name, const char *value, char *why,
                      size_t whylen)
{
	struct {
		const char *name;
		char *dst;
		size_t len;
	} strings[] = {
	    {"listen", c->listen, sizeof(c->listen)},
	    {"port_file", c->port_file, sizeof(c->port_file)},
	    {"client_id", c->client_id, sizeof(c->client_id)},
	    {"store_key_file", c->store_key_file, sizeof(c->store_key_file)},
	    {"api_user", c->api_user, sizeof(c->api_user)},
	    {"api_password_file", c->api_password_file, sizeof(c->api_password_file)},
	    {"db", c->db, sizeof(c->db)},
	    {"credentials", c->credentials, sizeof(c->credentials)},
	};

	for (size_t k = 0; k < sizeof(strings) / sizeof(strings[0]); k++) {
		if (strcmp(name, strings[k].name))
			continue;
		if (!value[0] || strlen(value) >= strings[k].len) {
			snprintf(why, whylen, "%s must be 1 to %zu characters", name,
			         strings[k].len - 1);
			return -1;
		}
		snprintf(strings[k].dst, strings[k].len, "%s", value);
		return 0;
	}
	if (!strcmp(name, "port")) {
		if (parse_int(value, 0, 65535, &c->port) == 0)
			return 0;
		snprintf(why, whylen, "port must be 0 to 65535");
	} else if (!strcmp(name, "session_timeout")) {
		if (parse_int(value, 30, 86400, &c->session_timeout) == 0)
			return 0;
		snprintf(why, whylen, "session_timeout must be 30 to 86400 seconds");
	} else if (!strcmp(name, "callback")) {
		if (settings_parse_callback(value, &c->initial) == 0)
			return 0;
		snprintf(why, whylen,
		         "callback must be normal, drop, twice or delay=SECONDS (0-3600)");
	} else if (!strcmp(name, "callback_retries")) {
		if (parse_int(value, 0, 100, &c->initial.cb_retries) == 0)
			return 0;
		snprintf(why, whylen, "callback_retries must be 0 to 100");
	} else if (!strcmp(name, "callback_backoff_ms")) {
		if (parse_int(value, 0, PAYSIM_BACKOFF_CAP_MS, &c->initial.cb_backoff_ms) == 0)
			return 0;
		snprintf(why, whylen, "callback_backoff_ms must be 0 to %d", PAYSIM_BACKOFF_CAP_MS);
	} else if (!strcmp(name, "callback_timeout")) {
		if (parse_int(value, 1, 600, &c->initial.cb_timeout) == 0)
			return 0;
		snprintf(why, whylen, "callback_timeout must be 1 to 600 seconds");
	} else if (!strcmp(name, "api")) {
		if (!strcmp(value, "up") || !strcmp(value, "down")) {
			c->initial.api_down = !strcmp(value, "down");
			return 0;
		}
		snprintf(why, whylen, "api must be up or down");
	} else {
		snprintf(why, whylen, "unknown setting %s", name);
	}
	return -1;
}

struct ini_ctx {
	struct config *cfg;
	char why[256];
};

static int on_ini(void *user, const char *section, const char *name, const char *value)
{
	struct ini_ctx *ctx = user;

	if (section[0] && strcmp(section, "paysim")) {
		snprintf(ctx->why, sizeof(ctx->why), "unknown section [%s] (use [paysim] or none)",
		         section);
		return 0;
	}
	return set_option(ctx->cfg, name, value, ctx->why, sizeof(ctx->why)) == 0;
}

/* ---- secrets ---- */

/* A regular file that only its owner may read or write (mode 0600 or stricter), opened once so that
 * what is checked is what is read. -1 with err. */
static int open_private(const char *what, const char *path, char *err, size_t errlen)
{
	struct stat stb;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &stb) < 0 || !S_ISREG(stb.st_mode)) {
		snprintf(err, errlen, "%s %s: not a regular file", what, path);
		close(fd);
		return -1;
	}
	if (stb.st_mode & 077) {
		snprintf(err, errlen, "%s %s: mode %04o lets others read it; chmod 600 it", what,
		         path, (unsigned)(stb.st_mode & 07777));
		close(fd);
		return -1;
	}
	return fd;
}

/* The first line of a file that only its owner may read or write (mode 0600 or stricter). */
static int read_secret(const char *what, const char *path, char *out, size_t outlen, char *err,
                       size_t errlen)
{
	ssize_t n;
	size_t len = 0;
	int fd = open_private(what, path, err, errlen);

	if (fd < 0)
		return -1;
	while (len < outlen - 1 && (n = read(fd, out + len, outlen - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	if (len == outlen - 1) {
		snprintf(err, errlen, "%s %s: longer than %zu bytes", what, path, outlen - 2);
		goto fail;
	}
	out[strcspn(out, "\r\n")] = '\0';
	if (!out[0]) {
		snprintf(err, errlen, "%s %s: empty", what, path);
		goto fail;
	}
	close(fd);
	return 0;
fail:
	sodium_memzero(out, outlen);
	close(fd);
	return -1;
}

/* Reads -c FILE first, then lets the command line override it. 0 ok, 2 bad usage or config. */
static int read_options(int argc, char **argv, struct config *c, int *check)
{
	char why[256];

	snprintf(c->listen, sizeof(c->listen), "127.0.0.1");
	c->port = 8090;
	snprintf(c->db, sizeof(c->db), ":memory:");
	c->session_timeout = 900;
	c->initial.cb_mode = CB_NORMAL;
	c->initial.cb_retries = 3;
	c->initial.cb_backoff_ms = 1000;
	c->initial.cb_timeout = 10;

	/* --help and --version before any file is read */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			exit(0);
		}
		if (!strcmp(argv[i], "--version")) {
			printf("estiva-paysim %s\n", ESTIVA_VERSION);
			exit(0);
		}
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-c") && i + 1 < argc) {
			struct ini_ctx ctx = {c, ""};
			int line = ini_parse(argv[i + 1], on_ini, &ctx);

			if (line < 0) {
				fprintf(stderr, "%s: cannot read it\n", argv[i + 1]);
				return 2;
			}
			if (line > 0) {
				fprintf(stderr, "%s:%d: %s\n", argv[i + 1], line,
				        ctx.why[0] ? ctx.why : "syntax error");
				return 2;
			}
		}
	}
	for (int i = 1; i < argc; i++) {
		char name[64];

		if (!strcmp(argv[i], "-c") && i + 1 < argc) {
			i++;
			continue;
		}
		if (!strcmp(argv[i], "--check-config")) {
			*check = 1;
			continue;
		}
		if (strncmp(argv[i], "--", 2) || i + 1 >= argc ||
		    strlen(argv[i]) >= sizeof(name) + 2) {
			usage(stderr);
			return 2;
		}
		snprintf(name, sizeof(name), "%s", argv[i] + 2);
		for (char *p = name; *p; p++)
			if (*p == '-')
				*p = '_';
		if (set_option(c, name, argv[i + 1], why, sizeof(why)) < 0) {
			fprintf(stderr, "estiva-paysim: %s\n", why);
			return 2;
		}
		i++;
	}
	return 0;
}

struct cred_ctx {
	struct config *cfg;
	char why[256];
};

/* The server's credentials file: fills what the options left empty; other sections and names are
 * the server's business and are ignored. */
static int on_cred(void *user, const char *section, const char *name, const char *value)
{
	struct cred_ctx *ctx = user;
	struct {
		const char *name;
		char *dst;
		size_t len;
	} keys[] = {
	    {"client_id", ctx->cfg->client_id, sizeof(ctx->cfg->client_id)},
	    {"api_user", ctx->cfg->api_user, sizeof(ctx->cfg->api_user)},
	    {"store_key", paysim.store_key, sizeof(paysim.store_key)},
	    {"api_password", paysim.api_password, sizeof(paysim.api_password)},
	};

	if (strcmp(section, "cmi"))
		return 1;
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		if (strcmp(name, keys[k].name))
			continue;
		if (!value[0] || strlen(value) >= keys[k].len) {
			snprintf(ctx->why, sizeof(ctx->why), "%s must be 1 to %zu characters", name,
			         keys[k].len - 1);
			return 0;
		}
		if (!keys[k].dst[0]) /* the command line and -c FILE win */
			snprintf(keys[k].dst, keys[k].len, "%s", value);
	}
	return 1;
}

/* The store key and the API password (from their files, else from --credentials), and the client id
 * and API user (from the options, else from --credentials). 0 or 2 (bad configuration). */
static int read_secrets(struct config *c)
{
	char err[1600];

	if (c->store_key_file[0] &&
	    read_secret("store key file", c->store_key_file, paysim.store_key,
	                sizeof(paysim.store_key), err, sizeof(err)) < 0)
		goto fail;
	if (c->api_password_file[0] &&
	    read_secret("API password file", c->api_password_file, paysim.api_password,
	                sizeof(paysim.api_password), err, sizeof(err)) < 0)
		goto fail;
	if (c->credentials[0]) {
		struct cred_ctx ctx = {c, ""};
		int fd = open_private("credentials file", c->credentials, err, sizeof(err)), line;
		FILE *f = fd < 0 ? NULL : fdopen(fd, "r");

		if (fd >= 0 && !f) {
			snprintf(err, sizeof(err), "credentials file %s: %s", c->credentials,
			         strerror(errno));
			close(fd);
		}
		if (!f)
			goto fail;
		line = ini_parse_file(f, on_cred, &ctx);
		fclose(f);
		if (line != 0) {
			snprintf(err, sizeof(err), "%s:%d: %s", c->credentials, line,
			         ctx.why[0] ? ctx.why : "syntax error");
			goto fail;
		}
	}
	if (!c->client_id[0] || !c->api_user[0] || !paysim.store_key[0] ||
	    !paysim.api_password[0]) {
		snprintf(err, sizeof(err),
		         "the client id, the API user, the store key and the API password "
		         "are required (options, or --credentials)");
		goto fail;
	}
	return 0;
fail:
	fprintf(stderr, "estiva-paysim: %s\n", err);
	sodium_memzero(paysim.store_key, sizeof(paysim.store_key));
	sodium_memzero(paysim.api_password, sizeof(paysim.api_password));
	return 2;
}

static int write_port(const char *path, int port)
{
	char tmp[1100];
	FILE *f;

	/* written to a temporary name and renamed, so a reader never sees half a number */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	if (fprintf(f, "%d\n", port) < 0) {
		fclose(f);
		return -1;
	}
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

int main(int argc, char **argv)
{
	struct config *c = &paysim.cfg;
	char err[1600];
	sigset_t set;
	void *d;
	int check = 0, sig = 0, rc;

	rc = read_options(argc, argv, c, &check);
	if (rc)
		return rc;
	if (sodium_init() < 0) {
		fprintf(stderr, "estiva-paysim: libsodium failed to start\n");
		return 1;
	}
	rc = read_secrets(c);
	if (rc)
		return rc;
	if (check) {
		printf("ok\n");
		return 0;
	}
	settings_put(&c->initial);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread inherits it; main waits for them */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_line("libcurl failed to start");
		return 1;
	}
	if (store_open(c->db, err, sizeof(err)) < 0) {
		log_line("database %s", err);
		curl_global_cleanup();
		return 1;
	}
	d = http_start(c, err, sizeof(err));
	if (!d) {
		log_line("%s", err);
		goto fail_store;
	}
	if (c->port_file[0] && write_port(c->port_file, http_port(d)) < 0) {
		log_line("%s: cannot write the port: %s", c->port_file, strerror(errno));
		goto fail_http;
	}
	if (callback_start() < 0) {
		log_line("cannot start the callback thread");
		goto fail_http;
	}
	{
		char cb[32];

		settings_callback_name(&c->initial, cb, sizeof(cb));
		log_line("estiva-paysim listening on http://%s:%d/ (client id %s, database %s, "
		         "callback %s, retries %d,"
		         " api %s)",
		         c->listen, http_port(d), c->client_id, c->db, cb, c->initial.cb_retries,
		         c->initial.api_down ? "down" : "up");
	}
	sigwait(&set, &sig);
	log_line("signal %d: stopping", sig);
	callback_stop(); /* first: a callback in flight is cut short and kept for the next start */
	http_stop(d);
	store_close();
	curl_global_cleanup();
	sodium_memzero(&paysim, sizeof(paysim));
	log_line("stopped");
	return 0;
fail_http:
	http_stop(d);
fail_store:
	store_close();
	curl_global_cleanup();
	return 1;
}
