import { describe, expect, test } from "vitest";
import {
  inAlarm,
  nextDesiredCount,
  sleepRule,
  type TrafficMinute,
  wakeRule,
} from "./scale-to-zero";

const idleMinutes = 30;
const quiet = (minutes: number): TrafficMinute[] =>
  Array.from({ length: minutes }, () => ({ forwarded: 0, refused: 0 }));
const refused = (minutes: number, count = 3): TrafficMinute[] =>
  Array.from({ length: minutes }, () => ({ forwarded: 0, refused: count }));
const served = (minutes: number, count = 20): TrafficMinute[] =>
  Array.from({ length: minutes }, () => ({ forwarded: count, refused: 0 }));

/** Runs the loop minute by minute over `minutes` after `before`; the desired count after each. */
function simulate(options: {
  before?: TrafficMinute[];
  minutes: TrafficMinute[];
  desired: number;
}) {
  const history = [...(options.before ?? [])];
  let desired = options.desired;
  return options.minutes.map((minute) => {
    history.push(minute);
    desired = nextDesiredCount(history, desired, { idleMinutes });
    return desired;
  });
}

describe("scale to zero", () => {
  test("cold wake: callers refused while no runner is up wake exactly one, and it stays", () => {
    // A stage asleep for an hour; callers arrive and wait through a ~6 minute cold start
    // (refused by the load balancer meanwhile), then the runner serves them.
    const counts = simulate({
      before: quiet(60),
      minutes: [...refused(6), ...served(10)],
      desired: 0,
    });
    expect(counts).toEqual(Array(16).fill(1));
  });

  test("steady traffic leaves the count to load tracking", () => {
    expect(simulate({ minutes: served(120), desired: 3 })).toEqual(Array(120).fill(3));
  });

  test("an idle hour: asleep after exactly idleMinutes without a request", () => {
    const counts = simulate({ before: served(5), minutes: quiet(60), desired: 1 });
    expect(counts.slice(0, idleMinutes - 1)).toEqual(Array(idleMinutes - 1).fill(1));
    expect(counts.slice(idleMinutes - 1)).toEqual(Array(60 - idleMinutes + 1).fill(0));
  });

  test("a burst during sleep wakes once; idleness counts again from the last refused call", () => {
    const counts = simulate({
      before: quiet(45),
      minutes: [{ forwarded: 0, refused: 50 }, ...quiet(40)],
      desired: 0,
    });
    expect(counts[0]).toBe(1);
    expect(counts.slice(1, idleMinutes)).toEqual(Array(idleMinutes - 1).fill(1));
    expect(counts.slice(idleMinutes)).toEqual(Array(40 - idleMinutes + 1).fill(0));
  });

  test("the wake never stacks: repeated refusals with runners starting keep the count at 1", () => {
    expect(simulate({ before: quiet(60), minutes: refused(20, 500), desired: 0 })).toEqual(
      Array(20).fill(1),
    );
  });

  test("a refused call is traffic: the sleep alarm is OK while callers wait", () => {
    const history = [...quiet(60), ...refused(1)];
    expect(inAlarm(sleepRule(idleMinutes), history)).toBe(false);
    expect(inAlarm(wakeRule, history)).toBe(true);
    // Watching forwarded requests alone (RequestCount) would have slept through the wake.
    const forwardedOnly = { ...sleepRule(idleMinutes), value: (m: TrafficMinute) => m.forwarded };
    expect(inAlarm(forwardedOnly, history)).toBe(true);
  });
});
