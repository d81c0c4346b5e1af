import { describe, expect, it } from "vitest";
import { SpareAdmissions } from "./spare-admissions";

describe("SpareAdmissions", () => {
  it("gives a spare once: fresh for half its life, then stale, then nothing", () => {
    let now = 1_000;
    const spares = new SpareAdmissions(() => now);
    spares.keep("a", "s1");
    now += 2_499;
    expect(spares.take("a", 5_000)).toEqual({ fresh: "s1" });
    expect(spares.take("a", 5_000)).toEqual({});
    spares.keep("a", "s2");
    now += 2_500;
    expect(spares.take("a", 5_000)).toEqual({ stale: "s2" });
    spares.keep("a", "s3");
    now += 5_000;
    expect(spares.take("a", 5_000)).toEqual({});
  });

  it("keeps one per caller, the newest", () => {
    const spares = new SpareAdmissions(() => 0);
    spares.keep("a", "s1");
    spares.keep("a", "s2");
    spares.keep("b", "s3");
    expect(spares.take("a", 5_000)).toEqual({ fresh: "s2" });
    expect(spares.take("b", 5_000)).toEqual({ fresh: "s3" });
  });

  it("with spares off (ttl 0) takes nothing", () => {
    const spares = new SpareAdmissions(() => 0);
    spares.keep("a", "s1");
    expect(spares.take("a", 0)).toEqual({});
    expect(spares.take("a", 5_000)).toEqual({ fresh: "s1" });
  });

  it("holds at most 10,000 callers, dropping the oldest", () => {
    const spares = new SpareAdmissions(() => 0);
    for (let i = 0; i <= 10_000; i++) spares.keep(`c${i}`, `s${i}`);
    expect(spares.take("c0", 5_000)).toEqual({});
    expect(spares.take("c1", 5_000)).toEqual({ fresh: "s1" });
    expect(spares.take("c10000", 5_000)).toEqual({ fresh: "s10000" });
  });
});
