import { describe, expect, it } from "vitest";
import { withRetries } from "./with-retries";

const retry = { attempts: 2, baseMs: 1 };
const options = (signal = new AbortController().signal) => ({
  retry,
  signal,
  classify: () => "retry",
  exhausted: (failures: number) => new Error(`gave up after ${failures}`),
  onRetry: () => {},
});

describe("withRetries", () => {
  it("gives up once more than `attempts` failures come in a row", async () => {
    const seen: number[] = [];
    let calls = 0;
    const run = withRetries(
      async () => {
        calls++;
        throw new Error("drop");
      },
      { ...options(), onRetry: (failures) => seen.push(failures) },
    );
    await expect(run).rejects.toThrow("gave up after 3");
    expect(calls).toBe(3);
    expect(seen).toEqual([1, 2]);
  });

  it("starts the count again after an attempt that made progress", async () => {
    const seen: number[] = [];
    let calls = 0;
    const result = await withRetries(
      async () => {
        calls++;
        if (calls < 6) throw new Error("drop");
        return "done";
      },
      {
        ...options(),
        // every other attempt moves forward: never two failures without progress in a row
        progressed: () => calls % 2 === 0,
        onRetry: (failures) => seen.push(failures),
      },
    );
    expect(result).toBe("done");
    expect(seen).toEqual([1, 1, 2, 1, 2]);
  });

  it("throws what classify returns, at once", async () => {
    const refused = new Error("not found");
    let calls = 0;
    const run = withRetries(
      async () => {
        calls++;
        throw new Error("404");
      },
      { ...options(), classify: () => refused },
    );
    await expect(run).rejects.toBe(refused);
    expect(calls).toBe(1);
  });

  it("rethrows the abort reason itself, never wrapped", async () => {
    const controller = new AbortController();
    const reason = { why: "shutting down" }; // not even an Error
    const run = withRetries(async () => {
      controller.abort(reason);
      throw new Error("drop");
    }, options(controller.signal));
    await expect(run).rejects.toBe(reason);
  });

  it("rethrows the abort reason when aborted during the backoff", async () => {
    const controller = new AbortController();
    const reason = new Error("stop");
    const run = withRetries(
      async () => {
        throw new Error("drop");
      },
      {
        ...options(controller.signal),
        retry: { attempts: 5, baseMs: 60_000 },
        onRetry: () => controller.abort(reason),
      },
    );
    await expect(run).rejects.toBe(reason);
  });
});
