import type { EdgeConfig } from "../env";
import type { EdgeError } from "../http/edge-error";

/** Why the runner could not serve a request. */
export interface RunnerUnavailable {
  /**
   * `unreachable` (no connection), `timeout` (no headers in time), `no-runner` (the load
   * balancer's own 503: no runner registered), `not-ready` (a runner's 503: cold start).
   */
  reason: "unreachable" | "timeout" | "no-runner" | "not-ready";
  requestId: string;
}

/**
 * The one seam for a runner that could not serve: what the caller is told, and what happens
 * next (waking a service scaled to zero plugs in here, functions/src/wake).
 */
export interface RunnerUnavailablePolicy {
  /**
   * The refusal the caller gets instead of the edge's own (502, 504, a runner's 503 passed on);
   * undefined keeps the edge's own.
   */
  refusal(event: RunnerUnavailable, config: EdgeConfig): EdgeError | undefined;
  /** Runs inside `waitUntil`, after the caller has its answer. Must not throw. */
  notify(event: RunnerUnavailable, config: EdgeConfig): Promise<void> | void;
}

/** Local development: the edge's own answers, nothing to wake. */
export const KEEP_REFUSALS: RunnerUnavailablePolicy = {
  refusal: () => undefined,
  notify: () => {},
};
