/**
 * Generates SST's platform (`.sst/platform`: component sources, provider SDKs and Pulumi) that
 * sst.config.ts is type-checked against and the mock tests run. `sst install` fetches only
 * npm packages, and skips its Pulumi download with SST_SKIP_DEPENDENCY_CHECK=1 (Pulumi is
 * not needed to generate types); ~25–50 s once, then a few file reads.
 * Usage: `npm run sst:types` (also run by `npm run typecheck` and by the infra tests).
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";

const root = path.resolve(import.meta.dirname, "..");
const platform = path.join(root, ".sst", "platform");
const lock = path.join(root, ".sst", "platform.lock");

/** The provider versions sst.config.ts declares; the platform must hold exactly these. */
const expected: Record<string, string> = {
  "@pulumi/aws": "7.20.0",
  "@pulumi/cloudflare": "6.15.0",
  "@pulumi/docker-build": "0.0.14",
};

export function platformIsReady(): boolean {
  const sst = readVersion(path.join(root, "node_modules", "sst", "package.json"));
  if (!existsSync(path.join(platform, "config.d.ts"))) return false;
  if (readFileSync(path.join(platform, "version"), "utf8").trim() !== sst) return false;
  return Object.entries(expected).every(
    ([name, version]) =>
      readVersion(path.join(platform, "node_modules", name, "package.json")) === version,
  );
}

/** Generates the platform unless it is already there; concurrent callers wait for one run. */
export async function ensurePlatform(): Promise<void> {
  if (platformIsReady()) return;
  mkdirSync(path.dirname(lock), { recursive: true });
  while (!tryLock()) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    if (platformIsReady()) return;
  }
  try {
    if (platformIsReady()) return;
    const bin = path.join(root, "node_modules", ".bin", "sst");
    await promisify(execFile)(bin, ["install", "--stage", "typecheck"], {
      cwd: root,
      env: {
        ...process.env,
        SST_SKIP_DEPENDENCY_CHECK: "1", // don't download Pulumi: installing types needs none
        SST_NO_BUN: "1",
        SST_TELEMETRY_DISABLED: "1",
      },
      maxBuffer: 16 * 1024 * 1024,
    });
    if (!platformIsReady()) throw new Error(`sst install did not produce ${platform}`);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function tryLock(): boolean {
  try {
    mkdirSync(lock);
    return true;
  } catch {
    // A generator killed midway leaves its lock behind; one run never takes 10 minutes.
    try {
      if (Date.now() - statSync(lock).mtimeMs > 10 * 60_000) rmSync(lock, { recursive: true });
    } catch {}
    return false;
  }
}

function readVersion(file: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(file, "utf8")) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const started = Date.now();
  const ready = platformIsReady();
  await ensurePlatform();
  const took = ((Date.now() - started) / 1000).toFixed(1);
  console.log(ready ? ".sst/platform is up to date" : `generated .sst/platform in ${took} s`);
}
