import { mkdir, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import type { HubFaults } from "../../dev/hub-emulator/start-hub-emulator";
import { ensureModel } from "../../src/model-store/ensure-model";
import type { Run } from "./ensure-model-process";
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
  writePartial,
} from "./fixtures";
import { startScript } from "./pull-process";

interface Case {
  size: number;
  faults?: HubFaults;
  vars?: Record<string, string>;
  run?: Run;
  /** What the volume holds before the call. */
  prepare?: (fx: Fixture) => Promise<void>;
  /** The call is aborted once a partial file on the volume holds this many bytes. */
  abortOnceOnVolume?: number;
  /** `ok`, or the start of the error the call rejects with. */
  outcome: "ok" | string;
  /** Checks that the case took the path it names. */
  check?: (fx: Fixture) => Promise<void>;
}

const blobsOf = (fx: Fixture) => join(repoDir(fx), "blobs");

/** Waits until a partial download in `blobs` holds at least `bytes`. */
async function partialHolds(blobs: string, bytes: number): Promise<void> {
  for (;;) {
    const names = await readdir(blobs).catch(() => [] as string[]);
    for (const name of names.filter((n) => n.endsWith(".incomplete"))) {
      const size = await stat(join(blobs, name)).then(
        (s) => s.size,
        () => 0,
      );
      if (size >= bytes) return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Every way through `ensureModel`; the process that made the call must end on its own once it
 * returned: a timer, socket, file handle or worker the call left behind would hold it (and, in the
 * runner, stay for the container's lifetime).
 */
const cases: Record<string, Case> = {
  "a fresh download over one connection": {
    size: 2 * MB,
    vars: { MODEL_DOWNLOAD_CONNECTIONS: "1" },
    outcome: "ok",
  },
  "a fresh download the ramp took to four connections": {
    // Each connection capped, as by a CDN: the ramp goes to four (as in parallel-download).
    size: 16 * MB,
    faults: { throttle: 2 * MB },
    vars: { MODEL_DOWNLOAD_CONNECTIONS: "4" },
    run: { rangeBytes: 2 * MB },
    outcome: "ok",
    check: async (fx) => {
      await logged(() => bodyBytes(fx.hub.requests) >= 16 * MB);
      expect(maxOverlap(bodyRequests(fx.hub.requests))).toBe(4);
    },
  },
  "a download resumed from a partial file": {
    size: 3 * MB,
    prepare: async (fx) => void (await writePartial(fx, 2 * MB)),
    outcome: "ok",
    check: async (fx) => {
      expect(bodyRequests(fx.hub.requests).map((r) => r.range)).toEqual([
        `bytes=${2 * MB}-${3 * MB - 1}`,
      ]);
    },
  },
  "a model already on the volume": {
    size: MB,
    prepare: async (fx) => {
      await ensureModel({ ...fx.source(), ...fast });
      fx.hub.requests.length = 0;
    },
    outcome: "ok",
    check: async (fx) => expect(bodyRequests(fx.hub.requests)).toEqual([]),
  },
  "another container holding the volume lock until it goes quiet": {
    size: MB,
    prepare: async (fx) => {
      const sha = await fx.hub.sha256Of(REPO, FILE);
      await mkdir(blobsOf(fx), { recursive: true });
      const holder = { owner: "other", host: "elsewhere", machine: "", pid: 1, seq: 0, bytes: 0 };
      await writeFile(join(blobsOf(fx), `${sha}.lock`), JSON.stringify(holder));
    },
    run: { lockTiming: { heartbeatMs: 50, staleMs: 300, pollMs: 20 } },
    outcome: "ok",
  },
  "a download aborted while its connection is open": {
    // The body stalls after 1.5 MB: aborted once the first megabyte is in the file.
    size: 4 * MB,
    faults: { stall: { afterBytes: 1.5 * MB } },
    abortOnceOnVolume: MB,
    outcome: "Error: aborted by the caller",
  },
  "a download whose bytes do not match their sha256": {
    size: 2 * MB,
    faults: { corrupt: true },
    outcome: "ChecksumMismatchError",
  },
  "a download the CDN keeps failing": {
    size: 2 * MB,
    faults: { serverError: { on: "cdn" } },
    outcome: "DownloadFailedError",
  },
};

describe("the process that called ensureModel", () => {
  it.for(Object.entries(cases))(
    "%s: ends on its own once the call returned",
    { timeout: 60_000 },
    async ([, c]) => {
      const fx = await fixture(c.size, c.faults ? { hub: { faults: c.faults } } : {});
      await c.prepare?.(fx);
      const call = startScript("test/model-store/ensure-model-process.ts", fx.vars(c.vars), [
        JSON.stringify(c.run ?? {}),
      ]);
      onTestFinished(() => {
        if (call.child.exitCode === null && call.child.signalCode === null) call.child.kill();
      });
      if (c.abortOnceOnVolume !== undefined) {
        await partialHolds(blobsOf(fx), c.abortOnceOnVolume);
        call.child.kill("SIGUSR2");
      }
      // The condition: the process ends by itself (the call's idle timeout is 10 minutes).
      expect(await call.exited, call.stderr.join("\n")).toBe(0);
      const result = JSON.parse(call.stdout.at(-1) ?? "{}") as { path?: string; error?: string };
      if (c.outcome === "ok") {
        expect(result.error).toBeUndefined();
        expect(await sha256(result.path ?? "")).toBe(await fx.hub.sha256Of(REPO, FILE));
      } else {
        expect(result.error).toMatch(new RegExp(`^${c.outcome}`));
      }
      await c.check?.(fx);
    },
  );
});
