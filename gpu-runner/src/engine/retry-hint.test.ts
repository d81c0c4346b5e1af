import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ChatInput, QueueFullError } from "@phi4-edge/shared";
import { afterAll, beforeAll, expect, test } from "vitest";
import { writeTinyModel } from "../../dev/tiny-model/write-tiny-model";
import { createLogger } from "../log";
import { LlamaEngine } from "./llama-engine";

// Real llama.cpp on the tiny model: one sequence, a queue of four.
let dir: string;
let engine: LlamaEngine;
const hello: ChatInput = { messages: [{ role: "user", content: "hello" }], temperature: 0 };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "retry-hint-"));
  const model = join(dir, "tiny.gguf");
  await writeTinyModel(model);
  engine = new LlamaEngine({
    gpu: "false",
    threads: 1,
    parallel: 1,
    contextSize: 2048,
    queueMax: 4,
    logger: createLogger("silent"),
  });
  await engine.load(model);
});
afterAll(async () => {
  await engine?.dispose();
  await rm(dir, { recursive: true, force: true });
});

async function run(input: ChatInput): Promise<void> {
  for await (const _ of engine.chat(input, { signal: new AbortController().signal })) {
  }
}

/** One running and four queued chats; resolves when the queue is full. */
async function fill(): Promise<Promise<void>[]> {
  const chats: Promise<void>[] = [];
  for (let i = 0; i < 5; i++) {
    chats.push(run(hello));
    await expect.poll(() => engine.stats().queueDepth).toBe(Math.max(0, i));
  }
  return chats;
}

test("a full queue's retry hint is about the time the queue takes to drain", async () => {
  await run(hello); // the prompt is evaluated once; later chats reuse it
  // A first burst: these callers waited in the queue for up to four service times each.
  await Promise.all(await fill());
  const burst = await fill();
  const refused = await run(hello).catch((e: unknown) => e);
  const refusedAt = performance.now();
  expect(refused).toBeInstanceOf(QueueFullError);
  await Promise.all(burst);
  const drainedMs = performance.now() - refusedAt;
  const hint = (refused as QueueFullError).retryAfterMs;
  // Counting the queue waits of the first burst as service time, the hint was over three times
  // the drain; from service times alone it is near it.
  expect(hint).toBeLessThan(2 * drainedMs + 250);
  expect(hint).toBeGreaterThan(0.3 * drainedMs);
});
