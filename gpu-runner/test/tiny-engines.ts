import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { type TinyModelOptions, writeTinyModel } from "../dev/tiny-model/write-tiny-model";
import { LlamaEngine, type LlamaEngineOptions } from "../src/engine/llama-engine";
import { createLogger } from "../src/log";

export interface TinyEngines {
  /** The path of a model named in `useTinyEngines` ("tiny" is always there). */
  model(name?: string): string;
  /** An engine, not loaded yet: one CPU thread, one sequence, four queued, unless overridden. */
  create(options?: Partial<LlamaEngineOptions>): LlamaEngine;
  /** An engine with `model` loaded. */
  start(options?: Partial<LlamaEngineOptions>, model?: string): Promise<LlamaEngine>;
}

/**
 * A test file's engines on real llama.cpp: writes the tiny model (and any `models` named, each
 * with its writer options) into a temp folder before all tests, and disposes every engine made
 * here and the folder after them.
 */
export function useTinyEngines(models: Record<string, TinyModelOptions> = {}): TinyEngines {
  const all: Record<string, TinyModelOptions> = { tiny: {}, ...models };
  const engines: LlamaEngine[] = [];
  let dir: string | undefined;
  const logger = createLogger("silent");

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tiny-engines-"));
    for (const [name, options] of Object.entries(all)) {
      await writeTinyModel(join(dir, `${name}.gguf`), options);
    }
  });
  afterAll(async () => {
    for (const engine of engines) await engine.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const model = (name = "tiny") => {
    if (!dir || !(name in all)) throw new Error(`no model ${name} (written in beforeAll)`);
    return join(dir, `${name}.gguf`);
  };
  const create = (options: Partial<LlamaEngineOptions> = {}) => {
    const engine = new LlamaEngine({
      gpu: "false",
      threads: 1,
      parallel: 1,
      contextSize: 2048,
      queueMax: 4,
      logger,
      ...options,
    });
    engines.push(engine);
    return engine;
  };
  return {
    model,
    create,
    async start(options = {}, name = "tiny") {
      const engine = create(options);
      await engine.load(model(name));
      return engine;
    },
  };
}
