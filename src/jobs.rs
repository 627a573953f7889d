//! The application's background work: the one list of job kinds it runs
//! (each job lives beside what it serves), the worker loop, and
//! `App::run_due_jobs`, which tests call instead of waiting for the worker.
//!
//! To add a job: a payload type implementing `queue::Job` beside its
//! service, one `register` line below, and `queue::enqueue` where it is due.
use std::{sync::LazyLock, time::Duration};

use sea_orm::DbErr;

use crate::{
    provider::sandbox::{DeliverEvent, SandboxProvider},
    queue::{self, Ran, Registry},
    service::{
        funds::ReleaseFunds,
        payouts::{ReclaimTransfer, SubmitPayout},
        webhooks::DeliverWebhook,
        App,
    },
};

const PURGE_EVERY: Duration = Duration::from_secs(600);
/// How often each worker asks the provider about payouts that are
/// uncertain or overdue (`service::reconcile`).
const RECONCILE_EVERY: Duration = Duration::from_secs(300);
/// How long done jobs are kept (for operators) before they are purged.
const KEEP_DONE_JOBS: Duration = Duration::from_secs(30 * 24 * 3600);

fn app(app: &App) -> &App {
    app
}

fn sandbox(app: &App) -> &SandboxProvider {
    &app.sandbox
}

static REGISTRY: LazyLock<Registry<App>> = LazyLock::new(|| {
    Registry::default()
        .register::<SubmitPayout>(app)
        .register::<ReclaimTransfer>(app)
        .register::<ReleaseFunds>(app)
        .register::<DeliverWebhook>(app)
        .register::<DeliverEvent>(sandbox)
});

impl App {
    /// Runs the jobs due now (by `self.clock`) once, as the worker does;
    /// dead jobs are counted in `/metrics`.
    pub async fn run_due_jobs(&self) -> Result<Ran, DbErr> {
        let settings = queue::Settings {
            lease: self.config.job_lease,
            retry_base: self.config.job_retry_base,
        };
        let ran = REGISTRY
            .run_due(self, &self.db, &self.instance_id, &self.clock, &settings)
            .await?;
        for dead in &ran.dead {
            self.metrics.job_dead(&dead.kind);
        }
        Ok(ran)
    }

    /// Deletes what has expired: idempotency keys, jobs done long ago.
    async fn purge(&self) {
        match crate::service::idempotency::purge_expired(&self.db).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "expired idempotency keys purged"),
            Err(err) => tracing::warn!(error = %err, "idempotency purge failed"),
        }
        let before = self.clock.now() - KEEP_DONE_JOBS;
        match queue::purge_done(&self.db, before).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "old done jobs purged"),
            Err(err) => tracing::warn!(error = %err, "job purge failed"),
        }
    }
}

/// Runs due jobs until `shutdown` turns true; finishes the job in hand first.
pub async fn worker(app: App, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut next_purge = std::time::Instant::now();
    let mut next_reconcile = std::time::Instant::now() + RECONCILE_EVERY;
    loop {
        if *shutdown.borrow() {
            return;
        }
        if std::time::Instant::now() >= next_reconcile {
            // Safe on every instance at once: results go through the payout
            // state machine, which applies each move once.
            match crate::service::reconcile::run(&app, None).await {
                Ok(changes) if changes.is_empty() => {}
                Ok(changes) => tracing::info!(
                    changed = changes.len(),
                    "payouts reconciled with the provider"
                ),
                Err(err) => tracing::warn!(error = %err, "reconciliation failed"),
            }
            next_reconcile = std::time::Instant::now() + RECONCILE_EVERY;
        }
        if std::time::Instant::now() >= next_purge {
            // Safe on every instance at once: deleting expired rows twice is harmless.
            app.purge().await;
            next_purge = std::time::Instant::now() + PURGE_EVERY;
        }
        let idle = match app.run_due_jobs().await {
            Ok(ran) => ran.is_idle(),
            Err(err) => {
                tracing::warn!(error = %err, "job claim failed");
                true
            }
        };
        if idle {
            tokio::select! {
                _ = tokio::time::sleep(app.config.job_poll_interval) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}
