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
            Err(
                ProviderError::Refused(_)
                | ProviderError::Invalid { .. }
                | ProviderError::Declined { .. },
            ) => Some("refused"),
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

    fn mode(&self) -> OrgMode {
        self.inner.mode()
    }

    fn mode_set_by(&self) -> Option<String> {
        self.inner.mode_set_by()
    }

    fn two_step(&self) -> bool {
        self.inner.two_step()
    }

    async fn upload_document(
        &self,
        document: &Document,
        idempotency_key: &str,
    ) -> Result<String, ProviderError> {
        self.timed(
            "upload_document",
            self.inner.upload_document(document, idempotency_key),
        )
        .await
    }

    async fn create_account(
        &self,
        request: &AccountRequest<'_>,
    ) -> Result<CreatedAccount, ProviderError> {
        self.timed("create_account", self.inner.create_account(request))
            .await
    }

    async fn add_external_account(
        &self,
        account_id: &str,
        bank: &BankDetails<'_>,
        idempotency_key: &str,
        set_default: bool,
    ) -> Result<ExternalAccount, ProviderError> {
        self.timed(
            "add_external_account",
            self.inner
                .add_external_account(account_id, bank, idempotency_key, set_default),
        )
        .await
    }

    async fn create_payout(&self, request: &PayoutRequest<'_>) -> Result<Submitted, ProviderError> {
        self.timed("create_payout", self.inner.create_payout(request))
            .await
    }

    async fn find_payout(
        &self,
        request: &PayoutRequest<'_>,
    ) -> Result<Option<Submitted>, ProviderError> {
        self.timed("find_payout", self.inner.find_payout(request))
            .await
    }

    async fn reclaim(&self, transfer_id: &str, payout_id: &str) -> Result<(), ProviderError> {
        self.timed("reclaim", self.inner.reclaim(transfer_id, payout_id))
            .await
    }

    async fn payout_state(
        &self,
        account_id: &str,
        submitted: &Submitted,
    ) -> Result<Option<PayoutState>, ProviderError> {
        self.timed(
            "payout_state",
            self.inner.payout_state(account_id, submitted),
        )
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
