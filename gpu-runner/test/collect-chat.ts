import type { ChatEvent, ChatInput, Engine } from "@phi4-edge/shared";

export interface CollectedChat {
  events: ChatEvent[];
  done: Extract<ChatEvent, { type: "done" }>;
  reasoning: string;
  text: string;
  statuses: Extract<ChatEvent, { type: "status" }>[];
  calls: Extract<ChatEvent, { type: "tool_call" }>[];
}

export interface CollectChatOptions {
  signal?: AbortSignal;
  /** Sees each event as it arrives, while the stream goes on. */
  onEvent?: (event: ChatEvent) => void;
}

/** Runs one chat to its end and sorts what it streamed; throws when no `done` ends it. */
export async function collectChat(
  engine: Pick<Engine, "chat">,
  input: ChatInput,
  options: CollectChatOptions = {},
): Promise<CollectedChat> {
  const events: ChatEvent[] = [];
  const signal = options.signal ?? new AbortController().signal;
  for await (const event of engine.chat(input, { signal })) {
    events.push(event);
    options.onEvent?.(event);
  }
  const done = events.at(-1);
  if (done?.type !== "done") throw new Error(`stream ended without done: ${JSON.stringify(done)}`);
  return {
    events,
    done,
    reasoning: events.map((e) => (e.type === "reasoning" ? e.text : "")).join(""),
    text: events.map((e) => (e.type === "text" ? e.text : "")).join(""),
    statuses: events.filter((e) => e.type === "status"),
    calls: events.filter((e) => e.type === "tool_call"),
  };
}
