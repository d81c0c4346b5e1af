import { describe, expect, it } from "vitest";
import { ConnectionRamp } from "./connection-ramp";

/** Drives a ramp whose connections each deliver `perConnection(n)` bytes/ms, in 10 ms steps. */
function drive(ramp: ConnectionRamp, perConnection: (n: number) => number, untilMs = 2_000) {
  const counts: number[] = [];
  let bytes = 0;
  ramp.firstByte(5, 0, 0);
  for (let now = 10; now <= untilMs; now += 10) {
    bytes += 10 * ramp.wanted * perConnection(ramp.wanted);
    const changed = ramp.sample(bytes, now);
    if (changed === undefined) continue;
    counts.push(changed);
    // The new connections' first bytes, 5 ms after they asked.
    for (let i = 0; i < Math.max(0, changed - (counts.at(-2) ?? 1)); i++)
      ramp.firstByte(5, now, bytes);
  }
  return counts;
}

describe("ConnectionRamp", () => {
  it("goes to the most allowed, by steps of 4, while each connection is capped", () => {
    const ramp = new ConnectionRamp(4);
    expect(drive(ramp, () => 24)).toEqual([4]);
    expect(ramp.wanted).toBe(4);
    const wide = new ConnectionRamp(32);
    expect(drive(wide, () => 24)).toEqual([4, 16, 32]);
  });

  it("goes back to one when more connections add nothing (the link or the CPU is the limit)", () => {
    const ramp = new ConnectionRamp(4);
    expect(ramp.isSettled).toBe(false);
    expect(drive(ramp, (n) => 300 / n)).toEqual([4, 1]);
    expect(ramp.wanted).toBe(1);
    expect(ramp.isSettled).toBe(true); // final: the download sizes its ranges for one
  });

  it("keeps a step that paid less than half its ideal gain but stops there; undoes one that paid nothing", () => {
    // Four connections give 2× one (a link at twice a connection's cap): kept, no more.
    const half = new ConnectionRamp(16);
    expect(drive(half, (n) => Math.min(24, 48 / n))).toEqual([4]);
    expect(half.wanted).toBe(4);
    // Four give 4×, sixteen only 1.1× more: back to four.
    const capped = new ConnectionRamp(16);
    expect(drive(capped, (n) => Math.min(24, 105 / n))).toEqual([4, 16, 4]);
  });

  it("measures for at least 4 × the slowest first byte of the connections it added", () => {
    const ramp = new ConnectionRamp(4);
    ramp.firstByte(200, 200, 0); // a far CDN: 200 ms to the first byte
    expect(ramp.sample(1_000, 500)).toBeUndefined(); // 300 ms in: too early
    expect(ramp.sample(2_000, 1_000)).toBe(4);
  });

  it("never changes with one connection allowed", () => {
    const ramp = new ConnectionRamp(1);
    expect(ramp.isSettled).toBe(true);
    expect(drive(ramp, () => 24)).toEqual([]);
  });
});
