import { mkdir, rename } from "node:fs/promises";
import { join } from "node:path";
import { fileDownloadInfo } from "@huggingface/hub";
import { linkSnapshot, writeRef } from "./cache-layout";
import { downloadBlob } from "./download-blob";
import type { EnsureContext } from "./ensure-context";
import type { EnsuredModel } from "./ensure-model";
import { ChecksumMismatchError, ModelNotFoundError, rethrowDisk } from "./errors";
import { hubCall } from "./hub-call";
import { fileMetadata } from "./hub-metadata";
import { adoptPartial, removePartial } from "./partial-download";
import { isBlobVerified, recordVerified } from "./verified-blob";
import { acquireVolumeLock } from "./volume-lock";

/**
 * One ranged request asks for this much: few enough requests that each one's redirect through
 * the Hub costs little, small enough that a crash loses little and the hash keeps up.
 */
const DEFAULT_RANGE_BYTES = 64 << 20;

/**
 * Puts the file at `commit` into the volume and links its snapshot entry. The blob is downloaded
 * by whoever holds its lock on the volume; the others report the holder's progress, then find
 * the blob verified, or take the lock over when the holder dies. A resumed prefix that does not
 * verify costs one download from the start.
 */
export async function downloadUnderLock(c: EnsureContext, commit: string): Promise<EnsuredModel> {
  const { layout, log, params, report, signal, target, hub } = c;
  const { repo, file, revision } = params;
  const credentials = c.accessToken ? { accessToken: c.accessToken } : {};
  const { check, size } = await hubCall("file info", () => fileMetadata(c, commit), c);
  const snapshot = layout.snapshot(commit, file);
  const install = async (): Promise<EnsuredModel> => {
    try {
      await recordVerified(layout, check.oid);
      await linkSnapshot(layout, snapshot, check.oid);
      if (revision !== commit) await writeRef(layout, revision, commit);
    } catch (error) {
      rethrowDisk(error, layout.root, 0);
    }
    report({ phase: "ready", bytes: size, totalBytes: size, downloader: "self" });
    return { path: snapshot, commit, sha256: check.oid, size };
  };
  // Another revision (or a finished neighbour) may already have put this blob here.
  if (await isBlobVerified(layout, check, { signal })) return install();

  const info = await hubCall(
    "resolve file",
    () =>
      fileDownloadInfo({
        repo,
        path: file,
        revision: commit,
        hubUrl: target.endpoint,
        fetch: hub.fetch,
        ...credentials,
      }),
    c,
  );
  if (!info)
    throw new ModelNotFoundError("file", `file ${file} not found in ${repo} at "${revision}"`);

  await mkdir(layout.blobs, { recursive: true }).catch((e) => rethrowDisk(e, layout.blobs, size));
  let freshRetry = false;
  for (;;) {
    const lock = await acquireVolumeLock(layout.lock(check.oid), {
      signal,
      ...(params.lockTiming ? { timing: params.lockTiming } : {}),
      onWait: (holder) =>
        report({ phase: "waiting", bytes: holder.bytes, totalBytes: size, downloader: "other" }),
    });
    try {
      // Re-check: whoever held the lock before us may have finished.
      if (await isBlobVerified(layout, check, { signal })) return await install();
      const temp = join(layout.blobs, `${check.oid}.${lock.owner}.incomplete`);
      const adopted = await adoptPartial(layout, check.oid, temp);
      if (adopted > 0)
        report({ phase: "verifying", bytes: adopted, totalBytes: size, downloader: "self" });
      log?.info({ commit, size, adopted }, "downloading the model into the volume");
      const downloadSignal = AbortSignal.any([signal, lock.signal]);
      try {
        await downloadBlob({
          target,
          commit,
          info,
          ...credentials,
          idleMs: c.idleMs,
          connections: params.connections,
          rangeBytes: params.rangeBytes ?? DEFAULT_RANGE_BYTES,
          tempPath: temp,
          size,
          check,
          retry: c.retry,
          signal: downloadSignal,
          ...(log ? { logger: log } : {}),
          onBytes: (bytes) => {
            lock.progress(bytes, size);
            report({ phase: "downloading", bytes, totalBytes: size, downloader: "self" });
          },
        });
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        if (lock.signal.aborted) {
          log?.warn("lost the download lock to another container; waiting for it");
          continue;
        }
        if (error instanceof ChecksumMismatchError) {
          await removePartial(temp);
          // A resumed prefix may have been the bad part: one clean download decides.
          if (adopted > 0 && !freshRetry) {
            freshRetry = true;
            log?.warn("resumed download did not verify; downloading again from the start");
            continue;
          }
        }
        throw error;
      }
      report({ phase: "verifying", bytes: size, totalBytes: size, downloader: "self" });
      await rename(temp, layout.blob(check.oid)).catch((e) => rethrowDisk(e, layout.blobs, 0));
      log?.info({ commit, size }, "model downloaded and verified");
      return await install();
    } finally {
      await lock.release();
    }
  }
}
