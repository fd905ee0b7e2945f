#!/usr/bin/env bash
# Outbound webhook benchmark (issue: feedback from senders, part 5). A release `listgate
# serve` delivers N queued webhook deliveries (default 20,000) to a local receiver, nginx
# answering every POST 200 (a receiver that is never the bottleneck, so the figure is
# listgate's); the reference is the same nginx under wrk POSTing the same body with the
# same headers, with as many connections as listgate opens to one receiver (its lanes, 4),
# and, for scale, with 32.
# The deliveries are seeded with SQL: a real import makes the subscribers (imports queue no
# webhooks), then one delivery per address is inserted as the ledger's trigger would write
# it; the worker does all the rest (claim, body, signature, POST, record) as in production.
# The rate is N over the span between the first and the last `delivered_at`, so the
# server's start is not counted. On a shared machine the rates follow the load, so the
# CPU each side spends per POST is printed too (wrk's from time(1); listgate's from
# /proc over the delivery, its receiver thread's with the time it waited for a CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${LISTGATE_BIN:-.build/release/listgate}
count=${WEBHOOK_BENCH_COUNT:-20000}
work=$(mktemp -d)
server=""; nginx_pid=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
receiver_port=$(free_port)
port=$(free_port)

mkdir -p "$work/nginx/temp"
cat > "$work/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 512; }
http {
    access_log off;
    client_body_temp_path $work/nginx/temp;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$receiver_port;
        location / { client_max_body_size 64k; return 200 "ok"; }
    }
}
CONF
/usr/sbin/nginx -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" -g "daemon off;" &
nginx_pid=$!
for _ in $(seq 50); do curl -sf -X POST -d x "http://127.0.0.1:$receiver_port/hook" > /dev/null 2>&1 && break; sleep 0.1; done

db="$work/bench.sqlite3"
$bin migrate --db "$db" > /dev/null
$bin lists create bench --name "ベンチマーク" --from "Bench <bench@example.org>" --db "$db" > /dev/null
/usr/bin/python3 -c "
import sys
print('email')
for i in range($count): print(f'reader{i:07d}@example.net')
" > "$work/people.csv"
$bin import "$work/people.csv" --list bench --consent-note bench --db "$db" > /dev/null
$bin webhooks add "http://127.0.0.1:$receiver_port/hook" --list bench --db "$db" > "$work/added.txt"
event=$(sqlite3 "$db" "SELECT max(id) FROM events WHERE type = 'imported'")
now=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
sqlite3 "$db" "INSERT INTO webhook_deliveries (public_id, webhook_id, event_id, type, email, address_hash, created_at, first_due_at, next_attempt_at)
  SELECT 'msg_' || lower(hex(randomblob(12))), (SELECT id FROM webhooks), $event, 'subscribed', email, address_hash, '$now', '$now', '$now'
  FROM addresses"
queued=$(sqlite3 "$db" "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'")

# The reference: the same body and headers as one delivery of this run, POSTed by wrk.
body=$(sqlite3 "$db" "SELECT '{\"id\":\"' || d.public_id || '\",\"type\":\"subscribed\",\"list\":\"bench\",\"email\":\"' || d.email || '\",\"address_hash\":\"' || d.address_hash || '\",\"occurred_at\":\"' || e.occurred_at || '\",\"detail\":{\"status\":\"active\"}}' FROM webhook_deliveries d JOIN events e ON e.id = d.event_id LIMIT 1")
cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = [[$body]]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["webhook-id"] = "msg_000000000000000000000000"
wrk.headers["webhook-timestamp"] = "$(date +%s)"
wrk.headers["webhook-signature"] = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
LUA
rate() { awk '/Requests\/sec/ {print $2}'; }
wrk4=$(/usr/bin/time -f "%U %S" -o "$work/wrk4.cpu" wrk -t2 -c4 -d10s -s "$work/post.lua" "http://127.0.0.1:$receiver_port/hook" | rate)
wrk4_us=$(awk -v rate="$wrk4" '{printf "%.0f", ($1 + $2) / (rate * 10) * 1e6}' "$work/wrk4.cpu")
wrk32=$(wrk -t2 -c32 -d10s -s "$work/post.lua" "http://127.0.0.1:$receiver_port/hook" | rate)

$bin serve --db "$db" --port "$port" --smtp-url "file://$work/mail" > "$work/server.log" 2>&1 &
server=$!
# CPU ticks of the process, and cpu/run-queue-wait ns of its webhook-poster thread.
cpu_now() {
  local ticks poster=(0 0)
  ticks=$(awk '{print $14 + $15}' "/proc/$server/stat")
  for task in /proc/$server/task/*; do
    if [ "$(cat "$task/comm" 2>/dev/null)" = webhook-poster ]; then read -r -a poster < "$task/schedstat"; fi
  done
  echo "$ticks ${poster[0]} ${poster[1]}"
}
deadline=$((SECONDS + 600))
started=""
while true; do
  pending=$(sqlite3 "$db" "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'")
  if [ -z "$started" ] && [ "$pending" != "$queued" ]; then started=$(cpu_now); started_pending=$pending; fi
  [ "$pending" = 0 ] && break
  if [ $SECONDS -gt $deadline ]; then echo "not every delivery was made within 10 minutes" >&2; break; fi
  sleep 0.05
done
[ -n "$started" ] || { started=$(cpu_now); started_pending=$pending; }
read -r ticks0 poster_cpu0 poster_wait0 <<< "$started"
read -r ticks1 poster_cpu1 poster_wait1 <<< "$(cpu_now)"
measured=$((started_pending - pending)); [ "$measured" -gt 0 ] || measured=1
rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$server/status")
kill $server; wait $server 2>/dev/null || true; server=""
read -r delivered span failed < <(sqlite3 -separator ' ' "$db" "SELECT
  (SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'),
  (SELECT (julianday(max(delivered_at)) - julianday(min(delivered_at))) * 86400 FROM webhook_deliveries WHERE status = 'delivered'),
  (SELECT count(*) FROM webhook_deliveries WHERE status <> 'delivered')")
listgate_rate=$(/usr/bin/python3 -c "print(f'{$delivered / max($span, 0.001):.0f}')")

echo "deliveries queued:         $queued, delivered $delivered, not delivered $failed"
echo "listgate serve delivered:  $listgate_rate deliveries/s (4 lanes to one receiver; claim, sign, POST, record)"
echo "wrk, 4 connections:        $wrk4 POSTs/s of the same body to the same nginx"
echo "wrk, 32 connections:       $wrk32 POSTs/s"
echo "listgate / wrk (4):        $(/usr/bin/python3 -c "print(f'{$listgate_rate / $wrk4:.2f}')")x (target >= 0.5x)"
echo "listgate / wrk (32):       $(/usr/bin/python3 -c "print(f'{$listgate_rate / $wrk32:.2f}')")x"
echo "CPU per POST:              listgate $(( (ticks1 - ticks0) * 10000000 / measured / 1000 )) µs (its receiver thread $(( (poster_cpu1 - poster_cpu0) / measured / 1000 )) µs, and $(( (poster_wait1 - poster_wait0) / measured / 1000 )) µs waiting for a CPU), wrk -c4 $wrk4_us µs"
echo "load average at the end:   $(cut -d' ' -f1-3 /proc/loadavg)"
echo "server peak RSS:           $((rss_kb / 1024)) MB"
