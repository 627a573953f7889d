"""Webhook endpoints through the official Python SDK (commet-sdk, unmodified),
and deliveries checked with the SDK's own `webhooks.verify` and with the
PyPI `standardwebhooks` package."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from commet import CommetAPIError
from commet.types import CreatedWebhook, Webhook, WebhookTest
from commet.webhook_events import (
    PayoutAvailableData,
    PayoutCreatedData,
    PayoutPaidData,
    WebhookEvent,
)
from standardwebhooks.webhooks import Webhook as StandardWebhook

from helpers import api, cli, new_org, resource, sdk, verification_body, wait_for_status

RECEIVER_PORT = int(os.environ["PAYOUTS_PY_WEBHOOK_PORT"])
ALL_EVENTS = ["payout.created", "payout.paid", "payout.failed", "payout.available"]


@dataclass
class Delivery:
    headers: dict[str, str]
    body: str


class Receiver:
    """Records every POST it gets and answers 200."""

    def __init__(self) -> None:
        self.got: list[Delivery] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length).decode()
                receiver.got.append(Delivery({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", RECEIVER_PORT), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    url = f"http://127.0.0.1:{RECEIVER_PORT}/hooks"

    def events(self, name: str) -> list[Delivery]:
        import json

        return [d for d in self.got if json.loads(d.body)["event"] == name]

    def wait_for(self, names: list[str], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not all(self.events(name) for name in names):
            if time.monotonic() > deadline:
                raise AssertionError(f"never received {names}: {[d.body for d in self.got]}")
            time.sleep(0.05)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def wire_names(model: type) -> set[str]:
    return {f.metadata["wire_name"] for f in fields(model)}


def check(client, delivery: Delivery, secret: str) -> WebhookEvent:
    # Commet's own check, exactly as an integration would call it.
    assert client.webhooks.verify(
        payload=delivery.body, signature=delivery.headers["x-commet-signature"], secret=secret
    )
    assert not client.webhooks.verify(
        payload=delivery.body + " ", signature=delivery.headers["x-commet-signature"], secret=secret
    )
    parsed = client.webhooks.verify_and_parse(
        raw_body=delivery.body, signature=delivery.headers["x-commet-signature"], secret=secret
    )
    assert parsed is not None
    # Standard Webhooks: the same secret, replay-protected headers.
    StandardWebhook(secret).verify(delivery.body, delivery.headers)
    assert delivery.headers["x-commet-event-id"] == parsed["id"] == delivery.headers["webhook-id"]
    assert delivery.headers["x-commet-event"] == parsed["event"]
    return WebhookEvent(**{k: parsed[k] for k in ("event", "timestamp", "organizationId", "mode", "apiVersion", "data")})


def test_webhook_endpoints_through_the_sdk(receiver):
    org = new_org()
    client, responses = sdk(org.key)

    created = client.webhooks.create(url=receiver.url, events=ALL_EVENTS, description="Py SDK")
    assert responses[-1].status_code == 201
    assert isinstance(created, CreatedWebhook)
    assert set(resource(responses[-1])) >= wire_names(CreatedWebhook)
    assert created.secret_key.startswith("whsec_")
    assert created.is_active and created.events == ALL_EVENTS
    assert created.api_version == "2026-07-11"

    got = client.webhooks.get(created.id)
    assert isinstance(got, Webhook) and got.id == created.id
    assert "secretKey" not in resource(responses[-1])
    assert set(resource(responses[-1])) >= wire_names(Webhook)

    listed = client.webhooks.list()
    # From 2026-07-24 the SDK returns the list object (`WebhooksListResult`).
    if hasattr(listed, "data"):
        assert listed.object == "list" and listed.has_more is False
        listed = listed.data
    ids = [w["id"] if isinstance(w, dict) else w.id for w in listed]
    assert ids == [created.id]

    # PATCH: only the given fields change.
    updated = client.webhooks.update(created.id, description="renamed")
    assert responses[-1].request.method == "PATCH"
    assert updated.description == "renamed" and updated.events == ALL_EVENTS
    assert updated.url == receiver.url

    test = client.webhooks.test(created.id)
    assert isinstance(test, WebhookTest)
    assert test.success is True and test.delivery_id.startswith("whdl_")
    receiver.wait_for(["webhook.test"])
    check(client, receiver.events("webhook.test")[0], created.secret_key)

    with pytest.raises(CommetAPIError) as refused:
        client.webhooks.create(url="http://10.0.0.1/hooks", events=["payout.paid"])
    assert refused.value.status_code == 422

    deleted = client.webhooks.delete(created.id)
    assert deleted.deleted is True and deleted.id == created.id and deleted.object == "webhook"
    with pytest.raises(CommetAPIError) as gone:
        client.webhooks.get(created.id)
    assert gone.value.status_code == 404


def test_a_payouts_lifecycle_arrives_verified_and_parses_as_the_sdks_types(receiver):
    org = new_org()
    client, _ = sdk(org.key)
    endpoint = client.webhooks.create(url=receiver.url, events=ALL_EVENTS)
    cli("balance", "credit", "--org", org.id, "--amount", "10000")
    reply = api("POST", "/payouts/verification", org.key, verification_body())
    assert reply.status_code == 201, reply.text
    wait_for_status("/payouts/account", org.key, "verified")
    payout = client.payouts.request(amount=2500)
    wait_for_status(f"/payouts/{payout.id}", org.key, "paid")
    receiver.wait_for(["payout.available", "payout.created", "payout.paid"])

    available = check(client, receiver.events("payout.available")[0], endpoint.secret_key)
    assert available.as_payout_available() == PayoutAvailableData(availableAmount=10000, currency="usd")
    created = check(client, receiver.events("payout.created")[0], endpoint.secret_key)
    assert set(created.data) == {f.name for f in fields(PayoutCreatedData)}
    data = created.as_payout_created()
    assert (data.payoutId, data.amount, data.status) == (payout.id, 2500, "pending")
    # The SDK's WebhookBankRef names its wire fields (`bankName`, `last4`) in its metadata.
    assert created.data["destinationBank"] == {"bankName": "STRIPE TEST BANK", "last4": "6789"}
    assert {f.metadata["wire_name"] for f in fields(type(data.destinationBank))} == {"bankName", "last4"}
    paid = check(client, receiver.events("payout.paid")[0], endpoint.secret_key)
    assert set(paid.data) == {f.name for f in fields(PayoutPaidData)}
    assert paid.as_payout_paid().paidAt
    assert paid.mode == "sandbox" and paid.organizationId == org.id
    assert len(receiver.events("payout.paid")) == 1
