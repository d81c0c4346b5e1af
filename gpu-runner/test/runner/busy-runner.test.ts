import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChatEvent, ChatInput } from "@phi4-edge/shared";
import { createPhi4Client, errorCode, errorData } from "@phi4-edge/shared/client";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type StartedRunner, startRunner } from "../../dev/start-runner";
import { writeTinyModel } from "../../dev/tiny-model/write-tiny-model";

// The real runner on a random-weight model: it never emits an end token, so a stream with a
// large maxTokens keeps its sequence busy until the test lets it go.
let dir: string;
let model: string;
let runner: StartedRunner;
const long = {
  messages: [{ role: "user" as const, content: "hello" }],
  maxTokens: 2500,
} satisfies ChatInput;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "busy-runner-"));
  model = join(dir, "slow.gguf");
  await writeTinyModel(model, { random: { layers: 2, embedding: 256 }, type: "Q8_0" });
  runner = await start();
});

afterAll(async () => {
  await runner?.stop("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

async function start(env: Record<string, string> = {}) {
  const started = await startRunner({
    MODEL_PATH: model,
    PARALLEL: "1",
    QUEUE_MAX: "1",
    CONTEXT_SIZE: "4096",
    ...env,
  });
  await started.ready();
  return started;
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function metrics(): Promise<string> {
  const response = await fetch(`${runner.url}/metrics`, {
    headers: { authorization: `Bearer ${runner.secret}` },
  });
  return response.text();
}

/** Runs a typed-client chat in the background, recording its events and its end. */
function background(input: ChatInput) {
  const controller = new AbortController();
  const client = createPhi4Client({ url: runner.url, apiKey: runner.secret });
  const events: ChatEvent[] = [];
  const ended = (async () => {
    for await (const event of client.chat(input, { signal: controller.signal })) events.push(event);
  })().then(
    () => undefined,
    (error: unknown) => error,
  );
  return { controller, events, ended };
}

describe("a busy runner", () => {
  it("queues with positions, turns callers away when full, and gives an aborted caller's slot to the next", async () => {
    const busy = background(long);
    await until(() => busy.events.some((e) => e.type === "text" || e.type === "reasoning"));

    const queued = background({ ...long, maxTokens: 3 });
    await until(() => queued.events.some((e) => e.type === "status" && e.phase === "queued"));
    expect(queued.events[0]).toEqual({ type: "status", phase: "queued", position: 1 });

    const client = createPhi4Client({ url: runner.url, apiKey: runner.secret });
    const full = await client
      .chat(long)
      .next()
      .catch((e) => e);
    expect(errorCode(full)).toBe("TOO_MANY_REQUESTS");
    expect(errorData(full).retryAfterMs).toBeGreaterThan(0);

    const openai = new OpenAI({
      baseURL: `${runner.url}/v1`,
      apiKey: runner.secret,
      maxRetries: 0,
    });
    const rejected = await openai.chat.completions
      .create({ model: "slow", messages: long.messages, stream: true })
      .catch((e) => e);
    expect(rejected).toBeInstanceOf(OpenAI.RateLimitError);
    expect(Number(rejected.headers.get("retry-after"))).toBeGreaterThan(0);
    // A non-stream call refused at once keeps its real status too (no keep-alive spaces).
    const rejectedWhole = await openai.chat.completions
      .create({ model: "slow", messages: long.messages })
      .catch((e) => e);
    expect(rejectedWhole).toBeInstanceOf(OpenAI.RateLimitError);

    // The running caller goes away: its sequence serves the queued one.
    busy.controller.abort();
    await busy.ended;
    expect(await queued.ended).toBeUndefined();
    const done = queued.events.at(-1);
    expect(done).toMatchObject({
      type: "done",
      finishReason: "length",
      usage: { completionTokens: 3 },
    });

    await until(async () => /^phi4_active_sequences 0$/m.test(await metrics()));
    const text = await metrics();
    expect(text).toMatch(/^phi4_requests_total\{outcome="cancelled"\} 1$/m);
    expect(text).toMatch(/^phi4_requests_total\{outcome="queue_full"\} 3$/m);
    expect(text).toMatch(/^phi4_queue_depth 0$/m);
  });

  it("drops a caller who aborts while queued, before any token", async () => {
    const busy = background(long);
    await until(() => busy.events.some((e) => e.type === "text" || e.type === "reasoning"));
    const waiting = background(long);
    await until(() => waiting.events.some((e) => e.type === "status"));
    waiting.controller.abort();
    await waiting.ended;
    await until(async () => /^phi4_queue_depth 0$/m.test(await metrics()));
    // The queue is free again: another caller can wait (QUEUE_MAX=1) instead of being refused.
    const next = background({ ...long, maxTokens: 2 });
    await until(() => next.events.some((e) => e.type === "status" && e.phase === "queued"));
    busy.controller.abort();
    expect(await next.ended).toBeUndefined();
    expect(next.events.at(-1)).toMatchObject({ type: "done", usage: { completionTokens: 2 } });
  });

  it("keeps a queued OpenAI stream alive with pings before its first token", async () => {
    const busy = background(long);
    await until(() => busy.events.some((e) => e.type === "text" || e.type === "reasoning"));
    const controller = new AbortController();
    const response = await fetch(`${runner.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${runner.secret}`, "content-type": "application/json" },
      body: JSON.stringify({ messages: long.messages, stream: true }),
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let received = "";
    while (!received.includes(": ping")) received += (await reader.read()).value ?? "";
    // Nothing but the opening role chunk and pings: the caller is still queued.
    expect(received).not.toContain("reasoning_content");
    expect(received).not.toMatch(/"content":"[^"]/);
    controller.abort();
    await until(async () => /^phi4_queue_depth 0$/m.test(await metrics()));
    busy.controller.abort();
    await busy.ended;
  });

  it("keeps a queued tRPC stream alive too: bytes flow before the first token", async () => {
    const busy = background(long);
    await until(() => busy.events.some((e) => e.type === "text" || e.type === "reasoning"));
    const controller = new AbortController();
    // What httpBatchStreamLink sends.
    const response = await fetch(`${runner.url}/trpc/chat?batch=1`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${runner.secret}`,
        "content-type": "application/json",
        "trpc-accept": "application/jsonl",
      },
      body: JSON.stringify({ 0: long }),
      signal: controller.signal,
    });
    expect(response.headers.get("content-type")).toContain("application/jsonl");
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let received = "";
    while (!received.includes('"queued"')) received += (await reader.read()).value ?? "";
    // While the caller waits, the next write is a keep-alive ping (whitespace), not an event.
    const next = (await reader.read()).value ?? "";
    expect(next.length).toBeGreaterThan(0);
    expect(next.trim()).toBe("");
    controller.abort();
    await until(async () => /^phi4_queue_depth 0$/m.test(await metrics()));
    busy.controller.abort();
    await busy.ended;
  });

  it("sends a long non-stream OpenAI reply's headers at once, then spaces until the JSON", async () => {
    const controller = new AbortController();
    const response = await fetch(`${runner.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${runner.secret}`, "content-type": "application/json" },
      body: JSON.stringify({ messages: long.messages, max_tokens: long.maxTokens }),
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("application/json");
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    const first = (await reader.read()).value ?? "";
    // Bytes arrived while the reply is still being generated: they can only be keep-alive spaces.
    expect(await metrics()).toMatch(/^phi4_active_sequences 1$/m);
    expect(first.length).toBeGreaterThan(0);
    expect(first.trim()).toBe("");
    controller.abort();
    await until(async () => /^phi4_active_sequences 0$/m.test(await metrics()));
  });

  it("lets the OpenAI SDK read a non-stream reply that starts with keep-alive spaces", async () => {
    const busy = background(long);
    await until(() => busy.events.some((e) => e.type === "text" || e.type === "reasoning"));
    let firstChunk: (text: string) => void = () => {};
    const sawFirst = new Promise<string>((resolve) => {
      firstChunk = resolve;
    });
    const openai = new OpenAI({
      baseURL: `${runner.url}/v1`,
      apiKey: runner.secret,
      maxRetries: 0,
      // Records the first body bytes the SDK receives, passing everything through unchanged.
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (!response.body) return response;
        const decoder = new TextDecoder();
        let seen = false;
        const body = response.body.pipeThrough(
          new TransformStream<Uint8Array, Uint8Array>({
            transform(chunk, out) {
              if (!seen) firstChunk(decoder.decode(chunk));
              seen = true;
              out.enqueue(chunk);
            },
          }),
        );
        return new Response(body, { status: response.status, headers: response.headers });
      },
    });
    // `then` at once: the SDK reads the body only once its promise is awaited.
    const reply = openai.chat.completions
      .create({ model: "slow", messages: long.messages, max_tokens: 5 })
      .then((completion) => completion);
    // Queued behind the busy caller, it hears a space first; then the busy caller leaves.
    expect((await sawFirst).trim()).toBe("");
    busy.controller.abort();
    await busy.ended;
    const completion = await reply;
    expect(completion.object).toBe("chat.completion");
    expect(completion.choices[0]?.message.role).toBe("assistant");
    expect(completion.choices[0]?.finish_reason).toBe("length");
    expect(completion.usage?.completion_tokens).toBe(5);
  });

  it("on SIGTERM answers new calls SERVICE_UNAVAILABLE, lets a running stream finish, and exits 0", async () => {
    const openai = new OpenAI({
      baseURL: `${runner.url}/v1`,
      apiKey: runner.secret,
      maxRetries: 0,
    });
    const stream = await openai.chat.completions.create({
      model: "slow",
      messages: long.messages,
      max_tokens: 120,
      stream: true,
      stream_options: { include_usage: true },
    });
    let exit: Promise<number | null> | undefined;
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null = null;
    for await (const chunk of stream) {
      if (!exit && chunk.choices[0]?.delta.content) {
        exit = runner.stop("SIGTERM");
        await until(() => runner.logs.some((l) => l.includes("shutting down")));
        // New calls are told to go elsewhere and when to come back, in both protocols.
        const openaiRefusal = await fetch(`${runner.url}/v1/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${runner.secret}`, "content-type": "application/json" },
          body: JSON.stringify({ messages: long.messages, stream: true }),
        });
        expect(openaiRefusal.status).toBe(503);
        expect(openaiRefusal.headers.get("retry-after")).toBe("1");
        expect(await openaiRefusal.json()).toMatchObject({
          error: { type: "server_error", code: "service_unavailable" },
        });
        const client = createPhi4Client({ url: runner.url, apiKey: runner.secret, waitReadyMs: 0 });
        const trpcRefusal = await client
          .chat(long)
          .next()
          .catch((e: unknown) => e);
        expect(errorCode(trpcRefusal)).toBe("SERVICE_UNAVAILABLE");
        expect(errorData(trpcRefusal).retryAfterMs).toBe(1000);
        expect((await fetch(`${runner.url}/readyz`)).status).toBe(503);
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(finish).toBe("length");
    expect(usage?.completion_tokens).toBe(120);
    expect(await exit).toBe(0);
  });
});

describe("a runner past its drain deadline", () => {
  it("ends a running stream with finish reason abort after DRAIN_SECONDS, and exits 0", async () => {
    const short = await start({ DRAIN_SECONDS: "0.5" });
    try {
      const client = createPhi4Client({ url: short.url, apiKey: short.secret });
      const events: ChatEvent[] = [];
      let exit: Promise<number | null> | undefined;
      for await (const event of client.chat(long)) {
        events.push(event);
        if (!exit && (event.type === "reasoning" || event.type === "text"))
          exit = short.stop("SIGTERM");
      }
      const done = events.at(-1);
      expect(done?.type === "done" && done.finishReason).toBe("abort");
      expect(done?.type === "done" && done.usage.completionTokens).toBeLessThan(2500);
      expect(await exit).toBe(0);
    } finally {
      await short.stop("SIGKILL");
    }
  });
});
