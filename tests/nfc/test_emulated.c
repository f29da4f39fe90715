/* test_emulated.c: shared/nfctag.c through libnfc's real pn532_uart driver, serial code and PN53x
 * layer, against the PN532 emulator (tools/pn532emu) serving a pseudo-terminal in this process.
 * Writes and reads passes on NTAG213/215/216, refuses what does not fit or is not an NTAG, survives
 * tags taken away before and during a write (no half-written record ever decodes), no tag, faults
 * on the serial line, and a reader that goes away and comes back. Skips when ptys are unavailable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <pthread.h>

#include "ndef.h"
#include "nfctag.h"
#include "pn532emu.h"

#define WAIT_MS 1000

struct fixture {
	struct nfctag *reader;
	char connstring[160];
};

static const unsigned char uid_a[7] = {0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66};
static const unsigned char uid_b[7] = {0x04, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC};

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed * 31u + i * 7u + 3u);
}

static struct pn532emu_tag make_tag(enum pn532emu_kind kind, const unsigned char *uid)
{
	struct pn532emu_tag t;

	memset(&t, 0, sizeof(t));
	t.kind = kind;
	if (uid) {
		memcpy(t.uid, uid, 7);
		t.uid_len = 7;
	}
	return t;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Starts the emulator with tag (NULL: empty field) and opens the reader on it. */
static void start(struct fixture *f, const struct pn532emu_tag *tag)
{
	char err[256];
	const char *path = pn532emu_start(tag);

	if (!path) {
		if (tag && pn532emu_start(NULL)) {
			pn532emu_stop();
			fail_msg("pn532emu_start refused the tag description");
		}
		skip(); /* no pseudo-terminals here (no devpts in this sandbox) */
	}
	snprintf(f->connstring, sizeof(f->connstring), "pn532_uart:%s", path);
	f->reader = nfctag_open(f->connstring, err, sizeof(err));
	if (!f->reader)
		fail_msg("nfctag_open(%s): %s", f->connstring, err);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	nfctag_close(f->reader);
	pn532emu_stop();
	free(f);
	return 0;
}

/* What the emulated tag holds, decoded independently of nfctag.c: NDEF_OK and the payload, or why
 * not. */
static enum ndef_err tag_holds(unsigned char *out, size_t *n)
{
	unsigned char mem[PN532EMU_MEM_MAX];
	size_t size = pn532emu_tag_memory(mem, sizeof(mem));
	const unsigned char *p;
	enum ndef_err e;

	assert_true(size > 16);
	e = ndef_decode_pass(mem + 16, size - 16, &p, n);
	if (e == NDEF_OK)
		memcpy(out, p, *n);
	return e;
}

static void wait_tag(struct fixture *f, struct nfctag_info *info)
{
	int r = nfctag_wait(f->reader, WAIT_MS, info);

	if (r != 1)
		fail_msg("nfctag_wait returned %d: %s", r, nfctag_strerror(f->reader));
}

static void write_ok(struct fixture *f, const unsigned char *data, size_t n)
{
	char err[256];

	if (nfctag_write_pass(f->reader, data, n, err, sizeof(err)) != 0)
		fail_msg("nfctag_write_pass(%zu bytes): %s", n, err);
}

static void read_expect(struct fixture *f, const unsigned char *data, size_t n)
{
	unsigned char out[NDEF_PASS_PAYLOAD_MAX];
	size_t got = 0;

	if (nfctag_read_pass(f->reader, out, sizeof(out), &got) != 0)
		fail_msg("nfctag_read_pass: %s", nfctag_strerror(f->reader));
	assert_int_equal(got, n);
	assert_memory_equal(out, data, n);
}

/* ---- the happy paths ---- */

