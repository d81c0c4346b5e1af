import { dirname } from "node:path";
import { formatBytes } from "./format-bytes";

/** Base of every error the model store throws on purpose; `message` is meant for the user. */
export class ModelStoreError extends Error {
  override name = "ModelStoreError";
}

/** The repo, revision or file does not exist on the Hub (or the repo is private). */
export class ModelNotFoundError extends ModelStoreError {
  override name = "ModelNotFoundError";
  constructor(
    readonly what: "repo" | "revision" | "file",
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** 401/403 on a gated (or private) repo: the user must set HF_TOKEN and accept the licence. */
export class GatedRepoError extends ModelStoreError {
  override name = "GatedRepoError";
  constructor(
    readonly repo: string,
    readonly status: number,
    options?: ErrorOptions,
  ) {
    super(
      `${repo} is gated (HTTP ${status}): set HF_TOKEN to a token of an account that has accepted the model's licence at https://huggingface.co/${repo}`,
      options,
    );
  }
}

/** The volume cannot hold the file. */
export class DiskSpaceError extends ModelStoreError {
  override name = "DiskSpaceError";
  constructor(
    readonly path: string,
    readonly neededBytes: number,
    readonly availableBytes: number | undefined,
    options?: ErrorOptions,
  ) {
    super(
      `not enough space in ${path}: need ${formatBytes(neededBytes)}${availableBytes === undefined ? "" : `, ${formatBytes(availableBytes)} free`}`,
      options,
    );
  }
}

/** The volume is read-only or not writable by this process. */
export class VolumeNotWritableError extends ModelStoreError {
  override name = "VolumeNotWritableError";
  constructor(
    readonly path: string,
    readonly neededBytes: number,
    options?: ErrorOptions,
  ) {
    super(
      `cannot write to ${path} (read-only or no permission)${neededBytes > 0 ? `; the model needs ${formatBytes(neededBytes)} there` : ""}`,
      options,
    );
  }
}

/** Writing or flushing the temp file failed (e.g. EIO): its bytes cannot be trusted, so no retry. */
export class VolumeIoError extends ModelStoreError {
  override name = "VolumeIoError";
  constructor(
    readonly path: string,
    options?: ErrorOptions,
  ) {
    const code = (options?.cause as NodeJS.ErrnoException | undefined)?.code;
    super(`writing ${path} failed${code ? ` (${code})` : ""}; the volume may be failing`, options);
  }
}

/** The downloaded bytes do not match the size or sha256 the Hub advertises; nothing was installed. */
export class ChecksumMismatchError extends ModelStoreError {
  override name = "ChecksumMismatchError";
  constructor(
    readonly file: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      `downloaded ${file} does not match the Hub: expected ${expected}, got ${actual}; nothing was installed`,
    );
  }
}

/** HF_HUB_OFFLINE=1 and the volume does not hold the model. */
export class OfflineModelMissingError extends ModelStoreError {
  override name = "OfflineModelMissingError";
}

/** The Hub kept failing (5xx, dropped or stalled connections) after every retry. */
export class DownloadFailedError extends ModelStoreError {
  override name = "DownloadFailedError";
}

/** Another container took the lock over (this one stopped heartbeating); the caller retries. */
export class LockLostError extends ModelStoreError {
  override name = "LockLostError";
}

/** True for the errors that mean the volume is full, read-only or not ours to write. */
export function isDiskError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return ["ENOSPC", "EDQUOT", "EROFS", "EACCES", "EPERM"].includes(code ?? "");
}

/** Disk errors become messages naming the path and the space needed; others are rethrown. */
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

/** A write, flush or read of a file failed: full or read-only keep their errors, others (EIO…) are a VolumeIoError. */
export function volumeFailed(error: unknown, path: string, needed: number): never {
  if (isDiskError(error)) rethrowDisk(error, dirname(path), needed);
  throw new VolumeIoError(path, { cause: error });
}
