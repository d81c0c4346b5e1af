/**
 * The edge: the `functions/` Worker on Cloudflare with its bindings. Binding names are the
 * Worker's (functions/src/env.ts): KEYS (API-key hashes), RATE_LIMITER, RUNNER_URL,
 * RUNNER_SECRET, and for waking the runners from zero ECS_CLUSTER, ECS_SERVICE, AWS_REGION,
 * AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
 */
import { cluster } from "./gpu";
import { runnerUrl, service } from "./runner";
import { runnerSecret } from "./secrets";
import { rateLimitNamespaceId } from "./stage";

export const keys = new sst.cloudflare.Kv("KEYS");

export const rateLimiter = new sst.cloudflare.RateLimit("RATE_LIMITER", {
  namespaceId: rateLimitNamespaceId,
  limit: 60,
  period: "1 minute",
});

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

export const worker = new sst.cloudflare.Worker("Edge", {
  handler: "functions/src/index.ts",
  url: true,
  compatibility: { date: "2026-11-01", flags: ["nodejs_compat"] },
  link: [keys, rateLimiter, runnerSecretBinding, runnerWaker],
  environment: {
    RUNNER_URL: runnerUrl,
    ECS_CLUSTER: cluster.name,
    ECS_SERVICE: service.name,
    AWS_REGION: aws.getRegionOutput().region,
  },
});
