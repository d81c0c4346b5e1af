import type { Phase } from "./events.js";

/**
 * Domain errors an Engine throws. They become TRPCErrors in one place (`toTRPCError`) and reach
 * the wire through one table (`WIRE_ERRORS`, ./wire-errors.ts). The codes below are the closed list callers can see: the runner's, then the
 * edge's own refusals (unknown route, body too large, runner unreachable or silent).
 */
export const ERROR_CODES = [
  "BAD_REQUEST",
  "UNAUTHORIZED",
  "TOO_MANY_REQUESTS",
  "SERVICE_UNAVAILABLE",
  "CLIENT_CLOSED_REQUEST",
  "INTERNAL_SERVER_ERROR",
  "NOT_FOUND",
  "PAYLOAD_TOO_LARGE",
  "BAD_GATEWAY",
  "GATEWAY_TIMEOUT",
] as const;
export type Phi4ErrorCode = (typeof ERROR_CODES)[number];

/** The model is not loaded yet (cold start). Callers may retry; `phase`/`progress` say how far. */
export class NotReadyError extends Error {
  override name = "NotReadyError";
  /** When to retry, if the thrower knows better than the table's default. */
  retryAfterMs?: number;
  constructor(
    readonly phase: Phase,
    readonly progress?: number,
    options?: ErrorOptions,
  ) {
    super(
      `model not ready: ${phase}${progress === undefined ? "" : ` ${Math.round(progress * 100)}%`}`,
      options,
    );
  }
}

/**
 * The runner cannot take the call, though the model is loaded (it is shutting down): callers
 * should retry, reaching another runner. SERVICE_UNAVAILABLE with a retry hint and no phase.
 */
export class UnavailableError extends Error {
  override name = "UnavailableError";
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** The queue of waiting requests (or a rate limit) is full. */
export class QueueFullError extends Error {
  override name = "QueueFullError";
  constructor(
    readonly retryAfterMs: number,
    message = "too many requests waiting",
  ) {
    super(message);
  }
}

/** The prompt does not fit in one sequence's context. */
export class ContextOverflowError extends Error {
  override name = "ContextOverflowError";
  constructor(
    readonly promptTokens: number,
    readonly contextSize: number,
    /** `promptTokens` is a lower bound (the prompt was refused before it was tokenized whole). */
    readonly atLeast = false,
  ) {
    super(
      `prompt is ${atLeast ? "at least " : ""}${promptTokens} tokens but the context holds ${contextSize}`,
    );
  }
}

/** Extra fields an error carries to the caller in `error.data`. */
export interface Phi4ErrorData {
  phase?: Phase;
  progress?: number;
  retryAfterMs?: number;
}

/**
 * An error whose message was written for callers (no paths, no internals) sets `expose = true`;
 * any other unknown error reaches the caller only as a generic message with the request id.
 */
export interface ExposedError extends Error {
  readonly expose: true;
}

export function isExposed(error: unknown): error is ExposedError {
  return error instanceof Error && (error as Partial<ExposedError>).expose === true;
}