static void test_ntag213_write_read(void **state)
{
	struct fixture *f = *state;
	struct pn532emu_tag tag = make_tag(PN532EMU_NTAG213, uid_a);
	struct nfctag_info info;
	unsigned char pass[98], held[NDEF_PASS_PAYLOAD_MAX];
	size_t n = 0;

	start(f, &tag);
	wait_tag(f, &info);
	assert_int_equal(info.uid_len, 7);
	assert_memory_equal(info.uid, uid_a, 7);
	assert_int_equal(info.type, NFCTAG_NTAG213);
	assert_int_equal(info.user_bytes, 144);
	assert_int_equal(info.sak, 0x00);
	assert_int_equal(info.atqa[1], 0x44);
	assert_string_equal(nfctag_type_name(info.type), "NTAG213");

	fill(pass, sizeof(pass), 1);
	write_ok(f, pass, sizeof(pass));
	read_expect(f, pass, sizeof(pass));
	assert_int_equal(tag_holds(held, &n), NDEF_OK);
	assert_int_equal(n, sizeof(pass));
	assert_memory_equal(held, pass, n);
	assert_int_equal(nfctag_present(f->reader), 1);

	/* the tag stays on the reader: the next wait finds it again and reads the same pass */
	wait_tag(f, &info);
	assert_memory_equal(info.uid, uid_a, 7);
	read_expect(f, pass, sizeof(pass));

	/* the largest pass an NTAG213 takes */
	{
		unsigned char big[111];

		fill(big, sizeof(big), 3);
		write_ok(f, big, sizeof(big));
		read_expect(f, big, sizeof(big));
	}
}

static void test_ntag215_216(void **state)
{
	static const struct {
		enum pn532emu_kind kind;
		enum nfctag_type type;
		size_t area;
	} kinds[] = {{PN532EMU_NTAG215, NFCTAG_NTAG215, 496},
	             {PN532EMU_NTAG216, NFCTAG_NTAG216, 872}};
	static const size_t sizes[] = {98, 1, 224, 225, 255, 17};
	struct fixture *f = *state;
	struct nfctag_info info;
	unsigned char pass[NDEF_PASS_PAYLOAD_MAX], held[NDEF_PASS_PAYLOAD_MAX];
	size_t n;

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		struct pn532emu_tag tag = make_tag(kinds[k].kind, k ? uid_b : uid_a);

		if (k == 0)
			start(f, &tag);
		else
			assert_int_equal(pn532emu_set_tag(&tag), 0);
		wait_tag(f, &info);
		assert_int_equal(info.type, kinds[k].type);
		assert_int_equal(info.user_bytes, kinds[k].area);
		assert_memory_equal(info.uid, k ? uid_b : uid_a, 7);
		/* shorter after longer: what is left of the longer one must not matter */
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			fill(pass, sizes[s], (unsigned)(k * 10 + s));
			write_ok(f, pass, sizes[s]);
			read_expect(f, pass, sizes[s]);
			assert_int_equal(tag_holds(held, &n), NDEF_OK);
			assert_int_equal(n, sizes[s]);
			assert_memory_equal(held, pass, n);
		}
	}
}

/* ---- refusals: too big, not an NTAG, read-only, locked ---- */

static void test_too_big_for_ntag213(void **state)
{
	struct fixture *f = *state;
	struct pn532emu_tag tag = make_tag(PN532EMU_NTAG213, NULL);
	struct nfctag_info info;
	unsigned char before[PN532EMU_MEM_MAX], after[PN532EMU_MEM_MAX], pass[200], held[256];
	char err[256];
	size_t size, n;

	start(f, &tag);
	wait_tag(f, &info);
	/* an earlier pass on the tag stays as it was */
	fill(pass, 50, 9);
	write_ok(f, pass, 50);
	size = pn532emu_tag_memory(before, sizeof(before));
	assert_int_equal(size, 45 * 4);

	fill(pass, sizeof(pass), 4);
	assert_int_equal(nfctag_write_pass(f->reader, pass, 200, err, sizeof(err)), -1);
	assert_int_equal(nfctag_error(f->reader), NFCTAG_ETOOBIG);
	assert_non_null(strstr(err, "NTAG213"));
	assert_non_null(strstr(err, "233 bytes")); /* what it needs */
	assert_non_null(strstr(err, "144"));       /* what the tag holds */
	assert_non_null(strstr(err, "at most 111 payload bytes"));
	assert_string_equal(err, nfctag_strerror(f->reader));
	assert_int_equal(pn532emu_tag_memory(after, sizeof(after)), size);
	assert_memory_equal(before, after, size);

	assert_int_equal(nfctag_write_pass(f->reader, pass, 112, err, sizeof(err)), -1);
	assert_int_equal(nfctag_error(f->reader), NFCTAG_ETOOBIG);
	assert_int_equal(nfctag_write_pass(f->reader, pass, 256, err, sizeof(err)), -1);
	assert_int_equal(nfctag_error(f->reader), NFCTAG_EARG);
	assert_int_equal(nfctag_write_pass(f->reader, pass, 0, err, sizeof(err)), -1);
	assert_int_equal(nfctag_error(f->reader), NFCTAG_EARG);
	assert_int_equal(pn532emu_tag_memory(after, sizeof(after)), size);
	assert_memory_equal(before, after, size);
	assert_int_equal(tag_holds(held, &n), NDEF_OK);
	assert_int_equal(n, 50);

	/* the reader and the tag are still fine */
	fill(pass, 111, 5);
	write_ok(f, pass, 111);
	read_expect(f, pass, 111);
}

