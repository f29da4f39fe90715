/* config.c: estiva-server.conf (INI). Every problem is reported as "file:line: problem". */
#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "date.h"
#include "server.h"

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->listen, sizeof(cfg->listen), "%s", DEF_LISTEN);
	cfg->port = DEF_PORT;
	cfg->threads = DEF_THREADS;
	cfg->max_connections = DEF_MAX_CONNECTIONS;
	cfg->per_ip_connections = DEF_PER_IP_CONNECTIONS;
	cfg->conn_timeout = DEF_CONN_TIMEOUT;
	cfg->request_timeout = 30;
	cfg->hash_threads = 1;
	cfg->mail_starttls = 1;
	cfg->mail_rate = 60;
	cfg->mail_retry_unit = 60;
	cfg->mail_reminder_every = 600;
	cfg->sms_from = 9 * 60;
	cfg->sms_until = 20 * 60;
	snprintf(cfg->mail_from, sizeof(cfg->mail_from), "Estiva <no-reply@localhost>");
	snprintf(cfg->mail_domain, sizeof(cfg->mail_domain), "localhost");
	cfg->hash_queue = 16;
	cfg->account_token_ttl = ACCOUNT_TOKEN_TTL;
	cfg->account_sends_member = ACCOUNT_SENDS_MEMBER;
	cfg->account_sends_address = ACCOUNT_SENDS_ADDRESS;
	cfg->account_send_window = ACCOUNT_SEND_WINDOW;
	cfg->body_max = DEF_BODY_MAX;
	snprintf(cfg->web_root, sizeof(cfg->web_root), "/usr/share/estiva/web");
	snprintf(cfg->db_path, sizeof(cfg->db_path), "/var/lib/estiva/estiva.db");
	cfg->busy_timeout_ms = DEF_BUSY_TIMEOUT_MS;
	cfg->hold_seconds = DEF_HOLD;
	cfg->sweep_seconds = DEF_SWEEP;
	cfg->max_request_nights = DEF_MAX_REQUEST_NIGHTS;
	cfg->session_idle = DEF_SESSION_IDLE;
	cfg->session_absolute = DEF_SESSION_ABSOLUTE;
	snprintf(cfg->catalog_dir, sizeof(cfg->catalog_dir), "/etc/estiva/centres");
	snprintf(cfg->categories_path, sizeof(cfg->categories_path), "/etc/estiva/categories.ini");
	snprintf(cfg->timezone, sizeof(cfg->timezone), "%s", DEF_TIMEZONE);
	snprintf(cfg->key_dir, sizeof(cfg->key_dir), "/var/lib/estiva/keys");
	cfg->pay_api_timeout = DEF_PAY_API_TIMEOUT;
	cfg->pay_api_retries = DEF_PAY_API_RETRIES;
	cfg->pay_session = DEF_PAY_SESSION;
	cfg->pay_margin = DEF_PAY_MARGIN;
	cfg->pay_reconcile_after = DEF_PAY_RECONCILE_AFTER;
	cfg->pay_reconcile_interval = DEF_PAY_RECONCILE_INTERVAL;
	cfg->pay_unknown_after = DEF_PAY_UNKNOWN_AFTER;
	/* the published policy by default: all back 14 days or more before arrival, half from 3
	 * days */
	cfg->nrefund_tiers = 3;
	cfg->refund_tiers[0].days = 14;
	cfg->refund_tiers[0].percent = 100;
	cfg->refund_tiers[1].days = 3;
	cfg->refund_tiers[1].percent = 50;
	cfg->refund_tiers[2].days = 0;
	cfg->refund_tiers[2].percent = 0;
}

/* "14:100, 3:50, 0:0": days before arrival (strictly decreasing) and the percent refunded from then
 * on. */
int cidr_parse(const char *s, struct cidr *c)
{
	char buf[80], *slash, *end;
	long bits;

	if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		return -1;
	memset(c, 0, sizeof(*c));
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, c->addr) == 1) {
		c->family = AF_INET;
		c->bits = 32;
	} else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
		c->family = AF_INET6;
		c->bits = 128;
	} else {
		return -1;
	}
	if (slash) {
		errno = 0;
		bits = strtol(slash + 1, &end, 10);
		if (errno || end == slash + 1 || *end || bits < 0 || bits > c->bits)
			return -1;
		c->bits = (int)bits;
	}
	return 0;
}

