import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { SpareClaim } from "./spare-claim";

describe("SpareClaim", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("a request over before the timer claims once, with its release folded in", async () => {
    const sent: boolean[] = [];
    const claim = new SpareClaim(async (released) => void sent.push(released), 100);
    expect(claim.endWithRelease()).toBe(true);
    await claim.done;
    vi.advanceTimersByTime(1_000);
    expect(sent).toEqual([true]);
  });

  it("a longer one claims when the timer fires, and is released on its own after", async () => {
    const sent: boolean[] = [];
    const claim = new SpareClaim(async (released) => void sent.push(released), 100);
    vi.advanceTimersByTime(99);
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(1);
    await claim.done;
    expect(sent).toEqual([false]);
    expect(claim.endWithRelease()).toBe(false);
    expect(sent).toEqual([false]);
  });

  it("settles even when sending fails", async () => {
    const claim = new SpareClaim(() => Promise.reject(new Error("gone")), 100);
    claim.endWithRelease();
    await expect(claim.done).resolves.toBeUndefined();
  });
});
