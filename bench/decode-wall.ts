import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  getLlama,
  type Llama,
  LlamaLogLevel,
  resolveChatWrapper,
  type Token,
} from "node-llama-cpp";
import { toChatHistory } from "../gpu-runner/src/engine/to-chat-history";
import { bareLockstep, bareLoop } from "./bare-loop";
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

const THREADS = 1;
const CONTEXT = 2048;
/** Sequences of the lockstep part, as the runner's `PARALLEL` and llama-server's `-np`. */
const STREAMS = 4;

interface ModelPlan {
  name: string;
  spec: BenchModelSpec;
  /** New tokens per stream. */
  tokens: number;
  /** Alternating rounds, after one warm-up round. */
  rounds: number;
}

/**
 * The two sizes of bench/decode.ts, the 208M one with fewer tokens and rounds: its part takes
 * ~100–110 s on 2 quiet cores (the 24M one ~40 s).
 */
const PLANS: ModelPlan[] = [
  { name: "small", spec: SMALL_MODEL, tokens: 256, rounds: 5 },
  { name: "mid", spec: MID_MODEL, tokens: 96, rounds: 3 },
];

interface Sample {
  /** Wall time per step (one token of each stream), first token to last. */
  wallMs: number;
  /** llama.cpp's own figure per step (see below). */
  engineMs: number;
}

/**
 * Where a decoded token's time goes without the runner, on the small (GPU-like, ~2 ms a token)
 * model and on the 208M one (~15–20 ms a token, where compute dominates): node-llama-cpp's bare
 * `LlamaContextSequence.evaluate` loop in-process against `llama-server`'s `/completion`, both
 * fed the same prompt tokens, greedy, one llama.cpp thread, taking turns round by round; once
 * with one stream, once with 4 streams decoding together (4 sequences of one context in
 * lockstep, one batch a step, against 4 concurrent requests to `llama-server -np 4`). For node-llama-cpp, llama.cpp's own timer (`performanceTracking`)
 * gives the time spent inside `llama_decode`; for llama-server its `timings` give its whole
 * generation loop per token (decode, sampling, sending). If node-llama-cpp's decode alone costs
 * what llama-server's whole loop does while its wall time per step is longer, the gap is not
 * compute but what node-llama-cpp does around each decode (the hand-offs to its pool thread and
 * back: one for the batch's decode, then one per sequence for its sampling), which no loop on
 * its public API can avoid.
 */
export default async function decodeWallBench(): Promise<Figure[]> {
  if (!process.env.LLAMA_SERVER) {
    throw new SkippedBench("LLAMA_SERVER is not set (see README, Benchmarks)");
  }
  // In a process of its own: once a process has disposed of a Llama (as bench/runner.ts does),
  // node-llama-cpp 3.22 no longer hands llama.cpp's log lines, timings among them, to the
  // logger of the next one. With the runner's libuv pool of 2 threads (gpu-runner/Dockerfile),
  // which the sampling hand-offs of 4 sequences queue on.
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url)],
    {
      env: { ...process.env, DECODE_WALL_JSON: "1", UV_THREADPOOL_SIZE: "2" },
      maxBuffer: 64 * 2 ** 20,
    },
  );
  return JSON.parse(stdout.trim().split("\n").at(-1) ?? "[]") as Figure[];
}

async function measure(binary: string): Promise<Figure[]> {
  const logs: string[] = [];
  const llama = await getLlama({
    gpu: false,
    build: "never",
    maxThreads: THREADS,
    logLevel: LlamaLogLevel.info,
    logger: (_level, message) => void logs.push(message),
  });
  try {
    const figures: Figure[] = [];
    for (const plan of PLANS) figures.push(...(await measurePlan(binary, plan, { llama, logs })));
    return figures;
  } finally {
    await llama.dispose();
  }
}