static void test_not_an_ntag(void **state)
{
	struct fixture *f = *state;
	struct pn532emu_tag tag = make_tag(PN532EMU_CLASSIC, NULL);
	struct nfctag_info info;
	unsigned char pass[20], out[64];
	char err[256];
	size_t n;

	start(f, &tag);
	wait_tag(f, &info);
	assert_int_equal(info.type, NFCTAG_UNKNOWN);
	assert_int_equal(info.uid_len, 4);
	assert_int_equal(info.sak, 0x08);
	assert_int_equal(info.user_bytes, 0);
	fill(pass, sizeof(pass), 6);
	assert_int_equal(nfctag_write_pass(f->reader, pass, sizeof(pass), err, sizeof(err)), -1);
	assert_int_equal(nfctag_error(f->reader), NFCTAG_EUNSUPPORTED);
	assert_non_null(strstr(err, "not an NTAG213, NTAG215 or NTAG216"));
	assert_int_equal(nfctag_read_pass(f->reader, out, sizeof(out), &n), -1);
	assert_int_equal(nfctag_error(f->reader), NFCTAG_EUNSUPPORTED);
	assert_int_equal(nfctag_present(f->reader), 1);
	pn532emu_remove_tag();
	assert_int_equal(nfctag_present(f->reader), 0);

	/* a MIFARE Ultralight: a Type 2 tag without GET_VERSION. Readable, never written. */
	tag = make_tag(PN532EMU_ULTRALIGHT, uid_b);
	assert_int_equal(pn532emu_set_tag(&tag), 0);
	wait_tag(f, &info);
	assert_int_equal(info.type, NFCTAG_UNKNOWN);
	assert_memory_equal(info.uid, uid_b, 7);
	assert_int_equal(info.user_bytes, 48);
	assert_int_equal(nfctag_present(f->reader), 1);
	assert_int_equal(nfctag_write_pass(f->reader, pass, sizeof(pass), err, sizeof(err)), -1);
	assert_int_equal(nfctag_error(f->reader), NFCTAG_EUNSUPPORTED);
	assert_int_equal(nfctag_read_pass(f->reader, out, sizeof(out), &n), -1);
	assert_int_equal(nfctag_error(f->reader), NFCTAG_ENDEF);
	assert_non_null(strstr(nfctag_strerror(f->reader), "empty NDEF message"));
	assert_int_equal(nfctag_present(f->reader), 1);
}

