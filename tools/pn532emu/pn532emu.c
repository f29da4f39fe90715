/* pn532emu.c: the emulated PN532: pty, serving thread, HSU frame parsing and the chip commands
 * libnfc 1.8.0's pn532_uart and pn53x layers send. See pn532emu.h; the tag itself lives in tag.c.
 *
 * Frame rules libnfc checks byte for byte (research note, section 2.3): an ACK 00 00 FF 00 FF 00
 * first, then 00 00 FF LEN LCS D5 CMD+1 data DCS 00 with nothing before it, and never more data
 * than libnfc's buffer for that command (4 bytes for GetFirmwareVersion, one byte per register for
 * ReadRegister). */
#define _XOPEN_SOURCE 700
#include "pn532emu.h"
#include "tag.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* PN532 commands (PN532 user manual, section 7). */
#define PN_DIAGNOSE 0x00
#define PN_GET_FIRMWARE_VERSION 0x02
#define PN_GET_GENERAL_STATUS 0x04
#define PN_READ_REGISTER 0x06
#define PN_WRITE_REGISTER 0x08
#define PN_SET_PARAMETERS 0x12
#define PN_SAM_CONFIGURATION 0x14
#define PN_POWER_DOWN 0x16
#define PN_RF_CONFIGURATION 0x32
#define PN_IN_DATA_EXCHANGE 0x40
#define PN_IN_COMMUNICATE_THRU 0x42
#define PN_IN_DESELECT 0x44
#define PN_IN_LIST_PASSIVE_TARGET 0x4A
#define PN_IN_PSL 0x4E
#define PN_IN_RELEASE 0x52
#define PN_IN_SELECT 0x54
#define PN_IN_JUMP_FOR_DEP 0x56
#define PN_IN_AUTO_POLL 0x60

/* Status bytes of InDataExchange / InCommunicateThru answers. Never set bit 0x80 (NAD): libnfc
 * 1.8.0 calls abort() on it. */
#define ST_OK 0x00
#define ST_TIMEOUT 0x01 /* the card did not answer: libnfc NFC_ERFTRANS */
#define ST_CRC 0x02
#define ST_MFAUTH 0x14    /* MIFARE authentication failed */
#define ST_WRONG_CTX 0x27 /* command not acceptable in this context */

#define TFI_HOST 0xD4
#define TFI_PN532 0xD5

/* CIU registers 0x6300..0x63FF; the ones whose bits change what the chip does. */
#define CIU_TXMODE 0x02
#define CIU_RXMODE 0x03
#define CIU_CRC_EN 0x80
#define CIU_FRAMING 0x03 /* 00: ISO/IEC 14443A / MIFARE */

#define RX_MAX 4096
#define FRAME_MAX 512 /* an extended frame of libnfc's largest payload (264 bytes) fits */
#define POLL_PERIOD_MS 150
#define TICK_MS 10

static const unsigned char ack_frame[6] = {0x00, 0x00, 0xFF, 0x00, 0xFF, 0x00};
static const unsigned char error_frame[8] = {0x00, 0x00, 0xFF, 0x01, 0xFF, 0x7F, 0x81, 0x00};

static struct {
	pthread_mutex_t mu;
	pthread_t thread;
	int running;
	int stop;
	int master, slave;
	int wake[2]; /* pn532emu_stop() writes here to end the thread's poll() */
	char path[128];
	int verbose;
	unsigned long frames;

	/* card */
	struct tag tag;
	int have_tag; /* there is (or was) a tag: tag holds it */
	int present;  /* it is in the field */

	/* chip */
	unsigned char ciu[256];
	unsigned char max_rty_passive;
	int listed;      /* the chip holds the tag as its target 1 */
	int pending_cmd; /* 0, or an InListPassiveTarget/InAutoPoll waiting for a card */
	int pending_forever;
	struct timespec pending_deadline;
	int pending_types; /* InAutoPoll asked for ISO14443A (1) or not (0) */
	enum pn532emu_fault fault;
	int fault_arg;
	unsigned char last[FRAME_MAX]; /* last answer frame, resent on a host NACK */
	size_t last_len;

