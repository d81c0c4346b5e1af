import { setTimeout as sleep } from "node:timers/promises";

export interface RetryPolicy {
  /** Attempts in a row that may fail without progress before giving up. */
  attempts: number;
  /** First backoff; doubles each time (with jitter), capped at 30 s. */
  baseMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseMs: 500 };

/** Waits the backoff for failure number `n` (1-based); abort rethrows the signal's reason. */
export async function backoff(n: number, policy: RetryPolicy, signal?: AbortSignal): Promise<void> {
  const ms = Math.min(30_000, policy.baseMs * 2 ** (n - 1)) * (0.75 + Math.random() * 0.5);
  try {
    await sleep(ms, undefined, signal ? { signal } : undefined);
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw error;
  }
}
