import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { unstable_startWorker } from "wrangler";
import { seedKeys } from "../functions/test/seed-keys";
import { startEdge } from "../functions/test/start-edge";
import { percentile, QUIET_DEV, shuffle, startBareWorker, startTappedRunner } from "./edge";
import { isMain } from "./figure";

const ROUNDS = Number(process.env.ROUNDS ?? 200);
const PARTS_VARIANTS = (
  process.env.VARIANTS ??
  "bare,bare+relay,bare+hash,bare+log,bare+limiter,edge,edge-no-spare,edge-no-limiter,edge-no-write,edge-no-log,edge-kv-every-request"
).split(",");

/**
 * What each part of the edge costs on a small authenticated request (GET /v1/models): the
 * real edge and the bare Worker as in bench/edge.ts, the real edge without its static assets,
 * plus bench/edge-parts-worker.ts, which
 * runs the edge app with one part switched off, or the bare pass-through with one part added.
 * Every variant once per round, in a shuffled order; each minus the direct call of its round.
 */
export async function edgeParts(): Promise<Record<string, { p50: number; p99: number }>> {
  const dir = await mkdtemp(join(tmpdir(), "bench-edge-parts-"));
  const { runner, tap } = await startTappedRunner(dir);
  const vars = { RUNNER_URL: tap.url, RUNNER_SECRET: runner.secret };
  const edge = await startEdge({ persistTo: join(dir, "state"), vars });
  const bare = await startBareWorker(tap.url, runner.secret);
  const parts = await startParts(dir, vars);
  const noAssets = await startEdgeWithoutAssets(dir, vars);
  try {
    const limits = { perMinute: 1_000_000, streams: 100 };
    const { bench: key } = (await seedKeys(join(dir, "state"), [{ name: "bench", limits }])) as {
      bench: string;
    };
    // A caller per variant: variants sharing one would take each other's spare admissions.
    const partsKeys = await seedKeys(
      join(dir, "parts"),
      PARTS_VARIANTS.map((name) => ({ name, limits })),
    );
    const { bench: noAssetsKey } = (await seedKeys(join(dir, "no-assets"), [
      { name: "bench", limits },
    ])) as { bench: string };
    const direct = () => small(tap.url, { authorization: `Bearer ${runner.secret}` });
    const targets: Record<string, () => Promise<number>> = {
      "real-edge": () => small(edge.url, { authorization: `Bearer ${key}` }),
      "real-edge-no-assets": () => small(noAssets.url, { authorization: `Bearer ${noAssetsKey}` }),
      "real-bare": () => small(bare.url, { authorization: "Bearer anything" }),
    };
    for (const v of PARTS_VARIANTS) {
      targets[v] = () =>
        small(parts.url, { authorization: `Bearer ${partsKeys[v]}`, "x-bench-variant": v });
    }
    const entries = Object.entries(targets).map(([name, run]) => ({
      name,
      run,
      added: [] as number[],
    }));
    for (let i = 0; i < 10; i++) {
      await direct();
      for (const t of entries) await t.run();
    }
    for (let round = 0; round < ROUNDS; round++) {
      const directMs = await direct();
      for (const t of shuffle(entries)) t.added.push((await t.run()) - directMs);
    }
    return Object.fromEntries(
      entries.map((t) => [t.name, { p50: percentile(t.added, 50), p99: percentile(t.added, 99) }]),
    );
  } finally {
    await noAssets.dispose();
    await parts.dispose();
    await bare.dispose();
    await edge.dispose();
    tap.close();
    await runner.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function startParts(dir: string, vars: { RUNNER_URL: string; RUNNER_SECRET: string }) {
  const config = join(dir, "parts.json");
  await writeFile(
    config,
    JSON.stringify({
      name: "edge-parts",
      main: fileURLToPath(new URL("./edge-parts-worker.ts", import.meta.url)),
      compatibility_date: "2026-11-01",
      compatibility_flags: [
        "nodejs_compat",
        "nodejs_compat_do_not_populate_process_env",
        "enable_request_signal",
        "request_signal_passthrough",
      ],
      vars: { RUNNER_URL: vars.RUNNER_URL },
      kv_namespaces: [{ binding: "KEYS", id: "phi4-edge-keys" }],
      durable_objects: {
        bindings: [
          { name: "LIMITER", class_name: "KeyLimiter" },
          { name: "LIMITER_NO_WRITE", class_name: "KeyLimiterNoWrite" },
        ],
      },
      migrations: [{ tag: "v1", new_sqlite_classes: ["KeyLimiter", "KeyLimiterNoWrite"] }],
    }),
  );
  return startWorkerFrom(dir, { config, persist: "parts", secret: vars.RUNNER_SECRET });
}

/**
 * The real edge from wrangler.jsonc without its `assets` (the playground): what the assets
 * router in front of the Worker costs an API request, `run_worker_first` and all.
 */
async function startEdgeWithoutAssets(
  dir: string,
  vars: { RUNNER_URL: string; RUNNER_SECRET: string },
) {
  const functions = fileURLToPath(new URL("../functions/", import.meta.url));
  // wrangler.jsonc has whole-line comments only; its strings may contain "//".
  const jsonc = await readFile(join(functions, "wrangler.jsonc"), "utf8");
  const { assets: _, ...config } = JSON.parse(jsonc.replace(/^\s*\/\/.*$/gm, ""));
  const path = join(dir, "no-assets.json");
  await writeFile(
    path,
    JSON.stringify({
      ...config,
      main: join(functions, config.main),
      vars: { ...config.vars, RUNNER_URL: vars.RUNNER_URL },
    }),
  );
  return startWorkerFrom(dir, { config: path, persist: "no-assets", secret: vars.RUNNER_SECRET });
}

/** A quiet Worker from a wrangler config file in `dir`, its state in `dir/persist`. */
async function startWorkerFrom(
  dir: string,
  o: { config: string; persist: string; secret: string },
) {
  const worker = await unstable_startWorker({
    config: o.config,
    envFiles: [join(dir, "no.env")],
    bindings: { RUNNER_SECRET: { type: "secret_text", value: o.secret } },
    dev: { ...QUIET_DEV, persist: join(dir, o.persist) },
  } as Parameters<typeof unstable_startWorker>[0]);
  await worker.ready;
  return { url: (await worker.url).origin, dispose: () => worker.dispose() };
}

async function small(url: string, headers: Record<string, string>): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${url}/v1/models`, { headers });
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`GET /v1/models (${headers["x-bench-variant"]}): ${res.status}`);
  return performance.now() - started;
}

if (isMain(import.meta)) {
  const result = await edgeParts();
  const bare = result["real-bare"] ?? { p50: Number.NaN, p99: Number.NaN };
  for (const [name, { p50, p99 }] of Object.entries(result)) {
    console.log(
      `${name.padEnd(24)} +${p50.toFixed(2).padStart(7)} ms p50 (${(p50 / bare.p50).toFixed(2)}× real bare)  +${p99.toFixed(2).padStart(7)} ms p99 (${(p99 / bare.p99).toFixed(2)}×)`,
    );
  }
}
