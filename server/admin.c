/* admin.c: estiva-admin, the command line of the foundation's staff (see docs/cli.md). */
#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "conf.h"
#include "date.h"
#include "log.h"
#include "server.h"

static void usage_to(FILE *out)
{
	fprintf(
	    out,
	    "usage: estiva-admin [-c FILE] COMMAND\n"
	    "       estiva-admin --help | --version\n"
	    "  init                         create or migrate the database, load the catalog\n"
	    "  catalog                      reload categories and centres from configuration\n"
	    "  import-members FILE.csv      import members (all or nothing)\n"
	    "  set-password ACCOUNT...      password from the first line of standard input\n"
	    "  add-user NAME --role manager|admin [--centre ID]...   password from standard input\n"
	    "  show-booking ID              a booking, its nights and its audit trail\n"
	    "  expire-holds                 release holds that are past their expiry\n"
	    "  confirm ID                   confirm a held booking without online payment (desk, "
	    "tests)\n"
	    "  keys rotate                  make a new pass signing key that signs from now on\n"
	    "  keys list                    the signing keys and until when gates need them\n"
	    "  keys revoke ID               distrust a retired key: its passes are issued again, "
	    "gates drop it\n"
	    "  verify-pass TOKEN            print a pass's fields and whether its signature is "
	    "good\n"
	    "  write-nfc PASS_ID [--device CONNSTRING] [--timeout SECONDS]\n"
	    "                               write a pass to an NFC card (NTAG213/215/216), bound "
	    "to its UID\n"
	    "  gate add --centre ID --name NAME   a new gate and its one-time enrolment code (24 "
	    "h)\n"
	    "  gate revoke ID               end a gate: its token is refused from now on\n"
	    "  gate list                    the gates, their last sync and queue as last reported\n"
	    "  reconcile                    ask the card gateway about every open payment and "
	    "settle it\n"
	    "  payments-report [YYYY-MM-DD] compare the day's payments with the gateway (exit 1 on "
	    "differences)\n"
	    "FILE defaults to /etc/estiva/estiva-server.conf. See estiva-admin(8).\n");
}

static void usage(void)
{
	usage_to(stderr);
}

/* The password from the first line of standard input into out (PASSWORD_MAX + 1 bytes), whole: a
 * longer line is refused, never cut. 0, or -1 after saying why. */
static int read_password(char *out)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, stdin);
	int rc = -1;

	if (n < 0) {
		fprintf(
		    stderr,
		    "estiva-admin: no password on standard input (give it on the first line)\n");
		goto out;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if ((size_t)n > PASSWORD_MAX) {
		fprintf(stderr, "estiva-admin: %s\n", password_refused(line, (size_t)n, NULL));
		goto out;
	}
	memcpy(out, line, (size_t)n);
	out[n] = '\0';
	rc = 0;
out:
	if (line)
		sodium_memzero(line, cap);
	free(line);
	return rc;
}

/* 0 when pw may be account's password, else -1 after saying why */
static int password_ok(const char *pw, const char *account)
{
	const char *why = password_refused(pw, strlen(pw), account);

	if (why)
		fprintf(stderr, "estiva-admin: %s%s%s; no password was changed\n",
		        account ? account : "", account ? ": " : "", why);
	return why ? -1 : 0;
}

