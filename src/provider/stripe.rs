//! The Stripe Connect payout provider.
//!
//! One piece: one provider's whole mapping onto Stripe's API (requests, answers, errors, events); the trait it implements is in `provider/mod.rs`.
//!
//! Stripe Connect: a platform-controlled connected account per
//! organization, bank accounts as its external accounts, and each payout as
//! a transfer from the platform (`POST /v1/transfers`, the net amount) then
//! a payout from the connected account to its bank (`POST /v1/payouts` with
//! `Stripe-Account`). Requests are form-encoded with Stripe's bracketed
//! keys; every POST carries an `Idempotency-Key` derived from our own ids.
//!
//! Stripe saves a request's answer under its key once the endpoint began,
//! 500s included: after a 5xx or a timeout the outcome is unknown, so a
//! retry first looks the object up (`transfer_group`, `metadata`) and only
//! then creates it, under a key of its own (see `PayoutRequest::attempt`).
//!
//! One piece: the HTTP client, the error mapping and the event parser share
//! Stripe's shapes.
use std::time::Duration;

use chrono::{DateTime, Datelike, Utc};
use entity::states::{BankAccountStatus, BankAccountType, BusinessType};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::*;
use crate::{config::StripeConfig, crypto};

pub const NAME: &str = "stripe";
/// The Stripe API version every request pins (`Stripe-Version`), so the
/// account's default version never changes the shapes read here.
pub const STRIPE_VERSION: &str = "2024-06-20";
const SIGNATURE_TOLERANCE_SECS: i64 = 300;

pub struct StripeProvider {
    config: StripeConfig,
    http: reqwest::Client,
}

/// Keys tried for one object, in order, when Stripe replays a saved
/// failure under the previous one: `{base}`, `{base}-r1`, …
const KEY_TRIES: usize = 5;

fn tried_key(base: &str, try_number: usize) -> String {
    match try_number {
        0 => base.to_string(),
        n => format!("{base}-r{n}"),
    }
}

fn keys_exhausted() -> Failure {
    Failure::Retryable("stripe: every idempotency key of this object has a saved failure".into())
}

/// A form: Stripe's flattened `a[b][c]=v` pairs.
type Form = Vec<(String, String)>;

fn push(form: &mut Form, key: &str, value: impl Into<String>) {
    form.push((key.to_string(), value.into()));
}

fn push_opt(form: &mut Form, key: &str, value: Option<&str>) {
    if let Some(value) = value {
        push(form, key, value);
    }
}

/// A Stripe error answer, or a transport failure.
#[derive(Debug)]
enum Failure {
    /// Timeout, connection failure, 429, 5xx, `Stripe-Should-Retry: true`:
    /// the outcome is unknown, the call may be retried.
    Retryable(String),
    /// Stripe replayed a failure saved under this idempotency key (a 5xx
    /// of an earlier try): the same key will never succeed.
    Replayed(String),
    /// A definitive 4xx (or a 5xx with `Stripe-Should-Retry: false`).
    Refused {
        kind: String,
        code: Option<String>,
        param: Option<String>,
        message: String,
    },
}

impl Failure {
    /// As a provider error, `field` mapping Stripe's `param` to our name.
    fn into_error(self, field: impl Fn(&str) -> Option<String>) -> ProviderError {
        match self {
            Failure::Retryable(message) | Failure::Replayed(message) => {
                ProviderError::Unavailable(message)
            }
            Failure::Refused {
                kind,
                code,
                param,
                message,
            } => match (kind.as_str(), param.as_deref().and_then(&field)) {
                ("invalid_request_error", Some(field)) => ProviderError::Invalid { field, message },
                _ => match code {
                    Some(code) if kind == "card_error" || kind == "invalid_request_error" => {
                        ProviderError::Declined { code, message }
                    }
                    _ => ProviderError::Refused(message),
                },
            },
        }
    }
}

