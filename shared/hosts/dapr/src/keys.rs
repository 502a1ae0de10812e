//! One delivery at a time per ordering key. daprd hands a topic's messages to several
//! goroutines and calls the app concurrently, so two events of one order can arrive together;
//! for a function with an ordering key the worker runs them one after another, in the order
//! they arrived (Tokio's mutex is fair: waiters get it first come, first served). A lock exists
//! only while someone holds or waits for it, so the map does not grow with the keys seen.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OwnedMutexGuard;

type Key = (&'static str, String);

/// The locks of the keys in use.
#[derive(Debug, Default)]
pub struct KeyLocks(Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>);

/// Held while one delivery of a key runs; dropping it lets the next one in.
#[derive(Debug)]
pub struct KeyGuard<'a> {
    locks: &'a KeyLocks,
    key: Key,
    lock: Arc<tokio::sync::Mutex<()>>,
    guard: Option<OwnedMutexGuard<()>>,
}

impl KeyLocks {
    /// Waits until no other delivery of `function`'s `key` runs.
    pub async fn lock(&self, function: &'static str, key: String) -> KeyGuard<'_> {
        let lock = {
            let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(map.entry((function, key.clone())).or_default())
        };
        let guard = Arc::clone(&lock).lock_owned().await;
        KeyGuard {
            locks: self,
            key: (function, key),
            lock,
            guard: Some(guard),
        }
    }

    /// Keys with a delivery running or waiting.
    #[must_use]
    pub fn in_use(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        self.guard.take();
        let mut map = self.locks.0.lock().unwrap_or_else(PoisonError::into_inner);
        // The map's handle and this one: nobody else holds or waits for the key.
        if Arc::strong_count(&self.lock) == 2 {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn deliveries_of_one_key_take_turns_in_arrival_order_and_others_pass() {
        let locks = Arc::new(KeyLocks::default());
        let order = Arc::new(Mutex::new(Vec::new()));
        let first = locks.lock("f", "ord-1".to_owned()).await;
        let mut waiting = Vec::new();
        for n in 1..=3 {
            let (locks, order) = (Arc::clone(&locks), Arc::clone(&order));
            waiting.push(tokio::spawn(async move {
                let _turn = locks.lock("f", "ord-1".to_owned()).await;
                order.lock().unwrap().push(n);
            }));
            // Let it queue before the next one comes.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Another key, and the same key of another function, are not held back.
        drop(locks.lock("f", "ord-2".to_owned()).await);
        drop(locks.lock("g", "ord-1".to_owned()).await);
        assert!(order.lock().unwrap().is_empty());
        drop(first);
        for w in waiting {
            w.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), [1, 2, 3]);
        assert_eq!(locks.in_use(), 0, "no lock outlives its users");
    }
}
