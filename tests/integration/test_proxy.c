/* Behind a reverse proxy ([http] trusted_proxies = 127.0.0.2 here): only from a trusted proxy are
 * X-Forwarded-For and Forwarded believed, the rightmost hop that is not a proxy is the client, and
 * the login slow-down counts clients, not the proxy; IPv6 clients by their /64. Connections from
 * 127.0.0.1 play a client without a proxy: what they claim in those headers changes nothing. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t sink(char *p, size_t s, size_t n, void *u)
{
	(void)p;
	(void)u;
	return s * n;
}

/* POST /api/v1/session from source address `from`, with one extra header line (or NULL): the
 * status. */
static long login_from(const char *from, const char *header, const char *member,
                       const char *password)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	char url[128], body[256];
	long status = 0;

	snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/session", hx_port(HX));
	snprintf(body, sizeof body, "{\"member\":\"%s\",\"password\":\"%s\"}", member, password);
	/* header may hold several lines, one per '\n' */
	for (const char *l = header; l && *l;) {
		char line[4096];
		size_t n = strcspn(l, "\n");

		snprintf(line, sizeof line, "%.*s", (int)n, l);
		h = curl_slist_append(h, line);
		l += n + (l[n] == '\n');
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_INTERFACE, from);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return status;
}

/* 20 failed logins (each under another unknown name, so no account is slowed down) from header. */
static void fail_20(const char *from, const char *header)
{
	for (int i = 0; i < 20; i++) {
		char name[32];
		snprintf(name, sizeof name, "9%05d", rand() % 100000);
		assert_int_equal(login_from(from, header, name, "Wrong-password-1"), 401);
	}
}

static void clients_behind_the_proxy_are_told_apart(void **state)
{
	char m[16];

	(void)state;
	fail_20("127.0.0.2", "X-Forwarded-For: 203.0.113.5");
	assert_int_equal(login_from("127.0.0.2", "X-Forwarded-For: 203.0.113.5", "900001", "x"),
	                 429);
	/* another client through the same proxy is not slowed down */
	assert_int_equal(login_from("127.0.0.2", "X-Forwarded-For: 203.0.113.6",
	                            hx_member(1, m, sizeof m), HX_PASSWORD),
	                 200);
	/* the rightmost hop that is not a proxy: 127.0.0.2 is skipped, 203.0.113.5 is a client */
	assert_int_equal(login_from("127.0.0.2",
	                            "X-Forwarded-For: 198.51.100.1, 203.0.113.5, 127.0.0.2",
	                            "900002", "x"),
	                 429);
	/* what a client puts on the left of its own address does not help it */
	assert_int_equal(
	    login_from("127.0.0.2", "X-Forwarded-For: 198.51.100.9, 203.0.113.5", "900003", "x"),
	    429);
	/* the proxy itself is not locked out: without a header the client is the proxy, a fresh
	 * address */
	assert_int_equal(login_from("127.0.0.2", NULL, hx_member(2, m, sizeof m), HX_PASSWORD),
	                 200);
	/* garbage in the header: the walk stops, the proxy's address is used */
	assert_int_equal(login_from("127.0.0.2", "X-Forwarded-For: unknown",
	                            hx_member(2, m, sizeof m), HX_PASSWORD),
	                 200);
}

static void ipv6_clients_count_by_64(void **state)
{
	char m[16], h[96];

	(void)state;
	for (int i = 0; i < 20; i++) {
		char name[32];
		snprintf(h, sizeof h, "Forwarded: for=\"[2001:db8:1:2::%x]:4711\";proto=https",
		         i + 1);
		snprintf(name, sizeof name, "8%05d", i);
		assert_int_equal(login_from("127.0.0.2", h, name, "Wrong-password-1"), 401);
	}
	/* another address of the same /64: slowed down too */
	assert_int_equal(
	    login_from("127.0.0.2", "X-Forwarded-For: 2001:db8:1:2:ffff::1", "800099", "x"), 429);
	/* the next /64 is someone else */
	assert_int_equal(login_from("127.0.0.2", "X-Forwarded-For: 2001:db8:1:3::1",
	                            hx_member(3, m, sizeof m), HX_PASSWORD),
	                 200);
}

static void headers_from_others_are_ignored(void **state)
{
	char m[16];

	(void)state;
	/* 127.0.0.1 is no proxy: every claimed address is 127.0.0.1 itself, which gets slowed down
	 */
	for (int i = 0; i < 20; i++) {
		char h[64], name[32];
		snprintf(h, sizeof h, "X-Forwarded-For: 192.0.2.%d", i + 1);
		snprintf(name, sizeof name, "7%05d", i);
		assert_int_equal(login_from("127.0.0.1", h, name, "Wrong-password-1"), 401);
	}
	assert_int_equal(login_from("127.0.0.1", "X-Forwarded-For: 192.0.2.200",
	                            hx_member(4, m, sizeof m), HX_PASSWORD),
	                 429);
}

/* What a client writes on the left of its own address is ignored, however it is written: more hops
 * than the server keeps (the rightmost count), a second header line from a proxy that adds its own
 * line, an IPv4 client written as an IPv4-mapped IPv6 address. */
static void spoofed_hops_do_not_escape(void **state)
{
	char many[2048], other[2048];
	size_t k = 0, j = 0;

	(void)state;
	for (int i = 0; i < 40; i++) {
		k += (size_t)snprintf(many + k, sizeof many - k, "%s10.1.%d.%d",
		                      i ? ", " : "X-Forwarded-For: ", i, rand() % 250);
		j += (size_t)snprintf(other + j, sizeof other - j, "%s10.2.%d.%d",
		                      i ? ", " : "X-Forwarded-For: ", i, rand() % 250);
	}
	snprintf(many + k, sizeof many - k, ", 198.51.100.7");
	snprintf(other + j, sizeof other - j, ", 198.51.100.7");
	fail_20("127.0.0.2", many);
	assert_int_equal(login_from("127.0.0.2", other, "912345", "Wrong-password-1"), 429);

	fail_20("127.0.0.2", "X-Forwarded-For: 1.2.3.7\nX-Forwarded-For: 198.51.100.9");
	assert_int_equal(login_from("127.0.0.2",
	                            "X-Forwarded-For: 9.9.9.9\nX-Forwarded-For: 198.51.100.9",
	                            "912346", "Wrong-password-1"),
	                 429);

	fail_20("127.0.0.2", "Forwarded: for=\"[::ffff:198.51.100.20]\"");
	assert_int_equal(
	    login_from("127.0.0.2", "X-Forwarded-For: 198.51.100.20", "912347", "Wrong-password-1"),
	    429);
	/* and a neighbour of that client is another client */
	assert_int_equal(
	    login_from("127.0.0.2", "X-Forwarded-For: 198.51.100.21", "912348", "Wrong-password-1"),
	    401);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(clients_behind_the_proxy_are_told_apart),
	    cmocka_unit_test(ipv6_clients_count_by_64),
	    cmocka_unit_test(headers_from_others_are_ignored),
	    cmocka_unit_test(spoofed_hops_do_not_escape),
	};
	struct hx_opts o = {.members = 4,
	                    .extra_conf = "[http]\ntrusted_proxies = 127.0.0.2, 10.0.0.0/8\n"};

	srand(42);
	return hx_main(argc, argv, &o, "proxy", tests, sizeof tests / sizeof tests[0]);
}
