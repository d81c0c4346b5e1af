import { ChatInput, type ChatMessage } from "@phi4-edge/shared";
import { type ZodError, z } from "zod";
import { OPENAI_FIELDS, type OpenAIField } from "./openai-fields";

/**
 * OpenAI's chat-completions request, field by field (see OPENAI_FIELDS): every field is either
 * mapped onto the contract's ChatInput or refused with its own name as `param`. Unknown fields
 * are refused too, so nothing a caller sends is silently dropped.
 */

/** A value with no equivalent here: null/absent or a neutral value passes, anything else is refused. */
const refuse = (message: string, neutral: (value: unknown) => boolean = () => false) =>
  z
    .unknown()
    .superRefine((value, ctx) => {
      if (value === null || value === undefined || neutral(value)) return;
      ctx.addIssue({ code: "custom", message });
    })
    .optional();
const refused = (field: OpenAIField, neutral?: (value: unknown) => boolean) =>
  refuse(`not supported: ${OPENAI_FIELDS[field].what}`, neutral);
const isEmptyObject = (v: unknown) => typeof v === "object" && v !== null && !Object.keys(v).length;

const TextPart = z.strictObject({ type: z.literal("text"), text: z.string() });
const RefusalPart = z.strictObject({ type: z.literal("refusal"), refusal: z.string() });
/** Content parts other than text (images, audio, files) are refused by their `type`. */
const Parts = <T extends z.ZodType>(part: T) =>
  z.array(
    z.unknown().superRefine((value, ctx) => {
      const type = (value as { type?: unknown } | null)?.type;
      if (type !== "text" && type !== "refusal") {
        ctx.addIssue({
          code: "custom",
          path: ["type"],
          message: `content parts of type ${JSON.stringify(type)} are not supported (text only; Phi-4 reads text)`,
        });
        return;
      }
      const parsed = part.safeParse(value);
      for (const issue of parsed.error?.issues ?? [])
        ctx.addIssue({ ...issue, code: "custom" } as never);
    }),
  );
// The template has no place for a participant's name.
const noName = refuse("participant names are not supported");
const TEXT = { error: "expected a string or an array of text parts" };

/** Output fields of an earlier reply that come back in the history; nothing to act on. */
const echoed = z.unknown().optional();

const ToolCall = z.strictObject({
  id: z.string(),
  type: z.literal("function"),
  function: z.strictObject({
    name: z.string(),
    arguments: z.string(),
    // The SDK's parse helpers add it to the message a caller sends back as is.
    parsed_arguments: echoed,
  }),
});

const Message = z.discriminatedUnion(
  "role",
  [
    z.strictObject({
      role: z.enum(["system", "developer"]),
      content: z.union([z.string(), Parts(TextPart)], TEXT),
      name: noName,
    }),
    z.strictObject({
      role: z.literal("user"),
      content: z.union([z.string(), Parts(TextPart)], TEXT),
      name: noName,
    }),
    z.strictObject({
      role: z.literal("assistant"),
      content: z
        .union([z.string(), Parts(z.union([TextPart, RefusalPart])), z.null()], TEXT)
        .optional(),
      tool_calls: z.array(ToolCall).optional(),
      refusal: z.string().nullish(),
      // Fields of a returned message that callers send back with it; earlier reasoning is not
      // part of Phi-4-reasoning's template, and the others are derived from the content.
      reasoning_content: echoed,
      parsed: echoed,
      annotations: echoed,
      name: noName,
      audio: refused("audio"),
      function_call: refused("function_call"),
    }),
    z.strictObject({
      role: z.literal("tool"),
      content: z.union([z.string(), Parts(TextPart)], TEXT),
      tool_call_id: z.string(),
    }),
  ],
  { error: "role must be system, developer, user, assistant or tool" },
);

const FunctionTool = z.strictObject({
  type: z.literal("function"),
  function: z.strictObject({
    name: z.string(),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    // The grammar holds every call to its schema, so calls are always strict.
    strict: z.boolean().nullish(),
  }),
});

