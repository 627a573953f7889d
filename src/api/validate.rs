//! Request bodies, validated against the very schema the spec publishes.
//!
//! poem-openapi's own `Json<T>` reports a bad body as one string without the
//! field's path, and accepts numbers for strings. `ValidJson<T>` instead
//! walks the registered schema of `T` over the JSON value and reports every
//! bad field by its dotted path, then builds `T`.
use std::{
    any::TypeId,
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock},
};

use poem::{Request, RequestBody};
use poem_openapi::{
    impl_apirequest_for_payload,
    payload::{ParsePayload, Payload},
    registry::{MetaSchema, MetaSchemaRef, Registry},
    types::{ParseFromJSON, Type},
};
use serde_json::Value;

use super::error::ApiError;
use crate::error::{Error, FieldError};

pub struct ValidJson<T>(pub T);

pub fn is_json_content_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
        || essence.to_ascii_lowercase().ends_with("+json") && essence.starts_with("application/")
}

impl<T: Type> Payload for ValidJson<T> {
    const CONTENT_TYPE: &'static str = "application/json";

    fn check_content_type(content_type: &str) -> bool {
        is_json_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

/// Reads the whole body, refusing more than the configured cap.
pub async fn read_body(body: &mut RequestBody) -> poem::Result<Vec<u8>> {
    Ok(super::limits::read_capped(body.take()?).await?)
}

impl<T: ParseFromJSON + 'static> ParsePayload for ValidJson<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(_request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let bytes = read_body(body).await?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::InvalidJson(format!("request body is not valid JSON: {e}")))?;
        if !value.is_object() {
            return Err(ApiError::InvalidJson("request body must be a JSON object".into()).into());
        }
        let errors = SchemaCheck::of::<T>().check(&value);
        if !errors.is_empty() {
            return Err(Error::Validation(errors).into());
        }
        let parsed =
            T::parse_from_json(Some(value)).map_err(|e| Error::field("body", e.into_message()))?;
        Ok(Self(parsed))
    }
}