	unsigned char rx[RX_MAX];
	size_t rx_len;
} emu = {.mu = PTHREAD_MUTEX_INITIALIZER, .master = -1, .slave = -1, .wake = {-1, -1}};

static void logf_hex(const char *what, const unsigned char *b, size_t n)
{
	size_t i;

	if (!emu.verbose)
		return;
	fprintf(stderr, "pn532emu: %s", what);
	for (i = 0; i < n; i++)
		fprintf(stderr, " %02x", b[i]);
	fputc('\n', stderr);
}

static void put(const unsigned char *b, size_t n)
{
	int tries = 0;

	logf_hex("TX", b, n);
	while (n > 0) {
		ssize_t w = write(emu.master, b, n);

		if (w < 0) {
			struct pollfd pfd = {.fd = emu.master, .events = POLLOUT};

			/* A client that stopped reading fills the pty; after ~100 ms the bytes are
			 * dropped, as they would be on a serial line nobody listens to. */
			if ((errno == EAGAIN || errno == EINTR) && tries++ < 10) {
				(void)poll(&pfd, 1, TICK_MS);
				continue;
			}
			return;
		}
		b += w;
		n -= (size_t)w;
	}
}

/* Builds 00 00 FF LEN LCS D5 CMD+1 data DCS 00 (extended LEN when over 255) and sends it. */
static void reply(unsigned char cmd, const unsigned char *data, size_t n, int corrupt)
{
	unsigned char *f = emu.last;
	size_t len = n + 2, i = 0, k;
	unsigned char sum = (unsigned char)(TFI_PN532 + cmd + 1);

	if (n + 12 > sizeof(emu.last))
		return;
	f[i++] = 0x00;
	f[i++] = 0x00;
	f[i++] = 0xFF;
	if (len <= 0xFF) {
		f[i++] = (unsigned char)len;
		f[i++] = (unsigned char)(0x100 - len);
	} else {
		f[i++] = 0xFF;
		f[i++] = 0xFF;
		f[i++] = (unsigned char)(len >> 8);
		f[i++] = (unsigned char)(len & 0xFF);
		f[i++] = (unsigned char)(0x100 - ((len >> 8) + (len & 0xFF)));
	}
	f[i++] = TFI_PN532;
	f[i++] = (unsigned char)(cmd + 1);
	for (k = 0; k < n; k++) {
		f[i++] = data[k];
		sum = (unsigned char)(sum + data[k]);
	}
	f[i++] = (unsigned char)(0x100 - sum);
	f[i++] = 0x00;
	if (corrupt)
		f[i - 2] ^= 0xFF;
	emu.last_len = i;
	put(f, i);
}

static void now_plus_ms(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static int deadline_passed(const struct timespec *d)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > d->tv_sec || (now.tv_sec == d->tv_sec && now.tv_nsec >= d->tv_nsec);
}

/* ISO/IEC 14443-3 CRC_A, for InCommunicateThru when the host computes CRCs itself. */
static void crc_a(const unsigned char *d, size_t n, unsigned char out[2])
{
	unsigned crc = 0x6363;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char b = (unsigned char)(d[i] ^ (crc & 0xFF));

		b = (unsigned char)(b ^ (b << 4));
		crc = ((crc >> 8) ^ ((unsigned)b << 8) ^ ((unsigned)b << 3) ^ ((unsigned)b >> 4)) &
		      0xFFFF;
	}
	out[0] = (unsigned char)(crc & 0xFF);
	out[1] = (unsigned char)(crc >> 8);
}

static int card_selectable(void)
{
	return emu.have_tag && emu.present && emu.tag.state != TAG_HALT;
}

