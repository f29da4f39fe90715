/* passes.c: access passes: the signing keys and their rotation, one signed pass per guest when a
 * booking is confirmed (in the same transaction), revocation on cancellation and re-issue, the pass
 * API, the QR images and the printable page. The pass format itself is shared/pass.c
 * (docs/pass-format.md). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "date.h"
#include "log.h"
#include "nfctag.h"
#include "pass.h"
#include "server.h"
#include "web.h"

/* ---- keys ---- */

static void key_path(const struct app *app, int id, char *out, size_t len)
{
	snprintf(out, len, "%s/pass-signing-%d.key", app->cfg.key_dir, id);
}

/* Loads the secret key `id` (hex, 64 bytes) into locked memory. */
static int key_load(struct app *app, int id, char *err, size_t errlen)
{
	char path[4200], hex[2 * crypto_sign_SECRETKEYBYTES + 8];
	unsigned char *sk = NULL;
	size_t n = 0;
	FILE *f = NULL;
	int rc = -1;

	key_path(app, id, path, sizeof(path));
	if (conf_secret_file_ok(path, err, errlen) < 0)
		return -1;
	sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	f = fopen(path, "r");
	if (!sk || !f || !fgets(hex, sizeof(hex), f)) {
		snprintf(err, errlen, "%s: cannot read the signing key", path);
		goto out;
	}
	hex[strcspn(hex, "\r\n")] = '\0';
	if (sodium_hex2bin(sk, crypto_sign_SECRETKEYBYTES, hex, strlen(hex), NULL, &n, NULL) != 0 ||
	    n != crypto_sign_SECRETKEYBYTES) {
		snprintf(err, errlen, "%s: not a signing key (128 hex digits)", path);
		goto out;
	}
	if (app->sign_sk)
		sodium_free(app->sign_sk);
	app->sign_sk = sk;
	app->sign_key_id = id;
	sk = NULL;
	rc = 0;
out:
	sodium_memzero(hex, sizeof(hex));
	if (f)
		fclose(f);
	if (sk)
		sodium_free(sk);
	return rc;
}

/* The key that signs now is the newest one not retired; reloaded when estiva-admin rotated it. */
static int key_current(struct app *app, sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int id = 0;

	if (!(st = db_stmt(db, "SELECT MAX(id) FROM signing_keys WHERE retired_at IS NULL")))
		return -1;
	if (db_step(st) == SQLITE_ROW)
		id = sqlite3_column_int(st, 0);
	db_done(st);
	if (!id) {
		snprintf(err, errlen, "no signing key: run estiva-admin keys rotate");
		return -1;
	}
	if (id != app->sign_key_id && key_load(app, id, err, errlen) < 0)
		return -1;
	return id;
}

int passes_init(struct app *app, sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int any = 0;

	if (passes_check_key_files(app, err, errlen) < 0)
		return -1;

	if (!(st = db_stmt(db, "SELECT COUNT(*) FROM signing_keys WHERE retired_at IS NULL")))
		return -1;
	if (db_step(st) == SQLITE_ROW)
		any = sqlite3_column_int(st, 0);
	db_done(st);
	if (!any) {
		log_warn("no pass signing key yet: confirmations will fail until estiva-admin keys "
		         "rotate");
		return 0;
	}
	return key_current(app, db, err, errlen) < 0 ? -1 : 0;
}

void passes_free(struct app *app)
{
	if (app->sign_sk)
		sodium_free(app->sign_sk);
	app->sign_sk = NULL;
	app->sign_key_id = 0;
}

