import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type StartedRunner, startRunner } from "../../gpu-runner/dev/start-runner";
import { writeTinyModel } from "../../gpu-runner/dev/tiny-model/write-tiny-model";
import { type StartedEdge, startEdge } from "./start-edge";

export interface Stack {
  runner: StartedRunner;
  edge: StartedEdge;
  dir: string;
  stop(): Promise<void>;
}

export interface StackOptions {
  runnerEnv?: Record<string, string>;
  edgeVars?: Record<string, string>;
  /** The tiny model's answer never ends (until maxTokens or an abort): streams stay busy. */
  endless?: boolean;
}

/** The real runner on the tiny model (CPU, 1 thread) behind the real Worker under workerd. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), "phi4-edge-"));
  const model = join(dir, "tiny.gguf");
  await writeTinyModel(model, { endless: options.endless });
  const runner = await startRunner({
    MODEL_PATH: model,
    GPU: "false",
    THREADS: "1",
    PARALLEL: "2",
    QUEUE_MAX: "64",
    CONTEXT_SIZE: "2048",
    ...options.runnerEnv,
  });
  await runner.ready();
  const edge = await startEdge({
    persistTo: join(dir, "state"),
    vars: { RUNNER_URL: runner.url, RUNNER_SECRET: runner.secret, ...options.edgeVars },
  });
  return {
    runner,
    edge,
    dir,
    async stop() {
      await edge.dispose();
      // The runner drains open sequences on SIGTERM; a stuck one must not hang the suite.
      const killer = setTimeout(() => void runner.stop("SIGKILL"), 10_000);
      await runner.stop();
      clearTimeout(killer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One value of the runner's Prometheus metrics (summed over series matching `labels`). */
export async function runnerMetric(
  runner: StartedRunner,
  name: string,
  labels = "",
): Promise<number> {
  const res = await fetch(`${runner.url}/metrics`, {
    headers: { authorization: `Bearer ${runner.secret}` },
  });
  const text = await res.text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const [series, value] = line.split(" ");
    if (series === name || (series?.startsWith(`${name}{`) && series.includes(labels))) {
      sum += Number(value);
    }
  }
  return sum;
}

/** Polls `check` (every 50 ms, up to `timeoutMs`): for effects that land asynchronously. */
export async function until(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
