/**
 * The real sst.config.ts for `production` under Pulumi mocks: what differs from a dev stage
 * (capacity always warm, data kept, its own names).
 */
import path from "node:path";
import { pathToFileURL } from "node:url";
import { expect, test } from "vitest";
import { deployStage } from "./deploy-rules";
import { type MockedDeploy, root, testEnv } from "./deploy-under-mocks";
import { workerBindings } from "./expect-deploy";

let deploy: MockedDeploy;
deployStage("production", testEnv, (d) => {
  deploy = d;
});

test("production keeps one runner warm and scales up to four", () => {
  const target = deploy.one("aws:appautoscaling/target:Target");
  expect([target.inputs.minCapacity, target.inputs.maxCapacity]).toEqual([1, 4]);
  expect(deploy.one("aws:ecs/service:Service").inputs.desiredCount).toBe(1);
  expect(deploy.one("aws:autoscaling/group:Group").inputs.maxSize).toBe(5);
});

test("production never sleeps: only load tracking, no wake or idle policies", () => {
  const names = deploy.ofType("aws:appautoscaling/policy:Policy").map((p) => p.name);
  expect(names).toEqual(["RunnerLoad"]);
  expect(deploy.ofType("aws:cloudwatch/metricAlarm:MetricAlarm")).toEqual([]);
});

test("production's model volume and API keys survive `sst remove`", () => {
  expect(deploy.one("aws:efs/fileSystem:FileSystem").retainOnDelete).toBe(true);
  expect(deploy.one("cloudflare:index/workersKvNamespace:WorkersKvNamespace").retainOnDelete).toBe(
    true,
  );
});

test("production retains its data and is protected from `sst remove`", async () => {
  const config = (await import(pathToFileURL(path.join(root, "sst.config.ts")).href)).default;
  expect(config.app({ stage: "production" })).toMatchObject({ removal: "retain", protect: true });
  expect(config.app({ stage: "dev" })).toMatchObject({ removal: "remove", protect: false });
});

test("production's API and runners answer on their own names", () => {
  const bindings = workerBindings(deploy);
  expect(bindings.RUNNER_URL?.text).toBe("https://runner.phi4.example.com");
  expect(deploy.outputs.api).toBe("https://api.phi4.example.com");
});

test("the outputs name the KV namespace of API keys, for `npm run keys -- --remote`", () => {
  const kv = deploy.one("cloudflare:index/workersKvNamespace:WorkersKvNamespace");
  expect(deploy.outputs.keysNamespace).toBe(`${kv.name}-id`);
});