export const OpenAIChatRequest = z.strictObject({
  messages: z.array(Message).min(1),
  model: z.string().optional(),
  stream: z.boolean().nullish(),
  stream_options: z
    .strictObject({
      include_usage: z.boolean().nullish(),
      include_obfuscation: refused("stream_options", (v) => v === false),
    })
    .nullish(),
  temperature: z.number().nullish(),
  top_p: z.number().nullish(),
  top_k: z.number().nullish(),
  seed: z.number().nullish(),
  max_tokens: z.number().nullish(),
  max_completion_tokens: z.number().nullish(),
  stop: z.union([z.string(), z.array(z.string())]).nullish(),
  reasoning_budget: z.number().nullish(),
  reasoning_effort: z.enum(["none", "minimal", "low", "medium", "high", "xhigh", "max"]).nullish(),
  response_format: z
    .discriminatedUnion("type", [
      z.strictObject({ type: z.literal("text") }),
      z.strictObject({ type: z.literal("json_object") }),
      z.strictObject({
        type: z.literal("json_schema"),
        json_schema: z.strictObject({
          name: z.string(),
          description: z.string().optional(),
          schema: z.record(z.string(), z.unknown()).optional(),
          strict: z.boolean().nullish(),
        }),
      }),
    ])
    .nullish(),
  tools: z
    .array(
      z.unknown().superRefine((value, ctx) => {
        const type = (value as { type?: unknown } | null)?.type;
        if (type !== "function") {
          ctx.addIssue({
            code: "custom",
            path: ["type"],
            message: `tools of type ${JSON.stringify(type)} are not supported (function tools only)`,
          });
          return;
        }
        for (const issue of FunctionTool.safeParse(value).error?.issues ?? []) {
          ctx.addIssue({ ...issue, code: "custom" } as never);
        }
      }),
    )
    .nullish(),
  tool_choice: z
    .union([
      z.enum(["none", "auto", "required"]),
      z.strictObject({
        type: z.literal("function"),
        function: z.strictObject({ name: z.string() }),
      }),
    ])
    .nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  user: z.string().max(256).nullish(),
  safety_identifier: z.string().max(256).nullish(),
  prompt_cache_key: z.string().max(1024).nullish(),
  prompt_cache_retention: refused("prompt_cache_retention", (v) => v === "in_memory"),
  n: refused("n", (v) => v === 1),
  logprobs: refused("logprobs", (v) => v === false),
  top_logprobs: refused("top_logprobs"),
  logit_bias: refused("logit_bias", isEmptyObject),
  frequency_penalty: refused("frequency_penalty", (v) => v === 0),
  presence_penalty: refused("presence_penalty", (v) => v === 0),
  store: refused("store", (v) => v === false),
  metadata: refused("metadata", isEmptyObject),
  service_tier: refused("service_tier", (v) => v === "auto" || v === "default"),
  modalities: refused("modalities", (v) => Array.isArray(v) && v.length === 1 && v[0] === "text"),
  audio: refused("audio"),
  prediction: refused("prediction"),
  verbosity: refused("verbosity"),
  web_search_options: refused("web_search_options"),
  moderation: refused("moderation"),
  prompt_cache_options: refused("prompt_cache_options"),
  functions: refused("functions"),
  function_call: refused("function_call"),
});
export type OpenAIChatRequest = z.infer<typeof OpenAIChatRequest>;

/** A refusal in OpenAI's terms: the message and the caller's own field (`messages[0].content`). */
export interface RequestProblem {
  message: string;
  param: string;
}

export type Parsed =
  | { ok: true; request: OpenAIChatRequest; input: ChatInput }
  | { ok: false; problem: RequestProblem };

/** Thought tokens allowed for each `reasoning_effort` (undefined: no limit). */
export const REASONING_EFFORT_BUDGET = {
  none: 0,
  minimal: 256,
  low: 1024,
  medium: 4096,
  high: undefined,
  xhigh: undefined,
  max: undefined,
} as const;

/** Validates an OpenAI request and maps it onto the contract's ChatInput (same limits). */
export function parseOpenAIRequest(body: unknown): Parsed {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { ok: false, problem: { message: "the body must be a JSON object", param: "" } };
  }
  const parsed = OpenAIChatRequest.safeParse(body);
  if (!parsed.success) return { ok: false, problem: firstProblem(parsed.error, (path) => path) };
  const request = parsed.data;
  const conflict = conflicts(request);
  if (conflict) return { ok: false, problem: conflict };
  const candidate = toChatInput(request);
  const input = ChatInput.safeParse(candidate);
  if (!input.success) {
    return { ok: false, problem: firstProblem(input.error, (path) => toOpenAIPath(path, request)) };
  }
  return { ok: true, request, input: input.data };
}

function conflicts(request: OpenAIChatRequest): RequestProblem | undefined {
  const { max_tokens, max_completion_tokens } = request;
  if (max_tokens != null && max_completion_tokens != null && max_tokens !== max_completion_tokens) {
    return {
      param: "max_tokens",
      message: "max_tokens and max_completion_tokens differ; send one",
    };
  }
  if (request.reasoning_budget != null && request.reasoning_effort != null) {
    return {
      param: "reasoning_effort",
      message: "reasoning_effort and reasoning_budget both limit the reasoning; send one",
    };
  }
  for (const [i, m] of request.messages.entries()) {
    if (m.role !== "assistant") continue;
    const empty = m.content == null || m.content === "";
    if (empty && !m.tool_calls?.length) {
      return {
        param: `messages[${i}].content`,
        message: "an assistant message needs content or tool_calls",
      };
    }
    if (m.refusal != null) {
      return {
        param: `messages[${i}].refusal`,
        message: "refusal messages are not supported; send content",
      };
    }
  }
  return undefined;
}

