/* ndef.c: encode the pass record and decode NDEF from Type 2 tag memory images (see ndef.h). */
#include "ndef.h"

#include <string.h>

/* Record header flags. */
#define HDR_MB 0x80
#define HDR_ME 0x40
#define HDR_CF 0x20
#define HDR_SR 0x10
#define HDR_IL 0x08
#define HDR_TNF 0x07

/* A one-byte TLV length covers 0..0xFE; 0xFF announces a two-byte big-endian length. */
#define TLV_LEN_3BYTE 0xFF

static size_t pass_record_size(size_t n)
{
	return 3 + NDEF_PASS_TYPE_LEN + n;
}

size_t ndef_pass_tlv_size(size_t n)
{
	size_t rec;

	if (n == 0 || n > NDEF_PASS_PAYLOAD_MAX)
		return 0;
	rec = pass_record_size(n);
	return (rec < TLV_LEN_3BYTE ? 2 : 4) + rec + 1;
}

size_t ndef_pass_payload_max(size_t area)
{
	size_t n;

	for (n = NDEF_PASS_PAYLOAD_MAX; n > 0; n--)
		if (ndef_pass_tlv_size(n) <= area)
			return n;
	return 0;
}

enum ndef_err ndef_encode_pass(const unsigned char *payload, size_t n, unsigned char *out,
                               size_t cap, size_t *outlen)
{
	size_t need, rec, i = 0;

	if (!out || !outlen || (!payload && n > 0))
		return NDEF_EARG;
	*outlen = 0;
	need = ndef_pass_tlv_size(n);
	if (need == 0)
		return NDEF_EPAYLOAD;
	if (need > cap)
		return NDEF_ESPACE;
	rec = pass_record_size(n);
	out[i++] = NDEF_TLV_MESSAGE;
	if (rec < TLV_LEN_3BYTE) {
		out[i++] = (unsigned char)rec;
	} else {
		out[i++] = TLV_LEN_3BYTE;
		out[i++] = (unsigned char)(rec >> 8);
		out[i++] = (unsigned char)(rec & 0xFF);
	}
	out[i++] = HDR_MB | HDR_ME | HDR_SR | NDEF_TNF_MIME;
	out[i++] = (unsigned char)NDEF_PASS_TYPE_LEN;
	out[i++] = (unsigned char)n;
	memcpy(out + i, NDEF_PASS_TYPE, NDEF_PASS_TYPE_LEN);
	i += NDEF_PASS_TYPE_LEN;
	memcpy(out + i, payload, n);
	i += n;
	out[i++] = NDEF_TLV_TERMINATOR;
	*outlen = i;
	return NDEF_OK;
}

/* Reads the length field of the TLV whose type byte is at image[pos]. On success *hdr is the size
 * of type + length fields and *vlen the value length; the value itself is not checked against len.
 */
static enum ndef_err tlv_length(const unsigned char *image, size_t len, size_t pos, size_t *hdr,
                                size_t *vlen)
{
	if (len - pos < 2)
		return NDEF_ETRUNC;
	if (image[pos + 1] != TLV_LEN_3BYTE) {
		*hdr = 2;
		*vlen = image[pos + 1];
		return NDEF_OK;
	}
	if (len - pos < 4)
		return NDEF_ETRUNC;
	*vlen = ((size_t)image[pos + 2] << 8) | image[pos + 3];
	if (*vlen == 0xFFFF) /* RFU in the Type 2 Tag specification */
		return NDEF_ETLVLEN;
	*hdr = 4;
	return NDEF_OK;
}

/* Parses the first record of the message msg[0..mlen). */
static enum ndef_err parse_record(const unsigned char *msg, size_t mlen, struct ndef_record *rec)
{
	unsigned char h, tnf;
	size_t pos, type_len, id_len = 0, payload_len, rest;

	if (mlen < 3)
		return NDEF_ERECSHORT;
	h = msg[0];
	tnf = h & HDR_TNF;
	if (!(h & HDR_MB))
		return NDEF_ENOTBEGIN;
	if (h & HDR_CF)
		return NDEF_ECHUNKED;
	if (tnf == NDEF_TNF_UNCHANGED || tnf == NDEF_TNF_RESERVED)
		return NDEF_ETNF;
	type_len = msg[1];
	pos = 2;
	if (h & HDR_SR) {
		payload_len = msg[pos++];
	} else {
		if (mlen - pos < 4)
			return NDEF_ERECSHORT;
		payload_len = ((size_t)msg[pos] << 24) | ((size_t)msg[pos + 1] << 16) |
		              ((size_t)msg[pos + 2] << 8) | msg[pos + 3];
		pos += 4;
	}
	if (h & HDR_IL) {
		if (mlen - pos < 1)
			return NDEF_ERECSHORT;
		id_len = msg[pos++];
	}
	switch (tnf) {
	case NDEF_TNF_EMPTY:
		if (type_len != 0 || id_len != 0 || payload_len != 0)
			return NDEF_ETYPELEN;
		break;
	case NDEF_TNF_UNKNOWN:
		if (type_len != 0)
			return NDEF_ETYPELEN;
		break;
	default:
		if (type_len == 0)
			return NDEF_ETYPELEN;
		break;
	}
	/* Each length is compared with what is left, so no sum can overflow. */
	rest = mlen - pos;
	if (type_len > rest)
		return NDEF_ERECLEN;
	rest -= type_len;
	if (id_len > rest)
		return NDEF_ERECLEN;
	rest -= id_len;
	if (payload_len > rest)
		return NDEF_ERECLEN;
	rest -= payload_len;
	if ((h & HDR_ME) && rest != 0)
		return NDEF_ETRAILING;
	if (!(h & HDR_ME) && rest == 0)
		return NDEF_ENOEND;
	rec->tnf = tnf;
	rec->type = type_len ? msg + pos : NULL;
	rec->type_len = type_len;
	pos += type_len;
	rec->id = id_len ? msg + pos : NULL;
	rec->id_len = id_len;
	pos += id_len;
	rec->payload = msg + pos;
	rec->payload_len = payload_len;
	return NDEF_OK;
}

