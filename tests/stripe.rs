//! Stripe Connect, black box.
//!
//! One piece: every test drives the same fake Stripe and live-organization setup; splitting would copy that harness.
//!
//! Stripe Connect, black box: the service over HTTP against a fake Stripe
//! (tests/common/fake_stripe.rs) that records every call. Live
//! organizations never touch the sandbox; verification, bank accounts and
//! payouts make the documented Stripe calls; Stripe's events drive the
//! state machines; outages and lost events are reconciled.
mod common;

use common::{fake_stripe::*, *};
use entity::{organization, payout};
use payouts::{
    config::{ProviderChoice, StripeConfig},
    provider::stripe::STRIPE_VERSION,
};
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};

/// A live organization with 500.00 USD, verified at the fake Stripe.
struct Verified {
    org: Org,
    account: String,
    payout_account_id: String,
}

async fn verified_live_org(app: &TestApp, fake: &FakeStripe) -> Verified {
    let org = app.org_with(true).await;
    app.credit(&org, 50_000).await;
    let reply = app
        .post(
            "/payouts/verification",
            &org.key,
            app.verification_body("1990-01-01", GOOD_ACCOUNT),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let account = reply.data()["providerAccountId"]
        .as_str()
        .unwrap()
        .to_string();
    let payout_account_id = reply.data()["id"].as_str().unwrap().to_string();
    let object = fake.set_account(&account, true, &[], None);
    let event = FakeStripe::event(
        &format!("evt_acct_{account}"),
        "account.updated",
        object,
        Some(&account),
    );
    let (status, body) = fake.send_event(&app.base, &event).await;
    assert_eq!(status, 200, "{body}");
    app.expect_status("/payouts/account", &org.key, "verified")
        .await;
    Verified {
        org,
        account,
        payout_account_id,
    }
}

async fn payout(app: &TestApp, org: &Org, amount: i64) -> Value {
    let reply = app
        .client
        .post(format!("{}/api/v1/payouts", app.base))
        .header("x-api-key", &org.key)
        .header("Idempotency-Key", payouts::ids::new_id("k"))
        .json(&json!({"amount": amount}))
        .send()
        .await
        .unwrap();
    let reply = TestApp::reply(reply).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.data().clone()
}

fn assert_stripe_headers(call: &Recorded, key: Option<&str>, account: Option<&str>) {
    assert_eq!(
        call.header("stripe-version"),
        Some(STRIPE_VERSION),
        "{call:?}"
    );
    assert_eq!(
        call.header("authorization"),
        Some(format!("Bearer {SECRET_KEY}").as_str())
    );
    assert_eq!(call.header("idempotency-key"), key, "{call:?}");
    assert_eq!(call.header("stripe-account"), account, "{call:?}");
}

async fn payout_row(app: &TestApp, id: &str) -> payout::Model {
    payout::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_org_never_touches_the_sandbox_and_changes_nothing_without_a_live_provider() {
    let (app, calls) = TestApp::spawn_recording(|_| {}).await;
    let org = app.org_with(true).await;
    app.credit(&org, 50_000).await;
    let before = app.balance(&org).await;
    let verification = app.verification_body("1990-01-01", GOOD_ACCOUNT);
    let bank = json!({"accountNumber": GOOD_ACCOUNT, "accountHolderName": "Ann Lee", "routingNumber": TEST_ROUTING, "setDefault": true});
    for _ in 0..2 {
        for (path, body) in [
            ("/payouts/verification", verification.clone()),
            ("/payouts/bank-accounts", bank.clone()),
            ("/payouts", json!({"amount": 2500})),
        ] {
            let reply = app.post(path, &org.key, body).await;
            assert_eq!(
                (reply.status.as_u16(), reply.error_code()),
                (503, "provider_not_configured"),
                "{path}: {}",
                reply.body
            );
        }
        // Even an organization recorded as the sandbox's (verified by it
        // before this check existed) is refused.
        organization::Entity::update_many()
            .col_expr(organization::Column::Provider, Expr::value("sandbox"))
            .filter(organization::Column::Id.eq(org.id.clone()))
            .exec(app.db())
            .await
            .unwrap();
    }
    assert_eq!(app.get("/payouts/account", &org.key).await.status, 404);
    assert_eq!(app.balance(&org).await, before);
    assert_eq!(payout::Entity::find().count(app.db()).await.unwrap(), 0);
    assert_eq!(
        entity::job::Entity::find().count(app.db()).await.unwrap(),
        0
    );
    assert_eq!(
        app.documents.hits.load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    assert_eq!(
        (
            calls.uploads(),
            calls.accounts().len(),
            calls.external_accounts(),
            calls.payouts().len()
        ),
        (0, 0, 0, 0),
        "the sandbox was never asked"
    );
    // A sandbox organization still works with the sandbox.
    let sandbox = app.org().await;
    let reply = app
        .post(
            "/payouts/verification",
            &sandbox.key,
            app.verification_body("1990-01-01", GOOD_ACCOUNT),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stripe_key_of_the_wrong_mode_stops_the_start() {
    let app = TestApp::spawn().await;
    let org = app.org_with(true).await;
    organization::Entity::update_many()
        .col_expr(organization::Column::Provider, Expr::value("stripe"))
        .filter(organization::Column::Id.eq(org.id.clone()))
        .exec(app.db())
        .await
        .unwrap();
    let start = |key: &str| {
        let mut config = app.config.clone();
        config.job_worker = false;
        config.provider =
            ProviderChoice::Stripe(StripeConfig::new(key, vec!["whsec_1".to_string()]));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        payouts::server::start(config, listener)
    };
    let err = start("sk_test_123")
        .await
        .err()
        .expect("a test key with live Stripe accounts is refused");
    let message = format!("{err:#}");
    assert!(
        message.contains("STRIPE_SECRET_KEY is a test key"),
        "{message}"
    );
    let running = start("sk_live_123").await.expect("the live key starts");
    running.stop().await;
    // Not a Stripe key at all.
    let err = start("pk_live_123")
        .await
        .err()
        .expect("a publishable key is refused");
    assert!(format!("{err:#}").contains("STRIPE_SECRET_KEY must be a Stripe secret key"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_org_is_verified_given_a_bank_account_and_paid_through_stripe() {
    let fake = FakeStripe::start().await;
    let app = TestApp::spawn_stripe(&fake, |c| {
        c.fees = payouts::domain::fees::FeeSchedule {
            fixed_cents: 100,
            basis_points: 0,
        }
    })
    .await;
    let Verified {
        org,
        account,
        payout_account_id,
    } = verified_live_org(&app, &fake).await;
    assert!(account.starts_with("acct_"), "{account}");

    // The document upload: multipart on the files host.
    let uploads = fake.calls("POST", "/v1/files");
    assert_eq!(uploads.len(), 1);
    let upload = &uploads[0];
    assert_stripe_headers(upload, Some(&format!("{payout_account_id}-document")), None);
    assert!(upload
        .header("content-type")
        .unwrap()
        .starts_with("multipart/form-data"));
    assert_eq!(upload.field("purpose"), Some("identity_document"));
    assert_eq!(upload.field("file"), Some("<file>"));

    // The connected account: platform-controlled, manual payouts, the bank inside.
    let created = fake.calls("POST", "/v1/accounts");
    assert_eq!(created.len(), 1);
    let create = &created[0];
    assert_stripe_headers(create, Some(&format!("{payout_account_id}-account")), None);
    for (field, value) in [
        ("country", "US"),
        ("email", "owner@acme.test"),
        ("business_type", "individual"),
        ("business_profile[url]", "https://acme.test"),
        ("capabilities[transfers][requested]", "true"),
        ("controller[fees][payer]", "application"),
        ("controller[losses][payments]", "application"),
        ("controller[requirement_collection]", "application"),
        ("controller[stripe_dashboard][type]", "none"),
        ("settings[payouts][schedule][interval]", "manual"),
        ("individual[first_name]", "Ann"),
        ("individual[last_name]", "Lee"),
        ("individual[dob][day]", "1"),
        ("individual[dob][month]", "1"),
        ("individual[dob][year]", "1990"),
        ("individual[address][line1]", "1 Main St"),
        ("individual[address][postal_code]", "94107"),
        ("external_account[object]", "bank_account"),
        ("external_account[account_number]", GOOD_ACCOUNT),
        ("external_account[routing_number]", TEST_ROUTING),
        ("external_account[account_holder_name]", "Ann Lee"),
        ("external_account[currency]", "usd"),
        ("external_account[country]", "US"),
    ] {
        assert_eq!(create.field(field), Some(value), "{field}");
    }
    assert!(create
        .field("individual[verification][document][front]")
        .is_some_and(|f| f.starts_with("file_")));
    // The bank came back with the account: no separate call.
    assert!(fake
        .requests()
        .iter()
        .all(|r| !r.path.ends_with("/external_accounts")));

    // Another bank account, made the default: bankName and last4 from Stripe.
    let reply = app
        .post(
            "/payouts/bank-accounts",
            &org.key,
            json!({"accountNumber": "000999999991", "accountHolderName": "Ann Lee", "routingNumber": TEST_ROUTING, "accountType": "savings", "setDefault": true}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.data()["bankName"], "STRIPE TEST BANK");
    assert_eq!(reply.data()["last4"], "9991");
    let bank_id = reply.data()["id"].as_str().unwrap().to_string();
    let added = fake.calls("POST", &format!("/v1/accounts/{account}/external_accounts"));
    assert_eq!(added.len(), 1);
    assert_stripe_headers(&added[0], Some(&bank_id), None);
    assert_eq!(added[0].field("default_for_currency"), Some("true"));
    assert_eq!(
        added[0].field("external_account[account_number]"),
        Some("000999999991")
    );
    assert_eq!(
        added[0].field("external_account[account_type]"),
        Some("savings")
    );

    // A refused field is the caller's 422, with our field name; nothing stored.
    let reply = app
        .post(
            "/payouts/bank-accounts",
            &org.key,
            json!({"accountNumber": "000999999992", "accountHolderName": "Ann Lee", "routingNumber": "12345"}),
        )
        .await;
    assert_eq!(
        (
            reply.status.as_u16(),
            reply.error_code(),
            reply.body["error"]["param"].as_str()
        ),
        (422, "validation_error", Some("routingNumber")),
        "{}",
        reply.body
    );

    // A payout: the net amount transferred, then paid out to the default bank.
    let created = payout(&app, &org, 2500).await;
    let payout_id = created["id"].as_str().unwrap().to_string();
    let transfers = fake.calls("POST", "/v1/transfers");
    assert_eq!(transfers.len(), 1);
    assert_stripe_headers(&transfers[0], Some(&format!("{payout_id}-transfer")), None);
    for (field, value) in [
        ("amount", "2400"),
        ("currency", "usd"),
        ("destination", account.as_str()),
        ("transfer_group", payout_id.as_str()),
        ("metadata[payout_id]", payout_id.as_str()),
    ] {
        assert_eq!(transfers[0].field(field), Some(value), "{field}");
    }
    let bank_payouts = fake.calls("POST", "/v1/payouts");
    assert_eq!(bank_payouts.len(), 1);
    assert_stripe_headers(
        &bank_payouts[0],
        Some(&format!("{payout_id}-payout")),
        Some(&account),
    );
    let row = payout_row(&app, &payout_id).await;
    let external = {
        let banks = entity::bank_account::Entity::find_by_id(bank_id.clone())
            .one(app.db())
            .await
            .unwrap()
            .unwrap();
        banks.provider_external_account_id.unwrap()
    };
    assert_eq!(
        bank_payouts[0].field("destination"),
        Some(external.as_str())
    );
    assert_eq!(bank_payouts[0].field("amount"), Some("2400"));
    assert_eq!(
        bank_payouts[0].field("metadata[payout_id]"),
        Some(payout_id.as_str())
    );
    let transfer_id = fake.transfers()[0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        row.provider_transfer_id.as_deref(),
        Some(transfer_id.as_str())
    );
    let po = fake.payouts(&account)[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(row.provider_payout_id.as_deref(), Some(po.as_str()));
    assert_eq!(
        app.get(&format!("/payouts/{payout_id}"), &org.key)
            .await
            .data()["providerTransferId"],
        transfer_id.as_str()
    );

    // Stripe says paid.
    let object = fake.set_payout(&account, &po, "paid", None);
    let event = FakeStripe::event("evt_paid_1", "payout.paid", object, Some(&account));
    let (status, body) = fake.send_event(&app.base, &event).await;
    assert_eq!(status, 200, "{body}");
    app.expect_status(&format!("/payouts/{payout_id}"), &org.key, "paid")
        .await;
    let balance = app.balance(&org).await;
    assert_eq!(
        (balance["available"].as_i64(), balance["inPayout"].as_i64()),
        (Some(47_500), Some(0))
    );
    // Nothing went to the sandbox.
    assert_eq!(
        entity::job::Entity::find()
            .filter(entity::job::Column::Kind.eq("sandbox_webhook"))
            .count(app.db())
            .await
            .unwrap(),
        0
    );
    app.stop().await;
}

async fn event_result(fake: &FakeStripe, app: &TestApp, body: &str) -> String {
    let (status, reply) = fake.send_event(&app.base, body).await;
    assert_eq!(status, 200, "{reply}");
    reply["data"]["result"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_stripe_event_type_drives_its_transition() {
    let fake = FakeStripe::start().await;
    let app = TestApp::spawn_stripe(&fake, |_| {}).await;
    let Verified { org, account, .. } = verified_live_org(&app, &fake).await;
    let status_of = |id: String| {
        let app = &app;
        let key = org.key.clone();
        async move {
            app.get(&format!("/payouts/{id}"), &key)
                .await
                .data()
                .clone()
        }
    };

    // payout.failed, with Stripe's failure code: money back.
    let first = payout(&app, &org, 2500).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let po = payout_row(&app, &first).await.provider_payout_id.unwrap();
    let object = fake.set_payout(
        &account,
        &po,
        "failed",
        Some(("account_closed", "The bank account has been closed.")),
    );
    let body = FakeStripe::event("evt_failed", "payout.failed", object, Some(&account));
    assert_eq!(event_result(&fake, &app, &body).await, "applied");
    let failed = status_of(first.clone()).await;
    assert_eq!(
        (failed["status"].as_str(), failed["failureCode"].as_str()),
        (Some("failed"), Some("account_closed"))
    );
    assert_eq!(app.balance(&org).await["available"], 50_000);
    // The same event again: a duplicate, nothing moves twice.
    assert_eq!(event_result(&fake, &app, &body).await, "duplicate");
    assert_eq!(app.balance(&org).await["available"], 50_000);
    // Its transfer's reversal is due now by the service's clock (the
    // tests' manual one), like every job: nothing to wait for.
    app.run_due_jobs().await;
    let reversals = || {
        fake.requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/reversals"))
            .map(|r| r.header("idempotency-key").unwrap().to_string())
            .collect::<Vec<String>>()
    };
    assert_eq!(reversals(), vec![format!("{first}-reversal")]);

    // payout.canceled: money back.
    let second = payout(&app, &org, 2500).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let po = payout_row(&app, &second).await.provider_payout_id.unwrap();
    let object = fake.set_payout(&account, &po, "canceled", None);
    let body = FakeStripe::event("evt_canceled", "payout.canceled", object, Some(&account));
    assert_eq!(event_result(&fake, &app, &body).await, "applied");
    assert_eq!(status_of(second.clone()).await["status"], "canceled");
    assert_eq!(app.balance(&org).await["available"], 50_000);

    // transfer.reversed (a platform event: no `account`): failed, money back.
    let third = payout(&app, &org, 2500).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let tr = payout_row(&app, &third).await.provider_transfer_id.unwrap();
    let object = fake.reverse_transfer(&tr);
    let body = FakeStripe::event("evt_reversed", "transfer.reversed", object, None);
    assert_eq!(event_result(&fake, &app, &body).await, "applied");
    let reversed = status_of(third.clone()).await;
    assert_eq!(
        (
            reversed["status"].as_str(),
            reversed["failureCode"].as_str()
        ),
        (Some("failed"), Some("transfer_reversed"))
    );
    assert_eq!(app.balance(&org).await["available"], 50_000);

    // payout.paid, then payout.failed (the bank returned it): money back.
    let fourth = payout(&app, &org, 2500).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let po = payout_row(&app, &fourth).await.provider_payout_id.unwrap();
    let object = fake.set_payout(&account, &po, "paid", None);
    let body = FakeStripe::event("evt_paid", "payout.paid", object, Some(&account));
    assert_eq!(event_result(&fake, &app, &body).await, "applied");
    assert_eq!(app.balance(&org).await["available"], 47_500);
    let object = fake.set_payout(
        &account,
        &po,
        "failed",
        Some((
            "could_not_process",
            "The bank could not process this payout.",
        )),
    );
    let body = FakeStripe::event("evt_returned", "payout.failed", object, Some(&account));
    assert_eq!(event_result(&fake, &app, &body).await, "applied");
    assert_eq!(
        status_of(fourth.clone()).await["failureCode"],
        "could_not_process"
    );
    let balance = app.balance(&org).await;
    assert_eq!(
        (
            balance["available"].as_i64(),
            balance["inPayout"].as_i64(),
            balance["paidOut"].as_i64()
        ),
        (Some(50_000), Some(0), Some(0))
    );

    // The money of each failed or canceled payout comes back from the
    // connected account: its transfer is reversed, once; not the transfer
    // Stripe reversed itself.
    app.advance(std::time::Duration::from_secs(3600));
    app.run_due_jobs().await;
    app.run_due_jobs().await;
    let mut keys = reversals();
    keys.sort();
    let mut want = vec![
        format!("{first}-reversal"),
        format!("{second}-reversal"),
        format!("{fourth}-reversal"),
    ];
    want.sort();
    assert_eq!(keys, want);
    assert!(fake.transfers().iter().all(|t| t["reversed"] == true));

    // account.external_account.updated: the bank account's status.
    let bank = entity::bank_account::Entity::find()
        .filter(entity::bank_account::Column::OrganizationId.eq(org.id.clone()))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let object = fake.set_bank_status(
        bank.provider_external_account_id.as_deref().unwrap(),
        "errored",
    );
    let body = FakeStripe::event(
        "evt_bank",
        "account.external_account.updated",
        object,
        Some(&account),
    );
    assert_eq!(event_result(&fake, &app, &body).await, "applied");
    let bank = entity::bank_account::Entity::find_by_id(bank.id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bank.status, entity::states::BankAccountStatus::Errored);
    let reply = app
        .post("/payouts", &org.key, json!({"amount": 2500}))
        .await;
    assert_eq!(
        reply.error_code(),
        "no_default_bank_account",
        "an errored bank is not paid to"
    );

    // An unknown type is acknowledged and ignored.
    let body = FakeStripe::event(
        "evt_other",
        "charge.succeeded",
        json!({"id": "ch_1", "object": "charge"}),
        None,
    );
    assert_eq!(event_result(&fake, &app, &body).await, "ignored");

    // An event about an object not stored (yet) is refused and not recorded,
    // so Stripe delivers it again.
    let body = FakeStripe::event(
        "evt_unknown",
        "payout.paid",
        json!({"id": "po_elsewhere", "object": "payout", "status": "paid", "metadata": {}}),
        Some(&account),
    );
    let (status, _) = fake.send_event(&app.base, &body).await;
    assert_eq!(status, 404);
    let (status, _) = fake.send_event(&app.base, &body).await;
    assert_eq!(status, 404, "still refused: it was not recorded");

    // account.updated: restricted (requirements due), then disabled (rejected).
    let object = fake.set_account(
        &account,
        false,
        &["individual.id_number"],
        Some("requirements.past_due"),
    );
    let body = FakeStripe::event("evt_restricted", "account.updated", object, Some(&account));
    assert_eq!(event_result(&fake, &app, &body).await, "applied");
    assert_eq!(
        app.get("/payouts/account", &org.key).await.data()["status"],
        "restricted"
    );
    let object = fake.set_account(&account, false, &[], Some("rejected.fraud"));
    let mut body: Value = serde_json::from_str(&FakeStripe::event(
        "evt_disabled",
        "account.updated",
        object,
        Some(&account),
    ))
    .unwrap();
    body["created"] = json!(body["created"].as_i64().unwrap() + 1);
    assert_eq!(
        event_result(&fake, &app, &body.to_string()).await,
        "applied"
    );
    let reply = app.get("/payouts/account", &org.key).await;
    assert_eq!(
        (
            reply.data()["status"].as_str(),
            reply.data()["transfersEnabled"].as_bool()
        ),
        (Some("disabled"), Some(false))
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_signatures_are_checked_against_every_configured_secret() {
    let fake = FakeStripe::start().await;
    let app = TestApp::spawn_stripe(&fake, |c| {
        if let ProviderChoice::Stripe(stripe) = &mut c.provider {
            // Mid-rotation: the old secret and the new one.
            stripe
                .webhook_secrets
                .insert(0, "whsec_fake_previous".into());
        }
    })
    .await;
    let org = app.org_with(true).await;
    let reply = app
        .post(
            "/payouts/verification",
            &org.key,
            app.verification_body("1990-01-01", GOOD_ACCOUNT),
        )
        .await;
    let account = reply.data()["providerAccountId"]
        .as_str()
        .unwrap()
        .to_string();
    let object = fake.set_account(&account, true, &[], None);
    let body = FakeStripe::event("evt_sig", "account.updated", object, Some(&account));
    let now = chrono::Utc::now().timestamp();
    for (signature, why) in [
        (
            Some(FakeStripe::sign("whsec_someone_else", now, &body)),
            "wrong secret",
        ),
        (
            Some(FakeStripe::sign(WEBHOOK_SECRET, now - 301, &body)),
            "stale timestamp",
        ),
        (
            Some(FakeStripe::sign(WEBHOOK_SECRET, now + 301, &body)),
            "future timestamp",
        ),
        (
            Some(FakeStripe::sign(
                WEBHOOK_SECRET,
                now,
                &body.replace("evt_sig", "evt_sih"),
            )),
            "another body",
        ),
        (Some(format!("t={now}")), "no v1"),
        (None, "no header"),
    ] {
        let (status, reply) = fake.deliver(&app.base, &body, signature).await;
        assert_eq!(
            (status, reply["error"]["code"].as_str()),
            (400, Some("invalid_signature")),
            "{why}: {reply}"
        );
    }
    assert_eq!(
        app.get("/payouts/account", &org.key).await.data()["status"],
        "pending_verification"
    );
    assert_eq!(
        entity::provider_event::Entity::find()
            .count(app.db())
            .await
            .unwrap(),
        0
    );

    // The previous secret still works during the rotation, as does the new.
    let (status, reply) = fake
        .deliver(
            &app.base,
            &body,
            Some(FakeStripe::sign("whsec_fake_previous", now, &body)),
        )
        .await;
    assert_eq!(
        (status, reply["data"]["result"].as_str()),
        (200, Some("applied")),
        "{reply}"
    );
    assert_eq!(
        app.get("/payouts/account", &org.key).await.data()["status"],
        "verified"
    );
    let (status, reply) = fake
        .deliver(
            &app.base,
            &body,
            Some(FakeStripe::sign(WEBHOOK_SECRET, now, &body)),
        )
        .await;
    assert_eq!(
        (status, reply["data"]["result"].as_str()),
        (200, Some("duplicate")),
        "a replay changes nothing"
    );
    // A sandbox-signed event is not Stripe's.
    let (status, _) = fake
        .deliver(&app.base, &body, Some(app.signed_webhook(&body, now)))
        .await;
    assert_eq!(status, 400);
    app.stop().await;
}

fn transfer_keys(fake: &FakeStripe) -> Vec<String> {
    fake.calls("POST", "/v1/transfers")
        .iter()
        .map(|c| c.header("idempotency-key").unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_answers_500_then_200_and_one_transfer_is_made() {
    let fake = FakeStripe::start().await;
    let app = TestApp::spawn_stripe(&fake, |_| {}).await;
    let Verified { org, account, .. } = verified_live_org(&app, &fake).await;
    fake.fail_next("POST", "/v1/transfers", Fault::Status(500));
    let created = payout(&app, &org, 2500).await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(
        created["status"], "pending",
        "an outage leaves the payout pending"
    );
    assert!(fake.transfers().is_empty());
    assert_eq!(app.balance(&org).await["inPayout"], 2500);

    // The submit job: Stripe saved the 500 under the first key, so the
    // retry looks the transfer up first and creates it under a key of its own.
    app.advance(app.config.provider_retry_delay * 2);
    app.run_due_jobs().await;
    assert_eq!(fake.transfers().len(), 1, "one transfer");
    // Every try uses the same key (so concurrent tries make one transfer);
    // Stripe replays the saved 500 under it, the transfer is looked up
    // (absent), then created under the next key.
    assert_eq!(
        transfer_keys(&fake),
        [
            format!("{id}-transfer"),
            format!("{id}-transfer"),
            format!("{id}-transfer-r1")
        ]
    );
    let lookups = fake.calls("GET", "/v1/transfers");
    assert_eq!(lookups[0].field("transfer_group"), Some(id.as_str()));
    let row = payout_row(&app, &id).await;
    assert_eq!(
        row.provider_transfer_id.as_deref(),
        fake.transfers()[0]["id"].as_str()
    );
    assert_eq!(fake.payouts(&account).len(), 1);
    // Running the jobs again makes nothing more.
    app.advance(std::time::Duration::from_secs(3600));
    app.run_due_jobs().await;
    assert_eq!(
        (fake.transfers().len(), fake.payouts(&account).len()),
        (1, 1)
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_transfer_stripe_made_is_reconciled_once_and_a_lost_paid_event_too() {
    let fake = FakeStripe::start().await;
    let app = TestApp::spawn_stripe(&fake, |c| {
        c.reconcile_after = std::time::Duration::from_secs(3600);
    })
    .await;
    let Verified { org, account, .. } = verified_live_org(&app, &fake).await;
    fake.fail_next("POST", "/v1/transfers", Fault::TimeoutAfterCreate);
    let created = payout(&app, &org, 2500).await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["status"], "pending");
    assert_eq!(fake.transfers().len(), 1, "Stripe made it; we never heard");
    assert_eq!(payout_row(&app, &id).await.provider_transfer_id, None);

    // Reconciliation finds the transfer by its transfer_group (the manual
    // clock moves past the payout's creation, stamped by the real clock).
    app.advance(std::time::Duration::from_secs(60));
    let changes = payouts::service::reconcile::run(app.app(), Some(&org.id))
        .await
        .unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].kind, "found_at_provider");
    let transfer_id = fake.transfers()[0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        payout_row(&app, &id).await.provider_transfer_id.as_deref(),
        Some(transfer_id.as_str())
    );
    // The submit job finishes it (the bank payout) without a second transfer.
    app.run_due_jobs().await;
    assert_eq!(transfer_keys(&fake).len(), 1, "no second transfer request");
    assert_eq!(fake.transfers().len(), 1);
    let po = fake.payouts(&account);
    assert_eq!(po.len(), 1);
    let po = po[0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        payout_row(&app, &id).await.provider_payout_id.as_deref(),
        Some(po.as_str())
    );

    // The bank paid it, and the payout.paid event was lost: once overdue,
    // reconciliation asks Stripe and settles it, once.
    fake.set_payout(&account, &po, "paid", None);
    let changes = payouts::service::reconcile::run(app.app(), None)
        .await
        .unwrap();
    assert!(changes.is_empty(), "not overdue yet: {changes:?}");
    app.advance(std::time::Duration::from_secs(7200));
    let changes = payouts::service::reconcile::run(app.app(), None)
        .await
        .unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(
        (changes[0].kind, changes[0].from, changes[0].to),
        ("status", "pending", "paid")
    );
    assert_eq!(
        app.get(&format!("/payouts/{id}"), &org.key).await.data()["status"],
        "paid"
    );
    let balance = app.balance(&org).await;
    assert_eq!(
        (balance["available"].as_i64(), balance["inPayout"].as_i64()),
        (Some(47_500), Some(0))
    );
    assert!(payouts::service::reconcile::run(app.app(), None)
        .await
        .unwrap()
        .is_empty());
    // The late event changes nothing more.
    let object = fake.set_payout(&account, &po, "paid", None);
    let body = FakeStripe::event("evt_late_paid", "payout.paid", object, Some(&account));
    assert_eq!(event_result(&fake, &app, &body).await, "ignored");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_submit_attempt_never_fails_a_payout_stripe_may_have_made() {
    let fake = FakeStripe::start().await;
    let app = TestApp::spawn_stripe(&fake, |c| c.provider_max_attempts = 1).await;
    let Verified { org, account, .. } = verified_live_org(&app, &fake).await;
    fake.fail_next("POST", "/v1/transfers", Fault::TimeoutAfterCreate);
    let id = payout(&app, &org, 2500).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Stripe cannot even be asked: the job's last attempt must not give up.
    fake.fail_next("GET", "/v1/transfers", Fault::Status(500));
    fake.fail_next("GET", "/v1/transfers", Fault::Status(503));
    app.advance(app.config.provider_retry_delay * 2);
    app.run_due_jobs().await;
    let row = payout_row(&app, &id).await;
    assert_eq!(
        row.status,
        entity::states::PayoutStatus::Pending,
        "not failed while unknown"
    );
    assert_eq!(app.balance(&org).await["inPayout"], 2500);
    // Stripe answers again: the transfer is found, the payout completed.
    app.advance(std::time::Duration::from_secs(3600));
    app.run_due_jobs().await;
    assert_eq!(fake.transfers().len(), 1);
    assert_eq!(transfer_keys(&fake).len(), 1);
    assert_eq!(fake.payouts(&account).len(), 1);
    let row = payout_row(&app, &id).await;
    assert!(row.provider_payout_id.is_some());
    assert_eq!(row.status, entity::states::PayoutStatus::Pending);

    // When Stripe certainly has nothing, the last attempt fails it: money back.
    fake.fail_next("POST", "/v1/transfers", Fault::Status(500));
    let other = payout(&app, &org, 1000).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    fake.fail_next("POST", "/v1/transfers", Fault::Status(500));
    app.advance(std::time::Duration::from_secs(3600));
    app.run_due_jobs().await;
    let other = payout_row(&app, &other).await;
    assert_eq!(other.status, entity::states::PayoutStatus::Failed);
    assert_eq!(other.failure_code.as_deref(), Some("provider_error"));
    assert_eq!(app.balance(&org).await["available"], 47_500);
    assert_eq!(fake.transfers().len(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payouts_reconcile_prints_what_it_changed() {
    let fake = FakeStripe::start().await;
    let app = TestApp::spawn_stripe(&fake, |_| {}).await;
    let Verified { org, account, .. } = verified_live_org(&app, &fake).await;
    let id = payout(&app, &org, 2500).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let po = payout_row(&app, &id).await.provider_payout_id.unwrap();
    fake.set_payout(
        &account,
        &po,
        "failed",
        Some(("no_account", "No bank account could be located.")),
    );
    let binary = common::binary::Binary::new()
        .env("DATABASE_URL", &app.config.database_url)
        .env(
            "PAYOUTS_ENCRYPTION_KEY",
            payouts::crypto::Cipher::generate_key_hex(),
        )
        .env("PAYOUTS_PROVIDER", "stripe")
        .env("STRIPE_SECRET_KEY", SECRET_KEY)
        .env("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
        .env("STRIPE_API_BASE", &fake.base)
        .env("STRIPE_FILES_BASE", &fake.base)
        .env("PAYOUTS_RECONCILE_AFTER_MS", "1");
    // The binary reads the system clock: the payout is over 1 ms old by the
    // time the process has started.
    let out = binary.cli(&["reconcile", "--org", &org.id]).await;
    assert_eq!(out["changed"], 1, "{out}");
    let change = &out["changes"][0];
    assert_eq!(
        (
            change["payoutId"].as_str(),
            change["from"].as_str(),
            change["to"].as_str()
        ),
        (Some(id.as_str()), Some("pending"), Some("failed"))
    );
    let row = payout_row(&app, &id).await;
    assert_eq!(row.failure_code.as_deref(), Some("no_account"));
    assert_eq!(app.balance(&org).await["available"], 50_000);
    let out = binary.cli(&["reconcile"]).await;
    assert_eq!(out["changed"], 0, "applied once: {out}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verification_stripe_failed_is_retried_under_a_fresh_key_and_makes_one_account() {
    let fake = FakeStripe::start().await;
    let app = TestApp::spawn_stripe(&fake, |_| {}).await;
    let org = app.org_with(true).await;
    fake.fail_next("POST", "/v1/accounts", Fault::Status(500));
    let body = app.verification_body("1990-01-01", GOOD_ACCOUNT);
    let reply = app
        .post("/payouts/verification", &org.key, body.clone())
        .await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_code()),
        (502, "provider_error"),
        "{}",
        reply.body
    );
    assert_eq!(app.get("/payouts/account", &org.key).await.status, 404);
    assert_eq!(fake.accounts(), 0);

    // The retry: Stripe replays the saved 500 under the first key; the
    // account is looked up (absent), then created under the next key.
    let reply = app.post("/payouts/verification", &org.key, body).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(fake.accounts(), 1);
    let pa = reply.data()["id"].as_str().unwrap().to_string();
    let keys: Vec<String> = fake
        .calls("POST", "/v1/accounts")
        .iter()
        .map(|c| c.header("idempotency-key").unwrap().to_string())
        .collect();
    assert_eq!(
        keys,
        [
            format!("{pa}-account"),
            format!("{pa}-account"),
            format!("{pa}-account-r1")
        ]
    );
    assert_eq!(fake.calls("GET", "/v1/accounts").len(), 1);
    app.stop().await;
}

/// A payout whose organization has no payout account (any more) is never
/// asked about under an empty account id: it is skipped, with a log line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_skips_a_payout_without_payout_account_and_says_so() {
    let logs = logs::captured_logs();
    let fake = FakeStripe::start().await;
    let app = TestApp::spawn_stripe(&fake, |c| {
        c.reconcile_after = std::time::Duration::from_secs(3600);
    })
    .await;
    let Verified {
        org,
        payout_account_id,
        ..
    } = verified_live_org(&app, &fake).await;
    let id = payout(&app, &org, 2500).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The account now belongs to another organization: this one has none.
    let other = app.org_with(true).await;
    entity::payout_account::Entity::update_many()
        .col_expr(
            entity::payout_account::Column::OrganizationId,
            Expr::value(other.id.clone()),
        )
        .filter(entity::payout_account::Column::Id.eq(payout_account_id))
        .exec(app.db())
        .await
        .unwrap();
    let asked_before = fake.requests().len();
    app.advance(std::time::Duration::from_secs(7200));
    let changes = payouts::service::reconcile::run(app.app(), Some(&org.id))
        .await
        .unwrap();
    assert!(changes.is_empty(), "{changes:?}");
    let asked: Vec<_> = fake.requests()[asked_before..]
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(asked.is_empty(), "Stripe was asked: {asked:?}");
    assert!(
        logs.lines().iter().any(|line| line["payout"] == id.as_str()
            && line["message"] == "payout not reconciled: its organization has no payout account"
            && line["level"] == "WARN"),
        "a log line names the payout and why: {}",
        logs.text()
    );
    assert_eq!(
        payout_row(&app, &id).await.status,
        entity::states::PayoutStatus::Pending
    );
    app.stop().await;
}
