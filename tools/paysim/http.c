/* http.c: the libmicrohttpd daemon: request bodies read into capped buffers, the route table, the
 * replies with their security headers, and one log line per request. One thread per connection:
 * a merchant's callback handler may call /fim/api while the card step that sent it still waits. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "paysim.h"

struct conn_state {
	struct request rq;
	int status;
};

const char *request_header(struct request *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

const char *request_query(struct request *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

int request_is_form(struct request *rq)
{
	const char *ct = request_header(rq, MHD_HTTP_HEADER_CONTENT_TYPE);

	return ct && !strncasecmp(ct, "application/x-www-form-urlencoded", 33) &&
	       (ct[33] == '\0' || ct[33] == ';');
}

void reply_take(struct reply *rp, int status, const char *content_type, char *body, size_t len)
{
	free(rp->body);
	rp->status = status;
	rp->content_type = content_type;
	rp->body = body;
	rp->len = len;
}

void reply_text(struct reply *rp, int status, const char *content_type, const char *text)
{
	char *copy = strdup(text);

	reply_take(rp, copy ? status : 500, content_type, copy, copy ? strlen(copy) : 0);
}

void reply_sbuf(struct reply *rp, int status, const char *content_type, struct sbuf *b)
{
	size_t len = 0;
	char *p = sb_steal(b, &len);

	if (!p) {
		reply_text(rp, 500, "text/plain; charset=utf-8",
		           "out of memory or reply too large\n");
		return;
	}
	reply_take(rp, status, content_type, p, len);
}

/* ---- routes ---- */

static void healthz(struct request *rq, struct reply *rp)
{
	(void)rq;
	reply_text(rp, 200, "text/plain; charset=utf-8", "ok\n");
}

static void css(struct request *rq, struct reply *rp)
{
	(void)rq;
	reply_text(rp, 200, "text/css; charset=utf-8", paysim_css);
}

static void autopost(struct request *rq, struct reply *rp)
{
	(void)rq;
	reply_text(rp, 200, "text/javascript; charset=utf-8", paysim_autopost_js);
}

static const struct route {
	const char *method, *path;
	void (*fn)(struct request *, struct reply *);
} routes[] = {
    {"POST", "/fim/est3Dgate", gate_start}, {"POST", "/fim/pay", gate_pay},
    {"POST", "/fim/3ds", gate_3ds},         {"POST", "/fim/api", api_handle},
    {"GET", "/sim/orders", sim_orders},     {"GET", "/sim/control", sim_control},
    {"POST", "/sim/control", sim_control},  {"GET", "/sim/paysim.css", css},
    {"GET", "/sim/autopost.js", autopost},  {"GET", "/healthz", healthz},
};

static void route(struct request *rq, struct reply *rp)
{
	int path_known = 0;

	for (size_t k = 0; k < sizeof(routes) / sizeof(routes[0]); k++) {
		if (strcmp(routes[k].path, rq->url))
			continue;
		path_known = 1;
		if (!strcmp(routes[k].method, rq->method) ||
		    (!strcmp(rq->method, "HEAD") && !strcmp(routes[k].method, "GET"))) {
			routes[k].fn(rq, rp);
			return;
		}
	}
	if (path_known)
		reply_text(rp, 405, "text/plain; charset=utf-8", "method not allowed\n");
	else
		reply_text(rp, 404, "text/plain; charset=utf-8",
		           "no such page on the payment simulator\n");
}

/* ---- the request cycle ---- */

static enum MHD_Result send_reply(struct conn_state *cs, struct reply *rp)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (!rp->body)
		reply_text(rp, 500, "text/plain; charset=utf-8", "no reply\n");
	if (!rp->body)
		return MHD_NO;
	r = MHD_create_response_from_buffer(rp->len, rp->body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(rp->body);
		rp->body = NULL;
		return MHD_NO;
	}
	rp->body = NULL;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rp->content_type);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (!strncmp(rp->content_type, "text/html", 9)) {
		/* form-action stays open: the return page posts to the merchant's okUrl/failUrl */
		MHD_add_response_header(
		    r, "Content-Security-Policy",
		    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self';"
		    " base-uri 'none'; frame-ancestors 'none'");
		MHD_add_response_header(r, "X-Frame-Options", "DENY");
	}
	if (rp->status == 405)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW,
		                        strstr(cs->rq.url, "/sim/control") ? "GET, POST"
		                        : !strncmp(cs->rq.url, "/fim/", 5) ? "POST"
		                                                           : "GET");
	cs->status = rp->status;
	ret = MHD_queue_response(cs->rq.conn, (unsigned)rp->status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
	struct conn_state *cs = *con_cls;
	struct reply rp;

	(void)cls, (void)version;
	if (!cs) {
		const char *cl;
		char *end;
		unsigned long long n;

		cs = calloc(1, sizeof(*cs));
		if (!cs)
			return MHD_NO;
		cs->rq.method = method;
		cs->rq.url = url;
		cs->rq.conn = conn;
		cs->rq.started_ms = now_ms();
		sb_init(&cs->rq.body, PAYSIM_BODY_MAX);
		*con_cls = cs;
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl) {
			errno = 0;
			n = strtoull(cl, &end, 10);
			if (errno || *end || n > PAYSIM_BODY_MAX) {
				memset(&rp, 0, sizeof(rp));
				cs->rq.too_large = 1;
				reply_text(&rp, 413, "text/plain; charset=utf-8",
				           "request body over 64 KiB\n");
				return send_reply(cs, &rp);
			}
		}
		return MHD_YES;
	}
	if (cs->status)
		return MHD_YES; /* answered already (413): read and drop the rest */
	if (*upload_data_size) {
		if (!cs->rq.too_large && sb_add(&cs->rq.body, upload_data, *upload_data_size) < 0)
			cs->rq.too_large = 1;
		*upload_data_size = 0;
		return MHD_YES;
	}
	memset(&rp, 0, sizeof(rp));
	if (cs->rq.too_large)
		reply_text(&rp, 413, "text/plain; charset=utf-8", "request body over 64 KiB\n");
	else
		route(&cs->rq, &rp);
	return send_reply(cs, &rp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct conn_state *cs = *con_cls;

	(void)cls, (void)conn;
	if (!cs)
		return;
	log_line("%s %s %d %lldms%s%s%s", cs->rq.method, cs->rq.url, cs->status,
	         (long long)(now_ms() - cs->rq.started_ms), cs->rq.note[0] ? " " : "", cs->rq.note,
	         toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection ended early)");
	sb_free(&cs->rq.body);
	free(cs);
	*con_cls = NULL;
}

/* ---- the daemon ---- */

void *http_start(const struct config *cfg, char *err, size_t errlen)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr *sa;
	unsigned int flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	                     MHD_USE_POLL | MHD_USE_ERROR_LOG;
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
		snprintf(err, errlen, "listen %s is not an IPv4 or IPv6 address", cfg->listen);
		return NULL;
	}
	d = MHD_start_daemon(flags, 0, NULL, NULL, on_access, NULL, MHD_OPTION_SOCK_ADDR, sa,
	                     MHD_OPTION_CONNECTION_LIMIT, (unsigned)PAYSIM_CONNECTIONS,
	                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
	                     MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
	if (!d)
		snprintf(err, errlen, "cannot listen on %s port %d (in use, or not allowed)",
		         cfg->listen, cfg->port);
	return d;
}

int http_port(void *daemon)
{
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);

	return di ? di->port : -1;
}

void http_stop(void *daemon)
{
	MHD_stop_daemon(daemon);
}
