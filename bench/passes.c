/* bench/passes: passes issued per second (sign + QR PNG in memory) and verified per second, beside
 * the raw Ed25519 sign and verify rates measured in the same run (the ceilings). Target:
 * verification at least 90 % of the raw verify rate. Not a test: it prints its figures. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pass.h"
#include "server.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fill(struct pass *p, uint32_t i)
{
	memset(p, 0, sizeof(*p));
	p->version = PASS_VERSION;
	p->key_id = 1;
	p->pass_id = 100000 + i;
	p->booking_id = 5000 + i / 4;
	p->centre = 1;
	p->guest = (uint8_t)(i % 4);
	p->kind = PASS_KIND_GUEST;
	p->valid_from = 29733960;
	p->valid_until = 29733960 + 7 * 1440;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2.0, t0, t;
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES], sig[64],
	    msg[34];
	char text[PASS_TEXT_MAX + 1];
	struct pass_key key = {0};
	struct pass p, out;
	struct buf png;
	long n, bad = 0;
	double raw_sign, raw_verify, issue, sign_only, verify;

	if (sodium_init() < 0 || secs <= 0)
		return 2;
	crypto_sign_keypair(pk, sk);
	key.id = 1;
	memcpy(key.pk, pk, sizeof(pk));
	randombytes_buf(msg, sizeof(msg));
	printf("bench/passes: %.1f s per phase\n", secs);

	/* ceilings */
	for (n = 0, t0 = now_s(); (t = now_s()) - t0 < secs; n++)
		crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
	raw_sign = (double)n / (t - t0);
	for (n = 0, t0 = now_s(); (t = now_s()) - t0 < secs; n++)
		bad += crypto_sign_verify_detached(sig, msg, sizeof(msg), pk) != 0;
	raw_verify = (double)n / (t - t0);
	printf("ceiling: crypto_sign_detached %.0f/s, crypto_sign_verify_detached %.0f/s\n",
	       raw_sign, raw_verify);

	/* ours */
	for (n = 0, t0 = now_s(); (t = now_s()) - t0 < secs; n++) {
		fill(&p, (uint32_t)n);
		if (pass_sign_text(&p, sk, text, sizeof(text)) != PASS_OK)
			bad++;
	}
	sign_only = (double)n / (t - t0);
	buf_init(&png, 1024 * 1024);
	for (n = 0, t0 = now_s(); (t = now_s()) - t0 < secs; n++) {
		fill(&p, (uint32_t)n);
		buf_reset(&png);
		if (pass_sign_text(&p, sk, text, sizeof(text)) != PASS_OK ||
		    qr_png(text, 8, &png) < 0)
			bad++;
	}
	issue = (double)n / (t - t0);
	printf("issue: sign %.0f/s (%.0f%% of raw sign); sign + QR PNG in memory %.0f/s (%zu-byte "
	       "PNG, %zu-char token)\n",
	       sign_only, 100 * sign_only / raw_sign, issue, png.len, strlen(text));
	buf_free(&png);
	for (n = 0, t0 = now_s(); (t = now_s()) - t0 < secs; n++)
		bad += pass_verify_text(text, strlen(text), &key, 1, &out) != PASS_OK;
	verify = (double)n / (t - t0);
	printf("verify: pass_verify_text %.0f/s = %.1f%% of raw verify (target >= 90%%): %s\n",
	       verify, 100 * verify / raw_verify, verify >= 0.9 * raw_verify ? "met" : "NOT MET");
	printf("SUMMARY passes: issue_png/s=%.0f verify/s=%.0f raw_verify/s=%.0f ratio=%.1f%% "
	       "errors=%ld\n",
	       issue, verify, raw_verify, 100 * verify / raw_verify, bad);
	return bad ? 1 : 0;
}
