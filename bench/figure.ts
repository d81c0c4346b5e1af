/**
 * One benchmark figure: a measured value and the baseline it is compared with, measured in the
 * same run on the same machine. Every script under bench/ returns a list of these.
 */
export interface Figure {
  /** Stable id, e.g. `download.throughput`. */
  id: string;
  /** What was measured, in a few words. */
  title: string;
  value: number;
  unit: string;
  baseline: { title: string; value: number };
  /** value / baseline.value */
  ratio: number;
  /** Whether a higher ratio is better (throughput) or worse (latency). */
  higherIsBetter: boolean;
  note?: string;
}

export function figure(f: Omit<Figure, "ratio">): Figure {
  return { ...f, ratio: f.baseline.value === 0 ? Number.NaN : f.value / f.baseline.value };
}

/** Thrown by a benchmark that cannot run here (a missing baseline); the report says why. */
export class SkippedBench extends Error {
  override name = "SkippedBench";
}

/** True when a bench script is run directly (`tsx bench/x.ts`) rather than imported. */
export function isMain(meta: ImportMeta): boolean {
  return process.argv[1] !== undefined && meta.filename === process.argv[1];
}
