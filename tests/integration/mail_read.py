#!/usr/bin/python3
"""mail_read.py FILE.eml [IMAGE-DIR]: a message as the SMTP sink kept it, parsed with Python's email
package (a real MIME parser), printed as JSON for the C tests: envelope, headers (decoded), the MIME tree
(also as one line, "structure"), the text and HTML bodies (decoded), every image (written into IMAGE-DIR
when given, for zbarimg), every attachment, and any .ics attachment as it came and parsed with
python3-icalendar."""
import email
import email.policy
import json
import os
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


def structure(part):
    if part.is_multipart():
        return "%s(%s)" % (part.get_content_type(), ",".join(structure(p) for p in part.iter_parts()))
    return part.get_content_type()


out["structure"] = structure(msg)
out["images"] = []
out["attachments"] = []
out["events"] = []
out["vtimezones"] = []
out["ics"] = ""
out["attached_html"] = ""
for n, part in enumerate(msg.walk()):
    if part.is_multipart():
        continue
    disposition = part.get_content_disposition()
    if part.get_content_type() == "image/png":
        image = {"cid": str(part.get("Content-ID", "")), "disposition": disposition or "",
                 "filename": part.get_filename() or "", "path": ""}
        if len(sys.argv) > 2:
            image["path"] = os.path.join(sys.argv[2], "part-%d.png" % n)
            with open(image["path"], "wb") as f:
                f.write(part.get_payload(decode=True))
        out["images"].append(image)
    if disposition == "attachment":
        out["attachments"].append({"type": part.get_content_type(), "filename": part.get_filename() or ""})
        if part.get_content_type() == "text/html" and not out["attached_html"]:
            out["attached_html"] = part.get_content()
    if part.get_content_type() == "text/calendar":
        raw = part.get_payload(decode=True).decode("utf-8")
        out["ics"] = raw
        import icalendar

        cal = icalendar.Calendar.from_ical(raw)
        out["vtimezones"] = [str(z["TZID"]) for z in cal.walk("VTIMEZONE")]
        for ev in cal.walk("VEVENT"):
            start, end = ev.decoded("DTSTART"), ev.decoded("DTEND")
            out["events"].append({
                "uid": str(ev["UID"]),
                "dtstart": start.isoformat(),
                "dtend": end.isoformat(),
                "dtstart_tzid": str(ev["DTSTART"].params.get("TZID", "")),
                "dtend_tzid": str(ev["DTEND"].params.get("TZID", "")),
                "tz": str(getattr(start.tzinfo, "zone", start.tzinfo)),
                "location": str(ev.get("LOCATION", "")),
                "summary": str(ev.get("SUMMARY", "")),
                "status": str(ev.get("STATUS", "")),
            })
print(json.dumps(out, ensure_ascii=False))
