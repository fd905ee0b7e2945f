#!/usr/bin/env bash
# Sender API benchmark (issue: sender API). 1,000,000 active subscribers; a release build
# of `listgate serve` freezes them into a snapshot, then streams the recipients NDJSON
# (read to the end by curl), against `sqlite3 -json` printing the same rows from the
# same database file in the same run. Also the server's RSS growth while streaming.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/listgate
rows=${SENDER_ROWS:-1000000}
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
db="$work/bench.sqlite3"
$bin migrate --db "$db" > /dev/null
$bin lists create news --name "週刊お知らせ" --from "News <news@example.org>" --db "$db" > /dev/null
# Seeded with SQL (the import command has its own benchmark): distinct addresses, half
# of them with a Japanese name.
sqlite3 "$db" <<SQL
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $rows)
INSERT INTO addresses (email, identity_key, address_hash, created_at)
SELECT printf('reader%07d@example.net', i), printf('reader%07d@example.net', i), lower(hex(randomblob(32))),
       '2026-01-01T00:00:00.000Z' FROM n;
INSERT INTO subscriptions (list_id, address_id, name, status, source, created_at, updated_at, subscribed_at)
SELECT 1, id, CASE WHEN id % 2 = 0 THEN '山田 太郎' END, 'active', 'admin', created_at, created_at, created_at FROM addresses;
SQL
token=$($bin tokens create --list news --db "$db")
LISTGATE_RATE_LIMITS=off $bin serve --db "$db" --port "$port" --smtp-url "file://$work/mail" > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" > /dev/null 2>&1 && break; sleep 0.1; done
now() { date +%s.%N; }
api="http://127.0.0.1:$port/api/v1"

start=$(now)
snapshot=$(curl -sf -X POST -H "Authorization: Bearer $token" "$api/lists/news/snapshots")
snapshot_seconds=$(echo "$(now) - $start" | bc)
id=$(echo "$snapshot" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
count=$(echo "$snapshot" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')

# Peak RSS is reset (clear_refs 5) so the growth measured is the stream's alone.
rss_before_kb=$(awk '/VmRSS/ {print $2}' "/proc/$server/status")
echo 5 > "/proc/$server/clear_refs" 2>/dev/null || true
start=$(now)
curl -sf -H "Authorization: Bearer $token" "$api/snapshots/$id/recipients" > /dev/null
stream_seconds=$(echo "$(now) - $start" | bc)
peak_kb=$(awk '/VmHWM/ {print $2}' "/proc/$server/status")
# Counted in a second, untimed read: both timed readers write to /dev/null.
read -r streamed stream_bytes < <(curl -sf -H "Authorization: Bearer $token" "$api/snapshots/$id/recipients" | wc -lc)

start=$(now)
sqlite3 -json "$db" "SELECT s.recipient_id, m.email, m.name, m.subscribed_at, s.public_id FROM snapshot_members m
    JOIN subscriptions s ON s.id = m.subscription_id WHERE m.snapshot_id = 1 ORDER BY m.identity_key" > /dev/null
sqlite_seconds=$(echo "$(now) - $start" | bc)
sqlite_bytes=$(sqlite3 -json "$db" "SELECT s.recipient_id, m.email, m.name, m.subscribed_at, s.public_id FROM snapshot_members m
    JOIN subscriptions s ON s.id = m.subscription_id WHERE m.snapshot_id = 1 ORDER BY m.identity_key" | wc -c)

ratio() { /usr/bin/python3 -c "print(f'{$1:.2f}')"; }
echo "snapshot of $count active subscribers:  ${snapshot_seconds}s (target < 3s)"
echo "recipients stream:  $streamed lines, $((stream_bytes / 1048576)) MB in ${stream_seconds}s = $(ratio "$streamed / $stream_seconds") rows/s"
echo "sqlite3 -json:      same rows, $((sqlite_bytes / 1048576)) MB in ${sqlite_seconds}s = $(ratio "$count / $sqlite_seconds") rows/s"
echo "stream / sqlite3:   $(ratio "$sqlite_seconds / $stream_seconds")x (target >= 0.5x)"
echo "server RSS growth while streaming: $(( (peak_kb - rss_before_kb) / 1024 )) MB (before ${rss_before_kb} kB, peak ${peak_kb} kB; target <= 32 MB)"
