/* paysim_run.h: the card gateway simulator (tools/paysim, estiva-paysim) for the integration tests
 * that pay, and the raw HTTP they talk to it with. */
#ifndef ESTIVA_PAYSIM_RUN_H
#define ESTIVA_PAYSIM_RUN_H

#include <jansson.h>
#include <stddef.h>

/* Writes the gateway credentials (client_id, store_key; mode 0600) in dir, starts bin on a free
 * port with its database and log there: 0 with url ("http://127.0.0.1:PORT") and the credentials'
 * path, or -1. */
int paysim_start(const char *bin, const char *dir, const char *client_id, const char *store_key,
                 char *url, size_t urln, char *cred, size_t credn);
void paysim_stop(void);

/* POST data (may be NULL) to url with that Content-Type: the status, the body in *out (free it). */
long raw_post(const char *url, const char *ctype, const char *data, char **out);
/* GET url: the status, the body in *out (free it). */
long raw_get(const char *url, char **out);
/* The gateway form's fields as application/x-www-form-urlencoded (free it). */
char *form_from_fields(json_t *fields);
/* A free loopback port (a server whose URL must be known before it starts). */
int free_port(void);

#endif
