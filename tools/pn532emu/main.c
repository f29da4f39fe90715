/* main.c: estiva-pn532emu, the PN532 emulator as a program for developers. It prints the libnfc
 * connstring, then serves until SIGINT/SIGTERM or "quit", taking commands (present, remove, dump,
 * ...) one per line from a FIFO (--control) or from stdin. */
#include "pn532emu.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LINE_MAX_LEN 512

static volatile sig_atomic_t quit_signal;

static void on_signal(int sig)
{
	quit_signal = sig;
}

static void usage(FILE *out)
{
	fputs(
	    "usage: estiva-pn532emu [--tag ntag213|ntag215|ntag216|ultralight|classic] [--uid "
	    "HEX]\n"
	    "                       [--image FILE] [--absent] [--control FIFO] [--link PATH] [-v]\n"
	    "Prints the libnfc connstring (pn532_uart:/dev/pts/N), then serves until killed.\n"
	    "Commands, one per line on stdin or the FIFO:\n"
	    "  present            put the tag (back) in the field\n"
	    "  remove             take it out\n"
	    "  dump               print the tag memory, page by page\n"
	    "  save FILE          write the tag memory to FILE\n"
	    "  fault noack|noresp|baddcs|rferr|remove-after-writes N|remove-after-reads N\n"
	    "  quit\n",
	    out);
}

static int parse_kind(const char *s, enum pn532emu_kind *kind)
{
	static const struct {
		const char *name;
		enum pn532emu_kind kind;
	} kinds[] = {{"ntag213", PN532EMU_NTAG213},
	             {"ntag215", PN532EMU_NTAG215},
	             {"ntag216", PN532EMU_NTAG216},
	             {"ultralight", PN532EMU_ULTRALIGHT},
	             {"classic", PN532EMU_CLASSIC}};
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(s, kinds[i].name) == 0) {
			*kind = kinds[i].kind;
			return 0;
		}
	}
	return -1;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "04a1b2c3d4e5f6" or "04:a1:..."; 4 or 7 bytes. */
static int parse_uid(const char *s, unsigned char *uid, size_t *len)
{
	size_t n = 0;

	while (*s) {
		int hi, lo;

		if (*s == ':') {
			s++;
			continue;
		}
		hi = hexval((unsigned char)s[0]);
		lo = s[1] ? hexval((unsigned char)s[1]) : -1;
		if (hi < 0 || lo < 0 || n == 7)
			return -1;
		uid[n++] = (unsigned char)(hi << 4 | lo);
		s += 2;
	}
	if (n != 4 && n != 7)
		return -1;
	*len = n;
	return 0;
}

static int read_image(const char *path, unsigned char *buf, size_t cap, size_t *len)
{
	FILE *f = fopen(path, "rb");
	int ret = -1;

	if (!f) {
		fprintf(stderr, "estiva-pn532emu: %s: %s\n", path, strerror(errno));
		return -1;
	}
	*len = fread(buf, 1, cap, f);
	if (ferror(f)) {
		fprintf(stderr, "estiva-pn532emu: %s: read error\n", path);
		goto out;
	}
	if (*len == cap && fgetc(f) != EOF) {
		fprintf(stderr, "estiva-pn532emu: %s: larger than any tag (%zu bytes)\n", path,
		        cap);
		goto out;
	}
	ret = 0;
out:
	fclose(f);
	return ret;
}

/* With an image and no --tag, the image size tells the tag. */
static int kind_from_size(size_t len, enum pn532emu_kind *kind)
{
	enum pn532emu_kind k;

	for (k = PN532EMU_NTAG213; k <= PN532EMU_ULTRALIGHT; k++) {
		if (len == (size_t)pn532emu_kind_pages(k) * 4) {
			*kind = k;
			return 0;
		}
	}
	return -1;
}

static void dump(void)
{
	unsigned char mem[PN532EMU_MEM_MAX];
	size_t n = pn532emu_tag_memory(mem, sizeof(mem)), i;

	if (n == 0) {
		puts("no tag memory");
		fflush(stdout);
		return;
	}
	for (i = 0; i < n; i += 4)
		printf("page %3zu (0x%02zx): %02x %02x %02x %02x\n", i / 4, i / 4, mem[i],
		       mem[i + 1], mem[i + 2], mem[i + 3]);
	fflush(stdout);
}

