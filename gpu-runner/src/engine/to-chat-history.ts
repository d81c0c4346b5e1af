import type { ChatMessage } from "@phi4-edge/shared";
import type { ChatHistoryItem } from "node-llama-cpp";

/**
 * The contract's messages as node-llama-cpp history, ending with an empty model turn to
 * generate. The GGUF's own template renders it (Phi-4-reasoning injects its system prompt).
 */
export function toChatHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = messages.map((m) => {
    if (m.role === "system") return { type: "system", text: m.content };
    if (m.role === "user") return { type: "user", text: m.content };
    return { type: "model", response: [m.content] };
  });
  history.push({ type: "model", response: [] });
  return history;
}
