-- Unsubscribe links name a subscription by a random public id (never the row id):
-- the token signs this id, so a link works for exactly one subscription.
ALTER TABLE subscriptions ADD COLUMN public_id TEXT;
UPDATE subscriptions SET public_id = lower(hex(randomblob(16))) WHERE public_id IS NULL;
CREATE UNIQUE INDEX subscriptions_by_public_id ON subscriptions (public_id);

-- Every way of inserting a subscription (confirmation, admin add, import) gets an id
-- without having to remember it.
CREATE TRIGGER subscriptions_get_public_id AFTER INSERT ON subscriptions
WHEN NEW.public_id IS NULL
BEGIN
    UPDATE subscriptions SET public_id = lower(hex(randomblob(16))) WHERE id = NEW.id;
END;
