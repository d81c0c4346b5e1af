import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";

const CLIENT = resolve(import.meta.dirname, "..");

export interface PackedClient {
  /** Absolute path of the tarball. */
  path: string;
  /** Its `sha512-…` integrity, as a lockfile records it. */
  integrity: string;
}

/**
 * Builds the typed client package (`client/`, its `prepack` runs tsc) and writes its tarball
 * into `destination`, exactly as `npm publish` would upload it.
 */
export async function packClient(destination: string = CLIENT): Promise<PackedClient> {
  const { stdout } = await promisify(execFile)(
    "npm",
    ["pack", "--json", "--pack-destination", resolve(destination)],
    { cwd: CLIENT },
  );
  const [packed] = JSON.parse(stdout) as { filename: string; integrity: string }[];
  if (!packed) throw new Error(`npm pack reported no tarball:\n${stdout}`);
  return { path: resolve(destination, packed.filename), integrity: packed.integrity };
}
