import { randomBytes } from "node:crypto";
import { readFileSync, readlinkSync } from "node:fs";
import { open, readdir, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { basename, dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { LockLostError } from "./errors";

/** What the lock file on the volume says; waiters read the progress from it. */
export interface LockState {
  owner: string;
  host: string;
  /** boot id + pid namespace: equal means `pid` can be checked with `kill(pid, 0)` from here. */
  machine: string;
  pid: number;
  seq: number;
  bytes: number;
  totalBytes?: number;
}

export interface LockTiming {
  /** How often the owner rewrites the lock file. */
  heartbeatMs: number;
  /** A lock whose content has not changed for this long (by the waiter's clock) is taken over. */
  staleMs: number;
  /** How often a waiter looks at the lock. */
  pollMs: number;
}

export const DEFAULT_LOCK_TIMING: LockTiming = { heartbeatMs: 2_000, staleMs: 30_000, pollMs: 500 };

export interface VolumeLock {
  readonly owner: string;
  /** Aborted with a LockLostError if another process took the lock over. */
  readonly signal: AbortSignal;
  progress(bytes: number, totalBytes?: number): void;
  release(): Promise<void>;
}

const machine = (() => {
  try {
    const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    return `${boot}/${readlinkSync("/proc/self/ns/pid")}`;
  } catch {
    return ""; // no way to tell: only the heartbeat decides
  }
})();

/**
 * A lock on a shared volume (NFS/EFS: no flock). The lock is a file created exclusively; its
 * owner rewrites it every `heartbeatMs` with a sequence number and its progress. A waiter takes it
 * over when the content stops changing for `staleMs` (measured on the waiter's own clock, so clock
 * skew between containers does not matter), or at once when the owner is a dead process on this
 * same machine. Only one waiter wins a takeover: it must first create `<lock>.takeover.<owner>.<seq>`.
 * Hand-written because proper-lockfile (the lock library here) judges staleness by mtime against the
 * local clock, lets two waiters both break a stale lock, and has no room for the progress waiters show.
 */
export async function acquireVolumeLock(
  path: string,
  options: { signal?: AbortSignal; timing?: LockTiming; onWait?: (holder: LockState) => void },
): Promise<VolumeLock> {
  const timing = options.timing ?? DEFAULT_LOCK_TIMING;
  const { signal } = options;
  const owner = `${hostname()}-${process.pid}-${randomBytes(4).toString("hex")}`;
  const state: LockState = { owner, host: hostname(), machine, pid: process.pid, seq: 0, bytes: 0 };
  let seen: { key: string; since: number } | undefined;
  for (;;) {
    signal?.throwIfAborted();
    if (await createExclusive(path, JSON.stringify(state))) return holdLock(path, state, timing);
    const holder = await readLock(path);
    if (holder === "missing") continue; // released between our two calls: try again at once
    const key = holder ? `${holder.owner}.${holder.seq}` : "unreadable";
    const now = performance.now();
    if (seen?.key !== key) seen = { key, since: now };
    if (holder) options.onWait?.(holder);
    const dead = holder !== undefined && isDeadHere(holder);
    if (dead || now - seen.since > timing.staleMs) {
      // Only the waiter that creates the marker for this exact stale state may remove the lock.
      if (await createExclusive(`${path}.takeover.${key}`, owner)) {
        const again = await readLock(path);
        const againKey =
          again && again !== "missing" ? `${again.owner}.${again.seq}` : "unreadable";
        if (again !== "missing" && againKey === key) await unlink(path).catch(() => {});
        continue;
      }
    }
    try {
      await sleep(timing.pollMs, undefined, signal ? { signal } : undefined);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw error;
    }
  }
}

function holdLock(path: string, state: LockState, timing: LockTiming): VolumeLock {
  const lost = new AbortController();
  let stopped = false;
  let beating: Promise<void> = Promise.resolve();
  const beat = async () => {
    const current = await readLock(path);
    if (current === "missing" || (current && current.owner !== state.owner)) {
      lost.abort(new LockLostError(`another process took over the download lock ${path}`));
      return;
    }
    state.seq++;
    const tmp = `${path}.${state.owner}.tmp`;
    await writeFile(tmp, JSON.stringify(state));
    await rename(tmp, path);
  };
  const timer = setInterval(() => {
    if (stopped || lost.signal.aborted) return;
    beating = beating.then(beat).catch(() => {}); // a failed beat is retried on the next tick
  }, timing.heartbeatMs);
  timer.unref();
  return {
    owner: state.owner,
    signal: lost.signal,
    progress(bytes, totalBytes) {
      state.bytes = bytes;
      if (totalBytes !== undefined) state.totalBytes = totalBytes;
    },
    async release() {
      stopped = true;
      clearInterval(timer);
      await beating;
      const current = await readLock(path);
      if (current && current !== "missing" && current.owner === state.owner) {
        await unlink(path).catch(() => {});
      }
      await removeTakeoverMarkers(path);
    },
  };
}

async function createExclusive(path: string, content: string): Promise<boolean> {
  try {
    const handle = await open(path, "wx");
    try {
      await handle.writeFile(content);
    } finally {
      await handle.close();
    }
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
}

/** The lock's content, `"missing"` when there is no lock, undefined when it cannot be parsed yet. */
export async function readLock(path: string): Promise<LockState | "missing" | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, "utf8")) as LockState;
    return typeof parsed.owner === "string" ? parsed : undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT" ? "missing" : undefined;
  }
}

function isDeadHere(holder: LockState): boolean {
  if (!machine || holder.machine !== machine || holder.host !== hostname()) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ESRCH";
  }
}

async function removeTakeoverMarkers(path: string): Promise<void> {
  const prefix = `${basename(path)}.takeover.`;
  const names = await readdir(dirname(path)).catch(() => [] as string[]);
  await Promise.all(
    names
      .filter((n) => n.startsWith(prefix))
      .map((n) => unlink(join(dirname(path), n)).catch(() => {})),
  );
}
