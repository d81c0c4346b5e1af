import { TRPCError } from "@trpc/server";
import { TRPC_ERROR_CODES_BY_KEY } from "@trpc/server/rpc";
import type { ZodError } from "zod";
import {
  ContextOverflowError,
  isExposed,
  NotReadyError,
  type Phi4ErrorCode,
  type Phi4ErrorData,
  QueueFullError,
  UnavailableError,
} from "./errors.js";
import type { Phase } from "./events.js";

/** How one contract code looks on the wire, in every protocol. */
export interface WireRow {
  /** HTTP status (the one tRPC itself gives the code). */
  status: number;
  /** OpenAI's error `type` and `code`. */
  openai: { type: string; code: string };
  /** Wait the caller is told when the error carries no hint of its own; undefined: no retry. */
  retryAfterMs?: number;
}

/**
 * The one table of wire errors: contract code → HTTP status → OpenAI `type`/`code` →
 * `Retry-After`. The edge and the runner write every error through it, so a caller sees the
 * same answer whichever side refused.
 */
export const WIRE_ERRORS: Record<Phi4ErrorCode, WireRow> = {
  BAD_REQUEST: { status: 400, openai: { type: "invalid_request_error", code: "bad_request" } },
  UNAUTHORIZED: {
    status: 401,
    openai: { type: "authentication_error", code: "invalid_api_key" },
  },
  NOT_FOUND: { status: 404, openai: { type: "invalid_request_error", code: "not_found" } },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    openai: { type: "invalid_request_error", code: "payload_too_large" },
  },
  TOO_MANY_REQUESTS: {
    status: 429,
    openai: { type: "rate_limit_error", code: "rate_limit_exceeded" },
    retryAfterMs: 1_000,
  },
  CLIENT_CLOSED_REQUEST: {
    status: 499,
    openai: { type: "invalid_request_error", code: "client_closed_request" },
  },
  INTERNAL_SERVER_ERROR: {
    status: 500,
    openai: { type: "server_error", code: "internal_server_error" },
  },
  BAD_GATEWAY: { status: 502, openai: { type: "server_error", code: "bad_gateway" } },
  SERVICE_UNAVAILABLE: {
    status: 503,
    openai: { type: "server_error", code: "service_unavailable" },
    retryAfterMs: 5_000,
  },
  GATEWAY_TIMEOUT: { status: 504, openai: { type: "server_error", code: "gateway_timeout" } },
};

/** An error as it goes on the wire: a contract code, a message for callers and its data. */
export interface WireError extends Phi4ErrorData {
  code: Phi4ErrorCode;
  message: string;
  /** OpenAI's `param`: the request field at fault, in the caller's own naming. */
  param?: string | null;
}

export function isContractCode(code: string): code is Phi4ErrorCode {
  return Object.hasOwn(WIRE_ERRORS, code);
}

/** The HTTP status of a contract code. */
export function httpStatus(code: Phi4ErrorCode): number {
  return WIRE_ERRORS[code].status;
}

/** The retry hint a caller gets: the error's own, else the table's default for its code. */
export function retryAfterMs(error: WireError): number | undefined {
  return error.retryAfterMs ?? WIRE_ERRORS[error.code].retryAfterMs;
}

/** Response headers of an error: `Retry-After` (whole seconds, at least 1), `WWW-Authenticate`. */
export function wireErrorHeaders(error: WireError): Record<string, string> {
  const headers: Record<string, string> = {};
  const wait = retryAfterMs(error);
  if (wait !== undefined) headers["retry-after"] = String(Math.max(1, Math.ceil(wait / 1000)));
  if (error.code === "UNAUTHORIZED") headers["www-authenticate"] = 'Bearer realm="phi4-edge"';
  return headers;
}

/** OpenAI's error body: `{ error: { message, type, param, code } }`. */
export function openAIErrorBody(error: WireError) {
  const { type, code } = WIRE_ERRORS[error.code].openai;
  return { error: { message: error.message, type, param: error.param ?? null, code } };
}

/**
 * The error data the typed client reads (`error.data`): code, status, path and the hints. Only
 * a hint of the error's own goes in `retryAfterMs` (the client backs off by itself otherwise);
 * the table's default is for HTTP callers, in `Retry-After`.
 */
export function trpcErrorData(error: WireError, path?: string) {
  const wait = error.retryAfterMs;
  return {
    code: error.code,
    httpStatus: httpStatus(error.code),
    ...(path === undefined ? {} : { path }),
    ...(wait === undefined ? {} : { retryAfterMs: wait }),
    ...(error.phase === undefined ? {} : { phase: error.phase }),
    ...(error.progress === undefined ? {} : { progress: error.progress }),
  };
}

/**
 * tRPC's error shape `{ message, code, data }`: the body of a non-2xx tRPC answer (inside
 * `{ error }`) and the error chunk of a JSONL stream.
 */
export function trpcErrorShape(error: WireError, path?: string) {
  return {
    message: error.message,
    code: TRPC_ERROR_CODES_BY_KEY[error.code],
    data: trpcErrorData(error, path),
  };
}

/** `messages.0.role: Invalid option…; temperature: Too big…` — every message names its field. */
export function formatZodError(error: ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length ? issue.path.join(".") : "input"}: ${issue.message}`)
    .join("; ");
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
  if (error instanceof NotReadyError || error instanceof UnavailableError) {
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

/** Any failure as a WireError: domain errors by `toTRPCError`, their hints from the cause. */
export function toWireError(error: unknown, signal?: AbortSignal, requestId?: string): WireError {
  const trpc = toTRPCError(error, signal, requestId);
  const code = isContractCode(trpc.code) ? trpc.code : "INTERNAL_SERVER_ERROR";
  const wire: WireError = { code, message: trpc.message };
  const cause = trpc.cause;
  if (cause instanceof NotReadyError) {
    wire.phase = cause.phase satisfies Phase;
    if (cause.progress !== undefined) wire.progress = cause.progress;
    if (cause.retryAfterMs !== undefined) wire.retryAfterMs = cause.retryAfterMs;
  }
  if (cause instanceof UnavailableError && cause.retryAfterMs !== undefined) {
    wire.retryAfterMs = cause.retryAfterMs;
  }
  if (cause instanceof QueueFullError) wire.retryAfterMs = cause.retryAfterMs;
  return wire;
}
