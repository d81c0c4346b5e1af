import { ERROR_CODES } from "@phi4-edge/shared";
import {
  openAIErrorBody,
  trpcErrorShape,
  WIRE_ERRORS,
  wireErrorHeaders,
} from "@phi4-edge/shared/wire-errors";
import { expect, test } from "vitest";
import { EdgeError, errorResponse } from "./edge-error";

const limited = new EdgeError("TOO_MANY_REQUESTS", "slow down", { retryAfterMs: 1500 });

test("a tRPC caller gets a tRPC error body the stream link parses", async () => {
  const res = errorResponse("/trpc/chat", limited, "r1");
  expect(res.status).toBe(429);
  expect(res.headers.get("retry-after")).toBe("2");
  expect(res.headers.get("x-request-id")).toBe("r1");
  expect(await res.json()).toEqual({
    error: {
      message: "slow down",
      code: -32029,
      data: { code: "TOO_MANY_REQUESTS", httpStatus: 429, path: "chat", retryAfterMs: 1500 },
    },
  });
});

test("an OpenAI caller gets OpenAI's error shape; 401 carries WWW-Authenticate", async () => {
  const res = errorResponse("/v1/models", new EdgeError("UNAUTHORIZED", "no"), "r2");
  expect(res.status).toBe(401);
  expect(res.headers.get("www-authenticate")).toMatch(/^Bearer /);
  expect(await res.json()).toEqual({
    error: { message: "no", type: "authentication_error", param: null, code: "invalid_api_key" },
  });
});

test.each(ERROR_CODES)("%s is written from the contract's wire table", async (code) => {
  const wire = { code, message: "m" };
  const openai = errorResponse("/v1/chat/completions", new EdgeError(code, "m"), "r");
  expect(openai.status).toBe(WIRE_ERRORS[code].status);
  expect(await openai.json()).toEqual(openAIErrorBody(wire));
  for (const [name, value] of Object.entries(wireErrorHeaders(wire))) {
    expect(openai.headers.get(name)).toBe(value);
  }
  const trpc = errorResponse("/trpc/chat", new EdgeError(code, "m"), "r");
  expect(trpc.status).toBe(WIRE_ERRORS[code].status);
  expect(await trpc.json()).toEqual({ error: trpcErrorShape(wire, "chat") });
});
