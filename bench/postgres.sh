#!/usr/bin/env bash
# PostgreSQL benchmark (issue: PostgreSQL for many instances). A private PostgreSQL 15 with
# its durable defaults (fsync on, synchronous_commit on: what a deployment runs), started by
# Tests/postgres.sh on a loopback port, and release builds of `listgate serve`:
#  1. subscribe POST vs the same server's GET /healthz, on SQLite and on PostgreSQL in the
#     same run (wrk, 32 connections, sending paused so the figure is the front door's);
#  2. two instances on one PostgreSQL database vs one (two wrk at once, 16 connections each);
#  3. the recipients stream of a 1M-member snapshot vs psql's \copy of the same rows;
#  4. the import of 1M rows vs COPY of the same CSV into a bare table, and the bound for
#     this schema (COPY into a staging table, then the schema's rows made with SQL alone);
#  5. (run with 3, on its list) bench/preflight.sh's 1 MiB message with 13,011 subscribers'
#     addresses, preflighted on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${LISTGATE_TEST_POSTGRES_URL:-}" ]; then
  PG_SERVER_OPTIONS="-c shared_buffers=256MB" exec Tests/postgres.sh run -- "$0" "$@"
fi
bin=.build/release/listgate
rows=${POSTGRES_BENCH_ROWS:-1000000}
seconds=${POSTGRES_BENCH_SECONDS:-10}
server_url=$LISTGATE_TEST_POSTGRES_URL
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ratio() { /usr/bin/python3 -c "print(f'{$1:.2f}')"; }
now() { date +%s.%N; }
rate() { awk '/Requests\/sec/ {print $2}'; }
new_database() {
  local name="lg_bench_$1"
  psql -X -q -d "$server_url" -c "CREATE DATABASE $name" > /dev/null
  echo "${server_url%/postgres}/$name"
}
serve() {  # serve DB PORT: a server with rate limits off and mail to files
  LISTGATE_RATE_LIMITS=off $bin serve --db "$1" --port "$2" --smtp-url "file://$work/mail-$2" > "$work/server-$2.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$2/healthz" > /dev/null 2>&1 && return; sleep 0.1; done
  echo "listgate serve on port $2 did not come up" >&2; cat "$work/server-$2.log" >&2; exit 1
}
prepare() {  # prepare DB: migrated, one list, sending paused
  $bin migrate --db "$1" > /dev/null
  $bin lists create bench --name "ベンチマーク" --from "Bench <bench@example.org>" --db "$1" > /dev/null
  $bin outbox pause --reason benchmark --db "$1" > /dev/null
}

# 1. The front door on each store.
sqlite_db="$work/bench.sqlite3"
prepare "$sqlite_db"
port=$(free_port); serve "$sqlite_db" "$port"
sqlite_healthz=$(wrk -t2 -c32 -d${seconds}s "http://127.0.0.1:$port/healthz" | rate)
sqlite_subscribe=$(wrk -t2 -c32 -d${seconds}s -s bench/subscribe.lua "http://127.0.0.1:$port" -- 0 sqlite | rate)
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

pg_db=$(new_database front)
prepare "$pg_db"
port=$(free_port); serve "$pg_db" "$port"
pg_healthz=$(wrk -t2 -c32 -d${seconds}s "http://127.0.0.1:$port/healthz" | rate)
pg_subscribe=$(wrk -t2 -c32 -d${seconds}s -s bench/subscribe.lua "http://127.0.0.1:$port" -- 0 pgone | rate)

# 2. A second instance on the same database; both loaded at once.
port2=$(free_port); serve "$pg_db" "$port2"
wrk -t1 -c16 -d${seconds}s -s bench/subscribe.lua "http://127.0.0.1:$port" -- 0 pgtwoa > "$work/wrk-a.txt" &
wrk_a=$!
wrk -t1 -c16 -d${seconds}s -s bench/subscribe.lua "http://127.0.0.1:$port2" -- 0 pgtwob > "$work/wrk-b.txt"
wait $wrk_a
two=$(/usr/bin/python3 -c "print(f'{$(rate < "$work/wrk-a.txt") + $(rate < "$work/wrk-b.txt"):.0f}')")
for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; pids=()
stored=$(psql -X -A -t -d "$pg_db" -c "SELECT count(*) FROM form_requests")
decided=$(psql -X -A -t -d "$pg_db" -c "SELECT count(*) FROM submissions")

