import { createAppRouter, type Engine, toWireError, wireErrorHeaders } from "@phi4-edge/shared";
import { TRPCError } from "@trpc/server";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { Hono } from "hono";
import type pino from "pino";
import { DrainingError } from "../engine/engine-errors";
import type { Readiness } from "../engine/readiness";
import { bearerAuth, bearerChecker } from "./bearer-auth";
import type { Metrics } from "./metrics";
import { openAIError, openAIErrorResponse, openAIReply } from "./openai-error";
import { openAIRoutes } from "./openai-routes";
import { type RunnerVariables, requestContext } from "./request-context";

/** What the server needs from the engine beyond the contract's Engine. */
export interface RunnerEngine extends Engine {
  readiness(): Readiness;
}

export interface CreateAppOptions {
  engine: RunnerEngine;
  logger: pino.Logger;
  metrics: Metrics;
  /** Bearer secret; undefined only with RUNNER_INSECURE=1. */
  secret: string | undefined;
  /** The id `/v1/models` lists and completions echo. */
  modelId: string;
}

/**
 * The runner's HTTP surface: `/trpc` (the typed contract), `/v1` (OpenAI-compatible),
 * `/healthz`, `/readyz`, `/metrics`. Everything but the two probes needs the bearer secret.
 */
export function createApp(options: CreateAppOptions) {
  const { engine, metrics } = options;
  const check = bearerChecker(options.secret);
  const router = createAppRouter(engine);
  const app = new Hono<{ Variables: RunnerVariables }>();

  app.use(requestContext(options.logger));

  app.get("/healthz", (c) => c.json({ ok: true }));
  app.get("/readyz", (c) => {
    const readiness = engine.readiness();
    return c.json(readiness, readiness.phase === "ready" ? 200 : 503);
  });

  // tRPC answers 401 itself (createContext below) so typed clients see a proper tRPC error.
  app.all("/trpc/*", (c) =>
    fetchRequestHandler({
      endpoint: "/trpc",
      req: c.req.raw,
      router,
      createContext: () => {
        if (!check(c.req.header("authorization"))) {
          metrics.unauthorized();
          throw new TRPCError({ code: "UNAUTHORIZED", message: "missing or wrong bearer token" });
        }
        // A real 503 (with Retry-After), not an error inside a 200 stream.
        if (engine.readiness().phase === "draining") {
          const cause = new DrainingError();
          throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: cause.message, cause });
        }
        return { requestId: c.get("requestId"), caller: c.req.header("x-phi4-caller") };
      },
      // Retry-After and WWW-Authenticate on refusals, as on the OpenAI routes.
      responseMeta: ({ errors }) =>
        errors[0] ? { headers: wireErrorHeaders(toWireError(errors[0])) } : {},
      onError: ({ error, path }) => {
        if (error.code === "INTERNAL_SERVER_ERROR") {
          c.get("log").error({ path, err: error.message }, "trpc error");
        }
      },
    }),
  );

  const auth = bearerAuth(check, () => metrics.unauthorized());
  app.use("/v1/*", auth);
  app.use("/metrics", auth);
  app.route("/v1", openAIRoutes(engine, options.modelId));
  app.get("/metrics", async (c) =>
    c.text(await metrics.render(), 200, { "content-type": metrics.contentType }),
  );

  app.notFound((c) =>
    openAIErrorResponse(
      openAIReply({ code: "NOT_FOUND", message: `no route ${c.req.method} ${c.req.path}` }),
    ),
  );
  app.onError((error, c) => {
    c.get("log")?.error({ err: error.message }, "unhandled error");
    return openAIErrorResponse(openAIError(error, undefined, c.get("requestId")));
  });
  return app;
}
