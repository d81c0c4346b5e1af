import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TINY_REPLY, writeTinyModel } from "../../gpu-runner/dev/tiny-model/write-tiny-model";
import { freePort } from "../src/stack/free-port";
import { answerPrompts } from "./answer-prompts";

const ROOT = resolve(import.meta.dirname, "../..");
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "phi4-start-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Runs the real `npm start`, answering each chat prompt with the next of `lines`. */
function npmStart(env: Record<string, string>, lines: string[] = []) {
  const child = spawn("npm", ["start", "--silent"], {
    cwd: ROOT,
    env: { ...process.env, MODEL_CACHE_DIR: join(dir, "models"), ...env },
  });
  return answerPrompts(child, lines);
}

describe("npm start", () => {
  it("says what to do when the Hub cannot be reached, instead of a stack trace", async () => {
    const { code, stderr } = await npmStart({
      HF_ENDPOINT: "http://127.0.0.1:9",
      PHI4_PORT: String(await freePort()),
    });
    expect(code).toBe(1);
    expect(stderr).toContain("cannot reach the Hugging Face Hub at http://127.0.0.1:9");
    expect(stderr).toContain("npm run demo");
    expect(stderr).not.toMatch(/^\s+at /m);
  });

  it("says which port is taken", async () => {
    const server: Server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    try {
      const { code, stderr } = await npmStart({ PHI4_PORT: String(port), MODEL_PATH: "/dev/null" });
      expect(code).toBe(1);
      expect(stderr).toContain(`port ${port} is taken`);
    } finally {
      server.close();
    }
  });

  it("names a bad setting", async () => {
    const { code, stderr } = await npmStart({
      PARALLEL: "lots",
      PHI4_PORT: String(await freePort()),
    });
    expect(code).toBe(1);
    expect(stderr).toMatch(/PARALLEL/);
    expect(stderr).not.toMatch(/^\s+at /m);
  });

  it("relays why the runner could not start", async () => {
    const garbage = join(dir, "garbage.gguf");
    await writeFile(garbage, "this is not a GGUF file");
    const { code, stderr } = await npmStart({
      MODEL_PATH: garbage,
      PHI4_PORT: String(await freePort()),
    });
    expect(code).toBe(1);
    expect(stderr).toContain("the runner could not start:");
    expect(stderr).toContain("npm run demo");
    expect(stderr).not.toMatch(/^\s+at /m);
  }, 60_000);

  it("brings up runner, edge and a session key, then chats through the edge until /exit", async () => {
    const model = join(dir, "tiny.gguf");
    await writeTinyModel(model);
    const { code, stdout } = await npmStart(
      {
        MODEL_PATH: model,
        THREADS: "1",
        CONTEXT_SIZE: "4096",
        PHI4_PORT: String(await freePort()),
      },
      ["what comes next?"],
    );
    expect(code).toBe(0);
    expect(stdout).toMatch(/This session's API key: phi4_\S+/);
    expect(stdout).toMatch(/Playground: http:\/\/127\.0\.0\.1:\d+\/ in a browser/);
    expect(stdout).toContain(TINY_REPLY.reasoning);
    expect(stdout).toContain(TINY_REPLY.text);
    expect(stdout).toMatch(/stop · 26 reasoning \+ \d+ answer tokens/);
  }, 120_000);
});
