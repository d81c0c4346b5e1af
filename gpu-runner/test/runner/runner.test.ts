import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChatEvent, ChatInput } from "@phi4-edge/shared";
import { createPhi4Client, errorCode } from "@phi4-edge/shared/client";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type StartedRunner, startRunner } from "../../dev/start-runner";
import {
  TINY_REPLY,
  TINY_REPLY_TOKENS,
  writeTinyModel,
} from "../../dev/tiny-model/write-tiny-model";

// The real runner process on the tiny model, over real HTTP.
let dir: string;
let runner: StartedRunner;
const hello: ChatInput = { messages: [{ role: "user", content: "hello" }], temperature: 0 };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "runner-test-"));
  const model = join(dir, "tiny.gguf");
  await writeTinyModel(model);
  runner = await startRunner({ MODEL_PATH: model, PARALLEL: "2", CONTEXT_SIZE: "2048" });
  await runner.ready();
});

afterAll(async () => {
  await runner?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function until(check: () => Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function collect(stream: AsyncIterable<ChatEvent>) {
  const events: ChatEvent[] = [];
  for await (const event of stream) events.push(event);
  const done = events.at(-1);
  if (done?.type !== "done") throw new Error("no done event");
  return {
    done,
    reasoning: events.map((e) => (e.type === "reasoning" ? e.text : "")).join(""),
    text: events.map((e) => (e.type === "text" ? e.text : "")).join(""),
  };
}

describe("typed tRPC client", () => {
  it("streams the exact greedy reply with reasoning apart, and reuses the prompt prefix", async () => {
    const client = createPhi4Client({ url: runner.url, apiKey: runner.secret });
    const first = await collect(client.chat(hello));
    expect(first.reasoning).toBe(TINY_REPLY.reasoning);
    expect(first.text).toBe(TINY_REPLY.text);
    expect(first.done.usage).toMatchObject({
      reasoningTokens: TINY_REPLY_TOKENS.reasoning,
      completionTokens: TINY_REPLY_TOKENS.completion,
    });
    const second = await collect(client.chat(hello));
    expect(second.text).toBe(TINY_REPLY.text);
    expect(second.done.usage.cachedTokens).toBe(second.done.usage.promptTokens - 1);
  });

  it("serves 4 concurrent callers on PARALLEL=2, each exactly, queued ones told their place", async () => {
    const client = createPhi4Client({ url: runner.url, apiKey: runner.secret });
    const results = await Promise.all(
      ["a", "b", "c", "d"].map(async (content) => {
        const events: ChatEvent[] = [];
        for await (const e of client.chat({
          messages: [{ role: "user", content }],
          temperature: 0,
        })) {
          events.push(e);
        }
        return events;
      }),
    );
    let queued = 0;
    for (const events of results) {
      const text = events.map((e) => (e.type === "text" ? e.text : "")).join("");
      expect(text).toBe(TINY_REPLY.text);
      const positions = events.flatMap((e) =>
        e.type === "status" && e.phase === "queued" ? [e.position] : [],
      );
      if (!positions.length) continue;
      queued++;
      // A queued caller hears its place, moving up to 1, then that it is being served.
      expect(positions.at(-1)).toBe(1);
      expect(positions.every((p, i) => i === 0 || p! < positions[i - 1]!)).toBe(true);
      expect(events.find((e) => e.type === "status" && e.phase === "ready")).toBeDefined();
    }
    // The four calls reach the runner together (one batched request), two sequences serve two.
    expect(queued).toBeGreaterThanOrEqual(2);
  });

  it("answers model() with what is loaded", async () => {
    const client = createPhi4Client({ url: runner.url, apiKey: runner.secret });
    expect(await client.model()).toMatchObject({
      file: "tiny.gguf",
      quantization: "F16",
      parallel: 2,
      contextSize: 2048,
      gpu: false,
    });
  });

  it("rejects a prompt longer than the context with BAD_REQUEST naming both lengths", async () => {
    const client = createPhi4Client({ url: runner.url, apiKey: runner.secret });
    const error = await collect(
      client.chat({ messages: [{ role: "user", content: "x".repeat(3000) }] }),
    ).catch((e) => e);
    expect(errorCode(error)).toBe("BAD_REQUEST");
    expect(error.message).toMatch(/prompt is \d+ tokens but the context holds 2048/);
  });

  it("refuses a wrong secret with UNAUTHORIZED", async () => {
    const client = createPhi4Client({ url: runner.url, apiKey: "wrong-secret-wrong-secret" });
    const error = await client.model().catch((e) => e);
    expect(errorCode(error)).toBe("UNAUTHORIZED");
  });
});

describe("OpenAI-compatible API through the official SDK", () => {
  const openai = () =>
    new OpenAI({ baseURL: `${runner.url}/v1`, apiKey: runner.secret, maxRetries: 0 });

  it("completes without streaming, with reasoning_content and usage", async () => {
    const completion = await openai().chat.completions.create({
      model: "tiny",
      messages: [{ role: "user", content: "hello" }],
      temperature: 0,
    });
    const message = completion.choices[0]!.message as {
      content: string;
      reasoning_content?: string;
    };
    expect(message.content).toBe(TINY_REPLY.text);
    expect(message.reasoning_content).toBe(TINY_REPLY.reasoning);
    expect(completion.choices[0]!.finish_reason).toBe("stop");
    expect(completion.usage).toMatchObject({
      completion_tokens: TINY_REPLY_TOKENS.completion,
      completion_tokens_details: { reasoning_tokens: TINY_REPLY_TOKENS.reasoning },
    });
  });

  it("streams deltas, then usage with stream_options.include_usage", async () => {
    const stream = await openai().chat.completions.create({
      model: "tiny",
      messages: [{ role: "user", content: "hello" }],
      stream: true,
      stream_options: { include_usage: true },
      stop: ["MNO"],
    });
    let content = "";
    let reasoning = "";
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta as
        | { content?: string; reasoning_content?: string }
        | undefined;
      content += delta?.content ?? "";
      reasoning += delta?.reasoning_content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(reasoning).toBe(TINY_REPLY.reasoning);
    expect(content).toBe("ABCDEFGHIJKL");
    expect(finish).toBe("stop");
    expect(usage?.completion_tokens).toBeGreaterThan(TINY_REPLY_TOKENS.reasoning);
  });

  it("takes a reasoning budget (reasoning_budget) and max_tokens", async () => {
    const completion = await openai().chat.completions.create({
      model: "tiny",
      messages: [{ role: "user", content: "hello" }],
      // @ts-expect-error: not an OpenAI parameter; this server's extension
      reasoning_budget: 3,
      max_tokens: 10,
    });
    const message = completion.choices[0]!.message as {
      content: string;
      reasoning_content?: string;
    };
    expect(message.reasoning_content).toBe("abc");
    expect(message.content).toBe("ABCDEF");
    expect(completion.choices[0]!.finish_reason).toBe("length");
  });

  it("lists the model", async () => {
    const models = await openai().models.list();
    expect(models.data.map((m) => m.id)).toEqual(["tiny"]);
  });

  it("answers errors in OpenAI's shape: 400 for bad input, 401 for a wrong secret", async () => {
    const bad = await openai()
      .chat.completions.create({
        model: "tiny",
        messages: [{ role: "user", content: "hi" }],
        temperature: 7,
      })
      .catch((e) => e);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect(bad.error).toMatchObject({ type: "invalid_request_error" });
    expect(bad.message).toContain("temperature");
    const wrong = new OpenAI({ baseURL: `${runner.url}/v1`, apiKey: "nope", maxRetries: 0 });
    await expect(wrong.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });
});

describe("probes and metrics", () => {
  it("serves /healthz and /readyz without a secret, /metrics only with it", async () => {
    expect((await fetch(`${runner.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${runner.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ phase: "ready" });
    expect((await fetch(`${runner.url}/metrics`)).status).toBe(401);
    const metrics = await fetch(`${runner.url}/metrics`, {
      headers: { authorization: `Bearer ${runner.secret}` },
    });
    const text = await metrics.text();
    expect(text).toMatch(/^phi4_requests_total\{outcome="stop"\} [1-9]/m);
    expect(text).toMatch(/^phi4_ttft_seconds_count [1-9]/m);
    expect(text).toMatch(/^phi4_prompt_tokens_total\{kind="cached"\} [1-9]/m);
    expect(text).toMatch(/^phi4_unauthorized_total [1-9]/m);
    expect(text).toMatch(/^phi4_ready 1$/m);
  });

  it("logs JSON lines with request ids and never the prompt or the secret", async () => {
    const client = createPhi4Client({
      url: runner.url,
      apiKey: runner.secret,
      headers: { "x-request-id": "req-logged-1" },
    });
    await collect(client.chat({ messages: [{ role: "user", content: "secret-prompt-words" }] }));
    await until(async () =>
      runner.logs.some((l) => l.includes("req-logged-1") && l.includes("chat done")),
    );
    for (const line of runner.logs) {
      expect(() => JSON.parse(line)).not.toThrow();
      expect(line).not.toContain("secret-prompt-words");
      expect(line).not.toContain(runner.secret);
      expect(line).not.toContain(TINY_REPLY.text);
    }
  });
});
