/* reader_qr.c: a QR scanner that types one token per line, on a serial tty (or a pty), or on
 * standard input (keyboard-wedge setups). A line longer than GATE_LINE_MAX or holding bytes no pass
 * has is refused with a reason (the event is recorded); an empty line is ignored. A device that
 * fails or goes away is closed and opened again with back-off; the other readers go on. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "gate.h"
#include "log.h"

#define QR_BACKOFF_MIN_MS 500
#define QR_BACKOFF_MAX_MS 30000

static speed_t baud_flag(int baud)
{
	switch (baud) {
	case 1200:
		return B1200;
	case 2400:
		return B2400;
	case 4800:
		return B4800;
	case 9600:
		return B9600;
	case 19200:
		return B19200;
	case 38400:
		return B38400;
	case 57600:
		return B57600;
	case 115200:
		return B115200;
	case 230400:
		return B230400;
	default:
		return 0;
	}
}

static int qr_open(struct gate *g, int idx)
{
	const struct reader_conf *rc = &g->cfg.readers[idx];
	struct termios tio;
	int fd;

	if (!strcmp(rc->device, "stdin"))
		return dup(0);
	fd = open(rc->device, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (isatty(fd) && tcgetattr(fd, &tio) == 0) {
		/* raw: no echo, no line discipline; we split lines ourselves on CR or LF */
		cfmakeraw(&tio);
		tio.c_cflag |= CLOCAL | CREAD;
		tio.c_cc[VMIN] = 1;
		tio.c_cc[VTIME] = 0;
		if (rc->baud && baud_flag(rc->baud)) {
			cfsetispeed(&tio, baud_flag(rc->baud));
			cfsetospeed(&tio, baud_flag(rc->baud));
		}
		if (tcsetattr(fd, TCSANOW, &tio) < 0)
			log_warn("reader %s: cannot set raw mode: %s", rc->name, strerror(errno));
	}
	return fd;
}

struct line_ctx {
	struct gate *g;
	int idx;
};

static void on_line(void *user, const char *line, size_t len, int too_long)
{
	struct line_ctx *lc = user;
	struct scan_input in;
	struct decide_result res;

	memset(&in, 0, sizeof(in));
	in.text = line;
	in.text_len = len;
	if (!qr_line_readable(line, len, too_long)) {
		in.unreadable = 1;
		log_info("reader %s: refused a %s", lc->g->cfg.readers[lc->idx].name,
		         too_long ? "line over 1 KiB" : "line with bytes no pass has");
	}
	gate_scan(lc->g, lc->idx, &in, &res);
}

void *reader_qr_main(void *arg)
{
	struct reader_arg *ra = arg;
	struct gate *g = ra->g;
	int idx = ra->index, is_stdin = !strcmp(g->cfg.readers[idx].device, "stdin");
	long backoff = QR_BACKOFF_MIN_MS;
	struct qr_lines q;
	struct line_ctx lc = {g, idx};
	char buf[4096];

	while (!g->stopping) {
		int fd = qr_open(g, idx);

		if (fd < 0) {
			gate_reader_health(g, idx, READER_FAILED, "cannot open %s: %s (retrying)",
			                   g->cfg.readers[idx].device, strerror(errno));
			if (gate_sleep(g, backoff))
				break;
			backoff = backoff * 2 > QR_BACKOFF_MAX_MS ? QR_BACKOFF_MAX_MS : backoff * 2;
			continue;
		}
		gate_reader_health(g, idx, READER_OK, "reading %s", g->cfg.readers[idx].device);
		memset(&q, 0, sizeof(q));
		for (;;) {
			struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
			                      {.fd = g->stop_pipe[0], .events = POLLIN}};
			ssize_t n;

			if (poll(p, 2, -1) < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			if (g->stopping || p[1].revents)
				break;
			n = read(fd, buf, sizeof(buf));
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0) {
				if (n == 0 && is_stdin) {
					gate_reader_health(g, idx, READER_CLOSED,
					                   "standard input closed");
				} else {
					gate_reader_health(
					    g, idx, READER_FAILED, "%s: %s (reopening)",
					    g->cfg.readers[idx].device,
					    n == 0 ? "end of input" : strerror(errno));
				}
				break;
			}
			backoff = QR_BACKOFF_MIN_MS;
			qr_lines_feed(&q, buf, (size_t)n, on_line, &lc);
		}
		close(fd);
		if (g->stopping || (is_stdin && g->readers[idx].health == READER_CLOSED))
			break;
		if (gate_sleep(g, backoff))
			break;
		backoff = backoff * 2 > QR_BACKOFF_MAX_MS ? QR_BACKOFF_MAX_MS : backoff * 2;
	}
	return NULL;
}