/* Tg SENS_RES(2) SEL_RES NFCIDLength NFCID: the ISO14443A target data of InListPassiveTarget. */
static size_t target_data(unsigned char *o)
{
	size_t i = 0;

	o[i++] = 0x01;
	o[i++] = emu.tag.atqa[0];
	o[i++] = emu.tag.atqa[1];
	o[i++] = emu.tag.sak;
	o[i++] = (unsigned char)emu.tag.uid_len;
	memcpy(o + i, emu.tag.uid, emu.tag.uid_len);
	return i + emu.tag.uid_len;
}

static size_t select_card(unsigned char *o)
{
	emu.tag.state = TAG_ACTIVE;
	emu.listed = 1;
	o[0] = 1; /* NbTg */
	return 1 + target_data(o + 1);
}

/* InAutoPoll answer: NbTg, Type 0x10 (MIFARE / ISO14443-3A at 106 kbps), length, target data. */
static size_t autopoll_card(unsigned char *o)
{
	size_t l;

	emu.tag.state = TAG_ACTIVE;
	emu.listed = 1;
	l = target_data(o + 3);
	o[0] = 1;
	o[1] = 0x10;
	o[2] = (unsigned char)l;
	return 3 + l;
}

/* The field goes off: the card loses power and forgets its state, the chip its target. */
static void field_reset(void)
{
	emu.listed = 0;
	if (emu.have_tag)
		emu.tag.state = TAG_IDLE;
}

/* The card leaves the field. The chip still holds it as target 1 (a real PN532 cannot know), so the
 * next exchange times out, which is how libnfc learns of a removal. */
static void card_leaves(void)
{
	emu.present = 0;
	if (emu.have_tag)
		emu.tag.state = TAG_IDLE;
}

/* InListPassiveTarget carries, after MaxTg and BrTy, the UID to select in cascaded form (88 + UID
 * for 7 bytes) or plain. */
static int uid_matches(const unsigned char *p, size_t n)
{
	unsigned char c[8];

	if (n == emu.tag.uid_len && memcmp(p, emu.tag.uid, n) == 0)
		return 1;
	if (emu.tag.uid_len == 7 && n == 8) {
		c[0] = 0x88;
		memcpy(c + 1, emu.tag.uid, 7);
		return memcmp(p, c, 8) == 0;
	}
	return 0;
}

/* Whether a tag command counts down an armed REMOVE_AFTER_WRITES / REMOVE_AFTER_READS fault. */
static int counts_for_removal(unsigned char op)
{
	if (emu.fault == PN532EMU_FAULT_REMOVE_AFTER_WRITES)
		return op == 0xA2 || op == 0xA0; /* WRITE, COMPATIBILITY_WRITE */
	if (emu.fault == PN532EMU_FAULT_REMOVE_AFTER_READS)
		return op == 0x30 || op == 0x3A; /* READ, FAST_READ */
	return 0;
}

