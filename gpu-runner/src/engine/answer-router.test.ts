import type { ChatEvent } from "@phi4-edge/shared";
import type { LlamaGrammar } from "node-llama-cpp";
import { describe, expect, it } from "vitest";
import { AnswerRouter } from "./answer-router";

// The grammar object is only handed through; its identity is what the loop sees.
const grammar = { name: "tool grammar" } as unknown as LlamaGrammar;

function route(plan: ConstructorParameters<typeof AnswerRouter>[0], pieces: string[]) {
  const events: ChatEvent[] = [];
  const router = new AnswerRouter(plan, (e) => events.push(e));
  const grammars: (LlamaGrammar | undefined)[] = [];
  for (const piece of pieces) {
    grammars.push(router.grammar);
    router.push(piece);
  }
  router.finish();
  const text = events.map((e) => (e.type === "text" ? e.text : "")).join("");
  const args = events.map((e) => (e.type === "tool_call" ? e.arguments : "")).join("");
  return { events, text, args, router, grammars };
}

describe("AnswerRouter", () => {
  it("under auto, streams text until the model opens a call, then constrains and parses the call", () => {
    const { text, args, router, grammars, events } = route(
      { kind: "tools", mode: "auto", grammar },
      [
        "Let me check. <to",
        "ol_call>",
        '{"name":"get_weather",',
        '"arguments":{"city":"Paris"}}',
        "\n\n\n\n",
      ],
    );
    expect(text).toBe("Let me check. ");
    expect(args).toBe('{"city":"Paris"}');
    expect(events.find((e) => e.type === "tool_call")).toMatchObject({ name: "get_weather" });
    expect(router.calledTool).toBe(true);
    expect(router.complete).toBe(true);
    // Free until the marker is complete, then the tool grammar.
    expect(grammars).toEqual([undefined, undefined, grammar, grammar, grammar]);
  });

  it("under auto, lets a '<' that never becomes the marker through", () => {
    const { text, router } = route({ kind: "tools", mode: "auto", grammar }, ["a <b> c <to", "p"]);
    expect(text).toBe("a <b> c <top");
    expect(router.calledTool).toBe(false);
  });

  it("under a JSON grammar, ends at the grammar's trailing newlines and drops them", () => {
    const { text, router } = route({ kind: "json", grammar }, ['{"a":', "1}", "\n\n", "\n\n"]);
    expect(text).toBe('{"a":1}');
    expect(router.complete).toBe(true);
  });
});
