import {
  type ChatEvent,
  type ChatInput,
  ContextOverflowError,
  NotReadyError,
  QueueFullError,
  toWireError,
} from "@phi4-edge/shared";
import { beforeAll, describe, expect, it } from "vitest";
import { TINY_REPLY, TINY_REPLY_TOKENS } from "../../dev/tiny-model/write-tiny-model";
import { collectChat } from "../../test/collect-chat";
import { useTinyEngines } from "../../test/tiny-engines";
import { createLogger } from "../log";
import { ModelLoadError } from "./engine-errors";
import { NO_OBSERVER } from "./engine-observer";
import type { LlamaEngine } from "./llama-engine";
import { GpuUnavailableError } from "./load-llama";

// Real llama.cpp (CPU, one thread) on models written into a temp dir.
// Random weights never emit an end token: "slow" stays busy until it is stopped.
const engines = useTinyEngines({ slow: { random: { layers: 2, embedding: 256 }, type: "Q8_0" } });
const hello: ChatInput = { messages: [{ role: "user", content: "hello" }], temperature: 0 };

const collect = (engine: LlamaEngine, input: ChatInput = hello) => collectChat(engine, input);

/** A chat left running: its events so far, its end, and a wait for an event while it goes on. */
function startChat(engine: LlamaEngine, input: ChatInput, signal?: AbortSignal) {
  const events: ChatEvent[] = [];
  const ended = collectChat(engine, input, { signal, onEvent: (e) => events.push(e) });
  const seen = (predicate: (e: ChatEvent) => boolean) =>
    new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (events.some(predicate)) {
          clearInterval(check);
          resolve();
        }
      }, 5);
    });
  return { events, ended, seen };
}

describe("LlamaEngine on the tiny model", () => {
  let engine: LlamaEngine;
  beforeAll(async () => {
    engine = await engines.start();
  });

  it("streams the exact greedy reply, reasoning apart from the answer, with usage", async () => {
    const { reasoning, text, done, events } = await collect(engine);
    expect(reasoning).toBe(TINY_REPLY.reasoning);
    expect(text).toBe(TINY_REPLY.text);
    // Every reasoning event comes before the first text event.
    const lastReasoning = events.findLastIndex((e) => e.type === "reasoning");
    expect(lastReasoning).toBeLessThan(events.findIndex((e) => e.type === "text"));
    expect(done.finishReason).toBe("stop");
    expect(done.usage.reasoningTokens).toBe(TINY_REPLY_TOKENS.reasoning);
    expect(done.usage.completionTokens).toBe(TINY_REPLY_TOKENS.completion);
    // Phi-4-reasoning's long system prompt is in the prompt.
    expect(done.usage.promptTokens).toBeGreaterThan(1000);
    expect(done.timings.tokensPerSecond).toBeGreaterThan(0);
    expect(engine.model()).toMatchObject({ quantization: "F16", parallel: 1, gpu: false });
  });

  it("gives the same greedy reply with the card's default sampling", async () => {
    const { text } = await collect(engine, { messages: hello.messages });
    expect(text).toBe(TINY_REPLY.text);
  });

  it("forces the answer after the reasoning budget", async () => {
    const { reasoning, text, done } = await collect(engine, { ...hello, reasoning: { budget: 5 } });
    expect(reasoning).toBe("abcde");
    expect(text).toBe(TINY_REPLY.text);
    expect(done.finishReason).toBe("budget");
    expect(done.usage.reasoningTokens).toBe(5);
    const none = await collect(engine, { ...hello, reasoning: { budget: 0 } });
    expect(none).toMatchObject({ reasoning: "", text: TINY_REPLY.text });
    expect(none.done.finishReason).toBe("budget");
  });

  it("stops at a stop sequence and at maxTokens", async () => {
    const stopped = await collect(engine, { ...hello, stop: ["MNO", "def"] });
    // Stop sequences end the answer; the reasoning ("…def…") runs on.
    expect(stopped.reasoning).toBe(TINY_REPLY.reasoning);
    expect(stopped.text).toBe("ABCDEFGHIJKL");
    expect(stopped.done.finishReason).toBe("stop");
    const short = await collect(engine, { ...hello, maxTokens: 10 });
    expect(short.done.finishReason).toBe("length");
    expect(short.done.usage.completionTokens).toBe(10);
    expect(short.reasoning).toBe("abcdefghi");
    expect(short.text).toBe("");
  });

  it("accepts multi-turn history", async () => {
    const { text, done } = await collect(engine, {
      messages: [
        { role: "user", content: "first" },
        { role: "assistant", content: "ANSWER" },
        { role: "user", content: "second" },
      ],
      temperature: 0,
    });
    expect(text).toBe(TINY_REPLY.text);
    expect(done.usage.promptTokens).toBeGreaterThan(
      (await collect(engine, { ...hello, messages: [{ role: "user", content: "second" }] })).done
        .usage.promptTokens,
    );
  });

  it("rejects a prompt longer than the context before generating, naming both lengths", async () => {
    const error = await collect(engine, {
      messages: [{ role: "user", content: "x".repeat(3000) }],
    }).catch((e) => e);
    expect(error).toBeInstanceOf(ContextOverflowError);
    expect(error.message).toMatch(/prompt is \d+ tokens but the context holds 2048/);
  });
});

