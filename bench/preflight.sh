#!/usr/bin/env bash
# Preflight benchmark (issue: the sender's guard). A list of 1,000,000 subscribers; a
# release `listgate serve`; a 1 MiB newsletter to one member whose text part carries
# 13,011 of the list's addresses (System Consultant's file), rendered by Python's email
# package. POSTed to the preflight 10 times: median and max. Reference in the same run:
# Python's email parser and an address regex over the same message, plus sqlite3 asking
# the same subscriptions which of those addresses are the list's (what a careful sender
# would script by hand). Then the guard alone, in process (PreflightBenchmark).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/listgate
rows=${PREFLIGHT_ROWS:-1000000}
found=${PREFLIGHT_ADDRESSES:-13011}
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
db="$work/bench.sqlite3"
base="http://127.0.0.1:$port"
$bin migrate --db "$db" > /dev/null
$bin lists create news --name "週刊お知らせ" --from "News <news@example.org>" --db "$db" > /dev/null
$bin lists update news --legal-name "株式会社サンプル" --postal-address "〒100-0001 東京都千代田区千代田1-1" \
  --contact https://example.org/contact --db "$db" > /dev/null
sqlite3 "$db" <<SQL
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $rows)
INSERT INTO addresses (email, identity_key, address_hash, created_at)
SELECT printf('reader%07d@example.net', i), printf('reader%07d@example.net', i), lower(hex(randomblob(32))),
       '2026-01-01T00:00:00.000Z' FROM n;
INSERT INTO subscriptions (list_id, address_id, status, source, created_at, updated_at, subscribed_at)
SELECT 1, id, 'active', 'admin', created_at, created_at, created_at FROM addresses;
SQL
token=$($bin tokens create --list news --db "$db")
LISTGATE_RATE_LIMITS=off LISTGATE_BASE_URL="$base" $bin serve --db "$db" --port "$port" --smtp-url "file://$work/mail" \
  > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do curl -sf "$base/healthz" > /dev/null 2>&1 && break; sleep 0.1; done
api="$base/api/v1"
id=$(curl -sf -X POST -H "Authorization: Bearer $token" "$api/lists/news/snapshots" \
  | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
# The sender renders from the first line of the stream.
line=$(curl -sf -H "Authorization: Bearer $token" "$api/snapshots/$id/recipients" | head -1 || true)
to=$(echo "$line" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["email"])')
list_unsubscribe=$(echo "$line" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["list_unsubscribe"])')
/usr/bin/python3 bench/preflight_message.py "$to" "$list_unsubscribe" "$found" "$rows" "$work/campaign.eml"
octets=$(wc -c < "$work/campaign.eml")

post() {
  curl -sf -o "$work/answer.json" -w '%{time_total}\n' -X POST -H "Authorization: Bearer $token" \
    -H "Content-Type: message/rfc822" --data-binary "@$work/campaign.eml" "$api/snapshots/$id/preflight"
}
post > /dev/null  # warm: the first read of the addresses' index pages
times=$(for _ in $(seq 10); do post; done)
read -r verdict subscribers < <(/usr/bin/python3 -c 'import json; a=json.load(open("'"$work/answer.json"'")); print(a["verdict"], a["subscriber_addresses"])')

# The reference: parse, find addresses, ask sqlite3 which are the list's.
cat > "$work/reference.py" <<'PY'
import email, json, re, sqlite3, sys, time
from email import policy
raw = open(sys.argv[1], "rb").read()
pattern = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
times = []
for _ in range(10):
    start = time.perf_counter()
    message = email.message_from_bytes(raw, policy=policy.default)
    found = set()
    for part in message.walk():
        if part.get_content_maintype() == "text":
            found.update(a.lower() for a in pattern.findall(part.get_content()))
    database = sqlite3.connect(sys.argv[2])
    keys = sorted(found)
    hits = 0
    for i in range(0, len(keys), 5000):
        hits += database.execute("""SELECT count(*) FROM json_each(?) AS asked
                                    CROSS JOIN addresses a ON a.identity_key = asked.value
                                    CROSS JOIN subscriptions s ON s.address_id = a.id AND s.list_id = 1""",
                                 (json.dumps(keys[i:i + 5000]),)).fetchone()[0]
    database.close()
    times.append(time.perf_counter() - start)
times.sort()
print(f"{times[len(times) // 2] * 1000:.0f} {times[-1] * 1000:.0f} {hits}")
PY
read -r reference_median reference_max reference_hits < <(/usr/bin/python3 "$work/reference.py" "$work/campaign.eml" "$db")

stats() { /usr/bin/python3 -c "import sys; t=sorted(float(x)*1000 for x in sys.argv[1:]); print(f'{t[len(t)//2]:.0f} {t[-1]:.0f}')" $times; }
read -r median max < <(stats)
echo "preflight, $((octets / 1024)) KiB with $found subscriber addresses on $rows: median ${median} ms, max ${max} ms (target < 200 ms); verdict $verdict, $subscribers subscribers counted"
echo "reference (Python email + regex + sqlite3 json_each, same message, same file): median ${reference_median} ms, max ${reference_max} ms, $reference_hits found"
echo "preflight / reference: $(/usr/bin/python3 -c "print(f'{$reference_median / $median:.2f}')")x as fast"
if [ -x .build/release/PreflightBenchmark ]; then
  echo "the guard alone, in process (.build/release/PreflightBenchmark):"
  .build/release/PreflightBenchmark 10
fi
