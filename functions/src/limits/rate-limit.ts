import type { MiddlewareHandler } from "hono";
import type { EdgeEnv } from "../edge-env";
import { EdgeError } from "../http/edge-error";
import type { Admission, EffectiveLimits } from "./limiter-book";
import { SpareAdmissions } from "./spare-admissions";

/** Per limiter namespace (one in production): a spare is only claimed where it was granted. */
const sparesByNamespace = new WeakMap<object, SpareAdmissions>();

/**
 * Per-caller limits, kept by the caller's KeyLimiter: requests per minute and open streams
 * (each pass-through request holds one until its response body ends). Defaults come from the
 * config, overrides from the key's record. A refusal is a 429 with `Retry-After`.
 *
 * A request that finds a fresh spare admission for its caller in this isolate goes on without
 * waiting for the limiter (a round trip to wherever the object lives) and claims the spare in
 * the background; the claim brings the next spare back.
 */
export function rateLimit(): MiddlewareHandler<EdgeEnv> {
  return async function rateLimit(c, next) {
    const config = c.get("config");
    const caller = c.get("caller");
    const log = c.get("log");
    const ttl = config.LIMITER_SPARE_MS;
    const limiter = config.LIMITER.get(config.LIMITER.idFromName(caller.id));
    const limits: EffectiveLimits = {
      perMinute: caller.limits.perMinute ?? config.RATE_LIMIT_PER_MINUTE,
      streams: caller.limits.streams ?? config.CONCURRENT_STREAMS,
      spareTtlMs: ttl,
    };
    let spares = sparesByNamespace.get(config.LIMITER);
    if (!spares) {
      spares = new SpareAdmissions();
      sparesByNamespace.set(config.LIMITER, spares);
    }

    // A fresh spare admits this request at once; otherwise the limiter decides, on the path.
    const held = spares.take(caller.id, ttl);
    let spare = held.fresh;
    let admission: Admission = spare
      ? { ok: true, lease: spare }
      : await limiter.admit(limits, held.stale);
    if (!admission.ok) {
      // A spare granted to this isolate may have arrived while the limiter counted it
      // against this very request: then that spare is this request's slot.
      const arrived = spares.take(caller.id, ttl);
      spare = arrived.fresh;
      if (spare) admission = { ok: true, lease: spare };
      else if (arrived.stale) admission = await limiter.admit(limits, arrived.stale);
    }
    if (!admission.ok) {
      const message =
        admission.reason === "streams"
          ? "too many concurrent streams for this caller"
          : "too many requests per minute for this caller";
      throw new EdgeError("TOO_MANY_REQUESTS", message, { retryAfterMs: admission.retryAfterMs });
    }
    const lease = admission.lease;
    let claimed: Promise<unknown> = Promise.resolve();
    if (spare) {
      c.set("spare", true);
      const kept = spares;
      claimed = limiter
        .claim(spare, limits)
        .then((claim) => {
          if (claim.late)
            log.warn({ caller: caller.id }, "late claim: spare expired at the limiter");
          if (claim.spare) kept.keep(caller.id, claim.spare);
        })
        .catch((error) => log.error({ err: String(error) }, "spare claim failed"));
      c.executionCtx.waitUntil(claimed);
    } else if (admission.spare) {
      spares.keep(caller.id, admission.spare);
    }

    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      // After the claim, so the limiter usually sees them in order (it copes with either).
      await claimed;
      await limiter.release(lease);
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
