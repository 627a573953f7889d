//! The time the job queue reads (due, lease and backoff times). The system
//! clock in production; tests use a manual clock they set and advance, so
//! a retry due in ten minutes runs without anyone waiting ten minutes.
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

/// Cheap to clone; clones share the same time.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// `None`: the system clock. `Some`: a manual clock, which stands still
    /// until set or advanced.
    manual: Option<Arc<Mutex<DateTime<Utc>>>>,
}

impl Clock {
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock that reads `start` until it is moved.
    pub fn manual(start: DateTime<Utc>) -> Self {
        Self {
            manual: Some(Arc::new(Mutex::new(start))),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.manual {
            None => Utc::now(),
            Some(time) => *time.lock().expect("clock lock"),
        }
    }

    /// Moves a manual clock forward. The system clock cannot be moved: that
    /// is a bug in the caller, so it panics.
    pub fn advance(&self, by: std::time::Duration) {
        let time = self.manual.as_ref().expect("only a manual clock moves");
        let mut time = time.lock().expect("clock lock");
        *time += chrono::Duration::from_std(by).expect("a duration chrono can hold");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_its_clones_follow() {
        let start = Utc::now() - chrono::Duration::days(1);
        let clock = Clock::manual(start);
        let shared = clock.clone();
        assert_eq!(clock.now(), start);
        clock.advance(std::time::Duration::from_secs(90));
        assert_eq!(shared.now(), start + chrono::Duration::seconds(90));
        assert!(Clock::system().now() > start);
    }
}
