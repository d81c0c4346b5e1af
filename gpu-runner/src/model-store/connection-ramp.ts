import { type CpuLoad, cpuLoad } from "./cpu-load";

/** The shortest measuring window (the window also lasts 4 × the new connections' first-byte time). */
const MIN_WINDOW_MS = 150;
/** Each step multiplies the connections by this (up to the most allowed). */
const STEP = 4;
/** A step that raised the rate by less than this is undone. */
const WORTH_KEEPING = 1.5;
/**
 * No step either when, over a window, our event loop was busy at least `LOOP_BUSY` of it while
 * the machine had less than `IDLE_LEFT` of its CPU idle. 256 MiB from the local emulator (2 cores,
 * 2026-12): one connection keeps the loop 0.80-0.89 busy on a quiet machine, 0.43-0.75 with no
 * CPU idle on a busy one; one capped at 24 MiB/s 0.08-0.27, machine busy or not.
 */
const LOOP_BUSY = 0.4;
const IDLE_LEFT = 0.1;

/**
 * How many ranged connections a download keeps open. It starts with one and multiplies them by
 * 4 (up to `max`) while that raises the rate of the whole download by at least half the ideal
 * gain: a CDN that caps each connection's rate gives nearly 4× the bytes for 4× the connections.
 * A smaller gain keeps the step and stops there; none (loopback, a shared link, a busy CPU) goes
 * back to the count before. Measured (256 MiB from the local Hub emulator, 2 cores): 1 connection
 * 270–320 MiB/s, 4 at once 190–220 MiB/s, because the peer's sends, our reads, writes and the
 * hash then all compete for the same cores; with each connection capped at 24 MiB/s, 4 fetch
 * ~4× faster. One step of 4 rather than two doublings: each step's window at one connection
 * cost ~0.03× of the capped bench's rate.
 */
export class ConnectionRamp {
  /** Connections wanted now. */
  wanted = 1;
  private settled: boolean;
  /** Connections added last that have not delivered a byte yet. */
  private pending = 1;
  private slowestFirstByteMs = 0;
  private window: { start: number; bytes: number; ms: number; load: CpuLoad } | undefined;
  private before: { count: number; rate: number } | undefined;

  constructor(
    private readonly max: number,
    private readonly load: () => CpuLoad = cpuLoad,
  ) {
    this.settled = max <= 1;
  }

  /** The count no longer changes (`wanted` is final). */
  get isSettled(): boolean {
    return this.settled;
  }

  /** A connection added by the last change delivered its first byte, `firstByteMs` after asking. */
  firstByte(firstByteMs: number, now: number, bytes: number): void {
    if (this.settled || this.pending === 0) return;
    this.slowestFirstByteMs = Math.max(this.slowestFirstByteMs, firstByteMs);
    if (--this.pending > 0) return;
    // Every connection delivers now: the rate from here is the rate of `wanted` connections.
    const ms = Math.max(MIN_WINDOW_MS, 4 * this.slowestFirstByteMs);
    this.window = { start: now, bytes, ms, load: this.load() };
  }

  /** A connection added by the last change found nothing left to fetch: no more changes. */
  idle(): void {
    this.settled = true;
  }

  /**
   * `bytes` have arrived so far, at `now`. Returns the new number of connections when it changes
   * (more: start them; fewer: the extra ones finish their range and stop).
   */
  sample(bytes: number, now: number): number | undefined {
    const w = this.window;
    if (this.settled || !w || now - w.start < w.ms) return undefined;
    const rate = (bytes - w.bytes) / (now - w.start);
    const before = this.before;
    if (before) {
      const ratio = rate / before.rate;
      if (ratio < WORTH_KEEPING) {
        this.settled = true;
        this.wanted = before.count;
        return this.wanted;
      }
      // Capped connections would give `wanted / before.count` times the rate.
      const ideal = this.wanted / before.count;
      if (ratio < 1 + (ideal - 1) / 2) {
        this.settled = true;
        return undefined;
      }
    }
    this.before = { count: this.wanted, rate };
    if (this.wanted >= this.max || this.cpuBound(w.load, now - w.start)) {
      this.settled = true;
      return undefined;
    }
    const next = Math.min(this.max, this.wanted * STEP);
    this.pending = next - this.wanted;
    this.slowestFirstByteMs = 0;
    this.window = undefined;
    this.wanted = next;
    return next;
  }

  /**
   * The connections so far already keep this event loop (which serves them all) busy, or busy
   * enough and leave the machine no idle CPU: more would share the same CPU, not add to it. On
   * loopback (256 MiB,
   * 2 cores, 2026-12, 8 runs interleaved) the try at four cost ~0.15x curl's rate (its window,
   * three more connections' requests, ~90 MiB written ahead of the hash): 0.66-0.85x curl
   * (median 0.78) without it, 0.44-0.71x (0.62) with it.
   */
  private cpuBound(since: CpuLoad, ms: number): boolean {
    const now = this.load();
    const loop = (now.loopBusyMs - since.loopBusyMs) / ms;
    const machine = now.machineMs - since.machineMs;
    const idle = machine > 0 ? (now.machineIdleMs - since.machineIdleMs) / machine : 1;
    // One loop serves every connection: busy `loop` of the time, more connections can raise the
    // rate by at most 1 / loop, too little to keep from 1 / WORTH_KEEPING on.
    return loop * WORTH_KEEPING >= 1 || (loop >= LOOP_BUSY && idle < IDLE_LEFT);
  }
}
