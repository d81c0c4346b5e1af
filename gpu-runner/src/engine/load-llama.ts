import { basename } from "node:path";
import {
  getLlama,
  type Llama,
  type LlamaContext,
  type LlamaGpuType,
  LlamaLogLevel,
  type LlamaModel,
} from "node-llama-cpp";
import type pino from "pino";

export type GpuSetting = "auto" | "cuda" | "vulkan" | "false";

export interface LoadLlamaOptions {
  modelPath: string;
  gpu: GpuSetting;
  threads: number;
  parallel: number;
  contextSize: number;
  logger: pino.Logger;
  /** 0..1 while the weights load. */
  onProgress?: (progress: number) => void;
  signal?: AbortSignal;
}

export interface LoadedLlama {
  llama: Llama;
  model: LlamaModel;
  context: LlamaContext;
  gpu: LlamaGpuType;
}

/**
 * An explicit `GPU=cuda`/`vulkan` that cannot be honoured. Production asks for `cuda`: a
 * 14B model on the CPU would run out of memory or answer at a few tokens per second while
 * reporting ready, so the runner fails its cold start instead and is replaced.
 */
export class GpuUnavailableError extends Error {
  override name = "GpuUnavailableError";
}

/**
 * Loads the model and one context with `parallel` sequences. GPU and CPU are the same code
 * path: `GPU` only chooses getLlama's backend. `GPU=auto` falls back to the CPU (local use);
 * an explicit `cuda`/`vulkan` is strict: a backend that cannot start, or a model with no layer
 * on the GPU, is a GpuUnavailableError.
 */
export async function loadLlama(options: LoadLlamaOptions): Promise<LoadedLlama> {
  const { logger } = options;
  const llama = await getBackend(options);
  const devices = await llama.getGpuDeviceNames().catch(() => []);
  const vram = llama.gpu === false ? undefined : await llama.getVramState().catch(() => undefined);
  logger.info(
    {
      requested: options.gpu,
      backend: llama.gpu === false ? "cpu" : llama.gpu,
      devices,
      vramTotalBytes: vram?.total,
      vramFreeBytes: vram?.free,
      threads: options.threads,
      cpuMathCores: llama.cpuMathCores,
    },
    "llama backend",
  );
  const model = await llama.loadModel({
    modelPath: options.modelPath,
    gpuLayers: llama.gpu === false ? 0 : "auto",
    loadSignal: options.signal,
    onLoadProgress: options.onProgress,
  });
  try {
    requireOffload(options.gpu, model.gpuLayers);
    const context = await model.createContext({
      contextSize: options.contextSize,
      sequences: options.parallel,
      threads: options.threads,
      createSignal: options.signal,
    });
    logger.info(
      {
        file: basename(options.modelPath),
        gpuLayers: model.gpuLayers,
        sizeBytes: model.size,
        contextSize: context.contextSize,
        sequences: options.parallel,
      },
      "model loaded",
    );
    return { llama, model, context, gpu: llama.gpu };
  } catch (error) {
    await model.dispose();
    throw error;
  }
}

async function getBackend(options: LoadLlamaOptions): Promise<Llama> {
  const common = {
    build: "never" as const,
    maxThreads: options.threads,
    logLevel: LlamaLogLevel.warn,
    // Its own console notes (e.g. "prebuilt binary not compatible") would break the JSON logs.
    progressLogs: false,
    logger: (level: LlamaLogLevel, message: string) => {
      const text = message.trim();
      if (!text) return;
      if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) {
        options.logger.error({ llama: text }, "llama.cpp");
      } else options.logger.debug({ llama: text }, "llama.cpp");
    },
  };
  const gpu = options.gpu === "false" ? false : options.gpu;
  try {
    return await getLlama({ ...common, gpu });
  } catch (error) {
    if (gpu === false) throw error;
    if (gpu !== "auto") {
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new GpuUnavailableError(
        `GPU=${gpu}: the ${backendName(gpu)} backend cannot start (${reason})${gpu === "cuda" ? CUDA_HINT : ""}; GPU=auto would fall back to the CPU`,
        { cause: error },
      );
    }
    options.logger.warn(
      {
        requested: options.gpu,
        err: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      },
      "GPU backend unavailable, falling back to CPU",
    );
    return await getLlama({ ...common, gpu: false });
  }
}

/** What node-llama-cpp's prebuilt CUDA backend links (a test reads it from the binary). */
const CUDA_HINT =
  ": its CUDA build needs an NVIDIA GPU with driver >= 580, libcudart.so.13 and libcublas.so.13";

/** With an explicit GPU backend, at least one layer must be on the GPU. */
export function requireOffload(requested: GpuSetting, gpuLayers: number): void {
  if (requested !== "cuda" && requested !== "vulkan") return;
  if (gpuLayers > 0) return;
  throw new GpuUnavailableError(
    `GPU=${requested}: the model loaded with no layer offloaded to the ${backendName(requested)} GPU (too little free VRAM?)`,
  );
}

function backendName(gpu: "cuda" | "vulkan"): string {
  return gpu === "cuda" ? "CUDA" : "Vulkan";
}
