import { describe, expect, it } from "vitest";
import { quietWaiter } from "./quiet-waiter";

describe("quietWaiter", () => {
  it("gives what arrives, and undefined for a wait with nothing", async () => {
    const quiet = quietWaiter(10);
    try {
      expect(await quiet.next(Promise.resolve("a"))).toBe("a");
      expect(await quiet.next(new Promise<string>(() => {}))).toBeUndefined();
      // The timer fired once; the next quiet wait is timed again.
      expect(await quiet.next(new Promise<string>(() => {}))).toBeUndefined();
      expect(await quiet.next(Promise.resolve("b"))).toBe("b");
    } finally {
      quiet.stop();
    }
  });

  it("passes a failure on", async () => {
    const quiet = quietWaiter(60_000);
    try {
      await expect(quiet.next(Promise.reject(new Error("engine failed")))).rejects.toThrow(
        "engine failed",
      );
    } finally {
      quiet.stop();
    }
  });

  it("keeps the same item pending across a quiet wait", async () => {
    const quiet = quietWaiter(10);
    try {
      let arrive: (value: string) => void = () => {};
      const pending = new Promise<string>((resolve) => {
        arrive = resolve;
      });
      expect(await quiet.next(pending)).toBeUndefined();
      const second = quiet.next(pending);
      arrive("late");
      expect(await second).toBe("late");
    } finally {
      quiet.stop();
    }
  });
});
