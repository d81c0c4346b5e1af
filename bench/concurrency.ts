import { startRunner } from "../gpu-runner/dev/start-runner";
import { createPhi4Client } from "../shared/src/client";
import { benchModel } from "./bench-model";
import { type Figure, figure, isMain } from "./figure";

const MAX_TOKENS = 64;

/**
 * Aggregate decode throughput of one runner (PARALLEL=4) at 1, 2 and 4 concurrent streams,
 * each a ratio to the single-stream throughput measured in the same run. Prompts repeat, so
 * prefix reuse leaves decoding as what is timed.
 */
export default async function concurrencyBench(): Promise<Figure[]> {
  const runner = await startRunner({
    MODEL_PATH: await benchModel(),
    GPU: "false",
    THREADS: "1",
    PARALLEL: "4",
    CONTEXT_SIZE: "2048",
  });
  try {
    const client = createPhi4Client({ url: runner.url, apiKey: runner.secret });
    const round = async (streams: number) => {
      const started = performance.now();
      const tokens = await Promise.all(
        Array.from({ length: streams }, async (_, i) => {
          let generated = 0;
          const stream = client.chat({
            messages: [{ role: "user", content: `stream ${i}: count to ten` }],
            maxTokens: MAX_TOKENS,
            temperature: 0,
          });
          for await (const event of stream)
            if (event.type === "done") generated = event.usage.completionTokens;
          return generated;
        }),
      );
      const total = tokens.reduce((a, b) => a + b, 0);
      return total / ((performance.now() - started) / 1000);
    };
    // Every sequence first evaluates its prompt (the ~1.2k-token system prompt included), so
    // the measured rounds reuse it and time decoding, not prompt evaluation.
    await round(4);
    const rates = new Map<number, number>();
    for (const n of [1, 2, 4]) rates.set(n, ((await round(n)) + (await round(n))) / 2);
    const single = rates.get(1) ?? Number.NaN;
    return [2, 4].map((n) =>
      figure({
        id: `concurrency.${n}`,
        title: `aggregate tokens/s, ${n} streams`,
        value: rates.get(n) ?? Number.NaN,
        unit: "tok/s",
        baseline: { title: "1 stream", value: single },
        higherIsBetter: true,
        note: "runner with PARALLEL=4, THREADS=1, random-weight 8×768 model, CPU",
      }),
    );
  } finally {
    await runner.stop();
  }
}

if (isMain(import.meta)) console.log(JSON.stringify(await concurrencyBench(), null, 2));
