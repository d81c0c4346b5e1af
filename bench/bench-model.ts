import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeTinyModel } from "../gpu-runner/dev/tiny-model/write-tiny-model";

/** The random-weight Phi-4-architecture model the throughput benchmarks share (~170 MB F16). */
export const BENCH_SHAPE = { layers: 8, embedding: 768, seed: 7 } as const;

/** Writes the benchmark model once per machine (temp dir) and returns its path. */
export async function benchModel(): Promise<string> {
  const dir = join(tmpdir(), "phi4-edge-bench");
  const path = join(dir, `random-${BENCH_SHAPE.layers}x${BENCH_SHAPE.embedding}.gguf`);
  if (!existsSync(path)) {
    await mkdir(dir, { recursive: true });
    await writeTinyModel(path, { random: BENCH_SHAPE, type: "F16" });
  }
  return path;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}
