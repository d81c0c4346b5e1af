import { mkdir, readFile, readlink, rename, symlink, unlink, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { getRepoFolderName } from "@huggingface/hub";

export const COMMIT_RE = /^[0-9a-f]{40}$/;

/**
 * Paths of one model repo in the Hugging Face cache layout (what Python's `huggingface_hub` reads):
 * `models--owner--name/{blobs/<sha256>, snapshots/<commit>/<file> → ../../blobs/<sha256>, refs/<branch>}`.
 */
export function cacheLayout(cacheDir: string, repo: string) {
  const root = resolve(cacheDir, getRepoFolderName({ name: repo, type: "model" }));
  const blobs = join(root, "blobs");
  return {
    root,
    blobs,
    blob: (sha: string) => join(blobs, sha),
    snapshot: (commit: string, file: string) => join(root, "snapshots", commit, file),
    ref: (name: string) => join(root, "refs", name),
    /**
     * Our record that a blob's hash was checked (size + mtime then). It sits in the repo folder
     * beside `blobs/`, where `huggingface_hub` (like its own `.no_exist/`) does not look.
     */
    verified: (sha: string) => join(root, ".phi4-edge-verified", sha),
    lock: (sha: string) => join(blobs, `${sha}.lock`),
  };
}
export type CacheLayout = ReturnType<typeof cacheLayout>;

/** The commit a branch or tag points to, if the volume recorded it. */
export async function readRef(layout: CacheLayout, name: string): Promise<string | undefined> {
  try {
    const commit = (await readFile(layout.ref(name), "utf8")).trim();
    return COMMIT_RE.test(commit) ? commit : undefined;
  } catch {
    return undefined;
  }
}

/** Writes `refs/<name>` atomically (another container may read it at the same time). */
export async function writeRef(layout: CacheLayout, name: string, commit: string): Promise<void> {
  const path = layout.ref(name);
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, commit);
  await rename(tmp, path);
}

/** The blob sha a snapshot entry links to, if it is one of ours (a relative symlink into blobs/). */
export async function linkedBlob(
  layout: CacheLayout,
  snapshotPath: string,
): Promise<string | undefined> {
  try {
    const target = resolve(dirname(snapshotPath), await readlink(snapshotPath));
    return dirname(target) === layout.blobs ? target.slice(layout.blobs.length + 1) : undefined;
  } catch {
    return undefined;
  }
}

/** Points `snapshots/<commit>/<file>` at the blob with a relative symlink, replacing it atomically. */
export async function linkSnapshot(
  layout: CacheLayout,
  snapshotPath: string,
  sha: string,
): Promise<void> {
  await mkdir(dirname(snapshotPath), { recursive: true });
  const target = relative(dirname(snapshotPath), layout.blob(sha));
  const tmp = `${snapshotPath}.${process.pid}.${Date.now()}.tmp`;
  await symlink(target, tmp);
  try {
    await rename(tmp, snapshotPath);
  } catch (error) {
    await unlink(tmp).catch(() => {});
    throw error;
  }
}
