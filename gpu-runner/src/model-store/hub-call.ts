import type { Logger } from "pino";
import type { RetryPolicy } from "./backoff";
import { classifyHubError, type HubTarget } from "./classify-hub-error";
import { DownloadFailedError } from "./errors";
import type { HubFetch } from "./hub-fetch";
import { withRetries } from "./with-retries";

/** Retries a Hub call on 5xx, 429 and dropped/stalled connections; other failures are classified. */
export function hubCall<T>(
  what: string,
  fn: () => Promise<T>,
  o: {
    hub: HubFetch;
    target: HubTarget;
    retry: RetryPolicy;
    signal: AbortSignal;
    log: Logger | undefined;
  },
): Promise<T> {
  const reason = (error: unknown) =>
    o.hub.lastFailure
      ? `HTTP ${o.hub.lastFailure.status}`
      : o.hub.idleTimedOut
        ? "idle timeout"
        : String((error as Error)?.message ?? error);
  return withRetries(
    () => {
      o.hub.reset();
      // What the call returns is read by then: a body it left unread is only a held resource.
      return fn().finally(() => o.hub.discardUnread());
    },
    {
      retry: o.retry,
      signal: o.signal,
      classify: (error) => classifyHubError(error, o.hub, o.target),
      exhausted: (failures, error) =>
        new DownloadFailedError(
          `${what} for ${o.target.repo} failed ${failures} times (${reason(error)}); is ${o.target.endpoint} reachable?`,
          { cause: error },
        ),
      onRetry: (failures, error) =>
        o.log?.warn({ what, failures, reason: reason(error) }, "Hub request failed; retrying"),
    },
  );
}
