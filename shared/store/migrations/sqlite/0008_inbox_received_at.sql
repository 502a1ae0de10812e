-- Retention: idempotency rows are pruned by age, oldest first, so the pruning reads an index
-- instead of the whole inbox. received_at only grows, so new entries land at the index's end.
CREATE INDEX inbox_received_at ON inbox (received_at);
