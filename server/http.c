/* http.c: the libmicrohttpd daemon: reading requests into bounded buffers, replies with security
 * headers, static files of the web front end, the request log. Routing is in api.c, replies are
 * built with reply.c, the counters live in metrics.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "server.h"
#include "web.h"

static atomic_int in_flight;
static atomic_int draining; /* set by http_stop(): new requests get 503 */
static char *tls_cert_pem, *tls_key_pem;

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- replies ---- */

static const char csp_default[] =
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
    " object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

static void add_common_headers(struct app *app, struct MHD_Response *r, const char *content_type,
                               int api, const char *csp)
{
	struct web_header h[WEB_HEADERS_MAX];
	int n = web_security_headers(csp && *csp ? csp : csp_default, app->tls, h);

	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	for (int i = 0; i < n; i++)
		MHD_add_response_header(r, h[i].name, h[i].value);
	if (api)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
}

static enum MHD_Result send_reply(struct app *app, struct request *rq, struct reply *rp)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (!rp->body)
		reply_error(rp, 500, "internal", "no reply");
	r = MHD_create_response_from_buffer(rp->len, rp->body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(rp->body);
		rp->body = NULL;
		return MHD_NO;
	}
	rp->body = NULL;
	add_common_headers(app, r, rp->content_type ? rp->content_type : "application/json", 1,
	                   rp->csp);
	if (rp->set_cookie[0])
		MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, rp->set_cookie);
	if (rp->allow[0])
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, rp->allow);
	/* every 503 says when to come back; every 401 says how to authenticate (RFC
	 * 9110 15.5.2, 15.6.4) */
	if (rp->status == 503 && !rp->retry_after[0])
		snprintf(rp->retry_after, sizeof(rp->retry_after), "%d",
		         atomic_load(&draining) ? 10 : 2);
	if (rp->retry_after[0])
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, rp->retry_after);
	if (rp->status == 401)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		                        !strncmp(rq->path, "/api/gate/", 10)
		                            ? "Bearer realm=\"estiva-gate\""
		                            : "Session realm=\"estiva\"");
	if (rp->disposition[0])
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION, rp->disposition);
	rq->status = rp->status;
	ret = MHD_queue_response(rq->conn, (unsigned)rp->status, r);
	MHD_destroy_response(r);
	return ret;
}

/* ---- static files (server/web) ---- */

static const char *mime_type(const char *path)
{
	const char *dot = strrchr(path, '.');
	static const struct {
		const char *ext, *type;
	} types[] = {{".html", "text/html; charset=utf-8"},
	             {".css", "text/css; charset=utf-8"},
	             {".js", "text/javascript; charset=utf-8"},
	             {".json", "application/json"},
	             {".svg", "image/svg+xml"},
	             {".png", "image/png"},
	             {".ico", "image/x-icon"},
	             {".woff2", "font/woff2"},
	             {".txt", "text/plain; charset=utf-8"}};

	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(dot, types[i].ext))
			return types[i].type;
	return "application/octet-stream";
}

/* Returns 1 when it queued a reply, 0 when there is no such file. */
static int serve_static(struct app *app, struct request *rq, enum MHD_Result *ret)
{
	char path[4400];
	const char *p = rq->path;
	struct MHD_Response *r;
	struct stat stb;
	int fd;

	if (strcmp(rq->method, "GET") && strcmp(rq->method, "HEAD"))
		return 0;
	if (strstr(p, "..") ||
	    strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-") !=
	        strlen(p))
		return 0;
	if (!strcmp(p, "/"))
		p = "/index.html";
	if (snprintf(path, sizeof(path), "%s%s", app->cfg.web_root, p) >= (int)sizeof(path))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fstat(fd, &stb) < 0 || !S_ISREG(stb.st_mode)) {
		close(fd);
		return 0;
	}
	r = MHD_create_response_from_fd((uint64_t)stb.st_size, fd);
	if (!r) {
		close(fd);
		*ret = MHD_NO;
		return 1;
	}
	add_common_headers(app, r, mime_type(path), 0, NULL);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	rq->status = 200;
	*ret = MHD_queue_response(rq->conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return 1;
}

