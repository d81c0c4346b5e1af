import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getLlama, type Llama, LlamaLogLevel, type LlamaModel } from "node-llama-cpp";
import { afterAll, beforeAll } from "vitest";
import { writeTinyModel } from "../dev/tiny-model/write-tiny-model";

export interface TinyModel {
  llama: Llama;
  model: LlamaModel;
}

/**
 * A test file's tiny model (its real byte-level vocabulary and Phi-4-reasoning template) on real
 * llama.cpp: written into a temp folder and loaded with one CPU thread before all tests, disposed
 * with the folder after them. Its fields are set once `beforeAll` has run.
 */
export function useTinyModel(): TinyModel {
  const tiny = {} as TinyModel;
  let dir: string | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tiny-model-"));
    const path = join(dir, "tiny.gguf");
    await writeTinyModel(path);
    tiny.llama = await getLlama({
      gpu: false,
      build: "never",
      maxThreads: 1,
      logLevel: LlamaLogLevel.error,
    });
    tiny.model = await tiny.llama.loadModel({ modelPath: path });
  });
  afterAll(async () => {
    await tiny.model?.dispose();
    await tiny.llama?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return tiny;
}
