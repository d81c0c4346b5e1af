import { describe, expect, it } from "vitest";
import { z } from "zod";
import { toGrammarSchema } from "./grammar-schema.js";
import { ChatInput } from "./schemas.js";

describe("toGrammarSchema", () => {
  it("takes what zod 4 writes for common schemas, in the grammar's dialect", () => {
    const schema = z.toJSONSchema(
      z.object({
        name: z.string().min(1).max(40),
        age: z.int(),
        tags: z.array(z.enum(["a", "b"])).max(3),
        nick: z.string().nullable(),
        when: z.iso.date(),
        kind: z.union([z.literal("x"), z.object({ y: z.number() })]),
        extra: z.boolean().optional(),
      }),
    );
    const result = toGrammarSchema(schema);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.schema.$schema).toBeUndefined();
    const properties = result.schema.properties as Record<string, Record<string, unknown>>;
    expect(properties.age).toEqual({ type: "integer" });
    expect(properties.nick).toEqual({ type: ["string", "null"] });
    expect(properties.when).toEqual({ type: "string", format: "date" });
    expect(properties.name).toEqual({ type: "string", minLength: 1, maxLength: 40 });
  });

  it("names the keyword and its place for what the grammar cannot enforce", () => {
    const email = toGrammarSchema(z.toJSONSchema(z.object({ email: z.email() })));
    expect(email).toMatchObject({
      ok: false,
      problem: { keyword: "format", path: ["properties", "email", "format"] },
    });
    const min = toGrammarSchema({ type: "number", minimum: 0 });
    expect(min).toMatchObject({ ok: false, problem: { keyword: "minimum", path: ["minimum"] } });
    expect(toGrammarSchema({ type: "string", pattern: "^a" })).toMatchObject({
      ok: false,
      problem: { keyword: "pattern" },
    });
    expect(toGrammarSchema({})).toMatchObject({ ok: false, problem: { keyword: "type" } });
    expect(toGrammarSchema({ allOf: [] })).toMatchObject({
      ok: false,
      problem: { keyword: "type" },
    });
    expect(toGrammarSchema({ type: "object", allOf: [] })).toMatchObject({
      ok: false,
      problem: { keyword: "allOf" },
    });
  });

  it("rewrites draft-07 definitions and splits mixed type lists into alternatives", () => {
    const result = toGrammarSchema({
      type: "object",
      properties: { node: { $ref: "#/definitions/Node" } },
      definitions: { Node: { type: ["object", "null"], properties: { v: { type: "integer" } } } },
    });
    expect(result).toMatchObject({
      ok: true,
      schema: {
        properties: { node: { $ref: "#/$defs/Node" } },
        $defs: { Node: { oneOf: [{ type: "object" }, { type: "null" }] } },
      },
    });
    expect(toGrammarSchema({ $ref: "#/$defs/Missing" })).toMatchObject({ ok: false });
  });
});

describe("ChatInput with structured output and tools", () => {
  const messages = [{ role: "user" as const, content: "hi" }];

  it("refuses an unenforceable schema with a path to the keyword", () => {
    const result = ChatInput.safeParse({
      messages,
      responseFormat: { type: "json_schema", schema: { type: "string", pattern: "x" } },
    });
    expect(result.error?.issues[0]?.path).toEqual(["responseFormat", "schema", "pattern"]);
    expect(result.error?.issues[0]?.message).toContain("'pattern'");
  });

  it("checks tool choice, tool results and the JSON/tools combination", () => {
    const tools = [{ name: "f", parameters: { type: "object", properties: {} } }];
    expect(ChatInput.safeParse({ messages, tools, toolChoice: { name: "g" } }).success).toBe(false);
    expect(ChatInput.safeParse({ messages, toolChoice: "required" }).success).toBe(false);
    expect(
      ChatInput.safeParse({ messages, tools, responseFormat: { type: "json_object" } }).success,
    ).toBe(false);
    const orphan = ChatInput.safeParse({
      messages: [...messages, { role: "tool", toolCallId: "x", content: "1" }],
    });
    expect(orphan.error?.issues[0]?.path).toEqual(["messages", 1, "toolCallId"]);
    expect(
      ChatInput.safeParse({ messages, tools: [{ name: "f", parameters: { type: "string" } }] })
        .success,
    ).toBe(false);
  });
});
