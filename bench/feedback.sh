#!/usr/bin/env bash
# Feedback ingest benchmark (issue 17). 1,000,000 active subscribers; a release build of
# `listgate serve` takes 100,000 hard bounces, by recipient_id, as one NDJSON post (in
# random order, as a sender's bounce log is), against SQLite applying the same status
# changes in one `UPDATE … FROM` plus the suppressions insert, on a copy of the same
# database in the same run. listgate does more per bounce than the reference: it reads
# and checks the NDJSON, keeps the report id (idempotency), appends a `bounced` event, and
# answers the counts.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/listgate
rows=${FEEDBACK_ROWS:-1000000}
bounces=${FEEDBACK_BOUNCES:-100000}
work=$(mktemp -d)
server=
trap 'if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi; rm -rf "$work"' EXIT
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
db="$work/bench.sqlite3"
$bin migrate --db "$db" > /dev/null
$bin lists create news --name "週刊お知らせ" --from "News <news@example.org>" --db "$db" > /dev/null
# Seeded with SQL, as bench/sender.sh does (the triggers give each subscription its ids).
sqlite3 "$db" <<SQL
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $rows)
INSERT INTO addresses (email, identity_key, address_hash, created_at)
SELECT printf('reader%07d@example.net', i), printf('reader%07d@example.net', i), lower(hex(randomblob(32))),
       '2026-01-01T00:00:00.000Z' FROM n;
INSERT INTO subscriptions (list_id, address_id, name, status, source, created_at, updated_at, subscribed_at)
SELECT 1, id, CASE WHEN id % 2 = 0 THEN '山田 太郎' END, 'active', 'admin', created_at, created_at, created_at FROM addresses;
SQL
token=$($bin tokens create --list news --scope feedback:write --db "$db")
# The bounces: every tenth member, in random order.
sqlite3 "$db" "SELECT json_object('id', 'mta-' || s.id, 'type', 'hard_bounce', 'recipient_id', s.recipient_id,
    'occurred_at', '2026-11-21T09:30:00Z', 'detail', json_object('smtp_status', '5.1.1'))
    FROM subscriptions s WHERE s.id % ($rows / $bounces) = 0 ORDER BY random() LIMIT $bounces" > "$work/bounces.ndjson"
# The reference's copy, taken before the server touches anything, with the same ids in a table.
cp "$db" "$work/reference.sqlite3"
/usr/bin/python3 -c 'import json, sys
for line in sys.stdin: print(json.loads(line)["recipient_id"])' < "$work/bounces.ndjson" > "$work/bounced_ids.txt"
sqlite3 "$work/reference.sqlite3" <<SQL
CREATE TABLE bounced_ids (recipient_id TEXT NOT NULL);
.mode list
.import $work/bounced_ids.txt bounced_ids
SQL

LISTGATE_RATE_LIMITS=off $bin serve --db "$db" --port "$port" --smtp-url "file://$work/mail" > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" > /dev/null 2>&1 && break; sleep 0.1; done
now() { date +%s.%N; }

start=$(now)
answer=$(curl -sf -X POST -H "Authorization: Bearer $token" -H "Content-Type: application/x-ndjson" \
    --data-binary "@$work/bounces.ndjson" "http://127.0.0.1:$port/api/v1/lists/news/feedback")
listgate_seconds=$(echo "$(now) - $start" | bc)
accepted=$(echo "$answer" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["accepted"])')
kill "$server"; wait "$server" 2>/dev/null || true; server=
bounced=$(sqlite3 "$db" "SELECT count(*) FROM subscriptions WHERE status = 'bounced'")

# The reference: the same changes in one transaction, durable as listgate's are (WAL,
# synchronous NORMAL), with no checkpoint in it (serve checkpoints off the request path).
start=$(now)
sqlite3 "$work/reference.sqlite3" > /dev/null <<SQL
PRAGMA synchronous = NORMAL;
PRAGMA wal_autocheckpoint = 0;
BEGIN;
UPDATE subscriptions SET status = 'bounced', unsubscribed_at = '2026-11-21T09:31:00.000Z', updated_at = '2026-11-21T09:31:00.000Z'
FROM bounced_ids b WHERE subscriptions.recipient_id = b.recipient_id AND subscriptions.list_id = 1
  AND subscriptions.status IN ('pending', 'active');
INSERT INTO suppressions (list_id, address_hash, reason, created_at)
SELECT 1, a.address_hash, 'bounced', '2026-11-21T09:31:00.000Z'
FROM bounced_ids b JOIN subscriptions s ON s.recipient_id = b.recipient_id JOIN addresses a ON a.id = s.address_id
ON CONFLICT DO NOTHING;
COMMIT;
SQL
sqlite_seconds=$(echo "$(now) - $start" | bc)
reference_bounced=$(sqlite3 "$work/reference.sqlite3" "SELECT count(*) FROM subscriptions WHERE status = 'bounced'")

ratio() { /usr/bin/python3 -c "print(f'{$1:.2f}')"; }
echo "feedback ingest:  $accepted of $bounces hard bounces accepted ($bounced bounced) against $rows active subscribers in ${listgate_seconds}s = $(ratio "$bounces / $listgate_seconds") events/s"
echo "UPDATE … FROM:    $reference_bounced bounced + suppressions in ${sqlite_seconds}s = $(ratio "$bounces / $sqlite_seconds") rows/s"
echo "listgate / UPDATE … FROM: $(ratio "$sqlite_seconds / $listgate_seconds")x (target >= 0.5x)"
