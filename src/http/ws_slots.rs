//! WebSocket connections held per viewer in this process (`WS_MAX_CONNECTIONS_PER_VIEWER`).

use std::{collections::HashMap, sync::Arc};

/// Open connections per viewer in this process (`WS_MAX_CONNECTIONS_PER_VIEWER`). Per process,
/// not cluster-wide: a load balancer spreading one viewer over N instances allows N × the cap.
#[derive(Default)]
pub struct Slots(std::sync::Mutex<HashMap<String, usize>>);

/// One held connection slot; released when dropped (the connection ended).
pub struct Slot {
    slots: Arc<Slots>,
    key: String,
}

impl Slots {
    /// A slot for `key` unless it already holds `max`.
    pub fn acquire(slots: &Arc<Slots>, key: String, max: usize) -> Option<Slot> {
        let mut held = slots.0.lock().ok()?;
        let n = held.entry(key.clone()).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Slot {
            slots: slots.clone(),
            key,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut held) = self.slots.0.lock() {
            if let Some(n) = held.get_mut(&self.key) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    held.remove(&self.key);
                }
            }
        }
    }
}
