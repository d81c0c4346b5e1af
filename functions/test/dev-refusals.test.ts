import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, expect, test } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const started: ChildProcess[] = [];
const states: string[] = [];
afterEach(async () => {
  for (const child of started.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null || !child.pid) continue;
    const exited = once(child, "exit");
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {}
    await exited;
  }
  // Only once wrangler is gone: it may still be writing its state.
  for (const state of states.splice(0)) rmSync(state, { recursive: true, force: true });
});

/**
 * `npm run -w functions dev` as a user types it (in its own process group, so wrangler goes
 * down with it), with bindings from the environment; resolves when `until` matches the output
 * so far or the process exits, whichever comes first.
 */
function dev(vars: Record<string, string>, until: RegExp) {
  const state = mkdtempSync(join(tmpdir(), "phi4-dev-"));
  states.push(state);
  const child = spawn(
    "npm",
    ["run", "-s", "-w", "functions", "dev", "--", "--port", "0", "--persist-to", state],
    {
      cwd: ROOT,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...vars },
    },
  );
  started.push(child);
  let out = "";
  return new Promise<{ code: number | null; out: string }>((done) => {
    const check = (chunk: Buffer) => {
      out += chunk.toString();
      if (until.test(out)) done({ code: child.exitCode, out });
    };
    child.stdout?.on("data", check);
    child.stderr?.on("data", check);
    child.on("exit", (code) => done({ code, out }));
  });
}

test("a RUNNER_SECRET under 16 characters stops dev at start, with the reason", async () => {
  const { code, out } = await dev(
    { RUNNER_SECRET: "short", RUNNER_URL: "http://127.0.0.1:9" },
    /Ready on|"status":500/,
  );
  expect(code).toBe(1);
  expect(out).toMatch(/RUNNER_SECRET: use at least 16 characters/);
  expect(out).not.toContain("short");
}, 60_000);

test("a bad RUNNER_URL stops dev at start, naming it", async () => {
  const { code, out } = await dev(
    { RUNNER_SECRET: "a-long-enough-runner-secret", RUNNER_URL: "127.0.0.1:8080" },
    /Ready on/,
  );
  expect(code).toBe(1);
  expect(out).toMatch(/RUNNER_URL/);
}, 60_000);

test("dev says a runner must be running, and that none answers at RUNNER_URL", async () => {
  const { out } = await dev(
    { RUNNER_SECRET: "a-long-enough-runner-secret", RUNNER_URL: "http://127.0.0.1:9" },
    /no runner answers/,
  );
  expect(out).toMatch(/a runner must be running at http:\/\/127\.0\.0\.1:9/);
  expect(out).toMatch(/no runner answers/);
  expect(out).toContain("npm run -w gpu-runner start");
}, 60_000);
