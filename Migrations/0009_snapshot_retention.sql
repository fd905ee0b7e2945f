-- Snapshots do not grow without end (README, "Snapshots are kept for a while"): a
-- snapshot's member rows are deleted once it is older than LISTGATE_SNAPSHOT_RETENTION
-- days (or by `listgate snapshots prune`), about 110 bytes per member otherwise kept
-- forever. The snapshot row stays, with its count and checksum, as does its
-- `snapshot_taken` event; `members_deleted_at` says when its members went, and from
-- then on its recipients stream answers 410. It is set before the first row is deleted,
-- so a stream still running then can tell that what it read is no longer whole.
ALTER TABLE snapshots ADD COLUMN members_deleted_at TEXT;
CREATE INDEX snapshots_by_age ON snapshots (created_at) WHERE members_deleted_at IS NULL;
