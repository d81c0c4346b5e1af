import { describe, expect, it } from "vitest";
import { ReplyParser, type ReplyParserOptions, type ReplyPiece } from "./reply-parser";

const THINK = { open: "<think>", close: "</think>" };

/** Feeds `chunks` one by one and joins what comes out, per type. */
function parse(chunks: string[], options: ReplyParserOptions = { thought: THINK }) {
  const parser = new ReplyParser(options);
  const pieces: ReplyPiece[] = [];
  for (const chunk of chunks) pieces.push(...parser.push(chunk));
  pieces.push(...parser.finish());
  const join = (type: ReplyPiece["type"]) =>
    pieces
      .filter((p) => p.type === type)
      .map((p) => p.text)
      .join("");
  return { reasoning: join("reasoning"), text: join("text"), phase: parser.phase, pieces };
}

describe("ReplyParser", () => {
  it("splits reasoning from the answer and drops each part's leading whitespace", () => {
    const out = parse(["<think>", "\nweigh", " it", "</think>", "\n\n", "The", " answer"]);
    expect(out.reasoning).toBe("weigh it");
    expect(out.text).toBe("The answer");
  });

  it("finds tags split across chunks without letting a piece of them through", () => {
    const out = parse(["<th", "ink>a<", "/thi", "nk>", "B"]);
    expect(out.reasoning).toBe("a");
    expect(out.text).toBe("B");
    expect(out.pieces.every((p) => !p.text.includes("<"))).toBe(true);
  });

  it("treats a reply that does not open with the tag as all answer, tags included", () => {
    expect(parse(["Hi <think>x</think>"]).text).toBe("Hi <think>x</think>");
    expect(parse(["<", "b>"]).text).toBe("<b>");
  });

  it("starts in the thought when the prompt opened it", () => {
    const out = parse(["plan", "</think>", "done"], { thought: THINK, startsInThought: true });
    expect(out).toMatchObject({ reasoning: "plan", text: "done" });
  });

  it("is all answer for a model without a thought segment", () => {
    expect(parse(["<think>x</think>"], {}).text).toBe("<think>x</think>");
  });

  it("ends the answer at the first stop sequence, held back until it is decided", () => {
    const parser = new ReplyParser({ thought: THINK, stop: ["MNO", "XY"] });
    expect(parser.push("<think>r</think>ABC")).toEqual([
      { type: "reasoning", text: "r" },
      { type: "text", text: "ABC" },
    ]);
    expect(parser.push("DM")).toEqual([{ type: "text", text: "D" }]);
    expect(parser.push("N")).toEqual([]);
    expect(parser.push("Ozz")).toEqual([]);
    expect(parser.phase).toBe("stopped");
    expect(parser.push("more")).toEqual([]);
  });

  it("never applies stop sequences to the reasoning", () => {
    const out = parse(["<think>MNO</think>xMNOy"], { thought: THINK, stop: ["MNO"] });
    expect(out).toMatchObject({ reasoning: "MNO", text: "x", phase: "stopped" });
  });

  it("releases a held-back partial stop or tag when the reply ends", () => {
    expect(parse(["<think>ab</thi"]).reasoning).toBe("ab</thi");
    expect(parse(["xyM"], { thought: THINK, stop: ["MNO"] }).text).toBe("xyM");
  });

  it("closes the thought on demand (a spent budget), keeping held text as reasoning", () => {
    const parser = new ReplyParser({ thought: THINK });
    parser.push("<think>abc</");
    expect(parser.closeThought()).toEqual([{ type: "reasoning", text: "</" }]);
    expect(parser.phase).toBe("answer");
    expect(parser.push("ANSWER")).toEqual([{ type: "text", text: "ANSWER" }]);
  });
});