/* "ADDR[/BITS], ..." : the reverse proxies whose X-Forwarded-For and Forwarded headers are believed
 */
static int set_trusted_proxies(struct conf_ctx *ctx, struct config *cfg, const char *value)
{
	char buf[2048], *save = NULL, *tok;

	if (snprintf(buf, sizeof(buf), "%s", value) >= (int)sizeof(buf))
		return conf_error(ctx, 0, "trusted_proxies is too long");
	cfg->ntrusted_proxies = 0;
	for (tok = strtok_r(buf, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		if (cfg->ntrusted_proxies == TRUSTED_PROXIES_MAX)
			return conf_error(ctx, 0, "trusted_proxies: at most %d entries",
			                  TRUSTED_PROXIES_MAX);
		if (cidr_parse(tok, &cfg->trusted_proxies[cfg->ntrusted_proxies]) < 0)
			return conf_error(
			    ctx, 0, "trusted_proxies: \"%s\" is not an address or ADDRESS/BITS",
			    tok);
		cfg->ntrusted_proxies++;
	}
	return 1;
}

static int set_refund_tiers(struct conf_ctx *ctx, struct config *cfg, const char *value)
{
	char list[256], *save = NULL, *item;
	int n = 0;

	if (strlen(value) >= sizeof(list))
		return conf_error(ctx, 0, "refund list too long");
	memcpy(list, value, strlen(value) + 1);
	for (item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(item, ':');
		long d, p;

		while (*item == ' ')
			item++;
		if (!colon || n >= 8)
			return conf_error(ctx, 0,
			                  "refund must be DAYS:PERCENT items, e.g. 14:100, 3:50, "
			                  "0:0 (at most 8)");
		*colon = '\0';
		if (conf_parse_long(item, 0, 365, &d) < 0 ||
		    conf_parse_long(colon + 1, 0, 100, &p) < 0)
			return conf_error(ctx, 0,
			                  "refund item \"%s:%s\": days 0-365, percent 0-100", item,
			                  colon + 1);
		if (n > 0 && d >= cfg->refund_tiers[n - 1].days)
			return conf_error(ctx, 0,
			                  "refund days must decrease from one item to the next");
		cfg->refund_tiers[n].days = (int)d;
		cfg->refund_tiers[n].percent = (int)p;
		n++;
	}
	if (n == 0)
		return conf_error(ctx, 0, "refund needs at least one DAYS:PERCENT item");
	cfg->nrefund_tiers = n;
	return 1;
}

/* Relative paths are taken from the folder of the configuration file. */

static int config_line(struct conf_ctx *ctx, const char *section, const char *name,
                       const char *value)
{
	struct config *cfg = ctx->user;
	int64_t d = 0;

	if (!strcmp(section, "server")) {
		if (!strcmp(name, "listen"))
			return conf_set_str(ctx, cfg->listen, sizeof(cfg->listen), value);
		if (!strcmp(name, "port"))
			return conf_set_int(ctx, &cfg->port, name, value, 0, 65535);
		if (!strcmp(name, "hash_threads"))
			return conf_set_int(ctx, &cfg->hash_threads, name, value, 1,
			                    HASHPOOL_MAX_THREADS);
		if (!strcmp(name, "hash_queue"))
			return conf_set_int(ctx, &cfg->hash_queue, name, value, 0, 10000);
		if (!strcmp(name, "threads"))
			return conf_set_int(ctx, &cfg->threads, name, value, 1, 64);
		if (!strcmp(name, "max_connections"))
			return conf_set_int(ctx, &cfg->max_connections, name, value, 1, 100000);
		if (!strcmp(name, "per_ip_connections"))
			return conf_set_int(ctx, &cfg->per_ip_connections, name, value, 1, 100000);
		if (!strcmp(name, "request_timeout")) {
			if (!conf_set_duration(ctx, &d, name, value, 1, 0))
				return 0;
			cfg->request_timeout = (int)(d > 3600 ? 3600 : d);
			return 1;
		}
		if (!strcmp(name, "connection_timeout")) {
			if (!conf_set_duration(ctx, &d, name, value, 1, 0))
				return 0;
			cfg->conn_timeout = (int)(d > 3600 ? 3600 : d);
			return 1;
		}
		if (!strcmp(name, "body_max")) {
			if (conf_parse_size(value, &cfg->body_max) < 0 || cfg->body_max < 1024 ||
			    cfg->body_max > 16 * 1024 * 1024)
				return conf_error(
				    ctx, 0, "body_max must be a size from 1k to 16m, not \"%s\"",
				    value);
			return 1;
		}
		if (!strcmp(name, "public_url")) {
			if (*value && strncmp(value, "https://", 8) && strncmp(value, "http://", 7))
				return conf_error(ctx, 0,
				                  "public_url must start with https:// or http://");
			if (strpbrk(value, " \t\"<>#?"))
				return conf_error(ctx, 0,
				                  "public_url: an address without spaces, quotes, "
				                  "query or fragment");
			return conf_set_str(ctx, cfg->public_url, sizeof(cfg->public_url), value);
		}
		if (!strcmp(name, "web_root"))
			return conf_set_path(ctx, cfg->web_root, sizeof(cfg->web_root), value);
		if (!strcmp(name, "tls_cert"))
			return conf_set_path(ctx, cfg->tls_cert, sizeof(cfg->tls_cert), value);
		if (!strcmp(name, "tls_key"))
			return conf_set_path(ctx, cfg->tls_key, sizeof(cfg->tls_key), value);
	} else if (!strcmp(section, "database")) {
		if (!strcmp(name, "path"))
			return conf_set_path(ctx, cfg->db_path, sizeof(cfg->db_path), value);
		if (!strcmp(name, "synchronous")) {
			if (!strcmp(value, "full"))
				cfg->sync_full = 1;
			else if (!strcmp(value, "normal"))
				cfg->sync_full = 0;
			else
				return conf_error(ctx, 0,
				                  "synchronous must be normal or full, not \"%s\"",
				                  value);
			return 1;
		}
		if (!strcmp(name, "busy_timeout")) {
			if (!conf_set_duration(ctx, &d, name, value, 0, 0))
				return 0;
			cfg->busy_timeout_ms = (int)(d > 600 ? 600000 : d * 1000);
			return 1;
		}
	} else if (!strcmp(section, "bookings")) {
		if (!strcmp(name, "hold"))
			return conf_set_duration(ctx, &cfg->hold_seconds, name, value, 1, 0);
		if (!strcmp(name, "sweep_interval"))
			return conf_set_duration(ctx, &cfg->sweep_seconds, name, value, 1, 0);
		if (!strcmp(name, "max_request_nights"))
			return conf_set_int(ctx, &cfg->max_request_nights, name, value, 1, 366);
	} else if (!strcmp(section, "sessions")) {
		if (!strcmp(name, "idle"))
			return conf_set_duration(ctx, &cfg->session_idle, name, value, 10, 0);
		if (!strcmp(name, "absolute"))
			return conf_set_duration(ctx, &cfg->session_absolute, name, value, 10, 0);
	} else if (!strcmp(section, "catalog")) {
		if (!strcmp(name, "dir"))
			return conf_set_path(ctx, cfg->catalog_dir, sizeof(cfg->catalog_dir),
			                     value);
		if (!strcmp(name, "categories"))
			return conf_set_path(ctx, cfg->categories_path,
			                     sizeof(cfg->categories_path), value);
		if (!strcmp(name, "timezone"))
			return conf_set_str(ctx, cfg->timezone, sizeof(cfg->timezone), value);
	} else if (!strcmp(section, "mail")) {
		if (!strcmp(name, "smtp_url")) {
			if (*value && strncmp(value, "smtp://", 7) && strncmp(value, "smtps://", 8))
				return conf_error(ctx, 0,
				                  "smtp_url must start with smtp:// or smtps://");
			return conf_set_str(ctx, cfg->mail_smtp_url, sizeof(cfg->mail_smtp_url),
			                    value);
		}
		if (!strcmp(name, "from")) {
			if (strpbrk(value, "\r\n"))
				return conf_error(ctx, 0, "from: one line");
			return conf_set_str(ctx, cfg->mail_from, sizeof(cfg->mail_from), value);
		}
		if (!strcmp(name, "domain")) {
			if (!*value || strspn(value, "abcdefghijklmnopqrstuvwxyz0123456789.-") !=
			                   strlen(value))
				return conf_error(ctx, 0,
				                  "domain: a host name (a-z, 0-9, . and -)");
			return conf_set_str(ctx, cfg->mail_domain, sizeof(cfg->mail_domain), value);
		}
		if (!strcmp(name, "credentials"))
			return conf_set_path(ctx, cfg->mail_credentials,
			                     sizeof(cfg->mail_credentials), value);
		if (!strcmp(name, "templates"))
			return conf_set_path(ctx, cfg->mail_templates, sizeof(cfg->mail_templates),
			                     value);
		if (!strcmp(name, "starttls")) {
			if (strcmp(value, "required") && strcmp(value, "off"))
				return conf_error(ctx, 0, "starttls: required or off");
			cfg->mail_starttls = !strcmp(value, "required");
			return 1;
		}
		if (!strcmp(name, "rate_per_minute"))
			return conf_set_int(ctx, &cfg->mail_rate, name, value, 1, 100000);
		if (!strcmp(name, "reminder_interval"))
			return conf_set_duration(ctx, &cfg->mail_reminder_every, name, value, 1,
			                         86400);
		if (!strcmp(name, "retry_unit"))
			return conf_set_duration(ctx, &cfg->mail_retry_unit, name, value, 1, 3600);
	} else if (!strcmp(section, "accounts")) {
		if (!strcmp(name, "token_ttl"))
			return conf_set_duration(ctx, &cfg->account_token_ttl, name, value, 60,
			                         24 * 3600);
		if (!strcmp(name, "messages_per_account"))
			return conf_set_int(ctx, &cfg->account_sends_member, name, value, 1,
			                    1000000);
		if (!strcmp(name, "messages_per_address"))
			return conf_set_int(ctx, &cfg->account_sends_address, name, value, 1,
			                    1000000);
		if (!strcmp(name, "message_window"))
			return conf_set_duration(ctx, &cfg->account_send_window, name, value, 1,
			                         7 * 24 * 3600);
	} else if (!strcmp(section, "sms")) {
		if (!strcmp(name, "url")) {
			if (*value && strncmp(value, "https://", 8) &&
			    strncmp(value, "http://127.0.0.1", 16))
				return conf_error(ctx, 0,
				                  "[sms] url must be https:// (http only to "
				                  "127.0.0.1, for tests)");
			return conf_set_str(ctx, cfg->sms_url, sizeof(cfg->sms_url), value);
		}
		if (!strcmp(name, "token_file"))
			return conf_set_path(ctx, cfg->sms_token_file, sizeof(cfg->sms_token_file),
			                     value);
		if (!strcmp(name, "hours")) {
			char a[8] = "", b[8] = "";
			const char *dash = strchr(value, '-');

			if (!strcmp(value, "always")) {
				cfg->sms_from = 0;
				cfg->sms_until = 24 * 60;
				return 1;
			}
			if (!dash || dash - value >= (long)sizeof(a) ||
			    strlen(dash + 1) >= sizeof(b))
				return conf_error(ctx, 0, "[sms] hours: HH:MM-HH:MM or always");
			memcpy(a, value, (size_t)(dash - value));
			snprintf(b, sizeof(b), "%s", dash + 1);
			if (date_parse_hhmm(a, &cfg->sms_from) < 0 ||
			    date_parse_hhmm(b, &cfg->sms_until) < 0 ||
			    cfg->sms_from >= cfg->sms_until)
				return conf_error(
				    ctx, 0,
				    "[sms] hours: HH:MM-HH:MM, the first before the second");
			return 1;
		}
		if (!strcmp(name, "sender")) {
			size_t n = strlen(value);
			if (n < 1 || n > 11 ||
			    strspn(
			        value,
			        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") !=
			        n)
				return conf_error(ctx, 0,
				                  "[sms] sender: 1 to 11 letters and digits (the "
				                  "registered sender id)");
			return conf_set_str(ctx, cfg->sms_sender, sizeof(cfg->sms_sender), value);
		}
	} else if (!strcmp(section, "payment")) {
		if (!strcmp(name, "gateway_url"))
			return conf_set_str(ctx, cfg->pay_gateway_url, sizeof(cfg->pay_gateway_url),
			                    value);
		if (!strcmp(name, "api_url"))
			return conf_set_str(ctx, cfg->pay_api_url, sizeof(cfg->pay_api_url), value);
		if (!strcmp(name, "public_url"))
			return conf_set_str(ctx, cfg->pay_public_url, sizeof(cfg->pay_public_url),
			                    value);
		if (!strcmp(name, "credentials"))
			return conf_set_path(ctx, cfg->pay_credentials,
			                     sizeof(cfg->pay_credentials), value);
		if (!strcmp(name, "ca_file"))
			return conf_set_path(ctx, cfg->pay_ca_file, sizeof(cfg->pay_ca_file),
			                     value);
		if (!strcmp(name, "api_timeout"))
			return conf_set_duration(ctx, &cfg->pay_api_timeout, name, value, 1, 0);
		if (!strcmp(name, "api_retries"))
			return conf_set_int(ctx, &cfg->pay_api_retries, name, value, 1, 10);
		if (!strcmp(name, "session"))
			return conf_set_duration(ctx, &cfg->pay_session, name, value, 1, 0);
		if (!strcmp(name, "callback_margin"))
			return conf_set_duration(ctx, &cfg->pay_margin, name, value, 0, 0);
		if (!strcmp(name, "reconcile_after"))
			return conf_set_duration(ctx, &cfg->pay_reconcile_after, name, value, 1, 0);
		if (!strcmp(name, "reconcile_interval"))
			return conf_set_duration(ctx, &cfg->pay_reconcile_interval, name, value, 1,
			                         0);
		if (!strcmp(name, "unknown_after"))
			return conf_set_int(ctx, &cfg->pay_unknown_after, name, value, 1, 1000);
	} else if (!strcmp(section, "http")) {
		if (!strcmp(name, "trusted_proxies"))
			return set_trusted_proxies(ctx, cfg, value);
		return conf_error(ctx, 0, "unknown key %s in [http]", name);
	} else if (!strcmp(section, "passes")) {
		if (!strcmp(name, "key_dir"))
			return conf_set_path(ctx, cfg->key_dir, sizeof(cfg->key_dir), value);
	} else if (!strcmp(section, "cancellation")) {
		if (!strcmp(name, "refund"))
			return set_refund_tiers(ctx, cfg, value);
	} else {
		return conf_error(ctx, 0, "unknown section [%s]", section);
	}
	return conf_error(ctx, 0, "unknown setting \"%s\" in [%s]", name, section);
}

int config_read(const char *path, struct config *cfg, char *err, size_t errlen)
{
	config_defaults(cfg);
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	if (conf_read_file(path, config_line, cfg, err, errlen) < 0)
		return -1;
	if (cfg->pay_credentials[0] &&
	    (!cfg->pay_gateway_url[0] || !cfg->pay_api_url[0] || !cfg->pay_public_url[0])) {
		snprintf(err, errlen,
		         "%s: [payment] needs gateway_url, api_url and public_url with credentials",
		         path);
		return -1;
	}
	if (cfg->sms_url[0] && (!cfg->sms_token_file[0] || !cfg->sms_sender[0])) {
		snprintf(err, errlen, "%s: [sms] url needs token_file and sender", path);
		return -1;
	}
	if (!cfg->tls_cert[0] != !cfg->tls_key[0]) {
		snprintf(err, errlen, "%s: tls_cert and tls_key go together", path);
		return -1;
	}
	return 0;
}
