import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPhi4Client, errorCode } from "@phi4-edge/shared/client";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { seedKeys } from "./seed-keys";
import { type StartedEdge, startEdge } from "./start-edge";

const SECRET = "a-runner-secret-for-tests";
const dir = mkdtempSync(join(tmpdir(), "phi4-edge-fail-"));
let key: string;
const servers: Server[] = [];
const edges: StartedEdge[] = [];

/** A stand-in runner on loopback answering with `handler`. */
async function runnerStandIn(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function edgeFor(runnerUrl: string, vars: Record<string, string> = {}) {
  const edge = await startEdge({
    persistTo: join(dir, "state"),
    vars: { RUNNER_URL: runnerUrl, RUNNER_SECRET: SECRET, ...vars },
  });
  edges.push(edge);
  return edge;
}

beforeAll(async () => {
  ({ k: key } = (await seedKeys(join(dir, "state"), [{ name: "k" }])) as { k: string });
}, 60_000);
// One edge at a time: workerds sharing the state folder contend for its SQLite files, and on
// a busy machine the next one failed to start (SQLITE_BUSY).
afterEach(async () => {
  for (const edge of edges.splice(0)) await edge.dispose();
});
afterAll(async () => {
  for (const server of servers) server.close();
  rmSync(dir, { recursive: true, force: true });
});

const post = (edge: StartedEdge, path: string) =>
  fetch(`${edge.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] }),
    signal: AbortSignal.timeout(15_000),
  });

describe("runner failures, shaped for the caller's protocol", () => {
  test("runner down → 502", async () => {
    const closed = await runnerStandIn(() => {});
    servers.at(-1)!.close();
    const edge = await edgeFor(closed);
    const res = await post(edge, "/v1/chat/completions");
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({
      error: { type: "server_error", code: "bad_gateway" },
    });
    const error = await createPhi4Client({ url: edge.url, apiKey: key })
      .model()
      .catch((e: unknown) => e);
    expect(errorCode(error)).toBe("BAD_GATEWAY");
  });

  test("runner silent → 504 after RUNNER_TIMEOUT_MS", async () => {
    const silent = await runnerStandIn(() => {});
    const edge = await edgeFor(silent, { RUNNER_TIMEOUT_MS: "300" });
    const res = await post(edge, "/v1/chat/completions");
    expect(res.status).toBe(504);
    expect(await res.json()).toMatchObject({ error: { code: "gateway_timeout" } });
    const trpc = await post(edge, "/trpc/chat?batch=1");
    expect(trpc.status).toBe(504);
    expect(await trpc.json()).toMatchObject({
      error: { data: { code: "GATEWAY_TIMEOUT", httpStatus: 504, path: "chat" } },
    });
  });

  test("cold start: the runner's 503 passes through with Retry-After; headers are rewritten", async () => {
    const seen: Record<string, string | undefined>[] = [];
    const starting = await runnerStandIn((req, res) => {
      seen.push({
        authorization: req.headers.authorization,
        caller: req.headers["x-phi4-caller"] as string | undefined,
        requestId: req.headers["x-request-id"] as string | undefined,
        cookie: req.headers.cookie,
      });
      res.writeHead(503, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          error: { message: "model not ready: loading 40%", type: "server_error" },
        }),
      );
    });
    const edge = await edgeFor(starting);
    const res = await fetch(`${edge.url}/v1/chat/completions`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${key}`,
        cookie: "session=1",
        "x-phi4-caller": "spoofed",
        "x-request-id": "cold-1",
      },
      body: "{}",
    });
    expect(res.status).toBe(503);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await res.text()).toContain("loading 40%");
    expect(seen).toEqual([
      {
        authorization: `Bearer ${SECRET}`,
        caller: expect.stringMatching(/^k_[0-9a-f]{12}$/),
        requestId: "cold-1",
        cookie: undefined,
      },
    ]);
  });

  test("CORS: configured origins get the headers, others not", async () => {
    const runner = await runnerStandIn((_req, res) => res.end("{}"));
    const edge = await edgeFor(runner, { CORS_ORIGINS: "https://app.example" });
    const preflight = (origin: string) =>
      fetch(`${edge.url}/v1/chat/completions`, {
        method: "OPTIONS",
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization,content-type",
        },
      });
    const ok = await preflight("https://app.example");
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(ok.headers.get("access-control-allow-headers")).toContain("authorization");
    const other = await preflight("https://evil.example");
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });
});
