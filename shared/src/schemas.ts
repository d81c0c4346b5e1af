import { z } from "zod";

/** Hard limits on a request, enforced before anything reaches the engine. */
export const LIMITS = {
  messages: 256,
  messageChars: 200_000,
  maxTokens: 32_768,
  stopSequences: 4,
  stopChars: 64,
} as const;

export const Role = z.enum(["system", "user", "assistant"]);
export type Role = z.infer<typeof Role>;

export const ChatMessage = z.strictObject({
  role: Role,
  content: z.string().max(LIMITS.messageChars),
});
export type ChatMessage = z.infer<typeof ChatMessage>;

export const Reasoning = z.strictObject({
  /** Thought tokens allowed before the answer is forced (`</think>` is inserted). */
  budget: z.int().min(0).max(LIMITS.maxTokens).optional(),
});
export type Reasoning = z.infer<typeof Reasoning>;

/** Input of the `chat` procedure. Unset sampling fields take the model card's defaults. */
export const ChatInput = z.strictObject({
  messages: z
    .array(ChatMessage)
    .min(1)
    .max(LIMITS.messages)
    .refine((messages) => messages.at(-1)?.role === "user", {
      message: "the last message must have role 'user'",
    }),
  temperature: z.number().min(0).max(2).optional(),
  topP: z.number().gt(0).max(1).optional(),
  topK: z.int().min(1).max(1000).optional(),
  seed: z.int().min(0).max(0xffff_ffff).optional(),
  maxTokens: z.int().min(1).max(LIMITS.maxTokens).optional(),
  stop: z.array(z.string().min(1).max(LIMITS.stopChars)).max(LIMITS.stopSequences).optional(),
  reasoning: Reasoning.optional(),
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
