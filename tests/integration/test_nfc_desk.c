/* The reception desk writes a pass to an NFC card: estiva-admin write-nfc through libnfc's real
 * pn532_uart driver against the PN532 emulator on a pseudo-terminal (tools/pn532emu). The card then
 * holds the signed pass bound to its UID; the tag is read back here and checked with shared/pass.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ndef.h"
#include "pass.h"
#include "pn532emu.h"

static char device[128];

static int admin(char *out, size_t n, char *const extra[])
{
	char *argv[16] = {(char *)hx_admin_path(HX), "-c", (char *)hx_conf_path(HX)};
	int k = 3;

	for (int i = 0; extra[i] && k < 15; i++)
		argv[k++] = extra[i];
	argv[k] = NULL;
	return hx_exec(argv, NULL, out, n);
}

static long long confirmed_pass(const char *member, int arrival)
{
	struct hc *c = hc_login_ok(member);
	struct hres r;
	char id[32], out[2048], path[96];
	long long bid, pid;

	hc_book(c, "test-a", "chalet", arrival, arrival + 2, HX_GUESTS_SELF, &r);
	EXPECT(r, 201, NULL);
	bid = jint(r.json, "id");
	hres_free(&r);
	snprintf(id, sizeof(id), "%lld", bid);
	{
		char *a[] = {"confirm", id, NULL};
		if (admin(out, sizeof(out), a) != 0)
			fail_msg("confirm: %s", out);
	}
	snprintf(path, sizeof(path), "/api/v1/bookings/%lld/passes", bid);
	hc_do(c, "GET", path, NULL, NULL, &r);
	EXPECT(r, 200, NULL);
	pid = jint(r.json, "passes.0.id");
	hres_free(&r);
	hc_free(c);
	return pid;
}

static int load_keys(struct pass_key *keys, int max)
{
	char hex[80];
	int n = 0;

	for (int id = 1; id <= 3 && n < max; id++) {
		char sql[96];
		snprintf(sql, sizeof(sql), "SELECT hex(public_key) FROM signing_keys WHERE id = %d",
		         id);
		if (hx_db_text(sql, NULL, hex, sizeof(hex)) != 0)
			continue;
		keys[n].id = (uint8_t)id;
		keys[n].valid_until = 0;
		for (int i = 0; i < 32; i++) {
			unsigned v;
			sscanf(hex + 2 * i, "%2x", &v);
			keys[n].pk[i] = (unsigned char)v;
		}
		n++;
	}
	return n;
}

static void write_pass_to_card(void **state)
{
	static const struct pn532emu_tag ntag213 = {
	    PN532EMU_NTAG213, {0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66}, 7, NULL, 0};
	unsigned char mem[PN532EMU_MEM_MAX];
	const unsigned char *payload;
	struct pass_key keys[3];
	struct pass p;
	char out[4096], id[32], uid[32];
	long long pid = confirmed_pass("200001", 10);
	size_t n, len;
	int nkeys;

	(void)state;
	assert_int_equal(pn532emu_set_tag(&ntag213), 0);
	snprintf(id, sizeof(id), "%lld", pid);
	{
		char *a[] = {"write-nfc", id, "--device", device, "--timeout", "5", NULL};
		if (admin(out, sizeof(out), a) != 0)
			fail_msg("write-nfc: %s", out);
	}
	assert_non_null(strstr(out, "bound to its UID"));
	assert_non_null(strstr(out, "04112233445566"));
	/* the card holds the pass, signed, bound to this UID */
	len = pn532emu_tag_memory(mem, sizeof(mem));
	assert_true(len > 16);
	assert_int_equal(ndef_decode_pass(mem + 16, len - 16, &payload, &n), NDEF_OK);
	nkeys = load_keys(keys, 3);
	assert_true(nkeys >= 1);
	assert_int_equal(pass_verify_bin(payload, n, keys, nkeys, &p), PASS_OK);
	assert_int_equal(p.pass_id, (uint32_t)pid);
	assert_int_equal(p.uid_len, 7);
	assert_memory_equal(p.uid, ntag213.uid, 7);
	assert_int_equal(p.flags & PASS_FLAG_NFC, PASS_FLAG_NFC);
	assert_int_equal(p.centre, 11); /* test-a's number */
	/* and the database knows the binding */
	{
		char sql[96];
		snprintf(sql, sizeof(sql), "SELECT hex(nfc_uid) FROM passes WHERE id = %lld", pid);
		assert_int_equal(hx_db_text(sql, NULL, uid, sizeof(uid)), 0);
		assert_string_equal(uid, "04112233445566");
	}
}

static void refusals(void **state)
{
	static const struct pn532emu_tag ultralight = {
	    PN532EMU_ULTRALIGHT, {0x04, 1, 2, 3, 4, 5, 6}, 7, NULL, 0};
	char out[4096], id[32];
	long long pid = confirmed_pass("200003", 20);

	(void)state;
	snprintf(id, sizeof(id), "%lld", pid);
	/* no card: says so after the timeout */
	pn532emu_remove_tag();
	{
		char *a[] = {"write-nfc", id, "--device", device, "--timeout", "1", NULL};
		assert_int_not_equal(admin(out, sizeof(out), a), 0);
		assert_non_null(strstr(out, "no card"));
	}
	/* a card too small for a pass (Ultralight: 48 bytes) is refused with a clear message */
	assert_int_equal(pn532emu_set_tag(&ultralight), 0);
	{
		char *a[] = {"write-nfc", id, "--device", device, "--timeout", "3", NULL};
		assert_int_not_equal(admin(out, sizeof(out), a), 0);
		assert_non_null(strstr(out, "writing the card failed"));
	}
	/* an unknown pass */
	{
		char *a[] = {"write-nfc", "999999", "--device", device, "--timeout", "1", NULL};
		assert_int_not_equal(admin(out, sizeof(out), a), 0);
		assert_non_null(strstr(out, "no active pass"));
	}
	/* a reader that is not there */
	{
		char *a[] = {"write-nfc", id,  "--device", "pn532_uart:/dev/nonexistent-reader",
		             "--timeout", "1", NULL};
		assert_int_not_equal(admin(out, sizeof(out), a), 0);
		assert_non_null(strstr(out, "NFC reader"));
	}
}

int main(int argc, char **argv)
{
	const struct hx_opts opts = {.members = 4};
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(write_pass_to_card),
	    cmocka_unit_test(refusals),
	};
	const char *pts = pn532emu_start(NULL);
	int rc;

	if (!pts) {
		fprintf(stderr, "itest: no pseudo-terminals here: skipped\n");
		return 77;
	}
	snprintf(device, sizeof(device), "pn532_uart:%s", pts);
	setenv("LIBNFC_AUTO_SCAN", "false", 1);
	rc = hx_main(argc, argv, &opts, "nfc_desk", tests, sizeof(tests) / sizeof(tests[0]));
	pn532emu_stop();
	return rc;
}
