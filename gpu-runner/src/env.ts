import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { z } from "zod";
import type { ModelSource } from "./model-store/model-source";
import { DRAIN_SECONDS } from "./server/connection-timeouts";

const flag = z
  .enum(["1", "0", "true", "false", ""])
  .optional()
  .transform((v) => v === "1" || v === "true");

/**
 * The repository's `.models`: `npm run -w gpu-runner pull` (run in gpu-runner/) and `npm start`
 * (run at the root) share it whatever the working directory. Containers set MODEL_CACHE_DIR.
 */
export const DEFAULT_CACHE_DIR = resolve(import.meta.dirname, "../../.models");

/** The runner's whole configuration (the README's table). Nothing else reads `process.env`. */
export const RunnerEnv = z
  .object({
    MODEL_REPO: z
      .string()
      .regex(/^[\w.-]+\/[\w.-]+$/, "expected owner/name")
      .default("bartowski/microsoft_Phi-4-reasoning-plus-GGUF"),
    MODEL_FILE: z.string().min(1).default("microsoft_Phi-4-reasoning-plus-Q4_K_M.gguf"),
    MODEL_REVISION: z.string().min(1).default("main"),
    MODEL_CACHE_DIR: z.string().min(1).default(DEFAULT_CACHE_DIR),
    MODEL_PATH: z.string().min(1).optional(),
    HF_ENDPOINT: z.url().default("https://huggingface.co"),
    HF_TOKEN: z
      .string()
      .startsWith("hf_", "not a Hugging Face token (it must start with hf_)")
      .optional(),
    HF_HUB_OFFLINE: flag,
    /**
     * The most ranged requests at once for the model download: CDNs cap each connection's rate
     * (the download starts with one and adds more while they raise its rate). Four reach 0.9× of
     * 4 × the cap in the bench, and four CDN connections already fill what one client writes to
     * a shared volume (EFS); more only add requests.
     */
    MODEL_DOWNLOAD_CONNECTIONS: z.coerce.number().int().min(1).max(32).default(4),
    PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
    RUNNER_SECRET: z.string().min(16, "use at least 16 characters").optional(),
    RUNNER_INSECURE: flag,
    GPU: z.enum(["auto", "cuda", "vulkan", "false"]).default("auto"),
    PARALLEL: z.coerce.number().int().min(1).max(64).default(4),
    CONTEXT_SIZE: z.coerce.number().int().min(256).default(8192),
    QUEUE_MAX: z.coerce.number().int().min(0).default(64),
    THREADS: z.coerce.number().int().min(1).default(availableParallelism()),
    /** How long SIGTERM lets running streams finish; the default stays below ECS's stopTimeout. */
    DRAIN_SECONDS: z.coerce.number().min(0).max(3600).default(DRAIN_SECONDS),
    /** Set in production: the runner logs its load every LOAD_REPORT_SECONDS as a CloudWatch metric. */
    CLOUDWATCH_METRICS_NAMESPACE: z.string().min(1).optional(),
    LOAD_REPORT_SECONDS: z.coerce.number().positive().default(60),
    LOG_LEVEL: z
      .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
      .default("info"),
    /** Set by npm: the folder the command was typed in (npm runs scripts in the workspace). */
    INIT_CWD: z.string().optional(),
  })
  .refine((env) => env.RUNNER_SECRET || env.RUNNER_INSECURE, {
    message: "RUNNER_SECRET is required (or set RUNNER_INSECURE=1 for local development)",
    path: ["RUNNER_SECRET"],
  })
  .transform(({ INIT_CWD, ...env }) => ({
    ...env,
    // A relative folder is relative to where the user typed the command, not to where npm runs it.
    MODEL_CACHE_DIR: resolve(INIT_CWD ?? process.cwd(), env.MODEL_CACHE_DIR),
  }));
export type RunnerEnv = z.infer<typeof RunnerEnv>;

/** What `ensureModel` needs of the configuration, and nothing else. */
export function modelSource(env: RunnerEnv): ModelSource {
  return {
    repo: env.MODEL_REPO,
    file: env.MODEL_FILE,
    revision: env.MODEL_REVISION,
    cacheDir: env.MODEL_CACHE_DIR,
    hubUrl: env.HF_ENDPOINT,
    ...(env.HF_TOKEN ? { accessToken: env.HF_TOKEN } : {}),
    offline: env.HF_HUB_OFFLINE,
    connections: env.MODEL_DOWNLOAD_CONNECTIONS,
  };
}

/** Parses the environment once; a bad value is a message naming the variable, not a stack trace. */
export function parseEnv(source: Record<string, string | undefined> = process.env): RunnerEnv {
  const result = RunnerEnv.safeParse(source);
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => `  ${i.path.join(".") || "env"}: ${i.message}`);
  throw new ConfigError(`invalid runner configuration:\n${lines.join("\n")}`);
}

export class ConfigError extends Error {
  override name = "ConfigError";
}
