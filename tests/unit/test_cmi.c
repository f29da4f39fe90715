/* Unit tests of server/cmi.c: the gateway's form encoding, natural name order and ver3 hash. The
 * hash vectors were computed outside C (printf '%s' TEXT | openssl dgst -sha512 -binary | base64
 * -w0). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmi.h"

static void test_natural_order(void **state)
{
	static const struct {
		const char *a, *b;
		int want;
	} cases[] = {
	    {"a2", "a10", -1},
	    {"a10", "a2", 1},
	    {"BillToStreet1", "BillToStreet12", -1},
	    {"amount", "BillToName", -1}, /* case-insensitive */
	    {"okUrl", "okurl", 0},
	    {"ab", "a_b", -1}, /* upper-case folding: '_' sorts after the letters */
	    {"x", "x1", -1},
	    {"TranType", "storetype", 1},
	    {"hashAlgorithm", "HASH", 1},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = cmi_natcasecmp(cases[i].a, cases[i].b);
		got = got < 0 ? -1 : got > 0 ? 1 : 0;
		if (got != cases[i].want)
			fail_msg("natcasecmp(%s, %s) = %d, want %d", cases[i].a, cases[i].b, got,
			         cases[i].want);
	}
}

static void add(struct form *f, const char *n, const char *v)
{
	assert_int_equal(form_add(f, n, v), 0);
}

/* The worked example of docs/payments.md. */
static void test_hash_worked_example(void **state)
{
	struct form f = {0};
	char h[CMI_HASH_LEN + 1];

	(void)state;
	add(&f, "clientid", "600000001");
	add(&f, "storetype", "3D_PAY_HOSTING");
	add(&f, "TranType", "PreAuth");
	add(&f, "amount", "1250.00");
	add(&f, "currency", "504");
	add(&f, "oid", "EST17-a1b2c3d4e5f6");
	add(&f, "okUrl", "https://estiva.example.ma/payments/ok");
	add(&f, "failUrl", "https://estiva.example.ma/payments/fail");
	add(&f, "shopurl", "https://estiva.example.ma/");
	add(&f, "callbackUrl", "https://estiva.example.ma/payments/cmi/callback");
	add(&f, "lang", "fr");
	add(&f, "rnd", "Xk3pQ9LmZ2aB7cD1eF4g");
	add(&f, "hashAlgorithm", "ver3");
	add(&f, "encoding", "UTF-8");
	add(&f, "email", "karim.elamrani@example.ma");
	add(&f, "BillToName", "Karim El Amrani");
	assert_int_equal(cmi_hash(&f, "TEST|key\\1", h), 0);
	assert_string_equal(h, "f1V7XyrGZZeFpkNCYMY1UWgZub7aSg76+qgrVOgEBHSWsnxmWnJS4S2Xeya+"
	                       "LMz2FZUUwn/ZwSPEvMjEMl7S/A==");
	add(&f, "HASH", h);
	assert_int_equal(cmi_hash_ok(&f, "TEST|key\\1"), 1);
	assert_int_equal(cmi_hash_ok(&f, "TEST|key\\2"), 0);
	form_free(&f);
}

/* Escapes, an empty value and Arabic: printf '%s' 'a\|b|c\\d||مركز الأرز|k\|ey' | openssl ... */
static void test_hash_escapes(void **state)
{
	struct form f = {0};
	char h[CMI_HASH_LEN + 1];

	(void)state;
	add(&f, "a", "a|b");
	add(&f, "b", "c\\d");
	add(&f, "c", "");
	add(&f, "d", "مركز الأرز");
	assert_int_equal(cmi_hash(&f, "k|ey", h), 0);
	assert_string_equal(h, "ZzvNjA7E+fQZh8GHF1VuoITxPFp/"
	                       "hKmea3AiEHeR9LbGL1H9lres7wCBU4BYQPGViOjPQrqnAy8gZOx044QTrw==");
	form_free(&f);
}

