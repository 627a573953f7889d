//! The job queue as the application runs it: a job that can never run (or
//! finds what it works on unreadable) ends dead, logged and counted. The tests run due jobs themselves on a manual
//! clock (`spawn_manual_jobs`): nothing sleeps.
mod common;

use std::time::Duration;

use common::{logs::captured_logs, *};
use entity::job;
use payouts::{queue::Job, service::payouts::SubmitPayout};
use sea_orm::{ActiveValue::Set, EntityTrait};

async fn insert_job(app: &TestApp, id: &str, kind: &str, payload: &str) {
    let now = app.app().clock.now();
    job::Entity::insert(job::ActiveModel {
        id: Set(id.into()),
        kind: Set(kind.into()),
        payload: Set(payload.into()),
        run_at: Set(now),
        attempts: Set(0),
        lease_owner: Set(None),
        lease_until: Set(None),
        done_at: Set(None),
        dead_at: Set(None),
        last_error: Set(None),
        created_at: Set(now),
    })
    .exec_without_returning(app.db())
    .await
    .unwrap();
}

async fn job_row(app: &TestApp, id: &str) -> job::Model {
    job::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .expect("the job row")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_cannot_run_ends_dead_logged_and_counted_not_lost() {
    let logs = captured_logs();
    let app = TestApp::spawn_manual_jobs(|_| {}).await;
    insert_job(&app, "garbled", SubmitPayout::KIND, "{not json").await;
    insert_job(&app, "stranger", "no_such_kind", "{}").await;

    let ran = app.run_due_jobs().await;
    let mut dead: Vec<_> = ran.dead.iter().map(|d| d.id.as_str()).collect();
    dead.sort();
    assert_eq!(dead, ["garbled", "stranger"], "{ran:?}");

    for (id, why) in [
        ("garbled", "payload is not a payout_submit"),
        ("stranger", "no runner for job kind"),
    ] {
        let row = job_row(&app, id).await;
        assert!(row.dead_at.is_some(), "{row:?}");
        assert!(row.done_at.is_none(), "dead is not done: {row:?}");
        assert!(
            row.last_error.as_deref().unwrap_or_default().contains(why),
            "{row:?}"
        );
    }
    // Never claimed again, however much time passes.
    app.advance(Duration::from_secs(24 * 3600));
    assert!(app.run_due_jobs().await.is_idle());
    assert_eq!(job_row(&app, "garbled").await.attempts, 1);

    // Counted in /metrics, by kind.
    let text = app.app().metrics.render(app.db()).await.unwrap();
    assert!(
        text.contains("jobs_dead_total{kind=\"payout_submit\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("jobs_dead_total{kind=\"no_such_kind\"} 1"),
        "{text}"
    );
    assert!(text.contains("job_queue_depth 0"), "{text}");

    // Logged, with the job and the reason (never the payload).
    let lines = logs.lines();
    let dead_line = |id: &str| {
        lines.iter().any(|l| {
            l["message"] == "job is dead: it can never run"
                && l["job"] == id
                && l["level"] == "ERROR"
        })
    };
    assert!(dead_line("garbled"), "{}", logs.text());
    assert!(dead_line("stranger"), "{}", logs.text());
    assert!(!logs.text().contains("{not json"), "payload logged");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_job_waits_twice_as_long_after_each_failure() {
    use payouts::provider::sandbox::Fault;
    let app = TestApp::spawn_manual_jobs(|c| c.job_retry_base = Duration::from_secs(60)).await;
    let org = app.verified_org(GOOD_ACCOUNT).await;
    app.credit(&org, 10_000).await;
    // Down for the request's own call and the job's first two runs.
    app.sandbox().inject(Fault::Unavailable, 3);
    let reply = app
        .post("/payouts", &org.key, serde_json::json!({"amount": 2000}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.data()["id"].as_str().unwrap().to_string();
    let submit = format!("submit_{id}");

    app.advance(app.config.provider_retry_delay);
    assert_eq!(app.run_due_jobs().await.retried, 1, "first failure");
    // Due again after the base wait: one minute.
    app.advance(Duration::from_secs(59));
    assert!(app.run_due_jobs().await.is_idle());
    app.advance(Duration::from_secs(1));
    assert_eq!(app.run_due_jobs().await.retried, 1, "second failure");
    // Then after twice that: two minutes.
    app.advance(Duration::from_secs(119));
    assert!(app.run_due_jobs().await.is_idle());
    app.advance(Duration::from_secs(1));
    assert_eq!(app.run_due_jobs().await.done, 1, "got through");
    let job = job_row(&app, &submit).await;
    assert_eq!(job.attempts, 3, "{job:?}");
    assert!(job.done_at.is_some(), "{job:?}");
    let payout = app.get(&format!("/payouts/{id}"), &org.key).await;
    assert!(
        payout.data()["providerTransferId"].is_string(),
        "{}",
        payout.body
    );
    app.stop().await;
}

/// A webhook delivery whose event's stored data cannot be read is never sent
/// (with `data: null` or at all): its job ends dead, counted, and the
/// delivery is given up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_delivery_whose_event_cannot_be_read_ends_dead() {
    use entity::{states::EventKind, webhook_delivery, webhook_event};
    use sea_orm::{sea_query::Expr, ColumnTrait, QueryFilter, TransactionTrait};
    // Nothing listens there: the delivery must fail before it connects.
    let app =
        TestApp::spawn_manual_jobs(|c| c.document_allow_hosts.push("127.0.0.1:9".into())).await;
    let org = app.org().await;
    let reply = app
        .post(
            "/webhooks",
            &org.key,
            serde_json::json!({"url": "http://127.0.0.1:9/hooks", "events": ["payout.paid"]}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let txn = app.db().begin().await.unwrap();
    let event_id = payouts::service::events::record(
        &txn,
        &org.id,
        EventKind::PayoutPaid,
        serde_json::json!({"payoutId": "po_1"}),
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    webhook_event::Entity::update_many()
        .col_expr(webhook_event::Column::Data, Expr::value("{truncated"))
        .filter(webhook_event::Column::Id.eq(event_id.clone()))
        .exec(app.db())
        .await
        .unwrap();

    let ran = app.run_due_jobs().await;
    assert_eq!(ran.dead.len(), 1, "{ran:?}");
    assert_eq!(ran.dead[0].kind, "webhook_delivery");
    assert!(ran.dead[0].reason.contains("unreadable data"), "{ran:?}");
    let delivery = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::EventId.eq(event_id))
        .one(app.db())
        .await
        .unwrap()
        .expect("the delivery");
    assert_eq!(delivery.status.as_str(), "failed", "{delivery:?}");
    assert_eq!(delivery.attempts, 0, "nothing was sent: {delivery:?}");
    let text = app.app().metrics.render(app.db()).await.unwrap();
    assert!(
        text.contains("jobs_dead_total{kind=\"webhook_delivery\"} 1"),
        "{text}"
    );
    app.stop().await;
}
