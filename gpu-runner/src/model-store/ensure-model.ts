import { mkdir, rename, stat } from "node:fs/promises";
import { join } from "node:path";
import { fileDownloadInfo } from "@huggingface/hub";
import type { Logger } from "pino";
import { DEFAULT_RETRY, type RetryPolicy } from "./backoff";
import {
  type CacheLayout,
  COMMIT_RE,
  cacheLayout,
  linkedBlob,
  linkSnapshot,
  readRef,
  writeRef,
} from "./cache-layout";
import { classifyHubError, type HubTarget } from "./classify-hub-error";
import { downloadBlob } from "./download-blob";
import {
  ChecksumMismatchError,
  DownloadFailedError,
  ModelNotFoundError,
  OfflineModelMissingError,
  rethrowDisk,
} from "./errors";
import { HubFetch } from "./hub-fetch";
import { fileMetadata, resolveCommit } from "./hub-metadata";
import type { ModelSource } from "./model-source";
import { adoptPartial, removePartial } from "./partial-download";
import { type BlobCheck, isBlobVerified, recordVerified } from "./verified-blob";
import { acquireVolumeLock, type LockTiming } from "./volume-lock";
import { withRetries } from "./with-retries";

export type ModelProgress = {
  phase: "resolving" | "waiting" | "downloading" | "verifying" | "ready";
  bytes: number;
  totalBytes?: number;
  downloader: "self" | "other";
};

export interface EnsureModelParams extends ModelSource {
  signal?: AbortSignal;
  onProgress?: (p: ModelProgress) => void;
  logger?: Logger;
  /** Lock heartbeat/takeover timing (tests shorten it). */
  lockTiming?: LockTiming;
  retry?: RetryPolicy;
  /** No bytes (headers or body) for this long → the request is retried. Default 30 s. */
  idleTimeoutMs?: number;
  /** Bytes per ranged request (tests shorten it to see several at once). Default 64 MiB. */
  rangeBytes?: number;
}

/**
 * One ranged request asks for this much: few enough requests that each one's redirect through
 * the Hub costs little, small enough that a crash loses little and the hash keeps up.
 */
const DEFAULT_RANGE_BYTES = 64 << 20;

export interface EnsuredModel {
  /** `snapshots/<commit>/<file>` in the volume: a verified GGUF. */
  path: string;
  commit: string;
  sha256: string;
  size: number;
}

/**
 * Makes the model file present and verified in the shared volume (Hugging Face cache layout) and
 * returns its path. With a 40-hex revision already on the volume it makes no request at all.
 * Several containers may call it at once: one downloads under a lock on the volume, the others
 * report its progress and take over if it dies. Abort rethrows `signal.reason`.
 *
 * Production route: `@huggingface/hub` with `xet: false`, i.e. resolve → 302 → plain HTTP bytes
 * (for Xet-backed files the Hub's bridge serves them the same way). One byte stream is what makes
 * Range resume into a per-process temp file, incremental sha256 and the idle timeout possible,
 * and it is the route the Hub emulator tests exercise.
 */
