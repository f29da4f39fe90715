/* hash.c: the gateway's `ver3` hash, written for the simulator alone (the server has its own, and a
 * bug shared by both would hide itself). Names sorted as PHP's natcasesort does, `hash` and
 * `encoding` left out, each value escaped (\ → \\, then | → \|) and followed by '|', then the
 * escaped store key; SHA-512; base64 (standard alphabet, padded) of the 64-byte digest. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "paysim.h"

/* ---- PHP's strnatcasecmp ----
 * ASCII only, as PHP 8: bytes >= 0x80 compare by value, letters fold to UPPER case (which puts
 * `_`, `[`, `\`, `]`, `^` and '`' after the letters, unlike a lower-casing compare). */

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int is_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static unsigned char fold(unsigned char c)
{
	return c >= 'a' && c <= 'z' ? (unsigned char)(c - 'a' + 'A') : c;
}

/* The byte at i, or 0 past the end (PHP reads the string's terminating NUL there). */
static unsigned char at(const unsigned char *s, size_t len, size_t i)
{
	return i < len ? s[i] : 0;
}

/* Two digit runs without a leading zero: the longer run is the larger number; for equal lengths the
 * first digit that differs decides. Both indexes end past their runs when the runs are equal. */
static int integer_runs(const unsigned char *a, size_t alen, size_t *i, const unsigned char *b,
                        size_t blen, size_t *j)
{
	int bias = 0;

	for (;; (*i)++, (*j)++) {
		int da = *i < alen && is_digit(a[*i]), db = *j < blen && is_digit(b[*j]);

		if (!da && !db)
			return bias;
		if (!da)
			return -1;
		if (!db)
			return 1;
		if (!bias && a[*i] != b[*j])
			bias = a[*i] < b[*j] ? -1 : 1;
	}
}

/* Digit runs where one starts with '0' compare like decimal fractions: the first difference
 * decides, and a run that ends first is the smaller. */
static int fraction_runs(const unsigned char *a, size_t alen, size_t *i, const unsigned char *b,
                         size_t blen, size_t *j)
{
	for (;; (*i)++, (*j)++) {
		int da = *i < alen && is_digit(a[*i]), db = *j < blen && is_digit(b[*j]);

		if (!da && !db)
			return 0;
		if (!da)
			return -1;
		if (!db)
			return 1;
		if (a[*i] != b[*j])
			return a[*i] < b[*j] ? -1 : 1;
	}
}

int paysim_strnatcasecmp(const char *sa, const char *sb)
{
	const unsigned char *a = (const unsigned char *)sa, *b = (const unsigned char *)sb;
	size_t alen = strlen(sa), blen = strlen(sb), i = 0, j = 0;

	if (!alen || !blen)
		return alen == blen ? 0 : alen > blen ? 1 : -1;
	/* zeros at the very start are skipped when a digit follows ("007" is "7") */
	while (a[i] == '0' && i + 1 < alen && is_digit(a[i + 1]))
		i++;
	while (b[j] == '0' && j + 1 < blen && is_digit(b[j + 1]))
		j++;
	for (;;) {
		unsigned char ca = at(a, alen, i), cb = at(b, blen, j);

		while (is_space(ca))
			ca = at(a, alen, ++i);
		while (is_space(cb))
			cb = at(b, blen, ++j);
		if (is_digit(ca) && is_digit(cb)) {
			int r = ca == '0' || cb == '0' ? fraction_runs(a, alen, &i, b, blen, &j)
			                               : integer_runs(a, alen, &i, b, blen, &j);
			if (r)
				return r;
			if (i >= alen && j >= blen)
				return 0;
			if (i >= alen)
				return -1;
			if (j >= blen)
				return 1;
			ca = a[i];
			cb = b[j];
		}
		ca = fold(ca);
		cb = fold(cb);
		if (ca != cb)
			return ca < cb ? -1 : 1;
		i++;
		j++;
		if (i >= alen && j >= blen)
			return 0;
		if (i >= alen)
			return -1;
		if (j >= blen)
			return 1;
	}
}

