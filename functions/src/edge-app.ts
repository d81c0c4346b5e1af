import { Hono } from "hono";
import { cors } from "hono/cors";
import { authenticate } from "./auth/authenticate";
import type { EdgeEnv } from "./edge-env";
import { ConfigError, type EdgeConfig, edgeConfig } from "./env";
import { EdgeError, errorResponse } from "./http/edge-error";
import { requestContext } from "./http/request-context";
import { rateLimit } from "./limits/rate-limit";
import { chatsIn, isAllowedRoute } from "./proxy/allowed-route";
import { passThrough } from "./proxy/pass-through";
import { KEEP_REFUSALS, type RunnerUnavailablePolicy } from "./proxy/runner-unavailable";

export interface EdgeAppOptions {
  /** The seam for waking a runner scaled to zero. Default: nothing. */
  onRunnerUnavailable?: RunnerUnavailablePolicy;
}

/**
 * The edge: request id → config → CORS → allow-list (404, batches of chats 400) → auth (401) → limits (429) →
 * streaming pass-through to the runner.
 */
export function createEdgeApp(options: EdgeAppOptions = {}) {
  const app = new Hono<EdgeEnv>();

  app.use(requestContext());
  app.use(async function loadConfig(c, next) {
    c.set("config", edgeConfig(c.env as object));
    await next();
  });
  app.use(
    cors({
      origin: (origin, c) => {
        const allowed = (c.get("config") as EdgeConfig).CORS_ORIGINS;
        if (allowed.includes("*")) return "*";
        return allowed.includes(origin) ? origin : null;
      },
      allowMethods: ["GET", "POST", "OPTIONS"],
      allowHeaders: ["authorization", "content-type", "trpc-accept", "x-request-id"],
      exposeHeaders: ["x-request-id", "retry-after"],
      maxAge: 600,
    }),
  );

  app.get("/healthz", (c) => c.json({ ok: true }));
  app.use(async function allowList(c, next) {
    if (!isAllowedRoute(c.req.method, c.req.path)) {
      throw new EdgeError("NOT_FOUND", `no route ${c.req.method} ${c.req.path}`);
    }
    if (chatsIn(c.req.path) > 1) {
      throw new EdgeError("BAD_REQUEST", "a batch may hold at most one chat");
    }
    await next();
  });
  app.use(authenticate());
  app.use(rateLimit());
  app.all("*", passThrough({ onRunnerUnavailable: options.onRunnerUnavailable ?? KEEP_REFUSALS }));

  app.onError((error, c) => {
    const requestId = c.get("requestId") ?? crypto.randomUUID();
    const log = c.get("log");
    if (error instanceof EdgeError) {
      if (error.status >= 500) log?.warn({ code: error.code, err: error.message }, "refused");
      return errorResponse(c.req.path, error, requestId);
    }
    if (c.req.raw.signal.aborted) {
      // The caller is gone; nobody reads this.
      return new Response(null, { status: 499 });
    }
    const configError = error instanceof ConfigError;
    log?.error({ err: error.message }, configError ? "bad configuration" : "unhandled error");
    const message = configError ? "the edge is misconfigured" : "internal error";
    return errorResponse(c.req.path, new EdgeError("INTERNAL_SERVER_ERROR", message), requestId);
  });
  return app;
}
