-- Retention of the embedded broker's dead letters: pruned by age across every function.
CREATE INDEX dead_letters_failed_at ON dead_letters (failed_at);
