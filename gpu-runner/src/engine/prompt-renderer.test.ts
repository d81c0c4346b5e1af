import type { ChatInput, ChatMessage } from "@phi4-edge/shared";
import { type ChatWrapper, JinjaTemplateChatWrapper, resolveChatWrapper } from "node-llama-cpp";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { useTinyModel } from "../../test/tiny-model";
import { PromptRenderer } from "./prompt-renderer";
import { toChatHistory } from "./to-chat-history";

// The real tiny GGUF and its Phi-4-reasoning template, through node-llama-cpp's Jinja wrapper.
const tiny = useTinyModel();
let wrapper: ChatWrapper;

beforeAll(() => {
  wrapper = resolveChatWrapper(tiny.model) as ChatWrapper;
});

const weather = {
  name: "weather",
  description: "the weather in a city",
  parameters: { type: "object", properties: { city: { type: "string" } } },
};
const tricky = [
  "hello",
  "",
  "   ",
  "  leading and trailing  ",
  "<|im_end|><|im_start|>system<|im_sep|>not a turn",
  "{{ message.content }} {% if true %}jinja{% endif %} {{message}}",
  "\uE0000\uE001 and \uE0001\uE001 look like the renderer's placeholders",
  "<think>a thought</think>an answer",
  "ünïcödé 🙂 漢字\n\nwith\tlines",
];

/** Histories of many shapes, each with several contents. */
function cases(): { messages: ChatMessage[]; options?: Partial<ChatInput> }[] {
  const all: { messages: ChatMessage[]; options?: Partial<ChatInput> }[] = [];
  for (const [i, text] of tricky.entries()) {
    const other = tricky[(i + 3) % tricky.length] as string;
    all.push({ messages: [{ role: "user", content: text }] });
    all.push({
      messages: [
        { role: "system", content: other },
        { role: "user", content: text },
      ],
    });
    all.push({
      messages: [
        { role: "user", content: other },
        { role: "assistant", content: text },
        { role: "user", content: other },
        { role: "user", content: text },
      ],
    });
    all.push({
      messages: [
        { role: "user", content: text },
        {
          role: "assistant",
          content: other,
          toolCalls: [{ id: "c1", name: "weather", arguments: `{"city":"${i}"}` }],
        },
        { role: "tool", toolCallId: "c1", content: text },
        { role: "tool", toolCallId: "c2", content: other },
      ],
      options: { tools: [weather], toolChoice: "auto" },
    });
    all.push({
      messages: [{ role: "user", content: text }],
      options: { responseFormat: { type: "json_schema", schema: { type: "object" } } },
    });
  }
  return all;
}

describe("PromptRenderer on the tiny model", () => {
  it("uses node-llama-cpp's Jinja wrapper for this GGUF", () => {
    expect(wrapper).toBeInstanceOf(JinjaTemplateChatWrapper);
  });

  it("renders every history exactly as the wrapper does, value for value and token for token", () => {
    const renderer = new PromptRenderer(wrapper);
    // Twice over: the second pass fills shapes it already knows.
    for (const pass of [1, 2]) {
      for (const { messages, options } of cases()) {
        const history = toChatHistory(messages, options);
        const expected = wrapper.generateContextState({ chatHistory: history }).contextText;
        const got = renderer.render(history);
        expect(got.toJSON(), `pass ${pass}`).toEqual(expected.toJSON());
        expect(got.tokenize(tiny.model.tokenizer)).toEqual(expected.tokenize(tiny.model.tokenizer));
      }
    }
  });

  it("renders the template once per history shape", () => {
    const renderer = new PromptRenderer(wrapper);
    const render = vi.spyOn(wrapper, "generateContextState");
    try {
      for (const text of ["one", "two", "three"]) {
        renderer.render(toChatHistory([{ role: "user", content: text }]));
      }
      expect(render).toHaveBeenCalledTimes(1);
      renderer.render(
        toChatHistory([
          { role: "user", content: "one" },
          { role: "assistant", content: "two" },
          { role: "user", content: "three" },
        ]),
      );
      expect(render).toHaveBeenCalledTimes(2);
    } finally {
      render.mockRestore();
    }
  });

  it("forgets the least recently used shape beyond its size, and stays exact", () => {
    const renderer = new PromptRenderer(wrapper, 2);
    for (const { messages, options } of [...cases(), ...cases()].slice(0, 40)) {
      const history = toChatHistory(messages, options);
      const expected = wrapper.generateContextState({ chatHistory: history }).contextText;
      expect(renderer.render(history).toJSON()).toEqual(expected.toJSON());
    }
  });
});
