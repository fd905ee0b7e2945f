-- The ledger is sealed after the commit instead of inside it (README, "The ledger: durable
-- now, sealed soon"). An event is appended with its change and nothing else: no read of
-- the previous hash, no SHA-256, no unique index on a random hash in every write. The
-- hash chain moves to `event_chain`, where one sealer at a time (holding the lease in
-- `leases`) appends it in batches, in event order.
--
-- Every event already chained keeps its place and its hashes: position N is the N-th
-- event in id order, with the prev_hash and hash it was written with, so a chain sealed
-- by an earlier version verifies byte for byte, with the same head.

-- The chain first, copied from the ledger as it is. It refers to the new events table,
-- which takes the name `events` below (a rename carries the reference with it).
CREATE TABLE events_next (
    id              INTEGER PRIMARY KEY,
    occurred_at     TEXT NOT NULL,
    type            TEXT NOT NULL CHECK (length(type) BETWEEN 1 AND 40 AND type NOT GLOB '*[^a-z_]*'),
    list_id         INTEGER REFERENCES lists(id),
    address_hash    TEXT CHECK (address_hash IS NULL OR length(address_hash) = 64),
    source          TEXT NOT NULL CHECK (length(source) BETWEEN 1 AND 100),
    consent_version TEXT,
    detail          TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail))
) STRICT;
INSERT INTO events_next (id, occurred_at, type, list_id, address_hash, source, consent_version, detail)
    SELECT id, occurred_at, type, list_id, address_hash, source, consent_version, detail FROM events;

CREATE TABLE event_chain (
    position  INTEGER PRIMARY KEY CHECK (position >= 1),
    event_id  INTEGER NOT NULL UNIQUE REFERENCES events_next(id),
    prev_hash TEXT NOT NULL CHECK (length(prev_hash) = 64),
    hash      TEXT NOT NULL CHECK (length(hash) = 64)
) STRICT;
INSERT INTO event_chain (position, event_id, prev_hash, hash)
    SELECT row_number() OVER (ORDER BY id), id, prev_hash, hash FROM events ORDER BY id;

DROP TABLE events;
ALTER TABLE events_next RENAME TO events;
CREATE INDEX events_by_list ON events (list_id, id);
CREATE INDEX events_by_address ON events (address_hash) WHERE address_hash IS NOT NULL;

CREATE TRIGGER events_are_append_only_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: UPDATE refused');
END;
CREATE TRIGGER events_are_append_only_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: DELETE refused');
END;

-- The vocabulary as 0006 left it (EventType in the code).
CREATE TRIGGER events_type_is_known BEFORE INSERT ON events
WHEN NEW.type NOT IN (
    'list_created', 'list_updated', 'list_archived',
    'requested', 'confirmed', 'blocked',
    'subscriber_added', 'imported', 'unsubscribed', 'resubscribed',
    'bounced', 'complained',
    'suppressed', 'unsuppressed', 'forgotten', 'data_exported',
    'token_created', 'token_revoked',
    'snapshot_taken', 'snapshot_approved',
    'outbox_paused', 'outbox_resumed', 'message_discarded', 'message_released')
BEGIN
    SELECT RAISE(ABORT, 'unknown event type');
END;

-- The chain is as append-only as the events it seals.
CREATE TRIGGER event_chain_is_append_only_update BEFORE UPDATE ON event_chain
BEGIN
    SELECT RAISE(ABORT, 'the event chain is append-only: UPDATE refused');
END;
CREATE TRIGGER event_chain_is_append_only_delete BEFORE DELETE ON event_chain
BEGIN
    SELECT RAISE(ABORT, 'the event chain is append-only: DELETE refused');
END;
-- And it only grows at its head: from the hash at the position before (zeros for the
-- first), for an event newer than the one sealed there. With the primary key refusing a
-- position taken, positions stay 1, 2, 3... without a gap. One lookup per link, so a
-- batch of sealing pays little for it; a sealer with a mistake fails loudly here instead
-- of leaving a chain that verify would reject.
CREATE TRIGGER event_chain_extends_its_head BEFORE INSERT ON event_chain
WHEN NOT coalesce(
    (SELECT c.hash = NEW.prev_hash AND c.event_id < NEW.event_id FROM event_chain c WHERE c.position = NEW.position - 1),
    NEW.position = 1 AND NEW.prev_hash = '0000000000000000000000000000000000000000000000000000000000000000')
BEGIN
    SELECT RAISE(ABORT, 'the event chain grows only at its head, in event order');
END;

-- Named, time-limited leases: the sealer's, so that one process at a time seals. A lease
-- past its expires_at is free for anyone to take.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 100),
    holder     TEXT NOT NULL CHECK (length(holder) BETWEEN 1 AND 200),
    expires_at TEXT NOT NULL
) STRICT;
