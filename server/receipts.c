/* receipts.c: the numbered receipts of a booking's money (docs/payments.md). A receipt is taken
 * inside the transaction that records the money (an approved payment, a confirmation at the desk, a
 * refund the gateway has made), so that its number is gap-free within the year: a rollback gives
 * the number back with everything else. The printable page (FR and AR side by side) is also the
 * HTML attached to the confirmation e-mail. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "date.h"
#include "log.h"
#include "server.h"
#include "web.h"

/* The year receipts are numbered in: the foundation's (the catalog's time zone, TZ of the process).
 */
static int local_year(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	return localtime_r(&tt, &tm) ? tm.tm_year + 1900 : 1970;
}

/* The next number of the year, in the caller's transaction (BEGIN IMMEDIATE: the writer lock is
 * ours, so MAX + 1 cannot be taken twice; UNIQUE(year, number) would refuse it anyway). */
static int64_t take(sqlite3 *db, const char *kind, int64_t booking, int64_t payment, int64_t refund,
                    int64_t amount)
{
	int64_t now = instant_now(), number = -1;
	sqlite3_stmt *st;

	if (amount <= 0)
		return 0; /* nothing paid, nothing to receipt */
	if (!(st = db_stmt(db, "INSERT INTO receipts(year, number, kind, booking, payment, refund, "
	                       "amount, created_at)"
	                       " SELECT ?1, COALESCE(MAX(number), 0) + 1, ?2, ?3, ?4, ?5, ?6, ?7"
	                       " FROM receipts WHERE year = ?1 RETURNING number")))
		return -1;
	db_bind_int(st, 1, local_year(now));
	db_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	db_bind_int64(st, 3, booking);
	if (payment)
		db_bind_int64(st, 4, payment);
	else
		db_bind_null(st, 4);
	if (refund)
		db_bind_int64(st, 5, refund);
	else
		db_bind_null(st, 5);
	db_bind_int64(st, 6, amount);
	db_bind_int64(st, 7, now);
	if (db_step(st) == SQLITE_ROW)
		number = sqlite3_column_int64(st, 0);
	db_done(st);
	return number;
}

int64_t receipts_payment(sqlite3 *db, int64_t booking, int64_t payment)
{
	sqlite3_stmt *st;
	int64_t amount = -1;

	/* online: what the gateway approved; at the desk (payment 0): the booking's price */
	if (!(st = payment ? db_stmt(db, "SELECT amount FROM payments WHERE booking = ? AND id = ?")
	                   : db_stmt(db, "SELECT amount FROM bookings WHERE id = ?")))
		return -1;
	db_bind_int64(st, 1, booking);
	if (payment)
		db_bind_int64(st, 2, payment);
	if (db_step(st) == SQLITE_ROW)
		amount = sqlite3_column_int64(st, 0);
	db_done(st);
	return amount < 0 ? -1 : take(db, "payment", booking, payment, 0, amount);
}

int64_t receipts_refund(sqlite3 *db, int64_t refund)
{
	sqlite3_stmt *st;
	int64_t amount = -1, booking = 0, payment = 0;

	if (!(st = db_stmt(db, "SELECT booking, payment, amount FROM refunds WHERE id = ?")))
		return -1;
	db_bind_int64(st, 1, refund);
	if (db_step(st) == SQLITE_ROW) {
		booking = sqlite3_column_int64(st, 0);
		payment = sqlite3_column_int64(st, 1);
		amount = sqlite3_column_int64(st, 2);
	}
	db_done(st);
	return amount < 0 ? -1 : take(db, "refund", booking, payment, refund, amount);
}

/* ---- the document ---- */

/* The receipts' own style: the page links /print.css (our CSP allows no inline style there); the
 * copy attached to an e-mail is read offline and carries it. */
static const char attached_style[] =
    "body{font-family:system-ui,'Noto Sans',sans-serif;margin:1rem;color:#000}"
    ".receipt{max-width:16cm;margin:0 auto 1rem;border:1px solid #000;padding:1rem}"
    ".receipt h1{font-size:1.2rem;margin:.2rem 0}dt{font-weight:bold}dd{margin:0 0 .4rem}";

static void money(struct buf *b, int64_t centimes)
{
	buf_printf(b, "%lld.%02lld MAD", (long long)(centimes / 100), (long long)(centimes % 100));
}

