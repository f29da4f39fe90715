/* base45.c: Base45 (RFC 9285). Two bytes become three characters c, d, e with
 * a * 256 + b = c + d * 45 + e * 45 * 45; a last odd byte becomes two characters. */
#include "base45.h"

#include <stdint.h>

static const char alphabet[45] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/* Character value, or -1 outside the alphabet. */
static int b45_value(unsigned char c)
{
	/* clang-format off */
	static const signed char table[256] = {
	    /* 0x00-0x1f */
	    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	    /* ' ' ! " # $ % & ' ( ) * + , - . / */
	    36, -1, -1, -1, 37, 38, -1, -1, -1, -1, 39, 40, -1, 41, 42, 43,
	    /* 0-9 : ; < = > ? */
	    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 44, -1, -1, -1, -1, -1,
	    /* @ A-O */
	    -1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
	    /* P-Z [ \ ] ^ _ */
	    25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, -1, -1, -1, -1, -1,
	    /* 0x60-0xff: nothing (lower case is not Base45) */
	    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	};
	/* clang-format on */

	return table[c];
}

size_t base45_encoded_len(size_t n)
{
	size_t pairs = n / 2;

	if (pairs > (SIZE_MAX - 2) / 3)
		return SIZE_MAX;
	return pairs * 3 + (n % 2) * 2;
}

int base45_encode(const unsigned char *in, size_t n, char *out, size_t outlen)
{
	size_t need = base45_encoded_len(n);
	size_t i, o = 0;

	/* need == SIZE_MAX (overflow) is always refused: outlen cannot exceed it */
	if (need == SIZE_MAX || outlen <= need)
		return -1;
	for (i = 0; i + 1 < n; i += 2) {
		unsigned v = (unsigned)in[i] * 256u + in[i + 1];

		out[o++] = alphabet[v % 45];
		v /= 45;
		out[o++] = alphabet[v % 45];
		out[o++] = alphabet[v / 45];
	}
	if (i < n) {
		unsigned v = in[i];

		out[o++] = alphabet[v % 45];
		out[o++] = alphabet[v / 45];
	}
	out[o] = '\0';
	return 0;
}

int base45_decode(const char *in, size_t n, unsigned char *out, size_t outlen, size_t *outn)
{
	size_t need = n / 3 * 2 + (n % 3 == 2);
	size_t i, o = 0;

	*outn = 0;
	if (n % 3 == 1 || outlen < need)
		return -1;
	for (i = 0; i + 3 <= n; i += 3) {
		int c = b45_value((unsigned char)in[i]);
		int d = b45_value((unsigned char)in[i + 1]);
		int e = b45_value((unsigned char)in[i + 2]);
		long v;

		if (c < 0 || d < 0 || e < 0)
			return -1;
		v = c + d * 45L + e * 2025L;
		if (v > 65535)
			return -1;
		out[o++] = (unsigned char)(v >> 8);
		out[o++] = (unsigned char)(v & 0xff);
	}
	if (i < n) {
		int c = b45_value((unsigned char)in[i]);
		int d = b45_value((unsigned char)in[i + 1]);
		long v;

		if (c < 0 || d < 0)
			return -1;
		v = c + d * 45L;
		if (v > 255)
			return -1;
		out[o++] = (unsigned char)v;
	}
	*outn = o;
	return 0;
}
