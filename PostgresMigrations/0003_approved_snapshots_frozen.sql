-- What was approved stays what it was (as SQLite's 0016): once anyone approved a snapshot,
-- its count, sha256, required number of approvals, list and creator cannot change, so an
-- approval always speaks of the audience that is streamed.
CREATE FUNCTION snapshots_refuse_change_once_approved() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM snapshot_approvals WHERE snapshot_id = OLD.id)
       AND (NEW.count IS DISTINCT FROM OLD.count OR NEW.sha256 IS DISTINCT FROM OLD.sha256
            OR NEW.approvals_required IS DISTINCT FROM OLD.approvals_required
            OR NEW.list_id IS DISTINCT FROM OLD.list_id OR NEW.token_id IS DISTINCT FROM OLD.token_id) THEN
        RAISE EXCEPTION 'an approved snapshot''s audience never changes: UPDATE refused'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER snapshots_frozen_once_approved BEFORE UPDATE OF count, sha256, approvals_required, list_id, token_id
    ON snapshots FOR EACH ROW EXECUTE FUNCTION snapshots_refuse_change_once_approved();
