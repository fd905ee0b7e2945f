-- Checks of PostgresMigrations/0001_initial.sql on a database it has just migrated, empty
-- otherwise (Tests/postgres/check_schema.sh makes one): the triggers and the CHECKs that
-- the store relies on refuse what SQLite's refuse, and accept what it writes. Run by
--   psql "$URL" -X -q -v ON_ERROR_STOP=1 -f Tests/postgres/schema_checks.sql
-- Each check prints `ok: …`; the first failure stops the run with `FAIL: …`. It commits
-- (events are append-only, so they could not be cleaned up anyway): use a fresh database.
-- The concurrent-writers check opens two more sessions with dblink (in Debian's
-- postgresql package), to the same server as the trusted `postgres` user.

\set ON_ERROR_STOP 1
SET client_min_messages = notice;

-- `statement` must fail with a message LIKE `message`.
CREATE FUNCTION pg_temp.refused(statement text, message text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        EXECUTE statement;
    EXCEPTION WHEN OTHERS THEN
        IF SQLERRM NOT LIKE message THEN
            RAISE EXCEPTION 'FAIL: % was refused with "%", not "%"', statement, SQLERRM, message;
        END IF;
        RAISE NOTICE 'ok: refused (%): %', SQLERRM, left(statement, 110);
        RETURN;
    END;
    RAISE EXCEPTION 'FAIL: accepted: %', statement;
END;
$$;

CREATE FUNCTION pg_temp.expect(holds boolean, what text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF holds IS NOT TRUE THEN
        RAISE EXCEPTION 'FAIL: %', what;
    END IF;
    RAISE NOTICE 'ok: %', what;
END;
$$;

-- The sealer's hash (EventLedger.chainHash): the previous hash and the stored fields,
-- U+001F between them, timestamps as SQLite's text. Used here to build real links.
CREATE FUNCTION pg_temp.link_hash(prev text, e events) RETURNS text
LANGUAGE sql AS $$
    SELECT encode(sha256(convert_to(concat_ws(chr(31), prev,
        to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), e.type,
        coalesce(e.list_id::text, ''), coalesce(e.address_hash, ''), e.source, coalesce(e.consent_version, ''),
        e.detail), 'UTF8')), 'hex')
$$;

-- Seals every event the sealer may seal now, in (written_by, id) order, below the oldest
-- running transaction. Returns how many.
CREATE FUNCTION pg_temp.seal() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    head record;
    e events;
    n integer := 0;
    pos bigint;
    prev text;
    after_wb xid8;
    after_id bigint;
BEGIN
    SELECT c.position, c.hash, ev.written_by, ev.id INTO head
    FROM event_chain c JOIN events ev ON ev.id = c.event_id ORDER BY c.position DESC LIMIT 1;
    pos := coalesce(head.position, 0);
    prev := coalesce(head.hash, repeat('0', 64));
    after_wb := coalesce(head.written_by, '0'::xid8);
    after_id := coalesce(head.id, 0);
    FOR e IN
        SELECT * FROM events ev
        WHERE (ev.written_by, ev.id) > (after_wb, after_id)
          AND ev.written_by < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY ev.written_by, ev.id
    LOOP
        pos := pos + 1;
        INSERT INTO event_chain (position, event_id, prev_hash, hash) VALUES (pos, e.id, prev, pg_temp.link_hash(prev, e));
        prev := pg_temp.link_hash(prev, e);
        n := n + 1;
    END LOOP;
    RETURN n;
END;
$$;

-- The schema as the store expects it.
SELECT pg_temp.expect(count(*) = 26, 'the 26 tables of SQLite''s schema (schema_migrations is made by migrate)')
FROM pg_tables WHERE schemaname = 'public';
SELECT pg_temp.expect(count(*) = 4, 'the four append-only triggers that `events verify` looks for, enabled')
FROM pg_trigger
WHERE tgname IN ('events_are_append_only_update', 'events_are_append_only_delete',
                 'event_chain_is_append_only_update', 'event_chain_is_append_only_delete')
  AND tgenabled <> 'D';

-- A list, and the CHECKs written as regular expressions where SQLite has GLOB.
INSERT INTO lists (slug, name, from_email, created_at, contact, legal_name)
    VALUES ('news', 'News', 'News <news@example.com>', '2026-12-01T09:00:00.000Z', 'https://example.com/contact', 'Example K.K.');
INSERT INTO lists (slug, name, from_email, created_at, legal_name, postal_address, contact)
    VALUES ('jp-2', '日本語のリスト', 'a@b', now(), '株式会社 例', '東京都千代田区 1-1', 'support@example.jp');
SELECT pg_temp.expect(true, 'a list with Japanese sender identity and a space in its legal name is accepted');
SELECT pg_temp.refused($$INSERT INTO lists (slug, name, from_email, created_at) VALUES ('-news', 'N', 'a@b', now())$$, '%lists_slug_check%');
SELECT pg_temp.refused($$INSERT INTO lists (slug, name, from_email, created_at) VALUES ('News', 'N', 'a@b', now())$$, '%lists_slug_check%');
SELECT pg_temp.refused($$INSERT INTO lists (slug, name, from_email, created_at) VALUES ('n', 'N', '@b', now())$$, '%lists_from_email_check%');
SELECT pg_temp.refused($$INSERT INTO lists (slug, name, from_email, created_at, thanks_url) VALUES ('n', 'N', 'a@b', now(), 'https://example.com/a b')$$, '%lists_thanks_url_check%');
SELECT pg_temp.refused($$INSERT INTO lists (slug, name, from_email, created_at, thanks_url) VALUES ('n', 'N', 'a@b', now(), 'ftp://example.com/')$$, '%lists_thanks_url_check%');
SELECT pg_temp.refused($$INSERT INTO lists (slug, name, from_email, created_at, legal_name) VALUES ('n', 'N', 'a@b', now(), E'Evil\r\nBcc: x@y')$$, '%lists_legal_name_check%');
SELECT pg_temp.refused($$INSERT INTO lists (slug, name, from_email, created_at, contact) VALUES ('n', 'N', 'a@b', now(), 'mail me@example.com')$$, '%lists_contact_check%');

-- The outbox's one-recipient CHECK.
SELECT pg_temp.refused(format($$INSERT INTO outbox (message_id, list_id, kind, recipient, address_hash, raw_message, next_attempt_at, created_at, updated_at)
    VALUES ('<m1@x>', 1, 'receipt', %L, repeat('a', 64), '\x00', now(), now(), now())$$, r), '%outbox_recipient_check%')
FROM unnest(ARRAY['a@b.example, c@d.example', 'a@b.example;c@d', E'a@b.example\r\nBcc: c@d', 'a b@c.example',
                  'a@-b.example', 'a@b_c.example', 'a@', 'a@b@', '<a@b.example>']) AS r;
INSERT INTO outbox (message_id, list_id, kind, recipient, address_hash, raw_message, next_attempt_at, created_at, updated_at)
    VALUES ('<m1@x>', 1, 'receipt', '"odd@local"@b.example', repeat('a', 64), '\x00', now(), now(), now());
SELECT pg_temp.expect(true, 'a quoted local part holding an ''@'' is one recipient: the host is after the last ''@''');
SELECT pg_temp.refused($$UPDATE outbox SET status = 'sending' WHERE message_id = '<m1@x>'$$, '%outbox_check%');
UPDATE outbox SET status = 'sending', claimed_by = 'host-a', claimed_until = now() + interval '60 seconds' WHERE message_id = '<m1@x>';
SELECT pg_temp.expect(true, 'a claim names its holder and lease end (one without is refused just above)');

-- The claim reads outbox_claimable in order: no sort, no scan of other statuses.
SET enable_seqscan = off;  -- a table of a few rows would be read whole; ask for the plan a large one gets
SET enable_bitmapscan = off;
CREATE FUNCTION pg_temp.plan(statement text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE line text; result text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || statement LOOP result := result || line || E'\n'; END LOOP;
    RETURN result;
END;
$$;
SELECT pg_temp.expect(plan LIKE '%Scan using outbox_claimable_others%' AND plan NOT LIKE '%Sort%',
                      'the claim of leavers'' mail (FOR UPDATE SKIP LOCKED) reads outbox_claimable_others in order')
FROM pg_temp.plan($$SELECT id FROM outbox WHERE status = 'queued' AND kind <> 'confirmation'
                    AND next_attempt_at <= now() ORDER BY next_attempt_at, id LIMIT 50 FOR UPDATE SKIP LOCKED$$) AS plan;
SELECT pg_temp.expect(plan LIKE '%Scan using outbox_claimable_confirmations%' AND plan NOT LIKE '%Sort%',
                      'the claim of confirmations (FOR UPDATE SKIP LOCKED) reads outbox_claimable_confirmations in order')
FROM pg_temp.plan($$SELECT id FROM outbox WHERE status = 'queued' AND kind = 'confirmation'
                    AND next_attempt_at <= now() ORDER BY next_attempt_at, id LIMIT 50 FOR UPDATE SKIP LOCKED$$) AS plan;
SELECT pg_temp.expect(plan LIKE '%Scan using outbox_claims%',
                      'taking over ended claims reads outbox_claims')
FROM pg_temp.plan($$SELECT id FROM outbox WHERE status = 'sending' AND claimed_until <= now()
                    ORDER BY claimed_until LIMIT 50 FOR UPDATE SKIP LOCKED$$) AS plan;
SELECT pg_temp.expect(plan LIKE '%Scan using events_sealing_order%' AND plan NOT LIKE '%Sort%',
                      'the sealer reads events_sealing_order in order, without a sort')
FROM pg_temp.plan($$SELECT id FROM events WHERE (written_by, id) > ('5'::xid8, 7)
                    AND written_by < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY written_by, id LIMIT 1000$$) AS plan;
SELECT pg_temp.expect(plan LIKE '%Scan using webhook_deliveries_due%' AND plan NOT LIKE '%Sort%',
                      'the claim of one receiver''s deliveries (FOR UPDATE SKIP LOCKED) reads webhook_deliveries_due in order')
FROM pg_temp.plan($$SELECT id FROM webhook_deliveries WHERE webhook_id = 1 AND status = 'pending'
                    AND next_attempt_at <= now() ORDER BY next_attempt_at, id LIMIT 50 FOR UPDATE SKIP LOCKED$$) AS plan;
RESET enable_seqscan;
RESET enable_bitmapscan;

-- Scopes, as SQLite's 0012.
SELECT pg_temp.refused(format($$INSERT INTO api_tokens (public_id, list_id, token_sha256, created_at, scopes)
    VALUES ('tok_bad_1', 1, repeat('b', 64), now(), %L)$$, s), '%api_tokens_scopes_check%')
FROM unnest(ARRAY['', ' audience:read', 'audience:read  feedback:write', 'audience:read audience:read', 'admin']) AS s;
INSERT INTO api_tokens (public_id, list_id, token_sha256, created_at, scopes)
    VALUES ('tok_good_1', 1, repeat('b', 64), now(), 'feedback:write audience:read audience:approve');
SELECT pg_temp.expect(true, 'a token with the three known scopes in any order is accepted');

-- Snapshot approvals (0002, as SQLite's 0015): only of the exact audience frozen, only of
-- a snapshot that needs them, never by the token that took it; never changed or deleted.
SELECT pg_temp.refused($$UPDATE lists SET snapshot_approvals = 10 WHERE slug = 'news'$$, '%lists_snapshot_approvals_check%');
UPDATE lists SET snapshot_approvals = 9 WHERE slug = 'news';
SELECT pg_temp.expect(true, 'a list may require up to 9 approvals (10 is refused just above)');
INSERT INTO snapshots (public_id, list_id, token_id, count, sha256, created_at, approvals_required)
    VALUES ('snap_approvals_0001', 1, (SELECT id FROM api_tokens WHERE public_id = 'tok_good_1'), 3,
            'abcdef0123456789' || repeat('0', 48), now(), 2),
           ('snap_approvals_0002', 1, NULL, 3, repeat('a', 64), now(), 0);
SELECT pg_temp.refused($$INSERT INTO snapshots (public_id, list_id, count, sha256, created_at, approvals_required)
    VALUES ('snap_approvals_0003', 1, 0, repeat('a', 64), now(), 10)$$, '%snapshots_approvals_required_check%');
CREATE FUNCTION pg_temp.approve(snapshot text, approver text, token text, count bigint, prefix text) RETURNS text
LANGUAGE sql AS $$
    SELECT format($f$INSERT INTO snapshot_approvals (snapshot_id, approver, token_id, count, sha256_prefix, approved_at)
        VALUES ((SELECT id FROM snapshots WHERE public_id = %L), %L, (SELECT id FROM api_tokens WHERE public_id = %L), %s, %L, now())$f$,
        snapshot, approver, token, count, prefix)
$$;
SELECT pg_temp.refused(pg_temp.approve('snap_approvals_0001', 'admin:alice', NULL, 4, 'abcdef01'), 'an approval must match its snapshot%');
SELECT pg_temp.refused(pg_temp.approve('snap_approvals_0001', 'admin:alice', NULL, 3, 'abcdef02'), 'an approval must match its snapshot%');
SELECT pg_temp.refused(pg_temp.approve('snap_approvals_0002', 'admin:alice', NULL, 3, 'aaaaaaaa'), 'an approval must match its snapshot%');
SELECT pg_temp.refused(pg_temp.approve('snap_approvals_0001', 'token:tok_good_1', 'tok_good_1', 3, 'abcdef01'), 'an approval must match its snapshot%');
SELECT pg_temp.refused(pg_temp.approve('snap_approvals_0001', 'admin:alice', NULL, 3, 'abcdef0'), '%snapshot_approvals_sha256_prefix_check%');
SELECT pg_temp.refused(pg_temp.approve('snap_approvals_0001', 'alice', NULL, 3, 'abcdef01'), '%snapshot_approvals_approver_check%');
DO $$ BEGIN EXECUTE pg_temp.approve('snap_approvals_0001', 'admin:alice', NULL, 3, 'abcdef0123456789'); END $$;
SELECT pg_temp.expect(true, 'an approval of the exact count and a 16-digit prefix of the sha256 is recorded');
SELECT pg_temp.refused(pg_temp.approve('snap_approvals_0001', 'admin:alice', NULL, 3, 'abcdef01'), '%snapshot_approvals_pkey%');
SELECT pg_temp.refused($$UPDATE snapshot_approvals SET count = 4$$, 'snapshot approvals are never changed: UPDATE refused');
SELECT pg_temp.refused($$DELETE FROM snapshot_approvals$$, 'snapshot approvals are never deleted: DELETE refused');
SELECT pg_temp.refused($$TRUNCATE snapshot_approvals$$, 'snapshot approvals are never deleted: TRUNCATE refused');
-- Once approved, a snapshot's audience never changes (0003, as SQLite's 0016).
SELECT pg_temp.refused($$UPDATE snapshots SET count = 4 WHERE public_id = 'snap_approvals_0001'$$, 'an approved snapshot''s audience never changes%');
SELECT pg_temp.refused($$UPDATE snapshots SET sha256 = repeat('c', 64) WHERE public_id = 'snap_approvals_0001'$$, 'an approved snapshot''s audience never changes%');
SELECT pg_temp.refused($$UPDATE snapshots SET approvals_required = 1 WHERE public_id = 'snap_approvals_0001'$$, 'an approved snapshot''s audience never changes%');
UPDATE snapshots SET approved_at = now(), erased = erased + 1 WHERE public_id = 'snap_approvals_0001';
UPDATE snapshots SET count = 4 WHERE public_id = 'snap_approvals_0002';
SELECT pg_temp.expect(true, 'an approved snapshot still records approved_at and erasures; one without approvals may change');

-- Subscriptions get their random ids from column defaults (SQLite: triggers).
INSERT INTO addresses (email, identity_key, address_hash, created_at) VALUES ('a@b.example', 'a@b.example', repeat('a', 64), now());
INSERT INTO subscriptions (list_id, address_id, status, source, created_at, updated_at, subscribed_at)
    VALUES (1, 1, 'active', 'admin', now(), now(), now()), (2, 1, 'pending', 'form', now(), now(), NULL);
SELECT pg_temp.expect(bool_and(public_id ~ '^[0-9a-f]{32}$' AND recipient_id ~ '^[0-9a-f]{32}$')
                      AND count(DISTINCT public_id) = 2 AND count(DISTINCT recipient_id) = 2,
                      'subscriptions get a public_id and a recipient_id of 32 random hex digits')
FROM subscriptions;
SELECT pg_temp.refused($$INSERT INTO subscriptions (list_id, address_id, status, source, created_at, updated_at) VALUES (1, 1, 'active', 'admin', now(), now())$$, '%subscriptions_check%');
SELECT pg_temp.expect(listgate_random_hex(12) ~ '^[0-9a-f]{24}$' AND listgate_random_hex(1) ~ '^[0-9a-f]{2}$'
                      AND listgate_random_hex(16) <> listgate_random_hex(16), 'listgate_random_hex(N) gives 2N fresh hex digits');

-- Suppressions: one per list and address, one global per address.
INSERT INTO suppressions (list_id, address_hash, reason, created_at) VALUES (1, repeat('a', 64), 'admin', now()), (NULL, repeat('a', 64), 'admin', now());
SELECT pg_temp.refused($$INSERT INTO suppressions (list_id, address_hash, reason, created_at) VALUES (NULL, repeat('a', 64), 'forgotten', now())$$, '%suppressions_global%');
SELECT pg_temp.refused($$INSERT INTO suppressions (list_id, address_hash, reason, created_at) VALUES (1, repeat('a', 64), 'bounced', now())$$, '%suppressions_per_list%');

-- Consent wordings: written once, never changed.
INSERT INTO consent_wordings (version, locale, parts, first_used_at) VALUES ('0123456789abcdef', 'ja', '[{"name":"a","text":"b"}]', now());
SELECT pg_temp.refused($$UPDATE consent_wordings SET locale = 'en'$$, 'consent wordings are never changed: UPDATE refused');
SELECT pg_temp.refused($$DELETE FROM consent_wordings$$, 'consent wordings are never deleted: DELETE refused');
SELECT pg_temp.refused($$TRUNCATE consent_wordings$$, 'consent wordings are never deleted: TRUNCATE refused');
SELECT pg_temp.refused($$INSERT INTO consent_wordings (version, locale, parts, first_used_at) VALUES ('0123456789abcdee', 'ja', '{"a":1}', now())$$, '%consent_wordings_parts_check%');
SELECT pg_temp.refused($$INSERT INTO consent_wordings (version, locale, parts, first_used_at) VALUES ('0123456789ABCDEF', 'ja', '[]', now())$$, '%consent_wordings_version_check%');

-- The ledger: append-only, a known vocabulary, valid JSON.
INSERT INTO events (occurred_at, type, list_id, source, detail) VALUES ('2026-12-02T08:00:00.001Z', 'list_created', 1, 'cli', '{"slug":"news"}');
WITH appended AS (
    INSERT INTO events (occurred_at, type, list_id, source, detail) VALUES ('2026-12-02T08:00:00.002Z', 'list_created', 2, 'cli', '{"slug":"jp-2"}')
    RETURNING written_by)
SELECT pg_temp.expect(written_by = pg_current_xact_id(), 'an event records the transaction that wrote it')
FROM appended;
SELECT pg_temp.refused($$UPDATE events SET source = 'tampered' WHERE id = 1$$, 'events are append-only: UPDATE refused');
SELECT pg_temp.refused($$DELETE FROM events WHERE id = 1$$, 'events are append-only: DELETE refused');
SELECT pg_temp.refused($$TRUNCATE events CASCADE$$, 'events are append-only: TRUNCATE refused');
SELECT pg_temp.refused($$INSERT INTO events (occurred_at, type, source) VALUES (now(), 'list_deleted', 'cli')$$, 'unknown event type');
-- The trigger runs before the CHECK, on SQLite too: the same message for a malformed type.
SELECT pg_temp.refused($$INSERT INTO events (occurred_at, type, source) VALUES (now(), 'List_Created', 'cli')$$, 'unknown event type');
SELECT pg_temp.refused($$INSERT INTO events (occurred_at, type, source, detail) VALUES (now(), 'list_created', 'cli', '{"a":')$$, 'invalid input syntax for type json');
SELECT pg_temp.expect(count(*) = 30, 'every type of SQLite''s vocabulary (0015) is accepted')
FROM (SELECT t FROM unnest(ARRAY[
    'list_created', 'list_updated', 'list_archived', 'requested', 'confirmed', 'blocked',
    'subscriber_added', 'imported', 'unsubscribed', 'resubscribed', 'bounced', 'complained',
    'suppressed', 'unsuppressed', 'forgotten', 'data_exported', 'token_created', 'token_revoked',
    'snapshot_taken', 'snapshot_approved', 'outbox_paused', 'outbox_resumed', 'message_discarded',
    'message_released', 'soft_bounced', 'webhook_added', 'webhook_removed', 'webhook_source_added',
    'webhook_source_removed', 'preflight_checked']) AS t) AS types
WHERE t IN (SELECT unnest(regexp_matches(pg_get_triggerdef(oid), '''([a-z_]+)''', 'g'))
            FROM pg_trigger WHERE tgname = 'events_type_is_known');

-- The chain: it grows only at its head, from the previous hash, in sealing order.
SELECT pg_temp.refused($$INSERT INTO event_chain VALUES (1, 1, repeat('1', 64), repeat('2', 64))$$,
                       'the event chain grows only at its head, in event order');
SELECT pg_temp.refused($$INSERT INTO event_chain VALUES (2, 1, repeat('0', 64), repeat('2', 64))$$,
                       'the event chain grows only at its head, in event order');
SELECT pg_temp.expect(pg_temp.seal() = 2, 'the two committed events are sealed at positions 1 and 2');
SELECT pg_temp.refused($$INSERT INTO event_chain VALUES (4, 2, repeat('0', 64), repeat('2', 64))$$,
                       'the event chain grows only at its head, in event order');
INSERT INTO events (occurred_at, type, list_id, source) VALUES ('2026-12-02T08:00:00.003Z', 'list_updated', 1, 'cli');
SELECT pg_temp.refused($$INSERT INTO event_chain VALUES (3, 3, repeat('f', 64), repeat('2', 64))$$,
                       'the event chain grows only at its head, in event order');
-- From the right hash, but for an event before the one at the head.
SELECT pg_temp.refused($$INSERT INTO event_chain SELECT 3, 1, hash, repeat('2', 64) FROM event_chain WHERE position = 2$$,
                       'the event chain grows only at its head, in event order');
SELECT pg_temp.expect(pg_temp.seal() = 1, 'the next event is sealed at position 3, from the hash at 2');
SELECT pg_temp.refused($$UPDATE event_chain SET hash = repeat('9', 64) WHERE position = 3$$, 'the event chain is append-only: UPDATE refused');
SELECT pg_temp.refused($$DELETE FROM event_chain WHERE position = 3$$, 'the event chain is append-only: DELETE refused');
SELECT pg_temp.refused($$TRUNCATE event_chain$$, 'the event chain is append-only: TRUNCATE refused');

-- Concurrent writers. Session `older` takes its transaction id first; session `newer`
-- then inserts an event (the lower id); `older` inserts one (the higher id) and commits.
-- `newer` is still running, so its event is not visible yet: a sealer working in id
-- order would seal `older`'s event now and could never put `newer`'s before it. In
-- (written_by, id) order `older`'s event comes first anyway, and `newer`'s, written by a
-- transaction not older than the oldest running one, waits for its commit.
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT dblink_connect('older', format('host=127.0.0.1 port=%s dbname=%s user=postgres', current_setting('port'), current_database()));
SELECT dblink_connect('newer', format('host=127.0.0.1 port=%s dbname=%s user=postgres', current_setting('port'), current_database()));
SELECT dblink_exec('older', 'BEGIN');
SELECT * FROM dblink('older', 'SELECT pg_current_xact_id()::text') AS t(xid text);
SELECT dblink_exec('newer', 'BEGIN');
SELECT dblink_exec('newer', $$INSERT INTO events (occurred_at, type, list_id, source) VALUES ('2026-12-02T08:00:01.000Z', 'list_updated', 1, 'newer')$$);
SELECT dblink_exec('older', $$INSERT INTO events (occurred_at, type, list_id, source) VALUES ('2026-12-02T08:00:02.000Z', 'list_updated', 2, 'older')$$);
SELECT dblink_exec('older', 'COMMIT');
SELECT pg_temp.expect(count(*) = 1 AND min(source) = 'older', 'while `newer` runs only `older`''s event is visible')
FROM events WHERE source IN ('newer', 'older');
SELECT pg_temp.expect((SELECT written_by FROM events WHERE source = 'older') < pg_snapshot_xmin(pg_current_snapshot()),
                      '`older`''s event was written by a transaction older than every running one: sealable');
SELECT pg_temp.expect(pg_temp.seal() = 1, 'the sealer seals `older`''s event (position 4) and not the running one''s');
SELECT dblink_exec('newer', 'COMMIT');
SELECT pg_temp.expect(pg_temp.seal() = 1, 'after its commit, `newer`''s event (the lower id) is sealed at position 5');
SELECT pg_temp.expect((SELECT id FROM events WHERE source = 'newer') < (SELECT id FROM events WHERE source = 'older'),
                      '`newer`''s event has the lower id: id order is not the order events become visible');
SELECT pg_temp.expect(array_agg(e.source ORDER BY c.position) = ARRAY['cli', 'cli', 'cli', 'older', 'newer'],
                      'the chain is in (written_by, id) order: `older`''s event at 4, `newer`''s at 5')
FROM event_chain c JOIN events e ON e.id = c.event_id;
SELECT pg_temp.expect(bool_and(good), 'every link hashes its event over the previous link''s hash')
FROM (SELECT c.hash = pg_temp.link_hash(c.prev_hash, e)
             AND c.prev_hash = coalesce(lag(c.hash) OVER (ORDER BY c.position), repeat('0', 64)) AS good
      FROM event_chain c JOIN events e ON e.id = c.event_id) AS links;
SELECT dblink_disconnect('older');
SELECT dblink_disconnect('newer');
DROP EXTENSION dblink;
