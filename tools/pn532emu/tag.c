/* tag.c: NTAG21x / Ultralight memory model and Type 2 commands (NXP NTAG213/215/216 datasheet). */
#include "tag.h"

#include <string.h>

/* Type 2 / NTAG commands. */
#define CMD_GET_VERSION 0x60
#define CMD_READ 0x30
#define CMD_FAST_READ 0x3A
#define CMD_WRITE 0xA2
#define CMD_COMP_WRITE 0xA0
#define CMD_READ_CNT 0x39
#define CMD_READ_SIG 0x3C
#define CMD_PWD_AUTH 0x1B
#define CMD_HALT 0x50

#define PAGE 4
#define FIRST_USER_PAGE 4

struct geometry {
	unsigned pages;
	unsigned char cc_size; /* CC byte 2: NDEF area / 8 */
	unsigned char storage; /* GET_VERSION storage size byte */
	int ntag;              /* has config pages and GET_VERSION */
};

static const struct geometry geometries[] = {
    [PN532EMU_NTAG213] = {45, 0x12, 0x0F, 1},  [PN532EMU_NTAG215] = {135, 0x3E, 0x11, 1},
    [PN532EMU_NTAG216] = {231, 0x6D, 0x13, 1}, [PN532EMU_ULTRALIGHT] = {16, 0x06, 0, 0},
    [PN532EMU_CLASSIC] = {0, 0, 0, 0},
};

static const unsigned char default_uid7[7] = {0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6};
static const unsigned char default_uid4[4] = {0xDE, 0xAD, 0xBE, 0xEF};

static int kind_valid(enum pn532emu_kind kind)
{
	return kind >= PN532EMU_NTAG213 && kind <= PN532EMU_CLASSIC;
}

unsigned tag_kind_pages(enum pn532emu_kind kind)
{
	return kind_valid(kind) ? geometries[kind].pages : 0;
}

size_t tag_kind_area(enum pn532emu_kind kind)
{
	return kind_valid(kind) ? (size_t)geometries[kind].cc_size * 8 : 0;
}

/* On NTAG21x the last five pages are dynamic lock, CFG0, CFG1, PWD and PACK. */
static unsigned last_user_page(const struct tag *t)
{
	return geometries[t->kind].ntag ? t->pages - 6 : t->pages - 1;
}

static void put_uid_pages(struct tag *t)
{
	const unsigned char *u = t->uid;

	t->mem[0] = u[0];
	t->mem[1] = u[1];
	t->mem[2] = u[2];
	t->mem[3] = 0x88 ^ u[0] ^ u[1] ^ u[2]; /* BCC0, with the cascade tag */
	memcpy(t->mem + 4, u + 3, 4);
	t->mem[8] = u[3] ^ u[4] ^ u[5] ^ u[6]; /* BCC1 */
}

static void factory_memory(struct tag *t)
{
	const struct geometry *g = &geometries[t->kind];
	unsigned cfg;

	memset(t->mem, 0, sizeof(t->mem));
	t->mem[9] = 0x48; /* internal byte; bytes 10-11 are the static lock bytes, unlocked */
	t->mem[12] = 0xE1;
	t->mem[13] = 0x10;
	t->mem[14] = g->cc_size;
	t->mem[15] = 0x00;
	t->mem[16] = 0x03; /* empty NDEF message, as NXP ships NTAGs */
	t->mem[17] = 0x00;
	t->mem[18] = 0xFE;
	if (!g->ntag)
		return;
	cfg = t->pages - 5;
	t->mem[cfg * PAGE + 3] = 0xBD;       /* dynamic lock page, RFUI byte */
	t->mem[(cfg + 1) * PAGE] = 0x04;     /* CFG0: MIRROR */
	t->mem[(cfg + 1) * PAGE + 3] = 0xFF; /* AUTH0 = FF: no password protection */
	t->mem[(cfg + 2) * PAGE + 1] = 0x05; /* CFG1 */
}

int tag_init(struct tag *t, const struct pn532emu_tag *desc)
{
	const struct geometry *g;

	if (!desc || !kind_valid(desc->kind))
		return -1;
	g = &geometries[desc->kind];
	memset(t, 0, sizeof(*t));
	t->kind = desc->kind;
	t->pages = g->pages;
	t->area = (size_t)g->cc_size * 8;
	t->state = TAG_IDLE;
	if (desc->kind == PN532EMU_CLASSIC) {
		if (desc->image || (desc->uid_len != 0 && desc->uid_len != 4))
			return -1;
		t->uid_len = 4;
		memcpy(t->uid, desc->uid_len ? desc->uid : default_uid4, 4);
		t->atqa[1] = 0x04;
		t->sak = 0x08;
		return 0;
	}
	if (desc->uid_len != 0 && desc->uid_len != 7)
		return -1;
	if (desc->image && desc->image_len > (size_t)t->pages * PAGE)
		return -1;
	t->uid_len = 7;
	t->atqa[1] = 0x44;
	t->sak = 0x00;
	if (g->ntag) {
		const unsigned char v[8] = {0x00, 0x04, 0x04, 0x02, 0x01, 0x00, g->storage, 0x03};

		memcpy(t->version, v, sizeof(v));
		t->has_version = 1;
	}
	factory_memory(t);
	if (desc->image && desc->image_len > 0) {
		memcpy(t->mem, desc->image, desc->image_len);
		if (desc->uid_len == 0 && desc->image_len >= 8) {
			memcpy(t->uid, desc->image, 3);
			memcpy(t->uid + 3, desc->image + 4, 4);
			return 0;
		}
	}
	memcpy(t->uid, desc->uid_len ? desc->uid : default_uid7, 7);
	put_uid_pages(t);
	return 0;
}

