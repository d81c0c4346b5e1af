import { createLogger } from "../http/logger";
import type { RunnerUnavailablePolicy } from "../proxy/runner-unavailable";
import { type WakeOptions, type WakeOutcome, wakeRunner } from "./wake-runner";
import { wakingError } from "./waking-error";

/**
 * The policy where runners scale to zero (the wake bindings are set): a runner that cannot be
 * reached, or a load balancer with none registered, means "being woken" — callers get
 * SERVICE_UNAVAILABLE/waking with a Retry-After and wait — and the runners' service is woken
 * in the background. Without the bindings (local development) it keeps the edge's own answers.
 * `onOutcome` sees what waking did (for logs and tests).
 */
export function createWakeOnUnavailable(
  options: WakeOptions & { onOutcome?: (outcome: WakeOutcome) => void } = {},
): RunnerUnavailablePolicy {
  const log = createLogger({ service: "edge", component: "wake" });
  return {
    refusal(event, { wake }) {
      const woken = event.reason === "unreachable" || event.reason === "no-runner";
      return wake && woken ? wakingError() : undefined;
    },
    async notify(event, { wake }) {
      if (!wake) return;
      try {
        const outcome = await wakeRunner(wake, options);
        const fields = { requestId: event.requestId, reason: event.reason, action: outcome.action };
        if (outcome.error) log.error({ ...fields, err: outcome.error.message }, "wake failed");
        else log.info(fields, "wake");
        options.onOutcome?.(outcome);
      } catch {
        // Aborted: the isolate is going away, and the caller already has its answer.
      }
    },
  };
}
