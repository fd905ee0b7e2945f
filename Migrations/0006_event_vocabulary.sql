-- The ledger's vocabulary moves from a CHECK on `events.type` to a trigger. SQLite cannot
-- change a CHECK in place, and new capabilities bring new event types (closing a list,
-- exporting what is held on a person, senders' feedback): a later migration now replaces
-- the trigger instead of copying the whole ledger again. The rows are copied as they are,
-- ids included, so every hash in the chain stays valid (`listgate events verify`).
CREATE TABLE events_next (
    id              INTEGER PRIMARY KEY,
    occurred_at     TEXT NOT NULL,
    type            TEXT NOT NULL CHECK (length(type) BETWEEN 1 AND 40 AND type NOT GLOB '*[^a-z_]*'),
    list_id         INTEGER REFERENCES lists(id),
    address_hash    TEXT CHECK (address_hash IS NULL OR length(address_hash) = 64),
    source          TEXT NOT NULL CHECK (length(source) BETWEEN 1 AND 100),
    consent_version TEXT,
    detail          TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail)),
    prev_hash       TEXT NOT NULL CHECK (length(prev_hash) = 64),
    hash            TEXT NOT NULL UNIQUE CHECK (length(hash) = 64)
) STRICT;
INSERT INTO events_next (id, occurred_at, type, list_id, address_hash, source, consent_version, detail, prev_hash, hash)
    SELECT id, occurred_at, type, list_id, address_hash, source, consent_version, detail, prev_hash, hash FROM events;
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

-- The vocabulary (EventType in the code). To add a type, a migration drops this trigger
-- and creates it again with the longer list.
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
