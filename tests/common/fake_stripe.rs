//! A fake Stripe for the tests.
//!
//! One piece: one server's state (accounts, transfers, payouts, idempotency, faults) that every handler reads and writes.
//!
//! A fake Stripe for the tests: a local HTTP server that keeps accounts,
//! bank accounts, transfers and payouts, answers in Stripe's shapes (objects
//! and `{"error": {type, code, param, message}}` errors, from Stripe's API
//! reference), honours `Idempotency-Key` as Stripe does (answers saved, 500s
//! included; a reused key with other parameters is a 400
//! `idempotency_error`; 429s and validation failures are not saved), can be
//! told to fail or time out, records every request, and sends Stripe-signed
//! events to the service.
use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::Duration,
};

use poem::{http::StatusCode, EndpointExt, IntoResponse, Request, Response, Route};
use serde_json::{json, Value};

pub const SECRET_KEY: &str = "sk_live_fake_platform_key";
pub const WEBHOOK_SECRET: &str = "whsec_fake_current";

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Form fields of a form-encoded or multipart body, or the query.
    pub form: Vec<(String, String)>,
    /// Lower-cased header names.
    pub headers: HashMap<String, String>,
}

impl Recorded {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// What to do to the next request matching a method and path prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status with a Stripe `api_error` body, creating nothing.
    /// A 5xx is saved under the request's idempotency key, as Stripe does.
    Status(u16),
    /// Do the work, save the answer, then stall past the client's timeout.
    TimeoutAfterCreate,
}

#[derive(Default)]
pub struct State {
    pub requests: Vec<Recorded>,
    accounts: HashMap<String, Value>,
    banks: HashMap<String, Value>,
    transfers: Vec<Value>,
    /// Per connected account.
    payouts: HashMap<String, Vec<Value>>,
    /// (key) -> (fingerprint, status, body)
    idempotency: HashMap<String, (String, u16, Value)>,
    faults: VecDeque<(String, String, Fault)>,
    next_id: u64,
}

pub struct FakeStripe {
    pub base: String,
    pub state: Arc<Mutex<State>>,
    client: reqwest::Client,
}

fn error(
    status: u16,
    kind: &str,
    code: Option<&str>,
    param: Option<&str>,
    message: &str,
) -> (u16, Value) {
    let mut error = json!({"type": kind, "message": message});
    if let Some(code) = code {
        error["code"] = json!(code);
    }
    if let Some(param) = param {
        error["param"] = json!(param);
    }
    (status, json!({ "error": error }))
}

