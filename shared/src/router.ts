import { initTRPC } from "@trpc/server";
import { ZodError } from "zod";
import type { Engine } from "./engine.js";
import type { Phi4ErrorData } from "./errors.js";
import { ChatInput } from "./schemas.js";
import {
  formatZodError,
  isContractCode,
  toTRPCError,
  toWireError,
  trpcErrorData,
} from "./wire-errors.js";

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
  // The hints (retryAfterMs, phase, progress) come from the wire-error table like every other
  // error's; the message of a validation error names each field.
  // tRPC's own codes outside the contract (PARSE_ERROR…) keep tRPC's shape.
  errorFormatter({ shape, error }) {
    const data: typeof shape.data & Phi4ErrorData = isContractCode(error.code)
      ? { ...shape.data, ...trpcErrorData(toWireError(error), shape.data.path) }
      : shape.data;
    const message = error.cause instanceof ZodError ? formatZodError(error.cause) : shape.message;
    return { ...shape, message, data };
  },
});

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
