"""Schemathesis hooks for `make contract` (loaded by scripts/contract.sh via
SCHEMATHESIS_HOOKS).

- Provider webhook bodies are signed as the provider signs them
  (`Stripe-Signature: t=<unix>,v1=<HMAC-SHA256 of "t.body">`) with the sandbox
  secret the service under test was started with, so fuzzed bodies get past
  the signature check to the event parser. The signature is a function of
  the body, like a credential: a positive case always gets a valid one; a
  negative case keeps a `Stripe-Signature` it generated (a header test).
- Webhook endpoint URLs (create, PATCH, PUT) get the loopback receiver
  contract.sh runs (allow-listed in the service) as their scheme, host and
  port; the generated path, query and fragment stay. The run then makes no
  connection outside this machine, and a schema-valid URL is one the service
  takes (whether a generated host is internal is a matter of DNS, which no
  schema states). So the host's own syntax (IDNA, IP literals), which the
  pattern does not state either, is not fuzzed here. A URL that is not `http(s)://` plus a host is sent as
  generated (a negative case), and schemathesis re-judges every edited case
  against the schema before checking its answer.
- A schema cannot say "before today": a positive test case's future
  `individual.dateOfBirth` is moved 100 years back. Negative cases are sent
  as generated.
"""
import datetime
import hashlib
import hmac
import json
import os
import re
import time

import schemathesis
from schemathesis import GenerationMode

WEBHOOK_SECRET = os.environ["PAYOUTS_SANDBOX_WEBHOOK_SECRET"]
# `http://127.0.0.1:PORT`, the receiver's origin.
RECEIVER = os.environ["CONTRACT_RECEIVER"]
WEBHOOK_URL_OPERATIONS = {"createWebhook", "updateWebhook", "putWebhook"}
# The scheme and authority of a generated URL, as the schema's pattern splits them.
_ORIGIN = re.compile(r"^https?://[^/?#]+")
URL_MAX_CHARS = 2048


def _is_positive(case) -> bool:
    meta = case.meta
    generation = getattr(meta, "generation", None)
    return getattr(generation, "mode", None) == GenerationMode.POSITIVE


def _sign(case, kwargs) -> None:
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "stripe-signature"}
    if not _is_positive(case) and len(headers) != len(case.headers or {}):
        return
    if isinstance(case.body, (dict, list)):
        raw = json.dumps(case.body, separators=(",", ":")).encode()
    else:
        return  # not a JSON document: the transport's own encoding, unsigned
    # The exact bytes that are signed are the bytes sent.
    kwargs["data"] = raw
    timestamp = int(time.time())
    digest = hmac.new(WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256)
    case.headers = {**headers, "Stripe-Signature": f"t={timestamp},v1={digest.hexdigest()}"}


def _birth_date_in_the_past(case) -> None:
    if not _is_positive(case) or not isinstance(case.body, dict):
        return
    person = case.body.get("individual")
    if not isinstance(person, dict) or not isinstance(person.get("dateOfBirth"), str):
        return
    try:
        born = datetime.date.fromisoformat(person["dateOfBirth"])
    except ValueError:
        return
    today = datetime.date.today()
    if born > today:
        past = born.replace(year=max(1, min(born.year, today.year) - 100), day=min(born.day, 28))
        case.body = {**case.body, "individual": {**person, "dateOfBirth": past.isoformat()}}


def _url_to_receiver(case) -> None:
    if not isinstance(case.body, dict) or not isinstance(case.body.get("url"), str):
        return
    url = case.body["url"]
    origin = _ORIGIN.match(url)
    if origin is None:
        return
    local = RECEIVER + url[origin.end():]
    if len(url) <= URL_MAX_CHARS < len(local):
        local = local[:URL_MAX_CHARS]  # stays within maxLength when the generated one was
    case.body = {**case.body, "url": local}


@schemathesis.hook
def before_call(ctx, case, kwargs):
    operation_id = case.operation.definition.raw.get("operationId")
    if operation_id == "receiveProviderWebhook":
        _sign(case, kwargs)
    elif operation_id == "completePayoutVerification":
        _birth_date_in_the_past(case)
    elif operation_id in WEBHOOK_URL_OPERATIONS:
        _url_to_receiver(case)