static void test_read_only_and_locked(void **state)
{
	struct fixture *f = *state;
	struct pn532emu_tag tag = make_tag(PN532EMU_NTAG215, uid_a);
	unsigned char img[PN532EMU_MEM_MAX], before[PN532EMU_MEM_MAX], after[PN532EMU_MEM_MAX];
	unsigned char pass[98], held[256];
	struct nfctag_info info;
	char err[256];
	size_t size, n;

	/* a factory NTAG215 image with a read-only capability container */
	start(f, &tag);
	size = pn532emu_tag_memory(img, sizeof(img));
	img[15] = 0x0F;
	tag.image = img;
	tag.image_len = size;
	assert_int_equal(pn532emu_set_tag(&tag), 0);
	wait_tag(f, &info);
	pn532emu_tag_memory(before, sizeof(before));
	fill(pass, sizeof(pass), 7);
	assert_int_equal(nfctag_write_pass(f->reader, pass, sizeof(pass), err, sizeof(err)), -1);
	assert_int_equal(nfctag_error(f->reader), NFCTAG_EREADONLY);
	assert_non_null(strstr(err, "read-only"));
	pn532emu_tag_memory(after, sizeof(after));
	assert_memory_equal(before, after, size);

	/* static lock bit of page 6 set: the tag refuses that page, and holds no record afterwards
	 */
	img[15] = 0x00;
	img[10] = 1u << 6;
	assert_int_equal(pn532emu_set_tag(&tag), 0);
	wait_tag(f, &info);
	assert_int_equal(nfctag_write_pass(f->reader, pass, sizeof(pass), err, sizeof(err)), -1);
	assert_int_equal(nfctag_error(f->reader), NFCTAG_EREFUSED);
	assert_non_null(strstr(err, "page 6"));
	assert_int_equal(tag_holds(held, &n), NDEF_EEMPTY);
	/* the reader still works, and so does the tag for reading */
	assert_int_equal(nfctag_present(f->reader), 1);
	assert_int_equal(nfctag_read_pass(f->reader, held, sizeof(held), &n), -1);
	assert_int_equal(nfctag_error(f->reader), NFCTAG_ENDEF);
}

static void test_foreign_ndef(void **state)
{
	static const unsigned char text[] = {0x03, 0x0E, 0xD1, 0x01, 0x0A, 'T', 0x02, 'e',
	                                     'n',  'H',  'e',  'l',  'l',  'o', '!',  0xFE};
	struct fixture *f = *state;
	struct pn532emu_tag tag = make_tag(PN532EMU_NTAG213, uid_a);
	unsigned char img[PN532EMU_MEM_MAX], out[64];
	struct nfctag_info info;
	size_t size, n = 99;

	start(f, &tag);
	size = pn532emu_tag_memory(img, sizeof(img));
	memcpy(img + 16, text, sizeof(text));
	tag.image = img;
	tag.image_len = size;
	assert_int_equal(pn532emu_set_tag(&tag), 0);
	wait_tag(f, &info);
	assert_int_equal(nfctag_read_pass(f->reader, out, sizeof(out), &n), -1);
	assert_int_equal(nfctag_error(f->reader), NFCTAG_ENDEF);
	assert_int_equal(n, 0);
	assert_non_null(strstr(nfctag_strerror(f->reader), "not an Estiva pass"));

	/* a pass larger than the caller's buffer */
	{
		unsigned char pass[80];

		fill(pass, sizeof(pass), 8);
		write_ok(f, pass, sizeof(pass));
		assert_int_equal(nfctag_read_pass(f->reader, out, sizeof(out), &n), -1);
		assert_int_equal(nfctag_error(f->reader), NFCTAG_ESPACE);
	}
}

/* ---- tags that go away ---- */

static void test_removed_before_write(void **state)
{
	struct fixture *f = *state;
	struct pn532emu_tag tag = make_tag(PN532EMU_NTAG213, uid_a);
	struct nfctag_info info;
	unsigned char pass[98], out[256];
	char err[256];
	size_t n;

	start(f, &tag);
	wait_tag(f, &info);
	pn532emu_remove_tag();
	fill(pass, sizeof(pass), 10);
	assert_int_equal(nfctag_write_pass(f->reader, pass, sizeof(pass), err, sizeof(err)), -1);
	assert_int_equal(nfctag_error(f->reader), NFCTAG_ENOTAG);
	assert_non_null(strstr(err, "left the reader"));
	assert_int_equal(nfctag_present(f->reader), 0);
	assert_int_equal(nfctag_read_pass(f->reader, out, sizeof(out), &n), -1);
	assert_int_equal(nfctag_error(f->reader), NFCTAG_ENOTAG);
	assert_int_equal(nfctag_wait(f->reader, 0, &info), 0);

	/* the next tag works */
	tag = make_tag(PN532EMU_NTAG215, uid_b);
	assert_int_equal(pn532emu_set_tag(&tag), 0);
	wait_tag(f, &info);
	assert_memory_equal(info.uid, uid_b, 7);
	write_ok(f, pass, sizeof(pass));
	read_expect(f, pass, sizeof(pass));
}

