import type { ChatEvent, DoneEvent, StatusEvent } from "@phi4-edge/shared";

export interface RenderOptions {
  /** Show reasoning at all. */
  reasoning: boolean;
  /** ANSI styling and the collapsing reasoning block (TTY only). */
  tty: boolean;
  columns?: number;
}

const dim = (s: string) => `\x1b[2m${s}\x1b[22m`;

/**
 * Writes a chat stream to a terminal: reasoning dimmed (collapsed to one line once the answer
 * starts, on a TTY), the answer as plain text, status lines while waiting, and a usage line.
 */
export class Renderer {
  reasoningText = "";
  private state: "idle" | "status" | "reasoning" | "text" = "idle";
  private column = 0;
  private rows = 0;

  constructor(
    private out: NodeJS.WritableStream,
    private options: RenderOptions,
  ) {}

  write(event: ChatEvent): void {
    if (event.type === "status") this.status(event);
    else if (event.type === "done") this.done(event);
    else if (event.type === "text") {
      if (this.state !== "text") this.beginAnswer();
      this.put(event.text, event.text);
    } else if (event.type === "reasoning") {
      this.reasoningText += event.text;
      if (!this.options.reasoning) return;
      if (this.state !== "reasoning") {
        this.begin("reasoning", this.options.tty ? "thinking… " : "[reasoning] ");
      }
      this.put(this.options.tty ? dim(event.text) : event.text, event.text);
    }
    // `tool_call` events come only to callers who offer tools; the terminal chat offers none.
  }

  private status(event: StatusEvent): void {
    const detail =
      event.position !== undefined
        ? ` (position ${event.position})`
        : event.progress !== undefined
          ? ` ${Math.round(event.progress * 100)}%`
          : "";
    const line = `[${event.phase}${detail}]`;
    if (this.options.tty && this.state === "status") this.out.write(`\r\x1b[2K${dim(line)}`);
    else {
      this.begin("status", "");
      this.out.write(this.options.tty ? dim(line) : `${line}\n`);
    }
  }

  private beginAnswer(): void {
    if (this.state === "reasoning" && this.options.tty) {
      // Collapse the reasoning block into one line; `/show` prints it again.
      this.out.write(`\r\x1b[${this.rows}A\x1b[0J`);
      const words = this.reasoningText.trim().split(/\s+/).filter(Boolean).length;
      this.out.write(`${dim(`▸ reasoning, ${words} words (/show to expand)`)}\n`);
      this.state = "idle";
    }
    this.begin("text", this.state === "reasoning" ? "\n" : "");
  }

  private begin(state: typeof this.state, prefix: string): void {
    if (this.state === "status") this.out.write(this.options.tty ? "\r\x1b[2K" : "");
    else if (this.state !== "idle" && this.state !== state) this.out.write("\n");
    this.state = state;
    this.column = 0;
    this.rows = 0;
    if (prefix) this.put(this.options.tty ? dim(prefix) : prefix, prefix);
  }

  /** Writes `styled`, tracking how many terminal rows `plain` took so the block can be erased. */
  private put(styled: string, plain: string): void {
    this.out.write(styled);
    const columns = this.options.columns ?? 80;
    for (const ch of plain) {
      if (ch === "\n" || this.column >= columns) {
        this.rows++;
        this.column = ch === "\n" ? 0 : 1;
      } else this.column++;
    }
  }

  private done(event: DoneEvent): void {
    if (this.state !== "idle") this.out.write("\n");
    this.state = "idle";
    this.out.write(`${this.options.tty ? dim(usageLine(event)) : usageLine(event)}\n`);
  }
}

/** `stop · 12 reasoning + 34 answer tokens · prompt 1150 · TTFT 230 ms · 41.2 tok/s` */
export function usageLine({ finishReason, usage, timings }: DoneEvent): string {
  return [
    finishReason,
    `${usage.reasoningTokens} reasoning + ${usage.completionTokens - usage.reasoningTokens} answer tokens`,
    `prompt ${usage.promptTokens}`,
    `TTFT ${Math.round(timings.ttftMs)} ms`,
    `${timings.tokensPerSecond.toFixed(1)} tok/s`,
  ].join(" · ");
}
