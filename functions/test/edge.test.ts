import type { ChatEvent } from "@phi4-edge/shared";
import { createPhi4Client, errorCode, errorData } from "@phi4-edge/shared/client";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { TINY_REPLY } from "../../gpu-runner/dev/tiny-model/write-tiny-model";
import { keyId, storageKey } from "../src/auth/api-key";
import { savedLimiterStates } from "./saved-limiter-states";
import { seedKeys } from "./seed-keys";
import { runnerMetric, type Stack, startStack, until } from "./with-stack";

const HI = { messages: [{ role: "user" as const, content: "hi" }] };
let stack: Stack;
let keys: Record<string, string>;

beforeAll(async () => {
  stack = await startStack({ edgeVars: { CONCURRENT_STREAMS: "8", MAX_BODY_BYTES: "4096" } });
  keys = await seedKeys(`${stack.dir}/state`, [
    { name: "main" },
    { name: "revoked", revoked: true },
    { name: "per-minute", limits: { perMinute: 2 } },
    { name: "one-stream", limits: { streams: 1 } },
  ]);
}, 120_000);
afterAll(() => stack?.stop());

const client = (key: string) => createPhi4Client({ url: stack.edge.url, apiKey: key });

async function collect(stream: AsyncIterable<ChatEvent>) {
  const events: ChatEvent[] = [];
  for await (const event of stream) events.push(event);
  const text = (type: "reasoning" | "text") =>
    events.map((e) => (e.type === type ? e.text : "")).join("");
  return { events, reasoning: text("reasoning"), text: text("text"), done: events.at(-1) };
}

