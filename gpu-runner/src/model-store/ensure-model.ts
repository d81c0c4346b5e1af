import type { Logger } from "pino";
import { DEFAULT_RETRY, type RetryPolicy } from "./backoff";
import { cacheLayout } from "./cache-layout";
import { downloadUnderLock } from "./download-under-lock";
import type { EnsureContext } from "./ensure-context";
import { HubFetch } from "./hub-fetch";
import type { ModelSource } from "./model-source";
import { resolveModelCommit } from "./resolve-model-commit";
import type { LockTiming } from "./volume-lock";

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
  const idleMs = params.idleTimeoutMs ?? 30_000;
  const c: EnsureContext = {
    params,
    signal,
    layout: cacheLayout(params.cacheDir, repo),
    report: progressReporter(params.onProgress),
    log: params.logger?.child({ component: "model-store", repo, file, revision }),
    target: { repo, revision, file, endpoint: params.hubUrl.replace(/\/+$/, "") },
    hub: new HubFetch({ idleMs, signal }),
    ...(params.accessToken ? { accessToken: params.accessToken } : {}),
    retry: params.retry ?? DEFAULT_RETRY,
    idleMs,
  };
  c.report({ phase: "resolving", bytes: 0, downloader: "self" });
  const { commit, present } = await resolveModelCommit(c);
  return present ?? downloadUnderLock(c, commit);
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
