/**
 * Runs one `ensureModel` call in a process of its own, configured by the runner's variables and
 * a JSON argument ({@link Run}), prints `{ path }` or `{ error }` on stdout, and then returns
 * without `process.exit`: the process ends only once nothing the call opened is left.
 */
import { modelSource, parseEnv } from "../../src/env";
import { ensureModel } from "../../src/model-store/ensure-model";
import type { LockTiming } from "../../src/model-store/volume-lock";

export interface Run {
  rangeBytes?: number;
  lockTiming?: LockTiming;
}

const run = JSON.parse(process.argv[2] ?? "{}") as Run;
const controller = new AbortController();
/** SIGUSR2 aborts the call, as a caller's signal would. */
process.once("SIGUSR2", () => controller.abort(new Error("aborted by the caller")));
try {
  const model = await ensureModel({
    ...modelSource(parseEnv(process.env)),
    // Far longer than any test: a request's idle timer left armed would hold the process.
    idleTimeoutMs: 600_000,
    retry: { attempts: 2, baseMs: 10 },
    signal: controller.signal,
    ...(run.rangeBytes ? { rangeBytes: run.rangeBytes } : {}),
    ...(run.lockTiming ? { lockTiming: run.lockTiming } : {}),
  });
  process.stdout.write(`${JSON.stringify({ path: model.path })}\n`);
} catch (error) {
  const { name, message } = error as Error;
  process.stdout.write(`${JSON.stringify({ error: `${name}: ${message}` })}\n`);
}
