/* base45.h: Base45 (RFC 9285), the text encoding of passes: its 45 characters are exactly QR's
 * alphanumeric mode, so a QR code of Base45 text is about a quarter smaller than one of base64.
 * No allocation; the caller owns every buffer. */
#ifndef ESTIVA_BASE45_H
#define ESTIVA_BASE45_H

#include <stddef.h>

/* Length of the Base45 text of n bytes, without the NUL: 3 characters per 2 bytes, 2 for a last odd
 * byte. SIZE_MAX when that would not fit in a size_t. */
size_t base45_encoded_len(size_t n);

/* Writes the Base45 text of in[0..n) and a NUL into out. 0, or -1 (out untouched) when outlen is
 * smaller than base45_encoded_len(n) + 1. */
int base45_encode(const unsigned char *in, size_t n, char *out, size_t outlen);

/* Decodes in[0..n) (need not be NUL-terminated; n is the length) into out. 0 with *outn bytes, or
 * -1 on a character outside the alphabet (lower case, NUL and line ends included), a bad length (n
 * % 3 == 1), a group of three over 65535 or a last pair over 255, or when outlen is smaller than
 * the decoded length. On -1, out may hold part of the result and *outn is 0. */
int base45_decode(const char *in, size_t n, unsigned char *out, size_t outlen, size_t *outn);

#endif
