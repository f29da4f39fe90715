/* reader_nfc.c: an NFC reader through libnfc (shared/nfctag.c): wait for an ISO14443A tag, read the
 * pass record from its NDEF area, decide with the tag's UID (a pass bound to a tag is refused from
 * any other), then wait for the tag to leave so one tap is one scan. A tag pulled away mid-read is
 * not a scan (nothing was read); a tag without a pass record is refused as unreadable. A reader
 * that fails is closed and opened again with back-off. */
#include <stdio.h>
#include <string.h>

#include "gate.h"
#include "log.h"
#include "ndef.h"
#include "nfctag.h"

#define NFC_BACKOFF_MIN_MS 500
#define NFC_BACKOFF_MAX_MS 30000
#define NFC_POLL_MS 500
#define NFC_GONE_POLL_MS 100
#define NFC_READ_TRIES 3

/* Waits until the tag leaves the field (or the gate stops): 0, or -1 on a reader error. */
static int wait_gone(struct gate *g, struct nfctag *t)
{
	for (;;) {
		int p = nfctag_present(t);

		if (p <= 0)
			return p;
		if (gate_sleep(g, NFC_GONE_POLL_MS))
			return 0;
	}
}

/* One tag in the field: read and decide. 0, or -1 when the reader itself failed. */
static int one_tag(struct gate *g, int idx, struct nfctag *t, const struct nfctag_info *info)
{
	unsigned char payload[NDEF_PASS_PAYLOAD_MAX];
	struct scan_input in;
	struct decide_result res;
	size_t n = 0;
	int rc = -1;

	for (int tries = 0; tries < NFC_READ_TRIES; tries++) {
		rc = nfctag_read_pass(t, payload, sizeof(payload), &n);
		if (rc == 0 || nfctag_error(t) != NFCTAG_ETAG)
			break;
	}
	memset(&in, 0, sizeof(in));
	in.uid = info->uid;
	in.uid_len = info->uid_len;
	if (rc == 0) {
		in.bin = payload;
		in.bin_len = n;
	} else {
		switch (nfctag_error(t)) {
		case NFCTAG_EREADER:
			return -1;
		case NFCTAG_ENOTAG:
		case NFCTAG_ETAG:
			/* gone before the read finished: nothing was scanned */
			log_info("reader %s: tag left mid-read (%s)", g->cfg.readers[idx].name,
			         nfctag_strerror(t));
			return 0;
		default:
			log_info("reader %s: unreadable tag: %s", g->cfg.readers[idx].name,
			         nfctag_strerror(t));
			in.unreadable = 1;
			break;
		}
	}
	gate_scan(g, idx, &in, &res);
	return wait_gone(g, t);
}

void *reader_nfc_main(void *arg)
{
	struct reader_arg *ra = arg;
	struct gate *g = ra->g;
	int idx = ra->index;
	long backoff = NFC_BACKOFF_MIN_MS;
	char err[256];

	while (!g->stopping) {
		struct nfctag *t = nfctag_open(g->cfg.readers[idx].device, err, sizeof(err));

		if (!t) {
			gate_reader_health(g, idx, READER_FAILED, "cannot open %s: %s (retrying)",
			                   g->cfg.readers[idx].device, err);
			if (gate_sleep(g, backoff))
				break;
			backoff =
			    backoff * 2 > NFC_BACKOFF_MAX_MS ? NFC_BACKOFF_MAX_MS : backoff * 2;
			continue;
		}
		gate_reader_health(g, idx, READER_OK, "reading %s", g->cfg.readers[idx].device);
		while (!g->stopping) {
			struct nfctag_info info;
			int rc = nfctag_wait(t, NFC_POLL_MS, &info);

			if (rc < 0 && nfctag_error(t) == NFCTAG_EREADER)
				break;
			if (rc < 0 && gate_sleep(g, NFC_GONE_POLL_MS))
				break;
			if (rc <= 0)
				continue;
			backoff = NFC_BACKOFF_MIN_MS;
			if (one_tag(g, idx, t, &info) < 0)
				break;
		}
		if (!g->stopping)
			gate_reader_health(g, idx, READER_FAILED, "%s: %s (reopening)",
			                   g->cfg.readers[idx].device, nfctag_strerror(t));
		nfctag_close(t);
		if (gate_sleep(g, backoff))
			break;
		backoff = backoff * 2 > NFC_BACKOFF_MAX_MS ? NFC_BACKOFF_MAX_MS : backoff * 2;
	}
	return NULL;
}
