//! Load generation: a closed loop (saturation) and an open loop (a fixed
//! arrival rate), both counting latencies per request.
use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// Latencies of one load phase.
pub struct Stats {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: usize,
}

impl Stats {
    pub fn from(mut micros: Vec<u64>, errors: usize, elapsed: Duration) -> Stats {
        micros.sort_unstable();
        let pct = |p: f64| {
            micros
                .get(((micros.len() as f64 * p) as usize).min(micros.len().saturating_sub(1)))
                .map_or(f64::NAN, |&us| us as f64 / 1000.0)
        };
        Stats {
            rps: micros.len() as f64 / elapsed.as_secs_f64(),
            p50_ms: pct(0.50),
            p99_ms: pct(0.99),
            errors,
        }
    }
}

/// One request of a load phase; `Ok(())` when it got the expected status.
pub type Call = Arc<dyn Fn() -> futures::BoxFuture<'static, bool> + Send + Sync>;

pub mod futures {
    pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
}

/// Saturation: `concurrency` workers, each sending as fast as answers come.
pub async fn closed_loop(call: Call, workers: usize, duration: Duration) -> Stats {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors) = (Vec::new(), 0);
            while Instant::now() < deadline {
                let t = Instant::now();
                if call().await {
                    lat.push(t.elapsed().as_micros() as u64);
                } else {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    for task in tasks {
        let (lat, e) = task.await.unwrap();
        all.extend(lat);
        errors += e;
    }
    Stats::from(all, errors, started.elapsed())
}

/// A fixed arrival rate; latency counts from when each request was due,
/// so a stall is not hidden by requests that were never sent.
pub async fn open_loop(call: Call, rate: f64, duration: Duration) -> Stats {
    let period = Duration::from_secs_f64(1.0 / rate);
    let total = (rate * duration.as_secs_f64()) as u64;
    let started = tokio::time::Instant::now();
    let lat = Arc::new(Mutex::new(Vec::with_capacity(total as usize)));
    let errors = Arc::new(Mutex::new(0usize));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let due = started + period * i as u32;
        tokio::time::sleep_until(due).await;
        let (call, lat, errors) = (call.clone(), lat.clone(), errors.clone());
        tasks.spawn(async move {
            if call().await {
                lat.lock().unwrap().push(due.elapsed().as_micros() as u64);
            } else {
                *errors.lock().unwrap() += 1;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = started.elapsed();
    let lat = std::mem::take(&mut *lat.lock().unwrap());
    let errors = *errors.lock().unwrap();
    Stats::from(lat, errors, elapsed)
}