async function measurePlan(
  binary: string,
  plan: ModelPlan,
  host: { llama: Llama; logs: string[] },
): Promise<Figure[]> {
  const { llama, logs } = host;
  const { tokens, rounds } = plan;
  const modelPath = await benchModel(plan.spec);
  const model = await llama.loadModel({ modelPath });
  const context = await model.createContext({
    contextSize: CONTEXT,
    sequences: STREAMS,
    threads: THREADS,
    performanceTracking: true,
  });
  const server = await startLlamaServer({
    binary,
    model: modelPath,
    threads: THREADS,
    parallel: STREAMS,
    contextPerSlot: CONTEXT,
  });
  try {
    const sequences = Array.from({ length: STREAMS }, () => context.getSequence());
    const wrapper = resolveChatWrapper(model);
    if (!wrapper) throw new Error("the bench model has no chat template");
    const prompt = wrapper
      .generateContextState({
        chatHistory: toChatHistory([{ role: "user", content: "Write a long story." }]),
      })
      .contextText.tokenize(model.tokenizer);
    /** llama.cpp's decode timings since the last print (printing resets them). */
    const decodeTimings = async () => {
      logs.length = 0;
      await context.printTimings();
      // Its lines reach the logger from another thread, a moment after the call returns.
      for (let waited = 0; !/context_print:\s+eval time/.test(logs.join("")); waited += 10) {
        if (waited > 10_000)
          throw new Error(`no eval time in llama.cpp's timings: ${logs.join("")}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return parseDecodeTimings(logs.join(""));
    };
    const sequence = sequences[0] as (typeof sequences)[number];
    // llama.cpp's counters are reset once the first token is in (printing resets them), so
    // they cover the decodes the wall time does: the 2nd token's to the last's.
    const options = { tokens, afterFirst: decodeTimings };
    const bare = async (): Promise<Sample> => {
      const run = await bareLoop(sequence, prompt, options);
      const timings = await decodeTimings();
      return { wallMs: run.msPerToken, engineMs: timings.singleMs / timings.singleRuns };
    };
    const bareTogether = async (): Promise<Sample> => {
      const run = await bareLockstep(sequences, prompt, options);
      const timings = await decodeTimings();
      // llama.cpp files a decode of one token under "eval", of several under "prompt eval".
      if (timings.singleMs > 0 || timings.batchTokens !== STREAMS * (tokens - 1))
        throw new Error(`not one batch of ${STREAMS} a step: ${JSON.stringify(timings)}`);
      return { wallMs: run.msPerStep, engineMs: timings.batchMs / (tokens - 1) };
    };
    const served = () => completion(server.url, prompt, tokens);
    const servedTogether = async (): Promise<Sample> => {
      const streams = await Promise.all(
        Array.from({ length: STREAMS }, () => completion(server.url, prompt, tokens)),
      );
      // Per step of all streams: the streams' rates add up.
      const perStep = (pick: (s: Sample) => number) =>
        STREAMS / streams.reduce((sum, s) => sum + 1 / pick(s), 0);
      return { wallMs: perStep((s) => s.wallMs), engineMs: perStep((s) => s.engineMs) };
    };
    const runs = { bare, served, bareTogether, servedTogether };
    type Run = keyof typeof runs;
    const names = Object.keys(runs) as Run[];
    // Warm-up: every sequence and every slot holds the prompt.
    for (const each of sequences)
      await each.evaluateWithoutGeneratingNewTokens(prompt.slice(0, -1));
    for (const name of names) await runs[name]();
    const samples = { bare: [], served: [], bareTogether: [], servedTogether: [] } as Record<
      Run,
      Sample[]
    >;
    for (let i = 0; i < rounds; i++) {
      for (const name of names) samples[name].push(await runs[name]());
    }
    const mid = (name: Run, pick: (s: Sample) => number) => median(samples[name].map(pick));
    const wall = (s: Sample) => s.wallMs;
    const engine = (s: Sample) => s.engineMs;
    const outside = (s: Sample) => s.wallMs - s.engineMs;
    /** The rounds' own ratios, lowest to highest: how steady the comparison was. */
    const roundRatios = (name: Run, baseline: Run) => {
      const ratios = samples[name].map(
        (s, i) => (samples[baseline][i]?.wallMs ?? Number.NaN) / s.wallMs,
      );
      return `rounds ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}×`;
    };
    const params = `${Math.round(paramCount(plan.spec) / 1e6)}M`;
    const id = (name: string) => `decode-wall.${plan.name}.${name}`;
    const note = `random Phi-4-arch model, ${params} params ${plan.spec.type}, ${THREADS} llama.cpp thread, the same ${prompt.length} prompt tokens cached, ${tokens} greedy tokens a stream, median of ${rounds} alternating rounds`;
    const together = `${STREAMS} sequences of one context stepping together, one batch a step`;
    return [
      figure({
        id: id("bare-loop"),
        title: `Decode, node-llama-cpp's bare evaluate loop in-process, ${params} model`,
        value: 1000 / mid("bare", wall),
        unit: "tok/s",
        baseline: {
          title: "llama-server /completion, same tokens",
          value: 1000 / mid("served", wall),
        },
        higherIsBetter: true,
        note: `no chat logic and no HTTP on node-llama-cpp's side: the most any loop on its API gets; ${roundRatios("bare", "served")}; ${note}`,
      }),
      figure({
        id: id("compute"),
        title: `llama.cpp's decode per token inside node-llama-cpp, ${params} model`,
        value: mid("bare", engine),
        unit: "ms",
        baseline: {
          title: "llama-server's whole generation loop per token (its timings)",
          value: mid("served", engine),
        },
        higherIsBetter: false,
        note: `llama_decode alone (llama.cpp's performance counters) against decode + sampling + sending; ${note}`,
      }),
      figure({
        id: id("outside"),
        title: `Wall time per token in node-llama-cpp's bare loop, ${params} model`,
        value: mid("bare", wall),
        unit: "ms",
        baseline: { title: "its llama_decode time per token", value: mid("bare", engine) },
        higherIsBetter: false,
        note: `the excess is node-llama-cpp's work around each decode (sampling and hand-offs between the main thread and its pool thread); ${note}`,
      }),
      figure({
        id: id("together.bare-loop"),
        title: `Decode, ${STREAMS} streams together, node-llama-cpp's bare evaluate loop, ${params} model`,
        value: (STREAMS * 1000) / mid("bareTogether", wall),
        unit: "tok/s",
        baseline: {
          title: `llama-server --parallel ${STREAMS}, ${STREAMS} concurrent /completion, same tokens`,
          value: (STREAMS * 1000) / mid("servedTogether", wall),
        },
        higherIsBetter: true,
        note: `aggregate; ${together}, no chat logic and no HTTP: the most any runner on node-llama-cpp's API gets; ${roundRatios("bareTogether", "servedTogether")}; ${note}`,
      }),
      figure({
        id: id("together.compute"),
        title: `llama.cpp's decode per step of ${STREAMS} tokens inside node-llama-cpp, ${params} model`,
        value: mid("bareTogether", engine),
        unit: "ms",
        baseline: {
          title: `llama-server's whole generation loop per step of ${STREAMS} slots (its timings)`,
          value: mid("servedTogether", engine),
        },
        higherIsBetter: false,
        note: `llama_decode of the batch alone (llama.cpp's performance counters) against decode + sampling + sending; ${together}; ${note}`,
      }),
      figure({
        id: id("together.outside"),
        title: `Wall time per step in node-llama-cpp's ${STREAMS}-sequence loop, ${params} model`,
        value: mid("bareTogether", wall),
        unit: "ms",
        baseline: { title: "its llama_decode time per step", value: mid("bareTogether", engine) },
        higherIsBetter: false,
        note: `the excess is node-llama-cpp's work around each batch: one pool hand-off for the decode, then one per sequence for its sampling (each its own AsyncWorker on libuv's pool of 2 threads, as in the runner); ${together}; ${note}`,
      }),
      figure({
        id: id("together.per-sequence"),
        title: `Time outside llama_decode per step, ${STREAMS} sequences, ${params} model`,
        value: mid("bareTogether", outside),
        unit: "ms",
        baseline: { title: "1 sequence", value: mid("bare", outside) },
        higherIsBetter: false,
        note: `what grows with the sequences of a step is their sampling hand-offs: (difference) / ${STREAMS - 1} is the cost of one more sequence, the rest the step's own decode hand-off and loop; ${note}`,
      }),
    ];
  } finally {
    await server.stop();
    await context.dispose();
    await model.dispose();
  }
}

