import { createHash } from "node:crypto";
import { expect, test } from "vitest";
import { API_KEY_PATTERN, generateApiKey, keyId, storageKey } from "./api-key";

test("keys are random, well-formed, and stored only as their SHA-256", async () => {
  const a = generateApiKey();
  const b = generateApiKey();
  expect(a).toMatch(API_KEY_PATTERN);
  expect(b).not.toBe(a);
  const stored = await storageKey(a);
  expect(stored).toBe(`key:${createHash("sha256").update(a).digest("hex")}`);
  expect(stored).not.toContain(a.slice(5));
  expect(keyId(stored)).toBe(`k_${stored.slice(4, 16)}`);
});
