-- listgate schema, version 1: the whole product's tables.
--
-- Two worlds are kept apart on purpose (see INCIDENTS.md, Navigate 2018):
--   * the intake: `submissions` holds what web forms sent us, awaiting the person's
--     own confirmation. Nothing here is a list member.
--   * the list: `subscriptions` holds members. Only a confirmation, an admin or an
--     import writes here.
-- Mail leaves only through `outbox`, one row per message, one recipient per row.
--
-- Timestamps are RFC 3339 UTC text with milliseconds ('2026-11-21T09:30:00.000Z'), so
-- they sort as text and read well in `sqlite3`. Tables are STRICT so a wrong type is an
-- error rather than a silent conversion.

-- Key/value settings: the secret key for tokens, the key for address hashes, the
-- outbox pause flag. Rows are written by `listgate migrate` and the services.
CREATE TABLE settings (
    key        TEXT PRIMARY KEY NOT NULL CHECK (length(key) BETWEEN 1 AND 100),
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE lists (
    id           INTEGER PRIMARY KEY,
    slug         TEXT NOT NULL UNIQUE
                 CHECK (length(slug) BETWEEN 1 AND 63
                        AND slug GLOB '[a-z0-9]*'
                        AND slug NOT GLOB '*[^a-z0-9-]*'),
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    from_name    TEXT CHECK (from_name IS NULL OR length(from_name) <= 200),
    from_email   TEXT NOT NULL CHECK (from_email GLOB '?*@?*'),
    reply_to     TEXT CHECK (reply_to IS NULL OR reply_to GLOB '?*@?*'),
    locale       TEXT NOT NULL DEFAULT 'ja' CHECK (locale IN ('ja', 'en')),
    created_at   TEXT NOT NULL
) STRICT;

-- Extra addresses the content guard accepts in this list's mail (e.g. a support desk
-- named in the footer). Anything not here, not the From/Reply-To and not the recipient
-- makes a message fail the guard.
CREATE TABLE list_allowed_addresses (
    list_id INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
    email   TEXT NOT NULL CHECK (email GLOB '?*@?*'),
    PRIMARY KEY (list_id, email)
) STRICT;

-- Web origins allowed to post this list's forms (empty: any origin).
CREATE TABLE list_allowed_origins (
    list_id INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
    origin  TEXT NOT NULL CHECK (origin GLOB 'http*://?*'),
    PRIMARY KEY (list_id, origin)
) STRICT;

-- One row per person's address, shared by every list. `identity_key` is the
-- normalised form (lowercased local part @ IDNA A-label domain) that decides
-- uniqueness; `email` is what was entered. `address_hash` is a keyed hash of the
-- identity key: events and suppressions refer to people by it, so erasing this row
-- (`subscribers forget`) leaves no clear-text address behind.
CREATE TABLE addresses (
    id              INTEGER PRIMARY KEY,
    email           TEXT NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    identity_key    TEXT NOT NULL UNIQUE CHECK (length(identity_key) BETWEEN 3 AND 254),
    address_hash    TEXT NOT NULL UNIQUE CHECK (length(address_hash) = 64),
    needs_smtputf8  INTEGER NOT NULL DEFAULT 0 CHECK (needs_smtputf8 IN (0, 1)),
    created_at      TEXT NOT NULL
) STRICT;

-- List membership. The UNIQUE pair (list, address) is the uniqueness on
-- (list, identity key), since an address row is unique by identity key.
CREATE TABLE subscriptions (
    id              INTEGER PRIMARY KEY,
    list_id         INTEGER NOT NULL REFERENCES lists(id),
    address_id      INTEGER NOT NULL REFERENCES addresses(id) ON DELETE CASCADE,
    name            TEXT CHECK (name IS NULL OR length(name) <= 200),
    status          TEXT NOT NULL
                    CHECK (status IN ('pending', 'active', 'unsubscribed', 'bounced', 'complained')),
    source          TEXT NOT NULL CHECK (source IN ('form', 'admin', 'import')),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    subscribed_at   TEXT,
    unsubscribed_at TEXT,
    UNIQUE (list_id, address_id),
    -- A member is active only with the time it became so; a leaver only with the time it left.
    CHECK (status <> 'active' OR subscribed_at IS NOT NULL),
    CHECK (status <> 'unsubscribed' OR unsubscribed_at IS NOT NULL)
) STRICT;
CREATE INDEX subscriptions_by_list_status ON subscriptions (list_id, status, address_id);
CREATE INDEX subscriptions_by_address ON subscriptions (address_id);
CREATE INDEX subscriptions_by_unsubscribed ON subscriptions (list_id, unsubscribed_at)
    WHERE unsubscribed_at IS NOT NULL;

