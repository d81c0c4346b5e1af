import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { ChatEvent } from "../../shared/src";
import { useFakeEngine } from "../../shared/test/fake-engine";
import { answerPrompts } from "./answer-prompts";

const bin = fileURLToPath(new URL("../bin/phi4.js", import.meta.url));
const done: ChatEvent = {
  type: "done",
  finishReason: "stop",
  usage: { promptTokens: 5, reasoningTokens: 2, completionTokens: 4 },
  timings: { ttftMs: 12, tokensPerSecond: 50 },
};
const script: ChatEvent[] = [
  { type: "reasoning", text: "let me " },
  { type: "reasoning", text: "think" },
  { type: "text", text: "Hello" },
  { type: "text", text: " there" },
  done,
];

const fake = useFakeEngine();
const { engine } = fake;

/** Runs the real `phi4` bin as a process, feeding `stdin` line by line as it prompts. */
function phi4(args: string[], stdin: string[] = []) {
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, NO_COLOR: "1" } });
  return answerPrompts(child, stdin);
}

describe("phi4 chat", () => {
  it("streams events as JSON lines with --json", async () => {
    engine.play(script);
    const { code, stdout } = await phi4(["chat", "hi there", "--json", "--url", fake.url]);
    expect(code).toBe(0);
    const events = stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(events).toEqual(script);
    expect(engine.calls[0]?.input.messages).toEqual([{ role: "user", content: "hi there" }]);
  });

  it("passes sampling flags and hides reasoning with --no-reasoning", async () => {
    engine.play(script);
    const args = [
      "chat",
      "q",
      "--json",
      "--no-reasoning",
      "--max-tokens",
      "9",
      "--temperature",
      "0",
    ];
    const { code, stdout } = await phi4([...args, "--budget", "3", "--url", fake.url]);
    expect(code).toBe(0);
    expect(stdout).not.toContain('"type":"reasoning"');
    expect(stdout).toContain('"text":" there"');
    expect(engine.calls[0]?.input).toMatchObject({
      maxTokens: 9,
      temperature: 0,
      reasoning: { budget: 3 },
    });
  });

  it("prints reasoning, answer and a usage line as text", async () => {
    engine.play(script);
    const { code, stdout } = await phi4(["chat", "hi", "--url", fake.url]);
    expect(code).toBe(0);
    expect(stdout).toContain("let me think");
    expect(stdout).toContain("Hello there");
    expect(stdout).toContain("stop · 2 reasoning + 2 answer tokens · prompt 5 · TTFT 12 ms");
  });

  it("reports bad input from the server in one line, exit 1", async () => {
    const { code, stderr } = await phi4(["chat", "q", "--temperature", "7", "--url", fake.url]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^phi4: bad request: temperature/);
    expect(stderr).not.toContain("    at ");
    expect(engine.calls).toHaveLength(0);
  });

  it("explains an unreachable server instead of a stack trace", async () => {
    const { code, stderr } = await phi4(["chat", "q", "--url", "http://127.0.0.1:9"]);
    expect(code).toBe(1);
    expect(stderr).toContain("cannot reach http://127.0.0.1:9");
    // Commands that leave a stack running (`npm run demo` alone answers once and stops).
    expect(stderr).toContain("npm start");
    expect(stderr).toContain("npm run demo -- --keep");
    expect(stderr).not.toContain("    at ");
  });

  it("rejects bad usage with exit 2 and the help", async () => {
    const bad = await phi4(["chat", "q", "--max-tokens", "lots"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--max-tokens must be a number");
    const help = await phi4(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("phi4 chat");
  });

  it("keeps a conversation going in the interactive chat and leaves on /exit", async () => {
    engine.play(script, script);
    const { code, stdout } = await phi4(
      ["chat", "--url", fake.url],
      ["first", "/reset", "second", "third"],
    );
    expect(code).toBe(0);
    expect(stdout.match(/Hello there/g)).toHaveLength(2);
    expect(engine.calls.map((c) => c.input.messages.map((m) => m.content))).toEqual([
      ["first"],
      ["second"],
      ["second", "Hello there", "third"],
    ]);
  });
});
