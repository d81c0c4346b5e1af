import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onTestFinished } from "vitest";
import {
  type EmulatedRepo,
  type HubEmulator,
  type HubEmulatorOptions,
  type LoggedRequest,
  startHubEmulator,
} from "../../dev/hub-emulator/start-hub-emulator";
import { modelSource, parseEnv } from "../../src/env";
import type { ModelSource } from "../../src/model-store/model-source";

export const REPO = "test-owner/tiny-GGUF";
export const MB = 1 << 20;
/** Retry and idle-timeout settings short enough for tests. */
export const fast = { retry: { attempts: 3, baseMs: 10 }, idleTimeoutMs: 2_000 };
export const FILE = "model-Q4_K_M.gguf";
export const TOKEN = "hf_emulatedtokenemulatedtoken";

export interface Fixture {
  dir: string;
  cacheDir: string;
  modelFile: string;
  hub: HubEmulator;
  /** What ensureModel is given, from the runner's variables (plus `extra`). */
  source(extra?: Record<string, string>): ModelSource;
  /** The environment as strings, for child processes. */
  vars(extra?: Record<string, string>): Record<string, string>;
}

/**
 * A temp dir with a random "model" of `size` bytes served by a fresh Hub emulator, made in a test
 * and closed when that test has finished (after its `afterEach` hooks).
 */
export async function fixture(
  size: number,
  options: { repo?: Partial<EmulatedRepo>; hub?: Partial<HubEmulatorOptions> } = {},
): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), "model-store-"));
  const modelFile = join(dir, "source.gguf");
  await writeFile(modelFile, randomBytes(size));
  const hub = await startHubEmulator({
    repos: [{ repo: REPO, files: { [FILE]: modelFile }, ...options.repo }],
    token: TOKEN,
    ...options.hub,
  });
  onTestFinished(async () => {
    await hub.close();
    await rm(dir, { recursive: true, force: true });
  });
  const cacheDir = join(dir, "volume");
  const vars = (extra: Record<string, string> = {}) => ({
    RUNNER_INSECURE: "1",
    MODEL_REPO: REPO,
    MODEL_FILE: FILE,
    MODEL_CACHE_DIR: cacheDir,
    HF_ENDPOINT: hub.url,
    LOG_LEVEL: "silent",
    ...extra,
  });
  return {
    dir,
    cacheDir,
    modelFile,
    hub,
    vars,
    source: (extra) => modelSource(parseEnv(vars(extra))),
  };
}

/** CDN requests that carried file bytes (not the 1-byte probes). */
export function bodyRequests(requests: LoggedRequest[]): LoggedRequest[] {
  return requests.filter((r) => r.host === "cdn" && r.range !== "bytes=0-0");
}

export function bodyBytes(requests: LoggedRequest[]): number {
  return bodyRequests(requests).reduce((n, r) => n + r.bytes, 0);
}

export async function sha256(path: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
}

/** The repo's folder in the cache layout (`models--owner--name`). */
export function repoDir(f: Fixture): string {
  return join(f.cacheDir, `models--${REPO.replace("/", "--")}`);
}

/**
 * Leaves the model's first `bytes` on the volume as huggingface_hub's partial download
 * (`blobs/<sha>.incomplete`), for a download to resume; returns the file's sha256.
 */
export async function writePartial(f: Fixture, bytes: number): Promise<string> {
  const sha = await f.hub.sha256Of(REPO, FILE);
  const blobs = join(repoDir(f), "blobs");
  await mkdir(blobs, { recursive: true });
  const prefix = (await readFile(f.modelFile)).subarray(0, bytes);
  await writeFile(join(blobs, `${sha}.incomplete`), prefix);
  return sha;
}

/** The most requests that were in flight at the same moment. */
export function maxOverlap(requests: LoggedRequest[]): number {
  const edges = requests.flatMap((r) => [
    { at: r.startedAt, d: 1 },
    { at: r.endedAt, d: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.d - b.d);
  let open = 0;
  let most = 0;
  for (const e of edges) {
    open += e.d;
    most = Math.max(most, open);
  }
  return most;
}

/**
 * The emulator logs a request when the server sees its response close, which may come a moment
 * after the client has read every byte: wait (up to 10 s) for what the assertions then check.
 */
export async function logged(holds: () => boolean): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (!holds() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}
