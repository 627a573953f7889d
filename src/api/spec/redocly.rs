//! What poem-openapi cannot say and Redocly's recommended rules (`make
//! lint-spec`) ask for: operations open to the world declare `security: []`,
//! and nullable enum fields are written the OpenAPI 3.0 way.
use serde_norway::{Mapping, Value};

use super::operation_mut;

/// Operations with no API key, on purpose: the provider's webhook is
/// authenticated by its signature, checked in the handler.
const UNAUTHENTICATED: &[&str] = &["receiveProviderWebhook"];

pub(super) fn apply(doc: &mut Value) {
    for operation in UNAUTHENTICATED {
        operation_mut(doc, operation)
            .and_then(Value::as_mapping_mut)
            .unwrap_or_else(|| panic!("{operation} is an operation"))
            .insert("security".into(), Value::Sequence(Vec::new()));
    }
    inline_nullable_enums(doc);
}

/// poem-openapi writes an `Option<Enum>` marked `nullable` as `nullable:
/// true` beside `allOf: [$ref]` with no `type`, which OpenAPI 3.0 does not
/// define (Redocly's `nullable-type-sibling`), and under which `null` fails
/// the referenced enum. Such a property becomes the enum inline, typed,
/// with `null` among its values (as OpenAPI 3.0.3 asks for nullable enums).
pub(super) fn inline_nullable_enums(doc: &mut Value) {
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
