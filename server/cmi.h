/* cmi.h: the Moroccan interbank card gateway (CMI, NestPay-based): the ver3 hash of its form fields
 * (struct form: shared/web.h), amounts, and the server-to-server XML API (status, capture, void,
 * refund). See docs/payments.md. */
#ifndef ESTIVA_CMI_H
#define ESTIVA_CMI_H

#include <stddef.h>
#include <stdint.h>

#include "web.h" /* struct form and its decoder, which the hash works on */

#define CMI_HASH_LEN 88 /* base64 of a SHA-512 digest */

/* PHP's strnatcasecmp: case-insensitive, digit runs compared as numbers. */
int cmi_natcasecmp(const char *a, const char *b);
/* ver3: every field but hash/encoding in natural case-insensitive name order, each value escaped
 * (\ → \\, | → \|) and followed by |, then the escaped store key; SHA-512; base64. */
int cmi_hash(const struct form *f, const char *store_key, char out[CMI_HASH_LEN + 1]);
/* Constant-time check of the form's HASH field. 1 good, 0 bad or missing. */
int cmi_hash_ok(const struct form *f, const char *store_key);

/* Amount in centimes to the gateway's "1250.00". */
void cmi_amount(int64_t centimes, char out[24]);
/* The gateway's amount back to centimes: 0, or -1 when malformed. */
int cmi_parse_amount(const char *s, int64_t *centimes);

struct cmi_credentials {
	char client_id[64];
	char store_key[128];
	char api_user[64];
	char api_password[128];
};

/* The answer of /fim/api. */
struct cmi_result {
	int http_status;   /* 0 when the gateway could not be reached */
	char response[16]; /* Approved, Declined, Error */
	char proc_return_code[8];
	char err_msg[160];
	char trans_id[64];
	char trans_stat[8]; /* ORDERSTATUS: A (authorised), C (captured), V (voided), D (declined),
	                       N (none) */
	int64_t auth_amount, capture_amount, refunded; /* ORDERSTATUS, centimes */
};

/* One API call: type is "PostAuth", "Void", "Credit" or NULL for ORDERSTATUS QUERY; total
 * (centimes) only for Credit (0 = all). Returns 0 when the gateway answered (see r->response), -1
 * when it could not be reached or answered nonsense (r->err_msg says why). */
int cmi_api(const char *url, const char *cafile, long timeout_ms,
            const struct cmi_credentials *cred, const char *type, const char *oid, int64_t total,
            struct cmi_result *r);

/* The gateway's XML answer (a CC5Response, at most 64 KiB) into r, strictly: the root, the fields
 * at their own places (Response, ProcReturnCode, ErrMsg, TransId under the root; TRANS_STAT and the
 * amounts under Extra), each at most once, no DOCTYPE or entities. 0, or -1 with r->err_msg saying
 * why (r is then empty but for http_status). */
int cmi_parse_answer(const char *xml, size_t len, struct cmi_result *r);

#endif
