-- After an erasure: `subscribers forget` removes the person from every snapshot, while a
-- snapshot's `count` and `sha256` stay those of what was frozen (what the sender
-- reviewed). `erased` says how many members have since been erased, so the sender
-- knows why the recipients stream has `count - erased` lines rather than `count`.
ALTER TABLE snapshots ADD COLUMN erased INTEGER NOT NULL DEFAULT 0 CHECK (erased >= 0 AND erased <= count);

-- Snapshots taken before this migration: every member missing from them was erased
-- (nothing else deletes a member), so the difference is exactly their count.
UPDATE snapshots
SET erased = count - (SELECT count(*) FROM snapshot_members m WHERE m.snapshot_id = snapshots.id);