/* InDataExchange and InCommunicateThru: returns the answer length in o (status byte first). */
static size_t exchange(unsigned char cmd, const unsigned char *p, size_t pn, unsigned char *o,
                       size_t cap)
{
	const unsigned char *c = p;
	size_t cn = pn, rn = 0;
	int host_tx_crc = !(emu.ciu[CIU_TXMODE] & CIU_CRC_EN);
	int host_rx_crc = !(emu.ciu[CIU_RXMODE] & CIU_CRC_EN);
	enum tag_reply r;
	int counted;

	if (cmd == PN_IN_DATA_EXCHANGE) {
		if (pn < 1) {
			o[0] = ST_WRONG_CTX;
			return 1;
		}
		c = p + 1; /* Tg */
		cn = pn - 1;
		if (!emu.listed) {
			o[0] = ST_WRONG_CTX;
			return 1;
		}
	} else if ((emu.ciu[CIU_TXMODE] & CIU_FRAMING) != 0) {
		o[0] =
		    ST_TIMEOUT; /* type B or FeliCa framing: an ISO14443A card does not hear it */
		return 1;
	}
	if (cmd == PN_IN_COMMUNICATE_THRU && host_tx_crc) {
		unsigned char crc[2];

		if (cn < 2) {
			o[0] = ST_TIMEOUT;
			return 1;
		}
		crc_a(c, cn - 2, crc);
		if (memcmp(crc, c + cn - 2, 2) != 0) {
			o[0] = ST_TIMEOUT; /* the card ignores a frame with a bad CRC */
			return 1;
		}
		cn -= 2;
	}
	if (!(emu.have_tag && emu.present) || emu.tag.state != TAG_ACTIVE || cn == 0) {
		o[0] = ST_TIMEOUT;
		return 1;
	}
	/* In InDataExchange the PN532 firmware takes 60/61 as MIFARE Classic authentication, so a
	 * GET_VERSION sent that way fails; libnfc clients must use InCommunicateThru for it. */
	if (cmd == PN_IN_DATA_EXCHANGE && (c[0] == 0x60 || c[0] == 0x61)) {
		emu.tag.state = TAG_IDLE;
		o[0] = ST_MFAUTH;
		return 1;
	}
	counted = counts_for_removal(c[0]);
	if (counted) {
		if (emu.fault_arg <= 0) {
			emu.fault = PN532EMU_FAULT_NONE;
			card_leaves();
			o[0] = ST_TIMEOUT;
			return 1;
		}
		emu.fault_arg--;
	}
	r = tag_command(&emu.tag, c, cn, o + 1, cap - 3, &rn);
	if (counted && emu.fault_arg == 0) {
		emu.fault = PN532EMU_FAULT_NONE;
		card_leaves();
	}
	if (r != TAG_ANSWER) {
		/* What a real PN532 reports for a 4-bit NAK was not verified; a timeout is what the
		 * host can rely on, and the card is IDLE afterwards, so it must be selected again.
		 */
		o[0] = ST_TIMEOUT;
		return 1;
	}
	if (cmd == PN_IN_COMMUNICATE_THRU && host_rx_crc && rn > 0) {
		crc_a(o + 1, rn, o + 1 + rn);
		rn += 2;
	}
	o[0] = ST_OK;
	return 1 + rn;
}

