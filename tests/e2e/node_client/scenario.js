// The Scale AI scenario from Node.js, built from protos/ alone (no generated code,
// nothing from dpmatch's Python side): what a lab's engineers would write.
//
// Env: PROTOS (the protos/ directory), DPM_ADMIN_TOKEN, DPM_CATALOG_ADDR,
// DPM_REQUIREMENTS_ADDR, DPM_MATCHING_ADDR. Prints one JSON line of what it saw;
// exits non-zero on the first thing that is not as documented.
"use strict";

const path = require("node:path");
const assert = require("node:assert/strict");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");
const protobuf = require("protobufjs");

const PROTOS = process.env.PROTOS;
const ADMIN = process.env.DPM_ADMIN_TOKEN;
const WATCH_SECONDS = 30;

const definition = protoLoader.loadSync(
  [
    "dpm/catalog/v1/catalog.proto",
    "dpm/matching/v1/matching.proto",
    "dpm/auth/v1/tokens.proto",
  ],
  { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: [PROTOS] },
);
const api = grpc.loadPackageDefinition(definition).dpm;

// The rich error details: google.rpc.Status in the grpc-status-details-bin trailer.
const rpc = new protobuf.Root();
rpc.resolvePath = (_origin, target) => path.join(PROTOS, target);
rpc.loadSync(["google/rpc/status.proto", "google/rpc/error_details.proto"], { keepCase: true });
const Status = rpc.lookupType("google.rpc.Status");
const BadRequest = rpc.lookupType("google.rpc.BadRequest");

