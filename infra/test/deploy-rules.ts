/**
 * Properties every stage's deployment must have, registered by each stage's mock test: rolling
 * deploys that can place their tasks, timeouts that agree end to end, a teardown that completes,
 * and (stages at min 0) alarms that are the scale-to-zero rules.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parseEnv } from "../../gpu-runner/src/env";
import {
  KEEP_ALIVE_TIMEOUT_MS,
  LOAD_BALANCER_IDLE_SECONDS,
} from "../../gpu-runner/src/server/connection-timeouts";
import { type AlarmRule, inAlarm, sleepRule, trafficMetrics, wakeRule } from "../scale-to-zero";
import { deployUnderMocks, type MockedDeploy } from "./deploy-under-mocks";
import { byName, envOf, runnerContainer } from "./expect-deploy";

/**
 * Whether an ECS rolling deployment at `desired` tasks can make progress: it may start up to
 * floor(desired × maximumPercent / 100) tasks and must keep ceil(desired × minimumHealthyPercent
 * / 100) running, so it either starts one more task (which needs a free instance: one task per
 * GPU instance) or stops an old one first.
 */
export function rolloutCanProgress(options: {
  desired: number;
  minimumHealthyPercent: number;
  maximumPercent: number;
  instances: number;
}): boolean {
  const { desired } = options;
  const most = Math.floor((desired * options.maximumPercent) / 100);
  const least = Math.ceil((desired * options.minimumHealthyPercent) / 100);
  const canStartOne = most > desired && options.instances > desired;
  const canStopOne = least < desired;
  return canStartOne || canStopOne;
}

function minutes(duration: string | undefined): number {
  const match = /^(\d+)m$/.exec(duration ?? "");
  if (!match) throw new Error(`expected a duration in minutes, got ${duration}`);
  return Number(match[1]);
}

/**
 * A stage test file's deployment: `sst.config.ts` deployed for `stage` under mocks before all its
 * tests (handed to `use`), the rules every stage follows checked on it, its mocks closed after.
 */
export function deployStage(
  stage: string,
  env: Record<string, string>,
  use: (deploy: MockedDeploy) => void,
) {
  let deploy: MockedDeploy | undefined;
  beforeAll(async () => {
    // The first run on a fresh clone generates .sst/platform (~1 min).
    deploy = await deployUnderMocks(stage, env);
    use(deploy);
  }, 300_000);
  afterAll(() => deploy?.close());
  describe("rules every stage follows", () => deployRules(() => deploy as MockedDeploy));
}

