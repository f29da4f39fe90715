/* test_gate_nfc.c: the gate's NFC reader through libnfc's real pn532_uart driver against the PN532
 * emulator (tools/pn532emu) on a pseudo-terminal, in this process; the gate is the real
 * estiva-gate. A tag bound to its UID is admitted; the same record on another tag is a copy
 * (uid_mismatch); a blank tag is unreadable; a tag pulled away mid-read makes no scan, and put back
 * it is read. argv: estiva-server estiva-admin estiva-gate. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate_harness.h"
#include "ndef.h"
#include "pn532emu.h"

static const unsigned char uid_a[7] = {0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6};
static const unsigned char uid_b[7] = {0x04, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60};

static struct pn532emu_tag tag_with(const unsigned char *uid, const unsigned char *img, size_t len)
{
	struct pn532emu_tag t;

	memset(&t, 0, sizeof t);
	t.kind = PN532EMU_NTAG213;
	memcpy(t.uid, uid, 7);
	t.uid_len = 7;
	t.image = img;
	t.image_len = len;
	return t;
}

/* The memory of an NTAG213 with this UID holding the pass record. */
static size_t image_of(const unsigned char *uid, const unsigned char *pass, size_t n,
                       unsigned char *img)
{
	struct pn532emu_tag blank = tag_with(uid, NULL, 0);
	unsigned char tlv[NDEF_PASS_TLV_MAX];
	size_t size, tn = 0;

	assert_int_equal(pn532emu_set_tag(&blank), 0);
	size = pn532emu_tag_memory(img, PN532EMU_MEM_MAX);
	pn532emu_remove_tag();
	assert_int_equal(ndef_encode_pass(pass, n, tlv, sizeof tlv, &tn), NDEF_OK);
	assert_true(16 + tn <= size);
	memcpy(img + 16, tlv, tn);
	return size;
}

static long long events(struct gt *g)
{
	return gt_int(g, "SELECT COUNT(*) FROM events");
}

static void wait_event(struct gt *g, long long count, struct gt_event *ev)
{
	gt_wait_int(g, "SELECT COUNT(*) FROM events", count, 8000);
	assert_int_equal(gt_last_event(g, ev), 0);
}

static void nfc_reader(void **state)
{
	char tok[PASS_TEXT_MAX + 1], conn[128];
	unsigned char bin[PASS_BIN_MAX], img_a[PN532EMU_MEM_MAX], img_b[PN532EMU_MEM_MAX];
	struct gt_opts o = {.name = "NFC gate", .nfc = conn};
	struct pn532emu_tag t;
	struct gt_event ev;
	struct pass p;
	const char *slave;
	size_t bn = 0, la, lb;
	long long bk, pid, n;
	struct gt *g;

	(void)state;
	bk = gt_booking(1, "test-a", "chalet", 1, 2, HX_GUESTS_SELF);
	pid = gt_pass(bk, 0, tok, sizeof tok);
	/* the server issues QR passes; a reception desk binds one to a tag: the same pass, bound to
	 * uid_a */
	gt_parse(tok, &p);
	p.flags = PASS_FLAG_NFC;
	p.uid_len = 7;
	memcpy(p.uid, uid_a, 7);
	gt_sign_bin(&p, bin, sizeof bin, &bn);

	slave = pn532emu_start(NULL);
	if (!slave) {
		fprintf(stderr, "no pseudo-terminals here: skipped\n");
		skip();
	}
	la = image_of(uid_a, bin, bn, img_a);
	lb = image_of(uid_b, bin, bn, img_b);
	snprintf(conn, sizeof conn, "pn532_uart:%s", slave);
	g = gt_new(&o);
	gt_start(g);
	gt_settle(g);
	n = events(g);

	/* the right tag: admitted, one scan for one tap */
	t = tag_with(uid_a, img_a, la);
	assert_int_equal(pn532emu_set_tag(&t), 0);
	wait_event(g, n + 1, &ev);
	if (strcmp(ev.decision, "admit") || strcmp(ev.reason, "ok") || ev.pass != pid)
		fail_msg("right tag: %s/%s pass %lld", ev.decision, ev.reason, ev.pass);
	hx_sleep_ms(700);
	assert_int_equal(events(g), n + 1);
	pn532emu_remove_tag();
	hx_sleep_ms(300);

	/* the same record copied onto another tag */
	t = tag_with(uid_b, img_b, lb);
	assert_int_equal(pn532emu_set_tag(&t), 0);
	wait_event(g, n + 2, &ev);
	if (strcmp(ev.decision, "deny") || strcmp(ev.reason, "uid_mismatch"))
		fail_msg("copied tag: %s/%s", ev.decision, ev.reason);
	pn532emu_remove_tag();
	hx_sleep_ms(300);

	/* a blank tag */
	t = tag_with(uid_b, NULL, 0);
	assert_int_equal(pn532emu_set_tag(&t), 0);
	wait_event(g, n + 3, &ev);
	if (strcmp(ev.decision, "deny") || strcmp(ev.reason, "bad_format"))
		fail_msg("blank tag: %s/%s", ev.decision, ev.reason);
	pn532emu_remove_tag();
	hx_sleep_ms(300);

	/* pulled away after the first READ: no scan; put back: read (already inside now) */
	assert_int_equal(pn532emu_fault(PN532EMU_FAULT_REMOVE_AFTER_READS, 1), 0);
	t = tag_with(uid_a, img_a, la);
	assert_int_equal(pn532emu_set_tag(&t), 0);
	hx_sleep_ms(1500);
	assert_int_equal(events(g), n + 3);
	assert_int_equal(pn532emu_present_tag(), 0);
	wait_event(g, n + 4, &ev);
	if (strcmp(ev.decision, "deny") || strcmp(ev.reason, "already_inside"))
		fail_msg("tag put back: %s/%s", ev.decision, ev.reason);
	pn532emu_remove_tag();

	/* the reader goes away (emulator stopped): reported, the gate keeps running and stops
	 * cleanly */
	pn532emu_stop();
	hx_sleep_ms(500);
	gt_stop(g);
	gt_free(g);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(nfc_reader)};
	const struct hx_opts opts = {.members = 2};

	if (argc < 4) {
		fprintf(stderr, "usage: %s estiva-server estiva-admin estiva-gate\n", argv[0]);
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	gt_set_binary(argv[3]);
	return hx_main(argc, argv, &opts, "gate_nfc", tests, sizeof(tests) / sizeof(tests[0]));
}
