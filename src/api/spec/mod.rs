//! The published OpenAPI documents (one per API version, and the operator API's).
//!
//! One piece: every patch edits the same generated document, in order, and the tests check the result as a whole (Redocly's patches are in `redocly.rs`).
//!
//! The published OpenAPI document: poem-openapi's, plus what it has no
//! attribute for: response links (OpenAPI `links` let clients, and
//! schemathesis' stateful phase, follow an operation's result into the next
//! operation), the rule that `businessType` picks which of `individual` and
//! `company` is required (a `oneOf` on an `Object` struct), and the shape of
//! a provider event (the webhook reads its body raw, to check the signature).
//! `/openapi.json`, `/openapi.yaml` and `payouts spec` all come from here.
//! Two more patches (`redocly`) make it pass Redocly's recommended rules
//! (`make lint-spec`).
//!
//! There is one document per API version (`document_for`): the handlers'
//! document is the oldest version's, and `api::versions::render_document`
//! edits it into each later one with the same changes that render the
//! answers; `version_header` documents `Commet-Version` in each.

use entity::states::ApiVersion;
use poem_openapi::{OpenApiService, ServerObject};
use serde_norway::{Mapping, Value};

use super::{
    error_codes, operator,
    paths::{API_BASE, OPERATOR_BASE},
    resources, versions, wire,
};
use crate::domain::api_version;

mod redocly;

pub fn operator_service() -> OpenApiService<operator::Apis, ()> {
    OpenApiService::new(
        operator::APIS,
        "Payouts operator API",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "For the platform that runs this service, not for organizations: organizations, \
         their API keys, credits, holds, debits and the ledger export. Authenticated with an \
         operator token (`Authorization: Bearer …`, from `PAYOUTS_OPERATOR_TOKENS`); an \
         organization's API key is refused here, as an operator token is on `/api/v1`. \
         Amounts are integer cents; every failure answers with the error envelope \
         `{success: false, error: {type, code, message, param, details, doc_url}}`.",
    )
    .server(ServerObject::new(OPERATOR_BASE))
}

pub fn api_service() -> OpenApiService<resources::Apis, ()> {
    OpenApiService::new(resources::APIS, "Payouts API", env!("CARGO_PKG_VERSION"))
        .description(
            "Self-hostable payouts API, wire-compatible with the Commet payouts API. \
         Amounts are integer cents. The shapes of the answers depend on the API version \
         (the `Commet-Version` header, else the organization's pinned version); every \
         failure answers with `{error: {type, code, message, param, details, doc_url}}`.",
        )
        .server(ServerObject::new(API_BASE))
}

/// A link from the responses `statuses` of operation `from` to operation
/// `to`, filling `to`'s `parameters` from the response.
struct Link {
    from: &'static str,
    statuses: &'static [&'static str],
    name: &'static str,
    to: &'static str,
    parameters: &'static [(&'static str, &'static str)],
}

const OPERATOR_LINKS: &[Link] = &[
    Link {
        from: "createOrganization",
        statuses: &["201"],
        name: "GetOrganization",
        to: "getOrganization",
        parameters: &[("id", "$response.body#/data/id")],
    },
    Link {
        from: "createOrganization",
        statuses: &["201"],
        name: "CreateCredit",
        to: "createCredit",
        parameters: &[("id", "$response.body#/data/id")],
    },
    Link {
        from: "createOrganization",
        statuses: &["201"],
        name: "CreateHold",
        to: "createHold",
        parameters: &[("id", "$response.body#/data/id")],
    },
    Link {
        from: "createOrganization",
        statuses: &["201"],
        name: "CreateDebit",
        to: "createDebit",
        parameters: &[("id", "$response.body#/data/id")],
    },
    Link {
        from: "createOrganization",
        statuses: &["201"],
        name: "CreateApiKey",
        to: "createApiKey",
        parameters: &[("id", "$response.body#/data/id")],
    },
    Link {
        from: "createOrganization",
        statuses: &["201"],
        name: "ListApiKeys",
        to: "listApiKeys",
        parameters: &[("id", "$response.body#/data/id")],
    },
    Link {
        from: "createApiKey",
        statuses: &["201"],
        name: "RevokeApiKey",
        to: "revokeApiKey",
        parameters: &[
            ("id", "$response.body#/data/organizationId"),
            ("keyId", "$response.body#/data/id"),
        ],
    },
    Link {
        from: "createHold",
        statuses: &["200", "201"],
        name: "ReleaseHold",
        to: "releaseHold",
        parameters: &[
            ("id", "$response.body#/data/organizationId"),
            ("holdId", "$response.body#/data/id"),
        ],
    },
    Link {
        from: "createHold",
        statuses: &["200", "201"],
        name: "CaptureHold",
        to: "captureHold",
        parameters: &[
            ("id", "$response.body#/data/organizationId"),
            ("holdId", "$response.body#/data/id"),
        ],
    },
];