enum ndef_err ndef_decode(const unsigned char *image, size_t len, struct ndef_record *rec)
{
	size_t pos = 0, hdr, vlen;
	enum ndef_err err;

	if (!image || !rec)
		return NDEF_EARG;
	memset(rec, 0, sizeof(*rec));
	while (pos < len) {
		unsigned char t = image[pos];

		switch (t) {
		case NDEF_TLV_NULL:
			pos++;
			continue;
		case NDEF_TLV_TERMINATOR:
			return NDEF_ETERMINATOR;
		case NDEF_TLV_LOCK_CONTROL:
		case NDEF_TLV_MEMORY_CONTROL:
		case NDEF_TLV_PROPRIETARY:
		case NDEF_TLV_MESSAGE:
			break;
		default:
			return NDEF_ETLVTYPE;
		}
		err = tlv_length(image, len, pos, &hdr, &vlen);
		if (err != NDEF_OK)
			return err;
		if (vlen > len - pos - hdr)
			return NDEF_ETRUNC;
		if (t != NDEF_TLV_MESSAGE) {
			pos += hdr + vlen;
			continue;
		}
		if (vlen == 0)
			return NDEF_EEMPTY;
		err = parse_record(image + pos + hdr, vlen, rec);
		if (err != NDEF_OK) {
			memset(rec, 0, sizeof(*rec));
			return err;
		}
		rec->tlv_offset = pos;
		rec->tlv_end = pos + hdr + vlen;
		return NDEF_OK;
	}
	return NDEF_ENOTLV;
}

enum ndef_err ndef_decode_pass(const unsigned char *image, size_t len,
                               const unsigned char **payload, size_t *n)
{
	struct ndef_record rec;
	enum ndef_err err;

	if (!payload || !n)
		return NDEF_EARG;
	*payload = NULL;
	*n = 0;
	err = ndef_decode(image, len, &rec);
	if (err != NDEF_OK)
		return err;
	if (rec.tnf == NDEF_TNF_EMPTY)
		return NDEF_EEMPTY;
	if (rec.tnf != NDEF_TNF_MIME || rec.type_len != NDEF_PASS_TYPE_LEN ||
	    memcmp(rec.type, NDEF_PASS_TYPE, NDEF_PASS_TYPE_LEN) != 0)
		return NDEF_ETYPE;
	if (rec.payload_len == 0 || rec.payload_len > NDEF_PASS_PAYLOAD_MAX)
		return NDEF_EPASSLEN;
	*payload = rec.payload;
	*n = rec.payload_len;
	return NDEF_OK;
}

const char *ndef_strerror(enum ndef_err err)
{
	switch (err) {
	case NDEF_OK:
		return "no error";
	case NDEF_EARG:
		return "missing argument";
	case NDEF_EPAYLOAD:
		return "pass payload must be 1 to 255 bytes";
	case NDEF_ESPACE:
		return "output buffer too small for the NDEF TLV";
	case NDEF_ENOTLV:
		return "no NDEF message TLV in the tag memory";
	case NDEF_ETERMINATOR:
		return "terminator TLV before any NDEF message";
	case NDEF_ETLVTYPE:
		return "unknown TLV type before the NDEF message";
	case NDEF_ETLVLEN:
		return "malformed TLV length field";
	case NDEF_ETRUNC:
		return "TLV runs past the end of the tag memory";
	case NDEF_EEMPTY:
		return "empty NDEF message (blank tag)";
	case NDEF_ERECSHORT:
		return "NDEF record header truncated";
	case NDEF_ERECLEN:
		return "NDEF record lengths exceed the message";
	case NDEF_ENOTBEGIN:
		return "first NDEF record lacks the message-begin flag";
	case NDEF_ECHUNKED:
		return "chunked NDEF records are not supported";
	case NDEF_ETNF:
		return "NDEF record type name format not allowed here";
	case NDEF_ETYPELEN:
		return "NDEF record type length does not suit its type name format";
	case NDEF_ETRAILING:
		return "bytes after the last NDEF record";
	case NDEF_ENOEND:
		return "NDEF message ends without a message-end record";
	case NDEF_ETYPE:
		return "NDEF record is not an Estiva pass (application/vnd.estiva.pass)";
	case NDEF_EPASSLEN:
		return "Estiva pass record payload must be 1 to 255 bytes";
	}
	return "unknown NDEF error";
}
