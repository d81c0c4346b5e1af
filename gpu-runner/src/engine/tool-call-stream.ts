import type { ToolCallEvent } from "@phi4-edge/shared";

const HEAD = /^\s*\{\s*"name"\s*:\s*("(?:[^"\\]|\\.)*")\s*,\s*"arguments"\s*:\s*/;

/**
 * Turns the generated text of one tool call, `{"name": "…", "arguments": {…}}` (the grammar
 * guarantees this shape), into `tool_call` events as it grows: the arguments stream as they are
 * written, holding back only a trailing brace, which may be the one that closes the call.
 */
export class ToolCallStream {
  private text = "";
  private name: string | undefined;
  private start = 0;
  private sent = 0;

  constructor(
    private readonly index: number,
    private readonly id: string,
  ) {}

  /** Adds generated text; returns the event for what can be sent now, if any. */
  push(chunk: string): ToolCallEvent | undefined {
    this.text += chunk;
    if (this.name === undefined) {
      const head = HEAD.exec(this.text);
      if (!head) return undefined;
      this.name = JSON.parse(head[1] as string) as string;
      this.start = this.sent = head[0].length;
    }
    // A `}` at the very end (and whitespace around it) may close the call: hold it back.
    const held = /\s*\}?\s*$/.exec(this.text)?.[0].length ?? 0;
    return this.take(Math.max(this.sent, this.text.length - held));
  }

  /** The call is complete: sends the rest of the arguments; undefined if it never became one. */
  end(): ToolCallEvent | undefined {
    if (this.name === undefined) return undefined;
    const close = this.text.slice(0, this.text.lastIndexOf("}")).trimEnd().length;
    const event = this.take(Math.max(this.sent, close));
    return event ?? (this.sent === this.start ? this.event("") : undefined);
  }

  /** True once the text names the tool: it is a call. */
  get named(): boolean {
    return this.name !== undefined;
  }

  /** The complete arguments (JSON text), once `end` was called. */
  get arguments(): string {
    return this.text.slice(this.start, this.sent);
  }

  private take(end: number): ToolCallEvent | undefined {
    if (end <= this.sent) return undefined;
    const piece = this.text.slice(this.sent, end);
    this.sent = end;
    return this.event(piece);
  }

  private event(piece: string): ToolCallEvent {
    return {
      type: "tool_call",
      index: this.index,
      id: this.id,
      name: this.name as string,
      arguments: piece,
    };
  }
}
