import { execFile } from "node:child_process";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { promisify } from "node:util";
import type { PackedClient } from "../scripts/pack-client";

const ROOT = resolve(import.meta.dirname, "../..");

interface LockEntry {
  version: string;
  integrity?: string;
  resolved?: string;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  dev?: boolean;
  [field: string]: unknown;
}

export interface ScratchAppOptions {
  /** Where the app goes (a folder outside the workspace). */
  dir: string;
  client: PackedClient;
  /** Source files by path relative to the app. */
  files: Record<string, string>;
  /** Dependencies besides the client, resolved to the versions this repository installed. */
  devDependencies: string[];
}

/**
 * An app of its own outside the workspace that installs the packed client with `npm ci`. Its
 * lockfile takes versions and integrities from this repository's lockfile, so npm needs no
 * registry metadata: every tarball is already in the npm cache after the repository's own
 * `npm ci` (`--prefer-offline` still lets npm fetch one the cache lost).
 */
export async function createScratchApp(options: ScratchAppOptions): Promise<void> {
  const { dir, client } = options;
  await mkdir(dir, { recursive: true });
  const tarball = basename(client.path);
  await copyFile(client.path, join(dir, tarball));
  const manifest = JSON.parse(
    await readFile(join(ROOT, "client/package.json"), "utf8"),
  ) as LockEntry & { name: string };
  const locked = (
    JSON.parse(await readFile(join(ROOT, "package-lock.json"), "utf8")) as {
      packages: Record<string, LockEntry>;
    }
  ).packages;
  const entryOf = (name: string): LockEntry => {
    const entry = locked[`node_modules/${name}`];
    if (!entry) throw new Error(`${name} is not in the repository's package-lock.json`);
    const { dev: _dev, ...rest } = entry;
    return rest;
  };

  const devDependencies = Object.fromEntries(
    options.devDependencies.map((name) => [name, entryOf(name).version]),
  );
  const packages: Record<string, LockEntry> = {
    "": { version: "0.0.0", dependencies: { [manifest.name]: `file:${tarball}` }, devDependencies },
    [`node_modules/${manifest.name}`]: {
      version: manifest.version,
      resolved: `file:${tarball}`,
      integrity: client.integrity,
      ...(manifest.dependencies ? { dependencies: manifest.dependencies } : {}),
    },
  };
  // Everything the client and the app need, with the (non-optional) peers npm installs too.
  const pending = [...Object.keys(manifest.dependencies ?? {}), ...options.devDependencies];
  while (pending.length) {
    const name = pending.pop() as string;
    if (packages[`node_modules/${name}`]) continue;
    const entry = entryOf(name);
    packages[`node_modules/${name}`] = entry;
    pending.push(...Object.keys(entry.dependencies ?? {}));
    for (const peer of Object.keys(entry.peerDependencies ?? {})) {
      if (!entry.peerDependenciesMeta?.[peer]?.optional) pending.push(peer);
    }
  }

  const app = { name: "scratch-app", version: "0.0.0", private: true, type: "module" };
  const pkg = { ...app, dependencies: packages[""]?.dependencies, devDependencies };
  const lock = {
    name: app.name,
    version: app.version,
    lockfileVersion: 3,
    requires: true,
    packages,
  };
  await writeFile(join(dir, "package.json"), JSON.stringify(pkg, null, 2));
  await writeFile(join(dir, "package-lock.json"), JSON.stringify(lock, null, 2));
  for (const [path, text] of Object.entries(options.files)) {
    await mkdir(join(dir, path, ".."), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  await promisify(execFile)(
    "npm",
    ["ci", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"],
    { cwd: dir, env: withoutNpmSettings() },
  );
}

/**
 * This process's environment minus what `npm test` set for its own run (`npm_config_local_prefix`
 * and friends), which would point the app's npm back at this repository.
 */
export function withoutNpmSettings(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith("npm_")),
  );
}
