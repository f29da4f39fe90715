/* fuzz_gateconf: estiva-gate.conf as the gate reads it (gate/config.c through shared/conf.c:
 * readers, directions, policies, pass kinds, commands split into words, durations). An operator's
 * file, but a typo must give a clear error, never a crash or a half-read configuration. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	static struct gate_config cfg;
	char err[1024] = "";
	FILE *f;

	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/fuzz_gateconf.%ld.conf", (long)getpid());
	if (!(f = fopen(path, "wb")))
		return 0;
	if (size)
		fwrite(data, 1, size, f);
	fclose(f);
	if (config_read(path, &cfg, err, sizeof(err)) < 0) {
		if (!err[0])
			__builtin_trap(); /* a refusal always says why */
		return 0;
	}
	if (cfg.nreaders < 0 || cfg.nreaders > GATE_READERS_MAX || !cfg.centre[0] ||
	    !cfg.db_path[0] || !cfg.server_url[0])
		__builtin_trap();
	for (int i = 0; i < cfg.nreaders; i++)
		if (!cfg.readers[i].device[0] ||
		    !memchr(cfg.readers[i].name, 0, sizeof(cfg.readers[i].name)))
			__builtin_trap();
	return 0;
}
