-- The sender's guard (README, "Before you send"): a list may require
-- N people to approve each snapshot, by its exact count and SHA-256, before the
-- recipients can be streamed; and the ledger learns the type of a preflight check.
--
-- The required number is frozen into each snapshot when it is taken, so raising or
-- lowering the list's setting later never changes what an existing snapshot needs.
ALTER TABLE lists ADD COLUMN snapshot_approvals INTEGER NOT NULL DEFAULT 0
    CHECK (snapshot_approvals BETWEEN 0 AND 9);
-- `approved_at` (unused until now) is the time the last required approval was counted:
-- NULL while a snapshot awaits approval, and for one that never needed any.
ALTER TABLE snapshots ADD COLUMN approvals_required INTEGER NOT NULL DEFAULT 0
    CHECK (approvals_required BETWEEN 0 AND 9);
-- `snapshots list --list SLUG`, newest first.
CREATE INDEX snapshots_by_list ON snapshots (list_id, created_at);

-- One person's approval of one snapshot. `approver` is `admin:NAME` (the CLI) or
-- `token:ID` (an API token with audience:approve, also in `token_id`); the primary key
-- counts each approver once. An approval is evidence, like the ledger: never changed or
-- deleted.
CREATE TABLE snapshot_approvals (
    snapshot_id   INTEGER NOT NULL REFERENCES snapshots(id),
    approver      TEXT NOT NULL CHECK (length(approver) BETWEEN 1 AND 120
                                       AND (approver GLOB 'admin:?*' OR approver GLOB 'token:?*')),
    token_id      INTEGER REFERENCES api_tokens(id),
    count         INTEGER NOT NULL CHECK (count >= 0),
    sha256_prefix TEXT NOT NULL CHECK (length(sha256_prefix) BETWEEN 8 AND 64
                                       AND sha256_prefix NOT GLOB '*[^0-9a-f]*'),
    approved_at   TEXT NOT NULL,
    PRIMARY KEY (snapshot_id, approver)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER snapshot_approvals_are_append_only_update BEFORE UPDATE ON snapshot_approvals
BEGIN
    SELECT RAISE(ABORT, 'snapshot approvals are never changed: UPDATE refused');
END;
CREATE TRIGGER snapshot_approvals_are_append_only_delete BEFORE DELETE ON snapshot_approvals
BEGIN
    SELECT RAISE(ABORT, 'snapshot approvals are never deleted: DELETE refused');
END;

-- The core checks these rules first (SnapshotApprovals); the trigger keeps any other
-- writer from recording an approval of a different audience than the one frozen, of a
-- snapshot that needs none, or by the token that took the snapshot.
CREATE TRIGGER snapshot_approvals_match BEFORE INSERT ON snapshot_approvals
WHEN NOT EXISTS (
    SELECT 1 FROM snapshots s
    WHERE s.id = NEW.snapshot_id AND s.count = NEW.count
      AND substr(s.sha256, 1, length(NEW.sha256_prefix)) = NEW.sha256_prefix
      AND s.approvals_required > 0
      AND (NEW.token_id IS NULL OR s.token_id IS NULL OR s.token_id <> NEW.token_id))
BEGIN
    SELECT RAISE(ABORT, 'an approval must match its snapshot (count, sha256, required, not its creator)');
END;

-- The ledger's vocabulary (EventType in the code): the list of 0014, then preflight_checked.
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
    'soft_bounced', 'webhook_added', 'webhook_removed', 'webhook_source_added', 'webhook_source_removed',
    'preflight_checked')
BEGIN
    SELECT RAISE(ABORT, 'unknown event type');
END;