describe("backend selection", () => {
  it("GPU=cuda is strict: a CUDA backend that cannot start fails the load, naming why", async () => {
    const lines: string[] = [];
    const engine = engines.create({
      gpu: "cuda",
      logger: createLogger("info", { write: (line: string) => void lines.push(line) }),
    });
    const error = await engine.load(engines.model()).catch((e) => e);
    expect(error).toBeInstanceOf(GpuUnavailableError);
    expect(error.message).toMatch(/^GPU=cuda: the CUDA backend cannot start .*libcudart\.so\.13/);
    expect(engine.readiness().phase).toBe("failed");
    expect(lines.join("\n")).not.toContain("falling back");
  });
});

describe("prompt-prefix reuse", () => {
  it("evaluates only the new tokens of a request whose prefix a free sequence holds", async () => {
    const evaluated: number[] = [];
    const engine = await engines.start({
      parallel: 2,
      observer: { ...NO_OBSERVER, promptTokens: (n) => evaluated.push(n) },
    });
    const first = await collect(engine);
    const second = await collect(engine);
    expect(first.done.usage.cachedTokens).toBe(0);
    expect(evaluated[0]).toBe(first.done.usage.promptTokens);
    // Only the last prompt token is evaluated again (it yields the first new token).
    expect(second.done.usage.cachedTokens).toBe(second.done.usage.promptTokens - 1);
    expect(evaluated[1]).toBe(1);
    expect(second.text).toBe(TINY_REPLY.text);
    // A follow-up turn reuses the system prompt and the earlier turn, even with two free sequences.
    const followUp = await collect(engine, {
      messages: [
        { role: "user", content: "hello" },
        { role: "assistant", content: TINY_REPLY.text },
        { role: "user", content: "more" },
      ],
    });
    expect(followUp.done.usage.cachedTokens).toBeGreaterThan(first.done.usage.promptTokens - 10);
    expect(evaluated[2]).toBeLessThan(60);
  });
});

describe("prompt-prefix reuse with several sequences", () => {
  it("gives a prompt no sequence holds the same sequence each time, so the others keep theirs", async () => {
    const evaluated: number[] = [];
    const engine = await engines.start({
      parallel: 4,
      observer: { ...NO_OBSERVER, promptTokens: (n) => evaluated.push(n) },
    });
    const ask = (content: string) =>
      collect(engine, { ...hello, messages: [{ role: "user", content }], maxTokens: 3 });
    const four = () => Promise.all(["a", "b", "c", "d"].map(ask));
    await four();
    for (let round = 0; round < 3; round++) {
      // A one-off prompt displaces one of the four; when they come back, only that one
      // evaluates its tail again: each of the others finds its own sequence.
      await ask("e");
      evaluated.length = 0;
      await four();
      expect(evaluated.filter((n) => n > 1)).toHaveLength(1);
    }
  });
});

