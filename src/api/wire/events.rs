//! An event a webhook endpoint can subscribe to: an `EventKind` in
//! `service::webhooks::SUBSCRIBABLE`. Its schema is that list as an enum
//! (`webhook.test` is an `EventKind` no endpoint subscribes to, so the
//! `WebhookEventType` enum would say too much here).
use std::borrow::Cow;

use entity::states::EventKind;
use poem_openapi::{
    registry::{MetaSchema, MetaSchemaRef},
    types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde_json::Value;

use crate::service::webhooks::SUBSCRIBABLE;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscribableEvent(pub EventKind);

impl Type for SubscribableEvent {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "subscribable_event".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            enum_items: SUBSCRIBABLE
                .iter()
                .map(|kind| Value::from(kind.as_str()))
                .collect(),
            ..MetaSchema::new("string")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for SubscribableEvent {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(name)) => name
                .parse()
                .ok()
                .filter(|kind| SUBSCRIBABLE.contains(kind))
                .map(Self)
                .ok_or_else(|| ParseError::custom(format!("not an event to subscribe to: {name}"))),
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

impl ToJSON for SubscribableEvent {
    fn to_json(&self) -> Option<Value> {
        Some(Value::from(self.0.as_str()))
    }
}