static int load_catalog(const struct config *cfg, sqlite3 *db)
{
	struct catalog cat;
	char err[1024];
	int rc;

	if (catalog_read_files(cfg, &cat, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	rc = catalog_store(db, &cat, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "estiva-admin: %s\n", err);
	else
		printf("catalog: %d categories, %d centres\n", cat.ncategories, cat.ncentres);
	catalog_free(&cat);
	return rc < 0 ? 1 : 0;
}

static int import_members(sqlite3 *db, const char *file)
{
	struct catalog cat;
	struct member_row *rows = NULL;
	char err[1024], chunk[8192];
	struct buf text;
	size_t n;
	int nrows = 0, rc = 1;
	FILE *f = fopen(file, "rb");

	if (!f) {
		perror(file);
		return 1;
	}
	buf_init(&text, 64u * 1024 * 1024);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(&text, chunk, n) < 0) {
			fprintf(stderr, "%s: larger than 64 MiB\n", file);
			goto out;
		}
	if (catalog_load(db, &cat, err, sizeof(err)) < 0) {
		fprintf(stderr, "estiva-admin: %s\n", err);
		goto out;
	}
	if (members_csv_parse(file, buf_cstr(&text), text.len, &cat, &rows, &nrows, err,
	                      sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		fprintf(stderr, "estiva-admin: nothing was imported\n");
	} else if (members_import(db, rows, nrows, err, sizeof(err)) < 0) {
		fprintf(stderr, "estiva-admin: %s; nothing was imported\n", err);
	} else {
		printf("imported %d members\n", nrows);
		rc = 0;
	}
	catalog_free(&cat);
out:
	fclose(f);
	free(rows);
	buf_free(&text);
	return rc;
}

static int set_password(sqlite3 *db, char **accounts, int n)
{
	char pw[PASSWORD_MAX + 1], hash[128];
	int rc = 1;

	if (n == 0) {
		usage();
		return 2;
	}
	if (read_password(pw) < 0)
		return 1;
	for (int i = 0; i < n; i++)
		if (password_ok(pw, accounts[i]) < 0)
			goto out;
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	for (int i = 0; i < n; i++) {
		int changed;
		/* each account gets its own salt */
		if (password_hash(pw, hash) < 0)
			goto fail;
		changed = account_set_password(db, accounts[i], hash);
		if (changed < 0)
			goto fail;
		if (!changed) {
			fprintf(stderr,
			        "estiva-admin: no member or user \"%s\"; no password was changed\n",
			        accounts[i]);
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			goto out;
		}
		if (db_audit(db, "estiva-admin", "account.password", accounts[i], 0, NULL, NULL) <
		    0)
			goto fail;
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	printf("password set for %d account(s); their sessions are ended\n", n);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "estiva-admin: %s\n", sqlite3_errmsg(db));
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
out:
	sodium_memzero(pw, sizeof(pw));
	return rc;
}

static int add_user(sqlite3 *db, int argc, char **argv)
{
	const char *name = NULL, *role = NULL, *centres[MAX_CENTRES];
	char pw[PASSWORD_MAX + 1], hash[128];
	sqlite3_stmt *st = NULL;
	int ncentres = 0, rc = 1;
	int64_t id;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--role") && i + 1 < argc)
			role = argv[++i];
		else if (!strcmp(argv[i], "--centre") && i + 1 < argc && ncentres < MAX_CENTRES)
			centres[ncentres++] = argv[++i];
		else if (!name && argv[i][0] != '-')
			name = argv[i];
		else {
			usage();
			return 2;
		}
	}
	if (!name || !role || (strcmp(role, "manager") && strcmp(role, "admin")) ||
	    !conf_valid_id(name, 32)) {
		fprintf(stderr, "estiva-admin: add-user NAME --role manager|admin [--centre ID]... "
		                "(NAME: a-z, 0-9, -)\n");
		return 2;
	}
	if (!strcmp(role, "manager") && ncentres == 0) {
		fprintf(stderr, "estiva-admin: a manager needs at least one --centre\n");
		return 2;
	}
	if (read_password(pw) < 0 || password_ok(pw, name) < 0 || password_hash(pw, hash) < 0)
		goto out;
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
	    !(st = db_stmt(
	          db,
	          "INSERT INTO users(name, role, password_hash) VALUES (?1, ?2, ?3)"
	          " ON CONFLICT(name) DO UPDATE SET role = ?2, password_hash = ?3 RETURNING id")))
		goto fail;
	db_bind_text(st, 1, name, -1, SQLITE_STATIC);
	db_bind_text(st, 2, role, -1, SQLITE_STATIC);
	db_bind_text(st, 3, hash, -1, SQLITE_STATIC);
	if (db_step(st) != SQLITE_ROW)
		goto fail;
	id = sqlite3_column_int64(st, 0);
	db_done(st);
	st = NULL;
	/* saving a user again sets a new password and role: the sessions of the old ones end */
	if (!(st = db_stmt(db, "DELETE FROM sessions WHERE user = ?")))
		goto fail;
	db_bind_int64(st, 1, id);
	if (db_step(st) != SQLITE_DONE)
		goto fail;
	db_done(st);
	st = NULL;
	if (!(st = db_stmt(db, "DELETE FROM user_centres WHERE user = ?")))
		goto fail;
	db_bind_int64(st, 1, id);
	if (db_step(st) != SQLITE_DONE)
		goto fail;
	db_done(st);
	st = NULL;
	if (!(st = db_stmt(
	          db,
	          "INSERT INTO user_centres(user, centre) SELECT ?, id FROM centres WHERE id = ?")))
		goto fail;
	for (int i = 0; i < ncentres; i++) {
		db_bind_int64(st, 1, id);
		db_bind_text(st, 2, centres[i], -1, SQLITE_STATIC);
		if (db_step(st) != SQLITE_DONE)
			goto fail;
		if (sqlite3_changes(db) != 1) {
			fprintf(
			    stderr,
			    "estiva-admin: no centre \"%s\" (run estiva-admin catalog first?)\n",
			    centres[i]);
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			goto out;
		}
		sqlite3_reset(st);
	}
	if (db_audit(db, "estiva-admin", "user.save", "user", id, NULL, role) < 0 ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	printf("user %s (%s) saved\n", name, role);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "estiva-admin: %s\n", sqlite3_errmsg(db));
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
out:
	sodium_memzero(pw, sizeof(pw));
	db_done(st);
	return rc;
}