const LINKS: &[Link] = &[
    Link {
        from: "requestPayout",
        statuses: &["201"],
        name: "GetPayout",
        to: "getPayout",
        parameters: &[("id", "$response.body#/data/id")],
    },
    Link {
        from: "requestPayout",
        statuses: &["201"],
        name: "GetBalance",
        to: "getBalance",
        parameters: &[],
    },
    Link {
        from: "completePayoutVerification",
        statuses: &["200", "201"],
        name: "GetPayoutAccount",
        to: "getPayoutAccount",
        parameters: &[],
    },
    Link {
        from: "completePayoutVerification",
        statuses: &["200", "201"],
        name: "AddPayoutBankAccount",
        to: "addPayoutBankAccount",
        parameters: &[],
    },
    Link {
        from: "createWebhook",
        statuses: &["201"],
        name: "GetWebhook",
        to: "getWebhook",
        parameters: &[("id", "$response.body#/data/id")],
    },
    Link {
        from: "createWebhook",
        statuses: &["201"],
        name: "ListWebhookDeliveries",
        to: "listWebhookDeliveries",
        parameters: &[("id", "$response.body#/data/id")],
    },
    Link {
        from: "createWebhook",
        statuses: &["201"],
        name: "TestWebhook",
        to: "testWebhook",
        parameters: &[("id", "$response.body#/data/id")],
    },
    Link {
        from: "createWebhook",
        statuses: &["201"],
        name: "UpdateWebhook",
        to: "updateWebhook",
        parameters: &[("id", "$response.body#/data/id")],
    },
    Link {
        from: "addPayoutBankAccount",
        statuses: &["201"],
        name: "RequestPayout",
        to: "requestPayout",
        parameters: &[],
    },
    Link {
        from: "requestPayout",
        statuses: &["201"],
        name: "CancelPayout",
        to: "cancelPayout",
        parameters: &[("id", "$response.body#/data/id")],
    },
    Link {
        from: "addPayoutBankAccount",
        statuses: &["201"],
        name: "SetDefaultPayoutBankAccount",
        to: "setDefaultPayoutBankAccount",
        parameters: &[("id", "$response.body#/data/id")],
    },
    Link {
        from: "addPayoutBankAccount",
        statuses: &["201"],
        name: "DeletePayoutBankAccount",
        to: "deletePayoutBankAccount",
        parameters: &[("id", "$response.body#/data/id")],
    },
];

pub struct Document {
    pub json: String,
    pub yaml: String,
}

/// Every version's document, rendered once, as `/openapi.json` and
/// `/openapi.yaml` serve them.
pub struct Documents(Vec<(ApiVersion, Document)>);

#[derive(Clone, Copy)]
pub enum Format {
    Json,
    Yaml,
}

impl Documents {
    pub fn new() -> Self {
        Self(
            ApiVersion::ALL
                .into_iter()
                .map(|v| (v, document_for(v)))
                .collect(),
        )
    }

