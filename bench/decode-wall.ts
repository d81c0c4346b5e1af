import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { getLlama, LlamaLogLevel, resolveChatWrapper, type Token } from "node-llama-cpp";
import { toChatHistory } from "../gpu-runner/src/engine/to-chat-history";
import { bareLoop } from "./bare-loop";
import { benchModel, median, paramCount, SMALL_MODEL } from "./bench-model";
import { type Figure, figure, isMain, SkippedBench } from "./figure";
import { startLlamaServer } from "./llama-server";

const THREADS = 1;
const CONTEXT = 2048;
const TOKENS = 256;
const ROUNDS = 5;

interface Sample {
  /** Wall time per generated token, first token to last. */
  wallMs: number;
  /** llama.cpp's own figure per generated token (see below). */
  engineMs: number;
}

/**
 * Where a decoded token's time goes on the small (GPU-like, ~2 ms a token) model, without the
 * runner: node-llama-cpp's bare `LlamaContextSequence.evaluate` loop in-process against
 * `llama-server`'s `/completion`, both fed the same prompt tokens, greedy, one llama.cpp thread,
 * taking turns round by round. For node-llama-cpp, llama.cpp's own timer (`performanceTracking`)
 * gives the time spent inside `llama_decode`; for llama-server its `timings` give its whole
 * generation loop per token (decode, sampling, sending). If node-llama-cpp's decode alone costs
 * what llama-server's whole loop does while its wall time per token is longer, the gap is not
 * compute but what node-llama-cpp does around each decode (the hand-offs to its pool thread and
 * back), which no loop on its public API can avoid.
 */
export default async function decodeWallBench(): Promise<Figure[]> {
  if (!process.env.LLAMA_SERVER) {
    throw new SkippedBench("LLAMA_SERVER is not set (see README, Benchmarks)");
  }
  // In a process of its own: once a process has disposed of a Llama (as bench/runner.ts does),
  // node-llama-cpp 3.22 no longer hands llama.cpp's log lines, timings among them, to the
  // logger of the next one.
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url)],
    { env: { ...process.env, DECODE_WALL_JSON: "1" }, maxBuffer: 64 * 2 ** 20 },
  );
  return JSON.parse(stdout.trim().split("\n").at(-1) ?? "[]") as Figure[];
}

async function measure(binary: string): Promise<Figure[]> {
  const modelPath = await benchModel(SMALL_MODEL);
  const logs: string[] = [];
  const llama = await getLlama({
    gpu: false,
    build: "never",
    maxThreads: THREADS,
    logLevel: LlamaLogLevel.info,
    logger: (_level, message) => void logs.push(message),
  });
  const model = await llama.loadModel({ modelPath });
  const context = await model.createContext({
    contextSize: CONTEXT,
    threads: THREADS,
    performanceTracking: true,
  });
  const server = await startLlamaServer({
    binary,
    model: modelPath,
    threads: THREADS,
    parallel: 1,
    contextPerSlot: CONTEXT,
  });
  try {
    const sequence = context.getSequence();
    const wrapper = resolveChatWrapper(model);
    if (!wrapper) throw new Error("the bench model has no chat template");
    const prompt = wrapper
      .generateContextState({
        chatHistory: toChatHistory([{ role: "user", content: "Write a long story." }]),
      })
      .contextText.tokenize(model.tokenizer);
    /** llama.cpp's decode time per call since the last print (printing resets it). */
    const decodeMsPerToken = async () => {
      logs.length = 0;
      await context.printTimings();
      // Its lines reach the logger from another thread, a moment after the call returns.
      const pattern = /context_print:\s+eval time =\s*([\d.]+) ms \/\s*(\d+) runs/;
      for (let waited = 0; !pattern.test(logs.join("")); waited += 10) {
        if (waited > 10_000)
          throw new Error(`no eval time in llama.cpp's timings: ${logs.join("")}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const match = pattern.exec(logs.join("")) as RegExpExecArray;
      return Number(match[1]) / Number(match[2]);
    };
    const bare = async (): Promise<Sample> => {
      await decodeMsPerToken(); // resets llama.cpp's counters
      const run = await bareLoop(sequence, prompt, TOKENS);
      return { wallMs: run.msPerToken, engineMs: await decodeMsPerToken() };
    };
    const served = () => completion(server.url, prompt);
    for (const run of [bare, served]) await run(); // warm-up: both hold the prompt
    const samples = { bare: [] as Sample[], served: [] as Sample[] };
    for (let i = 0; i < ROUNDS; i++) {
      samples.bare.push(await bare());
      samples.served.push(await served());
    }
    const mid = (list: Sample[], pick: (s: Sample) => number) => median(list.map(pick));
    const note = `random Phi-4-arch model, ${Math.round(paramCount(SMALL_MODEL) / 1e6)}M params ${SMALL_MODEL.type}, ${THREADS} llama.cpp thread, the same ${prompt.length} prompt tokens cached, ${TOKENS} greedy tokens, median of ${ROUNDS} alternating rounds`;
    const bareRate = 1000 / mid(samples.bare, (s) => s.wallMs);
    const servedRate = 1000 / mid(samples.served, (s) => s.wallMs);
    return [
      figure({
        id: "decode-wall.bare-loop",
        title: "Decode, node-llama-cpp's bare evaluate loop in-process, 24M model",
        value: bareRate,
        unit: "tok/s",
        baseline: { title: "llama-server /completion, same tokens", value: servedRate },
        higherIsBetter: true,
        note: `no chat logic and no HTTP on node-llama-cpp's side: the most any loop on its API gets; ${note}`,
      }),
      figure({
        id: "decode-wall.compute",
        title: "llama.cpp's decode per token inside node-llama-cpp, 24M model",
        value: mid(samples.bare, (s) => s.engineMs),
        unit: "ms",
        baseline: {
          title: "llama-server's whole generation loop per token (its timings)",
          value: mid(samples.served, (s) => s.engineMs),
        },
        higherIsBetter: false,
        note: `llama_decode alone (llama.cpp's performance counters) against decode + sampling + sending; ${note}`,
      }),
      figure({
        id: "decode-wall.outside",
        title: "Wall time per token in node-llama-cpp's bare loop, 24M model",
        value: mid(samples.bare, (s) => s.wallMs),
        unit: "ms",
        baseline: {
          title: "its llama_decode time per token",
          value: mid(samples.bare, (s) => s.engineMs),
        },
        higherIsBetter: false,
        note: `the excess is node-llama-cpp's work around each decode (sampling and hand-offs between the main thread and its pool thread); ${note}`,
      }),
    ];
  } finally {
    await server.stop();
    await context.dispose();
    await model.dispose();
    await llama.dispose();
  }
}

/** One streamed `/completion` of the prompt's tokens; llama-server's timings come last. */
async function completion(url: string, prompt: Token[]): Promise<Sample> {
  const response = await fetch(`${url}/completion`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      prompt,
      n_predict: TOKENS,
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
  const figures = await measure(binary);
  if (process.env.DECODE_WALL_JSON) console.log(JSON.stringify(figures));
  else {
    for (const f of figures) {
      console.log(
        `${f.title}: ${f.value.toFixed(2)} ${f.unit} vs ${f.baseline.title} ${f.baseline.value.toFixed(2)} (${f.ratio.toFixed(2)}×) — ${f.note}`,
      );
    }
  }
}
