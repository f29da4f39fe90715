/* main.c: estiva-gate: read the configuration, then either enrol (trade a one-time code for the
 * gate's token), hash a staff PIN, check the configuration, or run: open the store, start the sync
 * thread, the status page and one thread per reader, and stop cleanly on SIGTERM or SIGINT. SIGUSR1
 * asks for a sync now. */
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "conf.h"
#include "date.h"
#include "gate.h"
#include "log.h"

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: estiva-gate [-c FILE] [--port-file PATH] [run]   run the gate (the default)\n"
	    "       estiva-gate [-c FILE] --check-config\n"
	    "       estiva-gate [-c FILE] enroll URL CODE              trade an enrolment code for "
	    "this gate's token\n"
	    "       estiva-gate --help | --version\n"
	    "       estiva-gate hash-pin                               read a staff PIN on "
	    "standard input, print its hash\n"
	    "The configuration defaults to " GATE_DEFAULT_CONFIG "; see estiva-gate(8).\n");
}

static int hash_pin(void)
{
	char pin[256], out[crypto_pwhash_STRBYTES];
	size_t n;

	if (isatty(0))
		fprintf(stderr, "staff PIN (4 to 64 characters), then Enter: ");
	if (!fgets(pin, sizeof(pin), stdin)) {
		fprintf(stderr, "estiva-gate: no PIN on standard input\n");
		return 2;
	}
	pin[strcspn(pin, "\r\n")] = '\0';
	n = strlen(pin);
	if (n < 4 || n > 64) {
		fprintf(stderr, "estiva-gate: a PIN has 4 to 64 characters\n");
		return 2;
	}
	/* argon2id, 8 MiB and 3 passes: a PIN has little entropy whatever the cost, and the gate
	 * keeps its peak memory under 32 MB (the check runs at each login) */
	if (crypto_pwhash_str(out, pin, n, 3, 8 * 1024 * 1024) != 0) {
		fprintf(stderr, "estiva-gate: out of memory\n");
		return 1;
	}
	sodium_memzero(pin, sizeof(pin));
	printf("%s\n", out);
	return 0;
}

static int gate_init(struct gate *g)
{
	pthread_condattr_t ca;

	if (pipe(g->stop_pipe) < 0)
		return -1;
	pthread_mutex_init(&g->lock, NULL);
	pthread_mutex_init(&g->scan_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->wake, &ca);
	pthread_condattr_destroy(&ca);
	g->mono_base = clock_mono();
	return 0;
}