    /// The document of the version named by the `version` query parameter,
    /// else by the `Commet-Version` header, else the default version's;
    /// its `Commet-Version` header says which.
    pub fn serve(&self, req: &poem::Request, format: Format) -> poem::Response {
        use poem::IntoResponse;
        let version = match requested_document(req) {
            Ok(version) => version,
            Err(err) => return super::error::error_response(err),
        };
        let (_, document) = self
            .0
            .iter()
            .find(|(v, _)| *v == version)
            .expect("every version has a document");
        let response = match format {
            Format::Json => document
                .json
                .clone()
                .with_content_type("application/json")
                .into_response(),
            Format::Yaml => document
                .yaml
                .clone()
                .with_content_type("application/yaml")
                .into_response(),
        };
        let mut response = response;
        response.headers_mut().insert(
            versions::HEADER_NAME,
            poem::http::HeaderValue::from_static(version.as_str()),
        );
        response
    }
}

impl Default for Documents {
    fn default() -> Self {
        Self::new()
    }
}

fn requested_document(req: &poem::Request) -> Result<ApiVersion, super::error::ApiError> {
    #[derive(serde::Deserialize)]
    struct Query {
        version: Option<String>,
    }
    let query: Query = req.params().unwrap_or(Query { version: None });
    match query.version {
        Some(text) => api_version::parse(&text).map_err(|malformed| {
            super::error::ApiError::InvalidApiVersion {
                param: "version",
                malformed,
            }
        }),
        None => Ok(versions::requested(req)?.unwrap_or(api_version::DEFAULT)),
    }
}

/// The default version's document (`openapi.yaml`).
pub fn document() -> Document {
    document_for(api_version::DEFAULT)
}

/// Where a version's document is committed: `openapi.yaml` for the
/// default version, `openapi-<version>.yaml` for the others.
pub fn file_name(version: ApiVersion) -> String {
    if version == api_version::DEFAULT {
        "openapi.yaml".into()
    } else {
        format!("openapi-{version}.yaml")
    }
}

/// The document of `version`'s shapes.
pub fn document_for(version: ApiVersion) -> Document {
    // serde_norway keeps the key order of poem-openapi's output (serde_json's
    // map would sort it), so the committed file stays readable.
    let mut doc: Value =
        serde_norway::from_str(&api_service().spec_yaml()).expect("poem-openapi emits valid YAML");
    add_links(&mut doc, LINKS);
    require_by_business_type(&mut doc);
    describe_provider_event(&mut doc);
    add_error_examples(&mut doc, false);
    redocly::apply(&mut doc);
    versions::render_document(version, &mut doc);
    version_header(&mut doc, version);
    Document {
        json: serde_json::to_string_pretty(&doc).expect("the document is JSON-compatible"),
        yaml: serde_norway::to_string(&doc).expect("the document is YAML"),
    }
}

/// The operator API's document (`/operator/openapi.json`,
/// `operator-openapi.yaml`): poem-openapi's, with its links, error examples
/// and the nullable-enum fix of the public one.
pub fn operator_document() -> Document {
    let mut doc: Value = serde_norway::from_str(&operator_service().spec_yaml())
        .expect("poem-openapi emits valid YAML");
    add_links(&mut doc, OPERATOR_LINKS);
    add_error_examples(&mut doc, true);
    redocly::inline_nullable_enums(&mut doc);
    drop_unreferenced_schemas(&mut doc);
    Document {
        json: serde_json::to_string_pretty(&doc).expect("the document is JSON-compatible"),
        yaml: serde_norway::to_string(&doc).expect("the document is YAML"),
    }
}

/// Schemas nothing refers to any more (an enum inlined where it was nullable).
fn drop_unreferenced_schemas(doc: &mut Value) {
    let text = serde_json::to_string(&*doc).expect("the document is JSON-compatible");
    if let Some(schemas) = doc["components"]["schemas"].as_mapping_mut() {
        schemas.retain(|name, _| {
            let reference = format!("\"#/components/schemas/{}\"", name.as_str().unwrap_or(""));
            text.contains(&reference)
        });
    }
}

