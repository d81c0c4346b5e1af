import { expect, test } from "vitest";
import { isAllowedRoute } from "./allowed-route";

test.each([
  ["POST", "/trpc/chat", true],
  ["GET", "/trpc/model", true],
  ["GET", "/trpc/model,chat", true],
  ["POST", "/trpc/chat,shutdown", false],
  ["PUT", "/trpc/chat", false],
  ["POST", "/v1/chat/completions", true],
  ["GET", "/v1/chat/completions", false],
  ["GET", "/v1/models", true],
  ["GET", "/metrics", false],
  ["GET", "/readyz", false],
  ["GET", "/healthz", false],
  ["POST", "/v1/completions", false],
  ["GET", "/trpc/", false],
] as const)("%s %s → %s", (method, path, allowed) => {
  expect(isAllowedRoute(method, path)).toBe(allowed);
});
