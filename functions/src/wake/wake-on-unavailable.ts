import { createLogger } from "../http/logger";
import type { OnRunnerUnavailable } from "../proxy/runner-unavailable";
import { type WakeOptions, type WakeOutcome, wakeRunner } from "./wake-runner";

/**
 * The pass-through's `onRunnerUnavailable` hook: wakes the runners' service when the edge
 * could not be served (unreachable, timeout, 503). Does nothing without the wake bindings
 * (local development); never throws. `onOutcome` sees what happened (for logs and tests).
 */
export function createWakeOnUnavailable(
  options: WakeOptions & {
    onOutcome?: (outcome: WakeOutcome) => void;
    /** Another ECS endpoint (a VPC or FIPS endpoint; tests: a local stand-in). */
    endpoint?: string;
  } = {},
): OnRunnerUnavailable {
  const log = createLogger({ service: "edge", component: "wake" });
  return async function wakeOnUnavailable(event, { wake }) {
    if (!wake) return;
    const config = options.endpoint ? { ...wake, endpoint: options.endpoint } : wake;
    try {
      const outcome = await wakeRunner(config, options);
      const fields = { requestId: event.requestId, reason: event.reason, action: outcome.action };
      if (outcome.error) log.error({ ...fields, err: outcome.error.message }, "wake failed");
      else log.info(fields, "wake");
      options.onOutcome?.(outcome);
    } catch {
      // Aborted: the isolate is going away, and the caller already has its answer.
    }
  };
}