fn add_links(doc: &mut Value, links: &[Link]) {
    for spec in links {
        let mut link = Mapping::new();
        link.insert("operationId".into(), spec.to.into());
        if !spec.parameters.is_empty() {
            let parameters: Mapping = spec
                .parameters
                .iter()
                .map(|(k, v)| (Value::from(*k), Value::from(*v)))
                .collect();
            link.insert("parameters".into(), parameters.into());
        }
        let operation = operation_mut(doc, spec.from)
            .unwrap_or_else(|| panic!("link source {} is an operation", spec.from));
        for status in spec.statuses {
            let response = operation["responses"]
                .get_mut(*status)
                .unwrap_or_else(|| panic!("{} documents {status}", spec.from));
            let links = response
                .as_mapping_mut()
                .expect("a response is a mapping")
                .entry("links".into())
                .or_insert_with(|| Mapping::new().into());
            links
                .as_mapping_mut()
                .expect("links is a mapping")
                .insert(spec.name.into(), link.clone().into());
        }
    }
}

/// `VerificationRequest` requires `individual` when `businessType` is
/// `individual` and `company` when it is `company` (checked in the handler,
/// which answers 422 on that field).
fn require_by_business_type(doc: &mut Value) {
    let branch = |business_type: &str| -> Value {
        serde_norway::from_str(&format!(
            "{{properties: {{businessType: {{type: string, enum: [{business_type}]}}}}, required: [{business_type}]}}"
        ))
        .expect("a valid schema")
    };
    let schema = doc["components"]["schemas"]
        .get_mut("VerificationRequest")
        .and_then(Value::as_mapping_mut)
        .expect("VerificationRequest is a schema");
    schema.insert(
        "oneOf".into(),
        // Each business type names the object it requires.
        Value::Sequence(
            entity::states::BusinessType::ALL
                .iter()
                .map(|t| branch(t.as_str()))
                .collect(),
        ),
    );
}

/// What `provider::sandbox::parse_event` accepts, exactly: `id`, `type` and
/// `created` (seconds, in chrono's range); for an `account` or `payout`
/// event (`type` is the word or starts with it and a dot), `data.object`
/// with a string `id` and one of that object's statuses. Other event types
/// are acknowledged and ignored, whatever their `data`.
fn describe_provider_event(doc: &mut Value) {
    use crate::domain::{account_status::AccountStatus, payout_status::PayoutStatus};
    use serde_json::json;
    // What `service::provider_events` stores: ids of printable ASCII (`ids::is_external_id`),
    // texts without NUL of at most `MAX_TEXT_BYTES` (characters of up to 4 bytes).
    let external_id =
        json!({"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"});
    let max_chars = crate::service::provider_events::MAX_TEXT_BYTES / 4;
    let text = json!({"type": "string", "maxLength": max_chars, "pattern": "^[^\\u0000]*$"});
    let object_event = |word: &str, statuses: Vec<&str>| {
        json!({
            "type": "object",
            "required": ["type", "data"],
            "properties": {
                "type": {"anyOf": [{"type": "string", "enum": [word]}, {"type": "string", "pattern": format!("^{word}\\.")}]},
                "data": {
                    "type": "object",
                    "required": ["object"],
                    "properties": {"object": {
                        "type": "object",
                        "required": ["id", "status"],
                        "properties": {
                            "id": external_id,
                            "status": {"type": "string", "enum": statuses},
                            "failure_code": text,
                            "failure_message": text,
                            "metadata": {
                                "type": "object",
                                "properties": {"payout_id": external_id}
                            }
                        }
                    }}
                }
            }
        })
    };
    let account = object_event(
        "account",
        AccountStatus::ALL.iter().map(|s| s.as_str()).collect(),
    );
    let payout = object_event(
        "payout",
        PayoutStatus::ALL.iter().map(|s| s.as_str()).collect(),
    );
    let other = json!({"properties": {"type": {"not": {"anyOf": [
        {"type": "string", "enum": ["account", "payout"]},
        {"type": "string", "pattern": "^account\\."},
        {"type": "string", "pattern": "^payout\\."}
    ]}}}});
    let event = json!({
        "type": "object",
        "title": "ProviderEvent",
        "description": "An event as the provider sends it (Stripe's shape).",
        "required": ["id", "type", "created"],
        "properties": {
            "id": external_id,
            "type": text,
            "created": {
                "type": "integer",
                "format": "int64",
                "minimum": chrono::DateTime::<chrono::Utc>::MIN_UTC.timestamp(),
                "maximum": chrono::DateTime::<chrono::Utc>::MAX_UTC.timestamp()
            },
            "data": {"type": "object"}
        },
        "oneOf": [account, payout, other],
        // The inline schema this replaces carried it (Swagger UI's "Try it out").
        "example": super::resources::provider_webhooks::provider_event_example()
    });
    doc["components"]["schemas"]
        .as_mapping_mut()
        .expect("schemas is a mapping")
        .insert(
            "ProviderEvent".into(),
            serde_norway::to_value(event).expect("a schema"),
        );
    let operation =
        operation_mut(doc, "receiveProviderWebhook").expect("the webhook is an operation");
    operation["requestBody"]["content"]["application/json"]["schema"] =
        serde_norway::from_str("$ref: '#/components/schemas/ProviderEvent'").expect("a reference");
}