/* ---- the request cycle ---- */

static void client_ip(struct MHD_Connection *conn, char *out, size_t len)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	socklen_t sl;

	snprintf(out, len, "?");
	if (!ci || !ci->client_addr)
		return;
	sl = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
	                                            : sizeof(struct sockaddr_in);
	if (getnameinfo(ci->client_addr, sl, out, (socklen_t)len, NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(out, len, "?");
}

/* ---- the client behind a trusted reverse proxy ---- */

static int cidr_has(const struct cidr *c, int family, const unsigned char *a)
{
	int full = c->bits / 8, rest = c->bits % 8;

	if (c->family != family || memcmp(c->addr, a, (size_t)full))
		return 0;
	return !rest || ((c->addr[full] ^ a[full]) & (0xff << (8 - rest))) == 0;
}

static int trusted_proxy(const struct config *cfg, int family, const unsigned char *a)
{
	for (int i = 0; i < cfg->ntrusted_proxies; i++)
		if (cidr_has(&cfg->trusted_proxies[i], family, a))
			return 1;
	return 0;
}

/* One hop of X-Forwarded-For ("203.0.113.5", "2001:db8::1") or of Forwarded's for=
 * ("203.0.113.5:4711",
 * "\"[2001:db8::1]:4711\""), into its address: 0, or -1 when it is none (unknown, obfuscated,
 * garbage). */
static int hop_address(const char *s, size_t n, int *family, unsigned char a[16])
{
	char buf[80];
	char *p = buf, *e;

	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"')
		s++, n -= 2;
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (buf[0] == '[') {
		e = strchr(buf, ']');
		if (!e)
			return -1;
		*e = '\0';
		p = buf + 1;
	} else if (strchr(buf, '.') && (e = strchr(buf, ':'))) {
		*e = '\0'; /* IPv4 with a port */
	}
	if (inet_pton(AF_INET, p, a) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, p, a) == 1) {
		*family = AF_INET6;
		if (IN6_IS_ADDR_V4MAPPED(
		        (const struct in6_addr *)a)) { /* counted as the IPv4 client it is */
			*family = AF_INET;
			memmove(a, a + 12, 4);
		}
		return 0;
	}
	return -1;
}

/* The hops a header lists, left (the client's side) to right (ours), as [start, end) offsets into
 * h. For Forwarded, only the for= parameter of each element. Returns how many, at most max. */
static int header_hops(const char *h, int forwarded, size_t starts[], size_t ends[], int max)
{
	int n = 0;
	size_t i = 0, len = strlen(h);

	while (i <= len) {
		size_t j = i;
		while (j < len && h[j] != ',')
			j++;
		if (n == max) {
			/* more hops than we keep: the rightmost ones are the ones that count (the
			 * walk goes right to left), so the leftmost is dropped */
			memmove(starts, starts + 1, (size_t)(max - 1) * sizeof(starts[0]));
			memmove(ends, ends + 1, (size_t)(max - 1) * sizeof(ends[0]));
			n--;
		}
		if (!forwarded) {
			starts[n] = i;
			ends[n++] = j;
		} else {
			/* "for=...;proto=https;by=..." : find for= among the ;-separated pairs */
			size_t k = i;
			while (k < j) {
				size_t m = k;
				while (m < j && h[m] != ';')
					m++;
				while (k < m && (h[k] == ' ' || h[k] == '\t'))
					k++;
				if (m - k > 4 && !strncasecmp(h + k, "for=", 4)) {
					starts[n] = k + 4;
					ends[n++] = m;
					break;
				}
				k = m + 1;
			}
			if (k >= j) {
				starts[n] = ends[n] =
				    i; /* an element without for=: an unknown hop */
				n++;
			}
		}
		i = j + 1;
	}
	return n;
}

