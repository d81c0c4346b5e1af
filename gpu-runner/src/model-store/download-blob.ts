import { open, stat, statfs, truncate } from "node:fs/promises";
import { dirname } from "node:path";
import type { FileDownloadInfoOutput } from "@huggingface/hub";
import type { Logger } from "pino";
import type { RetryPolicy } from "./backoff";
import { classifyHubError, type HubTarget } from "./classify-hub-error";
import { ConnectionRamp } from "./connection-ramp";
import {
  ChecksumMismatchError,
  DiskSpaceError,
  DownloadFailedError,
  isDiskError,
  rethrowDisk,
  volumeFailed,
} from "./errors";
import type { Http1Response } from "./http1-get";
import { HubFetch } from "./hub-fetch";
import {
  dropPrefixRecord,
  prefixRecordPath,
  recordPrefix,
  removePartial,
  settlePartial,
} from "./partial-download";
import { PrefixHasher } from "./prefix-hasher";
import { rangeRequest } from "./range-request";
import type { BlobCheck } from "./verified-blob";
import { withRetries } from "./with-retries";

export interface DownloadBlobOptions {
  target: HubTarget;
  /** The commit the file is fetched at. */
  commit: string;
  info: FileDownloadInfoOutput;
  accessToken?: string;
  /** No bytes (headers or body) for this long → that request is retried. */
  idleMs: number;
  /** Per-process temp file; if it holds a prefix of the file, the download resumes after it. */
  tempPath: string;
  size: number;
  check: BlobCheck;
  retry: RetryPolicy;
  /**
   * The most ranged requests in flight at once (CDNs cap each connection's rate); the download
   * starts with one and adds more only while they raise its rate (`ConnectionRamp`).
   */
  connections: number;
  /** Bytes asked for in one ranged request (the last one may be shorter). */
  rangeBytes: number;
  signal: AbortSignal;
  onBytes: (bytes: number) => void;
  logger?: Logger;
}

/**
 * A connection's writes are this big (but the last of a range): few syscalls, and small enough
 * that progress moves and an abort keeps what arrived. Larger slabs measured no faster.
 */
const SLAB_BYTES = 1 << 20;
const SYNC_BYTES = 32 << 20;
/** The smallest range the shrinking tail asks for (unless `rangeBytes` is smaller). */
const TAIL_RANGE_BYTES = 4 << 20;

/**
 * Downloads the file into `tempPath` over the Hub's plain LFS route (what `@huggingface/hub` takes
 * with `xet: false`: resolve → 302 → CDN) with up to `connections` ranged requests at once
 * (`http1Get`: a socket read into one reused buffer), each written in place as it arrives; resumes after
 * the complete prefix the temp file holds; retries dropped, stalled and 5xx responses with
 * backoff; and checks size and hash at the end. The hash follows the complete prefix as it grows
 * (`PrefixHasher`: from each write's buffer once it resolved, or read back where ranges landed
 * ahead), so it covers exactly the bytes the volume accepted.
 */
export async function downloadBlob(o: DownloadBlobOptions): Promise<{ resumedFrom: number }> {
  try {
    return await transfer(o);
  } catch (error) {
    if (!(error instanceof ServerHasLess)) throw error;
    // The server has less than we held (the partial was not of this file): start over, once.
    await removePartial(o.tempPath);
    return transfer(o, { fresh: true });
  }
}

/** The server answered 416 to a request past the bytes we resumed from. */
class ServerHasLess extends Error {}

interface Range {
  pos: number;
  end: number;
}

