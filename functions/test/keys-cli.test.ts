import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { expect, test } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");

/** `npm run keys -- …` from the repo root, as a user types it; resolves with code and output. */
async function keys(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      "npm",
      ["run", "-s", "keys", "--", ...args],
      { cwd: ROOT },
    );
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, out: failed.stdout + failed.stderr };
  }
}

test("--remote without --namespace-id is refused before wrangler runs (the config's id is a placeholder)", async () => {
  const { code, out } = await keys("list", "--remote");
  expect(code).toBe(1);
  expect(out).toMatch(/^--remote needs --namespace-id/m);
  expect(out).toContain("keysNamespace");
  expect(out).not.toMatch(/kv key list failed|logged in/i);
}, 30_000);

test("--namespace-id without --remote is refused, not ignored", async () => {
  const { code, out } = await keys("list", "--namespace-id", "0123abcd");
  expect(code).toBe(1);
  expect(out).toMatch(/^--namespace-id is for --remote/m);
}, 30_000);
