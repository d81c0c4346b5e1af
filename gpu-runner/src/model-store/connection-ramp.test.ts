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
  it("doubles up to the most allowed while each connection is capped", () => {
    const ramp = new ConnectionRamp(4);
    expect(drive(ramp, () => 24)).toEqual([2, 4]);
    expect(ramp.wanted).toBe(4);
  });

  it("goes back to one when a second connection adds nothing (the link or the CPU is the limit)", () => {
    const ramp = new ConnectionRamp(4);
    expect(drive(ramp, (n) => 300 / n)).toEqual([2, 1]);
    expect(ramp.wanted).toBe(1);
  });

  it("stops at the count before the doubling that paid too little", () => {
    const ramp = new ConnectionRamp(8);
    // Two connections double the rate, four add only a quarter more.
    expect(drive(ramp, (n) => (n <= 2 ? 24 : 60 / n))).toEqual([2, 4, 2]);
  });

  it("measures for at least 4 × the slowest first byte of the connections it added", () => {
    const ramp = new ConnectionRamp(2);
    ramp.firstByte(200, 200, 0); // a far CDN: 200 ms to the first byte
    expect(ramp.sample(1_000, 500)).toBeUndefined(); // 300 ms in: too early
    expect(ramp.sample(2_000, 1_000)).toBe(2);
  });

  it("never changes with one connection allowed", () => {
    const ramp = new ConnectionRamp(1);
    expect(drive(ramp, () => 24)).toEqual([]);
  });
});