static int show_booking(struct app *app, sqlite3 *db, const char *ids)
{
	long id;
	json_t *j;
	char *text;
	sqlite3_stmt *st;

	if (conf_parse_long(ids, 1, 1L << 50, &id) < 0) {
		fprintf(stderr, "estiva-admin: booking id must be a number\n");
		return 2;
	}
	j = booking_json(app, db, id);
	if (!j) {
		fprintf(stderr, "estiva-admin: no booking %ld\n", id);
		return 1;
	}
	text = json_dumps(j, JSON_INDENT(2));
	printf("%s\n", text ? text : "?");
	free(text);
	json_decref(j);
	if ((st = db_stmt(db, "SELECT COUNT(*) FROM booking_nights WHERE booking = ?"))) {
		db_bind_int64(st, 1, id);
		if (db_step(st) == SQLITE_ROW)
			printf("nights held in booking_nights: %d\n", sqlite3_column_int(st, 0));
		db_done(st);
	}
	printf("audit:\n");
	if ((st = db_stmt(
	         db, "SELECT at, actor, action, before, after FROM audit WHERE entity = 'booking'"
	             " AND entity_id = ? ORDER BY id"))) {
		db_bind_int64(st, 1, id);
		while (db_step(st) == SQLITE_ROW) {
			char at[INSTANT_STRLEN];
			instant_format(sqlite3_column_int64(st, 0), at);
			printf("  %s %s %s %s -> %s\n", at, sqlite3_column_text(st, 1),
			       sqlite3_column_text(st, 2),
			       sqlite3_column_text(st, 3) ? (const char *)sqlite3_column_text(st, 3)
			                                  : "-",
			       sqlite3_column_text(st, 4) ? (const char *)sqlite3_column_text(st, 4)
			                                  : "-");
		}
		db_done(st);
	}
	return 0;
}

