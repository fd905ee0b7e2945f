-- A list's pages on the company's own website (README, "On the company's site"): where a
-- visitor is sent after a successful form post instead of listgate's own page, and the
-- privacy policy linked from the subscribe page and the confirmation mail. NULL: none.
-- The URLs are checked by `lists create` and `lists update`; the schema keeps out only
-- what could break a header or a page (control characters, spaces, other schemes).
ALTER TABLE lists ADD COLUMN thanks_url TEXT
    CHECK (thanks_url IS NULL OR (length(thanks_url) BETWEEN 8 AND 2000
           AND (thanks_url GLOB 'https://?*' OR thanks_url GLOB 'http://?*')
           AND thanks_url NOT GLOB '*[^!-~]*'));
ALTER TABLE lists ADD COLUMN confirmed_url TEXT
    CHECK (confirmed_url IS NULL OR (length(confirmed_url) BETWEEN 8 AND 2000
           AND (confirmed_url GLOB 'https://?*' OR confirmed_url GLOB 'http://?*')
           AND confirmed_url NOT GLOB '*[^!-~]*'));
ALTER TABLE lists ADD COLUMN unsubscribed_url TEXT
    CHECK (unsubscribed_url IS NULL OR (length(unsubscribed_url) BETWEEN 8 AND 2000
           AND (unsubscribed_url GLOB 'https://?*' OR unsubscribed_url GLOB 'http://?*')
           AND unsubscribed_url NOT GLOB '*[^!-~]*'));
ALTER TABLE lists ADD COLUMN privacy_url TEXT
    CHECK (privacy_url IS NULL OR (length(privacy_url) BETWEEN 8 AND 2000
           AND (privacy_url GLOB 'https://?*' OR privacy_url GLOB 'http://?*')
           AND privacy_url NOT GLOB '*[^!-~]*'));
