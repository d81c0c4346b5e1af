import { mkdir, readdir, readFile, readlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { scanCacheDir } from "@huggingface/hub";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { ensureModel, type ModelProgress } from "../../src/model-store/ensure-model";
import {
  ChecksumMismatchError,
  DiskSpaceError,
  DownloadFailedError,
  GatedRepoError,
  ModelNotFoundError,
  OfflineModelMissingError,
} from "../../src/model-store/errors";
import {
  bodyBytes,
  bodyRequests,
  FILE,
  fast,
  fixture,
  MB,
  REPO,
  repoDir,
  sha256,
  TOKEN,
  writePartial,
} from "./fixtures";

function memoryLogger() {
  const lines: string[] = [];
  return { lines, logger: pino({ level: "debug" }, { write: (s: string) => lines.push(s) }) };
}

describe("ensureModel against the Hub emulator", () => {
  it("downloads once into the Hugging Face cache layout, then starts warm with zero requests", async () => {
    const fx = await fixture(3 * MB);
    const commit = fx.hub.commitOf(REPO);
    const expected = await fx.hub.sha256Of(REPO, FILE);
    const seen: ModelProgress[] = [];
    const model = await ensureModel({ ...fx.source(), ...fast, onProgress: (p) => seen.push(p) });

    expect(model).toEqual({
      path: join(repoDir(fx), "snapshots", commit, FILE),
      commit,
      sha256: expected,
      size: 3 * MB,
    });
    expect(await sha256(model.path)).toBe(expected);
    expect(await readlink(model.path)).toBe(`../../blobs/${expected}`);
    expect(await readFile(join(repoDir(fx), "refs", "main"), "utf8")).toBe(commit);
    expect((await readdir(join(repoDir(fx), "blobs"))).sort()).toEqual([expected]);
    expect(seen.map((p) => p.phase)).toContain("downloading");
    expect(seen.at(-1)).toMatchObject({ phase: "ready", bytes: 3 * MB, downloader: "self" });
    expect(bodyBytes(fx.hub.requests)).toBe(3 * MB);
    // The cache scanner that mirrors Python's `scan_cache_dir` reads the volume as a clean cache.
    const scan = await scanCacheDir(fx.cacheDir);
    expect(scan.warnings).toEqual([]);
    expect(scan.repos).toHaveLength(1);
    expect(scan.repos[0]!.id).toEqual({ name: REPO, type: "model" });
    expect(scan.repos[0]!.revisions).toMatchObject([
      { commitOid: commit, refs: ["main"], files: [{ path: model.path, blob: { size: 3 * MB } }] },
    ]);

    fx.hub.requests.length = 0;
    expect(await ensureModel(fx.source({ MODEL_REVISION: commit }))).toEqual(model);
    expect(fx.hub.requests).toEqual([]);

    // A branch needs one request (where does it point now?) and no download.
    expect(await ensureModel(fx.source())).toEqual(model);
    expect(fx.hub.requests.map((r) => r.path)).toEqual([`/api/models/${REPO}/revision/main`]);
  });

  it("leaves no file on the volume open, verified, corrupt or aborted (the hash's read handles included)", async () => {
    const openOn = async (dir: string) => {
      const fds = await readdir("/proc/self/fd");
      const targets = await Promise.all(
        fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => "")),
      );
      return targets.filter((t) => t.startsWith(dir));
    };
    const allClosed = async (dir: string) => {
      const deadline = performance.now() + 10_000;
      while ((await openOn(dir)).length > 0 && performance.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      return openOn(dir);
    };
    const fx = await fixture(2 * MB);
    await ensureModel({ ...fx.source(), ...fast });
    expect(await allClosed(fx.cacheDir)).toEqual([]);

    const bad = await fixture(2 * MB, { hub: { faults: { corrupt: true } } });
    await expect(ensureModel({ ...bad.source(), ...fast })).rejects.toThrow(ChecksumMismatchError);
    expect(await allClosed(bad.cacheDir)).toEqual([]);

    // Aborted as the resumed prefix starts to be read back for the hash (before the file opened).
    const resumed = await fixture(24 * MB);
    await writePartial(resumed, 16 * MB);
    const controller = new AbortController();
    const reason = new Error("shutting down");
    const aborted = ensureModel({
      ...resumed.source(),
      ...fast,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.phase === "downloading") controller.abort(reason);
      },
    });
    await expect(aborted).rejects.toBe(reason);
    expect(await allClosed(resumed.cacheDir)).toEqual([]);
  });

  it("HF_HUB_OFFLINE=1 uses the volume without any request, or fails clearly", async () => {
    const fx = await fixture(MB);
    const offline = fx.source({ HF_HUB_OFFLINE: "1" });
    await expect(ensureModel(offline)).rejects.toThrow(OfflineModelMissingError);
    await expect(ensureModel(offline)).rejects.toThrow(
      /HF_HUB_OFFLINE=1 .* holds no verified model-Q4_K_M\.gguf at revision "main"/,
    );
    expect(fx.hub.requests).toEqual([]);

    const pulled = await ensureModel({ ...fx.source(), ...fast });
    fx.hub.requests.length = 0;
    expect(await ensureModel(offline)).toEqual(pulled);
    expect(fx.hub.requests).toEqual([]);
  });

  it("uses what refs/ recorded when the Hub is unreachable", async () => {
    const fx = await fixture(MB);
    const pulled = await ensureModel({ ...fx.source(), ...fast });
    await fx.hub.close();
    expect(
      await ensureModel({ ...fx.source(), ...fast, retry: { attempts: 1, baseMs: 1 } }),
    ).toEqual(pulled);
  });

  it("rejects bytes that do not match the advertised sha256 and installs nothing", async () => {
    const fx = await fixture(2 * MB, { hub: { faults: { corrupt: true } } });
    const error = await ensureModel({ ...fx.source(), ...fast }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChecksumMismatchError);
    expect(String(error)).toMatch(
      /does not match the Hub: expected sha256 [0-9a-f]{64}, got [0-9a-f]{64}; nothing was installed/,
    );
    expect(await readdir(join(repoDir(fx), "blobs"))).toEqual([]); // no blob, no partial, no lock
    expect(await readdir(join(repoDir(fx), "snapshots")).catch(() => [])).toEqual([]);
  });

  it("retries a stalled body after the idle timeout and resumes with Range", async () => {
    const fx = await fixture(4 * MB, { hub: { faults: { stall: { afterBytes: MB, times: 1 } } } });
    const model = await ensureModel({ ...fx.source(), ...fast, idleTimeoutMs: 300 });
    expect(await sha256(model.path)).toBe(await fx.hub.sha256Of(REPO, FILE));
    const bodies = bodyRequests(fx.hub.requests);
    expect(bodies).toHaveLength(2);
    const resumedAt = Number(/^bytes=(\d+)-/.exec(bodies[1]!.range ?? "")?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
  });

  it("retries dropped connections and 5xx answers with backoff", async () => {
    const fx = await fixture(3 * MB, {
      hub: {
        faults: { drop: { afterBytes: MB, times: 2 }, serverError: { status: 502, times: 2 } },
      },
    });
    const model = await ensureModel({ ...fx.source(), ...fast });
    expect(await sha256(model.path)).toBe(await fx.hub.sha256Of(REPO, FILE));
    expect(fx.hub.requests.filter((r) => r.status === 502)).toHaveLength(2);
    const bodies = bodyRequests(fx.hub.requests);
    expect(bodies).toHaveLength(3);
    expect(bodies.slice(1).every((r) => /^bytes=[1-9]\d*-/.test(r.range ?? ""))).toBe(true);
  });

  it("gives up with a clear error when the Hub keeps failing", async () => {
    const fx = await fixture(MB, { hub: { faults: { serverError: { status: 503 } } } });
    await expect(ensureModel({ ...fx.source(), ...fast })).rejects.toThrow(DownloadFailedError);
    await expect(ensureModel({ ...fx.source(), ...fast })).rejects.toThrow(
      /failed 4 times \(HTTP 503\)/,
    );
  });

  it("explains gated repos (401 without a token, 403 with a wrong one) and never shows the token", async () => {
    const fx = await fixture(MB, { repo: { gated: true } });
    const anonymous = await ensureModel({ ...fx.source(), ...fast }).catch((e: unknown) => e);
    expect(anonymous).toBeInstanceOf(GatedRepoError);
    expect((anonymous as GatedRepoError).status).toBe(401);
    expect(String(anonymous)).toMatch(/set HF_TOKEN .* accepted the model's licence/);

    const wrong = "hf_wrongwrongwrongwrong";
    const { lines, logger } = memoryLogger();
    const denied = await ensureModel({ ...fx.source({ HF_TOKEN: wrong }), ...fast, logger }).catch(
      (e: unknown) => e,
    );
    expect((denied as GatedRepoError).status).toBe(403);
    expect(`${String(denied)} ${JSON.stringify(denied)} ${lines.join("")}`).not.toContain(wrong);

    fx.hub.requests.length = 0;
    const model = await ensureModel({ ...fx.source({ HF_TOKEN: TOKEN }), ...fast, logger });
    expect(await sha256(model.path)).toBe(await fx.hub.sha256Of(REPO, FILE));
    expect(lines.join("")).not.toContain(TOKEN);
    // The token goes to the Hub, never to the CDN it redirects to.
    expect(fx.hub.requests.filter((r) => r.host === "hub").every((r) => r.authorized)).toBe(true);
    expect(fx.hub.requests.filter((r) => r.host === "cdn").some((r) => r.authorized)).toBe(false);
  });

  it("names the missing repo, revision or file", async () => {
    const fx = await fixture(MB);
    const fail = (extra: Record<string, string>) =>
      ensureModel({ ...fx.source(extra), ...fast }).catch((e: unknown) => e);
    const repo = await fail({ MODEL_REPO: "nobody/nothing" });
    expect(repo).toBeInstanceOf(ModelNotFoundError);
    expect(repo).toMatchObject({
      what: "repo",
      message: expect.stringContaining("nobody/nothing not found"),
    });
    expect(await fail({ MODEL_REVISION: "v9" })).toMatchObject({
      what: "revision",
      message: expect.stringContaining('revision "v9" not found in test-owner/tiny-GGUF'),
    });
    expect(await fail({ MODEL_FILE: "missing.gguf" })).toMatchObject({
      what: "file",
      message: expect.stringContaining("file missing.gguf not found in test-owner/tiny-GGUF"),
    });
  });

  it("refuses early when the volume cannot hold the file, naming the path and the size", async () => {
    const fx = await fixture(MB, { hub: { faults: { advertisedSize: 10 ** 16 } } });
    const error = await ensureModel({ ...fx.source(), ...fast }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DiskSpaceError);
    expect(String(error)).toContain(join(repoDir(fx), "blobs"));
    expect(String(error)).toMatch(/need 10\.0 PB/);
  });

  it("aborts with the signal's reason, keeps the partial file, and the next call resumes it", async () => {
    const fx = await fixture(4 * MB, { hub: { faults: { throttle: 2 * MB } } });
    const controller = new AbortController();
    const reason = new Error("shutting down");
    const aborted = ensureModel({
      ...fx.source(),
      ...fast,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.phase === "downloading" && p.bytes > 0) controller.abort(reason);
      },
    });
    await expect(aborted).rejects.toBe(reason);
    const left = await readdir(join(repoDir(fx), "blobs"));
    expect(left.filter((n) => n.endsWith(".lock"))).toEqual([]);
    expect(left.filter((n) => n.endsWith(".incomplete"))).toHaveLength(1);

    fx.hub.setFaults({});
    fx.hub.requests.length = 0;
    const model = await ensureModel({ ...fx.source(), ...fast });
    expect(await sha256(model.path)).toBe(await fx.hub.sha256Of(REPO, FILE));
    const [resume] = bodyRequests(fx.hub.requests);
    expect(Number(/^bytes=(\d+)-/.exec(resume?.range ?? "")?.[1])).toBeGreaterThan(0);
    expect(bodyBytes(fx.hub.requests)).toBeLessThan(4 * MB);
  });

  it("reports another container's progress while it holds the lock, and takes over when it stops", async () => {
    const fx = await fixture(MB);
    const sha = await fx.hub.sha256Of(REPO, FILE);
    const lockPath = join(repoDir(fx), "blobs", `${sha}.lock`);
    const foreign = (seq: number, bytes: number) =>
      JSON.stringify({
        owner: "other-container",
        host: "elsewhere",
        machine: "",
        pid: 1,
        seq,
        bytes,
        totalBytes: MB,
      });
    await mkdir(join(repoDir(fx), "blobs"), { recursive: true });
    await writeFile(lockPath, foreign(0, 123));

    const waits: number[] = [];
    let bumped = false;
    const model = await ensureModel({
      ...fx.source(),
      ...fast,
      lockTiming: { heartbeatMs: 50, staleMs: 500, pollMs: 20 },
      onProgress: (p) => {
        if (p.phase !== "waiting") return;
        expect(p.downloader).toBe("other");
        waits.push(p.bytes);
        // The "other container" heartbeats once after we have seen its first state.
        if (!bumped) {
          bumped = true;
          void writeFile(lockPath, foreign(1, 456));
        }
      },
    });
    expect(waits[0]).toBe(123);
    expect(waits).toContain(456);
    expect(await sha256(model.path)).toBe(sha);
    expect(bodyBytes(fx.hub.requests)).toBe(MB);
    expect((await readdir(join(repoDir(fx), "blobs"))).sort()).toEqual([sha]);
  });

  it("resumes from huggingface_hub's <sha>.incomplete, and starts over when a resumed prefix was bad", async () => {
    const fx = await fixture(3 * MB);
    const sha = await writePartial(fx, MB);
    const model = await ensureModel({ ...fx.source(), ...fast });
    expect(await sha256(model.path)).toBe(sha);
    expect(bodyRequests(fx.hub.requests).map((r) => r.range)).toEqual([
      `bytes=${MB}-${3 * MB - 1}`,
    ]);

    // A partial whose bytes are wrong (a crash wrote zeros): the resume fails the check, a clean
    // download follows, and the result is right.
    const other = await fixture(2 * MB);
    const otherSha = await other.hub.sha256Of(REPO, FILE);
    const otherBlobs = join(repoDir(other), "blobs");
    await mkdir(otherBlobs, { recursive: true });
    await writeFile(join(otherBlobs, `${otherSha}.dead-owner.incomplete`), Buffer.alloc(MB));
    const again = await ensureModel({ ...other.source(), ...fast });
    expect(await sha256(again.path)).toBe(otherSha);
    expect(bodyRequests(other.hub.requests).map((r) => r.range)).toEqual([
      `bytes=${MB}-${2 * MB - 1}`,
      undefined,
    ]);
    expect(await readdir(otherBlobs)).toEqual([otherSha]);
  });

  it("does not trust a blob whose bytes do not match its name (the zero-filled file of a race)", async () => {
    const fx = await fixture(2 * MB);
    const sha = await fx.hub.sha256Of(REPO, FILE);
    const commit = fx.hub.commitOf(REPO);
    const first = await ensureModel({ ...fx.source(), ...fast });
    // Simulate the old failure: same name, zeros inside, no verification record of ours.
    await writeFile(join(repoDir(fx), "blobs", sha), Buffer.alloc(2 * MB));
    fx.hub.requests.length = 0;
    const model = await ensureModel({ ...fx.source({ MODEL_REVISION: commit }), ...fast });
    expect(model.path).toBe(first.path);
    expect(await sha256(model.path)).toBe(sha);
    expect(bodyBytes(fx.hub.requests)).toBe(2 * MB);
  });

  it("gets by with resolve's headers on a Hub without the revision and paths-info routes", async () => {
    const fx = await fixture(MB, { hub: { faults: { unsupported: ["revision", "paths-info"] } } });
    const model = await ensureModel({ ...fx.source(), ...fast });
    expect(model.commit).toBe(fx.hub.commitOf(REPO));
    expect(await sha256(model.path)).toBe(await fx.hub.sha256Of(REPO, FILE));
    expect(fx.hub.requests.filter((r) => r.method === "HEAD").map((r) => r.path)).toEqual([
      `/${REPO}/resolve/main/${FILE}`,
      `/${REPO}/resolve/${model.commit}/${FILE}`,
    ]);
    await expect(
      ensureModel({ ...fx.source({ MODEL_FILE: "other.gguf" }), ...fast }),
    ).rejects.toMatchObject({
      what: "file",
      message: expect.stringContaining("file other.gguf not found"),
    });
  });

  it("downloads a Xet-backed file over the plain route production uses (xet: false)", async () => {
    const fx = await fixture(MB, { repo: { xet: true } });
    const model = await ensureModel({ ...fx.source(), ...fast });
    expect(await sha256(model.path)).toBe(await fx.hub.sha256Of(REPO, FILE));
    expect(bodyBytes(fx.hub.requests)).toBe(MB);
    expect(fx.hub.requests.some((r) => r.path.startsWith("/xet"))).toBe(false);
  });
});
