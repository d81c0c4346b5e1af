import { ChatInput } from "@phi4-edge/shared";
import { beforeAll, describe, expect, it } from "vitest";
import { TINY_JSON, TINY_REPLY } from "../../dev/tiny-model/write-tiny-model";
import { collectChat } from "../../test/collect-chat";
import { useTinyEngines } from "../../test/tiny-engines";
import type { LlamaEngine } from "./llama-engine";

// JSON answers and tool calls on real llama.cpp: the tiny model reasons `a…z` freely, then its
// answer is held to the grammar, where its ranked fallbacks make the output exact.
const engines = useTinyEngines({ answersAtOnce: { noThought: true } });
let engine: LlamaEngine;
const user = { role: "user" as const, content: "hello" };
const weather = {
  name: "get_weather",
  description: "Weather in a city",
  parameters: {
    type: "object",
    properties: { city: { type: "string" } },
    required: ["city"],
    additionalProperties: false,
  },
};

beforeAll(async () => {
  engine = await engines.start();
});

/** Through the contract's schema, as the router would. */
function collect(input: ChatInput) {
  return collectChat(engine, ChatInput.parse(input));
}

describe("structured answers", () => {
  it("reasons freely, then answers JSON valid against the schema", async () => {
    const { reasoning, text, done } = await collect({
      messages: [user],
      temperature: 0,
      responseFormat: {
        type: "json_schema",
        schema: {
          type: "object",
          properties: {
            answer: { type: "number" },
            ok: { type: "boolean" },
            name: { type: "string" },
          },
          required: ["answer", "ok", "name"],
        },
      },
    });
    expect(reasoning).toBe(TINY_REPLY.reasoning);
    expect(JSON.parse(text)).toEqual({
      answer: TINY_JSON.number,
      ok: TINY_JSON.boolean,
      name: TINY_JSON.string,
    });
    expect(done.finishReason).toBe("stop");
    expect(done.usage.reasoningTokens).toBe(TINY_REPLY.reasoning.length);
  });

  it("answers a JSON object for json_object, and free text without a format", async () => {
    const json = await collect({
      messages: [user],
      temperature: 0,
      responseFormat: { type: "json_object" },
    });
    expect(json.reasoning).toBe(TINY_REPLY.reasoning);
    expect(JSON.parse(json.text)).toEqual(TINY_JSON.object);
    const plain = await collect({ messages: [user], temperature: 0 });
    expect(plain.text).toBe(TINY_REPLY.text);
  });

  it("holds a reply that skips the reasoning to the grammar from its first token", async () => {
    // The model's first free choice is its answer's `A`, not `<think>`: sampled without the
    // grammar, that token would lead the JSON (`A{…`).
    const answering = await engines.start({}, "answersAtOnce");
    const plain = await collectChat(
      answering,
      ChatInput.parse({ messages: [user], temperature: 0 }),
    );
    expect(plain).toMatchObject({ reasoning: "", text: TINY_REPLY.text });
    const json = await collectChat(
      answering,
      ChatInput.parse({
        messages: [user],
        temperature: 0,
        maxTokens: 200,
        responseFormat: { type: "json_object" },
      }),
    );
    expect(json.reasoning).toBe("");
    expect(JSON.parse(json.text)).toEqual(TINY_JSON.object);
    expect(json.done.finishReason).toBe("stop");
    const { calls, done } = await collectChat(
      answering,
      ChatInput.parse({
        messages: [user],
        temperature: 0,
        maxTokens: 200,
        tools: [weather],
        toolChoice: "required",
      }),
    );
    expect(JSON.parse(calls.map((c) => c.arguments).join(""))).toEqual({ city: TINY_JSON.string });
    expect(done.finishReason).toBe("tool_calls");
  }, 60_000);

  it("keeps the reasoning budget and maxTokens with a grammar", async () => {
    const budget = await collect({
      messages: [user],
      temperature: 0,
      reasoning: { budget: 3 },
      responseFormat: { type: "json_object" },
    });
    expect(budget.reasoning).toBe("abc");
    expect(JSON.parse(budget.text)).toEqual(TINY_JSON.object);
    expect(budget.done.finishReason).toBe("budget");
    const cut = await collect({
      messages: [user],
      temperature: 0,
      maxTokens: 32,
      responseFormat: { type: "json_object" },
    });
    expect(cut.done.finishReason).toBe("length");
    expect(cut.done.usage.completionTokens).toBe(32);
    expect(cut.text).toBe('{"AB');
  });
});

describe("tool calls", () => {
  it("calls the tool when required, streaming the arguments", async () => {
    const { reasoning, text, calls, done } = await collect({
      messages: [user],
      temperature: 0,
      tools: [weather],
      toolChoice: "required",
    });
    expect(reasoning).toBe(TINY_REPLY.reasoning);
    expect(text).toBe("");
    expect(calls.length).toBeGreaterThan(1);
    expect(new Set(calls.map((c) => c.id)).size).toBe(1);
    expect(calls.every((c) => c.name === "get_weather" && c.index === 0)).toBe(true);
    expect(JSON.parse(calls.map((c) => c.arguments).join(""))).toEqual({ city: TINY_JSON.string });
    expect(done.finishReason).toBe("tool_calls");
  });

  it("calls the named tool among several", async () => {
    const { calls } = await collect({
      messages: [user],
      temperature: 0,
      tools: [weather, { name: "get_time" }],
      toolChoice: { name: "get_time" },
    });
    expect(calls[0]?.name).toBe("get_time");
    expect(calls.map((c) => c.arguments).join("")).toBe("{}");
  });

  it("answers in text under auto when the model writes no call, and takes tool results", async () => {
    const { text, calls, done } = await collect({
      messages: [
        user,
        {
          role: "assistant",
          content: "",
          toolCalls: [{ id: "call_1", name: "get_weather", arguments: '{"city":"Paris"}' }],
        },
        { role: "tool", toolCallId: "call_1", content: "sunny" },
      ],
      temperature: 0,
      tools: [weather],
    });
    expect(calls).toEqual([]);
    expect(text).toBe(TINY_REPLY.text);
    expect(done.finishReason).toBe("stop");
  });
});