static int run(struct gate *g, const char *port_file)
{
	struct reader_arg args[GATE_READERS_MAX];
	char err[512];
	sigset_t set;
	int sig, rc = 1;
	struct store_counts cnt;

	g->scan_store = store_open(g->cfg.db_path, 1, err, sizeof(err));
	if (!g->scan_store) {
		log_err("%s", err);
		return 1;
	}
	if (gate_load_identity(g, g->scan_store, err, sizeof(err)) < 0 ||
	    gate_reload_keys(g, g->scan_store) < 0) {
		log_err("%s", err);
		goto out;
	}
	if (store_counts(g->scan_store, gate_now(g), &cnt) == 0) {
		g->queue = cnt.queue;
		g->dead = cnt.dead;
		log_info("gate %d of %s (centre %u): %d key(s), %lld pass(es), %lld event(s) "
		         "queued, %lld inside",
		         g->gate_id, g->centre, g->centre_number, g->nkeys, (long long)cnt.passes,
		         (long long)cnt.queue, (long long)cnt.inside);
	}
	if (g->nkeys == 0)
		log_warn("no keys yet: every pass is refused (unknown_key) until the first sync");
	if (g->revoked)
		log_warn("this gate was revoked by the server; it admits until its grace ends");

	/* every thread inherits this mask: signals are taken by sigwait() below */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if (sync_start(g, err, sizeof(err)) < 0 || status_start(g, err, sizeof(err)) < 0) {
		log_err("%s", err);
		goto stop;
	}
	if (port_file && g->http) {
		FILE *f = fopen(port_file, "w");

		if (!f || fprintf(f, "%d\n", g->http_port) < 0 || fclose(f) != 0) {
			log_err("%s: cannot write the port", port_file);
			goto stop;
		}
	}
	for (int i = 0; i < g->cfg.nreaders; i++) {
		args[i].g = g;
		args[i].index = i;
		if (pthread_create(&g->readers[i].thread, NULL,
		                   g->cfg.readers[i].type == READER_QR ? reader_qr_main
		                                                       : reader_nfc_main,
		                   &args[i]) != 0) {
			log_err("cannot start reader %s", g->cfg.readers[i].name);
			goto stop;
		}
		g->readers[i].started = 1;
	}
	log_info("estiva-gate running: %d reader(s), anti-passback %s, grace %d min",
	         g->cfg.nreaders, decide_policy_name(g->cfg.policy), g->cfg.grace_minutes);
	sd_notify(0, "READY=1"); /* Type=notify: readers, sync and status page started */
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGUSR1) {
			pthread_mutex_lock(&g->lock);
			g->sync_now = 1;
			pthread_cond_broadcast(&g->wake);
			pthread_mutex_unlock(&g->lock);
			continue;
		}
		if (sig == SIGHUP)
			continue;
		sd_notify(0, "STOPPING=1");
		log_info("signal %d: stopping", sig);
		break;
	}
	rc = 0;
stop:
	g->stopping = 1;
	if (write(g->stop_pipe[1], "x", 1) < 0)
		log_warn("stop pipe: %s", strerror(errno));
	for (int i = 0; i < g->cfg.nreaders; i++)
		if (g->readers[i].started)
			pthread_join(g->readers[i].thread, NULL);
	status_stop(g);
	sync_stop(g);
out:
	store_close(g->scan_store);
	g->scan_store = NULL;
	return rc;
}

int main(int argc, char **argv)
{
	static struct gate g;
	const char *conf = GATE_DEFAULT_CONFIG, *port_file = NULL, *cmd = "run";
	char err[1024];
	int check = 0, i, rc;

	signal(SIGPIPE, SIG_IGN);
	umask(077);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-c") && i + 1 < argc)
			conf = argv[++i];
		else if (!strcmp(argv[i], "--port-file") && i + 1 < argc)
			port_file = argv[++i];
		else if (!strcmp(argv[i], "--check-config"))
			check = 1;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			printf("estiva-gate %s\n", ESTIVA_VERSION);
			return 0;
		} else
			break;
	}
	if (i < argc)
		cmd = argv[i++];
	if (sodium_init() < 0) {
		fprintf(stderr, "estiva-gate: libsodium failed to start\n");
		return 1;
	}
	if (!strcmp(cmd, "hash-pin") && i == argc)
		return hash_pin();
	if ((strcmp(cmd, "run") || i != argc) && (strcmp(cmd, "enroll") || i + 2 != argc)) {
		usage(stderr);
		return 2;
	}
	if (config_read(conf, &g.cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "estiva-gate: %s\n", err);
		return 2;
	}
	if (check) {
		printf("%s: ok (%d reader(s))\n", conf, g.cfg.nreaders);
		return 0;
	}
	if (g.cfg.log_debug)
		log_set_level(LOG_DEBUG);
	if (gate_init(&g) < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "estiva-gate: cannot start\n");
		return 1;
	}
	if (!strcmp(cmd, "enroll")) {
		rc = sync_enroll(&g, argv[i], argv[i + 1], err, sizeof(err));
		if (rc < 0)
			fprintf(stderr, "estiva-gate: %s\n", err);
		rc = rc < 0 ? 1 : 0;
	} else {
		rc = run(&g, port_file);
	}
	curl_global_cleanup();
	return rc;
}