/// Our wire name of a Stripe account-creation `param`, for 422s: only the
/// fields the caller gave us; anything else is our fault (502).
pub fn verification_field(param: &str) -> Option<String> {
    let (head, rest) = match param.split_once('[') {
        Some((head, rest)) => (head, rest.trim_end_matches(']')),
        None => (param, ""),
    };
    let path: Vec<&str> = rest.split("][").filter(|p| !p.is_empty()).collect();
    match head {
        "email" => Some("email".into()),
        "business_profile" if path == ["url"] => Some("businessUrl".into()),
        "external_account" => path.first().map(|p| format!("bank.{}", bank_field(p))),
        "individual" | "company" => {
            if path.first() == Some(&"verification") {
                return Some("documentUrl".into());
            }
            let named: Vec<String> = path
                .iter()
                .filter(|p| !matches!(**p, "day" | "month" | "year"))
                .map(|p| match *p {
                    "dob" => "dateOfBirth".to_string(),
                    "ssn_last_4" => "ssnLast4".to_string(),
                    other => camel(other),
                })
                .collect();
            Some(
                std::iter::once(head.to_string())
                    .chain(named)
                    .collect::<Vec<_>>()
                    .join("."),
            )
        }
        "country" => Some("individual.address.country".into()),
        _ => None,
    }
}

/// Our wire name of a Stripe bank-account `param` (bank-accounts route).
pub fn bank_field(param: &str) -> String {
    let last = param
        .rsplit('[')
        .next()
        .unwrap_or(param)
        .trim_end_matches(']');
    match last {
        "account_holder_type" => "accountType".into(),
        other => camel(other),
    }
}

fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn external_account(v: &Value) -> Option<ExternalAccount> {
    Some(ExternalAccount {
        id: text(&v["id"])?,
        bank_name: text(&v["bank_name"]),
        last4: text(&v["last4"]),
    })
}

fn bank_form(form: &mut Form, prefix: &str, bank: &BankDetails<'_>, holder_type: &str) {
    let key = |name: &str| {
        if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}[{name}]")
        }
    };
    push(form, &key("object"), "bank_account");
    push(form, &key("country"), bank.country);
    push(form, &key("currency"), bank.currency);
    push(form, &key("account_number"), bank.account_number);
    push_opt(form, &key("routing_number"), bank.routing_number);
    push(form, &key("account_holder_name"), bank.holder_name);
    push(form, &key("account_holder_type"), holder_type);
    if let Some(kind) = bank.account_type {
        let kind = match kind {
            BankAccountType::Checking => "checking",
            BankAccountType::Savings => "savings",
        };
        push(form, &key("account_type"), kind);
    }
}

fn address_form(form: &mut Form, prefix: &str, address: &Address) {
    push(form, &format!("{prefix}[line1]"), &address.line1);
    push_opt(form, &format!("{prefix}[line2]"), address.line2.as_deref());
    push(form, &format!("{prefix}[city]"), &address.city);
    push_opt(form, &format!("{prefix}[state]"), address.state.as_deref());
    push(
        form,
        &format!("{prefix}[postal_code]"),
        &address.postal_code,
    );
    push(form, &format!("{prefix}[country]"), &address.country);
}

fn person_form(form: &mut Form, prefix: &str, person: &Person) {
    push(form, &format!("{prefix}[first_name]"), &person.first_name);
    push(form, &format!("{prefix}[last_name]"), &person.last_name);
    push_opt(form, &format!("{prefix}[phone]"), person.phone.as_deref());
    push_opt(form, &format!("{prefix}[email]"), person.email.as_deref());
    if let Some(dob) = person.date_of_birth {
        push(form, &format!("{prefix}[dob][day]"), dob.day().to_string());
        push(
            form,
            &format!("{prefix}[dob][month]"),
            dob.month().to_string(),
        );
        push(
            form,
            &format!("{prefix}[dob][year]"),
            dob.year().to_string(),
        );
    }
    push_opt(
        form,
        &format!("{prefix}[ssn_last_4]"),
        person.ssn_last4.as_deref(),
    );
    push_opt(
        form,
        &format!("{prefix}[id_number]"),
        person.id_number.as_deref(),
    );
    if let Some(address) = &person.address {
        address_form(form, &format!("{prefix}[address]"), address);
    }
}

