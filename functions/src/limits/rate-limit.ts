import type { MiddlewareHandler } from "hono";
import type { EdgeEnv } from "../edge-env";
import { EdgeError } from "../http/edge-error";

/**
 * Per-caller limits, kept by the caller's KeyLimiter: requests per minute and open streams
 * (each pass-through request holds one until its response body ends). Defaults come from the
 * config, overrides from the key's record. A refusal is a 429 with `Retry-After`.
 */
export function rateLimit(): MiddlewareHandler<EdgeEnv> {
  return async function rateLimit(c, next) {
    const config = c.get("config");
    const caller = c.get("caller");
    const limiter = config.LIMITER.get(config.LIMITER.idFromName(caller.id));
    const admission = await limiter.admit({
      perMinute: caller.limits.perMinute ?? config.RATE_LIMIT_PER_MINUTE,
      streams: caller.limits.streams ?? config.CONCURRENT_STREAMS,
    });
    if (!admission.ok) {
      const message =
        admission.reason === "streams"
          ? "too many concurrent streams for this caller"
          : "too many requests per minute for this caller";
      throw new EdgeError("TOO_MANY_REQUESTS", message, { retryAfterMs: admission.retryAfterMs });
    }
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      await limiter.release(admission.lease);
    };
    c.set("release", release);
    try {
      await next();
    } finally {
      // The proxy takes the lease along with a streamed body; otherwise it ends here.
      if (!c.get("streaming")) c.executionCtx.waitUntil(release());
    }
  };
}
