/* relay.c: runs the turnstile's relay command and the passage sensor command. No shell: the command
 * was split into words when the configuration was read ("..." groups words, \ escapes a character);
 * the placeholders {direction}, {reader} and {pass} are replaced inside words; the program is found
 * on PATH. It runs in its own process group with standard input from /dev/null and is killed
 * (SIGKILL to the group) when it outlives its timeout. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gate.h"
#include "log.h"

extern char **environ;

/* Replaces every {name} of the table in word into out. */
static void expand(const char *word, char *out, size_t n, const char *const vars[][2], int nvars)
{
	size_t o = 0;

	while (*word && o + 1 < n) {
		int done = 0;

		for (int i = 0; i < nvars && !done; i++) {
			size_t l = strlen(vars[i][0]);

			if (!strncmp(word, vars[i][0], l)) {
				int w = snprintf(out + o, n - o, "%s", vars[i][1]);

				o = w < 0 || (size_t)w >= n - o ? n - 1 : o + (size_t)w;
				word += l;
				done = 1;
			}
		}
		if (!done)
			out[o++] = *word++;
	}
	out[o] = '\0';
}

int relay_run(const struct gate_cmd *cmd, int64_t timeout, const char *direction,
              const char *reader, uint32_t pass)
{
	static char words[GATE_ARGS_MAX][GATE_CMD_MAX];
	static pthread_mutex_t words_lock = PTHREAD_MUTEX_INITIALIZER;
	char *argv[GATE_ARGS_MAX + 1], passbuf[16];
	const char *const vars[][2] = {
	    {"{direction}", direction}, {"{reader}", reader}, {"{pass}", passbuf}};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;
	pid_t pid;
	int st = 0, rc;
	double deadline;

	if (!cmd->argc)
		return 0;
	snprintf(passbuf, sizeof(passbuf), "%u", pass);
	pthread_mutex_lock(&words_lock);
	for (int i = 0; i < cmd->argc; i++) {
		expand(cmd->argv[i], words[i], sizeof(words[i]), vars, 3);
		argv[i] = words[i];
	}
	argv[cmd->argc] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
	rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	pthread_mutex_unlock(&words_lock);
	if (rc != 0) {
		log_err("relay: cannot run %s: %s", cmd->argv[0], strerror(rc));
		return -1;
	}
	deadline = clock_mono() + (double)timeout;
	for (;;) {
		struct timespec ts = {0, 5 * 1000 * 1000};
		pid_t w = waitpid(pid, &st, WNOHANG);

		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			log_err("relay: waitpid: %s", strerror(errno));
			return -1;
		}
		if (clock_mono() >= deadline) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
				;
			return -2;
		}
		nanosleep(&ts, NULL);
	}
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return -1;
}
