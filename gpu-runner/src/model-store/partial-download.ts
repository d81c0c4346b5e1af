import { readdir, readFile, rename, stat, truncate, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { CacheLayout } from "./cache-layout";

/**
 * A partial download is `blobs/<sha>.<owner>.incomplete` (ours) or `blobs/<sha>.incomplete`
 * (Python's `huggingface_hub`). Its bytes are the file's from 0 up to its size, except while
 * several ranges are written at once: then `<partial>.prefix` records how many leading bytes are
 * complete, and the bytes after that may have holes.
 */
export function prefixRecordPath(partial: string): string {
  return `${partial}.prefix`;
}

/** Records of each partial still being written, in call order. */
const recording = new Map<string, Promise<void>>();

/**
 * Records that the first `bytes` of `partial` are complete (atomically: a crash keeps one). Calls
 * for one partial run one after another, so they never share the temp file and the last call's
 * value is the one left.
 */
export function recordPrefix(partial: string, bytes: number): Promise<void> {
  const path = prefixRecordPath(partial);
  const write = async () => {
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, String(bytes));
    await rename(tmp, path);
  };
  const done = (recording.get(path) ?? Promise.resolve()).then(write, write);
  const settled = done.catch(() => {});
  recording.set(path, settled);
  void settled.then(() => {
    if (recording.get(path) === settled) recording.delete(path);
  });
  return done;
}

/** Cuts the partial to its complete prefix and drops the record: a plain prefix file again. */
export async function settlePartial(partial: string, complete: number): Promise<void> {
  await truncate(partial, complete);
  await dropPrefixRecord(partial);
}

/** The partial is complete: its record goes. */
export async function dropPrefixRecord(partial: string): Promise<void> {
  await unlink(prefixRecordPath(partial)).catch(() => {});
}

/** Removes a partial and its record. */
export async function removePartial(partial: string): Promise<void> {
  await unlink(partial).catch(() => {});
  await unlink(prefixRecordPath(partial)).catch(() => {});
}

/**
 * Moves the partial download of this blob with the most complete bytes (ours from a dead process,
 * or `huggingface_hub`'s) to our temp name as a plain prefix file, deletes the others, and returns
 * how many bytes it holds. Only the lock holder calls this.
 */
export async function adoptPartial(
  layout: CacheLayout,
  oid: string,
  temp: string,
): Promise<number> {
  const names = await readdir(layout.blobs);
  const partials = names.filter((n) => n.startsWith(`${oid}.`) && n.endsWith(".incomplete"));
  const sized = await Promise.all(
    partials.map(async (n) => ({ n, bytes: await completeBytes(join(layout.blobs, n)) })),
  );
  sized.sort((a, b) => b.bytes - a.bytes);
  const [best, ...rest] = sized;
  await Promise.all(rest.map((r) => removePartial(join(layout.blobs, r.n))));
  // Records whose partial is gone (removed by a neighbour) are litter.
  const records = names.filter((n) => n.startsWith(`${oid}.`) && n.endsWith(".incomplete.prefix"));
  await Promise.all(
    records
      .filter((n) => !partials.includes(n.slice(0, -".prefix".length)))
      .map((n) => unlink(join(layout.blobs, n)).catch(() => {})),
  );
  if (!best || best.bytes <= 0) {
    if (best) await removePartial(join(layout.blobs, best.n));
    return 0;
  }
  const from = join(layout.blobs, best.n);
  await settlePartial(from, best.bytes);
  await rename(from, temp);
  return best.bytes;
}

/** Leading bytes of a partial that are the file's: its size, or less if a record says so. */
async function completeBytes(partial: string): Promise<number> {
  const size = (await stat(partial).catch(() => undefined))?.size ?? -1;
  const recorded = await readFile(prefixRecordPath(partial), "utf8").then(
    (text) => Number.parseInt(text, 10),
    () => undefined,
  );
  if (recorded === undefined) return size;
  return Number.isSafeInteger(recorded) && recorded >= 0 ? Math.min(recorded, size) : 0;
}
