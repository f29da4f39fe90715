/* nfctag.c: NTAG21x pass tags through libnfc (see nfctag.h). Type 2 commands go through
 * nfc_initiator_transceive_bytes: READ and WRITE in InDataExchange, GET_VERSION in
 * InCommunicateThru (a PN532 takes 0x60 in InDataExchange for a MIFARE Classic authentication). */
#include "nfctag.h"
#include "ndef.h"

#include <nfc/nfc.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE 4
#define READ_BYTES 16 /* READ returns four pages */
#define FIRST_DATA_PAGE 4
#define CC_PAGE 3
#define AREA_MAX 888 /* NTAG216 user memory, the largest we handle */
#define POLL_GAP_MS 50
#define TIMEOUT_DEFAULT (-1) /* libnfc: the device's default command timeout */

#define T2_READ 0x30
#define T2_WRITE 0xA2
#define T2_GET_VERSION 0x60

struct nfctag {
	nfc_context *ctx;
	nfc_device *dev;
	nfc_target target;
	int have_target;
	struct nfctag_info info;
	enum nfctag_err code;
	char msg[256];
};

static const nfc_modulation iso14443a = {.nmt = NMT_ISO14443A, .nbr = NBR_106};

/* Physical user memory of each type; the CC may declare less (496 of 504 on NTAG215), never more.
 */
static size_t type_user_bytes(enum nfctag_type type)
{
	switch (type) {
	case NFCTAG_NTAG213:
		return 144;
	case NFCTAG_NTAG215:
		return 504;
	case NFCTAG_NTAG216:
		return 888;
	case NFCTAG_UNKNOWN:
		break;
	}
	return AREA_MAX;
}

const char *nfctag_type_name(enum nfctag_type type)
{
	switch (type) {
	case NFCTAG_NTAG213:
		return "NTAG213";
	case NFCTAG_NTAG215:
		return "NTAG215";
	case NFCTAG_NTAG216:
		return "NTAG216";
	case NFCTAG_UNKNOWN:
		break;
	}
	return "unknown tag";
}

static int fail(struct nfctag *t, enum nfctag_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct nfctag *t, enum nfctag_err code, const char *fmt, ...)
{
	va_list ap;

	t->code = code;
	va_start(ap, fmt);
	vsnprintf(t->msg, sizeof(t->msg), fmt, ap);
	va_end(ap);
	return -1;
}

static void ok(struct nfctag *t)
{
	t->code = NFCTAG_OK;
	t->msg[0] = '\0';
}

/* libnfc errors that concern the reader or the serial line rather than the tag. */
static int reader_error(int res)
{
	switch (res) {
	case NFC_ETGRELEASED:
	case NFC_ERFTRANS:
	case NFC_EMFCAUTHFAIL:
	case NFC_EOVFLOW:
	case NFC_ECHIP: /* chip-reported status, e.g. no target in this context */
		return 0;
	default:
		return res < 0;
	}
}

static long elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0)
		;
}

static int field(struct nfctag *t, int on)
{
	return nfc_device_set_property_bool(t->dev, NP_ACTIVATE_FIELD, on ? true : false);
}

/* Power-cycles the field (every card forgets its state) and selects our tag again by its UID.
 * 1: selected again; 0: it is gone; -1: reader error (code and message set). */
static int reacquire(struct nfctag *t)
{
	nfc_target nt;
	int res;

	t->have_target = 0;
	if ((res = field(t, 0)) < 0 || (res = field(t, 1)) < 0)
		return fail(t, NFCTAG_EREADER, "reader error: %s", nfc_strerror(t->dev));
	res = nfc_initiator_select_passive_target(t->dev, iso14443a, t->info.uid, t->info.uid_len,
	                                          &nt);
	if (res < 0 && reader_error(res))
		return fail(t, NFCTAG_EREADER, "reader error: %s", nfc_strerror(t->dev));
	if (res <= 0 || nt.nti.nai.szUidLen != t->info.uid_len ||
	    memcmp(nt.nti.nai.abtUid, t->info.uid, t->info.uid_len) != 0)
		return 0;
	t->target = nt;
	t->have_target = 1;
	return 1;
}