/* Handles one host information frame d[0..n) (TFI first). */
static void handle(const unsigned char *d, size_t n)
{
	unsigned char cmd, o[FRAME_MAX];
	const unsigned char *p;
	size_t pn, on = 0, i;
	int tag_cmd, corrupt = 0;
	enum pn532emu_fault f = PN532EMU_FAULT_NONE;

	logf_hex("RX", d, n);
	if (n < 2 || d[0] != TFI_HOST) {
		put(error_frame, sizeof(error_frame));
		return;
	}
	emu.frames++;
	cmd = d[1];
	p = d + 2;
	pn = n - 2;
	emu.pending_cmd = 0; /* any new command supersedes a waiting poll */

	tag_cmd = cmd == PN_IN_LIST_PASSIVE_TARGET || cmd == PN_IN_AUTO_POLL ||
	          cmd == PN_IN_DATA_EXCHANGE || cmd == PN_IN_COMMUNICATE_THRU;
	if (tag_cmd && emu.fault != PN532EMU_FAULT_NONE &&
	    emu.fault != PN532EMU_FAULT_REMOVE_AFTER_WRITES &&
	    emu.fault != PN532EMU_FAULT_REMOVE_AFTER_READS &&
	    (emu.fault != PN532EMU_FAULT_RFERR || cmd == PN_IN_DATA_EXCHANGE ||
	     cmd == PN_IN_COMMUNICATE_THRU)) {
		f = emu.fault;
		emu.fault = PN532EMU_FAULT_NONE;
	}
	if (f == PN532EMU_FAULT_NOACK)
		return;
	put(ack_frame, sizeof(ack_frame));
	if (f == PN532EMU_FAULT_NORESP)
		return;
	if (f == PN532EMU_FAULT_BADDCS)
		corrupt = 1;
	if (f == PN532EMU_FAULT_RFERR) {
		o[0] = ST_TIMEOUT;
		reply(cmd, o, 1, 0);
		return;
	}

	switch (cmd) {
	case PN_DIAGNOSE:
		if (pn >= 1 && p[0] == 0x06) { /* card presence */
			o[0] = (emu.listed && emu.present && emu.tag.state == TAG_ACTIVE) ? 0x00
			                                                                  : 0x01;
			on = 1;
		} else if (pn >= 1 && p[0] == 0x00) { /* communication line test: echo */
			memcpy(o, p, pn);
			on = pn;
		} else {
			o[0] = 0x00;
			on = 1;
		}
		break;
	case PN_GET_FIRMWARE_VERSION: /* IC 0x32 = PN532, v1.6, ISO14443A/B and ISO18092 */
		o[0] = 0x32;
		o[1] = 0x01;
		o[2] = 0x06;
		o[3] = 0x07;
		on = 4;
		break;
	case PN_GET_GENERAL_STATUS:
		o[on++] = 0x00; /* last error */
		o[on++] = 0x01; /* field present */
		if (emu.listed) {
			o[on++] = 1;
			o[on++] = 1;    /* Tg */
			o[on++] = 0x00; /* BrRx 106 kbps */
			o[on++] = 0x00; /* BrTx */
			o[on++] = 0x00; /* type: 14443A */
		} else {
			o[on++] = 0;
		}
		o[on++] = 0x00; /* SAM status */
		break;
	case PN_READ_REGISTER: /* exactly one byte per address: libnfc batches several */
		for (i = 0; i + 1 < pn; i += 2)
			o[on++] = p[i] == 0x63 ? emu.ciu[p[i + 1]] : 0x00;
		break;
	case PN_WRITE_REGISTER:
		for (i = 0; i + 2 < pn; i += 3)
			if (p[i] == 0x63)
				emu.ciu[p[i + 1]] = p[i + 2];
		break;
	case PN_SET_PARAMETERS:
	case PN_SAM_CONFIGURATION:
		break;
	case PN_POWER_DOWN: /* the RF field goes off with the chip */
		field_reset();
		o[0] = 0x00;
		on = 1;
		break;
	case PN_RF_CONFIGURATION:
		if (pn >= 2 && p[0] == 0x01 && !(p[1] & 0x01))
			field_reset();
		if (pn >= 4 && p[0] == 0x05)
			emu.max_rty_passive = p[3];
		break;
	case PN_IN_LIST_PASSIVE_TARGET:
		if (pn < 2 || p[1] != 0x00) { /* only ISO14443A at 106 kbps */
			o[0] = 0;
			on = 1;
			break;
		}
		if (card_selectable() && (pn == 2 || uid_matches(p + 2, pn - 2))) {
			on = select_card(o);
			break;
		}
		if (emu.max_rty_passive == 0xFF && pn == 2) {
			/* infinite retries: the chip answers when a card shows up (libnfc gives up
			 * after 300 ms and aborts with an ACK) */
			emu.pending_cmd = cmd;
			emu.pending_forever = 1;
			return;
		}
		o[0] = 0;
		on = 1;
		break;
	case PN_IN_AUTO_POLL: {
		int wants_a = 0;

		for (i = 2; i < pn; i++)
			if (p[i] == 0x00 || p[i] == 0x10 || p[i] == 0x20)
				wants_a = 1;
		if (pn < 3) {
			o[0] = 0;
			on = 1;
			break;
		}
		if (wants_a && card_selectable()) {
			on = autopoll_card(o);
			break;
		}
		emu.pending_cmd = cmd;
		emu.pending_types = wants_a;
		emu.pending_forever = p[0] == 0xFF;
		if (!emu.pending_forever)
			now_plus_ms(&emu.pending_deadline, (long)p[0] * p[1] * POLL_PERIOD_MS);
		return;
	}
	case PN_IN_DATA_EXCHANGE:
	case PN_IN_COMMUNICATE_THRU:
		on = exchange(cmd, p, pn, o, sizeof(o));
		break;
	case PN_IN_DESELECT: /* the card goes to HALT */
		if (emu.listed && emu.have_tag && emu.present)
			emu.tag.state = TAG_HALT;
		emu.listed = 0;
		o[0] = 0x00;
		on = 1;
		break;
	case PN_IN_RELEASE:
		emu.listed = 0;
		o[0] = 0x00;
		on = 1;
		break;
	case PN_IN_SELECT:
		if (card_selectable()) {
			emu.tag.state = TAG_ACTIVE;
			emu.listed = 1;
			o[0] = 0x00;
		} else {
			o[0] = ST_WRONG_CTX;
		}
		on = 1;
		break;
	case PN_IN_PSL:
		o[0] = 0x00;
		on = 1;
		break;
	case PN_IN_JUMP_FOR_DEP: /* no NFC-DEP peer here */
		o[0] = ST_TIMEOUT;
		on = 1;
		break;
	default:
		if (emu.verbose)
			fprintf(stderr, "pn532emu: unsupported command 0x%02x\n", cmd);
		put(error_frame, sizeof(error_frame));
		return;
	}
	reply(cmd, o, on, corrupt);
}

