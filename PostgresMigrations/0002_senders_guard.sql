-- The sender's guard, as SQLite's 0015_senders_guard.sql: a list may require N people to
-- approve each snapshot, by its exact count and SHA-256, before the recipients can be
-- streamed; and the ledger learns the type of a preflight check.
--
-- The required number is frozen into each snapshot when it is taken, so changing the
-- list's setting later never changes what an existing snapshot needs.
ALTER TABLE lists ADD COLUMN snapshot_approvals integer NOT NULL DEFAULT 0
    CHECK (snapshot_approvals BETWEEN 0 AND 9);
ALTER TABLE snapshots ADD COLUMN approvals_required integer NOT NULL DEFAULT 0
    CHECK (approvals_required BETWEEN 0 AND 9);
COMMENT ON COLUMN snapshots.approved_at IS
    'When the last required approval was counted; NULL while awaiting approval, and when none was required.';
-- `snapshots list --list SLUG`, newest first.
CREATE INDEX snapshots_by_list ON snapshots (list_id, created_at);

-- One person's approval of one snapshot. `approver` is `admin:NAME` (the CLI) or
-- `token:ID` (an API token with audience:approve, also in `token_id`); the primary key
-- counts each approver once. Evidence, like the ledger: never changed or deleted.
CREATE TABLE snapshot_approvals (
    snapshot_id   bigint NOT NULL REFERENCES snapshots(id),
    approver      text NOT NULL CHECK (length(approver) BETWEEN 1 AND 120
                                       AND (approver ~ '^admin:.' OR approver ~ '^token:.')),
    token_id      bigint REFERENCES api_tokens(id),
    count         bigint NOT NULL CHECK (count >= 0),
    sha256_prefix text NOT NULL CHECK (length(sha256_prefix) BETWEEN 8 AND 64 AND sha256_prefix !~ '[^0-9a-f]'),
    approved_at   timestamptz NOT NULL,
    PRIMARY KEY (snapshot_id, approver)
);

CREATE TRIGGER snapshot_approvals_are_append_only_update BEFORE UPDATE ON snapshot_approvals
    FOR EACH ROW EXECUTE FUNCTION listgate_refuse('snapshot approvals are never changed: UPDATE refused');
CREATE TRIGGER snapshot_approvals_are_append_only_delete BEFORE DELETE ON snapshot_approvals
    FOR EACH ROW EXECUTE FUNCTION listgate_refuse('snapshot approvals are never deleted: DELETE refused');
CREATE TRIGGER snapshot_approvals_are_append_only_truncate BEFORE TRUNCATE ON snapshot_approvals
    FOR EACH STATEMENT EXECUTE FUNCTION listgate_refuse('snapshot approvals are never deleted: TRUNCATE refused');

-- The core checks these rules first (SnapshotApprovals); the trigger keeps any other
-- writer from recording an approval of a different audience than the one frozen, of a
-- snapshot that needs none, or by the token that took the snapshot.
CREATE FUNCTION snapshot_approvals_refuse_mismatch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM snapshots s
        WHERE s.id = NEW.snapshot_id AND s.count = NEW.count
          AND left(s.sha256, length(NEW.sha256_prefix)) = NEW.sha256_prefix
          AND s.approvals_required > 0
          AND (NEW.token_id IS NULL OR s.token_id IS DISTINCT FROM NEW.token_id)) THEN
        RAISE EXCEPTION 'an approval must match its snapshot (count, sha256, required, not its creator)'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER snapshot_approvals_match BEFORE INSERT ON snapshot_approvals
    FOR EACH ROW EXECUTE FUNCTION snapshot_approvals_refuse_mismatch();

-- The ledger's vocabulary (EventType in the code): the list of 0001, then preflight_checked.
DROP TRIGGER events_type_is_known ON events;
CREATE TRIGGER events_type_is_known BEFORE INSERT ON events
    FOR EACH ROW WHEN (NEW.type NOT IN (
        'list_created', 'list_updated', 'list_archived',
        'requested', 'confirmed', 'blocked',
        'subscriber_added', 'imported', 'unsubscribed', 'resubscribed',
        'bounced', 'complained',
        'suppressed', 'unsuppressed', 'forgotten', 'data_exported',
        'token_created', 'token_revoked',
        'snapshot_taken', 'snapshot_approved',
        'outbox_paused', 'outbox_resumed', 'message_discarded', 'message_released',
        'soft_bounced', 'webhook_added', 'webhook_removed', 'webhook_source_added', 'webhook_source_removed',
        'preflight_checked'))
    EXECUTE FUNCTION events_refuse_unknown_type();
