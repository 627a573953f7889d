//! What each API version changed on the wire.
//!
//! One piece: each change's body edit and document edit sit side by side so the two cannot disagree, and one test renders them all.
//!
//! What each version changed on the wire, one `Change` per difference: how
//! an answer in the previous version's shape becomes the next version's
//! (`body`), and the same edit to the published document (`document`), side
//! by side so the two cannot disagree. `tests` renders every example of the
//! default document with `body` and validates it against the document
//! `document` produced.
//!
//! Each `body` sees the answer as the changes before it in `CHANGES` left
//! it, and leaves alone anything that is not the shape it changes.
use entity::states::ApiVersion;
use serde_json::{json, Map, Value as Json};
use serde_norway::{Mapping, Value as Yaml};

/// One difference between a version and the one before it.
pub struct Change {
    /// The first version with it.
    pub version: ApiVersion,
    /// What changed, for readers (README, the versions' docs).
    pub summary: &'static str,
    /// An answer's JSON body, from the previous shape to this one.
    pub body: fn(&mut Json),
    /// The OpenAPI document, from the previous shape to this one.
    pub document: fn(&mut Yaml),
}

/// Every change, oldest version first; within a version, in the order they
/// apply.
pub const CHANGES: &[Change] = &[
    Change {
        version: ApiVersion::V2026_07_24,
        summary: "Payout verification says `outcome: \"existing\" | \"created\"` instead of \
                  `alreadyExists: true | false`.",
        body: verification_outcome,
        document: verification_outcome_document,
    },
    Change {
        version: ApiVersion::V2026_07_24,
        summary: "Lists are `{object: \"list\", data, hasMore, nextCursor}` instead of \
                  `{success: true, data, hasMore, nextCursor}`.",
        body: list_object,
        document: list_object_document,
    },
    Change {
        version: ApiVersion::V2026_07_24,
        summary: "Answers are the resource itself instead of `{success: true, data: resource}`.",
        body: direct_resource,
        document: direct_resource_document,
    },
    Change {
        version: ApiVersion::V2026_07_24,
        summary: "Errors are `{error: {...}}` without `success: false`.",
        body: error_without_success,
        document: error_without_success_document,
    },
];

// ---------- the shapes the changes recognise ----------

/// The keys of `{success: true, data}`.
const RESOURCE_ENVELOPE: &[&str] = &["success", "data"];
/// The keys of a list in the envelope versions (`nextCursor` may be absent).
const LIST_ENVELOPE: &[&str] = &["success", "data", "hasMore", "nextCursor"];
/// The keys of an error in the envelope versions.
const ERROR_ENVELOPE: &[&str] = &["success", "error"];

/// `body` as an object whose keys are `required`, plus some of `optional`,
/// and whose `success` is `success`.
fn envelope<'a>(
    body: &'a mut Json,
    keys: &[&str],
    required: usize,
    success: bool,
) -> Option<&'a mut Map<String, Json>> {
    let map = body.as_object_mut()?;
    let fits = map.get("success") == Some(&Json::Bool(success))
        && keys[..required].iter().all(|k| map.contains_key(*k))
        && map.keys().all(|k| keys.contains(&k.as_str()));
    fits.then_some(map)
}

/// The schemas whose properties are exactly `keys` (by name), as the
/// envelope types (`wire::Success`, `wire::List`, `ErrorEnvelope`) emit them.
fn envelope_schemas(doc: &Yaml, keys: &[&str]) -> Vec<String> {
    schemas(doc)
        .iter()
        .filter(|(_, schema)| {
            schema
                .get("properties")
                .and_then(Yaml::as_mapping)
                .is_some_and(|props| {
                    props.len() == keys.len() && keys.iter().all(|k| props.contains_key(*k))
                })
        })
        .filter_map(|(name, _)| name.as_str().map(str::to_string))
        .collect()
}

fn schemas(doc: &Yaml) -> &Mapping {
    doc["components"]["schemas"]
        .as_mapping()
        .expect("components.schemas is a mapping")
}

fn schema_mut<'a>(doc: &'a mut Yaml, name: &str) -> &'a mut Mapping {
    doc["components"]["schemas"]
        .get_mut(name)
        .and_then(Yaml::as_mapping_mut)
        .unwrap_or_else(|| panic!("{name} is a schema"))
}

/// Applies a body change to a document's example.
fn example(value: &mut Yaml, change: fn(&mut Json)) {
    let mut json: Json = serde_json::to_value(&*value).expect("an example is JSON");
    change(&mut json);
    *value = serde_norway::to_value(json).expect("JSON is YAML");
}

/// Drops `name` from a schema's properties and required list.
fn drop_property(schema: &mut Mapping, name: &str) {
    if let Some(props) = schema.get_mut("properties").and_then(Yaml::as_mapping_mut) {
        props.shift_remove(name);
    }
    if let Some(required) = schema.get_mut("required").and_then(Yaml::as_sequence_mut) {
        required.retain(|r| r.as_str() != Some(name));
    }
}

