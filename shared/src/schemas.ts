import { z } from "zod";
import { toGrammarSchema } from "./grammar-schema.js";

/** Hard limits on a request, enforced before anything reaches the engine. */
export const LIMITS = {
  messages: 256,
  messageChars: 200_000,
  maxTokens: 32_768,
  stopSequences: 4,
  stopChars: 64,
  tools: 64,
  toolCalls: 16,
  schemaChars: 100_000,
} as const;

export const Role = z.enum(["system", "user", "assistant", "tool"]);
export type Role = z.infer<typeof Role>;

/** A tool's (function's) name, as OpenAI allows them. */
export const ToolName = z
  .string()
  .regex(/^[a-zA-Z0-9_-]{1,64}$/, "1–64 letters, digits, '_' or '-'");

/** A call the model made: `arguments` is JSON text, as OpenAI sends it. */
export const ToolCall = z.strictObject({
  id: z.string().min(1).max(64),
  name: ToolName,
  arguments: z.string().max(LIMITS.messageChars),
});
export type ToolCall = z.infer<typeof ToolCall>;

const Content = z.string().max(LIMITS.messageChars);

/** A turn of the conversation. `tool` turns answer an assistant turn's `toolCalls`. */
export const ChatMessage = z.discriminatedUnion("role", [
  z.strictObject({ role: z.literal("system"), content: Content }),
  z.strictObject({ role: z.literal("user"), content: Content }),
  z.strictObject({
    role: z.literal("assistant"),
    content: Content,
    toolCalls: z.array(ToolCall).min(1).max(LIMITS.toolCalls).optional(),
  }),
  z.strictObject({
    role: z.literal("tool"),
    toolCallId: z.string().min(1).max(64),
    content: Content,
  }),
]);
export type ChatMessage = z.infer<typeof ChatMessage>;

/**
 * A JSON Schema the runner's grammar can enforce (see `toGrammarSchema`); anything else is
 * refused with the keyword and its place, never loosened.
 */
export const JsonSchema = z.record(z.string(), z.unknown()).superRefine((schema, ctx) => {
  if (JSON.stringify(schema).length > LIMITS.schemaChars) {
    ctx.addIssue({
      code: "custom",
      message: `the schema is over ${LIMITS.schemaChars} characters`,
    });
    return;
  }
  const result = toGrammarSchema(schema);
  if (!result.ok) {
    ctx.addIssue({ code: "custom", path: result.problem.path, message: result.problem.message });
  }
});
export type JsonSchema = z.infer<typeof JsonSchema>;

/** The shape of the answer (after the reasoning, which stays free text). */
export const ResponseFormat = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("text") }),
  /** Any JSON object. */
  z.strictObject({ type: z.literal("json_object") }),
  /** JSON valid against `schema`, enforced by a grammar while the answer is generated. */
  z.strictObject({
    type: z.literal("json_schema"),
    schema: JsonSchema,
    /** Told to the model with the schema, so it knows what it is answering. */
    name: z.string().max(64).optional(),
    description: z.string().max(LIMITS.messageChars).optional(),
  }),
]);
export type ResponseFormat = z.infer<typeof ResponseFormat>;

export const Tool = z.strictObject({
  name: ToolName,
  description: z.string().max(LIMITS.messageChars).optional(),
  /** JSON Schema of the arguments (an object); default: no arguments. */
  parameters: JsonSchema.refine((schema) => schema.type === "object", {
    message: "the parameters must be an object schema (type 'object')",
  }).optional(),
});
export type Tool = z.infer<typeof Tool>;

/** `auto`: the model may call a tool; `required`: it must; `{ name }`: it must call that one. */
export const ToolChoice = z.union([
  z.enum(["auto", "none", "required"]),
  z.strictObject({ name: ToolName }),
]);
export type ToolChoice = z.infer<typeof ToolChoice>;

export const Reasoning = z.strictObject({
  /** Thought tokens allowed before the answer is forced (`</think>` is inserted). */
  budget: z.int().min(0).max(LIMITS.maxTokens).optional(),
});
export type Reasoning = z.infer<typeof Reasoning>;

/** Input of the `chat` procedure. Unset sampling fields take the model card's defaults. */
export const ChatInput = z
  .strictObject({
    messages: z
      .array(ChatMessage)
      .min(1)
      .max(LIMITS.messages)
      .refine((messages) => ["user", "tool"].includes(messages.at(-1)?.role ?? ""), {
        message: "the last message must have role 'user' or 'tool'",
      }),
    temperature: z.number().min(0).max(2).optional(),
    topP: z.number().gt(0).max(1).optional(),
    topK: z.int().min(1).max(1000).optional(),
    seed: z.int().min(0).max(0xffff_ffff).optional(),
    maxTokens: z.int().min(1).max(LIMITS.maxTokens).optional(),
    stop: z.array(z.string().min(1).max(LIMITS.stopChars)).max(LIMITS.stopSequences).optional(),
    reasoning: Reasoning.optional(),
    responseFormat: ResponseFormat.optional(),
    tools: z.array(Tool).min(1).max(LIMITS.tools).optional(),
    toolChoice: ToolChoice.optional(),
  })
  .superRefine((input, ctx) => {
    const names = new Set(input.tools?.map((tool) => tool.name));
    if (names.size !== (input.tools?.length ?? 0)) {
      ctx.addIssue({ code: "custom", path: ["tools"], message: "tool names must be unique" });
    }
    const choice = input.toolChoice;
    if (choice !== undefined && choice !== "none" && !input.tools) {
      ctx.addIssue({ code: "custom", path: ["toolChoice"], message: "needs tools" });
    }
    if (typeof choice === "object" && !names.has(choice.name)) {
      ctx.addIssue({
        code: "custom",
        path: ["toolChoice", "name"],
        message: `no tool named ${JSON.stringify(choice.name)}`,
      });
    }
    const callsTools = input.tools && choice !== "none";
    if (callsTools && input.responseFormat && input.responseFormat.type !== "text") {
      ctx.addIssue({
        code: "custom",
        path: ["responseFormat"],
        message:
          "a JSON answer and tool calls cannot be combined; send toolChoice 'none' or no tools",
      });
    }
    // Every tool result must answer a call the conversation made.
    const calls = new Set<string>();
    input.messages.forEach((message, i) => {
      if (message.role === "assistant")
        for (const call of message.toolCalls ?? []) calls.add(call.id);
      if (message.role === "tool" && !calls.has(message.toolCallId)) {
        ctx.addIssue({
          code: "custom",
          path: ["messages", i, "toolCallId"],
          message: "answers no earlier assistant tool call",
        });
      }
    });
  });
export type ChatInput = z.infer<typeof ChatInput>;

/** Sampling defaults from the Phi-4-reasoning model card. */
export const SAMPLING_DEFAULTS = { temperature: 0.8, topP: 0.95, topK: 50 } as const;

export const ModelInfo = z.object({
  repo: z.string(),
  file: z.string(),
  revision: z.string(),
  quantization: z.string(),
  contextSize: z.int(),
  parallel: z.int(),
  gpu: z.union([z.enum(["cuda", "vulkan", "metal"]), z.literal(false)]),
});
export type ModelInfo = z.infer<typeof ModelInfo>;
