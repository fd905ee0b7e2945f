-- A lean write path (docs/design.md, "The write path"): every index costs each subscribe
-- decision a page written at a random place in a large tree, on SQLite's one writer.
-- These two are paid on every post and read by nothing that runs then.

-- No query looks submissions up by (list, identity key): confirmations find them by
-- public id, the cooldown and daily limit by mailbox hash, and `subscribers forget`
-- (which matches identity keys, quoted legacy spellings included) reads the table whole.
DROP INDEX submissions_by_address;

-- The desk's queue holds the last seconds of posts: it is read in id order, and
-- `subscribers forget` scans its handful of rows rather than keep an index that every
-- post would write and every decision would delete from.
DROP INDEX form_requests_by_identity;
