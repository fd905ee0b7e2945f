#!/usr/bin/python3
"""Hostile input sweep: schemathesis against openapi.yaml and a running listgate.

    /usr/bin/python3 Tests/E2E/api_fuzz.py

The built binary is `.build/debug/listgate` unless LISTGATE_BIN names another;
schemathesis is `.venv-e2e/bin/schemathesis` unless SCHEMATHESIS names another (`make e2e`
installs the pinned version there). FUZZ_SEED (default 20261121) and FUZZ_EXAMPLES (cases
per operation and phase, default 60) tune the run; the fixed seed makes a failure reproducible.
FUZZ_KEEP=1 keeps the temporary directory (database, server log, schemathesis report).

In a temporary directory: two lists (`news` in Japanese, `tech` in English and limited to
one website), active, unsubscribed and suppressed addresses, a sender token for `news`, and
`listgate serve` with rate limits off and mail written to files. Real confirm, block,
unsubscribe and preferences tokens and a real snapshot id are fetched first and handed to
schemathesis as dictionaries (used for half of the generated values), so the fuzzer reaches
the code behind the signature checks instead of meeting 400 every time; each token route
also gets tokens made for another purpose, which must be refused.

What must hold, for every request schemathesis makes:
  not_a_server_error            no 5xx (the point of the sweep)
  status_code_conformance       the status is documented for the operation
  content_type_conformance      the Content-Type is documented
  response_headers_conformance  documented headers are present and valid
  response_schema_conformance   JSON bodies match the documented schema
  ignored_auth                  the sender API refuses requests without or with a bad token
  ndjson_lines_conform          every NDJSON line matches the schema (schemathesis_hooks.py)
  every_operation_succeeds      every operation answered 2xx at least once (ditto), but the
                                SES, SendGrid and Mailgun webhooks: their requests must be
                                signed with keys the fuzzer cannot hold (Swift tests cover them)
Not checked: positive_data_acceptance and negative_data_rejection (a token is valid only
if signed, an address only if it parses, a filled honeypot is deliberately answered like a
success: the schema cannot say so), and unsupported_method (an undocumented method is 404).
Afterwards the server must still be healthy and /metrics must count no 5xx.
"""

import base64
import email
import email.policy
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
BINARY = os.environ.get("LISTGATE_BIN") or os.path.join(REPO, ".build", "debug", "listgate")
SCHEMATHESIS = os.environ.get("SCHEMATHESIS") or os.path.join(REPO, ".venv-e2e", "bin", "schemathesis")
SEED = os.environ.get("FUZZ_SEED", "20261121")
EXAMPLES = os.environ.get("FUZZ_EXAMPLES", "60")
POSTMARK_PASSWORD = "fuzz-postmark-password-0123456789"

