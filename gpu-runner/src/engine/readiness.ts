/** Where the model is; `failed` and `draining` are terminal. */
export type EnginePhase = "downloading" | "loading" | "ready" | "failed" | "draining";

export interface Readiness {
  phase: EnginePhase;
  progress?: number;
  error?: string;
}

/**
 * The engine's cold-start state (downloading → loading → ready, or failed for good) and a way to
 * wait for it, or for anything else the engine reports through `changed()`, to move.
 */
export class ReadinessState {
  private state: Readiness = { phase: "downloading", progress: 0 };
  private listeners = new Set<() => void>();

  /** `onSet` hears every accepted move (metrics). */
  constructor(private readonly onSet: (state: Readiness) => void = () => {}) {}

  get current(): Readiness {
    return { ...this.state };
  }

  /** Moves to `state` unless the load already failed (terminal). */
  set(state: Readiness): void {
    if (this.state.phase === "failed") return;
    this.state = state;
    this.onSet(this.current);
    this.changed();
  }

  /** Wakes every waiter; also called for changes outside the state (a sequence freed). */
  changed(): void {
    for (const listener of [...this.listeners]) listener();
  }

  /** Resolves at the next change, when `signal` aborts or after `timeoutMs`, whichever is first. */
  nextChange(signal: AbortSignal, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.listeners.add(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  /** Resolves once `condition` holds (checked at each change) or after `timeoutMs`. */
  async until(condition: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition() && Date.now() < deadline) {
      await this.nextChange(new AbortController().signal, deadline - Date.now());
    }
  }
}