/* The tag leaves after k of the write's WRITE commands, for every k. Afterwards it holds the old
 * pass intact, or no record, or the new pass complete: never anything else that decodes. */
static void test_removed_while_writing(void **state)
{
	struct fixture *f = *state;
	struct pn532emu_tag tag = make_tag(PN532EMU_NTAG213, uid_a);
	struct nfctag_info info;
	unsigned char old_pass[60], new_pass[98], held[256];
	char err[256];
	size_t n;
	/* 98 bytes: TLV of 131 bytes = 33 pages, written as page 4 blanked, pages 5..36, page 4 */
	const int writes = 1 + 32 + 1;

	start(f, &tag);
	fill(old_pass, sizeof(old_pass), 11);
	fill(new_pass, sizeof(new_pass), 12);
	for (int k = 0; k <= writes; k++) {
		enum ndef_err e;

		wait_tag(f, &info);
		write_ok(f, old_pass, sizeof(old_pass));
		assert_int_equal(pn532emu_fault(PN532EMU_FAULT_REMOVE_AFTER_WRITES, k), 0);
		assert_int_equal(
		    nfctag_write_pass(f->reader, new_pass, sizeof(new_pass), err, sizeof(err)), -1);
		assert_int_equal(nfctag_error(f->reader), NFCTAG_ENOTAG);
		e = tag_holds(held, &n);
		if (k == 0) {
			assert_int_equal(e, NDEF_OK);
			assert_int_equal(n, sizeof(old_pass));
			assert_memory_equal(held, old_pass, n);
		} else if (k < writes) {
			if (e != NDEF_EEMPTY)
				fail_msg("removed after %d writes: tag decodes as %s", k,
				         ndef_strerror(e));
			assert_non_null(strstr(err, "taken away"));
		} else {
			/* gone while being read back: the new pass is complete, but unverified */
			assert_int_equal(e, NDEF_OK);
			assert_int_equal(n, sizeof(new_pass));
			assert_memory_equal(held, new_pass, n);
		}
		assert_int_equal(nfctag_present(f->reader), 0);
		/* put it back: the reader goes on */
		assert_int_equal(pn532emu_present_tag(), 0);
	}
	wait_tag(f, &info);
	write_ok(f, new_pass, sizeof(new_pass));
	read_expect(f, new_pass, sizeof(new_pass));
}

/* The tag leaves after two of the READs of a 98-byte pass (nine READs): reported, then it reads. */
static void test_removed_while_reading(void **state)
{
	struct fixture *f = *state;
	struct pn532emu_tag tag = make_tag(PN532EMU_NTAG213, uid_a);
	struct nfctag_info info;
	unsigned char pass[98], out[256];
	size_t n = 99;

	start(f, &tag);
	wait_tag(f, &info);
	fill(pass, sizeof(pass), 15);
	write_ok(f, pass, sizeof(pass));
	assert_int_equal(pn532emu_fault(PN532EMU_FAULT_REMOVE_AFTER_READS, 2), 0);
	assert_int_equal(nfctag_read_pass(f->reader, out, sizeof(out), &n), -1);
	assert_int_equal(nfctag_error(f->reader), NFCTAG_ENOTAG);
	assert_int_equal(n, 0);
	assert_non_null(strstr(nfctag_strerror(f->reader), "left the reader while reading"));
	assert_int_equal(nfctag_present(f->reader), 0);
	assert_int_equal(pn532emu_present_tag(), 0);
	wait_tag(f, &info);
	read_expect(f, pass, sizeof(pass));
}