int passes_key_rotate(struct app *app, sqlite3 *db, char *err, size_t errlen)
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES],
	    *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	char path[4200], hex[2 * crypto_sign_SECRETKEYBYTES + 1];
	sqlite3_stmt *st = NULL;
	int id = 0, fd = -1;
	int64_t now = instant_now();

	if (!sk) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (mkdir(app->cfg.key_dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", app->cfg.key_dir, strerror(errno));
		goto fail;
	}
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
	    !(st = db_stmt(db, "SELECT COALESCE(MAX(id), 0) + 1 FROM signing_keys")) ||
	    db_step(st) != SQLITE_ROW)
		goto sqlfail;
	id = sqlite3_column_int(st, 0);
	db_done(st);
	st = NULL;
	if (id > 255) {
		snprintf(err, errlen, "key ids 1-255 are used up");
		goto rollback;
	}
	crypto_sign_keypair(pk, sk);
	sodium_bin2hex(hex, sizeof(hex), sk, crypto_sign_SECRETKEYBYTES);
	key_path(app, id, path, sizeof(path));
	/* the secret first, readable by its owner only; the database row makes it the signing key
	 */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, hex, strlen(hex)) != (ssize_t)strlen(hex) ||
	    write(fd, "\n", 1) != 1 || fsync(fd) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			unlink(path);
		goto rollback;
	}
	if (!(st = db_stmt(db, "UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL")))
		goto sqlfail;
	db_bind_int64(st, 1, now);
	if (db_step(st) != SQLITE_DONE)
		goto sqlfail;
	db_done(st);
	if (!(st = db_stmt(
	          db, "INSERT INTO signing_keys(id, public_key, created_at) VALUES (?, ?, ?)")))
		goto sqlfail;
	db_bind_int(st, 1, id);
	db_bind_blob(st, 2, pk, sizeof(pk), SQLITE_STATIC);
	db_bind_int64(st, 3, now);
	if (db_step(st) != SQLITE_DONE)
		goto sqlfail;
	db_done(st);
	st = NULL;
	if (db_audit(db, "estiva-admin", "keys.rotate", "signing_key", id, NULL, NULL) < 0 ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		unlink(path);
		goto sqlfail;
	}
	close(fd);
	/* the retired keys sign nothing any more: their secrets leave key_dir (the public halves
	 * stay in the database, published while passes they signed are valid) */
	for (int old = 1; old < id; old++) {
		char oldpath[4200];
		key_path(app, old, oldpath, sizeof(oldpath));
		if (unlink(oldpath) < 0 && errno != ENOENT)
			log_warn("%s: %s (delete it by hand)", oldpath, strerror(errno));
	}
	sodium_memzero(hex, sizeof(hex));
	sodium_free(sk);
	return id;
sqlfail:
	snprintf(err, errlen, "keys: %s", sqlite3_errmsg(db));
rollback:
	db_done(st);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
fail:
	if (fd >= 0)
		close(fd);
	sodium_memzero(hex, sizeof(hex));
	sodium_free(sk);
	return -1;
}

int passes_prune(struct app *app, sqlite3 *db)
{
	sqlite3_stmt *st;
	int64_t now_min = instant_now() / 60;
	int n = 0;

	if (db_begin(app, db) < 0)
		return -1;
	if (!(st = db_stmt(db, "DELETE FROM revocations WHERE until < ?")))
		goto fail;
	db_bind_int64(st, 1, now_min);
	if (db_step(st) != SQLITE_DONE) {
		db_done(st);
		goto fail;
	}
	n = sqlite3_changes(db);
	db_done(st);
	if (db_commit(app, db) < 0)
		return -1;
	return n;
fail:
	db_rollback(app, db);
	return -1;
}

/* ---- issuing and revoking ---- */

/* Local date and minutes after midnight (the catalog's time zone) to UTC minutes since the epoch.
 */
static int64_t local_minutes(int32_t day, int minutes)
{
	struct tm tm = {0};
	int y;
	unsigned m, d;

	date_to_civil(day, &y, &m, &d);
	tm.tm_year = y - 1900;
	tm.tm_mon = (int)m - 1;
	tm.tm_mday = (int)d;
	tm.tm_hour = minutes / 60;
	tm.tm_min = minutes % 60;
	tm.tm_isdst = -1;
	return (int64_t)mktime(&tm) / 60;
}

/* Signs and stores one pass; *id gets its id. Inside a transaction. */
static int issue_one(struct app *app, sqlite3 *db, int64_t booking, int guest, const char *name,
                     const struct centre *c, int64_t from, int64_t until, int64_t replaces,
                     int64_t *id)
{
	struct pass p;
	sqlite3_stmt *st = NULL;
	char token[PASS_TEXT_MAX + 1];
	int64_t now = instant_now();

	if (!(st = db_stmt(db, "INSERT INTO passes(booking, guest, guest_name, kind, key_id, "
	                       "valid_from, valid_until, token,"
	                       " status, replaces, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, '', "
	                       "'active', ?, ?) RETURNING id")))
		return -1;
	db_bind_int64(st, 1, booking);
	db_bind_int(st, 2, guest);
	db_bind_text(st, 3, name, -1, SQLITE_STATIC);
	db_bind_int(st, 4, PASS_KIND_GUEST);
	db_bind_int(st, 5, app->sign_key_id);
	db_bind_int64(st, 6, from);
	db_bind_int64(st, 7, until);
	if (replaces)
		db_bind_int64(st, 8, replaces);
	else
		db_bind_null(st, 8);
	db_bind_int64(st, 9, now);
	if (db_step(st) != SQLITE_ROW) {
		db_done(st);
		return -1;
	}
	*id = sqlite3_column_int64(st, 0);
	db_done(st);
	if (*id > UINT32_MAX || booking > UINT32_MAX)
		return -1;
	memset(&p, 0, sizeof(p));
	p.version = PASS_VERSION;
	p.key_id = (uint8_t)app->sign_key_id;
	p.pass_id = (uint32_t)*id;
	p.booking_id = (uint32_t)booking;
	p.centre = (uint16_t)c->number;
	p.guest = (uint8_t)guest;
	p.kind = PASS_KIND_GUEST;
	p.valid_from = (uint32_t)from;
	p.valid_until = (uint32_t)until;
	if (pass_sign_text(&p, app->sign_sk, token, sizeof(token)) != PASS_OK)
		return -1;
	if (!(st = db_stmt(db, "UPDATE passes SET token = ? WHERE id = ?")))
		return -1;
	db_bind_text(st, 1, token, -1, SQLITE_STATIC);
	db_bind_int64(st, 2, *id);
	if (db_step(st) != SQLITE_DONE) {
		db_done(st);
		return -1;
	}
	db_done(st);
	/* the public key must stay on the gates until this pass has expired */
	if (!(st = db_stmt(db, "UPDATE signing_keys SET last_valid_until = MAX(last_valid_until, "
	                       "?) WHERE id = ?")))
		return -1;
	db_bind_int64(st, 1, until);
	db_bind_int(st, 2, app->sign_key_id);
	if (db_step(st) != SQLITE_DONE) {
		db_done(st);
		return -1;
	}
	db_done(st);
	return 0;
}

