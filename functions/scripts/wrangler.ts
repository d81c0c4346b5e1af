/**
 * The one place wrangler is started from. Offline, wrangler tries three outside hosts, each
 * costing a ~3 s timeout: usage metrics, Cloudflare's request.cf data, and the update check
 * (the banner). Every script, test and CI step runs wrangler with these switches off.
 *
 * As a command: `npm run -w functions wrangler -- <args>` (the `types` scripts and CI use it).
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";

export const WRANGLER_OFFLINE = {
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_HIDE_BANNER: "true",
} as const;

/** wrangler's own entry point (run with this Node: `node <WRANGLER> …`). */
export const WRANGLER = resolve(
  dirname(createRequire(import.meta.url).resolve("wrangler/package.json")),
  "bin/wrangler.js",
);

/** The folder holding wrangler.jsonc, where wrangler must run. */
export const FUNCTIONS = resolve(import.meta.dirname, "..");

/** An environment for a wrangler process: `base` with the offline switches set. */
export function wranglerEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...base, ...WRANGLER_OFFLINE };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const child = spawn(process.execPath, [WRANGLER, ...process.argv.slice(2)], {
    cwd: FUNCTIONS,
    env: wranglerEnv(),
    stdio: "inherit",
  });
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}
