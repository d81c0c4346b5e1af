import { setImmediate as yieldToLoop } from "node:timers/promises";
import { type ChatMessage, ContextOverflowError } from "@phi4-edge/shared";
import type { LlamaModel } from "node-llama-cpp";

/** Token types whose text can come from a caller's plain text: normal, user-defined, byte. */
const TEXT_TOKEN_TYPES = new Set([1, 4, 6]);
/** Tokenized in one go below this size (about a millisecond); above it, in yielding slices. */
const SLICE_CHARS = 16_384;
/** Tokens a cut between two slices may add over tokenizing the text whole. */
const SLICE_MARGIN = 4;

/**
 * The most bytes of text one token of this vocabulary can stand for. A prompt of B bytes is
 * then at least B / maxTokenBytes tokens, known without tokenizing. GPT-2-style byte-level
 * vocabularies spell one byte per character; others are measured in UTF-8 (an overestimate,
 * which only weakens the bound). Undefined when the file lists no vocabulary.
 */
export function maxTokenBytes(model: LlamaModel): number | undefined {
  const tokenizer = model.fileInfo.metadata.tokenizer?.ggml;
  const tokens = tokenizer?.tokens;
  if (!tokens?.length) return undefined;
  const types = tokenizer?.token_type;
  const byteLevel = tokenizer?.model === "gpt2";
  let max = 1;
  for (const [i, text] of tokens.entries()) {
    const type = types?.[i];
    if (type !== undefined && !TEXT_TOKEN_TYPES.has(type)) continue;
    max = Math.max(max, byteLevel ? [...text].length : Buffer.byteLength(text));
  }
  return max;
}

export interface PromptBoundOptions {
  contextSize: number;
  /** From `maxTokenBytes`; undefined skips the byte bound. */
  maxTokenBytes: number | undefined;
  /** Counts the tokens of a piece of plain text (synchronous, so kept to small pieces). */
  countTokens: (text: string) => number;
  signal: AbortSignal;
}

/**
 * Refuses a prompt that cannot fit before it is tokenized whole: tokenizing is synchronous, and
 * a megabyte of text held every stream and `/healthz` for a second. First a bound from its size
 * alone; then, for long messages, a count in slices with a turn of the event loop between
 * them. What passes is at most about one context of tokens, cheap to tokenize exactly.
 */
export async function assertPromptMayFit(
  messages: readonly ChatMessage[],
  options: PromptBoundOptions,
): Promise<void> {
  const { contextSize } = options;
  if (options.maxTokenBytes !== undefined) {
    const bytes = messages.reduce((sum, m) => sum + Buffer.byteLength(m.content), 0);
    const atLeast = Math.ceil(bytes / options.maxTokenBytes);
    if (atLeast >= contextSize) throw new ContextOverflowError(atLeast, contextSize, true);
  }
  const total = messages.reduce((sum, m) => sum + m.content.length, 0);
  if (total <= SLICE_CHARS) return;
  let atLeast = 0;
  for (const message of messages) {
    for (const slice of slices(message.content)) {
      await yieldToLoop(undefined, { signal: options.signal });
      atLeast += Math.max(0, options.countTokens(slice) - SLICE_MARGIN);
      if (atLeast >= contextSize) throw new ContextOverflowError(atLeast, contextSize, true);
    }
  }
}

/** Pieces of about SLICE_CHARS, cut before a space where there is one (where tokens part). */
function* slices(text: string): Generator<string> {
  let start = 0;
  while (start < text.length) {
    let end = Math.min(text.length, start + SLICE_CHARS);
    if (end < text.length) {
      const space = text.lastIndexOf(" ", end);
      if (space > start + SLICE_CHARS / 2) end = space;
      // Never split a surrogate pair.
      else if (/[\uD800-\uDBFF]/.test(text.charAt(end - 1))) end--;
    }
    yield text.slice(start, end);
    start = end;
  }
}