sqlite_ratio=$(ratio "$sqlite_subscribe / $sqlite_healthz")
pg_ratio=$(ratio "$pg_subscribe / $pg_healthz")
echo "SQLite:      GET /healthz $sqlite_healthz/s, POST subscribe $sqlite_subscribe/s = ${sqlite_ratio}x"
echo "PostgreSQL:  GET /healthz $pg_healthz/s, POST subscribe $pg_subscribe/s = ${pg_ratio}x"
echo "PostgreSQL ratio / SQLite ratio: $(ratio "$pg_ratio / $sqlite_ratio")x (target >= 0.5x)"
echo "two instances on one PostgreSQL database: $two subscribe posts/s together vs $pg_subscribe/s for one = $(ratio "$two / $pg_subscribe")x"
echo "  (after both loads: $decided posts decided, $stored still waiting for the desk)"

# 3. The recipients stream of a 1M-member snapshot.
stream_db=$(new_database stream)
$bin migrate --db "$stream_db" > /dev/null
$bin lists create news --name "週刊お知らせ" --from "News <news@example.org>" --db "$stream_db" > /dev/null
psql -X -q -v ON_ERROR_STOP=1 -d "$stream_db" <<SQL
INSERT INTO addresses (email, identity_key, address_hash, created_at)
SELECT format('reader%s@example.net', lpad(i::text, 7, '0')), format('reader%s@example.net', lpad(i::text, 7, '0')),
       encode(sha256(int8send(i)), 'hex'), '2026-01-01T00:00:00Z' FROM generate_series(1, $rows) AS i;
