/* db.c: the database: opening, the schema and its migrations (the one place the schema lives),
 * per-thread connections, and write transactions behind one process-wide writer lock. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "date.h"
#include "log.h"
#include "server.h"

/* Migrations, applied in order; user_version = number applied. Never edit one that has shipped:
 * add a new one. Dates are TEXT "YYYY-MM-DD", nights INTEGER day numbers, instants INTEGER Unix
 * seconds, money INTEGER centimes. */
static const char *migrations[] = {
    /* 1: the foundation: catalog, members, staff, sessions, bookings, audit */
    "CREATE TABLE categories ("
    "  id TEXT PRIMARY KEY,"
    "  name_fr TEXT NOT NULL, name_ar TEXT NOT NULL,"
    "  position INTEGER NOT NULL);"
    "CREATE TABLE centres ("
    "  id TEXT PRIMARY KEY,"
    "  name_fr TEXT NOT NULL, name_ar TEXT NOT NULL,"
    "  city_fr TEXT NOT NULL, city_ar TEXT NOT NULL,"
    "  check_in INTEGER NOT NULL, check_out INTEGER NOT NULL,"
    "  active INTEGER NOT NULL DEFAULT 1);"
    "CREATE TABLE unit_types ("
    "  id INTEGER PRIMARY KEY,"
    "  centre TEXT NOT NULL REFERENCES centres(id),"
    "  code TEXT NOT NULL,"
    "  name_fr TEXT NOT NULL, name_ar TEXT NOT NULL,"
    "  min_guests INTEGER NOT NULL, max_guests INTEGER NOT NULL,"
    "  position INTEGER NOT NULL DEFAULT 0,"
    "  active INTEGER NOT NULL DEFAULT 1,"
    "  UNIQUE (centre, code));"
    "CREATE TABLE units ("
    "  id INTEGER PRIMARY KEY,"
    "  unit_type INTEGER NOT NULL REFERENCES unit_types(id),"
    "  code TEXT NOT NULL,"
    "  active INTEGER NOT NULL DEFAULT 1,"
    "  UNIQUE (unit_type, code));"
    "CREATE TABLE seasons ("
    "  id INTEGER PRIMARY KEY,"
    "  centre TEXT NOT NULL REFERENCES centres(id),"
    "  code TEXT NOT NULL,"
    "  kind TEXT NOT NULL CHECK (kind IN ('low','high')),"
    "  first_night TEXT NOT NULL, last_night TEXT NOT NULL,"
    "  min_nights INTEGER NOT NULL DEFAULT 0, max_nights INTEGER NOT NULL DEFAULT 0,"
    "  rotation_nights INTEGER NOT NULL DEFAULT 0, rotation_start TEXT,"
    "  UNIQUE (centre, code));"
    "CREATE TABLE tariffs ("
    "  unit_type INTEGER NOT NULL REFERENCES unit_types(id),"
    "  season INTEGER NOT NULL REFERENCES seasons(id) ON DELETE CASCADE,"
    "  category TEXT NOT NULL REFERENCES categories(id),"
    "  centimes INTEGER NOT NULL CHECK (centimes >= 0),"
    "  PRIMARY KEY (unit_type, season, category));"
    "CREATE TABLE members ("
    "  id INTEGER PRIMARY KEY,"
    "  number TEXT NOT NULL UNIQUE,"
    "  cin TEXT NOT NULL UNIQUE,"
    "  last_name TEXT NOT NULL, first_name TEXT NOT NULL,"
    "  last_name_ar TEXT NOT NULL, first_name_ar TEXT NOT NULL,"
    "  email TEXT NOT NULL, phone TEXT NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('active','retired')),"
    "  category TEXT NOT NULL REFERENCES categories(id),"
    "  password_hash TEXT);"
    "CREATE TABLE household ("
    "  id INTEGER PRIMARY KEY,"
    "  member INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  relation TEXT NOT NULL CHECK (relation IN ('spouse','child','parent')),"
    "  birth_year INTEGER);"
    "CREATE INDEX household_member ON household(member);"
    "CREATE TABLE users ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  role TEXT NOT NULL CHECK (role IN ('manager','admin')),"
    "  password_hash TEXT);"
    "CREATE TABLE user_centres ("
    "  user INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  centre TEXT NOT NULL REFERENCES centres(id),"
    "  PRIMARY KEY (user, centre));"
    "CREATE TABLE sessions ("
    "  key BLOB PRIMARY KEY," /* BLAKE2b of the cookie's id: a stolen db holds no session */
    "  member INTEGER REFERENCES members(id) ON DELETE CASCADE,"
    "  user INTEGER REFERENCES users(id) ON DELETE CASCADE,"
    "  csrf TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL, seen_at INTEGER NOT NULL,"
    "  CHECK ((member IS NULL) != (user IS NULL)));"
    "CREATE TABLE login_failures ("
    "  key TEXT PRIMARY KEY," /* 'account:NAME' or 'address:IP' */
    "  count INTEGER NOT NULL, last_at INTEGER NOT NULL);"
    "CREATE TABLE bookings ("
    "  id INTEGER PRIMARY KEY,"
    "  member INTEGER NOT NULL REFERENCES members(id),"
    "  centre TEXT NOT NULL REFERENCES centres(id),"
    "  unit_type INTEGER NOT NULL REFERENCES unit_types(id),"
    "  unit INTEGER NOT NULL REFERENCES units(id),"
    "  arrival TEXT NOT NULL, departure TEXT NOT NULL,"
    "  guests TEXT NOT NULL," /* JSON array of {name, relation, birth_year} */
    "  nguests INTEGER NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('held','confirmed','cancelled','expired')),"
    "  hold_expires_at INTEGER,"
    "  amount INTEGER NOT NULL, currency TEXT NOT NULL DEFAULT 'MAD',"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
    "  CHECK (departure > arrival));"
    "CREATE INDEX bookings_member ON bookings(member, departure);"
    "CREATE INDEX bookings_held ON bookings(hold_expires_at) WHERE status = 'held';"
    "CREATE INDEX bookings_centre ON bookings(centre, arrival);"
    /* No oversell, enforced by SQLite: one row per (unit, night) of every held or confirmed
       booking. */
    "CREATE TABLE booking_nights ("
    "  unit INTEGER NOT NULL REFERENCES units(id),"
    "  night INTEGER NOT NULL,"
    "  unit_type INTEGER NOT NULL,"
    "  booking INTEGER NOT NULL REFERENCES bookings(id),"
    "  PRIMARY KEY (unit, night)) WITHOUT ROWID;"
    "CREATE INDEX booking_nights_type ON booking_nights(unit_type, night);"
    "CREATE INDEX booking_nights_booking ON booking_nights(booking);"
    "CREATE TABLE idempotency ("
    "  member INTEGER NOT NULL,"
    "  key TEXT NOT NULL,"
    "  request_hash BLOB NOT NULL,"
    "  status INTEGER NOT NULL, body TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  PRIMARY KEY (member, key));"
    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY,"
    "  at INTEGER NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  entity TEXT NOT NULL, entity_id INTEGER,"
    "  before TEXT, after TEXT);"
    "CREATE INDEX audit_entity ON audit(entity, entity_id);"
    "CREATE TRIGGER audit_append_only_u BEFORE UPDATE ON audit"
    "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "CREATE TRIGGER audit_append_only_d BEFORE DELETE ON audit"
    "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",

    /* 2: payments through the card gateway, and refunds */
    "CREATE TABLE payments ("
    "  id INTEGER PRIMARY KEY,"
    "  booking INTEGER NOT NULL REFERENCES bookings(id),"
    "  oid TEXT NOT NULL UNIQUE," /* the gateway's order id: one per attempt */
    "  amount INTEGER NOT NULL, currency TEXT NOT NULL DEFAULT 'MAD',"
    "  status TEXT NOT NULL CHECK (status IN ('pending','declined','approved','captured',"
    "    'voiding','voided','abandoned')),"
    "  fields TEXT NOT NULL," /* the signed form sent to the gateway (JSON) */
    "  trans_id TEXT, auth_code TEXT, proc_return_code TEXT, masked_pan TEXT, err_msg TEXT,"
    "  callbacks INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE INDEX payments_booking ON payments(booking);"
    "CREATE INDEX payments_open ON payments(status, updated_at);"
    "CREATE TABLE refunds ("
    "  id INTEGER PRIMARY KEY,"
    "  booking INTEGER NOT NULL REFERENCES bookings(id),"
    "  payment INTEGER NOT NULL REFERENCES payments(id),"
    "  amount INTEGER NOT NULL CHECK (amount > 0),"
    "  percent INTEGER NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('requested','succeeded','failed')),"
    "  tries INTEGER NOT NULL DEFAULT 0, last_error TEXT,"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE INDEX refunds_open ON refunds(status);"
    "ALTER TABLE bookings ADD COLUMN confirmed_at INTEGER;",

    /* 3: access passes, their signing keys and revocations */
    "ALTER TABLE centres ADD COLUMN number INTEGER;"
    "CREATE UNIQUE INDEX centres_number ON centres(number) WHERE number IS NOT NULL AND active = 1;"
    "CREATE TABLE signing_keys ("
    "  id INTEGER PRIMARY KEY CHECK (id BETWEEN 1 AND 255),"
    "  public_key BLOB NOT NULL CHECK (length(public_key) = 32),"
    "  created_at INTEGER NOT NULL,"
    "  retired_at INTEGER,"                           /* when a newer key took over signing */
    "  last_valid_until INTEGER NOT NULL DEFAULT 0);" /* minutes: the latest expiry of a pass it
                                                         signed */
    "CREATE TABLE passes ("
    "  id INTEGER PRIMARY KEY,"
    "  booking INTEGER NOT NULL REFERENCES bookings(id),"
    "  guest INTEGER NOT NULL," /* index in the booking's guests */
    "  guest_name TEXT NOT NULL,"
    "  kind INTEGER NOT NULL,"
    "  key_id INTEGER NOT NULL REFERENCES signing_keys(id),"
    "  valid_from INTEGER NOT NULL, valid_until INTEGER NOT NULL," /* minutes since the epoch, UTC
                                                                    */
    "  nfc_uid BLOB,"
    "  token TEXT NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('active','revoked')),"
    "  replaces INTEGER REFERENCES passes(id),"
    "  created_at INTEGER NOT NULL, revoked_at INTEGER);"
    "CREATE INDEX passes_booking ON passes(booking);"
    "CREATE TABLE revocations ("
    "  pass INTEGER PRIMARY KEY REFERENCES passes(id),"
    "  centre TEXT NOT NULL,"
    "  until INTEGER NOT NULL," /* minutes: after this the pass has expired anyway */
    "  revoked_at INTEGER NOT NULL,"
    "  reason TEXT NOT NULL);"
    "CREATE INDEX revocations_centre ON revocations(centre, revoked_at);",

    /* 4: gates, their scans, and the change feed the gates download (docs/sync.md) */
    "CREATE TABLE gates ("
    "  id INTEGER PRIMARY KEY,"
    "  centre TEXT NOT NULL REFERENCES centres(id),"
    "  name TEXT NOT NULL,"
    "  token_hash BLOB UNIQUE," /* BLAKE2b of the gate's bearer token, once enrolled */
    "  code_hash BLOB UNIQUE,"  /* BLAKE2b of the one-time enrolment code, until used */
    "  code_expires_at INTEGER,"
    "  created_at INTEGER NOT NULL, enrolled_at INTEGER, revoked_at INTEGER,"
    "  last_sync_at INTEGER, last_queue INTEGER, last_offset_s INTEGER);"
    /* Scans as the gates recorded them: facts, stored once by the gate's random id, never refused.
     * The download's event cursor is the rowid: events are never deleted. */
    "CREATE TABLE gate_events ("
    "  id TEXT PRIMARY KEY," /* 32 lower-case hex digits, made by the gate */
    "  gate INTEGER NOT NULL REFERENCES gates(id),"
    "  centre TEXT NOT NULL,"
    "  pass INTEGER NOT NULL," /* 0: a manual admission without a pass */
    "  booking INTEGER,"
    "  direction TEXT NOT NULL CHECK (direction IN ('in','out')),"
    "  decision TEXT NOT NULL CHECK (decision IN ('admit','deny','undone','manual')),"
    "  reason TEXT NOT NULL,"
    "  at INTEGER NOT NULL,"  /* the gate's clock */
    "  seq INTEGER NOT NULL," /* the gate's monotonic sequence */
    "  offline INTEGER NOT NULL, manual INTEGER NOT NULL,"
    "  note TEXT NOT NULL DEFAULT '',"
    "  received_at INTEGER NOT NULL,"
    "  conflict INTEGER NOT NULL DEFAULT 0, conflict_reason TEXT);"
    "CREATE INDEX gate_events_centre ON gate_events(centre);" /* (centre, rowid): the download */
    "CREATE INDEX gate_events_pass ON gate_events(pass, at);"
    /* The change feed of passes and revocations: one row per (pass, kind), the latest change; seq
     * only grows and writers are serialised, so a reader always sees a prefix of it. */
    "CREATE TABLE pass_changes ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  pass INTEGER NOT NULL,"
    "  centre TEXT NOT NULL,"
    "  kind TEXT NOT NULL CHECK (kind IN ('pass','revocation')));"
    "CREATE INDEX pass_changes_centre ON pass_changes(centre, seq);"
    "CREATE INDEX pass_changes_pass ON pass_changes(pass, kind);"
    "CREATE TRIGGER pass_changes_latest AFTER INSERT ON pass_changes BEGIN"
    "  DELETE FROM pass_changes WHERE pass = NEW.pass AND kind = NEW.kind AND seq < NEW.seq; END;"
    "CREATE TRIGGER passes_feed_i AFTER INSERT ON passes BEGIN"
    "  INSERT INTO pass_changes(pass, centre, kind)"
    "  SELECT NEW.id, b.centre, 'pass' FROM bookings b WHERE b.id = NEW.booking; END;"
    "CREATE TRIGGER passes_feed_u AFTER UPDATE OF status, token, valid_until, nfc_uid, guest_name, "
    "kind"
    "  ON passes BEGIN"
    "  INSERT INTO pass_changes(pass, centre, kind)"
    "  SELECT NEW.id, b.centre, 'pass' FROM bookings b WHERE b.id = NEW.booking; END;"
    "CREATE TRIGGER revocations_feed AFTER INSERT ON revocations BEGIN"
    "  INSERT INTO pass_changes(pass, centre, kind) VALUES (NEW.pass, NEW.centre, 'revocation'); "
    "END;"
    /* Passes whose stay starts beyond the gates' horizon are fed again when it reaches them: edge
     * is the latest horizon (minutes) already fed (sync.c, horizon_sweep). */
    "CREATE TABLE sync_horizon ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  edge INTEGER NOT NULL);"
    "INSERT INTO sync_horizon(id, edge) VALUES (1, 0);"
    "CREATE INDEX passes_valid_from ON passes(valid_from);"
    "INSERT INTO pass_changes(pass, centre, kind)"
    "  SELECT p.id, b.centre, 'pass' FROM passes p JOIN bookings b ON b.id = p.booking ORDER BY "
    "p.id;"
    "INSERT INTO pass_changes(pass, centre, kind)"
    "  SELECT pass, centre, 'revocation' FROM revocations ORDER BY revoked_at, pass;",

    /* 5: the states payments really pass through (docs/payments.md): refunded in part or in full,
     * and unknown at the gateway; what the gateway says it refunded; how often reconciliation asked
     * in vain; a lease so that one process at a time talks to the gateway about a payment. Refunds
     * a void made needless are superseded. SQLite cannot change a CHECK: both tables are rebuilt
     * (db_migrate runs migrations with foreign keys off and checks them before committing). */
    "CREATE TABLE payments_v5 ("
    "  id INTEGER PRIMARY KEY,"
    "  booking INTEGER NOT NULL REFERENCES bookings(id),"
    "  oid TEXT NOT NULL UNIQUE,"
    "  amount INTEGER NOT NULL, currency TEXT NOT NULL DEFAULT 'MAD',"
    "  status TEXT NOT NULL CHECK (status IN ('pending','declined','approved','captured',"
    "    'voiding','voided','abandoned','refunded_part','refunded','unknown')),"
    "  fields TEXT NOT NULL,"
    "  trans_id TEXT, auth_code TEXT, proc_return_code TEXT, masked_pan TEXT, err_msg TEXT,"
    "  callbacks INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
    "  refunded INTEGER NOT NULL DEFAULT 0 CHECK (refunded >= 0),"
    "  unanswered INTEGER NOT NULL DEFAULT 0,"
    "  lease_until INTEGER NOT NULL DEFAULT 0);"
    "INSERT INTO payments_v5(id, booking, oid, amount, currency, status, fields, trans_id, "
    "auth_code,"
    "  proc_return_code, masked_pan, err_msg, callbacks, created_at, updated_at)"
    "  SELECT id, booking, oid, amount, currency, status, fields, trans_id, auth_code, "
    "proc_return_code,"
    "  masked_pan, err_msg, callbacks, created_at, updated_at FROM payments;"
    "DROP TABLE payments;"
    "ALTER TABLE payments_v5 RENAME TO payments;"
    "CREATE INDEX payments_booking ON payments(booking);"
    "CREATE INDEX payments_open ON payments(status, id);"
    "CREATE TABLE refunds_v5 ("
    "  id INTEGER PRIMARY KEY,"
    "  booking INTEGER NOT NULL REFERENCES bookings(id),"
    "  payment INTEGER NOT NULL REFERENCES payments(id),"
    "  amount INTEGER NOT NULL CHECK (amount > 0),"
    "  percent INTEGER NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('requested','succeeded','failed','superseded')),"
    "  tries INTEGER NOT NULL DEFAULT 0, last_error TEXT,"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "INSERT INTO refunds_v5 SELECT * FROM refunds;"
    "DROP TABLE refunds;"
    "ALTER TABLE refunds_v5 RENAME TO refunds;"
    "CREATE INDEX refunds_open ON refunds(status, id);"
    "CREATE INDEX refunds_payment ON refunds(payment);"
    "UPDATE payments SET refunded = (SELECT COALESCE(SUM(amount), 0) FROM refunds"
    "  WHERE refunds.payment = payments.id AND refunds.status = 'succeeded');",

    /* 6: telling members (docs/mail.md). The outbox: one row per message, written in the same
     * transaction as the change it tells, sent later by the mail worker; its id makes the
     * Message-ID, stable across retries. The member's language (the last chosen on the portal) and
     * whether they want the optional messages. Single-use account tokens (activation, reset, a new
     * e-mail address), stored hashed. */
    "ALTER TABLE members ADD COLUMN locale TEXT CHECK (locale IN ('fr','ar'));"
    "ALTER TABLE members ADD COLUMN reminders INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE centres ADD COLUMN address_fr TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE centres ADD COLUMN address_ar TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE centres ADD COLUMN phone TEXT NOT NULL DEFAULT '';"
    "CREATE TABLE outbox ("
    "  id INTEGER PRIMARY KEY,"
    "  event TEXT NOT NULL,"
    "  member INTEGER REFERENCES members(id),"
    "  booking INTEGER REFERENCES bookings(id),"
    "  channel TEXT NOT NULL DEFAULT 'email' CHECK (channel IN ('email','sms')),"
    "  template TEXT NOT NULL,"
    "  locale TEXT NOT NULL CHECK (locale IN ('fr','ar')),"
    "  recipient TEXT NOT NULL,"
    "  payload TEXT NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued','sent','dead')),"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_at INTEGER NOT NULL,"
    "  last_code INTEGER, last_error TEXT,"
    "  created_at INTEGER NOT NULL, sent_at INTEGER);"
    "CREATE INDEX outbox_due ON outbox(state, next_attempt_at);"
    "CREATE INDEX outbox_booking ON outbox(booking);"
    "CREATE TABLE account_tokens ("
    "  key BLOB PRIMARY KEY,"
    "  member INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,"
    "  purpose TEXT NOT NULL CHECK (purpose IN ('activate','reset','email')),"
    "  detail TEXT,"
    "  created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, used_at INTEGER);"
    "CREATE INDEX account_tokens_member ON account_tokens(member);",

    /* 7: receipts (docs/payments.md): one numbered receipt per payment (online or at the desk)
     * and per refund, numbered without gaps within each year (the number is taken inside the
     * transaction that records the money, so a rollback gives it back). At most one receipt per
     * payment, per refund, and per desk confirmation of a booking. */
    "CREATE TABLE receipts ("
    "  id INTEGER PRIMARY KEY,"
    "  year INTEGER NOT NULL CHECK (year BETWEEN 2000 AND 9999),"
    "  number INTEGER NOT NULL CHECK (number > 0),"
    "  kind TEXT NOT NULL CHECK (kind IN ('payment','refund')),"
    "  booking INTEGER NOT NULL REFERENCES bookings(id),"
    "  payment INTEGER REFERENCES payments(id),"
    "  refund INTEGER REFERENCES refunds(id),"
    "  amount INTEGER NOT NULL CHECK (amount > 0),"
    "  currency TEXT NOT NULL DEFAULT 'MAD',"
    "  created_at INTEGER NOT NULL,"
    "  UNIQUE (year, number),"
    "  CHECK ((kind = 'refund') = (refund IS NOT NULL)));"
    "CREATE INDEX receipts_booking ON receipts(booking);"
    "CREATE UNIQUE INDEX receipts_one_payment ON receipts(payment) WHERE kind = 'payment';"
    "CREATE UNIQUE INDEX receipts_one_refund ON receipts(refund);"
    "CREATE UNIQUE INDEX receipts_one_desk ON receipts(booking) WHERE kind = 'payment' AND "
    "payment IS NULL;"
    "CREATE TRIGGER receipts_no_update BEFORE UPDATE ON receipts"
    "  BEGIN SELECT RAISE(ABORT, 'receipts are never changed'); END;"
    "CREATE TRIGGER receipts_no_delete BEFORE DELETE ON receipts"
    "  BEGIN SELECT RAISE(ABORT, 'receipts are never deleted'); END;",

    /* 8: a reset asked by e-mail finds the member by address without reading the whole table */
    "CREATE INDEX members_email ON members(email);",
};

