#!/usr/bin/python3
"""Reference client for the mail benchmark: sends the same rendered messages that
listgate queued (read from its outbox table) to the same SMTP server with Python's
smtplib over ONE connection, and prints messages/second."""
import smtplib
import sqlite3
import sys
import time

db_path, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = sqlite3.connect(db_path).execute(
    "SELECT l.from_email, o.recipient, o.raw_message FROM outbox o JOIN lists l ON l.id = o.list_id ORDER BY o.id"
).fetchall()
start = time.perf_counter()
with smtplib.SMTP(host, port) as client:
    for sender, recipient, raw in rows:
        client.sendmail(sender, [recipient], raw)
seconds = time.perf_counter() - start
print(f"smtplib: delivered {len(rows)} in {seconds:.2f} s = {len(rows) / seconds:.0f} messages/s")
