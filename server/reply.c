/* reply.c: the JSON, error and text replies every handler builds; http.c sends them with the
 * headers. */
#include <stdlib.h>
#include <string.h>

#include "server.h"

int reply_json(struct reply *rp, int status, json_t *body)
{
	rp->status = status;
	free(rp->body);
	rp->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!rp->body)
		return reply_text(
		    rp, 500, "application/json",
		    "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}");
	rp->len = strlen(rp->body);
	rp->content_type = "application/json";
	return 0;
}

int reply_error(struct reply *rp, int status, const char *code, const char *message)
{
	return reply_json(rp, status,
	                  json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message));
}

int reply_text(struct reply *rp, int status, const char *content_type, const char *text)
{
	free(rp->body);
	rp->status = status;
	rp->body = strdup(text);
	rp->len = rp->body ? strlen(rp->body) : 0;
	rp->content_type = content_type;
	return 0;
}