/* Answers a waiting InListPassiveTarget/InAutoPoll when a card arrives or its time is up. */
static void check_pending(void)
{
	unsigned char o[32];
	size_t on;
	unsigned char cmd = (unsigned char)emu.pending_cmd;

	if (!emu.pending_cmd)
		return;
	if (card_selectable() && (cmd == PN_IN_LIST_PASSIVE_TARGET || emu.pending_types)) {
		on = cmd == PN_IN_LIST_PASSIVE_TARGET ? select_card(o) : autopoll_card(o);
		emu.pending_cmd = 0;
		reply(cmd, o, on, 0);
		return;
	}
	if (!emu.pending_forever && deadline_passed(&emu.pending_deadline)) {
		o[0] = 0;
		emu.pending_cmd = 0;
		reply(cmd, o, 1, 0);
	}
}

static void consume(size_t n)
{
	memmove(emu.rx, emu.rx + n, emu.rx_len - n);
	emu.rx_len -= n;
}

/* Splits the host byte stream into frames. Skips the 55 55 00 ... wake-up preamble and anything
 * else up to a 00 FF start code; knows host ACK (abort), NACK (resend) and extended frames. */
static void parse(void)
{
	for (;;) {
		size_t i = 0, avail, hdr, len, k;
		unsigned char *f, sum;

		while (i + 1 < emu.rx_len && !(emu.rx[i] == 0x00 && emu.rx[i + 1] == 0xFF))
			i++;
		if (i + 1 >= emu.rx_len) {
			/* keep a trailing 00: it may be the first half of a start code */
			if (emu.rx_len > 0 && emu.rx[emu.rx_len - 1] == 0x00) {
				emu.rx[0] = 0x00;
				emu.rx_len = 1;
			} else {
				emu.rx_len = 0;
			}
			return;
		}
		if (i > 0)
			consume(i);
		f = emu.rx + 2;
		avail = emu.rx_len - 2;
		if (avail < 2)
			return;
		if (f[0] == 0x00 &&
		    f[1] == 0xFF) { /* ACK from the host: abort the running command */
			emu.pending_cmd = 0;
			consume(4);
			continue;
		}
		if (f[0] == 0xFF && f[1] == 0x00) { /* NACK: send the last answer again */
			consume(4);
			if (emu.last_len > 0)
				put(emu.last, emu.last_len);
			continue;
		}
		if (f[0] == 0xFF && f[1] == 0xFF) { /* extended frame: FF FF LENm LENl LCS */
			if (avail < 5)
				return;
			if ((unsigned char)(f[2] + f[3] + f[4]) != 0) {
				consume(2);
				continue;
			}
			len = ((size_t)f[2] << 8) | f[3];
			hdr = 5;
		} else {
			if ((unsigned char)(f[0] + f[1]) != 0) {
				consume(2);
				continue;
			}
			len = f[0];
			hdr = 2;
		}
		if (len > FRAME_MAX - 16) { /* libnfc never sends more than 264 bytes */
			consume(2);
			continue;
		}
		if (avail < hdr + len + 1)
			return; /* wait for the rest */
		sum = 0;
		for (k = 0; k <= len; k++) /* data + DCS */
			sum = (unsigned char)(sum + f[hdr + k]);
		if (sum == 0)
			handle(f + hdr, len);
		else if (emu.verbose)
			fprintf(stderr, "pn532emu: dropping a frame with a bad checksum\n");
		consume(2 + hdr + len + 1);
	}
}

