import OpenAI from "openai";
import { startRunner } from "../gpu-runner/dev/start-runner";
import {
  type BenchModelSpec,
  benchModel,
  MID_MODEL,
  median,
  paramCount,
  SMALL_MODEL,
} from "./bench-model";
import { type Figure, figure, isMain, SkippedBench } from "./figure";
import { startLlamaServer } from "./llama-server";

/** One llama.cpp thread for both servers: on 2 cores a second one fights Node's own thread. */
const THREADS = 1;
const PARALLEL = 4;
const CONTEXT = 2048;

interface ModelPlan {
  name: string;
  spec: BenchModelSpec;
  /** New tokens per stream. */
  tokens: number;
  /** Rounds per server; each takes one single-stream and one 4-stream measurement. */
  rounds: number;
  /** Rounds of the warm TTFT part, each one request per server. */
  ttftRounds: number;
}

const PLANS: ModelPlan[] = [
  { name: "small", spec: SMALL_MODEL, tokens: 256, rounds: 5, ttftRounds: 30 },
  { name: "mid", spec: MID_MODEL, tokens: 96, rounds: 3, ttftRounds: 10 },
];

interface Stream {
  /** Request sent → first reasoning or text delta. */
  ttftMs: number;
  /** Decode rate after the first token: (tokens − 1) / (last delta − first delta). */
  tokensPerSecond: number;
  tokens: number;
}

interface Round {
  single: Stream;
  /** Total tokens of 4 concurrent streams over the wall time of all four. */
  aggregate: number;
}

/**
 * The runner against llama.cpp's own `llama-server` (LLAMA_SERVER names its binary), both on
 * the same GGUF with one llama.cpp thread and 4 slots, both called by the same client (the
 * `openai` SDK streaming /v1/chat/completions at temperature 0): decode speed of one stream,
 * aggregate speed of 4 concurrent streams, and TTFT of a prompt sent again (in rounds of its own).
 * The two servers run side by side and take turns round by round, so a busy machine slows
 * both alike; each figure is the median of the rounds.
 */
export default async function decodeBench(): Promise<Figure[]> {
  const binary = process.env.LLAMA_SERVER;
  if (!binary) {
    throw new SkippedBench(
      "LLAMA_SERVER is not set: name a llama-server binary built from node_modules/node-llama-cpp/llama (see README, Benchmarks)",
    );
  }
  const figures: Figure[] = [];
  for (const plan of PLANS) figures.push(...(await compare(binary, plan)));
  return figures;
}

