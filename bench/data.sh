#!/usr/bin/env bash
# Data tools benchmark (issue: admin data tools). A release build of `listgate import`
# reads a generated CSV of ROWS rows (default 1,000,000) into a migrated database with a
# consent note, so every row becomes an active subscription with its own hash-chained
# `imported` event; `listgate export subscribers` then writes the rows out again.
# References, in the same run: sqlite3's `.import` of the same file into a bare table,
# and `sqlite3 -csv` dumping the same rows with the same query. Peak RSS comes from
# /usr/bin/time -v ("Maximum resident set size").
# For scale, one more line: SQLite alone writing the same rows into listgate's schema
# (INSERT ... SELECT from the bare table: no parsing, no validation, no hash chain), the
# floor under any importer of this schema.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-1000000}
bin=$PWD/.build/release/listgate
# tmpfs, so the figures measure the programs, not the disk.
work=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
trap 'rm -rf "$work"' EXIT
csv="$work/members.csv"
db="$work/listgate.sqlite3"

# Addresses in a scrambled order (i * 7919 mod a prime is a permutation), as a real
# export from elsewhere would be, not sorted.
awk -v n="$ROWS" 'BEGIN {
    print "email,name"
    for (i = 0; i < n; i++) { j = (i * 7919) % 1000003; printf "user%07d@example%d.org,User %d\n", j, j % 100, j }
}' > "$csv"

# run NAME CMD...: runs CMD under /usr/bin/time -v; sets NAME_s (seconds) and NAME_mb (peak RSS).
run() {
    local name=$1; shift
    /usr/bin/time -v -o "$work/$name.time" "$@"
    local seconds kb
    seconds=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (k = 1; k <= n; k++) s = s * 60 + p[k]; print s }' "$work/$name.time")
    kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/$name.time")
    printf -v "${name}_s" '%s' "$seconds"
    printf -v "${name}_mb" '%s' "$((kb / 1024))"
}
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

$bin migrate --db "$db" > /dev/null
$bin lists create bench --name "ベンチマーク" --from "Bench <bench@example.org>" --db "$db" > /dev/null

run import $bin import "$csv" --list bench --consent-note "benchmark: generated addresses" --quiet --db "$db" > "$work/import.out"
run sqlite_import sqlite3 "$work/bare.sqlite3" '.mode csv' ".import $csv t"

query="SELECT l.slug, a.email, s.name, s.status, s.subscribed_at, s.unsubscribed_at, s.source
       FROM subscriptions s JOIN addresses a ON a.id = s.address_id JOIN lists l ON l.id = s.list_id
       WHERE s.list_id = 1 AND s.status = 'active' ORDER BY s.address_id"
run export $bin export subscribers --list bench --quiet --db "$db" --output "$work/export.csv" > /dev/null
run sqlite_dump sh -c "sqlite3 -csv '$db' \"$query\" > '$work/dump.csv'"

exported=$(($(wc -l < "$work/export.csv") - 1))
dumped=$(wc -l < "$work/dump.csv")
[ "$exported" = "$ROWS" ] && [ "$dumped" = "$ROWS" ] || { echo "row counts differ: exported $exported, dumped $dumped, generated $ROWS" >&2; exit 1; }

# The rows an importer writes per person (an address, a subscription, an `imported` event),
# loaded by SQLite itself from the bare table: no parsing, no validation, no hash chain.
load_rows=(
    "INSERT INTO addresses (email, identity_key, address_hash, created_at)
       SELECT email, lower(email), lower(hex(randomblob(32))), '2026-01-01T00:00:00.000Z' FROM bare.t"
    "INSERT INTO subscriptions (list_id, address_id, name, status, source, created_at, updated_at, subscribed_at, public_id,
                                recipient_id)
       SELECT 1, id, 'User', 'active', 'import', created_at, created_at, created_at, lower(hex(randomblob(16))),
              lower(hex(randomblob(16))) FROM addresses"
    "INSERT INTO events (occurred_at, type, list_id, address_hash, source, detail)
       SELECT created_at, 'imported', 1, address_hash, 'cli', '{\"import\":\"0123456789abcdef\",\"status\":\"active\"}'
       FROM addresses"
)
$bin migrate --db "$work/floor.sqlite3" > /dev/null
$bin lists create bench --name floor --from bench@example.org --db "$work/floor.sqlite3" > /dev/null
run floor sqlite3 "$work/floor.sqlite3" "ATTACH '$work/bare.sqlite3' AS bare" 'PRAGMA temp_store = MEMORY' 'PRAGMA cache_size = -8192' 'BEGIN' \
    "${load_rows[@]}" \
    'COMMIT'