/// The `POST /v1/accounts` form: a platform-controlled account (the
/// platform collects requirements, pays fees, carries losses; no Stripe
/// dashboard), transfers requested, manual payouts.
pub fn account_form(request: &AccountRequest<'_>) -> Form {
    let mut form = Form::new();
    push(&mut form, "country", request.country);
    push(&mut form, "email", request.email);
    let (business_type, holder_type) = match request.business_type {
        BusinessType::Individual => ("individual", "individual"),
        BusinessType::Company => ("company", "company"),
    };
    push(&mut form, "business_type", business_type);
    push(&mut form, "business_profile[url]", request.business_url);
    push(&mut form, "capabilities[transfers][requested]", "true");
    push(&mut form, "controller[fees][payer]", "application");
    push(&mut form, "controller[losses][payments]", "application");
    push(
        &mut form,
        "controller[requirement_collection]",
        "application",
    );
    push(&mut form, "controller[stripe_dashboard][type]", "none");
    push(&mut form, "settings[payouts][schedule][interval]", "manual");
    if let Some(person) = request.individual {
        person_form(&mut form, "individual", person);
        push(
            &mut form,
            "individual[verification][document][front]",
            request.document_file_id,
        );
    }
    if let Some(company) = request.company {
        push(&mut form, "company[name]", &company.name);
        push(&mut form, "company[tax_id]", &company.tax_id);
        address_form(&mut form, "company[address]", &company.address);
        push(
            &mut form,
            "company[verification][document][front]",
            request.document_file_id,
        );
    }
    bank_form(&mut form, "external_account", request.bank, holder_type);
    push(
        &mut form,
        "metadata[payout_account_id]",
        request.idempotency_key,
    );
    form
}

impl StripeProvider {
    pub fn new(config: StripeConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTP client with default TLS settings builds");
        Self { config, http }
    }

    pub fn is_live(&self) -> bool {
        self.config.is_live()
    }

