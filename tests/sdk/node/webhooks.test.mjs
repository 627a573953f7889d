// Webhook endpoints through the official Node SDK (@commet/node, unmodified),
// and deliveries checked with the SDK's own `webhooks.verify` and the
// Standard Webhooks scheme (HMAC-SHA256 of "id.timestamp.body").
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { createServer } from "node:http";
import { test } from "node:test";
import { CommetAPIError, CommetValidationError } from "@commet/node";
import { api, cli, declaredFields, newOrg, responses, sdk, verificationParams, waitForStatus } from "./helpers.mjs";

const PORT = Number(process.env.PAYOUTS_NODE_WEBHOOK_PORT);
const URL = `http://127.0.0.1:${PORT}/hooks`;
const ALL_EVENTS = ["payout.created", "payout.paid", "payout.failed", "payout.available"];

// Records every POST (raw body and headers) and answers 200.
async function receiver() {
  const got = [];
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    got.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
    res.writeHead(200).end();
  });
  await new Promise((resolve) => server.listen(PORT, "127.0.0.1", resolve));
  const events = (name) => got.filter((d) => JSON.parse(d.body).event === name);
  return {
    got,
    events,
    async waitFor(names, timeoutMs = 20000) {
      const deadline = Date.now() + timeoutMs;
      while (!names.every((name) => events(name).length)) {
        if (Date.now() > deadline) throw new Error(`never received ${names}: ${got.map((d) => d.body)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

function assertHasDeclaredFields(object, name) {
  const declared = declaredFields(name);
  for (const [field, optional] of Object.entries(declared)) {
    if (!optional) assert.ok(field in object, `${name}.${field} missing: ${JSON.stringify(object)}`);
  }
}

// What a receiver checks: Commet's signature with the SDK's own verify, and
// the Standard Webhooks one with the secret's base64-decoded bytes.
function check(client, delivery, secret) {
  const signature = delivery.headers["x-commet-signature"];
  assert.equal(client.webhooks.verify({ payload: delivery.body, signature, secret }), true);
  assert.equal(client.webhooks.verify({ payload: delivery.body + " ", signature, secret }), false);
  const payload = client.webhooks.verifyAndParse({ rawBody: delivery.body, signature, secret });
  const { "webhook-id": id, "webhook-timestamp": timestamp, "webhook-signature": standard } = delivery.headers;
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${delivery.body}`).digest("base64");
  assert.equal(standard, `v1,${expected}`);
  assert.ok(Math.abs(Date.now() / 1000 - Number(timestamp)) < 300);
  assert.equal(delivery.headers["x-commet-event-id"], payload.id);
  assert.equal(id, payload.id);
  assertHasDeclaredFields(payload, "WebhookPayload");
  return payload;
}

test("webhooks.create/list/get/update/test/delete", async () => {
  const hooks = await receiver();
  try {
    const org = newOrg();
    const client = sdk(org.key);
    const created = await client.webhooks.create({ url: URL, events: ALL_EVENTS, description: "Node SDK" });
    assert.equal(responses.at(-1).status, 201);
    assertHasDeclaredFields(created.data, "WebhookEndpoint"); // WebhookEndpointCreated adds secretKey
    assert.match(created.data.secretKey, /^whsec_/);
    const secret = created.data.secretKey;

    const got = await client.webhooks.get({ id: created.data.id });
    assertHasDeclaredFields(got.data, "WebhookEndpoint");
    assert.equal(got.data.secretKey, undefined);
    const listed = await client.webhooks.list({ limit: 10 });
    assert.deepEqual(listed.data.map((w) => w.id), [created.data.id]);
    assert.equal(listed.hasMore, false);

    // PUT (this SDK's update): only the given fields change.
    const updated = await client.webhooks.update({ id: created.data.id, events: ["payout.paid"] });
    assert.deepEqual(updated.data.events, ["payout.paid"]);
    assert.equal(updated.data.description, "Node SDK");
    assert.equal(updated.data.url, URL);

    const tested = await client.webhooks.test({ id: created.data.id });
    assertHasDeclaredFields(tested.data, "WebhookTestResult");
    assert.equal(tested.data.success, true);
    await hooks.waitFor(["webhook.test"]);
    check(client, hooks.events("webhook.test")[0], secret);

    // 422 validation errors surface as the SDK's per-field validation error.
    await assert.rejects(client.webhooks.create({ url: "https://127.0.0.1/hooks", events: ["payout.paid"] }), (err) => {
      assert.ok(err instanceof CommetValidationError, String(err));
      assert.match(err.validationErrors.url[0], /non-public/);
      return true;
    });
    await assert.rejects(client.webhooks.create({ url: URL, events: ["invoice.created"] }), (err) => {
      assert.match(err.validationErrors.events[0], /invoice\.created/);
      return true;
    });

    const deleted = await client.webhooks.delete({ id: created.data.id });
    assert.equal(deleted.data.deleted, true);
    await assert.rejects(client.webhooks.get({ id: created.data.id }), (err) => {
      assert.ok(err instanceof CommetAPIError);
      assert.equal(err.statusCode, 404);
      return true;
    });
  } finally {
    await hooks.close();
  }
});

test("a payout's lifecycle arrives signed, each payload as the SDK's types", async () => {
  const hooks = await receiver();
  try {
    const org = newOrg();
    const client = sdk(org.key);
    const { data: endpoint } = await client.webhooks.create({ url: URL, events: ALL_EVENTS });
    cli("balance", "credit", "--org", org.id, "--amount", "10000");
    await client.payouts.completeVerification(verificationParams());
    await waitForStatus("/payouts/account", org.key, "verified");
    const { data: payout } = await client.payouts.request({ amount: 2500 });
    await waitForStatus(`/payouts/${payout.id}`, org.key, "paid");
    await hooks.waitFor(["payout.available", "payout.created", "payout.paid"]);

    const available = check(client, hooks.events("payout.available")[0], endpoint.secretKey);
    assert.deepEqual(available.data, { availableAmount: 10000, currency: "usd" });
    const created = check(client, hooks.events("payout.created")[0], endpoint.secretKey);
    assertHasDeclaredFields(created.data, "PayoutCreatedData");
    assert.equal(created.data.payoutId, payout.id);
    assert.deepEqual(created.data.destinationBank, { bankName: "STRIPE TEST BANK", last4: "6789" });
    const paid = check(client, hooks.events("payout.paid")[0], endpoint.secretKey);
    assertHasDeclaredFields(paid.data, "PayoutPaidData");
    assert.equal(paid.data.status, "paid");
    assert.equal(paid.mode, "sandbox");
    assert.equal(paid.organizationId, org.id);
    assert.equal(hooks.events("payout.paid").length, 1);
    const events = await api("GET", "/events", org.key);
    assert.deepEqual(
      new Set(events.data.map((e) => e.id)),
      new Set(hooks.got.filter((d) => JSON.parse(d.body).event !== "webhook.test").map((d) => JSON.parse(d.body).id)),
    );
  } finally {
    await hooks.close();
  }
});
