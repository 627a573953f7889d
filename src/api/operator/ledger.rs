//! The ledger export: every entry of the ledger created in `[from, to)`,
//! oldest first, as JSON lines (default) or CSV (`Accept: text/csv`),
//! streamed from one snapshot.
use poem::{Body, IntoResponse, Request, Response};
use poem_openapi::{
    param::Query,
    registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry},
    ApiResponse, OpenApi,
};
use tokio::io::AsyncWriteExt;

use super::{app, OperatorAuth, Result, Tag};
use crate::{
    api::wire::Timestamp,
    service::ledger_export::{self, ExportRow},
};

pub const JSON_LINES: &str = "application/x-ndjson";
pub const CSV: &str = "text/csv";
const CSV_HEADER: &str =
    "transaction_id,created_at,organization_id,type,account,amount,currency,payout_id,external_id\n";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    JsonLines,
    Csv,
}

/// A CSV field: quoted when it holds a comma, a quote or a line break.
fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

fn render(row: &ExportRow, format: Format) -> String {
    let created_at = row
        .created_at
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    match format {
        Format::JsonLines => {
            let mut line = serde_json::json!({
                "transactionId": row.transaction_id,
                "createdAt": created_at,
                "organizationId": row.organization_id,
                "type": row.kind.as_str(),
                "account": row.account.as_str(),
                "amount": row.amount,
                "currency": row.currency,
                "payoutId": row.payout_id,
                "externalId": row.external_id,
            })
            .to_string();
            line.push('\n');
            line
        }
        Format::Csv => {
            let fields = [
                row.transaction_id.as_str(),
                &created_at,
                &row.organization_id,
                row.kind.as_str(),
                row.account.as_str(),
                &row.amount.to_string(),
                &row.currency,
                row.payout_id.as_deref().unwrap_or(""),
                row.external_id.as_deref().unwrap_or(""),
            ];
            let mut line = fields.map(csv_field).join(",");
            line.push('\n');
            line
        }
    }
}

/// The export, streamed: the first page is read before answering (so a
/// failure then is an error envelope), the rest as the client reads.
pub struct Export {
    format: Format,
    first: Vec<ExportRow>,
    rest: Option<ledger_export::Pages>,
}

impl IntoResponse for Export {
    fn into_response(self) -> Response {
        let (mut writer, reader) = tokio::io::duplex(64 * 1024);
        let Export {
            format,
            first,
            rest,
        } = self;
        tokio::spawn(async move {
            let mut text = String::new();
            if format == Format::Csv {
                text.push_str(CSV_HEADER);
            }
            for row in &first {
                text.push_str(&render(row, format));
            }
            if writer.write_all(text.as_bytes()).await.is_err() {
                return;
            }
            let Some(mut pages) = rest else { return };
            loop {
                match pages.next().await {
                    Ok(Some(rows)) => {
                        let text: String = rows.iter().map(|r| render(r, format)).collect();
                        if writer.write_all(text.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(err) => {
                        // The status is sent: cutting the stream short is all
                        // that is left (the client sees an incomplete body).
                        tracing::error!(error = %err, "ledger export failed mid-stream");
                        return;
                    }
                }
            }
        });
        let content_type = match format {
            Format::JsonLines => JSON_LINES,
            Format::Csv => "text/csv; charset=utf-8",
        };
        Response::builder()
            .content_type(content_type)
            .body(Body::from_async_read(reader))
    }
}

impl ApiResponse for Export {
    fn meta() -> MetaResponses {
        let text = |example: &str| {
            MetaSchemaRef::Inline(Box::new(MetaSchema {
                example: Some(serde_json::Value::String(example.into())),
                ..MetaSchema::new("string")
            }))
        };
        let json_example = "{\"transactionId\":\"txn_8PzR3nW6Kq1Xv5Tm9Ls2Hc7J\",\"createdAt\":\"2026-06-12T09:30:00.000Z\",\"organizationId\":\"org_3kTq8PzR3nW6Kq1Xv5Tm9Ls2\",\"type\":\"credit\",\"account\":\"available\",\"amount\":50000,\"currency\":\"usd\",\"payoutId\":null,\"externalId\":\"pay_1PzR3nW6Kq\"}\n";
        let csv_example = format!(
            "{CSV_HEADER}txn_8PzR3nW6Kq1Xv5Tm9Ls2Hc7J,2026-06-12T09:30:00.000Z,org_3kTq8PzR3nW6Kq1Xv5Tm9Ls2,credit,available,50000,usd,,pay_1PzR3nW6Kq\n"
        );
        MetaResponses {
            responses: vec![MetaResponse {
                description: "One line per ledger entry, oldest first: JSON lines \
                    (`{transactionId, createdAt, organizationId, type, account, amount, \
                    currency, payoutId, externalId}`) or, with `Accept: text/csv`, CSV with a \
                    header row of the same fields.",
                status: Some(200),
                status_range: None,
                content: vec![
                    MetaMediaType {
                        content_type: JSON_LINES,
                        schema: text(json_example),
                    },
                    MetaMediaType {
                        content_type: CSV,
                        schema: text(&csv_example),
                    },
                ],
                headers: vec![],
            }],
        }
    }

    fn register(_registry: &mut Registry) {}
}

pub struct Api;

#[OpenApi]
impl Api {
    /// Export the ledger
    ///
    /// Every ledger entry created from `from` (included) to `to` (excluded),
    /// with its transaction, organization, account, signed amount and
    /// external id, for accounting. JSON lines, or CSV with `Accept: text/csv`.
    #[oai(
        path = "/ledger/transactions",
        method = "get",
        tag = "Tag::Ledger",
        operation_id = "exportLedger"
    )]
    async fn export_ledger(
        &self,
        req: &Request,
        _auth: OperatorAuth,
        /// Entries created at or after this time.
        from: Query<Option<Timestamp>>,
        /// Entries created before this time.
        to: Query<Option<Timestamp>>,
    ) -> Result<Export> {
        let accept = req
            .headers()
            .get("accept")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let format = if accept.contains(CSV) {
            Format::Csv
        } else {
            Format::JsonLines
        };
        let mut pages =
            ledger_export::pages(&app(req)?.read_db, from.0.map(|t| t.0), to.0.map(|t| t.0))
                .await?;
        let first = pages.next().await?;
        let rest = first.is_some().then_some(pages);
        Ok(Export {
            format,
            first: first.unwrap_or_default(),
            rest,
        })
    }
}
