import { describe, expect, it } from "vitest";
import { ToolCallStream } from "./tool-call-stream";

function run(chunks: string[]) {
  const stream = new ToolCallStream(0, "call_1");
  const pieces: string[] = [];
  for (const chunk of chunks) {
    const event = stream.push(chunk);
    if (event) pieces.push(event.arguments);
  }
  const last = stream.end();
  if (last) pieces.push(last.arguments);
  return { pieces, args: stream.arguments };
}

describe("ToolCallStream", () => {
  it("streams the arguments as they grow and keeps the call's closing brace out", () => {
    const text = '{"name":"get_weather","arguments":{"city":"Paris","days":{"n":2}}}';
    const { pieces, args } = run([...text]);
    expect(args).toBe('{"city":"Paris","days":{"n":2}}');
    expect(pieces.join("")).toBe(args);
    // Streamed, not sent in one piece at the end.
    expect(pieces.length).toBeGreaterThan(10);
  });

  it("handles whitespace the grammar allows and a call without arguments", () => {
    expect(run(['{ "name" : "f", "arguments" : {"a": 1} }\n']).args).toBe('{"a": 1}');
    const empty = run(['{"name":"f","arguments":{}}']);
    expect(empty.args).toBe("{}");
    expect(empty.pieces.join("")).toBe("{}");
  });

  it("sends nothing for text that never became a call", () => {
    expect(run(['{"na']).pieces).toEqual([]);
  });
});
