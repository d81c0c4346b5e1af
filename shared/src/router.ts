import { initTRPC, TRPCError } from "@trpc/server";
import { ZodError } from "zod";
import type { Engine } from "./engine";
import { ContextOverflowError, NotReadyError, type Phi4ErrorData, QueueFullError } from "./errors";
import { ChatInput } from "./schemas";

export interface Context {
  requestId?: string;
  /** Who is calling (the edge's key id), for logs and metrics. */
  caller?: string;
}

/** Keep-alive interval on streams: a proxy notices a gone caller only when it writes. */
export const PING_MS = 500;

const t = initTRPC.context<Context>().create({
  isDev: false,
  // `application/json` is auto-compressed (and so buffered) by Cloudflare; JSONL is not.
  jsonl: { contentType: "application/jsonl", pingMs: PING_MS },
  errorFormatter({ shape, error }) {
    const cause = error.cause;
    const data: typeof shape.data & Phi4ErrorData = { ...shape.data };
    let message = shape.message;
    if (cause instanceof ZodError) message = formatZodError(cause);
    if (cause instanceof NotReadyError) {
      data.phase = cause.phase;
      if (cause.progress !== undefined) data.progress = cause.progress;
    }
    if (cause instanceof QueueFullError) data.retryAfterMs = cause.retryAfterMs;
    return { ...shape, message, data };
  },
});

/** `messages.0.role: Invalid option…; temperature: Too big…` — every message names its field. */
export function formatZodError(error: ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length ? issue.path.join(".") : "input"}: ${issue.message}`)
    .join("; ");
}

/**
 * An error whose message was written for callers (no paths, no internals) sets `expose = true`;
 * any other unknown error reaches the caller only as a generic message with the request id.
 */
export interface ExposedError extends Error {
  readonly expose: true;
}

function isExposed(error: unknown): error is ExposedError {
  return error instanceof Error && (error as Partial<ExposedError>).expose === true;
}

/**
 * The one place where domain errors become tRPC errors. Unknown errors keep their text out of
 * the reply (the engine logs it with `requestId`, which the reply names so both can be matched).
 */
export function toTRPCError(error: unknown, signal?: AbortSignal, requestId?: string): TRPCError {
  if (error instanceof TRPCError) return error;
  if (signal?.aborted) {
    return new TRPCError({
      code: "CLIENT_CLOSED_REQUEST",
      message: "caller went away",
      cause: error,
    });
  }
  if (error instanceof NotReadyError) {
    return new TRPCError({ code: "SERVICE_UNAVAILABLE", message: error.message, cause: error });
  }
  if (error instanceof QueueFullError) {
    return new TRPCError({ code: "TOO_MANY_REQUESTS", message: error.message, cause: error });
  }
  if (error instanceof ContextOverflowError) {
    return new TRPCError({ code: "BAD_REQUEST", message: error.message, cause: error });
  }
  const message = isExposed(error)
    ? error.message
    : `internal error${requestId ? ` (request id ${requestId})` : ""}`;
  return new TRPCError({ code: "INTERNAL_SERVER_ERROR", message, cause: error });
}

/** The API every side speaks, implemented over an Engine. */
export function createAppRouter(engine: Engine) {
  return t.router({
    chat: t.procedure.input(ChatInput).mutation(async function* ({ input, signal, ctx }) {
      const abort = signal ?? new AbortController().signal;
      try {
        yield* engine.chat(input, { signal: abort, requestId: ctx.requestId });
      } catch (error) {
        throw toTRPCError(error, abort, ctx.requestId);
      }
    }),
    model: t.procedure.query(async ({ ctx }) => {
      try {
        return await engine.model();
      } catch (error) {
        throw toTRPCError(error, undefined, ctx.requestId);
      }
    }),
  });
}

export type AppRouter = ReturnType<typeof createAppRouter>;
