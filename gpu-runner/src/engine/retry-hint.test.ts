import { type ChatInput, QueueFullError } from "@phi4-edge/shared";
import { beforeAll, expect, test } from "vitest";
import { useTinyEngines } from "../../test/tiny-engines";
import type { LlamaEngine } from "./llama-engine";

// Real llama.cpp on the tiny model: one sequence, a queue of four.
const engines = useTinyEngines();
let engine: LlamaEngine;
const hello: ChatInput = { messages: [{ role: "user", content: "hello" }], temperature: 0 };

beforeAll(async () => {
  engine = await engines.start({ parallel: 1, queueMax: 4 });
});

/**
 * Runs one chat and returns its service time as the caller sees it: from the call (or, when it
 * waited in the queue, from its `ready` status) to the end of the stream. These are the same
 * intervals the engine times, so the hint can be held to them whatever the machine's load.
 */
async function run(input: ChatInput): Promise<number> {
  let servedAt = performance.now();
  for await (const event of engine.chat(input, { signal: new AbortController().signal })) {
    if (event.type === "status" && event.phase === "ready") servedAt = performance.now();
  }
  return performance.now() - servedAt;
}

/** One running and four queued chats; resolves when the queue is full. */
async function fill(): Promise<Promise<number>[]> {
  const chats: Promise<number>[] = [];
  for (let i = 0; i < 5; i++) {
    chats.push(run(hello));
    await expect.poll(() => engine.stats().queueDepth).toBe(Math.max(0, i));
  }
  return chats;
}

test("a full queue's retry hint is the queue ahead times the recent service time", async () => {
  const served = [await run(hello)]; // the prompt is evaluated once; later chats reuse it
  // A first burst: these callers waited in the queue for up to four service times each.
  served.push(...(await Promise.all(await fill())));
  const burst = await fill();
  const refused = await run(hello).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(QueueFullError);
  await Promise.all(burst);
  const hint = (refused as QueueFullError).retryAfterMs;
  // Four chats were waiting, one sequence serves them: the hint is four mean service times.
  // Counting the first burst's queue waits as service would make it about three times that.
  const expected = Math.max(250, (4 * served.reduce((a, b) => a + b, 0)) / served.length);
  expect(hint).toBeGreaterThan(0.6 * expected);
  expect(hint).toBeLessThan(1.5 * expected);
});
