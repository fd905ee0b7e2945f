-- Outbound webhooks (README, "Receiving webhooks"): a list's changes POSTed, signed as
-- Standard Webhooks, to the receivers an admin named with `listgate webhooks add`.
--
-- A delivery is queued in the transaction of the change that causes it, by a trigger on
-- the ledger: every change path appends its event there in its own transaction, so the
-- trigger is the one place no path can forget, and a future PostgreSQL store gets the
-- same rule from its own migration. `forgotten` is the exception: its event names no list
-- (the person is erased from every list), so `subscribers forget` queues it itself, to the
-- lists the person was on, and erases the address from every delivery that holds it.

-- The ledger's vocabulary grows by the types of senders' feedback and of webhooks
-- (EventType in the code): the list of 0010, then these five at its end.
DROP TRIGGER events_type_is_known;
CREATE TRIGGER events_type_is_known BEFORE INSERT ON events
WHEN NEW.type NOT IN (
    'list_created', 'list_updated', 'list_archived',
    'requested', 'confirmed', 'blocked',
    'subscriber_added', 'imported', 'unsubscribed', 'resubscribed',
    'bounced', 'complained',
    'suppressed', 'unsuppressed', 'forgotten', 'data_exported',
    'token_created', 'token_revoked',
    'snapshot_taken', 'snapshot_approved',
    'outbox_paused', 'outbox_resumed', 'message_discarded', 'message_released',
    'soft_bounced', 'webhook_added', 'webhook_removed', 'webhook_source_added', 'webhook_source_removed')
BEGIN
    SELECT RAISE(ABORT, 'unknown event type');
END;

-- A receiver. The signing secret must be usable for HMAC, so it cannot be hashed: it is
-- sealed with AES-GCM under the `webhook_secret_key` setting, the row's public id bound
-- in as authenticated data (docs/security.md says what that protects). A removed webhook
-- stays, so its deliveries keep naming it.
CREATE TABLE webhooks (
    id            INTEGER PRIMARY KEY,
    public_id     TEXT NOT NULL UNIQUE CHECK (length(public_id) = 19 AND public_id GLOB 'wh_*'),
    list_id       INTEGER NOT NULL REFERENCES lists(id),
    url           TEXT NOT NULL CHECK (length(url) <= 2000 AND (url GLOB 'http://?*' OR url GLOB 'https://?*')),
    secret_sealed BLOB NOT NULL CHECK (length(secret_sealed) >= 28),
    created_at    TEXT NOT NULL,
    removed_at    TEXT
) STRICT;
CREATE INDEX webhooks_by_list ON webhooks (list_id) WHERE removed_at IS NULL;

-- The kinds of change a webhook receives (`--event`; every kind by default).
CREATE TABLE webhook_event_types (
    webhook_id INTEGER NOT NULL REFERENCES webhooks(id),
    type       TEXT NOT NULL
               CHECK (type IN ('subscribed', 'unsubscribed', 'bounced', 'complained', 'blocked', 'forgotten')),
    PRIMARY KEY (webhook_id, type)
) STRICT, WITHOUT ROWID;

-- One POST to one receiver, retried until it is answered 2xx or its time is up. The body
-- is built at each attempt from these columns and the event's, so erasing `email` erases
-- the address from every later attempt. `next_attempt_at` is also the lease: the worker
-- moves it forward when it claims the delivery (and sets `leased`), so one whose worker
-- died (kill -9) is due again once the lease ends, or at once when `serve` starts again. `first_due_at` starts the 3 days of retries (again at
-- `webhooks retry`).
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    public_id       TEXT NOT NULL UNIQUE CHECK (length(public_id) = 28 AND public_id GLOB 'msg_*'),
    webhook_id      INTEGER NOT NULL REFERENCES webhooks(id),
    event_id        INTEGER NOT NULL REFERENCES events(id),
    type            TEXT NOT NULL
                    CHECK (type IN ('subscribed', 'unsubscribed', 'bounced', 'complained', 'blocked', 'forgotten')),
    email           TEXT CHECK (email IS NULL OR length(email) BETWEEN 3 AND 254),
    address_hash    TEXT CHECK (address_hash IS NULL OR length(address_hash) = 64),
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    created_at      TEXT NOT NULL,
    first_due_at    TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    leased          INTEGER NOT NULL DEFAULT 0 CHECK (leased IN (0, 1)),
    last_status     INTEGER,
    last_error      TEXT CHECK (last_error IS NULL OR length(last_error) <= 500),
    delivered_at    TEXT,
    -- A forgotten person's delivery never holds their address.
    CHECK (type <> 'forgotten' OR email IS NULL),
    CHECK (status <> 'delivered' OR delivered_at IS NOT NULL)
) STRICT;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (webhook_id, next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_failed ON webhook_deliveries (id) WHERE status = 'failed';
-- `subscribers forget` finds the deliveries that hold the person's address.
CREATE INDEX webhook_deliveries_by_address ON webhook_deliveries (address_hash) WHERE email IS NOT NULL;

-- The hook. Its WHEN is all that most events pay (a `requested` on the subscribe path, an
-- `imported` per imported row): a comparison with a short list. Events that pass it pay one
-- probe of `webhooks_by_list`, and rows only for webhooks that want the kind.
-- `subscriber_added` is a subscription only when the admin added the person active;
-- `imported` never fires: an import moves people the list's owner already holds elsewhere,
-- and a million POSTs would bury every other change (README, "Receiving webhooks").
-- The address comes from the person's address row, or, for a "not me" (`blocked`) by
-- someone never subscribed, from the submission it blocked.
CREATE TRIGGER events_queue_webhook_deliveries AFTER INSERT ON events
WHEN NEW.list_id IS NOT NULL
 AND NEW.type IN ('confirmed', 'subscriber_added', 'resubscribed', 'unsubscribed', 'bounced', 'complained', 'blocked')
BEGIN
    INSERT INTO webhook_deliveries
        (public_id, webhook_id, event_id, type, email, address_hash, created_at, first_due_at, next_attempt_at)
    SELECT 'msg_' || lower(hex(randomblob(12))), w.id, NEW.id, t.type,
           coalesce(
               (SELECT a.email FROM addresses a WHERE a.address_hash = NEW.address_hash),
               (SELECT s.email FROM submissions s WHERE s.address_hash = NEW.address_hash
                   AND s.list_id = NEW.list_id ORDER BY s.id DESC LIMIT 1)),
           NEW.address_hash, NEW.occurred_at, NEW.occurred_at, NEW.occurred_at
    FROM webhooks w JOIN webhook_event_types t ON t.webhook_id = w.id
    WHERE w.list_id = NEW.list_id AND w.removed_at IS NULL
      AND t.type = CASE NEW.type
          WHEN 'confirmed' THEN 'subscribed'
          WHEN 'resubscribed' THEN 'subscribed'
          WHEN 'subscriber_added' THEN
              CASE WHEN json_extract(NEW.detail, '$.status') = 'active' THEN 'subscribed' END
          ELSE NEW.type END;
END;