/* Static lock bits (page 2, bytes 2-3) lock pages 3..15 one by one. Dynamic lock bits are not
 * modelled. */
static int page_locked(const struct tag *t, unsigned page)
{
	if (page >= 3 && page <= 7)
		return (t->mem[10] >> page) & 1;
	if (page >= 8 && page <= 15)
		return (t->mem[11] >> (page - 8)) & 1;
	return 0;
}

/* WRITE is accepted for unlocked user pages only: UID, lock, CC and configuration pages get a NAK.
 */
static int page_writable(const struct tag *t, unsigned page)
{
	return page >= FIRST_USER_PAGE && page <= last_user_page(t) && !page_locked(t, page);
}

/* PWD and PACK always read as zeros. */
static void read_page(const struct tag *t, unsigned page, unsigned char *out)
{
	if (geometries[t->kind].ntag && page >= t->pages - 2)
		memset(out, 0, PAGE);
	else
		memcpy(out, t->mem + page * PAGE, PAGE);
}

enum tag_reply tag_command(struct tag *t, const unsigned char *cmd, size_t n, unsigned char *out,
                           size_t cap, size_t *outlen)
{
	unsigned i, first, last;

	*outlen = 0;
	if (t->pages == 0 || n == 0)
		return TAG_SILENT;
	switch (cmd[0]) {
	case CMD_READ: /* four pages, rolling over past the last page */
		if (n != 2 || cmd[1] >= t->pages || cap < 4 * PAGE)
			break;
		for (i = 0; i < 4; i++)
			read_page(t, (cmd[1] + i) % t->pages, out + i * PAGE);
		*outlen = 4 * PAGE;
		return TAG_ANSWER;
	case CMD_FAST_READ:
		if (!geometries[t->kind].ntag || n != 3)
			break;
		first = cmd[1];
		last = cmd[2];
		if (first > last || last >= t->pages || (size_t)(last - first + 1) * PAGE > cap)
			break;
		for (i = first; i <= last; i++)
			read_page(t, i, out + (i - first) * PAGE);
		*outlen = (size_t)(last - first + 1) * PAGE;
		return TAG_ANSWER;
	case CMD_GET_VERSION:
		if (!t->has_version || n != 1 || cap < sizeof(t->version))
			break;
		memcpy(out, t->version, sizeof(t->version));
		*outlen = sizeof(t->version);
		return TAG_ANSWER;
	case CMD_WRITE:
		if (n != 2 + PAGE || !page_writable(t, cmd[1]))
			break;
		memcpy(t->mem + cmd[1] * PAGE, cmd + 2, PAGE);
		return TAG_ANSWER;
	case CMD_COMP_WRITE: /* 16 data bytes, of which only the first page is written */
		if (n != 2 + 16 || !page_writable(t, cmd[1]))
			break;
		memcpy(t->mem + cmd[1] * PAGE, cmd + 2, PAGE);
		return TAG_ANSWER;
	case CMD_READ_SIG:
		if (!geometries[t->kind].ntag || n != 2 || cap < 32)
			break;
		memset(out, 0, 32);
		*outlen = 32;
		return TAG_ANSWER;
	case CMD_READ_CNT:
		if (!geometries[t->kind].ntag || n != 2 || cmd[1] != 0x02 || cap < 3)
			break;
		memset(out, 0, 3);
		*outlen = 3;
		return TAG_ANSWER;
	case CMD_PWD_AUTH: /* the factory password FF FF FF FF, PACK 00 00 */
		if (!geometries[t->kind].ntag || n != 5 || cap < 2)
			break;
		if (cmd[1] != 0xFF || cmd[2] != 0xFF || cmd[3] != 0xFF || cmd[4] != 0xFF)
			break;
		out[0] = 0;
		out[1] = 0;
		*outlen = 2;
		return TAG_ANSWER;
	case CMD_HALT:
		t->state = TAG_HALT;
		return TAG_SILENT;
	default:
		break;
	}
	t->state = TAG_IDLE;
	return TAG_NAK;
}