async function transfer(
  o: DownloadBlobOptions,
  { fresh } = { fresh: false },
): Promise<{ resumedFrom: number }> {
  const { size, tempPath } = o;
  const dir = dirname(tempPath);
  let offset = await stat(tempPath).then(
    (s) => s.size,
    () => 0,
  );
  if (offset > size) {
    await truncate(tempPath, 0);
    offset = 0;
  }
  await ensureSpace(dir, size - offset);
  const file = await open(tempPath, offset > 0 ? "r+" : "w").catch((e) =>
    rethrowDisk(e, dir, size),
  );
  const hasher = new PrefixHasher(tempPath, o.check, size);
  const stop = new AbortController();
  const signal = AbortSignal.any([o.signal, stop.signal]);
  const state = new TransferState({ o, file, hasher, offset, signal });
  o.onBytes(offset); // "downloading" from now on, also while the first megabyte is on its way
  if (offset > 0) o.logger?.info({ resumedFrom: offset, size }, "resuming a partial download");
  try {
    hasher.advance(offset); // the resumed prefix is hashed while the rest downloads
    let failure: { error: unknown } | undefined;
    const connection = async (slot: number) => {
      try {
        const hub = new HubFetch({ idleMs: o.idleMs, signal });
        let range = await state.take(slot);
        if (!range) state.ramp.idle();
        state.asking(slot);
        for (; range; range = await state.take(slot)) {
          await fetchRange(range, { state, hub, slot, resumed: offset > 0 && !fresh });
          state.finish(range);
        }
      } catch (error) {
        failure ??= { error }; // the first failure stops the other connections
        stop.abort(error);
      }
    };
    const running: Promise<void>[] = [];
    state.onMoreConnections = (wanted) => {
      for (let slot = running.length; slot < wanted; slot++) running.push(connection(slot));
    };
    state.onMoreConnections(1);
    // Connections started while these run are awaited too.
    for (let i = 0; i < running.length; i++) await running[i];
    if (o.signal.aborted) throw o.signal.reason;
    if (failure) throw failure.error;
    await state
      .settle()
      .catch((e: unknown) => volumeFailed(e instanceof TempFileError ? e.cause : e, tempPath, 0));

    await file.sync().catch((e: unknown) => volumeFailed(e, tempPath, 0));
    const { size: onDisk } = await file.stat();
    if (onDisk !== size) {
      throw new ChecksumMismatchError(o.target.file, `${size} bytes`, `${onDisk} bytes on disk`);
    }
    const digest = await hasher.digest(size, o.signal);
    if (digest !== o.check.oid) {
      throw new ChecksumMismatchError(o.target.file, `${o.check.kind} ${o.check.oid}`, digest);
    }
    await state.dropPrefixRecord();
    return { resumedFrom: offset };
  } finally {
    await state.settle().catch(() => {});
    await hasher.close();
    await file.close();
    // Leave a plain prefix file behind (no holes), so the next attempt resumes exactly after it.
    if (state.outOfOrder) await settlePartial(tempPath, state.frontier).catch(() => {});
  }
}

/**
 * What the connections share: which ranges are taken, the complete prefix (`frontier`), the
 * periodic datasync and the record of the complete prefix while ranges are written out of order.
 */
class TransferState {
  readonly o: DownloadBlobOptions;
  readonly file: import("node:fs/promises").FileHandle;
  readonly signal: AbortSignal;
  readonly ramp: ConnectionRamp;
  /** Starts connections up to the count given (those beyond it stop after their range). */
  onMoreConnections: (wanted: number) => void = () => {};
  private readonly hasher: PrefixHasher;
  /** Body bytes that arrived (written or not), for the ramp's rate. */
  private arrivedBytes = 0;
  /** When each new connection asked for its first range, until its first byte. */
  private readonly askedAt = new Map<number, number>();
  /** Start of the next range nobody took yet. */
  private next: number;
  private readonly active = new Set<Range>();
  /** Bytes in the file: the resumed prefix plus every write that resolved. */
  private received: number;
  /** How far past the complete prefix a range may start: bounds what a crash can lose. */
  private readonly window: number;
  private waiters: (() => void)[] = [];
  /**
   * Slabs for the connections' writes, reused for the whole download: fresh memory costs a page
   * fault per 4 KiB on first touch, which on a VM cost more than the copy itself.
   */
  private readonly slabs: ArrayBuffer[] = [];
  outOfOrder = false;
  private recorded: Promise<void> | undefined;
  private unsynced = 0;
  private syncing: Promise<void> | undefined;
  syncFailed: TempFileError | undefined;

