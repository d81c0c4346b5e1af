import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import OpenAI from "openai";
import { zodFunction, zodResponseFormat } from "openai/helpers/zod";
import type { ChatCompletionCreateParamsBase } from "openai/resources/chat/completions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { type StartedRunner, startRunner } from "../../dev/start-runner";
import { TINY_JSON, TINY_REPLY, writeTinyModel } from "../../dev/tiny-model/write-tiny-model";
import { OPENAI_FIELDS, type OpenAIField } from "../../src/server/openai-fields";

// The OpenAI surface through the official SDK's own helpers, on the real runner process.
let dir: string;
let runner: StartedRunner;
let openai: OpenAI;
const messages = [{ role: "user" as const, content: "hello" }];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "openai-fields-"));
  const model = join(dir, "tiny.gguf");
  await writeTinyModel(model);
  runner = await startRunner({ MODEL_PATH: model, PARALLEL: "2", CONTEXT_SIZE: "2048" });
  openai = new OpenAI({ baseURL: `${runner.url}/v1`, apiKey: runner.secret, maxRetries: 0 });
  await runner.ready();
});

afterAll(async () => {
  await runner?.stop();
  await rm(dir, { recursive: true, force: true });
});

const Weather = z.object({ city: z.string() });

describe("structured output and tools through the OpenAI SDK", () => {
  it("parses a zod response format into a typed value, the reasoning kept", async () => {
    const Answer = z.object({ answer: z.number(), ok: z.boolean(), name: z.string() });
    const completion = await openai.chat.completions.parse({
      model: "tiny",
      messages,
      temperature: 0,
      response_format: zodResponseFormat(Answer, "answer"),
    });
    const message = completion.choices[0]!.message;
    const parsed: z.infer<typeof Answer> | null = message.parsed;
    expect(parsed).toEqual({
      answer: TINY_JSON.number,
      ok: TINY_JSON.boolean,
      name: TINY_JSON.string,
    });
    expect((message as { reasoning_content?: string }).reasoning_content).toBe(
      TINY_REPLY.reasoning,
    );
  });

  it("streams a json_schema answer as content deltas", async () => {
    const stream = openai.chat.completions.stream({
      model: "tiny",
      messages,
      temperature: 0,
      response_format: zodResponseFormat(z.object({ n: z.int() }), "n"),
    });
    let deltas = 0;
    stream.on("content.delta", () => deltas++);
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]!.message.parsed).toEqual({ n: TINY_JSON.number });
    expect(deltas).toBeGreaterThan(3);
  });

  it("refuses a schema the grammar cannot enforce, naming the keyword", async () => {
    const error = await openai.chat.completions
      .create({
        model: "tiny",
        messages,
        response_format: zodResponseFormat(z.object({ email: z.email() }), "contact"),
      })
      .catch((e) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.param).toBe("response_format.json_schema.schema.properties.email.format");
    expect(error.message).toContain("format");
  });

  it("makes a tool call round trip, streamed and not", async () => {
    const tools = [zodFunction({ name: "get_weather", parameters: Weather })];
    const first = await openai.chat.completions.parse({
      model: "tiny",
      messages,
      temperature: 0,
      tools,
      tool_choice: "required",
    });
    const choice = first.choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message.content).toBeNull();
    const call = choice.message.tool_calls?.[0];
    if (!call) throw new Error("no tool call");
    if (call.type !== "function") throw new Error("not a function call");
    expect(call.function.parsed_arguments).toEqual({ city: TINY_JSON.string });

    // The same call streamed: the SDK assembles the deltas into the same arguments.
    const stream = openai.chat.completions.stream({
      model: "tiny",
      messages,
      temperature: 0,
      tools,
      tool_choice: { type: "function", function: { name: "get_weather" } },
    });
    let argumentDeltas = 0;
    stream.on("tool_calls.function.arguments.delta", () => argumentDeltas++);
    const streamed = await stream.finalChatCompletion();
    const streamedCall = streamed.choices[0]!.message.tool_calls?.[0];
    expect(streamedCall?.type === "function" && streamedCall.function.parsed_arguments).toEqual({
      city: TINY_JSON.string,
    });
    expect(argumentDeltas).toBeGreaterThan(1);

    // The tool's result goes back; the model answers in text.
    const second = await openai.chat.completions.create({
      model: "tiny",
      temperature: 0,
      tools,
      messages: [
        ...messages,
        { role: "assistant", content: null, tool_calls: [call] },
        { role: "tool", tool_call_id: call.id, content: '{"sky":"clear"}' },
      ],
    });
    expect(second.choices[0]!.message.content).toBe(TINY_REPLY.text);
    expect(second.choices[0]!.finish_reason).toBe("stop");
  });
});