/// Puts `name: property` first among a schema's properties, and first in
/// its required list.
fn prepend_property(schema: &mut Mapping, name: &str, property: Yaml) {
    let props = schema
        .entry("properties".into())
        .or_insert_with(|| Mapping::new().into())
        .as_mapping_mut()
        .expect("properties is a mapping");
    let mut rebuilt = Mapping::new();
    rebuilt.insert(name.into(), property);
    rebuilt.extend(std::mem::take(props));
    *props = rebuilt;
    let required = schema
        .entry("required".into())
        .or_insert_with(|| Yaml::Sequence(Vec::new()))
        .as_sequence_mut()
        .expect("required is a list");
    required.insert(0, name.into());
}

fn yaml(text: &str) -> Yaml {
    serde_norway::from_str(text).expect("a valid YAML literal")
}

// ---------- 2026-07-24: verification's outcome ----------

/// `{success: true, data: {object: "payout_account", alreadyExists, …}}`:
/// `alreadyExists` becomes `outcome`, in its place.
fn verification_outcome(body: &mut Json) {
    if let Some(map) = envelope(body, RESOURCE_ENVELOPE, 2, true) {
        if let Some(Json::Object(account)) = map.get_mut("data") {
            outcome_of(account);
        }
    }
}

/// The account's `alreadyExists: bool` as `outcome`.
fn outcome_of(account: &mut Map<String, Json>) {
    if account.get("object") != Some(&json!("payout_account")) {
        return;
    }
    if let Some(Json::Bool(existed)) = account.get("alreadyExists").cloned() {
        account.remove("alreadyExists");
        let outcome = if existed { "existing" } else { "created" };
        account.insert("outcome".into(), outcome.into());
    }
}

fn verification_outcome_document(doc: &mut Yaml) {
    let schema = schema_mut(doc, "PayoutVerification");
    let props = schema
        .get_mut("properties")
        .and_then(Yaml::as_mapping_mut)
        .expect("PayoutVerification has properties");
    assert!(
        props.contains_key("alreadyExists"),
        "PayoutVerification says alreadyExists"
    );
    *props = std::mem::take(props)
        .into_iter()
        .map(|(key, value)| match key.as_str() {
            Some("alreadyExists") => (
                "outcome".into(),
                yaml(
                    "type: string\n\
                     enum: [existing, created]\n\
                     description: '`created`: the payout account was created by this call; \
                     `existing`: the organization already had it, and nothing was done.'",
                ),
            ),
            _ => (key, value),
        })
        .collect();
    for name in schema
        .get_mut("required")
        .and_then(Yaml::as_sequence_mut)
        .into_iter()
        .flatten()
    {
        if name.as_str() == Some("alreadyExists") {
            *name = "outcome".into();
        }
    }
    if let Some(value) = schema.get_mut("example") {
        example(value, |account| {
            if let Some(map) = account.as_object_mut() {
                outcome_of(map)
            }
        });
    }
    if let Some(description) = schema.get_mut("description") {
        *description = "The verification call's answer: the payout account, and whether this \
                        call created it (`outcome`)."
            .into();
    }
}

// ---------- 2026-07-24: list objects ----------

/// `{success: true, data: […], hasMore, nextCursor}` →
/// `{object: "list", data, hasMore, nextCursor}`.
fn list_object(body: &mut Json) {
    if let Some(map) = envelope(body, LIST_ENVELOPE, 3, true) {
        if map["data"].is_array() {
            map.remove("success");
            map.insert("object".into(), "list".into());
        }
    }
}

fn list_object_document(doc: &mut Yaml) {
    for name in envelope_schemas(doc, LIST_ENVELOPE) {
        let schema = schema_mut(doc, &name);
        drop_property(schema, "success");
        prepend_property(
            schema,
            "object",
            yaml("type: string\nenum: [list]\ndescription: Always `list`."),
        );
        if let Some(value) = schema.get_mut("example") {
            example(value, list_object);
        }
        if let Some(description) = schema.get_mut("description") {
            *description =
                "A cursor list: `{\"object\": \"list\", \"data\": [...], \"hasMore\": …, \
                            \"nextCursor\": …}`. Every list route answers with this shape."
                    .into();
        }
    }
}

// ---------- 2026-07-24: resources without the envelope ----------

/// `{success: true, data: resource}` → `resource`.
fn direct_resource(body: &mut Json) {
    if let Some(map) = envelope(body, RESOURCE_ENVELOPE, 2, true) {
        let data = map.remove("data").expect("checked above");
        *body = data;
    }
}

