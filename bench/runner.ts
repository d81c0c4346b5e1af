import { stat } from "node:fs/promises";
import type { ChatInput } from "@phi4-edge/shared";
import { createPhi4Client } from "@phi4-edge/shared/client";
import { getLlama, LlamaLogLevel, resolveChatWrapper } from "node-llama-cpp";
import { startRunner } from "../gpu-runner/dev/start-runner";
import { toChatHistory } from "../gpu-runner/src/engine/to-chat-history";
import { bareLoop } from "./bare-loop";
import { benchModel, MID_MODEL } from "./bench-model";
import { type Figure, figure, isMain } from "./figure";

/** One thread: on this 2-core machine llama.cpp's threads otherwise fight Node's own. */
const THREADS = 1;
const TOKENS = 96;
const RUNS = 3;
const CONTEXT = 2048;
const input: ChatInput = {
  messages: [{ role: "user", content: "Benchmark prompt." }],
  temperature: 0,
  maxTokens: TOKENS,
};

interface Sample {
  ttftMs: number;
  tokensPerSecond: number;
}

/**
 * Decode speed and time to first token through the runner (real process, typed client over
 * HTTP) against a bare `LlamaContextSequence.evaluate` loop in-process (node-llama-cpp's
 * ceiling: no chat logic, no HTTP), on the same random-weight Phi-4-architecture model with the
 * same threads, context and rendered prompt. Also the prompt cache: TTFT of a repeated prompt
 * against the first one.
 */
export default async function runnerBench(): Promise<Figure[]> {
  const model = await benchModel(MID_MODEL);
  const sizeMB = Math.round((await stat(model)).size / 1e6);
  const direct = await inProcess(model);
  const served = await throughServer(model);
  const note = `random phi3 model, ${sizeMB} MB Q8_0, ${THREADS} thread, ${TOKENS} new tokens, median of ${RUNS}; prompt prefix cached in both`;
  return [
    figure({
      id: "runner.decode",
      title: "Decode speed through the runner (HTTP, typed client)",
      value: served.warm.tokensPerSecond,
      unit: "tok/s",
      baseline: { title: "bare evaluate loop in-process", value: direct.tokensPerSecond },
      higherIsBetter: true,
      note,
    }),
    figure({
      id: "runner.ttft",
      title: "Time to first token through the runner",
      value: served.warm.ttftMs,
      unit: "ms",
      baseline: { title: "bare evaluate loop in-process", value: direct.ttftMs },
      higherIsBetter: false,
      note: `${note}; overhead ${(served.warm.ttftMs - direct.ttftMs).toFixed(1)} ms`,
    }),
    figure({
      id: "runner.prefix-reuse",
      title: "TTFT of a repeated prompt through the runner (prefix reuse)",
      value: served.warm.ttftMs,
      unit: "ms",
      baseline: { title: "the same prompt the first time", value: served.cold.ttftMs },
      higherIsBetter: false,
      note: "Phi-4-reasoning's ~1.2k-token system prompt is evaluated once per sequence",
    }),
  ];
}

async function inProcess(modelPath: string): Promise<Sample> {
  const llama = await getLlama({
    gpu: false,
    build: "never",
    maxThreads: THREADS,
    logLevel: LlamaLogLevel.error,
  });
  const model = await llama.loadModel({ modelPath });
  const context = await model.createContext({ contextSize: CONTEXT, threads: THREADS });
  const sequence = context.getSequence();
  const wrapper = resolveChatWrapper(model);
  if (!wrapper) throw new Error("the bench model has no chat template");
  const prompt = wrapper
    .generateContextState({ chatHistory: toChatHistory(input.messages) })
    .contextText.tokenize(model.tokenizer);
  const once = async (): Promise<Sample> => {
    const run = await bareLoop(sequence, prompt, { tokens: TOKENS });
    return { ttftMs: run.ttftMs, tokensPerSecond: 1000 / run.msPerToken };
  };
  try {
    await once(); // evaluates the prompt once, as the runner's warm-up does
    return median(await repeat(once));
  } finally {
    await context.dispose();
    await model.dispose();
    await llama.dispose();
  }
}

async function throughServer(modelPath: string): Promise<{ cold: Sample; warm: Sample }> {
  const runner = await startRunner({
    MODEL_PATH: modelPath,
    PARALLEL: "1",
    THREADS: String(THREADS),
    CONTEXT_SIZE: String(CONTEXT),
    LOG_LEVEL: "warn",
  });
  try {
    const client = createPhi4Client({ url: runner.url, apiKey: runner.secret });
    const once = async (): Promise<Sample> => {
      const started = performance.now();
      let first = 0;
      let last = 0;
      let tokens = 0;
      for await (const event of client.chat(input)) {
        if (event.type === "reasoning" || event.type === "text") {
          last = performance.now();
          if (!first) first = last;
        }
        if (event.type === "done") tokens = event.usage.completionTokens;
      }
      return { ttftMs: first - started, tokensPerSecond: ((tokens - 1) / (last - first)) * 1000 };
    };
    // The first call waits through the load (the client retries SERVICE_UNAVAILABLE); only
    // the one after it measures a cold prompt.
    await client.model().catch(() => undefined);
    for (;;) {
      const ready = await fetch(`${runner.url}/readyz`);
      if (ready.ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const cold = await once();
    const warm = median(await repeat(once));
    return { cold, warm };
  } finally {
    await runner.stop();
  }
}

async function repeat(fn: () => Promise<Sample>): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (let i = 0; i < RUNS; i++) samples.push(await fn());
  return samples;
}

function median(samples: Sample[]): Sample {
  const mid = (values: number[]) =>
    values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  return {
    ttftMs: mid(samples.map((s) => s.ttftMs)),
    tokensPerSecond: mid(samples.map((s) => s.tokensPerSecond)),
  };
}

if (isMain(import.meta)) {
  const figures = await runnerBench();
  for (const f of figures) {
    console.log(
      `${f.title}: ${f.value.toFixed(1)} ${f.unit} vs ${f.baseline.title} ${f.baseline.value.toFixed(1)} (${f.ratio.toFixed(2)}×)`,
    );
  }
}