impl_apirequest_for_payload!(ValidJson<T>, T: ParseFromJSON + 'static);

/// The schemas of one request type, registered once and cached.
struct SchemaCheck {
    root: MetaSchemaRef,
    registry: Registry,
}

fn regex_for(pattern: &str) -> Option<regex::Regex> {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<regex::Regex>>>> = OnceLock::new();
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .expect("regex cache lock");
    cache
        .entry(pattern.to_string())
        .or_insert_with(|| regex::Regex::new(pattern).ok())
        .clone()
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

impl SchemaCheck {
    fn of<T: Type + 'static>() -> Arc<SchemaCheck> {
        static CACHE: OnceLock<Mutex<HashMap<TypeId, Arc<SchemaCheck>>>> = OnceLock::new();
        let mut cache = CACHE
            .get_or_init(Default::default)
            .lock()
            .expect("schema cache lock");
        cache
            .entry(TypeId::of::<T>())
            .or_insert_with(|| {
                let mut registry = Registry::new();
                T::register(&mut registry);
                Arc::new(SchemaCheck {
                    root: T::schema_ref(),
                    registry,
                })
            })
            .clone()
    }

    fn check(&self, value: &Value) -> Vec<FieldError> {
        let mut errors = Vec::new();
        self.walk(&self.root, value, "", &mut errors);
        errors
    }

    fn resolve<'a>(&'a self, schema: &'a MetaSchemaRef) -> Option<&'a MetaSchema> {
        match schema {
            MetaSchemaRef::Inline(schema) => Some(schema),
            MetaSchemaRef::Reference(name) => self.registry.schemas.get(name),
        }
    }

    fn walk(
        &self,
        schema: &MetaSchemaRef,
        value: &Value,
        path: &str,
        errors: &mut Vec<FieldError>,
    ) {
        let Some(schema) = self.resolve(schema) else {
            return;
        };
        for part in &schema.all_of {
            self.walk(part, value, path, errors);
        }
        let field = if path.is_empty() { "body" } else { path };
        if schema.ty == "object" && !schema.properties.is_empty() {
            let Some(object) = value.as_object() else {
                let message = format!("must be an object, not {}", describe(value));
                return errors.push(FieldError::new(field, message));
            };
            for (name, property) in &schema.properties {
                let child = join(path, name);
                match object.get(*name) {
                    None | Some(Value::Null) if schema.required.contains(name) => {
                        errors.push(FieldError::new(child, "is required"))
                    }
                    None => {}
                    // The spec says optional, not nullable: omit the field instead.
                    Some(Value::Null) if !self.resolve(property).is_some_and(|s| s.nullable) => {
                        errors.push(FieldError::new(child, "must not be null (omit it instead)"))
                    }
                    Some(Value::Null) => {}
                    Some(inner) => self.walk(property, inner, &child, errors),
                }
            }
        } else if schema.ty == "array" {
            let Some(items) = value.as_array() else {
                let message = format!("must be an array, not {}", describe(value));
                return errors.push(FieldError::new(field, message));
            };
            if let Some(item_schema) = &schema.items {
                // Texts outside an enum are named together, on the array.
                let allowed = self
                    .resolve(item_schema)
                    .map(|s| &s.enum_items)
                    .filter(|allowed| !allowed.is_empty());
                let unknown = |item: &Value| {
                    item.is_string() && allowed.is_some_and(|allowed| !allowed.contains(item))
                };
                if let Some(allowed) = allowed {
                    let named: Vec<&str> = items
                        .iter()
                        .filter(|item| unknown(item))
                        .filter_map(Value::as_str)
                        .collect();
                    if !named.is_empty() {
                        let allowed: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
                        let message = format!(
                            "has values not allowed here: {}; allowed: {}",
                            named.join(", "),
                            allowed.join(", ")
                        );
                        errors.push(FieldError::new(field, message));
                    }
                }
                for (index, item) in items.iter().enumerate() {
                    if !unknown(item) {
                        self.walk(item_schema, item, &format!("{field}[{index}]"), errors);
                    }
                }
            }
        } else if let Some(message) = scalar_error(schema, value) {
            errors.push(FieldError::new(field, message));
        }
    }
}

/// What is wrong with a string, number or boolean value, if anything.
fn scalar_error(schema: &MetaSchema, value: &Value) -> Option<String> {
    match schema.ty {
        "string" => {
            let Some(text) = value.as_str() else {
                return Some(format!("must be a string, not {}", describe(value)));
            };
            if text.contains('\0') {
                return Some("must not contain NUL characters".into());
            }
            if !schema.enum_items.is_empty() && !schema.enum_items.contains(value) {
                let allowed: Vec<&str> =
                    schema.enum_items.iter().filter_map(Value::as_str).collect();
                return Some(format!("must be one of: {}", allowed.join(", ")));
            }
            let length = text.chars().count();
            if let Some(min) = schema.min_length.filter(|min| length < *min) {
                return Some(if min == 1 {
                    "must not be empty".into()
                } else {
                    format!("must be at least {min} characters long")
                });
            }
            if let Some(max) = schema.max_length.filter(|max| length > *max) {
                return Some(format!("must be at most {max} characters long"));
            }
            if let Some(pattern) = &schema.pattern {
                if !regex_for(pattern).is_some_and(|re| re.is_match(text)) {
                    return Some(format!("must match the pattern {pattern}"));
                }
            }
            match schema.format {
                Some("email") if !email_address::EmailAddress::is_valid(text) => {
                    Some("must be a valid email address".into())
                }
                Some("date") if chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_err() => {
                    Some("must be a date as YYYY-MM-DD".into())
                }
                _ => None,
            }
        }
        "integer" => {
            let Some(number) = value.as_i64() else {
                return Some(format!("must be an integer, not {}", describe(value)));
            };
            if let Some(min) = schema.minimum.filter(|min| (number as f64) < *min) {
                return Some(format!("must be at least {}", number_text(min)));
            }
            if let Some(max) = schema.maximum.filter(|max| (number as f64) > *max) {
                return Some(format!("must be at most {}", number_text(max)));
            }
            None
        }
        "number" if !value.is_number() => {
            Some(format!("must be a number, not {}", describe(value)))
        }
        "boolean" if !value.is_boolean() => {
            Some(format!("must be a boolean, not {}", describe(value)))
        }
        _ => None,
    }
}

/// Each bad field of `value` as `T`'s schema sees it: (dotted path, message).
/// For the resources' tests of their request rules.
#[cfg(test)]
pub(crate) fn field_errors<T: Type + 'static>(value: &Value) -> Vec<(String, String)> {
    SchemaCheck::of::<T>()
        .check(value)
        .into_iter()
        .map(|e| (e.field, e.message))
        .collect()
}
