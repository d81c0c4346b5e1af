import { z } from "zod";
import type { KeyLimiter } from "./limits/key-limiter";

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const optionalText = z
  .string()
  .optional()
  .transform((v) => (v?.trim() ? v.trim() : undefined));

/** The Worker's whole configuration: its bindings, parsed once per isolate. */
export const EdgeConfig = z.object({
  RUNNER_URL: z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, "")),
  RUNNER_SECRET: z.string().min(16, "use at least 16 characters"),
  KEYS: z.custom<KVNamespace>((v) => typeof (v as KVNamespace)?.get === "function", {
    message: "expected a KV namespace binding",
  }),
  LIMITER: z.custom<DurableObjectNamespace<KeyLimiter>>(
    (v) => typeof (v as DurableObjectNamespace)?.idFromName === "function",
    { message: "expected a Durable Object namespace binding (class KeyLimiter)" },
  ),
  JWT_JWKS_URL: optionalText.pipe(z.url().optional()),
  JWT_ISSUER: optionalText,
  JWT_AUDIENCE: optionalText,
  /** Default requests per minute per caller (a key's metadata may override it). */
  RATE_LIMIT_PER_MINUTE: positiveInt(60),
  /** Default concurrent pass-through requests (streams) per caller. */
  CONCURRENT_STREAMS: positiveInt(4),
  MAX_BODY_BYTES: positiveInt(1024 * 1024),
  /** How long the runner may take to send response headers before the caller gets 504. */
  RUNNER_TIMEOUT_MS: positiveInt(10_000),
  /** Comma-separated origins allowed by CORS, `*` for any; empty: no CORS headers. */
  CORS_ORIGINS: z
    .string()
    .default("")
    .transform((v) =>
      v
        .split(",")
        .map((o) => o.trim())
        .filter(Boolean),
    ),
});
export type EdgeConfig = z.infer<typeof EdgeConfig>;

/** A binding is missing or malformed; the message names it and never contains its value. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

const parsed = new WeakMap<object, EdgeConfig>();

/** Parses the bindings (cached per env object, which lives as long as the isolate). */
export function edgeConfig(env: object): EdgeConfig {
  const cached = parsed.get(env);
  if (cached) return cached;
  const result = EdgeConfig.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `${i.path.join(".") || "env"}: ${i.message}`);
    throw new ConfigError(`invalid edge configuration: ${lines.join("; ")}`);
  }
  parsed.set(env, result.data);
  return result.data;
}
