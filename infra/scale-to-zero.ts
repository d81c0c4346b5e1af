/**
 * Waking and sleeping a stage that scales to zero, as one control loop: a pure function of the
 * load balancer's per-minute traffic, and the two CloudWatch alarm rules infra/scaling.ts builds
 * from the same data. No SST globals here, so tests run the loop without a deployment.
 *
 * "Traffic" is every request that reached the load balancer: `RequestCount` counts only those
 * routed to a runner, while a stage at zero answers callers 503 itself
 * (`HTTPCode_ELB_503_Count`). Watching `RequestCount` alone, the sleep alarm stayed in ALARM
 * while callers waited for a waking runner, and put the stage back to sleep.
 */

/** One minute of the load balancer's CloudWatch metrics (Sum over 60 s; no datapoint = 0). */
export interface TrafficMinute {
  /** `RequestCount`: requests routed to a runner. */
  forwarded: number;
  /** `HTTPCode_ELB_503_Count`: requests the load balancer refused itself, having no runner. */
  refused: number;
}

/** The CloudWatch metric behind each TrafficMinute field (namespace AWS/ApplicationELB). */
export const trafficMetrics = {
  forwarded: "RequestCount",
  refused: "HTTPCode_ELB_503_Count",
} as const satisfies Record<keyof TrafficMinute, string>;

export interface AlarmRule {
  name: "wake" | "sleep";
  /** CloudWatch metric math over the ids `forwarded` and `refused`; missing data is 0. */
  expression: string;
  /** The same expression, evaluated here. */
  value(minute: TrafficMinute): number;
  comparison: "GreaterThanOrEqualToThreshold" | "LessThanThreshold";
  threshold: number;
  /** Consecutive minutes that must breach. */
  minutes: number;
  /** The exact runner count the alarm's step policy sets (ExactCapacity, so repeats never stack). */
  capacity: number;
}

/** A caller was refused for want of a runner: start exactly one. */
export const wakeRule: AlarmRule = {
  name: "wake",
  expression: "FILL(refused, 0)",
  value: (m) => m.refused,
  comparison: "GreaterThanOrEqualToThreshold",
  threshold: 1,
  minutes: 1,
  capacity: 1,
};

/** No request at all, forwarded or refused, for `idleMinutes`: stop every runner. */
export function sleepRule(idleMinutes: number): AlarmRule {
  return {
    name: "sleep",
    expression: "FILL(forwarded, 0) + FILL(refused, 0)",
    value: (m) => m.forwarded + m.refused,
    comparison: "LessThanThreshold",
    threshold: 1,
    minutes: idleMinutes,
    capacity: 0,
  };
}

/**
 * Whether a rule's alarm is in ALARM after `history` (oldest first). Minutes before the history
 * count as no traffic, as FILL(…, 0) and `treatMissingData: breaching` make them.
 */
export function inAlarm(rule: AlarmRule, history: readonly TrafficMinute[]): boolean {
  const quiet: TrafficMinute = { forwarded: 0, refused: 0 };
  const window = Array.from(
    { length: rule.minutes },
    (_, i) => history[history.length - rule.minutes + i] ?? quiet,
  );
  return window.every((minute) =>
    rule.comparison === "LessThanThreshold"
      ? rule.value(minute) < rule.threshold
      : rule.value(minute) >= rule.threshold,
  );
}

/**
 * The runner count after one more minute: what the alarms set when in ALARM (they repeat every
 * minute until OK), otherwise the current count (load tracking and the edge's wake-up own it).
 * A refused caller wins over idleness: both cannot hold in the same minute anyway.
 */
export function nextDesiredCount(
  history: readonly TrafficMinute[],
  desired: number,
  options: { idleMinutes: number },
): number {
  if (inAlarm(wakeRule, history)) return wakeRule.capacity;
  const sleep = sleepRule(options.idleMinutes);
  if (inAlarm(sleep, history)) return sleep.capacity;
  return desired;
}
