#!/usr/bin/python3
"""Parses one RFC 5322 message from stdin with Python's email package (policy=strict,
so malformed headers raise) and prints what the tests check, as JSON."""
import json
import sys
from email import message_from_bytes, policy

raw = sys.stdin.buffer.read()
message = message_from_bytes(raw, policy=policy.strict)
parts = []
for part in message.walk():
    if part.is_multipart():
        continue
    parts.append({
        "content_type": part.get_content_type(),
        "charset": part.get_content_charset(),
        "transfer_encoding": part.get("Content-Transfer-Encoding", ""),
        "text": part.get_content(),
    })
print(json.dumps({
    "headers": [[name, str(value)] for name, value in message.items()],
    "to": [str(a.addr_spec) for a in message["To"].addresses] if message["To"] else [],
    "from": [str(a.addr_spec) for a in message["From"].addresses] if message["From"] else [],
    "subject": str(message["Subject"]) if message["Subject"] else None,
    "content_type": message.get_content_type(),
    "defects": [type(d).__name__ for d in message.defects],
    "parts": parts,
    "max_line_length": max((len(line) for line in raw.split(b"\r\n")), default=0),
    "bare_lf": raw.replace(b"\r\n", b"").count(b"\n"),
}, ensure_ascii=False))
