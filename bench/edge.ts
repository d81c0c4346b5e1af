import { mkdtemp, rm } from "node:fs/promises";
import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { unstable_startWorker } from "wrangler";
import { seedKeys } from "../functions/test/seed-keys";
import { startEdge } from "../functions/test/start-edge";
import { startRunner } from "../gpu-runner/dev/start-runner";
import { writeTinyModel } from "../gpu-runner/dev/tiny-model/write-tiny-model";
import { type Figure, figure, isMain } from "./figure";

const SMALL_REQUESTS = 300;
const STREAMS = 20;
const CHAT = JSON.stringify({ 0: { messages: [{ role: "user", content: "bench" }] } });

/**
 * The edge hop's cost, measured against calling the runner directly in the same run: latency
 * of a small request (GET /v1/models) and streaming lag. Both paths reach the runner through
 * a loopback tap that timestamps each JSONL event as the runner sends it; lag is the event's
 * arrival at the client minus that time. The paths differ only by the Worker (workerd via
 * wrangler's dev server, with auth, limits and pass-through) in between.
 */
export default async function edgeBench(): Promise<Figure[]> {
  const progress = (msg: string) => process.stderr.write(`  edge: ${msg}\n`);
  const dir = await mkdtemp(join(tmpdir(), "bench-edge-"));
  // The edge talks to the runner through the tap; so does the direct path, so the two differ
  // only by the Worker.
  const { runner, tap } = await startTappedRunner(dir);
  const edge = await startEdge({
    persistTo: join(dir, "state"),
    vars: { RUNNER_URL: tap.url, RUNNER_SECRET: runner.secret },
  });
  const bare = await startBareWorker(tap.url, runner.secret);
  progress("runner, edge and bare Worker up");
  try {
    const { bench: key } = (await seedKeys(join(dir, "state"), [
      { name: "bench", limits: { perMinute: 1_000_000, streams: 100 } },
    ])) as { bench: string };
    const viaEdge = { url: edge.url, auth: `Bearer ${key}` };
    const direct = { url: tap.url, auth: `Bearer ${runner.secret}` };
    const viaBare = { url: bare.url, auth: "Bearer anything" };

    // Warm-up: isolates, connections, the prompt cache.
    for (let i = 0; i < 20; i++) {
      await small(viaEdge);
      await small(viaBare);
      await small(direct);
    }
    const edgeMs: number[] = [];
    const bareMs: number[] = [];
    const directMs: number[] = [];
    // Each round in a new order: the request after an edge request ran 5-6 ms slower (the
    // edge's work after its response, e.g. the limiter call), so a fixed order charged it to
    // whichever came next.
    const rounds = [
      { target: viaEdge, out: edgeMs },
      { target: viaBare, out: bareMs },
      { target: direct, out: directMs },
    ];
    for (let i = 0; i < SMALL_REQUESTS; i++) {
      for (const { target, out } of shuffle(rounds)) out.push(await small(target));
    }
    // What each Worker adds to the same request, paired with the direct call made beside it.
    const edgeAdds = edgeMs.map((ms, i) => ms - (directMs[i] ?? Number.NaN));
    const bareAdds = bareMs.map((ms, i) => ms - (directMs[i] ?? Number.NaN));

    progress("small requests done, streaming");
    const edgeLag: number[] = [];
    const directLag: number[] = [];
    await stream(viaEdge, tap);
    for (let i = 0; i < STREAMS; i++) {
      edgeLag.push(...(await stream(viaEdge, tap)));
      directLag.push(...(await stream(direct, tap)));
    }

    const note = (a: number[], b: number[]) =>
      `+${(percentile(a, 50) - percentile(b, 50)).toFixed(2)} ms p50, +${(percentile(a, 99) - percentile(b, 99)).toFixed(2)} ms p99`;
    const latencyNote = `GET /v1/models, ${SMALL_REQUESTS} sequential requests each way, interleaved in a shuffled order each round; ${note(edgeMs, directMs)}`;
    const lagNote = `${STREAMS} streams × ~55 tokens each way (tiny model, JSONL); ${note(edgeLag, directLag)}`;
    return [
      figure({
        id: "edge.added-latency.p50",
        title: "Latency the edge adds to a small request, p50",
        value: percentile(edgeAdds, 50),
        unit: "ms",
        baseline: {
          title: "a bare pass-through Worker under the same wrangler dev",
          value: percentile(bareAdds, 50),
        },
        higherIsBetter: false,
        note: `GET /v1/models with an API key (auth, limits, logging) vs a Worker that only forwards; each minus the direct call made beside it; ${SMALL_REQUESTS} each, interleaved in a shuffled order each round`,
      }),
      figure({
        id: "edge.added-latency.p99",
        title: "Latency the edge adds to a small request, p99",
        value: percentile(edgeAdds, 99),
        unit: "ms",
        baseline: {
          title: "a bare pass-through Worker under the same wrangler dev",
          value: percentile(bareAdds, 99),
        },
        higherIsBetter: false,
        note: "as the p50 above",
      }),
      latency(
        "edge.latency.p50",
        "Small request through the edge, p50",
        50,
        edgeMs,
        directMs,
        latencyNote,
      ),
      latency(
        "edge.latency.p99",
        "Small request through the edge, p99",
        99,
        edgeMs,
        directMs,
        latencyNote,
      ),
      latency(
        "edge.stream-lag.p50",
        "Streaming lag through the edge, p50",
        50,
        edgeLag,
        directLag,
        lagNote,
      ),
      latency(
        "edge.stream-lag.p99",
        "Streaming lag through the edge, p99",
        99,
        edgeLag,
        directLag,
        lagNote,
      ),
    ];
  } finally {
    progress("stopping");
    await bare.dispose();
    await edge.dispose();
    tap.close();
    await runner.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The baseline Worker (bench/bare-worker.ts) with the edge's compatibility settings. */
export async function startBareWorker(
  runnerUrl: string,
  secret: string,
): Promise<{ url: string; dispose(): Promise<void> }> {
  const worker = await unstable_startWorker({
    name: "bare-pass-through",
    entrypoint: fileURLToPath(new URL("./bare-worker.ts", import.meta.url)),
    compatibilityDate: "2026-11-01",
    compatibilityFlags: ["nodejs_compat", "enable_request_signal", "request_signal_passthrough"],
    bindings: {
      RUNNER_URL: { type: "plain_text", value: runnerUrl },
      RUNNER_SECRET: { type: "secret_text", value: secret },
    },
    dev: QUIET_DEV,
  } as Parameters<typeof unstable_startWorker>[0]);
  await worker.ready;
  return { url: (await worker.url).origin, dispose: () => worker.dispose() };
}

function latency(
  id: string,
  title: string,
  p: number,
  via: number[],
  direct: number[],
  note: string,
) {
  return figure({
    id,
    title,
    value: percentile(via, p),
    unit: "ms",
    baseline: { title: "runner called directly", value: percentile(direct, p) },
    higherIsBetter: false,
    note,
  });
}

interface Target {
  url: string;
  auth: string;
}

async function small(target: Target): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${target.url}/v1/models`, { headers: { authorization: target.auth } });
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`GET /v1/models: ${res.status}`);
  return performance.now() - started;
}

/** One chat stream; returns each token event's lag behind the moment the tap saw it. */
async function stream(target: Target, tap: Tap): Promise<number[]> {
  tap.seen.clear();
  const res = await fetch(`${target.url}/trpc/chat?batch=1`, {
    method: "POST",
    headers: {
      authorization: target.auth,
      "content-type": "application/json",
      "trpc-accept": "application/jsonl",
    },
    body: CHAT,
  });
  if (!res.ok || !res.body) throw new Error(`chat: ${res.status}`);
  const lags: number[] = [];
  const lines = lineSplitter((line, at) => {
    const tapped = tap.seen.get(line);
    if (tapped !== undefined && line.includes('"type":"')) lags.push(at - tapped);
  });
  for await (const chunk of res.body) {
    lines(chunk, performance.now());
  }
  if (lags.length < 50) throw new Error(`only ${lags.length} token events matched`);
  return lags;
}

interface Tap {
  url: string;
  /** JSONL line → when the tap forwarded it. */
  seen: Map<string, number>;
  close(): void;
}

/** wrangler's dev server for a bench Worker: loopback, any port, no inspector, watcher or logs. */
export const QUIET_DEV = {
  server: { hostname: "127.0.0.1", port: 0 },
  inspector: false,
  watch: false,
  logLevel: "none",
} as const;

/** The tiny model's runner (one llama.cpp thread), ready, behind a loopback tap. */
export async function startTappedRunner(dir: string) {
  const model = join(dir, "tiny.gguf");
  await writeTinyModel(model);
  const runner = await startRunner({
    MODEL_PATH: model,
    GPU: "false",
    THREADS: "1",
    PARALLEL: "2",
    CONTEXT_SIZE: "2048",
  });
  await runner.ready();
  return { runner, tap: await startTap(runner.url) };
}

/** A loopback HTTP proxy to the runner that timestamps every JSONL line it forwards. */
export async function startTap(runnerUrl: string): Promise<Tap> {
  const seen = new Map<string, number>();
  const target = new URL(runnerUrl);
  const server = createServer((req, res) => {
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        const lines = lineSplitter((line, at) => {
          if (!seen.has(line)) seen.set(line, at);
        });
        answer.on("data", (chunk: Buffer) => {
          lines(chunk, performance.now());
          res.write(chunk);
        });
        answer.on("end", () => res.end());
      },
    );
    req.pipe(upstream);
    res.on("close", () => upstream.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => server.close(),
  };
}

function lineSplitter(onLine: (line: string, at: number) => void) {
  const decoder = new TextDecoder();
  let buffered = "";
  return (chunk: Uint8Array, at: number) => {
    buffered += decoder.decode(chunk, { stream: true });
    const parts = buffered.split("\n");
    buffered = parts.pop() ?? "";
    for (const line of parts) if (line) onLine(line, at);
  };
}

/** A copy of `items` in random order (Fisher–Yates). */
export function shuffle<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return (
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
  );
}

if (isMain(import.meta)) {
  for (const f of await edgeBench()) {
    console.log(
      `${f.title}: ${f.value.toFixed(2)} ${f.unit} vs ${f.baseline.value.toFixed(2)} (${f.ratio.toFixed(2)}×) — ${f.note}`,
    );
  }
}
