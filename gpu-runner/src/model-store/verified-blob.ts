import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { CacheLayout } from "./cache-layout";
import { hashFile } from "./file-hasher";

/** How a blob is checked: LFS files by sha256 (the blob's name), plain git files by git's sha1. */
export type BlobCheck = { kind: "sha256"; oid: string } | { kind: "git-sha1"; oid: string };

/** Blobs (path, size, mtime) whose content was found not to match their name. */
const knownBad = new Set<string>();

/** What `.phi4-edge-verified/<sha>` holds: the blob's size and mtime when its hash was checked. */
interface VerificationRecord {
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
    const record = JSON.parse(
      await readFile(layout.verified(check.oid), "utf8"),
    ) as VerificationRecord;
    if (record.size === info.size && record.mtimeMs === info.mtimeMs) return true;
  } catch {
    // no record: hash below
  }
  const key = `${path}:${info.size}:${info.mtimeMs}`;
  if (knownBad.has(key)) return false;
  options.onHashing?.();
  const digest = await hashFile(path, check, {
    size: info.size,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (digest !== check.oid) {
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
  await writeFile(
    tmp,
    JSON.stringify({ size: info.size, mtimeMs: info.mtimeMs } satisfies VerificationRecord),
  );
  await rename(tmp, path);
}
