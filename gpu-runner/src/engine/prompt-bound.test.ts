import { ContextOverflowError } from "@phi4-edge/shared";
import { expect, test } from "vitest";
import { useTinyModel } from "../../test/tiny-model";
import { assertPromptMayFit, maxTokenBytes } from "./prompt-bound";

// The tiny model's real vocabulary: 256 byte tokens plus added tokens such as `</think>`.
const tiny = useTinyModel();
let counted: string[];

const check = (content: string, contextSize: number) => {
  counted = [];
  return assertPromptMayFit([{ role: "user", content }], {
    contextSize,
    maxTokenBytes: maxTokenBytes(tiny.model),
    countTokens: (text) => {
      counted.push(text);
      return tiny.model.tokenize(text).length;
    },
    signal: new AbortController().signal,
  });
};

test("one token of a byte-level vocabulary stands for at most its longest text token", () => {
  // `</think>` is a user-defined token matched in plain text: 8 bytes.
  expect(maxTokenBytes(tiny.model)).toBe(8);
});

test("a prompt too large for any tokenization is refused from its size, without tokenizing", async () => {
  const error = await check("x".repeat(1_000_000), 2048).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ContextOverflowError);
  expect((error as Error).message).toBe(
    "prompt is at least 125000 tokens but the context holds 2048",
  );
  expect(counted).toEqual([]);
});

test("a long prompt under the size bound is counted in slices and refused at the first slice over", async () => {
  // 20,000 bytes may be as few as 2,500 tokens (under 4,096); counted, they are 20,000.
  const error = await check("x".repeat(20_000), 4096).catch((e: unknown) => e);
  expect((error as Error).message).toMatch(
    /^prompt is at least \d+ tokens but the context holds 4096$/,
  );
  expect(counted).toHaveLength(1);
  expect(counted[0]!.length).toBeLessThanOrEqual(16_384);
});

test("a prompt that may fit passes; short ones are not counted at all", async () => {
  await expect(check("word ".repeat(5000), 32_768)).resolves.toBeUndefined();
  expect(counted.join("")).toBe("word ".repeat(5000));
  await expect(check("hello", 2048)).resolves.toBeUndefined();
  expect(counted).toEqual([]);
});
