"""The official Python SDK (commet-sdk, unmodified) against this service."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime

import pytest
from commet import CommetAPIError, CommetValidationError
from commet.types import Payout, PayoutBankAccount

from commet._shared import API_VERSION as SDK_DEFAULT_VERSION

from helpers import (
    API_VERSION,
    BASE_URL,
    TEST_ROUTING,
    FaultyProxy,
    answering_version,
    api,
    balance,
    new_org,
    resource,
    sdk,
    verified_org,
    wait_for_status,
)


def wire_names(model: type) -> set[str]:
    return {f.metadata["wire_name"] for f in fields(model)}


def assert_rfc3339(value: str) -> None:
    assert value.endswith("Z"), value
    datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_add_bank_account_parses_as_payout_bank_account():
    org = verified_org()
    client, responses = sdk(org.key)

    account = client.payouts.add_bank_account(
        account_number="000123456789",
        account_holder_name="Bea Park",
        routing_number=TEST_ROUTING,
        account_type="savings",
        set_default=True,
    )

    assert isinstance(account, PayoutBankAccount)
    assert account.object == "payout_bank_account"
    assert account.id.startswith("pba_")
    assert account.holder_name == "Bea Park"
    assert account.last4 == "6789"
    assert account.account_type == "savings"
    assert account.is_default is True
    assert account.status == "active"
    assert (account.country, account.currency) == ("US", "usd")
    assert account.livemode is False
    assert account.provider_external_account_id
    assert_rfc3339(account.created_at)
    # Every field the SDK's model declares is on the wire (the SDK would
    # silently default a missing one), and the account number is not.
    sent = resource(responses[-1])
    assert wire_names(PayoutBankAccount) <= set(sent), set(sent) ^ wire_names(PayoutBankAccount)
    assert "000123456789" not in responses[-1].text


def test_request_payout_parses_as_payout_and_settles():
    org = verified_org(credit=50_000)
    client, responses = sdk(org.key)

    payout = client.payouts.request(amount=12_345, description="SDK payout")

    assert isinstance(payout, Payout)
    assert payout.object == "payout"
    assert payout.id.startswith("po_")
    assert payout.status == "pending"
    assert (payout.amount, payout.fee, payout.net_amount) == (12_345, 0, 12_345)
    assert payout.currency == "usd"
    assert payout.description == "SDK payout"
    assert payout.provider_transfer_id
    assert payout.livemode is False
    assert_rfc3339(payout.created_at)
    sent = resource(responses[-1])
    assert wire_names(Payout) <= set(sent), set(sent) ^ wire_names(Payout)

    wait_for_status(f"/payouts/{payout.id}", org.key, "paid")
    money = balance(org)
    assert (money["available"], money["inPayout"], money["paidOut"]) == (50_000 - 12_345, 0, 12_345)


def test_the_sdk_is_answered_in_the_version_it_sends():
    # commet-sdk 9.7.0 sends 2026-08-27 unless told otherwise; this service
    # answers it as 2026-07-24 (the nearest earlier version it knows).
    assert SDK_DEFAULT_VERSION == "2026-08-27"
    org = new_org(credit=50_000)
    client, responses = sdk(org.key)
    with pytest.raises(CommetAPIError):
        client.payouts.request(amount=1_000)  # no payout account yet: 409
    sent = responses[-1].request.headers["commet-version"]
    assert sent == (API_VERSION or SDK_DEFAULT_VERSION)
    assert responses[-1].headers["commet-version"] == answering_version(sent)
    body = responses[-1].json()
    assert body["error"]["code"] == "payout_account_required"
    # `success: false` only in the envelope version.
    assert ("success" in body) == (answering_version(sent) == "2026-07-11"), body


def test_validation_error_has_per_field_messages():
    org = new_org(credit=50_000)
    client, responses = sdk(org.key)

    with pytest.raises(CommetValidationError) as raised:
        client.payouts.request(amount=5)
    err = raised.value
    assert err.status_code == 422
    assert err.code == "validation_error"
    assert list(err.validation_errors) == ["amount"]
    assert "1000" in err.validation_errors["amount"][0]
    assert err.param == "amount"
    assert err.request_id == responses[-1].headers["x-request-id"]

    with pytest.raises(CommetValidationError) as raised:
        client.payouts.add_bank_account(account_number="", account_holder_name="", account_type="cheque")
    errors = raised.value.validation_errors
    assert set(errors) == {"accountNumber", "accountHolderName", "accountType"}
    assert all(messages and all(messages) for messages in errors.values()), errors
    assert balance(org)["available"] == 50_000


def test_unknown_key_is_an_api_error_401_with_request_id():
    client, responses = sdk("ck_test_not_a_key_this_service_issued")

    with pytest.raises(CommetAPIError) as raised:
        client.payouts.request(amount=1_000)
    err = raised.value
    assert not isinstance(err, CommetValidationError)
    assert (err.status_code, err.code, err.type) == (401, "unauthorized", "authentication_error")
    assert err.request_id and err.request_id.startswith("req_")
    assert err.request_id == responses[-1].headers["x-request-id"]
    assert len(responses) == 1  # not retried


def test_insufficient_balance_is_an_api_error_402_with_request_id():
    org = verified_org(credit=2_000)
    client, responses = sdk(org.key)

    with pytest.raises(CommetAPIError) as raised:
        client.payouts.request(amount=5_000)
    err = raised.value
    assert (err.status_code, err.code, err.type) == (402, "insufficient_balance", "billing_error")
    assert err.request_id and err.request_id.startswith("req_")
    assert err.request_id == responses[-1].headers["x-request-id"]
    assert len(responses) == 1  # not retried
    money = balance(org)
    assert (money["available"], money["inPayout"]) == (2_000, 0)


def test_retry_after_503_reuses_the_idempotency_key_and_creates_one_payout():
    # Enough for two payouts, so a duplicate would show in the balance.
    org = verified_org(credit=50_000)
    with FaultyProxy(BASE_URL) as proxy:
        client, responses = sdk(org.key, base_url=proxy.url)
        payout = client.payouts.request(amount=20_000)

    assert [r.status_code for r in responses] == [503, 201]
    first, retry = proxy.posts
    key = first.headers["Idempotency-Key"]
    assert key.startswith("commet-python-retry-")
    assert retry.headers["Idempotency-Key"] == key
    # The first attempt did create the payout; the retry got it back.
    assert first.upstream_status == 201
    assert retry.upstream_headers.get("idempotent-replayed") == "true"
    assert payout.id == resource(first.upstream)["id"]

    money = balance(org)
    assert money["available"] == 30_000
    assert money["inPayout"] + money["paidOut"] == 20_000
    assert api("GET", f"/payouts/{payout.id}", org.key).json()["data"]["amount"] == 20_000


def test_deprecated_complete_verification_is_refused_cleanly():
    # commet-sdk 9.7.0's only verification method is deprecated and posts no
    # body: the contract's 400 invalid_json, and no payout account appears.
    org = new_org()
    client, responses = sdk(org.key)

    with pytest.raises(CommetAPIError) as raised:
        client.payouts.complete_verification()
    err = raised.value
    assert not isinstance(err, CommetValidationError)
    assert (err.status_code, err.code, err.type) == (400, "invalid_json", "validation_error")
    assert err.request_id == responses[-1].headers["x-request-id"]
    assert api("GET", "/payouts/account", org.key).status_code == 404
