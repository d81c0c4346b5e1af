import { describe, expect, it } from "vitest";
import { ConnectionRamp } from "./connection-ramp";
import type { CpuLoad } from "./cpu-load";

/** How busy the event loop is, and how idle the machine's two CPUs are, as shares of the time. */
type Share = { loop: number; idle: number };
/** A loop and machine with CPU to spare (the tests that are not about load). */
const SPARE: Share = { loop: 0.1, idle: 0.5 };

/** A ramp whose CPU load readings follow `drive`'s simulated time. */
function ramp(max: number, share: Share = SPARE) {
  const load: CpuLoad = { loopBusyMs: 0, machineIdleMs: 0, machineMs: 0 };
  const r = new ConnectionRamp(max, () => ({ ...load }));
  const pass = (ms: number) => {
    load.loopBusyMs += ms * share.loop;
    load.machineIdleMs += 2 * ms * share.idle;
    load.machineMs += 2 * ms;
  };
  return Object.assign(r, { pass });
}

/** Drives a ramp whose connections each deliver `perConnection(n)` bytes/ms, in 10 ms steps. */
function drive(r: ReturnType<typeof ramp>, perConnection: (n: number) => number) {
  const counts: number[] = [];
  let bytes = 0;
  r.firstByte(5, 0, 0);
  for (let now = 10; now <= 2_000; now += 10) {
    r.pass(10);
    bytes += 10 * r.wanted * perConnection(r.wanted);
    const changed = r.sample(bytes, now);
    if (changed === undefined) continue;
    counts.push(changed);
    // The new connections' first bytes, 5 ms after they asked.
    for (let i = 0; i < Math.max(0, changed - (counts.at(-2) ?? 1)); i++)
      r.firstByte(5, now, bytes);
  }
  return counts;
}

describe("ConnectionRamp", () => {
  it("goes to the most allowed, by steps of 4, while each connection is capped", () => {
    const four = ramp(4);
    expect(drive(four, () => 24)).toEqual([4]);
    expect(four.wanted).toBe(4);
    expect(drive(ramp(32), () => 24)).toEqual([4, 16, 32]);
  });

  it("goes back to one when more connections add nothing (the link or the CPU is the limit)", () => {
    const r = ramp(4);
    expect(r.isSettled).toBe(false);
    expect(drive(r, (n) => 300 / n)).toEqual([4, 1]);
    expect(r.wanted).toBe(1);
    expect(r.isSettled).toBe(true); // final: the download sizes its ranges for one
  });

  it("keeps a step that paid less than half its ideal gain but stops there; undoes one that paid nothing", () => {
    // Four connections give 2× one (a link at twice a connection's cap): kept, no more.
    const half = ramp(16);
    expect(drive(half, (n) => Math.min(24, 48 / n))).toEqual([4]);
    expect(half.wanted).toBe(4);
    // Four give 4×, sixteen only 1.1× more: back to four.
    expect(drive(ramp(16), (n) => Math.min(24, 105 / n))).toEqual([4, 16, 4]);
  });

  it("measures for at least 4 × the slowest first byte of the connections it added", () => {
    const r = ramp(4);
    r.firstByte(200, 200, 0); // a far CDN: 200 ms to the first byte
    expect(r.sample(1_000, 500)).toBeUndefined(); // 300 ms in: too early
    expect(r.sample(2_000, 1_000)).toBe(4);
  });

  it("never changes with one connection allowed", () => {
    const r = ramp(1);
    expect(r.isSettled).toBe(true);
    expect(drive(r, () => 24)).toEqual([]);
  });

  it("takes no step while one connection keeps the loop busy, or busy enough with no idle CPU", () => {
    // Loopback: the loop that serves every connection is busy 0.8 of the time: 4 could give 1.25× at most.
    const quiet = ramp(4, { loop: 0.8, idle: 0.3 });
    expect(drive(quiet, () => 300)).toEqual([]);
    expect(quiet.wanted).toBe(1);
    expect(quiet.isSettled).toBe(true); // the download sizes its ranges for one
    // Loopback on a busy machine: the loop waits for the starved peer, no CPU is idle.
    expect(drive(ramp(4, { loop: 0.5, idle: 0.02 }), () => 300)).toEqual([]);
    // A capped CDN on a machine busy with other work: the loop has time, the step is taken.
    expect(drive(ramp(4, { loop: 0.15, idle: 0 }), () => 24)).toEqual([4]);
    // A busy loop on a machine with idle CPUs: the step is taken.
    expect(drive(ramp(4, { loop: 0.6, idle: 0.5 }), () => 24)).toEqual([4]);
  });
});