static void test_form_parse(void **state)
{
	static const struct {
		const char *body;
		int ok;
		const char *name, *value;
	} cases[] = {
	    {"a=1&b=x+y%21", 1, "b", "x y!"},
	    {"a=&b=2", 1, "a", ""},
	    {"a", 1, "a", ""},
	    {"a=1&&b=2", 1, "b", "2"},
	    {"a=%", 0, NULL, NULL},
	    {"a=%4", 0, NULL, NULL},
	    {"a=%zz", 0, NULL, NULL},
	    {"a=%00", 0, NULL, NULL}, /* an encoded NUL */
	    {"=1", 0, NULL, NULL},
	    {"a=1&a=2", 0, NULL, NULL}, /* a name twice: the hash would be ambiguous */
	    {"%", 0, NULL, NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct form f;
		int rc = form_parse(cases[i].body, strlen(cases[i].body), &f);

		if ((rc == 0) != cases[i].ok)
			fail_msg("form_parse(\"%s\") = %d", cases[i].body, rc);
		if (rc == 0) {
			assert_non_null(form_get(&f, cases[i].name));
			assert_string_equal(form_get(&f, cases[i].name), cases[i].value);
			form_free(&f);
		}
	}
}

static void test_amounts(void **state)
{
	char s[24];
	int64_t c = 0;

	(void)state;
	cmi_amount(125000, s);
	assert_string_equal(s, "1250.00");
	cmi_amount(5, s);
	assert_string_equal(s, "0.05");
	assert_int_equal(cmi_parse_amount("1250.00", &c), 0);
	assert_int_equal(c, 125000);
	assert_int_equal(cmi_parse_amount("12.345", &c), -1);
	assert_int_equal(cmi_parse_amount("-1.00", &c), -1);
}

#define HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"

/* A real ORDERSTATUS answer, as the gateway (and estiva-paysim) writes it. */
static const char good_answer[] =
    HEAD "<CC5Response>\n  <OrderId>EST7-a</OrderId>\n  <Response>Approved</Response>\n  "
         "<AuthCode>123456</AuthCode>\n"
         "  <ProcReturnCode>00</ProcReturnCode>\n  <TransId>T1 &amp; 2</TransId>\n  "
         "<ErrMsg>Record(s) found</ErrMsg>\n"
         "  <Extra>\n    <TRANS_STAT>C</TRANS_STAT>\n    <AUTH_AMT>625.00</AUTH_AMT>\n    "
         "<CAPTURE_AMT>625.00</CAPTURE_AMT>\n"
         "    <TOTAL_REFUNDED>312.50</TOTAL_REFUNDED>\n    <SETTLED>0</SETTLED>\n    "
         "<VOID_DTTM></VOID_DTTM>\n  </Extra>\n"
         "</CC5Response>\n";

static int parse(const char *xml, struct cmi_result *r)
{
	memset(r, 0, sizeof(*r));
	return cmi_parse_answer(xml, strlen(xml), r);
}

static void test_answer_good(void **state)
{
	struct cmi_result r;

	(void)state;
	assert_int_equal(parse(good_answer, &r), 0);
	assert_string_equal(r.response, "Approved");
	assert_string_equal(r.proc_return_code, "00");
	assert_string_equal(r.trans_id, "T1 & 2");
	assert_string_equal(r.err_msg, "Record(s) found");
	assert_string_equal(r.trans_stat, "C");
	assert_int_equal(r.auth_amount, 62500);
	assert_int_equal(r.capture_amount, 62500);
	assert_int_equal(r.refunded, 31250);
}

/* What strstr took for the answer: each of these must be refused, or read at its proper place only.
 */
static void test_answer_shape(void **state)
{
	static const char *const bad[] = {
	    /* the only Response is inside Extra */
	    HEAD "<CC5Response><ProcReturnCode>00</ProcReturnCode><Extra><Response>Approved</"
	         "Response></Extra>"
	         "</CC5Response>",
	    /* two Responses: which one is the answer? */
	    HEAD
	    "<CC5Response><Response>Declined</Response><Response>Approved</Response></CC5Response>",
	    /* two TOTAL_REFUNDED */
	    HEAD
	    "<CC5Response><Response>Approved</Response><Extra><TOTAL_REFUNDED>1.00</TOTAL_REFUNDED>"
	    "<TOTAL_REFUNDED>0.00</TOTAL_REFUNDED></Extra></CC5Response>",
	    /* another root */
	    HEAD "<html><Response>Approved</Response></html>",
	    /* a proxy's error page */
	    "<html><body><h1>502 Bad Gateway</h1></body></html>",
	    /* truncated */
	    HEAD "<CC5Response><Response>Approved</Response><Extra><TRANS_STAT>C</TRA",
	    /* an element inside a field */
	    HEAD "<CC5Response><Response><b>Approved</b></Response></CC5Response>",
	    /* too deep */
	    HEAD "<CC5Response><Response>Approved</Response><Extra><X><TRANS_STAT>C</TRANS_STAT></"
	         "X></Extra>"
	         "</CC5Response>",
	    /* text loose in the root */
	    HEAD "<CC5Response>Approved<Response>Approved</Response></CC5Response>",
	    /* entities: a billion laughs, or an external file */
	    HEAD
	    "<!DOCTYPE CC5Response [<!ENTITY a \"Approved\">]><CC5Response><Response>&a;</Response>"
	    "</CC5Response>",
	    HEAD "<!DOCTYPE CC5Response SYSTEM "
	         "\"file:///etc/passwd\"><CC5Response><Response>Approved</Response>"
	         "</CC5Response>",
	    /* an amount that is not one */
	    HEAD "<CC5Response><Response>Approved</Response><Extra><TOTAL_REFUNDED>1e9</"
	         "TOTAL_REFUNDED></Extra>"
	         "</CC5Response>",
	    /* a state too long for its field */
	    HEAD "<CC5Response><Response>ApprovedApprovedApproved</Response></CC5Response>",
	    /* two Extras */
	    HEAD "<CC5Response><Response>Approved</Response><Extra></Extra><Extra></Extra></"
	         "CC5Response>",
	    /* no Response at all */
	    HEAD "<CC5Response><ProcReturnCode>00</ProcReturnCode></CC5Response>",
	    "",
	};
	struct cmi_result r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], &r) == 0)
			fail_msg("answer %zu accepted (Response=%s TRANS_STAT=%s): %s", i,
			         r.response, r.trans_stat, bad[i]);
		assert_string_equal(r.response, "");
		assert_string_equal(r.trans_stat, "");
		assert_true(r.err_msg[0] != '\0');
	}
	/* a TRANS_STAT under the root is not the order's state; unknown fields are ignored */
	assert_int_equal(
	    parse(HEAD "<CC5Response><Response>Approved</Response><TRANS_STAT>C</TRANS_STAT>"
	               "<NewField>x</NewField></CC5Response>",
	          &r),
	    0);
	assert_string_equal(r.trans_stat, "");
	/* a long message is cut, not refused */
	{
		char xml[1024];
		snprintf(xml, sizeof(xml),
		         HEAD "<CC5Response><Response>Declined</Response><ErrMsg>%0250d</ErrMsg></"
		              "CC5Response>",
		         0);
		assert_int_equal(parse(xml, &r), 0);
		assert_int_equal(strlen(r.err_msg), sizeof(r.err_msg) - 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_natural_order), cmocka_unit_test(test_hash_worked_example),
	    cmocka_unit_test(test_hash_escapes),  cmocka_unit_test(test_form_parse),
	    cmocka_unit_test(test_amounts),       cmocka_unit_test(test_answer_good),
	    cmocka_unit_test(test_answer_shape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
