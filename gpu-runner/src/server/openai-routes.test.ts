import type { AddressInfo } from "node:net";
import { setImmediate as nextTurn } from "node:timers/promises";
import { serve } from "@hono/node-server";
import { type ChatEvent, type ChatOptions, QueueFullError } from "@phi4-edge/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../log";
import { createApp, type RunnerEngine } from "./create-app";
import { Metrics } from "./metrics";

// The OpenAI route over real HTTP (@hono/node-server on a free port), on a scripted engine:
// `script` runs when a chat starts and returns the events it then streams.
let script: (options: ChatOptions) => Promise<ChatEvent[]> = async () => [];
const engine: RunnerEngine = {
  readiness: () => ({ phase: "ready" }),
  model: () => ({
    repo: "test/test",
    file: "test.gguf",
    revision: "local",
    quantization: "F16",
    contextSize: 2048,
    parallel: 1,
    gpu: false,
  }),
  async *chat(_input, options) {
    yield* await script(options);
  },
};
let server: ReturnType<typeof serve>;
let url: string;

beforeAll(async () => {
  const app = createApp({
    engine,
    logger: createLogger("silent"),
    metrics: new Metrics(),
    secret: "secret",
    modelId: "test",
  });
  await new Promise<void>((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve());
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const stream = () =>
  fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: "Bearer secret", "content-type": "application/json" },
    body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], stream: true }),
  });

describe("when a streamed completion starts", () => {
  it("refuses with a real HTTP status before the engine starts on the prompt", async () => {
    script = async () => {
      await nextTurn();
      throw new QueueFullError(1_000);
    };
    const response = await stream();
    expect(response.status).toBe(429);
    expect(await response.json()).toMatchObject({ error: { code: "rate_limit_exceeded" } });
  });

  it("starts the stream (200, the role chunk) as soon as the engine starts on the prompt", async () => {
    // The engine starts, then fails before its first token: the stream had already begun, so
    // the failure comes inside it, after the role chunk.
    script = async (options) => {
      options.onStarted?.();
      await nextTurn();
      throw new Error("decode failed");
    };
    const response = await stream();
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const events = (await response.text()).split("\n\n").filter(Boolean);
    expect(JSON.parse(events[0]?.replace(/^data: /, "") ?? "")).toMatchObject({
      choices: [{ delta: { role: "assistant" } }],
    });
    expect(events[1]).toContain('"error"');
  });
});
