import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LockLostError } from "./errors";
import { acquireVolumeLock, readLock } from "./volume-lock";

const timing = { heartbeatMs: 20, staleMs: 300, pollMs: 10 };
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "volume-lock-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("acquireVolumeLock", () => {
  it("lets one holder in at a time; the waiter sees the holder's progress, then gets the lock", async () => {
    const path = join(dir, "x.lock");
    const first = await acquireVolumeLock(path, { timing });
    first.progress(42, 100);
    const seen: number[] = [];
    let secondHolds = false;
    let heldBeforeRelease: boolean | undefined;
    const second = acquireVolumeLock(path, {
      timing,
      onWait: (holder) => {
        seen.push(holder.bytes);
        // Release only once the waiter saw us twice; until then it must not hold the lock.
        if (holder.bytes === 42 && seen.length >= 2 && heldBeforeRelease === undefined) {
          heldBeforeRelease = secondHolds;
          void first.release();
        }
      },
    }).then((lock) => {
      secondHolds = true;
      return lock;
    });
    const lock = await second;
    expect(heldBeforeRelease).toBe(false);
    expect(seen).toContain(42);
    expect(await readLock(path)).toMatchObject({ owner: lock.owner });
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it("takes over a lock whose owner stopped heartbeating, and the old owner learns it lost it", async () => {
    const path = join(dir, "x.lock");
    const foreign = { owner: "gone", host: "elsewhere", machine: "", pid: 1, seq: 7, bytes: 0 };
    await writeFile(path, JSON.stringify(foreign));
    const lock = await acquireVolumeLock(path, { timing });
    expect(await readLock(path)).toMatchObject({ owner: lock.owner });

    // Someone else overwrites the lock (as a takeover would): the holder's next beat notices.
    await writeFile(path, JSON.stringify({ ...foreign, owner: "thief" }));
    await new Promise((resolve) => lock.signal.addEventListener("abort", resolve, { once: true }));
    expect(lock.signal.reason).toBeInstanceOf(LockLostError);
    await lock.release();
    expect(await readLock(path)).toMatchObject({ owner: "thief" }); // release leaves others' locks alone
  });

  it("stops waiting with the signal's reason", async () => {
    const path = join(dir, "x.lock");
    const held = await acquireVolumeLock(path, { timing });
    const controller = new AbortController();
    const reason = new Error("stop");
    const waiting = acquireVolumeLock(path, {
      timing,
      signal: controller.signal,
      onWait: () => controller.abort(reason),
    });
    await expect(waiting).rejects.toBe(reason);
    await held.release();
  });
});