struct booking_info {
	const struct centre *c;
	int32_t arrival, departure;
	json_t *guests;
	int64_t member;
	char status[16];
	char unit[UNIT_CODE_MAX + 1];
};

static int booking_info(struct app *app, sqlite3 *db, int64_t booking, struct booking_info *bi)
{
	sqlite3_stmt *st;
	int rc = -1, ci;

	memset(bi, 0, sizeof(*bi));
	if (!(st = db_stmt(db, "SELECT b.centre, b.arrival, b.departure, b.guests, b.member, "
	                       "b.status, u.code FROM bookings b"
	                       " JOIN units u ON u.id = b.unit WHERE b.id = ?")))
		return -1;
	db_bind_int64(st, 1, booking);
	if (db_step(st) == SQLITE_ROW) {
		ci = catalog_centre(&app->cat, (const char *)sqlite3_column_text(st, 0));
		if (ci >= 0 &&
		    date_parse((const char *)sqlite3_column_text(st, 1), &bi->arrival) == 0 &&
		    date_parse((const char *)sqlite3_column_text(st, 2), &bi->departure) == 0) {
			bi->c = app->cat.centres[ci];
			bi->guests = json_loads((const char *)sqlite3_column_text(st, 3), 0, NULL);
			bi->member = sqlite3_column_int64(st, 4);
			snprintf(bi->status, sizeof(bi->status), "%s",
			         (const char *)sqlite3_column_text(st, 5));
			snprintf(bi->unit, sizeof(bi->unit), "%s",
			         (const char *)sqlite3_column_text(st, 6));
			rc = bi->guests && json_is_array(bi->guests) ? 0 : -1;
		}
	} else {
		rc = 0; /* no such booking: bi->c stays NULL */
	}
	db_done(st);
	return rc;
}

int passes_issue(struct app *app, sqlite3 *db, int64_t booking)
{
	struct booking_info bi;
	char err[512];
	json_t *g;
	size_t i;
	int64_t id, from, until;

	if (booking_info(app, db, booking, &bi) < 0 || !bi.c)
		goto fail;
	if (!bi.c->number) {
		log_err("passes: centre %s has no number in its configuration", bi.c->id);
		goto fail;
	}
	if (key_current(app, db, err, sizeof(err)) < 0) {
		log_err("passes: %s", err);
		goto fail;
	}
	from = local_minutes(bi.arrival, bi.c->check_in);
	until = local_minutes(bi.departure, bi.c->check_out);
	json_array_foreach(bi.guests, i, g)
	{
		const char *name = json_string_value(json_object_get(g, "name"));
		if (issue_one(app, db, booking, (int)i, name ? name : "?", bi.c, from, until, 0,
		              &id) < 0)
			goto fail;
	}
	json_decref(bi.guests);
	return 0;
fail:
	json_decref(bi.guests);
	return -1;
}

