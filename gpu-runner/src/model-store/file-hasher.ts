import { open } from "node:fs/promises";
import { Worker } from "node:worker_threads";
import { VolumeIoError } from "./errors";
import type { BlobCheck } from "./verified-blob";

/**
 * The worker's source, inline (a CommonJS script) so that the bundled runner needs no second
 * entry file. It hashes the file from `hashed` up to the `to` it is sent, reading it back.
 */
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const { readSync } = require("node:fs");
const hash = require("node:crypto").createHash(workerData.algorithm);
if (workerData.prefix) hash.update(workerData.prefix);
const buffer = Buffer.allocUnsafe(4 << 20);
let hashed = 0;
parentPort.on("message", ({ to, digest }) => {
  try {
    while (hashed < to) {
      const n = readSync(workerData.fd, buffer, 0, Math.min(buffer.length, to - hashed), hashed);
      if (n === 0) throw Object.assign(new Error("the file ended at " + hashed + " bytes"), { code: "ESHORT" });
      hash.update(buffer.subarray(0, n));
      hashed += n;
    }
    parentPort.postMessage(digest ? { hashed, digest: hash.digest("hex") } : { hashed });
  } catch (error) {
    parentPort.postMessage({ error: { message: String(error && error.message), code: error && error.code } });
  }
});
`;

type Reply = { hashed: number; digest?: string } | { error: { message: string; code?: string } };

/**
 * Hashes a file on the volume on a worker thread, reading it back: a blob found without a record
 * of its check (9 GB at ~0.6–2 GB/s) is hashed while the runner keeps answering. A download hashes
 * as it writes instead (`PrefixHasher`).
 */
class FileHasher {
  private failure: Error | undefined;
  private waiting: ((reply: Reply) => void) | undefined;

  private constructor(
    private readonly worker: Worker,
    private readonly handle: import("node:fs/promises").FileHandle,
    path: string,
  ) {
    worker.on("message", (reply: Reply) => {
      if ("error" in reply) {
        const cause = Object.assign(new Error(reply.error.message), { code: reply.error.code });
        this.failure ??= new VolumeIoError(path, { cause });
      }
      this.waiting?.(reply);
    });
    worker.on("error", (error) => {
      this.failure ??= new VolumeIoError(path, { cause: error });
      this.waiting?.({ error: { message: error.message } });
    });
  }

  /** Starts hashing `path` (git blobs hash a `blob <size>` header first). */
  static async start(path: string, check: BlobCheck, size: number): Promise<FileHasher> {
    const handle = await open(path, "r");
    const worker = new Worker(WORKER, {
      eval: true,
      // The script needs no loader: under `--import tsx` (bench, dev) an inheriting worker loaded
      // it too, ~110-175 ms of CPU to start instead of ~80-100 here.
      execArgv: [],
      workerData: {
        fd: handle.fd,
        algorithm: check.kind === "sha256" ? "sha256" : "sha1",
        prefix: check.kind === "git-sha1" ? `blob ${size}\0` : "",
      },
    });
    worker.unref();
    return new FileHasher(worker, handle, path);
  }

  /** The hex digest of the first `length` bytes; abort rethrows `signal.reason`. */
  async digest(length: number, signal?: AbortSignal): Promise<string> {
    signal?.throwIfAborted();
    if (this.failure) throw this.failure;
    const reply = await new Promise<Reply>((resolve, reject) => {
      const onAbort = () => reject(signal?.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting = (r) => {
        if ("error" in r || r.digest !== undefined) {
          signal?.removeEventListener("abort", onAbort);
          resolve(r);
        }
      };
      this.worker.postMessage({ to: length, digest: true });
    });
    if ("error" in reply || reply.digest === undefined) throw this.failure;
    return reply.digest;
  }

  /**
   * Stops the worker, then closes the file (always call it). Returns at once: waiting for the
   * thread to exit held up the rename by 12-52 ms after the digest (256 MiB downloads, busy
   * machine, 2026-12), and nothing needs it gone; the file is closed only after it has exited.
   */
  close(): void {
    const closeFile = () => this.handle.close().catch(() => {});
    void this.worker.terminate().then(closeFile, closeFile);
  }
}

/** The digest of a whole file, hashed off the main thread. */
export async function hashFile(
  path: string,
  check: BlobCheck,
  options: { size: number; signal?: AbortSignal },
): Promise<string> {
  const hasher = await FileHasher.start(path, check, options.size);
  try {
    return await hasher.digest(options.size, options.signal);
  } finally {
    hasher.close();
  }
}