static void *serve(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd pfd[2] = {{.fd = emu.master, .events = POLLIN},
		                        {.fd = emu.wake[0], .events = POLLIN}};
		int r = poll(pfd, 2, TICK_MS);

		pthread_mutex_lock(&emu.mu);
		if (emu.stop) {
			pthread_mutex_unlock(&emu.mu);
			break;
		}
		if (r > 0 && (pfd[0].revents & POLLIN)) {
			ssize_t n =
			    read(emu.master, emu.rx + emu.rx_len, sizeof(emu.rx) - emu.rx_len);

			if (n > 0) {
				emu.rx_len += (size_t)n;
				parse();
				if (emu.rx_len == sizeof(emu.rx))
					emu.rx_len = 0; /* garbage without a frame in it */
			}
		}
		check_pending();
		pthread_mutex_unlock(&emu.mu);
	}
	return NULL;
}

static void close_fds(void)
{
	if (emu.master >= 0)
		close(emu.master);
	if (emu.slave >= 0)
		close(emu.slave);
	if (emu.wake[0] >= 0)
		close(emu.wake[0]);
	if (emu.wake[1] >= 0)
		close(emu.wake[1]);
	emu.master = emu.slave = emu.wake[0] = emu.wake[1] = -1;
}

/* Opens the pty. The slave is put in raw mode before any client opens it and kept open by us:
 * with no slave open, the master reads EIO between client sessions. */
static int open_pty(void)
{
	struct termios raw;
	const char *name;
	int flags;

	emu.master = posix_openpt(O_RDWR | O_NOCTTY);
	if (emu.master < 0)
		return -1;
	if (grantpt(emu.master) < 0 || unlockpt(emu.master) < 0)
		return -1;
	name = ptsname(emu.master);
	if (!name || strlen(name) >= sizeof(emu.path) || strchr(name, ':'))
		return -1; /* a connstring path may not contain ':' */
	memcpy(emu.path, name, strlen(name) + 1);
	emu.slave = open(emu.path, O_RDWR | O_NOCTTY);
	if (emu.slave < 0)
		return -1;
	if (tcgetattr(emu.slave, &raw) < 0)
		return -1;
	cfmakeraw(&raw);
	if (tcsetattr(emu.slave, TCSANOW, &raw) < 0)
		return -1;
	flags = fcntl(emu.master, F_GETFL);
	if (flags < 0 || fcntl(emu.master, F_SETFL, flags | O_NONBLOCK) < 0)
		return -1;
	if (pipe(emu.wake) < 0)
		return -1;
	return 0;
}

