-- The outbound-webhook trigger, on both stores: check_schema.sh runs this file on an
-- SQLite database made by Migrations/*.sql and on a PostgreSQL one made by
-- PostgresMigrations/, after a prelude of each dialect (the webhooks, whose sealed secret
-- is a blob), and compares what the two queued, row for row. So it is written in the SQL
-- both understand: text timestamps (PostgreSQL casts them), no booleans, no blob literal.
--
-- alice has an address row; carol asked on the form but never confirmed (submissions
-- only: a "not me" from her takes the address from her newest request on that list);
-- dave is known to neither. Webhooks (from the prelude): 1 on news wants every kind, 2 on
-- news only unsubscribed and blocked, 3 on other only subscribed, 4 on news was removed.

INSERT INTO addresses (email, identity_key, address_hash, created_at)
    VALUES ('Alice@Example.com', 'alice@example.com', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', '2026-12-01T09:00:00.000Z');
INSERT INTO submissions (public_id, list_id, kind, email, identity_key, address_hash, requested_at, expires_at)
    VALUES ('sub-carol-news-old', 1, 'subscribe', 'carol.old@example.com', 'carol@example.com',
            'cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc', '2026-12-01T09:00:00.000Z', '2026-12-03T09:00:00.000Z');
INSERT INTO submissions (public_id, list_id, kind, email, identity_key, address_hash, requested_at, expires_at)
    VALUES ('sub-carol-news-new', 1, 'subscribe', 'Carol@example.com', 'carol@example.com',
            'cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc', '2026-12-01T10:00:00.000Z', '2026-12-03T10:00:00.000Z');
INSERT INTO submissions (public_id, list_id, kind, email, identity_key, address_hash, requested_at, expires_at)
    VALUES ('sub-carol-other-newest', 2, 'subscribe', 'carol.other@example.com', 'carol@example.com',
            'cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc', '2026-12-01T11:00:00.000Z', '2026-12-03T11:00:00.000Z');

-- One event per line; the comment says what the trigger must queue.
INSERT INTO events (occurred_at, type, list_id, address_hash, source) VALUES ('2026-12-02T08:00:00.001Z', 'list_created', 1, NULL, 'cli');  -- nothing
INSERT INTO events (occurred_at, type, list_id, address_hash, source) VALUES ('2026-12-02T08:00:00.002Z', 'requested', 1, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'form');  -- nothing
INSERT INTO events (occurred_at, type, list_id, address_hash, source) VALUES ('2026-12-02T08:00:00.003Z', 'confirmed', 1, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'form');  -- 1: subscribed
INSERT INTO events (occurred_at, type, list_id, address_hash, source, detail) VALUES ('2026-12-02T08:00:00.004Z', 'subscriber_added', 1, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'cli', '{"status":"pending"}');  -- nothing
INSERT INTO events (occurred_at, type, list_id, address_hash, source, detail) VALUES ('2026-12-02T08:00:00.005Z', 'subscriber_added', 1, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'cli', '{"name":"A","status":"active"}');  -- 1: subscribed
INSERT INTO events (occurred_at, type, list_id, address_hash, source) VALUES ('2026-12-02T08:00:00.006Z', 'resubscribed', 1, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'form');  -- 1: subscribed
INSERT INTO events (occurred_at, type, list_id, address_hash, source) VALUES ('2026-12-02T08:00:00.007Z', 'unsubscribed', 1, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'link');  -- 1 and 2: unsubscribed
INSERT INTO events (occurred_at, type, list_id, address_hash, source) VALUES ('2026-12-02T08:00:00.008Z', 'bounced', 1, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'api:1');  -- 1: bounced
INSERT INTO events (occurred_at, type, list_id, address_hash, source) VALUES ('2026-12-02T08:00:00.009Z', 'complained', 1, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'api:1');  -- 1: complained
INSERT INTO events (occurred_at, type, list_id, address_hash, source) VALUES ('2026-12-02T08:00:00.010Z', 'blocked', 1, 'cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc', 'form');  -- 1 and 2: blocked, Carol@example.com
INSERT INTO events (occurred_at, type, list_id, address_hash, source) VALUES ('2026-12-02T08:00:00.011Z', 'imported', 1, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'import');  -- nothing
INSERT INTO events (occurred_at, type, list_id, address_hash, source) VALUES ('2026-12-02T08:00:00.012Z', 'confirmed', 2, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'form');  -- 3: subscribed
INSERT INTO events (occurred_at, type, list_id, address_hash, source) VALUES ('2026-12-02T08:00:00.013Z', 'confirmed', NULL, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'cli');  -- nothing
INSERT INTO events (occurred_at, type, list_id, address_hash, source) VALUES ('2026-12-02T08:00:00.014Z', 'blocked', 1, 'dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd', 'form');  -- 1 and 2: blocked, no address
INSERT INTO events (occurred_at, type, list_id, address_hash, source) VALUES ('2026-12-02T08:00:00.015Z', 'soft_bounced', 1, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'api:1');  -- nothing
INSERT INTO events (occurred_at, type, list_id, address_hash, source) VALUES ('2026-12-02T08:00:00.016Z', 'forgotten', NULL, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'cli');  -- nothing by the trigger
