import { TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import { TRPC_ERROR_CODES_BY_KEY } from "@trpc/server/rpc";
import { describe, expect, test } from "vitest";
import {
  ContextOverflowError,
  ERROR_CODES,
  NotReadyError,
  openAIErrorBody,
  QueueFullError,
  toWireError,
  trpcErrorShape,
  WIRE_ERRORS,
  wireErrorHeaders,
} from "../src/index.js";

// Every contract code, one row: HTTP status, OpenAI type and code, Retry-After seconds by default.
const ROWS = {
  BAD_REQUEST: [400, "invalid_request_error", "bad_request", null],
  UNAUTHORIZED: [401, "authentication_error", "invalid_api_key", null],
  NOT_FOUND: [404, "invalid_request_error", "not_found", null],
  PAYLOAD_TOO_LARGE: [413, "invalid_request_error", "payload_too_large", null],
  TOO_MANY_REQUESTS: [429, "rate_limit_error", "rate_limit_exceeded", "1"],
  CLIENT_CLOSED_REQUEST: [499, "invalid_request_error", "client_closed_request", null],
  INTERNAL_SERVER_ERROR: [500, "server_error", "internal_server_error", null],
  BAD_GATEWAY: [502, "server_error", "bad_gateway", null],
  SERVICE_UNAVAILABLE: [503, "server_error", "service_unavailable", "5"],
  GATEWAY_TIMEOUT: [504, "server_error", "gateway_timeout", null],
} as const;

describe.each(ERROR_CODES)("%s", (code) => {
  const [status, type, openaiCode, retryAfter] = ROWS[code];
  const wire = { code, message: "m" };

  test("has exactly one row, with tRPC's own HTTP status", () => {
    expect(Object.keys(WIRE_ERRORS).filter((c) => c === code)).toHaveLength(1);
    expect(WIRE_ERRORS[code].status).toBe(status);
    expect(getHTTPStatusCodeFromError(new TRPCError({ code }))).toBe(status);
  });

  test("is written the same way in each protocol", () => {
    expect(openAIErrorBody(wire)).toEqual({
      error: { message: "m", type, param: null, code: openaiCode },
    });
    const shape = trpcErrorShape(wire, "chat");
    expect(shape).toMatchObject({
      message: "m",
      code: TRPC_ERROR_CODES_BY_KEY[code],
      data: { code, httpStatus: status, path: "chat" },
    });
    const headers = wireErrorHeaders(wire);
    expect(headers["retry-after"] ?? null).toBe(retryAfter);
    expect(shape.data.retryAfterMs).toBeUndefined();
    const hinted = trpcErrorShape({ ...wire, retryAfterMs: 2_500 });
    expect(hinted.data.retryAfterMs).toBe(2_500);
    expect(wireErrorHeaders({ ...wire, retryAfterMs: 2_500 })["retry-after"]).toBe("3");
    expect("www-authenticate" in headers).toBe(code === "UNAUTHORIZED");
  });
});

test("the table has no row beyond the contract's codes", () => {
  expect(Object.keys(WIRE_ERRORS).sort()).toEqual([...ERROR_CODES].sort());
});

test("domain errors map onto codes and carry their own hints", () => {
  const full = toWireError(new QueueFullError(2_500));
  expect(full).toMatchObject({ code: "TOO_MANY_REQUESTS", retryAfterMs: 2_500 });
  expect(wireErrorHeaders(full)["retry-after"]).toBe("3");
  const loading = toWireError(new NotReadyError("loading", 0.5));
  expect(loading).toMatchObject({ code: "SERVICE_UNAVAILABLE", phase: "loading", progress: 0.5 });
  expect(toWireError(new ContextOverflowError(10, 5)).code).toBe("BAD_REQUEST");
  expect(toWireError(new TRPCError({ code: "UNAUTHORIZED" })).code).toBe("UNAUTHORIZED");
  // Unknown errors never leak their text.
  expect(toWireError(new Error("/secret/path"), undefined, "r1")).toEqual({
    code: "INTERNAL_SERVER_ERROR",
    message: "internal error (request id r1)",
  });
  const gone = new AbortController();
  gone.abort();
  expect(toWireError(new Error("x"), gone.signal).code).toBe("CLIENT_CLOSED_REQUEST");
});