/// Every error response shows, as examples, the envelope of each code that
/// answers with its status (from `api::error_codes`); each envelope is
/// written once, in `components/examples`, and referenced.
fn add_error_examples(doc: &mut Value, operator: bool) {
    let shown = |entry: &&error_codes::ErrorCode| operator || !entry.operator_only;
    use poem_openapi::types::ToJSON;
    let mut used = Vec::new();
    let responses = doc["paths"]
        .as_mapping_mut()
        .expect("paths is a mapping")
        .values_mut()
        .filter_map(Value::as_mapping_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(|op| op.get_mut("responses").and_then(Value::as_mapping_mut))
        .flat_map(|responses| responses.iter_mut());
    for (status, response) in responses {
        let codes: Vec<&str> = error_codes::ALL
            .iter()
            .filter(shown)
            .filter(|entry| status.as_str() == Some(entry.status.as_str()))
            .map(|entry| entry.code)
            .collect();
        if codes.is_empty() {
            continue;
        }
        let refs: Mapping = codes
            .iter()
            .map(|code| {
                let reference = format!("#/components/examples/{code}");
                let mut example = Mapping::new();
                example.insert("$ref".into(), reference.into());
                (Value::from(*code), Value::from(example))
            })
            .collect();
        for media in response["content"]
            .as_mapping_mut()
            .into_iter()
            .flat_map(|content| content.values_mut())
        {
            media
                .as_mapping_mut()
                .expect("a media type is a mapping")
                .insert("examples".into(), refs.clone().into());
        }
        used.extend(codes);
    }
    let mut components = Mapping::new();
    for entry in error_codes::ALL.iter().filter(|e| used.contains(&e.code)) {
        let summary = entry.meaning.split(". ").next().unwrap_or(entry.meaning);
        let value = wire::error_envelope(entry).to_json().expect("JSON");
        let mut example = Mapping::new();
        example.insert("summary".into(), summary.trim_end_matches('.').into());
        example.insert(
            "value".into(),
            serde_norway::to_value(value).expect("JSON is YAML"),
        );
        components.insert(entry.code.into(), example.into());
    }
    doc["components"]
        .as_mapping_mut()
        .expect("components is a mapping")
        .insert("examples".into(), components.into());
}

/// Says which version the document describes, and documents the
/// `Commet-Version` header: a parameter of every operation (the values that
/// get this document's shapes) and a header of every response (the version
/// that answered).
fn version_header(doc: &mut Value, version: ApiVersion) {
    let position = ApiVersion::ALL
        .iter()
        .position(|v| *v == version)
        .expect("a known version");
    let next = ApiVersion::ALL.get(position + 1);
    let range = match (position, next) {
        (0, Some(next)) => format!("sent as `{version}` or any date before `{next}`"),
        (_, Some(next)) => format!("sent as `{version}` or any date from it to before `{next}`"),
        (_, None) => format!("sent as `{version}` or any later date"),
    };
    let others: Vec<String> = ApiVersion::ALL
        .iter()
        .filter(|v| **v != version)
        .map(|v| format!("`{v}`: `/openapi.json?version={v}`"))
        .collect();
    let changes: Vec<&str> = versions::changes_to(version).map(|c| c.summary).collect();
    let shapes = if changes.is_empty() {
        "the seed's shapes: answers are `{success: true, data}`, lists `{success: true, data, \
         hasMore, nextCursor}`, errors `{success: false, error}`."
            .to_string()
    } else {
        format!(
            "Changes from `{}`: {}",
            ApiVersion::ALL[0],
            changes.join(" ")
        )
    };
    let info = doc["info"].as_mapping_mut().expect("info is a mapping");
    let description = info
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    info.insert(
        "description".into(),
        format!(
            "{description}\n\nThis document describes API version `{version}`, {range}. {shapes} \
             The other versions' documents: {}.",
            others.join(", ")
        )
        .into(),
    );

    let default = api_version::DEFAULT;
    let mut parameter = Mapping::new();
    parameter.insert("name".into(), versions::HEADER_NAME.into());
    parameter.insert("in".into(), "header".into());
    parameter.insert("required".into(), false.into());
    parameter.insert(
        "description".into(),
        format!(
            "The API version (a date, YYYY-MM-DD). This document describes version `{version}`, \
             {range}. \
             Without the header, the organization's pinned version answers (`{default}` unless \
             the organization was created with another); a value that is not a date is a 400 \
             `invalid_api_version`."
        )
        .into(),
    );
    parameter.insert(
        "schema".into(),
        serde_norway::from_str(&format!("{{type: string, enum: ['{version}']}}"))
            .expect("a schema"),
    );
    let mut response_header = Mapping::new();
    response_header.insert(
        "description".into(),
        format!(
            "The API version the answer is shaped for: `{version}` for this document's shapes \
             (a 400 `invalid_api_version`, which names no usable version, answers in \
             `{default}`'s)."
        )
        .into(),
    );
    response_header.insert("required".into(), true.into());
    response_header.insert(
        "schema".into(),
        serde_norway::from_str("{type: string, format: date}").expect("a schema"),
    );
    let components = doc["components"]
        .as_mapping_mut()
        .expect("components is a mapping");
    let mut named = |kind: &str, value: Mapping| {
        let mut entries = Mapping::new();
        entries.insert("CommetVersion".into(), value.into());
        components.insert(kind.into(), entries.into());
    };
    named("parameters", parameter);
    named("headers", response_header);

    let reference = |kind: &str| -> Value {
        serde_norway::from_str(&format!("$ref: '#/components/{kind}/CommetVersion'"))
            .expect("a reference")
    };
    let operations = doc["paths"]
        .as_mapping_mut()
        .expect("paths is a mapping")
        .values_mut()
        .filter_map(Value::as_mapping_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(Value::as_mapping_mut);
    for operation in operations {
        if !operation.contains_key("parameters") {
            // Before the body and the responses, where poem-openapi puts them.
            let rest = std::mem::take(operation);
            for (key, value) in rest {
                if matches!(key.as_str(), Some("requestBody" | "responses")) {
                    operation
                        .entry("parameters".into())
                        .or_insert_with(|| Value::Sequence(Vec::new()));
                }
                operation.insert(key, value);
            }
        }
        operation
            .get_mut("parameters")
            .and_then(Value::as_sequence_mut)
            .expect("every operation has responses, so parameters now")
            .push(reference("parameters"));
        for response in operation
            .get_mut("responses")
            .and_then(Value::as_mapping_mut)
            .into_iter()
            .flat_map(|r| r.values_mut())
            .filter_map(Value::as_mapping_mut)
        {
            response
                .entry("headers".into())
                .or_insert_with(|| Mapping::new().into())
                .as_mapping_mut()
                .expect("headers is a mapping")
                .insert(versions::HEADER_NAME.into(), reference("headers"));
        }
    }
}

fn operation_mut<'a>(doc: &'a mut Value, operation_id: &str) -> Option<&'a mut Value> {
    doc.get_mut("paths")?
        .as_mapping_mut()?
        .values_mut()
        .filter_map(Value::as_mapping_mut)
        .flat_map(|item| item.values_mut())
        .find(|op| op.get("operationId").and_then(Value::as_str) == Some(operation_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_yaml_are_the_same_document() {
        let doc = document();
        let from_json: serde_json::Value = serde_json::from_str(&doc.json).unwrap();
        let from_yaml: serde_json::Value = serde_norway::from_str(&doc.yaml).unwrap();
        assert_eq!(from_json, from_yaml);
    }

    #[test]
    fn lint_fixes_hold_null_stays_valid_and_the_webhook_has_no_key() {
        let doc: serde_json::Value = serde_json::from_str(&document().json).unwrap();
        let account_type =
            &doc["components"]["schemas"]["PayoutBankAccount"]["properties"]["accountType"];
        assert_eq!(
            account_type,
            &serde_json::json!({"type": "string", "nullable": true, "enum": ["checking", "savings", null]})
        );
        let webhook = &doc["paths"]["/provider-webhooks/{provider}"]["post"];
        assert_eq!(webhook["security"], serde_json::json!([]));
    }

    #[test]
    fn every_link_targets_an_operation_and_its_parameters() {
        let doc: serde_json::Value = serde_json::from_str(&document().json).unwrap();
        let operations: Vec<&serde_json::Value> = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| item.as_object().unwrap().values())
            .collect();
        let mut found = 0;
        for op in &operations {
            for response in op["responses"].as_object().unwrap().values() {
                for link in response["links"]
                    .as_object()
                    .into_iter()
                    .flat_map(|l| l.values())
                {
                    found += 1;
                    let target = operations
                        .iter()
                        .find(|o| o["operationId"] == link["operationId"])
                        .unwrap_or_else(|| panic!("no operation {}", link["operationId"]));
                    for name in link["parameters"]
                        .as_object()
                        .into_iter()
                        .flat_map(|p| p.keys())
                    {
                        assert!(
                            target["parameters"]
                                .as_array()
                                .is_some_and(|ps| ps.iter().any(|p| p["name"] == *name)),
                            "{} has no parameter {name}",
                            link["operationId"]
                        );
                    }
                }
            }
        }
        assert_eq!(found, 14, "each link once per documented response");
    }

    #[test]
    fn business_type_picks_the_required_details() {
        let doc: serde_json::Value = serde_json::from_str(&document().json).unwrap();
        let branches = doc["components"]["schemas"]["VerificationRequest"]["oneOf"]
            .as_array()
            .expect("a oneOf");
        let rules: Vec<(&str, &str)> = branches
            .iter()
            .map(|b| {
                (
                    b["properties"]["businessType"]["enum"][0].as_str().unwrap(),
                    b["required"][0].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            rules,
            [("individual", "individual"), ("company", "company")]
        );
        // The enum's values are the ones the branches name.
        assert_eq!(
            doc["components"]["schemas"]["BusinessType"]["enum"],
            serde_json::json!(["individual", "company"])
        );
    }
}
