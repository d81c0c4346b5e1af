/**
 * The container's entrypoint: the runner bundled as gpu-runner/Dockerfile bundles it, started
 * as the image starts it (`node main.mjs`, no tsx, no dev dependencies in the bundle), serving a
 * real model on CPU until its /readyz — the image's HEALTHCHECK and the load balancer's check —
 * says ready. The CUDA base image itself cannot be built here (no Docker daemon, no registry).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, expect, test } from "vitest";
import { writeTinyModel } from "../../dev/tiny-model/write-tiny-model";
import { bundleRunner } from "../../scripts/bundle-runner";
import { parsePrometheusText, sampleValue } from "../prometheus-text";

const root = path.resolve(import.meta.dirname, "../../..");

// Inside the repository so the bundle's one external import (node-llama-cpp) resolves as it
// does in the image, from node_modules next to it.
const outDir = path.join(root, "node_modules", ".cache", `phi4-runner-bundle-${process.pid}`);
const bundle = path.join(outDir, "main.mjs");
const work = mkdtempSync(path.join(tmpdir(), "phi4-bundle-"));
let runner: ChildProcess | undefined;
let port = 0;
/** The bundled runner's stdout lines (pino JSON). */
const lines: Record<string, unknown>[] = [];

beforeAll(async () => {
  mkdirSync(outDir, { recursive: true });
  await bundleRunner(outDir);
  await writeTinyModel(path.join(work, "tiny.gguf"));
}, 60_000);

afterAll(() => {
  runner?.kill("SIGKILL");
  rmSync(outDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

test("the bundle holds the runner and the contract, not TypeScript sources", () => {
  const code = readFileSync(bundle, "utf8");
  expect(code).toContain("invalid runner configuration");
  expect(code).not.toMatch(/from\s*["']@phi4-edge\/shared/);
  expect(code).not.toMatch(/from\s*["']tsx/);
});

test("the bundled runner starts, loads a model and answers /readyz 200 (503 before)", async () => {
  runner = spawn(process.execPath, [bundle], {
    cwd: work,
    env: {
      PATH: process.env.PATH,
      PORT: "0",
      MODEL_PATH: path.join(work, "tiny.gguf"),
      MODEL_CACHE_DIR: path.join(work, "models"),
      RUNNER_SECRET: "bundle-test-secret-0123456789",
      GPU: "false",
      THREADS: "1",
      PARALLEL: "1",
      CONTEXT_SIZE: "2048",
      // Load lines are logged whatever the level: autoscaling depends on them.
      LOG_LEVEL: "warn",
      CLOUDWATCH_METRICS_NAMESPACE: "Phi4/test",
      LOAD_REPORT_SECONDS: "0.2",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  runner.stderr?.on("data", (chunk) => (stderr += chunk));
  port = await new Promise<number>((resolve, reject) => {
    runner?.once("exit", (code) => reject(new Error(`runner exited ${code}: ${stderr}`)));
    createInterface({ input: runner!.stdout! }).on("line", (line) => {
      const entry = JSON.parse(line) as { msg?: string; port?: number };
      lines.push(entry);
      if (entry.msg === "listening" && entry.port) resolve(entry.port);
    });
  });

  const statuses: number[] = [];
  for (;;) {
    const response = await fetch(`http://127.0.0.1:${port}/readyz`);
    statuses.push(response.status);
    await response.body?.cancel();
    if (response.status === 200) break;
    expect(response.status).toBe(503);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(statuses.at(-1)).toBe(200);
  // Every other route stays behind the secret in the bundled build too.
  const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(metrics.status).toBe(401);
}, 60_000);

test("the bundled runner logs its load as a CloudWatch EMF line, equal to its /metrics gauges", async () => {
  expect(port).toBeGreaterThan(0);
  const seen = lines.length;
  let emf: { _aws?: { CloudWatchMetrics: { Namespace: string }[] }; Load?: number } | undefined;
  const deadline = Date.now() + 10_000;
  while (!emf && Date.now() < deadline) {
    emf = lines.slice(seen).find((l) => "_aws" in l) as typeof emf;
    if (!emf) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(emf?._aws?.CloudWatchMetrics[0]?.Namespace).toBe("Phi4/test");
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, {
    headers: { authorization: "Bearer bundle-test-secret-0123456789" },
  });
  const samples = parsePrometheusText(await response.text());
  const load =
    sampleValue(samples, "phi4_active_sequences") + sampleValue(samples, "phi4_queue_depth");
  // Idle runner: nothing generating, nothing queued, in both.
  expect(emf?.Load).toBe(load);
  expect(load).toBe(0);
});
