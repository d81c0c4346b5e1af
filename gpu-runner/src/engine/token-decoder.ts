import type { LlamaModel, Token } from "node-llama-cpp";

/** Tokens whose text is context-dependent in some vocabularies (leading spaces): kept as context. */
const CONTEXT_TOKENS = 4;
/** A UTF-8 character spans at most 4 bytes, so at most 4 byte tokens wait for the rest. */
const MAX_PENDING = 4;
const REPLACEMENT = "\uFFFD";

/**
 * Turns generated tokens into text one token at a time. A character split across byte tokens
 * comes out whole with its last token (never a U+FFFD in between); `fixed` gives the text of
 * special tokens that detokenizing would hide (e.g. `<think>` when it is a control token).
 */
export class TokenDecoder {
  private pending: Token[] = [];
  private recent: Token[] = [];

  constructor(
    private readonly model: LlamaModel,
    private readonly fixed: ReadonlyMap<Token, string> = new Map(),
  ) {}

  push(token: Token): string {
    const fixed = this.fixed.get(token);
    if (fixed !== undefined) return this.flush() + fixed;
    this.pending.push(token);
    const text = this.model.detokenize(this.pending, false, this.recent);
    if (text.endsWith(REPLACEMENT) && this.pending.length < MAX_PENDING) return "";
    this.remember(this.pending);
    this.pending = [];
    return text;
  }

  /** Text of tokens still waiting for the rest of a character (at the end of a reply). */
  flush(): string {
    if (this.pending.length === 0) return "";
    const text = this.model.detokenize(this.pending, false, this.recent);
    this.remember(this.pending);
    this.pending = [];
    return text;
  }

  private remember(tokens: Token[]) {
    this.recent = [...this.recent, ...tokens].slice(-CONTEXT_TOKENS);
  }
}
