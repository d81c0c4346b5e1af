import { QueueFullError } from "@phi4-edge/shared";
import { describe, expect, it } from "vitest";
import { SlotPool } from "./slot-pool";

const first = <S>(free: readonly S[]) => free[0] as S;
const live = () => new AbortController().signal;

describe("SlotPool", () => {
  it("serves waiters first-in first-out and tells each its moving position", async () => {
    const pool = new SlotPool(["a"], { queueMax: 3, retryAfterMs: () => 1000 });
    const held = await pool.acquire({ signal: live(), pick: first });
    const positions: Record<string, number[]> = { x: [], y: [] };
    const x = pool.acquire({
      signal: live(),
      pick: first,
      onPosition: (p) => positions.x!.push(p),
    });
    const y = pool.acquire({
      signal: live(),
      pick: first,
      onPosition: (p) => positions.y!.push(p),
    });
    expect(pool.queueDepth).toBe(2);
    pool.release(held);
    expect(await x).toBe("a");
    expect(positions).toEqual({ x: [1], y: [2, 1] });
    pool.release("a");
    expect(await y).toBe("a");
    expect(pool.queueDepth).toBe(0);
  });

  it("rejects at once with a retry hint when the queue is full", async () => {
    const pool = new SlotPool(["a"], { queueMax: 1, retryAfterMs: () => 1234 });
    await pool.acquire({ signal: live(), pick: first });
    void pool.acquire({ signal: live(), pick: first });
    const error = await pool.acquire({ signal: live(), pick: first }).catch((e) => e);
    expect(error).toBeInstanceOf(QueueFullError);
    expect(error.retryAfterMs).toBe(1234);
  });

  it("drops an aborted waiter, moves the others up, and rethrows the signal's reason", async () => {
    const pool = new SlotPool(["a"], { queueMax: 2, retryAfterMs: () => 1 });
    const held = await pool.acquire({ signal: live(), pick: first });
    const controller = new AbortController();
    const gone = pool.acquire({ signal: controller.signal, pick: first });
    const positions: number[] = [];
    const next = pool.acquire({
      signal: live(),
      pick: first,
      onPosition: (p) => positions.push(p),
    });
    const reason = new Error("caller left");
    controller.abort(reason);
    await expect(gone).rejects.toBe(reason);
    expect(positions).toEqual([2, 1]);
    pool.release(held);
    expect(await next).toBe("a");
  });

  it("ends a wait with the stop signal's reason (shutdown), as the caller's own signal does", async () => {
    const pool = new SlotPool(["a"], { queueMax: 2, retryAfterMs: () => 1 });
    const shutdown = new AbortController();
    const held = await pool.acquire({ signal: live(), stop: shutdown.signal, pick: first });
    const caller = new AbortController();
    const waiting = pool.acquire({ signal: caller.signal, stop: shutdown.signal, pick: first });
    expect(pool.queueDepth).toBe(1);
    const reason = Symbol("shutdown");
    shutdown.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect(pool.queueDepth).toBe(0);
    expect(caller.signal.aborted).toBe(false);
    // Once stopped, no one gets a slot, free or not.
    pool.release(held);
    await expect(pool.acquire({ signal: live(), stop: shutdown.signal, pick: first })).rejects.toBe(
      reason,
    );
    expect(pool.freeCount).toBe(1);
  });

  it("lets the waiter choose among free slots", async () => {
    const pool = new SlotPool(["a", "b"], { queueMax: 0, retryAfterMs: () => 1 });
    expect(await pool.acquire({ signal: live(), pick: (free) => free.at(-1)! })).toBe("b");
    expect(pool.freeCount).toBe(1);
  });

  it("reports the queue's depth each time it changes: joined, left, served, shut", async () => {
    const depths: number[] = [];
    const pool = new SlotPool(["a"], {
      queueMax: 3,
      retryAfterMs: () => 1,
      onQueueChange: (depth) => depths.push(depth),
    });
    const held = await pool.acquire({ signal: live(), pick: first });
    const controller = new AbortController();
    const gone = pool.acquire({ signal: controller.signal, pick: first });
    const served = pool.acquire({ signal: live(), pick: first });
    const shut = pool.acquire({ signal: live(), pick: first });
    controller.abort(new Error("caller left"));
    await gone.catch(() => {});
    pool.release(held);
    expect(await served).toBe("a");
    pool.rejectWaiting(new Error("shutdown"));
    await shut.catch(() => {});
    expect(depths).toEqual([1, 2, 3, 2, 1, 0]);
  });
});
