import { stat } from "node:fs/promises";
import { COMMIT_RE, linkedBlob, readRef, writeRef } from "./cache-layout";
import type { EnsureContext } from "./ensure-context";
import type { EnsuredModel } from "./ensure-model";
import { DownloadFailedError, OfflineModelMissingError } from "./errors";
import { hubCall } from "./hub-call";
import { resolveCommit } from "./hub-metadata";
import { type BlobCheck, isBlobVerified } from "./verified-blob";

/**
 * The commit the revision stands for, and the verified model if the volume already holds it at
 * that commit. A 40-hex revision (or a branch offline) is answered from the volume alone; a branch
 * asks the Hub and records the answer in `refs/`; when the Hub is unreachable, what `refs/`
 * recorded still serves.
 */
export async function resolveModelCommit(
  c: EnsureContext,
): Promise<{ commit: string; present?: EnsuredModel }> {
  const { layout, log, params } = c;
  const { revision, file } = params;
  const warm = async (commit: string) => {
    const hit = await warmHit(c, commit);
    if (hit) {
      c.report({ phase: "ready", bytes: hit.size, totalBytes: hit.size, downloader: "self" });
      log?.info({ commit, size: hit.size }, "model present in the volume");
    }
    return hit;
  };

  // The volume answers without the network when the commit is known locally.
  const known = COMMIT_RE.test(revision)
    ? revision
    : params.offline
      ? await readRef(layout, revision)
      : undefined;
  if (known) {
    const hit = await warm(known);
    if (hit) return { commit: known, present: hit };
  }
  if (params.offline) {
    throw new OfflineModelMissingError(
      `HF_HUB_OFFLINE=1 but ${layout.root} holds no verified ${file} at revision "${revision}"${known ? ` (commit ${known})` : ""}: pull it once with the network (npm run -w gpu-runner pull) or unset HF_HUB_OFFLINE`,
    );
  }
  if (known) return { commit: known };

  // With a commit recorded for this branch, a Hub outage should cost one try, not the backoff.
  const recorded = await readRef(layout, revision);
  const retry = recorded ? { ...c.retry, attempts: 1 } : c.retry;
  let commit: string;
  try {
    commit = await hubCall("resolve revision", () => resolveCommit(c), { ...c, retry });
  } catch (error) {
    // The Hub is unreachable: a verified copy of what the branch last pointed to still serves.
    const fallback = error instanceof DownloadFailedError ? recorded : undefined;
    const hit = fallback && (await warm(fallback));
    if (fallback && hit) {
      log?.warn({ commit: fallback }, "Hub unreachable; using the commit refs/ recorded");
      return { commit: fallback, present: hit };
    }
    throw error;
  }
  // A read-only volume still serves what it holds; a download would fail clearly later.
  await writeRef(layout, revision, commit).catch((error: unknown) =>
    log?.warn({ err: String(error) }, "could not record refs/ on the volume"),
  );
  const hit = await warm(commit);
  return hit ? { commit, present: hit } : { commit };
}

/** A verified snapshot entry for this commit, if the volume has one. */
async function warmHit(c: EnsureContext, commit: string): Promise<EnsuredModel | undefined> {
  const { layout } = c;
  const path = layout.snapshot(commit, c.params.file);
  const sha = await linkedBlob(layout, path);
  if (!sha || !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(sha)) return undefined;
  const check: BlobCheck =
    sha.length === 64 ? { kind: "sha256", oid: sha } : { kind: "git-sha1", oid: sha };
  const ok = await isBlobVerified(layout, check, {
    signal: c.signal,
    onHashing: () => c.report({ phase: "verifying", bytes: 0, downloader: "self" }),
  });
  if (!ok) return undefined;
  const { size } = await stat(layout.blob(sha));
  return { path, commit, sha256: sha, size };
}
