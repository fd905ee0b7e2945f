#!/usr/bin/env python3
"""A real HTTP receiver for listgate's outbound webhooks, for the tests.

Each POST is checked the way the Standard Webhooks specification says a receiver checks
it (https://www.standardwebhooks.com/): the secret is the base64 after `whsec_` in the
file DIR/secret (read at each request, so a test can write it after `webhooks add`
printed it), the signed content is "webhook-id.webhook-timestamp.body", the signature is
HMAC-SHA256 in base64 behind `v1,`, compared in constant time, and the timestamp must be
within 5 minutes. Every request is recorded as DIR/requests/NNNNNN.json:
{"id", "timestamp", "signature_valid", "content_type", "body", "answered", "peer_port"}
(the client's port: one per connection, so a test can count the connections used).

The answer: the status in DIR/answer if that file exists (read at each request), else
500 for the first --fail-first requests, then 200. --redirect-to URL answers 302 with that
Location. --delay S waits S seconds before answering (a slow receiver); --silent accepts
connections and never answers (a dead one).
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def verify(secret_text, msg_id, timestamp, body, header):
    if not secret_text.startswith("whsec_"):
        return False
    key = base64.b64decode(secret_text[len("whsec_"):])
    try:
        if abs(time.time() - int(timestamp)) > 300:
            return False
    except ValueError:
        return False
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for entry in header.split(" "):
        version, _, signature = entry.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return True
    return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--ready-file", required=True)
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--redirect-to")
    parser.add_argument("--delay", type=float, default=0)
    parser.add_argument("--silent", action="store_true")
    options = parser.parse_args()
    requests_dir = os.path.join(options.dir, "requests")
    os.makedirs(requests_dir, exist_ok=True)
    lock = threading.Lock()
    counter = {"n": 0}

    if options.silent:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", options.port))
        listener.listen(128)
        with open(options.ready_file + ".tmp", "w") as f:
            f.write(str(listener.getsockname()[1]))
        os.rename(options.ready_file + ".tmp", options.ready_file)
        held = []
        while True:
            connection, _ = listener.accept()
            held.append(connection)  # never read, never answered

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with lock:
                counter["n"] += 1
                number = counter["n"]
            try:
                with open(os.path.join(options.dir, "secret")) as f:
                    secret = f.read().strip()
            except OSError:
                secret = ""
            valid = verify(
                secret,
                self.headers.get("webhook-id", ""),
                self.headers.get("webhook-timestamp", ""),
                body,
                self.headers.get("webhook-signature", ""),
            )
            status = 200
            try:
                with open(os.path.join(options.dir, "answer")) as f:
                    status = int(f.read().strip())
            except (OSError, ValueError):
                status = 500 if number <= options.fail_first else 200
            if options.redirect_to:
                status = 302
            if options.delay:
                time.sleep(options.delay)
            record = {
                "id": self.headers.get("webhook-id", ""),
                "timestamp": self.headers.get("webhook-timestamp", ""),
                "signature_valid": valid,
                "content_type": self.headers.get("Content-Type", ""),
                "body": body.decode("utf-8", "replace"),
                "answered": status,
                "peer_port": self.client_address[1],
            }
            path = os.path.join(requests_dir, "%06d.json" % number)
            with open(path + ".tmp", "w") as f:
                json.dump(record, f)
            os.rename(path + ".tmp", path)
            answer = b"ok"
            self.send_response(status)
            if options.redirect_to:
                self.send_header("Location", options.redirect_to)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = ThreadingHTTPServer(("127.0.0.1", options.port), Handler)
    server.daemon_threads = True
    with open(options.ready_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(options.ready_file + ".tmp", options.ready_file)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
