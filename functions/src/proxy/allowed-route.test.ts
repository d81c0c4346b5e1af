import { expect, test } from "vitest";
import { chatsIn, isAllowedRoute } from "./allowed-route";

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
  ["POST", "/trpc/chat%2Cchat", false],
] as const)("%s %s → %s", (method, path, allowed) => {
  expect(isAllowedRoute(method, path)).toBe(allowed);
});

test.each([
  ["/trpc/chat", 1],
  ["/trpc/model,chat", 1],
  ["/trpc/chat,model,chat", 2],
  ["/trpc/model", 0],
  ["/v1/chat/completions", 1],
] as const)("%s runs %i chats", (path, chats) => {
  expect(chatsIn(path)).toBe(chats);
});
