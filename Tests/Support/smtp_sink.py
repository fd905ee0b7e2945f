#!/usr/bin/python3
"""A real SMTP server (aiosmtpd) that records every accepted message, for tests.

Run with Debian's interpreter, which has python3-aiosmtpd:

    /usr/bin/python3 smtp_sink.py --port PORT --dir DIR [--ready-file F]
                                  [--auth] [--fail-next N] [--flaky-failures K]
                                  [--data-delay SECONDS]

Listens on 127.0.0.1:PORT (PORT 0 lets the kernel choose; the chosen port is what
the ready file contains). Speaks ESMTP with 8BITMIME and SMTPUTF8, keeps the data
undecoded, and requires neither TLS nor AUTH.

Recording: for every message accepted at the end of DATA, writes DIR/NNNNNN.json
(NNNNNN counts from 000001) through a temporary file and a rename, so a reader never
sees a half-written file. The JSON object holds:
    "mail_from"     the MAIL FROM address, without angle brackets
    "mail_options"  the MAIL FROM parameters, upper-cased (e.g. ["SMTPUTF8", "SIZE=120"])
    "rcpt_tos"      the accepted RCPT TO addresses, in order
    "data_b64"      the DATA bytes exactly as received, dot-unstuffed, base64
    "session"       a number identifying the SMTP connection (1, 2, ... in the order
                    the connections made their first MAIL FROM); equal numbers mean
                    the messages travelled over one connection
    "auth_login"    the AUTH user name, or null if the client did not authenticate
    "received_at"   ISO 8601 UTC time the message was accepted

Behaviour by recipient local part (case-insensitive prefix):
    tempfail...  -> "451 4.3.0 try again later" at RCPT TO
    reject...    -> "550 5.1.1 no such user" at RCPT TO
    unknown...   -> "550 5.1.1 <ADDRESS>: Recipient address rejected: User unknown"
                    at RCPT TO, quoting the address as Postfix does
    greylist...  -> "450 4.2.0 <ADDRESS>: Recipient address rejected: Greylisted"
                    at RCPT TO, quoting the address as Postfix does
    flaky...     -> "451 4.3.0 try again later" at the first K RCPT TOs of that
                    address (K from --flaky-failures, default 2), then accepted: a
                    greylisting-like server whose 4xx end by themselves
    slow...      -> the server sleeps 2 s after the DATA content before replying 250

--data-delay SECONDS makes every DATA wait that long (a fraction is fine) before its
reply, for every recipient: a server that keeps each delivery in flight for a while,
so a test can catch the sender in the middle of one.

Outages: "--fail-next N" answers "451 4.3.0 try again later" to the next N RCPT TO
commands whatever the recipient. At run time, writing a decimal N into the file
"control" next to DIR (that is, DIR/../control) does the same: the next RCPT TO
consumes (deletes) the file and adds N to the number of RCPTs still to refuse.

--auth offers AUTH PLAIN and LOGIN over the plain connection and accepts any user
name and password. Without it no AUTH is offered.

--ready-file F is written (atomically, containing the port number) once the server
is listening. SIGTERM or SIGINT closes the listening socket and every open client
connection, then exits with status 0; so does the death of the parent process.
"""

import argparse
import asyncio
import base64
import datetime
import itertools
import json
import logging
import os
import signal
import sys
import weakref

from aiosmtpd.smtp import SMTP, AuthResult


def write_atomically(path, data):
    temporary = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