/* After a failed exchange: a reader error, a tag that left, or a tag that is still there. */
static int tag_failure(struct nfctag *t, int res, const char *doing)
{
	int r;

	if (reader_error(res))
		return fail(t, NFCTAG_EREADER, "reader error while %s: %s", doing,
		            nfc_strerror(t->dev));
	r = reacquire(t);
	if (r < 0)
		return -1;
	if (r == 0)
		return fail(t, NFCTAG_ENOTAG, "the tag left the reader while %s", doing);
	return fail(t, NFCTAG_ETAG, "the tag did not answer while %s; try again", doing);
}

/* READ: four pages from page. 16 on success, else a libnfc error (<0) or NFC_ERFTRANS for a short
 * answer. */
static int page_read(struct nfctag *t, unsigned page, unsigned char out[READ_BYTES])
{
	const unsigned char cmd[2] = {T2_READ, (unsigned char)page};
	int res = nfc_initiator_transceive_bytes(t->dev, cmd, sizeof(cmd), out, READ_BYTES,
	                                         TIMEOUT_DEFAULT);

	if (res >= 0 && res != READ_BYTES)
		return NFC_ERFTRANS;
	return res;
}

static int page_write(struct nfctag *t, unsigned page, const unsigned char data[PAGE])
{
	unsigned char cmd[2 + PAGE] = {T2_WRITE, (unsigned char)page};
	int res;

	memcpy(cmd + 2, data, PAGE);
	res = nfc_initiator_transceive_bytes(t->dev, cmd, sizeof(cmd), NULL, 0, TIMEOUT_DEFAULT);
	return res < 0 ? res : 0;
}

/* GET_VERSION without easy framing (InCommunicateThru; the chip still adds and checks the CRC). */
static int get_version(struct nfctag *t, unsigned char ver[8])
{
	const unsigned char cmd[1] = {T2_GET_VERSION};
	unsigned char rx[16];
	int res, res2;

	if ((res = nfc_device_set_property_bool(t->dev, NP_EASY_FRAMING, false)) < 0)
		return res;
	res = nfc_initiator_transceive_bytes(t->dev, cmd, sizeof(cmd), rx, sizeof(rx),
	                                     TIMEOUT_DEFAULT);
	res2 = nfc_device_set_property_bool(t->dev, NP_EASY_FRAMING, true);
	if (res2 < 0)
		return res2;
	if (res == 8)
		memcpy(ver, rx, 8);
	return res;
}

static enum nfctag_type version_type(const unsigned char v[8])
{
	/* header, vendor NXP, product NTAG, ..., storage size */
	if (v[0] != 0x00 || v[1] != 0x04 || v[2] != 0x04)
		return NFCTAG_UNKNOWN;
	switch (v[6]) {
	case 0x0F:
		return NFCTAG_NTAG213;
	case 0x11:
		return NFCTAG_NTAG215;
	case 0x13:
		return NFCTAG_NTAG216;
	default:
		return NFCTAG_UNKNOWN;
	}
}

/* NDEF data area from a capability container (E1 10 size access), capped by the tag's memory. */
static size_t cc_area(const unsigned char cc[PAGE], enum nfctag_type type)
{
	size_t area = (size_t)cc[2] * 8, cap = type_user_bytes(type);

	if (cc[0] != 0xE1 || (cc[1] >> 4) != 1)
		return 0;
	return area < cap ? area : cap;
}

/* Learns type and NDEF area of the tag just selected. 1: done; 0: it left meanwhile; -1: reader
 * error. */
