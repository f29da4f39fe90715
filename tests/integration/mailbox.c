/* mailbox.c: see mailbox.h. */
#include "mailbox.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static char src[1024], dir[512], port_file[600], reject[256];
static pid_t pid;

int mailbox_available(void)
{
	return access(MAILBOX_PY, X_OK) == 0;
}

static int run(int port, int fail451)
{
	char script[1200], port_s[16], fail_s[16], box[600];
	FILE *f;

	snprintf(script, sizeof script, "%s/tools/smtp_sink.py", src);
	snprintf(port_s, sizeof port_s, "%d", port);
	snprintf(fail_s, sizeof fail_s, "%d", fail451);
	snprintf(box, sizeof box, "%s/box", dir);
	unlink(port_file);
	pid = fork();
	if (pid == 0) {
		if (reject[0])
			execl(MAILBOX_PY, MAILBOX_PY, script, "--dir", box, "--port", port_s,
			      "--port-file", port_file, "--fail451", fail_s, "--reject550", reject,
			      (char *)NULL);
		else
			execl(MAILBOX_PY, MAILBOX_PY, script, "--dir", box, "--port", port_s,
			      "--port-file", port_file, "--fail451", fail_s, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		if ((f = fopen(port_file, "r"))) {
			int ok = fscanf(f, "%d", &port) == 1;
			fclose(f);
			if (ok)
				return port;
		}
		hx_sleep_ms(100);
	}
	return -1;
}

int mailbox_start(const char *source, int port, int fail451, const char *reject550)
{
	snprintf(src, sizeof src, "%s", source);
	snprintf(reject, sizeof reject, "%s", reject550 ? reject550 : "");
	snprintf(dir, sizeof dir, "%s/estiva-mail-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	snprintf(port_file, sizeof port_file, "%s/port", dir);
	return run(port, fail451);
}

int mailbox_restart(int port)
{
	return run(port, 0);
}

void mailbox_stop(void)
{
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		pid = 0;
	}
}

void mailbox_remove(void)
{
	char cmd[700];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (dir[0] && system(cmd) != 0)
		fprintf(stderr, "itest: could not remove %s\n", dir);
}

const char *mailbox_dir(void)
{
	return dir;
}

int mailbox_count(void)
{
	char box[600];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(box, sizeof box, "%s/box", dir);
	if (!(d = opendir(box)))
		return 0;
	while ((e = readdir(d)))
		n += strlen(e->d_name) == 10 && !strcmp(e->d_name + 6, ".eml");
	closedir(d);
	return n;
}

void mailbox_wait(int n)
{
	for (int i = 0; i < 150 && mailbox_count() < n; i++)
		hx_sleep_ms(100);
	if (mailbox_count() != n)
		fail_msg("the SMTP server holds %d messages, %d expected", mailbox_count(), n);
}

json_t *mailbox_message(int i)
{
	char path[700], script[1200], out[262144];
	json_t *j;

	snprintf(path, sizeof path, "%s/box/%06d.eml", dir, i);
	snprintf(script, sizeof script, "%s/tests/integration/mail_read.py", src);
	if (hx_exec((char *const[]){MAILBOX_PY, script, path, NULL}, NULL, out, sizeof out) != 0)
		fail_msg("mail_read.py %s: %s", path, out);
	if (!(j = json_loads(out, 0, NULL)))
		fail_msg("mail_read.py gave no JSON: %s", out);
	if (json_array_size(jget(j, "defects")))
		fail_msg("message %d has MIME defects: %s", i, out);
	return j;
}
