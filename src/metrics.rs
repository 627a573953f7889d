//! Prometheus metrics. Each `App` owns its registry (tests run several
//! services in one process and must not see each other's counts). Counters
//! and histograms are updated as things happen; the payout and job gauges
//! are read from the database at scrape time, so every instance sharing a
//! database reports the same, true figures.
use std::time::Duration;

use entity::{job, payout, states::PayoutStatus};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use sea_orm::{
    sea_query::Expr, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, ExprTrait,
    PaginatorTrait, QueryFilter, QuerySelect,
};

/// Seconds; the API answers in milliseconds, providers in tens to hundreds.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    provider_duration: HistogramVec,
    provider_errors: IntCounterVec,
    webhook_deliveries: IntCounterVec,
    jobs_dead: IntCounterVec,
    payouts: IntGaugeVec,
    job_queue_depth: IntGauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            HistogramVec::new(
                HistogramOpts::new(name, help).buckets(BUCKETS.to_vec()),
                labels,
            )
            .expect("valid histogram")
        };
        let counter = |name: &str, help: &str, labels: &[&str]| {
            IntCounterVec::new(Opts::new(name, help), labels).expect("valid counter")
        };
        let metrics = Self {
            registry: Registry::new(),
            http_requests: counter(
                "http_requests_total",
                "HTTP requests by method, matched route template and status.",
                &["method", "route", "status"],
            ),
            http_duration: histogram(
                "http_request_duration_seconds",
                "HTTP request latency by method, matched route template and status.",
                &["method", "route", "status"],
            ),
            provider_duration: histogram(
                "provider_call_duration_seconds",
                "Payout provider call latency by provider and operation.",
                &["provider", "operation"],
            ),
            provider_errors: counter(
                "provider_call_errors_total",
                "Payout provider calls that failed, by kind (refused, unavailable).",
                &["provider", "operation", "kind"],
            ),
            webhook_deliveries: counter(
                "sandbox_webhook_deliveries_total",
                "Sandbox provider webhook deliveries by result (succeeded, failed).",
                &["result"],
            ),
            jobs_dead: counter(
                "jobs_dead_total",
                "Jobs marked dead because they can never run (payload does not parse, unknown kind), by kind.",
                &["kind"],
            ),
            payouts: IntGaugeVec::new(
                Opts::new("payouts", "Payouts by status (read at scrape time)."),
                &["status"],
            )
            .expect("valid gauge"),
            job_queue_depth: IntGauge::new(
                "job_queue_depth",
                "Jobs due and neither done nor dead (read at scrape time).",
            )
            .expect("valid gauge"),
        };
        let r = &metrics.registry;
        for result in [
            r.register(Box::new(metrics.http_requests.clone())),
            r.register(Box::new(metrics.http_duration.clone())),
            r.register(Box::new(metrics.provider_duration.clone())),
            r.register(Box::new(metrics.provider_errors.clone())),
            r.register(Box::new(metrics.webhook_deliveries.clone())),
            r.register(Box::new(metrics.jobs_dead.clone())),
            r.register(Box::new(metrics.payouts.clone())),
            r.register(Box::new(metrics.job_queue_depth.clone())),
        ] {
            result.expect("metric names are unique");
        }
        metrics
    }

    /// `route` is the matched template (`/api/v1/payouts/:id`), never the
    /// raw path, so the label set stays bounded.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let status = status.to_string();
        let labels = [method, route, status.as_str()];
        self.http_requests.with_label_values(&labels).inc();
        self.http_duration
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
    }

    pub fn observe_provider_call(
        &self,
        provider: &str,
        operation: &str,
        elapsed: Duration,
        error: Option<&str>,
    ) {
        self.provider_duration
            .with_label_values(&[provider, operation])
            .observe(elapsed.as_secs_f64());
        if let Some(kind) = error {
            self.provider_errors
                .with_label_values(&[provider, operation, kind])
                .inc();
        }
    }

    pub fn webhook_delivery(&self, succeeded: bool) {
        let result = if succeeded { "succeeded" } else { "failed" };
        self.webhook_deliveries.with_label_values(&[result]).inc();
    }

    pub fn job_dead(&self, kind: &str) {
        self.jobs_dead.with_label_values(&[kind]).inc();
    }

    /// Reads the gauges from the database and renders everything in the
    /// Prometheus text format.
    pub async fn render(&self, db: &DatabaseConnection) -> Result<String, DbErr> {
        let by_status: Vec<(PayoutStatus, i64)> = payout::Entity::find()
            .select_only()
            .column(payout::Column::Status)
            .column_as(Expr::col(payout::Column::Id).count(), "n")
            .group_by(payout::Column::Status)
            .into_tuple()
            .all(db)
            .await?;
        // Statuses absent from the table read 0 rather than vanishing.
        for status in PayoutStatus::ALL {
            self.payouts.with_label_values(&[status.as_str()]).set(0);
        }
        for (status, n) in by_status {
            self.payouts.with_label_values(&[status.as_str()]).set(n);
        }
        let due = job::Entity::find()
            .filter(job::Column::DoneAt.is_null())
            .filter(job::Column::DeadAt.is_null())
            .filter(job::Column::RunAt.lte(chrono::Utc::now()))
            .count(db)
            .await?;
        self.job_queue_depth.set(due as i64);

        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}
