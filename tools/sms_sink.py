#!/usr/bin/python3
"""sms_sink.py: an SMS gateway's JSON endpoint on loopback, for the tests (docs/mail.md): it keeps each
POST {to, from, text} with its Authorization header as a JSON file, and answers 202 (or the status given
with --status for the numbers given with --for).

  sms_sink.py --dir DIR --port-file FILE [--status CODE --for NUMBER]...
"""
import argparse
import http.server
import json
import os
import socket


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--status", type=int, action="append", default=[])
    p.add_argument("--for", dest="numbers", action="append", default=[])
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    special = dict(zip(a.numbers, a.status))
    count = [0]

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                msg = json.loads(body)
            except ValueError:
                self.send_response(400)
                self.end_headers()
                return
            code = special.get(msg.get("to"), 202)
            count[0] += 1
            rec = {"auth": self.headers.get("Authorization", ""), "type": self.headers.get("Content-Type", ""),
                   "status": code, "message": msg}
            name = os.path.join(a.dir, "%06d.json" % count[0])
            with open(name + ".part", "w") as f:
                json.dump(rec, f, ensure_ascii=False)
            os.rename(name + ".part", name)
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"accepted": true}')

        def log_message(self, *args):
            pass

    s = http.server.HTTPServer(("127.0.0.1", 0), H)
    with open(a.port_file + ".part", "w") as f:
        f.write("%d\n" % s.server_address[1])
    os.rename(a.port_file + ".part", a.port_file)
    s.serve_forever()


if __name__ == "__main__":
    main()
