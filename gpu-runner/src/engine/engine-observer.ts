import type { EnginePhase } from "./readiness";

/** How a chat request ended, for metrics: a finish reason or an error class. */
export type Outcome =
  | "stop"
  | "length"
  | "budget"
  | "tool_calls"
  | "abort"
  | "cancelled"
  | "bad_request"
  | "queue_full"
  | "not_ready"
  | "error";

/** What the engine reports as it serves; the server's metrics implement it. */
export interface EngineObserver {
  requestEnded(outcome: Outcome): void;
  firstToken(ttftMs: number): void;
  interToken(ms: number): void;
  tokensGenerated(count: number): void;
  promptTokens(evaluated: number, cached: number): void;
  /** Sequences generating and requests queued, each time either changes. */
  occupancy(active: number, queued: number): void;
  /** The engine's phase, each time it may have moved. */
  phase(phase: EnginePhase): void;
  modelLoaded(seconds: number): void;
}

export const NO_OBSERVER: EngineObserver = {
  requestEnded() {},
  firstToken() {},
  interToken() {},
  tokensGenerated() {},
  promptTokens() {},
  occupancy() {},
  phase() {},
  modelLoaded() {},
};