-- The intake: what a web form asked for, before the person confirmed it. A
-- submission names exactly one address, the one typed into the form, and is the only
-- thing that can cause an auto-reply; it never reads or writes `subscriptions`.
CREATE TABLE submissions (
    id               INTEGER PRIMARY KEY,
    public_id        TEXT NOT NULL UNIQUE CHECK (length(public_id) >= 16),
    list_id          INTEGER NOT NULL REFERENCES lists(id),
    kind             TEXT NOT NULL CHECK (kind IN ('subscribe', 'unsubscribe')),
    email            TEXT NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    identity_key     TEXT NOT NULL CHECK (length(identity_key) BETWEEN 3 AND 254),
    address_hash     TEXT NOT NULL CHECK (length(address_hash) = 64),
    name             TEXT CHECK (name IS NULL OR length(name) <= 200),
    status           TEXT NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'confirmed', 'blocked', 'expired', 'superseded')),
    consent_version  TEXT,
    client_ip_prefix TEXT,
    user_agent       TEXT CHECK (user_agent IS NULL OR length(user_agent) <= 512),
    requested_at     TEXT NOT NULL,
    expires_at       TEXT NOT NULL,
    mailed_at        TEXT,
    decided_at       TEXT,
    CHECK (expires_at > requested_at)
) STRICT;
CREATE INDEX submissions_by_address ON submissions (list_id, identity_key, status);
CREATE INDEX submissions_by_hash ON submissions (address_hash);

-- Addresses that must not be mailed or (re)activated. list_id NULL means every list.
-- Keyed by address hash so a suppression survives `subscribers forget`.
CREATE TABLE suppressions (
    id           INTEGER PRIMARY KEY,
    list_id      INTEGER REFERENCES lists(id),
    address_hash TEXT NOT NULL CHECK (length(address_hash) = 64),
    reason       TEXT NOT NULL
                 CHECK (reason IN ('unsubscribed', 'blocked', 'bounced', 'complained', 'admin', 'forgotten')),
    created_at   TEXT NOT NULL
) STRICT;
-- SQLite treats NULLs as distinct in UNIQUE, so the global case needs its own index.
CREATE UNIQUE INDEX suppressions_per_list ON suppressions (list_id, address_hash) WHERE list_id IS NOT NULL;
CREATE UNIQUE INDEX suppressions_global ON suppressions (address_hash) WHERE list_id IS NULL;

-- The append-only ledger: every state change, with time, source and consent wording
-- version. People appear only as `address_hash`. `prev_hash`/`hash` chain each row to
-- the one before, so an edit made behind the triggers' back is detectable.
CREATE TABLE events (
    id              INTEGER PRIMARY KEY,
    occurred_at     TEXT NOT NULL,
    type            TEXT NOT NULL CHECK (type IN (
                        'list_created', 'list_updated',
                        'requested', 'confirmed', 'blocked',
                        'subscriber_added', 'imported', 'unsubscribed', 'resubscribed',
                        'bounced', 'complained',
                        'suppressed', 'unsuppressed', 'forgotten',
                        'token_created', 'token_revoked',
                        'snapshot_taken', 'snapshot_approved',
                        'outbox_paused', 'outbox_resumed', 'message_discarded', 'message_released')),
    list_id         INTEGER REFERENCES lists(id),
    address_hash    TEXT CHECK (address_hash IS NULL OR length(address_hash) = 64),
    source          TEXT NOT NULL CHECK (length(source) BETWEEN 1 AND 100),
    consent_version TEXT,
    detail          TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail)),
    prev_hash       TEXT NOT NULL CHECK (length(prev_hash) = 64),
    hash            TEXT NOT NULL UNIQUE CHECK (length(hash) = 64)
) STRICT;
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