static int identify(struct nfctag *t)
{
	unsigned char ver[8], buf[READ_BYTES];
	int res, r;

	t->info.type = NFCTAG_UNKNOWN;
	t->info.user_bytes = 0;
	if (t->info.sak != 0x00) /* not a Type 2 tag (e.g. MIFARE Classic, SAK 08): UID only */
		return 1;
	res = get_version(t, ver);
	if (res == 8) {
		t->info.type = version_type(ver);
	} else if (reader_error(res)) {
		return fail(t, NFCTAG_EREADER, "reader error: %s", nfc_strerror(t->dev));
	} else {
		/* no GET_VERSION (e.g. MIFARE Ultralight): the NAK left the tag idle */
		r = reacquire(t);
		if (r <= 0)
			return r;
	}
	res = page_read(t, CC_PAGE, buf);
	if (res < 0) {
		if (reader_error(res))
			return fail(t, NFCTAG_EREADER, "reader error: %s", nfc_strerror(t->dev));
		return reacquire(t);
	}
	t->info.user_bytes = cc_area(buf, t->info.type);
	return 1;
}

struct nfctag *nfctag_open(const char *connstring, char *err, size_t errlen)
{
	struct nfctag *t;
	nfc_connstring cs;
	const char *shown = connstring ? connstring : "(libnfc default)";

	if (err && errlen)
		err[0] = '\0';
	if (connstring && (connstring[0] == '\0' || strlen(connstring) >= sizeof(cs))) {
		if (err)
			snprintf(err, errlen,
			         "bad NFC connstring (expected e.g. pn532_uart:/dev/ttyUSB0)");
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		if (err)
			snprintf(err, errlen, "out of memory");
		return NULL;
	}
	nfc_init(&t->ctx);
	if (!t->ctx) {
		if (err)
			snprintf(err, errlen, "libnfc could not start");
		goto fail;
	}
	memset(cs, 0, sizeof(cs));
	if (connstring)
		memcpy(cs, connstring, strlen(connstring));
	t->dev = nfc_open(t->ctx, connstring ? cs : NULL);
	if (!t->dev) {
		if (err)
			snprintf(err, errlen,
			         "cannot open NFC reader %s (check the connstring, that the device "
			         "exists and that we may open it)",
			         shown);
		goto fail;
	}
	if (nfc_initiator_init(t->dev) < 0 ||
	    nfc_device_set_property_bool(t->dev, NP_INFINITE_SELECT, false) < 0) {
		if (err)
			snprintf(err, errlen, "NFC reader %s does not answer as a reader: %s",
			         shown, nfc_strerror(t->dev));
		goto fail;
	}
	ok(t);
	return t;
fail:
	nfctag_close(t);
	return NULL;
}

int nfctag_wait(struct nfctag *t, int timeout_ms, struct nfctag_info *info)
{
	struct timespec start;
	nfc_target nt;
	long left;
	int res, r;

	if (!t)
		return -1;
	if (!info || timeout_ms < 0)
		return fail(t, NFCTAG_EARG, "nfctag_wait: bad argument");
	memset(info, 0, sizeof(*info));
	clock_gettime(CLOCK_MONOTONIC, &start);
	if (t->have_target) {
		/* let a tag still lying on the reader be found (and start from a clean state) */
		t->have_target = 0;
		if (field(t, 0) < 0 || field(t, 1) < 0)
			return fail(t, NFCTAG_EREADER, "reader error: %s", nfc_strerror(t->dev));
	}
	for (;;) {
		res = nfc_initiator_select_passive_target(t->dev, iso14443a, NULL, 0, &nt);
		if (res < 0 && reader_error(res))
			return fail(t, NFCTAG_EREADER, "reader error: %s", nfc_strerror(t->dev));
		if (res > 0) {
			memset(&t->info, 0, sizeof(t->info));
			t->info.uid_len = nt.nti.nai.szUidLen;
			if (t->info.uid_len > sizeof(t->info.uid))
				t->info.uid_len = sizeof(t->info.uid);
			memcpy(t->info.uid, nt.nti.nai.abtUid, t->info.uid_len);
			memcpy(t->info.atqa, nt.nti.nai.abtAtqa, 2);
			t->info.sak = nt.nti.nai.btSak;
			t->target = nt;
			t->have_target = 1;
			r = identify(t);
			if (r < 0)
				return -1;
			if (r > 0) {
				*info = t->info;
				ok(t);
				return 1;
			}
			/* it left while being identified: keep looking */
		}
		left = timeout_ms - elapsed_ms(&start);
		if (left <= 0)
			break;
		sleep_ms(left < POLL_GAP_MS ? left : POLL_GAP_MS);
	}
	fail(t, NFCTAG_ENOTAG, "no tag within %d ms", timeout_ms);
	return 0;
}

