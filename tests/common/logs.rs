//! Captures the service's logs (JSON lines) for a whole test binary: the
//! tracing subscriber is global, so it is installed once, at the first call.
use std::{
    io::Write,
    sync::{Arc, Mutex, OnceLock},
};

use serde_json::Value;

/// A log sink shared by the whole test binary.
#[derive(Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    /// Every line so far, parsed (each must be JSON).
    pub fn lines(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|l| serde_json::from_str(l).expect("every line is JSON"))
            .collect()
    }
}

/// The binary's log sink, at `debug`, installed on first use.
pub fn captured_logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let sink = logs.clone();
        payouts::logging::init(
            payouts::logging::LogFormat::Json,
            tracing_subscriber::EnvFilter::new("debug"),
            move || sink.clone(),
        )
        .expect("logger installs once");
        logs
    })
}
