import { createHash, type Hash } from "node:crypto";
import { type FileHandle, open } from "node:fs/promises";
import { VolumeIoError } from "./errors";
import type { BlobCheck } from "./verified-blob";

const READ_BYTES = 4 << 20;

/**
 * The hash of a file that is being written, following its complete prefix in order. Bytes whose
 * write resolved exactly where the hash stands are hashed from the write's own buffer; bytes that
 * landed ahead of it (other connections' ranges) or before this process (a resumed prefix) are read
 * back from the file once the prefix reaches them. Either way the digest covers the bytes the
 * volume accepted.
 *
 * On the main thread, not a worker: 256 MiB from the local emulator (2 cores, 2026-12) cost the
 * worker ~150 ms of CPU to start and ~40 ms to read the file back, on top of sha256's ~230 ms,
 * while the main thread hashing a 1 MiB slab between socket reads costs it ~0.9 ms at a time.
 */
export class PrefixHasher {
  private readonly hash: Hash;
  private hashed = 0;
  /** The file holds its final bytes up to here. */
  private target = 0;
  private reading = false;
  /** The read-back under way (it stops once `closed`). */
  private readBackDone: Promise<void> | undefined;
  private closed = false;
  private failure: VolumeIoError | undefined;
  private handle: FileHandle | undefined;
  private buffer: Buffer | undefined;
  private onProgress: (() => void) | undefined;

  /** Git blobs hash a `blob <size>` header first. */
  constructor(
    private readonly path: string,
    check: BlobCheck,
    size: number,
  ) {
    this.hash = createHash(check.kind === "sha256" ? "sha256" : "sha1");
    if (check.kind === "git-sha1") this.hash.update(`blob ${size}\0`);
  }

  /** `bytes` are in the file at `position` (their write resolved); call before reusing them. */
  wrote(position: number, bytes: Buffer): void {
    if (position !== this.hashed || this.reading || this.failure) return;
    this.hash.update(bytes);
    this.hashed += bytes.length;
    this.target = Math.max(this.target, this.hashed);
  }

  /** The file holds its final bytes up to `to`: what `wrote` did not hash is read back. */
  advance(to: number): void {
    this.target = Math.max(this.target, to);
    if (this.reading || this.failure || this.closed || this.hashed >= this.target) return;
    this.reading = true;
    this.readBackDone = this.readBack();
  }

  /** The hex digest of the first `length` bytes; abort rethrows `signal.reason`. */
  async digest(length: number, signal?: AbortSignal): Promise<string> {
    signal?.throwIfAborted();
    this.advance(length);
    if (this.reading) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(signal?.reason);
        signal?.addEventListener("abort", onAbort, { once: true });
        this.onProgress = () => {
          if (this.reading) return;
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
      });
    }
    if (this.failure) throw this.failure;
    if (this.hashed !== length) {
      const cause = new Error(`hashed ${this.hashed} of ${length} bytes`);
      throw new VolumeIoError(this.path, { cause });
    }
    return this.hash.digest("hex");
  }

  /**
   * Stops reading back and closes the file once the read under way is done: a download that ended
   * (aborted, failed) while the file was being opened left it open, hashing the rest of the prefix.
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.readBackDone;
    await this.handle?.close().catch(() => {});
  }

  private async readBack(): Promise<void> {
    try {
      this.handle ??= await open(this.path, "r");
      this.buffer ??= Buffer.allocUnsafe(READ_BYTES);
      while (this.hashed < this.target && !this.closed) {
        const want = Math.min(READ_BYTES, this.target - this.hashed);
        const { bytesRead } = await this.handle.read(this.buffer, 0, want, this.hashed);
        if (bytesRead === 0) throw new Error(`the file ended at ${this.hashed} bytes`);
        this.hash.update(this.buffer.subarray(0, bytesRead));
        this.hashed += bytesRead;
      }
    } catch (error) {
      this.failure ??= new VolumeIoError(this.path, { cause: error });
    } finally {
      // Cleared before anything else runs, so a write that lands right after is hashed in-line.
      this.reading = false;
      this.onProgress?.();
    }
  }
}