struct joined {
	const char *name;
	struct buf b;
};

static enum MHD_Result join_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
	struct joined *j = cls;

	(void)kind;
	if (key && value && !strcasecmp(key, j->name)) {
		if (j->b.len)
			buf_append(&j->b, ",", 1);
		buf_append(&j->b, value, strlen(value));
	}
	return MHD_YES;
}

/* Every line of header name joined with commas, in order (a proxy may add its own line rather than
 * append to the client's): the caller frees j->b. */
static void header_joined(struct MHD_Connection *conn, const char *name, struct joined *j)
{
	j->name = name;
	buf_init(&j->b, 65536);
	MHD_get_connection_values(conn, MHD_HEADER_KIND, join_header, j);
}

/* rq->ip: the peer, unless the peer is a trusted proxy: then the rightmost hop of X-Forwarded-For
 * (or, without it, Forwarded) that is not itself a trusted proxy. A hop that is not an address
 * stops the walk: the last trusted address is the client then. rq->ip_key: the address, IPv6 cut to
 * its /64. */
static void request_client(const struct app *app, struct MHD_Connection *conn, struct request *rq)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	unsigned char a[16] = {0};
	int family = 0;

	client_ip(conn, rq->ip, sizeof(rq->ip));
	if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET) {
		family = AF_INET;
		memcpy(a, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, 4);
	} else if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET6) {
		family = AF_INET6;
		memcpy(a, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, 16);
		if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a)) {
			family = AF_INET;
			memmove(a, a + 12, 4);
		}
	}
	if (family && trusted_proxy(&app->cfg, family, a)) {
		struct joined xj, fj;
		const char *xff, *fwd, *h;
		size_t starts[32], ends[32];
		int n;

		header_joined(conn, "X-Forwarded-For", &xj);
		header_joined(conn, "Forwarded", &fj);
		xff = xj.b.len ? xj.b.data : NULL;
		fwd = fj.b.len ? fj.b.data : NULL;
		h = xff ? xff : fwd;
		n = h ? header_hops(h, !xff, starts, ends, 32) : 0;

		for (int i = n - 1; i >= 0; i--) {
			unsigned char b[16];
			int f;
			if (hop_address(h + starts[i], ends[i] - starts[i], &f, b) < 0)
				break;
			family = f;
			memcpy(a, b, 16);
			inet_ntop(f, b, rq->ip, sizeof(rq->ip));
			if (!trusted_proxy(&app->cfg, f, b))
				break;
		}
		buf_free(&xj.b);
		buf_free(&fj.b);
	}
	if (family == AF_INET6) {
		char net[INET6_ADDRSTRLEN];
		memset(a + 8, 0, 8);
		inet_ntop(AF_INET6, a, net, sizeof(net));
		snprintf(rq->ip_key, sizeof(rq->ip_key), "%s/64", net);
	} else {
		snprintf(rq->ip_key, sizeof(rq->ip_key), "%s", rq->ip);
	}
}

/* ---- slow clients: a whole request (headers and body) must arrive within request_timeout ---- */

/* libmicrohttpd's connection timeout is an idle timeout: a client that trickles a byte every few
 * seconds keeps a connection (and, 512 of them, the server) for ever. Every connection is listed
 * from its start; the clock runs while a request is being received (from the connection's start, or
 * the end of the previous reply on a kept-alive connection, to the last byte of the body); a reaper
 * shuts down the sockets over the limit, and libmicrohttpd then closes them. */