class Recorder:
    """aiosmtpd handler: the hooks run on the one event-loop thread, so the counters
    need no lock."""

    def __init__(self, directory, control_file, fail_next, flaky_failures, data_delay):
        self.directory = directory
        self.data_delay = data_delay
        self.control_file = control_file
        self.fail_next = fail_next
        self.flaky_failures = flaky_failures
        self.flaky_refusals = {}
        self.message_numbers = itertools.count(1)
        self.session_numbers = itertools.count(1)

    def session_number(self, session):
        number = getattr(session, "listgate_sink_number", None)
        if number is None:
            number = next(self.session_numbers)
            session.listgate_sink_number = number
        return number

    def consume_control_file(self):
        try:
            with open(self.control_file, "r", encoding="ascii") as handle:
                text = handle.read().strip()
            os.remove(self.control_file)
        except FileNotFoundError:
            return
        try:
            self.fail_next += int(text)
        except ValueError:
            print(f"smtp_sink: ignoring control file content {text!r}", file=sys.stderr)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.session_number(session)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.consume_control_file()
        if self.fail_next > 0:
            self.fail_next -= 1
            return "451 4.3.0 try again later"
        local_part = address.rpartition("@")[0].strip('"').lower()
        if local_part.startswith("tempfail"):
            return "451 4.3.0 try again later"
        if local_part.startswith("reject"):
            return "550 5.1.1 no such user"
        if local_part.startswith("unknown"):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if local_part.startswith("greylist"):
            return f"450 4.2.0 <{address}>: Recipient address rejected: Greylisted"
        if local_part.startswith("flaky"):
            refused = self.flaky_refusals.get(address.lower(), 0)
            if refused < self.flaky_failures:
                self.flaky_refusals[address.lower()] = refused + 1
                return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(rcpt.rpartition("@")[0].strip('"').lower().startswith("slow")
               for rcpt in envelope.rcpt_tos):
            await asyncio.sleep(2)
        if self.data_delay > 0:
            await asyncio.sleep(self.data_delay)
        auth_login = None
        if session.authenticated and session.auth_data is not None:
            login = getattr(session.auth_data, "login", None)
            if isinstance(login, bytes):
                login = login.decode("utf-8", errors="replace")
            auth_login = login
        record = {
            "mail_from": envelope.mail_from,
            "mail_options": envelope.mail_options,
            "rcpt_tos": envelope.rcpt_tos,
            "data_b64": base64.b64encode(envelope.original_content).decode("ascii"),
            "session": self.session_number(session),
            "auth_login": auth_login,
            "received_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        }
        name = "%06d.json" % next(self.message_numbers)
        write_atomically(os.path.join(self.directory, name),
                         json.dumps(record).encode("utf-8"))
        return "250 2.0.0 OK: queued as " + name


def accept_any_credentials(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=True, auth_data=auth_data)


async def serve(arguments):
    directory = os.path.abspath(arguments.dir)
    os.makedirs(directory, exist_ok=True)
    control_file = os.path.join(os.path.dirname(directory), "control")
    handler = Recorder(directory, control_file, arguments.fail_next, arguments.flaky_failures,
                       arguments.data_delay)
    loop = asyncio.get_running_loop()
    connections = weakref.WeakSet()

    def make_protocol():
        options = dict(enable_SMTPUTF8=True, decode_data=False, hostname="smtp-sink.test",
                       loop=loop)
        if arguments.auth:
            options.update(authenticator=accept_any_credentials, auth_require_tls=False)
        # Without --auth, aiosmtpd's default auth_require_tls=True hides AUTH (no TLS here).
        protocol = SMTP(handler, **options)
        connections.add(protocol)
        return protocol

    server = await loop.create_server(make_protocol, host="127.0.0.1", port=arguments.port)
    port = server.sockets[0].getsockname()[1]

    stopping = asyncio.Event()
    # A child inherits its parent's blocked-signal mask (Swift's Process/posix_spawn on
    # Linux can leave SIGTERM blocked): unblock, or SIGTERM would never arrive.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stopping.set)
    if arguments.ready_file:
        write_atomically(os.path.abspath(arguments.ready_file), str(port).encode("ascii"))

    # A test process that dies without stopping its sink must not leave it running.
    parent = os.getppid()

    async def watch_parent():
        while os.getppid() == parent:
            await asyncio.sleep(1)
        stopping.set()

    watcher = asyncio.create_task(watch_parent())
    await stopping.wait()
    watcher.cancel()
    server.close()
    for protocol in connections:
        if protocol.transport is not None:
            protocol.transport.close()
    await server.wait_closed()
    # Let the client tasks see their connections close before the loop goes away.
    await asyncio.sleep(0.05)


def main():
    parser = argparse.ArgumentParser(description="Record SMTP messages as JSON files.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--ready-file")
    parser.add_argument("--auth", action="store_true")
    parser.add_argument("--fail-next", type=int, default=0)
    parser.add_argument("--flaky-failures", type=int, default=2)
    parser.add_argument("--data-delay", type=float, default=0.0)
    arguments = parser.parse_args()
    # aiosmtpd logs to "mail.log"; keep stderr for real problems (e.g. its deprecation
    # warning about Session.login_data on every AUTH).
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    asyncio.run(serve(arguments))
    return 0


if __name__ == "__main__":
    sys.exit(main())
