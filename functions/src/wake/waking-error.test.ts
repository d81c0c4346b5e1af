import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { ChatEvent } from "@phi4-edge/shared";
import { createPhi4Client, errorCode } from "@phi4-edge/shared/client";
import { afterAll, beforeAll, expect, test } from "vitest";
import { errorResponse } from "../http/edge-error";
import { isNoRunnerResponse, wakingError } from "./waking-error";

test("the load balancer's own 503 page means no runner; a runner's JSON 503 does not", () => {
  const alb = new Response(
    "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
    {
      status: 503,
      headers: { "content-type": "text/html" },
    },
  );
  const runner = new Response(JSON.stringify({ error: { data: { phase: "downloading" } } }), {
    status: 503,
    headers: { "content-type": "application/json" },
  });
  expect(isNoRunnerResponse(alb)).toBe(true);
  expect(isNoRunnerResponse(runner)).toBe(false);
  expect(isNoRunnerResponse(new Response("ok", { status: 200 }))).toBe(false);
});

// The edge's answer over real HTTP, read by the real typed client.
let server: Server;
let url: string;
let requests = 0;
beforeAll(async () => {
  server = createServer(async (req, res) => {
    requests++;
    const answer = errorResponse(req.url ?? "/", wakingError(), "req-1");
    res.writeHead(answer.status, Object.fromEntries(answer.headers));
    res.end(await answer.text());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

test("the waking answer is a 503 with Retry-After that the typed client waits through as 'waking'", async () => {
  const raw = await fetch(`${url}/trpc/chat`, { method: "POST" });
  expect(raw.status).toBe(503);
  expect(raw.headers.get("retry-after")).toBe("10");
  await raw.body?.cancel();

  requests = 0;
  const client = createPhi4Client({ url, apiKey: "k" });
  const events: ChatEvent[] = [];
  for await (const event of client.chat({ messages: [{ role: "user", content: "hi" }] })) {
    events.push(event);
    // Causal, not timed: stop once it has reported, retried and reported again.
    if (events.length === 2) break;
  }
  expect(events).toEqual([
    { type: "status", phase: "waking" },
    { type: "status", phase: "waking" },
  ]);
  expect(requests).toBe(2);
});

test("a client that stops waiting gets the SERVICE_UNAVAILABLE error itself", async () => {
  const client = createPhi4Client({ url, apiKey: "k", waitReadyMs: 0 });
  const chat = client.chat({ messages: [{ role: "user", content: "hi" }] });
  const thrown = await chat.next().then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(errorCode(thrown)).toBe("SERVICE_UNAVAILABLE");
});
