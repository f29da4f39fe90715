/* ndef.h: the NFC Forum NDEF pieces Estiva needs on Type 2 tags (NTAG21x): one short MIME record of
 * type application/vnd.estiva.pass inside an NDEF TLV, and a strict decoder of tag memory images.
 * Pure and bounded: no allocation, no I/O, never reads outside the buffers it is given. */
#ifndef ESTIVA_NDEF_H
#define ESTIVA_NDEF_H

#include <stddef.h>

#define NDEF_PASS_TYPE "application/vnd.estiva.pass"
#define NDEF_PASS_TYPE_LEN (sizeof(NDEF_PASS_TYPE) - 1)
/* A short record (SR) carries at most 255 payload bytes; that is all a pass needs. */
#define NDEF_PASS_PAYLOAD_MAX 255
/* The largest TLV ndef_encode_pass() produces: 03 FF hi lo, header, type, payload, FE. */
#define NDEF_PASS_TLV_MAX (4 + 3 + NDEF_PASS_TYPE_LEN + NDEF_PASS_PAYLOAD_MAX + 1)

/* TLV blocks of a Type 2 tag data area (NFC Forum Type 2 Tag specification). */
#define NDEF_TLV_NULL 0x00
#define NDEF_TLV_LOCK_CONTROL 0x01
#define NDEF_TLV_MEMORY_CONTROL 0x02
#define NDEF_TLV_MESSAGE 0x03
#define NDEF_TLV_PROPRIETARY 0xFD
#define NDEF_TLV_TERMINATOR 0xFE

/* Type Name Format of a record header. */
#define NDEF_TNF_EMPTY 0x00
#define NDEF_TNF_WELL_KNOWN 0x01
#define NDEF_TNF_MIME 0x02
#define NDEF_TNF_URI 0x03
#define NDEF_TNF_EXTERNAL 0x04
#define NDEF_TNF_UNKNOWN 0x05
#define NDEF_TNF_UNCHANGED 0x06
#define NDEF_TNF_RESERVED 0x07

enum ndef_err {
	NDEF_OK = 0,
	NDEF_EARG,        /* a NULL pointer where data was required */
	NDEF_EPAYLOAD,    /* payload empty or over NDEF_PASS_PAYLOAD_MAX bytes (encoder) */
	NDEF_ESPACE,      /* the output buffer is too small (encoder) */
	NDEF_ENOTLV,      /* the image holds no NDEF message TLV before its end */
	NDEF_ETERMINATOR, /* a terminator TLV came before any NDEF message TLV */
	NDEF_ETLVTYPE,    /* a TLV of an unknown or reserved type before the NDEF message TLV */
	NDEF_ETLVLEN,     /* a TLV length field is malformed (three-byte form holding 0xFFFF) */
	NDEF_ETRUNC,      /* a TLV runs past the end of the image */
	NDEF_EEMPTY,      /* the NDEF message TLV has length 0 (a blank tag) */
	NDEF_ERECSHORT,   /* the record header runs past the end of the message */
	NDEF_ERECLEN,     /* type, ID and payload lengths run past the end of the message */
	NDEF_ENOTBEGIN,   /* the first record lacks the Message Begin flag */
	NDEF_ECHUNKED,    /* the first record is chunked (CF flag); not supported */
	NDEF_ETNF,        /* a TNF that may not start a message (unchanged, reserved) */
	NDEF_ETYPELEN,    /* the type length does not suit the TNF (e.g. MIME without a type) */
	NDEF_ETRAILING,   /* bytes after the last record (ME set) inside the message */
	NDEF_ENOEND,      /* the message ends without a record carrying the Message End flag */
	NDEF_ETYPE,       /* a valid record, but not of type application/vnd.estiva.pass */
	NDEF_EPASSLEN,    /* our record type, but its payload is empty or over 255 bytes */
};

/* The first record of an NDEF message, pointing into the image given to ndef_decode(). */
struct ndef_record {
	unsigned char tnf;
	const unsigned char *type;
	size_t type_len;
	const unsigned char *id; /* NULL when the record has no ID */
	size_t id_len;
	const unsigned char *payload;
	size_t payload_len;
	size_t tlv_offset; /* where the NDEF message TLV starts in the image */
	size_t tlv_end;    /* one past its last byte (the terminator, if any, is not included) */
};

/* Bytes the TLV for a payload of n bytes takes, terminator included; 0 when n is out of range. */
size_t ndef_pass_tlv_size(size_t n);
/* The largest pass payload whose TLV fits a data area of area bytes (0 if none fits). */
size_t ndef_pass_payload_max(size_t area);
/* Writes 03 LEN [D2 1B PL "application/vnd.estiva.pass" payload] FE into out; *outlen gets its
 * size. */
enum ndef_err ndef_encode_pass(const unsigned char *payload, size_t n, unsigned char *out,
                               size_t cap, size_t *outlen);
/* Finds the NDEF message TLV in a Type 2 data area image (starting at page 4), skipping NULL, lock
 * control, memory control and proprietary TLVs, and parses its first record into *rec. */
enum ndef_err ndef_decode(const unsigned char *image, size_t len, struct ndef_record *rec);
/* ndef_decode(), then requires our MIME type and a 1..255 byte payload. *payload points into image.
 */
enum ndef_err ndef_decode_pass(const unsigned char *image, size_t len,
                               const unsigned char **payload, size_t *n);
const char *ndef_strerror(enum ndef_err err);

#endif
