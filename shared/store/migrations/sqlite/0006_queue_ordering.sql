-- Per-key ordering on the embedded queue: a message is delivered only when no older message of
-- the same function and key is still queued (pending, leased or waiting for a retry).
ALTER TABLE queue ADD COLUMN ordering_key TEXT;
CREATE INDEX queue_ordering ON queue (function, ordering_key, seq);