int nfctag_read_pass(struct nfctag *t, unsigned char *out, size_t outlen, size_t *n)
{
	unsigned char buf[AREA_MAX + READ_BYTES];
	const unsigned char *payload;
	size_t have = 0, area, plen, len;
	enum ndef_err e = NDEF_ENOTLV;
	int res;

	if (!t)
		return -1;
	if (!out || !n)
		return fail(t, NFCTAG_EARG, "nfctag_read_pass: bad argument");
	*n = 0;
	if (!t->have_target)
		return fail(t, NFCTAG_ENOTAG, "no tag on the reader");
	if (t->info.sak != 0x00)
		return fail(t, NFCTAG_EUNSUPPORTED,
		            "this card (SAK %02x) is not an NFC Forum Type 2 tag and holds no pass",
		            t->info.sak);
	area = t->info.user_bytes;
	if (area == 0)
		return fail(t, NFCTAG_ENOTFORMATTED, "the tag has no NDEF capability container");
	/* Four pages at a time, until the record is complete: a pass takes a few READs, not the
	 * whole area. */
	while (have < area) {
		res = page_read(t, FIRST_DATA_PAGE + (unsigned)(have / PAGE), buf + have);
		if (res < 0)
			return tag_failure(t, res, "reading the pass");
		have += READ_BYTES;
		len = have < area ? have : area;
		e = ndef_decode_pass(buf, len, &payload, &plen);
		if (e == NDEF_OK) {
			if (plen > outlen)
				return fail(t, NFCTAG_ESPACE, "pass of %zu bytes; buffer holds %zu",
				            plen, outlen);
			memcpy(out, payload, plen);
			*n = plen;
			ok(t);
			return 0;
		}
		if (e != NDEF_ETRUNC && e != NDEF_ENOTLV)
			break;
	}
	return fail(t, NFCTAG_ENDEF, "no Estiva pass on this tag: %s", ndef_strerror(e));
}

/* After a failed WRITE: reader error, tag taken away, or the tag refused the page. */
static int write_failure(struct nfctag *t, int res, unsigned page)
{
	int r;

	if (reader_error(res))
		return fail(
		    t, NFCTAG_EREADER,
		    "reader error while writing page %u (%s); the tag may hold no valid pass, "
		    "write it again",
		    page, nfc_strerror(t->dev));
	r = reacquire(t);
	if (r < 0)
		return -1;
	if (r == 0)
		return fail(t, NFCTAG_ENOTAG,
		            "the tag was taken away while page %u was being written; it holds no "
		            "valid pass now: place it on the reader again and rewrite it",
		            page);
	return fail(t, NFCTAG_EREFUSED, "the tag refused to write page %u (locked page?)", page);
}