static void save(const char *path)
{
	unsigned char mem[PN532EMU_MEM_MAX];
	size_t n = pn532emu_tag_memory(mem, sizeof(mem));
	FILE *f;

	if (n == 0) {
		fprintf(stderr, "estiva-pn532emu: no tag memory to save\n");
		return;
	}
	f = fopen(path, "wb");
	if (!f) {
		fprintf(stderr, "estiva-pn532emu: %s: %s\n", path, strerror(errno));
		return;
	}
	if (fwrite(mem, 1, n, f) != n)
		fprintf(stderr, "estiva-pn532emu: %s: write error\n", path);
	if (fclose(f) != 0)
		fprintf(stderr, "estiva-pn532emu: %s: %s\n", path, strerror(errno));
}

static void fault(const char *arg)
{
	static const struct {
		const char *name;
		enum pn532emu_fault fault;
	} faults[] = {{"noack", PN532EMU_FAULT_NOACK},
	              {"noresp", PN532EMU_FAULT_NORESP},
	              {"baddcs", PN532EMU_FAULT_BADDCS},
	              {"rferr", PN532EMU_FAULT_RFERR},
	              {"remove-after-writes", PN532EMU_FAULT_REMOVE_AFTER_WRITES},
	              {"remove-after-reads", PN532EMU_FAULT_REMOVE_AFTER_READS}};
	char name[32];
	size_t i, len = strcspn(arg, " ");
	long n = 0;

	if (len == 0 || len >= sizeof(name)) {
		fprintf(stderr, "estiva-pn532emu: fault: which one?\n");
		return;
	}
	memcpy(name, arg, len);
	name[len] = '\0';
	if (arg[len] == ' ') {
		char *end;

		errno = 0;
		n = strtol(arg + len + 1, &end, 10);
		if (errno || *end || n < 0 || n > 1000) {
			fprintf(stderr, "estiva-pn532emu: fault: bad count\n");
			return;
		}
	}
	for (i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		if (strcmp(name, faults[i].name) == 0) {
			(void)pn532emu_fault(faults[i].fault, (int)n);
			return;
		}
	}
	fprintf(stderr, "estiva-pn532emu: unknown fault '%s'\n", name);
}

/* Returns 1 when the command asks to quit. */
static int command(char *line)
{
	size_t len = strlen(line);

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
		line[--len] = '\0';
	if (len == 0)
		return 0;
	if (strcmp(line, "present") == 0) {
		if (pn532emu_present_tag() < 0)
			fprintf(stderr, "estiva-pn532emu: there is no tag to present\n");
	} else if (strcmp(line, "remove") == 0) {
		pn532emu_remove_tag();
	} else if (strcmp(line, "dump") == 0) {
		dump();
	} else if (strncmp(line, "save ", 5) == 0) {
		save(line + 5);
	} else if (strncmp(line, "fault ", 6) == 0) {
		fault(line + 6);
	} else if (strcmp(line, "quit") == 0) {
		return 1;
	} else if (strcmp(line, "help") == 0) {
		usage(stdout);
		fflush(stdout);
	} else {
		fprintf(stderr, "estiva-pn532emu: unknown command '%s' (try help)\n", line);
	}
	return 0;
}

/* Serves commands from fd until quit, a signal, or (for stdin) end of input followed by a signal.
 */
