import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { keyId, storageKey } from "../src/auth/api-key";
import { seedKeys } from "./seed-keys";
import { type StartedEdge, startEdge } from "./start-edge";
import { until } from "./with-stack";

// The limiter through the real Worker under workerd, with spare admissions in play. The
// runner is a stand-in on loopback: it answers /v1/models at once and holds every other
// request open until the test ends it, so a stream is surely open while the next one comes,
// and it counts what reached it, which is what the limits are about.
const SECRET = "a-runner-secret-for-tests";
const dir = mkdtempSync(join(tmpdir(), "phi4-edge-limits-"));
const held = new Set<ServerResponse>();
const reached = new Map<string, number>();
const server = createServer((req, res) => {
  const caller = String(req.headers["x-phi4-caller"]);
  reached.set(caller, (reached.get(caller) ?? 0) + 1);
  if (req.url === "/v1/models") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"object":"list","data":[]}');
    return;
  }
  res.writeHead(200, { "content-type": "text/event-stream" });
  res.write(": open\n\n");
  held.add(res);
  res.on("close", () => held.delete(res));
});
let edge: StartedEdge;
let shortSpares: StartedEdge;
let keys: Record<string, string>;
let shortKeys: Record<string, string>;
const streamers: AbortController[] = [];

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const vars = {
    RUNNER_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    RUNNER_SECRET: SECRET,
    STREAM_IDLE_MS: "120000",
  };
  keys = await seedKeys(join(dir, "a"), [
    { name: "streams", limits: { streams: 4, perMinute: 1000 } },
    { name: "burst", limits: { perMinute: 5, streams: 100 } },
    { name: "concurrent", limits: { perMinute: 6, streams: 100 } },
  ]);
  edge = await startEdge({ persistTo: join(dir, "a"), vars });
  // Its own state folder: two workerds on one contend for its SQLite files.
  shortKeys = await seedKeys(join(dir, "b"), [{ name: "expiry", limits: { streams: 3 } }]);
  shortSpares = await startEdge({
    persistTo: join(dir, "b"),
    vars: { ...vars, LIMITER_SPARE_MS: "300" },
  });
}, 120_000);
afterEach(async () => {
  for (const controller of streamers.splice(0)) controller.abort();
  for (const res of held) res.end();
  await until(() => held.size === 0, "stand-in streams closed");
});
afterAll(async () => {
  await edge?.dispose();
  await shortSpares?.dispose();
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Opens a stream through `at`; resolves with the status once the headers are in. */
async function openStream(at: StartedEdge, key: string, id: string): Promise<number> {
  const controller = new AbortController();
  streamers.push(controller);
  const res = await fetch(`${at.url}/v1/chat/completions`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${key}`,
      "content-type": "application/json",
      "x-request-id": id,
    },
    body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }], stream: true }),
    signal: controller.signal,
  });
  if (res.status !== 200) await res.body?.cancel();
  return res.status;
}

const models = (key: string, id: string) =>
  fetch(`${edge.url}/v1/models`, {
    headers: { authorization: `Bearer ${key}`, "x-request-id": id },
  });

const callerOf = async (key: string) => keyId(await storageKey(key));

/** The edge's access line for request `id` said it went through on a spare. */
const spareLine = (line: string, id: string) =>
  line.includes(`"requestId":"${id}"`) && line.includes('"spare":true');
const onSpare = (at: StartedEdge, id: string) =>
  until(() => at.logs.some((l) => spareLine(l, id)), `request ${id} admitted on a spare`);

describe("limits with spare admissions", () => {
  test("a caller with 4 streams never has more than 4 open, in quick succession or all at once", async () => {
    const key = keys.streams!;
    // The first admission brings this isolate a spare; the burst's first request takes it
    // while the others ask the limiter, which counts it.
    expect(await openStream(edge, key, "st-0")).toBe(200);
    const burst = await Promise.all(
      [1, 2, 3, 4, 5, 6, 7].map((i) => openStream(edge, key, `st-${i}`)),
    );
    const admitted = 1 + burst.filter((s) => s === 200).length;
    expect(admitted).toBeLessThanOrEqual(4);
    expect(held.size).toBe(admitted);
    // A spare granted to this isolate while the burst was asking may have refused one.
    expect(admitted).toBeGreaterThanOrEqual(3);
    await until(
      () => [1, 2, 3, 4, 5, 6, 7].some((i) => edge.logs.some((l) => spareLine(l, `st-${i}`))),
      "a request of the burst admitted on the spare",
    );
    // One at a time, the caller gets its 4th stream if it had not, and no 5th.
    const more: number[] = [];
    for (let i = 8; more.at(-1) !== 429; i++) more.push(await openStream(edge, key, `st-${i}`));
    expect(admitted + more.length - 1).toBe(4);
    expect(held.size).toBe(4);
    expect(reached.get(await callerOf(key))).toBe(4);

    // One ends: its slot comes back, and only one of the next burst gets it.
    held.values().next().value?.end();
    await until(() => held.size === 3, "one stream ended");
    let refilled = 0;
    const deadline = Date.now() + 20_000;
    while (refilled === 0 && Date.now() < deadline) {
      const again = await Promise.all([0, 1, 2].map(() => openStream(edge, key, "st")));
      refilled += again.filter((s) => s === 200).length;
      expect(held.size).toBeLessThanOrEqual(4);
    }
    expect(refilled).toBe(1);
    expect(held.size).toBe(4);
  });

  test("requests per minute: a burst gets exactly the limit, then 429 with Retry-After", async () => {
    const statuses: number[] = [];
    let refused: Response | undefined;
    for (let i = 0; i < 8; i++) {
      const res = await models(keys.burst!, `pm-${i}`);
      statuses.push(res.status);
      if (res.status === 429) refused ??= res;
      else await res.arrayBuffer();
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    const retryAfter = Number(refused?.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(50); // the window's oldest request, ~60 s away
    expect(retryAfter).toBeLessThanOrEqual(60);
    await onSpare(edge, "pm-1");
    expect(reached.get(await callerOf(keys.burst!))).toBe(5);
  });

  test("requests per minute, all at once: never over the limit, at most one short", async () => {
    const caller = await callerOf(keys.concurrent!);
    const burst = await Promise.all(
      Array.from({ length: 12 }, (_, i) => models(keys.concurrent!, `pc-${i}`)),
    );
    const admitted = burst.filter((r) => r.status === 200).length;
    await Promise.all(burst.map((r) => r.arrayBuffer()));
    // A spare reserved for this isolate while the burst was already asking the limiter may
    // go unused until it expires: that is the one request short.
    expect(admitted).toBeLessThanOrEqual(6);
    expect(admitted).toBeGreaterThanOrEqual(5);
    expect(reached.get(caller)).toBe(admitted);
  });

  test("a spare the isolate no longer holds stops counting at the limiter when it expires", async () => {
    // LIMITER_SPARE_MS=300 here: the first stream's admission comes with a spare, which this
    // isolate drops unused once it is 300 ms old by its own clock, so it has expired at the
    // limiter too. Counted still, it would refuse the third stream.
    const key = shortKeys.expiry!;
    expect(await openStream(shortSpares, key, "ex-0")).toBe(200);
    // The one wait for time itself: the spare's life.
    await new Promise((r) => setTimeout(r, 350));
    expect(await openStream(shortSpares, key, "ex-1")).toBe(200);
    expect(await openStream(shortSpares, key, "ex-2")).toBe(200);
    expect(await openStream(shortSpares, key, "ex-3")).toBe(429);
    expect(held.size).toBe(3);
  });
});
