#!/usr/bin/env python3
"""Builds the preflight benchmark's message, as a sender would render it (Python's email
package): 1 MiB multipart/alternative to one member, whose text part carries a pasted file
of N subscribers' addresses (System Consultant's 13,011) padded with Japanese text.
Usage: preflight_message.py TO LIST_UNSUBSCRIBE N ROWS OUT.eml"""
import sys
from email import policy
from email.message import EmailMessage

to, list_unsubscribe, count, rows, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
step = max(1, rows // count)
# Spread over the list, and never the recipient (the first member of the stream).
addresses = [f"reader{1 + step // 2 + i * step:07d}@example.net" for i in range(count)]
unsubscribe = list_unsubscribe.strip("<>")
footer = f"株式会社サンプル\n〒100-0001 東京都千代田区千代田1-1\nお問い合わせ: https://example.org/contact\n配信停止: {unsubscribe}\n"
text = "購読者一覧\n" + "\n".join(addresses) + "\n"
filler = "今月のお知らせです。新しい機能をご案内します。\n"
while len((text + footer).encode()) + len(filler.encode()) < (1 << 20) - 4096:
    text += filler
message = EmailMessage(policy=policy.SMTP.clone(max_line_length=998))
message["From"] = "News <news@example.org>"
message["To"] = to
message["Subject"] = "今月のお知らせ"
message["List-Unsubscribe"] = list_unsubscribe
message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
message.set_content(text + footer, charset="utf-8", cte="8bit")
message.add_alternative(f"<p>今月のお知らせです。</p><p>{footer}</p>".replace("\n", "<br>\n"), subtype="html", cte="8bit")
with open(out, "wb") as file:
    file.write(message.as_bytes())
