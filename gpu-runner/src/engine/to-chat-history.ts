import type { ChatInput, ChatMessage } from "@phi4-edge/shared";
import type { ChatHistoryItem } from "node-llama-cpp";

/** What opens a tool call in the answer; the call's JSON follows, then TOOL_CALL_CLOSE. */
export const TOOL_CALL_OPEN = "<tool_call>";
export const TOOL_CALL_CLOSE = "</tool_call>";

/**
 * The contract's messages as node-llama-cpp history, ending with an empty model turn to
 * generate. The GGUF's own template renders it (Phi-4-reasoning injects its system prompt).
 *
 * Phi-4-reasoning's template has no tool role and replaces any system message with its own,
 * so tools are described in text at the head of the first user turn, calls are written into
 * the assistant turn as `<tool_call>{"name":…,"arguments":…}</tool_call>`, and tool results
 * come back as a user turn of `<tool_result>` blocks. A JSON answer format is told at the end of
 * the last user turn (the grammar enforces it; telling it lets the model reason towards it).
 */
export function toChatHistory(
  messages: readonly ChatMessage[],
  options: Pick<ChatInput, "tools" | "toolChoice" | "responseFormat"> = {},
): ChatHistoryItem[] {
  const names = new Map<string, string>();
  const preamble = toolPreamble(options);
  let described = preamble === "";
  const history: ChatHistoryItem[] = [];
  for (const m of messages) {
    if (m.role === "system") history.push({ type: "system", text: m.content });
    else if (m.role === "user") {
      history.push({ type: "user", text: described ? m.content : `${preamble}\n\n${m.content}` });
      described = true;
    } else if (m.role === "assistant") {
      const calls = (m.toolCalls ?? []).map((call) => {
        names.set(call.id, call.name);
        return `${TOOL_CALL_OPEN}${JSON.stringify({ name: call.name, arguments: parseArguments(call.arguments) })}${TOOL_CALL_CLOSE}`;
      });
      history.push({ type: "model", response: [m.content + calls.join("")] });
    } else {
      const result = `<tool_result id=${JSON.stringify(m.toolCallId)} name=${JSON.stringify(names.get(m.toolCallId) ?? "")}>\n${m.content}\n</tool_result>`;
      const last = history.at(-1);
      // Results of parallel calls share one user turn.
      if (last?.type === "user" && last.text.startsWith("<tool_result")) last.text += `\n${result}`;
      else history.push({ type: "user", text: result });
    }
  }
  const format = formatInstruction(options.responseFormat);
  const last = history.findLast((item) => item.type === "user");
  if (format && last?.type === "user") last.text += `\n\n${format}`;
  history.push({ type: "model", response: [] });
  return history;
}

function formatInstruction(format: ChatInput["responseFormat"]): string | undefined {
  if (format?.type === "json_object")
    return "Answer (after your thinking) with a JSON object only.";
  if (format?.type !== "json_schema") return undefined;
  const named = format.name ? ` "${format.name}"` : "";
  const about = format.description ? ` (${format.description})` : "";
  return `Answer (after your thinking) with JSON only, valid against this JSON Schema${named}${about}:\n${JSON.stringify(format.schema)}`;
}

/** Arguments are JSON text on the wire; a caller's malformed text is kept as a string. */
function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function toolPreamble({ tools, toolChoice }: Pick<ChatInput, "tools" | "toolChoice">): string {
  if (!tools?.length || toolChoice === "none") return "";
  const offered =
    typeof toolChoice === "object" ? tools.filter((t) => t.name === toolChoice.name) : tools;
  const list = offered.map((tool) => JSON.stringify(tool)).join("\n");
  const must =
    toolChoice === "required" || typeof toolChoice === "object"
      ? "You must answer with a tool call."
      : "Call a tool only when it helps; otherwise answer normally.";
  return [
    "You can call these tools (JSON Schema of each one's arguments):",
    list,
    `To call one, write your answer as exactly ${TOOL_CALL_OPEN}{"name": "<tool name>", "arguments": {…}}${TOOL_CALL_CLOSE} and nothing after it. ${must}`,
    "The results come back as <tool_result> blocks.",
  ].join("\n");
}
