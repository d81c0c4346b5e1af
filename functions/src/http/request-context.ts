import type { MiddlewareHandler } from "hono";
import type { EdgeEnv } from "../edge-env";
import { createLogger } from "./logger";

// hono's requestId() would replace any id with a `.` or `:` (`trace-abc.123`, X-Ray's
// `Root=1-…`), so callers' trace ids would not reach the runner's logs: kept by hand.
const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * Gives every request an id (the caller's `x-request-id` when sane, a new one otherwise) and a
 * logger carrying it, answers with the id, and logs one access line after the response.
 */
export function requestContext(): MiddlewareHandler<EdgeEnv> {
  const root = createLogger({ service: "edge" });
  return async function requestContext(c, next) {
    const incoming = c.req.header("x-request-id");
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    const log = root.child({ requestId });
    c.set("requestId", requestId);
    c.set("log", log);
    const started = Date.now();
    await next();
    c.header("x-request-id", requestId);
    const fields = {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      caller: c.get("caller")?.id,
      // Admitted on a spare, without waiting for the limiter (absent otherwise).
      spare: c.get("spare") || undefined,
      ms: Date.now() - started,
    };
    // Written once the response has gone: the caller never waits for a log line.
    c.executionCtx.waitUntil(scheduler.wait(0).then(() => log.info(fields, "request")));
  };
}
