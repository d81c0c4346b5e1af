/// <reference path="./.sst/platform/config.d.ts" />

/**
 * phi4-edge in production: the Worker on Cloudflare, GPU runners on AWS sharing one model
 * volume. A table of contents; each module under infra/ says what it builds and why.
 * Prerequisites, costs and the first deploy: docs/DEPLOY.md.
 */
export default $config({
  app(input) {
    const production = input?.stage === "production";
    return {
      name: "phi4-edge",
      // Production keeps its data (the model volume, the KV of keys) and refuses `sst remove`;
      // dev stages are removable.
      removal: production ? "retain" : "remove",
      protect: production,
      home: "aws",
      providers: { aws: { version: "7.20.0" }, cloudflare: { version: "6.15.0" } },
    };
  },
  async run() {
    await import("./infra/stage"); // per-stage settings; fails early on a missing PHI4_DOMAIN
    await import("./infra/secrets"); // HfToken, RunnerSecret (+ their SSM parameters)
    await import("./infra/storage"); // VPC, EFS model volume
    await import("./infra/gpu"); // ECS cluster on GPU EC2 capacity
    const runner = await import("./infra/runner"); // image, task, TLS load balancer, service
    await import("./infra/scaling"); // load, wake-from-zero and sleep policies
    const edge = await import("./infra/edge"); // the Worker and its bindings

    return {
      api: edge.worker.url,
      // For `npm run keys -- create --name NAME --remote --namespace-id <keysNamespace>`.
      keysNamespace: edge.keys.id,
      runner: runner.runnerUrl,
      cluster: runner.service.cluster,
      service: runner.service.name,
    };
  },
});