const char *pn532emu_start(const struct pn532emu_tag *tag)
{
	const char *v = getenv("PN532EMU_VERBOSE");
	const char *ret = NULL;

	pthread_mutex_lock(&emu.mu);
	if (emu.running)
		goto out;
	emu.stop = 0;
	emu.frames = 0;
	emu.rx_len = 0;
	emu.last_len = 0;
	emu.pending_cmd = 0;
	emu.fault = PN532EMU_FAULT_NONE;
	emu.listed = 0;
	memset(emu.ciu, 0, sizeof(emu.ciu));
	emu.ciu[CIU_TXMODE] = CIU_CRC_EN;
	emu.ciu[CIU_RXMODE] = CIU_CRC_EN;
	emu.max_rty_passive = 0xFF;
	if (v && strcmp(v, "1") == 0)
		emu.verbose = 1;
	emu.have_tag = emu.present = 0;
	if (tag) {
		if (tag_init(&emu.tag, tag) < 0)
			goto out;
		emu.have_tag = emu.present = 1;
	}
	if (open_pty() < 0)
		goto fail;
	if (pthread_create(&emu.thread, NULL, serve, NULL) != 0)
		goto fail;
	emu.running = 1;
	ret = emu.path;
	goto out;
fail:
	close_fds();
out:
	pthread_mutex_unlock(&emu.mu);
	return ret;
}

void pn532emu_stop(void)
{
	pthread_mutex_lock(&emu.mu);
	if (!emu.running) {
		pthread_mutex_unlock(&emu.mu);
		return;
	}
	emu.stop = 1;
	if (write(emu.wake[1], "x", 1) < 0) {
		/* the thread still sees stop within one tick */
	}
	pthread_mutex_unlock(&emu.mu);
	pthread_join(emu.thread, NULL);
	pthread_mutex_lock(&emu.mu);
	close_fds();
	emu.running = 0;
	pthread_mutex_unlock(&emu.mu);
}

int pn532emu_set_tag(const struct pn532emu_tag *tag)
{
	struct tag t;

	if (tag_init(&t, tag) < 0)
		return -1;
	pthread_mutex_lock(&emu.mu);
	emu.tag = t;
	emu.have_tag = emu.present = 1;
	pthread_mutex_unlock(&emu.mu);
	return 0;
}

void pn532emu_remove_tag(void)
{
	pthread_mutex_lock(&emu.mu);
	card_leaves();
	pthread_mutex_unlock(&emu.mu);
}

int pn532emu_present_tag(void)
{
	int ret = -1;

	pthread_mutex_lock(&emu.mu);
	if (emu.have_tag) {
		emu.present = 1;
		emu.tag.state = TAG_IDLE;
		ret = 0;
	}
	pthread_mutex_unlock(&emu.mu);
	return ret;
}

int pn532emu_fault(enum pn532emu_fault fault, int arg)
{
	if (fault < PN532EMU_FAULT_NONE || fault > PN532EMU_FAULT_REMOVE_AFTER_READS || arg < 0)
		return -1;
	pthread_mutex_lock(&emu.mu);
	emu.fault = fault;
	emu.fault_arg = arg;
	pthread_mutex_unlock(&emu.mu);
	return 0;
}

size_t pn532emu_tag_memory(unsigned char *out, size_t cap)
{
	size_t size = 0;

	pthread_mutex_lock(&emu.mu);
	if (emu.have_tag) {
		size = (size_t)emu.tag.pages * 4;
		if (out)
			memcpy(out, emu.tag.mem, size < cap ? size : cap);
	}
	pthread_mutex_unlock(&emu.mu);
	return size;
}

unsigned long pn532emu_frames(void)
{
	unsigned long n;

	pthread_mutex_lock(&emu.mu);
	n = emu.frames;
	pthread_mutex_unlock(&emu.mu);
	return n;
}

void pn532emu_verbose(int on)
{
	pthread_mutex_lock(&emu.mu);
	emu.verbose = on != 0;
	pthread_mutex_unlock(&emu.mu);
}

unsigned pn532emu_kind_pages(enum pn532emu_kind kind)
{
	return tag_kind_pages(kind);
}

size_t pn532emu_kind_area(enum pn532emu_kind kind)
{
	return tag_kind_area(kind);
}
