#!/usr/bin/env python3
"""Renders a newsletter as an independent sender would: Python's email package,
EmailMessage with policy.SMTP (CRLF, folded headers, encoded words), from a JSON
description on stdin; writes the message's bytes on stdout. Tests preflight what
this renders, so listgate is judged on mail it did not write itself.

The description: from, to, cc, bcc (lists of addresses), subject, list_unsubscribe,
list_unsubscribe_post (bool), text, html (either may be null), text_cte, html_cte
("8bit", "base64", "quoted-printable"), charset ("utf-8" or "iso-2022-jp", for text).
"""
import json
import sys
from email import policy
from email.message import EmailMessage


def main():
    spec = json.load(sys.stdin)
    # policy.SMTP folds at 78 columns, and folds a long List-Unsubscribe URL by MIME-encoding
    # it (=?utf-8?q?...?=), which mail clients do not decode there: a sender writes its
    # headers up to the 998 octets RFC 5322 allows, as mailers do.
    message = EmailMessage(policy=policy.SMTP.clone(max_line_length=998))
    message["Date"] = "Sat, 21 Nov 2026 15:42:08 +0900"
    message["From"] = spec["from"]
    for field in ("to", "cc", "bcc"):
        if spec.get(field):
            message[field.capitalize()] = ", ".join(spec[field])
    message["Subject"] = spec.get("subject", "")
    message["Message-ID"] = "<campaign-1@mailer.example.org>"
    if spec.get("list_unsubscribe"):
        message["List-Unsubscribe"] = spec["list_unsubscribe"]
    if spec.get("list_unsubscribe_post"):
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    text, html = spec.get("text"), spec.get("html")
    charset = spec.get("charset", "utf-8")
    if text is not None:
        message.set_content(text, subtype="plain", charset=charset, cte=spec.get("text_cte", "8bit"))
        if html is not None:
            message.add_alternative(html, subtype="html", charset="utf-8", cte=spec.get("html_cte", "8bit"))
    elif html is not None:
        message.set_content(html, subtype="html", charset="utf-8", cte=spec.get("html_cte", "8bit"))
    sys.stdout.buffer.write(message.as_bytes())


if __name__ == "__main__":
    main()
