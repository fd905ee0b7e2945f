-- Provider webhooks (README, "Provider webhooks"): which provider may report bounces
-- and complaints for which list, and what verifies its requests. One source per
-- provider and list. Only what verification needs is kept, and secrets never in the
-- clear: SendGrid's key is public; Mailgun's signing key must be usable for HMAC, so it
-- is sealed with AES-GCM under the `webhook_secret_key` setting; Postmark's password is
-- kept as a salted SHA-256 (docs/security.md says what each protects against).
CREATE TABLE webhook_sources (
    id                  INTEGER PRIMARY KEY,
    public_id           TEXT NOT NULL UNIQUE CHECK (length(public_id) >= 8),
    list_id             INTEGER NOT NULL REFERENCES lists(id),
    provider            TEXT NOT NULL CHECK (provider IN ('ses', 'sendgrid', 'mailgun', 'postmark')),
    ses_topic_arn       TEXT CHECK (ses_topic_arn IS NULL OR length(ses_topic_arn) BETWEEN 1 AND 256),
    sendgrid_public_key TEXT CHECK (sendgrid_public_key IS NULL OR length(sendgrid_public_key) BETWEEN 1 AND 1000),
    -- base64 of nonce ‖ ciphertext ‖ tag, sealed with the row's public id as associated
    -- data, so a sealed key copied onto another row does not open.
    mailgun_key_sealed  TEXT CHECK (mailgun_key_sealed IS NULL OR length(mailgun_key_sealed) BETWEEN 1 AND 1000),
    postmark_username   TEXT CHECK (postmark_username IS NULL OR length(postmark_username) BETWEEN 1 AND 200),
    postmark_salt       TEXT CHECK (postmark_salt IS NULL OR length(postmark_salt) = 32),
    postmark_sha256     TEXT CHECK (postmark_sha256 IS NULL OR length(postmark_sha256) = 64),
    created_at          TEXT NOT NULL,
    UNIQUE (list_id, provider),
    -- Each provider has exactly its own material.
    CHECK (provider <> 'sendgrid' OR sendgrid_public_key IS NOT NULL),
    CHECK (provider <> 'mailgun' OR mailgun_key_sealed IS NOT NULL),
    CHECK (provider <> 'postmark' OR (postmark_username IS NOT NULL AND postmark_salt IS NOT NULL AND postmark_sha256 IS NOT NULL)),
    CHECK (provider = 'ses' OR ses_topic_arn IS NULL),
    CHECK (provider = 'sendgrid' OR sendgrid_public_key IS NULL),
    CHECK (provider = 'mailgun' OR mailgun_key_sealed IS NULL),
    CHECK (provider = 'postmark' OR (postmark_username IS NULL AND postmark_salt IS NULL AND postmark_sha256 IS NULL))
) STRICT;

-- One-time values a provider signed (Mailgun's token): a request carrying one already
-- seen is a replay. Kept only while a request carrying it could still pass the
-- 5-minute freshness check; older ones are dropped as new ones arrive.
CREATE TABLE webhook_nonces (
    source_id INTEGER NOT NULL REFERENCES webhook_sources(id) ON DELETE CASCADE,
    nonce     TEXT NOT NULL CHECK (length(nonce) BETWEEN 1 AND 200),
    seen_at   TEXT NOT NULL,
    PRIMARY KEY (source_id, nonce)
) STRICT;
CREATE INDEX webhook_nonces_by_age ON webhook_nonces (seen_at);

-- The vocabulary (EventType in the code) grows by the feedback events and the webhook
-- configuration events.
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
