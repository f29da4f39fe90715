/*
 * The HTTP ceiling: a bare libmicrohttpd daemon set up like estiva-server (internal thread pool +
 * epoll, same pool size) that reads the request body and answers a small fixed JSON. Lesson 1 of
 * the performance research: the response is queued on a later call of the handler, never on the
 * first (headers-only) one, or MHD 0.9.75 turns keep-alive off.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "bench.h"

struct mhd_bare {
	struct MHD_Daemon *d;
};

/* About the size of a booking reply. */
static const char reply[] =
    "{\"id\":17,\"status\":\"held\",\"centre\":\"bench\",\"unit_type\":\"t1\",\"unit\":\"A001\","
    "\"arrival\":\"2027-02-01\",\"departure\":\"2027-02-03\",\"nights\":2,"
    "\"guests\":[{\"name\":\"Bench\",\"relation\":\"self\"}],"
    "\"amount\":{\"centimes\":60000,\"currency\":\"MAD\"},"
    "\"hold_expires_at\":\"2027-01-01T10:20:00Z\",\"created_at\":\"2027-01-01T10:00:00Z\"}";

static int seen_headers; /* its address marks a connection whose headers were seen */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (*con_cls == NULL) {
		*con_cls = &seen_headers;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		*upload_size = 0; /* a real handler would copy it into a bounded buffer */
		return MHD_YES;
	}
	r = MHD_create_response_from_buffer(sizeof(reply) - 1, (void *)reply,
	                                    MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json") !=
	    MHD_YES) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	ret = MHD_queue_response(c, strcmp(method, "POST") == 0 ? 201 : 200, r);
	MHD_destroy_response(r);
	return ret;
}

struct mhd_bare *mhd_bare_start(int threads, unsigned *port)
{
	struct mhd_bare *b = calloc(1, sizeof(*b));
	struct sockaddr_in sin;
	const union MHD_DaemonInfo *info;

	if (b == NULL)
		return NULL;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = 0;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	b->d = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0,
	    NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)threads, MHD_OPTION_CONNECTION_LIMIT, 512u,
	    MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
	if (b->d == NULL)
		goto fail;
	info = MHD_get_daemon_info(b->d, MHD_DAEMON_INFO_BIND_PORT);
	if (info == NULL || info->port == 0)
		goto fail;
	*port = info->port;
	return b;
fail:
	mhd_bare_stop(b);
	return NULL;
}

void mhd_bare_stop(struct mhd_bare *b)
{
	if (b == NULL)
		return;
	if (b->d != NULL)
		MHD_stop_daemon(b->d);
	free(b);
}
