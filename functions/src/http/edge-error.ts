import type { Phase, Phi4ErrorCode } from "@phi4-edge/shared";
import {
  httpStatus,
  openAIErrorBody,
  trpcErrorShape,
  type WireError,
  wireErrorHeaders,
} from "@phi4-edge/shared/wire-errors";

/** A refusal by the edge itself; becomes a response in one place (`errorResponse`). */
export class EdgeError extends Error {
  override name = "EdgeError";
  readonly status: number;
  constructor(
    /** One of the contract's codes (shared/src/errors.ts). */
    readonly code: Phi4ErrorCode,
    message: string,
    readonly options: { retryAfterMs?: number; phase?: Phase; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.status = httpStatus(code);
  }

  /** The error as the contract's wire table writes it. */
  get wire(): WireError {
    const { retryAfterMs, phase } = this.options;
    return { code: this.code, message: this.message, retryAfterMs, phase };
  }
}

/** Which protocol a path speaks, so an error can be written in it. */
export type Protocol = "trpc" | "openai" | "plain";

export function protocolOf(path: string): Protocol {
  if (path.startsWith("/trpc/")) return "trpc";
  if (path.startsWith("/v1/")) return "openai";
  return "plain";
}

/**
 * The error in the caller's protocol: a tRPC error body on `/trpc` (what the typed client's
 * stream link parses from a non-2xx answer), OpenAI's shape on `/v1`, plain JSON elsewhere.
 * Status and headers (`WWW-Authenticate`, `Retry-After`) come from the contract's wire table.
 */
export function errorResponse(path: string, error: EdgeError, requestId: string): Response {
  const wire = error.wire;
  const headers = new Headers({
    "content-type": "application/json",
    "x-request-id": requestId,
    ...wireErrorHeaders(wire),
  });
  let body: unknown;
  const protocol = protocolOf(path);
  if (protocol === "trpc") body = { error: trpcErrorShape(wire, path.slice("/trpc/".length)) };
  else if (protocol === "openai") body = openAIErrorBody(wire);
  else body = { error: { code: wire.code, message: wire.message } };
  return new Response(JSON.stringify(body), { status: error.status, headers });
}