static int write_pass(struct nfctag *t, const unsigned char *data, size_t n)
{
	static const unsigned char blank[PAGE] = {0x03, 0x00, 0xFE, 0x00}; /* empty NDEF message */
	unsigned char tlv[NDEF_PASS_TLV_MAX + PAGE], cc[READ_BYTES], back[READ_BYTES];
	size_t len, padded, area, off, k;
	unsigned page, pages;
	enum ndef_err e;
	int res;

	if (!t->have_target)
		return fail(t, NFCTAG_ENOTAG, "no tag on the reader (place a tag and wait for it)");
	if (t->info.type == NFCTAG_UNKNOWN)
		return fail(t, NFCTAG_EUNSUPPORTED,
		            "this tag is not an NTAG213, NTAG215 or NTAG216; passes are written to "
		            "NTAG21x tags only");
	if (!data || n == 0 || n > NDEF_PASS_PAYLOAD_MAX)
		return fail(t, NFCTAG_EARG, "a pass payload is 1 to %d bytes, not %zu",
		            NDEF_PASS_PAYLOAD_MAX, n);
	/* The capability container again: the tag is still there and says how much it takes. */
	res = page_read(t, CC_PAGE, cc);
	if (res < 0)
		return tag_failure(t, res, "reading its capability container");
	area = cc_area(cc, t->info.type);
	if (area == 0)
		return fail(
		    t, NFCTAG_ENOTFORMATTED,
		    "the tag has no NDEF capability container (page 3 reads %02x %02x %02x %02x)",
		    cc[0], cc[1], cc[2], cc[3]);
	if ((cc[3] & 0x0F) != 0)
		return fail(t, NFCTAG_EREADONLY,
		            "the tag is read-only (capability container access %02x)", cc[3]);
	if (ndef_pass_tlv_size(n) > area)
		return fail(t, NFCTAG_ETOOBIG,
		            "a pass of %zu bytes needs %zu bytes on the tag, but this %s holds %zu "
		            "(at most %zu payload bytes); use an NTAG215 or NTAG216",
		            n, ndef_pass_tlv_size(n), nfctag_type_name(t->info.type), area,
		            ndef_pass_payload_max(area));
	memset(tlv, 0, sizeof(tlv));
	e = ndef_encode_pass(data, n, tlv, sizeof(tlv), &len);
	if (e != NDEF_OK)
		return fail(t, NFCTAG_EARG, "cannot encode the pass: %s", ndef_strerror(e));
	padded = (len + PAGE - 1) / PAGE * PAGE;
	pages = (unsigned)(padded / PAGE);

	/* First page 4 becomes an empty message, then the rest, then page 4 with the real length:
	 * at every moment the tag holds either its old content or no record at all. */
	if ((res = page_write(t, FIRST_DATA_PAGE, blank)) < 0)
		return write_failure(t, res, FIRST_DATA_PAGE);
	for (page = 1; page < pages; page++)
		if ((res = page_write(t, FIRST_DATA_PAGE + page, tlv + page * PAGE)) < 0)
			return write_failure(t, res, FIRST_DATA_PAGE + page);
	if ((res = page_write(t, FIRST_DATA_PAGE, tlv)) < 0)
		return write_failure(t, res, FIRST_DATA_PAGE);

	for (off = 0; off < padded; off += READ_BYTES) {
		res = page_read(t, FIRST_DATA_PAGE + (unsigned)(off / PAGE), back);
		if (res < 0)
			return tag_failure(t, res, "reading the pass back");
		k = padded - off < READ_BYTES ? padded - off : READ_BYTES;
		if (memcmp(back, tlv + off, k) != 0) {
			(void)page_write(t, FIRST_DATA_PAGE, blank);
			return fail(t, NFCTAG_EVERIFY,
			            "the pass read back from the tag differs from what was written "
			            "(near byte %zu); do not hand this tag out",
			            off);
		}
	}
	return 0;
}

int nfctag_write_pass(struct nfctag *t, const unsigned char *data, size_t n, char *err,
                      size_t errlen)
{
	int ret;

	if (!t) {
		if (err && errlen)
			snprintf(err, errlen, "no reader");
		return -1;
	}
	ret = write_pass(t, data, n);
	if (ret == 0)
		ok(t);
	if (err && errlen)
		snprintf(err, errlen, "%s", t->msg);
	return ret;
}

int nfctag_present(struct nfctag *t)
{
	int res;

	if (!t)
		return -1;
	if (!t->have_target)
		return 0;
	res = nfc_initiator_target_is_present(t->dev, &t->target);
	if (res == 0)
		return 1;
	if (reader_error(res))
		return fail(t, NFCTAG_EREADER, "reader error: %s", nfc_strerror(t->dev));
	t->have_target = 0;
	return 0;
}

enum nfctag_err nfctag_error(const struct nfctag *t)
{
	return t ? t->code : NFCTAG_EARG;
}

const char *nfctag_strerror(const struct nfctag *t)
{
	if (!t)
		return "no reader";
	return t->msg[0] ? t->msg : "no error";
}

void nfctag_close(struct nfctag *t)
{
	if (!t)
		return;
	if (t->dev)
		nfc_close(t->dev);
	if (t->ctx)
		nfc_exit(t->ctx);
	free(t);
}