/// Each reference to an envelope schema becomes a reference to its `data`,
/// the envelope schemas go, and links read the resource at the top.
fn direct_resource_document(doc: &mut Yaml) {
    let envelopes: Vec<(String, Yaml)> = envelope_schemas(doc, RESOURCE_ENVELOPE)
        .into_iter()
        .map(|name| {
            let data = schemas(doc)[name.as_str()]["properties"]["data"].clone();
            (format!("#/components/schemas/{name}"), data)
        })
        .collect();
    fn walk(value: &mut Yaml, envelopes: &[(String, Yaml)]) {
        match value {
            Yaml::Mapping(map) => {
                let target = map.get("$ref").and_then(Yaml::as_str).and_then(|r| {
                    envelopes
                        .iter()
                        .find(|(reference, _)| reference == r)
                        .map(|(_, data)| data.clone())
                });
                match target {
                    Some(data) if map.len() == 1 => *value = data,
                    _ => map.values_mut().for_each(|v| walk(v, envelopes)),
                }
            }
            Yaml::Sequence(items) => items.iter_mut().for_each(|v| walk(v, envelopes)),
            Yaml::String(text) => {
                if let Some(rest) = text.strip_prefix("$response.body#/data/") {
                    *text = format!("$response.body#/{rest}");
                }
            }
            _ => {}
        }
    }
    walk(doc, &envelopes);
    let schemas = doc["components"]["schemas"]
        .as_mapping_mut()
        .expect("components.schemas is a mapping");
    for (reference, _) in &envelopes {
        let name = reference.trim_start_matches("#/components/schemas/");
        schemas.shift_remove(name);
    }
}

// ---------- 2026-07-24: errors without success ----------

/// `{success: false, error}` → `{error}`.
fn error_without_success(body: &mut Json) {
    if let Some(map) = envelope(body, ERROR_ENVELOPE, 2, false) {
        if map["error"].is_object() {
            map.remove("success");
        }
    }
}

fn error_without_success_document(doc: &mut Yaml) {
    for name in envelope_schemas(doc, ERROR_ENVELOPE) {
        let schema = schema_mut(doc, &name);
        drop_property(schema, "success");
        if let Some(value) = schema.get_mut("example") {
            example(value, error_without_success);
        }
    }
    let examples = doc["components"]
        .get_mut("examples")
        .and_then(Yaml::as_mapping_mut);
    for named in examples.into_iter().flat_map(|e| e.values_mut()) {
        if let Some(value) = named.get_mut("value") {
            example(value, error_without_success);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(body: Json) -> Json {
        let mut body = body;
        for change in CHANGES {
            (change.body)(&mut body);
        }
        body
    }

    #[test]
    fn a_resource_is_unwrapped() {
        let body = json!({"success": true, "data": {"object": "payout", "id": "po_1"}});
        assert_eq!(apply(body), json!({"object": "payout", "id": "po_1"}));
    }

    #[test]
    fn a_resource_that_has_its_own_success_field_keeps_it() {
        let body = json!({"success": true, "data": {"success": false, "deliveryId": "d"}});
        assert_eq!(apply(body), json!({"success": false, "deliveryId": "d"}));
    }

    #[test]
    fn a_list_becomes_a_list_object() {
        let body =
            json!({"success": true, "data": [{"id": "a"}], "hasMore": true, "nextCursor": "a"});
        assert_eq!(
            apply(body),
            json!({"object": "list", "data": [{"id": "a"}], "hasMore": true, "nextCursor": "a"})
        );
    }

    #[test]
    fn verification_says_its_outcome() {
        for (existed, outcome) in [(true, "existing"), (false, "created")] {
            let body = json!({"success": true, "data": {"object": "payout_account", "id": "pacct_1", "alreadyExists": existed}});
            assert_eq!(
                apply(body),
                json!({"object": "payout_account", "id": "pacct_1", "outcome": outcome})
            );
        }
        // Reading the account back has no alreadyExists: nothing to say.
        let body = json!({"success": true, "data": {"object": "payout_account", "id": "pacct_1"}});
        assert_eq!(
            apply(body),
            json!({"object": "payout_account", "id": "pacct_1"})
        );
    }

    #[test]
    fn an_error_keeps_error_and_drops_success() {
        let body = json!({"success": false, "error": {"code": "not_found"}});
        assert_eq!(apply(body), json!({"error": {"code": "not_found"}}));
    }

    #[test]
    fn other_bodies_are_left_alone() {
        for body in [
            json!({"status": "ok"}),
            json!({"success": true, "data": {}, "extra": 1}),
            json!({"success": "true", "data": {}}),
            json!({"success": false, "data": {}}),
            json!({"success": true}),
            json!([1, 2]),
            json!("text"),
            json!({"openapi": "3.0.0", "paths": {}}),
        ] {
            assert_eq!(apply(body.clone()), body);
        }
    }
}
