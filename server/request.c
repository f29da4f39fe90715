/* request.c: what a handler reads of its request: headers, query parameters, the JSON body, and the
 * one parser of the numeric ids in paths. */
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "server.h"

const char *request_header(struct request *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

const char *request_query(struct request *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

int request_json(struct request *rq, struct reply *rp, json_t **out)
{
	const char *ct = request_header(rq, MHD_HTTP_HEADER_CONTENT_TYPE);
	json_error_t jerr;
	json_t *j;

	if (!ct || strncasecmp(ct, "application/json", 16) != 0 ||
	    (ct[16] && ct[16] != ';' && ct[16] != ' ')) {
		reply_error(rp, 415, "unsupported_media_type", "the body must be application/json");
		return -1;
	}
	j = json_loadb(rq->body.data ? rq->body.data : "", rq->body.len, JSON_REJECT_DUPLICATES,
	               &jerr);
	if (!j) {
		char msg[256];
		snprintf(msg, sizeof(msg), "malformed JSON at line %d column %d: %s", jerr.line,
		         jerr.column, jerr.text);
		reply_error(rp, 400, "bad_json", msg);
		return -1;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		reply_error(rp, 400, "bad_json", "the body must be a JSON object");
		return -1;
	}
	*out = j;
	return 0;
}

int request_id_param(const char *s, size_t len, int64_t min, int64_t max, int64_t *out)
{
	int64_t v = 0;

	/* strict: digits only (no sign, no space), no leading zero, no overflow */
	if (!s || len == 0 || (len > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		int d = s[i] - '0';

		if (d < 0 || d > 9 || v > (INT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}
