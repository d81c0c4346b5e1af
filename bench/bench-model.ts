import { existsSync } from "node:fs";
import { mkdir, rename } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TensorType } from "../gpu-runner/dev/tiny-model/gguf-writer";
import {
  type RandomModelShape,
  TINY_VOCAB,
  writeTinyModel,
} from "../gpu-runner/dev/tiny-model/write-tiny-model";

/** A random-weight Phi-4-architecture model the throughput benchmarks write for themselves. */
export interface BenchModelSpec {
  shape: RandomModelShape;
  type: TensorType;
}

/** The model the concurrency and cold-start benchmarks share (~170 MB F16). */
export const BENCH_MODEL: BenchModelSpec = {
  shape: { layers: 8, embedding: 768, seed: 7 },
  type: "F16",
};

/**
 * ~24M parameters, Q8_0: ~2 ms of compute a token on one CPU thread, the per-token time of
 * Phi-4 on a datacenter GPU, where a fixed cost per token shows.
 */
export const SMALL_MODEL: BenchModelSpec = {
  shape: { layers: 2, embedding: 768, seed: 7 },
  type: "Q8_0",
};

/** ~207M parameters, Q8_0: ~18 ms a token on one CPU thread, where compute dominates. */
export const MID_MODEL: BenchModelSpec = {
  shape: { layers: 10, embedding: 1024, seed: 7 },
  type: "Q8_0",
};

/** Writes the model once per machine (temp dir) and returns its path. */
export async function benchModel(spec: BenchModelSpec = BENCH_MODEL): Promise<string> {
  const dir = join(tmpdir(), "phi4-edge-bench");
  const { layers, embedding, seed } = spec.shape;
  const path = join(dir, `random-${layers}x${embedding}-s${seed ?? 42}-${spec.type}.gguf`);
  if (!existsSync(path)) {
    await mkdir(dir, { recursive: true });
    // Written aside and renamed, so an interrupted run never leaves a truncated model behind.
    await writeTinyModel(`${path}.partial`, { random: spec.shape, type: spec.type });
    await rename(`${path}.partial`, path);
  }
  return path;
}

/** Parameters of the model `spec` writes (embeddings, output and every block's matrices). */
export function paramCount(spec: BenchModelSpec): number {
  const { layers, embedding: e } = spec.shape;
  const ff = spec.shape.feedForward ?? Math.round((e * 5.25) / 32) * 32;
  const vocab = TINY_VOCAB.tokens.length;
  return 2 * e * vocab + e + layers * (2 * e + 4 * e * e + 3 * e * ff);
}

/** The middle value (the upper one of an even count). */
export function median(values: number[]): number {
  return percentile(values, 50);
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}
