//! A provider wrapper that times every call, counts failures and logs each
//! call (inside the request's span, so with its request id).
use std::{sync::Arc, time::Instant};

use super::*;
use crate::{document::Document, metrics::Metrics};

pub struct Instrumented {
    inner: Arc<dyn PayoutProvider>,
    metrics: Arc<Metrics>,
}

impl Instrumented {
    pub fn new(inner: Arc<dyn PayoutProvider>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }

    async fn timed<T>(
        &self,
        operation: &str,
        call: impl std::future::Future<Output = Result<T, ProviderError>>,
    ) -> Result<T, ProviderError> {
        let started = Instant::now();
        let result = call.await;
        let elapsed = started.elapsed();
        let error = match &result {
            Ok(_) => None,
            Err(ProviderError::Refused(_)) => Some("refused"),
            Err(ProviderError::Unavailable(_)) => Some("unavailable"),
        };
        self.metrics
            .observe_provider_call(self.inner.name(), operation, elapsed, error);
        // The error text is the provider's, never our request data.
        tracing::info!(
            provider = self.inner.name(),
            operation,
            elapsed_ms = elapsed.as_millis() as u64,
            error = error.unwrap_or(""),
            "provider call"
        );
        result
    }
}

#[async_trait::async_trait]
impl PayoutProvider for Instrumented {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn upload_document(&self, document: &Document) -> Result<String, ProviderError> {
        self.timed("upload_document", self.inner.upload_document(document))
            .await
    }

    async fn create_account(&self, request: &AccountRequest<'_>) -> Result<String, ProviderError> {
        self.timed("create_account", self.inner.create_account(request))
            .await
    }

    async fn add_external_account(
        &self,
        account_id: &str,
        bank: &BankDetails<'_>,
    ) -> Result<ExternalAccount, ProviderError> {
        self.timed(
            "add_external_account",
            self.inner.add_external_account(account_id, bank),
        )
        .await
    }

    async fn create_payout(&self, request: &PayoutRequest<'_>) -> Result<String, ProviderError> {
        self.timed("create_payout", self.inner.create_payout(request))
            .await
    }

    fn parse_webhook(
        &self,
        signature: Option<&str>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<ProviderEvent, WebhookError> {
        self.inner.parse_webhook(signature, body, now)
    }
}
