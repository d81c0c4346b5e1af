import { createHash, createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { EdgeConfig, edgeConfig } from "../env";
import { createWakeOnUnavailable } from "./wake-on-unavailable";
import { resetWakeThrottle, type WakeConfig, type WakeOutcome, wakeRunner } from "./wake-runner";

/** A stand-in for the ECS JSON API that checks every request is signed as AWS would check it. */
interface EcsCall {
  target: string;
  body: Record<string, unknown>;
  authorization: string;
  signatureValid: boolean;
}

const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
let server: Server;
let calls: EcsCall[];
let desiredCount: number;
let failWith: { status: number; type: string } | undefined;
let config: WakeConfig;

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const body = await readBody(req);
    const target = String(req.headers["x-amz-target"]);
    calls.push({
      target,
      body: JSON.parse(body),
      authorization: String(req.headers.authorization),
      signatureValid: verifySigV4(req, body),
    });
    res.setHeader("content-type", "application/x-amz-json-1.1");
    if (failWith) {
      res.statusCode = failWith.status;
      res.end(JSON.stringify({ __type: `com.amazonaws.ecs#${failWith.type}`, message: "no" }));
    } else if (target.endsWith(".DescribeServices")) {
      res.end(
        JSON.stringify({
          services: [{ serviceName: "runner", status: "ACTIVE", desiredCount }],
          failures: [],
        }),
      );
    } else if (target.endsWith(".UpdateService")) {
      desiredCount = JSON.parse(body).desiredCount;
      res.end(JSON.stringify({ service: { serviceName: "runner", desiredCount } }));
    } else {
      res.statusCode = 400;
      res.end(JSON.stringify({ __type: "UnknownOperationException" }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  config = {
    region: "us-east-1",
    cluster: "phi4-cluster",
    service: "runner",
    accessKeyId: "AKIDEXAMPLE",
    secretAccessKey: SECRET,
    endpoint: `http://127.0.0.1:${port}/`,
  };
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  calls = [];
  desiredCount = 0;
  failWith = undefined;
  resetWakeThrottle();
});

describe("wakeRunner", () => {
  test("a request signed with another key fails the stand-in's signature check", async () => {
    await wakeRunner({ ...config, secretAccessKey: "not-the-key" });
    expect(calls[0]?.signatureValid).toBe(false);
  });

  test("a service at zero is described, then updated to one runner, with signed requests", async () => {
    const outcome = await wakeRunner(config);
    expect(outcome).toEqual({ action: "started" });
    expect(calls.map((c) => [c.target, c.body])).toEqual([
      [
        "AmazonEC2ContainerServiceV20141113.DescribeServices",
        { cluster: "phi4-cluster", services: ["runner"] },
      ],
      [
        "AmazonEC2ContainerServiceV20141113.UpdateService",
        { cluster: "phi4-cluster", service: "runner", desiredCount: 1 },
      ],
    ]);
    for (const call of calls) {
      expect(call.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/ecs\/aws4_request, SignedHeaders=[a-z0-9;-]*x-amz-target[a-z0-9;-]*, Signature=[0-9a-f]{64}$/,
      );
      expect(call.signatureValid).toBe(true);
    }
  });

  test("a service already starting is left alone (idempotent)", async () => {
    desiredCount = 1;
    const outcome = await wakeRunner(config);
    expect(outcome.action).toBe("already-starting");
    expect(calls.map((c) => c.target)).toEqual([
      "AmazonEC2ContainerServiceV20141113.DescribeServices",
    ]);
    expect(desiredCount).toBe(1);
  });

  test("one isolate asks ECS at most once per interval", async () => {
    let clock = 1_000_000;
    const now = () => clock;
    await wakeRunner(config, { now, minIntervalMs: 30_000 });
    const before = calls.length;
    const again = await wakeRunner(config, { now, minIntervalMs: 30_000 });
    expect(again).toEqual({ action: "throttled" });
    expect(calls.length).toBe(before);
    clock += 30_000;
    const later = await wakeRunner(config, { now, minIntervalMs: 30_000 });
    expect(later.action).toBe("already-starting");
    expect(calls.length).toBe(before + 1);
  });

  test("an ECS refusal is a failed outcome naming the AWS error, not the key", async () => {
    failWith = { status: 400, type: "AccessDeniedException" };
    const outcome = await wakeRunner(config);
    expect(outcome.action).toBe("failed");
    expect(outcome.error).toMatchObject({ status: 400, awsType: "AccessDeniedException" });
    expect(outcome.error?.message).toContain("DescribeServices");
    expect(JSON.stringify(outcome) + outcome.error?.message).not.toContain(SECRET);
  });

  test("an unreachable ECS endpoint is a failed outcome, not an exception", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const outcome = await wakeRunner({ ...config, endpoint: `http://127.0.0.1:${port}/` });
    expect(outcome.action).toBe("failed");
    expect(outcome.error?.message).toBe("ECS could not be reached");
  });

  test("an aborted call rethrows the signal's reason", async () => {
    const controller = new AbortController();
    const reason = new Error("isolate going away");
    controller.abort(reason);
    await expect(wakeRunner(config, { signal: controller.signal })).rejects.toBe(reason);
    expect(calls).toEqual([]);
  });
});

describe("wake bindings and the pass-through hook", () => {
  const bindings = {
    AWS_REGION: "us-east-1",
    ECS_CLUSTER: "phi4-cluster",
    ECS_SERVICE: "runner",
    AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
    AWS_SECRET_ACCESS_KEY: SECRET,
  };

  // The edge's required bindings, with stand-ins for the KV and Durable Object namespaces.
  const base = {
    RUNNER_URL: "http://127.0.0.1:8080",
    RUNNER_SECRET: "a-runner-secret-for-tests",
    KEYS: { get() {} },
    LIMITER: { idFromName() {} },
  };

  test("the bindings SST sets make a wake config; none means nothing to wake; some is an error", () => {
    expect(EdgeConfig.parse({ ...base, ...bindings }).wake).toEqual({
      region: "us-east-1",
      cluster: "phi4-cluster",
      service: "runner",
      accessKeyId: "AKIDEXAMPLE",
      secretAccessKey: SECRET,
    });
    expect(EdgeConfig.parse(base).wake).toBeUndefined();
    const partial = () => edgeConfig({ ...base, ...bindings, ECS_SERVICE: "" });
    expect(partial).toThrow(/ECS_SERVICE/);
    expect(partial).not.toThrow(new RegExp(SECRET.slice(0, 12)));
  });

  test("the policy wakes the service named by the bindings and answers waking meanwhile", async () => {
    const outcomes: WakeOutcome[] = [];
    const policy = createWakeOnUnavailable({ onOutcome: (o) => outcomes.push(o) });
    const deployed = EdgeConfig.parse({ ...base, ...bindings, ECS_ENDPOINT: config.endpoint });
    const unreachable = { reason: "unreachable", requestId: "r1" } as const;
    await policy.notify(unreachable, deployed);
    expect(outcomes.map((o) => o.action)).toEqual(["started"]);
    expect(desiredCount).toBe(1);
    // Callers are told to wait while it wakes; a timeout or a runner's own 503 keep theirs.
    expect(policy.refusal(unreachable, deployed)).toMatchObject({
      code: "SERVICE_UNAVAILABLE",
      options: { phase: "waking", retryAfterMs: 10_000 },
    });
    expect(policy.refusal({ ...unreachable, reason: "no-runner" }, deployed)).toBeDefined();
    expect(policy.refusal({ ...unreachable, reason: "timeout" }, deployed)).toBeUndefined();
    expect(policy.refusal({ ...unreachable, reason: "not-ready" }, deployed)).toBeUndefined();
    // Locally (no bindings) nothing is woken and the edge's own answers stand.
    const local = EdgeConfig.parse(base);
    await policy.notify({ ...unreachable, requestId: "r2" }, local);
    expect(outcomes).toHaveLength(1);
    expect(policy.refusal(unreachable, local)).toBeUndefined();
  });
});

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => resolve(body));
  });
}

