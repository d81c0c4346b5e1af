import type { ChatEvent, ChatInput, DoneEvent, FinishReason } from "@phi4-edge/shared";
import { SAMPLING_DEFAULTS } from "@phi4-edge/shared";
import type { Token } from "node-llama-cpp";
import type { Slot } from "./best-prefix-slot";
import type { EngineObserver } from "./engine-observer";
import { toChatHistory } from "./to-chat-history";

export interface ReplyRequest {
  input: ChatInput;
  /** The rendered prompt, already checked to fit. */
  tokens: Token[];
  /** The caller's signal: aborting it throws its reason. */
  signal: AbortSignal;
  /** The runner's shutdown: ends the reply with `finishReason: "abort"`. */
  stop: AbortSignal;
  /** When the request reached the engine (performance.now()), for TTFT. */
  started: number;
  contextSize: number;
  emit: (event: ChatEvent) => void;
}

/**
 * Generates one reply on a sequence: thought segments become `reasoning` events, the rest
 * `text` events, then `done` with usage and timings. node-llama-cpp reuses whatever prefix
 * of the prompt the sequence already holds; the token meter tells how much was evaluated.
 */
export async function generateReply(
  slot: Slot,
  request: ReplyRequest,
  observer: EngineObserver,
): Promise<DoneEvent> {
  const { input, tokens, signal, emit } = request;
  const budget = input.reasoning?.budget;
  const meter = slot.sequence.tokenMeter.getState();
  let reasoningTokens = 0;
  let firstAt: number | undefined;
  let lastAt = 0;
  const response = await slot.chat.generateResponse(toChatHistory(input.messages), {
    signal: AbortSignal.any([signal, request.stop]),
    stopOnAbortSignal: true,
    maxTokens: Math.min(
      input.maxTokens ?? Number.POSITIVE_INFINITY,
      request.contextSize - tokens.length,
    ),
    temperature: input.temperature ?? SAMPLING_DEFAULTS.temperature,
    topP: input.topP ?? SAMPLING_DEFAULTS.topP,
    topK: input.topK ?? SAMPLING_DEFAULTS.topK,
    seed: input.seed,
    customStopTriggers: input.stop,
    budgets: budget === undefined ? undefined : { thoughtTokens: budget },
    onResponseChunk: (chunk) => {
      if (chunk.tokens.length === 0 && chunk.text === "") return;
      const now = performance.now();
      if (firstAt === undefined) {
        firstAt = now;
        observer.firstToken(now - request.started);
      } else observer.interToken(now - lastAt);
      lastAt = now;
      observer.tokensGenerated(chunk.tokens.length);
      if (chunk.type === "segment") {
        // Only thought segments exist for Phi-4; other segment kinds are not part of the answer.
        if (chunk.segmentType !== "thought") return;
        reasoningTokens += chunk.tokens.length;
        if (chunk.text) emit({ type: "reasoning", text: chunk.text });
      } else if (chunk.text) emit({ type: "text", text: chunk.text });
    },
  });
  const end = performance.now();
  const used = slot.sequence.tokenMeter.diff(meter);
  if (signal.aborted) throw signal.reason;
  // The last prompt token is always evaluated with the first generation step.
  const evaluated = Math.min(tokens.length, used.usedInputTokens + 1);
  observer.promptTokens(evaluated, tokens.length - evaluated);
  const completionTokens = used.usedOutputTokens;
  let finishReason: FinishReason = "stop";
  if (response.metadata.stopReason === "abort") finishReason = "abort";
  else if (response.metadata.stopReason === "maxTokens") finishReason = "length";
  // The answer ended normally, but only because the budget cut the reasoning short.
  else if (budget !== undefined && reasoningTokens >= budget) finishReason = "budget";
  const decodeMs = firstAt === undefined ? 0 : end - firstAt;
  const done: DoneEvent = {
    type: "done",
    finishReason,
    usage: {
      promptTokens: tokens.length,
      reasoningTokens,
      completionTokens,
      cachedTokens: tokens.length - evaluated,
    },
    timings: {
      ttftMs: (firstAt ?? end) - request.started,
      tokensPerSecond: decodeMs > 0 ? ((completionTokens - 1) / decodeMs) * 1000 : 0,
    },
  };
  emit(done);
  return done;
}
