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
  VolumeIoError,
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
        if (error instanceof TempFileError) fileFailed(error.cause, tempPath, size - offset);
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
    await file.sync().catch((e) => fileFailed(e, tempPath, 0));
    // The hash covers the prefix read back from the file plus only the bytes whose positional write
    // resolved, contiguously; re-reading 9 GB would cost minutes, so a size check guards the rest.
    const { size: onDisk } = await file.stat();
    if (onDisk !== size) {
      throw new ChecksumMismatchError(o.target.file, `${size} bytes`, `${onDisk} bytes on disk`);
    }
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

/** A failure of the temp file itself, not of the network: it must not be retried as a drop. */
class TempFileError extends Error {
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

/** Disk full or read-only keep their errors; any other file failure (EIO…) is a VolumeIoError. */
function fileFailed(error: unknown, path: string, needed: number): never {
  if (isDiskError(error)) rethrowDisk(error, dirname(path), needed);
  throw new VolumeIoError(path, { cause: error });
}

/**
 * Streams the body into the file at `s.offset`, batching writes. `s.offset` and the hash advance
 * only once a write has resolved, so a failed write never counts bytes that are not in the file.
 */
async function readInto(stream: ReadableStream<Uint8Array>, s: ReadState): Promise<void> {
  const { file, hash, o } = s;
  let toSkip: number | undefined;
  let batch: Buffer[] = [];
  let batched = 0;
  let inFlight = 0; // bytes handed to the write that has not resolved yet
  let writing: Promise<unknown> = Promise.resolve();
  let unsynced = 0;
  let syncing: Promise<void> | undefined;
  let syncFailed: TempFileError | undefined; // kept: `syncing` is cleared once it settles
  const flush = async () => {
    if (batched === 0) return;
    const chunks = batch;
    const length = batched;
    batch = [];
    batched = 0;
    await writing; // the previous write has advanced s.offset, or this throws its error
    if (syncFailed) throw syncFailed;
    inFlight = length;
    writing = writeAll(file, chunks, s.offset).then(
      () => {
        for (const chunk of chunks) hash.update(chunk);
        s.offset += length;
        inFlight = 0;
        o.onBytes(s.offset); // progress counts bytes that are in the file
        // Flush to disk while the network keeps going, so the final fsync has little left to do.
        unsynced += length;
        if (unsynced >= SYNC_BYTES && !syncing) {
          unsynced = 0;
          // After a failed fsync the kernel may drop the dirty pages: fatal too, never retried.
          syncing = file
            .datasync()
            .catch((e: unknown) => {
              syncFailed ??= new TempFileError(e);
            })
            .finally(() => {
              syncing = undefined;
            });
        }
      },
      (e: unknown) => {
        throw new TempFileError(e);
      },
    );
    // A write that fails before it is awaited (ENOSPC, EIO) must not crash the process: it is
    // awaited before the next write and in the finally below, and thrown from there.
    writing.catch(() => {});
  };
  const settle = async () => {
    await flush();
    await writing;
    await syncing;
    if (syncFailed) throw syncFailed;
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
      if (s.offset + inFlight + batched + chunk.length > o.size) {
        throw new ChecksumMismatchError(
          o.target.file,
          `${o.size} bytes`,
          `more than ${o.size} bytes`,
        );
      }
      batch.push(chunk); // hashed once written, in order
      batched += chunk.length;
      if (batched >= FLUSH_BYTES) await flush();
    }
  } finally {
    try {
      await settle(); // keep what arrived: a retry resumes right after it
    } finally {
      o.onBytes(s.offset);
      // Stop the transfer we gave up on (disk full, bad bytes), or its connection lingers.
      if (!ended) await reader.cancel().catch(() => {});
      reader.releaseLock();
    }
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