INSERT INTO subscriptions (list_id, address_id, name, status, source, created_at, updated_at, subscribed_at)
SELECT 1, id, CASE WHEN id % 2 = 0 THEN '山田 太郎' END, 'active', 'admin', created_at, created_at, created_at FROM addresses;
ANALYZE;
SQL
token=$($bin tokens create --list news --db "$stream_db")
port=$(free_port); serve "$stream_db" "$port"
api="http://127.0.0.1:$port/api/v1"
start=$(now)
snapshot=$(curl -sf -X POST -H "Authorization: Bearer $token" "$api/lists/news/snapshots")
snapshot_seconds=$(echo "$(now) - $start" | bc)
id=$(echo "$snapshot" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
rss_before_kb=$(awk '/VmRSS/ {print $2}' "/proc/${pids[-1]}/status")
echo 5 > "/proc/${pids[-1]}/clear_refs" 2>/dev/null || true
start=$(now)
curl -sf -H "Authorization: Bearer $token" "$api/snapshots/$id/recipients" > /dev/null
stream_seconds=$(echo "$(now) - $start" | bc)
peak_kb=$(awk '/VmHWM/ {print $2}' "/proc/${pids[-1]}/status")
streamed=$(curl -sf -H "Authorization: Bearer $token" "$api/snapshots/$id/recipients" | wc -l)
query="SELECT s.recipient_id, m.email, m.name, m.subscribed_at, s.public_id FROM snapshot_members m
    JOIN subscriptions s ON s.id = m.subscription_id WHERE m.snapshot_id = 1 ORDER BY m.identity_key"
start=$(now)
psql -X -q -d "$stream_db" -c "\\copy ($(echo $query)) TO STDOUT" > /dev/null
copy_seconds=$(echo "$(now) - $start" | bc)
# 5. The preflight of bench/preflight.sh on this list: 1 MiB carrying 13,011 subscribers'
# addresses, to the stream's first member; 10 posts after one to warm the index pages.
line=$(curl -sf -H "Authorization: Bearer $token" "$api/snapshots/$id/recipients" | head -1 || true)
to=$(echo "$line" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["email"])')
list_unsubscribe=$(echo "$line" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["list_unsubscribe"])')
/usr/bin/python3 bench/preflight_message.py "$to" "$list_unsubscribe" 13011 "$rows" "$work/campaign.eml"
preflight() {
  curl -sf -o "$work/preflight.json" -w '%{time_total}\n' -X POST -H "Authorization: Bearer $token" \
    -H "Content-Type: message/rfc822" --data-binary "@$work/campaign.eml" "$api/snapshots/$id/preflight"
}
preflight > /dev/null
read -r preflight_median preflight_max < <(for _ in $(seq 10); do preflight; done \
  | /usr/bin/python3 -c "import sys; t=sorted(float(x)*1000 for x in sys.stdin); print(f'{t[len(t)//2]:.0f} {t[-1]:.0f}')")
preflight_subscribers=$(/usr/bin/python3 -c "import json; print(json.load(open('$work/preflight.json'))['subscriber_addresses'])")
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; pids=()
echo "snapshot of $rows on PostgreSQL: ${snapshot_seconds}s"
echo "recipients stream: $streamed lines in ${stream_seconds}s = $(ratio "$streamed / $stream_seconds") rows/s"
echo "psql \\copy (same rows, same order): ${copy_seconds}s = $(ratio "$rows / $copy_seconds") rows/s"
echo "stream / psql \\copy: $(ratio "$copy_seconds / $stream_seconds")x (target >= 0.5x)"
echo "server RSS growth while streaming: $(( (peak_kb - rss_before_kb) / 1024 )) MB"
echo "preflight, 1 MiB with 13,011 subscriber addresses on $rows, on PostgreSQL: median ${preflight_median} ms, max ${preflight_max} ms (target < 200 ms; $preflight_subscribers subscribers counted)"

# 4. Import of 1M rows.
/usr/bin/python3 -c "
print('email,name')
for i in range($rows): print(f'member{i:07d}@example.jp,会員 {i}')
" > "$work/people.csv"
import_db=$(new_database import)
$bin migrate --db "$import_db" > /dev/null
$bin lists create news --name "週刊お知らせ" --from "News <news@example.org>" --db "$import_db" > /dev/null
start=$(now)
$bin import "$work/people.csv" --list news --consent-note benchmark --db "$import_db" > /dev/null
import_seconds=$(echo "$(now) - $start" | bc)
bare_db=$(new_database bare)
psql -X -q -d "$bare_db" -c "CREATE TABLE bare (email text, name text)"
start=$(now)
psql -X -q -d "$bare_db" -c "\\copy bare FROM '$work/people.csv' WITH (FORMAT csv, HEADER true)"
copy_in_seconds=$(echo "$(now) - $start" | bc)
# The bound for this schema: COPY into a staging table, then the rows listgate keeps for
# each person (address, subscription, event) made by SQL alone: no parsing, no keyed hash
# (a plain SHA-256 in its place), into the live tables with their indexes.
bound_db=$(new_database bound)
$bin migrate --db "$bound_db" > /dev/null
$bin lists create news --name "週刊お知らせ" --from "News <news@example.org>" --db "$bound_db" > /dev/null
start=$(now)
psql -X -q -v ON_ERROR_STOP=1 -d "$bound_db" <<SQL
CREATE TEMP TABLE staged (email text, name text);
\\copy staged FROM '$work/people.csv' WITH (FORMAT csv, HEADER true)
BEGIN;
INSERT INTO addresses (email, identity_key, address_hash, created_at)
  SELECT email, email, encode(sha256(convert_to(email, 'UTF8')), 'hex'), now() FROM staged;
INSERT INTO subscriptions (list_id, address_id, name, status, source, created_at, updated_at, subscribed_at)
  SELECT 1, a.id, s.name, 'active', 'import', now(), now(), now() FROM staged s JOIN addresses a ON a.identity_key = s.email;
INSERT INTO events (occurred_at, type, list_id, address_hash, source, detail)
  SELECT now(), 'imported', 1, address_hash, 'cli', '{"status":"active"}' FROM addresses;
COMMIT;
SQL
bound_seconds=$(echo "$(now) - $start" | bc)
echo "import of $rows rows: ${import_seconds}s = $(ratio "$rows / $import_seconds") rows/s"
echo "COPY of the same CSV into a bare table: ${copy_in_seconds}s = $(ratio "$rows / $copy_in_seconds") rows/s (import / that: $(ratio "$copy_in_seconds / $import_seconds")x)"
echo "the bound for this schema (COPY, then addresses, subscriptions and events by SQL alone): ${bound_seconds}s = $(ratio "$rows / $bound_seconds") rows/s (import / that: $(ratio "$bound_seconds / $import_seconds")x)"
