/**
 * The edge: the `functions/` Worker on Cloudflare with its bindings, named as in
 * functions/src/env.ts and functions/wrangler.jsonc: KEYS (API-key hashes), LIMITER (the
 * per-key rate and concurrency Durable Object), RUNNER_URL, RUNNER_SECRET; and for waking the
 * runners from zero ECS_CLUSTER, ECS_SERVICE, AWS_REGION, AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY (functions/src/wake).
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { cluster } from "./gpu";
import { runnerUrl, service } from "./runner";
import { runnerSecret } from "./secrets";
import { apiDomain, isProduction } from "./stage";

export const keys = new sst.cloudflare.Kv("KEYS", {
  transform: {
    // Production's API keys survive `sst remove`; a dev stage's go with it.
    namespace: (_args, opts) => {
      opts.retainOnDelete = isProduction;
      return undefined;
    },
  },
});

/** Per-key rate and concurrency limits live in the Worker's own `KeyLimiter` class. */
export const limiter = new sst.cloudflare.DurableObject("LIMITER", { className: "KeyLimiter" });

/**
 * The linked `RunnerSecret` as a plain `RUNNER_SECRET` secret binding (a bare linked secret
 * would arrive as JSON under `SST_RESOURCE_RunnerSecret`).
 */
export const runnerSecretBinding = new sst.Linkable("RUNNER_SECRET", {
  properties: {},
  include: [
    sst.cloudflare.binding({
      type: "secretTextBindings",
      properties: { text: runnerSecret.value },
    }),
  ],
});

/**
 * Least privilege for waking the runners: SST turns this permission into an IAM user allowed
 * only to describe and update this one ECS service, and binds its key to the Worker
 * (AWS_ACCESS_KEY_ID plain, AWS_SECRET_ACCESS_KEY secret).
 */
export const runnerWaker = new sst.Linkable("RunnerWaker", {
  properties: { cluster: cluster.name, service: service.name },
  include: [
    sst.aws.permission({
      actions: ["ecs:UpdateService", "ecs:DescribeServices"],
      resources: [service.arn],
    }),
  ],
});

/**
 * The web playground's built files (functions/scripts/build-playground.ts), as in
 * functions/wrangler.jsonc; `npm run deploy` builds them before `sst deploy`.
 */
const PLAYGROUND_ASSETS = "functions/playground/dist";
if (!existsSync(path.join($cli.paths.root, PLAYGROUND_ASSETS, "index.html"))) {
  throw new Error(
    `${PLAYGROUND_ASSETS} is missing: run \`npm run deploy\` (it builds the playground), or \`npm run -w functions build:playground\` before \`sst deploy\``,
  );
}

export const worker = new sst.cloudflare.Worker("Edge", {
  handler: "functions/src/index.ts",
  url: true,
  domain: apiDomain,
  // As in functions/wrangler.jsonc (a test holds them equal): request_signal lets a caller's
  // abort reach the runner; bindings stay out of process.env.
  compatibility: {
    date: "2026-11-01",
    flags: [
      "nodejs_compat",
      "enable_request_signal",
      "request_signal_passthrough",
      "nodejs_compat_do_not_populate_process_env",
    ],
  },
  migrations: [{ tag: "v1", newSqliteClasses: ["KeyLimiter"] }],
  // Served before the Worker runs and without a key; other paths reach the Worker's allow-list.
  // The API's paths go to the Worker first, without a look in the assets.
  assets: { directory: PLAYGROUND_ASSETS, runWorkerFirst: ["/v1/*", "/trpc/*", "/healthz"] },
  link: [keys, limiter, runnerSecretBinding, runnerWaker],
  environment: {
    RUNNER_URL: runnerUrl,
    ECS_CLUSTER: cluster.name,
    ECS_SERVICE: service.name,
    AWS_REGION: aws.getRegionOutput().region,
  },
  transform: { worker: { observability: { enabled: true } } },
});
