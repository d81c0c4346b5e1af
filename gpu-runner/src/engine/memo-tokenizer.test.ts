import type { ChatMessage } from "@phi4-edge/shared";
import { type ChatWrapper, resolveChatWrapper, type Tokenizer } from "node-llama-cpp";
import { beforeAll, describe, expect, it } from "vitest";
import { useTinyModel } from "../../test/tiny-model";
import { memoTokenizer } from "./memo-tokenizer";
import { toChatHistory } from "./to-chat-history";

// The real tiny GGUF and its Phi-4-reasoning template, rendered as the engine renders prompts.
const tiny = useTinyModel();
let wrapper: ChatWrapper;

beforeAll(() => {
  wrapper = resolveChatWrapper(tiny.model) as ChatWrapper;
});

const tokensOf = (messages: ChatMessage[], tokenizer: Tokenizer) =>
  wrapper
    .generateContextState({ chatHistory: toChatHistory(messages) })
    .contextText.tokenize(tokenizer);

/** A chat that grows turn by turn, each turn resending the whole history, as callers do. */
function conversation(): ChatMessage[][] {
  const turns: ChatMessage[] = [];
  const sent: ChatMessage[][] = [];
  const texts = [
    "hello",
    "  leading spaces, then <|im_end|> and <think> written as plain text",
    "\nstarts with a newline; ünïcödé, emoji 🙂 and CJK 漢字",
    "ends with spaces   ",
  ];
  for (const [i, text] of texts.entries()) {
    turns.push({ role: i === 0 ? "system" : "user", content: `be brief ${i}` });
    turns.push({ role: "user", content: text });
    sent.push([...turns]);
    turns.push({ role: "assistant", content: ` reply ${i}: ${text}` });
  }
  return sent;
}

describe("memoTokenizer on the tiny model", () => {
  it("tokenizes every turn of a growing chat exactly as the model's tokenizer does", () => {
    const memo = memoTokenizer(tiny.model.tokenizer);
    // Twice over: the second pass is served from the memo.
    for (const pass of [1, 2]) {
      for (const messages of conversation()) {
        const expected = tokensOf(messages, tiny.model.tokenizer);
        expect(tokensOf(messages, memo), `pass ${pass}`).toEqual(expected);
        expect(expected.length).toBeGreaterThan(1000);
      }
    }
  });

  it("tokenizes a resent history's segments once: the next turn only its new ones", () => {
    let calls = 0;
    const counting = Object.assign((...args: Parameters<typeof tiny.model.tokenize>) => {
      calls++;
      return tiny.model.tokenize(...args);
    }, tiny.model.tokenizer) as Tokenizer;
    const memo = memoTokenizer(counting);
    const [first, second] = conversation() as [ChatMessage[], ChatMessage[]];
    tokensOf(first, memo);
    const once = calls;
    tokensOf(first, memo);
    expect(calls).toBe(once);
    tokensOf(second, memo);
    // Only the segments the second turn adds or changes are tokenized (not the system prompt).
    expect(calls - once).toBeGreaterThan(0);
    expect(calls - once).toBeLessThan(once);
  });

  it("stays exact while it evicts, and gives callers arrays of their own", () => {
    const memo = memoTokenizer(tiny.model.tokenizer, { maxEntries: 2, maxChars: 4096 });
    for (const messages of [...conversation(), ...conversation()]) {
      expect(tokensOf(messages, memo)).toEqual(tokensOf(messages, tiny.model.tokenizer));
    }
    const first = memo("hello", false);
    first.push(first[0] as never);
    expect(memo("hello", false)).toEqual(tiny.model.tokenize("hello", false));
    expect(memo("<|im_end|>", true)).toEqual(tiny.model.tokenize("<|im_end|>", true));
    expect(memo("<|im_end|>", false)).toEqual(tiny.model.tokenize("<|im_end|>", false));
    expect(memo(" x", false, "trimLeadingSpace")).toEqual(
      tiny.model.tokenize(" x", false, "trimLeadingSpace"),
    );
    expect(memo("EOS", "builtin")).toEqual(tiny.model.tokenize("EOS", "builtin"));
  });
});