// Fields the SDK knows must all be in the table (a new one fails to type-check here).
type Unlisted = Exclude<keyof ChatCompletionCreateParamsBase, OpenAIField>;
const everyFieldListed: [Unlisted] extends [never] ? true : Unlisted = true;

/** One value of each field: a real use for honoured ones, a non-neutral value for refused ones. */
const SAMPLES: Record<OpenAIField, unknown> = {
  messages: [{ role: "developer", content: "be brief" }, ...messages],
  model: "anything",
  stream: true,
  stream_options: { include_usage: true },
  temperature: 0,
  top_p: 0.5,
  seed: 7,
  max_tokens: 40,
  max_completion_tokens: 40,
  stop: "MNO",
  response_format: { type: "json_object" },
  tools: [{ type: "function", function: { name: "f" } }],
  tool_choice: { type: "function", function: { name: "g" } },
  parallel_tool_calls: false,
  reasoning_effort: "none",
  user: "user-1",
  safety_identifier: "sid-1",
  prompt_cache_key: "k",
  prompt_cache_retention: "24h",
  n: 2,
  logprobs: true,
  top_logprobs: 2,
  logit_bias: { "65": 5 },
  frequency_penalty: 0.5,
  presence_penalty: 0.5,
  store: true,
  metadata: { a: "b" },
  service_tier: "flex",
  modalities: ["text", "audio"],
  audio: { voice: "alloy", format: "mp3" },
  prediction: { type: "content", content: "x" },
  verbosity: "low",
  web_search_options: {},
  moderation: { model: "x" },
  prompt_cache_options: { mode: "x" },
  functions: [{ name: "f" }],
  function_call: "auto",
  top_k: 5,
  reasoning_budget: 3,
};

/** Fields a sample needs beside it to have an effect. */
const WITH: Partial<Record<OpenAIField, Record<string, unknown>>> = {
  stream_options: { stream: true },
  tools: { tool_choice: "required" },
  tool_choice: {
    tools: ["f", "g"].map((name) => ({ type: "function", function: { name } })),
  },
};

interface Reply {
  status: number;
  text: string;
  json?: {
    model: string;
    choices: {
      finish_reason: string;
      message: {
        content: string | null;
        reasoning_content?: string;
        tool_calls?: { function: { name: string } }[];
      };
    }[];
    usage: { completion_tokens: number };
  };
}

/** What each honoured field visibly does (none: no effect the tiny model can show). */
const EFFECT: Partial<Record<OpenAIField, (reply: Reply) => void>> = {
  model: ({ json }) => expect(json?.model).toBe("tiny"),
  stream: ({ text }) => expect(text).toMatch(/^data: .*\n\n/),
  stream_options: ({ text }) => expect(text).toContain('"prompt_tokens"'),
  temperature: ({ json }) => expect(json?.choices[0]?.message.content).toBe(TINY_REPLY.text),
  max_tokens: ({ json }) => {
    expect(json?.choices[0]?.finish_reason).toBe("length");
    expect(json?.usage.completion_tokens).toBe(40);
  },
  max_completion_tokens: ({ json }) => expect(json?.usage.completion_tokens).toBe(40),
  stop: ({ json }) => expect(json?.choices[0]?.message.content).toBe("ABCDEFGHIJKL"),
  response_format: ({ json }) =>
    expect(JSON.parse(json?.choices[0]?.message.content ?? "")).toEqual(TINY_JSON.object),
  tools: ({ json }) => expect(json?.choices[0]?.finish_reason).toBe("tool_calls"),
  tool_choice: ({ json }) =>
    expect(json?.choices[0]?.message.tool_calls?.[0]?.function.name).toBe("g"),
  reasoning_effort: ({ json }) =>
    expect(json?.choices[0]?.message.reasoning_content).toBeUndefined(),
  reasoning_budget: ({ json }) => expect(json?.choices[0]?.message.reasoning_content).toBe("abc"),
  user: () => expect(runner.logs.some((line) => line.includes('"user":"user-1"'))).toBe(true),
  safety_identifier: () =>
    expect(runner.logs.some((line) => line.includes('"safetyIdentifier":"sid-1"'))).toBe(true),
};

