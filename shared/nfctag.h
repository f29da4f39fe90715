/* nfctag.h: one NFC reader through libnfc, one NTAG21x tag at a time: wait for a tag, read the
 * Estiva pass record from it, write one to it (reception desk), tell whether it is still there.
 * Readers are named by libnfc connstrings ("pn532_uart:/dev/ttyUSB0"); docs/nfc.md has the details.
 * A tag-level failure (tag removed, refused, malformed) leaves the reader usable; after a
 * reader-level failure (NFCTAG_EREADER, e.g. unplugged) the caller closes it and opens it again,
 * with back-off. Not thread-safe: one thread per struct nfctag. Nothing is printed (libnfc itself
 * logs to stderr according to LIBNFC_LOG_LEVEL). */
#ifndef ESTIVA_NFCTAG_H
#define ESTIVA_NFCTAG_H

#include <stddef.h>

enum nfctag_type {
	NFCTAG_UNKNOWN =
	    0, /* an ISO14443A card that is not an NTAG21x (no or another GET_VERSION) */
	NFCTAG_NTAG213,
	NFCTAG_NTAG215,
	NFCTAG_NTAG216,
};

enum nfctag_err {
	NFCTAG_OK = 0,
	NFCTAG_EARG,          /* bad argument */
	NFCTAG_EREADER,       /* reader failed (I/O, no answer, gone); if it persists, reopen */
	NFCTAG_ENOTAG,        /* no tag selected (call nfctag_wait), or it left the field */
	NFCTAG_ETAG,          /* the tag answered badly (RF error); try again */
	NFCTAG_EUNSUPPORTED,  /* not an NTAG213/215/216 (or, for reading, not a Type 2 tag) */
	NFCTAG_ENOTFORMATTED, /* no NDEF capability container on the tag */
	NFCTAG_EREADONLY,     /* the capability container marks the tag read-only */
	NFCTAG_ETOOBIG,       /* the record does not fit the tag */
	NFCTAG_EREFUSED,      /* the tag refused a write (locked page) */
	NFCTAG_EVERIFY,       /* what was read back differs from what was written */
	NFCTAG_ENDEF,         /* no valid Estiva pass record on the tag (the message says why) */
	NFCTAG_ESPACE,        /* the caller's buffer is too small for the payload */
};

struct nfctag_info {
	unsigned char uid[10];
	size_t uid_len;
	enum nfctag_type type;
	/* NDEF data area from the capability container (144/496/872), 0 if none */
	size_t user_bytes;
	unsigned char atqa[2];
	unsigned char sak;
};

struct nfctag;

/* Opens the reader; connstring NULL takes libnfc's default (LIBNFC_DEVICE, then /etc/nfc). Returns
 * NULL with a message in err on failure. Free with nfctag_close(). */
struct nfctag *nfctag_open(const char *connstring, char *err, size_t errlen);
/* Polls for an ISO14443A tag for up to timeout_ms (0: look once). Returns 1 with *info filled, 0
 * when no tag came within the timeout, -1 on a reader error (see nfctag_strerror()). A tag that
 * stays in the field is found again by the next call: wait for nfctag_present() == 0 to handle one
 * tap once. */
int nfctag_wait(struct nfctag *t, int timeout_ms, struct nfctag_info *info);
/* Reads the NDEF data area of the tag found by nfctag_wait() and copies the payload of its
 * application/vnd.estiva.pass record into out. 0 and *n set, or -1 (see nfctag_error()). */
int nfctag_read_pass(struct nfctag *t, unsigned char *out, size_t outlen, size_t *n);
/* Writes data (1..255 bytes) as the pass record, page by page from page 4, then reads it back and
 * compares. Refuses, before writing anything, a tag that is not an NTAG21x or too small. While the
 * write runs the tag holds an empty NDEF message, so a tag pulled away midway never holds a partial
 * record that decodes. 0, or -1 with a message in err (and nfctag_strerror()). */
int nfctag_write_pass(struct nfctag *t, const unsigned char *data, size_t n, char *err,
                      size_t errlen);
/* 1: the tag from nfctag_wait() is still in the field; 0: it is gone (or there was none); -1:
 * reader error. */
int nfctag_present(struct nfctag *t);
/* The last error: its class, and a message for people (never NULL). */
enum nfctag_err nfctag_error(const struct nfctag *t);
const char *nfctag_strerror(const struct nfctag *t);
const char *nfctag_type_name(enum nfctag_type type);
/* Closes the reader (NULL is fine). */
void nfctag_close(struct nfctag *t);

#endif
