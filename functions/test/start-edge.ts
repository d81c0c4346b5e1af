import { resolve } from "node:path";
import { unstable_startWorker } from "wrangler";
import { buildPlayground } from "../scripts/build-playground";
import { WRANGLER_OFFLINE } from "../scripts/wrangler";

// wrangler runs in this process here: its offline switches go into this environment.
Object.assign(process.env, WRANGLER_OFFLINE);

const CONFIG = resolve(import.meta.dirname, "../wrangler.jsonc");

export interface StartedEdge {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Every line the Worker logged. */
  logs: string[];
  /** Drops a caller's KeyLimiter from memory at once (as a restart would); its storage stays. */
  evictLimiter(callerId: string): Promise<void>;
  dispose(): Promise<void>;
}

export interface StartEdgeOptions {
  /** Bindings over wrangler.jsonc's vars (strings); RUNNER_SECRET becomes a secret. */
  vars: Record<string, string>;
  /** Persisted local state (KV, Durable Objects): the folder `npm run keys -- --persist-to` uses. */
  persistTo: string;
}

/** The part of wrangler's local runtime (Miniflare) the tests use. */
interface LocalRuntime {
  unsafeEvictDurableObject(script: string, className: string, id: { name: string }): Promise<void>;
}

/** The real Worker under workerd (wrangler's dev server) on a free loopback port. */
export async function startEdge(options: StartEdgeOptions): Promise<StartedEdge> {
  buildPlayground(); // the static assets wrangler.jsonc points at
  const logs: string[] = [];
  const bindings = Object.fromEntries(
    Object.entries(options.vars).map(([name, value]) => [
      name,
      { type: name === "RUNNER_SECRET" ? "secret_text" : "plain_text", value },
    ]),
  );
  const worker = await unstable_startWorker({
    config: CONFIG,
    // A file that does not exist: keep the developer's .dev.vars out of tests.
    envFiles: [resolve(options.persistTo, "no.env")],
    bindings,
    dev: {
      persist: options.persistTo,
      server: { hostname: "127.0.0.1", port: 0 },
      inspector: false,
      watch: false,
      logLevel: "none",
      structuredLogsHandler: (log: { message: string }) => logs.push(log.message),
    },
  } as Parameters<typeof unstable_startWorker>[0]);
  await worker.ready;
  const url = (await worker.url).origin;
  const runtime = (worker.raw as unknown as { runtimes: { mf?: LocalRuntime }[] }).runtimes[0];
  return {
    url,
    logs,
    evictLimiter: async (callerId) => {
      if (!runtime?.mf) throw new Error("no local runtime to evict from");
      await runtime.mf
        .unsafeEvictDurableObject("phi4-edge", "KeyLimiter", { name: callerId })
        .catch((error: Error) => {
          // Already out of memory (the runtime puts idle objects to sleep): as good as evicted.
          if (!/not currently running/.test(error.message)) throw error;
        });
    },
    dispose: () => worker.dispose(),
  };
}
