//! Counting and logging messages the Redis driver gives up on, with the log rate-limited so
//! that an outage does not flood it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The least time between two log lines of one kind of loss.
const LOG_INTERVAL: Duration = Duration::from_secs(1);

/// One kind of loss: a counter (exported in the driver's stats) and a rate-limited warning.
#[derive(Debug)]
pub(super) struct Loss {
    what: &'static str,
    total: AtomicU64,
    /// Losses not logged yet, and when the last line was logged.
    pending: Mutex<(u64, Option<Instant>)>,
}

impl Loss {
    pub(super) const fn new(what: &'static str) -> Self {
        Loss {
            what,
            total: AtomicU64::new(0),
            pending: Mutex::new((0, None)),
        }
    }

    /// Counts `n` lost messages and logs them, at most once a second (the line says how many
    /// were lost since the previous one).
    pub(super) fn record(&self, n: u64) {
        if n == 0 {
            return;
        }
        let total = self.total.fetch_add(n, Ordering::Relaxed) + n;
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.0 += n;
        let now = Instant::now();
        if pending
            .1
            .is_none_or(|last| now.duration_since(last) >= LOG_INTERVAL)
        {
            let since_last = std::mem::take(&mut pending.0);
            pending.1 = Some(now);
            drop(pending);
            tracing::warn!(lost = since_last, total, "redis: {}", self.what);
        }
    }

    /// The number counted so far.
    pub(super) fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_loss_is_counted_even_when_not_logged() {
        let loss = Loss::new("test loss");
        for _ in 0..1000 {
            loss.record(2);
        }
        loss.record(0);
        assert_eq!(loss.total(), 2000);
        // Only the first line was logged within the second; the rest wait for the next line.
        assert_eq!(loss.pending.lock().unwrap().0, 1998);
    }
}
