import type { Phase, Phi4ErrorCode } from "@phi4-edge/shared";
import { TRPC_ERROR_CODES_BY_KEY } from "@trpc/server/rpc";

const STATUS: Partial<Record<Phi4ErrorCode, number>> = {
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  TOO_MANY_REQUESTS: 429,
  INTERNAL_SERVER_ERROR: 500,
  BAD_GATEWAY: 502,
  SERVICE_UNAVAILABLE: 503,
  GATEWAY_TIMEOUT: 504,
};

const OPENAI_TYPE: Record<number, string> = {
  401: "authentication_error",
  404: "invalid_request_error",
  413: "invalid_request_error",
  429: "rate_limit_error",
};

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
    this.status = STATUS[code] ?? 500;
  }
}

/**
 * The error in the caller's protocol: a tRPC error body on `/trpc` (what the typed client's
 * stream link parses from a non-2xx answer), OpenAI's shape on `/v1`, plain JSON elsewhere.
 * 401 carries `WWW-Authenticate`, 429 and 503 `Retry-After`.
 */
export function errorResponse(path: string, error: EdgeError, requestId: string): Response {
  const { status, code, message } = error;
  const headers = new Headers({ "content-type": "application/json", "x-request-id": requestId });
  if (status === 401) headers.set("www-authenticate", 'Bearer realm="phi4-edge"');
  const retryAfterMs = error.options.retryAfterMs;
  if (retryAfterMs !== undefined) {
    headers.set("retry-after", String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
  }
  let body: unknown;
  if (path.startsWith("/trpc/")) {
    body = {
      error: {
        message,
        code: TRPC_ERROR_CODES_BY_KEY[code],
        data: {
          code,
          httpStatus: status,
          path: path.slice("/trpc/".length),
          ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
          ...(error.options.phase ? { phase: error.options.phase } : {}),
        },
      },
    };
  } else if (path.startsWith("/v1/")) {
    body = {
      error: {
        message,
        type: OPENAI_TYPE[status] ?? "server_error",
        param: null,
        code: code.toLowerCase(),
      },
    };
  } else {
    body = { error: { code, message } };
  }
  return new Response(JSON.stringify(body), { status, headers });
}
