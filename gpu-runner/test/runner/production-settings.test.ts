import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRunner } from "../../dev/start-runner";
import { writeTinyModel } from "../../dev/tiny-model/write-tiny-model";
import {
  HEADERS_TIMEOUT_MS,
  KEEP_ALIVE_TIMEOUT_MS,
  LOAD_BALANCER_IDLE_SECONDS,
} from "../../src/server/connection-timeouts";

// The settings a production runner behind a load balancer on a GPU host depends on, checked on
// the real runner process (this machine has no GPU, which is what the CUDA cases need).
let dir: string;
let model: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "runner-production-"));
  model = join(dir, "tiny.gguf");
  await writeTinyModel(model);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("keep-alive behind the load balancer", () => {
  it("keeps idle connections longer than the load balancer does", async () => {
    expect(KEEP_ALIVE_TIMEOUT_MS).toBeGreaterThan(LOAD_BALANCER_IDLE_SECONDS * 1000);
    expect(HEADERS_TIMEOUT_MS).toBeGreaterThan(KEEP_ALIVE_TIMEOUT_MS);
    const runner = await startRunner({ MODEL_PATH: model, GPU: "false", CONTEXT_SIZE: "2048" });
    try {
      // Node announces its keep-alive timeout on every keep-alive response.
      const response = await new Promise<import("node:http").IncomingMessage>((resolve, reject) =>
        get(`${runner.url}/healthz`, { headers: { connection: "keep-alive" } }, resolve).on(
          "error",
          reject,
        ),
      );
      response.resume();
      const seconds = Number(/timeout=(\d+)/.exec(String(response.headers["keep-alive"]))?.[1]);
      expect(seconds * 1000).toBe(KEEP_ALIVE_TIMEOUT_MS);
      expect(seconds).toBeGreaterThan(LOAD_BALANCER_IDLE_SECONDS);
    } finally {
      await runner.stop();
    }
  });
});

describe("GPU selection", () => {
  it("GPU=cuda without a usable CUDA backend exits non-zero with a clear log line", async () => {
    const runner = await startRunner({ MODEL_PATH: model, GPU: "cuda", CONTEXT_SIZE: "2048" });
    const [code] = (await once(runner.child, "exit")) as [number | null];
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    const fatal = runner.logs
      .map((line) => JSON.parse(line) as { level: number; msg: string; err?: string })
      .find((entry) => entry.level === 60);
    expect(fatal?.msg).toBe("cold start failed");
    expect(fatal?.err).toMatch(/GPU=cuda.*CUDA backend.*cannot start/);
    expect(runner.logs.join("\n")).not.toContain("falling back to CPU");
  });

  it("GPU=auto falls back to the CPU and serves", async () => {
    const runner = await startRunner({ MODEL_PATH: model, GPU: "auto", CONTEXT_SIZE: "2048" });
    try {
      const deadline = Date.now() + 60_000;
      let status = 0;
      while (status !== 200 && Date.now() < deadline && runner.child.exitCode === null) {
        const response = await fetch(`${runner.url}/readyz`);
        status = response.status;
        await response.body?.cancel();
        if (status !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect(status).toBe(200);
      const backend = runner.logs
        .map((line) => JSON.parse(line) as { msg: string; backend?: string })
        .find((entry) => entry.msg === "llama backend");
      expect(backend?.backend).toBe("cpu");
    } finally {
      await runner.stop();
    }
  }, 90_000);
});
