"""Schemathesis hooks for `make contract` (loaded by scripts/contract.sh via
SCHEMATHESIS_HOOKS).

- Provider webhook bodies are signed as the provider signs them
  (`Stripe-Signature: t=<unix>,v1=<HMAC-SHA256 of "t.body">`) with the sandbox
  secret the service under test was started with, so fuzzed bodies get past
  the signature check to the event parser. The signature is a function of
  the body, like a credential: a positive case always gets a valid one; a
  negative case keeps a `Stripe-Signature` it generated (a header test).
- A schema cannot say "before today": a positive test case's future
  `individual.dateOfBirth` is moved 100 years back. Negative cases are sent
  as generated.
"""
import datetime
import hashlib
import hmac
import json
import os
import time

import schemathesis
from schemathesis import GenerationMode

WEBHOOK_SECRET = os.environ["PAYOUTS_SANDBOX_WEBHOOK_SECRET"]


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


@schemathesis.hook
def before_call(ctx, case, kwargs):
    operation_id = case.operation.definition.raw.get("operationId")
    if operation_id == "receiveProviderWebhook":
        _sign(case, kwargs)
    elif operation_id == "completePayoutVerification":
        _birth_date_in_the_past(case)
