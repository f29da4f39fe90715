/* gate_harness.h: the real estiva-gate driven from tests, beside the real estiva-server of the
 * integration harness (tests/integration/harness.h): a gate's folder and configuration, enrolment
 * with estiva-admin gate add + estiva-gate enroll, QR readers on pseudo-terminals the test types
 * into, start/stop/kill -9, and queries on the gate's own database. */
#ifndef ESTIVA_GATE_HARNESS_H
#define ESTIVA_GATE_HARNESS_H

#include <sys/types.h>

#include "harness.h"
#include "pass.h"

#define GT_READERS 4

struct gt_opts {
	const char *centre; /* default test-a */
	const char *name;   /* default "Gate" */
	const char
	    *dirs[GT_READERS]; /* QR readers on ptys: "in", "out", "both"; default one "in" */
	const char *nfc;       /* a libnfc connstring for one NFC reader (direction in), or NULL */
	const char *policy;    /* anti_passback, default strict */
	const char *revoked_grace;  /* default 1h */
	const char *url;            /* [server] url after enrolment; default the test server */
	const char *relay, *sensor; /* [relay] command and sensor, or NULL */
	const char *extra;          /* more configuration lines appended to the file */
	int batch;                  /* [sync] batch, default 200 */
	int no_enroll;
};

struct gt {
	char dir[512], conf[600], db[600], token[600], log[600], port_file[600];
	long long id;
	int nqr;
	int master[GT_READERS];
	char link[GT_READERS][600]; /* the config names this symlink to the pty's slave */
	pid_t pid;
	int port;
};

/* argv[3] of the test program is estiva-gate. */
void gt_set_binary(const char *path);
/* A new gate of the centre, enrolled (unless no_enroll), not started. */
struct gt *gt_new(const struct gt_opts *o);
void gt_free(struct gt *g);
void gt_start(struct gt *g);
/* SIGTERM; asserts a clean exit. */
void gt_stop(struct gt *g);
void gt_kill9(struct gt *g);
/* Asks for a sync now (SIGUSR1). */
void gt_sync_now(struct gt *g);
/* Types line + "\n" on QR reader i (len -1: strlen). */
void gt_type(struct gt *g, int i, const char *line, long len);

struct gt_event {
	long long seq, pass;
	char decision[16], reason[32], direction[8], id[40];
};
/* The newest event of the gate's store (0), or -1 when none. */
int gt_last_event(struct gt *g, struct gt_event *ev);
/* Types a line and waits for the event it makes. */
void gt_scan(struct gt *g, int reader, const char *line, struct gt_event *ev);
/* Waits until the integer query on the gate's store returns want (timeout ms): fails the test if
 * not. */
void gt_wait_int(struct gt *g, const char *sql, long long want, long timeout_ms);
long long gt_int(struct gt *g, const char *sql);
/* The same on the server's database. */
void gt_wait_server_int(const char *sql, long long want, long timeout_ms);
long long gt_server_int(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Waits until the gate has sent everything and downloaded once more (a full cycle after the call).
 */
void gt_settle(struct gt *g);
/* The tail of the gate's log on stderr (for failures). */
void gt_dump_log(struct gt *g);

/* ---- the server's side ---- */
/* estiva-admin -c CONF args... (NULL-terminated): its exit status; output in *out (static). */
int gt_admin(const char **out, const char *a1, ...);
/* A confirmed booking of member i (passes issued): its id. */
long long gt_booking(int member, const char *centre, const char *type, int arrival, int nights,
                     const char *guests);
/* The active pass of (booking, guest): id and token. */
long long gt_pass(long long booking, int guest, char *token, size_t n);
/* The server's signing key (id 1), for passes the server would never issue (expired, other centre,
 * tag-bound): signs p (key_id set to 1) as text or binary. */
void gt_sign_text(struct pass *p, char *out, size_t n);
void gt_sign_bin(struct pass *p, unsigned char *out, size_t cap, size_t *n);
/* The pass of a token, parsed (no signature check). */
void gt_parse(const char *token, struct pass *p);

#endif
