import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { resolve } from "node:path";
import { FUNCTIONS, WRANGLER, wranglerEnv } from "./wrangler";

export interface KvTarget {
  /** `local` is the state `wrangler dev` persists (`--persist-to`, default functions/.wrangler/state). */
  where: "local" | "remote";
  persistTo?: string;
  binding?: string;
  /** The deployed namespace's id (from `sst deploy` or the dashboard) instead of the binding. */
  namespaceId?: string;
}

export interface KvEntry {
  name: string;
  metadata?: unknown;
}

/**
 * The KEYS namespace through wrangler's own `kv key` commands, so local writes land in exactly
 * the files `wrangler dev` reads and remote ones use the developer's Cloudflare login.
 */
export function kvStore(target: KvTarget) {
  const base = target.namespaceId
    ? ["--namespace-id", target.namespaceId]
    : ["--binding", target.binding ?? "KEYS"];
  base.push("--config", resolve(FUNCTIONS, "wrangler.jsonc"));
  if (target.where === "remote") base.push("--remote");
  else {
    base.push("--local");
    if (target.persistTo) base.push("--persist-to", resolve(target.persistTo));
  }
  return {
    async put(key: string, value: string, metadata: unknown): Promise<void> {
      await wrangler([
        "kv",
        "key",
        "put",
        key,
        value,
        "--metadata",
        JSON.stringify(metadata),
        ...base,
      ]);
    },
    /** Several entries in one wrangler call. */
    async putMany(entries: { key: string; value: string; metadata: unknown }[]): Promise<void> {
      const dir = mkdtempSync(resolve(tmpdir(), "phi4-keys-"));
      try {
        const file = resolve(dir, "entries.json");
        writeFileSync(file, JSON.stringify(entries), { mode: 0o600 });
        await wrangler(["kv", "bulk", "put", file, ...base]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    async list(prefix: string): Promise<KvEntry[]> {
      const out = await wrangler(["kv", "key", "list", "--prefix", prefix, ...base]);
      const start = out.indexOf("[");
      if (start < 0) throw new Error(`unexpected output from wrangler kv key list: ${out}`);
      return JSON.parse(out.slice(start)) as KvEntry[];
    },
  };
}

function wrangler(args: string[]): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [WRANGLER, ...args], {
      cwd: FUNCTIONS,
      env: wranglerEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolvePromise(stdout);
      else
        reject(
          new KvCommandError(
            `wrangler ${args.slice(0, 3).join(" ")} failed (${code}):\n${stderr || stdout}`,
          ),
        );
    });
  });
}

export class KvCommandError extends Error {
  override name = "KvCommandError";
}