function withToken(token) {
  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${token}`);
  return metadata;
}

function call(client, method, request, token) {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + 15000);
    client[method](request, withToken(token), { deadline }, (error, reply) =>
      error ? reject(error) : resolve(reply),
    );
  });
}

async function refused(promise) {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("the call was expected to be refused");
}

function fieldViolations(error) {
  const [raw] = error.metadata.get("grpc-status-details-bin");
  assert.ok(raw, "no grpc-status-details-bin trailer");
  const status = Status.decode(raw);
  assert.equal(status.code, grpc.status.INVALID_ARGUMENT);
  const detail = status.details.find((any) => any.type_url.endsWith("/google.rpc.BadRequest"));
  assert.ok(detail, "no google.rpc.BadRequest among the details");
  return BadRequest.decode(detail.value).field_violations;
}

const short = (name) => name.split("/").pop();

const META_STAKE = {
  event_id: "2025-06-12-meta-scale-ai-49",
  effective_date: "2025-06-12",
  summary: "Meta acquires 49% of Scale AI, non-voting, no board seat",
  // Non-voting: voting_fraction set to 0 (left out, the votes would follow the equity).
  stake_acquired: {
    holder: "organizations/meta",
    held: "organizations/scale-ai",
    equity_fraction: 0.49,
    voting_fraction: 0,
    board_seats: 0,
  },
};

async function main() {
  const credentials = grpc.credentials.createInsecure();
  const catalog = new api.catalog.v1.CatalogService(process.env.DPM_CATALOG_ADDR, credentials);
  const tokens = new api.auth.v1.TokenService(process.env.DPM_REQUIREMENTS_ADDR, credentials);
  const matching = new api.matching.v1.MatchingService(process.env.DPM_MATCHING_ADDR, credentials);
  const seen = {};

  // A lab token from the admin, over the API.
  const issued = await call(
    tokens,
    "IssueToken",
    { role: "ROLE_LAB", subject: "clients/google", label: "node client test" },
    ADMIN,
  );
  const lab = issued.access_token;
  assert.ok(lab && issued.token.name, "IssueToken returned no token");

  const name = "clients/google/recommendations";
  const before = await call(matching, "GetRecommendations", { name }, lab);
  const rankedBefore = before.ranked.map((r) => short(r.vendor));
  assert.ok(rankedBefore.includes("scale-ai"), `scale-ai not ranked before: ${rankedBefore}`);
  seen.before = { graph_version: before.versions.graph_version, ranked: rankedBefore.length };

  // A lab cannot write the ledger; a bad figure is named field by field.
  const denied = await refused(call(catalog, "RecordOwnershipEvent", { event: META_STAKE }, lab));
  assert.equal(denied.code, grpc.status.PERMISSION_DENIED, denied.details);
  const bad = structuredClone(META_STAKE);
  bad.event_id = "node-bad-figure";
  bad.stake_acquired.equity_fraction = 1.5;
  const invalid = await refused(call(catalog, "RecordOwnershipEvent", { event: bad }, ADMIN));
  assert.equal(invalid.code, grpc.status.INVALID_ARGUMENT, invalid.details);
  const violations = fieldViolations(invalid);
  assert.ok(
    violations.some((v) => v.field === "event.stake_acquired.equity_fraction"),
    JSON.stringify(violations),
  );
  seen.invalid = violations.map((v) => `${v.field}: ${v.description}`);

  // Watch the lab's set; record Meta's stake; the watch brings the set without Scale AI.
  const watch = matching.WatchRecommendations({ name }, withToken(lab));
  const after = await new Promise((resolve, reject) => {
    let recorded = null;
    const timer = setTimeout(
      () => reject(new Error(`no set without scale-ai within ${WATCH_SECONDS} s`)),
      WATCH_SECONDS * 1000,
    );
    watch.on("error", (error) => {
      if (error.code !== grpc.status.CANCELLED) reject(error);
    });
    watch.on("data", (set) => {
      if (recorded === null) {
        // The first message is the current set: now change the graph.
        recorded = call(catalog, "RecordOwnershipEvent", { event: META_STAKE }, ADMIN);
        recorded.catch(reject);
        return;
      }
      recorded.then((event) => {
        if (set.versions.graph_version >= event.graph_version) {
          clearTimeout(timer);
          resolve({ set, event });
        }
      });
    });
  });
  watch.cancel();
  const ranked = after.set.ranked.map((r) => short(r.vendor));
  assert.ok(!ranked.includes("scale-ai"), `scale-ai still ranked: ${ranked}`);
  const excluded = Object.fromEntries(
    after.set.excluded.map((e) => [short(e.vendor), e.reasons.map((r) => r.message).join(" ")]),
  );
  assert.match(excluded["scale-ai"] ?? "", /meta/, JSON.stringify(excluded));
  seen.after = {
    graph_version: after.set.versions.graph_version,
    event_graph_version: after.event.graph_version,
    scale_ai: excluded["scale-ai"],
  };

  // A portfolio of neutral vendors for the lab's volumes, and where its work would flow.
  const plan = await call(
    matching,
    "PlanPortfolio",
    { client: "clients/google", max_vendors: 3, neutral_only: true },
    lab,
  );
  assert.ok(plan.feasible && plan.vendors.length > 0, JSON.stringify(plan));
  assert.ok(plan.vendors.every((v) => v.verdict === "VERDICT_NEUTRAL"), JSON.stringify(plan));
  const shares = await call(
    matching,
    "AnalyzeConcentration",
    {
      client: "clients/google",
      work: [
        { vendor: "organizations/scale-ai", monthly_units: 1000 },
        { vendor: plan.vendors[0].vendor, monthly_units: 3000 },
      ],
    },
    lab,
  );
  const meta = shares.current.competitors.find((c) => c.competitor === "organizations/meta");
  assert.ok(meta && Math.abs(meta.economic_share - 0.25 * 0.49) < 1e-6, JSON.stringify(shares));
  seen.plan = { vendors: plan.vendors.map((v) => short(v.vendor)), meta_share: meta.economic_share };

  for (const client of [catalog, tokens, matching]) client.close();
  console.log(JSON.stringify(seen));
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : error);
  process.exit(1);
});
