// Helpers for driving the service with the official Node SDK (@commet/node,
// unmodified). The harness (tests/sdk/run.sh) exports PAYOUTS_BASE_URL,
// PAYOUTS_BIN and PAYOUTS_DOCUMENT_URL.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Commet } from "@commet/node";

export const BASE_URL = process.env.PAYOUTS_BASE_URL;
export const GOOD_ACCOUNT = "000123456789";
export const TEST_ROUTING = "110000000";
const SDK_BASE = "https://commet.co";
const realFetch = globalThis.fetch;

// Every response the SDKs receive, for what their errors do not carry
// (@commet/node 7.10.0's errors have no request id).
export const responses = [];
globalThis.fetch = async (input, init) => {
  const response = await realFetch(input, init);
  responses.push(response);
  return response;
};

// An unmodified client whose requests go to `base` instead of the SDK's
// constant base URL (rewritten where the client builds its URLs).
export function sdk(apiKey, base = BASE_URL) {
  const client = new Commet({ apiKey });
  const http = client.httpClient;
  const build = http.buildURL.bind(http);
  http.buildURL = (endpoint, params) => {
    const url = build(endpoint, params);
    if (!url.startsWith(SDK_BASE + "/")) throw new Error(`unexpected SDK URL ${url}`);
    return base + url.slice(SDK_BASE.length);
  };
  return client;
}

export function cli(...args) {
  return JSON.parse(execFileSync(process.env.PAYOUTS_BIN, args, { encoding: "utf8" }));
}

export function newOrg(credit = 0) {
  const created = cli("org", "create", "--name", "SDK Node");
  if (credit) cli("balance", "credit", "--org", created.organizationId, "--amount", String(credit));
  return { id: created.organizationId, key: created.apiKey };
}

// Plain HTTP, for what the SDK has no method for.
export async function api(method, path, key) {
  const response = await realFetch(`${BASE_URL}/api/v1${path}`, { method, headers: { "x-api-key": key } });
  return response.json();
}

export async function waitForStatus(path, key, want, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { data } = await api("GET", path, key);
    if (data?.status === want) return data;
    if (Date.now() > deadline) throw new Error(`${path} never reached ${want}: ${JSON.stringify(data)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export function verificationParams(accountNumber = GOOD_ACCOUNT) {
  return {
    email: "owner@acme.test",
    businessType: "individual",
    businessUrl: "https://acme.test",
    documentUrl: process.env.PAYOUTS_DOCUMENT_URL,
    bank: { accountNumber, accountHolderName: "Ann Lee", routingNumber: TEST_ROUTING, accountType: "checking" },
    individual: {
      firstName: "Ann",
      lastName: "Lee",
      phone: "+15550100",
      dateOfBirth: "1990-01-01",
      address: { line1: "1 Main St", city: "San Francisco", state: "CA", postalCode: "94107", country: "US" },
    },
  };
}

export async function verifiedOrg(credit = 0) {
  const org = newOrg(credit);
  await sdk(org.key).payouts.completeVerification(verificationParams());
  await waitForStatus("/payouts/account", org.key, "verified");
  return org;
}

export async function balance(org) {
  return (await api("GET", "/balance", org.key)).data;
}

// The properties the SDK's published type declares for `name`, from its
// own .d.ts: { field: optional? }.
const declarations = readFileSync(
  join(dirname(createRequire(import.meta.url).resolve("@commet/node")), "index.d.ts"),
  "utf8",
);
export function declaredFields(name) {
  const body = declarations.match(new RegExp(`\\ninterface ${name} \\{\\n([\\s\\S]*?)\\n\\}`))?.[1];
  if (!body) throw new Error(`no interface ${name} in @commet/node's types`);
  const fields = {};
  for (const [, field, optional] of body.matchAll(/^ {4}(\w+)(\??):/gm)) fields[field] = optional === "?";
  return fields;
}

// Forwards everything to the service, except that the first
// POST /api/v1/payouts is forwarded, its answer thrown away and the
// connection dropped: the payout exists but the client does not know it.
export async function faultyProxy(upstream = BASE_URL) {
  const posts = [];
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const headers = { ...req.headers };
    delete headers.host;
    delete headers.connection;
    delete headers["content-length"];
    const reply = await realFetch(upstream + req.url, {
      method: req.method,
      headers,
      body: chunks.length ? Buffer.concat(chunks) : undefined,
    });
    const text = await reply.text();
    if (req.method === "POST" && req.url === "/api/v1/payouts") {
      posts.push({ headers: req.headers, upstreamStatus: reply.status, upstreamHeaders: reply.headers, upstreamBody: JSON.parse(text) });
      if (posts.length === 1) return req.socket.destroy();
    }
    res.writeHead(reply.status, { "content-type": reply.headers.get("content-type") ?? "application/json" });
    res.end(text);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    posts,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