interface DecodeTimings {
  /** Decodes of several tokens (llama.cpp's "prompt eval"): their time and tokens. */
  batchMs: number;
  batchTokens: number;
  /** Decodes of one token (llama.cpp's "eval"): their time and count. */
  singleMs: number;
  singleRuns: number;
}

/** llama.cpp's `llama_perf_context_print` lines; with no decode it prints 0 ms over 1. */
function parseDecodeTimings(text: string): DecodeTimings {
  const batch = /prompt eval time =\s*([\d.]+) ms \/\s*(\d+) tokens/.exec(text);
  const single = /context_print:\s+eval time =\s*([\d.]+) ms \/\s*(\d+) runs/.exec(text);
  if (!batch || !single) throw new Error(`unexpected llama.cpp timings: ${text}`);
  return {
    batchMs: Number(batch[1]),
    batchTokens: Number(batch[2]),
    singleMs: Number(single[1]),
    singleRuns: Number(single[2]),
  };
}

/** One streamed `/completion` of the prompt's tokens; llama-server's timings come last. */
async function completion(url: string, prompt: Token[], newTokens: number): Promise<Sample> {
  const response = await fetch(`${url}/completion`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      prompt,
      n_predict: newTokens,
      temperature: 0,
      ignore_eos: true,
      cache_prompt: true,
      stream: true,
    }),
  });
  if (!response.ok || !response.body) throw new Error(`llama-server answered ${response.status}`);
  let first = 0;
  let last = 0;
  let tokens = 0;
  let perToken = Number.NaN;
  let buffered = "";
  for await (const chunk of response.body.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) {
      if (!line.startsWith("data: ")) continue;
      const data = JSON.parse(line.slice(6)) as {
        stop?: boolean;
        timings?: { predicted_per_token_ms: number };
      };
      if (data.stop) {
        perToken = data.timings?.predicted_per_token_ms ?? Number.NaN;
        continue;
      }
      last = performance.now();
      if (!first) first = last;
      tokens++;
    }
  }
  if (tokens < 2 || Number.isNaN(perToken)) throw new Error("llama-server sent no timings");
  return { wallMs: (last - first) / (tokens - 1), engineMs: perToken };
}

if (isMain(import.meta)) {
  const binary = process.env.LLAMA_SERVER;
  if (!binary) throw new Error("LLAMA_SERVER is not set (see README, Benchmarks)");
  // Run directly, it measures in a child process too, with the same pool size as in the report.
  if (process.env.DECODE_WALL_JSON) console.log(JSON.stringify(await measure(binary)));
  else {
    for (const f of await decodeWallBench()) {
      console.log(
        `${f.title}: ${f.value.toFixed(2)} ${f.unit} vs ${f.baseline.title} ${f.baseline.value.toFixed(2)} (${f.ratio.toFixed(2)}×) — ${f.note}`,
      );
    }
  }
}
