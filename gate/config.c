/* config.c: estiva-gate.conf: every key, its default and its check (docs/gate.md, "Configuration").
 */
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "gate.h"

static void defaults(struct gate_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->relay_timeout = GATE_DEF_RELAY_TIMEOUT;
	cfg->sensor_timeout = GATE_DEF_SENSOR_TIMEOUT;
	cfg->upload_interval = GATE_DEF_UPLOAD_INTERVAL;
	cfg->download_interval = GATE_DEF_DOWNLOAD_INTERVAL;
	cfg->backoff_max = GATE_DEF_BACKOFF_MAX;
	cfg->http_timeout = GATE_DEF_HTTP_TIMEOUT;
	cfg->batch = GATE_DEF_BATCH;
	cfg->batch_bytes = GATE_DEF_BATCH_BYTES;
	cfg->page_limit = GATE_DEF_PAGE_LIMIT;
	cfg->policy = DECIDE_POLICY_STRICT;
	cfg->kinds = DECIDE_KINDS_ALL;
	cfg->grace_minutes = GATE_DEF_GRACE_MINUTES;
	cfg->skew_warn = GATE_DEF_SKEW_WARN;
	cfg->skew_correct = GATE_DEF_SKEW_CORRECT;
	cfg->revoked_grace = GATE_DEF_REVOKED_GRACE;
	snprintf(cfg->listen, sizeof(cfg->listen), "127.0.0.1");
	cfg->port = 8090;
	cfg->session_ttl = GATE_DEF_SESSION_TTL;
}

int config_split_cmd(const char *line, struct gate_cmd *cmd)
{
	const char *p = line;
	size_t o = 0;

	memset(cmd, 0, sizeof(*cmd));
	for (;;) {
		int quoted = 0, any = 0;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (cmd->argc == GATE_ARGS_MAX)
			return -1;
		cmd->argv[cmd->argc++] = cmd->buf + o;
		while (*p && (quoted || (*p != ' ' && *p != '\t'))) {
			char c = *p++;

			if (c == '"') {
				quoted = !quoted;
				any = 1;
				continue;
			}
			if (c == '\\') {
				if (!*p)
					return -1;
				c = *p++;
			}
			if (o + 2 >= sizeof(cmd->buf))
				return -1;
			cmd->buf[o++] = c;
			any = 1;
		}
		if (quoted || !any)
			return -1;
		cmd->buf[o++] = '\0';
	}
	cmd->argv[cmd->argc] = NULL;
	return cmd->argc > 0 ? 0 : -1;
}

static int set_cmd(struct conf_ctx *ctx, struct gate_cmd *cmd, const char *name, const char *value)
{
	if (!*value) {
		memset(cmd, 0, sizeof(*cmd));
		return 1;
	}
	if (strlen(value) >= GATE_CMD_MAX || config_split_cmd(value, cmd) < 0)
		return conf_error(
		    ctx, 0, "%s: not a command (at most %d words, balanced quotes, under %d bytes)",
		    name, GATE_ARGS_MAX, GATE_CMD_MAX);
	return 1;
}

static int set_kinds(struct conf_ctx *ctx, unsigned *kinds, const char *value)
{
	char buf[128], *save = NULL, *w;
	unsigned k = 0;

	if (conf_set_str(ctx, buf, sizeof(buf), value) == 0)
		return 0;
	for (w = strtok_r(buf, ", ", &save); w; w = strtok_r(NULL, ", ", &save)) {
		enum pass_kind pk;

		if (pass_kind_parse(w, &pk) == 0)
			k |= 1u << pk;
		else
			return conf_error(ctx, 0,
			                  "kinds: \"%s\" is not guest, day_visitor or staff", w);
	}
	if (!k)
		return conf_error(ctx, 0, "kinds: name at least one of guest, day_visitor, staff");
	*kinds = k;
	return 1;
}

struct parse_state {
	struct gate_config *cfg;
	int reader_seq; /* ctx->section_seq of the [reader] being read */
	struct reader_conf *reader;
};

