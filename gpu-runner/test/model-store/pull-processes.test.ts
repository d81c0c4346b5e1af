import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  bodyBytes,
  bodyRequests,
  FILE,
  fixture,
  MB,
  REPO,
  repoDir,
  sha256,
  TOKEN,
} from "./fixtures";
import { type PullProcess, progressLines, startPull } from "./pull-process";

let running: PullProcess[] = [];
afterEach(async () => {
  for (const p of running) if (p.child.exitCode === null) p.child.kill("SIGKILL");
  await Promise.all(running.map((p) => p.exited));
  running = [];
});

const pull = (vars: Record<string, string>) => {
  const p = startPull(vars);
  running.push(p);
  return p;
};
const isProgress = (phases: string[]) => (line: string) =>
  phases.some((phase) => line.startsWith(`{"phase":"${phase}"`));

describe("pull CLI processes on one shared volume", () => {
  it("four processes at once: one full download, all four print the verified path", async () => {
    const size = 8 * MB;
    // Slow until all four are past resolving, so they really overlap; then full speed.
    const fx = await fixture(size, { hub: { faults: { throttle: 256 * 1024 } } });
    const vars = fx.vars({ LOG_LEVEL: "info" });
    const pulls = [0, 1, 2, 3].map(() => pull(vars));
    await Promise.all(pulls.map((p) => p.waitFor(isProgress(["waiting", "downloading"]))));
    fx.hub.setFaults({});
    const codes = await Promise.all(pulls.map((p) => p.exited));

    expect(codes).toEqual([0, 0, 0, 0]);
    const commit = fx.hub.commitOf(REPO);
    const expectedPath = join(
      fx.cacheDir,
      `models--${REPO.replace("/", "--")}`,
      "snapshots",
      commit,
      FILE,
    );
    for (const p of pulls) expect(p.stdout.at(-1)).toBe(expectedPath);
    expect(await sha256(expectedPath)).toBe(await fx.hub.sha256Of(REPO, FILE));
    // Exactly one process fetched the body, once (each range once); the other three waited on it.
    const ranges = bodyRequests(fx.hub.requests).map((r) => r.range ?? "whole");
    expect(new Set(ranges).size).toBe(ranges.length);
    expect(bodyBytes(fx.hub.requests)).toBe(size);
    const downloaders = pulls.filter((p) =>
      progressLines(p.stderr).some((l) => l.phase === "downloading" && l.downloader === "self"),
    );
    expect(downloaders).toHaveLength(1);
    const waiters = pulls.filter((p) =>
      progressLines(p.stderr).some((l) => l.phase === "waiting" && l.downloader === "other"),
    );
    expect(waiters).toHaveLength(3);
    const blobs = await readdir(join(fx.cacheDir, `models--${REPO.replace("/", "--")}`, "blobs"));
    expect(blobs).toEqual([await fx.hub.sha256Of(REPO, FILE)]);
  });

  it("kill -9 mid-file: the next pull takes the dead owner's lock over, resumes with Range, verifies", async () => {
    const size = 6 * MB;
    const fx = await fixture(size, { hub: { faults: { throttle: 1 * MB } } });
    const first = pull(fx.vars());
    await first.waitFor((line) => {
      const p = progressLines([line])[0];
      // Reported bytes may still be in flight to the disk; the megabyte before them is not.
      return p?.phase === "downloading" && p.bytes >= 2 * MB;
    });
    first.child.kill("SIGKILL");
    expect(await first.exited).toBe(null);
    const blobsDir = join(repoDir(fx), "blobs");
    const left = await readdir(blobsDir);
    expect(left.some((n) => n.endsWith(".lock"))).toBe(true); // the dead owner's lock is still there
    expect(left.some((n) => n.endsWith(".incomplete"))).toBe(true);

    fx.hub.setFaults({});
    fx.hub.requests.length = 0;
    const second = pull(fx.vars());
    expect(await second.exited).toBe(0);
    const path = second.stdout.at(-1)!;
    expect(await sha256(path)).toBe(await fx.hub.sha256Of(REPO, FILE));
    // The killed transfer is logged when the emulator notices its connection closed: maybe late.
    const resumed = fx.hub.requests.filter((r) => r.range !== undefined);
    const [resume] = bodyRequests(resumed);
    const from = Number(/^bytes=(\d+)-/.exec(resume?.range ?? "")?.[1]);
    expect(from).toBeGreaterThanOrEqual(MB);
    expect(bodyBytes(resumed)).toBe(size - from);
    expect(await readdir(blobsDir)).toEqual([await fx.hub.sha256Of(REPO, FILE)]);
  });

  // Four `pull` processes one after another: each start takes seconds on a busy machine.
  it("fails with one clear line and exit 1, without RUNNER_SECRET, never echoing HF_TOKEN", async () => {
    const fx = await fixture(MB, { repo: { gated: true } });
    const { RUNNER_INSECURE: _, ...vars } = fx.vars();
    const wrong = "hf_notthetokennotthetoken";
    const gated = pull({ ...vars, HF_TOKEN: wrong, LOG_LEVEL: "debug" });
    expect(await gated.exited).toBe(1);
    expect(gated.stdout).toEqual([]);
    expect(gated.stderr.at(-1)).toMatch(
      /^pull: test-owner\/tiny-GGUF is gated \(HTTP 403\): set HF_TOKEN/,
    );
    expect(gated.stderr.join("\n")).not.toContain(wrong);
    expect(gated.stderr.join("\n")).not.toMatch(/\n\s+at /); // no stack trace

    const missing = pull({ ...vars, HF_TOKEN: TOKEN, MODEL_FILE: "nope.gguf" });
    expect(await missing.exited).toBe(1);
    expect(missing.stderr.at(-1)).toBe(
      'pull: file nope.gguf not found in test-owner/tiny-GGUF at "main"',
    );

    const offline = pull({ ...vars, HF_HUB_OFFLINE: "1" });
    expect(await offline.exited).toBe(1);
    expect(offline.stderr.at(-1)).toMatch(/^pull: HF_HUB_OFFLINE=1 but .* holds no verified/);

    const ok = pull({ ...vars, HF_TOKEN: TOKEN });
    expect(await ok.exited).toBe(0);
    expect(await sha256(ok.stdout.at(-1)!)).toBe(await fx.hub.sha256Of(REPO, FILE));
    expect(ok.stderr.join("\n")).not.toContain(TOKEN);
  }, 120_000);
});
