#!/usr/bin/env bash
# Form benchmark (issue: subscribe and confirm). A release build of `listgate serve`
# with rate limits off; wrk posts the subscribe form for distinct addresses, against
# GET /healthz of the same server in the same run. Sending is paused so the figure is
# the front door's: validate and record the post (one row, committed before the answer);
# the intake desk decides the posts meanwhile (render the confirmation, commit submission
# + mail + event), on the same writer, and the report says how many it had decided.
# Then the same work without HTTP: IntakeBenchmark calls the core's intake directly on a
# fresh database in the same kind of directory, which shows how much of a post is the
# core and its storage rather than the server.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/listgate
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
db="$work/bench.sqlite3"
$bin migrate --db "$db" > /dev/null
$bin lists create bench --name "ベンチマーク" --from "Bench <bench@example.org>" --db "$db" > /dev/null
$bin outbox pause --reason benchmark --db "$db" > /dev/null
LISTGATE_RATE_LIMITS=off $bin serve --db "$db" --port "$port" --smtp-url "file://$work/mail" > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" > /dev/null 2>&1 && break; sleep 0.1; done

rate() { awk '/Requests\/sec/ {print $2}'; }
healthz=$(wrk -t2 -c32 -d10s "http://127.0.0.1:$port/healthz" | rate)
subscribe=$(wrk -t2 -c32 -d10s -s bench/subscribe.lua "http://127.0.0.1:$port" -- 0 burst | rate)
# How far behind the ledger's sealer was at the end of the burst: the age of the oldest
# event its last pass sealed (README, "The ledger"), read from /metrics (loopback only).
seal_lag=$(curl -s "http://127.0.0.1:$port/metrics" | awk '$1 == "listgate_ledger_seal_lag_seconds" {print $2}')
# About 1,000 requests/s: 10 connections, each waiting 10 ms between requests.
paced=$(wrk -t2 -c10 -d10s --latency -s bench/subscribe.lua "http://127.0.0.1:$port" -- 10 paced)
paced_rate=$(echo "$paced" | rate)
p99=$(echo "$paced" | awk '$1 == "99%" {print $2}')
# About 2,000 requests/s: 20 connections, each waiting 10 ms.
paced2=$(wrk -t2 -c20 -d10s --latency -s bench/subscribe.lua "http://127.0.0.1:$port" -- 10 paced2)
paced2_rate=$(echo "$paced2" | rate)
p99_2=$(echo "$paced2" | awk '$1 == "99%" {print $2}')
rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$server/status")
# The server is stopped first so that the two do not share the CPUs.
kill $server; wait $server 2>/dev/null || true
core=$(.build/release/IntakeBenchmark "$work/core.sqlite3" 30000 32)
queued=$($bin outbox status --json --db "$db" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["counts"]["queued"])')
undecided=$(sqlite3 "$db" "SELECT count(*) FROM form_requests")

echo "GET /healthz:              $healthz requests/s"
echo "POST subscribe:            $subscribe requests/s ($queued confirmation mails queued in all; $undecided posts still undecided when the server stopped)"
echo "subscribe / healthz:       $(/usr/bin/python3 -c "print(f'{$subscribe / $healthz:.2f}')")x (target >= 0.3x; 0.5x the goal)"
echo "the core alone, no HTTP:   $core requests/s = $(/usr/bin/python3 -c "print(f'{$core / $healthz:.2f}')")x /healthz (the ceiling for POST subscribe)"
echo "paced subscribe:           $paced_rate requests/s, p99 latency $p99 (target < 10ms at ~1000/s)"
echo "paced subscribe, faster:   $paced2_rate requests/s, p99 latency $p99_2 (stated at ~2000/s)"
echo "ledger sealer lag:         ${seal_lag:-unknown} s at the end of the burst (target < 2 s)"
echo "server peak RSS:           $((rss_kb / 1024)) MB (target <= 64 MB)"
