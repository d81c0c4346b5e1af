import { EdgeError } from "../http/edge-error";
import type { WakingAnswer } from "./wake-runner";

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

/** The refusal callers get while runners wake: SERVICE_UNAVAILABLE with a Retry-After. */
export function wakingError(
  answer: Pick<WakingAnswer, "message" | "retryAfterMs"> = {
    message: "the model runners are starting; retry shortly",
    retryAfterMs: 10_000,
  },
  cause?: unknown,
): EdgeError {
  return new EdgeError("SERVICE_UNAVAILABLE", answer.message, {
    retryAfterMs: answer.retryAfterMs,
    phase: "waking",
    cause,
  });
}
