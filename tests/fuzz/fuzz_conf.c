/* fuzz_conf: estiva-server.conf as the server reads it (server/config.c through inih and
 * shared/conf.c: sections, keys, durations, sizes, money, refund tiers, paths, trusted proxies). An
 * operator's file, so not hostile, but a typo must give a clear error, never a crash or a half-read
 * configuration. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	static struct config cfg;
	char err[1024] = "";
	FILE *f;

	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/fuzz_conf.%ld.conf", (long)getpid());
	f = fopen(path, "wb");
	if (!f)
		return 0;
	if (size)
		fwrite(data, 1, size, f);
	fclose(f);
	if (config_read(path, &cfg, err, sizeof(err)) < 0) {
		if (!err[0])
			__builtin_trap(); /* a refusal always says why */
	} else if (cfg.ntrusted_proxies < 0 || cfg.ntrusted_proxies > TRUSTED_PROXIES_MAX ||
	           cfg.nrefund_tiers < 0) {
		__builtin_trap();
	}
	return 0;
}