-- Outgoing mail. One row is one message to one person: `recipient` is a single
-- address (the CHECK refuses anything with a list separator, whitespace or control
-- character, and wants a host name after the last '@'), and there is no column
-- that could hold another one. `raw_message` is the rendered RFC 5322 message, kept
-- so that retries send the same bytes under the same Message-ID.
CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY,
    message_id       TEXT NOT NULL UNIQUE CHECK (message_id GLOB '<?*@?*>'),
    list_id          INTEGER NOT NULL REFERENCES lists(id),
    kind             TEXT NOT NULL CHECK (kind IN ('confirmation', 'unsubscribe_link', 'receipt')),
    recipient        TEXT NOT NULL
                     CHECK (length(recipient) BETWEEN 3 AND 254
                            AND recipient GLOB '?*@?*'
                            AND recipient NOT GLOB '*[,;<>' || char(9, 10, 13, 32) || ']*'
                            AND instr(recipient, char(0)) = 0
                            -- the part after the last '@' is a host name
                            AND substr(recipient, length(rtrim(recipient, replace(recipient, '@', ''))) + 1)
                                GLOB '[A-Za-z0-9]*'
                            AND substr(recipient, length(rtrim(recipient, replace(recipient, '@', ''))) + 1)
                                NOT GLOB '*[^A-Za-z0-9.-]*'),
    address_hash     TEXT NOT NULL CHECK (length(address_hash) = 64),
    needs_smtputf8   INTEGER NOT NULL DEFAULT 0 CHECK (needs_smtputf8 IN (0, 1)),
    raw_message      BLOB NOT NULL,
    status           TEXT NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'quarantined', 'discarded')),
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  TEXT NOT NULL,
    last_error       TEXT,
    quarantine_reason TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    sent_at          TEXT,
    CHECK (status <> 'quarantined' OR quarantine_reason IS NOT NULL),
    CHECK (status <> 'sent' OR sent_at IS NOT NULL)
) STRICT;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
-- The circuit breaker counts what was queued in the last minute.
CREATE INDEX outbox_by_created ON outbox (created_at);
CREATE INDEX outbox_by_address ON outbox (address_hash);

-- Bearer tokens for the newsletter sender. Only the SHA-256 of the token is stored;
-- a token reads exactly one list.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    public_id    TEXT NOT NULL UNIQUE CHECK (length(public_id) >= 8),
    list_id      INTEGER NOT NULL REFERENCES lists(id),
    name         TEXT CHECK (name IS NULL OR length(name) <= 200),
    token_sha256 TEXT NOT NULL UNIQUE CHECK (length(token_sha256) = 64),
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
) STRICT;

-- Frozen audiences: the member set at the moment of the snapshot, stored rather
-- than recomputed, with its count and checksum, so what a sender reviewed is what it
-- sends (INCIDENTS.md, GooPass 2020).
CREATE TABLE snapshots (
    id          INTEGER PRIMARY KEY,
    public_id   TEXT NOT NULL UNIQUE CHECK (length(public_id) >= 16),
    list_id     INTEGER NOT NULL REFERENCES lists(id),
    token_id    INTEGER REFERENCES api_tokens(id),
    count       INTEGER NOT NULL CHECK (count >= 0),
    sha256      TEXT NOT NULL CHECK (length(sha256) = 64),
    created_at  TEXT NOT NULL,
    approved_at TEXT
) STRICT;

CREATE TABLE snapshot_members (
    snapshot_id     INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    subscription_id INTEGER NOT NULL,
    identity_key    TEXT NOT NULL,
    email           TEXT NOT NULL,
    name            TEXT,
    subscribed_at   TEXT NOT NULL,
    PRIMARY KEY (snapshot_id, identity_key)
) STRICT, WITHOUT ROWID;