static void test_presence(void **state)
{
	struct fixture *f = *state;
	struct pn532emu_tag tag = make_tag(PN532EMU_NTAG216, uid_a);
	struct nfctag_info info;

	start(f, &tag);
	assert_int_equal(nfctag_present(f->reader), 0); /* nothing selected yet */
	wait_tag(f, &info);
	assert_int_equal(nfctag_present(f->reader), 1);
	assert_int_equal(nfctag_present(f->reader), 1);
	pn532emu_remove_tag();
	assert_int_equal(nfctag_present(f->reader), 0);
	assert_int_equal(nfctag_present(f->reader), 0);
	assert_int_equal(pn532emu_present_tag(), 0);
	wait_tag(f, &info);
	assert_int_equal(nfctag_present(f->reader), 1);
	/* another tag put in its place is not the same tag "still present" */
	tag = make_tag(PN532EMU_NTAG213, uid_b);
	assert_int_equal(pn532emu_set_tag(&tag), 0);
	assert_int_equal(nfctag_present(f->reader), 0);
	wait_tag(f, &info);
	assert_memory_equal(info.uid, uid_b, 7);
	assert_int_equal(nfctag_present(f->reader), 1);
}

/* ---- no tag, and a tag that comes during the wait ---- */

struct later {
	long ms;
	struct pn532emu_tag tag;
};