CHECKS = ["not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance", "ignored_auth",
          "ndjson_lines_conform", "every_operation_succeeds"]


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def listgate(db, *arguments):
    result = subprocess.run([BINARY, *arguments, "--db", db], capture_output=True, text=True)
    check(result.returncode == 0, f"listgate {' '.join(arguments)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def wait_for(predicate, what, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise Failure(f"timed out waiting for {what}")


def request(base, method, path, *, token=None, form=None, json_body=None, accept=None):
    headers = {}
    data = None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if accept:
        headers["Accept"] = accept
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if json_body is not None:
        data = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    call = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(call, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def seed_database(db):
    listgate(db, "migrate")
    listgate(db, "lists", "create", "news", "--name", "週刊お知らせ",
             "--from", "編集部 <news@example.org>", "--locale", "ja")
    listgate(db, "lists", "create", "tech", "--name", "Tech notes", "--from", "Tech <tech@example.org>",
             "--locale", "en", "--allow-origin", "https://www.example.org")
    for address, name in (("a@example.com", "山田 太郎"), ("b@example.jp", "B"),
                          ("hanako@例え.jp", None), ("d@example.com", None)):
        listgate(db, "subscribers", "add", address, "--list", "news", "--confirmed",
                 *(["--name", name] if name else []))
    listgate(db, "subscribers", "add", "a@example.com", "--list", "tech", "--confirmed")
    listgate(db, "subscribers", "add", "e@example.com", "--list", "tech", "--confirmed")
    listgate(db, "subscribers", "remove", "d@example.com", "--list", "news")
    listgate(db, "suppressions", "add", "f@example.com")
    # Both scopes, so the sweep reaches the feedback route as well as the audience.
    # Every provider's webhook for `news`, so generated requests reach verification rather
    # than 404. The sweep has Postmark's credentials; the others sign with keys it cannot
    # hold (a public key made once for this purpose; see schemathesis_hooks.py).
    listgate(db, "webhooks", "inbound", "add", "postmark", "--list", "news",
             "--username", "fuzz", "--password", POSTMARK_PASSWORD)
    listgate(db, "webhooks", "inbound", "add", "ses", "--list", "news",
             "--topic-arn", "arn:aws:sns:us-east-1:123456789012:fuzz")
    listgate(db, "webhooks", "inbound", "add", "sendgrid", "--list", "news", "--public-key",
             "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAESlUSPEW1CctE522mqpfLKsPtGWdfO/jdVtlP7z4aLEyPzxMopKswIdG+CG8jS0pmXmeRX8Q311zPMyMDKLEU4w==")
    listgate(db, "webhooks", "inbound", "add", "mailgun", "--list", "news", "--signing-key", "key-fuzz-0123456789")
    return listgate(db, "tokens", "create", "--list", "news", "--name", "fuzz",
                    "--scope", "audience:read", "--scope", "feedback:write")


def start_server(work, db, children):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LISTGATE_")}
    environment.update(LISTGATE_BASE_URL=base, LISTGATE_RATE_LIMITS="off")
    log = open(os.path.join(work, "serve.log"), "wb")
    process = subprocess.Popen([BINARY, "serve", "--db", db, "--port", str(port),
                                "--smtp-url", "file://" + os.path.join(work, "mail"),
                                "--mail-ceiling", "1000000"],
                               env=environment, stdout=log, stderr=subprocess.STDOUT)
    children.append(process)

    def healthy():
        check(process.poll() is None, "listgate serve exited; see serve.log")
        try:
            return request(base, "GET", "/healthz")[0] == 200
        except OSError:
            return False

    wait_for(healthy, "listgate serve to answer /healthz")
    return base, process


def mailed_links(work, addresses):
    """The links in the mail the file transport wrote to each of `addresses`."""
    def written():
        found = {}
        for path in glob.glob(os.path.join(work, "mail", "**", "*.eml"), recursive=True):
            with open(path, "rb") as handle:
                message = email.message_from_binary_file(handle, policy=email.policy.default)
            text = message.get_body(preferencelist=("plain",)).get_content()
            found[message["To"].addresses[0].addr_spec] = re.findall(r"https?://\S+", text)
        return found if all(address in found for address in addresses) else None

    found = wait_for(written, "the confirmation mails in the file outbox")
    return [found[address] for address in addresses]


def token_of(url):
    return url.rstrip("/").rsplit("/", 1)[1]


def fetch_real_values(work, base, sender_token):
    status, body = request(base, "POST", "/api/v1/lists/news/snapshots", token=sender_token)
    check(status == 201, f"snapshot: {status} {body}")
    snapshot = json.loads(body)["id"]
    status, body = request(base, "GET", f"/api/v1/snapshots/{snapshot}/recipients", token=sender_token)
    check(status == 200, f"recipients: {status} {body}")
    unsubscribe = [token_of(json.loads(line)["unsubscribe_url"]) for line in body.splitlines()]
    check(len(unsubscribe) == 3, f"expected 3 recipients, got {body}")

    # The preferences link is on the page an unsubscribe ends on.
    status, page = request(base, "POST", f"/unsubscribe/{unsubscribe[-1]}")
    check(status == 200, f"unsubscribe: {status}")
    preferences = re.findall(r'/preferences/([^"<\s]+)', page)
    check(preferences, "no preferences link on the unsubscribed page")

    # Six pending requests. A POST ends its request (confirmed or blocked), after which GET
    # answers otherwise (already confirmed, or 410), so GET and POST of a route get different requests' tokens.
    for number in range(1, 7):
        status, body = request(base, "POST", "/lists/news/subscribe", accept="application/json",
                               json_body={"email": f"new{number}@example.org"})
        check(status == 202, f"subscribe: {status} {body}")
    mails = mailed_links(work, [f"new{number}@example.org" for number in range(1, 7)])
    confirm = [token_of(link) for links in mails for link in links if "/confirm/" in link]
    block = [token_of(link) for links in mails for link in links if "/block/" in link]
    check(len(confirm) == 6 and len(block) == 6, f"links in the confirmation mails: {mails}")
    return {"snapshot": snapshot, "unsubscribe": unsubscribe, "preferences": preferences[:1],
            "confirm GET": confirm[0:2], "confirm POST": confirm[2:4],
            "block GET": block[4:5], "block POST": block[5:6]}


def toml_string(value):
    return json.dumps(value, ensure_ascii=False)


def write_config(path, real, sender_token):
    """Schemathesis configuration: dictionaries of real values, used half of the time."""
    other = real["unsubscribe"][:1] + real["preferences"]
    dictionaries = {
        # Each token route: its own tokens, and some made for another purpose (to be refused).
        "confirm_get": real["confirm GET"] + real["block GET"] + other,
        "confirm_post": real["confirm POST"] + real["block GET"] + other,
        "block_get": real["block GET"] + real["confirm GET"] + other,
        "block_post": real["block POST"] + real["confirm GET"] + other,
        "unsubscribe": real["unsubscribe"] + real["confirm GET"] + real["preferences"],
        "preferences": real["preferences"] + real["unsubscribe"] + real["confirm GET"],
        "slugs": ["news", "tech", "nope"],
        "snapshots": [real["snapshot"], "0", "AAAAAAAAAAAAAAAAAAAAAA"],
        "emails": ["a@example.com", "b@example.jp", "hanako@例え.jp", "hanako@xn--r8jz45g.jp",
                   "d@example.com", "f@example.com", "fresh@example.org", "A@EXAMPLE.COM"],
        "accept": ["application/json", "text/html", "*/*"],
    }
    lines = ["# Written by Tests/E2E/api_fuzz.py for one run.", "",
             # Token routes mostly answer 400 to generated tokens (unsigned): expected, not shown.
             # NDJSON is checked by the hooks. A filter or dictionary that no longer fits the
             # document, a token the server ignores or a 429 would make the run meaningless.
             "[warnings]",
             'display = ["missing_auth", "missing_test_data", "base_url_mismatch", "unused_openapi_auth",'
             ' "unsupported_regex", "method_not_allowed", "constants_extraction", "unmatched_filter",'
             ' "unresolvable_reference", "low_valid_rate", "rate_limited", "dictionary_mismatch",'
             ' "timeout_units"]',
             'fail-on = ["missing_auth", "base_url_mismatch", "unmatched_filter", "unresolvable_reference",'
             ' "rate_limited", "dictionary_mismatch"]', ""]
    # The sender API's token for every operation, but Postmark's Basic credentials for its
    # webhook: set here rather than with --header, which would override the operation's.
    basic = base64.b64encode(f"fuzz:{POSTMARK_PASSWORD}".encode()).decode()
    lines[2:2] = [f"headers = {{ Authorization = {toml_string('Bearer ' + sender_token)} }}", ""]
    lines += ["[[operations]]", 'include-operation-id = "postmarkWebhook"',
              f"headers = {{ Authorization = {toml_string('Basic ' + basic)} }}", ""]
    # The webhooks signed with keys the sweep cannot hold answer only 401 by design: that
    # warning, fatal elsewhere (a broken token), is shown but not fatal for them.
    for operation in ("sesWebhook", "sendgridWebhook", "mailgunWebhook"):
        lines += ["[[operations]]", f'include-operation-id = "{operation}"',
                  'warnings = { display = ["missing_auth", "missing_test_data"], fail-on = ["unmatched_filter",'
                  ' "unresolvable_reference", "rate_limited", "dictionary_mismatch"] }', ""]
    for name, values in dictionaries.items():
        lines += [f"[dictionaries.{name}]", f"values = [{', '.join(map(toml_string, values))}]", ""]
    lines += ["[parameters]",
              '"path.slug" = { dictionary = "slugs", probability = 0.5 }',
              '"path.id" = { dictionary = "snapshots", probability = 0.5 }',
              '"body.email" = { dictionary = "emails", probability = 0.5 }',
              '"body.leave[*]" = { dictionary = "slugs", probability = 0.5 }',
              '"header.Accept" = { dictionary = "accept", probability = 0.5 }', ""]
    for operation, dictionary in (("confirmPage", "confirm_get"), ("confirm", "confirm_post"),
                                  ("blockPage", "block_get"), ("block", "block_post"),
                                  ("unsubscribePage", "unsubscribe"), ("unsubscribe", "unsubscribe"),
                                  ("preferences", "preferences"), ("leaveLists", "preferences")):
        lines += ["[[operations]]", f'include-operation-id = "{operation}"',
                  f'parameters = {{ "path.token" = {{ dictionary = "{dictionary}", probability = 0.5 }} }}', ""]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))


