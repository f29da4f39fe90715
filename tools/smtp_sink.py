#!/usr/bin/python3
"""smtp_sink.py: a real SMTP server on loopback (Debian's python3-aiosmtpd) that keeps every message it
accepts as an .eml file: the demo's mail box (scripts/dev run: var/mail/) and the tests' (docs/mail.md).

  smtp_sink.py --dir DIR [--host 127.0.0.1] [--port 0] [--port-file FILE]
               [--fail451 N] [--reject550 ADDRESS]...

--fail451 N answers the first N messages "451 try again later" (then accepts); --reject550 refuses a
recipient for good ("550 no such mailbox"). Files are named by arrival (000001.eml, ...), written whole
then renamed, so a reader never sees half a message. Stops on SIGTERM.
"""
import argparse
import asyncio
import os
import signal
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, folder, fail451, reject):
        self.folder = folder
        self.fail451 = fail451
        self.reject = set(a.lower() for a in reject)
        self.count = len([n for n in os.listdir(folder) if n.endswith(".eml")])

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.reject:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.fail451 > 0:
            self.fail451 -= 1
            return "451 4.3.0 try again later"
        self.count += 1
        name = os.path.join(self.folder, "%06d.eml" % self.count)
        head = "X-Envelope-From: %s\r\nX-Envelope-To: %s\r\n" % (
            envelope.mail_from, ", ".join(envelope.rcpt_tos))
        with open(name + ".part", "wb") as f:
            f.write(head.encode() + envelope.original_content)
        os.rename(name + ".part", name)
        return "250 OK queued as %06d" % self.count


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dir", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--fail451", type=int, default=0)
    p.add_argument("--reject550", action="append", default=[])
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    port = a.port
    if port == 0:
        import socket
        s = socket.socket()
        s.bind((a.host, 0))
        port = s.getsockname()[1]
        s.close()
    c = Controller(Sink(a.dir, a.fail451, a.reject550), hostname=a.host, port=port,
                   decode_data=False)
    c.start()
    if a.port_file:
        with open(a.port_file + ".part", "w") as f:
            f.write("%d\n" % port)
        os.rename(a.port_file + ".part", a.port_file)
    print("smtp_sink: listening on %s:%d, messages in %s" % (a.host, port, a.dir), file=sys.stderr)
    done = asyncio.new_event_loop()
    stop = asyncio.Event()
    done.add_signal_handler(signal.SIGTERM, stop.set)
    done.add_signal_handler(signal.SIGINT, stop.set)
    done.run_until_complete(stop.wait())
    c.stop()


if __name__ == "__main__":
    main()