fn form_value<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Fields of a multipart body that are not files (and a file's name).
fn multipart_fields(content_type: &str, body: &[u8]) -> Vec<(String, String)> {
    let Some(boundary) = content_type.split("boundary=").nth(1) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(body);
    let mut fields = Vec::new();
    for part in text.split(&format!("--{boundary}")) {
        let Some((head, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let Some(name) = head
            .split("name=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
        else {
            continue;
        };
        if head.contains("filename=") {
            fields.push((name.to_string(), "<file>".to_string()));
        } else {
            fields.push((name.to_string(), value.trim_end_matches("\r\n").to_string()));
        }
    }
    fields
}

impl State {
    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}_fake{:06}", self.next_id)
    }

    fn account_balance(&self, account: &str) -> i64 {
        let transferred: i64 = self
            .transfers
            .iter()
            .filter(|t| t["destination"] == account && t["reversed"] == false)
            .map(|t| t["amount"].as_i64().unwrap_or(0))
            .sum();
        let paid: i64 = self
            .payouts
            .get(account)
            .into_iter()
            .flatten()
            .filter(|p| p["status"] != "failed" && p["status"] != "canceled")
            .map(|p| p["amount"].as_i64().unwrap_or(0))
            .sum();
        transferred - paid
    }

    fn bank(
        &mut self,
        account: &str,
        prefix: &str,
        form: &[(String, String)],
    ) -> Result<Value, (u16, Value)> {
        let field = |name: &str| form_value(form, &format!("{prefix}[{name}]"));
        let number = field("account_number").ok_or_else(|| {
            error(
                400,
                "invalid_request_error",
                Some("parameter_missing"),
                Some(&format!("{prefix}[account_number]")),
                "Missing required param: external_account[account_number].",
            )
        })?;
        if let Some(routing) = field("routing_number") {
            if routing.len() != 9 || !routing.bytes().all(|b| b.is_ascii_digit()) {
                return Err(error(
                    400,
                    "invalid_request_error",
                    Some("routing_number_invalid"),
                    Some(&format!("{prefix}[routing_number]")),
                    "Routing number must have 9 digits",
                ));
            }
        }
        let id = self.id("ba");
        let bank = json!({
            "id": id, "object": "bank_account", "account": account,
            "account_holder_name": field("account_holder_name"),
            "account_holder_type": field("account_holder_type"),
            "bank_name": "STRIPE TEST BANK", "country": field("country"), "currency": field("currency"),
            "default_for_currency": form_value(form, "default_for_currency") == Some("true"),
            "last4": &number[number.len().saturating_sub(4)..],
            "routing_number": field("routing_number"), "status": "new",
            "metadata": {},
        });
        self.banks.insert(
            id,
            json!({"object": bank.clone(), "account_number": number}),
        );
        Ok(bank)
    }

    fn list(data: Vec<Value>, url: &str) -> Value {
        json!({"object": "list", "data": data, "has_more": false, "url": url})
    }

    /// Stripe's answer to one request (after authentication and faults).
    fn answer(
        &mut self,
        method: &str,
        path: &str,
        form: &[(String, String)],
        account: Option<&str>,
    ) -> (u16, Value) {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let created = chrono::Utc::now().timestamp();
        match (method, segments.as_slice()) {
            ("POST", ["v1", "files"]) => {
                if form_value(form, "purpose") != Some("identity_document") {
                    return error(
                        400,
                        "invalid_request_error",
                        None,
                        Some("purpose"),
                        "Invalid purpose.",
                    );
                }
                if form_value(form, "file").is_none() {
                    return error(
                        400,
                        "invalid_request_error",
                        Some("parameter_missing"),
                        Some("file"),
                        "Missing required param: file.",
                    );
                }
                let id = self.id("file");
                (
                    200,
                    json!({"id": id, "object": "file", "purpose": "identity_document", "created": created, "size": 26, "type": "pdf"}),
                )
            }
            ("POST", ["v1", "accounts"]) => {
                if form_value(form, "country").is_none() {
                    return error(
                        400,
                        "invalid_request_error",
                        Some("parameter_missing"),
                        Some("country"),
                        "Missing required param: country.",
                    );
                }
                let id = self.id("acct");
                let bank = match self.bank(&id, "external_account", form) {
                    Ok(bank) => bank,
                    Err(err) => return err,
                };
                let account = json!({
                    "id": id, "object": "account", "business_type": form_value(form, "business_type"),
                    "country": form_value(form, "country"), "email": form_value(form, "email"),
                    "capabilities": {"transfers": "inactive"}, "charges_enabled": false, "payouts_enabled": false,
                    "details_submitted": true, "created": created,
                    "requirements": {"currently_due": [], "eventually_due": [], "past_due": [], "disabled_reason": "requirements.pending_verification"},
                    "settings": {"payouts": {"schedule": {"interval": form_value(form, "settings[payouts][schedule][interval]")}}},
                    "external_accounts": Self::list(vec![bank], &format!("/v1/accounts/{id}/external_accounts")),
                    "metadata": metadata(form),
                });
                self.accounts.insert(id, account.clone());
                (200, account)
            }
            ("GET", ["v1", "accounts"]) => {
                let mut data: Vec<Value> = self.accounts.values().cloned().collect();
                data.sort_by_key(|a| {
                    std::cmp::Reverse(a["id"].as_str().unwrap_or_default().to_string())
                });
                (200, Self::list(data, "/v1/accounts"))
            }
            ("POST", ["v1", "accounts", acct, "external_accounts"]) => {
                if !self.accounts.contains_key(*acct) {
                    return error(
                        404,
                        "invalid_request_error",
                        Some("resource_missing"),
                        Some("account"),
                        &format!("No such account: '{acct}'"),
                    );
                }
                match self.bank(acct, "external_account", form) {
                    Ok(bank) => (200, bank),
                    Err(err) => err,
                }
            }
            ("POST", ["v1", "transfers"]) => {
                let destination = form_value(form, "destination").unwrap_or_default();
                if !self.accounts.contains_key(destination) {
                    return error(
                        400,
                        "invalid_request_error",
                        Some("resource_missing"),
                        Some("destination"),
                        &format!("No such destination: '{destination}'"),
                    );
                }
                let amount: i64 = form_value(form, "amount")
                    .and_then(|a| a.parse().ok())
                    .unwrap_or(0);
                let metadata: serde_json::Map<String, Value> = form
                    .iter()
                    .filter_map(|(k, v)| {
                        Some((
                            k.strip_prefix("metadata[")?.strip_suffix(']')?.to_string(),
                            json!(v),
                        ))
                    })
                    .collect();
                let id = self.id("tr");
                let transfer = json!({
                    "id": id, "object": "transfer", "amount": amount, "amount_reversed": 0,
                    "currency": form_value(form, "currency"), "destination": destination, "created": created,
                    "transfer_group": form_value(form, "transfer_group"), "metadata": metadata,
                    "reversed": false, "reversals": Self::list(vec![], &format!("/v1/transfers/{id}/reversals")),
                });
                self.transfers.push(transfer.clone());
                (200, transfer)
            }
            ("GET", ["v1", "transfers"]) => {
                let group = form_value(form, "transfer_group");
                let data = self
                    .transfers
                    .iter()
                    .filter(|t| group.is_none_or(|g| t["transfer_group"] == g))
                    .rev()
                    .cloned()
                    .collect();
                (200, Self::list(data, "/v1/transfers"))
            }
            ("GET", ["v1", "transfers", id]) => {
                match self.transfers.iter().find(|t| t["id"] == *id) {
                    Some(t) => (200, t.clone()),
                    None => error(
                        404,
                        "invalid_request_error",
                        Some("resource_missing"),
                        Some("id"),
                        &format!("No such transfer: '{id}'"),
                    ),
                }
            }
            ("POST", ["v1", "transfers", id, "reversals"]) => {
                let Some(transfer) = self.transfers.iter_mut().find(|t| t["id"] == *id) else {
                    return error(
                        404,
                        "invalid_request_error",
                        Some("resource_missing"),
                        Some("id"),
                        &format!("No such transfer: '{id}'"),
                    );
                };
                transfer["reversed"] = json!(true);
                transfer["amount_reversed"] = transfer["amount"].clone();
                let amount = transfer["amount"].clone();
                let rid = self.id("trr");
                (
                    200,
                    json!({"id": rid, "object": "transfer_reversal", "amount": amount, "transfer": id}),
                )
            }
            ("POST", ["v1", "payouts"]) => {
                let Some(account) = account else {
                    return error(
                        400,
                        "invalid_request_error",
                        None,
                        None,
                        "Payouts from the platform are not used here: send Stripe-Account.",
                    );
                };
                let amount: i64 = form_value(form, "amount")
                    .and_then(|a| a.parse().ok())
                    .unwrap_or(0);
                if self.account_balance(account) < amount {
                    return error(
                        400,
                        "invalid_request_error",
                        Some("balance_insufficient"),
                        None,
                        "You have insufficient funds in your Stripe account for this transfer.",
                    );
                }
                let destination = form_value(form, "destination").unwrap_or_default();
                if !self.banks.contains_key(destination) {
                    return error(
                        400,
                        "invalid_request_error",
                        Some("resource_missing"),
                        Some("destination"),
                        &format!("No such external account: '{destination}'"),
                    );
                }
                let metadata: serde_json::Map<String, Value> = form
                    .iter()
                    .filter_map(|(k, v)| {
                        Some((
                            k.strip_prefix("metadata[")?.strip_suffix(']')?.to_string(),
                            json!(v),
                        ))
                    })
                    .collect();
                let id = self.id("po");
                let payout = json!({
                    "id": id, "object": "payout", "amount": amount, "currency": form_value(form, "currency"),
                    "destination": destination, "status": "pending", "method": "standard", "type": "bank_account",
                    "created": created, "arrival_date": created + 86400, "automatic": false,
                    "failure_code": null, "failure_message": null, "metadata": metadata,
                });
                self.payouts
                    .entry(account.to_string())
                    .or_default()
                    .push(payout.clone());
                (200, payout)
            }
            ("GET", ["v1", "payouts"]) => {
                let data = account
                    .and_then(|a| self.payouts.get(a))
                    .map(|list| list.iter().rev().cloned().collect())
                    .unwrap_or_default();
                (200, Self::list(data, "/v1/payouts"))
            }
            ("GET", ["v1", "payouts", id]) => {
                match account
                    .and_then(|a| self.payouts.get(a))
                    .and_then(|l| l.iter().find(|p| p["id"] == *id))
                {
                    Some(p) => (200, p.clone()),
                    None => error(
                        404,
                        "invalid_request_error",
                        Some("resource_missing"),
                        Some("id"),
                        &format!("No such payout: '{id}'"),
                    ),
                }
            }
            _ => error(
                404,
                "invalid_request_error",
                None,
                None,
                &format!("Unrecognized request URL ({method}: {path})"),
            ),
        }
    }
}

impl FakeStripe {
    pub async fn start() -> FakeStripe {
        let state: Arc<Mutex<State>> = Arc::default();
        let shared = state.clone();
        let endpoint = Route::new().at(
            "/*path",
            poem::endpoint::make(move |req: Request| {
                let state = shared.clone();
                async move { handle(state, req).await }
            }),
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        super::servers::serve(listener, endpoint.map_to_response());
        FakeStripe {
            base,
            state,
            client: reqwest::Client::new(),
        }
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The requests with this method and path.
    pub fn calls(&self, method: &str, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path == path)
            .collect()
    }

    /// The connected accounts at the fake Stripe.
    pub fn accounts(&self) -> usize {
        self.state.lock().unwrap().accounts.len()
    }

    /// How many transfers exist at the fake Stripe.
    pub fn transfers(&self) -> Vec<Value> {
        self.state.lock().unwrap().transfers.clone()
    }

    pub fn payouts(&self, account: &str) -> Vec<Value> {
        self.state
            .lock()
            .unwrap()
            .payouts
            .get(account)
            .cloned()
            .unwrap_or_default()
    }

    /// The next request with `method` whose path starts with `path` gets `fault`.
    pub fn fail_next(&self, method: &str, path: &str, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .faults
            .push_back((method.into(), path.into(), fault));
    }

    /// Changes a payout at Stripe (as the bank would), without an event.
    pub fn set_payout(
        &self,
        account: &str,
        payout_id: &str,
        status: &str,
        failure: Option<(&str, &str)>,
    ) -> Value {
        let mut state = self.state.lock().unwrap();
        let payout = state
            .payouts
            .get_mut(account)
            .and_then(|l| l.iter_mut().find(|p| p["id"] == payout_id))
            .expect("payout exists at the fake");
        payout["status"] = json!(status);
        if let Some((code, message)) = failure {
            payout["failure_code"] = json!(code);
            payout["failure_message"] = json!(message);
        }
        payout.clone()
    }

    /// Changes an account's verification state at Stripe; returns it.
    pub fn set_account(
        &self,
        account: &str,
        payouts_enabled: bool,
        currently_due: &[&str],
        disabled_reason: Option<&str>,
    ) -> Value {
        let mut state = self.state.lock().unwrap();
        let object = state
            .accounts
            .get_mut(account)
            .expect("account exists at the fake");
        object["payouts_enabled"] = json!(payouts_enabled);
        object["charges_enabled"] = json!(payouts_enabled);
        object["requirements"]["currently_due"] = json!(currently_due);
        object["requirements"]["disabled_reason"] = json!(disabled_reason);
        object.clone()
    }

    /// A bank account as Stripe has it now, with a new status.
    pub fn set_bank_status(&self, bank_id: &str, status: &str) -> Value {
        let mut state = self.state.lock().unwrap();
        let bank = state
            .banks
            .get_mut(bank_id)
            .expect("bank exists at the fake");
        bank["object"]["status"] = json!(status);
        bank["object"].clone()
    }

    pub fn reverse_transfer(&self, transfer_id: &str) -> Value {
        let mut state = self.state.lock().unwrap();
        let transfer = state
            .transfers
            .iter_mut()
            .find(|t| t["id"] == transfer_id)
            .expect("transfer exists");
        transfer["reversed"] = json!(true);
        transfer["amount_reversed"] = transfer["amount"].clone();
        transfer.clone()
    }

    /// A Stripe event body (Connect events carry the connected `account`).
    pub fn event(id: &str, event_type: &str, object: Value, account: Option<&str>) -> String {
        let mut event = json!({
            "id": id, "object": "event", "api_version": "2024-06-20", "type": event_type,
            "created": chrono::Utc::now().timestamp(), "livemode": true, "pending_webhooks": 1,
            "data": {"object": object}, "request": {"id": null, "idempotency_key": null},
        });
        if let Some(account) = account {
            event["account"] = json!(account);
        }
        event.to_string()
    }

    /// `Stripe-Signature` for a body, as Stripe computes it.
    pub fn sign(secret: &str, timestamp: i64, body: &str) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{timestamp}.{body}").as_bytes());
        format!(
            "t={timestamp},v1={}",
            hex::encode(mac.finalize().into_bytes())
        )
    }

    /// Sends an event to the service's Stripe endpoint, signed now with
    /// `secret`; returns the answer's status and body.
    pub async fn deliver(
        &self,
        service_base: &str,
        body: &str,
        signature: Option<String>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .post(format!("{service_base}/api/v1/provider-webhooks/stripe"))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(signature) = signature {
            request = request.header("stripe-signature", signature);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Sends an event signed with the current secret, now.
    pub async fn send_event(&self, service_base: &str, body: &str) -> (u16, Value) {
        let signature = Self::sign(WEBHOOK_SECRET, chrono::Utc::now().timestamp(), body);
        self.deliver(service_base, body, Some(signature)).await
    }
}

async fn handle(state: Arc<Mutex<State>>, mut req: Request) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let headers: HashMap<String, String> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_lowercase(),
                v.to_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let body = req.take_body().into_vec().await.unwrap_or_default();
    let content_type = headers.get("content-type").cloned().unwrap_or_default();
    let form: Vec<(String, String)> = if content_type.starts_with("multipart/form-data") {
        multipart_fields(&content_type, &body)
    } else if method == "GET" {
        serde_urlencoded_pairs(req.uri().query().unwrap_or_default().as_bytes())
    } else {
        serde_urlencoded_pairs(&body)
    };
    let recorded = Recorded {
        method: method.clone(),
        path: path.clone(),
        form: form.clone(),
        headers: headers.clone(),
    };
    let (status, answer, stall, replayed) = {
        let mut state = state.lock().unwrap();
        state.requests.push(recorded);
        if headers.get("authorization").map(String::as_str) != Some(&format!("Bearer {SECRET_KEY}"))
        {
            let (status, body) = error(
                401,
                "invalid_request_error",
                None,
                None,
                "Invalid API Key provided.",
            );
            return json_response(status, body, false);
        }
        let key = headers.get("idempotency-key").cloned();
        let fingerprint = format!("{method} {path} {form:?}");
        if let Some((saved_fingerprint, status, body)) =
            key.as_ref().and_then(|k| state.idempotency.get(k)).cloned()
        {
            if saved_fingerprint != fingerprint {
                let (status, body) = error(400, "idempotency_error", None, None, "Keys for idempotent requests can only be used with the same parameters they were first used with.");
                return json_response(status, body, false);
            }
            (status, body, false, true)
        } else {
            let fault = state
                .faults
                .iter()
                .position(|(m, p, _)| *m == method && path.starts_with(p.as_str()))
                .and_then(|i| state.faults.remove(i))
                .map(|(_, _, f)| f);
            let account = headers.get("stripe-account").cloned();
            let (status, body, stall) = match fault {
                Some(Fault::Status(status)) => {
                    let (_, body) = error(
                        status,
                        "api_error",
                        None,
                        None,
                        "An unknown error occurred (fake).",
                    );
                    (status, body, false)
                }
                Some(Fault::TimeoutAfterCreate) => {
                    let (status, body) = state.answer(&method, &path, &form, account.as_deref());
                    (status, body, true)
                }
                None => {
                    let (status, body) = state.answer(&method, &path, &form, account.as_deref());
                    (status, body, false)
                }
            };
            // Saved unless rate limited or refused before the endpoint ran.
            let validation = status == 400 && body["error"]["code"] == "parameter_missing";
            if let (Some(key), true) = (key, method == "POST" && status != 429 && !validation) {
                state
                    .idempotency
                    .insert(key, (fingerprint, status, body.clone()));
            }
            (status, body, stall, false)
        }
    };
    if stall {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    json_response(status, answer, replayed)
}

/// `metadata[k]=v` fields as Stripe's metadata object.
fn metadata(form: &[(String, String)]) -> Value {
    let map: serde_json::Map<String, Value> = form
        .iter()
        .filter_map(|(k, v)| {
            Some((
                k.strip_prefix("metadata[")?.strip_suffix(']')?.to_string(),
                json!(v),
            ))
        })
        .collect();
    Value::Object(map)
}

fn serde_urlencoded_pairs(raw: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw).into_owned().collect()
}

fn json_response(status: u16, body: Value, replayed: bool) -> Response {
    let mut response = Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("content-type", "application/json")
        .header("request-id", "req_fake");
    if replayed {
        response = response.header("idempotent-replayed", "true");
    }
    if status >= 500 {
        response = response.header("stripe-should-retry", "true");
    }
    response.body(body.to_string()).into_response()
}
