//! Whether an outside service answered its last request: Redis in a cluster, the MQTT broker
//! with `--mqtt-url`. Set by the task that talks to it; read by `/readyz` and the writer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A shared flag, false until the first answer.
#[derive(Debug, Clone, Default)]
pub struct Health(Arc<AtomicBool>);

impl Health {
    pub fn ok(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub fn set(&self, ok: bool) {
        self.0.store(ok, Ordering::Relaxed);
    }
}
