#!/usr/bin/env python3
# A real HTTP server on 127.0.0.1 for the provider webhook tests: it serves the files of
# --root (an SNS signing certificate), answers 200 to any GET under /confirm (an SNS
# SubscribeURL) and 404 to anything else, and appends every request's path to
# --log, one line each, so a test can tell what listgate fetched, and that it fetched
# nothing. It binds port 0 and writes the port the kernel chose to --ready-file.
import argparse
import http.server
import os
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--ready-file", required=True)
    options = parser.parse_args()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            with open(options.log, "a") as log:
                log.write(self.path + "\n")
            path = self.path.split("?", 1)[0]
            if path.startswith("/confirm"):
                self.answer(200, b"<ConfirmSubscriptionResponse/>")
                return
            name = os.path.basename(path)
            file = os.path.join(options.root, name)
            if name and os.path.isfile(file):
                with open(file, "rb") as handle:
                    self.answer(200, handle.read())
            else:
                self.answer(404, b"not found")

        def answer(self, status, body):
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    temporary = options.ready_file + ".tmp"
    with open(temporary, "w") as ready:
        ready.write(str(server.server_address[1]))
    os.rename(temporary, options.ready_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
