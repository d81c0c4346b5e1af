import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { CacheLayout } from "./cache-layout";

/** How a blob is checked: LFS files by sha256 (the blob's name), plain git files by git's sha1. */
export type BlobCheck = { kind: "sha256"; oid: string } | { kind: "git-sha1"; oid: string };

export function newHash(check: BlobCheck, size: number): Hash {
  return check.kind === "sha256"
    ? createHash("sha256")
    : createHash("sha1").update(`blob ${size}\0`);
}

/** Feeds the first `length` bytes of a file into `hash` (to resume a partial download). */
export async function hashPrefix(path: string, length: number, hash: Hash, signal?: AbortSignal) {
  if (length === 0) return;
  const stream = createReadStream(path, { start: 0, end: length - 1, highWaterMark: 1 << 20 });
  for await (const chunk of stream) {
    if (signal?.aborted) {
      stream.destroy();
      throw signal.reason;
    }
    hash.update(chunk as Buffer);
  }
}

/** Blobs (path, size, mtime) whose content was found not to match their name. */
const knownBad = new Set<string>();

interface Record {
  size: number;
  mtimeMs: number;
}

/**
 * True when the blob's content was checked against its oid: hashing 9 GB on every warm start
 * would cost minutes, so a record of (size, mtime) at verification time stands for the check.
 * A blob without a record (e.g. put there by Python's huggingface_hub) is hashed once.
 */
export async function isBlobVerified(
  layout: CacheLayout,
  check: BlobCheck,
  options: { signal?: AbortSignal; onHashing?: () => void } = {},
): Promise<boolean> {
  const path = layout.blob(check.oid);
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) return false;
  try {
    const record = JSON.parse(await readFile(layout.verified(check.oid), "utf8")) as Record;
    if (record.size === info.size && record.mtimeMs === info.mtimeMs) return true;
  } catch {
    // no record: hash below
  }
  const key = `${path}:${info.size}:${info.mtimeMs}`;
  if (knownBad.has(key)) return false;
  options.onHashing?.();
  const hash = newHash(check, info.size);
  await hashPrefix(path, info.size, hash, options.signal);
  if (hash.digest("hex") !== check.oid) {
    knownBad.add(key); // hash a bad 9 GB blob once, not at every check; the download replaces it
    return false;
  }
  await recordVerified(layout, check.oid);
  return true;
}

export async function recordVerified(layout: CacheLayout, oid: string): Promise<void> {
  const info = await stat(layout.blob(oid));
  const path = layout.verified(oid);
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify({ size: info.size, mtimeMs: info.mtimeMs } satisfies Record));
  await rename(tmp, path);
}
