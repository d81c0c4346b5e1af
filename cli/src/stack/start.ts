/**
 * `npm start`: the local stack with the real Phi-4 default — the runner (downloading the model
 * into the repository's .models on the first start, reusing it after), the edge under wrangler dev, an API key
 * for this session, and a terminal chat. Problems it can foresee end in advice, not a trace.
 */
import { existsSync } from "node:fs";
import { totalmem } from "node:os";
import { startRunner } from "../../../gpu-runner/dev/start-runner";
import { ConfigError, parseEnv } from "../../../gpu-runner/src/env";
import { COMMIT_RE, cacheLayout, readRef } from "../../../gpu-runner/src/model-store/cache-layout";
import { createPhi4Client } from "../../../shared/src/client";
import { chatRepl } from "../chat-repl";
import { isPortFree } from "./free-port";
import { createLocalKey, startEdge } from "./start-edge";
import { progressLine, waitReady } from "./wait-ready";

const OFFLINE_HINT = "For the fully offline demo on a tiny model, run: npm run demo";
/** Q4_K_M weights (~9 GB) plus one 8k-token KV cache (~1.6 GB) and headroom. */
const MIN_MEMORY_GIB = 12;
/** The runner's variables a user may set for npm start; everything else keeps its default. */
const PASSED = [
  "MODEL_REPO",
  "MODEL_FILE",
  "MODEL_REVISION",
  "MODEL_PATH",
  "MODEL_CACHE_DIR",
  "INIT_CWD",
  "HF_ENDPOINT",
  "HF_TOKEN",
  "HF_HUB_OFFLINE",
  "GPU",
  "THREADS",
  "PARALLEL",
  "CONTEXT_SIZE",
  "QUEUE_MAX",
  "LOG_LEVEL",
];

class Advice extends Error {}

async function preflight(env: Record<string, string>, port: number) {
  let config: ReturnType<typeof parseEnv>;
  try {
    config = parseEnv({ ...env, RUNNER_INSECURE: "1" });
  } catch (error) {
    if (error instanceof ConfigError) throw new Advice(error.message);
    throw error;
  }
  if (!(await isPortFree(port))) {
    throw new Advice(
      `port ${port} is taken (another npm start or wrangler dev?). Stop it, or pick another port: PHI4_PORT=8788 npm start`,
    );
  }
  const gib = totalmem() / 2 ** 30;
  if (!config.MODEL_PATH && gib < MIN_MEMORY_GIB) {
    throw new Advice(
      `this machine has ${gib.toFixed(1)} GiB of memory; Phi-4 Q4_K_M needs about ${MIN_MEMORY_GIB} GiB. Use a smaller GGUF with MODEL_PATH=… or MODEL_FILE=…, or deploy to a GPU host (docs/DEPLOY.md). ${OFFLINE_HINT}`,
    );
  }
  const cached = await isCached(config);
  if (!config.MODEL_PATH && !cached && !config.HF_HUB_OFFLINE) {
    const reachable = await fetch(`${config.HF_ENDPOINT}/api/models/${config.MODEL_REPO}`, {
      method: "HEAD",
      signal: AbortSignal.timeout(5_000),
    }).then(
      () => true,
      () => false,
    );
    if (!reachable) {
      throw new Advice(
        `cannot reach the Hugging Face Hub at ${config.HF_ENDPOINT} to download ${config.MODEL_REPO}/${config.MODEL_FILE} (about 9 GB). Check your network (or HF_ENDPOINT), or load a local file with MODEL_PATH=/path/to/model.gguf. ${OFFLINE_HINT}`,
      );
    }
  }
  return config;
}

/** Whether the volume already holds the model (then a start needs no Hub). */
async function isCached(config: ReturnType<typeof parseEnv>): Promise<boolean> {
  const layout = cacheLayout(config.MODEL_CACHE_DIR, config.MODEL_REPO);
  const commit = COMMIT_RE.test(config.MODEL_REVISION)
    ? config.MODEL_REVISION
    : await readRef(layout, config.MODEL_REVISION);
  return commit !== undefined && existsSync(layout.snapshot(commit, config.MODEL_FILE));
}

/** The runner's own words for a failed cold start, from its JSON log lines. */
function coldStartFailure(logs: string[]): string | undefined {
  for (const line of logs) {
    if (!line.startsWith("{")) continue; // native crash output, stack traces
    try {
      const entry = JSON.parse(line) as { msg?: string; err?: string };
      if (entry.msg === "cold start failed" && entry.err) return entry.err;
    } catch {}
  }
  return undefined;
}

async function main(): Promise<number> {
  const port = Number(process.env.PHI4_PORT ?? 8787);
  const env: Record<string, string> = { PARALLEL: "1", CONTEXT_SIZE: "8192", LOG_LEVEL: "warn" };
  for (const name of PASSED) if (process.env[name]) env[name] = process.env[name] as string;

  try {
    const config = await preflight(env, port);
    // The folder `npm run -w gpu-runner pull` uses too (the runner's env.ts resolves it).
    env.MODEL_CACHE_DIR = config.MODEL_CACHE_DIR;
    const stops: (() => Promise<unknown>)[] = [];
    const stopAll = async () => {
      for (const stop of stops.reverse()) await stop().catch(() => {});
    };
    try {
      // "listening" is logged at info; the rest of the runner's log stays at the chosen level.
      const runner = await startRunner({ ...env, LOG_LEVEL: "info" });
      stops.push(() => runner.stop());
      const edge = await startEdge({ port, runnerUrl: runner.url, runnerSecret: runner.secret });
      stops.push(() => edge.stop());
      const apiKey = await createLocalKey(`npm-start-${new Date().toISOString()}`);

      const source = config.MODEL_PATH ?? `${config.MODEL_REPO}/${config.MODEL_FILE}`;
      process.stdout.write(`runner ${runner.url} · edge ${edge.url} · model ${source}\n`);
      const tty = process.stdout.isTTY;
      let last = "";
      await waitReady(runner.url, {
        // A runner killed by a signal (OOM killer, abort) has a signalCode and no exitCode.
        isAlive: () => runner.child.exitCode === null && runner.child.signalCode === null,
        onPhase: (phase, progress) => {
          const line = progressLine(phase, progress);
          if (line === last) return;
          last = line;
          process.stdout.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
        },
      }).catch((error) => {
        const failure = coldStartFailure(runner.logs);
        const signal = runner.child.signalCode;
        throw new Advice(
          failure
            ? `the runner could not start: ${failure}. ${OFFLINE_HINT}`
            : signal
              ? `the runner was killed by ${signal} while loading (out of memory? Phi-4 Q4_K_M needs about ${MIN_MEMORY_GIB} GiB). ${OFFLINE_HINT}`
              : String(error),
        );
      });
      process.stdout.write(`${tty ? "\r\x1b[2K" : ""}ready. This session's API key: ${apiKey}\n`);
      process.stdout.write(
        `Other terminals: npx phi4 chat "hello" --url ${edge.url} --api-key ${apiKey}\n` +
          `Playground: ${edge.url}/ in a browser, with the key above\n\n`,
      );

      await chatRepl({
        client: createPhi4Client({ url: edge.url, apiKey }),
        url: edge.url,
        reasoning: true,
      });
      return 0;
    } finally {
      await stopAll();
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`npm start: ${message}\n`);
    return 1;
  }
}

process.exit(await main());
