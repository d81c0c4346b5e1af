import { open, stat, statfs, truncate } from "node:fs/promises";
import { dirname } from "node:path";
import { downloadFile, type FileDownloadInfoOutput } from "@huggingface/hub";
import type { Logger } from "pino";
import { backoff, type RetryPolicy } from "./backoff";
import { classifyHubError, type HubTarget } from "./classify-hub-error";
import {
  ChecksumMismatchError,
  DiskSpaceError,
  DownloadFailedError,
  ModelNotFoundError,
  VolumeNotWritableError,
} from "./errors";
import type { HubFetch } from "./hub-fetch";
import { type BlobCheck, hashPrefix, newHash } from "./verified-blob";

export interface DownloadBlobOptions {
  target: HubTarget;
  /** The commit the file is fetched at. */
  commit: string;
  info: FileDownloadInfoOutput;
  accessToken?: string;
  hub: HubFetch;
  /** Per-process temp file; if it holds a prefix of the file, the download resumes after it. */
  tempPath: string;
  size: number;
  check: BlobCheck;
  retry: RetryPolicy;
  signal: AbortSignal;
  onBytes: (bytes: number) => void;
  logger?: Logger;
}

const FLUSH_BYTES = 1 << 20;
const SYNC_BYTES = 32 << 20;

/**
 * Downloads the file into `tempPath` with `@huggingface/hub` (plain LFS route, `xet: false`),
 * resuming with a Range request after whatever the temp file already holds, retrying dropped,
 * stalled and 5xx responses with backoff, and checking size and hash at the end. Returns the
 * offset it resumed from. Writes are positional, so a zombie writer of the same bytes is harmless.
 */
export async function downloadBlob(o: DownloadBlobOptions): Promise<{ resumedFrom: number }> {
  const { signal, size, tempPath } = o;
  let offset = await stat(tempPath).then(
    (s) => s.size,
    () => 0,
  );
  if (offset > size) {
    await truncate(tempPath, 0);
    offset = 0;
  }
  await ensureSpace(dirname(tempPath), size - offset);
  const hash = newHash(o.check, size);
  await hashPrefix(tempPath, offset, hash, signal);
  const resumedFrom = offset;
  o.onBytes(offset); // "downloading" from now on, also while the first megabyte is on its way
  if (offset > 0) o.logger?.info({ resumedFrom: offset, size }, "resuming a partial download");

  const blob = await downloadFile({
    repo: o.target.repo,
    path: o.target.file,
    revision: o.commit,
    hubUrl: o.target.endpoint,
    fetch: o.hub.fetch,
    xet: false,
    downloadInfo: o.info,
    ...(o.accessToken ? { accessToken: o.accessToken } : {}),
  });
  if (!blob) {
    throw new ModelNotFoundError("file", `file ${o.target.file} not found in ${o.target.repo}`);
  }

  const file = await open(tempPath, offset > 0 ? "r+" : "w").catch((e) =>
    rethrowDisk(e, dirname(tempPath), size),
  );
  try {
    let failures = 0;
    while (offset < size) {
      signal.throwIfAborted();
      o.hub.reset();
      const before = offset;
      const state: ReadState = {
        file,
        offset,
        hash,
        o,
        skip: () => (o.hub.lastStatus === 200 ? before : 0),
      };
      try {
        try {
          await readInto(blob.slice(offset).stream(), state);
        } finally {
          offset = state.offset; // what reached the file counts, even when the body failed
        }
        if (offset < size) throw new Error(`the body ended at ${offset} of ${size} bytes`);
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        if (isDiskError(error)) rethrowDisk(error, dirname(tempPath), size - offset);
        if (o.hub.lastFailure?.status === 416 && before > 0) {
          // The server has less than we hold (the partial is not of this file): start over.
          await file.truncate(0);
          return downloadBlob(o);
        }
        const verdict = classifyHubError(error, o.hub, o.target);
        if (verdict !== "retry") throw verdict;
        failures = offset > before ? 1 : failures + 1;
        if (failures > o.retry.attempts) {
          throw new DownloadFailedError(
            `download of ${o.target.repo}/${o.target.file} failed ${failures} times in a row at ${offset} of ${size} bytes (${describe(error, o.hub)})`,
            { cause: error },
          );
        }
        o.logger?.warn(
          { offset, size, failures, reason: describe(error, o.hub) },
          "download interrupted; retrying with a Range request",
        );
        await backoff(failures, o.retry, signal);
      }
    }
    await file.sync();
  } finally {
    await file.close();
  }
  const digest = hash.digest("hex");
  if (digest !== o.check.oid) {
    throw new ChecksumMismatchError(o.target.file, `${o.check.kind} ${o.check.oid}`, digest);
  }
  return { resumedFrom };
}

