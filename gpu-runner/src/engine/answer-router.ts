import { randomBytes } from "node:crypto";
import type { ChatEvent } from "@phi4-edge/shared";
import type { LlamaGrammar } from "node-llama-cpp";
import type { AnswerPlan } from "./answer-plan";
import { TOOL_CALL_OPEN } from "./to-chat-history";
import { ToolCallStream } from "./tool-call-stream";

/** What node-llama-cpp's JSON-schema grammar requires after the value: it ends there. */
const GRAMMAR_END = "\n\n\n\n";

/**
 * Shapes the answer (the text after the reasoning) as the plan says, piece by piece, for a
 * decode loop: which grammar constrains the next token, what to emit (`text` or `tool_call`
 * events), and when the answer is complete. Under `auto` tools the answer is free text until
 * the model writes TOOL_CALL_OPEN (text that may be its start is held back); the call after it
 * is constrained by the tool grammar.
 */
export class AnswerRouter {
  private mode: "text" | "json" | "call" | "watch";
  private held = "";
  private tail = "";
  private call: ToolCallStream | undefined;
  /** True once the grammar's value is complete: the loop should stop. */
  complete = false;

  constructor(
    private readonly plan: AnswerPlan,
    private readonly emit: (event: ChatEvent) => void,
  ) {
    if (plan.kind === "text") this.mode = "text";
    else if (plan.kind === "json") this.mode = "json";
    else this.mode = plan.mode === "required" ? "call" : "watch";
    if (this.mode === "call") this.call = newCall();
  }

  /** The grammar for the next answer token (undefined: sample freely). */
  get grammar(): LlamaGrammar | undefined {
    if (this.plan.kind === "text") return undefined;
    return this.mode === "json" || this.mode === "call" ? this.plan.grammar : undefined;
  }

  /** True when the answer became a tool call. */
  get calledTool(): boolean {
    return this.call?.named ?? false;
  }

  push(text: string): void {
    if (this.complete || !text) return;
    if (this.mode === "text") {
      this.emit({ type: "text", text });
      return;
    }
    if (this.mode === "watch") {
      this.held += text;
      const at = this.held.indexOf(TOOL_CALL_OPEN);
      if (at >= 0) {
        this.flush(this.held.slice(0, at));
        const rest = this.held.slice(at + TOOL_CALL_OPEN.length);
        this.held = "";
        this.mode = "call";
        this.call = newCall();
        this.push(rest);
        return;
      }
      // Keep back the longest end of the text that may still become the marker.
      let keep = Math.min(this.held.length, TOOL_CALL_OPEN.length - 1);
      while (keep > 0 && !TOOL_CALL_OPEN.startsWith(this.held.slice(-keep))) keep--;
      this.flush(this.held.slice(0, this.held.length - keep));
      this.held = this.held.slice(this.held.length - keep);
      return;
    }
    // Constrained: the grammar's trailing newlines end the value and are not part of it.
    this.tail += text;
    const end = this.tail.indexOf(GRAMMAR_END);
    const usable = end >= 0 ? this.tail.slice(0, end) : this.tail.replace(/\n+$/, "");
    this.tail = end >= 0 ? "" : this.tail.slice(usable.length);
    if (end >= 0) this.complete = true;
    if (!usable) return;
    if (this.mode === "json") this.emit({ type: "text", text: usable });
    else {
      const event = this.call?.push(usable);
      if (event) this.emit(event);
    }
  }

  /** The answer ended (end of generation, length, stop): sends what was held back. */
  finish(): void {
    if (this.mode === "watch") this.flush(this.held);
    this.held = "";
    if (this.mode === "json" && this.tail.trim()) this.emit({ type: "text", text: this.tail });
    const last = this.call?.end();
    if (last) this.emit(last);
  }

  private flush(text: string) {
    if (text) this.emit({ type: "text", text });
  }
}

function newCall(): ToolCallStream {
  return new ToolCallStream(0, `call_${randomBytes(12).toString("base64url")}`);
}
