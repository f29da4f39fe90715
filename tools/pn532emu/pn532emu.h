/* pn532emu.h: a PN532 NFC reader (HSU/UART framing) with an NTAG21x tag, emulated on the master
 * side of a pseudo-terminal. libnfc opens the slave through its real pn532_uart driver
 * ("pn532_uart:/dev/pts/N"), so tests run libnfc's own serial and chip code without hardware.
 * One emulator per process: a thread serves the pty between pn532emu_start() and pn532emu_stop().
 * Background and the traps it avoids: docs/nfc.md and shared/research/nfc-pn532-emulation.md. */
#ifndef ESTIVA_PN532EMU_H
#define ESTIVA_PN532EMU_H

#include <stddef.h>

enum pn532emu_kind {
	PN532EMU_NTAG213 = 0, /* 45 pages, 144-byte NDEF area */
	PN532EMU_NTAG215,     /* 135 pages, 496-byte NDEF area (504 bytes of user memory) */
	PN532EMU_NTAG216,     /* 231 pages, 872-byte NDEF area (888 bytes of user memory) */
	PN532EMU_ULTRALIGHT,  /* MIFARE Ultralight (16 pages, 48-byte area), no GET_VERSION */
	PN532EMU_CLASSIC,     /* a MIFARE Classic-like card: 4-byte UID, SAK 08, no Type 2 memory */
};

/* Largest tag memory (NTAG216: 231 pages of 4 bytes). */
#define PN532EMU_MEM_MAX (231 * 4)

struct pn532emu_tag {
	enum pn532emu_kind kind;
	/* UID: 7 bytes for the NTAG/Ultralight kinds, 4 for CLASSIC. uid_len 0 means: taken from
	 * the image when there is one, otherwise a fixed default (04 A1 B2 C3 D4 E5 F6, DE AD BE
	 * EF). */
	unsigned char uid[7];
	size_t uid_len;
	/* Optional memory image from page 0 (at most the tag's size; shorter images leave the rest
	 * as a factory tag has it). NULL: a factory-fresh tag (CC set, empty NDEF message 03 00
	 * FE). */
	const unsigned char *image;
	size_t image_len;
};

enum pn532emu_fault {
	PN532EMU_FAULT_NONE = 0,
	/* The next tag command (InListPassiveTarget, InAutoPoll, InDataExchange, InCommunicateThru)
	   ... */
	PN532EMU_FAULT_NOACK,  /* ... gets no ACK frame: libnfc reports NFC_ETIMEOUT */
	PN532EMU_FAULT_NORESP, /* ... is acknowledged but never answered: NFC_ETIMEOUT */
	PN532EMU_FAULT_BADDCS, /* ... is answered with a wrong data checksum: NFC_EIO */
	PN532EMU_FAULT_RFERR,  /* the next exchange with the tag times out on the RF side:
	                          NFC_ERFTRANS */
	/* The tag leaves the field right after `arg` more WRITE commands have been carried out
	 * (arg 0: before the next WRITE). */
	PN532EMU_FAULT_REMOVE_AFTER_WRITES,
	/* The same with READ commands (FAST_READ counts too, and so does libnfc's presence ping, a
	 * READ of page 0): a tag pulled away mid-read. */
	PN532EMU_FAULT_REMOVE_AFTER_READS,
};

/* Opens a pty, places `tag` in the field (NULL: an empty field) and starts the serving thread.
 * Returns the slave path (e.g. "/dev/pts/3", valid until pn532emu_stop()), or NULL when ptys are
 * not available or the emulator is already running. The connstring is "pn532_uart:" + that path. */
const char *pn532emu_start(const struct pn532emu_tag *tag);
/* Places a tag in the field, replacing any other (the new tag starts unselected). 0, or -1 when the
 * description is invalid (wrong UID length, image longer than the tag). */
int pn532emu_set_tag(const struct pn532emu_tag *tag);
/* Takes the tag out of the field; the emulator remembers its memory for pn532emu_tag_memory(). */
void pn532emu_remove_tag(void);
/* Puts it back (same memory, unselected). 0, or -1 when there never was a tag. */
int pn532emu_present_tag(void);
/* Arms a one-shot fault (see the enum); a new call replaces the armed one. 0, or -1 on a bad fault.
 */
int pn532emu_fault(enum pn532emu_fault fault, int arg);
/* Copies the current (or last) tag's memory from page 0 into out; returns the tag's size in bytes
 * (0 when there never was a tag or it has none), copying at most cap bytes. */
size_t pn532emu_tag_memory(unsigned char *out, size_t cap);
/* Number of host frames handled since start (for tests that want to see traffic). */
unsigned long pn532emu_frames(void);
/* 1: log every frame to stderr. Also switched on by PN532EMU_VERBOSE=1 in the environment. */
void pn532emu_verbose(int on);
/* Stops the thread and closes the pty: a libnfc client still attached sees NFC_EIO ("unplugged").
 */
void pn532emu_stop(void);

/* Tag geometry, for tools and tests: total pages and the NDEF area the factory CC declares. */
unsigned pn532emu_kind_pages(enum pn532emu_kind kind);
size_t pn532emu_kind_area(enum pn532emu_kind kind);

#endif
