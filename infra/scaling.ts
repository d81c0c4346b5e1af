/**
 * How many runners run, between the stage's min and max:
 * - load: target tracking on the runners' own `Load` metric (requests in flight + queued, per
 *   runner, from EMF lines on stdout) aiming at PARALLEL;
 * and in stages that sleep (min 0), because target tracking cannot leave zero:
 * - wake: the load balancer answering 503 itself (no runner registered) adds one runner, a
 *   backstop for the edge, which wakes the service at once through ECS UpdateService
 *   (functions/src/wake);
 * - sleep: no request for `idleMinutes` sets the count back to zero.
 * Production keeps min ≥ 1, so ECS itself replaces a failed runner and none of that applies.
 */

import { cluster } from "./gpu";
import { loadBalancer, metricsNamespace, service } from "./runner";
import { coldStartSeconds, idleMinutes, parallel, runners } from "./stage";

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

if (sleepsWhenIdle) {
  const wakePolicy = new aws.appautoscaling.Policy("RunnerWake", {
    ...target,
    policyType: "StepScaling",
    stepScalingPolicyConfiguration: {
      adjustmentType: "ChangeInCapacity",
      // The alarm repeats while no runner is registered; the cooldown makes that one runner.
      cooldown: coldStartSeconds,
      metricAggregationType: "Maximum",
      stepAdjustments: [{ metricIntervalLowerBound: "0", scalingAdjustment: 1 }],
    },
  });

  new aws.cloudwatch.MetricAlarm("RunnerWakeAlarm", {
    alarmDescription: "The load balancer has no runner to send requests to",
    namespace: "AWS/ApplicationELB",
    metricName: "HTTPCode_ELB_503_Count",
    dimensions: lbDimensions,
    statistic: "Sum",
    period: 60,
    evaluationPeriods: 1,
    threshold: 1,
    comparisonOperator: "GreaterThanOrEqualToThreshold",
    treatMissingData: "notBreaching",
    alarmActions: [wakePolicy.arn],
  });

  const sleepPolicy = new aws.appautoscaling.Policy("RunnerSleep", {
    ...target,
    policyType: "StepScaling",
    stepScalingPolicyConfiguration: {
      adjustmentType: "ExactCapacity",
      cooldown: 300,
      metricAggregationType: "Maximum",
      stepAdjustments: [{ metricIntervalUpperBound: "0", scalingAdjustment: 0 }],
    },
  });

  new aws.cloudwatch.MetricAlarm("RunnerSleepAlarm", {
    alarmDescription: `No request for ${idleMinutes} minutes: stop the runners`,
    // An idle load balancer reports no datapoint at all; FILL turns that into a 0 the step
    // policy can act on. Streams still running are drained (deregistration delay) first.
    metricQueries: [
      { id: "requests", expression: "FILL(m1, 0)", returnData: true },
      {
        id: "m1",
        metric: {
          namespace: "AWS/ApplicationELB",
          metricName: "RequestCount",
          dimensions: lbDimensions,
          stat: "Sum",
          period: 60,
        },
      },
    ],
    evaluationPeriods: idleMinutes,
    threshold: 1,
    comparisonOperator: "LessThanThreshold",
    treatMissingData: "breaching",
    alarmActions: [sleepPolicy.arn],
  });
}
