import type { ChatEvent } from "@phi4-edge/shared";
import { createPhi4Client, StructuredOutputError } from "@phi4-edge/shared/client";
import OpenAI from "openai";
import { zodFunction, zodResponseFormat } from "openai/helpers/zod";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { z } from "zod";
import { TINY_JSON, TINY_REPLY } from "../../gpu-runner/dev/tiny-model/write-tiny-model";
import { seedKeys } from "./seed-keys";
import { type Stack, startStack } from "./with-stack";

// A zod schema in, a typed value out, through the real edge (workerd) and runner (llama.cpp).
const messages = [{ role: "user" as const, content: "hi" }];
const Answer = z.object({ answer: z.number(), ok: z.boolean(), name: z.string() });
let stack: Stack;
let key: string;

beforeAll(async () => {
  stack = await startStack();
  ({ main: key } = (await seedKeys(`${stack.dir}/state`, [{ name: "main" }])) as { main: string });
}, 120_000);
afterAll(() => stack?.stop());

describe("structured output through the edge", () => {
  test("the typed client resolves a zod schema to a typed value in one call", async () => {
    const phi4 = createPhi4Client({ url: stack.edge.url, apiKey: key });
    const value: z.infer<typeof Answer> = await phi4.chatObject(
      { messages, temperature: 0 },
      Answer,
    );
    expect(value).toEqual({
      answer: TINY_JSON.number,
      ok: TINY_JSON.boolean,
      name: TINY_JSON.string,
    });
  });

  test("the typed client streams the reasoning and answer before the value", async () => {
    const phi4 = createPhi4Client({ url: stack.edge.url, apiKey: key });
    const call = phi4.chatObject({ messages, temperature: 0 }, z.object({ n: z.int() }));
    const events: ChatEvent[] = [];
    for await (const event of call) events.push(event);
    const reasoning = events.map((e) => (e.type === "reasoning" ? e.text : "")).join("");
    expect(reasoning).toBe(TINY_REPLY.reasoning);
    expect(events.filter((e) => e.type === "text").length).toBeGreaterThan(3);
    expect(await call.value).toEqual({ n: TINY_JSON.number });
  });

  test("an answer cut short rejects with StructuredOutputError, a bad schema with BAD_REQUEST", async () => {
    const phi4 = createPhi4Client({ url: stack.edge.url, apiKey: key });
    const cut = await phi4.chatObject({ messages, temperature: 0, maxTokens: 31 }, Answer).then(
      () => undefined,
      (e) => e,
    );
    expect(cut).toBeInstanceOf(StructuredOutputError);
    expect(cut.finishReason).toBe("length");
    const refused = await phi4.chatObject({ messages }, z.object({ at: z.url() })).then(
      () => undefined,
      (e) => e,
    );
    expect(refused?.data?.code).toBe("BAD_REQUEST");
    expect(refused.message).toContain("format");
  });

  test("the OpenAI SDK's parse helper gets the same typed value", async () => {
    const openai = new OpenAI({ baseURL: `${stack.edge.url}/v1`, apiKey: key, maxRetries: 0 });
    const completion = await openai.chat.completions.parse({
      model: "phi-4",
      messages,
      temperature: 0,
      response_format: zodResponseFormat(Answer, "answer"),
    });
    expect(completion.choices[0]?.message.parsed).toEqual({
      answer: TINY_JSON.number,
      ok: TINY_JSON.boolean,
      name: TINY_JSON.string,
    });
  });

  test("a tool call round trip with the OpenAI SDK, streamed", async () => {
    const openai = new OpenAI({ baseURL: `${stack.edge.url}/v1`, apiKey: key, maxRetries: 0 });
    const tools = [
      zodFunction({ name: "get_weather", parameters: z.object({ city: z.string() }) }),
    ];
    const stream = openai.chat.completions.stream({
      model: "phi-4",
      messages,
      temperature: 0,
      tools,
      tool_choice: "required",
    });
    const first = await stream.finalChatCompletion();
    expect(first.choices[0]?.finish_reason).toBe("tool_calls");
    const message = first.choices[0]!.message;
    const call = message.tool_calls?.[0];
    if (call?.type !== "function") throw new Error("no function call");
    expect(call.function.parsed_arguments).toEqual({ city: TINY_JSON.string });
    const second = await openai.chat.completions.create({
      model: "phi-4",
      temperature: 0,
      tools,
      messages: [...messages, message, { role: "tool", tool_call_id: call.id, content: "sunny" }],
    });
    expect(second.choices[0]?.message.content).toBe(TINY_REPLY.text);
  });

  test("the typed client carries tools the same way", async () => {
    const phi4 = createPhi4Client({ url: stack.edge.url, apiKey: key });
    const events: ChatEvent[] = [];
    for await (const event of phi4.chat({
      messages,
      temperature: 0,
      tools: [{ name: "get_time" }],
      toolChoice: { name: "get_time" },
    })) {
      events.push(event);
    }
    const calls = events.filter((e) => e.type === "tool_call");
    expect(calls[0]).toMatchObject({ name: "get_time", index: 0 });
    expect(calls.map((c) => c.arguments).join("")).toBe("{}");
    expect(events.at(-1)).toMatchObject({ type: "done", finishReason: "tool_calls" });
  });
});
