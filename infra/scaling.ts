/**
 * How many runners run, between the stage's min and max:
 * - load: target tracking on the runners' own `Load` metric (requests in flight + queued, per
 *   runner, from the EMF lines each runner logs) aiming at PARALLEL;
 * and in stages that sleep (min 0), because target tracking cannot leave zero, the two alarms
 * of infra/scale-to-zero.ts (its pure control loop is tested on scenarios):
 * - wake: the load balancer refused a caller itself (503, no runner registered): exactly one
 *   runner. A backstop for the edge, which wakes the service at once through ECS
 *   UpdateService (functions/src/wake);
 * - sleep: no request reached the load balancer, forwarded or refused, for `idleMinutes`: zero.
 * Production keeps min ≥ 1, so ECS itself replaces a failed runner and none of that applies.
 */

import { cluster } from "./gpu";
import { loadBalancer, metricsNamespace, service } from "./runner";
import { type AlarmRule, inAlarm, sleepRule, trafficMetrics, wakeRule } from "./scale-to-zero";
import { idleMinutes, parallel, runners } from "./stage";

export const scalingTarget = new aws.appautoscaling.Target("RunnerScaling", {
  serviceNamespace: "ecs",
  scalableDimension: "ecs:service:DesiredCount",
  resourceId: $interpolate`service/${cluster.name}/${service.name}`,
  minCapacity: runners.min,
  maxCapacity: runners.max,
});

const target = {
  resourceId: scalingTarget.resourceId,
  scalableDimension: scalingTarget.scalableDimension,
  serviceNamespace: scalingTarget.serviceNamespace,
};

export const loadPolicy = new aws.appautoscaling.Policy("RunnerLoad", {
  ...target,
  policyType: "TargetTrackingScaling",
  targetTrackingScalingPolicyConfiguration: {
    targetValue: parallel,
    customizedMetricSpecification: {
      namespace: metricsNamespace,
      metricName: "Load",
      dimensions: [{ name: "Service", value: "runner" }],
      statistic: "Average",
    },
    scaleOutCooldown: 60,
    // A new runner is expensive to start: don't give one back at the first quiet minute.
    scaleInCooldown: 900,
  },
});

const lbDimensions = { LoadBalancer: loadBalancer.nodes.loadBalancer.arnSuffix };

export const sleepsWhenIdle = runners.min === 0;

/**
 * One rule of the scale-to-zero loop as an alarm (metric math over the load balancer's traffic,
 * missing minutes as 0) and the step policy it invokes, which sets an exact runner count: the
 * alarm repeats every minute while in ALARM, and an exact count never stacks.
 */
function ruleAlarm(rule: AlarmRule, description: string) {
  const policy = new aws.appautoscaling.Policy(`Runner${capitalized(rule.name)}`, {
    ...target,
    policyType: "StepScaling",
    stepScalingPolicyConfiguration: {
      adjustmentType: "ExactCapacity",
      cooldown: 60,
      metricAggregationType: "Maximum",
      stepAdjustments: [
        rule.comparison === "LessThanThreshold"
          ? { metricIntervalUpperBound: "0", scalingAdjustment: rule.capacity }
          : { metricIntervalLowerBound: "0", scalingAdjustment: rule.capacity },
      ],
    },
  });
  const quietMinuteBreaches = inAlarm({ ...rule, minutes: 1 }, []);
  new aws.cloudwatch.MetricAlarm(`Runner${capitalized(rule.name)}Alarm`, {
    alarmDescription: description,
    metricQueries: [
      { id: "traffic", expression: rule.expression, returnData: true },
      ...Object.entries(trafficMetrics)
        .filter(([id]) => rule.expression.includes(id))
        .map(([id, metricName]) => ({
          id,
          metric: {
            namespace: "AWS/ApplicationELB",
            metricName,
            dimensions: lbDimensions,
            stat: "Sum",
            period: 60,
          },
        })),
    ],
    evaluationPeriods: rule.minutes,
    threshold: rule.threshold,
    comparisonOperator: rule.comparison,
    // An idle load balancer reports no datapoint at all: a quiet minute, as FILL(…, 0) says.
    treatMissingData: quietMinuteBreaches ? "breaching" : "notBreaching",
    alarmActions: [policy.arn],
  });
}

function capitalized(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

if (sleepsWhenIdle) {
  ruleAlarm(wakeRule, "A caller was refused for want of a runner: start exactly one");
  // Streams still running are drained (deregistration delay) before the runners stop.
  ruleAlarm(
    sleepRule(idleMinutes),
    `No request reached the load balancer for ${idleMinutes} minutes: stop the runners`,
  );
}