async function compare(binary: string, plan: ModelPlan): Promise<Figure[]> {
  const model = await benchModel(plan.spec);
  const runner = await startRunner({
    MODEL_PATH: model,
    GPU: "false",
    THREADS: String(THREADS),
    PARALLEL: String(PARALLEL),
    CONTEXT_SIZE: String(CONTEXT),
    LOG_LEVEL: "warn",
  });
  const llama = await startLlamaServer({
    binary,
    model,
    threads: THREADS,
    parallel: PARALLEL,
    contextPerSlot: CONTEXT,
  }).catch(async (error) => {
    await runner.stop();
    throw error;
  });
  try {
    await waitReady(`${runner.url}/readyz`);
    const clients = {
      runner: new OpenAI({ baseURL: `${runner.url}/v1`, apiKey: runner.secret, maxRetries: 0 }),
      llama: new OpenAI({ baseURL: `${llama.url}/v1`, apiKey: "unused", maxRetries: 0 }),
    };
    // Every slot evaluates the long system prompt once, so the rounds time decoding.
    for (const client of Object.values(clients)) {
      await concurrent(client, plan.tokens);
      await chat(client, prompt(0), plan.tokens);
    }
    const rounds: Record<keyof typeof clients, Round[]> = { runner: [], llama: [] };
    for (let i = 0; i < plan.rounds; i++) {
      for (const [name, client] of Object.entries(clients) as [keyof typeof clients, OpenAI][]) {
        const single = await chat(client, prompt(0), plan.tokens);
        rounds[name].push({ single, aggregate: await concurrent(client, plan.tokens) });
      }
    }
    // TTFT of a prompt sent again, as a chat's next turn finds it: 4 other prompts have taken
    // the 4 slots since, so its shared prefix is reused and its tail evaluated again. Each
    // server is timed right after its own 4 prompts, the servers taking turns in alternating
    // order: a request timed right after the other server's work came out ~0.7 ms slower (the
    // same server on both sides, 300 rounds), which a few rounds cannot average out.
    const ttfts: Record<keyof typeof clients, number[]> = { runner: [], llama: [] };
    const names = Object.keys(clients) as (keyof typeof clients)[];
    for (let i = 0; i < plan.ttftRounds; i++) {
      for (const name of i % 2 ? names : [...names].reverse()) {
        await concurrent(clients[name], 2);
        ttfts[name].push((await chat(clients[name], prompt(0), 2)).ttftMs);
      }
    }
    const params = `${Math.round(paramCount(plan.spec) / 1e6)}M`;
    const note = `random Phi-4-arch model, ${params} params ${plan.spec.type}, ${THREADS} llama.cpp thread, ${PARALLEL} slots each, ${plan.tokens} new tokens a stream, openai SDK streaming, median of ${plan.rounds} alternating rounds`;
    const mid = (name: keyof typeof clients, pick: (r: Round) => number) =>
      median(rounds[name].map(pick));
    const spread = (pick: (r: Round) => number) =>
      `runner ${range(rounds.runner.map(pick))}, llama-server ${range(rounds.llama.map(pick))}`;
    const single = (r: Round) => r.single.tokensPerSecond;
    const aggregate = (r: Round) => r.aggregate;
    return [
      figure({
        id: `decode.${plan.name}.single`,
        title: `Decode, 1 stream, ${params} model`,
        value: mid("runner", single),
        unit: "tok/s",
        baseline: { title: "llama-server", value: mid("llama", single) },
        higherIsBetter: true,
        note: `${note}; rounds: ${spread(single)}`,
      }),
      figure({
        id: `decode.${plan.name}.aggregate`,
        title: `Decode, 4 streams together, ${params} model`,
        value: mid("runner", aggregate),
        unit: "tok/s",
        baseline: { title: "llama-server --parallel 4", value: mid("llama", aggregate) },
        higherIsBetter: true,
        note: `${note}; rounds: ${spread(aggregate)}`,
      }),
      figure({
        id: `decode.${plan.name}.warm-ttft`,
        title: `TTFT of a prompt sent again, ${params} model`,
        value: median(ttfts.runner),
        unit: "ms",
        baseline: { title: "llama-server", value: median(ttfts.llama) },
        higherIsBetter: false,
        note: `random Phi-4-arch model, ${params} params ${plan.spec.type}, ${THREADS} llama.cpp thread, ${PARALLEL} slots each, openai SDK streaming; the same prompt each round after 4 other prompts took the slots (its prefix reused, its tail evaluated again), each server right after its own 4, median of ${plan.ttftRounds} rounds in alternating order; runner ${range(ttfts.runner)}, llama-server ${range(ttfts.llama)}`,
      }),
    ];
  } finally {
    await Promise.all([runner.stop(), llama.stop()]);
  }
}

function prompt(i: number): string {
  return `Benchmark prompt ${i}: write a long story.`;
}

async function chat(client: OpenAI, content: string, maxTokens: number): Promise<Stream> {
  const started = performance.now();
  let first = 0;
  let last = 0;
  let tokens = 0;
  const stream = await client.chat.completions.create({
    model: "bench",
    messages: [{ role: "user", content }],
    max_tokens: maxTokens,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  });
  for await (const chunk of stream) {
    const delta = chunk.choices[0]?.delta as { content?: string; reasoning_content?: string };
    if (delta?.content || delta?.reasoning_content) {
      last = performance.now();
      if (!first) first = last;
    }
    if (chunk.usage) tokens = chunk.usage.completion_tokens;
  }
  if (tokens < 2 || !first) throw new Error(`a stream produced ${tokens} tokens`);
  return {
    ttftMs: first - started,
    tokensPerSecond: ((tokens - 1) / (last - first)) * 1000,
    tokens,
  };
}

async function concurrent(client: OpenAI, maxTokens: number): Promise<number> {
  const started = performance.now();
  const streams = await Promise.all(
    Array.from({ length: PARALLEL }, (_, i) => chat(client, prompt(i + 1), maxTokens)),
  );
  const tokens = streams.reduce((sum, s) => sum + s.tokens, 0);
  return tokens / ((performance.now() - started) / 1000);
}

async function waitReady(url: string) {
  const deadline = Date.now() + 120_000;
  while (
    !(await fetch(url).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    if (Date.now() > deadline) throw new Error(`${url} not ready within 120 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function range(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const f = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
  return `${f(sorted[0] ?? Number.NaN)}–${f(sorted.at(-1) ?? Number.NaN)}`;
}

if (isMain(import.meta)) {
  for (const f of await decodeBench()) {
    console.log(
      `${f.title}: ${f.value.toFixed(1)} ${f.unit} vs ${f.baseline.title} ${f.baseline.value.toFixed(1)} (${f.ratio.toFixed(2)}×) — ${f.note}`,
    );
  }
}