interface ReadState {
  file: import("node:fs/promises").FileHandle;
  offset: number;
  hash: ReturnType<typeof newHash>;
  o: DownloadBlobOptions;
  /** Bytes to discard at the start (a server that ignored Range sent the file from 0). */
  skip: () => number;
}

/** Streams the body into the file at `s.offset`, batching writes; advances `s.offset`. */
async function readInto(stream: ReadableStream<Uint8Array>, s: ReadState): Promise<void> {
  const { file, hash, o } = s;
  let toSkip: number | undefined;
  let batch: Buffer[] = [];
  let batched = 0;
  let writing: Promise<unknown> = Promise.resolve();
  let unsynced = 0;
  let syncing: Promise<void> | undefined;
  const flush = async () => {
    if (batched === 0) return;
    const chunks = batch;
    const length = batched;
    const position = s.offset;
    batch = [];
    batched = 0;
    await writing;
    writing = writeAll(file, chunks, position).then(() => {
      // Flush to disk while the network keeps going, so the final fsync has little left to do.
      unsynced += length;
      if (unsynced >= SYNC_BYTES && !syncing) {
        unsynced = 0;
        syncing = file.datasync().finally(() => {
          syncing = undefined;
        });
        syncing.catch(() => {}); // awaited (and thrown) at the end
      }
    });
    // A write that fails before it is awaited (ENOSPC) must not crash the process: it is awaited
    // before the next write and in the finally below, and thrown from there.
    writing.catch(() => {});
    s.offset += length; // the finally below waits for this write before anyone reads s.offset
  };
  const reader = stream.getReader();
  let ended = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        ended = true;
        break;
      }
      toSkip ??= s.skip();
      let chunk = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      if (toSkip > 0) {
        const n = Math.min(toSkip, chunk.length);
        toSkip -= n;
        chunk = chunk.subarray(n);
      }
      if (s.offset + batched + chunk.length > o.size) {
        throw new ChecksumMismatchError(
          o.target.file,
          `${o.size} bytes`,
          `more than ${o.size} bytes`,
        );
      }
      hash.update(chunk);
      batch.push(chunk);
      batched += chunk.length;
      if (batched >= FLUSH_BYTES) {
        await flush();
        o.onBytes(s.offset);
      }
    }
  } finally {
    // Keep what arrived: a retry resumes right after it.
    await flush();
    await writing;
    await syncing;
    o.onBytes(s.offset);
    // Stop the transfer we gave up on (disk full, bad bytes), or its connection lingers.
    if (!ended) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/** One positional writev (no copy); a short write is finished, or fails with the OS's error. */
async function writeAll(
  file: ReadState["file"],
  chunks: Buffer[],
  position: number,
): Promise<void> {
  const length = chunks.reduce((n, c) => n + c.length, 0);
  const { bytesWritten } = await file.writev(chunks, position);
  if (bytesWritten < length) {
    const rest = Buffer.concat(chunks).subarray(bytesWritten);
    const { bytesWritten: more } = await file.write(rest, 0, rest.length, position + bytesWritten);
    if (more < rest.length) throw Object.assign(new Error("short write"), { code: "ENOSPC" });
  }
}

function describe(error: unknown, hub: HubFetch): string {
  if (hub.idleTimedOut) return "no bytes within the idle timeout";
  if (hub.lastFailure) return `HTTP ${hub.lastFailure.status}`;
  return error instanceof Error ? error.message : String(error);
}

/** Fails early, naming the path and the space needed, rather than at 95 %. */
async function ensureSpace(dir: string, needed: number): Promise<void> {
  const fs = await statfs(dir).catch(() => undefined);
  if (!fs) return;
  const available = fs.bavail * fs.bsize;
  if (available < needed) throw new DiskSpaceError(dir, needed, available);
}

function isDiskError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return ["ENOSPC", "EDQUOT", "EROFS", "EACCES", "EPERM"].includes(code ?? "");
}

/** Disk errors become messages naming the path and the space needed. */
export function rethrowDisk(error: unknown, path: string, needed: number): never {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOENT" || code === "ENOTDIR") {
    throw new VolumeNotWritableError(path, needed, { cause: error }); // e.g. mkdir on a read-only mount
  }
  if (code === "ENOSPC" || code === "EDQUOT")
    throw new DiskSpaceError(path, needed, undefined, { cause: error });
  if (code === "EROFS" || code === "EACCES" || code === "EPERM") {
    throw new VolumeNotWritableError(path, needed, { cause: error });
  }
  throw error;
}
