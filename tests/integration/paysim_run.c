/* paysim_run.c: see paysim_run.h. */
#include "paysim_run.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static pid_t sim_pid;

int paysim_start(const char *bin, const char *dir, const char *client_id, const char *store_key,
                 char *url, size_t urln, char *cred, size_t credn)
{
	char port_file[600], port[16] = "", db[600], log[600];
	FILE *f;

	snprintf(cred, credn, "%s/cmi.ini", dir);
	snprintf(port_file, sizeof port_file, "%s/paysim.port", dir);
	snprintf(db, sizeof db, "%s/paysim.db", dir);
	snprintf(log, sizeof log, "%s/paysim.log", dir);
	if (!(f = fopen(cred, "w")))
		return -1;
	fprintf(f,
	        "[cmi]\nclient_id = %s\nstore_key = %s\napi_user = estiva-api\napi_password = "
	        "api-secret-1\n",
	        client_id, store_key);
	fclose(f);
	chmod(cred, 0600);
	sim_pid = fork();
	if (sim_pid == 0) {
		if (!freopen(log, "w", stderr))
			_exit(127);
		execl(bin, bin, "--port", "0", "--port-file", port_file, "--credentials", cred,
		      "--db", db, "--callback-backoff-ms", "200", "--callback-retries", "2",
		      (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200 && !port[0]; i++) {
		hx_sleep_ms(50);
		if ((f = fopen(port_file, "r"))) {
			if (!fgets(port, sizeof port, f))
				port[0] = '\0';
			fclose(f);
		}
	}
	if (!port[0])
		return -1;
	port[strcspn(port, "\n")] = '\0';
	snprintf(url, urln, "http://127.0.0.1:%s", port);
	return 0;
}

void paysim_stop(void)
{
	if (sim_pid > 0) {
		kill(sim_pid, SIGTERM);
		waitpid(sim_pid, NULL, 0);
		sim_pid = 0;
	}
}

struct body {
	char *p;
	size_t n;
};

static size_t collect(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct body *b = ud;
	char *q = realloc(b->p, b->n + size * nmemb + 1);

	if (!q)
		return 0;
	b->p = q;
	memcpy(b->p + b->n, ptr, size * nmemb);
	b->n += size * nmemb;
	b->p[b->n] = '\0';
	return size * nmemb;
}

long raw_post(const char *url, const char *ctype, const char *data, char **out)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	struct body b = {NULL, 0};
	long status = 0;
	char hdr[128];

	snprintf(hdr, sizeof hdr, "Content-Type: %s", ctype);
	h = curl_slist_append(h, hdr);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (data)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, data);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	*out = b.p ? b.p : strdup("");
	return status;
}

long raw_get(const char *url, char **out)
{
	CURL *c = curl_easy_init();
	struct body b = {NULL, 0};
	long status = 0;

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	*out = b.p ? b.p : strdup("");
	return status;
}

char *form_from_fields(json_t *fields)
{
	CURL *c = curl_easy_init();
	size_t cap = 8192, len = 0;
	char *out = calloc(1, cap);
	const char *k;
	json_t *v;

	json_object_foreach(fields, k, v)
	{
		char *ek = curl_easy_escape(c, k, 0),
		     *ev = curl_easy_escape(c, json_string_value(v), 0);
		len += (size_t)snprintf(out + len, cap - len, "%s%s=%s", len ? "&" : "", ek, ev);
		curl_free(ek);
		curl_free(ev);
	}
	curl_easy_cleanup(c);
	return out;
}

int free_port(void)
{
	struct sockaddr_in sa = {0};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}
