import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseEnv } from "node:util";
import { checkDevVars } from "../src/env";
import { buildPlayground } from "./build-playground";
import { FUNCTIONS, WRANGLER, wranglerEnv } from "./wrangler";

/** Bindings a developer may set in the shell; they win over functions/.dev.vars. */
const FROM_ENVIRONMENT = [
  "RUNNER_URL",
  "RUNNER_SECRET",
  "JWT_JWKS_URL",
  "JWT_ISSUER",
  "JWT_AUDIENCE",
  "RATE_LIMIT_PER_MINUTE",
  "CONCURRENT_STREAMS",
  "MAX_BODY_BYTES",
  "RUNNER_TIMEOUT_MS",
  "STREAM_IDLE_MS",
  "CORS_ORIGINS",
  "KEY_CACHE_MS",
];

/**
 * `npm run -w functions dev [-- <wrangler dev flags>]`: `wrangler dev` offline, with bindings
 * from functions/.dev.vars overlaid by the same names from the environment. They reach
 * wrangler through a private env file, so the runner secret never shows in `ps`.
 */
async function main(extraArgs: string[]) {
  const devVars = resolve(FUNCTIONS, ".dev.vars");
  const values = existsSync(devVars) ? parseEnv(readFileSync(devVars, "utf8")) : {};
  for (const name of FROM_ENVIRONMENT) {
    const value = process.env[name];
    if (value) values[name] = value;
  }
  // Refused here, not by every request (500, the reason only in wrangler's log).
  const problems = values.RUNNER_SECRET
    ? checkDevVars(values as Record<string, string>)
    : ["RUNNER_SECRET: not set"];
  if (problems.length) {
    console.error(
      `npm run -w functions dev: ${problems.join("; ")}\nFix it in functions/.dev.vars (see .dev.vars.example) or the environment.`,
    );
    process.exit(1);
  }
  await announceRunner(values.RUNNER_URL);
  buildPlayground();
  const dir = resolve(FUNCTIONS, ".wrangler");
  mkdirSync(dir, { recursive: true });
  const envFile = resolve(dir, "dev.env");
  writeFileSync(
    envFile,
    Object.entries(values)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join("\n"),
    { mode: 0o600 },
  );
  chmodSync(envFile, 0o600);
  const child = spawn(
    process.execPath,
    [WRANGLER, "dev", "--env-file", envFile, "--ip", "127.0.0.1", ...extraArgs],
    {
      cwd: FUNCTIONS,
      stdio: "inherit",
      env: wranglerEnv(),
    },
  );
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => child.kill(signal));
  }
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

/** The edge only forwards: say so, and whether a runner answers there now. */
async function announceRunner(url: string | undefined): Promise<void> {
  const where = url ?? "wrangler.jsonc's RUNNER_URL";
  console.log(
    `a runner must be running at ${where}: npm run -w gpu-runner start with the same RUNNER_SECRET (or npm start for the whole stack)`,
  );
  if (!url) return;
  const answers = await fetch(`${url.replace(/\/+$/, "")}/healthz`, {
    signal: AbortSignal.timeout(2_000),
  }).then(
    (res) => res.ok,
    () => false,
  );
  if (!answers) console.log(`no runner answers at ${url} yet: calls get 502 until one does`);
}

await main(process.argv.slice(2));
