import { z } from "zod";
import type { KeyLimiter } from "./limits/key-limiter";
import type { WakeConfig } from "./wake/wake-runner";

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const optionalText = z
  .string()
  .optional()
  .transform((v) => (v?.trim() ? v.trim() : undefined));

/** Set together by SST (infra/edge.ts) where runners scale to zero; absent locally. */
const WAKE_BINDINGS = [
  "AWS_REGION",
  "ECS_CLUSTER",
  "ECS_SERVICE",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
] as const;

/** The bindings that are text (vars and secrets). */
const EdgeVars = z.object({
  RUNNER_URL: z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, "")),
  RUNNER_SECRET: z.string().min(16, "use at least 16 characters"),
  JWT_JWKS_URL: optionalText.pipe(z.url().optional()),
  JWT_ISSUER: optionalText,
  JWT_AUDIENCE: optionalText,
  /** Default requests per minute per caller (a key's metadata may override it). */
  RATE_LIMIT_PER_MINUTE: positiveInt(60),
  /** Default concurrent pass-through requests (streams) per caller. */
  CONCURRENT_STREAMS: positiveInt(4),
  /**
   * How long a spare admission lives at the caller's KeyLimiter (an isolate uses it for half
   * that): the longest a request through another isolate may be refused for the slot it holds.
   * 0 grants none, and every request waits for the limiter.
   */
  LIMITER_SPARE_MS: z.coerce.number().int().min(0).max(60_000).default(5_000),
  MAX_BODY_BYTES: positiveInt(1024 * 1024),
  /**
   * How long an isolate keeps a key record it read from KV: the bound on how long a revoked
   * key may still be accepted (on top of KV's own propagation). 0 reads KV on every request.
   */
  KEY_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(5_000),
  /** How long the runner may take to send response headers before the caller gets 504. */
  RUNNER_TIMEOUT_MS: positiveInt(10_000),
  /**
   * How long a response body may stay silent before the caller's stream is ended with
   * GATEWAY_TIMEOUT. The runner writes a keep-alive every 500 ms, so this is ten of them.
   */
  STREAM_IDLE_MS: positiveInt(5_000),
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
  AWS_REGION: optionalText,
  ECS_CLUSTER: optionalText,
  ECS_SERVICE: optionalText,
  AWS_ACCESS_KEY_ID: optionalText,
  AWS_SECRET_ACCESS_KEY: optionalText,
  /** Another ECS API endpoint (a VPC or FIPS endpoint; tests point it at a local stand-in). */
  ECS_ENDPOINT: optionalText.pipe(z.url().optional()),
});

function wakeBindingsTogether(
  env: Partial<Record<(typeof WAKE_BINDINGS)[number], string>>,
  ctx: z.RefinementCtx,
): void {
  const missing = WAKE_BINDINGS.filter((name) => !env[name]);
  if (missing.length > 0 && missing.length < WAKE_BINDINGS.length) {
    ctx.addIssue({
      code: "custom",
      path: [missing.join(", ")],
      message: `missing: waking the runners needs all of ${WAKE_BINDINGS.join(", ")}`,
    });
  }
}

/** The Worker's whole configuration: its bindings, parsed once per isolate. */
export const EdgeConfig = EdgeVars.extend({
  KEYS: z.custom<KVNamespace>((v) => typeof (v as KVNamespace)?.get === "function", {
    message: "expected a KV namespace binding",
  }),
  LIMITER: z.custom<DurableObjectNamespace<KeyLimiter>>(
    (v) => typeof (v as DurableObjectNamespace)?.idFromName === "function",
    { message: "expected a Durable Object namespace binding (class KeyLimiter)" },
  ),
})
  .superRefine(wakeBindingsTogether)
  .transform((env) => ({ ...env, wake: wakeConfig(env) }));
export type EdgeConfig = z.infer<typeof EdgeConfig>;

/** Where the runners' ECS service is and the key allowed to wake it; undefined locally. */
function wakeConfig(
  env: Partial<Record<(typeof WAKE_BINDINGS)[number] | "ECS_ENDPOINT", string>>,
): WakeConfig | undefined {
  const { AWS_REGION, ECS_CLUSTER, ECS_SERVICE, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY } = env;
  if (!AWS_REGION || !ECS_CLUSTER || !ECS_SERVICE || !AWS_ACCESS_KEY_ID || !AWS_SECRET_ACCESS_KEY) {
    return undefined;
  }
  return {
    region: AWS_REGION,
    cluster: ECS_CLUSTER,
    service: ECS_SERVICE,
    accessKeyId: AWS_ACCESS_KEY_ID,
    secretAccessKey: AWS_SECRET_ACCESS_KEY,
    ...(env.ECS_ENDPOINT ? { endpoint: env.ECS_ENDPOINT } : {}),
  };
}

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
    throw new ConfigError(`invalid edge configuration: ${describeIssues(result.error).join("; ")}`);
  }
  parsed.set(env, result.data);
  return result.data;
}

/**
 * The Worker's rules applied, before wrangler starts, to the text bindings `npm run -w functions
 * dev` passes (the others come from wrangler.jsonc); one line per problem, no values.
 */
export function checkDevVars(values: Record<string, string>): string[] {
  const result = EdgeVars.partial().superRefine(wakeBindingsTogether).safeParse(values);
  return result.success ? [] : describeIssues(result.error);
}

function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.join(".") || "env"}: ${i.message}`);
}