describe("parallel sequences and the queue", () => {
  it("serves 4 concurrent callers on 2 sequences, reporting queue positions", async () => {
    const engine = await engines.start({ parallel: 2, queueMax: 2 });
    const results = await Promise.all(
      ["a", "b", "c", "d"].map((content) =>
        collect(engine, { messages: [{ role: "user", content }], temperature: 0 }),
      ),
    );
    for (const r of results) {
      expect(r.reasoning).toBe(TINY_REPLY.reasoning);
      expect(r.text).toBe(TINY_REPLY.text);
    }
    const positions = results.map((r) =>
      r.statuses.map((s) => (s.type === "status" ? `${s.phase}${s.position ?? ""}` : "")),
    );
    expect(positions).toEqual([[], [], ["queued1", "ready"], ["queued2", "queued1", "ready"]]);
  });

  it("says once when it starts on a prompt, for a queued caller after its wait", async () => {
    const engine = await engines.start({ parallel: 1, queueMax: 2 });
    const run = async (content: string) => {
      const seen: string[] = [];
      const chat = engine.chat(
        { messages: [{ role: "user", content }], temperature: 0 },
        { signal: new AbortController().signal, onStarted: () => seen.push("started") },
      );
      for await (const e of chat)
        seen.push(e.type === "status" ? `${e.phase}${e.position ?? ""}` : e.type);
      return seen.filter((s, i) => s !== seen[i - 1]);
    };
    const [first, second] = await Promise.all([run("a"), run("b")]);
    expect(first.filter((s) => s === "started")).toHaveLength(1);
    expect(first.at(-1)).toBe("done");
    // The queued caller is told only once its wait is over.
    expect(second.filter((s) => s === "started")).toHaveLength(1);
    expect(second.indexOf("started")).toBeGreaterThan(second.indexOf("queued1"));
    expect(second.at(-1)).toBe("done");
  });

  it("turns a caller away with a retry hint when the queue is full, and frees the slot on abort", async () => {
    const engine = await engines.start({ parallel: 1, queueMax: 1, contextSize: 4096 }, "slow");
    const busy = new AbortController();
    const running = startChat(engine, { ...hello, maxTokens: 2500 }, busy.signal);
    const busyEnd = running.ended.catch((e) => e);
    await running.seen((e) => e.type === "text");

    const queued = startChat(engine, { ...hello, maxTokens: 3 });
    await queued.seen((e) => e.type === "status" && e.phase === "queued");

    const full = await collect(engine, hello).catch((e) => e);
    expect(full).toBeInstanceOf(QueueFullError);
    expect(full.retryAfterMs).toBeGreaterThan(0);

    // The busy caller leaves: its sequence goes to the queued caller, which then completes.
    const reason = new Error("caller left");
    busy.abort(reason);
    expect(await busyEnd).toBe(reason);
    const served = await queued.ended;
    expect(served.done.finishReason).toBe("length");
    expect(served.done.usage.completionTokens).toBe(3);
    expect(engine.stats()).toMatchObject({ queueDepth: 0, activeSequences: 0 });
  });

  it("frees the slot when the caller aborts while its prompt is evaluated, before any token", async () => {
    const engine = await engines.start({ parallel: 1, queueMax: 1, contextSize: 4096 }, "slow");
    const controller = new AbortController();
    // A long prompt: evaluating ~3k tokens keeps the sequence busy with no token out yet.
    const longPrompt = {
      messages: [{ role: "user" as const, content: "x".repeat(2500) }],
      maxTokens: 100,
    };
    const { events, ended } = startChat(engine, longPrompt, controller.signal);
    const end = ended.catch((e) => e);
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (engine.stats().activeSequences === 1) {
          clearInterval(check);
          resolve();
        }
      }, 1);
    });
    expect(events).toEqual([]);
    controller.abort(new Error("gone"));
    expect(await end).toMatchObject({ message: "gone" });
    expect(events).toEqual([]);
    expect(engine.stats()).toMatchObject({ activeSequences: 0, queueDepth: 0 });
    const next = await collect(engine, { ...hello, maxTokens: 2 });
    expect(next.done.usage.completionTokens).toBe(2);
  });
});

describe("cold start and shutdown", () => {
  it("makes callers wait through downloading and loading, then streams tokens", async () => {
    const engine = engines.create();
    engine.setDownloading(0);
    const waiting = startChat(engine, hello);
    await waiting.seen((e) => e.type === "status" && e.phase === "downloading");
    expect(() => engine.model()).toThrow(NotReadyError);
    engine.setDownloading(0.5);
    await waiting.seen((e) => e.type === "status" && e.progress === 0.5);
    await engine.load(engines.model());
    const { text, statuses } = await waiting.ended;
    expect(text).toBe(TINY_REPLY.text);
    const phases = statuses.map((s) => (s.type === "status" ? s.phase : ""));
    expect(phases[0]).toBe("downloading");
    expect(phases).toContain("loading");
    expect(phases.at(-1)).toBe("ready");
  });

  it("fails waiting callers with NotReadyError after the ready timeout", async () => {
    const engine = engines.create({ readyTimeoutMs: 50 });
    engine.setDownloading(0.25);
    const error = await collect(engine).catch((e) => e);
    expect(error).toBeInstanceOf(NotReadyError);
    expect(error.progress).toBe(0.25);
  });

  it("drains: ends a running stream at the deadline with finishReason abort", async () => {
    const engine = await engines.start({ parallel: 1, contextSize: 4096 }, "slow");
    const running = startChat(engine, { ...hello, maxTokens: 2500 });
    await running.seen((e) => e.type === "text");
    await engine.drain(0);
    const { done } = await running.ended;
    expect(done.finishReason).toBe("abort");
    expect(done.usage.completionTokens).toBeGreaterThan(0);
    expect(done.usage.completionTokens).toBeLessThan(2500);
    expect(engine.readiness().phase).toBe("draining");
    // A draining runner is not waking or loading: SERVICE_UNAVAILABLE with a retry hint, no phase.
    const refused = toWireError(await collect(engine).catch((e) => e));
    expect(refused).toMatchObject({ code: "SERVICE_UNAVAILABLE", retryAfterMs: 1_000 });
    expect(refused.phase).toBeUndefined();
  });
});

describe("ModelLoadError", () => {
  it("is shown to callers, with absolute paths cut to their last segment", () => {
    const error = new ModelLoadError(
      "model failed to load: cannot install /data/models/blobs/abc.incomplete: ENOSPC (https://hf.co/a/b)",
    );
    expect(error.expose).toBe(true);
    expect(error.message).toBe(
      "model failed to load: cannot install abc.incomplete: ENOSPC (https://hf.co/a/b)",
    );
  });
});
