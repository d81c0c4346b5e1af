import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../../..");

it("--help prints the usage with every option and exits 0", async () => {
  const { stdout } = await promisify(execFile)(
    "npm",
    ["run", "-s", "-w", "gpu-runner", "hub-emulator", "--", "--help"],
    { cwd: ROOT },
  );
  expect(stdout).toMatch(/^usage: npm run -w gpu-runner hub-emulator/m);
  for (const option of [
    "--repo",
    "--file",
    "--as",
    "--port",
    "--revision",
    "--gated",
    "--token",
    "--throttle",
  ]) {
    expect(stdout).toContain(option);
  }
  expect(stdout).toContain("HF_ENDPOINT");
}, 30_000);

it("a missing --repo is an error that shows the usage", async () => {
  const failed = await promisify(execFile)(
    "npm",
    ["run", "-s", "-w", "gpu-runner", "hub-emulator", "--", "--file", "x.gguf"],
    { cwd: ROOT },
  ).catch((error: { code: number; stderr: string }) => error);
  expect(failed).toMatchObject({ code: 1 });
  expect((failed as { stderr: string }).stderr).toMatch(/--repo/);
  expect((failed as { stderr: string }).stderr).toMatch(
    /usage: npm run -w gpu-runner hub-emulator/,
  );
}, 30_000);