struct live_conn {
	int fd;
	int64_t since_us;
	int receiving;
	struct live_conn *prev, *next;
};

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t live_cond = PTHREAD_COND_INITIALIZER;
static struct live_conn *live_head;
static pthread_t reaper;
static int reaper_running, reaper_stop;
static int64_t request_limit_us;

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
	struct live_conn *lc = *socket_context;

	(void)cls;
	pthread_mutex_lock(&live_lock);
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		lc = calloc(1, sizeof(*lc));
		if (lc && ci) {
			lc->fd = ci->connect_fd;
			lc->since_us = now_us();
			lc->receiving = 1;
			lc->next = live_head;
			if (live_head)
				live_head->prev = lc;
			live_head = lc;
		} else {
			free(lc);
			lc = NULL;
		}
		*socket_context = lc;
	} else if (lc) {
		if (lc->prev)
			lc->prev->next = lc->next;
		else
			live_head = lc->next;
		if (lc->next)
			lc->next->prev = lc->prev;
		free(lc);
		*socket_context = NULL;
	}
	pthread_mutex_unlock(&live_lock);
}

/* receiving: 1 from the end of a reply (the next request may start), 0 once a request is all in */
static void live_mark(struct MHD_Connection *conn, int receiving)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct live_conn *lc = ci ? ci->socket_context : NULL;

	if (!lc)
		return;
	pthread_mutex_lock(&live_lock);
	lc->receiving = receiving;
	lc->since_us = now_us();
	pthread_mutex_unlock(&live_lock);
}

static void *reap(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&live_lock);
	while (!reaper_stop) {
		struct timespec ts;
		int64_t now = now_us();

		for (struct live_conn *lc = live_head; lc; lc = lc->next)
			if (lc->receiving && now - lc->since_us > request_limit_us) {
				lc->receiving = 0;
				shutdown(lc->fd,
				         SHUT_RDWR); /* libmicrohttpd sees the end and closes it */
				log_warn("a request took over %llds to arrive: connection closed",
				         (long long)(request_limit_us / 1000000));
			}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&live_cond, &live_lock, &ts);
	}
	pthread_mutex_unlock(&live_lock);
	return NULL;
}

struct header_counter {
	const char *name;
	int n;
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
	struct header_counter *c = cls;

	(void)kind;
	(void)value;
	if (!strcasecmp(key, c->name))
		c->n++;
	return MHD_YES;
}

static int header_count(struct MHD_Connection *conn, const char *name)
{
	struct header_counter c = {name, 0};

	MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, &c);
	return c.n;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
	struct app *app = cls;
	struct request *rq = *con_cls;
	struct reply rp;
	enum MHD_Result ret;

	if (!rq) {
		const char *cl;
		char *end;
		unsigned long long n;

		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		atomic_fetch_add(&in_flight, 1);
		rq->started_us = now_us();
		rq->method = method;
		rq->path = url;
		rq->conn = conn;
		rq->route = -1;
		buf_init(&rq->body, app->cfg.body_max);
		request_client(app, conn, rq);
		*con_cls = rq;
		if (atomic_load(&draining)) {
			/* answered on the first call, so libmicrohttpd closes the connection after
			 * it */
			memset(&rp, 0, sizeof(rp));
			reply_error(&rp, 503, "shutting_down",
			            "the server is stopping; try again in a moment");
			return send_reply(app, rq, &rp);
		}
		/* HTTP/1.1 requires Host; two Content-Lengths are how requests get smuggled past a
		 * proxy */
		n = (unsigned long long)header_count(conn, MHD_HTTP_HEADER_CONTENT_LENGTH);
		{
			const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
			                                               MHD_HTTP_HEADER_HOST);
			const char *why = NULL;

			if (n > 1)
				why = "the request has more than one Content-Length header";
			else if (n && header_count(conn, MHD_HTTP_HEADER_TRANSFER_ENCODING))
				why = "a request has a Content-Length or a Transfer-Encoding, not "
				      "both";
			else if (!strcmp(version, MHD_HTTP_VERSION_1_1) &&
			         (header_count(conn, MHD_HTTP_HEADER_HOST) != 1 || !host || !*host))
				why =
				    "an HTTP/1.1 request needs exactly one Host header, not empty";
			if (why) {
				memset(&rp, 0, sizeof(rp));
				rq->too_large = 1; /* nothing of a body is read */
				reply_error(&rp, 400, "bad_request", why);
				return send_reply(app, rq, &rp);
			}
		}
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl) {
			errno = 0;
			n = strtoull(cl, &end, 10);
			if (errno || *end || n > app->cfg.body_max) {
				/* refused before a byte of the body is read; MHD closes the
				 * connection */
				memset(&rp, 0, sizeof(rp));
				rq->too_large = 1;
				reply_error(&rp, 413, "body_too_large",
				            "the request body is larger than allowed");
				return send_reply(app, rq, &rp);
			}
		}
		/* Queue nothing on this first call: MHD 0.9.75 would turn keep-alive off (ceilings
		 * note). */
		return MHD_YES;
	}
	if (rq->status)
		return MHD_YES; /* already answered (413): discard */
	if (*upload_data_size) {
		if (!rq->too_large && buf_append(&rq->body, upload_data, *upload_data_size) < 0)
			rq->too_large =
			    1; /* chunked body over the cap: keep reading, answer 413 at the end */
		*upload_data_size = 0;
		return MHD_YES;
	}
	memset(&rp, 0, sizeof(rp));
	live_mark(
	    conn,
	    0); /* the whole request is in: no more clock on this connection until the reply */
	if (rq->too_large) {
		reply_error(&rp, 413, "body_too_large", "the request body is larger than allowed");
		return send_reply(app, rq, &rp);
	}
	/* a path of the route table is never a file; anything else may be one of the web front end
	 */
	if (!api_has_route(url) && serve_static(app, rq, &ret))
		return ret;
	api_route(app, rq, &rp);
	if (rp.suspended)
		return MHD_YES; /* hashpool.c resumes the connection; MHD calls us again */
	return send_reply(app, rq, &rp);
}

