import type { DoneEvent } from "@phi4-edge/shared";

const ENDINGS: Record<DoneEvent["finishReason"], string> = {
  stop: "",
  length: " · cut at max tokens",
  budget: " · reasoning budget reached",
  abort: " · stopped",
  tool_calls: " · tool call",
};

/** Token usage and speed of one answer, e.g. `55 tokens (26 reasoning) · 412 tok/s · …`. */
export function usageText(done: DoneEvent): string {
  const { usage, timings } = done;
  const speed = timings.tokensPerSecond.toFixed(timings.tokensPerSecond < 10 ? 1 : 0);
  return (
    `${usage.completionTokens} tokens (${usage.reasoningTokens} reasoning) · ${speed} tok/s · ` +
    `first token ${Math.round(timings.ttftMs)} ms · prompt ${usage.promptTokens}` +
    ENDINGS[done.finishReason]
  );
}
