"""Schemathesis hooks for Tests/E2E/api_fuzz.py (loaded through SCHEMATHESIS_HOOKS).

Two checks that schemathesis does not make by itself:

* ndjson_lines_conform: schemathesis 4 cannot validate `application/x-ndjson` answers
  against OpenAPI 3.1 (it skips them with a warning). listgate's NDJSON schemas describe
  one line, so every line is parsed and validated against the documented schema.
* every_operation_succeeds: a fuzz run that only ever meets 400s proves little. After the
  run, every operation must have answered 2xx at least once (the fuzz script hands
  schemathesis real tokens, snapshot ids, slugs and addresses through dictionaries), but
  the provider webhooks signed with keys it cannot hold (SIGNED_BY_PROVIDERS).
"""

import json

import schemathesis

NDJSON = "application/x-ndjson"

# Provider webhooks whose requests carry a signature by a key the fuzzer cannot hold (an
# SNS certificate's, SendGrid's ECDSA key, Mailgun's HMAC key): generated requests can only
# be refused (401), which the other checks still judge. Their accepted paths are covered by
# Tests/ListgateServerTests/ProviderWebhookRoutesTests.swift and the binary's
# Tests/listgateTests/ProviderWebhookServeTests.swift. Postmark's webhook is not here: the
# sweep has its Basic credentials.
SIGNED_BY_PROVIDERS = {
    "POST /webhooks/ses/{slug}",
    "POST /webhooks/sendgrid/{slug}",
    "POST /webhooks/mailgun/{slug}",
}


def media_type(response):
    values = response.headers.get("content-type") or response.headers.get("Content-Type") or []
    value = values[0] if isinstance(values, list) and values else values or ""
    return value.split(";")[0].strip().lower()


@schemathesis.check
def ndjson_lines_conform(ctx, response, case):
    """Every line of an NDJSON answer is a JSON object valid against the documented schema."""
    if media_type(response) != NDJSON:
        return None
    definition = case.operation.responses.find_by_status_code(response.status_code)
    if definition is None:
        return None
    resolved = definition.get_schema(NDJSON)
    if resolved.schema is None:
        raise AssertionError(f"{response.status_code} {NDJSON} answer has no documented schema")
    validator = definition.get_validator(NDJSON, resolved.schema)
    body = response.content
    if body and not body.endswith(b"\n"):
        raise AssertionError("the NDJSON body does not end with a newline")
    for number, line in enumerate(body.splitlines(), start=1):
        try:
            value = json.loads(line)
        except ValueError as error:
            raise AssertionError(f"NDJSON line {number} is not JSON ({error}): {line[:200]!r}")
        problems = [error.message for error in validator.iter_errors(value)]
        if problems:
            raise AssertionError(f"NDJSON line {number} violates the schema: {problems}: {value}")
    return None


@schemathesis.check
class every_operation_succeeds:
    """Fail the run if an operation never answered 2xx."""

    def __init__(self):
        self.tested = set()
        self.succeeded = set()

    def after_response(self, ctx, response, case):
        self.tested.add(case.operation.label)
        if 200 <= response.status_code < 300:
            self.succeeded.add(case.operation.label)

    def after_run(self, ctx):
        never = sorted(label for label in self.tested - self.succeeded if label not in SIGNED_BY_PROVIDERS)
        if never:
            raise AssertionError("never answered 2xx: " + ", ".join(never))
