import { type ChildProcess, execFile, spawn } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";

const ROOT = resolve(import.meta.dirname, "../../..");

export interface StartedEdge {
  url: string;
  child: ChildProcess;
  logs: string[];
  stop(): Promise<void>;
}

/**
 * Runs `npm run -w functions dev` (wrangler dev) in front of the runner and resolves once the
 * Worker answers. The child runs in its own process group so workerd goes down with it.
 */
export async function startEdge(options: {
  port: number;
  runnerUrl: string;
  runnerSecret: string;
  /** wrangler's local state (KV, Durable Objects); default functions/.wrangler/state. */
  persistTo?: string;
  timeoutMs?: number;
}): Promise<StartedEdge> {
  const child = spawn(
    "npm",
    [
      ...["run", "-s", "-w", "functions", "dev", "--", "--port", String(options.port)],
      ...(options.persistTo ? ["--persist-to", options.persistTo] : []),
    ],
    {
      cwd: ROOT,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        RUNNER_URL: options.runnerUrl,
        RUNNER_SECRET: options.runnerSecret,
      },
    },
  );
  const logs: string[] = [];
  for (const stream of [child.stdout, child.stderr])
    stream?.on("data", (d) => logs.push(String(d)));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    try {
      process.kill(-(child.pid ?? 0), "SIGTERM");
    } catch {}
    const timer = setTimeout(() => {
      try {
        process.kill(-(child.pid ?? 0), "SIGKILL");
      } catch {}
    }, 3_000);
    await exited;
    clearTimeout(timer);
  };
  const url = `http://127.0.0.1:${options.port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.status < 500,
      () => false,
    );
    if (ok) return { url, child, logs, stop };
    await new Promise((r) => setTimeout(r, 250));
  }
  await stop();
  throw new Error(
    `the edge (wrangler dev) did not start on port ${options.port}:\n${logs.join("").slice(0, 3_000)}`,
  );
}

/** Creates an API key in the local dev KV with `npm run keys` and returns it (its last line). */
export async function createLocalKey(name: string, persistTo?: string): Promise<string> {
  const where = persistTo ? ["--persist-to", persistTo] : [];
  const { stdout } = await promisify(execFile)(
    "npm",
    ["run", "-s", "-w", "functions", "keys", "--", "create", "--name", name, ...where],
    { cwd: ROOT },
  );
  const key = stdout.trim().split("\n").at(-1)?.trim();
  if (!key) throw new Error(`npm run keys printed no key:\n${stdout}`);
  return key;
}
