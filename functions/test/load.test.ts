import type { ChatEvent } from "@phi4-edge/shared";
import { createPhi4Client, errorCode } from "@phi4-edge/shared/client";
import { afterAll, beforeAll, expect, test } from "vitest";
import { seedKeys } from "./seed-keys";
import { runnerMetric, type Stack, startStack, until } from "./with-stack";

const STREAMS = 100;
const INPUT = { messages: [{ role: "user" as const, content: "load" }], maxTokens: 8 };
let stack: Stack;
let key: string;

beforeAll(async () => {
  // The key admits 60 open streams; the runner serves 4 at once and queues up to 40.
  stack = await startStack({ runnerEnv: { PARALLEL: "4", QUEUE_MAX: "40" } });
  ({ load: key } = (await seedKeys(`${stack.dir}/state`, [
    { name: "load", limits: { perMinute: 1000, streams: 60 } },
  ])) as { load: string });
}, 120_000);
afterAll(() => stack?.stop());

async function run(): Promise<{ events: ChatEvent[] } | { refused: string | undefined }> {
  const client = createPhi4Client({ url: stack.edge.url, apiKey: key });
  try {
    const events: ChatEvent[] = [];
    for await (const event of client.chat(INPUT)) events.push(event);
    return { events };
  } catch (error) {
    return { refused: errorCode(error) ?? String(error) };
  }
}

const reply = (events: ChatEvent[]) => ({
  reasoning: events.map((e) => (e.type === "reasoning" ? e.text : "")).join(""),
  text: events.map((e) => (e.type === "text" ? e.text : "")).join(""),
  finishReason:
    events.at(-1)?.type === "done"
      ? (events.at(-1) as { finishReason: string }).finishReason
      : "none",
});

test(`${STREAMS} concurrent streams: each complete and exact or refused with 429; nothing left busy`, async () => {
  const reference = await run();
  if (!("events" in reference)) throw new Error(`reference refused: ${reference.refused}`);
  const expected = reply(reference.events);
  expect(expected.finishReason).toBe("length");

  const results = await Promise.all(Array.from({ length: STREAMS }, run));
  const completed = results.filter((r) => "events" in r);
  const refused = results.filter((r) => "refused" in r);
  for (const r of completed) expect(reply(r.events)).toEqual(expected);
  for (const r of refused) expect(r.refused).toBe("TOO_MANY_REQUESTS");
  expect(completed.length + refused.length).toBe(STREAMS);
  // The edge admits at most 60, so at least 40 were refused there, and the runner served some.
  expect(refused.length).toBeGreaterThanOrEqual(STREAMS - 60);
  expect(completed.length).toBeGreaterThanOrEqual(4);

  await until(
    async () =>
      (await runnerMetric(stack.runner, "phi4_active_sequences")) === 0 &&
      (await runnerMetric(stack.runner, "phi4_queue_depth")) === 0,
    "runner idle",
    90_000,
  );
  // Every edge lease came back: a burst as large as the runner takes (4 + 40 queued) is
  // admitted whole, which 44 leftover leases out of 60 would not allow. Each try is a burst
  // of 44 chats, many seconds on a busy machine: the deadline is generous.
  await until(
    async () => {
      const burst = await Promise.all(Array.from({ length: 44 }, run));
      return burst.every((r) => "events" in r);
    },
    "edge admits again",
    120_000,
  );
}, 300_000);
