import type { ChatEvent } from "./events.js";
import type { ChatInput, ModelInfo } from "./schemas.js";

export interface ChatOptions {
  /** Aborted when the caller goes away; the engine must stop and free its slot. */
  signal: AbortSignal;
  requestId?: string;
  /**
   * Called once, when the engine has started evaluating the prompt: no refusal (full queue,
   * prompt too long, not ready) can come after it; a later failure ends the stream instead.
   */
  onStarted?: () => void;
}

/**
 * What the router needs from a model. The runner plugs in node-llama-cpp; tests plug in a
 * deterministic fake. Errors are the domain errors of `./errors`, or the signal's reason.
 */
export interface Engine {
  chat(input: ChatInput, options: ChatOptions): AsyncIterable<ChatEvent>;
  /** Throws `NotReadyError` while the model is downloading or loading. */
  model(): ModelInfo | Promise<ModelInfo>;
}
