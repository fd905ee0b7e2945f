-- What webhook_scenario.sql queued, in a form both stores print alike ('|' between
-- columns): the public id's shape rather than its random value, 1/0 for flags, and
-- whether the three times are the event's rather than their spelling.
SELECT d.id, d.webhook_id, d.event_id, d.type, coalesce(d.email, '-'), coalesce(d.address_hash, '-'),
       d.status, d.attempts, CASE WHEN d.leased THEN 1 ELSE 0 END,
       substr(d.public_id, 1, 4), length(d.public_id),
       CASE WHEN d.created_at = e.occurred_at AND d.first_due_at = e.occurred_at
                 AND d.next_attempt_at = e.occurred_at THEN 1 ELSE 0 END
FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
ORDER BY d.id;
