#!/usr/bin/env bash
# Checks PostgresMigrations/ on the server LISTGATE_TEST_POSTGRES_URL names (so, alone:
# `Tests/postgres.sh run -- Tests/postgres/check_schema.sh`):
#   1. applies the migrations, each in one transaction, to a new database;
#   2. runs schema_checks.sql there (triggers, CHECKs, the claim and sealer plans, the
#      ledger under two concurrent writers);
#   3. runs webhook_scenario.sql on it and on an SQLite database made by Migrations/*.sql
#      (with the sqlite3 shell), and compares the webhook deliveries the two queued.
# Needs psql and sqlite3. Drops its database at the end, whatever happened.
set -euo pipefail

: "${LISTGATE_TEST_POSTGRES_URL:?set LISTGATE_TEST_POSTGRES_URL, or run under Tests/postgres.sh run --}"
root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/Tests/postgres"
server=${LISTGATE_TEST_POSTGRES_URL%/*}
suffix=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
checks_db="lg_schema_checks_$suffix"   # schema_checks.sql's rows
scenario_db="lg_schema_hooks_$suffix"  # webhook_scenario.sql's, ids as on SQLite
work=$(mktemp -d)

psql_quiet=(psql -X -q -v ON_ERROR_STOP=1)
cleanup() {
    for database in "$checks_db" "$scenario_db"; do
        "${psql_quiet[@]}" "$LISTGATE_TEST_POSTGRES_URL" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1 || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

for database in "$checks_db" "$scenario_db"; do
    "${psql_quiet[@]}" "$LISTGATE_TEST_POSTGRES_URL" -c "CREATE DATABASE $database"
    for migration in "$root"/PostgresMigrations/*.sql; do
        "${psql_quiet[@]}" "$server/$database" -1 -f "$migration"
    done
done
echo "== applied $(ls "$root"/PostgresMigrations/*.sql | wc -l) migration(s) to $checks_db and $scenario_db"

# Notices are the checks' `ok:` lines; query results are not wanted.
"${psql_quiet[@]}" "$server/$checks_db" -o /dev/null -f "$here/schema_checks.sql" 2>&1 | sed 's/^psql:[^ ]* NOTICE:  //'
echo "== schema checks passed"

# The same scenario on both stores. The webhooks are the only rows written differently
# (a blob literal); everything else is in webhook_scenario.sql.
webhooks="
INSERT INTO lists (slug, name, from_email, created_at) VALUES ('news', 'News', 'news@example.com', '2026-12-01T09:00:00.000Z');
INSERT INTO lists (slug, name, from_email, created_at) VALUES ('other', 'Other', 'other@example.com', '2026-12-01T09:00:00.000Z');
INSERT INTO webhooks (public_id, list_id, url, secret_sealed, created_at, removed_at) VALUES
    ('wh_0000000000000001', 1, 'https://hooks.example/all', SECRET, '2026-12-01T09:00:00.000Z', NULL),
    ('wh_0000000000000002', 1, 'https://hooks.example/some', SECRET, '2026-12-01T09:00:00.000Z', NULL),
    ('wh_0000000000000003', 2, 'https://hooks.example/other', SECRET, '2026-12-01T09:00:00.000Z', NULL),
    ('wh_0000000000000004', 1, 'https://hooks.example/gone', SECRET, '2026-12-01T09:00:00.000Z', '2026-12-01T09:30:00.000Z');
INSERT INTO webhook_event_types (webhook_id, type) VALUES
    (1, 'subscribed'), (1, 'unsubscribed'), (1, 'bounced'), (1, 'complained'), (1, 'blocked'), (1, 'forgotten'),
    (2, 'unsubscribed'), (2, 'blocked'), (3, 'subscribed'), (4, 'subscribed'), (4, 'unsubscribed'), (4, 'blocked');
"
# Then `subscribers forget` for alice, who was on both lists: it erases her address from
# every delivery that holds it and queues `forgotten` to the lists' webhooks that want it
# (WebhookQueue.swift's statements on SQLite; on PostgreSQL, the store's translation).
forget_sqlite="
UPDATE webhook_deliveries SET email = NULL
WHERE address_hash = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' AND email IS NOT NULL;
INSERT INTO webhook_deliveries
    (public_id, webhook_id, event_id, type, email, address_hash, created_at, first_due_at, next_attempt_at)
SELECT 'msg_' || lower(hex(randomblob(12))), w.id, e.id, 'forgotten', NULL, e.address_hash, e.occurred_at, e.occurred_at, e.occurred_at
FROM events e, webhooks w JOIN webhook_event_types t ON t.webhook_id = w.id AND t.type = 'forgotten'
WHERE e.type = 'forgotten' AND w.list_id IN (1, 2) AND w.removed_at IS NULL ORDER BY w.list_id;
"
random_sqlite="lower(hex(randomblob(12)))"
random_postgres="listgate_random_hex(12)"
forget_postgres=${forget_sqlite//"$random_sqlite"/$random_postgres}

sqlite="$work/reference.sqlite3"
{
    echo "PRAGMA foreign_keys = ON;"
    cat "$root"/Migrations/*.sql
    echo "${webhooks//SECRET/zeroblob(28)}"
    cat "$here/webhook_scenario.sql"
    echo "SELECT '-- as queued';"
    cat "$here/webhook_report.sql"
    echo "$forget_sqlite"
    echo "SELECT '-- after subscribers forget';"
    cat "$here/webhook_report.sql"
} | sqlite3 -bail "$sqlite" >"$work/sqlite.txt"

{
    secret="decode(repeat('00', 28), 'hex')"
    echo "${webhooks//SECRET/$secret}"
    cat "$here/webhook_scenario.sql"
    echo "SELECT '-- as queued';"
    cat "$here/webhook_report.sql"
    echo "$forget_postgres"
    echo "SELECT '-- after subscribers forget';"
    cat "$here/webhook_report.sql"
} | "${psql_quiet[@]}" "$server/$scenario_db" -At -1 -f - >"$work/postgres.txt"

if ! diff -u --label sqlite "$work/sqlite.txt" --label postgres "$work/postgres.txt"; then
    echo "FAIL: the outbound-webhook trigger queues differently on PostgreSQL (above: - SQLite, + PostgreSQL)" >&2
    exit 1
fi
# The scenario's comments say what must be queued; the count keeps it from passing empty.
expected=27  # two headings, 12 rows as queued, 13 after (the forgotten one)
actual=$(wc -l <"$work/postgres.txt")
if [ "$actual" -ne "$expected" ]; then
    echo "FAIL: the scenario's report has $actual lines on both stores, not $expected" >&2
    cat "$work/postgres.txt" >&2
    exit 1
fi
"${psql_quiet[@]}" "$server/$scenario_db" -At -c "SELECT count(*) FROM webhook_deliveries WHERE public_id !~ '^msg_[0-9a-f]{24}\$'" | grep -qx 0 \
    || { echo "FAIL: a delivery's public id is not msg_ and 24 hex digits" >&2; exit 1; }
echo "== the outbound-webhook trigger and the forget path queued the same deliveries as on SQLite:"
sed 's/^/   /' "$work/postgres.txt"
