-- Retention of the embedded broker's dead letters: pruned by age across every function.
CREATE INDEX dead_letters_failed_at ON conveyor.dead_letters (failed_at);
