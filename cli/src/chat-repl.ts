import { createInterface } from "node:readline/promises";
import type { ChatInput, ChatMessage } from "@phi4-edge/shared";
import type { Phi4Client } from "@phi4-edge/shared/client";
import { describeError } from "./describe-error";
import { Renderer } from "./render";

export interface ReplOptions {
  client: Phi4Client;
  url: string;
  reasoning: boolean;
  sampling?: Omit<ChatInput, "messages">;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

const HELP =
  "/exit leaves · /reset forgets the conversation · /show prints the last reasoning · /reasoning toggles it · Ctrl-C stops an answer";

/** A terminal chat with history. Ctrl-C stops the current answer; /exit (or Ctrl-D) leaves. */
export async function chatRepl(options: ReplOptions): Promise<void> {
  const input = options.input ?? process.stdin;
  const output = options.output ?? process.stdout;
  const tty = Boolean(output.isTTY);
  const rl = createInterface({ input, output, terminal: tty });
  const history: ChatMessage[] = [];
  let showReasoning = options.reasoning;
  let lastReasoning = "";
  let current: AbortController | undefined;
  let closed = false;

  rl.on("SIGINT", () => {
    if (current) current.abort();
    else output.write(`\n(${HELP})\n`);
  });
  rl.on("close", () => {
    closed = true;
    current?.abort();
  });
  output.write(`${HELP}\n`);

  while (!closed) {
    let line: string;
    try {
      line = (await rl.question("› ")).trim();
    } catch {
      break; // input closed (Ctrl-D or end of piped input)
    }
    if (!line) continue;
    if (line === "/exit" || line === "/quit") break;
    if (line === "/reset") {
      history.length = 0;
      output.write("(conversation forgotten)\n");
      continue;
    }
    if (line === "/show") {
      output.write(lastReasoning ? `${lastReasoning.trim()}\n` : "(no reasoning yet)\n");
      continue;
    }
    if (line === "/reasoning") {
      showReasoning = !showReasoning;
      output.write(`(reasoning ${showReasoning ? "shown" : "hidden"})\n`);
      continue;
    }
    if (line.startsWith("/")) {
      output.write(`unknown command ${line} (${HELP})\n`);
      continue;
    }

    history.push({ role: "user", content: line });
    const renderer = new Renderer(output, {
      reasoning: showReasoning,
      tty,
      columns: output.columns,
    });
    let answer = "";
    current = new AbortController();
    try {
      const stream = options.client.chat(
        { ...options.sampling, messages: history },
        { signal: current.signal },
      );
      for await (const event of stream) {
        if (event.type === "text") answer += event.text;
        renderer.write(event);
      }
      history.push({ role: "assistant", content: answer });
    } catch (error) {
      history.pop();
      output.write(
        current.signal.aborted
          ? "\n(stopped)\n"
          : `\nerror: ${describeError(error, options.url)}\n`,
      );
    } finally {
      lastReasoning = renderer.reasoningText;
      current = undefined;
    }
  }
  rl.close();
}
