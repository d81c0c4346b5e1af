import type { EdgeConfig } from "../env";

/** Why the runner could not serve a request. */
export interface RunnerUnavailable {
  reason: "unreachable" | "timeout" | "not-ready";
  requestId: string;
}

/**
 * Called (inside `waitUntil`) whenever the runner is unreachable, times out or answers 503:
 * the seam where waking a scaled-to-zero service plugs in (functions/src/wake). Must not
 * throw; the caller has already been answered.
 */
export type OnRunnerUnavailable = (
  event: RunnerUnavailable,
  config: EdgeConfig,
) => Promise<void> | void;

export const ignoreRunnerUnavailable: OnRunnerUnavailable = () => {};
