import { stat } from "node:fs/promises";
import { join } from "node:path";
import {
  type HubEmulator,
  type HubFaults,
  startHubEmulator,
} from "./hub-emulator/start-hub-emulator";
import { type TinyModelOptions, writeTinyModel } from "./tiny-model/write-tiny-model";

export interface ServeTinyModelOptions {
  repo: string;
  file: string;
  /** How the model is written (e.g. `endless`). */
  model?: TinyModelOptions;
  /** The emulator's faults from the start (e.g. a `throttle` so the download shows). */
  faults?: HubFaults;
}

export interface ServedTinyModel {
  hub: HubEmulator;
  /** The model's size in bytes. */
  size: number;
  /**
   * A runner's environment for a cold start from this emulator into `volume`, on the CPU (one
   * thread); `startRunner` takes it with the rest (port, secret, sizes).
   */
  runnerEnv(volume: string): Record<string, string>;
}

/** Writes the tiny model into `dir` and serves it as `repo`/`file` from a fresh Hub emulator. */
export async function serveTinyModel(
  dir: string,
  options: ServeTinyModelOptions,
): Promise<ServedTinyModel> {
  const model = join(dir, "tiny.gguf");
  await writeTinyModel(model, options.model);
  const hub = await startHubEmulator({
    repos: [{ repo: options.repo, files: { [options.file]: model } }],
    faults: options.faults,
  });
  return {
    hub,
    size: (await stat(model)).size,
    runnerEnv: (volume) => ({
      MODEL_REPO: options.repo,
      MODEL_FILE: options.file,
      HF_ENDPOINT: hub.url,
      MODEL_CACHE_DIR: volume,
      GPU: "false",
      THREADS: "1",
    }),
  };
}