/* The path as the log may show it: libmicrohttpd has decoded %XX, so a byte that is not printable
 * ASCII (a CR or LF that would forge a log line, an escape for the terminal) is written back as
 * %XX. */
static const char *log_safe(const char *s, char *out, size_t n)
{
	size_t k = 0;

	for (; s && *s && k + 4 < n; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x21 || c > 0x7e || c == '%')
			k += (size_t)snprintf(out + k, n - k, "%%%02X", c);
		else
			out[k++] = (char)c;
	}
	out[k] = '\0';
	return out;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct app *app = cls;
	struct request *rq = *con_cls;
	char path[600];
	int64_t us;

	live_mark(conn, 1); /* a kept-alive connection's next request starts its clock now */
	if (!rq)
		return;
	us = now_us() - rq->started_us;
	log_info("%s %s %d %.1fms%s", rq->method, log_safe(rq->path, path, sizeof(path)),
	         rq->status, (double)us / 1000.0,
	         toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection ended early)");
	metrics_count(&app->metrics, rq->route, rq->status, us);
	buf_free(&rq->body);
	hash_job_free(rq->job);
	free(rq);
	*con_cls = NULL;
	atomic_fetch_sub(&in_flight, 1);
}

/* ---- the daemon ---- */

static char *read_file(const char *path, char *err, size_t errlen)
{
	struct buf b;
	char chunk[4096];
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	buf_init(&b, 1024 * 1024);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (buf_append(&b, chunk, n) < 0) {
			snprintf(err, errlen, "%s: too large", path);
			fclose(f);
			buf_free(&b);
			return NULL;
		}
	}
	fclose(f);
	return buf_steal(&b, NULL);
}

