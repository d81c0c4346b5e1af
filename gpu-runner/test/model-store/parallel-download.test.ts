import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { LoggedRequest } from "../../dev/hub-emulator/start-hub-emulator";
import { ensureModel } from "../../src/model-store/ensure-model";
import {
  bodyBytes,
  bodyRequests,
  FILE,
  type Fixture,
  fast,
  fixture,
  logged,
  MB,
  maxOverlap,
  REPO,
  repoDir,
  sha256,
} from "./fixtures";

/** Four connections, one megabyte per ranged request. */
const parallel = (f: Fixture) => f.source({ MODEL_DOWNLOAD_CONNECTIONS: "4" });
const ranged = { ...fast, rangeBytes: MB };

const startOf = (r: LoggedRequest | undefined) =>
  Number(/^bytes=(\d+)-/.exec(r?.range ?? "")?.[1] ?? Number.NaN);

describe("ensureModel over several ranged connections", () => {
  it("fetches ranges at once, each at its connection's capped rate, and verifies the whole file", async () => {
    // The emulator caps each connection (as a CDN does): only connections at once go faster.
    const fx = await fixture(8 * MB, { hub: { faults: { throttle: 2 * MB } } });
    const source = await readFile(fx.modelFile);
    const blobs = join(repoDir(fx), "blobs");
    let checked: Promise<void> | undefined;
    const model = await ensureModel({
      ...parallel(fx),
      ...ranged,
      onProgress: (p) => {
        if (checked || p.phase !== "downloading" || p.bytes < 2 * MB) return;
        // While ranges land out of order, a record says how many leading bytes are complete.
        checked = (async () => {
          const names = await readdir(blobs);
          const record = names.find((n) => n.endsWith(".incomplete.prefix"));
          const partial = names.find((n) => n.endsWith(".incomplete"));
          expect(record).toBe(`${partial}.prefix`);
          const complete = Number(await readFile(join(blobs, record!), "utf8"));
          const bytes = await readFile(join(blobs, partial!));
          expect(bytes.subarray(0, complete).equals(source.subarray(0, complete))).toBe(true);
        })();
      },
    });

    expect(await sha256(model.path)).toBe(await fx.hub.sha256Of(REPO, FILE));
    await logged(() => bodyRequests(fx.hub.requests).length >= 8);
    const bodies = bodyRequests(fx.hub.requests);
    // Eight one-megabyte ranges, each fetched once, covering the file.
    expect(bodies.map((r) => r.range).sort()).toEqual(
      Array.from({ length: 8 }, (_, i) => `bytes=${i * MB}-${(i + 1) * MB - 1}`).sort(),
    );
    expect(bodyBytes(fx.hub.requests)).toBe(8 * MB);
    // (Measured at the server, which sees a connection close a little after the client moved on.)
    expect(maxOverlap(bodies)).toBeGreaterThanOrEqual(2);
    expect(checked).toBeDefined();
    await checked;
    expect(await readdir(blobs)).toEqual([await fx.hub.sha256Of(REPO, FILE)]);
  });

  it("starts with one connection and adds the others only while each is capped", async () => {
    // Each connection capped (a CDN): the ramp goes to all four. Ranges of a second each, so
    // that the gaps between one range and the next do not blur the rates it compares.
    const capped = await fixture(16 * MB, { hub: { faults: { throttle: 2 * MB } } });
    const first = await ensureModel({ ...parallel(capped), ...fast, rangeBytes: 2 * MB });
    expect(await sha256(first.path)).toBe(await capped.hub.sha256Of(REPO, FILE));
    await logged(() => bodyBytes(capped.hub.requests) >= 16 * MB);
    const cappedBodies = bodyRequests(capped.hub.requests);
    expect(maxOverlap(cappedBodies)).toBe(4);
    // The first range was fetched alone for a while.
    const sorted = [...cappedBodies].sort((a, b) => a.startedAt - b.startedAt);
    expect(startOf(sorted[0])).toBe(0);
    expect(sorted[1]!.startedAt - sorted[0]!.startedAt).toBeGreaterThanOrEqual(140);

    // One thin link for all connections, far away: more connections add nothing, so the
    // download goes back to one. (The latency stretches the ramp's windows to 4 × the first
    // byte's time, which keeps a busy machine's hiccups from passing for a gain.)
    const linked = await fixture(64 * MB, {
      hub: { faults: { linkThrottle: 16 * MB, latency: 30 } },
    });
    const second = await ensureModel({ ...parallel(linked), ...fast, rangeBytes: 8 * MB });
    expect(await sha256(second.path)).toBe(await linked.hub.sha256Of(REPO, FILE));
    await logged(() => bodyBytes(linked.hub.requests) >= 64 * MB);
    const linkedBodies = [...bodyRequests(linked.hub.requests)].sort(
      (a, b) => a.startedAt - b.startedAt,
    );
    expect(maxOverlap(linkedBodies)).toBe(4); // it did try
    // The last ranges came one after another (two: the server may see a response close just
    // after the next request arrived).
    expect(maxOverlap(linkedBodies.slice(-4))).toBeLessThanOrEqual(2);
  });

  it("aborted mid-way, leaves a plain prefix (no holes, no record) that the next call resumes after", async () => {
    // Every body stalls half-way through its range, so the download cannot finish before the
    // abort however the machine schedules it (a throttle alone lost that race under load).
    const fx = await fixture(8 * MB, { hub: { faults: { stall: { afterBytes: MB / 2 } } } });
    const source = await readFile(fx.modelFile);
    const controller = new AbortController();
    const reason = new Error("shutting down");
    await expect(
      ensureModel({
        ...parallel(fx),
        ...ranged,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.phase === "downloading" && p.bytes >= MB / 2) controller.abort(reason);
        },
      }),
    ).rejects.toBe(reason);
    const blobs = join(repoDir(fx), "blobs");
    const left = await readdir(blobs);
    expect(left.filter((n) => !n.endsWith(".incomplete"))).toEqual([]);
    expect(left).toHaveLength(1);
    const partial = await readFile(join(blobs, left[0]!));
    expect(partial.equals(source.subarray(0, partial.length))).toBe(true);

    fx.hub.setFaults({});
    const since = performance.now(); // the aborted transfers may be logged late, when they close
    const model = await ensureModel({ ...parallel(fx), ...ranged });
    expect(await sha256(model.path)).toBe(await fx.hub.sha256Of(REPO, FILE));
    const resumedSince = () => fx.hub.requests.filter((r) => r.startedAt >= since);
    await logged(() => bodyBytes(resumedSince()) >= 8 * MB - partial.length);
    const resumed = resumedSince();
    const starts = bodyRequests(resumed).map((r) => (r.range ? startOf(r) : 0));
    expect(Math.min(...starts)).toBe(partial.length);
    expect(bodyBytes(resumed)).toBe(8 * MB - partial.length);
  });

  it("after a crash, resumes from the recorded complete prefix, not from the end of a file with holes", async () => {
    const fx = await fixture(4 * MB);
    const sha = await fx.hub.sha256Of(REPO, FILE);
    const source = await readFile(fx.modelFile);
    // What a killed process leaves: 1 MB complete, a hole, then a range that had landed.
    const blobs = join(repoDir(fx), "blobs");
    await mkdir(blobs, { recursive: true });
    const partial = join(blobs, `${sha}.dead-owner.incomplete`);
    await writeFile(
      partial,
      Buffer.concat([source.subarray(0, MB), Buffer.alloc(MB), source.subarray(2 * MB, 3 * MB)]),
    );
    await writeFile(`${partial}.prefix`, String(MB));

    const model = await ensureModel({ ...parallel(fx), ...ranged });
    expect(await sha256(model.path)).toBe(sha);
    await logged(() => bodyBytes(fx.hub.requests) >= 3 * MB);
    // Trusting the file's size would resume at 3 MB, fail the hash and download it all again.
    expect(Math.min(...bodyRequests(fx.hub.requests).map(startOf))).toBe(MB);
    expect(bodyBytes(fx.hub.requests)).toBe(3 * MB);
    expect(await readdir(blobs)).toEqual([sha]);
  });

  it("resumes a dropped range on its own, keeping the others", async () => {
    const fx = await fixture(4 * MB, {
      hub: { faults: { drop: { afterBytes: MB / 4, times: 1 } } },
    });
    const model = await ensureModel({ ...parallel(fx), ...ranged });
    expect(await sha256(model.path)).toBe(await fx.hub.sha256Of(REPO, FILE));
    await logged(() => bodyRequests(fx.hub.requests).length >= 5);
    const bodies = bodyRequests(fx.hub.requests);
    expect(bodies).toHaveLength(5);
    const retry = bodies.find((r) => startOf(r) % MB !== 0);
    expect(retry).toBeDefined();
    // The retry asks for the rest of its own range only.
    expect(retry?.range).toMatch(new RegExp(`-${(Math.floor(startOf(retry) / MB) + 1) * MB - 1}$`));
  });

  it("asks for smaller ranges towards the end, so the connections finish together", async () => {
    // Each connection capped, so that the download keeps both (with one there is nothing to
    // balance: see below).
    const fx = await fixture(32 * MB, { hub: { faults: { throttle: 16 * MB } } });
    // Without the shrinking tail this file would be two 16 MiB ranges.
    const model = await ensureModel({
      ...fx.source({ MODEL_DOWNLOAD_CONNECTIONS: "2" }),
      ...fast,
      rangeBytes: 16 * MB,
    });
    expect(await sha256(model.path)).toBe(await fx.hub.sha256Of(REPO, FILE));
    await logged(() => bodyBytes(fx.hub.requests) >= 32 * MB);
    const sizes = bodyRequests(fx.hub.requests)
      .map(
        (r) =>
          /^bytes=(\d+)-(\d+)$/
            .exec(r.range ?? "")
            ?.slice(1)
            .map(Number) ?? [],
      )
      .sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0))
      .map(([from = 0, to = 0]) => to - from + 1);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(32 * MB); // each byte once
    // A quarter of what is left for the first (2 connections × 2), down to 4 MiB at the end.
    expect(sizes[0]).toBe(8 * MB);
    expect(sizes.at(-1)).toBeLessThanOrEqual(4 * MB);
    for (let i = 1; i < sizes.length; i++) expect(sizes[i]).toBeLessThanOrEqual(sizes[i - 1]!);
  });

  it("with one connection, asks for whole ranges: the tail has nothing to balance", async () => {
    const fx = await fixture(8 * MB);
    const model = await ensureModel({ ...fx.source({ MODEL_DOWNLOAD_CONNECTIONS: "1" }), ...fast });
    expect(await sha256(model.path)).toBe(await fx.hub.sha256Of(REPO, FILE));
    await logged(() => bodyBytes(fx.hub.requests) >= 8 * MB);
    // The default range (64 MiB) holds the file: one plain GET, as curl sends, not the shrinking
    // tail's two 4 MiB ranges (each range two more requests and connections).
    expect(bodyRequests(fx.hub.requests).map((r) => r.range)).toEqual([undefined]);
  });
});
