import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChatEvent } from "@phi4-edge/shared";
import { createPhi4Client, errorCode, errorData } from "@phi4-edge/shared/client";
import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { startRunner } from "../../gpu-runner/dev/start-runner";
import { writeTinyModel } from "../../gpu-runner/dev/tiny-model/write-tiny-model";
import { seedKeys } from "./seed-keys";
import { type StartedEdge, startEdge } from "./start-edge";
import { until } from "./with-stack";

// Real runner processes on a random-weight model (a reply never ends by itself) behind the real
// Worker, and what reaches a caller when the runner is killed, frozen or told to stop. Each test
// starts its own runner and edge: on a busy machine that alone can take half a minute.
const TEST_MS = 150_000;
const dir = mkdtempSync(join(tmpdir(), "phi4-stream-ends-"));
const model = join(dir, "slow.gguf");
const long = { messages: [{ role: "user" as const, content: "hi" }], maxTokens: 30_000 };
let key: string;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  await writeTinyModel(model, { random: { layers: 2, embedding: 256 }, type: "Q8_0" });
  ({ k: key } = (await seedKeys(join(dir, "state"), [{ name: "k" }])) as { k: string });
}, 60_000);
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => {});
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function stack(
  edgeVars: Record<string, string> = {},
  runnerEnv: Record<string, string> = {},
) {
  const runner = await startRunner({
    MODEL_PATH: model,
    PARALLEL: "2",
    CONTEXT_SIZE: "2048",
    ...runnerEnv,
  });
  cleanups.push(async () => {
    runner.child.kill("SIGCONT");
    await runner.stop("SIGKILL");
  });
  await runner.ready();
  const edge = await startEdge({
    persistTo: join(dir, "state"),
    vars: {
      RUNNER_URL: runner.url,
      RUNNER_SECRET: runner.secret,
      CONCURRENT_STREAMS: "16",
      ...edgeVars,
    },
  });
  cleanups.push(() => edge.dispose());
  return { runner, edge };
}

/** A typed-client chat and an OpenAI SDK stream through the edge, both streaming tokens. */
async function twoStreams(edge: StartedEdge) {
  const typed = { events: [] as ChatEvent[], error: undefined as unknown };
  const typedDone = (async () => {
    for await (const event of createPhi4Client({ url: edge.url, apiKey: key }).chat(long))
      typed.events.push(event);
  })().catch((error: unknown) => {
    typed.error = error;
  });
  const openai = new OpenAI({ baseURL: `${edge.url}/v1`, apiKey: key, maxRetries: 0 });
  const sdk = { chunks: 0, error: undefined as unknown };
  const stream = await openai.chat.completions.create({
    model: "slow",
    messages: long.messages,
    max_tokens: long.maxTokens,
    stream: true,
  });
  const sdkDone = (async () => {
    for await (const chunk of stream) if (chunk.choices[0]?.delta) sdk.chunks++;
  })().catch((error: unknown) => {
    sdk.error = error;
  });
  await until(
    () => typed.events.some((e) => e.type === "reasoning" || e.type === "text") && sdk.chunks > 2,
    "both streams have tokens",
    60_000,
  );
  return { typed, sdk, ended: Promise.all([typedDone, sdkDone]) };
}

describe("every way a stream ends reaches the caller as a contract error", () => {
  test(
    "runner killed (SIGKILL) mid-stream → BAD_GATEWAY in both protocols",
    async () => {
      const { runner, edge } = await stack();
      const streams = await twoStreams(edge);
      runner.child.kill("SIGKILL");
      await streams.ended;
      // Not `TypeError: terminated`: the caller's own client reports a contract code.
      expect(errorCode(streams.typed.error)).toBe("BAD_GATEWAY");
      expect(streams.sdk.error).toBeInstanceOf(OpenAI.APIError);
      expect(streams.sdk.error).toMatchObject({ code: "bad_gateway", type: "server_error" });
    },
    TEST_MS,
  );

  test(
    "runner frozen (SIGSTOP) → GATEWAY_TIMEOUT after STREAM_IDLE_MS, in both protocols",
    async () => {
      const { runner, edge } = await stack({ STREAM_IDLE_MS: "1500" });
      const streams = await twoStreams(edge);
      // A non-stream OpenAI reply waits (both sequences are busy), hearing keep-alive spaces.
      const whole = await fetch(`${edge.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ messages: long.messages, max_tokens: 5 }),
      });
      expect(whole.status).toBe(200);
      const wholeBody = whole.text();
      wholeBody.catch(() => {}); // read below; never an unhandled rejection if the test fails first
      runner.child.kill("SIGSTOP");
      const frozenAt = Date.now();
      await streams.ended;
      expect(Date.now() - frozenAt).toBeGreaterThanOrEqual(1_400);
      expect(errorCode(streams.typed.error)).toBe("GATEWAY_TIMEOUT");
      expect(streams.sdk.error).toMatchObject({ code: "gateway_timeout", type: "server_error" });
      expect(JSON.parse(await wholeBody)).toMatchObject({
        error: { code: "gateway_timeout", type: "server_error" },
      });
    },
    TEST_MS,
  );

  test(
    "runner draining (SIGTERM) → SERVICE_UNAVAILABLE with Retry-After; the typed client goes round again",
    async () => {
      const { runner, edge } = await stack({}, { DRAIN_SECONDS: "60" });
      const streams = await twoStreams(edge);
      void runner.stop("SIGTERM");
      await until(() => runner.logs.some((l) => l.includes("shutting down")), "draining", 60_000);

      const refused = await fetch(`${edge.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ messages: long.messages, stream: true }),
      });
      expect(refused.status).toBe(503);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(await refused.json()).toMatchObject({ error: { code: "service_unavailable" } });

      const once = await createPhi4Client({ url: edge.url, apiKey: key, waitReadyMs: 0 })
        .chat(long)
        .next()
        .catch((e: unknown) => e);
      expect(errorCode(once)).toBe("SERVICE_UNAVAILABLE");
      expect(errorData(once).retryAfterMs).toBe(1_000);

      // With time to wait, the typed client reports the wait and tries again, at the hinted pace.
      const waiting = new AbortController();
      const seen: ChatEvent[] = [];
      const attempts = () => runner.logs.filter((l) => l.includes('"path":"/trpc/chat"')).length;
      const before = attempts();
      const retrying = (async () => {
        const client = createPhi4Client({ url: edge.url, apiKey: key });
        for await (const event of client.chat(long, { signal: waiting.signal })) seen.push(event);
      })().catch(() => {});
      await until(() => attempts() >= before + 2, "a second attempt", 60_000);
      expect(seen[0]).toMatchObject({ type: "status" });
      waiting.abort();
      await retrying;
      // The streams that were running keep going through the drain.
      expect(streams.typed.error).toBeUndefined();
      expect(streams.sdk.error).toBeUndefined();
    },
    TEST_MS,
  );
});
