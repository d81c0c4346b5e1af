import {
  openAIErrorBody,
  toWireError,
  WIRE_ERRORS,
  type WireError,
  wireErrorHeaders,
} from "@phi4-edge/shared";

export interface OpenAIErrorReply {
  status: number;
  body: ReturnType<typeof openAIErrorBody>;
  headers: Record<string, string>;
}

/** An error in OpenAI's shape, with its status and headers from the contract's wire table. */
export function openAIReply(error: WireError): OpenAIErrorReply {
  return {
    status: WIRE_ERRORS[error.code].status,
    headers: wireErrorHeaders(error),
    body: openAIErrorBody(error),
  };
}

/** Any failure in OpenAI's shape; domain errors map as they do for tRPC (`toTRPCError`). */
export function openAIError(
  error: unknown,
  signal?: AbortSignal,
  requestId?: string,
): OpenAIErrorReply {
  return openAIReply(toWireError(error, signal, requestId));
}

/** A validation failure of the request body. */
export function invalidRequest(message: string, param: string | null = null): OpenAIErrorReply {
  return openAIReply({ code: "BAD_REQUEST", message, param });
}

/** The reply as a Response. */
export function openAIErrorResponse(reply: OpenAIErrorReply): Response {
  return Response.json(reply.body, { status: reply.status, headers: reply.headers });
}
