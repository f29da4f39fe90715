/* tag.h: the card behind the emulated PN532: NTAG213/215/216 and Ultralight memory and their Type 2
 * command set (GET_VERSION, READ, FAST_READ, WRITE, COMPATIBILITY_WRITE, ...), or a UID-only card.
 * Not thread-safe; pn532emu.c holds its lock around every call. */
#ifndef ESTIVA_PN532EMU_TAG_H
#define ESTIVA_PN532EMU_TAG_H

#include "pn532emu.h"

#include <stddef.h>

/* ISO/IEC 14443-3 card states that matter here. */
enum tag_state {
	TAG_IDLE,   /* powered, answers REQA/WUPA */
	TAG_ACTIVE, /* selected: answers READ, WRITE, ... */
	TAG_HALT,   /* after HLTA or InDeselect: silent until the field is reset */
};

/* What the card did with a command. */
enum tag_reply {
	TAG_ANSWER, /* data in out (an empty answer stands for the 4-bit ACK of a write) */
	TAG_NAK,    /* a 4-bit NAK: the card falls back to IDLE */
	TAG_SILENT, /* no answer at all */
};

struct tag {
	enum pn532emu_kind kind;
	unsigned char uid[7];
	size_t uid_len;
	unsigned char atqa[2];
	unsigned char sak;
	unsigned pages; /* 0 for a UID-only card */
	size_t area;    /* NDEF area declared by the factory CC */
	unsigned char version[8];
	int has_version; /* answers GET_VERSION */
	unsigned char mem[PN532EMU_MEM_MAX];
	enum tag_state state;
};

/* Builds a tag from its description; 0, or -1 when the description is invalid. */
int tag_init(struct tag *t, const struct pn532emu_tag *desc);
/* One command as the card receives it (CRC already removed). */
enum tag_reply tag_command(struct tag *t, const unsigned char *cmd, size_t n, unsigned char *out,
                           size_t cap, size_t *outlen);
unsigned tag_kind_pages(enum pn532emu_kind kind);
size_t tag_kind_area(enum pn532emu_kind kind);

#endif
