//! Events from payout providers: signed, no API key, each applied once.
use poem::{Request, RequestBody};
use poem_openapi::{
    impl_apirequest_for_payload,
    param::{Header, Path},
    payload::{Json, ParsePayload, Payload},
    registry::{MetaSchema, MetaSchemaRef},
    types::Example,
    ApiResponse, Object, OpenApi,
};
use serde_json::{json, Value};

use super::{app, Result, Tag};
use crate::{
    api::{validate, wire::Success},
    service::provider_events,
};

#[derive(Object, Debug)]
#[oai(example)]
#[oai(rename_all = "camelCase")]
pub struct WebhookReceipt {
    pub received: bool,
    /// `applied`, `ignored` (stale or not applicable) or `duplicate`.
    pub result: String,
}

#[derive(ApiResponse)]
enum WebhookResponse {
    #[oai(status = 200)]
    Ok(Json<Success<WebhookReceipt>>),
}

pub struct Api;

#[OpenApi]
impl Api {
    /// Receive a provider event
    ///
    /// Called by the payout provider, not by API clients. The body must carry
    /// the provider's signature (`Stripe-Signature: t=…,v1=…`, 5 minutes
    /// tolerance). Each event id is applied at most once.
    #[oai(
        path = "/provider-webhooks/:provider",
        method = "post",
        tag = "Tag::ProviderWebhooks",
        operation_id = "receiveProviderWebhook"
    )]
    async fn receive(
        &self,
        req: &Request,
        provider: Path<String>,
        #[oai(name = "Stripe-Signature")] signature: Header<Option<String>>,
        body: RawJson,
    ) -> Result<WebhookResponse> {
        let applied =
            provider_events::handle(app(req)?, &provider.0, signature.0.as_deref(), &body.0)
                .await?;
        let result = match applied {
            provider_events::Applied::Applied => "applied",
            provider_events::Applied::Ignored => "ignored",
            provider_events::Applied::Duplicate => "duplicate",
        };
        Ok(WebhookResponse::Ok(Json(Success::new(WebhookReceipt {
            received: true,
            result: result.into(),
        }))))
    }
}

/// A sandbox provider event (delivered signed, with `Stripe-Signature`), with
/// only the fields the schema names: linters refuse an example property it
/// does not.
pub fn provider_event_example() -> Value {
    json!({
        "id": "evt_4e07408562bedb8b60ce05c1",
        "type": "payout.paid",
        "created": 1781258700,
        "data": {"object": {
            "id": "tr_2c26b46b68ffc68ff99b453c",
            "status": "paid",
            "metadata": {"payout_id": "po_5bWn8Kq2Xr7TzL1mVc4Hy9Dg"},
        }},
    })
}

/// A raw body (provider webhooks: the signature covers the exact bytes).
pub struct RawJson(pub Vec<u8>);

impl Payload for RawJson {
    const CONTENT_TYPE: &'static str = "application/json";

    fn check_content_type(content_type: &str) -> bool {
        validate::is_json_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        let mut schema = MetaSchema::new("object");
        schema.example = Some(provider_event_example());
        MetaSchemaRef::Inline(Box::new(schema))
    }
}

impl ParsePayload for RawJson {
    const IS_REQUIRED: bool = true;

    async fn from_request(_request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        Ok(Self(validate::read_body(body).await?))
    }
}

impl_apirequest_for_payload!(RawJson);

impl Example for WebhookReceipt {
    fn example() -> Self {
        Self {
            received: true,
            result: "applied".into(),
        }
    }
}
