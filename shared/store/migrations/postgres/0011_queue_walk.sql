-- A lease walks one function's messages in queue order and stops at its limit, skipping the few
-- that are leased or waiting for a retry, instead of gathering and sorting every visible one.
CREATE INDEX queue_walk ON conveyor.queue (function, seq);
