/**
 * Bench only (bench/edge-parts.ts): the edge app and the bare pass-through in one Worker, with
 * one part of the edge switched off or added per request (`x-bench-variant`). Never deployed:
 * the production entry is functions/src/index.ts, whose config has no such switch.
 */
import { storageKey } from "../functions/src/auth/api-key";
import { createEdgeApp } from "../functions/src/edge-app";
import { KeyLimiter } from "../functions/src/limits/key-limiter";
import { relayBody } from "../functions/src/proxy/relay-body";

export { KeyLimiter };

type Env = Record<string, unknown> & {
  RUNNER_URL: string;
  RUNNER_SECRET: string;
  LIMITER: DurableObjectNamespace<KeyLimiter>;
  LIMITER_NO_WRITE: DurableObjectNamespace<KeyLimiter>;
};

/** The limiter with its storage writes dropped: what the write costs. */
export class KeyLimiterNoWrite extends KeyLimiter {
  constructor(ctx: DurableObjectState, env: Env) {
    Object.defineProperty(ctx.storage, "put", { value: async () => {} });
    super(ctx, env as never);
  }
}

const app = createEdgeApp();
const envs = new Map<string, Env>();
const noop = () => {};
const admitAll = {
  idFromName: (name: string) => name,
  get: () => ({
    admit: async () => ({ ok: true, lease: "x" }),
    claim: async () => ({ late: false }),
    release: async () => {},
  }),
};

function variantEnv(env: Env, variant: string): Env {
  let out = envs.get(variant);
  if (!out) {
    out = { ...env };
    if (variant === "edge-no-limiter") out.LIMITER = admitAll as never;
    if (variant === "edge-no-write") out.LIMITER = env.LIMITER_NO_WRITE;
    if (variant === "edge-kv-every-request") out.KEY_CACHE_MS = "0";
    // Every request waits for the limiter, as before spare admissions.
    if (variant === "edge-no-spare") out.LIMITER_SPARE_MS = "0";
    envs.set(variant, out);
  }
  return out;
}

async function bare(request: Request, env: Env): Promise<Response> {
  const url = new URL(request.url);
  const headers = new Headers(request.headers);
  headers.set("authorization", `Bearer ${env.RUNNER_SECRET}`);
  headers.delete("host");
  headers.delete("x-bench-variant");
  return fetch(`${env.RUNNER_URL}${url.pathname}${url.search}`, {
    method: request.method,
    headers,
    body: request.body,
  });
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const variant = request.headers.get("x-bench-variant") ?? "edge";
    if (variant === "bare") return bare(request, env);
    if (variant === "bare+relay") {
      const res = await bare(request, env);
      if (!res.body) return res;
      const body = relayBody(res.body, { framing: "json", path: "/v1/models", idleMs: 5_000 });
      return new Response(body, res);
    }
    if (variant === "bare+hash") {
      await storageKey(request.headers.get("authorization") ?? "");
      return bare(request, env);
    }
    if (variant === "bare+log") {
      console.log(JSON.stringify({ level: "info", time: Date.now(), msg: "request", ms: 1 }));
      return bare(request, env);
    }
    if (variant === "bare+limiter") {
      const limiter = env.LIMITER.get(env.LIMITER.idFromName("bench"));
      const admission = await limiter.admit({ perMinute: 1_000_000, streams: 100 });
      const res = await bare(request, env);
      if (admission.ok) ctx.waitUntil(limiter.release(admission.lease));
      return res;
    }
    if (variant === "edge-no-log") {
      const log = console.log;
      console.log = noop;
      try {
        return await app.fetch(request, variantEnv(env, variant), ctx);
      } finally {
        console.log = log;
      }
    }
    return app.fetch(request, variantEnv(env, variant), ctx);
  },
} satisfies ExportedHandler<Env>;
