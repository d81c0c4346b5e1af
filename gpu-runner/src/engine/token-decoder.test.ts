import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getLlama, type Llama, LlamaLogLevel, type LlamaModel, type Token } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_VOCAB, writeTinyModel } from "../../dev/tiny-model/write-tiny-model";
import { TokenDecoder } from "./token-decoder";

// The tiny model's vocabulary is byte-level: token i is byte i, so "é" is two tokens.
let dir: string;
let llama: Llama;
let model: LlamaModel;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "token-decoder-"));
  const path = join(dir, "tiny.gguf");
  await writeTinyModel(path);
  llama = await getLlama({
    gpu: false,
    build: "never",
    maxThreads: 1,
    logLevel: LlamaLogLevel.error,
  });
  model = await llama.loadModel({ modelPath: path });
});

afterAll(async () => {
  await model?.dispose();
  await llama?.dispose();
  await rm(dir, { recursive: true, force: true });
});

const bytes = (text: string) => [...Buffer.from(text)] as Token[];

describe("TokenDecoder", () => {
  it("gives a character split across byte tokens whole, with its last token", () => {
    const decoder = new TokenDecoder(model);
    const out = bytes("aé€b").map((token) => decoder.push(token));
    expect(out).toEqual(["a", "", "é", "", "", "€", "b"]);
  });

  it("releases an unfinished character at the end", () => {
    const decoder = new TokenDecoder(model);
    expect(decoder.push(0xe2 as Token)).toBe("");
    expect(decoder.flush()).toBe("\uFFFD");
    expect(decoder.flush()).toBe("");
  });

  it("gives the fixed text of tag tokens", () => {
    const think = TINY_VOCAB.id("<think>") as Token;
    const decoder = new TokenDecoder(model, new Map([[think, "<think>"]]));
    expect([think, ...bytes("x")].map((token) => decoder.push(token))).toEqual(["<think>", "x"]);
  });
});
