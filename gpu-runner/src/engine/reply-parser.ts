/** The tags around the model's reasoning, e.g. `<think>` and `</think>` for Phi-4-reasoning. */
export interface ThoughtTags {
  /** Empty when the thought is open from the reply's first token. */
  open: string;
  close: string;
}

export interface ReplyPiece {
  type: "reasoning" | "text";
  text: string;
}

export type ReplyPhase = "start" | "reasoning" | "answer" | "stopped";

export interface ReplyParserOptions {
  /** Undefined when the model has no reasoning segment: everything is answer. */
  thought?: ThoughtTags;
  /** The prompt already opened the thought (a template that prefills the open tag). */
  startsInThought?: boolean;
  /** Stop sequences; they end the answer (reasoning is never cut by them). */
  stop?: readonly string[];
}

/**
 * Splits generated text, as it streams, into reasoning and answer pieces: the reply may open
 * with the thought's open tag (after whitespace); its close tag starts the answer; the first
 * stop sequence in the answer ends it. Text that might be the start of a tag or of a stop
 * sequence is held back until the next push decides it, so no tag or stop text ever leaks.
 * Each part's leading whitespace is dropped (a model writes `</think>\n\n` before answering).
 */
export class ReplyParser {
  phase: ReplyPhase;
  private held = "";
  private emitted = false;
  private readonly stop: readonly string[];

  constructor(private readonly options: ReplyParserOptions) {
    this.phase = !options.thought ? "answer" : options.startsInThought ? "reasoning" : "start";
    this.stop = options.stop ?? [];
  }

  /** Feeds the text of new tokens; returns what can be shown now. */
  push(text: string): ReplyPiece[] {
    if (this.phase === "stopped") return [];
    this.held += text;
    const out: ReplyPiece[] = [];
    for (;;) {
      if (!this.emitted) this.held = this.held.trimStart();
      if (this.held === "") return out;
      if (this.phase === "start") {
        const open = this.options.thought?.open;
        if (open && this.held.startsWith(open)) {
          this.held = this.held.slice(open.length);
          this.enter("reasoning");
          continue;
        }
        if (open?.startsWith(this.held)) return out;
        this.enter("answer");
        continue;
      }
      if (this.phase === "reasoning") {
        const close = (this.options.thought as ThoughtTags).close;
        const at = this.held.indexOf(close);
        if (at >= 0) {
          this.add(out, "reasoning", this.held.slice(0, at));
          this.held = this.held.slice(at + close.length);
          this.enter("answer");
          continue;
        }
        this.release(out, "reasoning", [close]);
        return out;
      }
      // answer
      const stopAt = firstStop(this.held, this.stop);
      if (stopAt >= 0) {
        this.add(out, "text", this.held.slice(0, stopAt));
        this.held = "";
        this.phase = "stopped";
        return out;
      }
      this.release(out, "text", this.stop);
      return out;
    }
  }

  /** The reply does not open a thought (decided before any of its text was pushed). */
  skipThought(): void {
    if (this.phase === "start") this.enter("answer");
  }

  /** Ends the reasoning now (its budget is spent): held text is reasoning, the answer follows. */
  closeThought(): ReplyPiece[] {
    const out: ReplyPiece[] = [];
    if (this.phase !== "reasoning") return out;
    this.add(out, "reasoning", this.held);
    this.held = "";
    this.enter("answer");
    return out;
  }

  /** The generation ended: whatever was held back is plain text of the current part. */
  finish(): ReplyPiece[] {
    const out: ReplyPiece[] = [];
    if (this.phase === "reasoning") this.add(out, "reasoning", this.held);
    else if (this.phase !== "stopped") this.add(out, "text", this.held);
    this.held = "";
    return out;
  }

  private enter(phase: ReplyPhase) {
    this.phase = phase;
    this.emitted = false;
  }

  /** Emits all but the longest tail that could still grow into one of `patterns`. */
  private release(out: ReplyPiece[], type: ReplyPiece["type"], patterns: readonly string[]) {
    const keep = partialTail(this.held, patterns);
    this.add(out, type, this.held.slice(0, this.held.length - keep));
    this.held = this.held.slice(this.held.length - keep);
  }

  private add(out: ReplyPiece[], type: ReplyPiece["type"], text: string) {
    if (text === "") return;
    this.emitted = true;
    out.push({ type, text });
  }
}

function firstStop(text: string, stop: readonly string[]): number {
  let first = -1;
  for (const s of stop) {
    const at = text.indexOf(s);
    if (at >= 0 && (first < 0 || at < first)) first = at;
  }
  return first;
}

/** Length of the longest suffix of `text` that is a proper prefix of one of `patterns`. */
function partialTail(text: string, patterns: readonly string[]): number {
  let longest = 0;
  for (const p of patterns) {
    for (let n = Math.min(p.length - 1, text.length); n > longest; n--) {
      if (text.endsWith(p.slice(0, n))) {
        longest = n;
        break;
      }
    }
  }
  return longest;
}
