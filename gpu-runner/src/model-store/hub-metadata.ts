import { HubApiError, modelInfo, pathsInfo } from "@huggingface/hub";
import { COMMIT_RE } from "./cache-layout";
import type { HubTarget } from "./classify-hub-error";
import { ModelNotFoundError, ModelStoreError } from "./errors";
import type { HubFetch } from "./hub-fetch";
import type { BlobCheck } from "./verified-blob";

export interface HubContext {
  target: HubTarget;
  hub: HubFetch;
  accessToken?: string;
}

/**
 * The commit a branch or tag points to, from the revision API `@huggingface/hub` uses; when a Hub
 * (or mirror) lacks that route, from `X-Repo-Commit` on `resolve`, which is what Python's
 * `huggingface_hub` reads.
 */
export async function resolveCommit(c: HubContext): Promise<string> {
  const { target, hub } = c;
  try {
    const info = await modelInfo({
      name: target.repo,
      revision: target.revision,
      additionalFields: ["sha"],
      hubUrl: target.endpoint,
      fetch: hub.fetch,
      ...credentials(c),
    });
    if (info.sha && COMMIT_RE.test(info.sha)) return info.sha;
  } catch (error) {
    if (!isUnknownRoute(hub)) throw error;
  }
  const probe = await probeResolve(c, target.revision);
  if (!probe.commit || !COMMIT_RE.test(probe.commit)) {
    throw new ModelStoreError(
      `${target.endpoint} named no commit for ${target.repo} at "${target.revision}"`,
    );
  }
  return probe.commit;
}

/** The file's oid (sha256 for LFS files) and size at a commit: paths-info, else resolve's headers. */
export async function fileMetadata(
  c: HubContext,
  commit: string,
): Promise<{ check: BlobCheck; size: number }> {
  const { target, hub } = c;
  const missing = () =>
    new ModelNotFoundError(
      "file",
      `file ${target.file} not found in ${target.repo} at "${target.revision}"`,
    );
  try {
    const [entry] = await pathsInfo({
      repo: target.repo,
      paths: [target.file],
      revision: commit,
      expand: true,
      hubUrl: target.endpoint,
      fetch: hub.fetch,
      ...credentials(c),
    });
    if (entry?.type !== "file") throw missing();
    if (entry.lfs) return { check: { kind: "sha256", oid: entry.lfs.oid }, size: entry.lfs.size };
    if (entry.oid) return { check: { kind: "git-sha1", oid: entry.oid }, size: entry.size };
  } catch (error) {
    if (!isUnknownRoute(hub)) throw error;
  }
  const probe = await probeResolve(c, commit);
  const oid = probe.etag;
  if (!oid || probe.size === undefined) {
    throw new ModelStoreError(
      `${target.endpoint} gave no hash or size for ${target.repo}/${target.file}`,
    );
  }
  const check: BlobCheck = oid.length === 64 ? { kind: "sha256", oid } : { kind: "git-sha1", oid };
  return { check, size: probe.size };
}

/** A bare 404 (no `X-Error-Code`) is a route this Hub does not have, not a missing repo or file. */
function isUnknownRoute(hub: HubFetch): boolean {
  return hub.lastFailure?.status === 404 && !hub.lastFailure.code;
}

/** `HEAD resolve` without following the redirect: the Hub's headers describe the file. */
async function probeResolve(c: HubContext, revision: string) {
  const { target, hub } = c;
  hub.reset();
  const path = target.file.split("/").map(encodeURIComponent).join("/");
  const url = `${target.endpoint}/${target.repo}/resolve/${encodeURIComponent(revision)}/${path}`;
  const response = await hub.fetch(url, {
    method: "HEAD",
    redirect: "manual",
    headers: c.accessToken ? { Authorization: `Bearer ${c.accessToken}` } : {},
  });
  if (response.status >= 400) throw new HubApiError(url, response.status);
  hub.reset(); // a 302 is the expected answer, not a failure
  const etag = (response.headers.get("x-linked-etag") ?? response.headers.get("etag") ?? "")
    .replace(/^W\//, "")
    .replaceAll('"', "");
  const linked = response.headers.get("x-linked-size");
  // Without X-Linked-Size (a plain git file) only a direct 200's length is the file's size.
  const size = Number(
    linked ?? (response.status === 200 ? response.headers.get("content-length") : NaN),
  );
  return {
    commit: response.headers.get("x-repo-commit") ?? undefined,
    etag: /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(etag) ? etag : undefined,
    size: Number.isFinite(size) ? size : undefined,
  };
}

function credentials(c: HubContext): { accessToken?: string } {
  return c.accessToken ? { accessToken: c.accessToken } : {};
}
