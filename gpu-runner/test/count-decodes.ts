import type { LlamaContext } from "node-llama-cpp";
import type { LlamaEngine } from "../src/engine/llama-engine";

/** One llama.cpp decode: its tokens, and the engine's busy sequences when it started. */
export interface Decode {
  tokens: number;
  active: number;
}

/** What `countDecodes` saw, in order. */
export interface DecodeLog {
  batches: Decode[];
  /** Stops recording (the context keeps working). */
  stop(): void;
}

/**
 * Records every batch llama.cpp decodes on a loaded engine's context, by wrapping
 * node-llama-cpp's addon context (`_ctx`, internal: `initBatch(size)` then `decodeBatch()`).
 */
export function countDecodes(engine: LlamaEngine): DecodeLog {
  const context = (engine as unknown as { loaded?: { context: LlamaContext } }).loaded?.context;
  if (!context) throw new Error("the engine has no model loaded");
  const holder = context as unknown as { _ctx: Record<string | symbol, unknown> };
  const native = holder._ctx;
  const batches: Decode[] = [];
  let size = 0;
  const wrapped: Record<string | symbol, unknown> = {
    initBatch(tokens: number) {
      size = tokens;
      return (native.initBatch as (n: number) => unknown).call(native, tokens);
    },
    decodeBatch() {
      batches.push({ tokens: size, active: engine.stats().activeSequences });
      return (native.decodeBatch as () => Promise<void>).call(native);
    },
  };
  holder._ctx = new Proxy(native, {
    get(target, key) {
      if (key in wrapped) return wrapped[key];
      const value = target[key];
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return {
    batches,
    stop() {
      holder._ctx = native;
    },
  };
}
