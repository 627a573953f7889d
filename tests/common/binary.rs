//! The real `payouts` binary (CLI commands and `serve`), run with a given
//! environment: the one way tests start it.
use std::{
    process::{Child, Command, ExitStatus, Output, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

/// The binary under test with the environment every run of it gets.
#[derive(Clone, Default)]
pub struct Binary {
    env: Vec<(String, String)>,
}

impl Binary {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn env(mut self, name: &str, value: impl Into<String>) -> Self {
        self.env.push((name.to_string(), value.into()));
        self
    }

    /// A command for the binary, with the environment set.
    pub fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_payouts"));
        command.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        command
    }

    /// Runs a CLI command to the end (off the async runtime's threads).
    pub async fn run(&self, args: &[&str]) -> Output {
        let mut command = self.command();
        command.args(args);
        tokio::task::spawn_blocking(move || command.output())
            .await
            .unwrap()
            .expect("the payouts binary runs")
    }

    /// Runs a CLI command that must succeed and print JSON.
    pub async fn cli(&self, args: &[&str]) -> Value {
        let output = self.run(args).await;
        assert!(
            output.status.success(),
            "payouts {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("cli prints JSON")
    }

    /// Starts `serve` and waits until `base`/readyz answers 200.
    pub async fn serve(&self, base: &str) -> Child {
        let mut child = self
            .command()
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve starts");
        let client = reqwest::Client::new();
        // A guard against a hung test, not a speed requirement.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match client.get(format!("{base}/readyz")).send().await {
                Ok(r) if r.status() == 200 => return child,
                _ if Instant::now() > deadline => {
                    child.kill().ok();
                    child.wait().ok();
                    panic!("the service never became ready");
                }
                _ => tokio::time::sleep(Duration::from_millis(25)).await,
            }
        }
    }
}

/// Waits for a child up to `limit`; kills it if it is still running.
pub fn wait_with_limit(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("the process did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A fresh directory under the system's temp dir.
pub fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "payouts_{tag}_{}",
        payouts::ids::new_id("x")[2..].to_lowercase()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