const int db_schema_version = (int)(sizeof(migrations) / sizeof(migrations[0]));

int db_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_err("sql: %s", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

sqlite3 *db_open(const char *path, int sync_full, int busy_ms, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	char sql[256];

	if (sqlite3_open_v2(path, &db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
		goto fail;
	}
	sqlite3_extended_result_codes(db, 1);
	if (sqlite3_busy_timeout(db, busy_ms) != SQLITE_OK)
		goto sqlfail;
	snprintf(sql, sizeof(sql),
	         "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=%s;"
	         /* reads from a memory map and a bigger page cache instead of a pread per page */
	         " PRAGMA mmap_size=268435456; PRAGMA cache_size=-16384;",
	         sync_full ? "FULL" : "NORMAL");
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		goto sqlfail;
	return db;
sqlfail:
	snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
fail:
	sqlite3_close(db);
	return NULL;
}

static int user_version(sqlite3 *db)
{
	sqlite3_stmt *st;
	int v = -1;

	if (!(st = db_stmt_once(db, "PRAGMA user_version"))) /* the schema changes around it */
		return -1;
	if (db_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	db_done(st);
	return v;
}

/* 1 when PRAGMA foreign_key_check reports a row (or cannot run), else 0 */
static int foreign_keys_broken(sqlite3 *db)
{
	sqlite3_stmt *st;
	int rc;

	if (!(st = db_stmt_once(db, "PRAGMA foreign_key_check")))
		return 1;
	rc = db_step(st);
	db_done(st);
	return rc != SQLITE_DONE;
}

int db_migrate(sqlite3 *db, char *err, size_t errlen)
{
	return db_migrate_to(db, db_schema_version, err, errlen);
}

int db_migrate_to(sqlite3 *db, int target, char *err, size_t errlen)
{
	char sql[64];
	int v;

	/* a migration may rebuild a table others refer to: foreign keys are checked once, before
	 * COMMIT */
	if (sqlite3_exec(db, "PRAGMA foreign_keys=OFF", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		goto sqlfail;
	v = user_version(db);
	if (v < 0)
		goto rollback;
	if (v > db_schema_version) {
		snprintf(err, errlen,
		         "the database has schema version %d, newer than this program's %d", v,
		         db_schema_version);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_exec(db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL);
		return -1;
	}
	for (; v < target && v < db_schema_version; v++) {
		if (sqlite3_exec(db, migrations[v], NULL, NULL, NULL) != SQLITE_OK)
			goto rollback;
		snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", v + 1);
		if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
			goto rollback;
	}
	if (foreign_keys_broken(db)) {
		snprintf(err, errlen,
		         "migration: a row refers to a row that does not exist (PRAGMA "
		         "foreign_key_check)");
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_exec(db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL);
		return -1;
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto rollback;
	if (sqlite3_exec(db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL) != SQLITE_OK)
		goto sqlfail;
	return 0;
rollback:
	snprintf(err, errlen, "migration: %s", sqlite3_errmsg(db));
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_exec(db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL);
	return -1;
sqlfail:
	snprintf(err, errlen, "migration: %s", sqlite3_errmsg(db));
	sqlite3_exec(db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL);
	return -1;
}

#define CKPT_PAGES 1000 /* SQLite's own default threshold */

static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct app *app = arg;

	(void)db;
	(void)name;
	if (pages >= CKPT_PAGES) {
		pthread_mutex_lock(&app->ckpt_lock);
		app->ckpt_wanted = 1;
		pthread_cond_signal(&app->ckpt_cond);
		pthread_mutex_unlock(&app->ckpt_lock);
	}
	return SQLITE_OK;
}

static void *checkpointer(void *arg)
{
	struct app *app = arg;
	sqlite3 *db = db_thread(app);

	pthread_mutex_lock(&app->ckpt_lock);
	while (app->ckpt_running) {
		while (app->ckpt_running && !app->ckpt_wanted)
			pthread_cond_wait(&app->ckpt_cond, &app->ckpt_lock);
		app->ckpt_wanted = 0;
		pthread_mutex_unlock(&app->ckpt_lock);
		/* PASSIVE: copies what it can without blocking writers or readers */
		if (db && sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL,
		                                    NULL) != SQLITE_OK)
			log_warn("checkpoint: %s", sqlite3_errmsg(db));
		pthread_mutex_lock(&app->ckpt_lock);
	}
	pthread_mutex_unlock(&app->ckpt_lock);
	return NULL;
}

int db_checkpointer_start(struct app *app)
{
	pthread_mutex_init(&app->ckpt_lock, NULL);
	pthread_cond_init(&app->ckpt_cond, NULL);
	app->ckpt_running = 1;
	if (pthread_create(&app->ckpt_thread, NULL, checkpointer, app) != 0) {
		app->ckpt_running = 0;
		return -1;
	}
	return 0;
}

void db_checkpointer_stop(struct app *app)
{
	if (!app->ckpt_running)
		return;
	pthread_mutex_lock(&app->ckpt_lock);
	app->ckpt_running = 0;
	pthread_cond_signal(&app->ckpt_cond);
	pthread_mutex_unlock(&app->ckpt_lock);
	pthread_join(app->ckpt_thread, NULL);
}

sqlite3 *db_thread(struct app *app)
{
	sqlite3 *db = pthread_getspecific(app->db_key);
	char err[512];

	if (db)
		return db;
	db = db_open(app->cfg.db_path, app->cfg.sync_full, app->cfg.busy_timeout_ms, err,
	             sizeof(err));
	if (!db) {
		log_err("database: %s", err);
		return NULL;
	}
	pthread_mutex_lock(&app->conns_lock);
	if (app->nconns >= (int)(sizeof(app->conns) / sizeof(app->conns[0]))) {
		pthread_mutex_unlock(&app->conns_lock);
		sqlite3_close(db);
		log_err("database: too many threads");
		return NULL;
	}
	app->conns[app->nconns++] = db;
	pthread_mutex_unlock(&app->conns_lock);
	if (app->ckpt_running)
		sqlite3_wal_hook(db, wal_hook,
		                 app); /* replaces the automatic checkpoint in the commit */
	pthread_setspecific(app->db_key, db);
	return db;
}

/* Prepared statements of the hot paths, kept per thread (each thread has its own connection), keyed
 * by the address of the SQL text: preparing is a third of a booking's CPU time otherwise. */
#define STMT_CACHE 128
static _Thread_local struct {
	sqlite3 *db;
	const char *sql;
	sqlite3_stmt *st;
} stmt_cache[STMT_CACHE];

sqlite3_stmt *db_stmt_once(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;

	return sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK ? st : NULL;
}

sqlite3_stmt *db_stmt(sqlite3 *db, const char *sql)
{
	int free_slot = -1;

	for (int i = 0; i < STMT_CACHE; i++) {
		if (stmt_cache[i].sql == sql && stmt_cache[i].db == db) {
			sqlite3_reset(stmt_cache[i].st);
			sqlite3_clear_bindings(stmt_cache[i].st);
			return stmt_cache[i].st;
		}
		if (!stmt_cache[i].sql && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0) {
		return db_stmt_once(
		    db, sql); /* full: not cached; the caller's db_done() finalizes it */
	}
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_cache[free_slot].st,
	                       NULL) != SQLITE_OK)
		return NULL;
	stmt_cache[free_slot].db = db;
	stmt_cache[free_slot].sql = sql;
	return stmt_cache[free_slot].st;
}

void db_done(sqlite3_stmt *st)
{
	for (int i = 0; i < STMT_CACHE; i++) {
		if (stmt_cache[i].st == st) {
			sqlite3_reset(st);
			return;
		}
	}
	sqlite3_finalize(st);
}

void db_close(sqlite3 *db)
{
	sqlite3_stmt *st;

	if (!db)
		return;
	/* every statement of it, cached or not (the other threads' caches: they have stopped by
	 * now) */
	while ((st = sqlite3_next_stmt(db, NULL)))
		sqlite3_finalize(st);
	/* and this thread's cache forgets them: a database opened later at the same address must
	 * not find them */
	for (int k = 0; k < STMT_CACHE; k++)
		if (stmt_cache[k].db == db)
			memset(&stmt_cache[k], 0, sizeof(stmt_cache[k]));
	if (sqlite3_close(db) != SQLITE_OK)
		log_warn("database: close: %s", sqlite3_errmsg(db));
}

void db_close_all(struct app *app)
{
	pthread_mutex_lock(&app->conns_lock);
	for (int i = 0; i < app->nconns; i++)
		db_close(app->conns[i]);
	app->nconns = 0;
	pthread_mutex_unlock(&app->conns_lock);
}

int db_begin(struct app *app, sqlite3 *db)
{
	int rc;

	pthread_mutex_lock(&app->write_lock);
	/* Other processes (estiva-admin) may hold the write lock; busy_timeout waits for them, and
	 * we count each time that was needed. */
	for (int tries = 0; tries < 3; tries++) {
		rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			return 0;
		if ((rc & 0xff) != SQLITE_BUSY)
			break;
		atomic_fetch_add(&app->metrics.db_busy_retries, 1);
	}
	log_err("database: begin: %s", sqlite3_errmsg(db));
	pthread_mutex_unlock(&app->write_lock);
	return -1;
}

int db_commit(struct app *app, sqlite3 *db)
{
	int rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);

	if (rc != SQLITE_OK) {
		log_err("database: commit: %s", sqlite3_errmsg(db));
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		pthread_mutex_unlock(&app->write_lock);
		return -1;
	}
	pthread_mutex_unlock(&app->write_lock);
	return 0;
}

void db_rollback(struct app *app, sqlite3 *db)
{
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_unlock(&app->write_lock);
}

int db_audit(sqlite3 *db, const char *actor, const char *action, const char *entity,
             int64_t entity_id, const char *before, const char *after)
{
	static const char sql[] =
	    "INSERT INTO audit(at, actor, action, entity, entity_id, before, after)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?)";
	sqlite3_stmt *st = db_stmt(db, sql);
	int rc;

	if (!st)
		return -1;
	db_bind_int64(st, 1, instant_now());
	db_bind_text(st, 2, actor, -1, SQLITE_STATIC);
	db_bind_text(st, 3, action, -1, SQLITE_STATIC);
	db_bind_text(st, 4, entity, -1, SQLITE_STATIC);
	if (entity_id)
		db_bind_int64(st, 5, entity_id);
	else
		db_bind_null(st, 5);
	db_bind_text(st, 6, before, -1, SQLITE_STATIC);
	db_bind_text(st, 7, after, -1, SQLITE_STATIC);
	rc = db_step(st);
	db_done(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- columns as JSON ---- */

json_t *json_instant(int64_t t)
{
	char s[INSTANT_STRLEN];

	instant_format(t, s);
	return json_string(s);
}

json_t *json_instant_col(sqlite3_stmt *st, int col, int64_t scale)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return json_null();
	return json_instant(sqlite3_column_int64(st, col) * scale);
}

json_t *json_int_col(sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return json_null();
	return json_integer(sqlite3_column_int64(st, col));
}
