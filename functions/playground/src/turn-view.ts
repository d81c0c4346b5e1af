import type { ChatEvent, Phase } from "@phi4-edge/shared";
import { renderMarkdown } from "./render-markdown";
import { statusText } from "./status-text";
import { usageText } from "./usage-text";

/** Appends a user's question to the conversation, as plain text. */
export function appendQuestion(conversation: HTMLElement, text: string): void {
  const turn = element("article", "turn user");
  turn.append(element("p", "who", "You"), element("div", "content", text));
  conversation.append(turn);
}

/**
 * One answer as it streams: a status line per cold-start phase, the reasoning (dimmed, open
 * while it streams, folded when the answer starts), the answer as Markdown, then usage.
 */
export class TurnView {
  readonly root = element("article", "turn assistant");
  private readonly status = element("ol", "status");
  private readonly reasoning = element("details", "reasoning");
  private readonly reasoningSummary = element("summary", "", "Reasoning…");
  private readonly reasoningText = element("div", "text");
  private readonly answer = element("div", "answer");
  private readonly statusLines = new Map<Phase, HTMLLIElement>();
  private text = "";
  private renderPending = false;

  constructor(conversation: HTMLElement) {
    this.reasoning.hidden = true;
    this.reasoning.append(this.reasoningSummary, this.reasoningText);
    this.root.append(element("p", "who", "Phi-4"), this.status, this.reasoning, this.answer);
    conversation.append(this.root);
  }

  /** The answer so far (what a following turn sends back as the assistant's message). */
  get answerText(): string {
    return this.text;
  }

  apply(event: ChatEvent): void {
    switch (event.type) {
      case "status": {
        // One line per phase; a phase's progress or queue position updates its line.
        let line = this.statusLines.get(event.phase);
        if (!line) {
          line = element("li", "");
          this.statusLines.set(event.phase, line);
          this.status.append(line);
        }
        line.textContent = statusText(event);
        break;
      }
      case "reasoning":
        if (this.reasoning.hidden) {
          this.reasoning.hidden = false;
          this.reasoning.open = true;
        }
        this.reasoningText.append(event.text);
        break;
      case "text":
        if (!this.text) this.foldReasoning();
        this.text += event.text;
        this.scheduleRender();
        break;
      case "done":
        this.foldReasoning();
        this.render();
        if (!this.reasoning.hidden) {
          this.reasoningSummary.textContent = `Reasoning (${event.usage.reasoningTokens} tokens)`;
        }
        this.root.append(element("p", "meta", usageText(event)));
        break;
    }
  }

  /** Ends the turn with a message instead of `done` (an error, or the caller's Stop). */
  fail(message: string, kind: "error" | "stopped"): void {
    this.foldReasoning();
    this.render();
    const line = element("p", kind === "error" ? "error" : "meta", message);
    if (kind === "error") line.setAttribute("role", "alert");
    this.root.append(line);
  }

  private foldReasoning(): void {
    if (this.reasoning.hidden || this.reasoningSummary.textContent !== "Reasoning…") return;
    this.reasoning.open = false;
    this.reasoningSummary.textContent = "Reasoning";
  }

  // Markdown is re-rendered at most once a frame, however fast tokens arrive.
  private scheduleRender(): void {
    if (this.renderPending) return;
    this.renderPending = true;
    requestAnimationFrame(() => this.render());
  }

  private render(): void {
    this.renderPending = false;
    this.answer.innerHTML = renderMarkdown(this.text);
  }
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}