export async function ensureModel(params: EnsureModelParams): Promise<EnsuredModel> {
  const signal = params.signal ?? new AbortController().signal;
  signal.throwIfAborted();
  const { repo, file, revision } = params;
  const log = params.logger?.child({ component: "model-store", repo, file, revision });
  const layout = cacheLayout(params.cacheDir, repo);
  const report = progressReporter(params.onProgress);
  report({ phase: "resolving", bytes: 0, downloader: "self" });
  const warm = async (commit: string) => {
    const hit = await warmHit(layout, commit, file, { signal, report });
    if (hit) {
      report({ phase: "ready", bytes: hit.size, totalBytes: hit.size, downloader: "self" });
      log?.info({ commit, size: hit.size }, "model present in the volume");
    }
    return hit;
  };

  // The volume answers without the network when the commit is known locally.
  const known = COMMIT_RE.test(revision)
    ? revision
    : params.offline
      ? await readRef(layout, revision)
      : undefined;
  if (known) {
    const hit = await warm(known);
    if (hit) return hit;
  }
  if (params.offline) {
    throw new OfflineModelMissingError(
      `HF_HUB_OFFLINE=1 but ${layout.root} holds no verified ${file} at revision "${revision}"${known ? ` (commit ${known})` : ""}: pull it once with the network (npm run -w gpu-runner pull) or unset HF_HUB_OFFLINE`,
    );
  }
  const credentials = params.accessToken ? { accessToken: params.accessToken } : {};
  const target: HubTarget = { repo, revision, file, endpoint: params.hubUrl.replace(/\/+$/, "") };
  const idleMs = params.idleTimeoutMs ?? 30_000;
  const retry = params.retry ?? DEFAULT_RETRY;
  const hub = new HubFetch({ idleMs, signal });
  const context = { target, hub, ...credentials };
  const call = <T>(what: string, fn: () => Promise<T>) =>
    hubCall(what, fn, { hub, target, retry, signal, log });

  let commit = known;
  if (!commit) {
    // With a commit recorded for this branch, a Hub outage should cost one try, not the backoff.
    const recorded = await readRef(layout, revision);
    const resolve = recorded
      ? <T>(what: string, fn: () => Promise<T>) =>
          hubCall(what, fn, { hub, target, retry: { ...retry, attempts: 1 }, signal, log })
      : call;
    try {
      commit = await resolve("resolve revision", () => resolveCommit(context));
    } catch (error) {
      // The Hub is unreachable: a verified copy of what the branch last pointed to still serves.
      const fallback = error instanceof DownloadFailedError ? recorded : undefined;
      const hit = fallback && (await warm(fallback));
      if (hit) {
        log?.warn({ commit: fallback }, "Hub unreachable; using the commit refs/ recorded");
        return hit;
      }
      throw error;
    }
    // A read-only volume still serves what it holds; a download would fail clearly later.
    await writeRef(layout, revision, commit).catch((error: unknown) =>
      log?.warn({ err: String(error) }, "could not record refs/ on the volume"),
    );
    const hit = await warm(commit);
    if (hit) return hit;
  }
  const at = commit;

  const { check, size } = await call("file info", () => fileMetadata(context, at));
  const snapshot = layout.snapshot(at, file);
  const install = async (): Promise<EnsuredModel> => {
    try {
      await recordVerified(layout, check.oid);
      await linkSnapshot(layout, snapshot, check.oid);
      if (revision !== at) await writeRef(layout, revision, at);
    } catch (error) {
      rethrowDisk(error, layout.root, 0);
    }
    report({ phase: "ready", bytes: size, totalBytes: size, downloader: "self" });
    return { path: snapshot, commit: at, sha256: check.oid, size };
  };
  // Another revision (or a finished neighbour) may already have put this blob here.
  if (await isBlobVerified(layout, check, { signal })) return install();

  const info = await call("resolve file", () =>
    fileDownloadInfo({
      repo,
      path: file,
      revision: at,
      hubUrl: target.endpoint,
      fetch: hub.fetch,
      ...credentials,
    }),
  );
  if (!info)
    throw new ModelNotFoundError("file", `file ${file} not found in ${repo} at "${revision}"`);

  await mkdirOrExplain(layout, size);
  let freshRetry = false;
  for (;;) {
    const lock = await acquireVolumeLock(layout.lock(check.oid), {
      signal,
      ...(params.lockTiming ? { timing: params.lockTiming } : {}),
      onWait: (holder) =>
        report({ phase: "waiting", bytes: holder.bytes, totalBytes: size, downloader: "other" }),
    });
    try {
      // Re-check: whoever held the lock before us may have finished.
      if (await isBlobVerified(layout, check, { signal })) return await install();
      const temp = join(layout.blobs, `${check.oid}.${lock.owner}.incomplete`);
      const adopted = await adoptPartial(layout, check.oid, temp);
      if (adopted > 0)
        report({ phase: "verifying", bytes: adopted, totalBytes: size, downloader: "self" });
      log?.info({ commit: at, size, adopted }, "downloading the model into the volume");
      const downloadSignal = AbortSignal.any([signal, lock.signal]);
      try {
        await downloadBlob({
          target,
          commit: at,
          info,
          ...credentials,
          idleMs,
          connections: params.connections,
          rangeBytes: params.rangeBytes ?? DEFAULT_RANGE_BYTES,
          tempPath: temp,
          size,
          check,
          retry,
          signal: downloadSignal,
          ...(log ? { logger: log } : {}),
          onBytes: (bytes) => {
            lock.progress(bytes, size);
            report({ phase: "downloading", bytes, totalBytes: size, downloader: "self" });
          },
        });
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        if (lock.signal.aborted) {
          log?.warn("lost the download lock to another container; waiting for it");
          continue;
        }
        if (error instanceof ChecksumMismatchError) {
          await removePartial(temp);
          // A resumed prefix may have been the bad part: one clean download decides.
          if (adopted > 0 && !freshRetry) {
            freshRetry = true;
            log?.warn("resumed download did not verify; downloading again from the start");
            continue;
          }
        }
        throw error;
      }
      report({ phase: "verifying", bytes: size, totalBytes: size, downloader: "self" });
      await rename(temp, layout.blob(check.oid)).catch((e) => rethrowDisk(e, layout.blobs, 0));
      log?.info({ commit: at, size }, "model downloaded and verified");
      return await install();
    } finally {
      await lock.release();
    }
  }
}

