import { type ChatWrapper, type LlamaModel, LlamaText, type Token } from "node-llama-cpp";
import type { ReplyFormat } from "./generate-reply";

/**
 * How the model marks its reasoning, from the chat wrapper node-llama-cpp resolved for the GGUF's
 * template (Phi-4-reasoning: `<think>` … `</think>`). A tag that is one token gets its text
 * from here, whatever detokenizing would show for it.
 */
export function replyFormat(model: LlamaModel, wrapper: ChatWrapper): ReplyFormat {
  const segment = wrapper.settings.segments?.thought;
  if (!segment?.prefix || !segment.suffix) {
    return { openTokens: [], closeTokens: [], tagTokens: new Map() };
  }
  // A template that opens the thought itself ("openedOnStart") has no open tag to wait for.
  const open = isText(segment.prefix) ? LlamaText(segment.prefix).toString() : "";
  const close = LlamaText(segment.suffix).toString();
  const tagTokens = new Map<Token, string>();
  for (const tag of [open, close].filter(Boolean)) {
    const tokens = model.tokenize(tag, true);
    if (tokens.length === 1) tagTokens.set(tokens[0] as Token, tag);
  }
  return {
    thought: { open, close },
    openTokens: open ? model.tokenize(open, true) : [],
    closeTokens: model.tokenize(close, true),
    tagTokens,
  };
}

function isText(prefix: unknown): prefix is string | LlamaText {
  return typeof prefix === "string" || LlamaText.isLlamaText(prefix);
}
