#!/usr/bin/env bash
# A private PostgreSQL server for the tests: `Tests/postgres.sh run -- COMMAND…` starts a
# throwaway cluster on a free loopback port, runs COMMAND with
# LISTGATE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:PORT/postgres, then stops the
# cluster and deletes it, whatever happened; the exit status is COMMAND's.
#
# Never the cluster Debian's package makes (15/main on 5432): it may not start without
# systemd, and a developer's own databases are not the tests' to touch. Trust
# authentication is safe here because the server listens on 127.0.0.1 only and lives as
# long as COMMAND. fsync is off: a crash loses nothing the tests keep. PG_SERVER_OPTIONS
# replaces that (bench/postgres.sh runs the server with its durable defaults).
set -uo pipefail

usage() {
    echo "usage: $0 run -- COMMAND [ARGUMENT…]" >&2
    exit 2
}
[ "${1:-}" = run ] && [ "${2:-}" = -- ] && [ $# -ge 3 ] || usage
shift 2

# initdb and pg_ctl are not on PATH on Debian; pg_config (postgresql-common) names their
# directory. Without it, the newest installed major version.
if command -v pg_config >/dev/null 2>&1; then
    bindir=$(pg_config --bindir)
else
    bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ] || [ ! -x "$bindir/pg_ctl" ]; then
    echo "$0: no PostgreSQL server binaries (initdb, pg_ctl) found; install Debian's postgresql" >&2
    exit 1
fi

# initdb refuses to run as root: then the cluster belongs to the `postgres` user that
# Debian's package creates, in a directory that user owns.
as_owner=()
if [ "$(id -u)" = 0 ]; then
    if ! id -u postgres >/dev/null 2>&1; then
        echo "$0: running as root, but there is no 'postgres' user to own the cluster" >&2
        exit 1
    fi
    as_owner=(runuser -u postgres --)
fi

# A short directory: it also holds the Unix socket, whose path is limited to ~107 bytes.
dir=$(mktemp -d /tmp/lgpg.XXXXXX) || exit 1
chmod 0755 "$dir"
[ ${#as_owner[@]} -gt 0 ] && chown postgres: "$dir"

started=""
cleanup() {
    if [ -n "$started" ]; then
        "${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 \
            || "${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1
    fi
    rm -rf "$dir"
}
trap cleanup EXIT
# A signal ends the script through the EXIT trap, with the shell's usual status.
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

if ! "${as_owner[@]}" "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync \
    >"$dir/initdb.log" 2>&1; then
    echo "$0: initdb failed:" >&2
    cat "$dir/initdb.log" >&2
    exit 1
fi

# A port nobody listens on: pick one at random and start; when the port turns out to be
# taken (the server says so in its log), try another. Checking first and starting
# afterwards would race with whatever else is starting.
port=""
for attempt in 1 2 3 4 5 6 7 8 9 10; do
    candidate=$((20000 + RANDOM % 40000))
    : >"$dir/log"
    [ ${#as_owner[@]} -gt 0 ] && chown postgres: "$dir/log"
    if "${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $candidate -k $dir -c max_connections=300 ${PG_SERVER_OPTIONS--c fsync=off}" \
        start >/dev/null 2>&1; then
        port=$candidate
        started=yes
        break
    fi
    if ! grep -q "could not bind\|Address already in use\|could not create any TCP/IP sockets\|lock file .* already exists" "$dir/log"; then
        echo "$0: the PostgreSQL server did not start:" >&2
        cat "$dir/log" >&2
        exit 1
    fi
done
if [ -z "$port" ]; then
    echo "$0: no free loopback port found for PostgreSQL after 10 tries" >&2
    exit 1
fi

export LISTGATE_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
echo "$0: PostgreSQL $("$bindir/postgres" -V | sed "s/^postgres (PostgreSQL) //") at $LISTGATE_TEST_POSTGRES_URL" >&2

# COMMAND runs in the background so that a signal reaches this script at once (bash runs
# a trap only after the foreground command ends); the signal is passed on to COMMAND,
# and the cluster stops once COMMAND has. `<&0` keeps this script's standard input.
"$@" <&0 &
child=$!
for signal in HUP INT TERM; do
    trap "kill -s $signal $child 2>/dev/null" "$signal"
done
while :; do
    wait "$child"
    status=$?
    kill -0 "$child" 2>/dev/null || break  # a signal interrupted `wait`: wait again
done
exit "$status"
