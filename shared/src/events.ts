import { z } from "zod";

/** Where a request stands before its first token. */
export const Phase = z.enum(["waking", "queued", "downloading", "loading", "ready"]);
export type Phase = z.infer<typeof Phase>;

export const StatusEvent = z.object({
  type: z.literal("status"),
  phase: Phase,
  /** 0..1, for `downloading` and `loading`. */
  progress: z.number().min(0).max(1).optional(),
  /** 1-based place in the queue, for `queued`. */
  position: z.int().min(1).optional(),
});
export type StatusEvent = z.infer<typeof StatusEvent>;

/** Text inside `<think>…</think>`. */
export const ReasoningEvent = z.object({ type: z.literal("reasoning"), text: z.string() });
export type ReasoningEvent = z.infer<typeof ReasoningEvent>;

/** The answer. */
export const TextEvent = z.object({ type: z.literal("text"), text: z.string() });
export type TextEvent = z.infer<typeof TextEvent>;

/**
 * A piece of a tool call, streamed as it is generated: concatenating the `arguments` of the
 * events with one `index` gives the call's JSON arguments. `id` and `name` repeat on each piece.
 */
export const ToolCallEvent = z.object({
  type: z.literal("tool_call"),
  index: z.int().min(0),
  id: z.string(),
  name: z.string(),
  arguments: z.string(),
});
export type ToolCallEvent = z.infer<typeof ToolCallEvent>;

/** `tool_calls`: the answer is one or more tool calls, whose results the caller sends back. */
export const FinishReason = z.enum(["stop", "length", "abort", "budget", "tool_calls"]);
export type FinishReason = z.infer<typeof FinishReason>;

export const Usage = z.object({
  promptTokens: z.int().min(0),
  /** Tokens generated inside `<think>…</think>`; a part of `completionTokens`. */
  reasoningTokens: z.int().min(0),
  /** Every generated token, reasoning included (as OpenAI counts `completion_tokens`). */
  completionTokens: z.int().min(0),
  /** Prompt tokens a sequence already held (prefix reuse) and so did not evaluate again. */
  cachedTokens: z.int().min(0).optional(),
});
export type Usage = z.infer<typeof Usage>;

export const Timings = z.object({
  /** Milliseconds from the request reaching the engine to the first generated token. */
  ttftMs: z.number().min(0),
  tokensPerSecond: z.number().min(0),
});
export type Timings = z.infer<typeof Timings>;

export const DoneEvent = z.object({
  type: z.literal("done"),
  finishReason: FinishReason,
  usage: Usage,
  timings: Timings,
});
export type DoneEvent = z.infer<typeof DoneEvent>;

/** Every event the `chat` stream yields, in this order: status*, reasoning*, text*, tool_call*, done. */
export const ChatEvent = z.discriminatedUnion("type", [
  StatusEvent,
  ReasoningEvent,
  TextEvent,
  ToolCallEvent,
  DoneEvent,
]);
export type ChatEvent = z.infer<typeof ChatEvent>;
