//! Operations endpoints, outside `/api/v1` and outside the OpenAPI document:
//! liveness, readiness and Prometheus metrics.
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use poem::{handler, http::StatusCode, web::Data, web::Json, IntoResponse, Response};
use serde_json::{json, Value};

use crate::service::App;

/// A database that does not answer within this is as good as down.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// The process is up and serving.
#[handler]
pub fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// The database answers and every migration this build knows is applied.
#[handler]
pub async fn readyz(app: Data<&App>) -> Response {
    match tokio::time::timeout(READY_TIMEOUT, check(app.0)).await {
        Ok(Ok(body)) => Json(body).into_response(),
        Ok(Err(body)) => unavailable(body),
        Err(_) => unavailable(json!({"status": "unavailable", "database": "timed out"})),
    }
}

fn unavailable(body: Value) -> Response {
    Json(body)
        .with_status(StatusCode::SERVICE_UNAVAILABLE)
        .into_response()
}

async fn check(app: &App) -> Result<Value, Value> {
    // Both lanes: on SQLite the writes have their own connection.
    let ping = async { app.db.ping().await.and(app.read_db.ping().await) };
    if let Err(err) = ping.await {
        tracing::warn!(error = %err, "readiness: database unreachable");
        return Err(json!({"status": "unavailable", "database": "unreachable"}));
    }
    // Read-only: a readiness probe must never create the migrations table.
    let applied: Vec<String> = match Migrator::get_applied_migrations_read_only(&app.read_db).await
    {
        Ok(applied) => applied.iter().map(|m| m.name().to_string()).collect(),
        Err(err) => {
            tracing::warn!(error = %err, "readiness: migrations unreadable");
            return Err(
                json!({"status": "unavailable", "database": "ok", "migrations": err.to_string()}),
            );
        }
    };
    let pending: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_string())
        .filter(|name| !applied.contains(name))
        .collect();
    let body = json!({
        "status": if pending.is_empty() { "ready" } else { "unavailable" },
        "database": "ok",
        "migrations": {"applied": applied.len(), "pending": pending},
    });
    if pending.is_empty() {
        Ok(body)
    } else {
        Err(body)
    }
}

#[handler]
pub async fn metrics(app: Data<&App>) -> Response {
    match app.metrics.render(&app.read_db).await {
        Ok(text) => text
            .with_content_type("text/plain; version=0.0.4; charset=utf-8")
            .into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "metrics: database gauges unavailable");
            unavailable(json!({"status": "unavailable", "database": "unreachable"}))
        }
    }
}