static void command_loop(int fd)
{
	char line[LINE_MAX_LEN];
	size_t used = 0;
	int skipping = 0;

	while (!quit_signal) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;
		char *nl;

		if (fd < 0) { /* input closed: wait for a signal */
			pause();
			continue;
		}
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		n = read(fd, line + used, sizeof(line) - 1 - used);
		if (n == 0) {
			fd = -1;
			continue;
		}
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			fd = -1;
			continue;
		}
		used += (size_t)n;
		line[used] = '\0';
		while ((nl = memchr(line, '\n', used)) != NULL) {
			size_t take = (size_t)(nl - line) + 1;

			*nl = '\0';
			if (!skipping && command(line))
				return;
			skipping = 0;
			memmove(line, line + take, used - take);
			used -= take;
			line[used] = '\0';
		}
		if (used == sizeof(line) - 1) { /* an overlong line: drop it up to its newline */
			fprintf(stderr, "estiva-pn532emu: command line too long\n");
			skipping = 1;
			used = 0;
		}
	}
}

int main(int argc, char **argv)
{
	static unsigned char image[PN532EMU_MEM_MAX];
	struct pn532emu_tag tag;
	const char *control = NULL, *link_path = NULL, *image_path = NULL, *path;
	int have_kind = 0, absent = 0, fd = -1, i, status = 1;
	struct sigaction sa;

	memset(&tag, 0, sizeof(tag));
	tag.kind = PN532EMU_NTAG213;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *next = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--tag") == 0 && next) {
			if (parse_kind(next, &tag.kind) < 0) {
				fprintf(stderr, "estiva-pn532emu: unknown tag kind '%s'\n", next);
				return 2;
			}
			have_kind = 1;
			i++;
		} else if (strcmp(a, "--uid") == 0 && next) {
			if (parse_uid(next, tag.uid, &tag.uid_len) < 0) {
				fprintf(stderr,
				        "estiva-pn532emu: --uid wants 4 or 7 bytes in hex\n");
				return 2;
			}
			i++;
		} else if (strcmp(a, "--image") == 0 && next) {
			image_path = next;
			i++;
		} else if (strcmp(a, "--control") == 0 && next) {
			control = next;
			i++;
		} else if (strcmp(a, "--link") == 0 && next) {
			link_path = next;
			i++;
		} else if (strcmp(a, "--absent") == 0) {
			absent = 1;
		} else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			pn532emu_verbose(1);
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(a, "--version") == 0) {
			printf("estiva-pn532emu %s\n", ESTIVA_VERSION);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (image_path) {
		if (read_image(image_path, image, sizeof(image), &tag.image_len) < 0)
			return 1;
		if (!have_kind && kind_from_size(tag.image_len, &tag.kind) < 0) {
			fprintf(stderr,
			        "estiva-pn532emu: %s: %zu bytes is no tag size; give --tag\n",
			        image_path, tag.image_len);
			return 2;
		}
		tag.image = image;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (control) {
		struct stat st;

		if (lstat(control, &st) == 0 && !S_ISFIFO(st.st_mode)) {
			fprintf(stderr, "estiva-pn532emu: %s exists and is not a FIFO\n", control);
			return 1;
		}
		if (lstat(control, &st) < 0 && mkfifo(control, 0600) < 0) {
			fprintf(stderr, "estiva-pn532emu: mkfifo %s: %s\n", control,
			        strerror(errno));
			return 1;
		}
		/* O_RDWR: the FIFO never reports end of input when a writer goes away */
		fd = open(control, O_RDWR | O_NONBLOCK);
		if (fd < 0) {
			fprintf(stderr, "estiva-pn532emu: %s: %s\n", control, strerror(errno));
			return 1;
		}
	} else {
		fd = STDIN_FILENO;
	}

	path = pn532emu_start(&tag);
	if (!path) {
		fprintf(stderr, "estiva-pn532emu: cannot start (bad tag description, or no "
		                "pseudo-terminals)\n");
		goto out;
	}
	if (absent)
		pn532emu_remove_tag();
	if (link_path) {
		(void)unlink(link_path);
		if (symlink(path, link_path) < 0) {
			fprintf(stderr, "estiva-pn532emu: symlink %s: %s\n", link_path,
			        strerror(errno));
			link_path = NULL;
		}
	}
	printf("pn532_uart:%s\n", path);
	fflush(stdout);
	command_loop(fd);
	status = 0;
	pn532emu_stop();
	if (link_path)
		(void)unlink(link_path);
out:
	if (control && fd >= 0)
		close(fd);
	return status;
}
