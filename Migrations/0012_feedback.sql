-- Feedback from senders (README, "Reporting bounces and complaints"): what a newsletter
-- sender, or its provider, reports about the mail it sent comes back into the list.

-- What a sender token may do, as OAuth scopes separated by single spaces:
-- `audience:read` (snapshots, the recipients stream, the unsubscribes feed),
-- `feedback:write` (the feedback route), `audience:approve` (approving snapshots). Tokens
-- made before scopes existed read audiences, which is all they could do. The CHECK takes
-- each known scope out once, so an unknown, repeated or badly spaced one is refused.
ALTER TABLE api_tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT 'audience:read'
    CHECK (scopes <> '' AND scopes = trim(scopes) AND instr(scopes, '  ') = 0
        AND trim(replace(replace(replace(' ' || scopes || ' ',
            ' audience:read ', ' '), ' feedback:write ', ' '), ' audience:approve ', ' ')) = '');

-- A list's soft-bounce policy: the Nth soft bounce within D days (by the time the sender
-- says each happened) makes a subscription `bounced`. 3 in 15 days unless `lists update
-- --soft-bounce-limit N --soft-bounce-days D` says otherwise.
ALTER TABLE lists ADD COLUMN soft_bounce_limit INTEGER NOT NULL DEFAULT 3 CHECK (soft_bounce_limit BETWEEN 1 AND 100);
ALTER TABLE lists ADD COLUMN soft_bounce_days INTEGER NOT NULL DEFAULT 15 CHECK (soft_bounce_days BETWEEN 1 AND 365);

-- Every report id a list has taken, so a report sent again (a retry, a provider's
-- redelivery) is a duplicate and changes nothing. Written in the transaction of the change
-- the report made. The id is the sender's own; it names no one by itself.
CREATE TABLE feedback_reports (
    list_id     INTEGER NOT NULL REFERENCES lists(id),
    report_id   TEXT NOT NULL CHECK (length(report_id) BETWEEN 1 AND 200),
    received_at TEXT NOT NULL,
    PRIMARY KEY (list_id, report_id)
) STRICT, WITHOUT ROWID;

-- Soft bounces counted towards the policy, one row per report, by the time it happened.
-- Deleted with the subscription's address (`subscribers forget`).
CREATE TABLE soft_bounces (
    id              INTEGER PRIMARY KEY,
    subscription_id INTEGER NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
    occurred_at     TEXT NOT NULL
) STRICT;
CREATE INDEX soft_bounces_by_subscription ON soft_bounces (subscription_id, occurred_at);

-- The vocabulary grows: `soft_bounced` (a soft bounce counted), and the provider and
-- outbound webhooks' own events. The whole list as 0010 left it, then the new types.
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
