-- The wording a consent version names, kept for as long as the ledger that records it.
-- Until now a consent version was a hash of templates that an operator may edit or
-- replace at any time (LISTGATE_FORMS_DIR), so "what did this person agree to?" could
-- only be answered while the files were unchanged. A wording is written here in the same
-- transaction as the first request that names its version, and never changed or deleted
-- afterwards: the proof outlives later template edits (`listgate consent show`).
--
-- `parts` is a JSON array of {"name","text"}: each template as written, placeholders
-- included (the subscribe page, the confirmation page, the confirmation mail's subject,
-- text and HTML, and the layouts they use), in name order. `version` is the first 16 hex
-- digits of a SHA-256 over exactly those parts (README, "One person, whole"), so anyone
-- holding this row can recompute it. Versions recorded before this migration hashed the
-- mail alone and have no row here.
CREATE TABLE consent_wordings (
    version       TEXT PRIMARY KEY NOT NULL CHECK (length(version) = 16 AND version NOT GLOB '*[^0-9a-f]*'),
    locale        TEXT NOT NULL CHECK (locale IN ('ja', 'en')),
    parts         TEXT NOT NULL CHECK (json_valid(parts) AND json_type(parts) = 'array'),
    first_used_at TEXT NOT NULL
) STRICT;

CREATE TRIGGER consent_wordings_are_append_only_update BEFORE UPDATE ON consent_wordings
BEGIN
    SELECT RAISE(ABORT, 'consent wordings are never changed: UPDATE refused');
END;
CREATE TRIGGER consent_wordings_are_append_only_delete BEFORE DELETE ON consent_wordings
BEGIN
    SELECT RAISE(ABORT, 'consent wordings are never deleted: DELETE refused');
END;