    fn request(
        &self,
        method: Method,
        base: &str,
        path: &str,
        idempotency_key: Option<&str>,
        account: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .request(method, format!("{base}{path}"))
            .bearer_auth(&self.config.secret_key)
            .header("Stripe-Version", STRIPE_VERSION);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(account) = account {
            request = request.header("Stripe-Account", account);
        }
        request
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, Failure> {
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) if err.is_timeout() => {
                return Err(Failure::Retryable("stripe: request timed out".into()))
            }
            Err(err) if err.is_connect() => {
                return Err(Failure::Retryable("stripe: connection failed".into()))
            }
            Err(_) => return Err(Failure::Retryable("stripe: request failed".into())),
        };
        let status = response.status();
        let replayed = response
            .headers()
            .get("idempotent-replayed")
            .is_some_and(|v| v.as_bytes() == b"true");
        let should_retry = response
            .headers()
            .get("stripe-should-retry")
            .and_then(|v| v.to_str().ok())
            .map(|v| v == "true");
        let body: Value = match response.json().await {
            Ok(body) => body,
            Err(_) if status.is_success() => {
                return Err(Failure::Retryable("stripe: unreadable answer".into()))
            }
            Err(_) => Value::Null,
        };
        if status.is_success() {
            return Ok(body);
        }
        let error = &body["error"];
        let message =
            text(&error["message"]).unwrap_or_else(|| format!("stripe answered {status}"));
        let retry = should_retry.unwrap_or(
            status == StatusCode::TOO_MANY_REQUESTS
                || status.is_server_error()
                || status == StatusCode::CONFLICT,
        );
        if retry && replayed {
            return Err(Failure::Replayed(format!(
                "stripe: {status} (replayed): {message}"
            )));
        }
        if retry {
            return Err(Failure::Retryable(format!("stripe: {status}: {message}")));
        }
        Err(Failure::Refused {
            kind: text(&error["type"]).unwrap_or_else(|| "api_error".into()),
            code: text(&error["decline_code"]).or_else(|| text(&error["code"])),
            param: text(&error["param"]),
            message,
        })
    }

    async fn post(
        &self,
        path: &str,
        form: &Form,
        idempotency_key: &str,
        account: Option<&str>,
    ) -> Result<Value, Failure> {
        let request = self
            .request(
                Method::POST,
                &self.config.api_base,
                path,
                Some(idempotency_key),
                account,
            )
            .form(form);
        self.send(request).await
    }

    /// POSTs under `base_key`, moving to the next key while Stripe replays a
    /// saved failure (a retry after a 5xx would otherwise get the same 5xx
    /// for 24 hours). For objects whose duplicate does no harm, or that the
    /// caller looked up first.
    async fn post_fresh(
        &self,
        path: &str,
        form: &Form,
        base_key: &str,
        account: Option<&str>,
    ) -> Result<Value, Failure> {
        for n in 0..KEY_TRIES {
            match self
                .post(path, form, &tried_key(base_key, n), account)
                .await
            {
                Err(Failure::Replayed(_)) => continue,
                other => return other,
            }
        }
        Err(keys_exhausted())
    }

    async fn get(&self, path: &str, query: &Form, account: Option<&str>) -> Result<Value, Failure> {
        let request = self
            .request(Method::GET, &self.config.api_base, path, None, account)
            .query(query);
        self.send(request).await
    }

    /// The connected account made for our payout account, if one was (the
    /// newest 100 accounts are searched: a retry follows its failure soon).
    async fn find_account(&self, payout_account_id: &str) -> Result<Option<Value>, ProviderError> {
        let query = vec![("limit".to_string(), "100".to_string())];
        let list = self
            .get("/v1/accounts", &query, None)
            .await
            .map_err(|f| f.into_error(|_| None))?;
        Ok(list["data"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["metadata"]["payout_account_id"] == payout_account_id)
            .cloned())
    }

    /// The platform's transfer for our payout, if one was made.
    async fn find_transfer(&self, payout_id: &str) -> Result<Option<String>, ProviderError> {
        let query = vec![
            ("transfer_group".to_string(), payout_id.to_string()),
            ("limit".to_string(), "10".to_string()),
        ];
        let list = self
            .get("/v1/transfers", &query, None)
            .await
            .map_err(|f| f.into_error(|_| None))?;
        Ok(list["data"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["metadata"]["payout_id"] == payout_id || t["transfer_group"] == payout_id)
            .and_then(|t| text(&t["id"])))
    }

    /// The connected account's payout for our payout, if one was made.
    async fn find_bank_payout(
        &self,
        account_id: &str,
        payout_id: &str,
    ) -> Result<Option<String>, ProviderError> {
        let query = vec![("limit".to_string(), "100".to_string())];
        let list = self
            .get("/v1/payouts", &query, Some(account_id))
            .await
            .map_err(|f| f.into_error(|_| None))?;
        Ok(list["data"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["metadata"]["payout_id"] == payout_id)
            .and_then(|p| text(&p["id"])))
    }

    /// POSTs a payout's object under `{payoutId}-{what}`: every try (the
    /// request's own, the job's, concurrent ones) uses the same key, so
    /// Stripe makes it once. Only when Stripe replays a saved failure under
    /// it is the object looked up (`find`) and, if absent, created under
    /// the next key (`-r1`, …).
    async fn post_payout_object<F, Fut>(
        &self,
        path: &str,
        form: &Form,
        base_key: &str,
        account: Option<&str>,
        find: F,
    ) -> Result<String, ProviderError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Option<String>, ProviderError>>,
    {
        for n in 0..KEY_TRIES {
            match self
                .post(path, form, &tried_key(base_key, n), account)
                .await
            {
                Ok(object) => {
                    return text(&object["id"]).ok_or_else(|| {
                        ProviderError::Unavailable(format!("stripe: {path} answered without id"))
                    })
                }
                Err(Failure::Replayed(_)) => {
                    if let Some(id) = find().await? {
                        return Ok(id);
                    }
                }
                Err(failure) => return Err(failure.into_error(|_| None)),
            }
        }
        Err(keys_exhausted().into_error(|_| None))
    }

    /// Gives the platform its money back (the whole transfer).
    async fn reverse(&self, payout_id: &str, transfer_id: &str) -> Result<(), ProviderError> {
        let mut form = Form::new();
        push(&mut form, "metadata[payout_id]", payout_id);
        self.post(
            &format!("/v1/transfers/{transfer_id}/reversals"),
            &form,
            &format!("{payout_id}-reversal"),
            None,
        )
        .await
        .map(|_| ())
        .map_err(|f| f.into_error(|_| None))
    }
}

