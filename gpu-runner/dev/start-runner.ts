import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { createInterface } from "node:readline";

export interface StartedRunner {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** The bearer secret the runner requires ("" when started with RUNNER_INSECURE=1). */
  secret: string;
  child: ChildProcess;
  /** Every stdout/stderr line so far (pino JSON lines). */
  logs: string[];
  /** Sends `signal` (default SIGTERM) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves once `/readyz` answers 200 (the model is loaded); throws if the runner exits first. */
  ready(timeoutMs?: number): Promise<void>;
}

export interface StartRunnerOptions {
  cwd?: string;
  onLog?: (line: string) => void;
  /** How long to wait for the "listening" line. Default 60 s. */
  timeoutMs?: number;
}

const ROOT = resolve(import.meta.dirname, "../..");
const MAIN = resolve(ROOT, "gpu-runner/src/main.ts");

/**
 * Spawns the real runner (`gpu-runner/src/main.ts` under tsx, on the repo's Node 22) with
 * PORT=0 (unless `env.PORT` is given) and resolves once it logs `"msg":"listening"` with its port. The child gets only
 * PATH/HOME from this process, the image's UV_THREADPOOL_SIZE, plus `env`; a random RUNNER_SECRET is made up unless given.
 */
export async function startRunner(
  env: Record<string, string>,
  options: StartRunnerOptions = {},
): Promise<StartedRunner> {
  const secret = env.RUNNER_SECRET ?? (env.RUNNER_INSECURE ? "" : randomBytes(24).toString("hex"));
  const childEnv: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "",
    THREADS: "1",
    // As the image sets it (gpu-runner/Dockerfile): libuv reads it at launch.
    UV_THREADPOOL_SIZE: "2",
    LOG_LEVEL: "info",
    ...env,
    ...(secret ? { RUNNER_SECRET: secret } : {}),
    PORT: env.PORT ?? "0",
  };
  const localNode = resolve(ROOT, "node_modules/.bin/node");
  const node = existsSync(localNode) ? localNode : process.execPath;
  const child = spawn(node, ["--import", "tsx", MAIN], {
    cwd: options.cwd ?? ROOT,
    env: childEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: string[] = [];
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => resolve(code));
  });

  const port = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(
          `runner did not listen within ${options.timeoutMs ?? 60_000} ms:\n${logs.join("\n")}`,
        ),
      );
    }, options.timeoutMs ?? 60_000);
    const onLine = (line: string) => {
      logs.push(line);
      options.onLog?.(line);
      if (!line.includes('"msg":"listening"')) return;
      try {
        const parsed = JSON.parse(line) as { port?: number };
        if (typeof parsed.port === "number") {
          clearTimeout(timer);
          resolvePort(parsed.port);
        }
      } catch {}
    };
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) createInterface({ input: stream }).on("line", onLine);
    }
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`runner exited with ${code} before listening:\n${logs.join("\n")}`));
    });
  });

  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    secret,
    child,
    logs,
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    async ready(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while ((await fetch(`${url}/readyz`).catch(() => undefined))?.status !== 200) {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`runner exited before it was ready:\n${logs.join("\n")}`);
        }
        if (Date.now() > deadline) throw new Error(`runner not ready within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}
