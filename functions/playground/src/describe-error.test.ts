import { TRPCClientError } from "@trpc/client";
import { describe, expect, test } from "vitest";
import { describeError } from "./describe-error";

/** An error as the typed client deserializes it from the edge's tRPC error envelope. */
function contractError(code: string, data: Record<string, unknown> = {}, message = "refused") {
  return TRPCClientError.from({ error: { message, code: -32600, data: { code, ...data } } });
}

describe("describeError", () => {
  test("says what to do for each contract error", () => {
    expect(describeError(contractError("UNAUTHORIZED"))).toMatch(/API key was refused/);
    expect(describeError(contractError("TOO_MANY_REQUESTS", { retryAfterMs: 12_300 }))).toBe(
      "Too many requests for this key. Retry in 13 s.",
    );
    expect(describeError(contractError("TOO_MANY_REQUESTS", { retryAfterMs: 600_000 }))).toMatch(
      /Retry in 10 min\.$/,
    );
    expect(describeError(contractError("SERVICE_UNAVAILABLE", { phase: "waking" }))).toMatch(
      /not ready yet \(waking\)/,
    );
    expect(describeError(contractError("BAD_REQUEST", {}, "maxTokens: too big"))).toBe(
      "The request was refused: maxTokens: too big",
    );
    expect(describeError(contractError("PAYLOAD_TOO_LARGE"))).toMatch(/too long/);
    expect(describeError(contractError("BAD_GATEWAY"))).toMatch(/cannot reach the model runner/);
    expect(describeError(contractError("GATEWAY_TIMEOUT"))).toMatch(/did not answer in time/);
  });

  test("names an unreachable edge, and passes other messages through", () => {
    expect(describeError(new TypeError("Failed to fetch"))).toBe(
      "Cannot reach the edge. Is it running?",
    );
    expect(
      describeError(contractError("INTERNAL_SERVER_ERROR", {}, "internal error (request id r1)")),
    ).toBe("internal error (request id r1)");
  });
});