/** The neutral value of each refused field: accepted, as OpenAI's default would be. */
const NEUTRAL: Partial<Record<OpenAIField, unknown>> = {
  prompt_cache_retention: "in_memory",
  n: 1,
  logprobs: false,
  logit_bias: {},
  frequency_penalty: 0,
  presence_penalty: 0,
  store: false,
  metadata: {},
  service_tier: "auto",
  modalities: ["text"],
  top_logprobs: null,
};

async function send(body: Record<string, unknown>): Promise<Reply> {
  const response = await fetch(`${runner.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${runner.secret}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "tiny", messages, temperature: 0, ...body }),
  });
  const text = await response.text();
  let json: Reply["json"];
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: response.status, text, json };
}

function errorOf(reply: Reply) {
  return (reply.json as unknown as { error?: { type: string; param: string; message: string } })
    ?.error;
}

describe("every request field is honoured or refused", () => {
  it("lists every field of the SDK's request type", () => {
    expect(everyFieldListed).toBe(true);
  });

  for (const [field, { support }] of Object.entries(OPENAI_FIELDS)) {
    it(`${field}: ${support}`, async () => {
      const name = field as OpenAIField;
      const reply = await send({ ...WITH[name], [field]: SAMPLES[name] });
      if (support === "refused") {
        expect(reply.status).toBe(400);
        expect(errorOf(reply)).toMatchObject({ type: "invalid_request_error", param: field });
      } else {
        expect(reply.status, reply.text).toBe(200);
        EFFECT[name]?.(reply);
      }
    });
  }

  it("accepts the neutral value of every refused field at once", async () => {
    const reply = await send(NEUTRAL);
    expect(reply.status, reply.text).toBe(200);
    const refused = Object.entries(OPENAI_FIELDS).filter(([, f]) => f.support === "refused");
    const neutralLess = ["audio", "prediction", "verbosity", "web_search_options", "moderation"];
    for (const [field] of refused) {
      if (
        neutralLess.includes(field) ||
        ["prompt_cache_options", "functions", "function_call"].includes(field)
      )
        continue;
      expect(NEUTRAL, field).toHaveProperty(field);
    }
  });

  it("names the caller's own field, down to the message part", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ max_tokens: -1 }, "max_tokens"],
      [{ max_completion_tokens: 0 }, "max_completion_tokens"],
      [{ top_p: 2 }, "top_p"],
      [{ messages: [{ role: "user", content: null }] }, "messages[0].content"],
      [
        { messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "x" } }] }] },
        "messages[0].content[0].type",
      ],
      [{ messages: [{ role: "user", content: "hi", name: "bob" }] }, "messages[0].name"],
      [{ messages: [{ role: "function", content: "x", name: "f" }] }, "messages[0].role"],
      [
        { messages: [{ role: "tool", content: "x", tool_call_id: "nope" }] },
        "messages[0].tool_call_id",
      ],
      [{ tools: [{ type: "custom", custom: { name: "x" } }] }, "tools[0].type"],
      [{ tools: [{ type: "function", function: { name: "a b" } }] }, "tools[0].function.name"],
      [{ tool_choice: "required" }, "tool_choice"],
      [{ stop: ["a", "b", "c", "d", "e"] }, "stop"],
      [{ reasoning_effort: "low", reasoning_budget: 5 }, "reasoning_effort"],
      [{ max_tokens: 5, max_completion_tokens: 6 }, "max_tokens"],
      [{ bogus: 1 }, "bogus"],
    ];
    for (const [body, param] of cases) {
      const reply = await send(body);
      expect(reply.status, param).toBe(400);
      expect(errorOf(reply)?.param, reply.text).toBe(param);
      expect(errorOf(reply)?.message).toContain(param);
    }
  });

  it("has the README's table row for row", async () => {
    const readme = await readFile(resolve(import.meta.dirname, "../../../README.md"), "utf8");
    const table = readme
      .split("<!-- openai-fields:start -->")[1]
      ?.split("<!-- openai-fields:end -->")[0];
    const rows = (table ?? "")
      .split("\n")
      .filter((line) => line.startsWith("| `"))
      .map((line) => {
        const [, field, support, what] = /^\| `([^`]+)` \| (\w+) \| (.*) \|$/.exec(line) ?? [];
        return [field, { support, what }];
      });
    expect(Object.fromEntries(rows)).toEqual(OPENAI_FIELDS);
  });
});
