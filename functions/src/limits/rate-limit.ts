import type { MiddlewareHandler } from "hono";
import type { EdgeEnv } from "../edge-env";
import { EdgeError } from "../http/edge-error";
import type { Admission, EffectiveLimits } from "./limiter-book";
import { SpareAdmissions } from "./spare-admissions";
import { SpareClaim } from "./spare-claim";

/**
 * How long a request on a spare may run before its claim goes out alone. A short request ends
 * sooner and claims and releases in one call; a stream is claimed while it waits for the
 * runner's first bytes. Far below half a spare's life, the margin a claim has to arrive.
 */
const CLAIM_AFTER_MS = 100;
/** Per limiter namespace (one in production): a spare is only claimed where it was granted. */
const sparesByNamespace = new WeakMap<object, SpareAdmissions>();

/**
 * Per-caller limits, kept by the caller's KeyLimiter: requests per minute and open streams
 * (each pass-through request holds one until its response body ends). Defaults come from the
 * config, overrides from the key's record. A refusal is a 429 with `Retry-After`.
 *
 * A request that finds a fresh spare admission for its caller in this isolate goes on without
 * waiting for the limiter (a round trip to wherever the object lives) and claims the spare in
 * the background (SpareClaim); the claim brings the next spare back.
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
    let claim: SpareClaim | undefined;
    if (spare) {
      c.set("spare", true);
      const kept = spares;
      claim = new SpareClaim(
        (released) =>
          limiter
            .claim(lease, limits, released)
            .then((answer) => {
              if (answer.late) {
                log.warn({ caller: caller.id }, "late claim: spare expired at the limiter");
              }
              if (answer.spare) kept.keep(caller.id, answer.spare);
            })
            .catch((error) => log.error({ err: String(error) }, "spare claim failed")),
        CLAIM_AFTER_MS,
      );
      c.executionCtx.waitUntil(claim.done);
    } else if (admission.spare) {
      spares.keep(caller.id, admission.spare);
    }

    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      // Once the response's last bytes are out: a call to the limiter made while they were
      // still on their way held them back (3.5-4.5 ms a small request under wrangler dev).
      await scheduler.wait(0);
      if (claim?.endWithRelease()) return claim.done;
      await claim?.done; // so the limiter sees the claim first (it copes with either order)
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