int receipts_html(struct app *app, sqlite3 *db, int64_t booking, int attached, struct buf *b)
{
	sqlite3_stmt *st;
	char number[24], a[DATE_STRLEN] = "", d[DATE_STRLEN] = "", centre[ID_MAX + 1] = "";
	char mnum[16] = "", name[2 * NAME_MAX_LEN + 2] = "", name_ar[2 * NAME_MAX_LEN + 2] = "";
	const struct centre *c;
	int n = 0, ci;

	if (!(st =
	          db_stmt(db, "SELECT b.centre, b.arrival, b.departure, m.number,"
	                      " m.first_name || ' ' || m.last_name,"
	                      " m.first_name_ar || ' ' || m.last_name_ar"
	                      " FROM bookings b JOIN members m ON m.id = b.member WHERE b.id = ?")))
		return -1;
	db_bind_int64(st, 1, booking);
	if (db_step(st) == SQLITE_ROW) {
		snprintf(centre, sizeof(centre), "%s", (const char *)sqlite3_column_text(st, 0));
		snprintf(a, sizeof(a), "%s", (const char *)sqlite3_column_text(st, 1));
		snprintf(d, sizeof(d), "%s", (const char *)sqlite3_column_text(st, 2));
		snprintf(mnum, sizeof(mnum), "%s", (const char *)sqlite3_column_text(st, 3));
		snprintf(name, sizeof(name), "%s", (const char *)sqlite3_column_text(st, 4));
		snprintf(name_ar, sizeof(name_ar), "%s", (const char *)sqlite3_column_text(st, 5));
	}
	db_done(st);
	ci = catalog_centre(&app->cat, centre);
	if (ci < 0)
		return -1;
	c = app->cat.centres[ci];
	buf_printf(b, "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\">"
	              "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
	if (attached)
		buf_printf(b, "<style>%s</style>", attached_style);
	else
		buf_printf(b, "<link rel=\"stylesheet\" href=\"/print.css\">");
	buf_printf(
	    b, "<title>Estiva — Reçus · الإيصالات — %lld</title></head><body class=\"receipts\">",
	    (long long)booking);
	if (!(st = db_stmt(db, "SELECT r.year, r.number, r.kind, r.amount, r.created_at,"
	                       " COALESCE(p.masked_pan, ''), r.payment IS NULL, r.refund"
	                       " FROM receipts r LEFT JOIN payments p ON p.id = r.payment"
	                       " WHERE r.booking = ? ORDER BY r.year, r.number")))
		return -1;
	db_bind_int64(st, 1, booking);
	while (db_step(st) == SQLITE_ROW) {
		int refund = !strcmp((const char *)sqlite3_column_text(st, 2), "refund");
		time_t at = (time_t)sqlite3_column_int64(st, 4);
		const char *pan = (const char *)sqlite3_column_text(st, 5);
		char when[40];
		struct tm tm;

		n++;
		snprintf(number, sizeof(number), "%d-%06lld", sqlite3_column_int(st, 0),
		         (long long)sqlite3_column_int64(st, 1));
		localtime_r(&at, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
		buf_printf(
		    b,
		    "<article class=\"receipt\" id=\"receipt-%s\" data-number=\"%s\" "
		    "data-kind=\"%s\" data-amount=\"%lld\">"
		    "<header><h1 lang=\"fr\">Reçu n° %s</h1>"
		    "<h1 lang=\"ar\" dir=\"rtl\">إيصال رقم %s</h1></header><dl>"
		    "<dt>Date · التاريخ</dt><dd>%s (%s)</dd>"
		    "<dt>Objet · الموضوع</dt><dd>%s</dd>"
		    "<dt>Montant · المبلغ</dt><dd class=\"amount\">",
		    number, number, refund ? "refund" : "payment",
		    (long long)sqlite3_column_int64(st, 3), number, number, when, app->cfg.timezone,
		    refund ? "Remboursement · استرجاع" : "Paiement du séjour · أداء الإقامة");
		money(b, sqlite3_column_int64(st, 3));
		buf_printf(b, "</dd><dt>Adhérent · المنخرط</dt><dd>");
		web_html_escape(b, mnum);
		buf_printf(b, " — ");
		web_html_escape(b, name);
		buf_printf(b, " · <span lang=\"ar\" dir=\"rtl\">");
		web_html_escape(b, name_ar);
		buf_printf(b, "</span></dd><dt>Réservation · الحجز</dt><dd>n° %lld, ",
		           (long long)booking);
		web_html_escape(b, c->name_fr);
		buf_printf(b, " · <span lang=\"ar\" dir=\"rtl\">");
		web_html_escape(b, c->name_ar);
		buf_printf(b, "</span>, %s → %s</dd><dt>Moyen · الوسيلة</dt><dd>", a, d);
		if (sqlite3_column_int(st, 6))
			buf_printf(b, "À l'accueil du centre · في استقبال المركز");
		else {
			buf_printf(b, "%s ",
			           refund ? "Crédit sur la carte · إرجاع إلى البطاقة"
			                  : "Carte · البطاقة");
			web_html_escape(b, pan);
		}
		buf_printf(b, "</dd></dl></article>");
	}
	db_done(st);
	if (!n)
		buf_printf(b, "<p class=\"none\">Aucun reçu pour cette réservation. · "
		              "<span lang=\"ar\" dir=\"rtl\">لا يوجد إيصال لهذا الحجز.</span></p>");
	buf_printf(b, "<footer><p>Estiva — ");
	web_html_escape(b, c->name_fr);
	if (c->address_fr[0]) {
		buf_printf(b, ", ");
		web_html_escape(b, c->address_fr);
	}
	buf_printf(b, "</p></footer></body></html>");
	return n;
}

int receipts_page(struct app *app, struct request *rq, struct reply *rp)
{
	sqlite3 *db = db_thread(app);
	sqlite3_stmt *st;
	char centre[ID_MAX + 1] = "";
	int64_t member = 0;
	struct buf b;
	int found = 0;

	if (!db || !(st = db_stmt(db, "SELECT member, centre FROM bookings WHERE id = ?")))
		return reply_error(rp, 500, "internal", "database error");
	db_bind_int64(st, 1, rq->id);
	if (db_step(st) == SQLITE_ROW) {
		member = sqlite3_column_int64(st, 0);
		snprintf(centre, sizeof(centre), "%s", (const char *)sqlite3_column_text(st, 1));
		found = 1;
	}
	db_done(st);
	if (!found || !auth_may_see(&rq->who, member, catalog_centre(&app->cat, centre)))
		return reply_error(rp, 404, "not_found", "no such booking");
	buf_init(&b, 1024 * 1024);
	if (receipts_html(app, db, rq->id, 0, &b) < 0) {
		buf_free(&b);
		return reply_error(rp, 500, "internal", "database error");
	}
	reply_text(rp, 200, "text/html; charset=utf-8", buf_cstr(&b));
	buf_free(&b);
	return 0;
}