# And the same rows with no index at all during the load, every index built afterwards by
# CREATE INDEX (a sort, not a million B-tree descents): the most any bulk-load trick could
# gain with this schema. Unique indexes built after the load cannot merge duplicates while
# importing, so this is a bound, not a design.
run deferred sqlite3 "$work/deferred.sqlite3" "ATTACH '$work/bare.sqlite3' AS bare" 'PRAGMA temp_store = MEMORY' 'PRAGMA cache_size = -8192' 'BEGIN' \
    "CREATE TABLE addresses (id INTEGER PRIMARY KEY, email TEXT NOT NULL, identity_key TEXT NOT NULL,
       address_hash TEXT NOT NULL, needs_smtputf8 INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL) STRICT" \
    "CREATE TABLE subscriptions (id INTEGER PRIMARY KEY, list_id INTEGER NOT NULL, address_id INTEGER NOT NULL, name TEXT,
       status TEXT NOT NULL, source TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, subscribed_at TEXT,
       unsubscribed_at TEXT, public_id TEXT, recipient_id TEXT) STRICT" \
    "CREATE TABLE events (id INTEGER PRIMARY KEY, occurred_at TEXT NOT NULL, type TEXT NOT NULL, list_id INTEGER,
       address_hash TEXT, source TEXT NOT NULL, consent_version TEXT, detail TEXT NOT NULL) STRICT" \
    "${load_rows[@]}" \
    'CREATE UNIQUE INDEX a1 ON addresses (identity_key)' 'CREATE UNIQUE INDEX a2 ON addresses (address_hash)' \
    'CREATE UNIQUE INDEX s1 ON subscriptions (list_id, address_id)' 'CREATE INDEX s2 ON subscriptions (list_id, status, address_id)' \
    'CREATE INDEX s3 ON subscriptions (address_id)' 'CREATE UNIQUE INDEX s4 ON subscriptions (public_id)' \
    'CREATE UNIQUE INDEX s5 ON subscriptions (recipient_id)' \
    'CREATE INDEX e2 ON events (list_id, id)' \
    'CREATE INDEX e3 ON events (address_hash) WHERE address_hash IS NOT NULL' \
    'COMMIT'

echo "$(cat "$work/import.out")"
echo "listgate import:           $(calc '%.0f' "$ROWS / $import_s") rows/s ($ROWS rows in ${import_s}s; target >= 200000), peak RSS ${import_mb} MB (target <= 64)"
echo "sqlite3 .import, bare:     $(calc '%.0f' "$ROWS / $sqlite_import_s") rows/s"
echo "import / sqlite3 .import:  $(calc '%.3f' "$sqlite_import_s / $import_s")x (target >= 0.3x)"
echo "listgate export:           $(calc '%.0f' "$ROWS / $export_s") rows/s, peak RSS ${export_mb} MB (target <= 64)"
echo "sqlite3 -csv, same query:  $(calc '%.0f' "$ROWS / $sqlite_dump_s") rows/s"
echo "export / sqlite3 -csv:     $(calc '%.2f' "$sqlite_dump_s / $export_s")x (target >= 0.5x)"
echo "for scale, sqlite3 INSERT ... SELECT into listgate's schema: $(calc '%.0f' "$ROWS / $floor_s") rows/s" \
     "(import / that: $(calc '%.2f' "$floor_s / $import_s")x)"
echo "the same with every index built after the load: $(calc '%.0f' "$ROWS / $deferred_s") rows/s" \
     "(the bound for any bulk loader of this schema)"
echo "import / that bound:       $(calc '%.2f' "$deferred_s / $import_s")x (target >= 0.5x)"