function toChatInput(request: OpenAIChatRequest) {
  const format = request.response_format;
  const effort = request.reasoning_effort;
  const budget =
    request.reasoning_budget ?? (effort == null ? undefined : REASONING_EFFORT_BUDGET[effort]);
  const tools = request.tools?.map((tool) => {
    const { function: f } = tool as z.infer<typeof FunctionTool>;
    return { name: f.name, description: f.description, parameters: f.parameters };
  });
  const choice = request.tool_choice;
  return {
    messages: request.messages.map(toMessage),
    temperature: request.temperature ?? undefined,
    topP: request.top_p ?? undefined,
    topK: request.top_k ?? undefined,
    seed: request.seed ?? undefined,
    maxTokens: request.max_completion_tokens ?? request.max_tokens ?? undefined,
    stop: typeof request.stop === "string" ? [request.stop] : (request.stop ?? undefined),
    reasoning: budget === undefined ? undefined : { budget },
    responseFormat:
      format?.type === "json_schema"
        ? format.json_schema.schema
          ? {
              type: "json_schema" as const,
              schema: format.json_schema.schema,
              name: format.json_schema.name,
              description: format.json_schema.description,
            }
          : { type: "json_object" as const }
        : (format ?? undefined),
    tools: tools?.length ? tools : undefined,
    toolChoice:
      typeof choice === "object" && choice ? { name: choice.function.name } : (choice ?? undefined),
  };
}

function toMessage(m: OpenAIChatRequest["messages"][number]): ChatMessage {
  const text = (content: unknown) =>
    typeof content === "string"
      ? content
      : ((content as { text?: string }[] | null | undefined) ?? [])
          .map((part) => part.text ?? "")
          .join("");
  if (m.role === "tool")
    return { role: "tool", toolCallId: m.tool_call_id, content: text(m.content) };
  if (m.role === "assistant") {
    const calls = m.tool_calls?.map((call) => ({
      id: call.id,
      name: call.function.name,
      arguments: call.function.arguments,
    }));
    return {
      role: "assistant",
      content: text(m.content),
      ...(calls?.length ? { toolCalls: calls } : {}),
    };
  }
  return { role: m.role === "developer" ? "system" : m.role, content: text(m.content) };
}

/** The first issue as OpenAI reports it: one message, one `param` in the caller's notation. */
function firstProblem(
  error: ZodError,
  translate: (path: (string | number)[]) => (string | number)[],
): RequestProblem {
  const issue = error.issues[0];
  if (!issue) return { message: "invalid request", param: "" };
  let path = translate(issue.path.map((p) => (typeof p === "symbol" ? String(p) : p)));
  let message = issue.message;
  if (issue.code === "unrecognized_keys") {
    path = [...path, issue.keys[0] ?? ""];
    message = "unrecognized request argument";
  }
  const param = path.map((p, i) => (typeof p === "number" ? `[${p}]` : i ? `.${p}` : p)).join("");
  return { param, message: `Invalid '${param}': ${message}` };
}

/** A ChatInput path (camelCase, contract shape) in the caller's OpenAI request. */
function toOpenAIPath(path: (string | number)[], request: OpenAIChatRequest): (string | number)[] {
  const [head, ...rest] = path;
  switch (head) {
    case "messages": {
      const [index, field, ...more] = rest;
      if (field === "toolCallId") return ["messages", index as number, "tool_call_id"];
      if (field === "toolCalls") {
        const [call, key] = more;
        return [
          "messages",
          index as number,
          "tool_calls",
          call as number,
          ...(key === "id" ? ["id"] : ["function", key as string]),
        ];
      }
      return ["messages", ...rest];
    }
    case "topP":
      return ["top_p", ...rest];
    case "topK":
      return ["top_k", ...rest];
    case "maxTokens":
      return [request.max_completion_tokens != null ? "max_completion_tokens" : "max_tokens"];
    case "reasoning":
      return [request.reasoning_budget != null ? "reasoning_budget" : "reasoning_effort"];
    case "responseFormat": {
      const [field, ...more] = rest;
      if (field === "schema") return ["response_format", "json_schema", "schema", ...more];
      return ["response_format", ...rest];
    }
    case "tools": {
      const [index, field, ...more] = rest;
      if (index === undefined) return ["tools"];
      return ["tools", index, "function", ...(field === undefined ? [] : [field]), ...more];
    }
    case "toolChoice":
      return rest[0] === "name" ? ["tool_choice", "function", "name"] : ["tool_choice"];
    default:
      return path;
  }
}
