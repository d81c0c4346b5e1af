import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import { startHubEmulator } from "../gpu-runner/dev/hub-emulator/start-hub-emulator";
import { modelSource, parseEnv } from "../gpu-runner/src/env";
import { ensureModel, type ModelProgress } from "../gpu-runner/src/model-store/ensure-model";
import { benchModel } from "./bench-model";
import { type Figure, figure, isMain } from "./figure";

const REPO = "phi4-edge/bench-model";
const FILE = "bench.gguf";

/**
 * A cold start split into its phases (resolve, download, verify, load) against the Hub emulator,
 * each as a share of the whole; and the whole as a ratio to a warm start from the same volume.
 */
export default async function coldStartBench(): Promise<Figure[]> {
  const hub = await startHubEmulator({
    repos: [{ repo: REPO, files: { [FILE]: await benchModel() } }],
  });
  const volume = await mkdtemp(join(tmpdir(), "phi4-cold-"));
  const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
  try {
    const source = modelSource(
      parseEnv({
        RUNNER_INSECURE: "1",
        MODEL_REPO: REPO,
        MODEL_FILE: FILE,
        MODEL_CACHE_DIR: volume,
        HF_ENDPOINT: hub.url,
      }),
    );
    const start = async () => {
      const marks = new Map<ModelProgress["phase"] | "start" | "loaded", number>();
      marks.set("start", performance.now());
      const model = await ensureModel({
        ...source,
        onProgress: (p) => {
          if (!marks.has(p.phase)) marks.set(p.phase, performance.now());
        },
      });
      marks.set("ready", performance.now());
      const loaded = await llama.loadModel({ modelPath: model.path });
      marks.set("loaded", performance.now());
      await loaded.dispose();
      return marks;
    };
    const cold = await start();
    const warm = await start();
    const at = (marks: typeof cold, phase: Parameters<typeof cold.get>[0]) =>
      marks.get(phase) ?? Number.NaN;
    const total = at(cold, "loaded") - at(cold, "start");
    const span = (from: Parameters<typeof cold.get>[0], to: Parameters<typeof cold.get>[0]) =>
      at(cold, to) - at(cold, from);
    const share = (id: string, title: string, ms: number) =>
      figure({
        id: `cold-start.${id}`,
        title: `cold start: ${title}`,
        value: ms,
        unit: "ms",
        baseline: { title: "whole cold start", value: total },
        higherIsBetter: false,
      });
    return [
      figure({
        id: "cold-start.total",
        title: "cold start (download + verify + load)",
        value: total,
        unit: "ms",
        baseline: {
          title: "warm start from the volume",
          value: at(warm, "loaded") - at(warm, "start"),
        },
        higherIsBetter: false,
        note: "random-weight 8×768 F16 model (~170 MB) from the local Hub emulator",
      }),
      share("resolve", "resolve", span("start", "downloading")),
      share("download", "download", span("downloading", "verifying")),
      share("verify", "verify", span("verifying", "ready")),
      share("load", "load", span("ready", "loaded")),
    ];
  } finally {
    await llama.dispose();
    await hub.close();
    await rm(volume, { recursive: true, force: true });
  }
}

if (isMain(import.meta)) console.log(JSON.stringify(await coldStartBench(), null, 2));
