import { NotReadyError, QueueFullError, toTRPCError } from "@phi4-edge/shared";

const BY_CODE: Record<string, { status: number; type: string }> = {
  BAD_REQUEST: { status: 400, type: "invalid_request_error" },
  UNAUTHORIZED: { status: 401, type: "authentication_error" },
  TOO_MANY_REQUESTS: { status: 429, type: "rate_limit_error" },
  SERVICE_UNAVAILABLE: { status: 503, type: "service_unavailable_error" },
  CLIENT_CLOSED_REQUEST: { status: 499, type: "client_closed_request" },
};

export interface OpenAIErrorReply {
  status: number;
  body: { error: { message: string; type: string; param: string | null; code: string } };
  headers: Record<string, string>;
}

/**
 * A failure in OpenAI's error shape. Domain errors go through the contract's `toTRPCError`
 * first, so the OpenAI surface and tRPC agree on every code.
 */
export function openAIError(
  error: unknown,
  signal?: AbortSignal,
  requestId?: string,
): OpenAIErrorReply {
  const trpc = toTRPCError(error, signal, requestId);
  const { status, type } = BY_CODE[trpc.code] ?? { status: 500, type: "server_error" };
  const headers: Record<string, string> = {};
  const cause = trpc.cause;
  if (cause instanceof QueueFullError) {
    headers["retry-after"] = String(Math.max(1, Math.ceil(cause.retryAfterMs / 1000)));
  }
  if (cause instanceof NotReadyError) headers["retry-after"] = "5";
  return {
    status,
    headers,
    body: { error: { message: trpc.message, type, param: null, code: trpc.code.toLowerCase() } },
  };
}

/** A validation failure of the request body. */
export function invalidRequest(message: string, param: string | null = null): OpenAIErrorReply {
  return {
    status: 400,
    headers: {},
    body: { error: { message, type: "invalid_request_error", param, code: "bad_request" } },
  };
}
