-- Hardening (docs/security.md): what an attacker found, closed in the schema.

-- The front door records every form post here and answers once the row is committed;
-- what the post causes (a confirmation, an unsubscribe link, or nothing) is decided
-- afterwards by the intake desk, which deletes the row in the same transaction as its
-- decision. So every acceptable post does the same work before its answer, whatever
-- the address's state: the answer's timing cannot tell who is subscribed. A row holds
-- the address as typed, so `subscribers forget` erases matching rows too.
CREATE TABLE form_requests (
    id             INTEGER PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('subscribe', 'unsubscribe_link')),
    list_id        INTEGER NOT NULL REFERENCES lists(id),
    email          TEXT NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    identity_key   TEXT NOT NULL CHECK (length(identity_key) BETWEEN 3 AND 254),
    name           TEXT CHECK (name IS NULL OR length(name) <= 200),
    route          TEXT NOT NULL CHECK (length(route) BETWEEN 1 AND 100),
    client_network TEXT,
    user_agent     TEXT CHECK (user_agent IS NULL OR length(user_agent) <= 512),
    received_at    TEXT NOT NULL,
    -- Decisions that failed for a reason other than the post itself (the desk retries a
    -- few times, then drops the row with an error in the log rather than block the queue).
    attempts       INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0)
) STRICT;
CREATE INDEX form_requests_by_identity ON form_requests (identity_key);

-- One mailbox, one limit: `mailbox_hash` is the keyed hash of the address with any
-- +tag removed from its local part, so victim+1@ and victim+2@ share the cooldown and
-- the daily limit of victim@. NULL on rows written before this migration (they age
-- out of the 24-hour window by themselves).
ALTER TABLE submissions ADD COLUMN mailbox_hash TEXT CHECK (mailbox_hash IS NULL OR length(mailbox_hash) = 64);
ALTER TABLE outbox ADD COLUMN mailbox_hash TEXT CHECK (mailbox_hash IS NULL OR length(mailbox_hash) = 64);
CREATE INDEX submissions_by_mailbox ON submissions (list_id, mailbox_hash, mailed_at) WHERE mailbox_hash IS NOT NULL;
CREATE INDEX outbox_by_mailbox ON outbox (list_id, mailbox_hash, created_at) WHERE mailbox_hash IS NOT NULL;

-- The mail ceiling sends at most N messages a minute: it counts what was sent.
CREATE INDEX outbox_by_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL;

-- Erasure reaches the sender: every subscription has an opaque `recipient_id` (random,
-- never the address, never reused) that the recipients stream carries, and an erased
-- subscription leaves only that id behind, here, for the unsubscribes feed.
ALTER TABLE subscriptions ADD COLUMN recipient_id TEXT;
UPDATE subscriptions SET recipient_id = lower(hex(randomblob(16))) WHERE recipient_id IS NULL;
CREATE UNIQUE INDEX subscriptions_by_recipient_id ON subscriptions (recipient_id);
CREATE TRIGGER subscriptions_get_recipient_id AFTER INSERT ON subscriptions
WHEN NEW.recipient_id IS NULL
BEGIN
    UPDATE subscriptions SET recipient_id = lower(hex(randomblob(16))) WHERE id = NEW.id;
END;

CREATE TABLE erasures (
    list_id      INTEGER NOT NULL REFERENCES lists(id),
    recipient_id TEXT NOT NULL UNIQUE CHECK (length(recipient_id) = 32),
    erased_at    TEXT NOT NULL
) STRICT;
CREATE INDEX erasures_by_list ON erasures (list_id, erased_at);
