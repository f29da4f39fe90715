/* mailbox.h: a real SMTP server on loopback for the integration tests (tools/smtp_sink.py, on
 * Debian's /usr/bin/python3 with python3-aiosmtpd), each message it accepts kept as an .eml file
 * and read back with Python's email package (tests/integration/mail_read.py). One mailbox per test
 * program. */
#ifndef ESTIVA_MAILBOX_H
#define ESTIVA_MAILBOX_H

#include <jansson.h>

#define MAILBOX_PY "/usr/bin/python3"

/* 1 when the Python the mailbox needs is there (else the test program skips: 77). */
int mailbox_available(void);
/* A new mailbox under $TMPDIR for the source tree src (its tools/ and tests/), and its SMTP server
 * on port (0: any), answering the first fail451 messages 451 and refusing reject550 (or NULL) with
 * 550: the port, or -1. */
int mailbox_start(const char *src, int port, int fail451, const char *reject550);
/* The server stopped (the messages stay), and started again on port, with no 451: the port, or -1.
 */
void mailbox_stop(void);
int mailbox_restart(int port);
/* Removes the mailbox's folder (after a passing run). */
void mailbox_remove(void);
const char *mailbox_dir(void);
/* Messages so far; waiting until there are n (a failed test after 15 s). */
int mailbox_count(void);
void mailbox_wait(int n);
/* Message i (from 1) parsed, without MIME defects (else a failed test): a new reference. */
json_t *mailbox_message(int i);

#endif