/** SigV4 recomputed independently of aws4fetch: what AWS does with the request it receives. */
function verifySigV4(req: IncomingMessage, body: string): boolean {
  const auth = String(req.headers.authorization);
  const match =
    /Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]+)/.exec(
      auth,
    );
  if (!match) return false;
  const [, , date, region, service, signedHeaders, signature] = match as unknown as string[];
  const amzDate = String(req.headers["x-amz-date"]);
  const headerLines = signedHeaders!
    .split(";")
    .map((h) => `${h}:${String(req.headers[h]).trim().replace(/\s+/g, " ")}\n`)
    .join("");
  const url = new URL(req.url ?? "/", "http://x");
  const hash = (s: string) => createHash("sha256").update(s).digest("hex");
  const canonical = [
    "POST",
    url.pathname,
    url.search.slice(1),
    headerLines,
    signedHeaders,
    hash(body),
  ].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, hash(canonical)].join("\n");
  const hmac = (key: Buffer | string, data: string) =>
    createHmac("sha256", key).update(data).digest();
  const kDate = hmac(`AWS4${SECRET}`, date!);
  const kSigning = hmac(hmac(hmac(kDate, region!), service!), "aws4_request");
  return createHmac("sha256", kSigning).update(toSign).digest("hex") === signature;
}
