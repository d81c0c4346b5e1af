import { describe, expect, it } from "vitest";
import { createPhi4Client, errorCode, errorData } from "../src/client.js";
import { type ChatEvent, type ChatInput, NotReadyError, QueueFullError } from "../src/index.js";
import { aborted, gate, useFakeEngine } from "./fake-engine.js";

const done: ChatEvent = {
  type: "done",
  finishReason: "stop",
  usage: { promptTokens: 3, reasoningTokens: 1, completionTokens: 2 },
  timings: { ttftMs: 1, tokensPerSecond: 100 },
};
const hello: ChatInput = { messages: [{ role: "user", content: "hi" }] };

const fake = useFakeEngine();
const { engine } = fake;

async function collect(stream: AsyncIterable<ChatEvent>): Promise<ChatEvent[]> {
  const events: ChatEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

describe("chat stream", () => {
  it("delivers events in order, each before the engine produces the next", async () => {
    // The engine waits for the client to have seen each event before producing the next:
    // a transport that buffered the stream would deadlock here and the test would time out.
    const seen = [gate(), gate(), gate()];
    engine.play([
      { type: "status", phase: "queued", position: 1 },
      () => seen[0]!.opened,
      { type: "reasoning", text: "hmm" },
      () => seen[1]!.opened,
      { type: "text", text: "Hel" },
      () => seen[2]!.opened,
      { type: "text", text: "lo" },
      done,
    ]);
    const client = createPhi4Client({ url: fake.url });
    const events: ChatEvent[] = [];
    for await (const event of client.chat(hello)) {
      events.push(event);
      seen[events.length - 1]?.open();
    }
    expect(events).toEqual([
      { type: "status", phase: "queued", position: 1 },
      { type: "reasoning", text: "hmm" },
      { type: "text", text: "Hel" },
      { type: "text", text: "lo" },
      done,
    ]);
    expect(engine.calls).toHaveLength(1);
    expect(engine.calls[0]?.input).toEqual(hello);
  });

  it("streams with JSONL content type so proxies do not buffer it", async () => {
    engine.play([done]);
    const res = await fetch(`${fake.url}/trpc/chat?batch=1`, {
      method: "POST",
      headers: { "content-type": "application/json", "trpc-accept": "application/jsonl" },
      body: JSON.stringify({ 0: hello }),
    });
    expect(res.headers.get("content-type")).toBe("application/jsonl");
    await res.text();
  });

  it("passes the caller's abort through to the engine's signal", async () => {
    const stop = gate();
    engine.play([{ type: "text", text: "A" }, () => stop.opened]);
    const controller = new AbortController();
    const client = createPhi4Client({ url: fake.url });
    const received: ChatEvent[] = [];
    const consuming = (async () => {
      for await (const event of client.chat(hello, { signal: controller.signal })) {
        received.push(event);
        controller.abort();
      }
    })();
    await expect(consuming).rejects.toThrow();
    expect(received).toEqual([{ type: "text", text: "A" }]);
    await aborted(engine.calls[0]!.signal);
    stop.open();
  });

  it("passes an abort before the first event through to the engine", async () => {
    const started = gate();
    const never = gate();
    engine.play([async () => started.open(), () => never.opened]);
    const controller = new AbortController();
    const consuming = collect(
      createPhi4Client({ url: fake.url }).chat(hello, { signal: controller.signal }),
    );
    await started.opened;
    controller.abort();
    await expect(consuming).rejects.toThrow();
    await aborted(engine.calls[0]!.signal);
    never.open();
  });

  it("ends the stream with a typed error when the engine fails after some tokens", async () => {
    engine.play([{ type: "text", text: "partial" }, new Error("GPU fell over")]);
    const received: ChatEvent[] = [];
    let failure: unknown;
    try {
      for await (const event of createPhi4Client({ url: fake.url }).chat(hello))
        received.push(event);
    } catch (error) {
      failure = error;
    }
    expect(received).toEqual([{ type: "text", text: "partial" }]);
    expect(errorCode(failure)).toBe("INTERNAL_SERVER_ERROR");
    // The engine's own text stays on the server; the caller gets a generic message.
    expect((failure as Error).message).toMatch(/^internal error/);
    expect((failure as Error).message).not.toContain("GPU fell over");
  });

  it("keeps the message of an error written for callers (expose)", async () => {
    const error = Object.assign(new Error("model failed to load: disk full"), { expose: true });
    engine.play([error]);
    const failure = await collect(createPhi4Client({ url: fake.url }).chat(hello)).catch((e) => e);
    expect(errorCode(failure)).toBe("INTERNAL_SERVER_ERROR");
    expect((failure as Error).message).toBe("model failed to load: disk full");
  });

  it("maps a full queue to TOO_MANY_REQUESTS with a retry hint", async () => {
    engine.play([new QueueFullError(1500)]);
    const failure = await collect(createPhi4Client({ url: fake.url }).chat(hello)).catch((e) => e);
    expect(errorCode(failure)).toBe("TOO_MANY_REQUESTS");
    expect(errorData(failure).retryAfterMs).toBe(1500);
  });

  it("waits through SERVICE_UNAVAILABLE, reporting the phase, then streams", async () => {
    engine.play(
      [new NotReadyError("downloading", 0.25)],
      [new NotReadyError("loading")],
      [{ type: "text", text: "ok" }, done],
    );
    const events = await collect(createPhi4Client({ url: fake.url }).chat(hello));
    expect(events).toEqual([
      { type: "status", phase: "downloading", progress: 0.25 },
      { type: "status", phase: "loading" },
      { type: "text", text: "ok" },
      done,
    ]);
  });

  it("waits as long as the server's retryAfterMs says before going round again", async () => {
    const draining = new NotReadyError("waking");
    draining.retryAfterMs = 1_500;
    const times: number[] = [];
    engine.play(
      [async () => void times.push(performance.now()), draining],
      [async () => void times.push(performance.now()), done],
    );
    const events = await collect(createPhi4Client({ url: fake.url }).chat(hello));
    expect(events.at(-1)).toEqual(done);
    // Its own backoff would have come back after 500 ms.
    expect((times[1] ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(1_450);
  });

  it("gives up waiting for readiness after waitReadyMs with SERVICE_UNAVAILABLE", async () => {
    engine.play([new NotReadyError("downloading", 0.1)], [new NotReadyError("downloading", 0.2)]);
    const failure = await collect(
      createPhi4Client({ url: fake.url, waitReadyMs: 100 }).chat(hello),
    ).catch((e) => e);
    expect(errorCode(failure)).toBe("SERVICE_UNAVAILABLE");
    expect(errorData(failure).phase).toBe("downloading");
  });
});

describe("model", () => {
  it("returns what is loaded", async () => {
    const info = await createPhi4Client({ url: fake.url }).model();
    expect(info.file).toBe("fake.gguf");
    expect(info.gpu).toBe(false);
  });

  it("reports SERVICE_UNAVAILABLE with the phase while loading", async () => {
    engine.modelError = new NotReadyError("loading", 0.5);
    try {
      const failure = await createPhi4Client({ url: fake.url })
        .model()
        .catch((e) => e);
      expect(errorCode(failure)).toBe("SERVICE_UNAVAILABLE");
      expect(errorData(failure)).toMatchObject({ phase: "loading", progress: 0.5 });
    } finally {
      engine.modelError = undefined;
    }
  });
});

describe("input validation", () => {
  const user = (content: string) => ({ role: "user", content });
  const cases: [string, unknown, string][] = [
    ["messages of the wrong type", { messages: "hi" }, "messages"],
    ["empty messages", { messages: [] }, "messages"],
    ["missing messages", {}, "messages"],
    ["unknown role", { messages: [{ role: "wizard", content: "hi" }] }, "messages.0.role"],
    [
      "content of the wrong type",
      { messages: [{ role: "user", content: 42 }] },
      "messages.0.content",
    ],
    ["oversized message", { messages: [user("x".repeat(200_001))] }, "messages.0.content"],
    [
      "last message not from the user",
      { messages: [{ role: "assistant", content: "hi" }] },
      "messages",
    ],
    [
      "temperature of the wrong type",
      { messages: [user("hi")], temperature: "hot" },
      "temperature",
    ],
    ["temperature above range", { messages: [user("hi")], temperature: 2.5 }, "temperature"],
    ["temperature below range", { messages: [user("hi")], temperature: -1 }, "temperature"],
    ["topP out of range", { messages: [user("hi")], topP: 1.5 }, "topP"],
    ["topK not an integer", { messages: [user("hi")], topK: 1.5 }, "topK"],
    ["negative seed", { messages: [user("hi")], seed: -3 }, "seed"],
    ["maxTokens of zero", { messages: [user("hi")], maxTokens: 0 }, "maxTokens"],
    ["negative maxTokens", { messages: [user("hi")], maxTokens: -5 }, "maxTokens"],
    ["stop of the wrong type", { messages: [user("hi")], stop: "END" }, "stop"],
    [
      "negative reasoning budget",
      { messages: [user("hi")], reasoning: { budget: -1 } },
      "reasoning.budget",
    ],
    ["unknown field", { messages: [user("hi")], temprature: 0.5 }, "temprature"],
  ];

  it.each(cases)("rejects %s with BAD_REQUEST naming the field", async (_name, input, field) => {
    const client = createPhi4Client({ url: fake.url });
    const failure = await collect(client.chat(input as ChatInput)).catch((e) => e);
    expect(errorCode(failure)).toBe("BAD_REQUEST");
    expect((failure as Error).message).toContain(field);
    expect(engine.calls).toHaveLength(0);
  });

  it("accepts a full valid input", async () => {
    engine.play([done]);
    const input: ChatInput = {
      messages: [
        user("a"),
        { role: "assistant", content: "b" },
        user("c"),
      ] as ChatInput["messages"],
      temperature: 0,
      topP: 0.9,
      topK: 40,
      seed: 7,
      maxTokens: 16,
      stop: ["END"],
      reasoning: { budget: 32 },
    };
    await collect(createPhi4Client({ url: fake.url }).chat(input));
    expect(engine.calls[0]?.input).toEqual(input);
  });
});
