import type { EngineObserver } from "./engine/engine-observer";

/**
 * Everything the runner reports for its metrics: the engine's reports plus the server's and
 * the model store's. `Metrics` implements it; it is the one way values reach `/metrics`.
 */
export interface RunnerObserver extends EngineObserver {
  /** A request was refused for a missing or wrong secret. */
  unauthorized(): void;
  /** Model bytes this process has downloaded so far. */
  downloaded(bytes: number): void;
}
