import { EdgeError } from "../http/edge-error";

/**
 * True for the load balancer's own 503 (no runner registered: the service is at zero or its
 * only task has not started), as opposed to a runner's 503 (JSON: downloading, loading), which
 * carries its phase and progress and is passed through as it is.
 */
export function isNoRunnerResponse(response: Response): boolean {
  if (response.status !== 503) return false;
  const type = response.headers.get("content-type") ?? "";
  return !type.includes("json");
}

/** What callers are told to wait while a runner starts (an ECS task takes about a minute). */
const WAKING_RETRY_MS = 10_000;

/** The refusal callers get while runners wake: SERVICE_UNAVAILABLE, phase waking, Retry-After. */
export function wakingError(cause?: unknown): EdgeError {
  return new EdgeError("SERVICE_UNAVAILABLE", "the model runners are starting; retry shortly", {
    retryAfterMs: WAKING_RETRY_MS,
    phase: "waking",
    cause,
  });
}
