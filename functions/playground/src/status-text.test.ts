import { describe, expect, test } from "vitest";
import { statusText } from "./status-text";
import { usageText } from "./usage-text";

describe("statusText", () => {
  test("has a line for every cold-start phase, with progress and queue position", () => {
    expect(statusText({ type: "status", phase: "waking" })).toBe("Waking a model runner…");
    expect(statusText({ type: "status", phase: "downloading", progress: 0.426 })).toBe(
      "Downloading the model… 42%",
    );
    expect(statusText({ type: "status", phase: "loading" })).toBe("Loading the model…");
    expect(statusText({ type: "status", phase: "queued", position: 3 })).toBe("Queued: position 3");
    expect(statusText({ type: "status", phase: "ready" })).toBe("Model ready");
  });
});

describe("usageText", () => {
  test("gives tokens, speed, time to first token and how the answer ended", () => {
    const done = {
      type: "done",
      finishReason: "length",
      usage: { promptTokens: 1248, reasoningTokens: 26, completionTokens: 100 },
      timings: { ttftMs: 23.6, tokensPerSecond: 433.9 },
    } as const;
    expect(usageText(done)).toBe(
      "100 tokens (26 reasoning) · 434 tok/s · first token 24 ms · prompt 1248 · cut at max tokens",
    );
    expect(
      usageText({ ...done, finishReason: "stop", timings: { ttftMs: 1, tokensPerSecond: 2.25 } }),
    ).toMatch(/· 2\.3 tok\/s · first token 1 ms · prompt 1248$/);
  });
});
