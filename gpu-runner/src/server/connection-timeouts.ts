/**
 * The timeouts the runner and its deployment must agree on, in one place: infra/runner.ts
 * configures the load balancer and the task from these, and the runner's server uses them.
 * No imports, so the deploy-time code can read it without loading the runner.
 */

/** The load balancer's idle timeout: it closes a connection silent this long. */
export const LOAD_BALANCER_IDLE_SECONDS = 300;

/**
 * How long the runner keeps an idle keep-alive connection. It must outlast the load balancer's
 * idle timeout: otherwise the runner closes a connection the load balancer still considers
 * open, reuses it for the next request, and the caller gets a 502 (Node's default is 5 s).
 */
export const KEEP_ALIVE_TIMEOUT_MS = (LOAD_BALANCER_IDLE_SECONDS + 5) * 1000;

/** Above the keep-alive timeout, so a reused connection is never cut while its headers arrive. */
export const HEADERS_TIMEOUT_MS = KEEP_ALIVE_TIMEOUT_MS + 1000;

/** ECS sends SIGKILL this long after SIGTERM (the task definition's `stopTimeout`). */
export const STOP_TIMEOUT_SECONDS = 120;

/**
 * How long SIGTERM lets running streams finish: below `stopTimeout`, so the runner still ends
 * the remaining streams with `abort` and exits before ECS kills it.
 */
export const DRAIN_SECONDS = STOP_TIMEOUT_SECONDS - 20;