static void *place_later(void *arg)
{
	struct later *l = arg;
	struct timespec ts = {.tv_sec = l->ms / 1000, .tv_nsec = (l->ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
	(void)pn532emu_set_tag(&l->tag);
	return NULL;
}

static void test_no_tag(void **state)
{
	struct fixture *f = *state;
	struct nfctag_info info;
	struct timespec t0;
	struct later l;
	pthread_t th;
	long took;

	start(f, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(nfctag_wait(f->reader, 300, &info), 0);
	took = ms_since(&t0);
	assert_true(took >= 290);
	assert_true(took < 1500);
	assert_int_equal(nfctag_error(f->reader), NFCTAG_ENOTAG);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(nfctag_wait(f->reader, 0, &info), 0);
	assert_true(ms_since(&t0) < 500);
	assert_int_equal(nfctag_present(f->reader), 0);

	/* a tag placed 200 ms into a 3 s wait is found then, not at the end */
	l.ms = 200;
	l.tag = make_tag(PN532EMU_NTAG213, uid_b);
	assert_int_equal(pthread_create(&th, NULL, place_later, &l), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(nfctag_wait(f->reader, 3000, &info), 1);
	took = ms_since(&t0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_true(took >= 150);
	assert_true(took < 1500);
	assert_memory_equal(info.uid, uid_b, 7);

	assert_int_equal(nfctag_wait(f->reader, -1, &info), -1);
	assert_int_equal(nfctag_error(f->reader), NFCTAG_EARG);
}

/* ---- the serial line and the reader ---- */

static void test_line_faults(void **state)
{
	struct fixture *f = *state;
	struct pn532emu_tag tag = make_tag(PN532EMU_NTAG213, uid_a);
	struct nfctag_info info;
	unsigned char pass[40], out[256];
	size_t n;

	start(f, &tag);
	wait_tag(f, &info);
	fill(pass, sizeof(pass), 13);
	write_ok(f, pass, sizeof(pass));

	/* the reader does not acknowledge: a reader error, and the next read works */
	assert_int_equal(pn532emu_fault(PN532EMU_FAULT_NOACK, 0), 0);
	assert_int_equal(nfctag_read_pass(f->reader, out, sizeof(out), &n), -1);
	assert_int_equal(nfctag_error(f->reader), NFCTAG_EREADER);
	read_expect(f, pass, sizeof(pass));

	/* a corrupted answer */
	assert_int_equal(pn532emu_fault(PN532EMU_FAULT_BADDCS, 0), 0);
	assert_int_equal(nfctag_read_pass(f->reader, out, sizeof(out), &n), -1);
	assert_int_equal(nfctag_error(f->reader), NFCTAG_EREADER);
	read_expect(f, pass, sizeof(pass));

	/* acknowledged, never answered */
	assert_int_equal(pn532emu_fault(PN532EMU_FAULT_NORESP, 0), 0);
	assert_int_equal(nfctag_read_pass(f->reader, out, sizeof(out), &n), -1);
	assert_int_equal(nfctag_error(f->reader), NFCTAG_EREADER);
	read_expect(f, pass, sizeof(pass));

	/* the tag misses one exchange but is still there: try again */
	assert_int_equal(pn532emu_fault(PN532EMU_FAULT_RFERR, 0), 0);
	assert_int_equal(nfctag_read_pass(f->reader, out, sizeof(out), &n), -1);
	assert_int_equal(nfctag_error(f->reader), NFCTAG_ETAG);
	read_expect(f, pass, sizeof(pass));
	assert_int_equal(nfctag_present(f->reader), 1);

	/* the same during a write: reported, and the rewrite works */
	assert_int_equal(pn532emu_fault(PN532EMU_FAULT_RFERR, 0), 0);
	assert_int_equal(nfctag_write_pass(f->reader, pass, sizeof(pass), NULL, 0), -1);
	write_ok(f, pass, sizeof(pass));
	read_expect(f, pass, sizeof(pass));
}

static void test_reader_gone(void **state)
{
	struct fixture *f = *state;
	struct pn532emu_tag tag = make_tag(PN532EMU_NTAG213, uid_a);
	struct nfctag_info info;
	unsigned char pass[98], out[256];
	char err[256];
	size_t n;

	start(f, &tag);
	wait_tag(f, &info);
	fill(pass, sizeof(pass), 14);
	write_ok(f, pass, sizeof(pass));

	/* unplugged */
	pn532emu_stop();
	assert_int_equal(nfctag_present(f->reader), -1);
	assert_int_equal(nfctag_error(f->reader), NFCTAG_EREADER);
	assert_int_equal(nfctag_read_pass(f->reader, out, sizeof(out), &n), -1);
	assert_int_equal(nfctag_error(f->reader), NFCTAG_EREADER);
	assert_int_equal(nfctag_wait(f->reader, 300, &info), -1);
	assert_int_equal(nfctag_error(f->reader), NFCTAG_EREADER);
	assert_int_equal(nfctag_wait(f->reader, 300, &info), -1);
	nfctag_close(f->reader);
	f->reader = NULL;

	/* gone for good: opening fails with a message */
	assert_null(nfctag_open(f->connstring, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot open NFC reader"));
	assert_null(nfctag_open("", err, sizeof(err)));
	assert_non_null(strstr(err, "bad NFC connstring"));

	/* plugged in again (a new pty); the tag kept its memory in the emulator */
	tag = make_tag(PN532EMU_NTAG213, uid_a);
	start(f, &tag);
	wait_tag(f, &info);
	assert_memory_equal(info.uid, uid_a, 7);
	write_ok(f, pass, sizeof(pass));
	read_expect(f, pass, sizeof(pass));
}

/* LIBNFC_DEVICE names the reader when the connstring is NULL. */
static void test_libnfc_device_env(void **state)
{
	struct fixture *f = *state;
	struct pn532emu_tag tag = make_tag(PN532EMU_NTAG215, uid_b);
	struct nfctag_info info;
	char err[256];

	start(f, &tag);
	nfctag_close(f->reader);
	assert_int_equal(setenv("LIBNFC_DEVICE", f->connstring, 1), 0);
	f->reader = nfctag_open(NULL, err, sizeof(err));
	assert_int_equal(unsetenv("LIBNFC_DEVICE"), 0);
	if (!f->reader)
		fail_msg("nfctag_open(NULL) with LIBNFC_DEVICE=%s: %s", f->connstring, err);
	wait_tag(f, &info);
	assert_memory_equal(info.uid, uid_b, 7);
	assert_int_equal(info.type, NFCTAG_NTAG215);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_ntag213_write_read, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ntag215_216, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_too_big_for_ntag213, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_an_ntag, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_only_and_locked, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_foreign_ndef, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_removed_before_write, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_removed_while_writing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_removed_while_reading, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_presence, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_tag, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_line_faults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reader_gone, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_libnfc_device_env, setup, teardown),
	};

	return cmocka_run_group_tests_name("nfc_emulated", tests, NULL, NULL);
}
