import { type ChatInput, type JsonSchemaObject, toGrammarSchema } from "@phi4-edge/shared";
import type { GbnfJsonSchema, Llama, LlamaGrammar } from "node-llama-cpp";

/**
 * How the answer (what follows `</think>`) is generated:
 * - `text`: free text;
 * - `json`: constrained from its first token by `grammar`;
 * - `tools`: with `required`, a tool call constrained by `grammar`; with `auto`, free text
 *   until the model writes TOOL_CALL_OPEN, then the call constrained by `grammar`.
 * The reasoning before it is never constrained: a grammar from the first token would leave the
 * model no room to think.
 */
export type AnswerPlan =
  | { kind: "text" }
  | { kind: "json"; grammar: LlamaGrammar }
  | { kind: "tools"; mode: "auto" | "required"; grammar: LlamaGrammar };

/** Builds grammars once per distinct schema (they compile natively), for up to `size` schemas. */
export class AnswerPlanner {
  private readonly cache = new Map<string, Promise<LlamaGrammar>>();

  constructor(
    private readonly llama: Llama,
    private readonly size = 64,
  ) {}

  async plan(input: ChatInput): Promise<AnswerPlan> {
    const { tools, toolChoice = "auto", responseFormat } = input;
    if (tools?.length && toolChoice !== "none") {
      const offered =
        typeof toolChoice === "object" ? tools.filter((t) => t.name === toolChoice.name) : tools;
      const calls = offered.map((tool) => ({
        type: "object",
        properties: {
          name: { const: tool.name },
          arguments: tool.parameters
            ? grammarSchema(tool.parameters)
            : { type: "object", properties: {} },
        },
      }));
      const schema = calls.length === 1 ? calls[0] : { oneOf: calls };
      return {
        kind: "tools",
        mode: toolChoice === "auto" ? "auto" : "required",
        grammar: await this.grammar(schema as JsonSchemaObject),
      };
    }
    if (responseFormat?.type === "json_object") {
      return {
        kind: "json",
        grammar: await this.grammar({ type: "object", additionalProperties: true }),
      };
    }
    if (responseFormat?.type === "json_schema") {
      return { kind: "json", grammar: await this.grammar(grammarSchema(responseFormat.schema)) };
    }
    return { kind: "text" };
  }

  private grammar(schema: JsonSchemaObject): Promise<LlamaGrammar> {
    const key = JSON.stringify(schema);
    let grammar = this.cache.get(key);
    if (grammar) {
      // Most recently used last, so the oldest goes first.
      this.cache.delete(key);
    } else {
      // toGrammarSchema wrote the schema in the grammar's dialect; its static type can't say so.
      grammar = this.llama.createGrammarForJsonSchema(schema as Readonly<GbnfJsonSchema> as never);
      grammar.catch(() => this.cache.delete(key));
      if (this.cache.size >= this.size) this.cache.delete(this.cache.keys().next().value as string);
    }
    this.cache.set(key, grammar);
    return grammar;
  }
}

/** The contract already checked the schema; this returns its grammar dialect. */
function grammarSchema(schema: Record<string, unknown>): JsonSchemaObject {
  const result = toGrammarSchema(schema);
  if (!result.ok) throw new Error(`unchecked schema: ${result.problem.message}`);
  return result.schema;
}