#[async_trait::async_trait]
impl PayoutProvider for StripeProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    fn mode(&self) -> OrgMode {
        if self.config.is_live() {
            OrgMode::Live
        } else {
            OrgMode::Sandbox
        }
    }

    fn mode_set_by(&self) -> Option<String> {
        Some(if self.config.is_live() {
            "STRIPE_SECRET_KEY is a live key (sk_live_)".into()
        } else {
            "STRIPE_SECRET_KEY is a test key (sk_test_)".into()
        })
    }

    /// A transfer to the connected account, then its payout to the bank.
    fn two_step(&self) -> bool {
        true
    }

    async fn upload_document(
        &self,
        document: &Document,
        idempotency_key: &str,
    ) -> Result<String, ProviderError> {
        let extension = match document.content_type.as_str() {
            "application/pdf" => "pdf",
            "image/png" => "png",
            _ => "jpg",
        };
        let base_key = format!("{idempotency_key}-document");
        let mut answer = Err(keys_exhausted());
        for n in 0..KEY_TRIES {
            let part = reqwest::multipart::Part::bytes(document.bytes.clone())
                .file_name(format!("identity.{extension}"))
                .mime_str(&document.content_type)
                .map_err(|_| ProviderError::Refused("unsupported document type".into()))?;
            let form = reqwest::multipart::Form::new()
                .text("purpose", "identity_document")
                .part("file", part);
            let request = self
                .request(
                    Method::POST,
                    &self.config.files_base,
                    "/v1/files",
                    Some(&tried_key(&base_key, n)),
                    None,
                )
                .multipart(form);
            answer = self.send(request).await;
            if !matches!(answer, Err(Failure::Replayed(_))) {
                break;
            }
        }
        let file = answer.map_err(|f| {
            f.into_error(|param| (param == "file").then(|| "documentUrl".to_string()))
        })?;
        text(&file["id"])
            .ok_or_else(|| ProviderError::Unavailable("stripe: file without id".into()))
    }

    async fn create_account(
        &self,
        request: &AccountRequest<'_>,
    ) -> Result<CreatedAccount, ProviderError> {
        let form = account_form(request);
        let base_key = format!("{}-account", request.idempotency_key);
        let mut answer = Err(keys_exhausted());
        for n in 0..KEY_TRIES {
            answer = self
                .post("/v1/accounts", &form, &tried_key(&base_key, n), None)
                .await;
            if !matches!(answer, Err(Failure::Replayed(_))) {
                break;
            }
            // An earlier try failed under this key: did it make the account
            // anyway? Only if not, a new key.
            if let Some(found) = self.find_account(request.idempotency_key).await? {
                answer = Ok(found);
                break;
            }
        }
        let account = answer.map_err(|f| f.into_error(verification_field))?;
        let id = text(&account["id"])
            .ok_or_else(|| ProviderError::Unavailable("stripe: account without id".into()))?;
        let external = account["external_accounts"]["data"]
            .as_array()
            .and_then(|list| list.first())
            .and_then(external_account);
        Ok(CreatedAccount {
            id,
            external_account: external,
        })
    }

    async fn add_external_account(
        &self,
        account_id: &str,
        bank: &BankDetails<'_>,
        idempotency_key: &str,
        set_default: bool,
    ) -> Result<ExternalAccount, ProviderError> {
        let mut form = Form::new();
        bank_form(&mut form, "external_account", bank, "individual");
        if set_default {
            push(&mut form, "default_for_currency", "true");
        }
        let answer = self
            .post_fresh(
                &format!("/v1/accounts/{account_id}/external_accounts"),
                &form,
                idempotency_key,
                None,
            )
            .await
            .map_err(|f| f.into_error(|param| Some(bank_field(param))))?;
        external_account(&answer)
            .ok_or_else(|| ProviderError::Unavailable("stripe: bank account without id".into()))
    }

    async fn create_payout(&self, request: &PayoutRequest<'_>) -> Result<Submitted, ProviderError> {
        // A retry first looks for what an earlier try may have made.
        let existing = if request.attempt > 0 {
            self.find_transfer(request.payout_id).await?
        } else {
            None
        };
        let transfer_id = match existing {
            Some(id) => id,
            None => {
                let mut form = Form::new();
                push(&mut form, "amount", request.net_amount.to_string());
                push(&mut form, "currency", request.currency);
                push(&mut form, "destination", request.account_id);
                push(&mut form, "transfer_group", request.payout_id);
                push(&mut form, "metadata[payout_id]", request.payout_id);
                push(&mut form, "metadata[fee]", request.fee.to_string());
                self.post_payout_object(
                    "/v1/transfers",
                    &form,
                    &format!("{}-transfer", request.payout_id),
                    None,
                    || self.find_transfer(request.payout_id),
                )
                .await?
            }
        };
        let existing = if request.attempt > 0 {
            self.find_bank_payout(request.account_id, request.payout_id)
                .await?
        } else {
            None
        };
        let payout_id = match existing {
            Some(id) => id,
            None => {
                let mut form = Form::new();
                push(&mut form, "amount", request.net_amount.to_string());
                push(&mut form, "currency", request.currency);
                push(&mut form, "destination", request.external_account_id);
                push(&mut form, "metadata[payout_id]", request.payout_id);
                push(&mut form, "metadata[transfer_id]", &transfer_id);
                let created = self
                    .post_payout_object(
                        "/v1/payouts",
                        &form,
                        &format!("{}-payout", request.payout_id),
                        Some(request.account_id),
                        || self.find_bank_payout(request.account_id, request.payout_id),
                    )
                    .await;
                match created {
                    Ok(id) => id,
                    // The bank payout was refused: the transfer goes back
                    // to the platform before the payout fails here.
                    Err(refused @ (ProviderError::Declined { .. } | ProviderError::Refused(_))) => {
                        self.reverse(request.payout_id, &transfer_id).await?;
                        return Err(refused);
                    }
                    Err(err) => return Err(err),
                }
            }
        };
        Ok(Submitted {
            transfer_id,
            payout_id: Some(payout_id),
        })
    }

    async fn reclaim(&self, transfer_id: &str, payout_id: &str) -> Result<(), ProviderError> {
        self.reverse(payout_id, transfer_id).await
    }

    async fn find_payout(
        &self,
        request: &PayoutRequest<'_>,
    ) -> Result<Option<Submitted>, ProviderError> {
        let Some(transfer_id) = self.find_transfer(request.payout_id).await? else {
            return Ok(None);
        };
        let payout_id = self
            .find_bank_payout(request.account_id, request.payout_id)
            .await?;
        Ok(Some(Submitted {
            transfer_id,
            payout_id,
        }))
    }

    async fn payout_state(
        &self,
        account_id: &str,
        submitted: &Submitted,
    ) -> Result<Option<PayoutState>, ProviderError> {
        let transfer = self
            .get(
                &format!("/v1/transfers/{}", submitted.transfer_id),
                &Form::new(),
                None,
            )
            .await
            .map_err(|f| f.into_error(|_| None))?;
        if transfer["reversed"] == true {
            return Ok(Some(PayoutState {
                status: PayoutStatus::Failed,
                failure_code: Some(failure_code::TRANSFER_REVERSED.into()),
                failure_message: Some("The transfer to the connected account was reversed.".into()),
            }));
        }
        let Some(payout_id) = &submitted.payout_id else {
            return Ok(None);
        };
        let payout = self
            .get(
                &format!("/v1/payouts/{payout_id}"),
                &Form::new(),
                Some(account_id),
            )
            .await
            .map_err(|f| f.into_error(|_| None))?;
        let status = payout["status"]
            .as_str()
            .unwrap_or_default()
            .parse()
            .map_err(ProviderError::Unavailable)?;
        Ok(Some(PayoutState {
            status,
            failure_code: text(&payout["failure_code"]),
            failure_message: text(&payout["failure_message"]),
        }))
    }

    fn parse_webhook(
        &self,
        signature: Option<&str>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<ProviderEvent, WebhookError> {
        let signature = signature
            .ok_or_else(|| WebhookError::Signature("missing Stripe-Signature header".into()))?;
        let mut last = String::from("no webhook secret configured");
        let verified =
            self.config.webhook_secrets.iter().any(
                |secret| match crypto::stripe_signature::verify(
                    secret,
                    signature,
                    body,
                    now.timestamp(),
                    SIGNATURE_TOLERANCE_SECS,
                ) {
                    Ok(()) => true,
                    Err(reason) => {
                        last = reason;
                        false
                    }
                },
            );
        if !verified {
            return Err(WebhookError::Signature(last));
        }
        parse_event(body).map_err(WebhookError::Malformed)
    }
}