describe("pass-through", () => {
  test("the typed client gets the exact reply, token by token", async () => {
    const { events, reasoning, text, done } = await collect(client(keys.main!).chat(HI));
    expect(reasoning).toBe(TINY_REPLY.reasoning);
    expect(text).toBe(TINY_REPLY.text);
    expect(done).toMatchObject({ type: "done", finishReason: "stop" });
    expect(events.filter((e) => e.type === "text").length).toBe(TINY_REPLY.text.length);
  });

  test("the openai SDK streams reasoning and content through the edge", async () => {
    const openai = new OpenAI({ baseURL: `${stack.edge.url}/v1`, apiKey: keys.main! });
    const models = await openai.models.list();
    expect(models.data.length).toBeGreaterThan(0);
    const stream = await openai.chat.completions.create({
      model: models.data[0]!.id,
      messages: HI.messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    let reasoning = "";
    let content = "";
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      const delta = chunk.choices[0]?.delta as { content?: string; reasoning_content?: string };
      reasoning += delta?.reasoning_content ?? "";
      content += delta?.content ?? "";
    }
    expect(reasoning).toBe(TINY_REPLY.reasoning);
    expect(content).toBe(TINY_REPLY.text);
    expect(chunks).toBeGreaterThan(50);
  });

  test("request ids are forwarded; the runner secret never reaches the caller", async () => {
    const res = await fetch(`${stack.edge.url}/v1/models`, {
      headers: { authorization: `Bearer ${keys.main}`, "x-request-id": "trace-abc.123" },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toBe("trace-abc.123");
    const raw = `${JSON.stringify([...res.headers])}${await res.text()}`;
    expect(raw).not.toContain(stack.runner.secret);
    await until(() => stack.runner.logs.some((l) => l.includes("trace-abc.123")), "runner log");
    const line = stack.runner.logs.find((l) => l.includes("trace-abc.123"))!;
    expect(line).not.toContain(keys.main!);
  });

  test("the runner refuses calls without its secret", async () => {
    const res = await fetch(`${stack.runner.url}/v1/models`, {
      headers: { authorization: `Bearer ${keys.main}` },
    });
    expect(res.status).toBe(401);
  });

  test("unknown routes are 404 and bodies over the limit 413, before the runner", async () => {
    const auth = { authorization: `Bearer ${keys.main}` };
    for (const [method, path] of [
      ["GET", "/metrics"],
      ["GET", "/readyz"],
      ["POST", "/trpc/shutdown"],
      ["GET", "/v1/chat/completions"],
      ["GET", "/admin"],
    ] as const) {
      const res = await fetch(`${stack.edge.url}${path}`, { method, headers: auth });
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    const big = JSON.stringify({
      model: "m",
      messages: [{ role: "user", content: "x".repeat(5000) }],
    });
    const res = await fetch(`${stack.edge.url}/v1/chat/completions`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: big,
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe(
      "invalid_request_error",
    );
    // Without a Content-Length (chunked), the edge counts as it reads.
    const chunked = await fetch(`${stack.edge.url}/v1/chat/completions`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: new Blob([big]).stream(),
      duplex: "half",
    } as RequestInit);
    expect(chunked.status).toBe(413);
  });
});

describe("auth", () => {
  const cases: [string, () => Record<string, string>][] = [
    ["missing", () => ({})],
    ["not bearer", () => ({ authorization: `Basic ${btoa("a:b")}` })],
    ["empty bearer", () => ({ authorization: "Bearer " })],
    ["malformed key", () => ({ authorization: "Bearer not-a-key" })],
    ["unknown key", () => ({ authorization: `Bearer phi4_${"A".repeat(43)}` })],
    ["revoked key", () => ({ authorization: `Bearer ${keys.revoked}` })],
    ["runner secret", () => ({ authorization: `Bearer ${stack.runner.secret}` })],
  ];

  test.each(cases)(
    "%s → 401 with WWW-Authenticate; nothing reaches the runner",
    async (name, headers) => {
      const id = `t401-${name.replace(/\W/g, "-")}`;
      for (const path of ["/v1/models", "/trpc/model"]) {
        const res = await fetch(`${stack.edge.url}${path}`, {
          headers: { ...headers(), "x-request-id": id },
        });
        expect(res.status).toBe(401);
        expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
        const body = (await res.json()) as { error: { type?: string; data?: { code: string } } };
        if (path.startsWith("/v1")) expect(body.error.type).toBe("authentication_error");
        else expect(body.error.data?.code).toBe("UNAUTHORIZED");
      }
      // A request that does pass, logged after the refused ones: then the log is complete.
      const marker = `${id}-marker`;
      await fetch(`${stack.edge.url}/v1/models`, {
        headers: { authorization: `Bearer ${keys.main}`, "x-request-id": marker },
      });
      await until(() => stack.runner.logs.some((l) => l.includes(marker)), "marker in runner log");
      expect(stack.runner.logs.filter((l) => l.includes(`"${id}"`))).toEqual([]);
    },
  );

  test("the typed client sees UNAUTHORIZED", async () => {
    const error = await client(`phi4_${"B".repeat(43)}`)
      .model()
      .catch((e: unknown) => e);
    expect(errorCode(error)).toBe("UNAUTHORIZED");
  });
});

describe("limits", () => {
  test("requests per minute → 429 with Retry-After, in each protocol", async () => {
    const auth = { authorization: `Bearer ${keys["per-minute"]}` };
    expect((await fetch(`${stack.edge.url}/v1/models`, { headers: auth })).status).toBe(200);
    expect((await fetch(`${stack.edge.url}/v1/models`, { headers: auth })).status).toBe(200);
    const refused = await fetch(`${stack.edge.url}/v1/models`, { headers: auth });
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(((await refused.json()) as { error: { type: string } }).error.type).toBe(
      "rate_limit_error",
    );
    const error = await client(keys["per-minute"]!)
      .model()
      .catch((e: unknown) => e);
    expect(errorCode(error)).toBe("TOO_MANY_REQUESTS");
    expect(errorData(error).retryAfterMs).toBeGreaterThan(0);
  });

  test("concurrent streams → 429 while one is open, admitted again once it ends", async () => {
    const first = client(keys["one-stream"]!).chat(HI)[Symbol.asyncIterator]();
    const head = await first.next();
    expect(head.done).toBe(false);
    const refused = await fetch(`${stack.edge.url}/v1/models`, {
      headers: { authorization: `Bearer ${keys["one-stream"]}` },
    });
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("1");
    for (let r = await first.next(); !r.done; r = await first.next()) {}
    await until(
      async () =>
        (
          await fetch(`${stack.edge.url}/v1/models`, {
            headers: { authorization: `Bearer ${keys["one-stream"]}` },
          })
        ).status === 200,
      "lease released",
    );
  });
});

describe("batches", () => {
  test("a tRPC batch naming chat more than once is refused before the runner (limits count chats)", async () => {
    // One HTTP request, admitted once by the limiter, would otherwise run every chat in it.
    const id = "batch-of-chats";
    const res = await fetch(`${stack.edge.url}/trpc/chat,chat,chat?batch=1`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${keys["one-stream"]}`,
        "content-type": "application/json",
        "trpc-accept": "application/jsonl",
        "x-request-id": id,
      },
      body: JSON.stringify({ 0: HI, 1: HI, 2: HI }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { data: { code: string } } };
    expect(body.error.data.code).toBe("BAD_REQUEST");
    // A request that does pass, logged after the refused one: then the runner's log is complete.
    const marker = `${id}-marker`;
    await fetch(`${stack.edge.url}/v1/models`, {
      headers: { authorization: `Bearer ${keys.main}`, "x-request-id": marker },
    });
    await until(() => stack.runner.logs.some((l) => l.includes(marker)), "marker in runner log");
    expect(stack.runner.logs.filter((l) => l.includes(`"${id}"`))).toEqual([]);
  });
});

describe("abort", () => {
  // A stack of its own whose replies never end by themselves: a stream is surely still running
  // (or queued) when its caller aborts, however slow the machine.
  let endless: Stack;
  let key: string;
  let evicted: string;
  beforeAll(async () => {
    endless = await startStack({ endless: true, edgeVars: { CONCURRENT_STREAMS: "8" } });
    ({ abort: key, evicted } = (await seedKeys(`${endless.dir}/state`, [
      { name: "abort" },
      { name: "evicted", limits: { perMinute: 1 } },
    ])) as { abort: string; evicted: string });
  }, 120_000);
  afterAll(() => endless?.stop());

  const chat = (signal?: AbortSignal) =>
    createPhi4Client({ url: endless.edge.url, apiKey: key }).chat(
      { ...HI, maxTokens: 20_000 },
      { signal },
    );
  const metric = (name: string, labels?: string) => runnerMetric(endless.runner, name, labels);
  const ended = async () =>
    (await metric("phi4_requests_total", 'outcome="cancelled"')) +
    (await metric("phi4_requests_total", 'outcome="abort"'));

  test("tokens arrive as they are generated, not buffered to the end", async () => {
    // The reply never ends by itself, so a compressing or buffering hop would deliver nothing;
    // a live stream delivers read after read of tokens (however a busy machine groups them).
    const controller = new AbortController();
    const res = await fetch(`${endless.edge.url}/trpc/chat?batch=1`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${key}`,
        "content-type": "application/json",
        "trpc-accept": "application/jsonl",
        "accept-encoding": "gzip, br",
      },
      body: JSON.stringify({ 0: { ...HI, maxTokens: 20_000 } }),
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/jsonl");
    expect(res.headers.get("content-encoding") ?? "identity").toBe("identity");
    const reads: string[] = [];
    const decoder = new TextDecoder();
    const reader = res.body!.getReader();
    while (reads.filter((r) => r.includes('"type":"text"')).length < 10) {
      const { value, done } = await reader.read();
      expect(done).toBe(false);
      reads.push(decoder.decode(value));
    }
    expect(reads.join("")).not.toContain('"type":"done"');
    controller.abort();
    await until(async () => (await metric("phi4_active_sequences")) === 0, "no busy sequence");
  });

  test("mid-stream: the runner stops and frees the sequence", async () => {
    const before = await ended();
    const controller = new AbortController();
    const seen: ChatEvent[] = [];
    await expect(
      (async () => {
        for await (const event of chat(controller.signal)) {
          seen.push(event);
          if (event.type === "reasoning") controller.abort();
        }
      })(),
    ).rejects.toThrow();
    expect(seen.filter((e) => e.type === "reasoning").length).toBeGreaterThanOrEqual(1);
    expect(seen.some((e) => e.type === "done")).toBe(false);
    await until(async () => (await ended()) > before, "runner saw the abort");
    await until(async () => (await metric("phi4_active_sequences")) === 0, "no busy sequence");
  });

  test("before the first token (queued): the runner drops the request", async () => {
    // Fill both sequences and the head of the queue (each has an event: the runner has it),
    // then queue one more and abort it there.
    const busyStop = new AbortController();
    const busy = [1, 2, 3].map(() => chat(busyStop.signal)[Symbol.asyncIterator]());
    await Promise.all(busy.map((stream) => stream.next()));
    const rest = busy.map(async (stream) => {
      for (let r = await stream.next(); !r.done; r = await stream.next()) {}
    });
    const before = await ended();
    const controller = new AbortController();
    const seen: ChatEvent[] = [];
    const run = (async () => {
      for await (const event of chat(controller.signal)) {
        seen.push(event);
        if (event.type === "status" && event.phase === "queued") controller.abort();
      }
    })();
    await expect(run).rejects.toThrow();
    // Queue positions may move before the abort lands; no token may come.
    expect(seen[0]).toMatchObject({ type: "status", phase: "queued" });
    expect(seen.every((e) => e.type === "status")).toBe(true);
    await until(async () => (await ended()) > before, "runner saw the abort");
    await until(async () => (await metric("phi4_queue_depth")) <= 1, "queued caller gone");
    busyStop.abort();
    await Promise.allSettled(rest);
    await until(async () => (await metric("phi4_queue_depth")) === 0, "queue empty");
    await until(async () => (await metric("phi4_active_sequences")) === 0, "no busy sequence");
  });

  test("the limiter's counts survive its eviction once saved", async () => {
    const caller = keyId(await storageKey(evicted));
    const models = () =>
      fetch(`${endless.edge.url}/v1/models`, { headers: { authorization: `Bearer ${evicted}` } });
    expect((await models()).status).toBe(200);
    // Counts are written shortly after they change (SAVE_AFTER_MS), and an object waits for
    // that write before it may go to sleep. Whatever restarts it after that finds them again.
    // (Open streams are in the same write; one is not held open here, as a stream of the
    // tiny model may end on its own before the eviction on a slow machine.)
    await until(
      () => savedLimiterStates(`${endless.dir}/state`).some((s) => s.recent.length === 1),
      "limiter state saved",
    );
    await endless.edge.evictLimiter(caller);
    const spent = await models();
    expect(spent.status).toBe(429);
    expect(((await spent.json()) as { error: { message: string } }).error.message).toMatch(
      /per minute/,
    );
  });
});

describe("the playground (static assets)", () => {
  test("is served at / without a key, with headers that keep model output inert", async () => {
    const page = await fetch(`${stack.edge.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await page.text()).toContain('<script type="module" src="/app.js">');
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    for (const [path, type] of [
      ["/app.js", /javascript/],
      ["/style.css", /^text\/css/],
    ] as const) {
      const res = await fetch(`${stack.edge.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type"), path).toMatch(type);
    }
  });

  test("leaves the API routes behind the allow-list and the key", async () => {
    const chat = await fetch(`${stack.edge.url}/trpc/chat?batch=1`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ 0: HI }),
    });
    expect(chat.status).toBe(401);
    expect((await fetch(`${stack.edge.url}/v1/models`)).status).toBe(401);
    expect((await fetch(`${stack.edge.url}/favicon.ico`)).status).toBe(404);
  });
});