/* Insertion sort: stable, and the lists are short (at most PAYSIM_FIELDS_MAX plus a few). */
void paysim_natsort(const char **names, size_t n)
{
	for (size_t k = 1; k < n; k++) {
		const char *x = names[k];
		size_t m = k;

		while (m > 0 && paysim_strnatcasecmp(names[m - 1], x) > 0) {
			names[m] = names[m - 1];
			m--;
		}
		names[m] = x;
	}
}

/* ---- the hash ---- */

static int skipped(const char *name)
{
	return !strcasecmp(name, "hash") || !strcasecmp(name, "encoding");
}

/* \ → \\ and | → \| in one pass (the same as the two replacements one after the other) */
static void escape(struct sbuf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			sb_add(out, "\\\\", 2);
		else if (*s == '|')
			sb_add(out, "\\|", 2);
		else
			sb_add(out, s, 1);
	}
}

/* The fields of f in hash order (a stable sort of pointers); the caller frees the array. */
static const struct field **sorted_fields(const struct fields *f)
{
	const struct field **v = calloc(f->n + 1, sizeof(*v));

	if (!v)
		return NULL;
	for (size_t k = 0; k < f->n; k++) {
		const struct field *x = &f->v[k];
		size_t m = k;

		while (m > 0 && paysim_strnatcasecmp(v[m - 1]->name, x->name) > 0) {
			v[m] = v[m - 1];
			m--;
		}
		v[m] = x;
	}
	return v;
}

int paysim_hash_plaintext(const struct fields *f, const char *store_key, struct sbuf *out)
{
	const struct field **v = sorted_fields(f);

	if (!v)
		return -1;
	for (size_t k = 0; k < f->n; k++) {
		if (skipped(v[k]->name))
			continue;
		escape(out, v[k]->value);
		sb_add(out, "|", 1);
	}
	escape(out, store_key);
	free(v);
	return out->failed ? -1 : 0;
}

int paysim_hash_names(const struct fields *f, struct sbuf *out)
{
	const struct field **v = sorted_fields(f);
	int first = 1;

	if (!v)
		return -1;
	for (size_t k = 0; k < f->n; k++) {
		if (skipped(v[k]->name))
			continue;
		if (!first)
			sb_add(out, "|", 1);
		sb_puts(out, v[k]->name);
		first = 0;
	}
	free(v);
	return out->failed ? -1 : 0;
}

int paysim_hash(const struct fields *f, const char *store_key, char out[PAYSIM_HASH_LEN + 1])
{
	unsigned char digest[crypto_hash_sha512_BYTES];
	struct sbuf text;
	int rc = -1;

	sb_init(&text, (size_t)PAYSIM_FIELDS_MAX * 2 * (PAYSIM_VALUE_MAX + 1) +
	                   2 * PAYSIM_SECRET_MAX + 16);
	if (paysim_hash_plaintext(f, store_key, &text) < 0)
		goto out;
	if (crypto_hash_sha512(digest, (const unsigned char *)sb_str(&text), text.len) != 0)
		goto out;
	sodium_bin2base64(out, PAYSIM_HASH_LEN + 1, digest, sizeof(digest),
	                  sodium_base64_VARIANT_ORIGINAL);
	rc = 0;
out:
	if (text.data)
		sodium_memzero(text.data, text.len); /* it ends with the store key */
	sb_free(&text);
	return rc;
}

int paysim_hash_verify(const struct fields *f, const char *store_key, const char *received)
{
	char mine[PAYSIM_HASH_LEN + 1];

	if (!received || paysim_hash(f, store_key, mine) < 0)
		return -1;
	if (strlen(received) != PAYSIM_HASH_LEN) /* the length of a hash is no secret */
		return -1;
	return sodium_memcmp(mine, received, PAYSIM_HASH_LEN) == 0 ? 0 : -1;
}
