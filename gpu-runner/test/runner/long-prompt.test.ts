import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChatEvent } from "@phi4-edge/shared";
import { createPhi4Client, errorCode } from "@phi4-edge/shared/client";
import { afterAll, beforeAll, expect, test } from "vitest";
import { type StartedRunner, startRunner } from "../../dev/start-runner";
import { writeTinyModel } from "../../dev/tiny-model/write-tiny-model";

// The real runner on a random-weight model (it never ends a reply by itself), so one stream
// keeps generating while prompts far over the context arrive.
let dir: string;
let runner: StartedRunner;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "long-prompt-"));
  const model = join(dir, "slow.gguf");
  await writeTinyModel(model, { random: { layers: 2, embedding: 256 }, type: "Q8_0" });
  runner = await startRunner({ MODEL_PATH: model, PARALLEL: "2", CONTEXT_SIZE: "4096" });
  await runner.ready();
});
afterAll(async () => {
  await runner?.stop("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

/** The longest wait between consecutive times, from `from` on. */
const longestGap = (times: number[], from: number) =>
  times
    .filter((t) => t >= from)
    .reduce((gap, t, i, all) => (i === 0 ? gap : Math.max(gap, t - (all[i - 1] ?? t))), 0);

test("/healthz and a running stream keep their pace while too-long prompts are refused", async () => {
  const client = createPhi4Client({ url: runner.url, apiKey: runner.secret });
  const controller = new AbortController();
  const tokenTimes: number[] = [];
  const streaming = (async () => {
    const input = { messages: [{ role: "user" as const, content: "hi" }], maxTokens: 30_000 };
    for await (const event of client.chat(input, {
      signal: controller.signal,
    }) as AsyncIterable<ChatEvent>) {
      if (event.type === "reasoning" || event.type === "text") tokenTimes.push(performance.now());
    }
  })().catch(() => {});
  while (tokenTimes.length < 5) await new Promise((r) => setTimeout(r, 20));

  // Four prompts of 5 MB each (the runner takes what the edge lets through; 1 MB by default):
  // over a thousand times the context.
  const huge = { role: "user" as const, content: "x".repeat(200_000) };
  const from = performance.now();
  let refusing = true;
  const healthTimes: number[] = [from];
  const polling = (async () => {
    while (refusing) {
      await fetch(`${runner.url}/healthz`);
      healthTimes.push(performance.now());
    }
  })();
  const refusals = await Promise.all(
    Array.from({ length: 4 }, () =>
      client
        .chat({ messages: Array.from({ length: 25 }, () => huge) })
        .next()
        .catch((e: unknown) => e),
    ),
  );
  const until = performance.now();
  refusing = false;
  await polling;
  controller.abort();
  await streaming;

  // Tokenizing each prompt on the event loop held everything for about 3 s apiece (0.6 s a
  // megabyte); the bound refuses them in milliseconds. The margin is for busy machines.
  expect(longestGap([...healthTimes, until], from)).toBeLessThan(2_000);
  expect(longestGap([from, ...tokenTimes.filter((t) => t <= until), until], from)).toBeLessThan(
    2_000,
  );
  for (const refusal of refusals) {
    expect(errorCode(refusal)).toBe("BAD_REQUEST");
    expect((refusal as Error).message).toMatch(
      /^prompt is at least \d+ tokens but the context holds 4096$/,
    );
  }
});
