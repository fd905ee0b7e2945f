-- Lists that change, close, and say who sends (README, "The CLI").
--
-- `archived_at`: when `listgate lists archive` closed the list; NULL while it takes
-- subscriptions. A closed list keeps every row: there is no delete, because the consent
-- record outlives the list, and its members must still be able to leave.
ALTER TABLE lists ADD COLUMN archived_at TEXT
    CHECK (archived_at IS NULL OR archived_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T*Z');

-- The sender identity that Japan's Act on Specified Electronic Mail (Art. 4) asks every
-- mail to carry: who sends it, where they are, and a contact for complaints (an address
-- or an http(s) URL). Each is one line, written into every auto-reply's footer and
-- handed to the newsletter sender; NULL: not given. The CLI checks them; the schema
-- keeps out what could break a mail line or a header (control characters, line breaks).
ALTER TABLE lists ADD COLUMN legal_name TEXT
    CHECK (legal_name IS NULL OR (length(legal_name) BETWEEN 1 AND 200
           AND legal_name NOT GLOB ('*[' || char(1) || '-' || char(31) || char(127) || ']*')));
ALTER TABLE lists ADD COLUMN postal_address TEXT
    CHECK (postal_address IS NULL OR (length(postal_address) BETWEEN 1 AND 300
           AND postal_address NOT GLOB ('*[' || char(1) || '-' || char(31) || char(127) || ']*')));
ALTER TABLE lists ADD COLUMN contact TEXT
    CHECK (contact IS NULL OR (length(contact) BETWEEN 3 AND 2000
           AND (contact GLOB '?*@?*' OR contact GLOB 'https://?*' OR contact GLOB 'http://?*')
           AND contact NOT GLOB ('*[' || char(1) || '-' || char(32) || char(127) || ']*')));

-- A snapshot keeps the identity its list had when it was taken, as it keeps its members:
-- what the sender reviewed (and reads back) is what it sends. NULL for a snapshot taken
-- before this migration, or of a list without one.
ALTER TABLE snapshots ADD COLUMN legal_name TEXT CHECK (legal_name IS NULL OR length(legal_name) BETWEEN 1 AND 200);
ALTER TABLE snapshots ADD COLUMN postal_address TEXT CHECK (postal_address IS NULL OR length(postal_address) BETWEEN 1 AND 300);
ALTER TABLE snapshots ADD COLUMN contact TEXT CHECK (contact IS NULL OR length(contact) BETWEEN 3 AND 2000);
