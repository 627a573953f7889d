"""Helpers for driving the service with the official Python SDK (commet-sdk).

The harness (tests/sdk/run.sh) starts the service and exports
PAYOUTS_BASE_URL, PAYOUTS_BIN (the operator CLI, same database) and
PAYOUTS_DOCUMENT_URL (a local identity document the service may fetch). It
runs the suite twice: with the SDK's own API version (commet-sdk 9.7.0 sends
Commet-Version 2026-08-27, which this service answers as 2026-07-24: the
resources themselves), and with COMMET_API_VERSION=2026-07-11, passed to the
SDK as `api_version` (the seed's `{success, data}` envelope).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
from commet import Commet

BASE_URL = os.environ["PAYOUTS_BASE_URL"]
GOOD_ACCOUNT = "000123456789"
TEST_ROUTING = "110000000"
# The version the SDK is told to send (None: its own default).
API_VERSION = os.environ.get("COMMET_API_VERSION") or None
# This service's versions: from 2026-07-24 on, answers are the resources
# themselves; before, the `{success, data}` envelope. A date this service
# does not know is answered by the nearest earlier version it knows.
DIRECT_SINCE = "2026-07-24"


def answering_version(sent: str) -> str:
    return DIRECT_SINCE if sent >= DIRECT_SINCE else "2026-07-11"


def resource(response: httpx.Response) -> dict:
    """The resource a response carries, checked to be in the shape of the
    version the request asked for (and that the response says it used)."""
    sent = response.request.headers["commet-version"]
    assert response.headers["commet-version"] == answering_version(sent), response.headers
    body = response.json()
    if sent >= DIRECT_SINCE:
        assert "success" not in body and "data" not in body, body
        return body
    assert body["success"] is True and set(body) == {"success", "data"}, body
    return body["data"]


@dataclass
class Org:
    id: str
    key: str


def cli(*args: str) -> dict:
    out = subprocess.run(
        [os.environ["PAYOUTS_BIN"], *args], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out)


def new_org(credit: int = 0) -> Org:
    created = cli("org", "create", "--name", "SDK Python")
    org = Org(created["organizationId"], created["apiKey"])
    if credit:
        cli("balance", "credit", "--org", org.id, "--amount", str(credit))
    return org


def sdk(api_key: str, base_url: str = BASE_URL) -> tuple[Commet, list[httpx.Response]]:
    """An unmodified SDK client whose HTTP client talks to `base_url`, and
    the list of raw responses it receives (the SDK's base URL is a constant;
    only its httpx client is re-pointed and observed)."""
    client = Commet(api_key, api_version=API_VERSION) if API_VERSION else Commet(api_key)
    responses: list[httpx.Response] = []

    def record(response: httpx.Response) -> None:
        response.read()
        responses.append(response)

    http = client._http._client
    http.base_url = f"{base_url}/api/v1"
    http.event_hooks["response"].append(record)
    return client, responses


def api(method: str, path: str, key: str, body: dict | None = None) -> httpx.Response:
    """Plain HTTP, for what the SDK has no method for."""
    return httpx.request(
        method, f"{BASE_URL}/api/v1{path}", headers={"x-api-key": key}, json=body
    )


def wait_for_status(path: str, key: str, want: str, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        data = api("GET", path, key).json().get("data") or {}
        if data.get("status") == want:
            return data
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} never reached {want}: {data}")
        time.sleep(0.05)


def verification_body(account_number: str = GOOD_ACCOUNT) -> dict:
    return {
        "email": "owner@acme.test",
        "businessType": "individual",
        "businessUrl": "https://acme.test",
        "documentUrl": os.environ["PAYOUTS_DOCUMENT_URL"],
        "bank": {
            "accountNumber": account_number,
            "accountHolderName": "Ann Lee",
            "routingNumber": TEST_ROUTING,
            "accountType": "checking",
        },
        "individual": {
            "firstName": "Ann",
            "lastName": "Lee",
            "phone": "+15550100",
            "dateOfBirth": "1990-01-01",
            "address": {
                "line1": "1 Main St",
                "city": "San Francisco",
                "state": "CA",
                "postalCode": "94107",
                "country": "US",
            },
        },
    }


def verified_org(credit: int = 0) -> Org:
    """An organization whose payout account the sandbox provider verified.
    commet-sdk 9.7.0's `complete_verification` is deprecated and sends no
    body, so verification goes over plain HTTP."""
    org = new_org(credit)
    reply = api("POST", "/payouts/verification", org.key, verification_body())
    assert reply.status_code == 201, reply.text
    wait_for_status("/payouts/account", org.key, "verified")
    return org


def balance(org: Org) -> dict:
    return api("GET", "/balance", org.key).json()["data"]


@dataclass
class Exchange:
    headers: dict[str, str]
    upstream_status: int
    upstream_headers: dict[str, str]
    upstream_body: dict
    upstream: httpx.Response


@dataclass
class FaultyProxy:
    """Forwards everything to the service, except that the first
    POST /api/v1/payouts is forwarded, its answer thrown away, and the
    client told 503: the payout exists but the client does not know it."""

    upstream: str
    posts: list[Exchange] = field(default_factory=list)

    def __enter__(self) -> FaultyProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def forward(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                skip = {"host", "content-length", "connection"}
                headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
                reply = httpx.request(
                    self.command, proxy.upstream + self.path, headers=headers, content=body
                )
                if self.command == "POST" and self.path == "/api/v1/payouts":
                    proxy.posts.append(
                        Exchange(dict(self.headers), reply.status_code, dict(reply.headers), reply.json(), reply)
                    )
                    if len(proxy.posts) == 1:
                        return self.answer(
                            503,
                            {"content-type": "application/json"},
                            b'{"success":false,"error":{"type":"api_error","code":"unavailable",'
                            b'"message":"injected fault","param":null,"details":null,"doc_url":null}}',
                        )
                self.answer(reply.status_code, reply.headers, reply.content)

            def answer(self, status: int, headers, content: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in {"content-length", "transfer-encoding", "connection", "date"}:
                        self.send_header(name, value)
                self.send_header("content-length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *args: object) -> None:
        self.server.shutdown()
        self.server.server_close()
