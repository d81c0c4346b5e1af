import { type ChildProcess, execFile, spawn } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, test } from "vitest";
import { TINY_REPLY } from "../../gpu-runner/dev/tiny-model/write-tiny-model";

const ROOT = resolve(import.meta.dirname, "../..");
let demo: ChildProcess | undefined;
afterAll(() => {
  try {
    if (demo?.pid && demo.exitCode === null) process.kill(-demo.pid, "SIGKILL");
  } catch {}
});

test("npm run demo -- --keep leaves the offline stack running for npx phi4, until Ctrl-C", async () => {
  demo = spawn("npm", ["run", "-s", "demo", "--", "--keep"], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, DEMO_THROTTLE: String(64 * 2 ** 20) },
  });
  let out = "";
  const exited = new Promise<number | null>((r) => demo?.on("exit", (code) => r(code)));
  const kept = await new Promise<RegExpExecArray>((done, fail) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const match = /npx phi4 chat "…" --url (\S+) --api-key (\S+)/.exec(out);
      if (match) done(match);
    };
    demo?.stdout?.on("data", onData);
    demo?.stderr?.on("data", onData);
    void exited.then((code) => fail(new Error(`demo exited (${code}) instead:\n${out}`)));
  });

  const { stdout } = await promisify(execFile)(
    "npx",
    ["phi4", "chat", "hi", "--url", kept[1] as string, "--api-key", kept[2] as string, "--json"],
    { cwd: ROOT, env: { ...process.env, NO_COLOR: "1" } },
  );
  const events = stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { type: string; text?: string });
  const text = events.map((e) => (e.type === "text" ? e.text : "")).join("");
  expect(text).toBe(TINY_REPLY.text);

  // Ctrl-C reaches the whole foreground group in a terminal; here, the demo's own group. The
  // demo then takes its stack down: the edge stops answering.
  process.kill(-(demo.pid as number), "SIGINT");
  await exited;
  const edge = kept[1] as string;
  const deadline = Date.now() + 30_000;
  let up = true;
  while (up && Date.now() < deadline) {
    up = await fetch(`${edge}/healthz`).then(
      () => true,
      () => false,
    );
    if (up) await new Promise((r) => setTimeout(r, 200));
  }
  expect(up).toBe(false);
}, 180_000);
