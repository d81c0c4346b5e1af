import type { ChatEvent, ChatInput } from "@phi4-edge/shared";
import { describe, expect, it } from "vitest";
import { collectChat } from "../../test/collect-chat";
import { countDecodes } from "../../test/count-decodes";
import { useTinyEngines } from "../../test/tiny-engines";

// Real llama.cpp (CPU, one thread). Random weights never emit an end token, so every reply
// runs to its maxTokens.
const engines = useTinyEngines({ slow: { random: { layers: 2, embedding: 256 }, type: "Q8_0" } });
const ask = (content: string, maxTokens: number): ChatInput => ({
  messages: [{ role: "user", content }],
  temperature: 0,
  maxTokens,
});

describe("concurrent replies on one context", () => {
  it("are decoded together: one batch per step, a token of each reply in it", async () => {
    const engine = await engines.start({ parallel: 4 }, "slow");
    const prompts = ["a", "b", "c", "d"];
    // Each sequence first takes its prompt, so the measured run decodes only new tokens.
    await Promise.all(prompts.map((p) => collectChat(engine, ask(p, 2))));
    const steps = 96;
    const log = countDecodes(engine);
    const replies = await Promise.all(prompts.map((p) => collectChat(engine, ask(p, steps))));
    log.stop();
    for (const r of replies) expect(r.done.usage.completionTokens).toBe(steps);
    // While all four hold a sequence, each decode carries a token of each. The exceptions: a
    // reply holds its sequence a little before its first step and after its last one.
    const allBusy = log.batches.filter((b) => b.active === 4);
    expect(allBusy.length).toBeGreaterThan(steps / 4);
    expect(allBusy.filter((b) => b.tokens < 4).length).toBeLessThanOrEqual(6);
  });

  it("go on without a reply whose reader stalls or whose caller aborts", async () => {
    const engine = await engines.start({ parallel: 4 }, "slow");
    // A reader that takes one event, then stops reading for as long as the others run.
    const stalled = engine.chat(ask("stalled", 30), { signal: new AbortController().signal });
    const reader = stalled[Symbol.asyncIterator]();
    await reader.next();
    const caller = new AbortController();
    let aborted: ChatEvent[] = [];
    const leaving = collectChat(engine, ask("leaving", 10_000), {
      signal: caller.signal,
      onEvent: (e) => {
        aborted = [...aborted, e];
        if (aborted.length === 3) caller.abort(new Error("caller left"));
      },
    }).catch((e) => e);
    const others = await Promise.all(["c", "d"].map((p) => collectChat(engine, ask(p, 40))));
    for (const r of others) expect(r.done.usage.completionTokens).toBe(40);
    expect(await leaving).toMatchObject({ message: "caller left" });
    // The stalled reply kept generating into its buffer and ends normally when read.
    const rest: ChatEvent[] = [];
    for (;;) {
      const next = await reader.next();
      if (next.done) break;
      rest.push(next.value);
    }
    expect(rest.at(-1)).toMatchObject({ type: "done", usage: { completionTokens: 30 } });
    expect(engine.stats()).toMatchObject({ activeSequences: 0, queueDepth: 0 });
  });
});