  constructor(s: {
    o: DownloadBlobOptions;
    file: import("node:fs/promises").FileHandle;
    hasher: PrefixHasher;
    offset: number;
    signal: AbortSignal;
  }) {
    this.o = s.o;
    this.file = s.file;
    this.hasher = s.hasher;
    this.signal = s.signal;
    this.next = s.offset;
    this.received = s.offset;
    this.window = 2 * s.o.connections * s.o.rangeBytes;
    this.ramp = new ConnectionRamp(
      Math.max(1, Math.min(s.o.connections, Math.ceil((s.o.size - s.offset) / s.o.rangeBytes))),
    );
    s.signal.addEventListener("abort", () => this.wake(), { once: true });
  }

  /** Every byte before it is in the file. */
  get frontier(): number {
    let f = this.next;
    for (const r of this.active) f = Math.min(f, r.pos);
    return f;
  }

  /**
   * The next range for connection `slot` to fetch, once the window allows it; undefined when none
   * is left or the ramp wants fewer connections than `slot + 1`.
   */
  async take(slot: number): Promise<Range | undefined> {
    for (;;) {
      this.signal.throwIfAborted();
      if (this.next >= this.o.size || slot >= this.ramp.wanted) return undefined;
      if (this.next - this.frontier < this.window) break;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    // Ranges shrink towards the end, so that the connections finish together and the complete
    // prefix (which the hash follows) keeps growing, instead of the last big ranges landing at
    // once and the hash of all of them waiting for the end. One connection (the ramp settled
    // there, as on loopback) has nothing to balance and takes whole ranges: each range costs two
    // requests (resolve, redirect) on fresh connections and a pause in the stream. 256 MiB from
    // the local emulator (2026-12, 8 runs interleaved, busy machine): 2-3 ranges after the ramp
    // went back instead of ~16; 0.56-0.93x curl (median 0.66) instead of 0.43-0.78x (0.60).
    const left = this.o.size - this.next;
    const sharing = this.ramp.isSettled ? this.ramp.wanted : this.o.connections;
    const share =
      sharing === 1 ? left : Math.max(TAIL_RANGE_BYTES, Math.ceil(left / (2 * sharing)));
    const range = { pos: this.next, end: this.next + Math.min(left, this.o.rangeBytes, share) };
    const ahead = range.pos > this.frontier;
    this.next = range.end;
    this.active.add(range);
    if (ahead) {
      // From now on the file may have holes after its complete prefix: record where they start
      // before the first byte lands past it.
      this.outOfOrder = true;
      this.recorded ??= recordPrefix(this.o.tempPath, this.frontier).catch((e: unknown) =>
        volumeFailed(e, prefixRecordPath(this.o.tempPath), 0),
      );
      await this.recorded;
    }
    return range;
  }

  /** Connection `slot` sends its first request now. */
  asking(slot: number): void {
    this.askedAt.set(slot, performance.now());
  }

  /** `length` body bytes arrived on connection `slot`. */
  arrived(slot: number, length: number): void {
    this.arrivedBytes += length;
    const now = performance.now();
    const asked = this.askedAt.get(slot);
    if (asked !== undefined) {
      this.askedAt.delete(slot);
      this.ramp.firstByte(now - asked, now, this.arrivedBytes);
    }
    const wanted = this.ramp.sample(this.arrivedBytes, now);
    if (wanted === undefined) return;
    this.onMoreConnections(wanted);
    this.wake(); // connections beyond `wanted` that wait for the window stop now
  }

  takeSlab(): Buffer {
    return Buffer.from(this.slabs.pop() ?? new ArrayBuffer(SLAB_BYTES));
  }

  returnSlab(slab: Buffer): void {
    if (slab.buffer.byteLength === SLAB_BYTES) this.slabs.push(slab.buffer as ArrayBuffer);
  }

  finish(range: Range): void {
    this.active.delete(range);
    this.moved();
  }

  /** The write of `bytes` at `position` resolved (they may be reused after this). */
  wrote(position: number, bytes: Buffer): void {
    const length = bytes.length;
    this.hasher.wrote(position, bytes);
    this.received += length;
    this.o.onBytes(this.received); // progress counts bytes that are in the file
    this.moved();
    // Flush to disk while the network keeps going, so the final fsync has little left to do; then
    // the complete prefix can be recorded as durable.
    this.unsynced += length;
    if (this.unsynced < SYNC_BYTES || this.syncing) return;
    this.unsynced = 0;
    const complete = this.frontier;
    // After a failed fsync the kernel may drop the dirty pages: fatal too, never retried.
    this.syncing = this.file
      .datasync()
      .then(() => (this.outOfOrder ? recordPrefix(this.o.tempPath, complete) : undefined))
      .catch((e: unknown) => {
        this.syncFailed ??= new TempFileError(e);
      })
      .finally(() => {
        this.syncing = undefined;
      });
  }

  /** Waits for the background datasync; throws if it failed. */
  async settle(): Promise<void> {
    await this.syncing;
    if (this.syncFailed) throw this.syncFailed;
  }

  async dropPrefixRecord(): Promise<void> {
    if (!this.outOfOrder) return;
    await dropPrefixRecord(this.o.tempPath);
    this.outOfOrder = false;
  }

  private moved(): void {
    this.hasher.advance(this.frontier);
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/** A failure of the temp file itself, not of the network: it must not be retried as a drop. */
class TempFileError extends Error {
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

/** Fetches one range into the file, resuming it with Range after drops, stalls and 5xx. */
async function fetchRange(
  range: Range,
  c: { state: TransferState; hub: HubFetch; slot: number; resumed: boolean },
): Promise<void> {
  const { state, hub } = c;
  const { o, signal } = state;
  let before = range.pos;
  await withRetries(
    async () => {
      hub.reset();
      before = range.pos;
      await readInto(await requestRange(range, c), {
        range,
        state,
        slot: c.slot,
        // A server that ignored Range sent the file from 0.
        skip: hub.lastStatus === 200 ? before : 0,
      });
      if (range.pos < range.end)
        throw new Error(`the body ended at ${range.pos} of ${o.size} bytes`);
    },
    {
      retry: o.retry,
      signal,
      classify: (error) => {
        if (error instanceof TempFileError)
          volumeFailed(error.cause, o.tempPath, o.size - range.pos);
        if (isDiskError(error)) rethrowDisk(error, dirname(o.tempPath), o.size - range.pos);
        if (hub.lastFailure?.status === 416 && c.resumed && range.pos > 0)
          return new ServerHasLess();
        return classifyHubError(error, hub, o.target);
      },
      progressed: () => range.pos > before,
      exhausted: (failures, error) =>
        new DownloadFailedError(
          `download of ${o.target.repo}/${o.target.file} failed ${failures} times in a row at ${range.pos} of ${o.size} bytes (${describe(error, hub)})`,
          { cause: error },
        ),
      onRetry: (failures, error) =>
        o.logger?.warn(
          { offset: range.pos, size: o.size, failures, reason: describe(error, hub) },
          "download interrupted; retrying with a Range request",
        ),
    },
  );
}

/**
 * `GET resolve` (redirected to the CDN) for the bytes of `range`, the route `@huggingface/hub`
 * takes with `xet: false`. The whole file is asked for without a Range header.
 */
function requestRange(
  range: Range,
  c: { state: TransferState; hub: HubFetch },
): Promise<Http1Response> {
  const { o, signal } = c.state;
  const whole = range.pos === 0 && range.end === o.size;
  return rangeRequest(o.info.url, {
    ...(whole ? {} : { range: `bytes=${range.pos}-${range.end - 1}` }),
    ...(o.accessToken ? { accessToken: o.accessToken } : {}),
    idleMs: o.idleMs,
    signal,
    hub: c.hub,
  });
}

/**
 * Streams one response into the file at `range.pos`. The socket reads straight into slabs (the
 * bytes that came with the headers are copied), each written with one positional write while the
 * next fills: few syscalls, no copy and no await per chunk. With two slabs waiting for the disk the socket pauses. `range.pos` advances only once a write has
 * resolved, so a failed write never counts bytes that are not in the file.
 */
async function readInto(
  answer: Http1Response,
  s: { range: Range; state: TransferState; slot: number; skip: number },
): Promise<void> {
  const { range, state } = s;
  const { file, o } = state;
  let toSkip = s.skip;
  const full: Buffer[] = [];
  let slab = state.takeSlab();
  let filled = 0;
  let queued = 0; // bytes in `full` and in the write under way
  let writing: Promise<void> | undefined;
  let failure: unknown;
  let writeFailure: TempFileError | undefined; // wins over a network failure: it is fatal
  let paused = false;

  const writeQueued = async () => {
    for (let next = full.shift(); next; next = full.shift()) {
      if (state.syncFailed) throw state.syncFailed;
      await writeAll(file, next, range.pos).catch((e: unknown) => {
        throw new TempFileError(e);
      });
      const at = range.pos;
      range.pos += next.length;
      queued -= next.length;
      state.wrote(at, next);
      state.returnSlab(next);
      if (paused && full.length < 2) {
        paused = false;
        answer.resume();
      }
    }
  };
  const startWrite = () => {
    if (filled === 0) return;
    full.push(slab.subarray(0, filled));
    queued += filled;
    slab = state.takeSlab();
    filled = 0;
    writing ??= writeQueued()
      .catch((e: unknown) => {
        writeFailure ??= e instanceof TempFileError ? e : new TempFileError(e);
        answer.destroy(writeFailure);
      })
      .finally(() => {
        writing = undefined;
        if (full.length > 0 && !writeFailure) startWrite();
      });
  };
  const onData = (view: Buffer): boolean => {
    let chunk = view;
    if (toSkip > 0) {
      const n = Math.min(toSkip, chunk.length);
      toSkip -= n;
      chunk = chunk.subarray(n);
    }
    state.arrived(s.slot, chunk.length);
    const room = range.end - (range.pos + queued + filled);
    if (chunk.length > room) {
      if (range.end === o.size) {
        failure ??= new ChecksumMismatchError(
          o.target.file,
          `${o.size} bytes`,
          `more than ${o.size} bytes`,
        );
        answer.destroy(failure as Error);
        return false;
      }
      chunk = chunk.subarray(0, room); // the rest belongs to other ranges
    }
    if (chunk.buffer === slab.buffer && chunk.byteOffset === slab.byteOffset + filled) {
      filled += chunk.length; // read in place (`into` below)
      if (filled === slab.length) startWrite();
    } else {
      while (chunk.length > 0) {
        const n = chunk.copy(slab, filled);
        filled += n;
        chunk = chunk.subarray(n);
        if (filled === slab.length) startWrite();
      }
    }
    if (range.pos + queued + filled >= range.end) {
      startWrite();
      answer.destroy(RANGE_DONE);
      return false;
    }
    if (full.length >= 2) paused = true;
    return !paused;
  };
  try {
    // Copying each read into a slab cost ~0.1 s of CPU per 256 MiB here (memmove and page faults
    // of fresh read buffers): the socket fills the slab's free part instead.
    await answer.read(onData, () => slab.subarray(filled));
  } catch (error) {
    if (error !== RANGE_DONE) failure ??= error;
  } finally {
    // Keep what arrived: a retry resumes right after it.
    if (!writeFailure) startWrite();
    while (writing) await writing;
    state.returnSlab(slab);
    for (const unwritten of full.splice(0)) state.returnSlab(unwritten);
  }
  if (writeFailure) throw writeFailure;
  if (failure !== undefined) throw failure;
  if (state.syncFailed) throw state.syncFailed;
}

/** Ends a response once its range is in hand (a server that ignored Range sends on). */
const RANGE_DONE = new Error("range complete");

/** One positional write; a short write is finished, or fails with the OS's error. */
async function writeAll(
  file: import("node:fs/promises").FileHandle,
  bytes: Buffer,
  position: number,
): Promise<void> {
  const { bytesWritten } = await file.writev([bytes], position);
  if (bytesWritten < bytes.length) {
    const rest = bytes.subarray(bytesWritten);
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
