/**
 * The playground: a conversation with Phi-4 through the edge this page is served from, on the
 * project's typed client (the contract running in a browser). No framework: a form, a list of
 * turns, and one stream at a time.
 */
import type { ChatInput, ChatMessage } from "@phi4-edge/shared";
import { createPhi4Client } from "@phi4-edge/shared/client";
import { apiKeyStore } from "./api-key-store";
import { describeError } from "./describe-error";
import { appendQuestion, TurnView } from "./turn-view";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const keyInput = $<HTMLInputElement>("api-key");
const conversation = $<HTMLElement>("conversation");
const form = $<HTMLFormElement>("ask");
const question = $<HTMLTextAreaElement>("question");
const send = $<HTMLButtonElement>("send");
const stop = $<HTMLButtonElement>("stop");
const newChat = $<HTMLButtonElement>("new");
const settings = {
  temperature: $<HTMLInputElement>("temperature"),
  maxTokens: $<HTMLInputElement>("max-tokens"),
  budget: $<HTMLInputElement>("reasoning-budget"),
};

/** Completed turns, sent with every question. */
let history: ChatMessage[] = [];
let running: AbortController | undefined;

keyInput.value = apiKeyStore.read();
keyInput.addEventListener("input", () => apiKeyStore.write(keyInput.value.trim()));

form.addEventListener("submit", (event) => {
  event.preventDefault();
  void ask();
});
question.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && running) running.abort();
});
stop.addEventListener("click", () => running?.abort());
newChat.addEventListener("click", () => {
  running?.abort();
  history = [];
  conversation.replaceChildren();
  question.focus();
});

async function ask(): Promise<void> {
  const text = question.value.trim();
  if (!text || running) return;
  const apiKey = keyInput.value.trim();
  if (!apiKey) {
    keyInput.focus();
    keyInput.setCustomValidity("Paste an API key first.");
    keyInput.reportValidity();
    return;
  }
  keyInput.setCustomValidity("");
  const input: ChatInput = { messages: [...history, { role: "user", content: text }] };
  const temperature = numberIn(settings.temperature);
  const maxTokens = numberIn(settings.maxTokens);
  const budget = numberIn(settings.budget);
  if (temperature !== undefined) input.temperature = temperature;
  if (maxTokens !== undefined) input.maxTokens = maxTokens;
  if (budget !== undefined) input.reasoning = { budget };

  question.value = "";
  document.getElementById("empty")?.remove();
  appendQuestion(conversation, text);
  const turn = new TurnView(conversation);
  const controller = new AbortController();
  setRunning(controller);
  const client = createPhi4Client({ url: location.origin, apiKey });
  try {
    for await (const event of client.chat(input, { signal: controller.signal })) {
      // Follow the answer only while the reader is at the bottom, not while they scroll back.
      const following = innerHeight + scrollY >= document.documentElement.scrollHeight - 48;
      turn.apply(event);
      if (following) turn.root.scrollIntoView({ block: "end" });
    }
  } catch (error) {
    if (controller.signal.aborted) turn.fail("Stopped.", "stopped");
    else turn.fail(describeError(error), "error");
    if (!turn.answerText) {
      question.value ||= text; // nothing came back: the question is there to send again
    }
  } finally {
    if (turn.answerText) {
      history = [...input.messages, { role: "assistant", content: turn.answerText }];
    }
    setRunning(undefined);
  }
}

function setRunning(controller: AbortController | undefined): void {
  running = controller;
  send.disabled = Boolean(controller);
  // Focus stays where the person is typing; a Stop button that disappears hands it back.
  if (
    !controller &&
    (document.activeElement === stop || document.activeElement === document.body)
  ) {
    question.focus();
  }
  stop.hidden = !controller;
}

/** A number field's value, or undefined when empty (the model's own default applies). */
function numberIn(input: HTMLInputElement): number | undefined {
  return input.value === "" || Number.isNaN(input.valueAsNumber) ? undefined : input.valueAsNumber;
}
