import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPhi4Client, errorCode, errorData } from "@phi4-edge/shared/client";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { seedKeys } from "./seed-keys";
import { type StartedEdge, startEdge } from "./start-edge";

/**
 * The deployed wiring of waking from zero, under real workerd: with the wake bindings set, a
 * runner service that is unreachable (or the load balancer's own 503) makes the edge call ECS
 * UpdateService and answer SERVICE_UNAVAILABLE, phase "waking", with Retry-After.
 */
const dir = mkdtempSync(join(tmpdir(), "phi4-edge-wake-"));
const ecsCalls: { target: string; body: Record<string, unknown>; authorization: string }[] = [];
let desiredCount = 0;
let ecs: Server;
let albStandIn: Server;
let key: string;
const edges: StartedEdge[] = [];

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function edgeFor(runnerUrl: string, ecsUrl: string) {
  const edge = await startEdge({
    persistTo: join(dir, "state"),
    vars: {
      RUNNER_URL: runnerUrl,
      RUNNER_SECRET: "a-runner-secret-for-tests",
      AWS_REGION: "us-east-1",
      ECS_CLUSTER: "phi4",
      ECS_SERVICE: "runner",
      AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
      AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      ECS_ENDPOINT: ecsUrl,
    },
  });
  edges.push(edge);
  return edge;
}

let ecsUrl: string;
beforeAll(async () => {
  ({ k: key } = (await seedKeys(join(dir, "state"), [{ name: "k" }])) as { k: string });
  ecs = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => {
      body += d;
    });
    req.on("end", () => {
      const target = String(req.headers["x-amz-target"]);
      ecsCalls.push({
        target,
        body: JSON.parse(body),
        authorization: String(req.headers.authorization),
      });
      res.setHeader("content-type", "application/x-amz-json-1.1");
      if (target.endsWith(".UpdateService")) desiredCount = JSON.parse(body).desiredCount;
      res.end(
        JSON.stringify(
          target.endsWith(".DescribeServices")
            ? {
                services: [{ serviceName: "runner", status: "ACTIVE", desiredCount }],
                failures: [],
              }
            : { service: { serviceName: "runner", desiredCount } },
        ),
      );
    });
  });
  ecsUrl = await listen(ecs);
  // An ALB with no registered target answers its own HTML 503.
  albStandIn = createServer((_req, res) => {
    res.writeHead(503, { "content-type": "text/html" });
    res.end("<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>");
  });
}, 60_000);
afterAll(async () => {
  for (const edge of edges) await edge.dispose();
  ecs.close();
  albStandIn.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("waking the runners from zero", () => {
  test("an unreachable runner service is woken; the typed client reports 'waking'", async () => {
    const gone = createServer();
    const goneUrl = await listen(gone);
    gone.close();
    const edge = await edgeFor(goneUrl, ecsUrl);

    const hi = { messages: [{ role: "user" as const, content: "hi" }] };
    // Told at once (no time to wait): the waking answer itself.
    const failure = await createPhi4Client({ url: edge.url, apiKey: key, waitReadyMs: 0 })
      .chat(hi)
      .next()
      .catch((e: unknown) => e);
    expect(errorCode(failure)).toBe("SERVICE_UNAVAILABLE");
    expect(errorData(failure).phase).toBe("waking");
    expect(errorData(failure).retryAfterMs).toBeGreaterThan(0);
    // With time to wait, the client reports the phase while it waits (however long the busy
    // machine takes to answer: no deadline races the first attempt).
    const waiting = createPhi4Client({ url: edge.url, apiKey: key }).chat(hi);
    expect((await waiting.next()).value).toEqual({ type: "status", phase: "waking" });
    await waiting.return();
    // The wake runs in waitUntil, after the caller's answer.
    await expect
      .poll(() => ecsCalls.some((c) => c.target.endsWith(".UpdateService")), { timeout: 5_000 })
      .toBe(true);
    const update = ecsCalls.find((c) => c.target.endsWith(".UpdateService"));
    expect(update?.body).toMatchObject({ cluster: "phi4", service: "runner", desiredCount: 1 });
    expect(update?.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\//);
  });

  test("the load balancer's own 503 becomes a waking answer with Retry-After on /v1", async () => {
    const edge = await edgeFor(await listen(albStandIn), ecsUrl);
    const res = await fetch(`${edge.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(res.status).toBe(503);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("service_unavailable");
    expect(body.error.message).not.toContain("<html>");
    // Logged after the answer has gone (waitUntil), so it may arrive after the response.
    await expect
      .poll(() => edge.logs.join("\n"), { timeout: 15_000 })
      .toMatch(/"component":"wake".*"reason":"no-runner"/);
  });
});
