import { randomUUID } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import type pino from "pino";

export interface RunnerVariables {
  requestId: string;
  log: pino.Logger;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * Gives each request an id (the edge's `x-request-id` when it is sane, a new one otherwise),
 * a child logger carrying it, and one access-log line with status and duration. Never logs
 * bodies or headers.
 */
export function requestContext(
  logger: pino.Logger,
): MiddlewareHandler<{ Variables: RunnerVariables }> {
  return async function requestContext(c, next) {
    const given = c.req.header("x-request-id");
    const requestId = given && REQUEST_ID.test(given) ? given : randomUUID();
    const log = logger.child({ requestId });
    c.set("requestId", requestId);
    c.set("log", log);
    const started = performance.now();
    await next();
    c.res.headers.set("x-request-id", requestId);
    const path = c.req.path;
    if (path === "/healthz" || path === "/readyz" || path === "/metrics") return;
    log.info(
      {
        method: c.req.method,
        path,
        status: c.res.status,
        caller: c.req.header("x-phi4-caller"),
        ms: Math.round(performance.now() - started),
      },
      "request",
    );
  };
}
