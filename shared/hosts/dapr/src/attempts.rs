//! Deliveries counted per (function, event id). daprd does not tell the app which delivery
//! this is, so the worker counts them itself, in a bounded map: retries of one event come back to
//! the same sidecar, and so to the same worker process.

use std::collections::HashMap;
use std::sync::Mutex;

/// Deliveries seen per (function, event id); forgotten once an event is settled.
#[derive(Debug, Default)]
pub struct Attempts(Mutex<HashMap<(&'static str, String), u32>>);

/// Most events tracked at once; past that the map starts over (counts restart at 1, which only
/// postpones a dead-letter).
const TRACKED: usize = 10_000;

impl Attempts {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(&'static str, String), u32>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts a delivery; returns its number (1 = first).
    pub fn next(&self, function: &'static str, event_id: &str) -> u32 {
        let mut map = self.lock();
        if map.len() >= TRACKED && !map.contains_key(&(function, event_id.to_owned())) {
            map.clear();
        }
        let n = map.entry((function, event_id.to_owned())).or_insert(0);
        *n += 1;
        *n
    }

    /// Forgets a settled event.
    pub fn forget(&self, function: &'static str, event_id: &str) {
        self.lock().remove(&(function, event_id.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_deliveries_per_function_and_event() {
        let a = Attempts::default();
        assert_eq!(a.next("f", "e"), 1);
        assert_eq!(a.next("f", "e"), 2);
        assert_eq!(a.next("g", "e"), 1);
        a.forget("f", "e");
        assert_eq!(a.next("f", "e"), 1);
    }
}
