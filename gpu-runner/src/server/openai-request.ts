import { ChatInput, formatZodError } from "@phi4-edge/shared";
import { z } from "zod";

const TextPart = z.object({ type: z.literal("text"), text: z.string() });

/** The part of OpenAI's chat-completions request this server understands; the rest is ignored. */
export const OpenAIChatRequest = z.object({
  model: z.string().optional(),
  messages: z
    .array(
      z.object({
        role: z.enum(["system", "developer", "user", "assistant"]),
        content: z.union([z.string(), z.array(TextPart), z.null()]),
      }),
    )
    .min(1),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  temperature: z.number().nullish(),
  top_p: z.number().nullish(),
  /** Not in OpenAI's API, but common on local servers. */
  top_k: z.int().nullish(),
  seed: z.int().nullish(),
  max_tokens: z.int().nullish(),
  max_completion_tokens: z.int().nullish(),
  stop: z.union([z.string(), z.array(z.string())]).nullish(),
  n: z.literal(1).nullish(),
  /** Not in OpenAI's API: thought tokens allowed before the answer is forced. */
  reasoning_budget: z.int().nullish(),
});
export type OpenAIChatRequest = z.infer<typeof OpenAIChatRequest>;

export type Parsed =
  | { ok: true; request: OpenAIChatRequest; input: ChatInput }
  | { ok: false; message: string };

/** Validates an OpenAI request and maps it onto the contract's ChatInput (same limits). */
export function parseOpenAIRequest(body: unknown): Parsed {
  const parsed = OpenAIChatRequest.safeParse(body);
  if (!parsed.success) return { ok: false, message: formatZodError(parsed.error) };
  const request = parsed.data;
  const candidate = {
    messages: request.messages.map((m) => ({
      role: m.role === "developer" ? "system" : m.role,
      content:
        typeof m.content === "string"
          ? m.content
          : (m.content ?? []).map((part) => part.text).join(""),
    })),
    temperature: request.temperature ?? undefined,
    topP: request.top_p ?? undefined,
    topK: request.top_k ?? undefined,
    seed: request.seed ?? undefined,
    maxTokens: request.max_completion_tokens ?? request.max_tokens ?? undefined,
    stop: typeof request.stop === "string" ? [request.stop] : (request.stop ?? undefined),
    reasoning: request.reasoning_budget == null ? undefined : { budget: request.reasoning_budget },
  };
  const input = ChatInput.safeParse(candidate);
  if (!input.success) return { ok: false, message: formatZodError(input.error) };
  return { ok: true, request, input: input.data };
}
