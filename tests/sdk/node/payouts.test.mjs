// The official Node SDK (@commet/node, unmodified) against this service.
import assert from "node:assert/strict";
import { test } from "node:test";
import { CommetAPIError, CommetValidationError } from "@commet/node";
import {
  BASE_URL,
  TEST_ROUTING,
  api,
  balance,
  declaredFields,
  faultyProxy,
  newOrg,
  responses,
  sdk,
  verificationParams,
  verifiedOrg,
  waitForStatus,
} from "./helpers.mjs";

// The object carries every property the SDK's type declares as required
// (a missing one would be `undefined` where the type promises a value).
function assertMatchesDeclaredType(object, name) {
  const declared = declaredFields(name);
  const required = Object.keys(declared).filter((field) => !declared[field]);
  assert.ok(required.length >= 5, `parsed ${name} from the SDK's types`);
  for (const field of required) assert.ok(field in object, `${name}.${field} missing`);
}

const RFC3339_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

test("completeVerification provisions the payout account, then is idempotent", async () => {
  const org = newOrg();
  const client = sdk(org.key);

  const created = await client.payouts.completeVerification(verificationParams());
  assert.equal(responses.at(-1).status, 201);
  assert.equal(created.success, true);
  assertMatchesDeclaredType(created.data, "PayoutVerification");
  assert.equal(created.data.object, "payout_account");
  assert.equal(created.data.status, "pending_verification");
  assert.equal(created.data.alreadyExists, false);
  assert.equal(created.data.livemode, false);

  await waitForStatus("/payouts/account", org.key, "verified");
  const again = await client.payouts.completeVerification(verificationParams());
  assert.equal(responses.at(-1).status, 200);
  assert.equal(again.data.alreadyExists, true);
  assert.equal(again.data.providerAccountId, created.data.providerAccountId);
  assert.equal(again.data.status, "verified");
});

test("addBankAccount returns a PayoutBankAccount", async () => {
  const org = await verifiedOrg();
  const client = sdk(org.key);

  const { success, data } = await client.payouts.addBankAccount({
    accountNumber: "000123456789",
    accountHolderName: "Bea Park",
    routingNumber: TEST_ROUTING,
    accountType: "savings",
    setDefault: true,
  });

  assert.equal(success, true);
  assertMatchesDeclaredType(data, "PayoutBankAccount");
  assert.equal(data.object, "payout_bank_account");
  assert.match(data.id, /^pba_/);
  assert.equal(data.holderName, "Bea Park");
  assert.equal(data.last4, "6789");
  assert.equal(data.accountType, "savings");
  assert.equal(data.isDefault, true);
  assert.equal(data.status, "active");
  assert.deepEqual([data.country, data.currency, data.livemode], ["US", "usd", false]);
  assert.match(data.createdAt, RFC3339_UTC);
  assert.ok(!JSON.stringify(data).includes("000123456789"), "full account number leaked");
});

test("request returns a Payout that settles to paid", async () => {
  const org = await verifiedOrg(50_000);
  const client = sdk(org.key);

  const { data } = await client.payouts.request({ amount: 12_345, description: "SDK payout" });

  assertMatchesDeclaredType(data, "Payout");
  assert.equal(data.object, "payout");
  assert.match(data.id, /^po_/);
  assert.equal(data.status, "pending");
  assert.deepEqual([data.amount, data.fee, data.netAmount, data.currency], [12_345, 0, 12_345, "usd"]);
  assert.equal(data.description, "SDK payout");
  assert.ok(data.providerTransferId);
  assert.match(data.createdAt, RFC3339_UTC);

  await waitForStatus(`/payouts/${data.id}`, org.key, "paid");
  const money = await balance(org);
  assert.deepEqual([money.available, money.inPayout, money.paidOut], [50_000 - 12_345, 0, 12_345]);
});

test("a validation error surfaces as CommetValidationError with per-field messages", async () => {
  const org = newOrg(50_000);
  const client = sdk(org.key);

  await assert.rejects(client.payouts.request({ amount: 5 }), (err) => {
    assert.ok(err instanceof CommetValidationError, err);
    assert.deepEqual(Object.keys(err.validationErrors), ["amount"]);
    assert.match(err.validationErrors.amount[0], /1000/);
    return true;
  });
  assert.equal(responses.at(-1).status, 422);

  await assert.rejects(
    client.payouts.addBankAccount({ accountNumber: "", accountHolderName: "", accountType: "cheque" }),
    (err) => {
      assert.ok(err instanceof CommetValidationError, err);
      assert.deepEqual(Object.keys(err.validationErrors).sort(), ["accountHolderName", "accountNumber", "accountType"]);
      for (const messages of Object.values(err.validationErrors)) assert.ok(messages.length && messages.every(Boolean));
      return true;
    },
  );
  assert.equal((await balance(org)).available, 50_000);
});

test("an unknown key surfaces as CommetAPIError 401 with a request id", async () => {
  const client = sdk("ck_test_not_a_key_this_service_issued");
  const before = responses.length;

  await assert.rejects(client.payouts.request({ amount: 1_000 }), (err) => {
    assert.ok(err instanceof CommetAPIError, err);
    assert.deepEqual([err.statusCode, err.code, err.type], [401, "unauthorized", "authentication_error"]);
    assert.ok(err.docUrl);
    return true;
  });
  assert.equal(responses.length - before, 1, "not retried");
  assert.match(responses.at(-1).headers.get("x-request-id"), /^req_/);
});

test("an insufficient balance surfaces as CommetAPIError 402 with a request id", async () => {
  const org = await verifiedOrg(2_000);
  const client = sdk(org.key);
  const before = responses.length;

  await assert.rejects(client.payouts.request({ amount: 5_000 }), (err) => {
    assert.ok(err instanceof CommetAPIError, err);
    assert.deepEqual([err.statusCode, err.code, err.type], [402, "insufficient_balance", "billing_error"]);
    return true;
  });
  assert.equal(responses.length - before, 1, "not retried");
  assert.match(responses.at(-1).headers.get("x-request-id"), /^req_/);
  const money = await balance(org);
  assert.deepEqual([money.available, money.inPayout], [2_000, 0]);
});

test("a retry after a dropped connection reuses the Idempotency-Key and creates one payout", async () => {
  // Enough for two payouts, so a duplicate would show in the balance.
  const org = await verifiedOrg(50_000);
  const proxy = await faultyProxy(BASE_URL);
  let data;
  try {
    ({ data } = await sdk(org.key, proxy.url).payouts.request({ amount: 20_000 }));
  } finally {
    await proxy.close();
  }

  assert.equal(proxy.posts.length, 2);
  const [first, retry] = proxy.posts;
  const key = first.headers["idempotency-key"];
  assert.match(key, /^commet-node-retry-/);
  assert.equal(retry.headers["idempotency-key"], key);
  // The first attempt did create the payout; the retry got it back.
  assert.equal(first.upstreamStatus, 201);
  assert.equal(retry.upstreamHeaders.get("idempotent-replayed"), "true");
  assert.equal(data.id, first.upstreamBody.data.id);

  const money = await balance(org);
  assert.equal(money.available, 30_000);
  assert.equal(money.inPayout + money.paidOut, 20_000);
  assert.equal((await api("GET", `/payouts/${data.id}`, org.key)).data.amount, 20_000);
});