/* init makes the first signing key when there is none */
static int first_key(struct app *app, sqlite3 *db)
{
	sqlite3_stmt *st;
	char err[512];
	int n = 0, id;

	if (!(st = db_stmt(db, "SELECT COUNT(*) FROM signing_keys")))
		return 1;
	if (db_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	db_done(st);
	if (n)
		return 0;
	id = passes_key_rotate(app, db, err, sizeof(err));
	if (id < 0) {
		fprintf(stderr, "estiva-admin: %s\n", err);
		return 1;
	}
	printf("pass signing key %d made in %s\n", id, app->cfg.key_dir);
	return 0;
}

static int list_keys(sqlite3 *db)
{
	sqlite3_stmt *st;

	if (!(st = db_stmt(db, "SELECT id, hex(public_key), created_at, retired_at, "
	                       "last_valid_until FROM signing_keys"
	                       " ORDER BY id")))
		return 1;
	while (db_step(st) == SQLITE_ROW) {
		char created[INSTANT_STRLEN], until[INSTANT_STRLEN];
		instant_format(sqlite3_column_int64(st, 2), created);
		instant_format(sqlite3_column_int64(st, 4) * 60, until);
		printf("key %d  %s  made %s  %s  needed by passes until %s\n",
		       sqlite3_column_int(st, 0), sqlite3_column_text(st, 1), created,
		       sqlite3_column_type(st, 3) == SQLITE_NULL ? "SIGNING" : "retired", until);
	}
	db_done(st);
	return 0;
}

/* Confirms a held booking without online payment: the reception desk's cash payment, and tests. */
static int confirm_booking(struct app *app, sqlite3 *db, const char *ids)
{
	sqlite3_stmt *st;
	long id;
	int rc;
	int64_t now = instant_now();

	if (conf_parse_long(ids, 1, 1L << 50, &id) < 0) {
		fprintf(stderr, "estiva-admin: booking id must be a number\n");
		return 2;
	}
	if (db_begin(app, db) < 0)
		return 1;
	if (!(st = db_stmt(db, "UPDATE bookings SET status = 'confirmed', hold_expires_at = NULL, "
	                       "confirmed_at = ?,"
	                       " updated_at = ? WHERE id = ? AND status = 'held'"))) {
		db_rollback(app, db);
		return 1;
	}
	db_bind_int64(st, 1, now);
	db_bind_int64(st, 2, now);
	db_bind_int64(st, 3, id);
	rc = db_step(st);
	db_done(st);
	if (rc != SQLITE_DONE || sqlite3_changes(db) != 1) {
		db_rollback(app, db);
		fprintf(stderr,
		        "estiva-admin: booking %ld is not held (unknown, already confirmed, "
		        "cancelled or expired)\n",
		        id);
		return 1;
	}
	if (db_audit(db, "estiva-admin", "booking.confirm", "booking", id, "{\"status\":\"held\"}",
	             "{\"status\":\"confirmed\"}") < 0 ||
	    passes_issue(app, db, id) < 0 || receipts_payment(db, id, 0) < 0 ||
	    outbox_booking(app, db, "confirmed", id, NULL) < 0) {
		fprintf(stderr, "estiva-admin: could not issue the passes (is there a signing key? "
		                "estiva-admin keys rotate)\n");
		db_rollback(app, db);
		return 1;
	}
	if (db_commit(app, db) < 0) {
		fprintf(stderr, "estiva-admin: %s\n", sqlite3_errmsg(db));
		return 1;
	}
	printf("booking %ld confirmed\n", id);
	return 0;
}

int main(int argc, char **argv)
{
	const char *conf = "/etc/estiva/estiva-server.conf", *cmd;
	static struct app app;
	char err[1024];
	int i = 1, rc = 1;
	sqlite3 *db;

	if (argc > 2 && !strcmp(argv[1], "-c")) {
		conf = argv[2];
		i = 3;
	}
	if (i >= argc) {
		usage();
		return 2;
	}
	cmd = argv[i++];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) { /* before the configuration is read */
		usage_to(stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version")) {
		printf("estiva-admin %s\n", ESTIVA_VERSION);
		return 0;
	}
	umask(077); /* a database made by estiva-admin is readable by its owner only */
	if (config_read(conf, &app.cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	outbox_sms_enable(app.cfg.sms_url[0] !=
	                  '\0'); /* the desk's confirmations are told by SMS too */
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	setenv("TZ", app.cfg.timezone, 1);
	tzset();
	pthread_mutex_init(&app.write_lock, NULL);
	pthread_mutex_init(&app.conns_lock, NULL);
	pthread_key_create(&app.db_key, NULL);
	db = db_thread(&app);
	if (!db)
		return 1;
	if (db_migrate(db, err, sizeof(err)) < 0) {
		fprintf(stderr, "estiva-admin: %s\n", err);
		goto out;
	}
	if (!strcmp(cmd, "init") || !strcmp(cmd, "catalog")) {
		rc = load_catalog(&app.cfg, db);
		if (rc == 0 && !strcmp(cmd, "init")) {
			printf("database %s at schema version %d\n", app.cfg.db_path,
			       db_schema_version);
			rc = first_key(&app, db);
		}
	} else if (!strcmp(cmd, "import-members") && i + 1 == argc) {
		rc = import_members(db, argv[i]);
	} else if (!strcmp(cmd, "set-password")) {
		rc = set_password(db, argv + i, argc - i);
	} else if (!strcmp(cmd, "add-user")) {
		rc = add_user(db, argc - i, argv + i);
	} else if (!strcmp(cmd, "show-booking") && i + 1 == argc) {
		if (catalog_load(db, &app.cat, err, sizeof(err)) < 0) {
			fprintf(stderr, "estiva-admin: %s\n", err);
			goto out;
		}
		rc = show_booking(&app, db, argv[i]);
		catalog_free(&app.cat);
	} else if (!strcmp(cmd, "expire-holds") && i == argc) {
		int n = booking_expire_holds(&app, db, instant_now());
		if (n >= 0)
			printf("released %d expired hold(s)\n", n);
		rc = n < 0;
	} else if (!strcmp(cmd, "confirm") && i + 1 == argc) {
		if (catalog_load(db, &app.cat, err, sizeof(err)) < 0) {
			fprintf(stderr, "estiva-admin: %s\n", err);
			goto out;
		}
		rc = confirm_booking(&app, db, argv[i]);
		catalog_free(&app.cat);
	} else if (!strcmp(cmd, "keys") && i + 1 == argc && !strcmp(argv[i], "rotate")) {
		int id = passes_key_rotate(&app, db, err, sizeof(err));
		if (id < 0)
			fprintf(stderr, "estiva-admin: %s\n", err);
		else
			printf("signing key %d made; it signs every pass from now on\n", id);
		rc = id < 0;
	} else if (!strcmp(cmd, "keys") && i + 2 == argc && !strcmp(argv[i], "revoke")) {
		long id = 0;
		int n;
		if (conf_parse_long(argv[i + 1], 1, 255, &id) < 0) {
			fprintf(
			    stderr,
			    "estiva-admin: keys revoke ID: a key id from estiva-admin keys list\n");
			rc = 2;
			goto out;
		}
		if (catalog_load(db, &app.cat, err, sizeof(err)) < 0) {
			fprintf(stderr, "estiva-admin: %s\n", err);
			goto out;
		}
		n = passes_key_revoke(&app, db, (int)id, err, sizeof(err));
		catalog_free(&app.cat);
		if (n < 0)
			fprintf(stderr, "estiva-admin: %s\n", err);
		else
			printf("key %ld revoked: %d pass(es) issued again under the current key; "
			       "gates drop the key at"
			       " their next sync\n",
			       id, n);
		rc = n < 0;
	} else if (!strcmp(cmd, "keys") && i + 1 == argc && !strcmp(argv[i], "list")) {
		rc = list_keys(db);
	} else if (!strcmp(cmd, "write-nfc") && i < argc) {
		const char *device = NULL;
		long id = 0, secs = 30;
		int bad = conf_parse_long(argv[i], 1, 1L << 32, &id) < 0;

		for (int k = i + 1; k < argc && !bad; k++) {
			if (!strcmp(argv[k], "--device") && k + 1 < argc)
				device = argv[++k];
			else if (!strcmp(argv[k], "--timeout") && k + 1 < argc)
				bad = conf_parse_long(argv[++k], 1, 3600, &secs) < 0;
			else
				bad = 1;
		}
		if (bad) {
			usage();
			rc = 2;
		} else if (catalog_load(db, &app.cat, err, sizeof(err)) < 0) {
			fprintf(stderr, "estiva-admin: %s\n", err);
		} else {
			rc = passes_write_nfc(&app, db, id, device, (int)secs * 1000, stdout);
			catalog_free(&app.cat);
		}
	} else if (!strcmp(cmd, "verify-pass") && i + 1 == argc) {
		rc = passes_verify_cli(db, argv[i], stdout);
	} else if (!strcmp(cmd, "gate")) {
		rc = gates_cli(&app, db, argc - i, argv + i);
	} else if ((!strcmp(cmd, "reconcile") && i == argc) ||
	           (!strcmp(cmd, "payments-report") && i + 1 >= argc)) {
		int32_t day = date_today_local();
		/* reconciliation may confirm bookings, which issues their passes: it needs the
		 * catalog */
		if (catalog_load(db, &app.cat, err, sizeof(err)) < 0 ||
		    payment_init(&app, err, sizeof(err)) < 0) {
			fprintf(stderr, "estiva-admin: %s\n", err);
			rc = 2;
			goto out;
		}
		if (!app.cred) {
			fprintf(
			    stderr,
			    "estiva-admin: payments are not configured ([payment] credentials)\n");
			rc = 2;
		} else if (!strcmp(cmd, "reconcile")) {
			int n = payment_reconcile(&app, db, 1);
			printf("settled %d payment(s) or refund(s)\n", n < 0 ? 0 : n);
			rc = n < 0;
		} else if (i < argc && date_parse(argv[i], &day) < 0) {
			fprintf(stderr, "estiva-admin: the date must be YYYY-MM-DD\n");
			rc = 2;
		} else {
			rc = payment_report(&app, db, day, stdout);
		}
		payment_free(&app);
		catalog_free(&app.cat);
	} else {
		usage();
		rc = 2;
	}
out:
	db_close_all(&app);
	passes_free(&app);
	curl_global_cleanup();
	return rc;
}
