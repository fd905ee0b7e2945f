#!/usr/bin/env bash
# Mail benchmark (issue: mail delivery). Delivers COUNT queued confirmation mails to a
# local aiosmtpd server with listgate's outbox worker, then sends the same bytes with
# Python's smtplib over one connection to the same server, in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-5000}
# The sink records each message to a file; on tmpfs that server-side cost is small
# and steady, so the figure measures the clients, not the disk.
work=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
trap 'kill $sink_pid 2>/dev/null || true; rm -rf "$work"' EXIT

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
/usr/bin/python3 Tests/Support/smtp_sink.py --port "$port" --dir "$work/sink" --ready-file "$work/ready" &
sink_pid=$!
for _ in $(seq 100); do [ -f "$work/ready" ] && break; sleep 0.1; done

ours=$(.build/release/MailBenchmark "$work/bench.sqlite3" "smtp://127.0.0.1:$port" "$COUNT")
echo "$ours"
theirs=$(/usr/bin/python3 bench/smtplib_reference.py "$work/bench.sqlite3" 127.0.0.1 "$port")
echo "$theirs"
ours_rate=$(echo "$ours" | sed -E 's/.* = ([0-9]+) messages\/s/\1/')
theirs_rate=$(echo "$theirs" | sed -E 's/.* = ([0-9]+) messages\/s/\1/')
echo "mail delivery: listgate / smtplib = $(/usr/bin/python3 -c "print(f'{$ours_rate / $theirs_rate:.2f}')")x (target >= 1.0x)"