struct MHD_Daemon *http_start(struct app *app, char *err, size_t errlen)
{
	struct config *cfg = &app->cfg;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr *sa;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
	                     MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	struct MHD_Daemon *d;

	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (inet_pton(AF_INET, cfg->listen, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)cfg->port);
		sa = (struct sockaddr *)&sin;
	} else if (inet_pton(AF_INET6, cfg->listen, &sin6.sin6_addr) == 1) {
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons((uint16_t)cfg->port);
		sa = (struct sockaddr *)&sin6;
		flags |= MHD_USE_IPv6;
	} else {
		snprintf(err, errlen, "listen = %s is not an IPv4 or IPv6 address", cfg->listen);
		return NULL;
	}
	if (cfg->tls_cert[0]) {
		if (conf_secret_file_ok(cfg->tls_key, err, errlen) < 0)
			return NULL;
		tls_cert_pem = read_file(cfg->tls_cert, err, errlen);
		tls_key_pem = tls_cert_pem ? read_file(cfg->tls_key, err, errlen) : NULL;
		if (!tls_key_pem)
			return NULL;
		flags |= MHD_USE_TLS;
		app->tls = 1;
	}
	if (hashpool_start(cfg->hash_threads, cfg->hash_queue) < 0) {
		snprintf(err, errlen, "cannot start the password-hashing threads");
		return NULL;
	}
	if (app->tls)
		d = MHD_start_daemon(
		    flags, 0, NULL, NULL, on_access, app, MHD_OPTION_SOCK_ADDR, sa,
		    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->threads,
		    MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
		    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->per_ip_connections,
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->conn_timeout,
		    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536, MHD_OPTION_NOTIFY_COMPLETED,
		    on_completed, app, MHD_OPTION_NOTIFY_CONNECTION, on_connection, app,
		    MHD_OPTION_HTTPS_MEM_KEY, tls_key_pem, MHD_OPTION_HTTPS_MEM_CERT, tls_cert_pem,
		    /* GnuTLS's NORMAL without the old versions: TLS 1.2 and 1.3 only */
		    MHD_OPTION_HTTPS_PRIORITIES, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
		    MHD_OPTION_END);
	else
		d = MHD_start_daemon(
		    flags, 0, NULL, NULL, on_access, app, MHD_OPTION_SOCK_ADDR, sa,
		    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->threads,
		    MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
		    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->per_ip_connections,
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->conn_timeout,
		    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536, MHD_OPTION_NOTIFY_COMPLETED,
		    on_completed, app, MHD_OPTION_NOTIFY_CONNECTION, on_connection, app,
		    MHD_OPTION_END);
	if (!d) {
		hashpool_stop();
		snprintf(err, errlen, "cannot listen on %s port %d (in use, or not allowed)",
		         cfg->listen, cfg->port);
		return NULL;
	}
	request_limit_us = (int64_t)cfg->request_timeout * 1000000;
	reaper_stop = 0;
	if (pthread_create(&reaper, NULL, reap, NULL) != 0) {
		hashpool_stop();
		MHD_stop_daemon(d);
		snprintf(err, errlen, "cannot start the slow-request reaper thread");
		return NULL;
	}

	reaper_running = 1;
	return d;
}

int http_port(struct MHD_Daemon *d)
{
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);

	return di ? di->port : -1;
}

void http_stop(struct MHD_Daemon *d)
{
	/* Drain: new requests are answered 503 at once, the requests in flight finish (10 s at
	 * most), then the daemon stops. (MHD_quiesce_daemon() with a thread pool on epoll can abort
	 * the process in libmicrohttpd 0.9.75: "Failed to remove listen FD from epoll set", seen
	 * here.) */
	atomic_store(&draining, 1);
	for (int i = 0; i < 1000 && atomic_load(&in_flight) > 0; i++)
		usleep(10000);
	hashpool_stop(); /* its queued checks end and give back their suspended connections first */
	MHD_stop_daemon(d);
	if (reaper_running) {
		pthread_mutex_lock(&live_lock);
		reaper_stop = 1;
		pthread_cond_signal(&live_cond);
		pthread_mutex_unlock(&live_lock);
		pthread_join(reaper, NULL);
		reaper_running = 0;
	}
	free(tls_cert_pem);
	free(tls_key_pem);
	tls_cert_pem = tls_key_pem = NULL;
}
