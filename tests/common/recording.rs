//! A provider decorator that records what the service asked the provider,
//! then passes each call on to the real (sandbox) provider.
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use payouts::{
    document::Document,
    provider::{
        AccountRequest, BankDetails, CreatedAccount, ExternalAccount, PayoutProvider,
        PayoutRequest, ProviderError, ProviderEvent, Submitted,
    },
};

/// One `create_payout` call as the provider saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AskedPayout {
    pub payout_id: String,
    pub net_amount: i64,
    pub fee: i64,
}

#[derive(Default)]
pub struct Calls {
    pub uploads: Mutex<usize>,
    /// The idempotency key of each `create_account` call.
    pub accounts: Mutex<Vec<String>>,
    pub external_accounts: Mutex<usize>,
    pub payouts: Mutex<Vec<AskedPayout>>,
    /// `create_account` calls to answer "unavailable" (after recording them).
    pub failing_accounts: Mutex<usize>,
}

impl Calls {
    pub fn uploads(&self) -> usize {
        *self.uploads.lock().unwrap()
    }
    pub fn accounts(&self) -> Vec<String> {
        self.accounts.lock().unwrap().clone()
    }
    pub fn external_accounts(&self) -> usize {
        *self.external_accounts.lock().unwrap()
    }
    pub fn payouts(&self) -> Vec<AskedPayout> {
        self.payouts.lock().unwrap().clone()
    }
}

pub struct Recording {
    pub inner: Arc<dyn PayoutProvider>,
    pub calls: Arc<Calls>,
}

#[async_trait::async_trait]
impl PayoutProvider for Recording {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn upload_document(
        &self,
        document: &Document,
        idempotency_key: &str,
    ) -> Result<String, ProviderError> {
        *self.calls.uploads.lock().unwrap() += 1;
        self.inner.upload_document(document, idempotency_key).await
    }

    async fn create_account(
        &self,
        request: &AccountRequest<'_>,
    ) -> Result<CreatedAccount, ProviderError> {
        let key = request.idempotency_key.to_string();
        self.calls.accounts.lock().unwrap().push(key);
        let fail = {
            let mut failing = self.calls.failing_accounts.lock().unwrap();
            let fail = *failing > 0;
            *failing = failing.saturating_sub(1);
            fail
        };
        if fail {
            return Err(ProviderError::Unavailable(
                "provider timed out (test)".into(),
            ));
        }
        self.inner.create_account(request).await
    }

    async fn add_external_account(
        &self,
        account_id: &str,
        bank: &BankDetails<'_>,
        idempotency_key: &str,
        set_default: bool,
    ) -> Result<ExternalAccount, ProviderError> {
        *self.calls.external_accounts.lock().unwrap() += 1;
        self.inner
            .add_external_account(account_id, bank, idempotency_key, set_default)
            .await
    }

    async fn create_payout(&self, request: &PayoutRequest<'_>) -> Result<Submitted, ProviderError> {
        self.calls.payouts.lock().unwrap().push(AskedPayout {
            payout_id: request.payout_id.to_string(),
            net_amount: request.net_amount,
            fee: request.fee,
        });
        self.inner.create_payout(request).await
    }

    fn parse_webhook(
        &self,
        signature: Option<&str>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<ProviderEvent, payouts::provider::WebhookError> {
        self.inner.parse_webhook(signature, body, now)
    }
}