def metrics_5xx(base):
    status, text = request(base, "GET", "/metrics")
    check(status == 200, f"/metrics: {status}")
    return [line for line in text.splitlines() if re.search(r'status="5\d\d"', line)]


def run(work):
    check(os.access(BINARY, os.X_OK), f"no listgate binary at {BINARY} (swift build, or set LISTGATE_BIN)")
    check(os.access(SCHEMATHESIS, os.X_OK), f"no schemathesis at {SCHEMATHESIS} (make e2e installs it)")
    db = os.path.join(work, "listgate.sqlite3")
    sender_token = seed_database(db)
    children = []
    try:
        base, server = start_server(work, db, children)
        real = fetch_real_values(work, base, sender_token)
        config = os.path.join(work, "schemathesis.toml")
        write_config(config, real, sender_token)
        environment = dict(os.environ, SCHEMATHESIS_HOOKS="schemathesis_hooks",
                           PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""))
        command = [SCHEMATHESIS, "--config-file", config, "run", os.path.join(REPO, "openapi.yaml"),
                   "--url", base,
                   "--checks", ",".join(CHECKS), "--max-examples", EXAMPLES, "--seed", SEED,
                   "--generation-database", "none", "--workers", "1",
                   "--report", "ndjson", "--report-dir", os.path.join(work, "report")]
        print("api fuzz: " + " ".join(command).replace(sender_token, "$TOKEN"), flush=True)
        result = subprocess.run(command, env=environment, cwd=work)
        check(server.poll() is None, "listgate serve died during the run; see serve.log")
        check(request(base, "GET", "/healthz")[0] == 200, "listgate serve is unhealthy after the run")
        errors = metrics_5xx(base)
        check(not errors, "the server counted 5xx answers:\n" + "\n".join(errors))
        check(result.returncode == 0, f"schemathesis found failures (exit {result.returncode}, seed {SEED})")
    finally:
        for child in reversed(children):
            child.terminate()
            child.wait(10)


def main():
    started = time.monotonic()
    work = tempfile.mkdtemp(prefix="listgate-fuzz-")
    keep = bool(os.environ.get("FUZZ_KEEP"))
    try:
        run(work)
    except Failure as failure:
        print(f"api fuzz: FAILED: {failure}", file=sys.stderr)
        print(f"api fuzz: the server's log and the report are in {work}", file=sys.stderr)
        keep = True
        return 1
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"api fuzz: no 5xx, responses as documented ({time.monotonic() - started:.0f} s, seed {SEED})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
