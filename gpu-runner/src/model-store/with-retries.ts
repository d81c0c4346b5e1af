import { backoff, type RetryPolicy } from "./backoff";

export interface WithRetriesOptions {
  retry: RetryPolicy;
  signal: AbortSignal;
  /** The error to throw at once, or `"retry"` for a failure that deserves another attempt. */
  classify: (error: unknown) => unknown;
  /** True when the failed attempt moved forward: the count of failures in a row starts again. */
  progressed?: () => boolean;
  /** The error to throw once more than `retry.attempts` failures came in a row. */
  exhausted: (failures: number, error: unknown) => Error;
  /** Told about each failure that will be retried, before the backoff (the log line). */
  onRetry: (failures: number, error: unknown) => void;
}

/**
 * Runs `attempt` until it succeeds, with backoff between failures; abort rethrows `signal.reason`.
 * Not `p-retry`: it cannot restart the count and the backoff after an attempt that made progress
 * (a long download survives many drops), so wrapping it would add code, not remove it.
 */
export async function withRetries<T>(attempt: () => Promise<T>, o: WithRetriesOptions): Promise<T> {
  for (let failures = 0; ; ) {
    o.signal.throwIfAborted();
    try {
      return await attempt();
    } catch (error) {
      if (o.signal.aborted) throw o.signal.reason;
      const verdict = o.classify(error);
      if (verdict !== "retry") throw verdict;
      failures = o.progressed?.() ? 1 : failures + 1;
      if (failures > o.retry.attempts) throw o.exhausted(failures, error);
      o.onRetry(failures, error);
      await backoff(failures, o.retry, o.signal);
    }
  }
}