/** A verified snapshot entry for this commit, if the volume has one. */
async function warmHit(
  layout: CacheLayout,
  commit: string,
  file: string,
  o: { signal: AbortSignal; report: (p: ModelProgress) => void },
): Promise<EnsuredModel | undefined> {
  const path = layout.snapshot(commit, file);
  const sha = await linkedBlob(layout, path);
  if (!sha || !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(sha)) return undefined;
  const check: BlobCheck =
    sha.length === 64 ? { kind: "sha256", oid: sha } : { kind: "git-sha1", oid: sha };
  const ok = await isBlobVerified(layout, check, {
    signal: o.signal,
    onHashing: () => o.report({ phase: "verifying", bytes: 0, downloader: "self" }),
  });
  if (!ok) return undefined;
  const { size } = await stat(layout.blob(sha));
  return { path, commit, sha256: sha, size };
}

async function mkdirOrExplain(layout: CacheLayout, size: number): Promise<void> {
  await mkdir(layout.blobs, { recursive: true }).catch((e) => rethrowDisk(e, layout.blobs, size));
}

/** Retries a Hub call on 5xx, 429 and dropped/stalled connections; other failures are classified. */
function hubCall<T>(
  what: string,
  fn: () => Promise<T>,
  o: {
    hub: HubFetch;
    target: HubTarget;
    retry: RetryPolicy;
    signal: AbortSignal;
    log: Logger | undefined;
  },
): Promise<T> {
  const reason = (error: unknown) =>
    o.hub.lastFailure
      ? `HTTP ${o.hub.lastFailure.status}`
      : o.hub.idleTimedOut
        ? "idle timeout"
        : String((error as Error)?.message ?? error);
  return withRetries(
    () => {
      o.hub.reset();
      return fn();
    },
    {
      retry: o.retry,
      signal: o.signal,
      classify: (error) => classifyHubError(error, o.hub, o.target),
      exhausted: (failures, error) =>
        new DownloadFailedError(
          `${what} for ${o.target.repo} failed ${failures} times (${reason(error)}); is ${o.target.endpoint} reachable?`,
          { cause: error },
        ),
      onRetry: (failures, error) =>
        o.log?.warn({ what, failures, reason: reason(error) }, "Hub request failed; retrying"),
    },
  );
}

/** Phase changes go out at once; byte counts at most every 250 ms. */
function progressReporter(onProgress?: (p: ModelProgress) => void): (p: ModelProgress) => void {
  let last: ModelProgress | undefined;
  let lastAt = 0;
  return (p) => {
    if (!onProgress) return;
    const now = performance.now();
    const sameKind = last?.phase === p.phase && last.downloader === p.downloader;
    if (sameKind && p.bytes !== p.totalBytes && now - lastAt < 250) return;
    last = p;
    lastAt = now;
    onProgress(p);
  };
}