static int revoke_where(sqlite3 *db, const char *where, int64_t key, const char *reason)
{
	sqlite3_stmt *st;
	char sql[512];
	int64_t now = instant_now();
	int rc;

	snprintf(sql, sizeof(sql),
	         "INSERT INTO revocations(pass, centre, until, revoked_at, reason)"
	         " SELECT p.id, b.centre, p.valid_until, ?, ? FROM passes p JOIN bookings b ON "
	         "b.id = p.booking"
	         " WHERE p.status = 'active' AND %s",
	         where);
	if (!(st = db_stmt_once(db, sql))) /* built here: not cached */
		return -1;
	db_bind_int64(st, 1, now);
	db_bind_text(st, 2, reason, -1, SQLITE_STATIC);
	db_bind_int64(st, 3, key);
	rc = db_step(st);
	db_done(st);
	if (rc != SQLITE_DONE)
		return -1;
	snprintf(sql, sizeof(sql),
	         "UPDATE passes AS p SET status = 'revoked', revoked_at = ? WHERE p.status = "
	         "'active' AND %s",
	         where);
	if (!(st = db_stmt_once(db, sql))) /* built here: not cached */
		return -1;
	db_bind_int64(st, 1, now);
	db_bind_int64(st, 2, key);
	rc = db_step(st);
	db_done(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int passes_revoke_booking(sqlite3 *db, int64_t booking, const char *reason)
{
	return revoke_where(db, "p.booking = ?", booking, reason);
}

/* ---- the API ---- */

/* May the caller see this booking? (someone else's is "not found") */
static int may_see_booking(struct app *app, const struct request *rq, const struct booking_info *bi)
{
	return bi->c && auth_may_see(&rq->who, bi->member, catalog_centre(&app->cat, bi->c->id));
}

static json_t *pass_json(sqlite3_stmt *st)
{
	/* columns: id, guest, guest_name, kind, valid_from, valid_until, token, status */
	char from[INSTANT_STRLEN], until[INSTANT_STRLEN], png[64], svg[64];
	int64_t id = sqlite3_column_int64(st, 0);
	int kind = sqlite3_column_int(st, 3);

	instant_format(sqlite3_column_int64(st, 4) * 60, from);
	instant_format(sqlite3_column_int64(st, 5) * 60, until);
	snprintf(png, sizeof(png), "/api/v1/passes/%lld.png", (long long)id);
	snprintf(svg, sizeof(svg), "/api/v1/passes/%lld.svg", (long long)id);
	return json_pack("{s:I,s:i,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "id", (json_int_t)id, "guest",
	                 sqlite3_column_int(st, 1), "guest_name", sqlite3_column_text(st, 2),
	                 "kind", pass_kind_name(kind), "valid_from", from, "valid_until", until,
	                 "token", sqlite3_column_text(st, 6), "status", sqlite3_column_text(st, 7),
	                 "png", png, "svg", svg);
}

int passes_list(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	struct booking_info bi = {0};
	sqlite3_stmt *st;
	json_t *list;
	int64_t booking = rq->id;

	if (!db || booking_info(app, db, booking, &bi) < 0 || !may_see_booking(app, rq, &bi)) {
		json_decref(bi.guests);
		return reply_error(rp, 404, "not_found", "no such booking");
	}
	json_decref(bi.guests);
	if (!(st = db_stmt(db, "SELECT id, guest, guest_name, kind, valid_from, valid_until, "
	                       "token, status FROM passes"
	                       " WHERE booking = ? AND status = 'active' ORDER BY guest, id")))
		return reply_error(rp, 500, "internal", "database error");
	db_bind_int64(st, 1, booking);
	list = json_array();
	while (db_step(st) == SQLITE_ROW)
		json_array_append_new(list, pass_json(st));
	db_done(st);
	return reply_json(rp, 200,
	                  json_pack("{s:I,s:s,s:s,s:o}", "booking", (json_int_t)booking, "status",
	                            bi.status, "unit", bi.unit, "passes", list));
}

/* Loads one pass the caller may see: its token, guest name and booking. 1 found, 0 not, -1 error.
 */
static int pass_load(struct app *app, sqlite3 *db, const struct request *rq, int64_t id,
                     char *token, size_t toklen, char *name, size_t namelen,
                     struct booking_info *bi, int *active)
{
	sqlite3_stmt *st;
	int64_t booking = 0;
	int found = 0;

	memset(bi, 0, sizeof(*bi));
	if (!(st = db_stmt(db,
	                   "SELECT booking, token, guest_name, status FROM passes WHERE id = ?")))
		return -1;
	db_bind_int64(st, 1, id);
	if (db_step(st) == SQLITE_ROW) {
		booking = sqlite3_column_int64(st, 0);
		snprintf(token, toklen, "%s", (const char *)sqlite3_column_text(st, 1));
		snprintf(name, namelen, "%s", (const char *)sqlite3_column_text(st, 2));
		*active = !strcmp((const char *)sqlite3_column_text(st, 3), "active");
		found = 1;
	}
	db_done(st);
	if (!found)
		return 0;
	if (booking_info(app, db, booking, bi) < 0)
		return -1;
	if (!may_see_booking(app, rq, bi)) {
		json_decref(bi->guests);
		bi->guests = NULL;
		return 0;
	}
	return 1;
}

int passes_image(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	char token[PASS_TEXT_MAX + 8], name[NAME_MAX_LEN];
	struct booking_info bi;
	struct buf b;
	int64_t id = rq->id;
	int active = 0, f, png = !strcmp(rq->id_suffix, ".png"); /* else .svg (api.c) */

	if (!db)
		return reply_error(rp, 404, "not_found",
		                   "no such pass (use /api/v1/passes/ID.png or .svg)");
	f = pass_load(app, db, rq, id, token, sizeof(token), name, sizeof(name), &bi, &active);
	json_decref(bi.guests);
	if (f < 0)
		return reply_error(rp, 500, "internal", "database error");
	if (f == 0)
		return reply_error(rp, 404, "not_found", "no such pass");
	if (!active)
		return reply_error(rp, 410, "revoked",
		                   "this pass was revoked (cancelled or re-issued)");
	buf_init(&b, 1024 * 1024);
	if ((png ? qr_png(token, 8, &b) : qr_svg(token, &b)) < 0) {
		buf_free(&b);
		return reply_error(rp, 500, "internal", "could not draw the QR code");
	}
	free(rp->body);
	rp->status = 200;
	rp->len = b.len;
	rp->body = buf_steal(&b, NULL);
	rp->content_type = png ? "image/png" : "image/svg+xml";
	return 0;
}

int passes_reissue(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	char token[PASS_TEXT_MAX + 8], name[NAME_MAX_LEN], err[256];
	struct booking_info bi;
	sqlite3_stmt *st;
	int64_t id = rq->id, booking = 0, from = 0, until = 0, new_id = 0;
	int guest = 0, active = 0, f;

	if (!db)
		return reply_error(rp, 404, "not_found", "no such pass");
	if (db_begin(app, db) < 0)
		return reply_error(rp, 503, "busy", "the database is busy, try again");
	f = pass_load(app, db, rq, id, token, sizeof(token), name, sizeof(name), &bi, &active);
	json_decref(bi.guests);
	if (f <= 0) {
		db_rollback(app, db);
		return f < 0 ? reply_error(rp, 500, "internal", "database error")
		             : reply_error(rp, 404, "not_found", "no such pass");
	}
	if (!active || strcmp(bi.status, "confirmed")) {
		db_rollback(app, db);
		return reply_error(rp, 409, "not_reissuable",
		                   "only an active pass of a confirmed booking is re-issued");
	}
	if (!(st = db_stmt(
	          db, "SELECT booking, guest, valid_from, valid_until FROM passes WHERE id = ?")))
		goto dbfail;
	db_bind_int64(st, 1, id);
	if (db_step(st) == SQLITE_ROW) {
		booking = sqlite3_column_int64(st, 0);
		guest = sqlite3_column_int(st, 1);
		from = sqlite3_column_int64(st, 2);
		until = sqlite3_column_int64(st, 3);
	}
	db_done(st);
	if (key_current(app, db, err, sizeof(err)) < 0) {
		log_err("reissue: %s", err);
		goto dbfail;
	}
	if (revoke_where(db, "p.id = ?", id, "reissued") < 0 ||
	    issue_one(app, db, booking, guest, name, bi.c, from, until, id, &new_id) < 0 ||
	    db_audit(db, rq->who.name, "pass.reissue", "pass", id, NULL, NULL) < 0)
		goto dbfail;
	if (db_commit(app, db) < 0)
		return reply_error(rp, 500, "internal", "database error");
	if (!(st = db_stmt(db, "SELECT id, guest, guest_name, kind, valid_from, valid_until, "
	                       "token, status FROM passes"
	                       " WHERE id = ?")))
		return reply_error(rp, 500, "internal", "database error");
	db_bind_int64(st, 1, new_id);
	if (db_step(st) != SQLITE_ROW) {
		db_done(st);
		return reply_error(rp, 500, "internal", "database error");
	}
	reply_json(rp, 201, pass_json(st));
	db_done(st);
	return 0;
dbfail:
	log_err("reissue: %s", sqlite3_errmsg(db));
	db_rollback(app, db);
	return reply_error(rp, 500, "internal", "database error");
}

int passes_print(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	char token[PASS_TEXT_MAX + 8], name[NAME_MAX_LEN], a[DATE_STRLEN], d[DATE_STRLEN];
	struct booking_info bi;
	struct buf b;
	int64_t id = rq->id;
	int active = 0, f;

	if (!db)
		return reply_error(rp, 404, "not_found", "no such pass");
	f = pass_load(app, db, rq, id, token, sizeof(token), name, sizeof(name), &bi, &active);
	json_decref(bi.guests);
	if (f <= 0)
		return f < 0 ? reply_error(rp, 500, "internal", "database error")
		             : reply_error(rp, 404, "not_found", "no such pass");
	if (!active)
		return reply_error(rp, 410, "revoked",
		                   "this pass was revoked (cancelled or re-issued)");
	date_format(bi.arrival, a);
	date_format(bi.departure, d);
	buf_init(&b, 64 * 1024);
	buf_printf(&b, "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\">"
	               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	               "<link rel=\"stylesheet\" href=\"/print.css\"><title>Estiva — ");
	web_html_escape(&b, name);
	buf_printf(&b, "</title></head><body><article class=\"pass\">"
	               "<header><h1 lang=\"fr\">");
	web_html_escape(&b, bi.c->name_fr);
	buf_printf(&b, "</h1><h1 lang=\"ar\" dir=\"rtl\">");
	web_html_escape(&b, bi.c->name_ar);
	buf_printf(&b,
	           "</h1></header><img class=\"qr\" alt=\"QR\" src=\"/api/v1/passes/%lld.svg\">"
	           "<dl><dt>Invité · الضيف</dt><dd class=\"guest\">",
	           (long long)id);
	web_html_escape(&b, name);
	buf_printf(&b, "</dd><dt>Logement · الوحدة</dt><dd class=\"unit\">");
	web_html_escape(&b, bi.unit);
	buf_printf(&b,
	           "</dd><dt>Arrivée · الوصول</dt><dd class=\"arrival\">%s %02d:%02d</dd>"
	           "<dt>Départ · المغادرة</dt><dd class=\"departure\">%s %02d:%02d</dd>"
	           "<dt>Pass</dt><dd>#%lld</dd></dl>"
	           "<p lang=\"fr\">Présentez ce code à l'entrée du centre.</p>"
	           "<p lang=\"ar\" dir=\"rtl\">قدموا هذا الرمز عند مدخل المركز.</p>"
	           "</article></body></html>",
	           a, (bi.c->check_in / 60) % 24, bi.c->check_in % 60, d,
	           (bi.c->check_out / 60) % 24, bi.c->check_out % 60, (long long)id);
	reply_text(rp, 200, "text/html; charset=utf-8", buf_cstr(&b));
	buf_free(&b);
	return 0;
}

/* ---- support ---- */

int passes_verify_cli(sqlite3 *db, const char *token, FILE *out)
{
	struct pass_key keys[255];
	struct pass p;
	sqlite3_stmt *st;
	enum pass_err e;
	int n = 0;
	char from[INSTANT_STRLEN], until[INSTANT_STRLEN];

	if (!(st = db_stmt(db, "SELECT id, public_key FROM signing_keys ORDER BY id")))
		return 1;
	while (db_step(st) == SQLITE_ROW && n < 255) {
		if (sqlite3_column_bytes(st, 1) != 32)
			continue;
		keys[n].id = (uint8_t)sqlite3_column_int(st, 0);
		memcpy(keys[n].pk, sqlite3_column_blob(st, 1), 32);
		keys[n].valid_until = 0; /* support: shows the signature whatever the key's state */
		n++;
	}
	db_done(st);
	e = pass_parse_text(token, strlen(token), &p);
	if (e != PASS_OK) {
		fprintf(out, "not a pass: %s\n", pass_strerror(e));
		return 1;
	}
	instant_format((int64_t)p.valid_from * 60, from);
	instant_format((int64_t)p.valid_until * 60, until);
	fprintf(
	    out,
	    "version      %u\nkey id       %u\npass id      %u\nbooking id   %u\ncentre       "
	    "%u\nguest        %u\n"
	    "kind         %u\nvalid from   %s\nvalid until  %s\nflags        0x%02x\nNFC UID      ",
	    p.version, p.key_id, p.pass_id, p.booking_id, p.centre, p.guest, p.kind, from, until,
	    p.flags);
	for (int i = 0; i < p.uid_len; i++)
		fprintf(out, "%02X", p.uid[i]);
	fprintf(out, "%s\n", p.uid_len ? "" : "none");
	{
		struct pass verified; /* zeroed on failure: keep p for the status below */
		e = pass_verify_text(token, strlen(token), keys, n, &verified);
	}
	fprintf(out, "signature    %s\n", e == PASS_OK ? "good" : pass_strerror(e));
	if ((st = db_stmt(db, "SELECT status FROM passes WHERE id = ?"))) {
		db_bind_int64(st, 1, p.pass_id);
		if (db_step(st) == SQLITE_ROW)
			fprintf(out, "status       %s\n", sqlite3_column_text(st, 0));
		else
			fprintf(out, "status       unknown to this database\n");
		db_done(st);
	}
	return e == PASS_OK ? 0 : 1;
}

/* ---- NFC cards at the reception desk ---- */

int passes_write_nfc(struct app *app, sqlite3 *db, int64_t id, const char *connstring,
                     int timeout_ms, FILE *out)
{
	unsigned char bin[PASS_BIN_MAX];
	char err[512], uidhex[2 * PASS_UID_MAX + 1];
	struct nfctag_info info;
	struct nfctag *tag = NULL;
	struct pass p;
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	int rc = 1, found = 0, w;
	const struct centre *c = NULL;

	if (!(st = db_stmt(
	          db, "SELECT p.booking, p.guest, p.kind, p.valid_from, p.valid_until, b.centre "
	              "FROM passes p"
	              " JOIN bookings b ON b.id = p.booking WHERE p.id = ? AND p.status = 'active'"
	              " AND b.status = 'confirmed'")))
		return 1;
	db_bind_int64(st, 1, id);
	memset(&p, 0, sizeof(p));
	if (db_step(st) == SQLITE_ROW) {
		int ci = catalog_centre(&app->cat, (const char *)sqlite3_column_text(st, 5));
		p.version = PASS_VERSION;
		p.pass_id = (uint32_t)id;
		p.booking_id = (uint32_t)sqlite3_column_int64(st, 0);
		p.guest = (uint8_t)sqlite3_column_int(st, 1);
		p.kind = (uint8_t)sqlite3_column_int(st, 2);
		p.valid_from = (uint32_t)sqlite3_column_int64(st, 3);
		p.valid_until = (uint32_t)sqlite3_column_int64(st, 4);
		c = ci >= 0 ? app->cat.centres[ci] : NULL;
		found = c != NULL;
	}
	db_done(st);
	if (!found) {
		fprintf(out, "no active pass %lld of a confirmed booking\n", (long long)id);
		return 1;
	}
	if (key_current(app, db, err, sizeof(err)) < 0) {
		fprintf(out, "%s\n", err);
		return 1;
	}
	p.key_id = (uint8_t)app->sign_key_id;
	p.centre = (uint16_t)c->number;
	tag = nfctag_open(connstring, err, sizeof(err));
	if (!tag) {
		fprintf(out, "NFC reader: %s\n", err);
		return 1;
	}
	fprintf(out, "put the card on the reader...\n");
	fflush(out);
	w = nfctag_wait(tag, timeout_ms, &info);
	if (w <= 0) {
		fprintf(out, "%s\n",
		        w == 0 ? "no card within the time allowed" : nfctag_strerror(tag));
		goto out;
	}
	if (info.uid_len != 4 && info.uid_len != 7 && info.uid_len != 10) {
		fprintf(out, "this card's UID has %zu bytes; passes bind 4, 7 or 10\n",
		        info.uid_len);
		goto out;
	}
	/* the same pass, bound to this card's UID: a copy of its bytes on another card is refused
	 */
	p.flags = PASS_FLAG_NFC;
	p.uid_len = (uint8_t)info.uid_len;
	memcpy(p.uid, info.uid, info.uid_len);
	if (pass_sign_bin(&p, app->sign_sk, bin, sizeof(bin), &n) != PASS_OK) {
		fprintf(out, "could not sign the pass\n");
		goto out;
	}
	if (nfctag_write_pass(tag, bin, n, err, sizeof(err)) < 0) {
		fprintf(out, "writing the card failed: %s\n", err);
		goto out;
	}
	sodium_bin2hex(uidhex, sizeof(uidhex), info.uid, info.uid_len);
	if (db_begin(app, db) < 0)
		goto out;
	if (!(st = db_stmt(db, "UPDATE passes SET nfc_uid = ? WHERE id = ?"))) {
		db_rollback(app, db);
		goto out;
	}
	db_bind_blob(st, 1, info.uid, (int)info.uid_len, SQLITE_STATIC);
	db_bind_int64(st, 2, id);
	w = db_step(st);
	db_done(st);
	if (w != SQLITE_DONE ||
	    db_audit(db, "estiva-admin", "pass.write_nfc", "pass", id, NULL, uidhex) < 0 ||
	    db_commit(app, db) < 0) {
		fprintf(out, "the card was written but the database was not updated: %s\n",
		        sqlite3_errmsg(db));
		goto out;
	}
	fprintf(out, "pass %lld written to %s card %s (%zu bytes), bound to its UID\n",
	        (long long)id, nfctag_type_name(info.type), uidhex, n);
	rc = 0;
out:
	nfctag_close(tag);
	return rc;
}

/* ---- distrusting a key ---- */

/* estiva-admin keys revoke ID: a retired key that must no longer be trusted (leaked, or kept too
 * long). In one transaction: every active pass it signed is revoked and issued again, same guest
 * and window, under the current key; the key leaves the set published to gates (its validity is set
 * to 0, so the gates drop it at their next sync and refuse its passes: unknown_key, and revoked).
 * After the commit its secret file is deleted. Returns how many passes were re-issued, or -1 with
 * err. */
int passes_key_revoke(struct app *app, sqlite3 *db, int id, char *err, size_t errlen)
{
	struct old {
		int64_t id, booking, from, until;
		int guest;
		char name[NAME_MAX_LEN];
	} *olds = NULL;
	sqlite3_stmt *st = NULL;
	char path[4200];
	int n = 0, cap = 0, retired = -1;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		goto sqlfail;
	if (!(st = db_stmt(db, "SELECT retired_at IS NOT NULL FROM signing_keys WHERE id = ?")))
		goto sqlfail;
	db_bind_int(st, 1, id);
	if (db_step(st) == SQLITE_ROW)
		retired = sqlite3_column_int(st, 0);
	db_done(st);
	st = NULL;
	if (retired < 0) {
		snprintf(err, errlen, "no signing key %d (estiva-admin keys list)", id);
		goto rollback;
	}
	if (!retired) {
		snprintf(
		    err, errlen,
		    "key %d signs passes now: run estiva-admin keys rotate first, then revoke it",
		    id);
		goto rollback;
	}
	if (key_current(app, db, err, errlen) < 0)
		goto rollback;
	if (!(st = db_stmt(
	          db, "SELECT id, booking, guest, guest_name, valid_from, valid_until FROM passes"
	              " WHERE key_id = ? AND status = 'active' ORDER BY id")))
		goto sqlfail;
	db_bind_int(st, 1, id);
	while (db_step(st) == SQLITE_ROW) {
		if (n == cap) {
			struct old *more =
			    realloc(olds, (size_t)(cap ? cap * 2 : 64) * sizeof(*olds));
			if (!more) {
				snprintf(err, errlen, "out of memory");
				goto rollback;
			}
			olds = more;
			cap = cap ? cap * 2 : 64;
		}
		olds[n].id = sqlite3_column_int64(st, 0);
		olds[n].booking = sqlite3_column_int64(st, 1);
		olds[n].guest = sqlite3_column_int(st, 2);
		snprintf(olds[n].name, sizeof(olds[n].name), "%s",
		         (const char *)sqlite3_column_text(st, 3));
		olds[n].from = sqlite3_column_int64(st, 4);
		olds[n].until = sqlite3_column_int64(st, 5);
		n++;
	}
	db_done(st);
	st = NULL;
	for (int i = 0; i < n; i++) {
		struct booking_info bi;
		int64_t new_id;
		int bad = booking_info(app, db, olds[i].booking, &bi) < 0 || !bi.c;

		json_decref(bi.guests);
		if (bad || revoke_where(db, "p.id = ?", olds[i].id, "key_revoked") < 0 ||
		    issue_one(app, db, olds[i].booking, olds[i].guest, olds[i].name, bi.c,
		              olds[i].from, olds[i].until, olds[i].id, &new_id) < 0)
			goto sqlfail;
	}
	if (!(st = db_stmt(db, "UPDATE signing_keys SET last_valid_until = 0 WHERE id = ?")))
		goto sqlfail;
	db_bind_int(st, 1, id);
	if (db_step(st) != SQLITE_DONE)
		goto sqlfail;
	db_done(st);
	st = NULL;
	if (db_audit(db, "estiva-admin", "keys.revoke", "signing_key", id, NULL, NULL) < 0 ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto sqlfail;
	free(olds);
	key_path(app, id, path, sizeof(path));
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("%s: %s (delete it by hand)", path, strerror(errno));
	return n;
sqlfail:
	snprintf(err, errlen, "keys revoke: %s", sqlite3_errmsg(db));
rollback:
	db_done(st);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	free(olds);
	return -1;
}

/* Every secret key file in key_dir is the service's alone (conf_secret_file_ok): checked at start.
 */
int passes_check_key_files(const struct app *app, char *err, size_t errlen)
{
	DIR *d = opendir(app->cfg.key_dir);
	struct dirent *e;
	int rc = 0;

	if (!d)
		return errno == ENOENT
		           ? 0
		           : (snprintf(err, errlen, "%s: %s", app->cfg.key_dir, strerror(errno)),
		              -1);
	while (rc == 0 && (e = readdir(d))) {
		char path[4400];
		if (strncmp(e->d_name, "pass-signing-", 13))
			continue;
		snprintf(path, sizeof(path), "%s/%s", app->cfg.key_dir, e->d_name);
		rc = conf_secret_file_ok(path, err, errlen);
	}
	closedir(d);
	return rc;
}