/// The status an `account` object gives our payout account.
fn account_status(account: &Value) -> AccountStatus {
    let requirements = &account["requirements"];
    let disabled = requirements["disabled_reason"].as_str();
    let due = requirements["currently_due"]
        .as_array()
        .is_some_and(|d| !d.is_empty());
    match disabled {
        Some(reason) if reason.starts_with("rejected") => AccountStatus::Disabled,
        _ if account["payouts_enabled"] == true && !due => AccountStatus::Verified,
        Some("requirements.pending_verification") | Some("under_review") if !due => {
            AccountStatus::PendingVerification
        }
        Some(_) => AccountStatus::Restricted,
        None if due => AccountStatus::Restricted,
        None => AccountStatus::PendingVerification,
    }
}

/// Our status of a Stripe bank account's `status`; `None` for one Stripe
/// did not document when this was written.
fn bank_account_status(status: Option<&str>) -> Option<BankAccountStatus> {
    match status? {
        "new" | "validated" | "verified" => Some(BankAccountStatus::Active),
        "verification_failed" | "errored" => Some(BankAccountStatus::Errored),
        _ => None,
    }
}

/// Parses a Stripe event (Connect events carry the connected `account`).
pub fn parse_event(body: &[u8]) -> Result<ProviderEvent, String> {
    let value: Value = serde_json::from_slice(body).map_err(|_| "body is not JSON")?;
    let id = text(&value["id"]).ok_or("event has no id")?;
    let event_type = text(&value["type"]).ok_or("event has no type")?;
    let created = value["created"]
        .as_i64()
        .and_then(|t| DateTime::from_timestamp(t, 0))
        .ok_or("event has no created time")?;
    let object = &value["data"]["object"];
    let object_id = || text(&object["id"]).ok_or("event object without id");
    let object = match event_type.as_str() {
        "account.updated" => EventObject::Account {
            account_id: object_id()?,
            status: account_status(object),
        },
        "payout.created" | "payout.updated" | "payout.paid" | "payout.failed"
        | "payout.canceled" => EventObject::Payout {
            transfer_id: object_id()?,
            payout_id: text(&object["metadata"]["payout_id"]),
            status: object["status"].as_str().unwrap_or_default().parse()?,
            failure_code: text(&object["failure_code"]),
            failure_message: text(&object["failure_message"]),
        },
        "transfer.reversed" => EventObject::Payout {
            transfer_id: object_id()?,
            payout_id: text(&object["metadata"]["payout_id"]),
            status: PayoutStatus::Failed,
            failure_code: Some(failure_code::TRANSFER_REVERSED.into()),
            failure_message: Some("The transfer to the connected account was reversed.".into()),
        },
        "account.external_account.updated" if object["object"] == "bank_account" => {
            let external_account_id = object_id()?;
            match bank_account_status(object["status"].as_str()) {
                Some(status) => EventObject::BankAccount {
                    external_account_id,
                    status,
                },
                None => {
                    // Never guessed: a status we do not know changes nothing.
                    tracing::warn!(
                        event = %id,
                        bank_account = %external_account_id,
                        status = object["status"].as_str().unwrap_or("(none)"),
                        "unknown Stripe bank account status; event ignored"
                    );
                    EventObject::Other
                }
            }
        }
        _ => EventObject::Other,
    };
    Ok(ProviderEvent {
        id,
        event_type,
        created,
        object,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stripe_params_map_to_our_fields() {
        assert_eq!(
            verification_field("individual[dob][year]").as_deref(),
            Some("individual.dateOfBirth")
        );
        assert_eq!(
            verification_field("individual[address][postal_code]").as_deref(),
            Some("individual.address.postalCode")
        );
        assert_eq!(
            verification_field("external_account[routing_number]").as_deref(),
            Some("bank.routingNumber")
        );
        assert_eq!(
            verification_field("business_profile[url]").as_deref(),
            Some("businessUrl")
        );
        assert_eq!(verification_field("capabilities[transfers]"), None);
        assert_eq!(
            bank_field("external_account[account_number]"),
            "accountNumber"
        );
    }

    #[test]
    fn account_objects_map_to_statuses() {
        let status = |v: Value| account_status(&v);
        assert_eq!(
            status(
                json!({"payouts_enabled": true, "requirements": {"currently_due": [], "disabled_reason": null}})
            ),
            AccountStatus::Verified
        );
        assert_eq!(
            status(
                json!({"payouts_enabled": false, "requirements": {"currently_due": ["individual.id_number"], "disabled_reason": "requirements.past_due"}})
            ),
            AccountStatus::Restricted
        );
        assert_eq!(
            status(
                json!({"payouts_enabled": false, "requirements": {"currently_due": [], "disabled_reason": "rejected.fraud"}})
            ),
            AccountStatus::Disabled
        );
        assert_eq!(
            status(
                json!({"payouts_enabled": false, "requirements": {"currently_due": [], "disabled_reason": "requirements.pending_verification"}})
            ),
            AccountStatus::PendingVerification
        );
    }

    #[test]
    fn parses_connect_events() {
        let body = json!({"id": "evt_1", "object": "event", "type": "payout.failed", "created": 1700000000,
            "account": "acct_1", "data": {"object": {"id": "po_1", "object": "payout", "status": "failed",
            "metadata": {"payout_id": "po_ours"}, "failure_code": "account_closed", "failure_message": "closed"}}});
        let event = parse_event(body.to_string().as_bytes()).unwrap();
        assert_eq!(
            event.object,
            EventObject::Payout {
                transfer_id: "po_1".into(),
                payout_id: Some("po_ours".into()),
                status: PayoutStatus::Failed,
                failure_code: Some("account_closed".into()),
                failure_message: Some("closed".into()),
            }
        );
        let body = json!({"id": "evt_2", "type": "charge.succeeded", "created": 1, "data": {"object": {"id": "ch_1"}}});
        assert_eq!(
            parse_event(body.to_string().as_bytes()).unwrap().object,
            EventObject::Other
        );
    }

    #[test]
    fn bank_account_statuses_map_explicitly_and_unknown_ones_change_nothing() {
        let event = |status: Value| {
            let body = json!({"id": "evt_3", "type": "account.external_account.updated", "created": 1,
                "data": {"object": {"id": "ba_1", "object": "bank_account", "status": status}}});
            parse_event(body.to_string().as_bytes()).unwrap().object
        };
        let bank = |status| EventObject::BankAccount {
            external_account_id: "ba_1".into(),
            status,
        };
        for known in ["new", "validated", "verified"] {
            assert_eq!(
                event(json!(known)),
                bank(BankAccountStatus::Active),
                "{known}"
            );
        }
        for failed in ["verification_failed", "errored"] {
            assert_eq!(
                event(json!(failed)),
                bank(BankAccountStatus::Errored),
                "{failed}"
            );
        }
        assert_eq!(event(json!("frozen")), EventObject::Other);
        assert_eq!(event(Value::Null), EventObject::Other);
    }

    #[test]
    fn a_reversed_transfer_fails_the_payout_with_our_code() {
        let body = json!({"id": "evt_4", "type": "transfer.reversed", "created": 1,
            "data": {"object": {"id": "tr_1", "object": "transfer", "metadata": {"payout_id": "po_ours"}}}});
        let EventObject::Payout {
            status,
            failure_code,
            ..
        } = parse_event(body.to_string().as_bytes()).unwrap().object
        else {
            panic!("a payout event");
        };
        assert_eq!(status, PayoutStatus::Failed);
        assert_eq!(
            failure_code.as_deref(),
            Some(failure_code::TRANSFER_REVERSED)
        );
    }
}
