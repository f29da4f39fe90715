/* main.c: estiva-server: read the configuration, open and migrate the database, load the catalog,
 * serve HTTP, release expired holds on a timer, and stop cleanly on SIGTERM. */
#include <curl/curl.h>
#include <errno.h>
#include <microhttpd.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "conf.h"
#include "date.h"
#include "log.h"
#include "server.h"

static struct app app;
static pthread_mutex_t stop_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stop_cond = PTHREAD_COND_INITIALIZER;
static int stopping;

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: estiva-server [-c FILE] [--port-file PATH] [--check-config]\n"
	        "       estiva-server --routes | --help | --version\n"
	        "  -c FILE           the configuration (default /etc/estiva/estiva-server.conf)\n"
	        "  --port-file PATH  write the port listened on to PATH once listening\n"
	        "  --check-config    read the configuration, the categories, the centres and the\n"
	        "                    payment credentials; print ok and exit 0, or FILE:LINE: "
	        "problem, exit 2\n"
	        "  --routes          print the route table (METHOD PATTERN WHO CSRF SCOPE a line) "
	        "and exit\n"
	        "See estiva-server(8).\n");
}

/* The timer that releases expired holds even when no request comes. */
/* The worker thread: releases expired holds even when no request comes, and settles with the card
 * gateway what it left open (reconciliation, voids, refunds). */
static void *sweeper(void *arg)
{
	int64_t last_reconcile = 0, last_prune = 0;

	(void)arg;
	pthread_mutex_lock(&stop_lock);
	while (!stopping) {
		struct timespec ts;
		sqlite3 *db;
		int n;

		pthread_mutex_unlock(&stop_lock);
		db = db_thread(&app);
		do {
			n = db ? booking_expire_holds(&app, db, instant_now()) : -1;
			if (n > 0)
				log_info("released %d expired hold(s)", n);
		} while (n == 256);
		if (db && instant_now() / 3600 != last_prune / 3600) {
			last_prune = instant_now();
			passes_prune(&app, db);
		}
		if (db && app.cred &&
		    (atomic_exchange(&app.pay_kick, 0) ||
		     instant_now() - last_reconcile >= app.cfg.pay_reconcile_interval)) {
			last_reconcile = instant_now();
			n = payment_reconcile(&app, db, 0);
			if (n > 0)
				log_info("reconciliation settled %d payment(s) or refund(s)", n);
		}
		pthread_mutex_lock(&stop_lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += app.cfg.sweep_seconds;
		while (!stopping &&
		       pthread_cond_timedwait(&stop_cond, &stop_lock, &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&stop_lock);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *conf = "/etc/estiva/estiva-server.conf", *port_file = NULL;
	char err[1024];
	struct MHD_Daemon *d;
	pthread_t sweep;
	sigset_t set;
	int check = 0, sig = 0;
	sqlite3 *db;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-c") && i + 1 < argc)
			conf = argv[++i];
		else if (!strcmp(argv[i], "--port-file") && i + 1 < argc)
			port_file = argv[++i];
		else if (!strcmp(argv[i], "--check-config"))
			check = 1;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--routes")) {
			return api_routes_print(stdout) < 0 ? 1 : 0;
		} else if (!strcmp(argv[i], "--version")) {
			printf("estiva-server %s\n", ESTIVA_VERSION);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	umask(077); /* the database, its WAL and the port file are ours alone */
	if (config_read(conf, &app.cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	if (sodium_init() <
	    0) { /* before payment_init: it keeps the credentials in sodium_malloc memory */
		fprintf(stderr, "libsodium failed to start\n");
		return 1;
	}
	if (check) {
		struct catalog cat;
		if (catalog_read_files(&app.cfg, &cat, err, sizeof(err)) < 0 ||
		    payment_init(&app, err, sizeof(err)) < 0 ||
		    ((app.cfg.mail_smtp_url[0] || app.cfg.sms_url[0]) &&
		     mail_init(&app, err, sizeof(err)) < 0) ||
		    (app.cfg.tls_cert[0] &&
		     conf_secret_file_ok(app.cfg.tls_key, err, sizeof(err)) < 0)) {
			fprintf(stderr, "%s\n", err);
			return 2;
		}
		catalog_free(&cat);
		payment_free(&app);
		printf("ok\n");
		return 0;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_err("libcurl failed to start");
		return 1;
	}
	setenv("TZ", app.cfg.timezone, 1);
	tzset();
	signal(SIGPIPE, SIG_IGN);
	/* block the stop signals in every thread; the main thread waits for them */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	pthread_mutex_init(&app.write_lock, NULL);
	pthread_mutex_init(&app.conns_lock, NULL);
	pthread_key_create(&app.db_key, NULL);
	db = db_thread(&app);
	if (!db)
		return 1;
	if (db_migrate(db, err, sizeof(err)) < 0 ||
	    catalog_load(db, &app.cat, err, sizeof(err)) < 0) {
		log_err("%s: %s", app.cfg.db_path, err);
		db_close_all(&app);
		return 1;
	}
	if (payment_init(&app, err, sizeof(err)) < 0 ||
	    passes_init(&app, db, err, sizeof(err)) < 0 ||
	    ((app.cfg.mail_smtp_url[0] || app.cfg.sms_url[0]) &&
	     mail_init(&app, err, sizeof(err)) < 0)) {
		log_err("%s", err);
		db_close_all(&app);
		return 1;
	}
	auth_init(&app);
	if (db_checkpointer_start(&app) < 0) {
		log_err("cannot start the checkpoint thread");
		db_close_all(&app);
		return 1;
	}
	d = http_start(&app, err, sizeof(err));
	if (!d) {
		log_err("%s", err);
		db_checkpointer_stop(&app);
		db_close_all(&app);
		return 1;
	}
	if (port_file) {
		FILE *f = fopen(port_file, "w");
		if (!f || fprintf(f, "%d\n", http_port(d)) < 0 || fclose(f) != 0) {
			log_err("%s: cannot write the port", port_file);
			http_stop(d);
			db_close_all(&app);
			return 1;
		}
	}
	log_info("estiva-server listening on %s://%s:%d/ (%d centres, database %s)",
	         app.tls ? "https" : "http", app.cfg.listen, http_port(d), app.cat.ncentres,
	         app.cfg.db_path);
	if (pthread_create(&sweep, NULL, sweeper, NULL) != 0) {
		log_err("cannot start the hold timer");
		http_stop(d);
		db_close_all(&app);
		return 1;
	}
	if (mail_start(&app) < 0)
		log_err("cannot start the mail worker: messages wait in the outbox");
	else if (!app.cfg.mail_smtp_url[0])
		log_info(
		    "mail: [mail] smtp_url is not set; messages to members wait in the outbox");
	sd_notify(
	    0,
	    "READY=1"); /* Type=notify: listening, the hold timer running; no-op outside systemd */
	sigwait(&set, &sig);
	sd_notify(0, "STOPPING=1");
	log_info("signal %d: finishing the requests in flight", sig);
	http_stop(d);
	pthread_mutex_lock(&stop_lock);
	stopping = 1;
	pthread_cond_signal(&stop_cond);
	pthread_mutex_unlock(&stop_lock);
	pthread_join(sweep, NULL);
	mail_stop();
	db_checkpointer_stop(&app);
	db_close_all(&app);
	catalog_free(&app.cat);
	payment_free(&app);
	passes_free(&app);
	curl_global_cleanup();
	log_info("stopped");
	return 0;
}
