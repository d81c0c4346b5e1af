import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
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
];

/**
 * `npm run -w functions dev [-- <wrangler dev flags>]`: `wrangler dev` offline, with bindings
 * from functions/.dev.vars overlaid by the same names from the environment. They reach
 * wrangler through a private env file, so the runner secret never shows in `ps`.
 */
function main(extraArgs: string[]) {
  const values = parseDotEnv(resolve(FUNCTIONS, ".dev.vars"));
  for (const name of FROM_ENVIRONMENT) {
    const value = process.env[name];
    if (value) values[name] = value;
  }
  if (!values.RUNNER_SECRET) {
    console.error(
      "RUNNER_SECRET is not set: put it in functions/.dev.vars (see .dev.vars.example) or the environment",
    );
    process.exit(1);
  }
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

/** `NAME=value` lines; `#` comments; optional single or double quotes. */
function parseDotEnv(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  const values: Record<string, string> = {};
  for (const line of readFileSync(path, "utf8").split(/\r?\n/)) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match?.[1] || line.trimStart().startsWith("#")) continue;
    const raw = match[2] ?? "";
    values[match[1]] = /^(["']).*\1$/.test(raw) ? raw.slice(1, -1) : raw;
  }
  return values;
}

main(process.argv.slice(2));
