-- What was approved stays what it was (README, "Before you send"): once anyone approved a
-- snapshot, its count, sha256, required number of approvals, list and creator cannot
-- change, so an approval always speaks of the audience that is streamed. listgate never
-- updates them after taking the snapshot; this keeps any other writer from doing so.
CREATE TRIGGER snapshots_frozen_once_approved BEFORE UPDATE OF count, sha256, approvals_required, list_id, token_id
ON snapshots
WHEN EXISTS (SELECT 1 FROM snapshot_approvals WHERE snapshot_id = OLD.id)
     AND (NEW.count IS NOT OLD.count OR NEW.sha256 IS NOT OLD.sha256
          OR NEW.approvals_required IS NOT OLD.approvals_required OR NEW.list_id IS NOT OLD.list_id
          OR NEW.token_id IS NOT OLD.token_id)
BEGIN
    SELECT RAISE(ABORT, 'an approved snapshot''s audience never changes: UPDATE refused');
END;