function deployRules(deploy: () => MockedDeploy) {
  test("a rolling deploy can place its new task at every runner count", () => {
    const d = deploy();
    const target = d.one("aws:appautoscaling/target:Target").inputs;
    const service = d.one("aws:ecs/service:Service").inputs;
    const instances = d.one("aws:autoscaling/group:Group").inputs.maxSize;
    const stuck: number[] = [];
    for (let desired = Math.max(1, target.minCapacity); desired <= target.maxCapacity; desired++) {
      const ok = rolloutCanProgress({
        desired,
        minimumHealthyPercent: service.deploymentMinimumHealthyPercent,
        maximumPercent: service.deploymentMaximumPercent,
        instances,
      });
      if (!ok) stuck.push(desired);
    }
    expect(
      stuck,
      `runner counts whose deploy cannot place a task (${instances} instances)`,
    ).toEqual([]);
    // Managed scaling can launch the extra instance in one step.
    const provider = d.one("aws:ecs/capacityProvider:CapacityProvider").inputs;
    expect(
      provider.autoScalingGroupProvider.managedScaling.maximumScalingStepSize,
    ).toBeLessThanOrEqual(instances);
  });

  test("timeouts agree: runner keep-alive > load balancer idle; drain < ECS stop timeout", () => {
    const d = deploy();
    const lb = d.one("aws:lb/loadBalancer:LoadBalancer").inputs;
    expect(lb.idleTimeout).toBe(LOAD_BALANCER_IDLE_SECONDS);
    expect(KEEP_ALIVE_TIMEOUT_MS).toBeGreaterThan(lb.idleTimeout * 1000);
    const runner = runnerContainer(d) as ReturnType<typeof runnerContainer> & {
      stopTimeout: number;
    };
    // The drain the runner would use with the task's environment (secrets are injected by ECS).
    const env = parseEnv({ ...envOf(runner), RUNNER_SECRET: "x".repeat(16) });
    expect(env.DRAIN_SECONDS).toBeLessThan(runner.stopTimeout);
    expect(env.GPU).toBe("cuda");
  });

  test("teardown completes: explicit ordering, delete timeouts past draining, forced deletes", () => {
    const d = deploy();
    const service = d.one("aws:ecs/service:Service");
    const association = d.one("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders");
    expect(service.dependsOn).toContain(association.name);
    expect(service.inputs.forceDelete).toBe(true);
    // Deleting the service drains its targets (deregistration delay), then stops the tasks.
    const targets = d.one("aws:lb/targetGroup:TargetGroup").inputs;
    const stopTimeout = (runnerContainer(d) as { stopTimeout?: number }).stopTimeout ?? 0;
    expect(minutes(service.customTimeouts.delete) * 60).toBeGreaterThan(
      targets.deregistrationDelay + stopTimeout,
    );
    // Scale-in protection would otherwise keep the group's instances (and the group) alive.
    const group = d.one("aws:autoscaling/group:Group");
    expect(group.inputs.forceDelete).toBe(true);
    expect(minutes(group.customTimeouts.delete)).toBeGreaterThanOrEqual(15);
  });

  test("containers cannot reach the instance's role through the metadata service", () => {
    const template = deploy().one("aws:ec2/launchTemplate:LaunchTemplate").inputs;
    expect(template.metadataOptions).toMatchObject({
      httpTokens: "required",
      httpPutResponseHopLimit: 1,
    });
  });
}

/** The alarm and step policy CloudWatch would run for a rule, as the deployment defines them. */
export function expectAlarmFollows(deploy: MockedDeploy, alarmName: string, rule: AlarmRule) {
  const alarm = byName(deploy, "aws:cloudwatch/metricAlarm:MetricAlarm", alarmName).inputs;
  // A minute without any datapoint is a quiet minute, in the rule as in the alarm.
  const quietBreaches = inAlarm({ ...rule, minutes: 1 }, []);
  expect(alarm).toMatchObject({
    comparisonOperator: rule.comparison,
    threshold: rule.threshold,
    evaluationPeriods: rule.minutes,
    treatMissingData: quietBreaches ? "breaching" : "notBreaching",
  });
  const queries = (alarm.metricQueries ?? []) as {
    id: string;
    expression?: string;
    returnData?: boolean;
    metric?: { metricName: string; stat: string; period: number; namespace: string };
  }[];
  expect(queries.find((q) => q.returnData)?.expression).toBe(rule.expression);
  for (const [id, metricName] of Object.entries(trafficMetrics)) {
    if (!rule.expression.includes(id)) continue;
    expect(queries.find((q) => q.id === id)?.metric).toMatchObject({
      namespace: "AWS/ApplicationELB",
      metricName,
      stat: "Sum",
      period: 60,
    });
  }
  const [policyArn] = alarm.alarmActions as string[];
  const policy = deploy
    .ofType("aws:appautoscaling/policy:Policy")
    .find((p) => policyArn?.endsWith(`/${p.name}`));
  const steps = policy?.inputs.stepScalingPolicyConfiguration;
  expect(steps?.adjustmentType).toBe("ExactCapacity");
  expect(
    steps?.stepAdjustments.map((s: { scalingAdjustment: number }) => s.scalingAdjustment),
  ).toEqual([rule.capacity]);
}

export { sleepRule, wakeRule };