static int reader_line(struct conf_ctx *ctx, struct parse_state *ps, const char *section,
                       const char *name, const char *value)
{
	struct gate_config *cfg = ps->cfg;
	struct reader_conf *r;

	if (ps->reader_seq != ctx->section_seq) {
		const char *rn = section + strlen("reader");

		while (*rn == ' ')
			rn++;
		if (cfg->nreaders == GATE_READERS_MAX)
			return conf_error(ctx, 0, "at most %d readers", GATE_READERS_MAX);
		if (!conf_valid_id(rn, GATE_READER_NAME_MAX - 1))
			return conf_error(ctx, ctx->section_line,
			                  "[reader NAME]: NAME of a-z, 0-9 and -, not \"%s\"", rn);
		for (int i = 0; i < cfg->nreaders; i++)
			if (!strcmp(cfg->readers[i].name, rn))
				return conf_error(ctx, ctx->section_line, "a second [reader %s]",
				                  rn);
		ps->reader = &cfg->readers[cfg->nreaders++];
		memset(ps->reader, 0, sizeof(*ps->reader));
		snprintf(ps->reader->name, sizeof(ps->reader->name), "%s", rn);
		ps->reader->dir = DECIDE_DIR_IN;
		ps->reader_seq = ctx->section_seq;
	}
	r = ps->reader;
	if (!strcmp(name, "qr") || !strcmp(name, "nfc")) {
		if (r->device[0])
			return conf_error(ctx, 0, "a reader is either qr or nfc, once");
		r->type = !strcmp(name, "qr") ? READER_QR : READER_NFC;
		if (!*value)
			return conf_error(ctx, 0, "%s needs a device", name);
		if (r->type == READER_NFC && strncmp(value, "pn532_uart:", 11) &&
		    strncmp(value, "pn53x_usb", 9) && strncmp(value, "acr122", 6) &&
		    strncmp(value, "pn532_", 6) && strncmp(value, "arygon", 6))
			return conf_error(ctx, 0,
			                  "nfc wants a libnfc connstring such as "
			                  "pn532_uart:/dev/ttyUSB0, not \"%s\"",
			                  value);
		if (r->type == READER_QR && strcmp(value, "stdin") && value[0] != '/')
			return conf_error(ctx, 0,
			                  "qr wants a device path (/dev/...) or stdin, not \"%s\"",
			                  value);
		return conf_set_str(ctx, r->device, sizeof(r->device), value);
	}
	if (!strcmp(name, "direction")) {
		if (decide_dir_parse(value, &r->dir) < 0)
			return conf_error(ctx, 0, "direction must be in, out or both, not \"%s\"",
			                  value);
		return 1;
	}
	if (!strcmp(name, "baud"))
		return conf_set_int(ctx, &r->baud, name, value, 0, 4000000);
	return conf_error(ctx, 0, "unknown setting \"%s\" in [reader %s]", name, r->name);
}

