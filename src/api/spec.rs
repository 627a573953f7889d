//! The published OpenAPI document: poem-openapi's, plus the response links
//! it has no attribute for (OpenAPI `links` let clients, and schemathesis'
//! stateful phase, follow an operation's result into the next operation).
//! `/openapi.json`, `/openapi.yaml` and `payouts spec` all come from here.
//! Two more things poem-openapi cannot say are patched in here, so the
//! document passes Redocly's recommended rules (`make lint-spec`): operations
//! open to the world declare `security: []`, and nullable enum fields are
//! written the OpenAPI 3.0 way.

use serde_norway::{Mapping, Value};

/// A link from the responses `statuses` of operation `from` to operation
/// `to`, filling `to`'s `parameters` from the response.
struct Link {
    from: &'static str,
    statuses: &'static [&'static str],
    name: &'static str,
    to: &'static str,
    parameters: &'static [(&'static str, &'static str)],
}

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
        from: "addPayoutBankAccount",
        statuses: &["201"],
        name: "RequestPayout",
        to: "requestPayout",
        parameters: &[],
    },
];

/// Operations with no API key, on purpose: the provider's webhook is
/// authenticated by its signature, checked in the handler.
const UNAUTHENTICATED: &[&str] = &["receiveProviderWebhook"];

pub struct Document {
    pub json: String,
    pub yaml: String,
}

pub fn document() -> Document {
    // serde_norway keeps the key order of poem-openapi's output (serde_json's
    // map would sort it), so the committed file stays readable.
    let mut doc: Value = serde_norway::from_str(&super::api_service().spec_yaml())
        .expect("poem-openapi emits valid YAML");
    add_links(&mut doc);
    for operation in UNAUTHENTICATED {
        operation_mut(&mut doc, operation)
            .and_then(Value::as_mapping_mut)
            .unwrap_or_else(|| panic!("{operation} is an operation"))
            .insert("security".into(), Value::Sequence(Vec::new()));
    }
    inline_nullable_enums(&mut doc);
    Document {
        json: serde_json::to_string_pretty(&doc).expect("the document is JSON-compatible"),
        yaml: serde_norway::to_string(&doc).expect("the document is YAML"),
    }
}

fn add_links(doc: &mut Value) {
    for spec in LINKS {
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

/// poem-openapi writes an `Option<Enum>` marked `nullable` as `nullable:
/// true` beside `allOf: [$ref]` with no `type`, which OpenAPI 3.0 does not
/// define (Redocly's `nullable-type-sibling`), and under which `null` fails
/// the referenced enum. Such a property becomes the enum inline, typed,
/// with `null` among its values (as OpenAPI 3.0.3 asks for nullable enums).
fn inline_nullable_enums(doc: &mut Value) {
    let Some(schemas) = doc
        .get("components")
        .and_then(|c| c.get("schemas"))
        .and_then(Value::as_mapping)
        .cloned()
    else {
        return;
    };
    let Some(schemas_mut) = doc
        .get_mut("components")
        .and_then(|c| c.get_mut("schemas"))
        .and_then(Value::as_mapping_mut)
    else {
        return;
    };
    for schema in schemas_mut.values_mut() {
        let Some(properties) = schema.get_mut("properties").and_then(Value::as_mapping_mut) else {
            continue;
        };
        for property in properties.values_mut() {
            if property.get("nullable") != Some(&Value::Bool(true))
                || property.get("type").is_some()
            {
                continue;
            }
            let target = property
                .get("allOf")
                .and_then(|all| all.get(0))
                .and_then(|first| first.get("$ref"))
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                .and_then(|name| schemas.get(name));
            let Some(target) = target else { continue };
            let (Some(ty), Some(values)) = (target.get("type"), target.get("enum")) else {
                continue;
            };
            let mut values = values.as_sequence().cloned().unwrap_or_default();
            values.push(Value::Null);
            let mut inline = Mapping::new();
            inline.insert("type".into(), ty.clone());
            inline.insert("nullable".into(), true.into());
            inline.insert("enum".into(), values.into());
            *property = inline.into();
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
        let webhook = &doc["paths"]["/webhooks/{provider}"]["post"];
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
        assert_eq!(found, 7, "each link once per documented response");
    }
}
