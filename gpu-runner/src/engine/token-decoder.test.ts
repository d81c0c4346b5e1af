import type { Token } from "node-llama-cpp";
import { describe, expect, it } from "vitest";
import { TINY_VOCAB } from "../../dev/tiny-model/write-tiny-model";
import { useTinyModel } from "../../test/tiny-model";
import { TokenDecoder } from "./token-decoder";

// The tiny model's vocabulary is byte-level: token i is byte i, so "é" is two tokens.
const tiny = useTinyModel();

const bytes = (text: string) => [...Buffer.from(text)] as Token[];

describe("TokenDecoder", () => {
  it("gives a character split across byte tokens whole, with its last token", () => {
    const decoder = new TokenDecoder(tiny.model);
    const out = bytes("aé€b").map((token) => decoder.push(token));
    expect(out).toEqual(["a", "", "é", "", "", "€", "b"]);
  });

  it("releases an unfinished character at the end", () => {
    const decoder = new TokenDecoder(tiny.model);
    expect(decoder.push(0xe2 as Token)).toBe("");
    expect(decoder.flush()).toBe("\uFFFD");
    expect(decoder.flush()).toBe("");
  });

  it("gives the fixed text of tag tokens", () => {
    const think = TINY_VOCAB.id("<think>") as Token;
    const decoder = new TokenDecoder(tiny.model, new Map([[think, "<think>"]]));
    expect([think, ...bytes("x")].map((token) => decoder.push(token))).toEqual(["<think>", "x"]);
  });
});