static int config_line(struct conf_ctx *ctx, const char *section, const char *name,
                       const char *value)
{
	struct parse_state *ps = ctx->user;
	struct gate_config *cfg = ps->cfg;

	if (!strncmp(section, "reader", 6) && (section[6] == ' ' || section[6] == '\0'))
		return reader_line(ctx, ps, section, name, value);
	if (!strcmp(section, "gate")) {
		if (!strcmp(name, "centre")) {
			if (!conf_valid_id(value, 32))
				return conf_error(
				    ctx, 0, "centre must be a centre id such as al-arz, not \"%s\"",
				    value);
			return conf_set_str(ctx, cfg->centre, sizeof(cfg->centre), value);
		}
		if (!strcmp(name, "id"))
			return conf_set_int(ctx, &cfg->gate_id, name, value, 0, 1000000000);
		if (!strcmp(name, "name"))
			return conf_set_str(ctx, cfg->name, sizeof(cfg->name), value);
		if (!strcmp(name, "database"))
			return conf_set_path(ctx, cfg->db_path, sizeof(cfg->db_path), value);
		if (!strcmp(name, "token_file"))
			return conf_set_path(ctx, cfg->token_file, sizeof(cfg->token_file), value);
		if (!strcmp(name, "log_level")) {
			if (strcmp(value, "debug") && strcmp(value, "info"))
				return conf_error(ctx, 0, "log_level must be info or debug");
			cfg->log_debug = !strcmp(value, "debug");
			return 1;
		}
	} else if (!strcmp(section, "server")) {
		if (!strcmp(name, "url")) {
			if (strncmp(value, "https://", 8) && strncmp(value, "http://", 7))
				return conf_error(ctx, 0,
				                  "url must start with https:// (or http:// on "
				                  "loopback), not \"%s\"",
				                  value);
			if (conf_set_str(ctx, cfg->server_url, sizeof(cfg->server_url), value) == 0)
				return 0;
			for (size_t n = strlen(cfg->server_url);
			     n > 0 && cfg->server_url[n - 1] == '/'; n--)
				cfg->server_url[n - 1] = '\0';
			return 1;
		}
		if (!strcmp(name, "ca_file"))
			return conf_set_path(ctx, cfg->ca_file, sizeof(cfg->ca_file), value);
		if (!strcmp(name, "timeout"))
			return conf_set_duration(ctx, &cfg->http_timeout, name, value, 1, 600);
	} else if (!strcmp(section, "sync")) {
		if (!strcmp(name, "upload_interval"))
			return conf_set_duration(ctx, &cfg->upload_interval, name, value, 1, 86400);
		if (!strcmp(name, "download_interval"))
			return conf_set_duration(ctx, &cfg->download_interval, name, value, 1,
			                         86400);
		if (!strcmp(name, "backoff_max"))
			return conf_set_duration(ctx, &cfg->backoff_max, name, value, 1, 86400);
		if (!strcmp(name, "batch"))
			return conf_set_int(ctx, &cfg->batch, name, value, 1, GATE_BATCH_MAX);
		if (!strcmp(name, "batch_bytes")) {
			if (conf_parse_size(value, &cfg->batch_bytes) < 0 ||
			    cfg->batch_bytes < 4096 || cfg->batch_bytes > GATE_UPLOAD_BYTES_MAX)
				return conf_error(
				    ctx, 0, "batch_bytes must be a size from 4k to 1m, not \"%s\"",
				    value);
			return 1;
		}
		if (!strcmp(name, "page_limit"))
			return conf_set_int(ctx, &cfg->page_limit, name, value, 1,
			                    GATE_PAGE_LIMIT_MAX);
	} else if (!strcmp(section, "rules")) {
		if (!strcmp(name, "anti_passback")) {
			if (decide_policy_parse(value, &cfg->policy) < 0)
				return conf_error(
				    ctx, 0, "anti_passback must be strict, warn or off, not \"%s\"",
				    value);
			return 1;
		}
		if (!strcmp(name, "grace")) {
			int64_t s = 0;

			if (!conf_set_duration(ctx, &s, name, value, 0, 7 * 86400))
				return 0;
			cfg->grace_minutes = (int)(s / 60);
			return 1;
		}
		if (!strcmp(name, "kinds"))
			return set_kinds(ctx, &cfg->kinds, value);
		if (!strcmp(name, "skew_warn"))
			return conf_set_duration(ctx, &cfg->skew_warn, name, value, 1, 86400 * 365);
		if (!strcmp(name, "skew_correct"))
			return conf_set_duration(ctx, &cfg->skew_correct, name, value, 1,
			                         86400 * 365);
		if (!strcmp(name, "revoked_grace"))
			return conf_set_duration(ctx, &cfg->revoked_grace, name, value, 0,
			                         30 * 86400);
	} else if (!strcmp(section, "relay")) {
		if (!strcmp(name, "command"))
			return set_cmd(ctx, &cfg->relay, name, value);
		if (!strcmp(name, "timeout"))
			return conf_set_duration(ctx, &cfg->relay_timeout, name, value, 1, 600);
		if (!strcmp(name, "sensor"))
			return set_cmd(ctx, &cfg->sensor, name, value);
		if (!strcmp(name, "sensor_timeout"))
			return conf_set_duration(ctx, &cfg->sensor_timeout, name, value, 1, 600);
	} else if (!strcmp(section, "status")) {
		if (!strcmp(name, "listen"))
			return conf_set_str(ctx, cfg->listen, sizeof(cfg->listen), value);
		if (!strcmp(name, "port")) {
			if (!strcmp(value, "off")) {
				cfg->port = -1;
				return 1;
			}
			return conf_set_int(ctx, &cfg->port, name, value, 0, 65535);
		}
		if (!strcmp(name, "pin_hash")) {
			if (strncmp(value, "$argon2id$", 10))
				return conf_error(ctx, 0,
				                  "pin_hash must come from `estiva-gate hash-pin` "
				                  "($argon2id$...)");
			return conf_set_str(ctx, cfg->pin_hash, sizeof(cfg->pin_hash), value);
		}
		if (!strcmp(name, "session"))
			return conf_set_duration(ctx, &cfg->session_ttl, name, value, 60,
			                         7 * 86400);
	} else {
		return conf_error(ctx, 0, "unknown section [%s]", section);
	}
	return conf_error(ctx, 0, "unknown setting \"%s\" in [%s]", name, section);
}

int config_read(const char *path, struct gate_config *cfg, char *err, size_t errlen)
{
	struct parse_state ps = {cfg, -1, NULL};

	defaults(cfg);
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	if (conf_read_file(path, config_line, &ps, err, errlen) < 0)
		return -1;
	if (!cfg->centre[0] || !cfg->db_path[0] || !cfg->token_file[0] || !cfg->server_url[0]) {
		snprintf(err, errlen,
		         "%s: [gate] centre, database, token_file and [server] url are required",
		         path);
		return -1;
	}
	for (int i = 0; i < cfg->nreaders; i++)
		if (!cfg->readers[i].device[0]) {
			snprintf(err, errlen,
			         "%s: [reader %s] needs qr = DEVICE or nfc = CONNSTRING", path,
			         cfg->readers[i].name);
			return -1;
		}
	if (cfg->sensor.argc && !cfg->relay.argc) {
		snprintf(err, errlen, "%s: [relay] sensor needs a relay command", path);
		return -1;
	}
	if (cfg->skew_correct < cfg->skew_warn) {
		snprintf(err, errlen, "%s: skew_correct must not be below skew_warn", path);
		return -1;
	}
	if (cfg->port >= 0 && !cfg->pin_hash[0]) {
		snprintf(err, errlen,
		         "%s: [status] pin_hash is required (estiva-gate hash-pin), or port = off",
		         path);
		return -1;
	}
	return 0;
}
